/*
 * lower_dot.c - dot: acc + a . b on FMAs, where the target has no matrix instruction for it
 * (lower_mma.c has the tensor-core lowering: f32, tf32 and f64 inputs, i8 on sm_75 come here).
 *
 * Steps:
 *   1. Check the (input type, precision) pair against the target: bf16 inputs need bf16, fp8 inputs
 *      fp8 conversions, precision b1_and the b1 AND-popcount instruction, so that a recipe gets the
 *      same answer here as it will from the tensor-core lowering.
 *   2. Stage a [M,K] and b [K,N] row-major in the scratch area (one writer per element); barrier.
 *      a's rows are padded to an odd number of 4-byte words (8-byte for 8-byte elements): in step 3
 *      the lanes of a warp read one k of several rows at once, which an even pitch of 32 words or
 *      more puts in one bank.
 *   3. Each thread loops over k (an LLVM loop, not unrolled): it loads a[m][k] for each of its rows
 *      and b[k][n] for each of its columns, converts them to the compute type (f32, f64 for f64, i32
 *      for integers) and updates its accumulators (fma; multiply-add; for b1_and popc(a & b)).
 *   4. A barrier frees the scratch; the accumulators convert to the result type.
 */
#include <string.h>

#include "cg.h"

typedef struct {
  ir_elem ea, eb, er, ct; /* a, b, result and compute element types */
  int b1;                 /* precision b1_and */
  uint32_t m, n, k;
  uint32_t ka; /* a's row pitch in the scratch, in elements (k, padded) */
} dot_shape;

/* k elements of eb bytes, padded to an odd number of max(4, eb)-byte units (when they are whole
 * units). */
static uint32_t padded_pitch(uint32_t k, int eb) {
  uint32_t unit = eb > 4 ? (uint32_t)eb : 4, bytes = k * (uint32_t)eb;
  if (bytes % unit || (bytes / unit) % 2) return k;
  return k + unit / (uint32_t)eb;
}

/* Step 1. */
static dot_shape check_dot(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type ta = ir_vtype(L->fn, o->opnd[0]), tb = ir_vtype(L->fn, o->opnd[1]), tr = ir_vtype(L->fn, o->res[0]);
  if (ta.rank != 2 || tb.rank != 2 || tr.rank != 2 || ta.shape[1] != tb.shape[0] ||
      ta.shape[0] != tr.shape[0] || tb.shape[1] != tr.shape[1])
    cg_fail(L, op, "op 'dot': operand shapes do not form [M,K] x [K,N] -> [M,N]");
  dot_shape s = {ta.elem, tb.elem, tr.elem, IR_F32, 0, ta.shape[0], tb.shape[1], ta.shape[1], 0};
  s.ka = padded_pitch(s.k, ir_elem_bytes(s.ea));
  const char *prec = ir_attr_s(o->attrs, "precision", "ieee");
  if (!strcmp(prec, "b1_and")) {
    cg_require(L, op, TG_F_MMA_B1_AND);
    if (s.ea != IR_U32 || s.eb != IR_U32 || s.er != IR_I32)
      cg_fail(L, op, "op 'dot' with precision b1_and takes u32 x u32 (packed bits) and an i32 accumulator");
    s.b1 = 1;
  } else if (strcmp(prec, "ieee") && strcmp(prec, "tf32")) {
    cg_fail(L, op, "op 'dot': unknown precision '%s' (ieee tf32 b1_and)", prec);
  }
  if (s.ea == IR_BF16 || s.eb == IR_BF16) cg_require(L, op, TG_F_BF16);
  if (ir_elem_is_fp8(s.ea) || ir_elem_is_fp8(s.eb)) cg_require(L, op, TG_F_FP8_CVT);
  if (!ir_elem_is_float(s.er))
    s.ct = s.er == IR_I64 ? IR_I64 : IR_I32;
  else if (s.er == IR_F64)
    s.ct = IR_F64;
  return s;
}

static LLVMValueRef shared_at(cg_lower *L, ir_elem e, LLVMValueRef base, LLVMValueRef idx) {
  LLVMTypeRef ty = cg_elem_type(L, e);
  return L->c.ops->load(&L->c, CG_SHARED, ty, LLVMBuildGEP2(L->c.b, ty, base, &idx, 1, ""), NULL, NULL);
}

static LLVMValueRef update(cg_lower *L, const dot_shape *s, LLVMValueRef acc, LLVMValueRef a,
                           LLVMValueRef b) {
  LLVMBuilderRef B = L->c.b;
  if (s->b1) {
    LLVMValueRef x = LLVMBuildAnd(B, a, b, "");
    return LLVMBuildAdd(B, acc, cg_call(L, "llvm.ctpop.i32", LLVMTypeOf(x), &x, 1), "");
  }
  if (!ir_elem_is_float(s->ct)) return LLVMBuildAdd(B, acc, LLVMBuildMul(B, a, b, ""), "");
  LLVMValueRef args[3] = {a, b, acc};
  return cg_call(L, s->ct == IR_F64 ? "llvm.fma.f64" : "llvm.fma.f32", LLVMTypeOf(acc), args, 3);
}

/* Step 3: the k loop over this thread's accumulators (yr's elements); acc is updated in place. */
static void k_loop(cg_lower *L, const dot_shape *s, const cg_lay *yr, LLVMValueRef sa, LLVMValueRef sb,
                   LLVMValueRef *acc) {
  LLVMBuilderRef B = L->c.b;
  const cg_thread_lay *t = cg_lay_thread(L, yr);
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(B), loop = cg_block(L, "dot.k"), exit = cg_block(L, "dot.end");
  LLVMBuildBr(B, loop);
  LLVMPositionBuilderAtEnd(B, loop);
  LLVMValueRef k = LLVMBuildPhi(B, LLVMInt32TypeInContext(L->c.ctx), "k");
  LLVMValueRef zero = cg_i32(L, 0);
  LLVMAddIncoming(k, &zero, &pre, 1);
  LLVMValueRef *phi = ir_alloc(L->A, yr->n * sizeof *phi);
  for (uint32_t i = 0; i < yr->n; i++) {
    phi[i] = LLVMBuildPhi(B, LLVMTypeOf(acc[i]), "");
    LLVMAddIncoming(phi[i], &acc[i], &pre, 1);
  }
  LLVMValueRef *av = ir_alloc(L->A, yr->per[0] * sizeof *av), *bv = ir_alloc(L->A, yr->per[1] * sizeof *bv);
  /* a[m][k] = pa[const_m * K] with pa = &a[off_m][k]; b[k][n] = pb[const_n] with pb = &b[k][off_n] */
  LLVMValueRef ia = LLVMBuildAdd(B, LLVMBuildMul(B, t->off[0], cg_i32(L, s->ka), ""), k, "");
  LLVMValueRef ib = LLVMBuildAdd(B, LLVMBuildMul(B, k, cg_i32(L, s->n), ""), t->off[1], "");
  LLVMValueRef pa = LLVMBuildGEP2(B, cg_elem_type(L, s->ea), sa, &ia, 1, "");
  LLVMValueRef pb = LLVMBuildGEP2(B, cg_elem_type(L, s->eb), sb, &ib, 1, "");
  for (uint32_t e = 0; e < yr->per[0]; e++)
    av[e] = cg_convert(L, shared_at(L, s->ea, pa, cg_i32(L, cg_lay_const(yr, 0, e) * s->ka)), s->ea,
                       s->b1 ? IR_U32 : s->ct);
  /* b: a thread's run of consecutive columns as one access of up to 16 bytes. For the GPU LLVM's
   * load/store vectoriser already merged the scalar loads (the same SASS: f32 matmul on sm_80, 10
   * LDS.128 either way); the simulator runs each access as written, so its profile now counts the
   * accesses the GPU makes (f32 matmul 256^3: 282624 shared wavefronts with 102400 conflicts ->
   * 184320 with 4096) */
  int ebb = ir_elem_bytes(s->eb);
  uint32_t wb = ebb == 1 || ebb == 2 || ebb == 4 ? cg_wide_elems(yr, 1, ebb) : 1;
  LLVMValueRef *raw = ir_alloc(L->A, yr->per[1] * sizeof *raw);
  for (uint32_t e = 0; e < yr->per[1]; e += wb) {
    LLVMValueRef c = cg_i32(L, cg_lay_const(yr, 1, e));
    cg_shared_group(L, s->eb, wb, LLVMBuildGEP2(B, cg_elem_type(L, s->eb), pb, &c, 1, ""), &raw[e], 1, 0,
                    NULL);
  }
  for (uint32_t e = 0; e < yr->per[1]; e++) bv[e] = cg_convert(L, raw[e], s->eb, s->b1 ? IR_U32 : s->ct);
  uint32_t e[IR_MAXRANK];
  for (uint32_t i = 0; i < yr->n; i++) {
    cg_lay_multi(yr, i, e);
    acc[i] = update(L, s, phi[i], av[e[0]], bv[e[1]]);
  }
  LLVMValueRef next = LLVMBuildAdd(B, k, cg_i32(L, 1), "k.next");
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(B);
  LLVMAddIncoming(k, &next, &latch, 1);
  for (uint32_t i = 0; i < yr->n; i++) LLVMAddIncoming(phi[i], &acc[i], &latch, 1);
  LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntULT, next, cg_i32(L, s->k), ""), loop, exit);
  LLVMPositionBuilderAtEnd(B, exit);
}

void cg_lower_dot(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  dot_shape s = check_dot(L, op);
  if (cg_lower_dot_wgmma(L, op)) return; /* warpgroup MMA on sm_90a (lower_dot_wgmma.c) */
  if (cg_lower_dot_mma(L, op)) return;   /* the target's matrix instruction (lower_mma.c) */
  cg_lay ya, yb, yr;
  cg_lay_init(&ya, ir_vtype(L->fn, o->opnd[0]));
  cg_lay_init(&yb, ir_vtype(L->fn, o->opnd[1]));
  cg_lay_init(&yr, ir_vtype(L->fn, o->res[0]));
  cg_value *acc_in = cg_get(L, o->opnd[2]);
  if (acc_in->n != yr.n) cg_fail(L, op, "op 'dot': the accumulator's layout differs from the result's");
  /* step 2 */
  int abytes = (int)(s.m * s.ka) * ir_elem_bytes(s.ea);
  int boff = (abytes + 15) & ~15;
  LLVMValueRef sa = cg_scratch(L, boff + (int)(s.k * s.n) * ir_elem_bytes(s.eb));
  LLVMValueRef off = cg_i32(L, boff);
  LLVMValueRef sb = LLVMBuildGEP2(L->c.b, LLVMInt8TypeInContext(L->c.ctx), sa, &off, 1, "");
  uint32_t amem[2] = {s.m, s.ka};
  cg_tile_to_buffer(L, &ya, s.ea, cg_get(L, o->opnd[0])->v, sa, amem);
  cg_tile_to_shared(L, &yb, s.eb, cg_get(L, o->opnd[1])->v, sb);
  L->c.ops->barrier(&L->c);
  /* step 3 */
  LLVMValueRef *acc = ir_alloc(L->A, yr.n * sizeof *acc);
  for (uint32_t i = 0; i < yr.n; i++) acc[i] = cg_convert(L, acc_in->v[i], s.er, s.ct);
  k_loop(L, &s, &yr, sa, sb, acc);
  /* step 4 */
  L->c.ops->barrier(&L->c);
  LLVMValueRef *out = cg_def(L, o->res[0], yr.n);
  for (uint32_t i = 0; i < yr.n; i++) out[i] = cg_convert(L, acc[i], s.ct, s.er);
}
