/*
 * cuda.c - the CUDA driver, loaded at run time: entry-point table, errors, devices, memory,
 * modules, launches and event timing.
 *
 * kiln never links against CUDA: the driver is dlopen()ed on first use ($KILN_CUDA_LIB, else
 * libcuda.so.1) and every entry point kiln calls is looked up into one table, preferring the _v2
 * symbol where the driver exports one (the names cuda.h maps the plain names to). The few driver
 * types are declared here by size: handles are opaque pointers, CUdevice an int, CUdeviceptr a 64-bit
 * integer, CUresult an int. Tests replace dlsym with rt_driver_override to drive the error paths
 * without a GPU.
 *
 * Errors: a failing call becomes "cuXxx failed: CUDA_ERROR_NAME: the driver's string"; a module
 * that fails to JIT gets the JIT error log appended on the following lines.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

/* ---- the few driver types and constants kiln needs (values from the driver API) ---- */

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUevent, *CUstream;
typedef unsigned long long CUdeviceptr;

enum {
  CUDA_SUCCESS = 0,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
  CU_EVENT_DEFAULT = 0,
  DEFAULT_SHARED = 48 << 10, /* dynamic shared memory a block gets without opting in */
  JIT_LOG = 8192,
};

/* ---- the entry-point table: X(field, signature, symbol names to try in order) ---- */

#define RT_CUDA_CALLS(X)                                                                                     \
  X(cuInit, (unsigned), "cuInit", NULL)                                                                      \
  X(cuDeviceGetCount, (int *), "cuDeviceGetCount", NULL)                                                     \
  X(cuDeviceGet, (CUdevice *, int), "cuDeviceGet", NULL)                                                     \
  X(cuDeviceGetAttribute, (int *, int, CUdevice), "cuDeviceGetAttribute", NULL)                              \
  X(cuDeviceGetName, (char *, int, CUdevice), "cuDeviceGetName", NULL)                                       \
  X(cuDevicePrimaryCtxRetain, (CUcontext *, CUdevice), "cuDevicePrimaryCtxRetain", NULL)                     \
  X(cuDevicePrimaryCtxRelease, (CUdevice), "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease")      \
  X(cuCtxSetCurrent, (CUcontext), "cuCtxSetCurrent", NULL)                                                   \
  X(cuCtxSynchronize, (void), "cuCtxSynchronize", NULL)                                                      \
  X(cuModuleLoadDataEx, (CUmodule *, const void *, unsigned, int *, void **), "cuModuleLoadDataEx", NULL)    \
  X(cuModuleUnload, (CUmodule), "cuModuleUnload", NULL)                                                      \
  X(cuModuleGetFunction, (CUfunction *, CUmodule, const char *), "cuModuleGetFunction", NULL)                \
  X(cuFuncSetAttribute, (CUfunction, int, int), "cuFuncSetAttribute", NULL)                                  \
  X(cuLaunchKernel,                                                                                          \
    (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void **,    \
     void **),                                                                                               \
    "cuLaunchKernel", NULL)                                                                                  \
  X(cuMemAlloc, (CUdeviceptr *, size_t), "cuMemAlloc_v2", NULL)                                              \
  X(cuMemFree, (CUdeviceptr), "cuMemFree_v2", NULL)                                                          \
  X(cuMemcpyHtoD, (CUdeviceptr, const void *, size_t), "cuMemcpyHtoD_v2", NULL)                              \
  X(cuMemcpyDtoH, (void *, CUdeviceptr, size_t), "cuMemcpyDtoH_v2", NULL)                                    \
  X(cuMemsetD8, (CUdeviceptr, unsigned char, size_t), "cuMemsetD8_v2", NULL)                                 \
  X(cuEventCreate, (CUevent *, unsigned), "cuEventCreate", NULL)                                             \
  X(cuEventRecord, (CUevent, CUstream), "cuEventRecord", NULL)                                               \
  X(cuEventSynchronize, (CUevent), "cuEventSynchronize", NULL)                                               \
  X(cuEventElapsedTime, (float *, CUevent, CUevent), "cuEventElapsedTime_v2", "cuEventElapsedTime")          \
  X(cuEventDestroy, (CUevent), "cuEventDestroy_v2", "cuEventDestroy")                                        \
  X(cuGetErrorName, (CUresult, const char **), "cuGetErrorName", NULL)                                       \
  X(cuGetErrorString, (CUresult, const char **), "cuGetErrorString", NULL)

typedef struct {
#define FIELD(f, sig, s1, s2) CUresult(*f) sig;
  RT_CUDA_CALLS(FIELD)
#undef FIELD
  /* Optional (CUDA 12 and newer): a driver without it loads, and only tensor maps are refused. */
  CUresult (*cuTensorMapEncodeTiled)(void *, int, unsigned, void *, const uint64_t *, const uint64_t *,
                                     const uint32_t *, const uint32_t *, int, int, int, int);
} cuda_table;

static struct {
  pthread_mutex_t lock;
  int state; /* 0: not tried, 1: loaded, -1: failed (message kept) */
  char why[512];
  void *handle;
  rt_resolve_fn resolve; /* tests */
  void *resolve_ctx;
  cuda_table cu;
} drv = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- errors ---- */

/* "CALL failed: CUDA_ERROR_NAME: message" */
static int cu_fail(const char *call, CUresult r, char *err, size_t errn) {
  const char *name = NULL, *msg = NULL;
  if (drv.cu.cuGetErrorName(r, &name) != CUDA_SUCCESS || !name) name = NULL;
  if (drv.cu.cuGetErrorString(r, &msg) != CUDA_SUCCESS || !msg) msg = "unknown error";
  if (name)
    snprintf(err, errn, "%s failed: %s: %s", call, name, msg);
  else
    snprintf(err, errn, "%s failed: CUresult %d: %s", call, r, msg);
  return -1;
}

#define CU(call, args)                                                                                       \
  do {                                                                                                       \
    CUresult r_ = drv.cu.call args;                                                                          \
    if (r_ != CUDA_SUCCESS) return cu_fail(#call, r_, err, errn);                                            \
  } while (0)

/* ---- loading ---- */

static void *lookup(const char *sym) {
  return drv.resolve ? drv.resolve(sym, drv.resolve_ctx) : dlsym(drv.handle, sym);
}

/* Fills one table slot from the first symbol found; -1 naming the primary symbol if none is. */
static int resolve_one(void **slot, const char *s1, const char *s2, const char *lib) {
  void *p = lookup(s1);
  if (!p && s2) p = lookup(s2);
  *slot = p;
  if (!p) snprintf(drv.why, sizeof drv.why, "no CUDA driver (%s: has no %s)", lib, s1);
  return p ? 0 : -1;
}

static int open_library(const char *lib) {
  if (drv.resolve) return 0;
  drv.handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (drv.handle) return 0;
  const char *why = dlerror();
  size_t n = strlen(lib);
  if (why && !strncmp(why, lib, n) && !strncmp(why + n, ": ", 2)) why += n + 2; /* dlerror repeats the path */
  snprintf(drv.why, sizeof drv.why, "no CUDA driver (%s: %s)", lib, why ? why : "cannot be loaded");
  return -1;
}

static int load_locked(void) {
  const char *lib = getenv("KILN_CUDA_LIB");
  if (!lib || !*lib) lib = "libcuda.so.1";
  if (open_library(lib)) return -1;
#define RESOLVE(f, sig, s1, s2)                                                                              \
  if (resolve_one((void **)&drv.cu.f, s1, s2, lib)) return -1;
  RT_CUDA_CALLS(RESOLVE)
#undef RESOLVE
  *(void **)&drv.cu.cuTensorMapEncodeTiled = lookup("cuTensorMapEncodeTiled");
  CUresult r = drv.cu.cuInit(0);
  if (r != CUDA_SUCCESS) return cu_fail("cuInit", r, drv.why, sizeof drv.why);
  return 0;
}

int rt_driver_load(char *err, size_t errn) {
  pthread_mutex_lock(&drv.lock);
  if (drv.state == 0) drv.state = load_locked() ? -1 : 1;
  int ok = drv.state == 1;
  if (!ok) snprintf(err, errn, "%s", drv.why);
  pthread_mutex_unlock(&drv.lock);
  return ok ? 0 : -1;
}

void rt_driver_override(rt_resolve_fn f, void *ctx) {
  pthread_mutex_lock(&drv.lock);
  if (drv.handle) dlclose(drv.handle);
  drv.handle = NULL;
  drv.resolve = f;
  drv.resolve_ctx = ctx;
  drv.state = 0;
  memset(&drv.cu, 0, sizeof drv.cu);
  pthread_mutex_unlock(&drv.lock);
}

/* ---- devices ---- */

struct rt_device {
  CUdevice dev;
  CUcontext ctx;
  char name[256];
  int sm, smem_optin, nsm;
};

static int device_query(rt_device *d, char *err, size_t errn) {
  int major, minor;
  CU(cuDeviceGetName, (d->name, (int)sizeof d->name, d->dev));
  CU(cuDeviceGetAttribute, (&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d->dev));
  CU(cuDeviceGetAttribute, (&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d->dev));
  CU(cuDeviceGetAttribute, (&d->smem_optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, d->dev));
  CU(cuDeviceGetAttribute, (&d->nsm, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d->dev));
  d->name[sizeof d->name - 1] = 0;
  d->sm = major * 10 + minor;
  return 0;
}

static int device_attach(rt_device *d, int ordinal, char *err, size_t errn) {
  int count = 0;
  CU(cuDeviceGetCount, (&count));
  if (ordinal < 0 || ordinal >= count) {
    snprintf(err, errn, "cuDeviceGet failed: device %d requested, the driver sees %d", ordinal, count);
    return -1;
  }
  CU(cuDeviceGet, (&d->dev, ordinal));
  if (device_query(d, err, errn)) return -1;
  CU(cuDevicePrimaryCtxRetain, (&d->ctx, d->dev));
  CUresult r = drv.cu.cuCtxSetCurrent(d->ctx);
  if (r != CUDA_SUCCESS) {
    drv.cu.cuDevicePrimaryCtxRelease(d->dev);
    d->ctx = NULL;
    return cu_fail("cuCtxSetCurrent", r, err, errn);
  }
  return 0;
}

int rt_device_open(int ordinal, rt_device **out, char *err, size_t errn) {
  *out = NULL;
  if (rt_driver_load(err, errn)) return -1;
  rt_device *d = calloc(1, sizeof *d);
  if (!d) {
    snprintf(err, errn, "rt_device_open: out of memory");
    return -1;
  }
  if (device_attach(d, ordinal, err, errn)) {
    free(d);
    return -1;
  }
  *out = d;
  return 0;
}

void rt_device_close(rt_device *d) {
  if (!d) return;
  if (d->ctx) drv.cu.cuDevicePrimaryCtxRelease(d->dev);
  free(d);
}

int rt_device_bind(rt_device *d, char *err, size_t errn) {
  CU(cuCtxSetCurrent, (d->ctx));
  return 0;
}

const char *rt_device_name(const rt_device *d) { return d->name; }
int rt_device_sm(const rt_device *d) { return d->sm; }
int rt_device_smem_optin(const rt_device *d) { return d->smem_optin; }
int rt_device_count(const rt_device *d) { return d->nsm; }

void rt_sm_target_name(int sm, char *buf, size_t n) {
  if (sm == 90 || sm == 100 || sm == 120)
    snprintf(buf, n, "sm_%da", sm); /* the arch-specific rows: wgmma, tcgen05, sm_120 mma kinds */
  else
    snprintf(buf, n, "sm_%d", sm);
}

int rt_target_sm(const char *name) {
  if (strncmp(name, "sm_", 3) || name[3] < '1' || name[3] > '9') return -1;
  char *end;
  long v = strtol(name + 3, &end, 10);
  if ((*end && strcmp(end, "a") && strcmp(end, "f")) || v > 1000) return -1;
  return (int)v;
}

int rt_pick_target(int sm, const char *const *names, int n) {
  char want[16];
  rt_sm_target_name(sm, want, sizeof want);
  int best = -1, best_sm = -1;
  for (int i = 0; i < n; i++) {
    if (!strcmp(names[i], want)) return i;
    int s = rt_target_sm(names[i]);
    int plain = s >= 0 && names[i][strlen(names[i]) - 1] != 'a' && names[i][strlen(names[i]) - 1] != 'f';
    if (plain && s <= sm && s > best_sm) best = i, best_sm = s;
  }
  return best;
}

/* ---- memory ---- */

int rt_mem_alloc(rt_device *d, size_t bytes, rt_dptr *out, char *err, size_t errn) {
  CUdeviceptr p = 0;
  CU(cuMemAlloc, (&p, bytes ? bytes : 1));
  *out = p;
  return 0;
}

void rt_mem_free(rt_device *d, rt_dptr p) {
  if (p) drv.cu.cuMemFree(p);
}

int rt_mem_upload(rt_device *d, rt_dptr dst, const void *src, size_t bytes, char *err, size_t errn) {
  if (bytes) CU(cuMemcpyHtoD, (dst, src, bytes));
  return 0;
}

int rt_mem_download(rt_device *d, void *dst, rt_dptr src, size_t bytes, char *err, size_t errn) {
  if (bytes) CU(cuMemcpyDtoH, (dst, src, bytes));
  return 0;
}

int rt_mem_set8(rt_device *d, rt_dptr dst, unsigned char v, size_t bytes, char *err, size_t errn) {
  if (bytes) CU(cuMemsetD8, (dst, v, bytes));
  return 0;
}

int rt_cu_tensor_map_encode(void *map, int dtype, unsigned rank, void *gaddr, const uint64_t *dims,
                            const uint64_t *strides, const uint32_t *box, const uint32_t *elem_strides,
                            int swizzle, int oob_nan, char *err, size_t errn) {
  if (rt_driver_load(err, errn)) return -1;
  if (!drv.cu.cuTensorMapEncodeTiled) {
    snprintf(err, errn, "the CUDA driver has no cuTensorMapEncodeTiled (tensor maps need CUDA 12 or newer)");
    return -1;
  }
  enum { INTERLEAVE_NONE = 0, L2_PROMOTION_128B = 2 };
  CU(cuTensorMapEncodeTiled, (map, dtype, rank, gaddr, dims, strides, box, elem_strides, INTERLEAVE_NONE,
                              swizzle, L2_PROMOTION_128B, oob_nan));
  return 0;
}

int rt_synchronize(rt_device *d, char *err, size_t errn) {
  CU(cuCtxSynchronize, ());
  return 0;
}

/* ---- kernels ---- */

struct rt_kernel {
  rt_device *dev;
  CUmodule mod;
  CUfunction fn;
};

/* cuModuleLoadDataEx with the JIT error log captured into the message. */
static int module_load(CUmodule *mod, const char *ptx, char *err, size_t errn) {
  static _Thread_local char log[JIT_LOG];
  log[0] = 0;
  int opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[2] = {log, (void *)(size_t)sizeof log};
  CUresult r = drv.cu.cuModuleLoadDataEx(mod, ptx, 2, opts, vals);
  if (r == CUDA_SUCCESS) return 0;
  cu_fail("cuModuleLoadDataEx", r, err, errn);
  log[sizeof log - 1] = 0;
  size_t n = strlen(err);
  if (log[0] && n + 1 < errn) snprintf(err + n, errn - n, "\n%s", log);
  return -1;
}

static int kernel_bind(rt_kernel *k, const char *name, int shared_bytes, char *err, size_t errn) {
  CU(cuModuleGetFunction, (&k->fn, k->mod, name));
  if (shared_bytes > DEFAULT_SHARED)
    CU(cuFuncSetAttribute, (k->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, shared_bytes));
  return 0;
}

int rt_kernel_load(rt_device *d, const char *ptx, const char *name, int shared_bytes, rt_kernel **out,
                   char *err, size_t errn) {
  *out = NULL;
  rt_kernel *k = calloc(1, sizeof *k);
  if (!k) {
    snprintf(err, errn, "rt_kernel_load: out of memory");
    return -1;
  }
  k->dev = d;
  if (module_load(&k->mod, ptx, err, errn)) {
    free(k);
    return -1;
  }
  if (kernel_bind(k, name, shared_bytes, err, errn)) {
    rt_kernel_free(k);
    return -1;
  }
  *out = k;
  return 0;
}

void rt_kernel_free(rt_kernel *k) {
  if (!k) return;
  if (k->mod) drv.cu.cuModuleUnload(k->mod);
  free(k);
}

static int grid_ok(const int64_t grid[3], int threads, char *err, size_t errn) {
  for (int i = 0; i < 3; i++)
    if (grid[i] < 1 || grid[i] > 0x7fffffff) {
      snprintf(err, errn, "cuLaunchKernel not called: grid (%lld, %lld, %lld) is out of range",
               (long long)grid[0], (long long)grid[1], (long long)grid[2]);
      return -1;
    }
  if (threads < 1) {
    snprintf(err, errn, "cuLaunchKernel not called: %d threads per block", threads);
    return -1;
  }
  return 0;
}

int rt_launch(rt_kernel *k, const int64_t grid[3], int threads, int shared_bytes, void **params, char *err,
              size_t errn) {
  if (grid_ok(grid, threads, err, errn)) return -1;
  CU(cuLaunchKernel, (k->fn, (unsigned)grid[0], (unsigned)grid[1], (unsigned)grid[2], (unsigned)threads, 1, 1,
                      (unsigned)shared_bytes, NULL, params, NULL));
  return 0;
}

int rt_launch_on(rt_kernel *k, const int64_t grid[3], int threads, int shared_bytes, void **params,
                 void *stream, char *err, size_t errn) {
  if (grid_ok(grid, threads, err, errn)) return -1;
  CU(cuLaunchKernel, (k->fn, (unsigned)grid[0], (unsigned)grid[1], (unsigned)grid[2], (unsigned)threads, 1, 1,
                      (unsigned)shared_bytes, (CUstream)stream, params, NULL));
  return 0;
}

static int time_between(CUevent start, CUevent stop, rt_kernel *k, const int64_t grid[3], int threads,
                        int shared_bytes, void **params, int reps, double *ms, char *err, size_t errn) {
  float total = 0;
  CU(cuEventRecord, (start, NULL));
  for (int i = 0; i < reps; i++)
    if (rt_launch(k, grid, threads, shared_bytes, params, err, errn)) return -1;
  CU(cuEventRecord, (stop, NULL));
  CU(cuEventSynchronize, (stop));
  CU(cuEventElapsedTime, (&total, start, stop));
  *ms = (double)total / reps;
  return 0;
}

int rt_launch_timed(rt_kernel *k, const int64_t grid[3], int threads, int shared_bytes, void **params,
                    int reps, double *ms, char *err, size_t errn) {
  CUevent start = NULL, stop = NULL;
  if (reps < 1) reps = 1;
  CU(cuEventCreate, (&start, CU_EVENT_DEFAULT));
  CUresult r = drv.cu.cuEventCreate(&stop, CU_EVENT_DEFAULT);
  if (r != CUDA_SUCCESS) {
    drv.cu.cuEventDestroy(start);
    return cu_fail("cuEventCreate", r, err, errn);
  }
  int rc = time_between(start, stop, k, grid, threads, shared_bytes, params, reps, ms, err, errn);
  drv.cu.cuEventDestroy(start);
  drv.cu.cuEventDestroy(stop);
  return rc;
}
