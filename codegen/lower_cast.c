/*
 * lower_cast.c - cast and bitcast, and the conversions every other lowering uses (cg_convert).
 *
 * Numeric conversions follow docs/ir.md: float -> int truncates toward zero, int -> int widens by the
 * source's signedness, float -> float rounds to nearest even, anything -> i1 tests != 0.
 *
 * fp8 (e4m3, e5m2) is i8 storage converted in plain LLVM IR on every target, so that the simulator
 * and the GPU agree bit for bit:
 *   decode: the sign, exponent and mantissa fields rebuilt as an f32 (subnormals as mantissa * 2^-k,
 *           e4m3's S.1111.111 and e5m2's exponent 31 as NaN/inf);
 *   encode: round to nearest even on the f32 bits, saturating to the largest finite value like PTX's
 *           cvt.rn.satfinite (NaN stays NaN); values below the smallest normal round through the
 *           float-add trick (x * 2^k + 2^23 leaves the rounded integer in the low bits).
 * Other types reach fp8 through f32. On constants the builder folds all of it.
 * Where the target has fp8 conversions (sm_89+), a cast converts a thread's elements two at a time
 * through the device ops fp8x2_decode / fp8x2_encode (devops.h): one cvt.rn.f16x2.e4m3x2 or
 * cvt.rn.satfinite.e4m3x2.f32 per pair on the GPU, where the field arithmetic above is 10 to 15
 * instructions per element; the simulator's ops are two of the conversions above, so it runs the same
 * pairing. Both round the same way (the decode is exact); only a NaN's sign and payload may differ.
 */
#include <string.h>

#include "cg.h"

typedef struct {
  int mbits, bias;
  uint32_t maxcode; /* largest finite magnitude code */
  int has_inf;
} fp8_format;

static const fp8_format e4m3 = {3, 7, 0x7e, 0};
static const fp8_format e5m2 = {2, 15, 0x7b, 1};

static LLVMValueRef u32c(cg_ctx *L, uint32_t v) { return LLVMConstInt(LLVMInt32TypeInContext(L->ctx), v, 0); }
static LLVMValueRef f32c(cg_ctx *L, double v) { return LLVMConstReal(LLVMFloatTypeInContext(L->ctx), v); }
static LLVMValueRef as_f32(cg_ctx *L, LLVMValueRef bits) {
  return LLVMBuildBitCast(L->b, bits, LLVMFloatTypeInContext(L->ctx), "");
}

/* i8 fp8 -> f32 */
static LLVMValueRef fp8_decode(cg_ctx *L, LLVMValueRef x, const fp8_format *f) {
  LLVMBuilderRef B = L->b;
  LLVMValueRef u = LLVMBuildZExt(B, x, LLVMInt32TypeInContext(L->ctx), "");
  LLVMValueRef sign = LLVMBuildShl(B, LLVMBuildAnd(B, u, u32c(L, 0x80), ""), u32c(L, 24), "");
  LLVMValueRef em = LLVMBuildAnd(B, u, u32c(L, 0x7f), "");
  LLVMValueRef exp = LLVMBuildLShr(B, em, u32c(L, f->mbits), "");
  LLVMValueRef man = LLVMBuildAnd(B, em, u32c(L, (1u << f->mbits) - 1), "");
  /* normal: rebias the exponent, widen the mantissa */
  LLVMValueRef nbits = LLVMBuildAdd(B, LLVMBuildShl(B, em, u32c(L, 23 - f->mbits), ""),
                                    u32c(L, (uint32_t)(127 - f->bias) << 23), "");
  LLVMValueRef normal = as_f32(L, LLVMBuildOr(B, nbits, sign, ""));
  /* subnormal: mantissa * 2^(1 - bias - mbits) */
  LLVMValueRef sub = LLVMBuildFMul(B, LLVMBuildUIToFP(B, man, LLVMFloatTypeInContext(L->ctx), ""),
                                   f32c(L, 1.0 / (double)(1u << (f->bias - 1 + f->mbits))), "");
  sub = as_f32(L, LLVMBuildOr(B, LLVMBuildBitCast(B, sub, LLVMInt32TypeInContext(L->ctx), ""), sign, ""));
  uint32_t emax = f->has_inf ? (0x7fu >> f->mbits) : 0x7f;
  LLVMValueRef top = f->has_inf ? exp : em; /* e5m2: exponent all ones; e4m3: every bit */
  LLVMValueRef special = LLVMBuildICmp(B, LLVMIntEQ, top, u32c(L, emax), "");
  LLVMValueRef nan = as_f32(L, LLVMBuildOr(B, sign, u32c(L, 0x7fc00000), ""));
  LLVMValueRef inf = as_f32(L, LLVMBuildOr(B, sign, u32c(L, 0x7f800000), ""));
  LLVMValueRef spec =
      f->has_inf ? LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, man, u32c(L, 0), ""), inf, nan, "") : nan;
  LLVMValueRef r = LLVMBuildSelect(B, special, spec, normal, "");
  return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, exp, u32c(L, 0), ""), sub, r, "");
}

/* f32 -> i8 fp8, round to nearest even, saturating to the largest finite value. */
static LLVMValueRef fp8_encode(cg_ctx *L, LLVMValueRef x, const fp8_format *f) {
  LLVMBuilderRef B = L->b;
  LLVMTypeRef i32 = LLVMInt32TypeInContext(L->ctx);
  LLVMValueRef bits = LLVMBuildBitCast(B, x, i32, "");
  LLVMValueRef sign = LLVMBuildAnd(B, LLVMBuildLShr(B, bits, u32c(L, 24), ""), u32c(L, 0x80), "");
  LLVMValueRef a = LLVMBuildAnd(B, bits, u32c(L, 0x7fffffff), "");
  int sh = 23 - f->mbits;
  /* normal range: round the mantissa to mbits (the carry may bump the exponent), rebias */
  LLVMValueRef odd = LLVMBuildAnd(B, LLVMBuildLShr(B, a, u32c(L, sh), ""), u32c(L, 1), "");
  LLVMValueRef r = LLVMBuildAdd(B, LLVMBuildAdd(B, a, u32c(L, (1u << (sh - 1)) - 1), ""), odd, "");
  r = LLVMBuildSub(B, LLVMBuildLShr(B, r, u32c(L, sh), ""), u32c(L, (uint32_t)(127 - f->bias) << f->mbits),
                   "");
  /* below the smallest normal 2^(1-bias): scale to units of the last place and round by adding 2^23 */
  LLVMValueRef scaled = LLVMBuildFMul(B, as_f32(L, a), f32c(L, (double)(1u << (f->bias - 1 + f->mbits))), "");
  LLVMValueRef sub =
      LLVMBuildSub(B, LLVMBuildBitCast(B, LLVMBuildFAdd(B, scaled, f32c(L, 8388608.0), ""), i32, ""),
                   u32c(L, 0x4b000000), "");
  LLVMValueRef tiny = LLVMBuildICmp(B, LLVMIntULT, a, u32c(L, (uint32_t)(128 - f->bias) << 23), "");
  LLVMValueRef code = LLVMBuildSelect(B, tiny, sub, r, "");
  LLVMValueRef big = LLVMBuildICmp(B, LLVMIntUGT, code, u32c(L, f->maxcode), "");
  code = LLVMBuildSelect(B, big, u32c(L, f->maxcode), code, "");
  LLVMValueRef isnan = LLVMBuildICmp(B, LLVMIntUGT, a, u32c(L, 0x7f800000), "");
  code = LLVMBuildSelect(B, isnan, u32c(L, 0x7f), code, "");
  return LLVMBuildTrunc(B, LLVMBuildOr(B, code, sign, ""), LLVMInt8TypeInContext(L->ctx), "");
}

static const fp8_format *fp8_of(ir_elem e) { return e == IR_E4M3 ? &e4m3 : e == IR_E5M2 ? &e5m2 : NULL; }

LLVMValueRef cg_fp8_decode(cg_ctx *c, LLVMValueRef x, ir_elem e) { return fp8_decode(c, x, fp8_of(e)); }
LLVMValueRef cg_fp8_encode(cg_ctx *c, LLVMValueRef x, ir_elem e) { return fp8_encode(c, x, fp8_of(e)); }

/* Conversions between non-fp8 types. */
static LLVMValueRef convert_plain(cg_lower *L, LLVMValueRef v, ir_elem from, ir_elem to) {
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef ty = cg_elem_type(L, to);
  int ff = ir_elem_is_float(from), tf = ir_elem_is_float(to);
  int fb = ir_elem_bits(from), tb = ir_elem_bits(to);
  if (to == IR_I1) {
    if (ff) return LLVMBuildFCmp(B, LLVMRealUNE, v, LLVMConstReal(LLVMTypeOf(v), 0), "");
    return LLVMBuildICmp(B, LLVMIntNE, v, LLVMConstInt(LLVMTypeOf(v), 0, 0), "");
  }
  if (!ff && !tf) {
    if (fb == tb) return v;
    if (fb > tb) return LLVMBuildTrunc(B, v, ty, "");
    return ir_elem_is_signed(from) ? LLVMBuildSExt(B, v, ty, "") : LLVMBuildZExt(B, v, ty, "");
  }
  if (!ff) return ir_elem_is_signed(from) ? LLVMBuildSIToFP(B, v, ty, "") : LLVMBuildUIToFP(B, v, ty, "");
  if (!tf) return ir_elem_is_signed(to) ? LLVMBuildFPToSI(B, v, ty, "") : LLVMBuildFPToUI(B, v, ty, "");
  if (fb == tb) /* f16 <-> bf16 */
    return LLVMBuildFPTrunc(B, LLVMBuildFPExt(B, v, LLVMFloatTypeInContext(L->c.ctx), ""), ty, "");
  return fb < tb ? LLVMBuildFPExt(B, v, ty, "") : LLVMBuildFPTrunc(B, v, ty, "");
}

LLVMValueRef cg_convert(cg_lower *L, LLVMValueRef v, ir_elem from, ir_elem to) {
  if (from == to) return v;
  const fp8_format *ff = fp8_of(from), *tf = fp8_of(to);
  if (ff) {
    v = fp8_decode(&L->c, v, ff);
    from = IR_F32;
    if (from == to) return v;
  }
  if (tf) return fp8_encode(&L->c, convert_plain(L, v, from, IR_F32), tf);
  return convert_plain(L, v, from, to);
}

/* A thread's fp8 elements two at a time through the target's paired conversions (devops.h:
 * fp8x2_decode, fp8x2_encode): decoded to f16 (exact) and on from there, or converted to f32 and
 * encoded. Any two elements may share an instruction; an odd last one goes with itself. */
static void cast_fp8_pairs(cg_lower *L, cg_value *x, ir_elem from, ir_elem to, LLVMValueRef *out) {
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i16 = LLVMInt16TypeInContext(L->c.ctx), i8 = LLVMInt8TypeInContext(L->c.ctx);
  LLVMValueRef eight = LLVMConstInt(i16, 8, 0);
  LLVMValueRef *mid = out;
  ir_elem at = from;
  if (fp8_of(from)) {
    for (uint32_t i = 0; i < x->n; i += 2) {
      LLVMValueRef hi = x->v[i + 1 < x->n ? i + 1 : i];
      if (LLVMIsConstant(x->v[i]) && LLVMIsConstant(hi)) { /* the builder folds these */
        for (uint32_t j = 0; j < 2 && i + j < x->n; j++)
          mid[i + j] = cg_convert(L, x->v[i + j], from, IR_F16);
        continue;
      }
      LLVMValueRef pair = LLVMBuildOr(B, LLVMBuildZExt(B, x->v[i], i16, ""),
                                      LLVMBuildShl(B, LLVMBuildZExt(B, hi, i16, ""), eight, ""), "");
      LLVMValueRef h = L->c.ops->fp8x2_decode(&L->c, pair, from);
      for (uint32_t j = 0; j < 2 && i + j < x->n; j++)
        mid[i + j] = LLVMBuildExtractElement(B, h, LLVMConstInt(LLVMInt32TypeInContext(L->c.ctx), j, 0), "");
    }
    at = IR_F16;
  } else
    memcpy(mid, x->v, x->n * sizeof *mid);
  if (!fp8_of(to)) {
    for (uint32_t i = 0; i < x->n; i++) out[i] = cg_convert(L, mid[i], at, to);
    return;
  }
  for (uint32_t i = 0; i < x->n; i += 2) {
    LLVMValueRef a = cg_convert(L, mid[i], at, IR_F32);
    LLVMValueRef b = i + 1 < x->n ? cg_convert(L, mid[i + 1], at, IR_F32) : a;
    LLVMValueRef pair = L->c.ops->fp8x2_encode(&L->c, a, b, to);
    out[i] = LLVMBuildTrunc(B, pair, i8, "");
    if (i + 1 < x->n) out[i + 1] = LLVMBuildTrunc(B, LLVMBuildLShr(B, pair, eight, ""), i8, "");
  }
}

void cg_lower_cast(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_elem from = ir_vtype(L->fn, o->opnd[0]).elem, to = ir_vtype(L->fn, o->res[0]).elem;
  cg_value *x = cg_get(L, o->opnd[0]);
  LLVMValueRef *out = cg_def(L, o->res[0], x->n);
  if (from != to && (fp8_of(from) || fp8_of(to)) && (L->c.target->features & TG_F_FP8_CVT) &&
      L->c.ops->fp8x2_decode) {
    cast_fp8_pairs(L, x, from, to, out);
    return;
  }
  for (uint32_t i = 0; i < x->n; i++) out[i] = cg_convert(L, x->v[i], from, to);
}

/* bitsplit: the layout pass gives the result the operand's layout split along axis (ir.h), so a
 * thread holds the parts of its own elements: result element e (multi-index) is part e[axis] % f of
 * operand element e with e[axis] / f (cg_lay indices: e[axis] counts the thread's elements along
 * axis, f times as many in the result). */
void cg_lower_bitsplit(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type tx = ir_vtype(L->fn, o->opnd[0]), tr = ir_vtype(L->fn, o->res[0]);
  int axis = (int)ir_attr_i(o->attrs, "axis", 0), xb = ir_elem_bits(tx.elem), rb = ir_elem_bits(tr.elem);
  uint32_t f = (uint32_t)(xb / rb), e[IR_MAXRANK];
  ir_type tw = tr;
  cg_lay yx, yr, yw;
  cg_lay_init(&yx, tx);
  cg_lay_init(&yr, tr);
  int ok = ir_layout_split(tx.layout, axis, (int)f, &tw.layout);
  if (ok) cg_lay_init(&yw, tw);
  if (!ok || !cg_lay_same(&yw, &yr) || yr.n != yx.n * f)
    cg_fail(L, op, "op 'bitsplit': the result's layout is not the operand's split along axis %d", axis);
  cg_value *x = cg_get(L, o->opnd[0]);
  LLVMValueRef *out = cg_def(L, o->res[0], yr.n);
  LLVMTypeRef wide = LLVMIntTypeInContext(L->c.ctx, (unsigned)xb),
              narrow = LLVMIntTypeInContext(L->c.ctx, (unsigned)rb);
  LLVMTypeRef ty = cg_elem_type(L, tr.elem);
  for (uint32_t i = 0; i < yr.n; i++) {
    cg_lay_multi(&yr, i, e);
    uint32_t part = e[axis] % f;
    e[axis] /= f;
    LLVMValueRef w = LLVMBuildBitCast(L->c.b, x->v[cg_lay_index(&yx, e)], wide, "");
    if (part)
      w = LLVMBuildLShr(L->c.b, w, LLVMConstInt(wide, (unsigned long long)part * (unsigned)rb, 0), "");
    out[i] = LLVMBuildBitCast(L->c.b, LLVMBuildTrunc(L->c.b, w, narrow, ""), ty, "");
  }
}

void cg_lower_bitcast(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_elem from = ir_vtype(L->fn, o->opnd[0]).elem, to = ir_vtype(L->fn, o->res[0]).elem;
  if (ir_elem_bits(from) != ir_elem_bits(to))
    cg_fail(L, op, "op 'bitcast': %s and %s differ in width", ir_elem_name(from), ir_elem_name(to));
  cg_value *x = cg_get(L, o->opnd[0]);
  LLVMValueRef *out = cg_def(L, o->res[0], x->n);
  LLVMTypeRef ty = cg_elem_type(L, to);
  for (uint32_t i = 0; i < x->n; i++) out[i] = LLVMBuildBitCast(L->c.b, x->v[i], ty, "");
}
