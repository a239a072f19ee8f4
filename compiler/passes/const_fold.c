/*
 * const_fold.c - evaluate elementwise ops whose operands are all constants.
 *
 * A constant is a `const` op (a scalar, or a tile holding one value in every element) or a `splat`
 * of one. The folded op is rewritten in place into a `const`, so its result handle and location stay;
 * the operands it no longer uses are left for dce.
 *
 * Values follow the element type exactly:
 *   - integers are held sign- or zero-extended from their width (by the type's signedness; i1 is
 *     0 or 1) and wrap at that width. Division or remainder by zero, signed MIN / -1, shifts by the
 *     width or more, float-to-int casts of NaN or of values out of range, and casts to i1 are left
 *     alone: their results are not defined by the IR, so the device decides.
 *   - f64 and f32 results are the IEEE results, rounded once to the type (f32 add, sub, mul, div and
 *     sqrt computed in double and then rounded are correctly rounded; fma uses fmaf).
 *   - f16 and bf16 fold only where the exact result is representable, so that the folded value is the
 *     one every correct device computes. e4m3/e5m2 arithmetic is never folded.
 *   - exp, exp2, log, log2 and rsqrt are not folded: the device computes them approximately, and a
 *     folded value would disagree with the unfolded kernel. NaN operands of min/max and min/max of
 *     zeros of different signs are left too.
 */
#include <math.h>
#include <string.h>

#include "../../ir/elem_float.h"
#include "pass.h"

typedef struct {
  int64_t i; /* integers: the value, extended from its width */
  double f;  /* floats */
} cval;

/* x truncated to the width of e, then extended by its signedness. */
static int64_t wrap(ir_elem e, uint64_t x) {
  int bits = ir_elem_bits(e);
  if (bits >= 64) return (int64_t)x;
  uint64_t m = (UINT64_C(1) << bits) - 1;
  x &= m;
  if (ir_elem_is_signed(e) && (x >> (bits - 1)) & 1) x |= ~m;
  return (int64_t)x;
}

/* The constant op behind v: v's def if it is a `const`, or the `const` a `splat` defining v reads. */
static ir_opid const_def(ir_func *fn, ir_val v) {
  ir_opid d = ir_v(fn, v)->def;
  if (d && ir_o(fn, d)->code == IR_OP_SPLAT) d = ir_v(fn, ir_o(fn, d)->opnd[0])->def;
  return d && ir_o(fn, d)->code == IR_OP_CONST ? d : 0;
}

/* Reads constant v; returns 0 if v is not a constant, or holds a value its type cannot hold exactly
 * (f16/bf16), or is e4m3/e5m2 (never folded). f32 values are rounded to f32 as the device holds them. */
static int read_const(ir_func *fn, ir_val v, cval *c) {
  ir_opid d = const_def(fn, v);
  ir_attr *a = d ? ir_attr_get(ir_o(fn, d)->attrs, "value") : NULL;
  if (!a || (a->kind != IR_AINT && a->kind != IR_AFLOAT)) return 0;
  ir_elem e = ir_vtype(fn, v).elem;
  double f = a->kind == IR_AFLOAT ? a->f : (double)a->i;
  if (!ir_elem_is_float(e)) {
    c->i = wrap(e, a->kind == IR_AINT ? (uint64_t)a->i : (uint64_t)(int64_t)f);
    return 1;
  }
  c->f = e == IR_F32 ? (double)(float)f : f;
  return e == IR_F32 || e == IR_F64 || ((e == IR_F16 || e == IR_BF16) && ir_float_exact(e, f));
}

/* ---- floats ---- */

/* 1 if s = a + b was computed exactly (the error term of two-sum is zero). */
static int sum_exact(double a, double b, double s) {
  if (!isfinite(s)) return 0;
  double bb = s - a;
  return (a - (s - bb)) + (b - bb) == 0;
}

/* Computes a float op in double; *exact says whether the double result is the exact result. */
static int float_op(int code, double a, double b, double c, double *r, int *exact) {
  *exact = 1;
  switch (code) {
  case IR_OP_ADD:
    *r = a + b;
    *exact = sum_exact(a, b, *r);
    return 1;
  case IR_OP_SUB:
    *r = a - b;
    *exact = sum_exact(a, -b, *r);
    return 1;
  case IR_OP_MUL:
    *r = a * b;
    *exact = isfinite(*r) && fma(a, b, -*r) == 0;
    return 1;
  case IR_OP_DIV:
    *r = a / b;
    *exact = b != 0 && isfinite(*r) && fma(*r, b, -a) == 0;
    return 1;
  case IR_OP_SQRT:
    *r = sqrt(a);
    *exact = a >= 0 && fma(*r, *r, -a) == 0;
    return 1;
  case IR_OP_FMA:
    *r = fma(a, b, c);
    *exact = isfinite(a * b) && fma(a, b, -a * b) == 0 && sum_exact(a * b, c, *r);
    return 1;
  case IR_OP_NEG: *r = -a; return 1;
  case IR_OP_ABS: *r = fabs(a); return 1;
  case IR_OP_MIN:
  case IR_OP_MAX:
    if (isnan(a) || isnan(b) || (a == 0 && b == 0 && signbit(a) != signbit(b))) return 0;
    *r = (code == IR_OP_MIN) == (a < b) ? a : b;
    return 1;
  default: return 0;
  }
}

/* Rounds the double result of op to element type e; 0 if it must not be folded. */
static int round_to(ir_elem e, int code, double a, double b, double c, double *r, int exact) {
  switch (e) {
  case IR_F64: return 1;
  case IR_F32:
    *r = code == IR_OP_FMA ? (double)fmaf((float)a, (float)b, (float)c) : (double)(float)*r;
    return 1;
  case IR_F16:
  case IR_BF16: return exact && ir_float_exact(e, *r);
  default: return 0;
  }
}

static int fold_float(int code, ir_elem e, const cval *x, cval *out) {
  double r;
  int exact;
  if (!float_op(code, x[0].f, x[1].f, x[2].f, &r, &exact)) return 0;
  if (!round_to(e, code, x[0].f, x[1].f, x[2].f, &r, exact)) return 0;
  out->f = r;
  return 1;
}

/* ---- integers ---- */

static uint64_t width_mask(ir_elem e) {
  int bits = ir_elem_bits(e);
  return bits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
}

static int shift_ok(ir_elem e, int64_t n) { return n >= 0 && n < ir_elem_bits(e); }

static int div_ok(ir_elem e, int64_t a, int64_t b) {
  if (b == 0) return 0;
  return !(ir_elem_is_signed(e) && b == -1 && a == wrap(e, UINT64_C(1) << (ir_elem_bits(e) - 1)));
}

static int fold_int(int code, ir_elem e, const cval *x, cval *out) {
  int64_t a = x[0].i, b = x[1].i;
  uint64_t ua = (uint64_t)a, ub = (uint64_t)b, r;
  switch (code) {
  case IR_OP_ADD: r = ua + ub; break;
  case IR_OP_SUB: r = ua - ub; break;
  case IR_OP_MUL: r = ua * ub; break;
  case IR_OP_FMA: r = ua * ub + (uint64_t)x[2].i; break;
  case IR_OP_DIV:
    if (!div_ok(e, a, b)) return 0;
    r = ir_elem_is_signed(e) ? (uint64_t)(a / b) : ua / ub;
    break;
  case IR_OP_REM:
    if (!div_ok(e, a, b)) return 0;
    r = ir_elem_is_signed(e) ? (uint64_t)(a % b) : ua % ub;
    break;
  case IR_OP_MIN: r = (uint64_t)(a < b ? a : b); break; /* unsigned values are held non-negative */
  case IR_OP_MAX: r = (uint64_t)(a > b ? a : b); break;
  case IR_OP_AND: r = ua & ub; break;
  case IR_OP_OR: r = ua | ub; break;
  case IR_OP_XOR: r = ua ^ ub; break;
  case IR_OP_SHL:
    if (!shift_ok(e, b)) return 0;
    r = ua << b;
    break;
  case IR_OP_SHR:
    if (!shift_ok(e, b)) return 0;
    r = ir_elem_is_signed(e) ? (uint64_t)(a >> b) : ua >> b; /* unsigned values are zero-extended */
    break;
  case IR_OP_NEG: r = 0 - ua; break;
  case IR_OP_ABS: r = a < 0 ? 0 - ua : ua; break;
  case IR_OP_NOT: r = ~ua; break;
  case IR_OP_POPC: r = (uint64_t)__builtin_popcountll(ua & width_mask(e)); break;
  default: return 0;
  }
  out->i = wrap(e, r);
  return 1;
}

/* ---- cmp, select, casts ---- */

static int fold_cmp(const char *pred, int is_float, const cval *x, cval *out) {
  double a = is_float ? x[0].f : 0, b = is_float ? x[1].f : 0;
  int lt = is_float ? a < b : x[0].i < x[1].i, eq = is_float ? a == b : x[0].i == x[1].i;
  int gt = is_float ? a > b : x[0].i > x[1].i;
  if (!strcmp(pred, "eq"))
    out->i = eq;
  else if (!strcmp(pred, "ne"))
    out->i = is_float ? lt || gt : !eq; /* ordered: NaN gives false */
  else if (!strcmp(pred, "lt"))
    out->i = lt;
  else if (!strcmp(pred, "le"))
    out->i = lt || eq;
  else if (!strcmp(pred, "gt"))
    out->i = gt;
  else if (!strcmp(pred, "ge"))
    out->i = gt || eq;
  else
    return 0;
  return 1;
}

/* Float to integer: truncation toward zero, only when the result is in the range of `to`. */
static int float_to_int(ir_elem to, double f, cval *out) {
  if (isnan(f)) return 0;
  double t = trunc(f);
  int bits = ir_elem_bits(to);
  double lo = ir_elem_is_signed(to) ? -ldexp(1, bits - 1) : 0;
  double hi = ir_elem_is_signed(to) ? ldexp(1, bits - 1) : ldexp(1, bits); /* exclusive */
  if (t < lo || t >= hi) return 0;
  out->i = (int64_t)t;
  return 1;
}

/* Integer to float: exact conversions round once to `to`; inexact ones only to f64. */
static int int_to_float(ir_elem to, int64_t i, cval *out) {
  double d = (double)i;
  int exact = d < 0x1p63 && (int64_t)d == i;
  if (!exact && to != IR_F64) return 0;
  out->f = to == IR_F32 ? (double)(float)d : d;
  return to == IR_F64 || to == IR_F32 || ((to == IR_F16 || to == IR_BF16) && ir_float_exact(to, d));
}

static int fold_cast(ir_elem from, ir_elem to, const cval *x, cval *out) {
  int ff = ir_elem_is_float(from), tf = ir_elem_is_float(to);
  if (to == IR_I1 || ir_elem_is_fp8(to)) return 0;
  if (!ff && !tf) return out->i = wrap(to, (uint64_t)x->i), 1;
  if (!ff) return int_to_float(to, x->i, out);
  if (!tf) return float_to_int(to, x->f, out);
  out->f = to == IR_F32 ? (double)(float)x->f : x->f;
  return to == IR_F64 || to == IR_F32 || ir_float_exact(to, x->f);
}

/* Bitcast between 32-bit or 64-bit integers and floats. */
static int fold_bitcast(ir_elem from, ir_elem to, const cval *x, cval *out) {
  int bits = ir_elem_bits(from);
  if (bits != ir_elem_bits(to) || (bits != 32 && bits != 64)) return 0;
  uint64_t raw;
  if (!ir_elem_is_float(from))
    raw = (uint64_t)x->i;
  else if (bits == 32) {
    float f = (float)x->f;
    uint32_t u;
    memcpy(&u, &f, 4);
    raw = u;
  } else
    memcpy(&raw, &x->f, 8);
  if (!ir_elem_is_float(to)) return out->i = wrap(to, raw), 1;
  if (bits == 64) return memcpy(&out->f, &raw, 8), 1;
  uint32_t u = (uint32_t)raw;
  float f;
  memcpy(&f, &u, 4);
  out->f = f;
  return 1;
}

/* ---- the pass ---- */

/* Evaluates op if it can be folded; returns 1 and the value in *out. */
static int evaluate(ir_func *fn, ir_op *o, cval *out) {
  cval x[3] = {{0}};
  if (o->nres != 1 || o->nopnd < 1 || o->nopnd > 3) return 0;
  for (uint32_t k = 0; k < o->nopnd; k++)
    if (!read_const(fn, o->opnd[k], &x[k])) return 0;
  ir_elem in = ir_vtype(fn, o->opnd[o->nopnd - 1]).elem, res = ir_vtype(fn, o->res[0]).elem;
  switch (o->code) {
  case IR_OP_CMP: return fold_cmp(ir_attr_s(o->attrs, "pred", ""), ir_elem_is_float(in), x, out);
  case IR_OP_SELECT: *out = x[0].i ? x[1] : x[2]; return 1;
  case IR_OP_CAST: return fold_cast(in, res, x, out);
  case IR_OP_BITCAST: return fold_bitcast(in, res, x, out);
  default: break;
  }
  if (!(ir_opinfo_table[o->code].flags & IR_F_ELEMENTWISE)) return 0;
  return ir_elem_is_float(res) ? fold_float(o->code, res, x, out) : fold_int(o->code, res, x, out);
}

static void fold(ir_func *fn, ir_opid op, void *ctx) {
  cval v = {0};
  ir_op *o = ir_o(fn, op);
  if (o->code == IR_OP_CONST || !evaluate(fn, o, &v)) return;
  o->code = IR_OP_CONST;
  o->nopnd = 0;
  o->attrs = NULL;
  if (ir_elem_is_float(ir_vtype(fn, o->res[0]).elem))
    ir_op_set_f(fn, op, "value", v.f);
  else
    ir_op_set_i(fn, op, "value", v.i);
  (*(int *)ctx)++;
}

/*
 * pass_const_fold:
 *   1. Walk every op in program order (regions included); operands are defined before their uses,
 *      so a chain of constant ops folds in one walk.
 *   2. For an op whose operands are all constants (const, or splat of const), evaluate it by the
 *      semantics of its element type (see the top of this file); skip what cannot be folded exactly.
 *   3. Rewrite the op in place into `const {value}` of its own result type.
 */
int pass_const_fold(ir_func *fn, pass_ctx *pc) {
  int nfolded = 0;
  ir_walk(fn, fn->body, fold, &nfolded);
  return 0;
}
