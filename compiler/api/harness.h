/*
 * harness.h - host-side helpers for checking kernels against references: element conversions,
 * random fill, poison, comparison with a tolerance, and picking the target row for a device.
 * Used by `kiln run`, the tests and the benchmarks; no LLVM, Lua or CUDA dependency.
 *
 * Element storage on the host is what kernels see in global memory: i1/i8/u8/e4m3/e5m2 one byte,
 * i16/f16/bf16 two, i32/u32/f32 four, i64/f64 eight, little-endian.
 *
 * Conversions from double round to nearest, ties to even, in one step (never through f32). f16 and
 * bf16 overflow to infinity as IEEE does; e4m3 (OCP FN: no infinity, max 448) and e5m2 (max 57344)
 * saturate to their largest finite value, as PTX's cvt.rn.satfinite does. NaN stays NaN. (The
 * conversions themselves are ir/elem_float.h's.)
 *
 * Comparison (docs/runtime.md): for every element,
 *     err_i = |got_i - ref_i| / max(|ref_i|, floor),  floor = max(min normal of the type, rms(ref))
 * so large elements are judged relative to themselves and elements near zero (cancellation) relative
 * to the output's typical magnitude. An output passes when every err_i <= tol; a NaN where the
 * reference is a number fails and names its index (an element the kernel never wrote keeps its NaN
 * poison).
 */
#ifndef KILN_HARNESS_H
#define KILN_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "../../ir/ir.h"
#include "../../target/target.h"

/* ---- random numbers (splitmix64: one 64-bit state, every seed valid) ---- */

typedef struct {
  uint64_t s;
} harness_rng;

void harness_seed(harness_rng *r, uint64_t seed);
uint64_t harness_next(harness_rng *r);
double harness_uniform(harness_rng *r); /* [-1, 1) */

/* ---- elements ---- */

size_t harness_elem_size(ir_elem e);
double harness_get(const void *buf, ir_elem e, size_t i);
void harness_set(void *buf, ir_elem e, size_t i, double v); /* rounds (floats) or rounds and clamps (ints) */
double harness_round(ir_elem e, double v);                  /* v as the element type holds it */
double harness_min_normal(ir_elem e);                       /* 1 for integer types */

/* ---- tensors ---- */

/* Fresh random values: floats uniform in [-1, 1) rounded to the type; i1 {0,1}; i8 [-8, 8]; u8 [0, 15];
 * i16/i32/i64 [-64, 64]; u32 all 32 bits random (u32 tensors carry packed bit planes). */
void harness_fill(void *buf, ir_elem e, size_t n, harness_rng *r);
/* Every byte 0xFF: a NaN in every float type (f16, bf16, f32, f64, e4m3, e5m2); -1 or the maximum
 * for integers. */
void harness_poison(void *buf, ir_elem e, size_t n);
/* A host buffer of at least `bytes` (1 for 0), 64-byte aligned (free with free): the simulator runs
 * kernels on host buffers, and a kernel compiled for aligned arguments (driver_specialize) needs
 * its tensors 16-byte aligned, as the GPU's allocations are. NULL when out of memory. */
void *harness_alloc(size_t bytes);
void harness_to_double(const void *buf, ir_elem e, size_t n, double *out);
void harness_from_double(void *buf, ir_elem e, size_t n, const double *in);

/* ---- comparison ---- */

typedef struct {
  size_t n;
  double floor;   /* max(min normal, rms(ref)) */
  double max_abs; /* max |got - ref| */
  double max_rel; /* max err_i */
  size_t worst;   /* index of max_rel */
  double worst_got, worst_ref;
  size_t nan_at;     /* first NaN where the reference is a number; HARNESS_NONE if none */
  size_t over;       /* elements with err_i > tol */
  size_t first_over; /* HARNESS_NONE if none */
} harness_cmp;

#define HARNESS_NONE ((size_t)-1)

/* Returns 0 if the output passes, -1 if not; fills c either way. */
int harness_compare(const void *got, ir_elem e, const double *ref, size_t n, double tol, harness_cmp *c);

/* The error budget of an element type (docs/runtime.md): 0 for integers (exact). */
double harness_tolerance(ir_elem e);
/* Unit roundoff of a float type: 2^-11 for f16, 2^-8 bf16, 2^-24 f32, 2^-53 f64, 2^-4 e4m3, 2^-3
 * e5m2; 0 for integers. */
double harness_unit_roundoff(ir_elem e);

/* ---- the vs_lowp criterion (FlashAttention's): the kernel against a plain low-precision computation ----
 *
 * lowp is the reference computed in the input type (include/kiln_ref.h). The output passes when
 *     |got_i - ref_i| <= factor * max|lowp - ref| + slack_i,   slack_i = 2 u rms(ref) + u |ref_i|
 * for every element (u the output type's unit roundoff: the slack keeps an output that the
 * low-precision reference computes exactly, such as a sum of one term, from failing the kernel on
 * its last bits; u |ref_i| is the element's own rounding to the output type). NaN and infinity
 * count as in harness_compare. */
typedef struct {
  double err;      /* max |got - ref| */
  double lowp_err; /* max |lowp - ref| */
  double slack;    /* slack_i of the element closest to failing */
  double ratio;    /* err / lowp_err (0 when both are 0, infinity when only lowp_err is) */
  double limit;    /* factor * lowp_err + slack */
  size_t worst;    /* index of err, HARNESS_NONE when err is 0 */
} harness_lowp;

/* Returns 0 if the output passes, -1 if not; fills m either way. */
int harness_compare_lowp(const void *got, ir_elem e, const double *ref, const double *lowp, size_t n,
                         double factor, harness_lowp *m);

/* ---- judging one output by a recipe's criterion (kiln run, the tuner) ---- */

typedef struct {
  int vs_lowp;        /* 1: the vs_lowp criterion decides; 0: the relative measure against tol */
  double tol;         /* the relative measure's budget (0 for integers: exact) */
  double factor;      /* vs_lowp's factor */
  const double *lowp; /* the low-precision reference, or NULL when it did not run */
} harness_rule;

typedef struct {
  harness_cmp rel;   /* always */
  harness_lowp lowp; /* when have_lowp */
  int have_lowp;     /* rule->lowp given and the output is a float type */
  int by_lowp;       /* vs_lowp decided (a float output under that criterion) */
  double over;       /* the deciding measure over its limit: rel.max_rel / tol or lowp.err / lowp.limit */
} harness_verdict;

/* Judges one output: the relative measure always, the comparison with the low-precision reference
 * when there is one; vs_lowp decides float outputs when the rule says so (it needs rule->lowp),
 * the relative measure everything else. Returns 0 pass, -1 fail. */
int harness_judge(const void *got, ir_elem e, const double *ref, size_t n, const harness_rule *rule,
                  harness_verdict *v);

/* The type a low-precision reference computes in: the narrowest float type among elems (by unit
 * roundoff); IR_F64 when there is none narrower. */
ir_elem harness_lowp_precision(const ir_elem *elems, int n);
/* harness_round by type name ("f16"): the rounding a reference's low-precision run gets. NaN for an
 * unknown name. */
double harness_round_named(const char *elem, double v);

/* ---- targets ---- */

/* The target row for a device of compute capability sm (major*10+minor): the arch-specific row for
 * exactly that sm (sm_90a, sm_100a, sm_120a) or the row sm_XX, else the nearest lower row without
 * an arch-specific suffix (its PTX JIT-compiles forward). NULL with a message if none fits. */
const tg_target *harness_pick_target(int sm, char *err, size_t errn);

#endif
