/*
 * test_passes.c - the target-independent passes on IR built with the C builder.
 *
 * Each case builds a small kernel, runs one pass and checks the op list, operands and attributes
 * that result. Results are "observed" by a store into a view so that dce and cse see real uses.
 * Exits non-zero if any check fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/passes/pass.h"
#include "test.h"

/* ---- building helpers ---- */

typedef struct {
  ir_func *fn;
  ir_builder b;
  ir_val view, zero; /* a view<1xf32> and an i32 offset for stores */
} kern;

static kern kernel(const char *name) {
  kern k = {.fn = ir_func_new(name)};
  k.b = ir_builder_at_end(k.fn, k.fn->body);
  ir_val p = ir_add_param(k.fn, "p", ir_t_ptr(IR_F32));
  ir_val n = ir_add_param(k.fn, "n", ir_t_scalar(IR_I32));
  k.zero = ir_b_const_i(&k.b, ir_t_scalar(IR_I32), 0);
  ir_val one = ir_b_const_i(&k.b, ir_t_scalar(IR_I32), 1);
  ir_val vo[3] = {p, n, one};
  ir_type vt = ir_t_view(IR_F32, 1);
  k.view = ir_res(k.fn, ir_build(&k.b, IR_OP_VIEW, vo, 3, &vt, 1, 0), 0);
  return k;
}

/* A store of v: the use that keeps v alive. Returns the store op. */
static ir_opid sink(kern *k, ir_builder *b, ir_val v) {
  ir_val o[3] = {k->view, k->zero, v};
  return ir_build(b, IR_OP_STORE, o, 3, NULL, 0, 0);
}

static ir_type i32(void) { return ir_t_scalar(IR_I32); }
static ir_type f32(void) { return ir_t_scalar(IR_F32); }
static ir_type tile(ir_elem e, uint32_t a, uint32_t b) {
  uint32_t s[2] = {a, b};
  return ir_t_tile(e, b ? 2 : 1, s);
}

static ir_val ci(kern *k, ir_type t, int64_t v) { return ir_b_const_i(&k->b, t, v); }
static ir_val cf(kern *k, ir_type t, double v) { return ir_b_const_f(&k->b, t, v); }
static ir_val bin(kern *k, ir_opcode c, ir_val x, ir_val y) { return ir_b_binary(&k->b, c, x, y); }
static ir_opid def(kern *k, ir_val v) { return ir_v(k->fn, v)->def; }
static int dead(kern *k, ir_val v) { return ir_o(k->fn, def(k, v))->dead; }
static ir_val stored(kern *k, ir_opid st) { return ir_o(k->fn, st)->opnd[2]; }

/* The constant a stored value was folded into: 1 and its value, or 0 if it is not a const. */
static int const_int(kern *k, ir_val v, int64_t *out) {
  ir_op *o = ir_o(k->fn, def(k, v));
  ir_attr *a = ir_attr_get(o->attrs, "value");
  if (o->code != IR_OP_CONST || !a || a->kind != IR_AINT) return 0;
  *out = a->i;
  return 1;
}

static int const_float(kern *k, ir_val v, double *out) {
  ir_op *o = ir_o(k->fn, def(k, v));
  ir_attr *a = ir_attr_get(o->attrs, "value");
  if (o->code != IR_OP_CONST || !a || a->kind != IR_AFLOAT) return 0;
  *out = a->f;
  return 1;
}

static void run(kern *k, int (*pass)(ir_func *, pass_ctx *)) {
  pass_ctx pc = {0};
  CHECK(pass(k->fn, &pc) == 0);
}

static int count_live(ir_func *fn, ir_opcode code) {
  int n = 0;
  for (ir_opid i = 1; i < fn->nops; i++) n += !fn->ops[i].dead && fn->ops[i].code == code;
  return n;
}

/* ---- canonicalize ---- */

static void test_canon_identities(void) {
  kern k = kernel("canon");
  ir_val x = ir_add_param(k.fn, "x", i32());
  ir_val fx = ir_add_param(k.fn, "fx", f32());
  ir_opid s_add = sink(&k, &k.b, bin(&k, IR_OP_ADD, ci(&k, i32(), 0), x));
  ir_opid s_sub = sink(&k, &k.b, bin(&k, IR_OP_SUB, x, ci(&k, i32(), 0)));
  ir_opid s_mul1 = sink(&k, &k.b, bin(&k, IR_OP_MUL, x, ci(&k, i32(), 1)));
  ir_val zero = ci(&k, i32(), 0);
  ir_opid s_mul0 = sink(&k, &k.b, bin(&k, IR_OP_MUL, zero, x));
  ir_val fmul0 = bin(&k, IR_OP_MUL, fx, cf(&k, f32(), 0.0));
  sink(&k, &k.b, fmul0);
  ir_val fadd0 = bin(&k, IR_OP_ADD, fx, cf(&k, f32(), 0.0));
  sink(&k, &k.b, fadd0);
  ir_opid s_faddm0 = sink(&k, &k.b, bin(&k, IR_OP_ADD, fx, cf(&k, f32(), -0.0)));
  ir_opid s_fmul1 = sink(&k, &k.b, bin(&k, IR_OP_MUL, cf(&k, f32(), 1.0), fx));
  ir_val c3 = ci(&k, i32(), 3);
  ir_val swapped = bin(&k, IR_OP_ADD, c3, x);
  sink(&k, &k.b, swapped);
  run(&k, pass_canonicalize);
  CHECK(stored(&k, s_add) == x);
  CHECK(stored(&k, s_sub) == x);
  CHECK(stored(&k, s_mul1) == x);
  CHECK(stored(&k, s_mul0) == zero);
  CHECK(!dead(&k, fmul0) && !dead(&k, fadd0)); /* x*0.0 and x+0.0 are not identities in IEEE */
  CHECK(stored(&k, s_faddm0) == fx);
  CHECK(stored(&k, s_fmul1) == fx);
  CHECK(ir_o(k.fn, def(&k, swapped))->opnd[0] == x && ir_o(k.fn, def(&k, swapped))->opnd[1] == c3);
  ir_func_destroy(k.fn);
}

static void test_canon_select_cast_splat(void) {
  kern k = kernel("canon2");
  ir_val x = ir_add_param(k.fn, "x", i32()), y = ir_add_param(k.fn, "y", i32());
  ir_val c = ir_add_param(k.fn, "c", ir_t_scalar(IR_I1));
  ir_val sel[3] = {ci(&k, ir_t_scalar(IR_I1), 1), x, y};
  ir_opid s_sel =
      sink(&k, &k.b, ir_res(k.fn, ir_build(&k.b, IR_OP_SELECT, sel, 3, (ir_type[]){i32()}, 1, 0), 0));
  ir_val sel2[3] = {c, x, y};
  ir_val keep = ir_res(k.fn, ir_build(&k.b, IR_OP_SELECT, sel2, 3, (ir_type[]){i32()}, 1, 0), 0);
  sink(&k, &k.b, keep);
  ir_opid s_cast = sink(&k, &k.b, ir_b_unary(&k.b, IR_OP_CAST, x, i32()));
  ir_val widen = ir_b_unary(&k.b, IR_OP_CAST, x, ir_t_scalar(IR_I64));
  sink(&k, &k.b, widen);
  ir_val t = ir_b_unary(&k.b, IR_OP_SPLAT, x, tile(IR_I32, 16, 0));
  ir_opid s_bc = sink(&k, &k.b, ir_b_unary(&k.b, IR_OP_BROADCAST, t, tile(IR_I32, 16, 0)));
  ir_val sp = ir_b_unary(&k.b, IR_OP_SPLAT, ci(&k, i32(), 7), tile(IR_I32, 16, 0));
  sink(&k, &k.b, sp);
  ir_opid s_neg = sink(&k, &k.b, ir_b_unary(&k.b, IR_OP_NEG, ir_b_unary(&k.b, IR_OP_NEG, x, i32()), i32()));
  run(&k, pass_canonicalize);
  int64_t v;
  CHECK(stored(&k, s_sel) == x);
  CHECK(!dead(&k, keep));
  CHECK(stored(&k, s_cast) == x);
  CHECK(!dead(&k, widen));
  CHECK(stored(&k, s_bc) == t);
  CHECK(const_int(&k, sp, &v) && v == 7 && ir_vtype(k.fn, sp).kind == IR_TTILE);
  CHECK(stored(&k, s_neg) == x);
  ir_func_destroy(k.fn);
}

/* A `for` from lo to hi carrying one i32; the body adds 1 and stores. Returns the loop op. */
static ir_opid counted_loop(kern *k, ir_val lo, ir_val hi, ir_val init, int with_store) {
  ir_val o[4] = {lo, hi, ci(k, i32(), 1), init};
  ir_opid loop = ir_build(&k->b, IR_OP_FOR, o, 4, (ir_type[]){i32()}, 1, 1);
  ir_reg body = ir_o(k->fn, loop)->region[0];
  ir_region_add_arg(k->fn, body, i32());
  ir_val acc = ir_region_add_arg(k->fn, body, i32());
  ir_builder in = ir_builder_at_end(k->fn, body);
  ir_val next = ir_b_binary(&in, IR_OP_ADD, acc, ir_b_const_i(&in, i32(), 1));
  if (with_store) sink(k, &in, next);
  ir_build(&in, IR_OP_YIELD, &next, 1, NULL, 0, 0);
  return loop;
}

static void test_canon_zero_trip_for(void) {
  kern k = kernel("loops");
  ir_val init = ir_add_param(k.fn, "init", i32());
  ir_opid empty = counted_loop(&k, ci(&k, i32(), 8), ci(&k, i32(), 4), init, 1);
  ir_opid s_empty = sink(&k, &k.b, ir_res(k.fn, empty, 0));
  ir_opid full = counted_loop(&k, ci(&k, i32(), 0), ci(&k, i32(), 4), init, 1);
  ir_opid s_full = sink(&k, &k.b, ir_res(k.fn, full, 0));
  run(&k, pass_canonicalize);
  CHECK(ir_o(k.fn, empty)->dead && stored(&k, s_empty) == init);
  CHECK(ir_r(k.fn, ir_o(k.fn, empty)->region[0])->first == 0); /* nested ops gone too */
  CHECK(!ir_o(k.fn, full)->dead && stored(&k, s_full) == ir_res(k.fn, full, 0));
  CHECK(count_live(k.fn, IR_OP_FOR) == 1 && count_live(k.fn, IR_OP_YIELD) == 1);
  ir_func_destroy(k.fn);
}

/* ---- const-fold ---- */

/* Folds op(a, b) of type t on ints; returns 1 and the value if it was folded. */
static int fold2i(ir_opcode op, ir_type t, int64_t a, int64_t b, int64_t *out) {
  kern k = kernel("fold");
  ir_opid st = sink(&k, &k.b, bin(&k, op, ci(&k, t, a), ci(&k, t, b)));
  run(&k, pass_const_fold);
  int ok = const_int(&k, stored(&k, st), out);
  ir_func_destroy(k.fn);
  return ok;
}

static int fold2f(ir_opcode op, ir_type t, double a, double b, double *out) {
  kern k = kernel("foldf");
  ir_opid st = sink(&k, &k.b, bin(&k, op, cf(&k, t, a), cf(&k, t, b)));
  run(&k, pass_const_fold);
  int ok = const_float(&k, stored(&k, st), out);
  ir_func_destroy(k.fn);
  return ok;
}

static int fold_cmp(const char *pred, ir_type t, double a, double b, int64_t *out) {
  kern k = kernel("foldc");
  int fl = ir_elem_is_float(t.elem);
  ir_val x = fl ? cf(&k, t, a) : ci(&k, t, (int64_t)a), y = fl ? cf(&k, t, b) : ci(&k, t, (int64_t)b);
  ir_opid st = sink(&k, &k.b, ir_b_cmp(&k.b, pred, x, y));
  run(&k, pass_const_fold);
  int ok = const_int(&k, stored(&k, st), out);
  ir_func_destroy(k.fn);
  return ok;
}

static void test_fold_ints(void) {
  int64_t v;
  CHECK(fold2i(IR_OP_ADD, i32(), 2147483647, 1, &v) && v == -2147483648LL);
  CHECK(fold2i(IR_OP_ADD, ir_t_scalar(IR_U8), 200, 100, &v) && v == 44);
  CHECK(fold2i(IR_OP_MUL, ir_t_scalar(IR_I8), 16, 16, &v) && v == 0);
  CHECK(fold2i(IR_OP_SUB, ir_t_scalar(IR_U32), 0, 1, &v) && v == 4294967295LL);
  CHECK(fold2i(IR_OP_DIV, i32(), -7, 2, &v) && v == -3);
  CHECK(fold2i(IR_OP_REM, i32(), -7, 2, &v) && v == -1);
  CHECK(fold2i(IR_OP_DIV, ir_t_scalar(IR_U32), 4294967295LL, 2, &v) && v == 2147483647);
  CHECK(!fold2i(IR_OP_DIV, i32(), 7, 0, &v));
  CHECK(!fold2i(IR_OP_REM, i32(), 7, 0, &v));
  CHECK(!fold2i(IR_OP_DIV, i32(), -2147483648LL, -1, &v));
  CHECK(fold2i(IR_OP_SHR, i32(), -8, 1, &v) && v == -4);
  CHECK(fold2i(IR_OP_SHR, ir_t_scalar(IR_U32), 0xFFFFFFF0LL, 4, &v) && v == 0x0FFFFFFF);
  CHECK(fold2i(IR_OP_SHL, i32(), 1, 31, &v) && v == -2147483648LL);
  CHECK(!fold2i(IR_OP_SHL, i32(), 1, 32, &v));
  CHECK(fold2i(IR_OP_MIN, i32(), -3, 2, &v) && v == -3);
  CHECK(fold2i(IR_OP_MAX, ir_t_scalar(IR_U32), 4294967295LL, 2, &v) && v == 4294967295LL);
  CHECK(fold2i(IR_OP_XOR, ir_t_scalar(IR_I1), 1, 1, &v) && v == 0);
  CHECK(fold2i(IR_OP_ADD, ir_t_scalar(IR_I64), INT64_MAX, 1, &v) && v == INT64_MIN);
}

static void test_fold_floats(void) {
  double v;
  CHECK(fold2f(IR_OP_ADD, f32(), 0.1, 0.2, &v) && v == (double)(0.1f + 0.2f));
  CHECK(fold2f(IR_OP_ADD, ir_t_scalar(IR_F64), 0.1, 0.2, &v) && v == 0.1 + 0.2);
  CHECK(fold2f(IR_OP_DIV, f32(), 1.0, 3.0, &v) && v == (double)(1.0f / 3.0f));
  CHECK(fold2f(IR_OP_ADD, ir_t_scalar(IR_F16), 1.0, 0.5, &v) && v == 1.5);
  CHECK(!fold2f(IR_OP_ADD, ir_t_scalar(IR_F16), 1.0, ldexp(1, -11), &v)); /* not exact in f16 */
  CHECK(!fold2f(IR_OP_MUL, ir_t_scalar(IR_F16), 300.0, 300.0, &v));       /* overflows f16 */
  CHECK(fold2f(IR_OP_MUL, ir_t_scalar(IR_BF16), 3.0, 5.0, &v) && v == 15.0);
  CHECK(!fold2f(IR_OP_ADD, ir_t_scalar(IR_BF16), 256.0, 1.0, &v)); /* 257 needs 9 bits */
  CHECK(!fold2f(IR_OP_DIV, ir_t_scalar(IR_F16), 1.0, 3.0, &v));
  CHECK(!fold2f(IR_OP_MIN, f32(), NAN, 1.0, &v));
  CHECK(fold2f(IR_OP_MAX, f32(), -2.0, 1.0, &v) && v == 1.0);
  CHECK(!fold2f(IR_OP_ADD, ir_t_scalar(IR_E4M3), 1.0, 1.0, &v));
}

static void test_fold_cmp_select(void) {
  int64_t v;
  CHECK(fold_cmp("lt", i32(), -1, 1, &v) && v == 1);
  CHECK(fold_cmp("lt", ir_t_scalar(IR_U32), 4294967295.0, 1, &v) && v == 0);
  CHECK(fold_cmp("ge", i32(), 3, 3, &v) && v == 1);
  CHECK(fold_cmp("ne", f32(), NAN, 1.0, &v) && v == 0); /* ordered */
  CHECK(fold_cmp("eq", f32(), 0.0, -0.0, &v) && v == 1);
  CHECK(!fold_cmp("bogus", i32(), 1, 2, &v));
  kern k = kernel("sel");
  ir_val o[3] = {ci(&k, ir_t_scalar(IR_I1), 0), ci(&k, i32(), 5), ci(&k, i32(), 9)};
  ir_opid st = sink(&k, &k.b, ir_res(k.fn, ir_build(&k.b, IR_OP_SELECT, o, 3, (ir_type[]){i32()}, 1, 0), 0));
  run(&k, pass_const_fold);
  CHECK(const_int(&k, stored(&k, st), &v) && v == 9);
  ir_func_destroy(k.fn);
}

static int fold_cast(ir_type from, ir_type to, double x, double *out) {
  kern k = kernel("cast");
  ir_val c = ir_elem_is_float(from.elem) ? cf(&k, from, x) : ci(&k, from, (int64_t)x);
  ir_opid st = sink(&k, &k.b, ir_b_unary(&k.b, IR_OP_CAST, c, to));
  run(&k, pass_const_fold);
  int64_t i = 0;
  int ok =
      ir_elem_is_float(to.elem) ? const_float(&k, stored(&k, st), out) : const_int(&k, stored(&k, st), &i);
  if (!ir_elem_is_float(to.elem)) *out = (double)i;
  ir_func_destroy(k.fn);
  return ok;
}

static void test_fold_casts(void) {
  double v;
  CHECK(fold_cast(f32(), i32(), 3.7, &v) && v == 3);
  CHECK(fold_cast(f32(), i32(), -3.7, &v) && v == -3);
  CHECK(!fold_cast(f32(), ir_t_scalar(IR_U8), -1.5, &v));
  CHECK(!fold_cast(f32(), i32(), 3e9, &v));
  CHECK(!fold_cast(f32(), i32(), NAN, &v));
  CHECK(fold_cast(i32(), ir_t_scalar(IR_I64), -1, &v) && v == -1);
  CHECK(fold_cast(ir_t_scalar(IR_U32), ir_t_scalar(IR_I64), 4294967295.0, &v) && v == 4294967295.0);
  CHECK(fold_cast(ir_t_scalar(IR_I8), ir_t_scalar(IR_U8), -1, &v) && v == 255);
  CHECK(fold_cast(i32(), f32(), 16777217, &v) && v == 16777216.0); /* rounded to f32 */
  CHECK(fold_cast(ir_t_scalar(IR_F64), f32(), 0.1, &v) && v == (double)0.1f);
  CHECK(!fold_cast(f32(), ir_t_scalar(IR_F16), 0.1, &v));
  CHECK(fold_cast(f32(), ir_t_scalar(IR_F16), 0.375, &v) && v == 0.375);
  CHECK(!fold_cast(i32(), ir_t_scalar(IR_I1), 2, &v));
}

static void test_fold_tiles(void) {
  kern k = kernel("tiles");
  ir_type t = tile(IR_I32, 16, 16);
  ir_val a = ci(&k, t, 40);
  ir_val b = ir_b_unary(&k.b, IR_OP_SPLAT, ci(&k, i32(), 2), t);
  ir_val s = bin(&k, IR_OP_ADD, a, b);
  ir_opid st = sink(&k, &k.b, s);
  ir_val x = ir_add_param(k.fn, "x", t);
  ir_val keep = bin(&k, IR_OP_ADD, x, a);
  sink(&k, &k.b, keep);
  run(&k, pass_const_fold);
  int64_t v;
  CHECK(const_int(&k, stored(&k, st), &v) && v == 42 && ir_type_eq(ir_vtype(k.fn, s), t));
  CHECK(ir_o(k.fn, def(&k, keep))->code == IR_OP_ADD);
  ir_func_destroy(k.fn);
}

/* ---- cse ---- */

static ir_val load(kern *k, ir_builder *b, ir_type t) {
  ir_val o[2] = {k->view, k->zero};
  return ir_res(k->fn, ir_build(b, IR_OP_LOAD, o, 2, &t, 1, 0), 0);
}

static void test_cse(void) {
  kern k = kernel("cse");
  ir_val x = ir_add_param(k.fn, "x", i32()), y = ir_add_param(k.fn, "y", i32());
  ir_val a1 = bin(&k, IR_OP_ADD, x, y), a2 = bin(&k, IR_OP_ADD, x, y);
  ir_opid s2 = sink(&k, &k.b, a2);
  ir_val m1 = bin(&k, IR_OP_MUL, a1, y), m2 = bin(&k, IR_OP_MUL, a2, y); /* equal once a2 -> a1 */
  ir_opid sm2 = sink(&k, &k.b, m2);
  ir_val lt = ir_b_cmp(&k.b, "lt", x, y), gt = ir_b_cmp(&k.b, "gt", x, y);
  ir_val c64 = ci(&k, ir_t_scalar(IR_I64), 77), c32 = ci(&k, i32(), 77);
  ir_val l1 = load(&k, &k.b, tile(IR_F32, 16, 0)), l2 = load(&k, &k.b, tile(IR_F32, 16, 0));
  ir_val sinks[] = {m1, lt, gt, c64, c32, l1, l2};
  for (int i = 0; i < 7; i++) sink(&k, &k.b, sinks[i]);
  /* an if whose arms compute the same value; the outer x+y is available inside both */
  ir_opid iff = ir_build(&k.b, IR_OP_IF, &lt, 1, (ir_type[]){i32()}, 1, 2);
  ir_val arm[2], inner[2];
  for (int r = 0; r < 2; r++) {
    ir_builder in = ir_builder_at_end(k.fn, ir_o(k.fn, iff)->region[r]);
    inner[r] = ir_b_binary(&in, IR_OP_ADD, x, y);
    arm[r] = ir_b_binary(&in, IR_OP_SUB, x, y);
    ir_val pair[1] = {ir_b_binary(&in, IR_OP_MUL, inner[r], arm[r])};
    ir_build(&in, IR_OP_YIELD, pair, 1, NULL, 0, 0);
  }
  ir_val after = bin(&k, IR_OP_SUB, x, y); /* the arms' subs are not available here */
  sink(&k, &k.b, after);
  run(&k, pass_cse);
  CHECK(dead(&k, a2) && stored(&k, s2) == a1);
  CHECK(dead(&k, m2) && stored(&k, sm2) == m1);
  CHECK(!dead(&k, lt) && !dead(&k, gt));   /* attrs differ */
  CHECK(!dead(&k, c64) && !dead(&k, c32)); /* types differ */
  CHECK(!dead(&k, l1) && !dead(&k, l2));   /* loads are not pure */
  CHECK(dead(&k, inner[0]) && dead(&k, inner[1]));
  CHECK(!dead(&k, arm[0]) && !dead(&k, arm[1]) && !dead(&k, after));
  ir_func_destroy(k.fn);
}

/* ---- dce ---- */

static void test_dce(void) {
  kern k = kernel("dce");
  ir_val x = ir_add_param(k.fn, "x", i32());
  ir_val a = bin(&k, IR_OP_ADD, x, x), b = bin(&k, IR_OP_MUL, a, a); /* chain, unused */
  ir_val used = bin(&k, IR_OP_SUB, x, x);
  ir_opid st = sink(&k, &k.b, used);
  ir_val l = load(&k, &k.b, tile(IR_F32, 16, 0));
  ir_opid pure_loop = counted_loop(&k, ci(&k, i32(), 0), ci(&k, i32(), 4), x, 0);
  ir_opid effect_loop = counted_loop(&k, ci(&k, i32(), 0), ci(&k, i32(), 4), x, 1);
  ir_opid bar = ir_build(&k.b, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
  run(&k, pass_dce);
  CHECK(dead(&k, a) && dead(&k, b) && dead(&k, l));
  CHECK(!dead(&k, used) && !ir_o(k.fn, st)->dead && !ir_o(k.fn, bar)->dead);
  CHECK(ir_o(k.fn, pure_loop)->dead && !ir_o(k.fn, effect_loop)->dead);
  CHECK(count_live(k.fn, IR_OP_YIELD) == 1);
  ir_func_destroy(k.fn);
}

/* ---- shared-plan ---- */

static ir_val alloc(kern *k, ir_elem e, uint32_t a, uint32_t b) {
  uint32_t s[2] = {a, b};
  ir_type t = ir_t_smem(e, b ? 2 : 1, s);
  return ir_res(k->fn, ir_build(&k->b, IR_OP_ALLOC_SHARED, NULL, 0, &t, 1, 0), 0);
}

static void use_smem(kern *k, ir_builder *b, ir_val buf) {
  ir_type t = ir_vtype(k->fn, buf);
  t.kind = IR_TTILE;
  ir_build(b, IR_OP_LOAD_SHARED, &buf, 1, &t, 1, 0);
}

static int64_t offset(kern *k, ir_val buf) {
  return ir_attr_i(ir_o(k->fn, def(k, buf))->attrs, "offset", -1);
}

static void test_shared_plan_overlap(void) {
  kern k = kernel("smem");
  ir_val a = alloc(&k, IR_F16, 32, 32), b = alloc(&k, IR_I1, 64, 0), c = alloc(&k, IR_E4M3, 16, 0);
  use_smem(&k, &k.b, a);
  use_smem(&k, &k.b, b);
  use_smem(&k, &k.b, c);
  run(&k, pass_shared_plan);
  CHECK(offset(&k, a) == 0 && offset(&k, b) == 2048 && offset(&k, c) == 2176);
  CHECK(ir_attr_i(k.fn->attrs, "shared_bytes", -1) == 2176 + 16);
  ir_func_destroy(k.fn);
}

static void test_shared_plan_reuse(void) {
  kern k = kernel("reuse");
  ir_val a = alloc(&k, IR_F32, 64, 64); /* 16 KiB */
  use_smem(&k, &k.b, a);
  ir_build(&k.b, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
  ir_val b = alloc(&k, IR_F32, 32, 64); /* 8 KiB: after a barrier, reuses a's bytes */
  use_smem(&k, &k.b, b);
  ir_val c = alloc(&k, IR_F32, 32, 0); /* no barrier since b's use: must not overlap b */
  use_smem(&k, &k.b, c);
  run(&k, pass_shared_plan);
  CHECK(offset(&k, a) == 0 && offset(&k, b) == 0 && offset(&k, c) == 8192);
  CHECK(ir_attr_i(k.fn->attrs, "shared_bytes", -1) == 16384);
  ir_func_destroy(k.fn);
}

static void test_shared_plan_loop(void) {
  kern k = kernel("loop");
  ir_val a = alloc(&k, IR_F32, 64, 0);
  ir_val init = ir_add_param(k.fn, "init", i32());
  ir_opid loop = counted_loop(&k, ci(&k, i32(), 0), ci(&k, i32(), 4), init, 0);
  ir_builder in = ir_builder_before(k.fn, ir_r(k.fn, ir_o(k.fn, loop)->region[0])->first);
  use_smem(&k, &in, a); /* a's last use is early in the loop body ... */
  ir_build(&in, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
  ir_builder end = ir_builder_before(k.fn, ir_r(k.fn, ir_o(k.fn, loop)->region[0])->last);
  ir_type t = ir_t_smem(IR_F32, 1, (uint32_t[]){64});
  ir_val b = ir_res(k.fn, ir_build(&end, IR_OP_ALLOC_SHARED, NULL, 0, &t, 1, 0), 0);
  use_smem(&k, &end, b); /* ... but the next iteration reads a again: no reuse */
  run(&k, pass_shared_plan);
  CHECK(offset(&k, a) == 0 && offset(&k, b) == 256);
  ir_func_destroy(k.fn);
}

static void test_shared_plan_overflow(void) {
  kern k = kernel("big");
  ir_val a = alloc(&k, IR_F32, 128, 128); /* 64 KiB */
  ir_val b = alloc(&k, IR_F32, 128, 128);
  ir_val c = alloc(&k, IR_F32, 128, 64); /* 32 KiB: ends at 160 KiB, fits sm_80's 163 KiB */
  ir_val d = alloc(&k, IR_F16, 64, 64);  /* 8 KiB: does not */
  ir_val bufs[] = {a, b, c, d};
  for (int i = 0; i < 4; i++) use_smem(&k, &k.b, bufs[i]);
  pass_ctx pc = {0};
  CHECK(pass_shared_plan(k.fn, &pc) == -1);
  CHECK(strstr(pc.err, "smem<64x64xf16>") && strstr(pc.err, "172032 bytes") && strstr(pc.err, "sm_80") &&
        strstr(pc.err, "166912"));
  CHECK(!strchr(pc.err, '\n'));
  pc.target = tg_target_lookup("sm_90a");
  CHECK(pass_shared_plan(k.fn, &pc) == 0);
  ir_func_destroy(k.fn);
}

/* ---- pass manager ---- */

static void test_manager(void) {
  const char *names[] = {"canonicalize", "const-fold", "cse", "dce", "layout", "shared-plan"};
  for (int i = 0; i < 6; i++) CHECK(pass_lookup(names[i]) && !strcmp(pass_lookup(names[i])->name, names[i]));
  CHECK(pass_lookup("no-such-pass") == NULL);
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  pass_list(f);
  fclose(f);
  CHECK(strstr(buf, "shared-plan") && strstr(buf, "const-fold"));
  free(buf);

  kern k = kernel("mgr");
  sink(&k, &k.b, bin(&k, IR_OP_ADD, ci(&k, i32(), 1), ci(&k, i32(), 2)));
  f = open_memstream(&buf, &n);
  pass_ctx pc = {.print_after_all = f};
  CHECK(pass_run(k.fn, &pc, pass_lookup("const-fold")) == 0);
  fclose(f);
  CHECK(strstr(buf, "// -----// IR after const-fold //----- //") == buf);
  free(buf);
  ir_func_destroy(k.fn);
}

static void test_manager_errors(void) {
  kern k = kernel("bad");
  ir_val a = alloc(&k, IR_F32, 256, 256); /* 256 KiB: too large for every target */
  use_smem(&k, &k.b, a);
  pass_ctx pc = {0};
  CHECK(pass_run(k.fn, &pc, pass_lookup("shared-plan")) == -1 && strstr(pc.err, "does not fit"));
  ir_func_destroy(k.fn);
}

/* A pass that breaks the IR (an add of i32 and i64; without verify_each nothing notices: with it
 * pass_run aborts, tested in test_pass_manager.c), and one that fails without a message. */
static int break_ir(ir_func *fn, pass_ctx *pc) {
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_b_binary(&b, IR_OP_ADD, ir_b_const_i(&b, i32(), 1), ir_b_const_i(&b, ir_t_scalar(IR_I64), 2));
  return 0;
}

static int fail_quietly(ir_func *fn, pass_ctx *pc) { return -1; }

static void test_manager_checks(void) {
  kern k = kernel("checked");
  pass_info broken = {"broken", break_ir, ""}, quiet = {"quiet", fail_quietly, ""};
  pass_ctx pc = {.verify_each = 1};
  CHECK(pass_run(k.fn, &pc, &quiet) == -1 && !strcmp(pc.err, "pass 'quiet' failed"));
  pc.verify_each = 0;
  CHECK(pass_run(k.fn, &pc, &broken) == 0);
  ir_func_destroy(k.fn);
}

/* Identities never replace a value by one of another type: here the operand has a layout and the
 * result has none. */
static void test_canon_keeps_types(void) {
  kern k = kernel("typed");
  ir_type plain = tile(IR_I32, 64, 0), laid = plain;
  laid.layout = (ir_layout){.kind = IR_LBLOCKED, .spt = {2}, .tpw = {32}, .wpc = {1}, .order = {0}};
  ir_val x = ir_b_unary(&k.b, IR_OP_SPLAT, ir_add_param(k.fn, "s", i32()), laid);
  ir_val zero = ci(&k, plain, 0);
  ir_val ops[2] = {x, zero};
  ir_val sum = ir_res(k.fn, ir_build(&k.b, IR_OP_ADD, ops, 2, &plain, 1, 0), 0);
  sink(&k, &k.b, sum);
  run(&k, pass_canonicalize);
  CHECK(!dead(&k, sum));
  ir_func_destroy(k.fn);
}

int main(void) {
  test_canon_identities();
  test_canon_select_cast_splat();
  test_canon_zero_trip_for();
  test_canon_keeps_types();
  test_fold_ints();
  test_fold_floats();
  test_fold_cmp_select();
  test_fold_casts();
  test_fold_tiles();
  test_cse();
  test_dce();
  test_shared_plan_overlap();
  test_shared_plan_reuse();
  test_shared_plan_loop();
  test_shared_plan_overflow();
  test_manager();
  test_manager_errors();
  test_manager_checks();
  return test_done("test_passes");
}
