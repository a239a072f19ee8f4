/*
 * kiln_rt.h - the pack loader (libkiln_rt): opens a kiln pack (`kiln pack`, docs/packs.md), checks
 * it, and launches its kernels on a CUDA stream through the driver API. It needs no compiler, no
 * LLVM, no Lua and no CUDA headers: the driver is loaded at run time ($KILN_CUDA_LIB, else
 * libcuda.so.1). docs/packs.md has the file format and a guide.
 *
 * Contracts:
 *   - Every call that can fail returns 0, or -1 with one line in err (at most errn bytes): a pack's
 *     errors begin with its path ("model.kpack: section 3 (image) fails its checksum").
 *   - kiln_pack_open reads and checks the whole file before it returns; a pack that fails any check
 *     gives no handle, and nothing from it reaches the driver.
 *   - A pack handle may be used from several threads: launches serialise on the pack's lock while
 *     they load a module; the launch itself is asynchronous on the caller's stream.
 *   - Strings returned as const char * belong to the pack and live until kiln_pack_close.
 */
#ifndef KILN_RT_PUBLIC_H
#define KILN_RT_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The newest pack format this loader reads; it reads every older one too. */
#define KILN_PACK_FORMAT 2

enum { KILN_PACK_MAXSIZES = 16, KILN_PACK_MAXARGS = 32 };

typedef struct kiln_pack kiln_pack;

/* Reads and checks the pack at path. 0 with *out, or -1 with "PATH: why" and *out = NULL. */
int kiln_pack_open(const char *path, kiln_pack **out, char *err, size_t errn);
void kiln_pack_close(kiln_pack *p);

/* The kiln version that wrote the pack ("0.1.0") and its format version. */
const char *kiln_pack_writer(const kiln_pack *p);
int kiln_pack_format(const kiln_pack *p);
/* Targets the pack was built for, 0 .. count-1 ("sm_80"); NULL past the end. */
int kiln_pack_target_count(const kiln_pack *p);
const char *kiln_pack_target(const kiln_pack *p, int i);

/* Kernels: 0 .. count-1, found by name (-1 if absent). */
int kiln_pack_kernel_count(const kiln_pack *p);
const char *kiln_pack_kernel_name(const kiln_pack *p, int k);
int kiln_pack_kernel_find(const kiln_pack *p, const char *name);
/* Problem sizes: the integers a caller gives at each launch, in this order ("M", "N"). */
int kiln_pack_size_count(const kiln_pack *p, int k);
const char *kiln_pack_size_name(const kiln_pack *p, int k, int i);
/* Shape buckets (variants): each one's tuning settings text and the sizes it was tuned for. */
int kiln_pack_variant_count(const kiln_pack *p, int k);
const char *kiln_pack_variant_settings(const kiln_pack *p, int k, int v);
const int64_t *kiln_pack_variant_bucket(const kiln_pack *p, int k, int v);

enum { KILN_PACK_IN = 1, KILN_PACK_OUT = 2, KILN_PACK_INOUT = 3 };

/* The kernel's arguments in order. Tensors are what the caller passes (device pointers); scalars the
 * loader computes from the sizes. */
typedef struct {
  const char *name;
  int is_tensor;
  const char *type; /* "f32", "f16", "bf16", "i32", ... */
  int elem_bytes;   /* bytes per element (tensors) or of the value (scalars) */
  int role;         /* tensors: KILN_PACK_IN / OUT / INOUT; scalars 0 */
  int rank;         /* tensors: 1 to 3 */
} kiln_pack_arg;
int kiln_pack_arg_count(const kiln_pack *p, int k);
int kiln_pack_tensor_count(const kiln_pack *p, int k);
int kiln_pack_arg_get(const kiln_pack *p, int k, int i, kiln_pack_arg *out);
/* A dimension written as one problem size: that size's index, else -1 (a computed dimension). */
int kiln_pack_dim_size(const kiln_pack *p, int k, int variant, int arg, int d);

/* What a launch with these sizes does: the variant the sizes pick, its grid, threads, dynamic shared
 * bytes, every tensor's shape and every scalar's value; with sm > 0 also the image the device of that
 * compute capability (major*10 + minor) gets. */
typedef struct {
  int variant;
  const char *settings;
  int64_t grid[3];
  int threads, shared_bytes;
  int64_t dims[KILN_PACK_MAXARGS][3]; /* tensors */
  int64_t ival[KILN_PACK_MAXARGS];    /* integer scalars */
  double fval[KILN_PACK_MAXARGS];     /* float scalars */
  const char *target;                 /* sm > 0: the target row of the image chosen */
  int is_cubin;                       /* 1: a cubin for exactly that sm; 0: PTX the driver compiles */
} kiln_pack_plan;
int kiln_pack_plan_get(const kiln_pack *p, int k, const int64_t *sizes, int sm, kiln_pack_plan *out,
                       char *err, size_t errn);

/* Launches kernel k on device `device` (its primary context is made current) on `stream` (a
 * CUstream; NULL: the legacy default stream). tensors[i] is the device address of the i-th tensor
 * argument, in argument order. Returns after the launch is queued. */
int kiln_pack_launch(kiln_pack *p, int k, const int64_t *sizes, const uint64_t *tensors, int ntensors,
                     int device, void *stream, char *err, size_t errn);

#ifdef __cplusplus
}
#endif

#endif
