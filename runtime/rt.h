/*
 * rt.h - kiln's runtime: the CUDA driver loaded with dlopen, device memory, PTX modules, launches,
 * event timing, and the on-disk kernel cache. No LLVM, Lua or CUDA header dependency.
 *
 * Kernel cache (cache.c), the part compiler/driver.c uses:
 *
 *   rt_cache_key rt_cache_key_make(const char *ir_text, const char *target, const char *options,
 *                                  const char *llvm_version, const char *kiln_version);
 *   char *rt_cache_get(rt_cache_key key);            malloc'd entry text, or NULL (miss, corrupt, short)
 *   int   rt_cache_put(rt_cache_key key, const char *text);   0, or -1 (best effort)
 *
 *   The key is a 128-bit FNV-1a hash over the five strings, each preceded by its length, so that no
 *   two different tuples hash the same byte stream. Entries live in $KILN_CACHE_DIR, else
 *   $XDG_CACHE_HOME/kiln, else ~/.cache/kiln, one file per key, written to a temporary file and
 *   rename()d into place so that concurrent writers never leave a torn entry. Each entry carries a
 *   header with the key, the payload length and a checksum; an entry that fails any check is a miss.
 *   Only regular files are read (a FIFO or symlink under an entry's name is a miss); entries get mode
 *   0666 less the umask. A put (at most one every 10 s per folder) removes temporary files older than
 *   an hour and, while the entries exceed $KILN_CACHE_MAX_MB (default 512) MiB, the least recently
 *   used ones (a hit counts as a use).
 *
 * Driver (cuda.c, device.c): every call returns 0, or -1 with a one-line message naming the driver
 * call and the driver's own message ("cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX: ...").
 * The driver is loaded on first use from $KILN_CUDA_LIB, else libcuda.so.1.
 */
#ifndef KILN_RT_H
#define KILN_RT_H

#include <stddef.h>
#include <stdint.h>

/* ---- kernel cache ---- */

typedef struct {
  uint64_t hi, lo;
} rt_cache_key;

rt_cache_key rt_cache_key_make(const char *ir_text, const char *target, const char *options,
                               const char *llvm_version, const char *kiln_version);
char *rt_cache_get(rt_cache_key key);
int rt_cache_put(rt_cache_key key, const char *text);

void rt_cache_key_hex(rt_cache_key key, char out[33]); /* 32 lowercase hex digits + NUL */
/* The cache directory (not created). Returns 0, or -1 if no variable gives one (no HOME). */
int rt_cache_dir(char *buf, size_t n);
/* The size cap in bytes from $KILN_CACHE_MAX_MB (whole MiB, 1 to 1048576; unset or empty: 512).
 * Returns 0, or -1 with a message naming the variable and its value. rt_cache_put writes nothing
 * while the value is invalid. */
int rt_cache_max_bytes(uint64_t *out, char *err, size_t errn);

/* The hash behind the key: 128-bit FNV-1a, continued from h (start from rt_fnv128_init()). */
rt_cache_key rt_fnv128_init(void);
rt_cache_key rt_fnv128(rt_cache_key h, const void *data, size_t n);

/* ---- the driver ---- */

/* Loads the driver and calls cuInit once per process. 0, or -1 with "no CUDA driver (PATH: why)" or
 * the failing call. Every function below calls it first. */
int rt_driver_load(char *err, size_t errn);

/* For tests: resolve driver entry points through f instead of dlopen/dlsym. f returns NULL for a
 * symbol it does not have. Resets any driver loaded before; f = NULL goes back to libcuda. */
typedef void *(*rt_resolve_fn)(const char *symbol, void *ctx);
void rt_driver_override(rt_resolve_fn f, void *ctx);

/* ---- devices ---- */

typedef struct rt_device rt_device;

/* Opens device `ordinal` and makes its primary context current on the calling thread. */
int rt_device_open(int ordinal, rt_device **out, char *err, size_t errn);
void rt_device_close(rt_device *d);
/* Makes d's primary context current on the calling thread (a launch from a thread other than the
 * one that opened d needs it). */
int rt_device_bind(rt_device *d, char *err, size_t errn);
const char *rt_device_name(const rt_device *d);
int rt_device_sm(const rt_device *d);         /* major*10 + minor: 90 for sm_90 */
int rt_device_smem_optin(const rt_device *d); /* shared bytes per block with the opt-in */
int rt_device_count(const rt_device *d);      /* multiprocessors */

/* The preferred target spelling for a device's sm: 90 -> "sm_90a", 100 -> "sm_100a",
 * 120 -> "sm_120a", else "sm_XX". (The caller falls back to the nearest lower row it knows.) */
void rt_sm_target_name(int sm, char *buf, size_t n);

/* The row among names[0..n-1] ("sm_80", "sm_90a") whose code runs on a device of compute capability sm:
 * the preferred spelling (rt_sm_target_name) if present, else the highest plain row (no 'a' suffix:
 * arch-specific code runs only on its own sm; plain PTX compiles forward) at or below sm. -1 if none.
 * `kiln run` and the pack loader both pick with it. */
int rt_pick_target(int sm, const char *const *names, int n);
/* The compute capability a target name spells ("sm_90a": 90); -1 if it is not sm_DIGITS[a|f]. */
int rt_target_sm(const char *name);

/* ---- device memory ---- */

typedef uint64_t rt_dptr;

int rt_mem_alloc(rt_device *d, size_t bytes, rt_dptr *out, char *err, size_t errn);
void rt_mem_free(rt_device *d, rt_dptr p);
int rt_mem_upload(rt_device *d, rt_dptr dst, const void *src, size_t bytes, char *err, size_t errn);
int rt_mem_download(rt_device *d, void *dst, rt_dptr src, size_t bytes, char *err, size_t errn);
int rt_mem_set8(rt_device *d, rt_dptr dst, unsigned char v, size_t bytes, char *err, size_t errn);

/* ---- kernels ---- */

typedef struct rt_kernel rt_kernel;

/* JIT-loads PTX, finds kernel `name`, and opts in to shared_bytes of dynamic shared memory when that
 * is above the 48 KiB default. A JIT failure's message carries the JIT error log. */
int rt_kernel_load(rt_device *d, const char *ptx, const char *name, int shared_bytes, rt_kernel **out,
                   char *err, size_t errn);
void rt_kernel_free(rt_kernel *k);

/* params[i] points at the value of kernel argument i (an rt_dptr for buffers), as cuLaunchKernel wants. */
int rt_launch(rt_kernel *k, const int64_t grid[3], int threads, int shared_bytes, void **params, char *err,
              size_t errn);
/* rt_launch on a caller's stream (a CUstream; NULL: the legacy default stream). */
int rt_launch_on(rt_kernel *k, const int64_t grid[3], int threads, int shared_bytes, void **params,
                 void *stream, char *err, size_t errn);
/* Launches reps times between two events and waits; *ms receives the mean milliseconds per launch. */
int rt_launch_timed(rt_kernel *k, const int64_t grid[3], int threads, int shared_bytes, void **params,
                    int reps, double *ms, char *err, size_t errn);
int rt_synchronize(rt_device *d, char *err, size_t errn);

/* ---- tensor maps (tensormap.c): the operand of Hopper's bulk tensor copies ---- */

typedef enum {
  RT_TMAP_U8,
  RT_TMAP_U16,
  RT_TMAP_U32,
  RT_TMAP_I32,
  RT_TMAP_U64,
  RT_TMAP_I64,
  RT_TMAP_F16,
  RT_TMAP_F32,
  RT_TMAP_F64,
  RT_TMAP_BF16,
  RT_TMAP_NTYPES
} rt_tmap_type; /* the driver's CUtensorMapDataType values, in its order */

enum { RT_TMAP_BYTES = 128, RT_TMAP_MAXDIM = 5 };

/* A tiled view of a tensor in device memory: what cuTensorMapEncodeTiled takes. Dimension 0 is the
 * innermost (contiguous); strides[i] is the byte distance between consecutive indices of dimension
 * i + 1; the box is the tile one copy moves; swizzle is 0, 32, 64 or 128 (bytes); oob_nan asks for NaN
 * instead of zero in out-of-bounds float elements. */
typedef struct {
  rt_tmap_type type;
  int rank; /* 1..5 */
  rt_dptr gaddr;
  uint64_t dims[RT_TMAP_MAXDIM];
  uint64_t strides[RT_TMAP_MAXDIM - 1];
  uint32_t box[RT_TMAP_MAXDIM];
  uint32_t elem_strides[RT_TMAP_MAXDIM]; /* 0 is read as 1 */
  int swizzle;
  int oob_nan;
} rt_tmap_desc;

/* Bytes per element of a type (0 for none). */
int rt_tmap_elem_bytes(rt_tmap_type t);
/* Checks d by the rules the driver documents, so that a bad map is an error naming the field before
 * any driver call. 0, or -1 with "tensor map: ...". */
int rt_tmap_check(const rt_tmap_desc *d, char *err, size_t errn);
/* Checks d and asks the driver for the 128-byte map (map: RT_TMAP_BYTES, 64-byte aligned). The map is
 * passed to a kernel by value, as a `.param .align 64 .b8 [128]` parameter: params[i] points at it. */
int rt_tmap_encode(const rt_tmap_desc *d, void *map, char *err, size_t errn);
/* ---- the tensor maps a compiled kernel takes (codegen's "kiln-tmap" lines, docs/hopper.md) ---- */

enum { RT_TMAP_EXPR = 256, RT_TMAP_MAXSPEC = 8 };

/* Parameter `param` of the kernel is a map of argument `arg` (a tensor): its element type, rank,
 * swizzle and box, its dims and byte strides as postfix expressions of the arguments' integer values
 * ($i: argument i; pack_expr.c's tokens, space-separated). */
typedef struct {
  int param, arg;
  rt_tmap_type type;
  int rank, swizzle;
  uint32_t box[RT_TMAP_MAXDIM];
  char dims[RT_TMAP_MAXDIM][RT_TMAP_EXPR];
  char strides[RT_TMAP_MAXDIM - 1][RT_TMAP_EXPR];
} rt_tmap_spec;

/* A type's name in the kiln-tmap lines (u8 i32 f16 f32 bf16), NULL for the others. */
const char *rt_tmap_type_name(rt_tmap_type t);
/* The "kiln-tmap ..." lines of text (codegen's list, or the PTX's comment lines "// kiln-tmap ...")
 * into out[0..max). Returns how many, or -1 with a message (a malformed line, too many). */
int rt_tmap_specs(const char *text, rt_tmap_spec *out, int max, char *err, size_t errn);
/* The map description of spec s for the arguments' integer values (args[0..nargs): scalars' values;
 * a tensor's entry is not read) and the tensor's address: dims and strides evaluated, the rest copied.
 * 0, or -1 with a message naming the expression. */
int rt_tmap_spec_desc(const rt_tmap_spec *s, const int64_t *args, int nargs, rt_dptr gaddr, rt_tmap_desc *d,
                      char *err, size_t errn);

/* cuda.c: the driver call itself (dtype, swizzle in the driver's codes; no interleave, L2 128 B). */
int rt_cu_tensor_map_encode(void *map, int dtype, unsigned rank, void *gaddr, const uint64_t *dims,
                            const uint64_t *strides, const uint32_t *box, const uint32_t *elem_strides,
                            int swizzle, int oob_nan, char *err, size_t errn);

#endif
