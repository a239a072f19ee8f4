/*
 * pipeline.c - software pipelining of global -> shared copies, and batching of the other copies.
 *
 * A loop `for {stages = S}` (S >= 2) whose body starts by copying tiles into shared buffers, then
 * passes a barrier, then reads them:
 *
 *   for i { copy(A, f(i), buf); ...; barrier; ... load_shared(buf) ...; [barrier] }
 *
 * becomes a pipeline that keeps S-1 copies in flight while it computes on the oldest:
 *
 *   buf_0 .. buf_{S-1}                                   (S buffers: buf and S-1 clones)
 *   copy(A, f(lo + s*step), buf_s, lo + s*step < hi) {async = 1}   for s = 0 .. S-2
 *                                     (S >= 3: a loop over s, rotating the buffers like the main one)
 *   for i, (cur_0 .. cur_{S-1}) = (buf_0 .. buf_{S-1}) {
 *     async_wait {pending = (S-2) * copies}; barrier     (iteration i's copies are complete)
 *     copy(A, f(i + (S-1)*step), cur_{S-1}, i + (S-1)*step < hi) {async = 1}
 *     ... load_shared(cur_0) ...                         (the body, reading the oldest stage)
 *     yield ..., cur_1 .. cur_{S-1}, cur_0               (rotate the stages)
 *   }
 *   async_wait {pending = 0}; barrier
 *
 * Every copy commits one group of asynchronous copies (codegen), so waiting until at most
 * (S-2) * copies groups are pending completes exactly iteration i's copies. A copy past the end is
 * issued with a false predicate (it reads nothing and fills the stage with its pad) so that the
 * group count stays the same in every iteration. The copy for i + S-1 goes into the stage read in
 * iteration i-1, which every thread has left at the barrier at the top of iteration i: a barrier
 * that ended the body only to protect the buffers from the next iteration's copies is dropped.
 * The loop's copies must be recomputable from the induction variable and loop-invariant values by
 * pure ops, and their buffers used only by this loop and only after its first barrier; copies that
 * do not qualify stay where they are. A loop without such copies is left alone (`stages` is a hint).
 * A loop whose warpgroup MMA stays in flight across iterations (a dot `inflight = 1`: the wgmma pass,
 * for loops {inflight = 1} with S >= 3) still has its group of iteration i-1 reading stage i-1 while
 * iteration i starts: there the copies run S-2 iterations ahead instead of S-1, the prologue issues
 * iterations 0 .. S-3, and iteration i refills the stage iteration i-2 read (every thread's wait at
 * the end of iteration i-1 completed that group, and the barrier at the top of iteration i orders
 * those waits before the copies).
 * On a target without cp.async (sm_75) a copy completes in the issuing thread, so a stage ahead
 * would only hold shared memory: the loop keeps its one buffer and gets only the barrier after it
 * (every thread out of the buffers, as after a pipelined loop, so that later scratch may reuse them).
 *
 * A loop {tma = 1} on a row with TMA whose copies all qualify (tma_copy_ok) gets the same ring with
 * TMA boxes instead of cp.async: an mbarrier per copy and stage, initialised before the loop and
 * rotated with the buffers; the copies {tma = 1} take the predicate and their stage's mbarrier; the
 * top of the body waits on stage 0's mbarriers (mbar_wait, parity ((iv - lo) / step / S) & 1)
 * instead of async_wait; after the loop the mbarriers are invalidated before the last barrier.
 * Where the body does nothing else with shared memory (release_ok), the body's barrier goes: each
 * stage gets a release mbarrier (count: the block's threads), every thread arrives on it once its
 * reads of the stage are complete (arrive_release), and the lane that issues the boxes waits for the
 * release before refilling the stage (await_release); after the loop a barrier comes first.
 * A loop {ws = 1} with release mbarriers, an op of the kernel's body, gets no prologue and no issue
 * in its body: the kernel splits there (warp_split, ws_split) into a producer warpgroup that runs a
 * loop of its own issuing every iteration's boxes once the consumers released the stage, and the
 * kernel's warps, which run the loop without copies and the rest of the kernel (docs/hopper.md,
 * "Warp specialisation"). Such a loop in the body of a loop of the kernel's body (a persistent
 * kernel's loop over tiles) splits the kernel at that outer loop instead: the ring, its count of
 * iterations and its mbarriers live across the outer loop's iterations, and the producer runs a
 * copy of the outer loop around its own (docs/hopper.md, "Persistent tiles").
 * A `store {tma = 1}` of the kernel's body or its loops becomes store_shared into a staging buffer
 * and store_tma (tma_stores_in), and a `copy {by_tma = 1}` of it TMA boxes on an mbarrier of its own
 * (tma_copies). docs/hopper.md, "The ring by TMA" and "Attention by TMA".
 * Copies outside pipelined loops complete in the issuing thread (codegen waits for them) unless
 * they are batched: a run of copies followed by a barrier, with only computation between, is
 * marked async and one `async_wait {pending = 0}` goes before the barrier, so the copies overlap.
 */
#include <string.h>

#include "pass.h"

typedef struct {
  ir_func *fn;
  ir_arena *A;
  ir_opid loop;
  ir_reg body;
  ir_val iv;
  int stages;
  int ahead;         /* iterations whose copies are in flight ahead of the one computing: stages - 1, or
                        stages - 2 where a warpgroup MMA group stays in flight (its stage is not refilled
                        in the next iteration) */
  ir_opid barrier;   /* the body's first top-level barrier */
  ir_opid last_read; /* release: the body's last op that reads the stages */
  ir_val index;      /* tma: the iteration's index (iv - lo) / step, computed once by wait_stage */
  ir_opid copy[16];  /* the copies being pipelined */
  int ncopy;
  int tma;        /* 1: the copies become TMA boxes completing on an mbarrier per copy and stage */
  int release;    /* tma, and the stages go back to the copies through an mbarrier per stage that
                     every thread arrives on once it has read the stage (release_ok): no barrier */
  int nrot;       /* values rotated per stage: the copies' buffers, then (tma) their mbarriers, then
                     (release) the stage's release mbarrier */
  int ws;         /* release, and the loop {ws = 1} splits the block (ws_ok): a producer warpgroup issues
                     the boxes in a loop of its own, the kernel's warps consume them */
  ir_opid outer;  /* ws: the loop of the kernel's body whose body holds this one (a persistent kernel's
                     loop over tiles), or 0: the ring then lives across it (ws_ok) */
  uint8_t *oneed; /* outer: per op of its body, in the slice the producer recomputes (outer_ok) */
  ir_val *base;   /* the producer of an outer loop: the map entries each issue() starts from (the
                     clones of outer's slice) */
  ir_val count;   /* outer: the consumers' loop's carried iteration count, the ring's across tiles */
  uint8_t *need;  /* per op (below nops): in the slice that recomputes the copies' operands */
  uint32_t nops;
  ir_val *map; /* per original value: its clone in the stage being built */
  uint32_t nvals;
} loop_ctx;

/* The top-level op of the body that holds op (op itself, or the op whose regions enclose it). */
static ir_opid top_of(ir_func *fn, ir_opid op, ir_reg body) {
  while (op && ir_o(fn, op)->parent != body) op = ir_r(fn, ir_o(fn, op)->parent)->parent_op;
  return op;
}

/* Position of a top-level op in the body. */
static int index_in(ir_func *fn, ir_reg body, ir_opid op) {
  int i = 0;
  for (ir_opid x = ir_r(fn, body)->first; x; x = ir_o(fn, x)->next, i++)
    if (x == op) return i;
  return -1;
}

/* ---- which copies qualify ---- */

/* 1 if v can be recomputed outside the body's order: defined outside the loop, the induction
 * variable, or a pure top-level op of the body whose operands can. Marks the ops in lc->need. */
static int recomputable(loop_ctx *lc, ir_val v) {
  ir_func *fn = lc->fn;
  if (v == lc->iv || !ir_region_encloses(fn, lc->body, ir_val_region(fn, v))) return 1;
  ir_opid d = ir_v(fn, v)->def;
  if (!d || ir_o(fn, d)->parent != lc->body || ir_o(fn, d)->nregion ||
      !(ir_opinfo_table[ir_o(fn, d)->code].flags & IR_F_PURE))
    return 0;
  for (uint32_t k = 0; k < ir_o(fn, d)->nopnd; k++)
    if (!recomputable(lc, ir_o(fn, d)->opnd[k])) return 0;
  lc->need[d] = 1;
  return 1;
}

/* 1 if the buffer of copy c is an alloc_shared outside the loop that only this copy writes and
 * whose other uses are region-free ops of the body after its first barrier. */
static int buffer_ok(loop_ctx *lc, ir_opid c, ir_val buf) {
  ir_func *fn = lc->fn;
  ir_opid def = ir_v(fn, buf)->def;
  if (!def || ir_o(fn, def)->code != IR_OP_ALLOC_SHARED ||
      ir_region_encloses(fn, lc->body, ir_o(fn, def)->parent))
    return 0;
  int first_read = index_in(fn, lc->body, lc->barrier);
  for (ir_opid op = 1; op < fn->nops; op++) {
    ir_op *o = ir_o(fn, op);
    if (o->dead || op == c) continue;
    for (uint32_t k = 0; k < o->nopnd; k++) {
      if (o->opnd[k] != buf) continue;
      if (!ir_region_encloses(fn, lc->body, o->parent) || o->nregion || o->code == IR_OP_COPY ||
          o->code == IR_OP_STORE_SHARED || o->code == IR_OP_YIELD)
        return 0;
      if (index_in(fn, lc->body, top_of(fn, op, lc->body)) <= first_read) return 0;
    }
  }
  return 1;
}

/* Collects the body's qualifying copies (before its first barrier); 0 if there are none. */
static int find_copies(loop_ctx *lc) {
  ir_func *fn = lc->fn;
  for (ir_opid op = ir_r(fn, lc->body)->first; op; op = ir_o(fn, op)->next)
    if (ir_o(fn, op)->code == IR_OP_BARRIER) {
      lc->barrier = op;
      break;
    }
  if (!lc->barrier) return 0;
  uint8_t *saved = ir_alloc(lc->A, lc->nops);
  for (ir_opid op = ir_r(fn, lc->body)->first; op != lc->barrier; op = ir_o(fn, op)->next) {
    ir_op *o = ir_o(fn, op);
    ir_val buf = o->nopnd ? o->opnd[o->nopnd - 1] : 0;
    if (o->code != IR_OP_COPY || ir_vtype(fn, buf).kind != IR_TSMEM || ir_attr_i(o->attrs, "async", 0) ||
        lc->ncopy == (int)(sizeof lc->copy / sizeof lc->copy[0]))
      continue;
    memcpy(saved, lc->need, lc->nops);
    int ok = buffer_ok(lc, op, buf);
    for (uint32_t k = 0; ok && k + 1 < o->nopnd; k++) ok = recomputable(lc, o->opnd[k]);
    if (ok)
      lc->copy[lc->ncopy++] = op;
    else
      memcpy(lc->need, saved, lc->nops); /* forget the slice of a copy that stays */
  }
  return lc->ncopy > 0;
}

/* ---- which loops take TMA ---- */

/* 1 if copy c can be TMA boxes (codegen/lower_memory.c, copy_tma): a view a tensor map describes,
 * no pad but zero, into a warpgroup-MMA operand buffer laid out as the boxes leave it. */
static int tma_copy_ok(ir_func *fn, ir_opid c) {
  ir_op *o = ir_o(fn, c);
  ir_opid bd = ir_v(fn, o->opnd[o->nopnd - 1])->def;
  ir_attr *pad = ir_attr_get(o->attrs, "pad");
  if (!bd || ir_o(fn, bd)->code != IR_OP_ALLOC_SHARED || !ir_tma_view_ok(fn, o->opnd[0])) return 0;
  if (pad && !((pad->kind == IR_AINT && pad->i == 0) || (pad->kind == IR_AFLOAT && pad->f == 0))) return 0;
  ir_attr *ba = ir_o(fn, bd)->attrs;
  return ir_tma_buffer_ok(ir_vtype(fn, ir_o(fn, bd)->res[0]), ir_attr_i(ba, "swizzle", 0),
                          (int)ir_attr_i(ba, "wgmma", 0));
}

/* ---- building ---- */

static void copy_attrs(ir_func *fn, ir_opid from, ir_opid to, const char *skip) {
  for (ir_attr *a = ir_o(fn, from)->attrs; a; a = a->next) {
    if (skip && !strcmp(a->key, skip)) continue;
    if (a->kind == IR_AINT)
      ir_attr_set_i(fn->A, &ir_o(fn, to)->attrs, a->key, a->i);
    else if (a->kind == IR_AFLOAT)
      ir_attr_set_f(fn->A, &ir_o(fn, to)->attrs, a->key, a->f);
    else if (a->kind == IR_ASTR)
      ir_attr_set_s(fn->A, &ir_o(fn, to)->attrs, a->key, a->s);
    else
      ir_attr_set_list(fn->A, &ir_o(fn, to)->attrs, a->key, a->list, a->nlist);
  }
}

static ir_val mapped(loop_ctx *lc, ir_val v) { return v < lc->nvals && lc->map[v] ? lc->map[v] : v; }

/* Clones op at b with its operands mapped; maps its results. */
static ir_opid clone(loop_ctx *lc, ir_builder *b, ir_opid op, const ir_val *extra, uint32_t nextra) {
  ir_func *fn = lc->fn;
  ir_op *o = ir_o(fn, op);
  uint32_t n = o->nopnd, nres = o->nres;
  ir_val *opnd = ir_alloc(lc->A, (n + nextra + 1) * sizeof *opnd);
  ir_type *rt = ir_alloc(lc->A, (nres + 1) * sizeof *rt);
  for (uint32_t k = 0; k < n; k++) opnd[k] = mapped(lc, o->opnd[k]);
  for (uint32_t k = 0; k < nextra; k++) opnd[n + k] = extra[k];
  for (uint32_t k = 0; k < nres; k++) rt[k] = ir_vtype(fn, o->res[k]);
  b->file = o->file, b->line = o->line;
  ir_opid c = ir_build(b, (ir_opcode)ir_o(fn, op)->code, opnd, n + nextra, rt, nres, 0);
  copy_attrs(fn, op, c, NULL);
  for (uint32_t k = 0; k < nres; k++) lc->map[ir_o(fn, op)->res[k]] = ir_o(fn, c)->res[k];
  return c;
}

/* lo + k * step (k >= 0) in the bounds' type. */
static ir_val iter_value(ir_builder *b, ir_val base, ir_val step, int k) {
  if (!k) return base;
  if (k == 1) return ir_b_binary(b, IR_OP_ADD, base, step);
  ir_val c = ir_b_const_i(b, ir_vtype(b->fn, step), k);
  return ir_b_binary(b, IR_OP_ADD, base, ir_b_binary(b, IR_OP_MUL, step, c));
}

/* At b: the copies of the iteration whose induction variable is `at`, into dst[j], predicated on
 * at < hi, async. Recomputes the slice with iv = at. */
static void issue(loop_ctx *lc, ir_builder *b, ir_val at, const ir_val *dst, const ir_val *bar) {
  ir_func *fn = lc->fn;
  ir_op *f = ir_o(fn, lc->loop);
  ir_val hi = f->opnd[1];
  if (lc->base)
    memcpy(lc->map, lc->base, lc->nvals * sizeof *lc->map);
  else
    memset(lc->map, 0, lc->nvals * sizeof *lc->map);
  lc->map[lc->iv] = at;
  ir_val pred = ir_b_cmp(b, "lt", at, mapped(lc, hi));
  uint32_t n = 0;
  ir_opid *slice = ir_alloc(lc->A, (lc->nops + 1) * sizeof *slice);
  for (ir_opid op = ir_r(fn, lc->body)->first; op; op = ir_o(fn, op)->next)
    if (op < lc->nops && lc->need[op]) slice[n++] = op;
  for (uint32_t i = 0; i < n; i++) clone(lc, b, slice[i], NULL, 0);
  for (int j = 0; j < lc->ncopy; j++) {
    lc->map[ir_o(fn, lc->copy[j])->opnd[ir_o(fn, lc->copy[j])->nopnd - 1]] = dst[j];
    ir_val extra[2] = {pred, lc->tma ? bar[j] : 0};
    ir_opid c = clone(lc, b, lc->copy[j], extra, lc->tma ? 2 : 1);
    ir_op_set_i(fn, c, lc->tma ? "tma" : "async", 1);
  }
}

/* More groups in flight than async_wait can name: waiting for more of them is still correct, it only
 * overlaps less. */
static void wait_and_barrier(ir_builder *b, int pending, int barrier) {
  if (pending > IR_MAX_PENDING) pending = IR_MAX_PENDING;
  ir_opid w = ir_build(b, IR_OP_ASYNC_WAIT, NULL, 0, NULL, 0, 0);
  ir_op_set_i(b->fn, w, "pending", pending);
  if (barrier) ir_build(b, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
}

/* A builder right after op, with op's position. */
static ir_builder builder_after(ir_func *fn, ir_opid op) {
  ir_opid after = ir_o(fn, op)->next;
  ir_builder b = after ? ir_builder_before(fn, after) : ir_builder_at_end(fn, ir_o(fn, op)->parent);
  b.file = ir_o(fn, op)->file, b.line = ir_o(fn, op)->line;
  return b;
}

/* Loop op again with the n values vals appended to its carried values (region arguments appended
 * to its body, which moves over, and results); returns the new op. */
static ir_opid grow_for(loop_ctx *lc, ir_opid loop, const ir_val *vals, int extra) {
  ir_func *fn = lc->fn;
  uint32_t n = ir_o(fn, loop)->nopnd, nres = ir_o(fn, loop)->nres;
  ir_reg body = ir_o(fn, loop)->region[0];
  ir_val *opnd = ir_alloc(lc->A, (n + (uint32_t)extra) * sizeof *opnd);
  ir_type *rt = ir_alloc(lc->A, (nres + (uint32_t)extra + 1) * sizeof *rt);
  memcpy(opnd, ir_o(fn, loop)->opnd, n * sizeof *opnd);
  memcpy(opnd + n, vals, (size_t)extra * sizeof *opnd);
  for (uint32_t k = 0; k < nres; k++) rt[k] = ir_vtype(fn, ir_o(fn, loop)->res[k]);
  for (int k = 0; k < extra; k++) rt[nres + k] = ir_vtype(fn, vals[k]);
  ir_builder b = ir_builder_before(fn, loop);
  ir_opid g = ir_build(&b, IR_OP_FOR, opnd, n + (uint32_t)extra, rt, nres + (uint32_t)extra, 1);
  copy_attrs(fn, loop, g, NULL);
  ir_reg empty = ir_o(fn, g)->region[0];
  ir_o(fn, g)->region[0] = body;
  ir_o(fn, loop)->region[0] = empty;
  ir_r(fn, body)->parent_op = g;
  ir_r(fn, empty)->parent_op = loop;
  for (uint32_t k = 0; k < nres; k++) ir_replace_all_uses(fn, ir_o(fn, loop)->res[k], ir_o(fn, g)->res[k]);
  ir_op_unlink(fn, loop);
  for (int k = 0; k < extra; k++) ir_region_add_arg(fn, body, rt[nres + k]);
  return g;
}

/* Appends vals to the yield that ends region r. */
static void yield_more(loop_ctx *lc, ir_reg r, const ir_val *vals, int n) {
  ir_op *yo = ir_o(lc->fn, ir_r(lc->fn, r)->last);
  ir_val *ys = ir_alloc(lc->fn->A, (yo->nopnd + (uint32_t)n + 1) * sizeof *ys);
  memcpy(ys, yo->opnd, yo->nopnd * sizeof *ys);
  memcpy(ys + yo->nopnd, vals, (size_t)n * sizeof *ys);
  yo->opnd = ys;
  yo->nopnd += (uint32_t)n;
}

/* Drops the body's last barrier when it only kept the next iteration's copies off the buffers:
 * it is the last op before the yield and the body writes shared memory only through the
 * pipelined copies. */
static int writes_shared(ir_func *fn, ir_reg r) {
  for (ir_opid op = ir_r(fn, r)->first; op; op = ir_o(fn, op)->next) {
    ir_op *o = ir_o(fn, op);
    if (o->code == IR_OP_STORE_SHARED || (o->code == IR_OP_COPY && !ir_attr_i(o->attrs, "async", 0)))
      return 1;
    for (int i = 0; i < o->nregion; i++)
      if (writes_shared(fn, o->region[i])) return 1;
  }
  return 0;
}

static void drop_trailing_barrier(loop_ctx *lc) {
  ir_func *fn = lc->fn;
  ir_opid y = ir_r(fn, lc->body)->last, prev = y ? ir_o(fn, y)->prev : 0;
  if (prev && prev != lc->barrier && ir_o(fn, prev)->code == IR_OP_BARRIER && !writes_shared(fn, lc->body))
    ir_op_unlink(fn, prev);
}

/* A loop at b over [lo, hi) by step carrying an iteration count (where count0, its first value, is
 * not 0) and the S stages of each rotated value (bufs, stage s of value j at j * S + s): *in builds
 * its body, *iv is its induction variable, *count the count, dst[j] stage 0 of value j inside it.
 * end_stage_loop closes the body with count_next and the stages rotated (stage s <- s + 1). */
static ir_opid stage_loop(loop_ctx *lc, ir_builder *b, ir_val lo, ir_val hi, ir_val step, ir_val count0,
                          const ir_val *bufs, ir_builder *in, ir_val *iv, ir_val *count, ir_val *dst) {
  ir_func *fn = lc->fn;
  int S = lc->stages, m = lc->nrot, c = count0 != 0, n = S * m + c;
  ir_type it = ir_vtype(fn, lo), *rt = ir_alloc(lc->A, (size_t)n * sizeof *rt);
  ir_val *opnd = ir_alloc(lc->A, (size_t)(n + 3) * sizeof *opnd);
  opnd[0] = lo, opnd[1] = hi, opnd[2] = step;
  if (c) opnd[3] = count0;
  for (int k = 0; k < S * m; k++) opnd[3 + c + k] = bufs[k];
  for (int k = 0; k < n; k++) rt[k] = ir_vtype(fn, opnd[3 + k]);
  ir_opid p = ir_build(b, IR_OP_FOR, opnd, (uint32_t)n + 3, rt, (uint32_t)n, 1);
  ir_reg r = ir_o(fn, p)->region[0];
  *iv = ir_region_add_arg(fn, r, it);
  for (int k = 0; k < n; k++) ir_region_add_arg(fn, r, rt[k]);
  *in = ir_builder_at_end(fn, r);
  in->file = b->file, in->line = b->line;
  if (c) *count = ir_r(fn, r)->args[1];
  for (int j = 0; j < m; j++) dst[j] = ir_r(fn, r)->args[1 + c + j * S];
  return p;
}

static void end_stage_loop(loop_ctx *lc, ir_opid p, ir_builder *in, ir_val count_next) {
  ir_func *fn = lc->fn;
  int S = lc->stages, c = count_next != 0, n = S * lc->nrot + c;
  ir_reg r = ir_o(fn, p)->region[0];
  ir_val *ys = ir_alloc(lc->A, (size_t)n * sizeof *ys);
  if (c) ys[0] = count_next;
  for (int j = 0; j < lc->nrot; j++)
    for (int s = 0; s < S; s++) ys[c + j * S + s] = ir_r(fn, r)->args[1 + c + j * S + (s + 1) % S];
  ir_build(in, IR_OP_YIELD, ys, (uint32_t)n, NULL, 0, 0);
}

/* Issues iterations 0 .. A-1 (A = lc->ahead) at b into stages 0 .. A-1. With A >= 2 that is a loop
 * of its own, rotating the stages like the main loop (one instance of the copies' code rather than
 * A); bufs then becomes its results rotated back, the main loop's initial stages. */
static void prologue(loop_ctx *lc, ir_builder *b, ir_val *bufs) {
  ir_func *fn = lc->fn;
  int S = lc->stages, A = lc->ahead, m = lc->nrot;
  ir_val lo = ir_o(fn, lc->loop)->opnd[0], step = ir_o(fn, lc->loop)->opnd[2];
  ir_val *dst = ir_alloc(lc->A, (size_t)m * sizeof *dst);
  for (int j = 0; j < m; j++) dst[j] = bufs[j * S];
  if (A == 1) {
    issue(lc, b, lo, dst, dst + lc->ncopy);
    return;
  }
  ir_type it = ir_vtype(fn, lo);
  ir_val zero = ir_b_const_i(b, it, 0), count = ir_b_const_i(b, it, A), one = ir_b_const_i(b, it, 1), s;
  ir_builder in;
  ir_opid p = stage_loop(lc, b, zero, count, one, 0, bufs, &in, &s, NULL, dst);
  issue(lc, &in, ir_b_binary(&in, IR_OP_ADD, lo, ir_b_binary(&in, IR_OP_MUL, s, step)), dst, dst + lc->ncopy);
  end_stage_loop(lc, p, &in, 0);
  for (int j = 0; j < m; j++) /* after A rotations result q holds stage q + A */
    for (int q = 0; q < S; q++) bufs[j * S + q] = ir_res(fn, p, j * S + (q + S - A) % S);
}

/* S buffers per copy: bufs[j * S + s], the copy's own buffer (orig[j]) and S-1 clones before the
 * loop. */
static void make_stages(loop_ctx *lc, ir_builder *b, ir_val *bufs, ir_val *orig) {
  ir_func *fn = lc->fn;
  int S = lc->stages;
  for (int j = 0; j < lc->ncopy; j++) {
    ir_val buf = orig[j] = bufs[j * S] = ir_o(fn, lc->copy[j])->opnd[ir_o(fn, lc->copy[j])->nopnd - 1];
    ir_type t = ir_vtype(fn, buf);
    for (int s = 1; s < S; s++) {
      ir_opid a = ir_build(b, IR_OP_ALLOC_SHARED, NULL, 0, &t, 1, 0);
      copy_attrs(fn, ir_v(fn, buf)->def, a, "offset");
      bufs[j * S + s] = ir_res(fn, a, 0);
    }
  }
  if (!lc->tma) return;
  /* an mbarrier per copy and stage, initialised (one arrival: the thread that issues the boxes)
   * and made visible to every thread before the first copy */
  uint32_t one = 1;
  ir_type bt = ir_t_smem(IR_I64, 1, &one);
  for (int j = lc->ncopy; j < lc->nrot; j++)
    for (int s = 0; s < S; s++) {
      bufs[j * S + s] = ir_res(fn, ir_build(b, IR_OP_ALLOC_SHARED, NULL, 0, &bt, 1, 0), 0);
      ir_opid init = ir_build(b, IR_OP_MBAR_INIT, &bufs[j * S + s], 1, NULL, 0, 0);
      if (j == 2 * lc->ncopy) /* the release mbarrier: every thread of the block arrives */
        ir_op_set_i(fn, init, "count", 32 * ir_attr_i(fn->attrs, "warps", 4));
    }
  ir_build(b, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
}

/* Stage s of copy j inside the rebuilt loop's body. */
static ir_val stage_arg(loop_ctx *lc, int j, int s) {
  ir_region *body = ir_r(lc->fn, lc->body);
  return body->args[body->nargs - (uint32_t)(lc->stages * lc->nrot) + (uint32_t)(j * lc->stages + s)];
}

/* The body reads stage 0 wherever it read the copy's buffer. */
static void read_oldest(loop_ctx *lc, const ir_val *orig) {
  ir_func *fn = lc->fn;
  for (int j = 0; j < lc->ncopy; j++) {
    ir_val cur = stage_arg(lc, j, 0);
    for (ir_opid op = 1; op < fn->nops; op++) {
      ir_op *o = ir_o(fn, op);
      if (o->dead || op == lc->copy[j] || !ir_region_encloses(fn, lc->body, o->parent)) continue;
      for (uint32_t k = 0; k < o->nopnd; k++)
        if (o->opnd[k] == orig[j]) o->opnd[k] = cur;
    }
  }
}

/* Right after the body's first barrier: the copies of iteration i + A into stage A (A = lc->ahead:
 * S-1, the stage iteration i-1 read, which every thread has left at that barrier; or S-2, the one
 * iteration i-2 read, whose warpgroup MMA group every thread completed in iteration i-1, when i-1's
 * group is still in flight), so that they are in flight during this iteration's work; the stages
 * rotate in the yield. */
static void await_release(loop_ctx *lc, ir_builder *b);

/* The body's yield rotates the stages: stage s of the next iteration is this one's s + 1. */
static void rotate_stages(loop_ctx *lc) {
  ir_func *fn = lc->fn;
  int S = lc->stages, m = lc->nrot;
  ir_opid y = ir_r(fn, lc->body)->last;
  ir_op *yo = ir_o(fn, y);
  ir_val *ys = ir_alloc(fn->A, (yo->nopnd + (uint32_t)(S * m) + 1) * sizeof *ys);
  memcpy(ys, yo->opnd, yo->nopnd * sizeof *ys);
  for (int j = 0; j < m; j++)
    for (int s = 0; s < S; s++) ys[yo->nopnd + (uint32_t)(j * S + s)] = stage_arg(lc, j, (s + 1) % S);
  yo->opnd = ys;
  yo->nopnd += (uint32_t)(S * m);
}

static void issue_next(loop_ctx *lc) {
  ir_func *fn = lc->fn;
  int A = lc->ahead, m = lc->nrot;
  ir_builder end = ir_builder_before(fn, ir_o(fn, lc->barrier)->next);
  ir_val *dst = ir_alloc(lc->A, (size_t)m * sizeof *dst);
  for (int j = 0; j < m; j++) dst[j] = stage_arg(lc, j, A);
  if (lc->release) await_release(lc, &end);
  issue(lc, &end, iter_value(&end, lc->iv, ir_o(fn, lc->loop)->opnd[2], A), dst, dst + lc->ncopy);
  rotate_stages(lc);
}

/* The iteration's index (iv - lo) / step. */
static ir_val iteration(loop_ctx *lc, ir_builder *b) {
  /* the operands first: building may move the op table */
  ir_val lo = ir_o(lc->fn, lc->loop)->opnd[0], step = ir_o(lc->fn, lc->loop)->opnd[2];
  return ir_b_binary(b, IR_OP_DIV, ir_b_binary(b, IR_OP_SUB, lc->iv, lo), step);
}

/* (phase + add) & 1 as the i32 an mbar_wait takes. */
static ir_val parity_of(loop_ctx *lc, ir_builder *b, ir_val phase, int add) {
  ir_type it = ir_vtype(lc->fn, phase);
  if (add) phase = ir_b_binary(b, IR_OP_ADD, phase, ir_b_const_i(b, it, add));
  ir_val parity = ir_b_binary(b, IR_OP_AND, phase, ir_b_const_i(b, it, 1));
  if (it.elem != IR_I32) {
    ir_type i32 = ir_t_scalar(IR_I32);
    parity = ir_res(lc->fn, ir_build(b, IR_OP_CAST, &parity, 1, &i32, 1, 0), 0);
  }
  return parity;
}

/* TMA: every thread waits for the stage it reads: iteration i = (iv - lo) / step (the ring's count
 * across an outer loop's iterations, lc->count, where it lives across them) reads the stage
 * whose mbarriers complete their phase i / S there (stage buffers rotate with period S), so it waits
 * for parity (i / S) % 2 on each copy's mbarrier of stage 0. */
static void wait_stage(loop_ctx *lc, ir_builder *b) {
  ir_val i = lc->index = lc->count ? lc->count : iteration(lc, b);
  ir_val phase = ir_b_binary(b, IR_OP_DIV, i, ir_b_const_i(b, ir_vtype(lc->fn, i), lc->stages));
  ir_val parity = parity_of(lc, b, phase, 0);
  for (int j = 0; j < lc->ncopy; j++) {
    ir_val opnd[2] = {stage_arg(lc, lc->ncopy + j, 0), parity};
    ir_build(b, IR_OP_MBAR_WAIT, opnd, 2, NULL, 0, 0);
  }
}

/* Release: before iteration i refills stage A (lc->ahead), the lane that issues the boxes waits
 * until every thread has released it. That stage was last read in iteration r = i + A - S, the
 * (r / S)-th read of its buffer, which completes phase r / S of its release mbarrier: parity
 * (r / S) & 1 = ((i + A) / S + 1) & 1, with i + A >= 0 so that the division rounds down. For
 * r < 0 (the buffer not read yet) that is parity 1 on a fresh mbarrier, whose phase "before the
 * first" counts as complete: no wait. */
static void await_release(loop_ctx *lc, ir_builder *b) {
  ir_val i = lc->index; /* wait_stage's, at the top of the body */
  ir_type it = ir_vtype(lc->fn, i);
  /* one op at a time: the order of a call's arguments is the C compiler's, the IR's must not be */
  ir_val ia = ir_b_binary(b, IR_OP_ADD, i, ir_b_const_i(b, it, lc->ahead));
  ir_val q = ir_b_binary(b, IR_OP_DIV, ia, ir_b_const_i(b, it, lc->stages));
  ir_val opnd[2] = {stage_arg(lc, 2 * lc->ncopy, lc->ahead), parity_of(lc, b, q, 1)};
  ir_opid w = ir_build(b, IR_OP_MBAR_WAIT, opnd, 2, NULL, 0, 0);
  ir_op_set_i(lc->fn, w, "elected", 1);
}

/* Release: every thread arrives on the release mbarrier of the stage whose reads have completed,
 * after the body's last op that reads the stages: stage 0 (read in this iteration), or, where
 * the dot's group stays in flight (ahead = S-2), stage S-1, read in the previous iteration, whose
 * group this iteration's dot completed (from the second iteration on). */
static void arrive_release(loop_ctx *lc, ir_opid last_read) {
  ir_func *fn = lc->fn;
  ir_builder b = builder_after(fn, last_read);
  int S = lc->stages, inflight = lc->ahead == S - 2;
  ir_val opnd[2] = {stage_arg(lc, 2 * lc->ncopy, inflight ? S - 1 : 0), 0};
  if (inflight) opnd[1] = ir_b_cmp(&b, "ne", lc->iv, ir_o(fn, lc->loop)->opnd[0]);
  ir_build(&b, IR_OP_MBAR_ARRIVE, opnd, inflight ? 2 : 1, NULL, 0, 0);
}

/* Whether a TMA loop's stages can be released by mbarrier instead of the body's barrier: the body
 * (top level) holds only the pipelined copies, the barrier after them, perhaps a last barrier
 * before the yield (dropped, drop_trailing_barrier), load_shared (of the stages, or of buffers
 * nothing in the body writes: nothing else in it writes shared memory), warpgroup MMA dots, and
 * pure ops without regions, scalars or tiles (attention's softmax): nothing else that writes shared
 * memory, which the barrier may have been ordering too. Tile ops that go through scratch
 * (reductions across warps, layout conversions) bracket each use with barriers of their own
 * (codegen/lower_layout.c), past the planned buffers, so they need no barrier of the loop's; an
 * mma.sync dot reading a stage would read it outside the warpgroup MMAs' proxy, and stays out.
 * Returns the last op that reads the stages (0: no release). */
static ir_opid release_ok(const loop_ctx *lc) {
  ir_func *fn = lc->fn;
  ir_opid last = 0, y = ir_r(fn, lc->body)->last;
  for (ir_opid op = ir_r(fn, lc->body)->first; op; op = ir_o(fn, op)->next) {
    ir_op *o = ir_o(fn, op);
    int ok = 0;
    for (int j = 0; j < lc->ncopy; j++) ok |= lc->copy[j] == op;
    if (o->code == IR_OP_BARRIER) ok = op == lc->barrier || o->next == y;
    if (o->code == IR_OP_YIELD) ok = 1;
    if (o->code == IR_OP_DOT) ok = ir_attr_i(o->attrs, "wgmma", 0) != 0, last = op; /* no scratch */
    if (o->code == IR_OP_LOAD_SHARED) {
      int stage = 0;
      for (int j = 0; j < lc->ncopy; j++)
        stage |= ir_o(fn, lc->copy[j])->opnd[ir_o(fn, lc->copy[j])->nopnd - 1] == o->opnd[0];
      ok = 1;
      if (stage) last = op;
    } else if ((ir_opinfo_table[o->code].flags & IR_F_PURE) && !o->nregion && o->code != IR_OP_DOT) {
      ok = 1;
    }
    if (!ok) return 0;
  }
  return last;
}

/* ---- warp specialisation (a loop {ws = 1}) ---- */

static int has_tile(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  for (uint32_t k = 0; k < o->nopnd; k++)
    if (ir_vtype(fn, o->opnd[k]).kind == IR_TTILE) return 1;
  for (uint32_t k = 0; k < o->nres; k++)
    if (ir_vtype(fn, o->res[k]).kind == IR_TTILE) return 1;
  return 0;
}

/* 1 if top-level op stays outside the split, run by every thread of the block: a shared buffer, or
 * a pure op without regions or tiles (ids, offsets, views). Anything else (a tile, which the
 * producer warps hold no part of; loads, stores, barriers) moves to the consumers. */
static int ws_stays(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  if (o->code == IR_OP_ALLOC_SHARED) return 1;
  return (ir_opinfo_table[o->code].flags & IR_F_PURE) && !o->nregion && !has_tile(fn, op);
}

/* Outer (lc->outer): 1 if the producer can recompute v in its own copy of the outer loop: v is
 * defined outside it by an op that stays (ws_stays) or is an argument, is its induction variable, or
 * comes from a top-level op of its body that would stay (pure, no regions, no tiles) whose operands
 * can. Marks those ops in lc->oneed. */
static int outer_ok(loop_ctx *lc, ir_val v) {
  ir_func *fn = lc->fn;
  ir_reg ob = ir_o(fn, lc->outer)->region[0];
  ir_opid d = ir_v(fn, v)->def;
  if (!ir_region_encloses(fn, ob, ir_val_region(fn, v))) return !d || ws_stays(fn, d);
  if (v == ir_r(fn, ob)->args[0]) return 1;
  if (!d || ir_o(fn, d)->parent != ob || !ws_stays(fn, d) || ir_o(fn, d)->code == IR_OP_ALLOC_SHARED)
    return 0;
  if (lc->oneed[d]) return 1;
  for (uint32_t k = 0; k < ir_o(fn, d)->nopnd; k++)
    if (!outer_ok(lc, ir_o(fn, d)->opnd[k])) return 0;
  lc->oneed[d] = 1;
  return 1;
}

/* Whether the loop can be warp-specialised: it asks ({ws = 1}), its copies are a TMA ring released
 * by mbarriers, the block has room for 4 more warps, and the loop is an op of the kernel's body or
 * of the body of a loop that is (`outer`: a persistent kernel's loop over tiles), the first to split
 * the kernel. Every op before the split (the loop, or outer) that stays (ws_stays) uses only values
 * that stay too, and so do the split loop's bounds, so that the producer's loop can recompute the
 * copies from them; inside outer, what the copies and the loop's bounds read is recomputed from
 * outer's induction variable (outer_ok). */
static int ws_ok(loop_ctx *lc) {
  ir_func *fn = lc->fn;
  if (!ir_attr_i(ir_o(fn, lc->loop)->attrs, "ws", 0) || !lc->release ||
      ir_attr_i(fn->attrs, "warps", 4) + 4 > IR_MAX_WARPS)
    return 0;
  ir_opid top = lc->loop;
  if (ir_o(fn, lc->loop)->parent != fn->body) {
    ir_opid t = ir_r(fn, ir_o(fn, lc->loop)->parent)->parent_op;
    if (!t || ir_o(fn, t)->code != IR_OP_FOR || ir_o(fn, t)->parent != fn->body) return 0;
    top = lc->outer = t;
  }
  for (ir_opid op = ir_r(fn, fn->body)->first; op; op = ir_o(fn, op)->next)
    if (ir_o(fn, op)->code == IR_OP_WARP_SPLIT) return 0;
  for (ir_opid op = ir_r(fn, fn->body)->first; op != top; op = ir_o(fn, op)->next) {
    if (!ws_stays(fn, op)) continue;
    for (uint32_t k = 0; k < ir_o(fn, op)->nopnd; k++) {
      ir_opid d = ir_v(fn, ir_o(fn, op)->opnd[k])->def;
      if (d && !ws_stays(fn, d)) return 0;
    }
  }
  for (int k = 0; k < 3; k++) {
    ir_val v = ir_o(fn, top)->opnd[k];
    ir_opid d = ir_v(fn, v)->def;
    if (d && !ws_stays(fn, d)) return 0;
    if (lc->outer && !outer_ok(lc, ir_o(fn, lc->loop)->opnd[k])) return 0;
  }
  /* what the copies read from outside the body */
  for (ir_opid op = 1; op < lc->nops; op++) {
    int used = lc->need[op];
    for (int j = 0; j < lc->ncopy; j++) used |= lc->copy[j] == op;
    for (uint32_t k = 0; used && k < ir_o(fn, op)->nopnd; k++) {
      ir_val v = ir_o(fn, op)->opnd[k];
      ir_opid d = ir_v(fn, v)->def;
      if (ir_region_encloses(fn, lc->body, ir_val_region(fn, v))) continue;
      if (lc->outer ? !outer_ok(lc, v) : d && !ws_stays(fn, d)) return 0;
    }
  }
  return 1;
}

/* The producer's loop at b: over the same iterations, the stages rotating as the consumers' do;
 * iteration i waits (one elected lane) until the consumers have released stage 0, last read in
 * iteration i - S (parity ((i / S) + 1) & 1: parity 1 on a fresh mbarrier for i < S, no wait), then
 * issues its copies into it. With an outer loop, i is the ring's count across its iterations, and
 * the producer runs a copy of outer (its slice: outer_ok) around the loop, carrying the count and
 * the stages from one iteration of outer to the next. */
static void producer_loop(loop_ctx *lc, ir_builder *b, const ir_val *bufs) {
  ir_func *fn = lc->fn;
  int n = lc->stages * lc->nrot;
  ir_val lo = ir_o(fn, lc->loop)->opnd[0], hi = ir_o(fn, lc->loop)->opnd[1],
         step = ir_o(fn, lc->loop)->opnd[2];
  ir_val *dst = ir_alloc(lc->A, (size_t)lc->nrot * sizeof *dst), iv, count = 0, tiv, tcount;
  ir_builder in, tin, *at = b;
  ir_opid tp = 0;
  if (lc->outer) {
    ir_op *t = ir_o(fn, lc->outer);
    ir_val tlo = t->opnd[0], thi = t->opnd[1], tstep = t->opnd[2];
    ir_reg ob = t->region[0];
    tp = stage_loop(lc, b, tlo, thi, tstep, ir_b_const_i(b, ir_vtype(fn, lo), 0), bufs, &tin, &tiv, &tcount,
                    dst);
    memset(lc->map, 0, lc->nvals * sizeof *lc->map);
    lc->map[ir_r(fn, ob)->args[0]] = tiv;
    for (ir_opid op = ir_r(fn, ob)->first; op; op = ir_o(fn, op)->next)
      if (op < lc->nops && lc->oneed[op]) clone(lc, &tin, op, NULL, 0);
    lc->base = ir_alloc(lc->A, lc->nvals * sizeof *lc->base);
    memcpy(lc->base, lc->map, lc->nvals * sizeof *lc->base);
    lo = mapped(lc, lo), hi = mapped(lc, hi), step = mapped(lc, step);
    ir_reg tr = ir_o(fn, tp)->region[0];
    bufs = &ir_r(fn, tr)->args[2]; /* its stages */
    count = tcount;
    at = &tin;
  }
  ir_val c = 0;
  ir_opid p = stage_loop(lc, at, lo, hi, step, count, bufs, &in, &iv, &c, dst);
  ir_val i = count ? c : ir_b_binary(&in, IR_OP_DIV, ir_b_binary(&in, IR_OP_SUB, iv, lo), step);
  ir_type it = ir_vtype(fn, i);
  ir_val q = ir_b_binary(&in, IR_OP_DIV, i, ir_b_const_i(&in, it, lc->stages));
  ir_val w[2] = {dst[2 * lc->ncopy], parity_of(lc, &in, q, 1)};
  ir_op_set_i(fn, ir_build(&in, IR_OP_MBAR_WAIT, w, 2, NULL, 0, 0), "elected", 1);
  issue(lc, &in, iv, dst, dst + lc->ncopy);
  end_stage_loop(lc, p, &in, count ? ir_b_binary(&in, IR_OP_ADD, c, ir_b_const_i(&in, it, 1)) : 0);
  if (!tp) return;
  ir_val *ys = ir_alloc(lc->A, (size_t)(n + 1) * sizeof *ys);
  for (int k = 0; k <= n; k++) ys[k] = ir_res(fn, p, (uint32_t)k); /* the count and the stages as they are */
  ir_build(&tin, IR_OP_YIELD, ys, (uint32_t)n + 1, NULL, 0, 0);
}

/* setmaxnreg for the split. Every warp starts with the registers ptxas caps the kernel at: the
 * register file over the block's threads (`min_blocks` blocks an SM; codegen gives the kernel
 * .minnctapersm so that the cap is known), at most 255, rounded down to 8 (168 for 8 + 4 warps).
 * The consumers need about their loop's carried tiles (the accumulators: 32-bit words a thread)
 * and 64 more (operand descriptors, addresses, the epilogue). Where that is more than the entry's
 * count, the producer warpgroup gives its registers back down to PRODUCER_REGS (its loop carries
 * the stages' offsets and mbarriers: at 40 ptxas spills it) and the consumers take what that frees,
 * never more: the block's registers at entry are all there is (an inc beyond them never completes
 * on the GPU). 0: no setmaxnreg (ptxas then keeps every warp within the entry's count). */
enum { PRODUCER_REGS = 56 };

static int consumer_regs(const loop_ctx *lc, const pass_ctx *pc) {
  ir_func *fn = lc->fn;
  int W = (int)ir_attr_i(fn->attrs, "warps", 4), mb = (int)ir_attr_i(fn->attrs, "min_blocks", 0);
  int file = (pc->target && pc->target->regs_per_sm ? pc->target->regs_per_sm : 65536) / (mb > 1 ? mb : 1);
  int entry = file / ((W + 4) * 32), need = 64;
  entry = (entry < 255 ? entry : 255) & ~7;
  int cons = (entry * (W + 4) * 32 - 128 * PRODUCER_REGS) / (W * 32);
  cons = (cons < 248 ? cons : 248) & ~7;
  for (uint32_t k = 0; k < ir_o(fn, lc->loop)->nres; k++) {
    ir_type t = ir_vtype(fn, ir_o(fn, lc->loop)->res[k]);
    if (t.kind == IR_TTILE)
      need += (int)((ir_type_numel(t) * (uint32_t)ir_elem_bytes(t.elem) + 4u * 32 * W - 1) / (4u * 32 * W));
  }
  /* setmaxnreg is per warpgroup: the consumers must be whole ones */
  return need > entry && cons > entry && W % 4 == 0 ? cons : 0;
}

/* Splits the kernel at the rebuilt loop g (docs/hopper.md, "Warp specialisation"):
 *
 *   ids, views, buffers, mbarrier inits      (every thread: ws_stays, and make_stages' ops after `mark`)
 *   warp_split {producer_regs, consumer_regs} {
 *     for i { mbar_wait {elected}(release_0, ...); copies of i {tma} into stage 0; rotate }
 *   } else {
 *     the ops before the loop that do not stay; the loop g; everything after it
 *   }
 */
static void ws_split(loop_ctx *lc, pass_ctx *pc, ir_opid g, ir_opid mark, const ir_val *bufs) {
  ir_func *fn = lc->fn;
  ir_opid *moved = ir_alloc(lc->A, (size_t)fn->nops * sizeof *moved);
  uint32_t n = 0;
  for (ir_opid op = mark ? ir_r(fn, fn->body)->first : 0; op; op = ir_o(fn, op)->next) {
    if (!ws_stays(fn, op)) moved[n++] = op;
    if (op == mark) break;
  }
  for (ir_opid op = g; op; op = ir_o(fn, op)->next) moved[n++] = op;
  ir_builder b = ir_builder_before(fn, g);
  ir_opid w = ir_build(&b, IR_OP_WARP_SPLIT, NULL, 0, NULL, 0, 2);
  int regs = consumer_regs(lc, pc);
  if (regs) ir_op_set_i(fn, w, "producer_regs", PRODUCER_REGS), ir_op_set_i(fn, w, "consumer_regs", regs);
  /* {pingpong = 1}: two consumer warpgroups take turns at their warpgroup MMAs (codegen) */
  if (ir_attr_i(ir_o(fn, lc->loop)->attrs, "pingpong", 0) && ir_attr_i(fn->attrs, "warps", 4) == 8)
    ir_op_set_i(fn, w, "pingpong", 1);
  for (uint32_t i = 0; i < n; i++) ir_op_move(fn, moved[i], ir_o(fn, w)->region[1]);
  ir_builder pb = ir_builder_at_end(fn, ir_o(fn, w)->region[0]);
  pb.file = b.file, pb.line = b.line;
  producer_loop(lc, &pb, bufs);
}

/* Rewrites the loop (the steps in the file comment). */ /* Rewrites the loop (the steps in the file comment).
                                                          */
static void pipeline_loop(loop_ctx *lc, pass_ctx *pc) {
  ir_func *fn = lc->fn;
  int S = lc->stages, m = lc->ncopy, n = S * lc->nrot;
  ir_val *bufs = ir_alloc(lc->A, (size_t)n * sizeof *bufs), *orig = ir_alloc(lc->A, (size_t)m * sizeof *orig);
  ir_opid at = lc->outer ? lc->outer : lc->loop;
  ir_opid mark = ir_o(fn, at)->prev; /* the last op before make_stages' (ws_split) */
  ir_builder b = ir_builder_before(fn, at);
  make_stages(lc, &b, bufs, orig);
  if (!lc->ws) prologue(lc, &b, bufs);
  ir_val tcount = 0;
  uint32_t nres = ir_o(fn, lc->loop)->nres;
  ir_opid g;
  if (lc->outer) {
    /* the ring lives across outer: outer and the loop carry the count and the stages */
    ir_val *init = ir_alloc(lc->A, (size_t)(n + 1) * sizeof *init);
    init[0] = ir_b_const_i(&b, ir_vtype(fn, ir_o(fn, lc->loop)->opnd[0]), 0);
    memcpy(init + 1, bufs, (size_t)n * sizeof *init);
    lc->outer = at = grow_for(lc, lc->outer, init, n + 1);
    ir_region *ob = ir_r(fn, ir_o(fn, at)->region[0]);
    tcount = ob->args[ob->nargs - (uint32_t)n - 1];
    memcpy(init, &ob->args[ob->nargs - (uint32_t)n - 1], (size_t)(n + 1) * sizeof *init);
    lc->loop = g = grow_for(lc, lc->loop, init, n + 1);
    ir_region *body = ir_r(fn, lc->body);
    lc->count = body->args[body->nargs - (uint32_t)n - 1];
  } else {
    lc->loop = at = g = grow_for(lc, lc->loop, bufs, n);
  }
  read_oldest(lc, orig);
  ir_builder top = ir_builder_before(fn, lc->barrier); /* the first barrier waits for this step */
  if (lc->tma)
    wait_stage(lc, &top);
  else
    wait_and_barrier(&top, (lc->ahead - 1) * m, 0);
  for (int j = 0; j < m; j++) ir_op_unlink(fn, lc->copy[j]); /* issue() still clones them */
  drop_trailing_barrier(lc);
  if (lc->count) {
    ir_builder y = ir_builder_before(fn, ir_r(fn, lc->body)->last);
    ir_val next = ir_b_binary(&y, IR_OP_ADD, lc->count, ir_b_const_i(&y, ir_vtype(fn, lc->count), 1));
    yield_more(lc, lc->body, &next, 1);
  }
  if (lc->ws)
    rotate_stages(lc); /* the producer's loop issues the copies */
  else
    issue_next(lc);
  if (lc->release) {
    arrive_release(lc, lc->last_read);
    ir_op_unlink(fn, lc->barrier); /* the release mbarriers order the refills after the reads */
  }
  if (lc->outer) {
    /* outer's next iteration starts where the loop left the ring. A dot kept in flight releases
     * the stage it read in each iteration but the last in the next one (arrive_release): the last
     * goes back once the loop is over (its group completed at the loop's exit), if it ran. */
    ir_builder after = builder_after(fn, g);
    if (lc->ahead == S - 2) {
      ir_val opnd[2] = {ir_res(fn, g, nres + 1 + (uint32_t)(2 * m * S + S - 1)),
                        ir_b_cmp(&after, "ne", ir_res(fn, g, nres), tcount)};
      ir_build(&after, IR_OP_MBAR_ARRIVE, opnd, 2, NULL, 0, 0);
    }
    ir_val *ys = ir_alloc(lc->A, (size_t)(n + 1) * sizeof *ys);
    for (int k = 0; k <= n; k++) ys[k] = ir_res(fn, g, nres + (uint32_t)k);
    yield_more(lc, ir_o(fn, at)->region[0], ys, n + 1);
  }
  /* after the loop (or outer): nothing in flight, every thread out of the buffers. The mbarriers
   * are invalidated before that barrier: every thread's last wait on them preceded the body's
   * barrier of the last iteration (with release mbarriers, which leave the body without one, a
   * barrier here first), and the barrier after lets the memory be reused. */
  ir_builder tail = builder_after(fn, at);
  wait_and_barrier(&tail, 0, lc->release);
  for (int k = m * S; lc->tma && k < n; k++) ir_build(&tail, IR_OP_MBAR_INVAL, &bufs[k], 1, NULL, 0, 0);
  ir_build(&tail, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
  if (lc->ws) ws_split(lc, pc, at, mark, bufs);
}

/* ---- batching the other copies ---- */

/* In region r: a run of synchronous copies that reaches a barrier through computation only becomes
 * async, with one async_wait {pending = 0} before the barrier. */
static void batch_region(ir_func *fn, ir_reg r) {
  ir_opid run[64];
  int n = 0;
  for (ir_opid op = ir_r(fn, r)->first; op; op = ir_o(fn, op)->next) {
    for (int i = 0; i < ir_o(fn, op)->nregion; i++) /* the recursion may move the ops: look them up again */
      batch_region(fn, ir_o(fn, op)->region[i]);
    ir_op *o = ir_o(fn, op);
    int code = o->code;
    if (code == IR_OP_COPY && !ir_attr_i(o->attrs, "async", 0) && !ir_attr_i(o->attrs, "tma", 0) && n < 64) {
      run[n++] = op;
    } else if (code == IR_OP_BARRIER && n) {
      for (int i = 0; i < n; i++) ir_op_set_i(fn, run[i], "async", 1);
      ir_builder b = ir_builder_before(fn, op);
      wait_and_barrier(&b, 0, 0);
      n = 0;
    } else if (o->nregion || code == IR_OP_LOAD_SHARED || code == IR_OP_STORE_SHARED || code == IR_OP_COPY ||
               code == IR_OP_ASYNC_WAIT || code == IR_OP_BARRIER || code == IR_OP_YIELD) {
      n = 0;
    } else {
      for (uint32_t k = 0; k < o->nopnd; k++)
        if (ir_vtype(fn, o->opnd[k]).kind == IR_TSMEM) n = 0; /* reads a buffer: keep the copies whole */
    }
  }
}

/* ---- stores through TMA ---- */

/* A `store {tma = 1}` in region body (the kernel's; recursively the bodies of its loops and a
 * warp_split's consumer region; not a branch) on a row with TMA, of a view a tensor map can describe,
 * of a tile whose staging buffer TMA can read (ir_tma_buffer_ok: rows of 32 or 64 bytes or a multiple
 * of 128, at most 256 rows):
 *   store(view, offsets, t)   ->   b = alloc_shared {swizzle, wgmma = 1}   (128-byte panels)
 *                                  store_shared(b, t0)                     (t0: t before a conversion
 *                                  store_tma(view, offsets, b)              the layout pass made for
 *                                                                           the global store)
 * codegen (store_tma): every thread fences its shared writes for the async proxy, a barrier, then
 * one elected lane stores the buffer's boxes and waits until they are read. In a loop a barrier
 * goes before the store_shared: the lane's wait in the previous iteration then covers every thread
 * (a persistent kernel's epilogue, tile after tile). */
static void tma_stores_in(ir_func *fn, ir_arena *A, ir_reg body, int in_loop) {
  for (ir_opid op = ir_r(fn, body)->first, next; op; op = next) {
    next = ir_o(fn, op)->next;
    ir_op *o = ir_o(fn, op);
    if (o->code == IR_OP_FOR || o->code == IR_OP_WARP_SPLIT) {
      tma_stores_in(fn, A, o->region[o->code == IR_OP_FOR ? 0 : 1], in_loop || o->code == IR_OP_FOR);
      continue;
    }
    if (o->code != IR_OP_STORE || !ir_attr_i(o->attrs, "tma", 0) || o->nopnd != 4 ||
        !ir_tma_view_ok(fn, o->opnd[0]))
      continue;
    ir_val t = o->opnd[3];
    ir_type tt = ir_vtype(fn, t);
    uint32_t rb = tt.shape[1] * (uint32_t)ir_elem_bytes(tt.elem);
    ir_type bt = ir_t_smem(tt.elem, tt.rank, tt.shape);
    int64_t sw = rb >= 128 ? 8 : rb / 16;
    if (!ir_tma_buffer_ok(bt, sw, 1)) continue;
    ir_opid cv = ir_v(fn, t)->def;
    ir_val src = cv && ir_o(fn, cv)->code == IR_OP_CONVERT_LAYOUT ? ir_o(fn, cv)->opnd[0] : t;
    ir_val opnd[4] = {o->opnd[0], o->opnd[1], o->opnd[2], 0}; /* building moves the ops: o goes stale */
    ir_builder b = ir_builder_before(fn, op);
    ir_opid a = ir_build(&b, IR_OP_ALLOC_SHARED, NULL, 0, &bt, 1, 0);
    ir_op_set_i(fn, a, "swizzle", sw);
    ir_op_set_i(fn, a, "wgmma", 1);
    ir_val buf = ir_res(fn, a, 0), st[2] = {buf, src};
    if (in_loop) /* the previous iteration's boxes are read (its elected lane waited): the buffer is free */
      ir_build(&b, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
    ir_build(&b, IR_OP_STORE_SHARED, st, 2, NULL, 0, 0);
    opnd[3] = buf;
    ir_build(&b, IR_OP_STORE_TMA, opnd, 4, NULL, 0, 0);
    ir_op_unlink(fn, op);
    if (src != t && !ir_use_counts(fn, A)[t]) ir_op_unlink(fn, cv);
  }
}

/* ---- the pass ---- */

/* The body's dot the wgmma pass marked to stay in flight across iterations (stages >= 3), or 0. */
static ir_opid inflight_dot(ir_func *fn, ir_reg body) {
  for (ir_opid op = ir_r(fn, body)->first; op; op = ir_o(fn, op)->next)
    if (ir_o(fn, op)->code == IR_OP_DOT && ir_attr_i(ir_o(fn, op)->attrs, "inflight", 0)) return op;
  return 0;
}

/* Whether region r writes shared memory other than through the pipelined copies. */
static int other_shared_writes(const loop_ctx *lc, ir_reg r) {
  ir_func *fn = lc->fn;
  for (ir_opid op = ir_r(fn, r)->first; op; op = ir_o(fn, op)->next) {
    ir_op *o = ir_o(fn, op);
    int pipelined = 0;
    for (int j = 0; j < lc->ncopy; j++) pipelined |= lc->copy[j] == op;
    if (o->code == IR_OP_STORE_SHARED || (o->code == IR_OP_COPY && !pipelined)) return 1;
    for (int i = 0; i < o->nregion; i++)
      if (other_shared_writes(lc, o->region[i])) return 1;
  }
  return 0;
}

/* A group may stay in flight only where nothing but the pipelined copies, which then refill a stage
 * two iterations after it was read, writes the buffers it reads: every shared operand of the dot is
 * a pipelined copy's buffer and the body writes shared memory no other way. */
static int inflight_safe(const loop_ctx *lc, ir_opid dot) {
  ir_func *fn = lc->fn;
  if (other_shared_writes(lc, lc->body)) return 0;
  /* still the carried accumulator after the layout pass: read by the dot alone, yielded as it is */
  if (!pass_dot_carried(fn, lc->body, dot, ir_use_counts(fn, lc->A))) return 0;
  for (int k = 0; k < 2; k++) {
    ir_opid ld = ir_v(fn, ir_o(fn, dot)->opnd[k])->def;
    if (!ld || ir_o(fn, ld)->code != IR_OP_LOAD_SHARED) continue; /* A from registers */
    int found = 0;
    for (int j = 0; j < lc->ncopy; j++)
      found |= ir_o(fn, lc->copy[j])->opnd[ir_o(fn, lc->copy[j])->nopnd - 1] == ir_o(fn, ld)->opnd[0];
    if (!found) return 0;
  }
  return 1;
}

/* 1 if every write of buffer buf in the function is a TMA copy's (copy {tma = 1}: tma_copies'). */
static int tma_only_buffer(ir_func *fn, ir_val buf) {
  int any = 0;
  for (ir_opid op = 1; op < fn->nops; op++) {
    ir_op *o = ir_o(fn, op);
    if (o->dead) continue;
    if (o->code == IR_OP_STORE_SHARED && o->opnd[0] == buf) return 0;
    if (o->code != IR_OP_COPY || o->opnd[1 + ir_vtype(fn, o->opnd[0]).rank] != buf) continue;
    if (!ir_attr_i(o->attrs, "tma", 0)) return 0;
    any = 1;
  }
  return any;
}

/* TMA: a warpgroup-MMA dot of the body whose shared operands are all pipelined copies' buffers (or
 * buffers only TMA copies write: tma_only_buffer) reads only bytes the TMA wrote (the async proxy, as the
 * wgmma reads): `tma_operands = 1` tells codegen to leave out the proxy fence it puts before a dot whose
 * operands ordinary stores may have written. */
static void mark_tma_operands(const loop_ctx *lc) {
  ir_func *fn = lc->fn;
  if (other_shared_writes(lc, lc->body)) return;
  for (ir_opid op = ir_r(fn, lc->body)->first; op; op = ir_o(fn, op)->next) {
    ir_op *d = ir_o(fn, op);
    if (d->code != IR_OP_DOT || !ir_attr_i(d->attrs, "wgmma", 0)) continue;
    int ok = 1;
    for (int k = 0; k < 2; k++) {
      ir_opid ld = ir_v(fn, d->opnd[k])->def;
      if (!ld || ir_o(fn, ld)->code != IR_OP_LOAD_SHARED) continue; /* A from registers */
      int found = 0;
      for (int j = 0; j < lc->ncopy; j++)
        found |= ir_o(fn, lc->copy[j])->opnd[ir_o(fn, lc->copy[j])->nopnd - 1] == ir_o(fn, ld)->opnd[0];
      ok &= found || tma_only_buffer(fn, ir_o(fn, ld)->opnd[0]); /* Q's buffer: tma_copies */
    }
    if (ok) ir_op_set_i(fn, op, "tma_operands", 1);
  }
}

/* The dot waits for its group in each iteration after all (codegen reads the attribute). */
static void drop_inflight(ir_func *fn, ir_opid dot) {
  for (ir_attr **a = &ir_o(fn, dot)->attrs; *a; a = &(*a)->next)
    if (!strcmp((*a)->key, "inflight")) {
      *a = (*a)->next;
      return;
    }
}

static void collect_loops(ir_func *fn, ir_reg r, ir_opid *out, uint32_t *n) {
  for (ir_opid op = ir_r(fn, r)->first; op; op = ir_o(fn, op)->next) {
    ir_op *o = ir_o(fn, op);
    if (o->code == IR_OP_FOR && ir_attr_i(o->attrs, "stages", 1) >= 2) out[(*n)++] = op;
    for (int i = 0; i < o->nregion; i++) collect_loops(fn, o->region[i], out, n);
  }
}

/* A `copy {by_tma = 1}` of the kernel's body (not in a loop or a branch; no predicate, zero pad) on
 * a row with TMA, of a view a tensor map can describe into a buffer TMA can fill (tma_copy_ok):
 *
 *   copy(view, offsets, buf) {by_tma}     %bar = alloc_shared : smem<1xi64>; mbar_init(%bar); barrier()
 *   ...                                   copy(view, offsets, buf, true, %bar) {tma = 1}
 *   barrier()                       ->    mbar_wait(%bar, 0)
 *                                         ...
 *                                         barrier(); mbar_inval(%bar); barrier()
 *
 * Every thread waits for phase 0 where the copy was (the bytes are then there, as after a copy that
 * completes in the issuing thread); the mbarrier is invalidated after the next barrier of the body
 * (every thread is past its wait), and a barrier follows before its bytes may be reused. attention's
 * Q: docs/hopper.md, "Attention by TMA". */
static void tma_copies(ir_func *fn) {
  for (ir_opid op = ir_r(fn, fn->body)->first, next; op; op = next) {
    next = ir_o(fn, op)->next;
    ir_op *o = ir_o(fn, op);
    if (o->code != IR_OP_COPY || !ir_attr_i(o->attrs, "by_tma", 0) || ir_attr_i(o->attrs, "tma", 0) ||
        ir_attr_i(o->attrs, "async", 0))
      continue;
    uint32_t R = ir_vtype(fn, o->opnd[0]).rank;
    if (o->nopnd != 2 + R || !tma_copy_ok(fn, op)) continue;
    ir_val opnd[2 + IR_MAXRANK + 2];
    for (uint32_t k = 0; k < o->nopnd; k++) opnd[k] = o->opnd[k]; /* building moves the ops */
    uint32_t n = o->nopnd;
    ir_builder b = ir_builder_before(fn, op);
    ir_type mt = ir_t_smem(IR_I64, 1, (uint32_t[]){1}), i1 = ir_t_scalar(IR_I1), i32 = ir_t_scalar(IR_I32);
    ir_val bar = ir_res(fn, ir_build(&b, IR_OP_ALLOC_SHARED, NULL, 0, &mt, 1, 0), 0);
    ir_build(&b, IR_OP_MBAR_INIT, &bar, 1, NULL, 0, 0);
    ir_build(&b, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
    ir_opid t = ir_build(&b, IR_OP_CONST, NULL, 0, &i1, 1, 0);
    ir_op_set_i(fn, t, "value", 1);
    opnd[n++] = ir_res(fn, t, 0);
    opnd[n++] = bar;
    ir_opid c = ir_build(&b, IR_OP_COPY, opnd, n, NULL, 0, 0);
    ir_op_set_i(fn, c, "tma", 1);
    ir_opid z = ir_build(&b, IR_OP_CONST, NULL, 0, &i32, 1, 0);
    ir_op_set_i(fn, z, "value", 0);
    ir_val w[2] = {bar, ir_res(fn, z, 0)};
    ir_build(&b, IR_OP_MBAR_WAIT, w, 2, NULL, 0, 0);
    ir_op_unlink(fn, op);
    ir_opid after = next;
    while (after && ir_o(fn, after)->code != IR_OP_BARRIER) after = ir_o(fn, after)->next;
    ir_builder e = after && ir_o(fn, after)->next ? ir_builder_before(fn, ir_o(fn, after)->next)
                                                  : ir_builder_at_end(fn, fn->body);
    if (!after) ir_build(&e, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
    ir_build(&e, IR_OP_MBAR_INVAL, &bar, 1, NULL, 0, 0);
    ir_build(&e, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
  }
}

/*
 * pass_pipeline:
 *   0. On a row with TMA, a copy {by_tma = 1} of the body becomes TMA boxes on an mbarrier of its
 *      own (tma_copies).
 *   1. Collect the loops with stages >= 2 (outer loops first).
 *   2. For each: find the copies before the body's first barrier whose operands are recomputable
 *      from the induction variable and invariants and whose buffers only the body reads, after that
 *      barrier; none: leave the loop alone. Without cp.async: only a barrier after the loop.
 *   3. Give each buffer S-1 clones, issue the copies of iterations 0 .. S-2 before the loop
 *      (predicated on the iteration existing; a loop of its own for S >= 3), rebuild the loop
 *      carrying the S buffers.
 *   4. In the body: read stage 0; async_wait {pending = (S-2) * copies} before the first barrier;
 *      issue the copies of iteration i + S-1 into the last stage at the end; rotate the stages in
 *      the yield; drop a trailing barrier the pipeline made unnecessary.
 *   5. After the loop: async_wait {pending = 0} and a barrier. With {ws = 1} (ws_ok), no prologue
 *      and no copies in the body: the kernel splits at the loop (ws_split), a producer warpgroup
 *      issuing the copies in a loop of its own.
 *   (A dot marked inflight keeps its mark, and the copies run S-2 ahead, only where the loop is
 *   pipelined, its shared operands are pipelined copies' buffers and the body writes shared memory
 *   no other way; otherwise the mark goes and the dot waits for its group in every iteration.)
 *   6. Batch the remaining synchronous copies that reach a barrier (every region).
 *   7. On a row with TMA, a store {tma = 1} of the body or its loops goes through shared memory by
 *      TMA boxes.
 */
int pass_pipeline(ir_func *fn, pass_ctx *pc) {
  ir_arena *A = ir_arena_new();
  uint32_t nloops = 0;
  ir_opid *loops = ir_alloc(A, fn->nops * sizeof *loops);
  int async = !pc->target || (pc->target->features & TG_F_CP_ASYNC);
  if (async && pc->target && (pc->target->features & TG_F_TMA)) tma_copies(fn);
  collect_loops(fn, fn->body, loops, &nloops);
  for (uint32_t i = 0; i < nloops; i++) {
    ir_op *o = ir_o(fn, loops[i]);
    loop_ctx lc = {.fn = fn,
                   .A = A,
                   .loop = loops[i],
                   .body = o->region[0],
                   .stages = (int)ir_attr_i(o->attrs, "stages", 1)};
    lc.iv = ir_r(fn, lc.body)->args[0];
    lc.ahead = lc.stages - 1;
    lc.nops = fn->nops;
    lc.need = ir_alloc(A, fn->nops);
    lc.nvals = fn->nvals;
    lc.map = ir_alloc(A, lc.nvals * sizeof *lc.map);
    ir_opid dot = inflight_dot(fn, lc.body);
    if (!find_copies(&lc)) {
      if (dot) drop_inflight(fn, dot);
      continue;
    }
    if (dot && (!async || !inflight_safe(&lc, dot))) drop_inflight(fn, dot), dot = 0;
    if (dot) lc.ahead = lc.stages - 2;
    lc.tma = async && ir_attr_i(o->attrs, "tma", 0) && pc->target && (pc->target->features & TG_F_TMA);
    for (int j = 0; lc.tma && j < lc.ncopy; j++) lc.tma = tma_copy_ok(fn, lc.copy[j]);
    lc.last_read = lc.tma && ir_attr_i(o->attrs, "release", 1) ? release_ok(&lc) : 0;
    lc.release = lc.last_read != 0;
    lc.nrot = lc.tma ? 2 * lc.ncopy + lc.release : lc.ncopy;
    lc.oneed = ir_alloc(A, fn->nops);
    lc.ws = lc.release && ws_ok(&lc);
    if (!lc.ws) lc.outer = 0;
    if (lc.tma) mark_tma_operands(&lc);
    if (async) {
      pipeline_loop(&lc, pc);
    } else { /* one stage: only the barrier after the loop */
      ir_builder b = builder_after(fn, lc.loop);
      ir_build(&b, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
    }
  }
  batch_region(fn, fn->body);
  if (pc->target && (pc->target->features & TG_F_TMA)) tma_stores_in(fn, A, fn->body, 0);
  ir_arena_free(A);
  return 0;
}
