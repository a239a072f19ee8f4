/*
 * shared_plan.c - shared-memory planning: an offset for every alloc_shared, memory reused by liveness.
 *
 * A buffer takes numel * element bytes (e4m3, e5m2, i8 and i1 take one byte) at a 128-byte aligned
 * offset. Its live range is the span of program-order positions from its first use to its last use
 * (the alloc_shared itself touches no memory, so buffers allocated up front can still share); a use
 * inside a `for` stretches the range over the whole loop (outermost enclosing one), since the next
 * iteration uses the buffer again. A buffer passed to a `for` as a carried value (the pipeline pass
 * rotates its stage buffers that way) is live over the whole loop, and each shared-memory result of
 * the loop may name any buffer carried in (the loop can rotate them): a use of the result is a use
 * of every one of them. A buffer that flows into an `if` or a `yield` operand is live for the whole
 * kernel: the plan does not follow aliases through those.
 * A wgmma operand (`alloc_shared {wgmma = 1}`, wgmma_plan.c) is placed at a multiple of 1024
 * bytes instead.
 *
 * Two buffers may share bytes only if their ranges are disjoint AND a `barrier` lies between them in
 * a region that encloses both the last use of the first and the first use of the second: otherwise
 * some warps could still be reading the first buffer while others write the second. Buffers are
 * placed in order of first use at the lowest aligned offset that overlaps no conflicting buffer
 * placed before (first fit). The kernel's `shared_bytes` is the highest end offset.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pass.h"

enum { ALIGN = 128, WGMMA_ALIGN = 1024 };

typedef struct {
  ir_opid op;
  uint32_t size, offset;
  uint32_t first, last; /* program-order positions */
} buffer;

struct alias {
  int32_t buf;
  struct alias *next;
};

typedef struct {
  ir_func *fn;
  uint32_t *pos, *end; /* per op: position, and last position inside its regions */
  ir_opid *at;         /* per position: the op */
  uint32_t npos;
  buffer *bufs;
  uint32_t nbufs;
  int32_t *buf_of;   /* per value: index of the buffer it names, or -1 */
  struct alias **al; /* per value: the buffers a loop's shared-memory result may name */
  ir_arena *A;
  ir_opid *barriers;
  uint32_t nbarriers;
} plan;

static uint32_t align_up(uint32_t x, uint32_t a) { return (x + a - 1) / a * a; }

/* Numbers the ops of reg in program order (an op before the ops of its regions); collects buffers
 * and barriers on the way. */
static void number(plan *p, ir_reg reg) {
  ir_func *fn = p->fn;
  for (ir_opid op = ir_r(fn, reg)->first; op; op = ir_o(fn, op)->next) {
    ir_op *o = ir_o(fn, op);
    p->at[p->npos] = op;
    p->pos[op] = p->npos++;
    if (o->code == IR_OP_ALLOC_SHARED && o->nres == 1) {
      ir_type t = ir_vtype(fn, o->res[0]);
      p->buf_of[o->res[0]] = (int32_t)p->nbufs;
      p->bufs[p->nbufs++] =
          (buffer){op, ir_type_numel(t) * (uint32_t)ir_elem_bytes(t.elem), 0, UINT32_MAX, 0};
    }
    if (o->code == IR_OP_BARRIER) p->barriers[p->nbarriers++] = op;
    for (int i = 0; i < o->nregion; i++) number(p, o->region[i]);
    p->end[op] = p->npos - 1;
  }
}

/* The span a use by op occupies: op itself, or its outermost enclosing `for` in full. */
static void use_span(plan *p, ir_opid op, uint32_t *lo, uint32_t *hi) {
  ir_func *fn = p->fn;
  *lo = *hi = p->pos[op];
  for (ir_reg r = ir_o(fn, op)->parent; r && ir_r(fn, r)->parent_op;
       r = ir_o(fn, ir_r(fn, r)->parent_op)->parent) {
    ir_opid up = ir_r(fn, r)->parent_op;
    if (ir_o(fn, up)->code == IR_OP_FOR) *lo = p->pos[up], *hi = p->end[up];
  }
}

static void extend(buffer *b, uint32_t lo, uint32_t hi) {
  if (lo < b->first) b->first = lo;
  if (hi > b->last) b->last = hi;
}

/* Extends every buffer that value v may name over [lo, hi]. */
static void extend_value(plan *p, ir_val v, uint32_t lo, uint32_t hi) {
  if (p->buf_of[v] >= 0) extend(&p->bufs[p->buf_of[v]], lo, hi);
  for (struct alias *a = p->al[v]; a; a = a->next) extend(&p->bufs[a->buf], lo, hi);
}

/* The shared-memory results of `for` op o may name any buffer its operands name. */
static void alias_results(plan *p, const ir_op *o) {
  for (uint32_t r = 0; r < o->nres; r++) {
    if (ir_vtype(p->fn, o->res[r]).kind != IR_TSMEM) continue;
    for (uint32_t k = 0; k < o->nopnd; k++) {
      ir_val v = o->opnd[k];
      if (p->buf_of[v] >= 0) {
        struct alias *a = ir_alloc(p->A, sizeof *a);
        *a = (struct alias){p->buf_of[v], p->al[o->res[r]]};
        p->al[o->res[r]] = a;
      }
      for (struct alias *b = p->al[v]; b; b = b->next) {
        struct alias *a = ir_alloc(p->A, sizeof *a);
        *a = (struct alias){b->buf, p->al[o->res[r]]};
        p->al[o->res[r]] = a;
      }
    }
  }
}

/* Stretches each buffer's range over its uses; a buffer nobody uses lives at its allocation. */
static void live_ranges(plan *p) {
  for (uint32_t i = 0; i < p->npos; i++) {
    ir_opid op = p->at[i];
    ir_op *o = ir_o(p->fn, op);
    int escapes = o->code == IR_OP_IF || o->code == IR_OP_YIELD;
    for (uint32_t k = 0; k < o->nopnd; k++) {
      uint32_t lo, hi;
      use_span(p, op, &lo, &hi);
      if (o->code == IR_OP_FOR && p->end[op] > hi) hi = p->end[op]; /* carried through the loop */
      if (escapes) lo = 0, hi = p->npos - 1;
      extend_value(p, o->opnd[k], lo, hi);
    }
    if (o->code == IR_OP_FOR) alias_results(p, o);
  }
  for (uint32_t b = 0; b < p->nbufs; b++)
    if (p->bufs[b].first == UINT32_MAX) p->bufs[b].first = p->bufs[b].last = p->pos[p->bufs[b].op];
}

/* 1 if a comes wholly before b with a barrier between them that every path from one to the other
 * passes (its region encloses both ends). */
static int separated(plan *p, const buffer *a, const buffer *b) {
  if (a->last >= b->first) return 0;
  ir_reg ra = ir_o(p->fn, p->at[a->last])->parent, rb = ir_o(p->fn, p->at[b->first])->parent;
  for (uint32_t i = 0; i < p->nbarriers; i++) {
    uint32_t q = p->pos[p->barriers[i]];
    ir_reg r = ir_o(p->fn, p->barriers[i])->parent;
    if (q > a->last && q < b->first && ir_region_encloses(p->fn, r, ra) && ir_region_encloses(p->fn, r, rb))
      return 1;
  }
  return 0;
}

static int conflict(plan *p, const buffer *a, const buffer *b) {
  return !separated(p, a, b) && !separated(p, b, a);
}

/* 1 if [off, off + b->size) overlaps a buffer placed before b (bufs[0..i)) that conflicts with it. */
static int collides(plan *p, uint32_t i, uint32_t off) {
  const buffer *b = &p->bufs[i];
  for (uint32_t j = 0; j < i; j++) {
    const buffer *q = &p->bufs[j];
    if (off < q->offset + q->size && q->offset < off + b->size && conflict(p, q, b)) return 1;
  }
  return 0;
}

/* First fit: the lowest of 0 and the aligned ends of earlier buffers where bufs[i] collides with
 * nothing. */
static uint32_t place(plan *p, uint32_t i) {
  uint32_t best = collides(p, i, 0) ? UINT32_MAX : 0;
  for (uint32_t j = 0; j < i && best; j++) {
    uint32_t off = align_up(p->bufs[j].offset + p->bufs[j].size,
                            ir_attr_i(ir_o(p->fn, p->bufs[i].op)->attrs, "wgmma", 0) ? WGMMA_ALIGN : ALIGN);
    if (off < best && !collides(p, i, off)) best = off;
  }
  return best;
}

static int by_first_use(const void *x, const void *y) {
  const buffer *a = x, *b = y;
  if (a->first != b->first) return a->first < b->first ? -1 : 1;
  return a->op < b->op ? -1 : a->op > b->op;
}

/* The one-line error for buffer b, which ends past the target's limit. */
static int overflow(plan *p, const buffer *b, uint32_t peak, const tg_target *t, pass_ctx *pc) {
  ir_func *fn = p->fn;
  ir_arena *A = ir_arena_new();
  const char **names = ir_value_names(fn, A);
  ir_op *o = ir_o(fn, b->op);
  char type[128], where[256] = "";
  ir_type_str(ir_vtype(fn, o->res[0]), type, sizeof type);
  if (o->file) snprintf(where, sizeof where, "%s:%d: ", o->file, o->line);
  snprintf(pc->err, sizeof pc->err,
           "%sshared memory: buffer %s (%s, %u bytes at offset %u) does not fit: kernel @%s needs %u bytes, "
           "target %s allows %d",
           where, names[o->res[0]] ? names[o->res[0]] : "?", type, b->size, b->offset, fn->name, peak,
           t->name, t->smem_per_block);
  ir_arena_free(A);
  return -1;
}

/*
 * pass_shared_plan:
 *   1. Number the ops in program order; collect alloc_shared buffers (size = numel * element bytes)
 *      and barriers.
 *   2. Live range of each buffer: from its first use to its last use; a use inside a `for` covers
 *      the whole outermost enclosing loop; a buffer carried into a `for` covers that loop, and a
 *      use of the loop's shared-memory results counts for every buffer carried in; a buffer passed
 *      to if/yield covers the kernel.
 *   3. Sort the buffers by first use; give each the lowest 128-aligned offset that overlaps no
 *      earlier buffer it conflicts with (ranges overlap, or no enclosing barrier between them).
 *   4. Set each alloc_shared's `offset` and the kernel's `shared_bytes` (the peak end offset).
 *   5. If the peak exceeds the target's smem_per_block (sm_80 when no target is given), fail naming
 *      the first buffer that ends past the limit, the bytes needed and the limit.
 */
int pass_shared_plan(ir_func *fn, pass_ctx *pc) {
  const tg_target *t = pc->target ? pc->target : tg_target_lookup("sm_80");
  ir_arena *A = ir_arena_new();
  plan p = {.fn = fn};
  p.pos = ir_alloc(A, fn->nops * sizeof *p.pos);
  p.end = ir_alloc(A, fn->nops * sizeof *p.end);
  p.at = ir_alloc(A, fn->nops * sizeof *p.at);
  p.bufs = ir_alloc(A, fn->nops * sizeof *p.bufs);
  p.barriers = ir_alloc(A, fn->nops * sizeof *p.barriers);
  p.buf_of = ir_alloc(A, fn->nvals * sizeof *p.buf_of);
  p.al = ir_alloc(A, fn->nvals * sizeof *p.al); /* zeroed: no aliases */
  p.A = A;
  for (uint32_t v = 0; v < fn->nvals; v++) p.buf_of[v] = -1;
  number(&p, fn->body);
  live_ranges(&p);
  qsort(p.bufs, p.nbufs, sizeof *p.bufs, by_first_use);
  uint32_t peak = 0;
  for (uint32_t i = 0; i < p.nbufs; i++) {
    buffer *b = &p.bufs[i];
    b->offset = place(&p, i);
    ir_op_set_i(fn, b->op, "offset", b->offset);
    if (b->offset + b->size > peak) peak = b->offset + b->size;
  }
  ir_attr_set_i(fn->A, &fn->attrs, "shared_bytes", peak);
  int rc = 0;
  for (uint32_t i = 0; i < p.nbufs && peak > (uint32_t)t->smem_per_block; i++)
    if (p.bufs[i].offset + p.bufs[i].size > (uint32_t)t->smem_per_block) {
      rc = overflow(&p, &p.bufs[i], peak, t, pc);
      break;
    }
  ir_arena_free(A);
  return rc;
}
