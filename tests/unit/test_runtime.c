/*
 * test_runtime.c - the runtime's driver layer without a GPU.
 *
 * 1. No driver: KILN_CUDA_LIB pointing at a missing file, and at a library that is not a CUDA
 *    driver, must fail with "no CUDA driver (PATH: why)".
 * 2. A fake driver installed with rt_driver_override: host memory stands in for device memory, and
 *    each entry point can be told to fail, so that every error message (call name, error name,
 *    driver string, JIT log) and every decision (_v2 symbols first, the shared-memory opt-in above
 *    48 KiB, grid checks, event timing) is checked.
 * 3. With a real driver present (KILN_TEST_GPU=1), a device opens and reports a name and an sm.
 * 4. The kiln binary ($KILN) against the same fake built as a shared library (KILN_FAKE_CUDA, the
 *    CMake target kiln_fake_cuda): the GPU path of `kiln run` end to end, from the device line and
 *    the target pick to the poison left in every output (the fake's kernels do nothing), a JIT
 *    failure and a launch failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>

#include "runtime/rt.h"

/* ---- 2. the fake driver ---- */

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
  OK = 0,
  E_INVALID_VALUE = 1,
  E_OUT_OF_MEMORY = 2,
  E_NO_DEVICE = 100,
  E_INVALID_PTX = 218,
  E_NOT_FOUND = 500,
  E_LAUNCH_FAILED = 719
};

static struct {
  int init_result;       /* what cuInit returns */
  int alloc_fails;       /* cuMemAlloc returns out of memory */
  int launch_result;     /* what cuLaunchKernel returns */
  int no_v2_elapsed;     /* export only the plain cuEventElapsedTime */
  const char *missing;   /* a symbol the fake does not export */
  int asked_v2_alloc;    /* the runtime asked for cuMemAlloc_v2 */
  int asked_plain_alloc; /* ... or for the plain cuMemAlloc */
  int launches, dyn_smem_attr, last_threads, last_shared;
  unsigned last_grid[3];
  int modules_loaded, modules_unloaded, ctx_retained, ctx_released;
  int touch_param0;      /* launches add 1 to the int that parameter 0 points at */
  const char *ptx_needs; /* a module load fails unless the PTX contains this */
  int any_kernel_name;   /* every kernel name is found (else only kernel_main) */
  struct {               /* the last cuTensorMapEncodeTiled call, and what it returns */
    int calls, result, dtype, interleave, swizzle, l2, oob;
    unsigned rank;
    void *gaddr;
    uint64_t dims[5], strides[4];
    uint32_t box[5], es[5];
  } tmap;
} fake;

static int module_token; /* a CUmodule / CUfunction handle is the address of this */

static CUresult f_init(unsigned flags) { return fake.init_result; }
static CUresult f_count(int *n) { return *n = 1, OK; }
static CUresult f_get(int *dev, int ordinal) { return *dev = ordinal, OK; }
static CUresult f_attr(int *v, int attr, int dev) {
  switch (attr) {
  case 75: *v = 9; return OK;      /* compute capability major */
  case 76: *v = 0; return OK;      /* minor */
  case 97: *v = 232448; return OK; /* shared memory opt-in */
  case 16: *v = 132; return OK;    /* multiprocessors */
  default: return E_INVALID_VALUE;
  }
}
static CUresult f_name(char *name, int n, int dev) { return snprintf(name, (size_t)n, "Fake H100"), OK; }
static CUresult f_retain(void **ctx, int dev) { return *ctx = &module_token, fake.ctx_retained++, OK; }
static CUresult f_release(int dev) { return fake.ctx_released++, OK; }
static CUresult f_set_current(void *ctx) { return OK; }
static CUresult f_sync(void) { return OK; }
static CUresult f_tmap(void *map, int dtype, unsigned rank, void *gaddr, const uint64_t *dims,
                       const uint64_t *strides, const uint32_t *box, const uint32_t *es, int interleave,
                       int swizzle, int l2, int oob) {
  fake.tmap.calls++;
  fake.tmap.dtype = dtype, fake.tmap.rank = rank, fake.tmap.gaddr = gaddr, fake.tmap.interleave = interleave;
  fake.tmap.swizzle = swizzle, fake.tmap.l2 = l2, fake.tmap.oob = oob;
  for (unsigned i = 0; i < rank && i < 5; i++) {
    fake.tmap.dims[i] = dims[i], fake.tmap.box[i] = box[i], fake.tmap.es[i] = es[i];
    if (i) fake.tmap.strides[i - 1] = strides[i - 1];
  }
  memset(map, 0x5a, 128); /* the driver's opaque bytes */
  return fake.tmap.result;
}

/* Bad PTX (containing "syntax error") fails with a JIT log, as the real driver does. */
static CUresult f_load(void **mod, const void *image, unsigned nopt, int *opts, void **vals) {
  char *log = NULL;
  size_t logn = 0;
  for (unsigned i = 0; i < nopt; i++) {
    if (opts[i] == 5) log = vals[i];
    if (opts[i] == 6) logn = (size_t)vals[i];
  }
  if (strstr(image, "syntax error") || (fake.ptx_needs && !strstr(image, fake.ptx_needs))) {
    if (log && logn) snprintf(log, logn, "ptxas application ptx input, line 3; error   : syntax error");
    return E_INVALID_PTX;
  }
  fake.modules_loaded++;
  *mod = &module_token;
  return OK;
}
static CUresult f_unload(void *mod) { return fake.modules_unloaded++, OK; }
static CUresult f_getfn(void **fn, void *mod, const char *name) {
  if (!fake.any_kernel_name && strcmp(name, "kernel_main")) return E_NOT_FOUND;
  *fn = &module_token;
  return OK;
}
static CUresult f_setattr(void *fn, int attr, int v) {
  if (attr != 8) return E_INVALID_VALUE;
  fake.dyn_smem_attr = v;
  return v > 232448 ? E_INVALID_VALUE : OK;
}

/* "Runs" the kernel: parameter 0 is a device pointer to one int that gets +1 per launch. */
static CUresult f_launch(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                         unsigned bz, unsigned shared, void *stream, void **params, void **extra) {
  if (fake.launch_result) return fake.launch_result;
  fake.launches++;
  fake.last_grid[0] = gx, fake.last_grid[1] = gy, fake.last_grid[2] = gz;
  fake.last_threads = (int)bx;
  fake.last_shared = (int)shared;
  if (fake.touch_param0) (*(int *)(uintptr_t) * (CUdeviceptr *)params[0])++;
  return OK;
}
static CUresult f_alloc(CUdeviceptr *p, size_t n) {
  if (fake.alloc_fails) return E_OUT_OF_MEMORY;
  *p = (CUdeviceptr)(uintptr_t)malloc(n);
  return OK;
}
static CUresult f_free(CUdeviceptr p) { return free((void *)(uintptr_t)p), OK; }
static CUresult f_htod(CUdeviceptr d, const void *s, size_t n) {
  return memcpy((void *)(uintptr_t)d, s, n), OK;
}
static CUresult f_dtoh(void *d, CUdeviceptr s, size_t n) { return memcpy(d, (void *)(uintptr_t)s, n), OK; }
static CUresult f_memset(CUdeviceptr d, unsigned char v, size_t n) {
  return memset((void *)(uintptr_t)d, v, n), OK;
}

static int event_token[2];
static int launches_at_record[2];
static CUresult f_ev_create(void **e, unsigned flags) {
  static int next;
  *e = &event_token[next++ % 2];
  return OK;
}
static CUresult f_ev_record(void *e, void *stream) {
  launches_at_record[(int *)e - event_token] = fake.launches;
  return OK;
}
static CUresult f_ev_sync(void *e) { return OK; }
/* 0.5 ms per launch between the two events */
static CUresult f_ev_elapsed(float *ms, void *a, void *b) {
  *ms =
      0.5f * (float)(launches_at_record[(int *)b - event_token] - launches_at_record[(int *)a - event_token]);
  return OK;
}
static CUresult f_ev_destroy(void *e) { return OK; }

static CUresult f_err_name(CUresult r, const char **s) {
  switch (r) {
  case E_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; return OK;
  case E_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return OK;
  case E_NO_DEVICE: *s = "CUDA_ERROR_NO_DEVICE"; return OK;
  case E_INVALID_PTX: *s = "CUDA_ERROR_INVALID_PTX"; return OK;
  case E_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; return OK;
  case E_LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; return OK;
  default: *s = NULL; return E_INVALID_VALUE;
  }
}
static CUresult f_err_string(CUresult r, const char **s) {
  switch (r) {
  case E_INVALID_VALUE: *s = "invalid argument"; return OK;
  case E_OUT_OF_MEMORY: *s = "out of memory"; return OK;
  case E_NO_DEVICE: *s = "no CUDA-capable device is detected"; return OK;
  case E_INVALID_PTX: *s = "a PTX JIT compilation failed"; return OK;
  case E_NOT_FOUND: *s = "named symbol not found"; return OK;
  case E_LAUNCH_FAILED: *s = "unspecified launch failure"; return OK;
  default: *s = NULL; return E_INVALID_VALUE;
  }
}

#ifdef KILN_FAKE_DRIVER_SO
/* ---- the fake driver as a shared library (CMake target kiln_fake_cuda) ----
 * The same fake under the driver's own symbol names, for running the kiln binary against it with
 * KILN_CUDA_LIB. Kernels do nothing, so every output keeps its poison. FAKE_CUDA_PTX_NEEDS makes a
 * module load fail unless the PTX contains that text; FAKE_CUDA_LAUNCH_RESULT is what launches return;
 * FAKE_CUDA_TOUCH_PARAM0 makes each launch add 1 to the int that parameter 0 points at. */
#define EXPORT __attribute__((visibility("default")))
EXPORT CUresult cuInit(unsigned f) {
  const char *lr = getenv("FAKE_CUDA_LAUNCH_RESULT");
  fake.launch_result = lr ? atoi(lr) : 0;
  fake.ptx_needs = getenv("FAKE_CUDA_PTX_NEEDS");
  fake.any_kernel_name = 1;
  fake.touch_param0 = getenv("FAKE_CUDA_TOUCH_PARAM0") != NULL;
  return f_init(f);
}
EXPORT CUresult cuDeviceGetCount(int *n) { return f_count(n); }
EXPORT CUresult cuDeviceGet(int *d, int o) { return f_get(d, o); }
EXPORT CUresult cuDeviceGetAttribute(int *v, int a, int d) { return f_attr(v, a, d); }
EXPORT CUresult cuDeviceGetName(char *s, int n, int d) { return f_name(s, n, d); }
EXPORT CUresult cuDevicePrimaryCtxRetain(void **c, int d) { return f_retain(c, d); }
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int d) { return f_release(d); }
EXPORT CUresult cuCtxSetCurrent(void *c) { return f_set_current(c); }
EXPORT CUresult cuCtxSynchronize(void) { return f_sync(); }
EXPORT CUresult cuModuleLoadDataEx(void **m, const void *im, unsigned n, int *o, void **v) {
  return f_load(m, im, n, o, v);
}
EXPORT CUresult cuModuleUnload(void *m) { return f_unload(m); }
EXPORT CUresult cuModuleGetFunction(void **f, void *m, const char *name) { return f_getfn(f, m, name); }
EXPORT CUresult cuFuncSetAttribute(void *f, int a, int v) { return f_setattr(f, a, v); }
EXPORT CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned sh, void *st, void **p, void **ex) {
  return f_launch(f, gx, gy, gz, bx, by, bz, sh, st, p, ex);
}
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) { return f_alloc(p, n); }
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) { return f_free(p); }
EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) { return f_htod(d, s, n); }
EXPORT CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) { return f_dtoh(d, s, n); }
EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { return f_memset(d, v, n); }
EXPORT CUresult cuEventCreate(void **e, unsigned f) { return f_ev_create(e, f); }
EXPORT CUresult cuEventRecord(void *e, void *s) { return f_ev_record(e, s); }
EXPORT CUresult cuEventSynchronize(void *e) { return f_ev_sync(e); }
EXPORT CUresult cuEventElapsedTime(float *ms, void *a, void *b) { return f_ev_elapsed(ms, a, b); }
EXPORT CUresult cuEventDestroy_v2(void *e) { return f_ev_destroy(e); }
EXPORT CUresult cuTensorMapEncodeTiled(void *m, int t, unsigned r, void *g, const uint64_t *d,
                                       const uint64_t *s, const uint32_t *b, const uint32_t *e, int il,
                                       int sw, int l2, int oob) {
  return f_tmap(m, t, r, g, d, s, b, e, il, sw, l2, oob);
}
EXPORT CUresult cuGetErrorName(CUresult r, const char **s) { return f_err_name(r, s); }
EXPORT CUresult cuGetErrorString(CUresult r, const char **s) { return f_err_string(r, s); }

#else

#include "sim/sim_tma.h"
#include "test.h"

/* ---- 1. no driver ---- */

static void test_no_driver(void) {
  char err[512] = "";
  setenv("KILN_CUDA_LIB", "/nonexistent/libcuda.so.1", 1);
  rt_driver_override(NULL, NULL);
  CHECK(rt_driver_load(err, sizeof err) == -1);
  CHECK_CONTAINS(err, "no CUDA driver (/nonexistent/libcuda.so.1: ");
  CHECK_CONTAINS(err, "No such file");
  rt_device *d = (rt_device *)1;
  err[0] = 0;
  CHECK(rt_device_open(0, &d, err, sizeof err) == -1 && d == NULL);
  CHECK_CONTAINS(err, "no CUDA driver (/nonexistent/libcuda.so.1: ");
  /* a library that loads but is no CUDA driver */
  setenv("KILN_CUDA_LIB", "libm.so.6", 1);
  rt_driver_override(NULL, NULL);
  CHECK(rt_driver_load(err, sizeof err) == -1);
  CHECK_CONTAINS(err, "no CUDA driver (libm.so.6: has no cuInit)");
  unsetenv("KILN_CUDA_LIB");
}

static const struct {
  const char *name;
  void *fn;
} fake_syms[] = {
    {"cuInit", (void *)f_init},
    {"cuDeviceGetCount", (void *)f_count},
    {"cuDeviceGet", (void *)f_get},
    {"cuDeviceGetAttribute", (void *)f_attr},
    {"cuDeviceGetName", (void *)f_name},
    {"cuDevicePrimaryCtxRetain", (void *)f_retain},
    {"cuDevicePrimaryCtxRelease_v2", (void *)f_release},
    {"cuCtxSetCurrent", (void *)f_set_current},
    {"cuCtxSynchronize", (void *)f_sync},
    {"cuModuleLoadDataEx", (void *)f_load},
    {"cuModuleUnload", (void *)f_unload},
    {"cuModuleGetFunction", (void *)f_getfn},
    {"cuFuncSetAttribute", (void *)f_setattr},
    {"cuLaunchKernel", (void *)f_launch},
    {"cuMemAlloc_v2", (void *)f_alloc},
    {"cuMemAlloc", (void *)f_alloc},
    {"cuMemFree_v2", (void *)f_free},
    {"cuMemcpyHtoD_v2", (void *)f_htod},
    {"cuMemcpyDtoH_v2", (void *)f_dtoh},
    {"cuMemsetD8_v2", (void *)f_memset},
    {"cuEventCreate", (void *)f_ev_create},
    {"cuEventRecord", (void *)f_ev_record},
    {"cuEventSynchronize", (void *)f_ev_sync},
    {"cuEventElapsedTime_v2", (void *)f_ev_elapsed},
    {"cuEventElapsedTime", (void *)f_ev_elapsed},
    {"cuEventDestroy_v2", (void *)f_ev_destroy},
    {"cuTensorMapEncodeTiled", (void *)f_tmap},
    {"cuGetErrorName", (void *)f_err_name},
    {"cuGetErrorString", (void *)f_err_string},
};

static void *fake_resolve(const char *sym, void *ctx) {
  if (!strcmp(sym, "cuMemAlloc_v2")) fake.asked_v2_alloc++;
  if (!strcmp(sym, "cuMemAlloc")) fake.asked_plain_alloc++;
  if (fake.missing && !strcmp(sym, fake.missing)) return NULL;
  if (fake.no_v2_elapsed && !strcmp(sym, "cuEventElapsedTime_v2")) return NULL;
  for (size_t i = 0; i < sizeof fake_syms / sizeof fake_syms[0]; i++)
    if (!strcmp(sym, fake_syms[i].name)) return fake_syms[i].fn;
  return NULL;
}

static void fake_reset(void) {
  memset(&fake, 0, sizeof fake);
  fake.touch_param0 = 1;
  rt_driver_override(fake_resolve, NULL);
}

static void test_load_errors(void) {
  char err[512] = "";
  fake_reset();
  fake.init_result = E_NO_DEVICE;
  CHECK(rt_driver_load(err, sizeof err) == -1);
  CHECK(!strcmp(err, "cuInit failed: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected"));
  fake_reset();
  fake.missing = "cuLaunchKernel";
  CHECK(rt_driver_load(err, sizeof err) == -1);
  CHECK_CONTAINS(err, "no CUDA driver (libcuda.so.1: has no cuLaunchKernel)");
  /* a driver older than CUDA 12 (no tensor maps) loads; only tensor maps are refused */
  fake_reset();
  fake.missing = "cuTensorMapEncodeTiled";
  CHECK(rt_driver_load(err, sizeof err) == 0, "%s", err);
  _Alignas(64) unsigned char map[RT_TMAP_BYTES];
  rt_tmap_desc d = {RT_TMAP_BF16, 3, 0x10000, {64, 48, 5}, {256, 256 * 48}, {64, 32, 1}, {0}, 128, 1};
  CHECK(rt_tmap_encode(&d, map, err, sizeof err) == -1 && fake.tmap.calls == 0);
  CHECK_STR(err, "the CUDA driver has no cuTensorMapEncodeTiled (tensor maps need CUDA 12 or newer)");
  fake_reset();
  CHECK(rt_driver_load(err, sizeof err) == 0);
  CHECK(fake.asked_v2_alloc == 1 && fake.asked_plain_alloc == 0); /* _v2 preferred */
}

static rt_device *open_fake(void) {
  char err[512] = "";
  rt_device *d = NULL;
  CHECK(rt_device_open(0, &d, err, sizeof err) == 0);
  if (!d) fprintf(stderr, "rt_device_open: %s\n", err);
  return d;
}

static void test_device(void) {
  char err[512] = "";
  fake_reset();
  rt_device *d = open_fake();
  if (!d) return;
  CHECK(!strcmp(rt_device_name(d), "Fake H100"));
  CHECK(rt_device_sm(d) == 90 && rt_device_smem_optin(d) == 232448 && rt_device_count(d) == 132);
  CHECK(fake.ctx_retained == 1);
  rt_device_close(d);
  CHECK(fake.ctx_released == 1);
  rt_device *d2 = (rt_device *)1;
  CHECK(rt_device_open(3, &d2, err, sizeof err) == -1 && d2 == NULL);
  CHECK_CONTAINS(err, "device 3 requested, the driver sees 1");
  char name[16];
  int sms[] = {75, 80, 86, 89, 90, 100, 120, 121};
  const char *want[] = {"sm_75", "sm_80", "sm_86", "sm_89", "sm_90a", "sm_100a", "sm_120a", "sm_121"};
  for (int i = 0; i < 8; i++) {
    rt_sm_target_name(sms[i], name, sizeof name);
    CHECK(!strcmp(name, want[i]));
  }
}

static void test_memory(void) {
  char err[512] = "";
  fake_reset();
  rt_device *d = open_fake();
  if (!d) return;
  int src[64], dst[64];
  for (int i = 0; i < 64; i++) src[i] = (int)(test_rand() >> 1), dst[i] = -1;
  rt_dptr p = 0;
  CHECK(rt_mem_alloc(d, sizeof src, &p, err, sizeof err) == 0 && p != 0);
  CHECK(rt_mem_upload(d, p, src, sizeof src, err, sizeof err) == 0);
  CHECK(rt_mem_download(d, dst, p, sizeof dst, err, sizeof err) == 0);
  CHECK(!memcmp(src, dst, sizeof src));
  CHECK(rt_mem_set8(d, p, 0xff, sizeof src, err, sizeof err) == 0);
  CHECK(rt_mem_download(d, dst, p, sizeof dst, err, sizeof err) == 0);
  for (int i = 0; i < 64; i++) CHECK(dst[i] == -1);
  rt_mem_free(d, p);
  fake.alloc_fails = 1;
  CHECK(rt_mem_alloc(d, 1 << 20, &p, err, sizeof err) == -1);
  CHECK(!strcmp(err, "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY: out of memory"));
  rt_device_close(d);
}

static void test_kernels(void) {
  char err[1024] = "";
  fake_reset();
  rt_device *d = open_fake();
  if (!d) return;
  rt_kernel *k = (rt_kernel *)1;
  CHECK(rt_kernel_load(d, ".version 8.0\nsyntax error\n", "kernel_main", 0, &k, err, sizeof err) == -1);
  CHECK(k == NULL);
  CHECK(!strcmp(err, "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX: a PTX JIT compilation failed\n"
                     "ptxas application ptx input, line 3; error   : syntax error"));
  CHECK(rt_kernel_load(d, ".version 8.0\n", "other_name", 0, &k, err, sizeof err) == -1);
  CHECK(!strcmp(err, "cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND: named symbol not found"));
  CHECK(fake.modules_loaded == 1 && fake.modules_unloaded == 1); /* no leaked module */
  /* the opt-in happens only above 48 KiB, and a refused one is reported */
  CHECK(rt_kernel_load(d, ".version 8.0\n", "kernel_main", 48 << 10, &k, err, sizeof err) == 0);
  CHECK(fake.dyn_smem_attr == 0);
  rt_kernel_free(k);
  CHECK(rt_kernel_load(d, ".version 8.0\n", "kernel_main", 100000, &k, err, sizeof err) == 0);
  CHECK(fake.dyn_smem_attr == 100000);
  rt_kernel_free(k);
  CHECK(rt_kernel_load(d, ".version 8.0\n", "kernel_main", 300000, &k, err, sizeof err) == -1);
  CHECK(!strcmp(err, "cuFuncSetAttribute failed: CUDA_ERROR_INVALID_VALUE: invalid argument"));
  CHECK(fake.modules_loaded == fake.modules_unloaded);
  rt_device_close(d);
}

static void test_launch(void) {
  char err[512] = "";
  fake_reset();
  rt_device *d = open_fake();
  rt_kernel *k = NULL;
  if (!d || rt_kernel_load(d, ".version 8.0\n", "kernel_main", 0, &k, err, sizeof err)) {
    CHECK(!"fake kernel loads");
    return;
  }
  rt_dptr counter;
  int zero = 0, got = -1;
  CHECK(rt_mem_alloc(d, sizeof zero, &counter, err, sizeof err) == 0);
  CHECK(rt_mem_upload(d, counter, &zero, sizeof zero, err, sizeof err) == 0);
  void *params[] = {&counter};
  int64_t grid[3] = {40, 2, 1};
  CHECK(rt_launch(k, grid, 128, 1024, params, err, sizeof err) == 0);
  CHECK(fake.last_grid[0] == 40 && fake.last_grid[1] == 2 && fake.last_grid[2] == 1);
  CHECK(fake.last_threads == 128 && fake.last_shared == 1024);
  double ms = 0;
  CHECK(rt_launch_timed(k, grid, 128, 0, params, 8, &ms, err, sizeof err) == 0);
  CHECK(ms == 0.5); /* the fake's 0.5 ms per launch, averaged over the 8 between the events */
  CHECK(rt_synchronize(d, err, sizeof err) == 0);
  CHECK(rt_mem_download(d, &got, counter, sizeof got, err, sizeof err) == 0 && got == 9);
  int64_t bad[3] = {0, 1, 1};
  CHECK(rt_launch(k, bad, 128, 0, params, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "grid (0, 1, 1) is out of range");
  int64_t huge[3] = {1ll << 32, 1, 1};
  CHECK(rt_launch(k, huge, 128, 0, params, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "out of range");
  CHECK(rt_launch(k, grid, 0, 0, params, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "0 threads per block");
  fake.launch_result = E_LAUNCH_FAILED;
  CHECK(rt_launch(k, grid, 128, 0, params, err, sizeof err) == -1);
  CHECK(!strcmp(err, "cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure"));
  CHECK(rt_launch_timed(k, grid, 128, 0, params, 4, &ms, err, sizeof err) == -1);
  CHECK(!strcmp(err, "cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure"));
  fake.launch_result = 12345; /* a code the driver has no name for */
  CHECK(rt_launch(k, grid, 128, 0, params, err, sizeof err) == -1);
  CHECK(!strcmp(err, "cuLaunchKernel failed: CUresult 12345: unknown error"));
  rt_mem_free(d, counter);
  rt_kernel_free(k);
  rt_device_close(d);
  /* a driver without cuEventElapsedTime_v2 falls back to the plain symbol */
  fake_reset();
  fake.no_v2_elapsed = 1;
  CHECK(rt_driver_load(err, sizeof err) == 0);
}

/* ---- 3. a real GPU, when the test is told there is one ---- */

static void test_real_gpu(void) {
  const char *want = getenv("KILN_TEST_GPU");
  if (!want || strcmp(want, "1")) return;
  char err[1024] = "";
  rt_driver_override(NULL, NULL);
  rt_device *d = NULL;
  CHECK(rt_device_open(0, &d, err, sizeof err) == 0);
  if (!d) {
    fprintf(stderr, "real GPU: %s\n", err);
    return;
  }
  CHECK(rt_device_sm(d) >= 50 && rt_device_name(d)[0]);
  rt_kernel *k = NULL;
  CHECK(rt_kernel_load(d, ".version 8.0\n.target sm_80\n.address_size 64\nbogus;\n", "x", 0, &k, err,
                       sizeof err) == -1);
  CHECK_CONTAINS(err, "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX");
  printf("real GPU: %s, sm %d\n", rt_device_name(d), rt_device_sm(d));
  rt_device_close(d);
}

/* ---- 4. the kiln binary on the fake driver ---- */

#ifdef KILN_FAKE_CUDA
static int run_kiln(const char *kiln, const char *env, const char *args, char *out, size_t n) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s KILN_CUDA_LIB='%s' '%s' run %s 2>&1", env, KILN_FAKE_CUDA, kiln, args);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t got = fread(out, 1, n - 1, p);
  out[got] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
#endif

static void test_kiln_on_fake(void) {
#ifdef KILN_FAKE_CUDA
  const char *kiln = getenv("KILN");
  static char out[16384];
  if (!kiln) {
    printf("test_runtime: KILN not set: the kiln binary is not run on the fake driver\n");
    return;
  }
  const char *va = "recipes/vector_add.lua --seed 5 --reps 4";
  int st = run_kiln(kiln, "FAKE_CUDA_PTX_NEEDS='.target sm_90a'", va, out, sizeof out);
  CHECK(st == 1);
  CHECK_CONTAINS(out, "kiln: GPU 0: Fake H100 (sm 90), target sm_90a\n");
  CHECK_CONTAINS(out, "vector_add [n=98432] sm_90a gpu: max rel err inf (tol 1e-05) FAIL, 500.0 us\n");
  CHECK_CONTAINS(out, "  z: z[0] (element 0) is NaN (poison never overwritten?) (seed 5)\n");
  /* PTX for another target than the device wants: the JIT error and its log */
  char args[256];
  snprintf(args, sizeof args, "%s --target sm_80", va);
  st = run_kiln(kiln, "FAKE_CUDA_PTX_NEEDS='.target sm_90a'", args, out, sizeof out);
  CHECK(st == 1);
  CHECK_CONTAINS(
      out, "vector_add [n=98432] sm_80 gpu: ERROR: cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX: a "
           "PTX JIT compilation failed\nptxas application ptx input, line 3; error   : syntax error\n");
  st = run_kiln(kiln, "FAKE_CUDA_LAUNCH_RESULT=719", va, out, sizeof out);
  CHECK(st == 1);
  CHECK_CONTAINS(out,
                 "gpu: ERROR: cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure\n");
  /* matmul with TMA copies: the tensor maps are encoded (the fake driver computes nothing, so the
   * poisoned output fails the check, but the launch happens), and a row the map cannot take is one
   * line naming the argument */
  const char *mm = "recipes/matmul.lua --seed 5 --set tma=1 --set M=64 --set N=64 --set K=64";
  st = run_kiln(kiln, "FAKE_CUDA_PTX_NEEDS='.target sm_90a'", mm, out, sizeof out);
  CHECK(st == 1 && !strstr(out, "ERROR"), "%s", out);
  CHECK_CONTAINS(out, "matmul [K=64 M=64 N=64 alpha=none mma=auto tma=1] sm_90a gpu: max rel err inf");
  const char *mm33 = "recipes/matmul.lua --seed 5 --set tma=1 --set M=64 --set N=64 --set K=33";
  st = run_kiln(kiln, "FAKE_CUDA_PTX_NEEDS='.target sm_90a'", mm33, out, sizeof out);
  CHECK(st == 1);
  CHECK_CONTAINS(out, "sm_90a gpu: ERROR: kernel 'matmul', argument 'a' (its TMA boxes need a tensor map): "
                      "tensor map: stride of dimension 1 is 66 bytes");
  /* --sim leaves the driver alone */
  st = run_kiln(kiln, "", "recipes/vector_add.lua --sim", out, sizeof out);
  CHECK(st == 0 && !strstr(out, "GPU 0"));
  CHECK_CONTAINS(out, " sm_80 sim: ");
#endif
}

/* ---- tensor maps: the description reaches the driver intact; bad ones never get there ---- */

static void test_tensormap_encode(void) {
  char err[512] = "";
  _Alignas(64) unsigned char map[RT_TMAP_BYTES];
  fake_reset();
  rt_tmap_desc d = {RT_TMAP_BF16, 3, 0x10000, {64, 48, 5}, {256, 256 * 48}, {64, 32, 1}, {0}, 128, 1};
  CHECK(rt_tmap_encode(&d, map, err, sizeof err) == 0, "%s", err);
  CHECK(fake.tmap.calls == 1 && fake.tmap.dtype == 9 && fake.tmap.rank == 3 &&
        fake.tmap.gaddr == (void *)0x10000);
  CHECK(fake.tmap.dims[0] == 64 && fake.tmap.dims[2] == 5 && fake.tmap.strides[1] == 256 * 48);
  CHECK(fake.tmap.box[0] == 64 && fake.tmap.box[1] == 32 && fake.tmap.es[0] == 1 && fake.tmap.es[2] == 1);
  CHECK(fake.tmap.swizzle == 3 && fake.tmap.oob == 1 && fake.tmap.interleave == 0 && fake.tmap.l2 == 2);
  CHECK(map[0] == 0x5a && map[127] == 0x5a);
  d.type = RT_TMAP_I32, d.box[0] = 32, d.oob_nan = 1, d.swizzle = 0;
  CHECK(rt_tmap_encode(&d, map, err, sizeof err) == 0 && fake.tmap.oob == 0 && fake.tmap.swizzle == 0,
        "NaN fill only for floats");
  fake.tmap.result = E_INVALID_VALUE;
  CHECK(rt_tmap_encode(&d, map, err, sizeof err) == -1);
  CHECK_STR(err, "cuTensorMapEncodeTiled failed: CUDA_ERROR_INVALID_VALUE: invalid argument");
  fake.tmap.result = OK;
  int calls = fake.tmap.calls;
  d.box[0] = 2;
  CHECK(rt_tmap_encode(&d, map, err, sizeof err) == -1 && fake.tmap.calls == calls);
  CHECK_STR(err, "tensor map: the box's inner dimension is 8 bytes (want a multiple of 16)");
  d.box[0] = 32, d.type = RT_TMAP_NTYPES;
  CHECK(rt_tmap_check(&d, err, sizeof err) == -1);
  CHECK_STR(err, "tensor map: element type 10 does not exist");
  d.type = RT_TMAP_F32, d.gaddr = 0x10008;
  CHECK(rt_tmap_check(&d, err, sizeof err) == -1);
  CHECK_STR(err, "tensor map: global address 0x10008 is not 16-byte aligned");
}

/* The runtime's checks and the simulator's encoder (sim/sim_tma.c) hold the same rules: random maps
 * near every limit are accepted or refused by both, with the same message. */
static void test_tensormap_rules_agree(void) {
  static const rt_tmap_type types[4] = {RT_TMAP_U8, RT_TMAP_F16, RT_TMAP_F32, RT_TMAP_F64};
  static _Alignas(64) unsigned char buf[64];
  _Alignas(64) unsigned char map[RT_TMAP_BYTES];
  int accepted = 0, refused = 0;
  for (int it = 0; it < 2000; it++) {
    rt_tmap_desc d = {types[test_rand() % 4],
                      1 + (int)(test_rand() % 6) - (int)(test_rand() % 2),
                      0,
                      {0},
                      {0},
                      {0},
                      {0},
                      (int[]){0, 32, 64, 128, 48}[test_rand() % 5],
                      0};
    d.gaddr = (rt_dptr)(uintptr_t)buf;
    sim_tma_params p = {rt_tmap_elem_bytes(d.type), 1, d.rank, buf, {0}, {0}, {0}, {0}, d.swizzle, 0};
    for (int i = 0; i < 5; i++) {
      d.dims[i] = p.dims[i] = test_rand() % 50 ? 1 + test_rand() % 1000 : 0;
      d.box[i] = p.box[i] = (uint32_t)(test_rand() % 10 ? 16 * (1 + test_rand() % 8) : test_rand() % 300);
      d.elem_strides[i] = p.elem_strides[i] = test_rand() % 20 ? 1 : 1 + test_rand() % 9;
      if (i < 4)
        d.strides[i] = p.strides[i] = test_rand() % 10 ? 16 * (1 + test_rand() % 100) : test_rand() % 100;
    }
    char e1[256] = "", e2[256] = "";
    int r1 = rt_tmap_check(&d, e1, sizeof e1), r2 = sim_tma_encode(&p, map, e2, sizeof e2);
    CHECK(r1 == r2, "runtime %s ('%s'), simulator %s ('%s')", r1 ? "refuses" : "accepts", e1,
          r2 ? "refuses" : "accepts", e2);
    if (r1 && r2) CHECK_STR(e1, e2);
    r1 ? refused++ : accepted++;
  }
  CHECK(accepted > 50 && refused > 50, "both outcomes drawn: %d accepted, %d refused", accepted, refused);
}

/* The kiln-tmap lines codegen writes (codegen.h): parsed from the text and from PTX comments,
 * evaluated for argument values; malformed lines and too many maps refused with a message. */
static void test_tmap_specs(void) {
  const char *ptx =
      "// kiln-tmap param=8 arg=0 type=f16 rank=2 swizzle=128 box=64,8 dims=$6;$4 strides=$6,2,*\n"
      "// kiln-tmap param=9 arg=1 type=bf16 rank=2 swizzle=64 box=32,128 dims=$5,1,+;$6 "
      "strides=$5,1,+,2,*\n//\n// Generated by LLVM NVPTX Back-End\n//\n\n.version 8.4\n"
      "// kiln-tmap param=10 arg=2 type=f16 rank=2 swizzle=0 box=8,8 dims=1;1 strides=16\n";
  rt_tmap_spec s[RT_TMAP_MAXSPEC];
  char err[512] = "";
  int n = rt_tmap_specs(ptx, s, RT_TMAP_MAXSPEC, err, sizeof err);
  CHECK(n == 2, "%d maps (past the leading comments nothing counts): %s", n, err);
  CHECK(s[0].param == 8 && s[0].arg == 0 && s[0].type == RT_TMAP_F16 && s[0].rank == 2 &&
        s[0].swizzle == 128);
  CHECK(s[0].box[0] == 64 && s[0].box[1] == 8 && !strcmp(s[0].dims[0], "$6") &&
        !strcmp(s[0].strides[0], "$6 2 *"));
  CHECK(s[1].type == RT_TMAP_BF16 && s[1].swizzle == 64 && !strcmp(s[1].dims[0], "$5 1 +"));
  int64_t args[8] = {0, 0, 0, 0, 100, 72, 200, 0};
  rt_tmap_desc d;
  CHECK(rt_tmap_spec_desc(&s[0], args, 8, 0x1000, &d, err, sizeof err) == 0, "%s", err);
  CHECK(d.gaddr == 0x1000 && d.dims[0] == 200 && d.dims[1] == 100 && d.strides[0] == 400 && d.box[1] == 8);
  CHECK(rt_tmap_spec_desc(&s[1], args, 8, 0x2000, &d, err, sizeof err) == 0, "%s", err);
  CHECK(d.dims[0] == 73 && d.dims[1] == 200 && d.strides[0] == 146);
  CHECK(rt_tmap_check(&d, err, sizeof err) == -1); /* 146-byte rows: the driver's rule */
  CHECK_CONTAINS(err, "stride of dimension 1 is 146 bytes");
  args[6] = -5;
  CHECK(rt_tmap_spec_desc(&s[0], args, 8, 0x1000, &d, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "tensor map of argument 0: dimension 0 is -5");
  CHECK(rt_tmap_spec_desc(&s[0], args, 4, 0x1000, &d, err, sizeof err) == -1); /* $6 past 4 arguments */
  CHECK_CONTAINS(err, "out of range");
  static const char *bad[] = {
      "kiln-tmap param=8 arg=0 type=f17 rank=2 swizzle=128 box=64,8 dims=$6;$4 strides=$6\n",
      "kiln-tmap param=8 arg=0 type=f16 rank=2 swizzle=96 box=64,8 dims=$6;$4 strides=$6\n",
      "kiln-tmap param=8 arg=0 type=f16 rank=2 swizzle=128 box=64,300 dims=$6;$4 strides=$6\n",
      "kiln-tmap param=8 arg=0 type=f16 rank=2 swizzle=128 box=64,8 dims=$6 strides=$6\n",
      "kiln-tmap param=8 type=f16 rank=2 swizzle=128 box=64,8 dims=$6;$4 strides=$6\n",
      "kiln-tmap param=8 arg=0 type=f16 rank=2 swizzle=128 box=64,8 dims=$6;$4 strides=$6 extra\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECK(rt_tmap_specs(bad[i], s, RT_TMAP_MAXSPEC, err, sizeof err) == -1, "accepted: %s", bad[i]);
    CHECK_CONTAINS(err, "malformed tensor-map line");
  }
  /* a slice given by coordinates (attention's K: dims D, Sk, Hkv, B; strides row, head, batch) */
  const char *four =
      "// kiln-tmap param=24 arg=1 type=f16 rank=4 swizzle=128 box=64,128,1,1 dims=64;$3;$2;$1 "
      "strides=$5,2,*;$4,2,*;$6,2,*\n";
  CHECK(rt_tmap_specs(four, s, RT_TMAP_MAXSPEC, err, sizeof err) == 1, "%s", err);
  CHECK(s[0].rank == 4 && s[0].box[2] == 1 && s[0].box[3] == 1 && !strcmp(s[0].dims[3], "$1") &&
        !strcmp(s[0].strides[2], "$6 2 *"));
  int64_t a4[8] = {0, 3, 2, 300, 64, 128, 76800, 0}; /* B 3, Hkv 2, Sk 300, bshd: head 64, row 128 */
  CHECK(rt_tmap_spec_desc(&s[0], a4, 8, 0x4000, &d, err, sizeof err) == 0, "%s", err);
  CHECK(d.rank == 4 && d.dims[0] == 64 && d.dims[1] == 300 && d.dims[2] == 2 && d.dims[3] == 3 &&
        d.strides[0] == 256 && d.strides[1] == 128 && d.strides[2] == 153600);
  CHECK(rt_tmap_check(&d, err, sizeof err) == 0, "%s", err); /* a head stride below the row's is fine */
  char many[4096] = "";
  for (int i = 0; i < RT_TMAP_MAXSPEC + 1; i++)
    strcat(many, "kiln-tmap param=8 arg=0 type=u8 rank=1 swizzle=0 box=16 dims=$1 strides=\n");
  CHECK(rt_tmap_specs(many, s, RT_TMAP_MAXSPEC, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "more than 8 tensor maps");
}

int main(void) {
  test_tmap_specs();
  test_tensormap_encode();
  test_tensormap_rules_agree();
  test_no_driver();
  test_load_errors();
  test_device();
  test_memory();
  test_kernels();
  test_launch();
  test_real_gpu();
  test_kiln_on_fake();
  return test_done("test_runtime");
}

#endif
