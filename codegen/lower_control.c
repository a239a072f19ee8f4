/*
 * lower_control.c - program ids, `for`, `if` and `yield`; the hint that keeps a loop the lowering
 * builds (copies, the mma K loop) rolled.
 *
 * for: a guard (lo < hi and 0 < step: a step that is not positive at run time runs no iteration, the
 * verifier refuses a constant one), then the body as a bottom-tested loop with one phi for the induction
 * variable and one per element of every carried value; the body's yield feeds the phis from the block
 * it ends; the results join the inits (no iteration) and the last yield. if: two blocks and a join with one
 * phi per element of each result. Scalars (and so loop bounds and if conditions) are the same in every thread
 * of a block, so a barrier inside a loop or an if is reached by all threads or none.
 */
#include <llvm-c/DebugInfo.h>

#include "cg.h"

void cg_lower_program_id(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  int axis = (int)ir_attr_i(o->attrs, "axis", 0);
  if (axis < 0 || axis > 2)
    cg_fail(L, op, "op '%s': axis %d is not 0, 1 or 2", ir_opinfo_table[o->code].name, axis);
  cg_sreg r = o->code == IR_OP_PROGRAM_ID ? CG_CTAID_X + axis : CG_NCTAID_X + axis;
  LLVMValueRef v = L->c.ops->sreg(&L->c, r);
  cg_def(L, o->res[0], 1)[0] = cg_convert(L, v, IR_I32, ir_vtype(L->fn, o->res[0]).elem);
}

void cg_lower_yield(cg_lower *L, ir_opid op) {
  L->yield = L->fn->ops[op].opnd;
  L->nyield = L->fn->ops[op].nopnd;
  L->yield_block = LLVMGetInsertBlock(L->c.b);
}

/* Lowers region r; afterwards L->yield/nyield/yield_block describe how it ended. */
static void lower_arm(cg_lower *L, ir_reg r) {
  L->yield = NULL;
  L->nyield = 0;
  cg_lower_region(L, r);
  if (!L->yield) L->yield_block = LLVMGetInsertBlock(L->c.b);
}

/* One phi per element of value v, in the current block. */
static LLVMValueRef *phis_like(cg_lower *L, ir_val def, cg_value *like) {
  LLVMValueRef *p = cg_def(L, def, like->n);
  for (uint32_t i = 0; i < like->n; i++) p[i] = LLVMBuildPhi(L->c.b, LLVMTypeOf(like->v[i]), "");
  return p;
}

static void add_incoming(cg_value *phis, cg_value *vals, LLVMBasicBlockRef from) {
  for (uint32_t i = 0; i < phis->n; i++) LLVMAddIncoming(phis->v[i], &vals->v[i], &from, 1);
}

/* A shared pointer as an i32, and back: its address where the shared base is a symbol (a shared
 * window address, below 2^32: no add of the base per use), else its offset from the base (the
 * simulator's base is a host pointer). */
static LLVMValueRef smem_offset(cg_lower *L, LLVMValueRef p) {
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx), i32 = LLVMInt32TypeInContext(L->c.ctx);
  LLVMValueRef base = L->c.ops->shared_base(&L->c);
  if (LLVMIsAGlobalValue(base)) return LLVMBuildPtrToInt(B, p, i32, "");
  LLVMValueRef b = LLVMBuildPtrToInt(B, base, i64, ""); /* one at a time: C leaves argument order open */
  LLVMValueRef d = LLVMBuildSub(B, LLVMBuildPtrToInt(B, p, i64, ""), b, "");
  return LLVMBuildTrunc(B, d, i32, "");
}

static LLVMValueRef smem_at_offset(cg_lower *L, LLVMValueRef off) {
  LLVMBuilderRef B = L->c.b;
  LLVMValueRef base = L->c.ops->shared_base(&L->c);
  LLVMValueRef i = LLVMBuildZExt(B, off, LLVMInt64TypeInContext(L->c.ctx), "");
  if (LLVMIsAGlobalValue(base)) return LLVMBuildIntToPtr(B, i, LLVMTypeOf(base), "stage.buf");
  return LLVMBuildGEP2(B, LLVMInt8TypeInContext(L->c.ctx), base, &i, 1, "stage.buf");
}

/* Whether a region holds a copy (asynchronous global -> shared), nested regions included. */
static int has_copy(const ir_func *fn, ir_reg r) {
  for (ir_opid c = fn->regions[r].first; c; c = fn->ops[c].next) {
    const ir_op *o = &fn->ops[c];
    if (o->dead) continue;
    if (o->code == IR_OP_COPY) return 1;
    for (uint32_t k = 0; k < o->nregion; k++)
      if (has_copy(fn, o->region[k])) return 1;
  }
  return 0;
}

/* The latch of a loop that cannot wrap: iv < max(hi, MIN + step) - step, then iv + step nsw/nuw. */
static void nowrap_latch(LLVMBuilderRef B, LLVMIntPredicate lt, LLVMValueRef iv, LLVMValueRef hi,
                         LLVMValueRef step, LLVMBasicBlockRef latch, LLVMBasicBlockRef bodyb,
                         LLVMBasicBlockRef exit) {
  int sgn = lt == LLVMIntSLT;
  unsigned w = LLVMGetIntTypeWidth(LLVMTypeOf(hi));
  LLVMValueRef floor = sgn ? LLVMBuildAdd(B, LLVMConstInt(LLVMTypeOf(hi), 1ull << (w - 1), 0), step, "")
                           : step; /* the smallest hi from which step can be taken */
  LLVMValueRef hi_c = LLVMBuildSelect(B, LLVMBuildICmp(B, lt, hi, floor, ""), floor, hi, "");
  LLVMValueRef lim = sgn ? LLVMBuildNSWSub(B, hi_c, step, "") : LLVMBuildNUWSub(B, hi_c, step, "");
  LLVMValueRef next = sgn ? LLVMBuildNSWAdd(B, iv, step, "iv.next") : LLVMBuildNUWAdd(B, iv, step, "iv.next");
  LLVMAddIncoming(iv, &next, &latch, 1);
  LLVMBuildCondBr(B, LLVMBuildICmp(B, lt, iv, lim, ""), bodyb, exit);
}

/* A loop that carries shared buffers which its yield only permutes (the pipeline's rotating stages:
 * value k yields carried value perm(k)) and that come in as values an enclosing loop carries (a
 * ring that lives across a persistent kernel's tile loop, compiler/passes/pipeline.c): the length of
 * the permutation's cycles where they all have one length of 2 or more, else 0. Such a loop picks
 * each buffer by its turn (the iteration's index mod the period) from the values it came in with
 * (`rotated`), instead of carrying every stage through a phi: rotated through phis in both loops,
 * ptxas moved each of them in every iteration (62 instructions a k-step in matmul's persistent ws
 * loop, 52 with the turn; a loop whose buffers come in as constants keeps the phis: there the
 * selects cost more than the moves, 62 against 56). */
static int rotation_period(cg_lower *L, ir_op *o, LLVMValueRef *soff) {
  ir_func *fn = L->fn;
  ir_region *body = &fn->regions[o->region[0]];
  uint32_t ncar = body->nargs - 1;
  ir_op *y = &fn->ops[body->last];
  int period = 0;
  if (y->code != IR_OP_YIELD || y->nopnd != ncar) return 0;
  for (uint32_t k = 0; k < ncar; k++) {
    if (!soff[k]) continue;
    ir_val in = o->opnd[3 + k];
    ir_reg r = fn->vals[in].arg_of;
    if (!r || !fn->regions[r].parent_op || fn->ops[fn->regions[r].parent_op].code != IR_OP_FOR) return 0;
    int len = 0;
    uint32_t j = k;
    do {
      ir_val v = y->opnd[j];
      if (fn->vals[v].arg_of != o->region[0] || fn->vals[v].index == 0) return 0;
      j = fn->vals[v].index - 1;
      if (!soff[j] || ++len > (int)ncar) return 0;
    } while (j != k);
    if (len < 2 || len > IR_MAX_STAGES || (period && len != period)) return 0;
    period = len;
  }
  return period;
}

/* Carried buffer k in the iteration whose turn (its index mod the period) is `turn`: the initial
 * offset of the buffer it has rotated to, picked by selects. */
static LLVMValueRef rotated(cg_lower *L, ir_op *o, LLVMValueRef *soff, uint32_t k, LLVMValueRef turn) {
  ir_func *fn = L->fn;
  ir_region *body = &fn->regions[o->region[0]];
  ir_op *y = &fn->ops[body->last];
  uint32_t cyc[IR_MAX_STAGES], n = 0, j = k; /* rotation_period: a cycle of at most IR_MAX_STAGES */
  do {
    cyc[n++] = j;
    j = fn->vals[y->opnd[j]].index - 1;
  } while (j != k);
  LLVMValueRef v = soff[cyc[n - 1]];
  for (int c = (int)n - 2; c >= 0; c--)
    v = LLVMBuildSelect(L->c.b, LLVMBuildICmp(L->c.b, LLVMIntEQ, turn, cg_i32(L, c), ""), soff[cyc[c]], v,
                        "");
  return v;
}

/* The loop is emitted rotated (a guard, then a bottom-tested body), the shape LLVM's loop passes
 * want, so that the optimisation pipeline need not rotate it. */
static void lower_for_once(cg_lower *L, ir_opid op) {
  ir_func *fn = L->fn;
  ir_op *o = &fn->ops[op];
  ir_region *body = &fn->regions[o->region[0]];
  LLVMBuilderRef B = L->c.b;
  const char *site = L->c.site;
  LLVMValueRef lo = cg_get(L, o->opnd[0])->v[0], hi = cg_get(L, o->opnd[1])->v[0];
  LLVMValueRef step = cg_get(L, o->opnd[2])->v[0];
  uint32_t ncar = body->nargs - 1;
  if (o->nopnd != 3 + ncar || o->nres != ncar)
    cg_fail(L, op, "op 'for': %u inits and %u results for %u carried values", o->nopnd - 3, o->nres, ncar);
  LLVMIntPredicate lt = ir_elem_is_signed(ir_vtype(fn, o->opnd[0]).elem) ? LLVMIntSLT : LLVMIntULT;
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(B), bodyb = cg_block(L, "for.body"),
                    exit = cg_block(L, "for.exit");
  LLVMValueRef zero = LLVMConstInt(LLVMTypeOf(step), 0, 0); /* a step <= 0 runs no iteration */
  LLVMValueRef positive = LLVMBuildICmp(B, lt, zero, step, "");
  LLVMValueRef enter = LLVMBuildAnd(B, LLVMBuildICmp(B, lt, lo, hi, ""), positive, "");
  /* A carried buffer (the pipeline's rotating stages) is carried as its i32 offset in shared
   * memory, not as a pointer: a 64-bit pointer's upper half rotated with it in ptxas's output. */
  LLVMValueRef *soff = ir_alloc(L->A, (ncar ? ncar : 1) * sizeof *soff);
  for (uint32_t k = 0; k < ncar; k++)
    soff[k] = ir_vtype(fn, o->opnd[3 + k]).kind == IR_TSMEM ? smem_offset(L, cg_get(L, o->opnd[3 + k])->v[0])
                                                            : NULL;
  LLVMBuildCondBr(B, enter, bodyb, exit);
  LLVMPositionBuilderAtEnd(B, bodyb);
  LLVMValueRef iv = LLVMBuildPhi(B, LLVMTypeOf(lo), "iv");
  LLVMAddIncoming(iv, &lo, &pre, 1);
  cg_def(L, body->args[0], 1)[0] = iv;
  LLVMValueRef *sphi = ir_alloc(L->A, (ncar ? ncar : 1) * sizeof *sphi);
  int period = rotation_period(L, o, soff);
  LLVMValueRef turn = NULL;
  if (period) {
    turn = LLVMBuildPhi(B, LLVMInt32TypeInContext(L->c.ctx), "stage.turn");
    LLVMValueRef z = cg_i32(L, 0);
    LLVMAddIncoming(turn, &z, &pre, 1);
  }
  for (uint32_t k = 0; k < ncar; k++) {
    cg_value *init = cg_get(L, o->opnd[3 + k]);
    if (soff[k]) {
      if (period) continue;
      sphi[k] = LLVMBuildPhi(B, LLVMInt32TypeInContext(L->c.ctx), "stage");
      LLVMAddIncoming(sphi[k], &soff[k], &pre, 1);
      continue;
    }
    phis_like(L, body->args[1 + k], init);
    add_incoming(cg_get(L, body->args[1 + k]), init, pre);
  }
  for (uint32_t k = 0; k < ncar; k++) /* after the phis */
    if (soff[k])
      cg_def(L, body->args[1 + k], 1)[0] = smem_at_offset(L, period ? rotated(L, o, soff, k, turn) : sphi[k]);
  lower_arm(L, o->region[0]);
  if (L->nyield != ncar)
    cg_fail(L, op, "op 'for': the body yields %u values for %u carried", L->nyield, ncar);
  LLVMBasicBlockRef latch = L->yield_block;
  const ir_val *ys = L->yield;
  if (period) {
    LLVMValueRef t1 = LLVMBuildAdd(B, turn, cg_i32(L, 1), "");
    LLVMValueRef next = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, t1, cg_i32(L, period), ""),
                                        cg_i32(L, 0), t1, "stage.turn.next");
    LLVMAddIncoming(turn, &next, &latch, 1);
  }
  for (uint32_t k = 0; k < ncar; k++) {
    if (soff[k]) {
      if (period) continue;
      LLVMValueRef y = smem_offset(L, cg_get(L, ys[k])->v[0]);
      LLVMAddIncoming(sphi[k], &y, &latch, 1);
    } else {
      add_incoming(cg_get(L, body->args[1 + k]), cg_get(L, ys[k]), latch);
    }
  }
  if (L->c.ops->loop_back) {
    L->c.site = site;
    L->c.ops->loop_back(&L->c);
  }
  /* Another iteration when iv < max(hi, MIN + step) - step (hoisted: the loop's bounds are
   * scalars defined outside it): then iv + step cannot wrap, and the increment says so (nsw/nuw), so
   * that LLVM can widen the induction variable and step 64-bit addresses derived from it by a
   * constant. (iv + step < hi wrapped past the type's end for hi within one step of it.) That pays
   * in a pipelined mainloop (its copies are a few address streams, each then a pointer advanced by
   * a constant). Elsewhere it only moves register pressure: with bitpack_act's 32 loads at run-time
   * strides each stream's 64-bit offset stays live across the loop and ptxas spills at sm_90's
   * register target. So a loop without copies keeps the wrapping test. */
  if (!has_copy(fn, o->region[0])) {
    LLVMValueRef next = LLVMBuildAdd(B, iv, step, "iv.next");
    LLVMAddIncoming(iv, &next, &latch, 1);
    LLVMBuildCondBr(B, LLVMBuildICmp(B, lt, next, hi, ""), bodyb, exit);
  } else {
    nowrap_latch(B, lt, iv, hi, step, latch, bodyb, exit);
  }
  /* results: the inits when the loop did not run, else the last yield */
  LLVMPositionBuilderAtEnd(B, exit);
  for (uint32_t k = 0; k < ncar; k++) {
    cg_value *init = cg_get(L, o->opnd[3 + k]), *last = cg_get(L, ys[k]);
    phis_like(L, o->res[k], init);
    add_incoming(cg_get(L, o->res[k]), init, pre);
    add_incoming(cg_get(L, o->res[k]), last, latch);
  }
  for (uint32_t k = 0; k < ncar; k++) { /* after the phis */
    /* the accumulator of a warpgroup MMA left in flight (lower_dot_wgmma.c): complete it here */
    ir_opid d = ir_v(fn, ys[k])->def;
    if (d && fn->ops[d].code == IR_OP_DOT && ir_attr_i(fn->ops[d].attrs, "inflight", 0)) {
      L->c.site = site;
      cg_wgmma_wait_carried(L, d, cg_get(L, o->res[k]));
    }
  }
}

/* Two versions of a loop whose body copies with cp.async from views whose alignment can be tested
 * before it (cg_copy_alignment_before): one for when every such view is aligned, whose tested copies
 * are only their unrolled cp.async chunks (a copy whose alignment cannot be tested before the loop
 * keeps its own run-time test in both), and one with each copy's run-time test and fallback as
 * usual. The test and the fallback's code then stay out of the loop that runs. A loop {short = 1}
 * (a recipe's hint: few iterations, such as a masked last key tile) is emitted once: the tests are
 * made before it as for two versions, and each tested copy in the body branches on its own
 * (copy_async): its unrolled all-or-nothing chunks, else a rolled loop of chunks. A second version
 * of its body would double its code for next to no time saved. When the tests are proven to hold
 * (cg_proven: the kernel's `aligned` parameters, lower_align.c) the loop is the aligned version
 * alone, with no test. */
void cg_lower_for(cg_lower *L, ir_opid op) {
  ir_func *fn = L->fn;
  ir_op *o = &fn->ops[op];
  LLVMBuilderRef B = L->c.b;
  const char *site = L->c.site;
  LLVMValueRef all = NULL;
  enum { MAXTESTED = 64 };
  ir_opid tested[MAXTESTED]; /* the copies whose alignment `all` tests: only they skip their own test */
  int ntested = 0, once = ir_attr_i(o->attrs, "short", 0) != 0;
  for (ir_opid c = fn->regions[o->region[0]].first; c && ntested < MAXTESTED; c = fn->ops[c].next) {
    LLVMValueRef t = fn->ops[c].dead ? NULL : cg_copy_alignment_before(L, c, op);
    if (!t) continue;
    all = all ? LLVMBuildAnd(B, all, t, "") : t;
    if (once) L->copy_test[c] = t;
    tested[ntested++] = c;
  }
  if (all && cg_proven(L, all)) { /* the kernel's `aligned` parameters make every test hold */
    for (int i = 0; i < ntested; i++) L->copy_aligned[tested[i]] = 1, L->copy_test[tested[i]] = NULL;
    lower_for_once(L, op);
    for (int i = 0; i < ntested; i++) L->copy_aligned[tested[i]] = 0;
    return;
  }
  if (!all || once) {
    lower_for_once(L, op);
    for (int i = 0; i < ntested; i++) L->copy_test[tested[i]] = NULL;
    return;
  }
  LLVMBasicBlockRef fast = cg_block(L, "for.aligned"), slow = cg_block(L, "for.any"),
                    join = cg_block(L, "for.join");
  LLVMBuildCondBr(B, all, fast, slow);
  LLVMBasicBlockRef from[2];
  cg_value *res[2];
  for (int v = 0; v < 2; v++) {
    LLVMPositionBuilderAtEnd(B, v ? slow : fast);
    for (int i = 0; i < ntested; i++) L->copy_aligned[tested[i]] = !v;
    L->c.site = site;
    lower_for_once(L, op);
    res[v] = ir_alloc(L->A, (o->nres ? o->nres : 1) * sizeof(cg_value));
    for (uint32_t k = 0; k < o->nres; k++) res[v][k] = *cg_get(L, o->res[k]);
    from[v] = LLVMGetInsertBlock(B);
    LLVMBuildBr(B, join);
  }
  for (int i = 0; i < ntested; i++) L->copy_aligned[tested[i]] = 0;
  LLVMPositionBuilderAtEnd(B, join);
  for (uint32_t k = 0; k < o->nres; k++) {
    phis_like(L, o->res[k], &res[0][k]);
    add_incoming(cg_get(L, o->res[k]), &res[0][k], from[0]);
    add_incoming(cg_get(L, o->res[k]), &res[1][k], from[1]);
  }
}

void cg_lower_if(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  LLVMBuilderRef B = L->c.b;
  LLVMBasicBlockRef thenb = cg_block(L, "if.then"), elseb = cg_block(L, "if.else"),
                    join = cg_block(L, "if.end");
  LLVMBuildCondBr(B, cg_get(L, o->opnd[0])->v[0], thenb, elseb);
  LLVMBasicBlockRef from[2];
  const ir_val *ys[2];
  LLVMBasicBlockRef arms[2] = {thenb, elseb};
  for (int a = 0; a < 2; a++) {
    LLVMPositionBuilderAtEnd(B, arms[a]);
    lower_arm(L, o->region[a]);
    if (L->nyield < o->nres)
      cg_fail(L, op, "op 'if': the %s region yields %u values for %u results", a ? "else" : "then", L->nyield,
              o->nres);
    from[a] = L->yield_block;
    ys[a] = L->yield;
    LLVMBuildBr(B, join);
  }
  LLVMPositionBuilderAtEnd(B, join);
  for (uint32_t k = 0; k < o->nres; k++) {
    cg_value *tv = cg_get(L, ys[0][k]), *ev = cg_get(L, ys[1][k]);
    phis_like(L, o->res[k], tv);
    add_incoming(cg_get(L, o->res[k]), tv, from[0]);
    add_incoming(cg_get(L, o->res[k]), ev, from[1]);
  }
}

/* warp_split: the producer warpgroup (warps W .. W+3, threads W*32 and up) runs region 0, the
 * kernel's W warps region 1; both then leave the kernel. In the producer's region the elected lane
 * that issues TMA boxes is warp W's; in the consumers' region a barrier is `bar.sync 1, W*32`, which
 * the producer warps do not join (the verifier keeps tiles and barriers out of the producer's
 * region). With setmaxnreg counts the producer gives registers back (dec) and the consumers take
 * them (inc) first; codegen.c caps the registers at entry (.minnctapersm 1) so that ptxas allocates
 * within what the dec leaves. */
/* Ping-pong's first and last step: the warpgroup whose warp index compares `pred` to 4 arrives
 * at (arrive = 1) or waits at (0) warpgroup 0's turn barrier, 2. */
static void pingpong_edge(cg_lower *L, LLVMIntPredicate pred, int arrive) {
  LLVMBuilderRef B = L->c.b;
  LLVMBasicBlockRef at = cg_block(L, "pingpong"), after = cg_block(L, "pingpong.done");
  LLVMBuildCondBr(B, LLVMBuildICmp(B, pred, cg_warp_uniform(L), cg_i32(L, 4), ""), at, after);
  LLVMPositionBuilderAtEnd(B, at);
  L->c.ops->named_barrier(&L->c, cg_i32(L, 2), L->c.threads, arrive);
  LLVMBuildBr(B, after);
  LLVMPositionBuilderAtEnd(B, after);
}

void cg_lower_warp_split(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  LLVMBuilderRef B = L->c.b;
  int pr = (int)ir_attr_i(o->attrs, "producer_regs", 0), cr = (int)ir_attr_i(o->attrs, "consumer_regs", 0);
  const char *site = L->c.site;
  if (pr) cg_require(L, op, TG_F_WGMMA); /* setmaxnreg */
  LLVMBasicBlockRef prod = cg_block(L, "producer"), cons = cg_block(L, "consumers"),
                    join = cg_block(L, "split.end");
  LLVMValueRef is_prod =
      LLVMBuildICmp(B, LLVMIntUGE, cg_warp_uniform(L), cg_i32(L, L->warps), "producer.warp");
  LLVMBuildCondBr(B, is_prod, prod, cons);
  LLVMPositionBuilderAtEnd(B, prod);
  if (pr) L->c.ops->hopper->setmaxnreg(&L->c, 0, pr);
  L->elect_warp = L->warps;
  lower_arm(L, o->region[0]);
  L->elect_warp = 0;
  LLVMBuildBr(B, join);
  LLVMPositionBuilderAtEnd(B, cons);
  if (cr) L->c.ops->hopper->setmaxnreg(&L->c, 1, cr);
  L->c.bar_threads = L->c.threads;
  L->pingpong = ir_attr_i(o->attrs, "pingpong", 0) != 0;
  if (L->pingpong) { /* warpgroup 0's turn first (cg_pingpong_turn): warpgroup 1 arrives at its barrier */
    cg_require(L, op, TG_F_WGMMA);
    pingpong_edge(L, LLVMIntUGE, 1);
  }
  lower_arm(L, o->region[1]);
  L->c.site = site;
  if (L->pingpong) pingpong_edge(L, LLVMIntULT, 0); /* warpgroup 1's last arrive, taken back */
  L->pingpong = 0;
  L->c.bar_threads = 0;
  LLVMBuildBr(B, join);
  LLVMPositionBuilderAtEnd(B, join);
}

/* llvm.loop.unroll.disable on the loop whose latch branch is br. */
void cg_keep_loop_rolled(cg_lower *L, LLVMValueRef br) {
  LLVMContextRef C = L->c.ctx;
  LLVMMetadataRef dis = LLVMMDStringInContext2(C, "llvm.loop.unroll.disable", 24);
  LLVMMetadataRef tmp = LLVMTemporaryMDNode(C, NULL, 0), ops[2] = {tmp, LLVMMDNodeInContext2(C, &dis, 1)};
  LLVMMetadataRef loop = LLVMMDNodeInContext2(C, ops, 2);
  LLVMMetadataReplaceAllUsesWith(tmp, loop);
  LLVMSetMetadata(br, LLVMGetMDKindIDInContext(C, "llvm.loop", 9), LLVMMetadataAsValue(C, loop));
}
