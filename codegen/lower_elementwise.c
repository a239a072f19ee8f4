/*
 * lower_elementwise.c - constants, splat, iota and the elementwise arithmetic, comparison, select,
 * fma, bit ops and math.
 *
 * An elementwise op on tiles is the same scalar op on each of the thread's elements (the layout pass
 * made all operands agree). f16 and bf16 arithmetic stays in LLVM's half/bfloat types (the backend
 * legalises what the target lacks); their math functions (exp2, log2, ...) are computed in f32. fp8
 * values are i8 storage: every arithmetic op converts them to f32 and back. Integer division guards
 * the divisor so that no input traps (x / 0 is unspecified, never a crash; INT_MIN / -1 wraps).
 */
#include <stdio.h>
#include <string.h>

#include "cg.h"

static const char *float_suffix(ir_elem e) {
  switch (e) {
  case IR_F16: return "f16";
  case IR_BF16: return "bf16";
  case IR_F64: return "f64";
  default: return "f32";
  }
}

static LLVMValueRef call_overloaded(cg_lower *L, const char *base, ir_elem e, LLVMValueRef *args,
                                    unsigned n) {
  char name[64];
  if (ir_elem_is_float(e))
    snprintf(name, sizeof name, "llvm.%s.%s", base, float_suffix(e));
  else
    snprintf(name, sizeof name, "llvm.%s.i%d", base, ir_elem_bits(e));
  return cg_call(L, name, LLVMTypeOf(args[0]), args, n);
}

/* ---- constants ---- */

LLVMValueRef cg_const_elem(cg_lower *L, ir_elem e, ir_attr *a) {
  double f = !a ? 0 : a->kind == IR_AFLOAT ? a->f : (double)a->i;
  if (ir_elem_is_fp8(e)) return cg_convert(L, LLVMConstReal(LLVMFloatTypeInContext(L->c.ctx), f), IR_F32, e);
  if (ir_elem_is_float(e)) return LLVMConstReal(cg_elem_type(L, e), f);
  /* only now: a float out of int64's range (-3e38, a float's -inf stand-in) is UB to convert */
  int64_t i = !a ? 0 : a->kind == IR_AINT ? a->i : (int64_t)a->f;
  if (e == IR_I1) i = i != 0;
  return LLVMConstInt(cg_elem_type(L, e), (unsigned long long)i, ir_elem_is_signed(e));
}

/* Elements per thread of value v's type (1 for scalars). */
static uint32_t count_of(cg_lower *L, ir_val v) {
  ir_type t = ir_vtype(L->fn, v);
  if (t.kind != IR_TTILE) return 1;
  cg_lay y;
  cg_lay_init(&y, t);
  return y.n;
}

void cg_lower_const(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type t = ir_vtype(L->fn, o->res[0]);
  LLVMValueRef c = cg_const_elem(L, t.elem, ir_attr_get(o->attrs, "value"));
  uint32_t n = count_of(L, o->res[0]);
  LLVMValueRef *out = cg_def(L, o->res[0], n);
  for (uint32_t i = 0; i < n; i++) out[i] = c;
}

void cg_lower_splat(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  LLVMValueRef x = cg_get(L, o->opnd[0])->v[0];
  uint32_t n = count_of(L, o->res[0]);
  LLVMValueRef *out = cg_def(L, o->res[0], n);
  for (uint32_t i = 0; i < n; i++) out[i] = x;
}

void cg_lower_iota(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type t = ir_vtype(L->fn, o->res[0]);
  int axis = (int)ir_attr_i(o->attrs, "axis", 0);
  if (axis < 0 || axis >= t.rank)
    cg_fail(L, op, "op 'iota': axis %d is outside the tile's rank %d", axis, t.rank);
  cg_lay y;
  cg_lay_init(&y, t);
  LLVMValueRef *coords = cg_lay_coords(L, &y);
  LLVMValueRef *out = cg_def(L, o->res[0], y.n);
  for (uint32_t i = 0; i < y.n; i++) out[i] = cg_convert(L, coords[i * y.rank + axis], IR_I32, t.elem);
}

/* ---- arithmetic ---- */

/* a / b and a % b on integers without traps: b == 0 divides by 1; signed b == -1 negates. */
static LLVMValueRef int_divrem(cg_lower *L, int rem, int sgn, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef ty = LLVMTypeOf(a);
  LLVMValueRef zero = LLVMConstInt(ty, 0, 0), one = LLVMConstInt(ty, 1, 0);
  LLVMValueRef safe = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, b, zero, ""), one, b, "");
  if (!sgn) return rem ? LLVMBuildURem(B, a, safe, "") : LLVMBuildUDiv(B, a, safe, "");
  LLVMValueRef m1 = LLVMConstAllOnes(ty);
  LLVMValueRef is_m1 = LLVMBuildICmp(B, LLVMIntEQ, safe, m1, "");
  safe = LLVMBuildSelect(B, is_m1, one, safe, "");
  LLVMValueRef r = rem ? LLVMBuildSRem(B, a, safe, "") : LLVMBuildSDiv(B, a, safe, "");
  LLVMValueRef alt = rem ? zero : LLVMBuildNeg(B, a, "");
  return LLVMBuildSelect(B, is_m1, alt, r, "");
}

static LLVMValueRef int_minmax(cg_lower *L, int is_max, int sgn, LLVMValueRef a, LLVMValueRef b) {
  LLVMIntPredicate p = is_max ? (sgn ? LLVMIntSGT : LLVMIntUGT) : (sgn ? LLVMIntSLT : LLVMIntULT);
  return LLVMBuildSelect(L->c.b, LLVMBuildICmp(L->c.b, p, a, b, ""), a, b, "");
}

static LLVMValueRef float_binary(cg_lower *L, ir_opcode code, ir_elem e, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef B = L->c.b;
  LLVMValueRef args[2] = {a, b};
  switch (code) {
  case IR_OP_ADD: return LLVMBuildFAdd(B, a, b, "");
  case IR_OP_SUB: return LLVMBuildFSub(B, a, b, "");
  case IR_OP_MUL: return LLVMBuildFMul(B, a, b, "");
  case IR_OP_DIV: return LLVMBuildFDiv(B, a, b, "");
  case IR_OP_REM: return LLVMBuildFRem(B, a, b, "");
  case IR_OP_MIN: return call_overloaded(L, "minnum", e, args, 2);
  case IR_OP_MAX: return call_overloaded(L, "maxnum", e, args, 2);
  default: return NULL;
  }
}

/* (x & m) | k on 32 bits, m and k constants, as the target's single instruction (devops and_or);
 * NULL if a | b is not of that form. */
static LLVMValueRef and_or(cg_lower *L, LLVMValueRef a, LLVMValueRef b) {
  if (!L->c.ops->and_or || LLVMTypeOf(a) != LLVMInt32TypeInContext(L->c.ctx)) return NULL;
  if (LLVMIsAConstantInt(a)) {
    LLVMValueRef t = a;
    a = b, b = t;
  }
  if (!LLVMIsAConstantInt(b) || !LLVMIsAInstruction(a) || LLVMGetInstructionOpcode(a) != LLVMAnd) return NULL;
  LLVMValueRef x = LLVMGetOperand(a, 0), m = LLVMGetOperand(a, 1);
  if (LLVMIsAConstantInt(x)) {
    LLVMValueRef t = x;
    x = m, m = t;
  }
  return LLVMIsAConstantInt(m) ? L->c.ops->and_or(&L->c, x, m, b) : NULL;
}

static LLVMValueRef int_binary(cg_lower *L, ir_opcode code, ir_elem e, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef B = L->c.b;
  int sgn = ir_elem_is_signed(e);
  switch (code) {
  case IR_OP_ADD: return LLVMBuildAdd(B, a, b, "");
  case IR_OP_SUB: return LLVMBuildSub(B, a, b, "");
  case IR_OP_MUL: return LLVMBuildMul(B, a, b, "");
  case IR_OP_DIV: return int_divrem(L, 0, sgn, a, b);
  case IR_OP_REM: return int_divrem(L, 1, sgn, a, b);
  case IR_OP_MIN: return int_minmax(L, 0, sgn, a, b);
  case IR_OP_MAX: return int_minmax(L, 1, sgn, a, b);
  case IR_OP_AND: return LLVMBuildAnd(B, a, b, "");
  case IR_OP_OR: {
    LLVMValueRef r = and_or(L, a, b);
    return r ? r : LLVMBuildOr(B, a, b, "");
  }
  case IR_OP_XOR: return LLVMBuildXor(B, a, b, "");
  case IR_OP_SHL: return LLVMBuildShl(B, a, b, "");
  case IR_OP_SHR: return sgn ? LLVMBuildAShr(B, a, b, "") : LLVMBuildLShr(B, a, b, "");
  default: return NULL;
  }
}

/* One binary op on scalars of element type e (fp8 through f32). NULL if the op does not apply. */
LLVMValueRef cg_binary(cg_lower *L, ir_opcode code, ir_elem e, LLVMValueRef a, LLVMValueRef b) {
  if (ir_elem_is_fp8(e)) {
    LLVMValueRef fb = cg_convert(L, b, e, IR_F32); /* one at a time: C leaves argument order open */
    LLVMValueRef r = float_binary(L, code, IR_F32, cg_convert(L, a, e, IR_F32), fb);
    return r ? cg_convert(L, r, IR_F32, e) : NULL;
  }
  return ir_elem_is_float(e) ? float_binary(L, code, e, a, b) : int_binary(L, code, e, a, b);
}

static LLVMValueRef compare(cg_lower *L, ir_opid op, ir_elem e, LLVMValueRef a, LLVMValueRef b) {
  static const char *preds[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  static const LLVMRealPredicate fp[] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT,
                                         LLVMRealOLE, LLVMRealOGT, LLVMRealOGE};
  static const LLVMIntPredicate sp[] = {LLVMIntEQ, LLVMIntNE, LLVMIntSLT, LLVMIntSLE, LLVMIntSGT, LLVMIntSGE};
  static const LLVMIntPredicate up[] = {LLVMIntEQ, LLVMIntNE, LLVMIntULT, LLVMIntULE, LLVMIntUGT, LLVMIntUGE};
  const char *p = ir_attr_s(L->fn->ops[op].attrs, "pred", "");
  for (int k = 0; k < 6; k++) {
    if (strcmp(p, preds[k])) continue;
    if (ir_elem_is_fp8(e)) {
      a = cg_convert(L, a, e, IR_F32);
      b = cg_convert(L, b, e, IR_F32);
    }
    if (ir_elem_is_float(e)) return LLVMBuildFCmp(L->c.b, fp[k], a, b, "");
    return LLVMBuildICmp(L->c.b, ir_elem_is_signed(e) ? sp[k] : up[k], a, b, "");
  }
  cg_fail(L, op, "op 'cmp': unknown pred '%s' (eq ne lt le gt ge)", p);
}

static LLVMValueRef math_f32(cg_lower *L, cg_math m, ir_elem e, LLVMValueRef x) {
  if (e == IR_F32 || e == IR_F64) return L->c.ops->math(&L->c, m, x);
  LLVMValueRef r = L->c.ops->math(&L->c, m, cg_convert(L, x, e, IR_F32));
  return cg_convert(L, r, IR_F32, e);
}

static LLVMValueRef unary(cg_lower *L, ir_opid op, ir_elem e, LLVMValueRef x) {
  LLVMBuilderRef B = L->c.b;
  int fl = ir_elem_is_float(e);
  switch ((ir_opcode)L->fn->ops[op].code) {
  case IR_OP_NEG:
    if (ir_elem_is_fp8(e)) return cg_convert(L, LLVMBuildFNeg(B, cg_convert(L, x, e, IR_F32), ""), IR_F32, e);
    return fl ? LLVMBuildFNeg(B, x, "") : LLVMBuildNeg(B, x, "");
  case IR_OP_ABS:
    if (ir_elem_is_fp8(e)) return LLVMBuildAnd(B, x, LLVMConstInt(LLVMTypeOf(x), 0x7f, 0), "");
    if (fl) return call_overloaded(L, "fabs", e, &x, 1);
    if (!ir_elem_is_signed(e)) return x;
    {
      LLVMValueRef neg = LLVMBuildNeg(B, x, ""); /* one at a time: C leaves argument order open */
      return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, x, LLVMConstInt(LLVMTypeOf(x), 0, 0), ""), neg,
                             x, "");
    }
  case IR_OP_NOT:
    if (fl) break;
    return LLVMBuildNot(B, x, "");
  case IR_OP_POPC:
    if (fl) break;
    return call_overloaded(L, "ctpop", e, &x, 1);
  case IR_OP_EXP: return fl ? math_f32(L, CG_EXP, e, x) : NULL;
  case IR_OP_EXP2: return fl ? math_f32(L, CG_EXP2, e, x) : NULL;
  case IR_OP_LOG: return fl ? math_f32(L, CG_LOG, e, x) : NULL;
  case IR_OP_LOG2: return fl ? math_f32(L, CG_LOG2, e, x) : NULL;
  case IR_OP_SQRT: return fl ? math_f32(L, CG_SQRT, e, x) : NULL;
  case IR_OP_RSQRT: return fl ? math_f32(L, CG_RSQRT, e, x) : NULL;
  default: break;
  }
  return NULL;
}

static LLVMValueRef fma3(cg_lower *L, ir_elem e, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  if (ir_elem_is_fp8(e)) {
    LLVMValueRef args[3]; /* one at a time: C leaves the order of initialisers open */
    args[0] = cg_convert(L, a, e, IR_F32);
    args[1] = cg_convert(L, b, e, IR_F32);
    args[2] = cg_convert(L, c, e, IR_F32);
    return cg_convert(L, call_overloaded(L, "fma", IR_F32, args, 3), IR_F32, e);
  }
  if (!ir_elem_is_float(e)) return LLVMBuildAdd(L->c.b, LLVMBuildMul(L->c.b, a, b, ""), c, "");
  LLVMValueRef args[3] = {a, b, c};
  return call_overloaded(L, "fma", e, args, 3);
}

/* One element of an elementwise op; x holds the operands' values for that element. */
static LLVMValueRef element(cg_lower *L, ir_opid op, ir_elem e, LLVMValueRef *x) {
  ir_opcode code = (ir_opcode)L->fn->ops[op].code;
  switch (code) {
  case IR_OP_CMP: return compare(L, op, e, x[0], x[1]);
  case IR_OP_SELECT: return LLVMBuildSelect(L->c.b, x[0], x[1], x[2], "");
  case IR_OP_FMA: return fma3(L, e, x[0], x[1], x[2]);
  default: break;
  }
  if (ir_opinfo_table[code].nopnd == 2) return cg_binary(L, code, e, x[0], x[1]);
  return unary(L, op, e, x[0]);
}

void cg_lower_elementwise(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  uint32_t nop = o->nopnd;
  /* the element type the op computes in: select's is its second operand's */
  ir_elem e = ir_vtype(L->fn, o->opnd[o->code == IR_OP_SELECT ? 1 : 0]).elem;
  cg_value *in[3];
  for (uint32_t k = 0; k < nop && k < 3; k++) in[k] = cg_get(L, o->opnd[k]);
  uint32_t n = in[0]->n;
  LLVMValueRef *out = cg_def(L, o->res[0], n);
  for (uint32_t i = 0; i < n; i++) {
    LLVMValueRef x[3];
    for (uint32_t k = 0; k < nop && k < 3; k++) x[k] = in[k]->v[i];
    out[i] = element(L, op, e, x);
    if (!out[i])
      cg_fail(L, op, "op '%s' does not apply to element type %s", ir_opinfo_table[o->code].name,
              ir_elem_name(e));
  }
}
