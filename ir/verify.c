/*
 * verify.c - the tile IR verifier: structure, types, attributes and dominance (docs/ir.md).
 *
 * 1. Kernel: attributes (`warps`), parameter types.
 * 2. Walk every region in program order, keeping the set of values visible at this point: the
 *    arguments of the regions that enclose it and the results of the ops before it in those
 *    regions. An op's own results are visible only after the op (not in its regions).
 * 3. Per op: operand/result/region counts against ops.def, each operand visible, each result type
 *    and block argument type well formed (rank 1..3, power-of-two dims, the size limits of ir.h, a
 *    valid layout), then the op's regions, then the op's own type and attribute rules: ops.def's
 *    verify column names the check_ function (one per family below; the dispatch table check_rules
 *    is expanded from ops.def).
 * 4. Regions of `for`/`if` end with a `yield` whose operands match the op; `yield` appears nowhere
 *    else.
 *
 * The first problem stops the walk: the message is one line, "[file:line: ]op 'add' (result %5):
 * operand 1 has type ... but ...", with values named as the printer names them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

typedef struct {
  ir_func *fn;
  ir_arena *A;
  const char **names; /* printed names, for messages (made by vname when first needed) */
  uint8_t *vis;       /* per value: visible (dominates the current point) */
  int warps;
  char tb[4][200]; /* rotating type-string buffers for one message */
  char wb[160];    /* what_str's */
  int ti;
  char *err;
  size_t errn;
  jmp_buf fail;
} verifier;

/* ---- messages ---- */

static const char *ts(verifier *V, ir_type t) {
  char *b = V->tb[V->ti++ & 3];
  ir_type_str(t, b, sizeof V->tb[0]);
  return b;
}

/* The names are made when a message first needs one: making them for every run was 40% of the
 * verifier's time, and it runs after every pass (compiler/api/compile.c). */
static const char *vname(verifier *V, ir_val v) {
  if (!V->names) V->names = ir_value_names(V->fn, V->A);
  return v && v < V->fn->nvals && V->names[v] ? V->names[v] : "%<unnamed>";
}

/* What check_type's messages name (result a, block argument b of region a, or a kernel parameter),
 * spelled out only for a message: formatting it for every value was much of the verifier's time. */
typedef struct {
  enum { W_RESULT, W_BLOCK_ARG, W_PARAM } kind;
  uint32_t a, b;
  ir_val param;
} what_t;

static const char *what_str(verifier *V, const what_t *w) {
  char *b = V->wb;
  if (w->kind == W_RESULT)
    snprintf(b, sizeof V->wb, "result %u", w->a);
  else if (w->kind == W_BLOCK_ARG)
    snprintf(b, sizeof V->wb, "region %u block argument %u", w->a, w->b);
  else
    snprintf(b, sizeof V->wb, "parameter %s", vname(V, w->param));
  return b;
}

static _Noreturn void fail_kernel(verifier *V, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (V->err && V->errn) snprintf(V->err, V->errn, "kernel @%s: %s", V->fn->name, msg);
  longjmp(V->fail, 1);
}

/* "[file:line: ]op 'NAME' (result %N): message" */
static _Noreturn void fail(verifier *V, ir_opid op, const char *fmt, ...) {
  ir_op *o = ir_o(V->fn, op);
  char msg[600], where[300] = "", res[80] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (o->file) snprintf(where, sizeof where, "%s:%d: ", o->file, o->line);
  if (o->nres) snprintf(res, sizeof res, " (result %s)", vname(V, o->res[0]));
  const char *name = o->code < IR_NOPS ? ir_opinfo_table[o->code].name : "<bad opcode>";
  if (V->err && V->errn) snprintf(V->err, V->errn, "%sop '%s'%s: %s", where, name, res, msg);
  longjmp(V->fail, 1);
}

/* ---- small type predicates ---- */

static int is_pow2(uint64_t x) { return x && !(x & (x - 1)); }
static ir_op *O(verifier *V, ir_opid op) { return ir_o(V->fn, op); }
static ir_type otype(verifier *V, ir_opid op, uint32_t i) { return ir_vtype(V->fn, O(V, op)->opnd[i]); }
static ir_type rtype(verifier *V, ir_opid op, uint32_t i) { return ir_vtype(V->fn, O(V, op)->res[i]); }
static int is_value_type(ir_type t) { return t.kind == IR_TSCALAR || t.kind == IR_TTILE; }
static int is_int_scalar(ir_type t) { return t.kind == IR_TSCALAR && !ir_elem_is_float(t.elem); }
static const char *opname(verifier *V, ir_opid op) { return ir_opinfo_table[O(V, op)->code].name; }

/* t with element type e (shape and layout kept). */
static ir_type with_elem(ir_type t, ir_elem e) {
  t.elem = e;
  return t;
}

/* ---- well-formed types ---- */

static void check_layout(verifier *V, ir_opid op, const what_t *w, ir_type t) {
  const ir_layout *l = &t.layout;
  int tpw = 1, wpc = 1, seen = 0;
  for (int d = 0; d < t.rank; d++) {
    if (!is_pow2(l->spt[d]) || !is_pow2(l->tpw[d]) || !is_pow2(l->wpc[d]))
      fail(V, op, "%s has type %s: layout entries for dim %d must be powers of two", what_str(V, w), ts(V, t),
           d);
    if (l->order[d] >= t.rank || (seen & (1 << l->order[d])))
      fail(V, op, "%s has type %s: layout order must list each dim once", what_str(V, w), ts(V, t));
    seen |= 1 << l->order[d];
    tpw *= l->tpw[d];
    wpc *= l->wpc[d];
  }
  if (tpw != 32)
    fail(V, op, "%s has type %s: layout threads per warp multiply to %d, not 32", what_str(V, w), ts(V, t),
         tpw);
  if (wpc != V->warps)
    fail(V, op, "%s has type %s: layout warps multiply to %d, but the kernel has warps = %d", what_str(V, w),
         ts(V, t), wpc, V->warps);
}

/* mma, mma_a, mma_b (ir.h): rank 2, a power-of-two warp grid within the kernel's warps, 1, 2 or 4
 * elements per register and the stored fields those imply. Like a blocked layout, one may sit on a
 * smaller shape (a reduce's result): coordinates wrap. */
static void check_mma_layout(verifier *V, ir_opid op, const what_t *w, ir_type t) {
  const ir_layout *l = &t.layout;
  int wm = l->wpc[0], wn = l->wpc[1], kw = l->kind == IR_LMMA_B ? l->spt[0] : l->spt[1];
  if (t.rank != 2) fail(V, op, "%s has type %s: mma layouts are for rank-2 tiles", what_str(V, w), ts(V, t));
  if (!is_pow2((uint64_t)wm) || !is_pow2((uint64_t)wn) || wm * wn > V->warps)
    fail(V, op, "%s has type %s: the mma warp grid must be powers of two multiplying to at most warps = %d",
         what_str(V, w), ts(V, t), V->warps);
  ir_layout want = ir_layout_mma((ir_lkind)l->kind, wm, wn, kw);
  if ((kw != 1 && kw != 2 && kw != 4) || memcmp(&want, l, sizeof want))
    fail(V, op, "%s has type %s: malformed mma layout", what_str(V, w), ts(V, t));
}

/* Checks a result, block argument or parameter type; `op` 0 means a kernel parameter. */
static void check_type(verifier *V, ir_opid op, const what_t *w, ir_type t) {
  char msg[400] = "";
  if (t.kind == IR_TNONE || t.kind > IR_TSMEM || t.elem >= IR_NELEM)
    snprintf(msg, sizeof msg, "has no valid type");
  else if ((t.kind == IR_TTILE || t.kind == IR_TSMEM || t.kind == IR_TVIEW) &&
           (t.rank < 1 || t.rank > IR_MAXRANK))
    snprintf(msg, sizeof msg, "has type %s: rank must be 1..3", ts(V, t));
  else if (t.kind == IR_TTILE || t.kind == IR_TSMEM)
    for (int d = 0; d < t.rank && !msg[0]; d++)
      if (!is_pow2(t.shape[d]))
        snprintf(msg, sizeof msg, "has type %s: dim %d (%u) is not a power of two", ts(V, t), d, t.shape[d]);
  if (!msg[0] && t.kind == IR_TTILE && t.layout.kind > IR_LMMA_B)
    snprintf(msg, sizeof msg, "has an unknown layout");
  char big[200];
  if (!msg[0] && ir_tile_size_check(t, V->warps, big, sizeof big))
    snprintf(msg, sizeof msg, "has type %s: %s", ts(V, t), big);
  if (!msg[0] && t.kind == IR_TSMEM &&
      ir_type_numel(t) * (uint64_t)ir_elem_bits(t.elem) > IR_MAX_SMEM_BYTES * 8ull)
    snprintf(msg, sizeof msg, "has type %s: %llu bytes, more than a shared buffer may have (%d)", ts(V, t),
             (unsigned long long)((ir_type_numel(t) * (uint64_t)ir_elem_bits(t.elem) + 7) / 8),
             IR_MAX_SMEM_BYTES);
  if (!msg[0] && op && t.kind == IR_TTILE && t.layout.kind == IR_LBLOCKED) check_layout(V, op, w, t);
  if (!msg[0] && op && t.kind == IR_TTILE && t.layout.kind >= IR_LMMA) check_mma_layout(V, op, w, t);
  if (!msg[0]) return;
  if (op) fail(V, op, "%s %s", what_str(V, w), msg);
  fail_kernel(V, "%s %s", what_str(V, w), msg);
}

/* ---- attributes ---- */

static ir_attr *need_attr(verifier *V, ir_opid op, const char *key, int kind) {
  ir_attr *a = ir_attr_get(O(V, op)->attrs, key);
  if (!a) fail(V, op, "missing attribute '%s'", key);
  if (kind >= 0 && a->kind != kind)
    fail(V, op, "attribute '%s' must be %s", key,
         kind == IR_AINT     ? "an integer"
         : kind == IR_ASTR   ? "a string"
         : kind == IR_AFLOAT ? "a float"
                             : "a list");
  return a;
}

static int64_t need_int_in(verifier *V, ir_opid op, const char *key, int64_t lo, int64_t hi) {
  ir_attr *a = need_attr(V, op, key, IR_AINT);
  if (a->i < lo || a->i > hi)
    fail(V, op, "attribute '%s' = %lld is out of range %lld..%lld", key, (long long)a->i, (long long)lo,
         (long long)hi);
  return a->i;
}

/* An optional integer attribute must be in its range (ir_attr_int_range, the parser's too). */
static void opt_int(verifier *V, ir_opid op, const char *key) {
  int64_t lo, hi;
  if (!ir_attr_int_range(O(V, op)->code, key, &lo, &hi)) abort(); /* every caller's key has one */
  if (ir_attr_get(O(V, op)->attrs, key)) need_int_in(V, op, key, lo, hi);
}

/* A string attribute from a fixed set (words separated by spaces). */
static const char *need_word(verifier *V, ir_opid op, const char *key, const char *words) {
  const char *s = need_attr(V, op, key, IR_ASTR)->s;
  size_t n = strlen(s);
  for (const char *w = words; *w;) {
    size_t k = strcspn(w, " ");
    if (k == n && !strncmp(w, s, n)) return s;
    w += k + (w[k] == ' ');
  }
  fail(V, op, "attribute '%s' = \"%s\" is not one of: %s", key, s, words);
}

/* pad: optional number */
static void opt_number(verifier *V, ir_opid op, const char *key) {
  ir_attr *a = ir_attr_get(O(V, op)->attrs, key);
  if (a && a->kind != IR_AINT && a->kind != IR_AFLOAT) fail(V, op, "attribute '%s' must be a number", key);
}

/* ---- operand rules shared by several ops ---- */

static void need_value_type(verifier *V, ir_opid op, uint32_t i) {
  ir_type t = otype(V, op, i);
  if (!is_value_type(t)) fail(V, op, "operand %u has type %s; expected a scalar or a tile", i, ts(V, t));
}

static void same_as_operand0(verifier *V, ir_opid op, uint32_t i) {
  ir_type a = otype(V, op, 0), b = otype(V, op, i);
  if (!ir_type_eq(a, b))
    fail(V, op, "operand %u has type %s but operand 0 has type %s", i, ts(V, b), ts(V, a));
}

static void result_is(verifier *V, ir_opid op, uint32_t i, ir_type want) {
  ir_type r = rtype(V, op, i);
  if (!ir_type_eq(r, want)) fail(V, op, "result %u has type %s, expected %s", i, ts(V, r), ts(V, want));
}

static void need_scalar(verifier *V, ir_opid op, uint32_t i, ir_elem e) {
  ir_type t = otype(V, op, i);
  if (t.kind != IR_TSCALAR || t.elem != e)
    fail(V, op, "operand %u has type %s; expected %s", i, ts(V, t), ir_elem_name(e));
}

/* The op's element class: integer-only and float-only elementwise ops. */
static void check_elem_class(verifier *V, ir_opid op) {
  ir_eclass c = (ir_eclass)ir_opinfo_table[O(V, op)->code].elems;
  ir_type t = otype(V, op, 0);
  if (ir_elem_in_class(c, (ir_elem)t.elem)) return;
  fail(V, op, "operand 0 has type %s; '%s' needs %s element type", ts(V, t), opname(V, op),
       c == IR_EC_INT     ? "an integer"
       : c == IR_EC_FLOAT ? "a float"
                          : "a numeric (not i1)");
}

/* ---- per-op rules ---- */

/* add sub ... fma neg ... popc: operands of one value type, result the same (cmp: i1). */
static void check_elementwise(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  for (uint32_t i = 0; i < o->nopnd; i++) need_value_type(V, op, i);
  if (o->code == IR_OP_SELECT) {
    ir_type a = otype(V, op, 1), c = otype(V, op, 0);
    if (!ir_type_eq(c, with_elem(a, IR_I1)))
      fail(V, op, "operand 0 has type %s; the condition must be %s", ts(V, c), ts(V, with_elem(a, IR_I1)));
    ir_type b = otype(V, op, 2);
    if (!ir_type_eq(a, b)) fail(V, op, "operand 2 has type %s but operand 1 has type %s", ts(V, b), ts(V, a));
    result_is(V, op, 0, a);
    return;
  }
  for (uint32_t i = 1; i < o->nopnd; i++) same_as_operand0(V, op, i);
  check_elem_class(V, op);
  if (o->code == IR_OP_CMP) {
    need_word(V, op, "pred", "eq ne lt le gt ge");
    result_is(V, op, 0, with_elem(otype(V, op, 0), IR_I1));
    return;
  }
  result_is(V, op, 0, otype(V, op, 0));
}

/* cast, bitcast: same shape and layout, another element type (bitcast: same width). */
static void check_cast(verifier *V, ir_opid op) {
  need_value_type(V, op, 0);
  ir_type x = otype(V, op, 0), r = rtype(V, op, 0);
  result_is(V, op, 0, with_elem(x, (ir_elem)r.elem));
  if (O(V, op)->code == IR_OP_BITCAST && ir_elem_bits(x.elem) != ir_elem_bits(r.elem))
    fail(V, op, "bitcast from %s (%d bits) to %s (%d bits) changes the width", ir_elem_name(x.elem),
         ir_elem_bits(x.elem), ir_elem_name(r.elem), ir_elem_bits(r.elem));
}

/* bitsplit {axis}: each element's bits as f narrower elements, consecutive along axis, the low bits
 * first: tile [.., S, ..] of W-bit elements -> tile [.., f*S, ..] of W/f-bit elements (f >= 2); with
 * layouts, the result's is the operand's split (ir_layout_split). */
static void check_bitsplit(verifier *V, ir_opid op) {
  ir_type x = otype(V, op, 0), r = rtype(V, op, 0);
  if (x.kind != IR_TTILE) fail(V, op, "operand 0 has type %s; expected a tile", ts(V, x));
  if (r.kind != IR_TTILE || r.rank != x.rank)
    fail(V, op, "result 0 has type %s; expected a rank-%d tile", ts(V, r), x.rank);
  int axis = (int)need_int_in(V, op, "axis", 0, x.rank - 1);
  int xb = ir_elem_bits(x.elem), rb = ir_elem_bits(r.elem);
  if (x.elem == IR_I1 || r.elem == IR_I1 || rb >= xb || xb % rb)
    fail(V, op,
         "bitsplit from %s (%d bits) to %s (%d bits): the result's elements must divide the operand's in "
         "two or more (not i1)",
         ir_elem_name(x.elem), xb, ir_elem_name(r.elem), rb);
  ir_type want = x;
  want.elem = r.elem;
  want.shape[axis] *= (uint32_t)(xb / rb);
  if (!ir_type_eq_nolayout(r, want))
    fail(V, op, "result 0 has type %s; expected %s (dim %d times %d)", ts(V, r), ts(V, want), axis, xb / rb);
  ir_layout l;
  if (x.layout.kind != IR_LNONE && r.layout.kind != IR_LNONE &&
      (!ir_layout_split(x.layout, axis, xb / rb, &l) || !ir_type_eq(r, (want.layout = l, want))))
    fail(V, op, "result 0's layout is not the operand's split along dim %d (%s)", axis, ts(V, x));
}

/* program_id, num_programs: i32, axis 0..2 */
static void check_grid(verifier *V, ir_opid op) {
  need_int_in(V, op, "axis", 0, 2);
  result_is(V, op, 0, ir_t_scalar(IR_I32));
}

static void check_const(verifier *V, ir_opid op) {
  ir_type r = rtype(V, op, 0);
  if (!is_value_type(r)) fail(V, op, "result 0 has type %s; expected a scalar or a tile", ts(V, r));
  ir_attr *a = need_attr(V, op, "value", -1);
  if (ir_elem_is_float(r.elem) ? a->kind != IR_AINT && a->kind != IR_AFLOAT : a->kind != IR_AINT)
    fail(V, op, "attribute 'value' must be %s for type %s",
         ir_elem_is_float(r.elem) ? "a number" : "an integer", ts(V, r));
  if (r.elem == IR_I1 && a->i != 0 && a->i != 1) fail(V, op, "attribute 'value' must be 0 or 1 for i1");
}

static void check_iota(verifier *V, ir_opid op) {
  ir_type r = rtype(V, op, 0);
  if (r.kind != IR_TTILE || r.elem != IR_I32)
    fail(V, op, "result 0 has type %s; expected a tile of i32", ts(V, r));
  need_int_in(V, op, "axis", 0, r.rank - 1);
}

static void check_splat(verifier *V, ir_opid op) {
  ir_type x = otype(V, op, 0), r = rtype(V, op, 0);
  if (x.kind != IR_TSCALAR) fail(V, op, "operand 0 has type %s; expected a scalar", ts(V, x));
  if (r.kind != IR_TTILE || r.elem != x.elem)
    fail(V, op, "result 0 has type %s; expected a tile of %s", ts(V, r), ir_elem_name(x.elem));
}

static void check_broadcast(verifier *V, ir_opid op) {
  ir_type x = otype(V, op, 0), r = rtype(V, op, 0);
  if (x.kind != IR_TTILE) fail(V, op, "operand 0 has type %s; expected a tile", ts(V, x));
  if (r.kind != IR_TTILE || r.elem != x.elem || r.rank != x.rank)
    fail(V, op, "result 0 has type %s; expected a tile of rank %d and element %s", ts(V, r), x.rank,
         ir_elem_name(x.elem));
  for (int d = 0; d < x.rank; d++)
    if (x.shape[d] != 1 && x.shape[d] != r.shape[d])
      fail(V, op, "dim %d of operand 0 (%u) is neither 1 nor the result's (%u)", d, x.shape[d], r.shape[d]);
}

/* The view operand of load/store/copy; checks the operand count 1 + R + extra. */
static ir_type check_view_access(verifier *V, ir_opid op, uint32_t extra) {
  ir_op *o = O(V, op);
  if (o->nopnd < 1) fail(V, op, "expected a view operand");
  ir_type v = otype(V, op, 0);
  if (v.kind != IR_TVIEW) fail(V, op, "operand 0 has type %s; expected a view", ts(V, v));
  if (o->nopnd != 1 + v.rank + extra)
    fail(V, op, "a view of rank %d needs %u operands (view, %d offsets%s), got %u", v.rank,
         1 + v.rank + extra, v.rank, extra ? ", value" : "", o->nopnd);
  for (uint32_t i = 1; i <= v.rank; i++) need_scalar(V, op, i, IR_I32);
  return v;
}

static void check_view(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  ir_type r = rtype(V, op, 0);
  if (r.kind != IR_TVIEW) fail(V, op, "result 0 has type %s; expected a view", ts(V, r));
  if (o->nopnd != 1 + 2u * r.rank && o->nopnd != 2 + 2u * r.rank)
    fail(V, op,
         "a view of rank %d needs %d or %d operands (pointer, %d dims, %d strides, optional base), got %u",
         r.rank, 1 + 2 * r.rank, 2 + 2 * r.rank, r.rank, r.rank, o->nopnd);
  ir_type p = otype(V, op, 0);
  if (p.kind != IR_TPTR || p.elem != r.elem)
    fail(V, op, "operand 0 has type %s; expected ptr<%s>", ts(V, p), ir_elem_name(r.elem));
  for (uint32_t i = 1; i < o->nopnd; i++) {
    ir_type t = otype(V, op, i);
    if (t.kind != IR_TSCALAR || (t.elem != IR_I32 && t.elem != IR_I64))
      fail(V, op, "operand %u has type %s; dims, strides and the base are i32 or i64 scalars", i, ts(V, t));
  }
}

/* bounded(i, n): i and n scalars of one integer type (i32 or i64), the result i's. */
static void check_bounded(verifier *V, ir_opid op) {
  ir_type i = otype(V, op, 0), n = otype(V, op, 1);
  if (i.kind != IR_TSCALAR || (i.elem != IR_I32 && i.elem != IR_I64))
    fail(V, op, "operand 0 has type %s; expected an i32 or i64 scalar", ts(V, i));
  if (!ir_type_eq(n, i)) fail(V, op, "operand 1 has type %s; expected %s (operand 0's)", ts(V, n), ts(V, i));
  result_is(V, op, 0, i);
}

/* The tile/smem a load/store/copy moves: rank of the view, element of the view. */
static void check_moved(verifier *V, ir_opid op, const char *what, ir_type t, int kind, ir_type v) {
  if (t.kind != kind || t.rank != v.rank || t.elem != v.elem)
    fail(V, op, "%s has type %s; expected a%s of rank %d and element %s (the view's)", what, ts(V, t),
         kind == IR_TTILE ? " tile" : "n smem buffer", v.rank, ir_elem_name(v.elem));
}

static void check_load(verifier *V, ir_opid op) {
  ir_type v = check_view_access(V, op, 0);
  check_moved(V, op, "result 0", rtype(V, op, 0), IR_TTILE, v);
  opt_number(V, op, "pad");
}

/* store: view, R offsets, a tile of the view's rank and element; store_tma: the same with the smem
 * buffer the tile was staged in. */
static void check_store(verifier *V, ir_opid op) {
  ir_type v = check_view_access(V, op, 1);
  uint32_t last = O(V, op)->nopnd - 1;
  char what[32];
  snprintf(what, sizeof what, "operand %u", last);
  int tma = O(V, op)->code == IR_OP_STORE_TMA;
  check_moved(V, op, what, otype(V, op, last), tma ? IR_TSMEM : IR_TTILE, v);
  if (!tma) opt_int(V, op, "tma");
}

/* copy: view, R offsets, smem[, predicate (i1 scalar: false copies nothing but pad)] */
/* An mbarrier: a shared buffer of one i64 (operand i of op). */
static void need_mbarrier(verifier *V, ir_opid op, uint32_t i) {
  ir_type t = otype(V, op, i);
  if (t.kind != IR_TSMEM || t.elem != IR_I64 || t.rank != 1 || t.shape[0] != 1)
    fail(V, op, "operand %u has type %s; expected an mbarrier (smem<1xi64>)", i, ts(V, t));
}

/* copy(view, offsets..., buffer[, pred]); copy {tma = 1} (view, offsets..., buffer, pred, mbarrier):
 * a TMA copy completes its bytes on the mbarrier (the pipeline pass makes them, docs/hopper.md). */
static void check_copy(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  opt_int(V, op, "tma");
  uint32_t tma = ir_attr_i(o->attrs, "tma", 0) ? 1 : 0;
  if (tma) {
    if (o->nopnd < 4) fail(V, op, "tma = 1 needs the predicate and the mbarrier after the buffer");
    need_mbarrier(V, op, o->nopnd - 1);
    need_scalar(V, op, o->nopnd - 2, IR_I1);
    if (ir_attr_i(o->attrs, "async", 0)) fail(V, op, "tma = 1 and async = 1 do not go together");
  }
  ir_type last = o->nopnd >= 2 + tma ? otype(V, op, o->nopnd - 1 - tma) : ir_t_none();
  uint32_t pred = last.kind == IR_TSCALAR && last.elem == IR_I1;
  ir_type v = check_view_access(V, op, 1 + pred + tma);
  char what[32];
  snprintf(what, sizeof what, "operand %u", 1 + v.rank);
  check_moved(V, op, what, otype(V, op, 1 + v.rank), IR_TSMEM, v);
  opt_number(V, op, "pad");
  opt_int(V, op, "async");
  opt_int(V, op, "by_tma");
}

static void check_alloc_shared(verifier *V, ir_opid op) {
  ir_type r = rtype(V, op, 0);
  if (r.kind != IR_TSMEM) fail(V, op, "result 0 has type %s; expected an smem buffer", ts(V, r));
  opt_int(V, op, "swizzle");
  int64_t sw = ir_attr_i(O(V, op)->attrs, "swizzle", 0);
  uint32_t row = r.shape[r.rank - 1] * (uint32_t)(ir_elem_bits(r.elem) < 8 ? 1 : ir_elem_bits(r.elem) / 8);
  if (sw > 1 && ((sw & (sw - 1)) || row % 16 || (uint64_t)sw > row / 16))
    fail(V, op, "swizzle = %lld needs a power of two at most the 16-byte chunks of a row (%s has %u)",
         (long long)sw, ts(V, r), row % 16 ? 0 : row / 16);
  opt_int(V, op, "offset");
}

/* load_shared: smem -> tile; store_shared: smem, tile. Same shape and element; load_shared
 * {trans = 1} reads a rank-2 buffer as its transpose; load_shared {at = [o0, ...]} reads the block of
 * the result's shape (untransposed) whose first element is buffer element (o0, ...); load_shared
 * {reverse = 1} reads element (d0 - 1 - i0, ...) of the buffer into element (i0, ...); load_shared
 * {quad_dim = q} finds index c of buffer dim q (a multiple of 16) at its 4 x 4 transpose inside each
 * block of 16, (c & ~15) | (c & 3) << 2 | (c >> 2) & 3. */
static void check_shared_access(verifier *V, ir_opid op) {
  ir_type s = otype(V, op, 0);
  if (s.kind != IR_TSMEM) fail(V, op, "operand 0 has type %s; expected an smem buffer", ts(V, s));
  int is_load = O(V, op)->code == IR_OP_LOAD_SHARED;
  ir_type t = is_load ? rtype(V, op, 0) : otype(V, op, 1);
  ir_type want = s;
  want.kind = IR_TTILE;
  int trans = is_load && ir_attr_get(O(V, op)->attrs, "trans") ? (int)need_int_in(V, op, "trans", 0, 1) : 0;
  if (trans && s.rank != 2) fail(V, op, "trans = 1 needs a rank-2 buffer; %s has rank %d", ts(V, s), s.rank);
  ir_attr *at = is_load ? ir_attr_get(O(V, op)->attrs, "at") : NULL;
  if (is_load && ir_attr_get(O(V, op)->attrs, "reverse") && need_int_in(V, op, "reverse", 0, 1) &&
      (trans || at))
    fail(V, op, "reverse = 1 reads the whole buffer as it is stored: no trans or at with it");
  if (is_load && ir_attr_get(O(V, op)->attrs, "quad_dim")) {
    int q = (int)need_int_in(V, op, "quad_dim", 0, s.rank - 1);
    if (s.shape[q] % 16)
      fail(V, op, "quad_dim = %d needs dim %d of the buffer %s to be a multiple of 16", q, q, ts(V, s));
    if (ir_attr_get(O(V, op)->attrs, "reverse")) fail(V, op, "quad_dim and reverse do not go together");
  }
  if (at) {
    need_attr(V, op, "at", IR_ALIST);
    if (at->nlist != s.rank)
      fail(V, op, "attribute 'at' has %d offsets; the buffer %s has rank %d", at->nlist, ts(V, s), s.rank);
    if (t.kind != IR_TTILE || t.rank != s.rank || t.elem != s.elem)
      fail(V, op, "result 0 has type %s; expected a rank-%d tile of the buffer's element", ts(V, t), s.rank);
    for (int d = 0; d < s.rank; d++) {
      uint32_t n = t.shape[trans ? s.rank - 1 - d : d];
      if (at->list[d] < 0 || (uint64_t)at->list[d] + n > s.shape[d])
        fail(V, op, "the block at offset %lld of %u elements leaves dim %d of the buffer %s",
             (long long)at->list[d], n, d, ts(V, s));
    }
    return;
  }
  if (trans) want.shape[0] = s.shape[1], want.shape[1] = s.shape[0];
  if (!ir_type_eq_nolayout(t, want))
    fail(V, op, "%s has type %s; expected %s (the buffer's shape%s)", is_load ? "result 0" : "operand 1",
         ts(V, t), ts(V, want), trans ? ", transposed" : "");
}

/* gather_shared: smem of rank R, then R index tiles (i32, one type, layout included); the result is
 * the indices' tile with the buffer's element: element e is the buffer's element at
 * (idx_0[e] mod dim 0, ...). The dims are powers of two, so any index names an element. */
static void check_gather_shared(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  ir_type s = otype(V, op, 0);
  if (s.kind != IR_TSMEM) fail(V, op, "operand 0 has type %s; expected an smem buffer", ts(V, s));
  if (ir_elem_bits(s.elem) < 8)
    fail(V, op, "the buffer %s has elements of %d bits; gather_shared reads elements of 8 bits or more",
         ts(V, s), ir_elem_bits(s.elem));
  if (o->nopnd != 1u + (uint32_t)s.rank)
    fail(V, op, "a buffer of rank %d needs %d index tiles, got %u", s.rank, s.rank, o->nopnd - 1);
  ir_type i1 = otype(V, op, 1);
  if (i1.kind != IR_TTILE || i1.elem != IR_I32)
    fail(V, op, "operand 1 has type %s; the indices are i32 tiles", ts(V, i1));
  for (uint32_t i = 2; i < o->nopnd; i++)
    if (!ir_type_eq(otype(V, op, i), i1))
      fail(V, op, "operand %u has type %s but operand 1 has type %s (the indices have one type)", i,
           ts(V, otype(V, op, i)), ts(V, i1));
  result_is(V, op, 0, with_elem(i1, (ir_elem)s.elem));
}

static void check_reduce(verifier *V, ir_opid op) {
  ir_type x = otype(V, op, 0);
  if (x.kind != IR_TTILE) fail(V, op, "operand 0 has type %s; expected a tile", ts(V, x));
  int axis = (int)need_int_in(V, op, "axis", 0, x.rank - 1);
  need_word(V, op, "kind", "sum max min");
  ir_type want = x;
  want.shape[axis] = 1;
  ir_type r = rtype(V, op, 0);
  if (!ir_type_eq_nolayout(r, want)) fail(V, op, "result 0 has type %s, expected %s", ts(V, r), ts(V, want));
}

static void check_convert_layout(verifier *V, ir_opid op) {
  ir_type x = otype(V, op, 0), r = rtype(V, op, 0);
  if (x.kind != IR_TTILE) fail(V, op, "operand 0 has type %s; expected a tile", ts(V, x));
  if (!ir_type_eq_nolayout(x, r))
    fail(V, op, "result 0 has type %s; expected the operand's shape and element (%s)", ts(V, r), ts(V, x));
}

/* ---- dot ---- */

/* dot: a [M,K] x b [K,N] + acc [M,N] -> type of acc (the rule: ir_dot_check, shared with the front
 * end) */
static void check_dot(verifier *V, ir_opid op) {
  char msg[400];
  const char *prec =
      ir_attr_get(O(V, op)->attrs, "precision") ? need_attr(V, op, "precision", IR_ASTR)->s : NULL;
  ir_type c = otype(V, op, 2);
  if (ir_dot_check(otype(V, op, 0), otype(V, op, 1), c, prec, msg, sizeof msg)) fail(V, op, "%s", msg);
  if (ir_attr_get(O(V, op)->attrs, "split") && strcmp(need_attr(V, op, "split", IR_ASTR)->s, "rows"))
    fail(V, op, "split = \"%s\": the one split is \"rows\"", need_attr(V, op, "split", IR_ASTR)->s);
  if (ir_attr_get(O(V, op)->attrs, "mma")) {
    const char *m = need_attr(V, op, "mma", IR_ASTR)->s;
    if (strcmp(m, "auto") && strcmp(m, "wgmma") && strcmp(m, "mma_sync"))
      fail(V, op, "mma = \"%s\": auto, wgmma or mma_sync", m);
  }
  result_is(V, op, 0, c);
}

/* ---- control flow ---- */

/* The yield ending region i of op, checked against the op's result types. */
static void check_yield(verifier *V, ir_opid op, int i) {
  ir_region *r = ir_r(V->fn, O(V, op)->region[i]);
  if (!r->last || O(V, r->last)->code != IR_OP_YIELD) fail(V, op, "region %d does not end with 'yield'", i);
  ir_op *y = O(V, r->last);
  if (y->nopnd != O(V, op)->nres)
    fail(V, r->last, "yields %u value%s but the enclosing '%s' has %u result%s", y->nopnd,
         y->nopnd == 1 ? "" : "s", opname(V, op), O(V, op)->nres, O(V, op)->nres == 1 ? "" : "s");
  for (uint32_t k = 0; k < y->nopnd; k++) {
    ir_type t = otype(V, r->last, k), want = rtype(V, op, k);
    if (!ir_type_eq(t, want))
      fail(V, r->last, "operand %u has type %s but result %u of the enclosing '%s' has type %s", k, ts(V, t),
           k, opname(V, op), ts(V, want));
  }
}

/* The loop counts up: a constant step must be >= 1 (a dynamic one <= 0 runs no iteration). */
static void check_step(verifier *V, ir_opid op) {
  ir_opid d = ir_v(V->fn, O(V, op)->opnd[2])->def;
  ir_attr *a = d && O(V, d)->code == IR_OP_CONST ? ir_attr_get(O(V, d)->attrs, "value") : NULL;
  if (a && a->kind == IR_AINT && a->i < 1)
    fail(V, op, "operand 2 (the step) is %lld; a loop counts up by a step of at least 1", (long long)a->i);
}

/* for(lo, hi, step, inits...) -> one result per init; region args (iv, carried...) */
static void check_for(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  if (o->nopnd < 3) fail(V, op, "expected at least 3 operands (lo, hi, step), got %u", o->nopnd);
  ir_type lo = otype(V, op, 0);
  if (!is_int_scalar(lo) || lo.elem == IR_I1)
    fail(V, op, "operand 0 has type %s; loop bounds are integer scalars", ts(V, lo));
  for (uint32_t i = 1; i < 3; i++) same_as_operand0(V, op, i);
  check_step(V, op);
  uint32_t ninit = o->nopnd - 3;
  if (o->nres != ninit)
    fail(V, op, "has %u result%s but %u loop-carried init%s", o->nres, o->nres == 1 ? "" : "s", ninit,
         ninit == 1 ? "" : "s");
  ir_region *r = ir_r(V->fn, o->region[0]);
  if (r->nargs != 1 + ninit)
    fail(V, op, "the body has %u block argument%s; expected %u (induction variable, then one per init)",
         r->nargs, r->nargs == 1 ? "" : "s", 1 + ninit);
  if (!ir_type_eq(ir_vtype(V->fn, r->args[0]), lo))
    fail(V, op, "block argument 0 has type %s; the induction variable has the bounds' type %s",
         ts(V, ir_vtype(V->fn, r->args[0])), ts(V, lo));
  for (uint32_t i = 0; i < ninit; i++) {
    ir_type init = otype(V, op, 3 + i), arg = ir_vtype(V->fn, r->args[1 + i]);
    if (!ir_type_eq(arg, init))
      fail(V, op, "block argument %u has type %s but its init (operand %u) has type %s", 1 + i, ts(V, arg),
           3 + i, ts(V, init));
    result_is(V, op, i, init);
  }
  opt_int(V, op, "stages");
  opt_int(V, op, "inflight");
  opt_int(V, op, "release");
  if (ir_attr_i(O(V, op)->attrs, "inflight", 0) && ir_attr_i(O(V, op)->attrs, "stages", 1) < 3)
    fail(V, op, "inflight = 1 needs stages >= 3 (the stage a group in flight reads is not refilled)");
  opt_int(V, op, "ws");
  if (ir_attr_i(O(V, op)->attrs, "ws", 0) && !ir_attr_i(O(V, op)->attrs, "tma", 0))
    fail(V, op, "ws = 1 needs tma = 1 (the producer warpgroup issues the ring's TMA copies)");
  opt_int(V, op, "short");
  opt_int(V, op, "pingpong");
  if (ir_attr_i(O(V, op)->attrs, "pingpong", 0) && !ir_attr_i(O(V, op)->attrs, "ws", 0))
    fail(V, op, "pingpong = 1 needs ws = 1 (the consumer warpgroups of a warp-specialised loop take turns)");
  opt_int(V, op, "tma");
  if (ir_attr_i(O(V, op)->attrs, "tma", 0) && ir_attr_i(O(V, op)->attrs, "stages", 1) < 2)
    fail(V, op, "tma = 1 needs stages >= 2 (the copies run ahead into a ring of stages)");
  check_yield(V, op, 0);
}

static void check_if(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  if (o->nopnd != 1) fail(V, op, "expected 1 operand (the condition), got %u", o->nopnd);
  need_scalar(V, op, 0, IR_I1);
  for (int i = 0; i < 2; i++) {
    if (ir_r(V->fn, o->region[i])->nargs) fail(V, op, "region %d takes no block arguments", i);
    check_yield(V, op, i);
  }
}

/* 1 if region r (nested regions included) holds a tile, a barrier, a copy other than TMA boxes or
 * another shared-memory read or write: what the producer warpgroup may not run (its warps hold no
 * part of a tile, a plain copy spreads its chunks over the consumers' threads, and the consumers'
 * barriers do not count the producer's). Sets *bad to the first such op. */
static int producer_work(verifier *V, ir_reg r, ir_opid *bad) {
  for (ir_opid op = ir_r(V->fn, r)->first; op; op = O(V, op)->next) {
    ir_op *o = O(V, op);
    int tile = o->code == IR_OP_BARRIER || o->code == IR_OP_LOAD_SHARED || o->code == IR_OP_STORE_SHARED ||
               o->code == IR_OP_GATHER_SHARED || o->code == IR_OP_STORE_TMA || o->code == IR_OP_WARP_SPLIT ||
               (o->code == IR_OP_COPY && !ir_attr_i(o->attrs, "tma", 0));
    for (uint32_t k = 0; k < o->nres; k++) tile |= rtype(V, op, k).kind == IR_TTILE;
    for (uint32_t k = 0; k < o->nopnd; k++) tile |= otype(V, op, k).kind == IR_TTILE;
    if (tile) return *bad = op, 1;
    for (int i = 0; i < o->nregion; i++)
      if (producer_work(V, o->region[i], bad)) return 1;
  }
  return 0;
}

/* warp_split {producer_regs?, consumer_regs?} { producer } else { consumers }: once, at the top
 * level of the kernel's body; the regions take no arguments and yield nothing; the block gets a
 * producer warpgroup (4 warps) beside its `warps` warps, so warps + 4 <= 32; the producer's region
 * holds scalars, loops, TMA copies and mbarrier ops only; setmaxnreg counts 0 (none) or 24..256 in
 * steps of 8, both or neither; pingpong (the consumers' warpgroup MMAs take turns) with 8 warps. */
static void check_warp_split(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  if (o->parent != V->fn->body) fail(V, op, "only at the top level of the kernel's body");
  for (ir_opid x = ir_r(V->fn, V->fn->body)->first; x; x = O(V, x)->next)
    if (O(V, x)->code == IR_OP_WARP_SPLIT && x != op) fail(V, op, "a kernel has at most one");
  if (V->warps + 4 > IR_MAX_WARPS)
    fail(V, op, "the kernel's %d warps and the producer warpgroup's 4 exceed %d warps a block", V->warps,
         IR_MAX_WARPS);
  for (int i = 0; i < 2; i++) {
    ir_region *r = ir_r(V->fn, o->region[i]);
    if (r->nargs) fail(V, op, "region %d takes no block arguments", i);
  }
  ir_opid bad = 0;
  if (producer_work(V, o->region[0], &bad))
    fail(V, bad,
         "op '%s' in the producer region of a 'warp_split': that region holds scalars, loops, "
         "TMA copies and mbarrier ops only",
         opname(V, bad));
  opt_int(V, op, "producer_regs");
  opt_int(V, op, "consumer_regs");
  int64_t n[2] = {ir_attr_i(o->attrs, "producer_regs", 0), ir_attr_i(o->attrs, "consumer_regs", 0)};
  for (int i = 0; i < 2; i++)
    if (n[i] && (n[i] < 24 || n[i] > 256 || n[i] % 8))
      fail(V, op, "%s %lld: 0 (no setmaxnreg) or a multiple of 8 in 24..256",
           i ? "consumer_regs" : "producer_regs", (long long)n[i]);
  if (!n[0] != !n[1]) fail(V, op, "producer_regs and consumer_regs are given together or not at all");
  opt_int(V, op, "pingpong");
  if (ir_attr_i(o->attrs, "pingpong", 0) && V->warps != 8)
    fail(V, op, "pingpong needs two consumer warpgroups (warps = 8), the kernel has %d warps", V->warps);
  if (n[0] && V->warps % 4)
    fail(
        V, op,
        "setmaxnreg (producer_regs, consumer_regs) needs whole warpgroups: warps = %d is not a multiple of 4",
        V->warps);
}

static void check_yield_place(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  ir_opid parent = ir_r(V->fn, o->parent)->parent_op;
  int pc = parent ? O(V, parent)->code : 0;
  if (pc != IR_OP_FOR && pc != IR_OP_IF) fail(V, op, "outside a 'for' or 'if' region (it ends those only)");
  if (o->next) fail(V, op, "not the last op of its region");
}

static void check_nothing(verifier *V, ir_opid op) { (void)V, (void)op; }

static void check_async_wait(verifier *V, ir_opid op) { opt_int(V, op, "pending"); }

/* mbar_init(bar) {count?}, mbar_inval(bar): one i64 in shared memory; mbar_wait(bar, parity)
 * {elected?}: parity an i32; mbar_arrive(bar[, pred]): pred an i1. */
static void check_mbar(verifier *V, ir_opid op) {
  int code = O(V, op)->code;
  if (code == IR_OP_MBAR_ARRIVE && (O(V, op)->nopnd < 1 || O(V, op)->nopnd > 2))
    fail(V, op, "expects the mbarrier and an optional i1 predicate, got %u operands", O(V, op)->nopnd);
  need_mbarrier(V, op, 0);
  if (code == IR_OP_MBAR_WAIT) need_scalar(V, op, 1, IR_I32);
  if (code == IR_OP_MBAR_ARRIVE && O(V, op)->nopnd == 2) need_scalar(V, op, 1, IR_I1);
  if (code == IR_OP_MBAR_WAIT) opt_int(V, op, "elected");
  if (code == IR_OP_MBAR_INIT) opt_int(V, op, "count");
}

/* The op's own rules, by opcode: ops.def's verify column. */
static void (*const check_rules[IR_NOPS])(verifier *, ir_opid) = {
#define OP(E, name, nopnd, nres, nregion, flags, elems, verify, lower, lua, lua_name, lua_meta)              \
  [IR_OP_##E] = check_##verify,
#include "ops.def"
#undef OP
};

/* ---- structure and dominance ---- */

static void check_counts(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  const ir_opinfo *info = &ir_opinfo_table[o->code];
  if (info->nopnd >= 0 && o->nopnd != (uint32_t)info->nopnd)
    fail(V, op, "expected %d operand%s, got %u", info->nopnd, info->nopnd == 1 ? "" : "s", o->nopnd);
  if (info->nres >= 0 && o->nres != (uint32_t)info->nres)
    fail(V, op, "expected %d result%s, got %u", info->nres, info->nres == 1 ? "" : "s", o->nres);
  if (o->nregion != info->nregion)
    fail(V, op, "expected %d region%s, got %d", info->nregion, info->nregion == 1 ? "" : "s", o->nregion);
}

static void check_operands_visible(verifier *V, ir_opid op) {
  ir_op *o = O(V, op);
  for (uint32_t i = 0; i < o->nopnd; i++) {
    ir_val v = o->opnd[i];
    if (!v || v >= V->fn->nvals) fail(V, op, "operand %u is missing", i);
    if (V->vis[v]) continue;
    ir_value *d = ir_v(V->fn, v);
    if (d->def && O(V, d->def)->dead) fail(V, op, "operand %u is a result of a removed op", i);
    fail(V, op,
         "operand %u (%s) does not dominate this use: it must be defined earlier in this region or an "
         "enclosing one",
         i, vname(V, v));
  }
}

static void verify_region(verifier *V, ir_reg reg);

static void verify_op(verifier *V, ir_reg reg, ir_opid op) {
  ir_op *o = O(V, op);
  if (o->code == IR_OP_NONE || o->code >= IR_NOPS) fail(V, op, "invalid opcode %d", o->code);
  if (o->dead || o->parent != reg) fail(V, op, "linked into a region it does not belong to");
  check_counts(V, op);
  check_operands_visible(V, op);
  for (uint32_t i = 0; i < o->nres; i++) check_type(V, op, &(what_t){W_RESULT, i, 0, 0}, rtype(V, op, i));
  for (int i = 0; i < o->nregion; i++) {
    ir_region *r = ir_r(V->fn, o->region[i]);
    for (uint32_t k = 0; k < r->nargs; k++)
      check_type(V, op, &(what_t){W_BLOCK_ARG, (uint32_t)i, k, 0}, ir_vtype(V->fn, r->args[k]));
  }
  for (int i = 0; i < o->nregion; i++) verify_region(V, o->region[i]);
  check_rules[o->code](V, op);
  for (uint32_t i = 0; i < o->nres; i++) V->vis[o->res[i]] = 1;
}

/* Verifies the ops of reg; the region's arguments and results are visible only inside it. */
static void verify_region(verifier *V, ir_reg reg) {
  ir_region *r = ir_r(V->fn, reg);
  for (uint32_t i = 0; i < r->nargs; i++) V->vis[r->args[i]] = 1;
  for (ir_opid op = r->first; op; op = O(V, op)->next) verify_op(V, reg, op);
  for (uint32_t i = 0; i < r->nargs; i++) V->vis[r->args[i]] = 0;
  for (ir_opid op = r->first; op; op = O(V, op)->next)
    for (uint32_t i = 0; i < O(V, op)->nres; i++) V->vis[O(V, op)->res[i]] = 0;
}

static void verify_kernel(verifier *V) {
  ir_attr *w = ir_attr_get(V->fn->attrs, "warps");
  if (w && (w->kind != IR_AINT || ir_warps_check(w->i, NULL, 0)))
    fail_kernel(V, "attribute 'warps' must be an integer in 1..%d and a power of two", IR_MAX_WARPS);
  V->warps = w ? (int)w->i : 4;
  ir_attr *mb = ir_attr_get(V->fn->attrs, "min_blocks");
  if (mb && (mb->kind != IR_AINT || mb->i < 0 || mb->i > IR_MAX_MIN_BLOCKS))
    fail_kernel(V, "attribute 'min_blocks' must be an integer in 0..%d", IR_MAX_MIN_BLOCKS);
  ir_region *body = ir_r(V->fn, V->fn->body);
  for (uint32_t i = 0; i < body->nargs; i++) {
    what_t w = {W_PARAM, 0, 0, body->args[i]};
    ir_type t = ir_vtype(V->fn, body->args[i]);
    if (t.kind != IR_TSCALAR && t.kind != IR_TPTR)
      fail_kernel(V, "%s has type %s; parameters are scalars or pointers", what_str(V, &w), ts(V, t));
    check_type(V, 0, &w, t);
  }
  /* the alignment promises (ir_promises): masks of parameters; only `aligned` may name pointers */
  for (int k = 0; k < IR_NPROMISE; k++) {
    const char *name = ir_promises[k].attr;
    ir_attr *al = ir_attr_get(V->fn->attrs, name);
    if (al && (al->kind != IR_AINT || al->i < 0))
      fail_kernel(V, "attribute '%s' must be a mask of parameters (an integer >= 0)", name);
    for (int i = 0; al && i < 63 && (al->i >> i); i++) {
      if (!((al->i >> i) & 1)) continue;
      if ((uint32_t)i >= body->nargs)
        fail_kernel(V, "attribute '%s' names parameter %d; the kernel has %u", name, i, body->nargs);
      ir_type t = ir_vtype(V->fn, body->args[i]);
      if ((t.kind != IR_TPTR || k > 0) && !(t.kind == IR_TSCALAR && ir_elem_in_class(IR_EC_INT, t.elem)))
        fail_kernel(V, "attribute '%s' names parameter %s, of type %s: only %s", name,
                    vname(V, body->args[i]), ts(V, t), k ? "integers" : "pointers and integers");
    }
  }
  verify_region(V, V->fn->body);
}

int ir_verify(ir_func *fn, char *err, size_t errn) {
  verifier V = {.fn = fn, .err = err, .errn = errn};
  V.A = ir_arena_new();
  V.vis = ir_alloc(V.A, fn->nvals);
  if (err && errn) err[0] = 0;
  int rc = 0;
  if (setjmp(V.fail))
    rc = -1;
  else
    verify_kernel(&V);
  ir_arena_free(V.A);
  return rc;
}
