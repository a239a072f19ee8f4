/*
 * lower_dot_wgmma.c - dot {wgmma = 1} on sm_90a: warpgroup MMA (wgmma.mma_async m64nNk16, m64nNk32
 * for 8-bit inputs) reading both operands straight from their shared buffers through matrix
 * descriptors.
 *
 * The `wgmma` pass (compiler/passes/wgmma_plan.c) chose the dot and laid out its buffers: A [M,K]
 * with M = 64 per warpgroup, rows of K (K-major); B [N,K] read transposed (K-major) or B [K,N] read
 * as stored (N-major: the instruction's transposed-B form, 16-bit inputs only); rows of 32, 64 or
 * 128 bytes with the matching swizzle, or 128-byte panels of wider rows; A's 8-row groups in the
 * order the warpgroups read them (smem_swizzle.c). The operands' load_shared ops load nothing.
 *
 * A may instead be a tile in registers (attention's P, 16-bit inputs): the pass marks no load for
 * it, the layout pass gives it mma_a<[warps,1]>, and each k16 step passes the thread's four
 * registers of A (wgmma's register form: warp v's 16 rows are the rows its mma_a layout holds, so
 * the row order agrees with the accumulator's by the same correspondence as A's buffer order).
 *
 * Steps:
 *   1. The accumulator: the mma<[warps,1]> layout gives thread (warp v, lane 4 g + q) the rows
 *      8 v + g + 8 warps h (h = 0, 1) and the columns 8 c + 2 q + {0, 1}; wgmma's register
 *      4 c + 2 h + b holds row g + 8 h of the thread's 16 and column 8 c + 2 q + b. perm[] maps one
 *      order to the other (checked element by element against the layout's constants).
 *   2. wgmma.fence (the accumulator registers were written since the last wgmma), a proxy fence (the
 *      buffers were written by ordinary stores or cp.async, and wgmma reads through the async proxy),
 *      then one wgmma op per 32 bytes of K (16 16-bit or 32 8-bit elements), accumulating in place,
 *      each with both descriptors advanced by one step: 32 bytes along a K-major row (to the next
 *      128-byte panel every fourth step), or 16 rows of an N-major B.
 *   3. commit, wait_group 0 on the accumulators: the loop around the dot overwrites a stage of the
 *      ring one iteration after reading it, so the product must be complete before the next
 *      iteration's barrier (docs/hopper.md). A dot marked `inflight` (a loop {inflight = 1}: the
 *      pipeline refills a stage two iterations after it was read) waits for 1 instead, with no
 *      registers: the group stays in flight, the next iteration's wgmmas accumulate into its
 *      registers, and the loop's exit waits for 0 on the carried accumulators (lower_control.c).
 */
#include <string.h>

#include "cg.h"

/* The operand of a wgmma dot: its buffer, rows and the descriptor's constant fields. */
typedef struct {
  ir_val buf;
  uint32_t rows, row_bytes; /* the buffer: rows of K (K-major) or rows of N (B, N-major) */
  int panels;               /* rows wider than 128 bytes, stored as 128-byte panels */
  int mn;                   /* B stored [K,N]: read MN-major (CG_WGMMA_TRANS) */
} wg_operand;

static wg_operand operand(cg_lower *L, ir_opid dot, int k) {
  ir_opid ld = ir_v(L->fn, ir_o(L->fn, dot)->opnd[k])->def;
  wg_operand o = {0};
  o.buf = ir_o(L->fn, ld)->opnd[0];
  ir_type t = ir_vtype(L->fn, o.buf);
  o.rows = t.shape[0];
  o.row_bytes = t.shape[1] * (uint32_t)ir_elem_bytes(t.elem);
  o.panels = o.row_bytes > 128;
  o.mn = k == 1 && !ir_attr_i(ir_o(L->fn, ld)->attrs, "trans", 0);
  if ((k == 0 && ir_attr_i(ir_o(L->fn, ld)->attrs, "trans", 0)) || t.rank != 2 || !cg_smem_panels(L, o.buf))
    cg_fail(L, dot, "op 'dot': operand %c is not a wgmma buffer (the wgmma pass and codegen disagree)",
            k ? 'b' : 'a');
  return o;
}

/* The descriptor's constant fields (start 0: the low 14 bits are clear) and the byte offset of K step
 * s (32 bytes of K: 16 elements of 2 bytes, 32 of 1) from the operand's start, a multiple of 16. */
static uint64_t desc_fields(const wg_operand *o) {
  uint32_t w = o->panels ? 128 : o->row_bytes;
  cg_wgmma_desc d = {0, 16, 8 * w, 0, (int)w};
  if (o->mn)
    d.lbo = o->rows * w; /* K rows of w bytes of N, 8 to a pattern; N panels rows * 128 bytes apart */
  return cg_wgmma_desc_encode(d);
}

static uint32_t step_offset(const wg_operand *o, uint32_t s) {
  uint32_t w = o->panels ? 128 : o->row_bytes, kb = 32 * s;
  if (o->mn) return 16 * s * w;
  return o->panels ? (kb / 128) * o->rows * 128 + kb % 128 : kb; /* the next panel every 4 steps */
}

/* The low word of the operand's descriptor at step 0, computed once per dot from its shared byte
 * address start (i32, from start_of, 16-byte aligned): start / 16 plus the constant fields. A step
 * adds its offset / 16 to it (desc): shared addresses are below 2^18, so the start field (14 bits)
 * never carries into the leading byte offset above it, and the upper word is a constant. One add a
 * step, where adding the byte offset and then shifting took two. */
static LLVMValueRef desc_base(cg_lower *L, const wg_operand *o, LLVMValueRef start) {
  LLVMBuilderRef B = L->c.b;
  return LLVMBuildAdd(B, LLVMBuildLShr(B, start, cg_i32(L, 4), ""), cg_i32(L, (uint32_t)desc_fields(o)),
                      "desc.lo");
}

static LLVMValueRef desc(cg_lower *L, const wg_operand *o, LLVMValueRef base_lo, uint32_t s) {
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx);
  LLVMValueRef lo = LLVMBuildAdd(B, base_lo, cg_i32(L, step_offset(o, s) / 16), "");
  return LLVMBuildOr(B, LLVMBuildZExt(B, lo, i64, ""), LLVMConstInt(i64, desc_fields(o) & ~0xffffffffull, 0),
                     "desc");
}

/* The shared byte address of an operand read from shared address base (i32), from row row0 (K-major
 * A's warpgroup): base + row0 * row bytes. */
static LLVMValueRef start_of(cg_lower *L, const wg_operand *o, LLVMValueRef base, LLVMValueRef row0) {
  LLVMBuilderRef B = L->c.b;
  uint32_t w = o->panels ? 128 : o->row_bytes;
  return row0 ? LLVMBuildAdd(B, base, LLVMBuildMul(B, row0, cg_i32(L, w), ""), "") : base;
}

/* The warp index as lane 0 holds it, shuffled once in the prologue: ptxas then knows it is the same
 * in every lane and keeps what follows from it (A's descriptors, a warpgroup's rows) in uniform
 * registers, where the warp index from the thread id left a move to them (R2UR) before each wgmma. */
LLVMValueRef cg_warp_uniform(cg_lower *L) {
  if (!L->warp_u) {
    LLVMBasicBlockRef saved;
    cg_enter_prologue(L, &saved);
    L->warp_u = L->c.ops->shfl(&L->c, CG_SHFL_IDX, L->warp, cg_i32(L, 0));
    cg_leave_prologue(L, saved);
  }
  return L->warp_u;
}

/* Ping-pong (the consumers of a warp_split {pingpong = 1}: two warpgroups, 32 x warps threads):
 * warpgroup g issues its wgmma groups in turns with the other. A turn begins at bar.sync 2 + g,
 * which the other warpgroup's arrive completes, and ends after the commit with bar.arrive 3 - g,
 * before the wait: the other warpgroup then issues while this one's group runs and this one goes
 * on to the work after its wait (attention's softmax). cg_lower_warp_split gives warpgroup 0 the
 * first turn (warpgroup 1 arrives at 2 first) and takes warpgroup 1's last arrive back at the end. */
void cg_pingpong_turn(cg_lower *L, int end) {
  LLVMBuilderRef B = L->c.b;
  LLVMValueRef wg = LLVMBuildLShr(B, cg_warp_uniform(L), cg_i32(L, 2), "wg");
  LLVMValueRef id =
      end ? LLVMBuildSub(B, cg_i32(L, 3), wg, "turn.next") : LLVMBuildAdd(B, wg, cg_i32(L, 2), "turn");
  L->c.ops->named_barrier(&L->c, id, L->c.threads, end);
}

int cg_wgmma_load_shared(cg_lower *L, ir_opid op) {
  ir_op *o = ir_o(L->fn, op);
  if (!ir_attr_i(o->attrs, "wgmma", 0)) return 0;
  cg_def(L, o->res[0], 0); /* the dot reads the buffer itself */
  return 1;
}

uint32_t *cg_wgmma_acc_perm(cg_lower *L, ir_opid op) {
  ir_type tr = ir_vtype(L->fn, ir_o(L->fn, op)->res[0]);
  cg_lay yr;
  cg_lay_init(&yr, tr);
  uint32_t R = tr.shape[1] / 2, *perm = ir_alloc(L->A, R * sizeof *perm), e[IR_MAXRANK];
  if (yr.l.kind != IR_LMMA || yr.n != R)
    cg_fail(L, op, "op 'dot': a wgmma dot's result is not in mma<[warps,1]>");
  uint8_t *seen = ir_alloc(L->A, R);
  for (uint32_t i = 0; i < R; i++) {
    cg_lay_multi(&yr, i, e);
    uint32_t rc = cg_lay_const(&yr, 0, e[0]), cc = cg_lay_const(&yr, 1, e[1]);
    uint32_t h = rc / (8u * (uint32_t)L->warps), j = (cc / 8) * 4 + h * 2 + (cc & 1);
    if (rc % (8u * (uint32_t)L->warps) || h > 1 || cc % 8 > 1 || j >= R || seen[j])
      cg_fail(L, op, "op 'dot': the accumulator layout does not match wgmma's");
    seen[j] = 1, perm[j] = i;
  }
  return perm;
}

void cg_wgmma_wait_carried(cg_lower *L, ir_opid dot, cg_value *v) {
  uint32_t *perm = cg_wgmma_acc_perm(L, dot), R = v->n;
  LLVMValueRef *regs = ir_alloc(L->A, R * sizeof *regs);
  for (uint32_t j = 0; j < R; j++) regs[j] = v->v[perm[j]];
  L->c.ops->hopper->wgmma_wait(&L->c, 0, regs, (int)R);
  for (uint32_t j = 0; j < R; j++) v->v[perm[j]] = regs[j];
}

int cg_lower_dot_wgmma(cg_lower *L, ir_opid op) {
  ir_op *o = ir_o(L->fn, op);
  if (!ir_attr_i(o->attrs, "wgmma", 0)) return 0;
  LLVMBuilderRef B = L->c.b;
  const cg_hopper_ops *H = L->c.ops->hopper;
  ir_type ta = ir_vtype(L->fn, o->opnd[0]), tr = ir_vtype(L->fn, o->res[0]);
  uint32_t M = tr.shape[0], N = tr.shape[1], K = ta.shape[1];
  cg_wgmma_type wt = ta.elem == IR_BF16   ? CG_WGMMA_BF16
                     : ta.elem == IR_E4M3 ? CG_WGMMA_E4M3
                     : ta.elem == IR_E5M2 ? CG_WGMMA_E5M2
                     : ta.elem == IR_I8   ? CG_WGMMA_S8
                                          : CG_WGMMA_F16;
  uint32_t kbytes = K * (uint32_t)ir_elem_bytes(ta.elem);
  char err[256];
  if (cg_wgmma_check(L->c.target, wt, (int)N, err, sizeof err)) cg_fail(L, op, "%s", err);
  ir_opid lda = ir_v(L->fn, o->opnd[0])->def;
  int rs =
      !(lda && ir_o(L->fn, lda)->code == IR_OP_LOAD_SHARED && ir_attr_i(ir_o(L->fn, lda)->attrs, "wgmma", 0));
  wg_operand a = rs ? (wg_operand){0} : operand(L, op, 0), b = operand(L, op, 1);
  cg_lay ya;
  cg_lay_init(&ya, ta);
  if (rs && (ir_elem_bits(ta.elem) != 16 || ya.l.kind != IR_LMMA_A || ya.l.wpc[0] != L->warps ||
             ya.l.wpc[1] != 1 || ya.per[0] != 2))
    cg_fail(L, op, "op 'dot': a wgmma dot's A in registers is not a 16-bit tile in mma_a<[warps,1]>");
  if (M != 16u * (uint32_t)L->warps || (!rs && a.rows != M) || b.rows != (b.mn ? K : N) || kbytes % 32 ||
      (b.mn && !cg_wgmma_info_of(wt)->has_trans))
    cg_fail(L, op, "op 'dot': a wgmma dot needs M = 16 * warps and K a multiple of 32 bytes");

  /* step 1 */
  uint32_t R = N / 2, *perm = cg_wgmma_acc_perm(L, op);
  cg_value *acc_in = cg_get(L, o->opnd[2]);
  LLVMValueRef *acc = ir_alloc(L->A, R * sizeof *acc), *d = ir_alloc(L->A, R * sizeof *d);
  for (uint32_t j = 0; j < R; j++) acc[j] = acc_in->v[perm[j]];

  /* step 2 */
  LLVMValueRef bbase = H->smem_addr(&L->c, cg_get(L, b.buf)->v[0]), astart = NULL;
  if (!rs) {
    LLVMValueRef abase = H->smem_addr(&L->c, cg_get(L, a.buf)->v[0]);
    LLVMValueRef row0 =
        LLVMBuildMul(B, LLVMBuildLShr(B, cg_warp_uniform(L), cg_i32(L, 2), ""), cg_i32(L, 64), "wg.row");
    astart = desc_base(L, &a, start_of(L, &a, abase, row0));
  }
  /* A in registers: every step's fragments packed before the fence, so that no register a wgmma
   * reads is written after it (ptxas would otherwise insert a warpgroup.arrive before each one) */
  uint32_t steps = kbytes / 32;
  LLVMValueRef *areg = rs ? ir_alloc(L->A, 4 * steps * sizeof *areg) : NULL;
  for (uint32_t s = 0; rs && s < steps; s++)
    cg_mma_a_step_regs(L, &ya, ta.elem, cg_get(L, o->opnd[0])->v, s, areg + 4 * s);
  if (L->pingpong) cg_pingpong_turn(L, 0);
  H->wgmma_fence(&L->c);
  /* operands written by ordinary stores or cp.async (the generic proxy) are made visible to the
   * wgmma's async-proxy reads; TMA-written ones (a dot {tma_operands = 1}, the pipeline pass) need
   * no fence: the mbarrier wait before them orders the copies' writes */
  if (!ir_attr_i(o->attrs, "tma_operands", 0)) H->fence_proxy_async(&L->c);
  LLVMValueRef bstart = desc_base(L, &b, start_of(L, &b, bbase, NULL));
  for (uint32_t s = 0; s < steps; s++) {
    int nb = b.mn ? CG_WGMMA_TRANS : 0;
    LLVMValueRef db = desc(L, &b, bstart, s); /* one at a time: C leaves argument order open */
    H->wgmma(&L->c, wt, (int)N, rs ? NULL : desc(L, &a, astart, s), rs ? areg + 4 * s : NULL, db, acc, NULL,
             0, nb, d);
    memcpy(acc, d, R * sizeof *acc);
  }

  /* step 3; a dot `inflight` (in a loop {inflight = 1}) leaves this group in flight: the wait for 1
   * completes the previous iteration's, and the loop's exit waits for the last (lower_control.c) */
  H->wgmma_commit(&L->c);
  if (L->pingpong) cg_pingpong_turn(L, 1);
  if (ir_attr_i(o->attrs, "inflight", 0))
    H->wgmma_wait(&L->c, 1, NULL, 0);
  else
    H->wgmma_wait(&L->c, 0, acc, (int)R);
  LLVMValueRef *out = cg_def(L, o->res[0], R);
  for (uint32_t j = 0; j < R; j++) out[perm[j]] = acc[j];
  return 1;
}
