/*
 * harness.c - random fill, poison, host conversions of the narrow float types, comparison against
 * a double reference, and the device-to-target-row rule. Contracts in harness.h.
 *
 * The narrow float conversions are ir/elem_float.c's, shared with the simulator and constant folding.
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ir/elem_float.h"
#include "../../runtime/rt.h"

/* ---- random numbers ---- */

void harness_seed(harness_rng *r, uint64_t seed) { r->s = seed; }

uint64_t harness_next(harness_rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double harness_uniform(harness_rng *r) { return (double)(harness_next(r) >> 11) * 0x1p-52 - 1.0; }

/* ---- elements ---- */

size_t harness_elem_size(ir_elem e) { return (size_t)ir_elem_bytes(e); }

/* One element of any kiln type, as memory holds it. */
typedef union {
  int8_t i8;
  uint8_t u8;
  int16_t i16;
  uint16_t u16;
  int32_t i32;
  uint32_t u32;
  int64_t i64;
  float f32;
  double f64;
} harness_word;

double harness_get(const void *buf, ir_elem e, size_t i) {
  const unsigned char *p = (const unsigned char *)buf + i * harness_elem_size(e);
  harness_word u;
  memcpy(&u, p, harness_elem_size(e));
  switch (e) {
  case IR_I1: return u.u8 != 0;
  case IR_I8: return u.i8;
  case IR_U8: return u.u8;
  case IR_I16: return u.i16;
  case IR_I32: return u.i32;
  case IR_U32: return u.u32;
  case IR_I64: return (double)u.i64;
  case IR_F16: return ir_f16_to_double(u.u16);
  case IR_BF16: return ir_bf16_to_double(u.u16);
  case IR_F32: return u.f32;
  case IR_F64: return u.f64;
  case IR_E4M3: return ir_e4m3_to_double(u.u8);
  case IR_E5M2: return ir_e5m2_to_double(u.u8);
  default: return NAN;
  }
}

static int64_t clamp_int(double v, double lo, double hi) {
  if (isnan(v)) return 0;
  v = nearbyint(v);
  return (int64_t)(v < lo ? lo : v > hi ? hi : v);
}

void harness_set(void *buf, ir_elem e, size_t i, double v) {
  unsigned char *p = (unsigned char *)buf + i * harness_elem_size(e);
  harness_word u;
  switch (e) {
  case IR_I1: u.u8 = v != 0; break;
  case IR_I8: u.i8 = (int8_t)clamp_int(v, -128, 127); break;
  case IR_U8: u.u8 = (uint8_t)clamp_int(v, 0, 255); break;
  case IR_I16: u.i16 = (int16_t)clamp_int(v, -32768, 32767); break;
  case IR_I32: u.i32 = (int32_t)clamp_int(v, -2147483648.0, 2147483647.0); break;
  case IR_U32: u.u32 = (uint32_t)clamp_int(v, 0, 4294967295.0); break;
  case IR_I64: u.i64 = clamp_int(v, -0x1p63, 0x1p63 - 1024); break;
  case IR_F16: u.u16 = ir_f16_from_double(v); break;
  case IR_BF16: u.u16 = ir_bf16_from_double(v); break;
  case IR_F32: u.f32 = (float)v; break;
  case IR_F64: u.f64 = v; break;
  case IR_E4M3: u.u8 = ir_e4m3_from_double(v); break;
  case IR_E5M2: u.u8 = ir_e5m2_from_double(v); break;
  default: return;
  }
  memcpy(p, &u, harness_elem_size(e));
}

double harness_round(ir_elem e, double v) {
  unsigned char tmp[8];
  harness_set(tmp, e, 0, v);
  return harness_get(tmp, e, 0);
}

double harness_min_normal(ir_elem e) {
  switch (e) {
  case IR_F16: return 0x1p-14;
  case IR_BF16:
  case IR_F32: return 0x1p-126;
  case IR_F64: return 0x1p-1022;
  case IR_E4M3: return 0x1p-6;
  case IR_E5M2: return 0x1p-14;
  default: return 1;
  }
}

/* ---- tensors ---- */

static double random_int(harness_rng *r, int64_t lo, int64_t hi) {
  return (double)(lo + (int64_t)(harness_next(r) % (uint64_t)(hi - lo + 1)));
}

void harness_fill(void *buf, ir_elem e, size_t n, harness_rng *r) {
  for (size_t i = 0; i < n; i++) {
    double v;
    switch (e) {
    case IR_I1: v = random_int(r, 0, 1); break;
    case IR_I8: v = random_int(r, -8, 8); break;
    case IR_U8: v = random_int(r, 0, 15); break;
    case IR_I16:
    case IR_I32:
    case IR_I64: v = random_int(r, -64, 64); break;
    case IR_U32: v = (double)(uint32_t)harness_next(r); break;
    default: v = harness_uniform(r); break;
    }
    harness_set(buf, e, i, v);
  }
}

void harness_poison(void *buf, ir_elem e, size_t n) { memset(buf, 0xff, n * harness_elem_size(e)); }

void harness_to_double(const void *buf, ir_elem e, size_t n, double *out) {
  for (size_t i = 0; i < n; i++) out[i] = harness_get(buf, e, i);
}

void *harness_alloc(size_t bytes) {
  size_t n = bytes ? (bytes + 63) / 64 * 64 : 64;
  return n < bytes ? NULL : aligned_alloc(64, n);
}

void harness_from_double(void *buf, ir_elem e, size_t n, const double *in) {
  for (size_t i = 0; i < n; i++) harness_set(buf, e, i, in[i]);
}

/* ---- comparison ---- */

static double ref_floor(ir_elem e, const double *ref, size_t n) {
  double ss = 0;
  size_t finite = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(ref[i])) ss += ref[i] * ref[i], finite++;
  double rms = finite ? sqrt(ss / (double)finite) : 0;
  double mn = harness_min_normal(e);
  return rms > mn ? rms : mn;
}

/* err_i; a NaN or infinity that the reference does not have is an infinite error. */
static double elem_err(double got, double ref, double floor, double *abs_out) {
  if (isnan(ref) && isnan(got)) return *abs_out = 0, 0;
  if (got == ref) return *abs_out = 0, 0; /* equal infinities too */
  if (isnan(got) || isnan(ref) || isinf(got) || isinf(ref)) return *abs_out = INFINITY, INFINITY;
  double d = fabs(got - ref), a = fabs(ref);
  *abs_out = d;
  return d / (a > floor ? a : floor);
}

int harness_compare(const void *got, ir_elem e, const double *ref, size_t n, double tol, harness_cmp *c) {
  memset(c, 0, sizeof *c);
  c->n = n;
  c->nan_at = c->first_over = c->worst = HARNESS_NONE;
  c->floor = ref_floor(e, ref, n);
  for (size_t i = 0; i < n; i++) {
    double g = harness_get(got, e, i), abs_err;
    double rel = elem_err(g, ref[i], c->floor, &abs_err);
    if (isnan(g) && !isnan(ref[i]) && c->nan_at == HARNESS_NONE) c->nan_at = i;
    if (abs_err > c->max_abs) c->max_abs = abs_err;
    if (c->worst == HARNESS_NONE || rel > c->max_rel) {
      c->max_rel = rel;
      c->worst = i, c->worst_got = g, c->worst_ref = ref[i];
    }
    if (!(rel <= tol)) {
      if (c->first_over == HARNESS_NONE) c->first_over = i;
      c->over++;
    }
  }
  return c->over || c->nan_at != HARNESS_NONE ? -1 : 0;
}

double harness_tolerance(ir_elem e) {
  switch (e) {
  case IR_F64: return 1e-12;
  case IR_F32: return 1e-5;
  case IR_F16: return 2e-3;    /* 4 units of roundoff (2^-11) */
  case IR_BF16: return 1.6e-2; /* 4 units of roundoff (2^-8) */
  case IR_E4M3: return 0.125;  /* 2 units of roundoff (2^-4) */
  case IR_E5M2: return 0.25;   /* 2 units of roundoff (2^-3) */
  default: return 0;           /* integers: exact */
  }
}

double harness_unit_roundoff(ir_elem e) {
  switch (e) {
  case IR_F16: return 0x1p-11;
  case IR_BF16: return 0x1p-8;
  case IR_F32: return 0x1p-24;
  case IR_F64: return 0x1p-53;
  case IR_E4M3: return 0x1p-4;
  case IR_E5M2: return 0x1p-3;
  default: return 0;
  }
}

/* ---- the vs_lowp criterion ---- */

/* |got - ref| with harness_compare's rules: matching NaNs and equal infinities are 0, any other
 * NaN or infinity is infinite. */
static double abs_err(double got, double ref) {
  double a;
  elem_err(got, ref, 1, &a);
  return a;
}

int harness_compare_lowp(const void *got, ir_elem e, const double *ref, const double *lowp, size_t n,
                         double factor, harness_lowp *m) {
  double ss = 0, u = harness_unit_roundoff(e), excess = -INFINITY;
  size_t finite = 0;
  memset(m, 0, sizeof *m);
  m->worst = HARNESS_NONE;
  for (size_t i = 0; i < n; i++) {
    double dl = abs_err(lowp[i], ref[i]);
    if (dl > m->lowp_err) m->lowp_err = dl;
    if (isfinite(ref[i])) ss += ref[i] * ref[i], finite++;
  }
  double base = 2 * u * (finite ? sqrt(ss / (double)finite) : 0), worst_slack = base;
  for (size_t i = 0; i < n; i++) {
    double d = abs_err(harness_get(got, e, i), ref[i]);
    /* + the element's own rounding (half a unit in the last place); one unit where the low-precision
     * reference is exact there: a faithfully rounded result (an approximate exp2 or reciprocal) is
     * then one unit off at most, and the factor times a zero error leaves it nothing */
    double own = isfinite(ref[i]) ? (lowp[i] == ref[i] ? 2 : 1) * u * fabs(ref[i]) : 0;
    double slack = base + own;
    if (d > m->err || (isnan(d) && !isnan(m->err))) m->err = d, m->worst = i;
    if (d - slack > excess || (isnan(d) && !isnan(excess))) excess = d - slack, worst_slack = slack;
  }
  m->slack = worst_slack;
  m->limit = factor * m->lowp_err + m->slack;
  m->ratio = m->err == 0 ? 0 : m->lowp_err > 0 ? m->err / m->lowp_err : INFINITY;
  return isnan(excess) || excess > factor * m->lowp_err ? -1 : 0;
}

static double over_limit(double x, double limit) { return limit > 0 ? x / limit : x > 0 ? INFINITY : 0; }

int harness_judge(const void *got, ir_elem e, const double *ref, size_t n, const harness_rule *rule,
                  harness_verdict *v) {
  memset(v, 0, sizeof *v);
  int bad = harness_compare(got, e, ref, n, rule->tol, &v->rel);
  v->over = over_limit(v->rel.max_rel, rule->tol);
  v->have_lowp = rule->lowp && ir_elem_is_float(e);
  if (!v->have_lowp) return bad;
  int lowp_bad = harness_compare_lowp(got, e, ref, rule->lowp, n, rule->factor, &v->lowp);
  if (!rule->vs_lowp) return bad;
  v->by_lowp = 1;
  v->over = over_limit(v->lowp.err, v->lowp.limit);
  return lowp_bad;
}

ir_elem harness_lowp_precision(const ir_elem *elems, int n) {
  ir_elem p = IR_F64;
  for (int i = 0; i < n; i++)
    if (ir_elem_is_float(elems[i]) && harness_unit_roundoff(elems[i]) > harness_unit_roundoff(p))
      p = elems[i];
  return p;
}

double harness_round_named(const char *elem, double v) {
  int e = elem ? ir_elem_parse(elem, (int)strlen(elem)) : -1;
  return e < 0 ? NAN : harness_round((ir_elem)e, v);
}

/* ---- targets ---- */

const tg_target *harness_pick_target(int sm, char *err, size_t errn) {
  const char *names[64];
  int n = tg_ntargets < 64 ? tg_ntargets : 64;
  for (int i = 0; i < n; i++) names[i] = tg_targets[i].name;
  int best = rt_pick_target(sm, names, n); /* the one rule, shared with the pack loader */
  if (best < 0)
    snprintf(err, errn, "no target row for a device of compute capability %d.%d", sm / 10, sm % 10);
  return best < 0 ? NULL : &tg_targets[best];
}
