/*
 * layout_assign.c - the `layout` pass: gives every tile value a blocked register layout and inserts
 * convert_layout where a value meets a user that needs another layout.
 *
 * The rule set is small and local (no global solver). dot results (and the operands) take the
 * fragments of the target's matrix instruction (step 4). The default layout of a tile depends only
 * on its shape, its element size and the kernel's warps:
 *   order = [last dim, ..., dim 0] (last dim fastest);
 *   spt   = min(16 bytes / element bytes, shape) along the fastest dim, 1 elsewhere, so that a thread
 *           touches 16 contiguous bytes (one vector access); halved while the tile has fewer
 *           elements than the kernel's threads times spt, so that a small tile is spread over the
 *           threads (one element each, the rest replicating) rather than held whole by a few of
 *           them, each repeating the per-element code spt times (as Triton's coalescing does);
 *   tpw   = the 32 lanes fill the fastest dim, then the next; lanes left over replicate along dim 0;
 *   wpc   = warps fill the slowest dims first; warps left over replicate along dim 0.
 *
 *   0. Before the rest: each dot operand with an mma layout wants it from the values that compute it
 *      through elementwise ops, broadcasts and bitsplits (a bitsplit's operand wants the layout
 *      unsplit; a dequantised weight tile: words from shared memory, shifted, masked, converted or
 *      split into f16 pairs, and scaled). A load or load_shared whose every use computes the
 *      same operand layout is read in that layout (step 1), so the chain runs in the operand's
 *      registers with no conversion through shared memory before the dot (elements of 16 bits or
 *      more: 8-bit ones would be read a byte at a time). A load_shared takes it only where no two
 *      warps hold the same operand elements (mma_b with one warp along M, mma_a with one along N):
 *      otherwise each warp would repeat the chain on the same elements (w4a16 at 64x128 with 8
 *      warps: ptxas then spilled at 128 registers); a small global load takes it in any case.
 *      An mma_b want stops at a cast from f32 to 16 bits whose operand is computed from a dot's
 *      result (narrows_dot_result): the 16-bit tile converts instead.
 * Steps, per op in program order (regions recursively):
 *   1. Producers (const, iota, splat, load, load_shared, dot, ...) get the default layout; a load from
 *      (and a store to) a global view whose constant unit stride is on another dim has that dim
 *      fastest instead, so that the accesses are 16-byte vectors and coalesced across the warp. A
 *      load or load_shared that step 0 found wanted in an operand layout takes that one.
 *      A gather_shared takes the layout of an accumulator tile its first elementwise user combines
 *      it with, where that is laid out already, else the default; its index tiles are made (or
 *      converted) in it.
 *   2. reduce keeps its operand's layout (with shape[axis] = 1); bitsplit takes its operand's split
 *      (ir_layout_split; the operand converted to the default first where that is no layout).
 *      broadcast gets the default layout of its result (its source's, when that is an mma layout)
 *      and converts its source to it; since a reduce keeps its operand's layout, reduce followed by
 *      broadcast back is a register copy.
 *   3. Elementwise ops whose tile operands agree keep that layout; otherwise the result gets the
 *      default layout and each operand that differs is converted. Cheap operands (const, splat,
 *      iota) take no part in the vote: they are recreated in the chosen layout instead of converted
 *      (in place when this is their only use), and so are cheap values anywhere below.
 *   4. dot: where the target has a matrix instruction for it and the tile holds whole fragments of
 *      a warp grid (target/mma_layout.h), the result takes the mma layout and the operands mma_a
 *      and mma_b (a load_shared used only there, or only as the same operand of dots, is read in
 *      that layout: ldmatrix from its buffer, into registers that the dots share);
 *      otherwise the default layout. A load_shared with one use, which wants it in an accumulator
 *      (mma) layout (a table multiplying a dot's result elementwise), is read in that layout too, and
 *      so is a small global load with one use (a row of scales or a bias, at most WANT_LOAD_MAX
 *      elements), in that layout or any blocked one its user needs. The accumulator converts to
 *      the result's layout. store converts its tile to the default layout (the view's contiguous
 *      dim fastest), except an accumulator-layout tile stored to a view with no contiguous dim,
 *      which no layout would coalesce: stored as it is.
 *   5. for: region arguments take their init's layout; the body's yield converts to them; the
 *      results take them too. A carried value that the body's dot yields takes that dot's mma
 *      layout (the accumulator stays in registers across iterations; its init converts once). A
 *      cheap init leaves its argument's layout open until the first use in the body needs one;
 *      the init is then recreated in it; so does a reduce init (converted once), and where that
 *      first use is an elementwise op whose other operands are broadcasts or cheap (no vote), the
 *      argument takes the reduce's layout (a running sum `full(0):sum(axis)` next to the body's
 *      reduction of a tile of the same shape). if: results take the then-yield's layouts; the
 *      else-yield converts.
 *   6. convert_layout ops already present keep their stated layout (default if none) and vanish when
 *      their operand already has it. A user that needs yet another layout converts from the source.
 *      A widening cast from 16 or 32 bits is not converted to a blocked or accumulator layout: its
 *      narrower operand is (fewer bytes through scratch, and a load_shared under it is then read in
 *      the layout), and the cast moves to it (its only use) or is copied there (one of several).
 *      A broadcast is recreated in the layout its user needs, converting its (smaller) source.
 *   7. Conversions, broadcasts and cheap ops left without uses are removed.
 * Running the pass twice changes nothing the second time.
 */
#include <stdio.h>
#include <string.h>

#include "../../target/mma_layout.h"
#include "pass.h"

typedef struct {
  ir_func *fn;
  const tg_target *target; /* NULL: sm_80 */
  int warps;
  uint32_t *uses; /* per value present when the pass started: live uses */
  uint32_t nuses;
  ir_layout *want; /* per value (below nuses): the dot operand layout it feeds (step 0) */
  uint8_t *wstate; /* WANT_NONE, WANT_ONE (want[v] holds it), WANT_MANY (users disagree) */
  ir_val *init;    /* per value (below nuses): a carried arg left open, its reduce init (or 0) */
} layout_ctx;

enum { WANT_NONE, WANT_ONE, WANT_MANY };

/* WANT_LOAD_MAX: the largest tile (elements) a global load reads straight into an operand layout.
 * A fragment holds pairs along K, so each thread loads 4 bytes at a time, and warps that share the
 * operand's rows each load them: for a small tile (w4a16's 16x16 slab of X and its row of scales)
 * that is cheaper than the conversion's shared-memory round trip and two barriers; for a large one
 * (a 64x16 slab: 32.7 -> 39.1 non-MMA per MMA measured) the conversion, with 16-byte coalesced
 * loads, wins. */
enum { WANT_DEPTH = 16, WANT_LOAD_MAX = 512 };

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* The layout of tile type t for a kernel of `warps` warps with dim `fast` fastest (see the top of
 * the file). The last dim fastest is the default layout; another fast dim is the unit-stride dim of
 * a transposed global view, so that each thread's 16 bytes and a warp's lanes run along memory. */
static ir_layout layout_with_fast(ir_type t, int warps, int fast) {
  ir_layout l = {.kind = IR_LBLOCKED};
  int r = t.rank;
  if (r < 1 || r > IR_MAXRANK) return (ir_layout){0};
  int ebytes = ir_elem_bytes(t.elem);
  l.order[0] = (uint8_t)fast;
  for (int i = 0, k = 1; i < r; i++) {
    if (r - 1 - i != fast) l.order[k++] = (uint8_t)(r - 1 - i);
    l.spt[i] = l.tpw[i] = l.wpc[i] = 1;
  }
  uint32_t spt = min_u32((fast == r - 1 ? 16 : 8) / ebytes, t.shape[fast]);
  uint32_t numel = 1, threads = 32u * (uint32_t)(warps > 0 ? warps : 1);
  for (int i = 0; i < r; i++) numel *= t.shape[i];
  while (spt > 1 && numel < threads * spt) spt /= 2;
  l.spt[fast] = (uint8_t)spt;
  uint32_t lanes = 32;
  for (int i = 0; i < r; i++) {
    int d = l.order[i];
    uint32_t n = min_u32(lanes, t.shape[d] / l.spt[d]);
    l.tpw[d] = (uint8_t)n;
    lanes /= n;
  }
  l.tpw[0] = (uint8_t)(l.tpw[0] * lanes);
  uint32_t w = (uint32_t)warps;
  for (int d = 0; d < r; d++) {
    uint32_t room = t.shape[d] / (l.spt[d] * l.tpw[d]);
    uint32_t n = min_u32(w, room ? room : 1);
    l.wpc[d] = (uint8_t)n;
    w /= n;
  }
  l.wpc[0] = (uint8_t)(l.wpc[0] * w);
  return l;
}

static ir_layout default_layout(ir_type t, int warps) { return layout_with_fast(t, warps, t.rank - 1); }

/* The dim of a global view whose stride is the constant 1 (the last such dim), or -1. */
static int unit_stride_dim(ir_func *fn, ir_val view) {
  ir_opid d = fn->vals[view].def;
  if (!d || fn->ops[d].code != IR_OP_VIEW) return -1;
  int r = ir_vtype(fn, view).rank;
  for (int k = r - 1; k >= 0; k--) {
    ir_opid c = fn->vals[fn->ops[d].opnd[1 + r + k]].def;
    if (c && fn->ops[c].code == IR_OP_CONST && ir_attr_i(fn->ops[c].attrs, "value", 0) == 1) return k;
  }
  return -1;
}

/* The layout for a tile loaded from or stored to global view `view`: its unit-stride dim fastest. */
static ir_layout global_layout(layout_ctx *lc, ir_type t, ir_val view) {
  int fast = unit_stride_dim(lc->fn, view);
  return layout_with_fast(t, lc->warps, fast < 0 ? t.rank - 1 : fast);
}

static int layout_eq(ir_layout a, ir_layout b, int rank) {
  if (a.kind != b.kind) return 0;
  for (int i = 0; i < rank; i++)
    if (a.spt[i] != b.spt[i] || a.tpw[i] != b.tpw[i] || a.wpc[i] != b.wpc[i] || a.order[i] != b.order[i])
      return 0;
  return 1;
}

static int is_tile(ir_func *fn, ir_val v) { return v && ir_vtype(fn, v).kind == IR_TTILE; }

static void set_layout(ir_func *fn, ir_val v, ir_layout l) {
  if (is_tile(fn, v)) fn->vals[v].type.layout = l;
}

static void set_default(layout_ctx *lc, ir_val v) {
  if (is_tile(lc->fn, v)) set_layout(lc->fn, v, default_layout(ir_vtype(lc->fn, v), lc->warps));
}

/* A loop argument whose layout is still open (step 5) gets the default one when something needs
 * to read it. */
static void ensure(layout_ctx *lc, ir_val v) {
  if (is_tile(lc->fn, v) && ir_vtype(lc->fn, v).layout.kind == IR_LNONE) set_default(lc, v);
}

/* const, splat and iota cost nothing to recreate in another layout. */
static int is_cheap(ir_func *fn, ir_val v) {
  ir_opid d = fn->vals[v].def;
  if (!d) return 0;
  int c = fn->ops[d].code;
  return c == IR_OP_CONST || c == IR_OP_SPLAT || c == IR_OP_IOTA;
}

/* Index math: an elementwise op with an integer (or i1) result whose tile operands are cheap, index
 * math or broadcasts of either, `depth` levels down at most (a column mask `iota + n0 < Sk`, a causal
 * mask `cols <= rows + diag`). Recreated where a user needs another layout, like a cheap value: a
 * few integer ops per element, where a conversion goes through shared memory and two barriers. */
static int is_index_math(ir_func *fn, ir_val v, int depth) {
  ir_opid d = fn->vals[v].def;
  if (!d || depth <= 0 || !(ir_opinfo_table[fn->ops[d].code].flags & IR_F_ELEMENTWISE)) return 0;
  if (ir_vtype(fn, v).elem > IR_I64) return 0;
  for (uint32_t k = 0; k < fn->ops[d].nopnd; k++) {
    ir_val o = fn->ops[d].opnd[k];
    ir_opid od = fn->vals[o].def;
    if (od && fn->ops[od].code == IR_OP_BROADCAST) o = fn->ops[od].opnd[0];
    if (is_tile(fn, o) && !is_cheap(fn, o) && !is_index_math(fn, o, depth - 1)) return 0;
  }
  return 1;
}

static void copy_attrs(ir_func *fn, ir_opid to, ir_attr *a) {
  for (; a; a = a->next) {
    ir_attr **list = &fn->ops[to].attrs;
    switch (a->kind) {
    case IR_AINT: ir_attr_set_i(fn->A, list, a->key, a->i); break;
    case IR_AFLOAT: ir_attr_set_f(fn->A, list, a->key, a->f); break;
    case IR_ASTR: ir_attr_set_s(fn->A, list, a->key, a->s); break;
    default: ir_attr_set_list(fn->A, list, a->key, a->list, a->nlist); break;
    }
  }
}

static void add_use(layout_ctx *lc, ir_val v) {
  if (v < lc->nuses) lc->uses[v]++;
}

static void drop_use(layout_ctx *lc, ir_val v) {
  if (v < lc->nuses && lc->uses[v]) lc->uses[v]--;
}

static void convert_operand(layout_ctx *lc, ir_opid user, uint32_t k, ir_layout l);

/* v (a cheap value, index math or a broadcast) recreated in layout l for `user`: v itself when this
 * is its only use, else a copy of its op placed before `user`. A broadcast's source, and index
 * math's operands, are then converted to l in turn: converting the smaller tile, recreating cheap
 * operands, or nothing at all when they already have l. */
static ir_val rematerialize(layout_ctx *lc, ir_opid user, ir_val v, ir_layout l) {
  ir_func *fn = lc->fn;
  ir_opid d = fn->vals[v].def;
  ir_val r = v;
  if (v < lc->nuses && lc->uses[v] == 1) {
    fn->vals[v].type.layout = l;
  } else {
    ir_type t = ir_vtype(fn, v);
    t.layout = l;
    ir_builder b = ir_builder_before(fn, user);
    ir_opid c = ir_build(&b, (ir_opcode)fn->ops[d].code, fn->ops[d].opnd, fn->ops[d].nopnd, &t, 1, 0);
    copy_attrs(fn, c, fn->ops[d].attrs);
    for (uint32_t i = 0; i < fn->ops[c].nopnd; i++) add_use(lc, fn->ops[c].opnd[i]);
    drop_use(lc, v);
    d = c;
    r = ir_res(fn, c, 0);
  }
  if (fn->ops[d].code == IR_OP_BROADCAST)
    convert_operand(lc, d, 0, l);
  else if (ir_opinfo_table[fn->ops[d].code].flags & IR_F_ELEMENTWISE) /* index math */
    for (uint32_t k = 0; k < fn->ops[d].nopnd; k++) convert_operand(lc, d, k, l);
  return r;
}

/* 1 if every live use of v is as operand k of a dot (a tile read once and multiplied in several
 * places, such as attention's Q in both key loops: the dots want the same fragments). */
static int only_dot_operand(const ir_func *fn, ir_val v, uint32_t k) {
  for (ir_opid op = 1; op < fn->nops; op++) {
    const ir_op *o = &fn->ops[op];
    if (o->dead) continue;
    for (uint32_t i = 0; i < o->nopnd; i++)
      if (o->opnd[i] == v && (o->code != IR_OP_DOT || i != k)) return 0;
  }
  return 1;
}

/* Makes operand k of op `user` have layout l: a cheap value or a broadcast is recreated in l; a
 * conversion is looked through (converting its source instead); anything else goes through a
 * convert_layout inserted before the op. */
static void convert_operand(layout_ctx *lc, ir_opid user, uint32_t k, ir_layout l) {
  ir_func *fn = lc->fn;
  ir_val v = fn->ops[user].opnd[k];
  if (!is_tile(fn, v)) return;
  ir_type t = ir_vtype(fn, v);
  if (layout_eq(t.layout, l, t.rank)) return;
  if (t.layout.kind == IR_LNONE) { /* an open loop argument: its first user decides */
    set_layout(fn, v, l);
    return;
  }
  ir_opid d = fn->vals[v].def;
  if (d && fn->ops[d].code == IR_OP_CONVERT_LAYOUT) {
    ir_val src = fn->ops[d].opnd[0];
    drop_use(lc, v);
    /* a conversion this pass made served this use alone: src's use moves to the user (the
     * conversion is left dead), so src's count stays what it was */
    if (v < lc->nuses) add_use(lc, src);
    fn->ops[user].opnd[k] = src;
    convert_operand(lc, user, k, l);
    return;
  }
  if (is_cheap(fn, v) || (d && fn->ops[d].code == IR_OP_BROADCAST) || is_index_math(fn, v, 4)) {
    fn->ops[user].opnd[k] = rematerialize(lc, user, v, l);
    return;
  }
  if (d && fn->ops[d].code == IR_OP_LOAD_SHARED && (l.kind == IR_LMMA_A || l.kind == IR_LMMA_B) &&
      v < lc->nuses && (lc->uses[v] == 1 || only_dot_operand(fn, v, k))) {
    /* read straight into the fragments (ldmatrix) */
    set_layout(fn, v, l);
    return;
  }
  if (d && (l.kind == IR_LMMA || l.kind == IR_LBLOCKED) && v < lc->nuses && lc->uses[v] == 1 &&
      ((l.kind == IR_LMMA && fn->ops[d].code == IR_OP_LOAD_SHARED) ||
       (fn->ops[d].code == IR_OP_LOAD && ir_type_numel(t) <= WANT_LOAD_MAX))) {
    /* read straight into the accumulator's layout (no round trip through scratch): a table in
     * shared memory, or a small global tile such as a row of scales a dot's result is multiplied by;
     * a small global tile read once is read in whatever blocked layout its user needs too (a row of
     * scales broadcast over a tile laid out for more elements a thread than the row's default) */
    set_layout(fn, v, l);
    return;
  }
  int from = d && fn->ops[d].code == IR_OP_CAST ? ir_elem_bytes(ir_vtype(fn, fn->ops[d].opnd[0]).elem) : 0;
  if (from >= 2 && from < ir_elem_bytes(t.elem) && l.kind != IR_LMMA_A && l.kind != IR_LMMA_B &&
      v < lc->nuses) {
    /* a widening cast: convert (or read) its narrower operand instead, and cast in l (not for
     * operand layouts, whose registers pack the element width, nor from 8-bit elements, which would
     * be read a byte at a time); the cast itself moves to l where this is its only use, else a copy
     * of it is made for this user (cse merges the copies, and the conversions, of the users that
     * want the same layout) */
    fn->ops[user].opnd[k] = rematerialize(lc, user, v, l);
    return;
  }
  t.layout = l;
  ir_builder b = ir_builder_before(fn, user);
  ir_opid c = ir_build(&b, IR_OP_CONVERT_LAYOUT, &v, 1, &t, 1, 0);
  fn->ops[user].opnd[k] = ir_res(fn, c, 0);
}

static int is_broadcast(ir_func *fn, ir_val v) {
  ir_opid d = fn->vals[v].def;
  return d && fn->ops[d].code == IR_OP_BROADCAST;
}

/* Step 3: elementwise ops. Cheap operands (const, splat, iota) do not take part in the vote, nor do
 * broadcasts when another operand votes (they are recreated in the winner's layout, converting
 * their smaller source). */
static void assign_elementwise(layout_ctx *lc, ir_opid op) {
  ir_func *fn = lc->fn;
  ir_val res = fn->ops[op].res[0];
  if (!is_tile(fn, res)) return;
  ir_val anchor = 0, mma = 0;
  int agree = 1, others = 0, hinted = 0;
  for (uint32_t k = 0; k < fn->ops[op].nopnd; k++) {
    ir_val v = fn->ops[op].opnd[k];
    others +=
        is_tile(fn, v) && !is_cheap(fn, v) && !is_broadcast(fn, v) && ir_vtype(fn, v).layout.kind != IR_LNONE;
  }
  for (uint32_t k = 0; k < fn->ops[op].nopnd; k++) {
    ir_val v = fn->ops[op].opnd[k];
    if (!is_tile(fn, v) || is_cheap(fn, v)) continue;
    /* no other operand votes: a carried value still open (step 5) votes for its init's layout, a
     * reduction's (a running sum initialised as a reduce of zeros, as the body's reduction is
     * laid out), rather than its partners' broadcasts deciding */
    if (!others && v < lc->nuses && lc->init[v] && ir_vtype(fn, v).layout.kind == IR_LNONE) {
      anchor = lc->init[v];
      hinted = 1;
      break;
    }
  }
  for (uint32_t k = 0; k < fn->ops[op].nopnd && !hinted; k++) {
    ir_val v = fn->ops[op].opnd[k];
    if (!is_tile(fn, v) || is_cheap(fn, v) || ir_vtype(fn, v).layout.kind == IR_LNONE) continue;
    if (others && is_broadcast(fn, v)) continue;
    if (!anchor)
      anchor = v;
    else if (!layout_eq(ir_vtype(fn, v).layout, ir_vtype(fn, anchor).layout, ir_vtype(fn, v).rank))
      agree = 0;
    if (!mma && ir_vtype(fn, v).layout.kind >= IR_LMMA) mma = v;
  }
  /* operands that disagree: one that comes from a dot keeps its mma layout, else the default */
  ir_layout l = anchor && agree ? ir_vtype(fn, anchor).layout
                : mma           ? ir_vtype(fn, mma).layout
                                : default_layout(ir_vtype(fn, res), lc->warps);
  for (uint32_t k = 0; k < fn->ops[op].nopnd; k++) convert_operand(lc, op, k, l);
  set_layout(fn, res, l);
}

/* Step 6: an existing convert_layout keeps its layout, or vanishes when it changes nothing. */
static void assign_convert(layout_ctx *lc, ir_opid op) {
  ir_func *fn = lc->fn;
  ir_val src = fn->ops[op].opnd[0], res = fn->ops[op].res[0];
  if (ir_vtype(fn, res).layout.kind == IR_LNONE) set_default(lc, res);
  ir_type t = ir_vtype(fn, res);
  if (ir_vtype(fn, src).layout.kind == IR_LNONE) set_layout(fn, src, t.layout);
  if (layout_eq(ir_vtype(fn, src).layout, t.layout, t.rank)) {
    ir_replace_all_uses(fn, res, src);
    ir_op_unlink(fn, op);
  }
}

/* The mma layout (kind IR_LMMA, IR_LMMA_A or IR_LMMA_B) of dot op's result or operands where the
 * target has a matrix instruction for it and the tile holds whole fragments of a warp grid
 * (mma_layout.h); kind IR_LNONE otherwise. */
static ir_layout dot_layout(layout_ctx *lc, ir_opid op, ir_lkind kind) {
  ir_func *fn = lc->fn;
  ir_type ta = ir_vtype(fn, fn->ops[op].opnd[0]), tb = ir_vtype(fn, fn->ops[op].opnd[1]);
  ir_type tr = ir_vtype(fn, fn->ops[op].res[0]);
  tg_mma_pick p;
  int wm, wn;
  if (ta.rank != 2 || tb.rank != 2 || tr.rank != 2 ||
      !tg_mma_pick_for(lc->target, ta.elem, tb.elem, tr.elem, ir_attr_s(fn->ops[op].attrs, "precision", NULL),
                       &p) ||
      !(ir_attr_s(fn->ops[op].attrs, "split", NULL) || ir_attr_i(fn->ops[op].attrs, "wgmma", 0)
            ? tg_mma_warp_rows(tr.shape[0], tr.shape[1], lc->warps, &wm, &wn)
            : tg_mma_warp_grid(tr.shape[0], tr.shape[1], lc->warps, &wm, &wn)) ||
      !tg_mma_fits(&p, tr.shape[0], tr.shape[1], ta.shape[1], wm, wn))
    return (ir_layout){0};
  return ir_layout_mma(kind, wm, wn, p.kw);
}

/* ---- step 0: the layouts dot operands want from the values that compute them ---- */

/* bitsplit op's factor: operand element bits per result element bits. */
static int split_factor(ir_func *fn, ir_opid op) {
  return ir_elem_bits(ir_vtype(fn, fn->ops[op].opnd[0]).elem) /
         ir_elem_bits(ir_vtype(fn, fn->ops[op].res[0]).elem);
}

/* Whether v is computed from a dot's result through elementwise ops, `depth` levels down at most. */
static int from_dot(ir_func *fn, ir_val v, int depth) {
  ir_opid d = fn->vals[v].def;
  if (!d || depth < 0 || !is_tile(fn, v)) return 0;
  if (fn->ops[d].code == IR_OP_DOT) return 1;
  if (!(ir_opinfo_table[fn->ops[d].code].flags & IR_F_ELEMENTWISE)) return 0;
  for (uint32_t k = 0; k < fn->ops[d].nopnd; k++)
    if (from_dot(fn, fn->ops[d].opnd[k], depth - 1)) return 1;
  return 0;
}

/* Op d narrows f32 to 16 bits, and its operand is computed from a dot's result. Feeding an mma_b
 * operand, the f32 side stays in the layouts it has (a dot result's: the conversion to mma_b,
 * across threads, is one through shared memory whichever side takes it) and the 16-bit result is
 * converted instead: half the bytes, by ldmatrix where it can, and the f32 tables multiplied on
 * the way are read in their accumulator or default layouts, whole 8- or 16-byte runs, where mma_b's
 * pairs along K would be two 4-byte words 2 rows apart (fftconv's twiddles at N = 32 read 8 x 8 f32
 * tiles that way: two wavefronts a request, a bank conflict in each). */
static int narrows_dot_result(ir_func *fn, ir_opid d) {
  const ir_op *o = &fn->ops[d];
  if (o->code != IR_OP_CAST || ir_vtype(fn, o->opnd[0]).elem != IR_F32 ||
      ir_elem_bits(ir_vtype(fn, o->res[0]).elem) != 16)
    return 0;
  return from_dot(fn, o->opnd[0], 4);
}

/* v feeds a dot operand of layout l through elementwise ops, broadcasts and bitsplits only: records
 * it, and carries it on to v's own operands (a broadcast's source wants l too; a bitsplit's source
 * wants l unsplit: the words whose halves are the operand's pairs). */
static void want_back(layout_ctx *lc, ir_val v, ir_layout l, int depth) {
  ir_func *fn = lc->fn;
  if (!is_tile(fn, v) || v >= lc->nuses || depth > WANT_DEPTH || is_cheap(fn, v)) return;
  ir_type t = ir_vtype(fn, v);
  if (lc->wstate[v] == WANT_ONE && layout_eq(lc->want[v], l, t.rank)) return;
  if (lc->wstate[v] != WANT_NONE) {
    lc->wstate[v] = WANT_MANY;
    return;
  }
  lc->wstate[v] = WANT_ONE;
  lc->want[v] = l;
  ir_opid d = fn->vals[v].def;
  if (!d) return;
  const ir_op *o = &fn->ops[d];
  ir_layout u;
  if (o->code == IR_OP_BITSPLIT &&
      ir_layout_unsplit(l, (int)ir_attr_i(o->attrs, "axis", 0), split_factor(fn, d), &u))
    want_back(lc, o->opnd[0], u, depth + 1);
  if (l.kind == IR_LMMA_B && narrows_dot_result(fn, d)) return;
  if (o->code == IR_OP_BROADCAST || (ir_opinfo_table[o->code].flags & IR_F_ELEMENTWISE))
    for (uint32_t k = 0; k < o->nopnd; k++) want_back(lc, o->opnd[k], l, depth + 1);
}

static void collect_wants(layout_ctx *lc) {
  ir_func *fn = lc->fn;
  for (ir_opid op = 1; op < fn->nops; op++) {
    const ir_op *o = &fn->ops[op];
    if (o->dead || o->code != IR_OP_DOT || ir_attr_i(o->attrs, "wgmma", 0)) continue;
    if (dot_layout(lc, op, IR_LMMA).kind == IR_LNONE) continue;
    want_back(lc, o->opnd[0], dot_layout(lc, op, IR_LMMA_A), 0);
    want_back(lc, o->opnd[1], dot_layout(lc, op, IR_LMMA_B), 0);
  }
}

/* The layout a load or load_shared result v is best produced in, when every use of it computes a
 * dot operand of one mma layout (the operand itself, or an elementwise op or broadcast whose result
 * wants that layout): read in that layout, the chain runs in the operand's registers and no
 * conversion (through shared memory, with two barriers) is left before the dot. Kind IR_LNONE
 * otherwise. */
static ir_layout wanted(layout_ctx *lc, ir_val v) {
  ir_func *fn = lc->fn;
  /* 8-bit elements in an operand layout are read one byte at a time (attention's e4m3 V, widened to
   * f16: 240 bytes spilled on sm_89); they keep the default and one conversion */
  if (v >= lc->nuses || lc->wstate[v] != WANT_ONE || ir_elem_bits(ir_vtype(fn, v).elem) < 16)
    return (ir_layout){0};
  ir_layout l = lc->want[v];
  int rank = ir_vtype(fn, v).rank;
  for (ir_opid op = 1; op < fn->nops; op++) {
    const ir_op *o = &fn->ops[op];
    if (o->dead) continue;
    for (uint32_t i = 0; i < o->nopnd; i++) {
      if (o->opnd[i] != v) continue;
      int ok;
      ir_layout u;
      if (o->code == IR_OP_BITSPLIT)
        ok = o->res[0] < lc->nuses && lc->wstate[o->res[0]] == WANT_ONE &&
             ir_layout_unsplit(lc->want[o->res[0]], (int)ir_attr_i(o->attrs, "axis", 0), split_factor(fn, op),
                               &u) &&
             layout_eq(u, l, rank);
      else if (o->code == IR_OP_DOT)
        ok = i < 2 && !ir_attr_i(o->attrs, "wgmma", 0) &&
             layout_eq(dot_layout(lc, op, i ? IR_LMMA_B : IR_LMMA_A), l, rank);
      else
        ok = o->nres == 1 && o->res[0] < lc->nuses && lc->wstate[o->res[0]] == WANT_ONE &&
             layout_eq(lc->want[o->res[0]], l, rank) &&
             (o->code == IR_OP_BROADCAST || (ir_opinfo_table[o->code].flags & IR_F_ELEMENTWISE));
      if (!ok) return (ir_layout){0};
    }
  }
  return l;
}

/* Step 4: dot. */
static void assign_dot(layout_ctx *lc, ir_opid op) {
  ir_func *fn = lc->fn;
  ir_layout l = dot_layout(lc, op, IR_LMMA);
  if (l.kind == IR_LNONE) {
    set_default(lc, fn->ops[op].res[0]);
  } else {
    set_layout(fn, fn->ops[op].res[0], l);
    convert_operand(lc, op, 0, dot_layout(lc, op, IR_LMMA_A));
    convert_operand(lc, op, 1, dot_layout(lc, op, IR_LMMA_B));
  }
  convert_operand(lc, op, 2, ir_vtype(fn, fn->ops[op].res[0]).layout);
}

/* The mma layout of the dot that yields carried value i of body r directly, if any. */
static ir_layout carried_dot_layout(layout_ctx *lc, ir_reg r, uint32_t i) {
  ir_func *fn = lc->fn;
  ir_opid y = fn->regions[r].last;
  if (!y || fn->ops[y].code != IR_OP_YIELD || i >= fn->ops[y].nopnd) return (ir_layout){0};
  ir_opid d = fn->vals[fn->ops[y].opnd[i]].def;
  if (!d || fn->ops[d].code != IR_OP_DOT || fn->ops[d].parent != r) return (ir_layout){0};
  return dot_layout(lc, d, IR_LMMA);
}

static ir_opid region_yield(ir_func *fn, ir_reg r) {
  ir_opid last = fn->regions[r].last;
  return last && fn->ops[last].code == IR_OP_YIELD ? last : 0;
}

static void assign_region(layout_ctx *lc, ir_reg r);

/* Step 5 for `for`: operands lo, hi, step, inits...; region args iv, carried... A carried value
 * whose init is cheap leaves its layout open: the first use in the body decides it (so that, say, a
 * running maximum carried next to a row reduction takes the reduction's layout) and the init is
 * recreated in it. */
static void assign_for(layout_ctx *lc, ir_opid op) {
  ir_func *fn = lc->fn;
  ir_reg body = fn->ops[op].region[0];
  for (uint32_t i = 1; i < fn->regions[body].nargs; i++) {
    ir_val init = fn->ops[op].opnd[2 + i], arg = fn->regions[body].args[i];
    if (!is_tile(fn, init)) continue;
    ir_layout acc = carried_dot_layout(lc, body, i - 1);
    if (acc.kind != IR_LNONE) { /* an accumulator stays in the dot's registers across iterations */
      set_layout(fn, arg, acc);
      continue;
    }
    ir_opid d = fn->vals[init].def;
    if (is_cheap(fn, init) || (d && fn->ops[d].code == IR_OP_REDUCE)) { /* a row statistic: convert once */
      fn->vals[arg].type.layout = (ir_layout){0};
      if (!is_cheap(fn, init) && arg < lc->nuses && ir_vtype(fn, init).layout.kind != IR_LNONE)
        lc->init[arg] = init;
      continue;
    }
    ensure(lc, init);
    set_layout(fn, arg, ir_vtype(fn, init).layout);
  }
  assign_region(lc, body);
  ir_opid y = region_yield(fn, body);
  for (uint32_t i = 1; i < fn->regions[body].nargs; i++) {
    ir_val arg = fn->regions[body].args[i];
    ensure(lc, arg);
    convert_operand(lc, op, 2 + i, ir_vtype(fn, arg).layout);
    if (y && i - 1 < fn->ops[y].nopnd) convert_operand(lc, y, i - 1, ir_vtype(fn, arg).layout);
    if (i - 1 < fn->ops[op].nres) set_layout(fn, fn->ops[op].res[i - 1], ir_vtype(fn, arg).layout);
  }
}

/* Step 5 for `if`. */
static void assign_if(layout_ctx *lc, ir_opid op) {
  ir_func *fn = lc->fn;
  assign_region(lc, fn->ops[op].region[0]);
  assign_region(lc, fn->ops[op].region[1]);
  ir_opid ythen = region_yield(fn, fn->ops[op].region[0]);
  ir_opid yelse = region_yield(fn, fn->ops[op].region[1]);
  for (uint32_t i = 0; i < fn->ops[op].nres; i++) {
    ir_val res = fn->ops[op].res[i];
    if (!is_tile(fn, res)) continue;
    if (ythen && i < fn->ops[ythen].nopnd) {
      ensure(lc, fn->ops[ythen].opnd[i]);
      set_layout(fn, res, ir_vtype(fn, fn->ops[ythen].opnd[i]).layout);
    } else {
      set_default(lc, res);
    }
    if (yelse && i < fn->ops[yelse].nopnd) convert_operand(lc, yelse, i, ir_vtype(fn, res).layout);
  }
}

/* The layout of a gather_shared's result: that of an accumulator tile (a dot's result) its first
 * elementwise user combines it with, when that is already laid out (an FFT's spectrum and its
 * reversal: the gather then reads straight into the spectrum's registers), else the default. */
static ir_layout gather_layout(layout_ctx *lc, ir_opid op) {
  ir_func *fn = lc->fn;
  ir_val res = fn->ops[op].res[0];
  for (ir_opid u = fn->ops[op].next; u; u = fn->ops[u].next) {
    const ir_op *uo = &fn->ops[u];
    int uses = 0;
    for (uint32_t k = 0; k < uo->nopnd; k++) uses |= uo->opnd[k] == res;
    if (!uses) continue;
    if (!(ir_opinfo_table[uo->code].flags & IR_F_ELEMENTWISE)) break;
    for (uint32_t k = 0; k < uo->nopnd; k++)
      if (uo->opnd[k] != res && is_tile(fn, uo->opnd[k]) && ir_vtype(fn, uo->opnd[k]).layout.kind == IR_LMMA)
        return ir_vtype(fn, uo->opnd[k]).layout;
    break;
  }
  return default_layout(ir_vtype(fn, res), lc->warps);
}

static void assign_op(layout_ctx *lc, ir_opid op) {
  ir_func *fn = lc->fn;
  ir_op *o = &fn->ops[op];
  switch (o->code) {
  case IR_OP_FOR: assign_for(lc, op); return;
  case IR_OP_IF: assign_if(lc, op); return;
  case IR_OP_WARP_SPLIT: /* no results: each region on its own */
    assign_region(lc, o->region[0]);
    assign_region(lc, o->region[1]);
    return;
  case IR_OP_YIELD: return; /* handled by the parent */
  case IR_OP_CONVERT_LAYOUT: assign_convert(lc, op); return;
  case IR_OP_REDUCE:
    ensure(lc, o->opnd[0]);
    set_layout(fn, o->res[0], ir_vtype(fn, o->opnd[0]).layout);
    return;
  case IR_OP_BROADCAST:
    if (ir_vtype(fn, o->opnd[0]).layout.kind >= IR_LMMA) /* a row statistic of a dot's result */
      set_layout(fn, o->res[0], ir_vtype(fn, o->opnd[0]).layout);
    else
      set_default(lc, o->res[0]);
    convert_operand(lc, op, 0, ir_vtype(fn, fn->ops[op].res[0]).layout);
    return;
  case IR_OP_DOT: assign_dot(lc, op); return;
  case IR_OP_BITSPLIT: { /* the operand's layout split (a thread splits its own elements) */
    ensure(lc, o->opnd[0]);
    int axis = (int)ir_attr_i(o->attrs, "axis", 0), f = split_factor(fn, op);
    ir_layout l;
    if (!ir_layout_split(ir_vtype(fn, o->opnd[0]).layout, axis, f, &l)) {
      ir_layout d = default_layout(ir_vtype(fn, o->opnd[0]), lc->warps);
      convert_operand(lc, op, 0, d);
      ir_layout_split(d, axis, f, &l);
    }
    set_layout(fn, o->res[0], l);
    return;
  }
  case IR_OP_LOAD: { /* from global memory in an operand layout: small tiles only (below) */
    ir_layout w =
        ir_type_numel(ir_vtype(fn, o->res[0])) <= WANT_LOAD_MAX ? wanted(lc, o->res[0]) : (ir_layout){0};
    set_layout(fn, o->res[0],
               w.kind != IR_LNONE ? w : global_layout(lc, ir_vtype(fn, o->res[0]), o->opnd[0]));
    return;
  }
  case IR_OP_LOAD_SHARED: { /* in an operand layout no two warps share (below) */
    ir_layout w = wanted(lc, o->res[0]);
    if ((w.kind == IR_LMMA_B && w.wpc[0] > 1) || (w.kind == IR_LMMA_A && w.wpc[1] > 1)) w = (ir_layout){0};
    if (w.kind != IR_LNONE)
      set_layout(fn, o->res[0], w);
    else
      set_default(lc, o->res[0]);
    return;
  }
  case IR_OP_GATHER_SHARED: { /* the index tiles in the result's layout */
    ir_layout l = gather_layout(lc, op);
    for (uint32_t k = 1; k < fn->ops[op].nopnd; k++) convert_operand(lc, op, k, l);
    set_layout(fn, fn->ops[op].res[0], l);
    return;
  }
  case IR_OP_STORE: {
    ir_val v = o->nopnd ? o->opnd[o->nopnd - 1] : 0;
    if (!is_tile(fn, v)) return;
    /* a view with no contiguous dim (a strided one: an FFT's even samples) gains nothing from the
     * coalescing layout: an accumulator is stored as it is, not converted through scratch */
    if (unit_stride_dim(fn, o->opnd[0]) < 0 && ir_vtype(fn, v).layout.kind == IR_LMMA) return;
    convert_operand(lc, op, o->nopnd - 1, global_layout(lc, ir_vtype(fn, v), o->opnd[0]));
    return;
  }
  default: break;
  }
  if (ir_opinfo_table[o->code].flags & IR_F_ELEMENTWISE) {
    assign_elementwise(lc, op);
    return;
  }
  for (uint32_t i = 0; i < o->nres; i++) set_default(lc, o->res[i]);
}

static void assign_region(layout_ctx *lc, ir_reg r) {
  for (ir_opid op = lc->fn->regions[r].first; op;) {
    ir_opid next = lc->fn->ops[op].next; /* assign_convert may unlink op */
    assign_op(lc, op);
    op = next;
  }
}

/* Step 7: ops of the kinds this pass creates or abandons (conversions, broadcasts, const, splat,
 * iota) that are left without uses go, and then whatever only they used. */
static int sweepable(ir_func *fn, ir_opid op) {
  int c = fn->ops[op].code;
  return !fn->ops[op].dead && fn->ops[op].nres == 1 &&
         (c == IR_OP_CONVERT_LAYOUT || c == IR_OP_BROADCAST || c == IR_OP_CONST || c == IR_OP_SPLAT ||
          c == IR_OP_IOTA);
}

static void sweep(ir_func *fn) {
  ir_arena *A = ir_arena_new();
  uint32_t *uses = ir_use_counts(fn, A);
  ir_opid *work = ir_alloc(A, fn->nops * sizeof *work);
  uint32_t n = 0;
  for (ir_opid op = 1; op < fn->nops; op++)
    if (sweepable(fn, op) && !uses[fn->ops[op].res[0]]) work[n++] = op;
  while (n) {
    ir_opid op = work[--n];
    if (!sweepable(fn, op)) continue;
    ir_op_unlink(fn, op);
    for (uint32_t k = 0; k < fn->ops[op].nopnd; k++) {
      ir_val v = fn->ops[op].opnd[k];
      ir_opid d = fn->vals[v].def;
      if (--uses[v] == 0 && d && sweepable(fn, d)) work[n++] = d;
    }
  }
  ir_arena_free(A);
}

int pass_layout_assign(ir_func *fn, pass_ctx *pc) {
  int64_t warps = ir_attr_i(fn->attrs, "warps", 4);
  if (warps < 1 || warps > 32 || (warps & (warps - 1))) {
    snprintf(pc->err, sizeof pc->err, "kernel '%s': warps = %lld must be a power of two from 1 to 32",
             fn->name, (long long)warps);
    return -1;
  }
  ir_arena *A = ir_arena_new();
  layout_ctx lc = {fn, pc->target, (int)warps, ir_use_counts(fn, A), fn->nvals, NULL, NULL, NULL};
  lc.init = ir_alloc(A, (size_t)fn->nvals * sizeof *lc.init);
  memset(lc.init, 0, (size_t)fn->nvals * sizeof *lc.init);
  lc.want = ir_alloc(A, (size_t)fn->nvals * sizeof *lc.want);
  lc.wstate = ir_alloc(A, fn->nvals);
  memset(lc.wstate, WANT_NONE, fn->nvals);
  collect_wants(&lc);
  assign_region(&lc, fn->body);
  ir_arena_free(A);
  sweep(fn);
  return 0;
}
