/*
 * lower_reduce.c - reduce {axis, kind} and the typed warp shuffle.
 *
 * The result keeps the operand's layout with shape[axis] = 1, so a result element sits in the same
 * thread as the operand elements of its row. Steps:
 *   1. Within the thread: combine the thread's elements along the axis.
 *   2. Within the warp: xor-butterfly over the lane bits of the axis, only over bits whose lanes hold
 *      distinct coordinates (spt * 2^bit < shape; higher bits are replicas of the same data).
 *   3. Across warps (when warps split the axis into distinct parts): one writer per (warp part,
 *      element) stores its partial in the scratch area; after a barrier every thread combines the
 *      parts in warp order, then a barrier frees the scratch.
 * Every thread that holds an element computes it with the same operations in the same order (the
 * butterfly is symmetric), so replicas agree bit for bit. f16/bf16/fp8 accumulate in f32; i1 sums
 * wrap (xor), max/min are or/and.
 */
#include <string.h>

#include "cg.h"

/* Shuffle of any scalar up to 64 bits, through i32 pieces. */
LLVMValueRef cg_shfl_any(cg_lower *L, cg_shfl mode, LLVMValueRef v, LLVMValueRef arg) {
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef ty = LLVMTypeOf(v), i32 = LLVMInt32TypeInContext(L->c.ctx);
  unsigned bits = LLVMGetTypeKind(ty) == LLVMIntegerTypeKind  ? LLVMGetIntTypeWidth(ty)
                  : LLVMGetTypeKind(ty) == LLVMDoubleTypeKind ? 64
                  : LLVMGetTypeKind(ty) == LLVMFloatTypeKind  ? 32
                                                              : 16;
  LLVMTypeRef it = LLVMIntTypeInContext(L->c.ctx, bits);
  LLVMValueRef x = LLVMBuildBitCast(B, v, it, "");
  if (bits == 64) {
    LLVMValueRef lo = LLVMBuildTrunc(B, x, i32, "");
    LLVMValueRef hi = LLVMBuildTrunc(B, LLVMBuildLShr(B, x, LLVMConstInt(it, 32, 0), ""), i32, "");
    lo = LLVMBuildZExt(B, L->c.ops->shfl(&L->c, mode, lo, arg), it, "");
    hi = LLVMBuildZExt(B, L->c.ops->shfl(&L->c, mode, hi, arg), it, "");
    x = LLVMBuildOr(B, lo, LLVMBuildShl(B, hi, LLVMConstInt(it, 32, 0), ""), "");
  } else if (bits < 32) {
    x = LLVMBuildTrunc(B, L->c.ops->shfl(&L->c, mode, LLVMBuildZExt(B, x, i32, ""), arg), it, "");
  } else {
    x = L->c.ops->shfl(&L->c, mode, x, arg);
  }
  return LLVMBuildBitCast(B, x, ty, "");
}

typedef struct {
  ir_opcode combine; /* add, max, min */
  ir_elem elem, acc; /* the tile's element type and the accumulation type */
} reduce_kind;

static LLVMValueRef combine(cg_lower *L, const reduce_kind *k, LLVMValueRef a, LLVMValueRef b) {
  return cg_binary(L, k->combine, k->acc, a, b);
}

/* Step 1. acc[j] for each result element j. */
static void within_thread(cg_lower *L, const reduce_kind *k, const cg_lay *ys, const cg_lay *yr, int axis,
                          LLVMValueRef *src, LLVMValueRef *acc) {
  uint32_t e[IR_MAXRANK];
  for (uint32_t j = 0; j < yr->n; j++) {
    cg_lay_multi(yr, j, e);
    for (uint32_t a = 0; a < ys->per[axis]; a++) {
      e[axis] = a;
      LLVMValueRef x = src[cg_lay_index(ys, e)];
      x = k->elem == IR_I1 ? LLVMBuildZExt(L->c.b, x, cg_elem_type(L, k->acc), "")
                           : cg_convert(L, x, k->elem, k->acc);
      acc[j] = a ? combine(L, k, acc[j], x) : x;
    }
  }
}

/* Step 2. */
static void within_warp(cg_lower *L, const reduce_kind *k, const cg_lay *ys, int axis, LLVMValueRef *acc,
                        uint32_t n) {
  int shift = cg_lay_lane_shift(ys, axis);
  for (int bit = 0; bit < cg_log2(ys->l.tpw[axis]); bit++) {
    if (((uint32_t)ys->l.spt[axis] << bit) >= ys->shape[axis]) break;
    LLVMValueRef mask = cg_i32(L, 1 << (shift + bit));
    for (uint32_t j = 0; j < n; j++)
      acc[j] = combine(L, k, acc[j], cg_shfl_any(L, CG_SHFL_XOR, acc[j], mask));
  }
}

/* Step 3. nparts warps hold distinct parts of the axis. */
static void across_warps(cg_lower *L, const reduce_kind *k, const cg_lay *ys, const cg_lay *yr, int axis,
                         uint32_t nparts, LLVMValueRef *acc) {
  LLVMBuilderRef B = L->c.b;
  uint32_t numel = 1;
  for (int d = 0; d < yr->rank; d++) numel *= yr->shape[d];
  LLVMTypeRef ty = cg_elem_type(L, k->acc);
  LLVMValueRef base = cg_scratch(L, (int)(nparts * numel) * ir_elem_bytes(k->acc));
  LLVMValueRef lane, warp;
  cg_lay_pos(L, ys, axis, &lane, &warp);
  LLVMValueRef few = LLVMBuildICmp(B, LLVMIntULT, warp, cg_i32(L, nparts), ""); /* one at a time */
  LLVMValueRef writer = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntEQ, lane, cg_i32(L, 0), ""), few, "");
  for (int d = 0; d < ys->rank; d++)
    if (d != axis) writer = cg_and_pred(L, writer, cg_lay_owner_dim(L, ys, d));
  writer = cg_and_pred(L, writer, cg_lay_warps_owner(L, ys));
  /* slot (w, j) = w * numel + the row-major index of result element j */
  LLVMValueRef tb = cg_buffer_base(L, yr, yr->shape);
  LLVMValueRef mine = LLVMBuildAdd(B, tb, LLVMBuildMul(B, warp, cg_i32(L, numel), ""), "");
  LLVMValueRef tp = LLVMBuildGEP2(B, ty, base, &mine, 1, ""), rp = LLVMBuildGEP2(B, ty, base, &tb, 1, "");
  for (uint32_t j = 0; j < yr->n; j++) {
    LLVMValueRef c = cg_i32(L, cg_buffer_const(yr, j, yr->shape));
    L->c.ops->store(&L->c, CG_SHARED, LLVMBuildGEP2(B, ty, tp, &c, 1, ""), acc[j], writer);
  }
  L->c.ops->barrier(&L->c);
  for (uint32_t j = 0; j < yr->n; j++)
    for (uint32_t w = 0; w < nparts; w++) {
      LLVMValueRef at = cg_i32(L, w * numel + cg_buffer_const(yr, j, yr->shape));
      LLVMValueRef x = L->c.ops->load(&L->c, CG_SHARED, ty, LLVMBuildGEP2(B, ty, rp, &at, 1, ""), NULL, NULL);
      acc[j] = w ? combine(L, k, acc[j], x) : x;
    }
  L->c.ops->barrier(&L->c);
}

static reduce_kind kind_of(cg_lower *L, ir_opid op, ir_elem e) {
  const char *s = ir_attr_s(L->fn->ops[op].attrs, "kind", "");
  reduce_kind k = {IR_OP_ADD, e, e};
  if (!strcmp(s, "max"))
    k.combine = IR_OP_MAX;
  else if (!strcmp(s, "min"))
    k.combine = IR_OP_MIN;
  else if (strcmp(s, "sum"))
    cg_fail(L, op, "op 'reduce': unknown kind '%s' (sum max min)", s);
  if (e == IR_F16 || e == IR_BF16 || ir_elem_is_fp8(e)) k.acc = IR_F32;
  if (e == IR_I1) k.acc = IR_U32; /* sum: the low bit; max/min: or/and */
  return k;
}

void cg_lower_reduce(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type ts = ir_vtype(L->fn, o->opnd[0]), tr = ir_vtype(L->fn, o->res[0]);
  int axis = (int)ir_attr_i(o->attrs, "axis", -1);
  if (axis < 0 || axis >= ts.rank)
    cg_fail(L, op, "op 'reduce': axis %d is outside the tile's rank %d", axis, ts.rank);
  reduce_kind k = kind_of(L, op, ts.elem);
  cg_lay ys, yr;
  cg_lay_init(&ys, ts);
  cg_lay_init(&yr, tr);
  LLVMValueRef *acc = ir_alloc(L->A, yr.n * sizeof *acc);
  within_thread(L, &k, &ys, &yr, axis, cg_get(L, o->opnd[0])->v, acc);
  within_warp(L, &k, &ys, axis, acc, yr.n);
  uint32_t lanes_span = (uint32_t)ys.l.spt[axis] * ys.l.tpw[axis];
  uint32_t nparts = ts.shape[axis] > lanes_span ? ts.shape[axis] / lanes_span : 1;
  if (nparts > ys.wpc[axis]) nparts = ys.wpc[axis];
  if (nparts > 1) across_warps(L, &k, &ys, &yr, axis, nparts, acc);
  LLVMValueRef *out = cg_def(L, o->res[0], yr.n);
  for (uint32_t j = 0; j < yr.n; j++)
    out[j] = ts.elem == IR_I1 ? LLVMBuildTrunc(L->c.b, acc[j], cg_elem_type(L, IR_I1), "")
                              : cg_convert(L, acc[j], k.acc, ts.elem);
}
