/*
 * lower_align.c - what the lowering can prove about an address or an integer before the kernel runs:
 * the number of its low bits known to be zero, from the kernel's `aligned`, `aligned8` and `aligned4`
 * attributes (docs/ir.md: the parameters a launch promises are multiples of 16, 8 or 4, pointers by
 * their address to 16 bytes) and the arithmetic that builds the value from them. A run-time alignment
 * test that it proves true is dropped with the code for the other outcome: a copying loop then gets
 * one version (lower_control.c), a copy one path (lower_memory.c).
 *
 * The walk follows the LLVM values the lowering has built so far (constants, parameters, integer
 * arithmetic, casts, pointer arithmetic, selects); anything else (a phi, a load, a special register)
 * proves nothing. Wrapping arithmetic keeps low bits, so overflow changes no answer.
 */
#include "cg.h"

enum { MAXDEPTH = 24 };

static int imin(int a, int b) { return a < b ? a : b; }

/* log2 of the largest power of two dividing a byte size of a GEP's element type; 0 if unknown */
static int type_tz(LLVMTypeRef t) {
  int bytes = 0;
  switch (LLVMGetTypeKind(t)) {
  case LLVMHalfTypeKind:
  case LLVMBFloatTypeKind: bytes = 2; break;
  case LLVMFloatTypeKind: bytes = 4; break;
  case LLVMDoubleTypeKind: bytes = 8; break;
  case LLVMIntegerTypeKind: bytes = (int)LLVMGetIntTypeWidth(t) / 8; break;
  default: return 0;
  }
  return bytes > 0 ? __builtin_ctz((unsigned)bytes) : 0;
}

/* the width in bits of an integer value, 64 for pointers and others */
static int width(LLVMValueRef v) {
  LLVMTypeRef t = LLVMTypeOf(v);
  return LLVMGetTypeKind(t) == LLVMIntegerTypeKind ? (int)LLVMGetIntTypeWidth(t) : 64;
}

static int const_int(LLVMValueRef v, int64_t *out) {
  if (!LLVMIsAConstantInt(v) || width(v) > 64) return 0;
  *out = LLVMConstIntGetSExtValue(v);
  return 1;
}

static int tz(cg_lower *L, LLVMValueRef v, int depth) {
  int64_t c;
  if (const_int(v, &c)) return c ? __builtin_ctzll((unsigned long long)c) : width(v);
  if (depth > MAXDEPTH) return 0;
  if (LLVMIsAArgument(v)) {
    unsigned n = LLVMCountParams(L->c.fn);
    for (unsigned i = 0; i < n && i < 63; i++)
      if (LLVMGetParam(L->c.fn, i) == v) {
        for (int k = 0; k < IR_NPROMISE; k++) /* the strongest promise first */
          if ((ir_attr_i(L->fn->attrs, ir_promises[k].attr, 0) >> i) & 1) {
            L->align_visit |= (uint64_t)1 << i;
            return ir_promises[k].bits;
          }
        return 0;
      }
    return 0;
  }
  if (!LLVMIsAInstruction(v)) return 0;
  LLVMValueRef a = LLVMGetNumOperands(v) > 0 ? LLVMGetOperand(v, 0) : NULL;
  LLVMValueRef b = LLVMGetNumOperands(v) > 1 ? LLVMGetOperand(v, 1) : NULL;
  switch (LLVMGetInstructionOpcode(v)) {
  case LLVMAdd:
  case LLVMSub:
  case LLVMOr:
  case LLVMXor: return imin(tz(L, a, depth + 1), tz(L, b, depth + 1));
  case LLVMAnd: {
    int x = tz(L, a, depth + 1), y = tz(L, b, depth + 1);
    return x > y ? x : y;
  }
  case LLVMMul: return imin(tz(L, a, depth + 1) + tz(L, b, depth + 1), width(v));
  case LLVMShl:
    return const_int(b, &c) && c >= 0 && c < 64 ? imin(tz(L, a, depth + 1) + (int)c, width(v)) : 0;
  case LLVMLShr:
  case LLVMAShr: {
    int x = tz(L, a, depth + 1);
    return const_int(b, &c) && c >= 0 && c < 64 && x > c ? x - (int)c : 0;
  }
  case LLVMZExt:
  case LLVMSExt:
  case LLVMPtrToInt:
  case LLVMIntToPtr:
  case LLVMAddrSpaceCast:
  case LLVMBitCast:
  case LLVMFreeze:
  case LLVMTrunc: return imin(tz(L, a, depth + 1), width(v));
  case LLVMSelect: return imin(tz(L, b, depth + 1), tz(L, LLVMGetOperand(v, 2), depth + 1));
  case LLVMGetElementPtr: {
    if (LLVMGetNumOperands(v) != 2) return 0; /* one index over a scalar element */
    int e = type_tz(LLVMGetGEPSourceElementType(v));
    return imin(tz(L, a, depth + 1), tz(L, b, depth + 1) + e);
  }
  default: return 0;
  }
}

/* 1 when the i1 `t` holds in every run: a constant true, an `and` of such, or `(x & m) == 0` where
 * m's set bits lie below the bits of x known to be zero. */
static int proven(cg_lower *L, LLVMValueRef t) {
  int64_t c;
  if (const_int(t, &c)) return c != 0;
  if (!LLVMIsAInstruction(t)) return 0;
  LLVMOpcode op = LLVMGetInstructionOpcode(t);
  if (op == LLVMAnd) return proven(L, LLVMGetOperand(t, 0)) && proven(L, LLVMGetOperand(t, 1));
  if (op != LLVMICmp || LLVMGetICmpPredicate(t) != LLVMIntEQ) return 0;
  LLVMValueRef x = LLVMGetOperand(t, 0), zero = LLVMGetOperand(t, 1);
  if (!const_int(zero, &c) || c != 0 || !LLVMIsAInstruction(x) || LLVMGetInstructionOpcode(x) != LLVMAnd)
    return 0;
  int64_t m;
  LLVMValueRef y = LLVMGetOperand(x, 0);
  if (!const_int(LLVMGetOperand(x, 1), &m) || m < 0) return 0;
  int need = m ? 64 - __builtin_clzll((unsigned long long)m) : 0; /* bits up to m's highest */
  return tz(L, y, 0) >= need;
}

/* The promised parameters (`aligned`, `aligned8`, `aligned4`) a proof that holds has read are the ones the
 * code relies on (cg_result.aligned_used): reading more facts can only prove more, so a mask that keeps these
 * gives the same proofs. */
int cg_proven(cg_lower *L, LLVMValueRef t) {
  L->align_visit = 0;
  int ok = proven(L, t);
  if (ok) L->aligned_used |= L->align_visit;
  return ok;
}
