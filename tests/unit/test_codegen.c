/*
 * test_codegen.c - layout assignment and codegen.
 *
 * 1. The layout pass: default layouts, reduce/broadcast keeping their operand's layout, conversions
 *    where layouts meet (elementwise, loop yields, stores), idempotence, and the warps error.
 * 2. Codegen: kernels built with the C builder covering every op family are compiled for every
 *    target row; ptxas (when installed) must accept each PTX. Unsupported (op, target) pairs and
 *    other user errors give their one-line messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "compiler/passes/pass.h"

static int failures;

#define CHECK(c)                                                                                             \
  do {                                                                                                       \
    if (!(c)) {                                                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                                  \
      failures++;                                                                                            \
    }                                                                                                        \
  } while (0)

/* ---- building helpers ---- */

static ir_type tile2(ir_elem e, uint32_t a, uint32_t b) { return ir_t_tile(e, 2, (uint32_t[]){a, b}); }
static ir_type tile1(ir_elem e, uint32_t a) { return ir_t_tile(e, 1, (uint32_t[]){a}); }

static ir_val ci32(ir_builder *b, int64_t v) { return ir_b_const_i(b, ir_t_scalar(IR_I32), v); }

/* view(ptr, dims..., strides...) of rank r: dims given, strides row-major. */
static ir_val view_rm(ir_builder *b, ir_val ptr, int r, const ir_val *dims) {
  ir_val opnd[7] = {ptr};
  for (int i = 0; i < r; i++) opnd[1 + i] = dims[i];
  ir_val stride = ci32(b, 1);
  for (int i = r - 1; i >= 0; i--) {
    opnd[1 + r + i] = stride;
    if (i) stride = ir_b_binary(b, IR_OP_MUL, stride, dims[i]);
  }
  ir_type t = ir_t_view(ir_vtype(b->fn, ptr).elem, r);
  return ir_res(b->fn, ir_build(b, IR_OP_VIEW, opnd, 1 + 2 * r, &t, 1, 0), 0);
}

static ir_val load(ir_builder *b, ir_val view, const ir_val *offs, ir_type t) {
  ir_val opnd[4] = {view};
  for (int i = 0; i < t.rank; i++) opnd[1 + i] = offs[i];
  return ir_res(b->fn, ir_build(b, IR_OP_LOAD, opnd, 1 + t.rank, &t, 1, 0), 0);
}

static ir_opid store(ir_builder *b, ir_val view, const ir_val *offs, ir_val tile) {
  int r = ir_vtype(b->fn, tile).rank;
  ir_val opnd[5] = {view};
  for (int i = 0; i < r; i++) opnd[1 + i] = offs[i];
  opnd[1 + r] = tile;
  return ir_build(b, IR_OP_STORE, opnd, 2 + r, NULL, 0, 0);
}

static ir_val reduce(ir_builder *b, ir_val x, int axis, const char *kind) {
  ir_type t = ir_vtype(b->fn, x);
  t.shape[axis] = 1;
  t.layout = (ir_layout){0};
  ir_opid op = ir_build(b, IR_OP_REDUCE, &x, 1, &t, 1, 0);
  ir_op_set_i(b->fn, op, "axis", axis);
  ir_op_set_s(b->fn, op, "kind", kind);
  return ir_res(b->fn, op, 0);
}

static ir_val broadcast(ir_builder *b, ir_val x, ir_type to) {
  return ir_res(b->fn, ir_build(b, IR_OP_BROADCAST, &x, 1, &to, 1, 0), 0);
}

static int same_layout(ir_func *fn, ir_val a, ir_val b) {
  ir_layout la = ir_vtype(fn, a).layout, lb = ir_vtype(fn, b).layout;
  return la.kind == IR_LBLOCKED && !memcmp(&la, &lb, sizeof la);
}

static int count_ops(ir_func *fn, ir_opcode code) {
  int n = 0;
  for (ir_opid i = 1; i < fn->nops; i++) n += !fn->ops[i].dead && fn->ops[i].code == code;
  return n;
}

static int run_layout(ir_func *fn, char *err) {
  pass_ctx pc = {0};
  int rc = pass_layout_assign(fn, &pc);
  if (err) strcpy(err, pc.err);
  return rc;
}

static int lay_is(ir_layout l, int rank, const int *spt, const int *tpw, const int *wpc, const int *order) {
  if (l.kind != IR_LBLOCKED) return 0;
  for (int i = 0; i < rank; i++)
    if (l.spt[i] != spt[i] || l.tpw[i] != tpw[i] || l.wpc[i] != wpc[i] || l.order[i] != order[i]) return 0;
  return 1;
}

/* ---- 1. layout pass ---- */

static void test_layout_defaults(void) {
  ir_func *fn = ir_func_new("k");
  ir_val x = ir_add_param(fn, "x", ir_t_ptr(IR_F32));
  ir_val h = ir_add_param(fn, "h", ir_t_ptr(IR_F16));
  ir_val n = ir_add_param(fn, "n", ir_t_scalar(IR_I32));
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_val z = ci32(&b, 0);
  ir_val a = load(&b, view_rm(&b, x, 2, (ir_val[]){n, n}), (ir_val[]){z, z}, tile2(IR_F32, 64, 64));
  ir_val c = load(&b, view_rm(&b, h, 2, (ir_val[]){n, n}), (ir_val[]){z, z}, tile2(IR_F16, 64, 64));
  ir_val s = load(&b, view_rm(&b, x, 1, (ir_val[]){n}), (ir_val[]){z}, tile1(IR_F32, 16));
  ir_val w = load(&b, view_rm(&b, x, 1, (ir_val[]){n}), (ir_val[]){z}, tile1(IR_F32, 1024));
  CHECK(run_layout(fn, NULL) == 0);
  CHECK(lay_is(ir_vtype(fn, a).layout, 2, (int[]){1, 4}, (int[]){2, 16}, (int[]){4, 1}, (int[]){1, 0}));
  CHECK(lay_is(ir_vtype(fn, c).layout, 2, (int[]){1, 8}, (int[]){4, 8}, (int[]){4, 1}, (int[]){1, 0}));
  /* smaller than the layout tile: lanes and warps left over replicate */
  CHECK(lay_is(ir_vtype(fn, s).layout, 1, (int[]){4}, (int[]){32}, (int[]){4}, (int[]){0}));
  CHECK(lay_is(ir_vtype(fn, w).layout, 1, (int[]){4}, (int[]){32}, (int[]){4}, (int[]){0}));
  ir_func_destroy(fn);

  fn = ir_func_new("k8");
  ir_attr_set_i(fn->A, &fn->attrs, "warps", 8);
  x = ir_add_param(fn, "x", ir_t_ptr(IR_F32));
  b = ir_builder_at_end(fn, fn->body);
  z = ci32(&b, 0);
  a = load(&b, view_rm(&b, x, 2, (ir_val[]){z, z}), (ir_val[]){z, z}, tile2(IR_F32, 4, 256));
  CHECK(run_layout(fn, NULL) == 0);
  /* 4 rows only: warps fill dim 0 (4), the rest go along dim 1 */
  CHECK(lay_is(ir_vtype(fn, a).layout, 2, (int[]){1, 4}, (int[]){1, 32}, (int[]){4, 2}, (int[]){1, 0}));
  ir_func_destroy(fn);
}

static void test_layout_reduce_broadcast(void) {
  ir_func *fn = ir_func_new("k");
  ir_val x = ir_add_param(fn, "x", ir_t_ptr(IR_F32));
  ir_val n = ir_add_param(fn, "n", ir_t_scalar(IR_I32));
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_val z = ci32(&b, 0);
  ir_val v = view_rm(&b, x, 2, (ir_val[]){n, n});
  ir_val a = load(&b, v, (ir_val[]){z, z}, tile2(IR_F32, 32, 64));
  ir_val r = reduce(&b, a, 1, "max");
  ir_val bc = broadcast(&b, r, tile2(IR_F32, 32, 64));
  ir_val d = ir_b_binary(&b, IR_OP_SUB, a, bc);
  store(&b, v, (ir_val[]){z, z}, d);
  ir_opid st = store(&b, v, (ir_val[]){z, z}, r);
  CHECK(run_layout(fn, NULL) == 0);
  CHECK(same_layout(fn, r, a) && same_layout(fn, bc, a) && same_layout(fn, d, a));
  /* only the store of the reduce result needs a conversion to the default [32,1] layout */
  CHECK(count_ops(fn, IR_OP_CONVERT_LAYOUT) == 1);
  ir_val sv = fn->ops[st].opnd[3];
  CHECK(fn->ops[fn->vals[sv].def].code == IR_OP_CONVERT_LAYOUT);
  CHECK(lay_is(ir_vtype(fn, sv).layout, 2, (int[]){1, 1}, (int[]){32, 1}, (int[]){4, 1}, (int[]){1, 0}));
  /* a second run changes nothing */
  uint32_t nops = fn->nops;
  CHECK(run_layout(fn, NULL) == 0);
  CHECK(fn->nops == nops && count_ops(fn, IR_OP_CONVERT_LAYOUT) == 1);
  ir_func_destroy(fn);
}

static void test_layout_conversions(void) {
  ir_func *fn = ir_func_new("k");
  ir_val x = ir_add_param(fn, "x", ir_t_ptr(IR_F32));
  ir_val h = ir_add_param(fn, "h", ir_t_ptr(IR_F16));
  ir_val n = ir_add_param(fn, "n", ir_t_scalar(IR_I32));
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_val z = ci32(&b, 0);
  ir_val vx = view_rm(&b, x, 2, (ir_val[]){n, n});
  ir_val a = load(&b, vx, (ir_val[]){z, z}, tile2(IR_F32, 64, 64));
  ir_val c = load(&b, view_rm(&b, h, 2, (ir_val[]){n, n}), (ir_val[]){z, z}, tile2(IR_F16, 64, 64));
  ir_val cf = ir_b_unary(&b, IR_OP_CAST, c, tile2(IR_F32, 64, 64));
  ir_val s = ir_b_binary(&b, IR_OP_ADD, a, cf);
  store(&b, vx, (ir_val[]){z, z}, s);
  CHECK(run_layout(fn, NULL) == 0);
  /* the cast keeps the f16 layout; the add converts it to the f32 default */
  CHECK(same_layout(fn, cf, c));
  CHECK(same_layout(fn, s, a));
  ir_op *add = &fn->ops[fn->vals[s].def];
  CHECK(add->opnd[0] == a);
  CHECK(fn->ops[fn->vals[add->opnd[1]].def].code == IR_OP_CONVERT_LAYOUT);
  CHECK(count_ops(fn, IR_OP_CONVERT_LAYOUT) == 1);
  ir_func_destroy(fn);
}

/* for loop carrying a tile: the region arg takes the init's layout, the yield converts to it. */
static void test_layout_loop(void) {
  ir_func *fn = ir_func_new("k");
  ir_val x = ir_add_param(fn, "x", ir_t_ptr(IR_F32));
  ir_val n = ir_add_param(fn, "n", ir_t_scalar(IR_I32));
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_val z = ci32(&b, 0), one = ci32(&b, 1);
  ir_val vx = view_rm(&b, x, 2, (ir_val[]){n, n});
  ir_val init = load(&b, vx, (ir_val[]){z, z}, tile2(IR_F32, 16, 1));
  ir_type carried = tile2(IR_F32, 16, 1);
  ir_opid loop = ir_build(&b, IR_OP_FOR, (ir_val[]){z, n, one, init}, 4, &carried, 1, 1);
  ir_reg body = fn->ops[loop].region[0];
  ir_region_add_arg(fn, body, ir_t_scalar(IR_I32));
  ir_val acc = ir_region_add_arg(fn, body, carried);
  ir_builder bb = ir_builder_at_end(fn, body);
  ir_val t = load(&bb, vx, (ir_val[]){z, z}, tile2(IR_F32, 16, 64));
  ir_val m = reduce(&bb, t, 1, "sum"); /* the [16,64] layout, not the [16,1] default */
  ir_val nacc = ir_b_binary(&bb, IR_OP_ADD, acc, m);
  ir_build(&bb, IR_OP_YIELD, &m, 1, NULL, 0, 0);
  (void)nacc;
  ir_val res = ir_res(fn, loop, 0);
  store(&b, vx, (ir_val[]){z, z}, res);
  CHECK(run_layout(fn, NULL) == 0);
  CHECK(same_layout(fn, acc, init) && same_layout(fn, res, init));
  ir_opid y = fn->regions[body].last;
  CHECK(fn->ops[y].code == IR_OP_YIELD);
  ir_val yv = fn->ops[y].opnd[0];
  CHECK(fn->ops[fn->vals[yv].def].code == IR_OP_CONVERT_LAYOUT);
  CHECK(same_layout(fn, yv, init));
  /* add(acc, m) disagrees: result default, m converted; the yield converts m once more */
  CHECK(count_ops(fn, IR_OP_CONVERT_LAYOUT) == 2);
  ir_func_destroy(fn);
}

static void test_layout_warps_error(void) {
  ir_func *fn = ir_func_new("bad");
  ir_attr_set_i(fn->A, &fn->attrs, "warps", 3);
  char err[1024];
  CHECK(run_layout(fn, err) == -1);
  CHECK(strstr(err, "kernel 'bad': warps = 3 must be a power of two") != NULL);
  ir_func_destroy(fn);
}

/* ---- 2. codegen ---- */

/* Kernels as IR text. `$T` in a template is replaced by an element type. */

static const char *k_ew_f32 = "kernel @ew_f32(%x: ptr<f32>, %y: ptr<f32>, %n: i32) {warps = 4} {\n"
                              "  %pid = program_id() {axis = 0} : i32\n"
                              "  %np = num_programs() {axis = 2} : i32\n"
                              "  %c1 = const() {value = 1} : i32\n"
                              "  %c256 = const() {value = 256} : i32\n"
                              "  %off = mul(%pid, %c256) : i32\n"
                              "  %vx = view(%x, %n, %c1) : view<1xf32>\n"
                              "  %vy = view(%y, %n, %c1) : view<1xf32>\n"
                              "  %a = load(%vx, %off) {pad = 1.0} : tile<256xf32>\n"
                              "  %b = load(%vy, %np) : tile<256xf32>\n"
                              "  %0 = add(%a, %b) : tile<256xf32>\n"
                              "  %1 = sub(%0, %b) : tile<256xf32>\n"
                              "  %2 = mul(%1, %a) : tile<256xf32>\n"
                              "  %3 = div(%2, %b) : tile<256xf32>\n"
                              "  %4 = rem(%3, %b) : tile<256xf32>\n"
                              "  %5 = min(%4, %a) : tile<256xf32>\n"
                              "  %6 = max(%5, %b) : tile<256xf32>\n"
                              "  %7 = fma(%6, %a, %b) : tile<256xf32>\n"
                              "  %8 = neg(%7) : tile<256xf32>\n"
                              "  %9 = abs(%8) : tile<256xf32>\n"
                              "  %10 = exp(%9) : tile<256xf32>\n"
                              "  %11 = exp2(%10) : tile<256xf32>\n"
                              "  %12 = log(%11) : tile<256xf32>\n"
                              "  %13 = log2(%12) : tile<256xf32>\n"
                              "  %14 = sqrt(%13) : tile<256xf32>\n"
                              "  %15 = rsqrt(%14) : tile<256xf32>\n"
                              "  %16 = cmp(%15, %a) {pred = \"lt\"} : tile<256xi1>\n"
                              "  %17 = cmp(%15, %b) {pred = \"ne\"} : tile<256xi1>\n"
                              "  %18 = and(%16, %17) : tile<256xi1>\n"
                              "  %19 = xor(%18, %16) : tile<256xi1>\n"
                              "  %20 = not(%19) : tile<256xi1>\n"
                              "  %21 = select(%20, %15, %a) : tile<256xf32>\n"
                              "  %io = iota() {axis = 0} : tile<256xi32>\n"
                              "  %iof = cast(%io) : tile<256xf32>\n"
                              "  %s = const() {value = 0.5} : f32\n"
                              "  %sp = splat(%s) : tile<256xf32>\n"
                              "  %22 = add(%21, %iof) : tile<256xf32>\n"
                              "  %23 = mul(%22, %sp) : tile<256xf32>\n"
                              "  store(%vy, %off, %23)\n"
                              "}\n";

/* Float arithmetic and math in another float type. */
static const char *k_ew_float = "kernel @ew_$T(%x: ptr<$T>, %n: i32) {warps = 2} {\n"
                                "  %c0 = const() {value = 0} : i32\n"
                                "  %c1 = const() {value = 1} : i32\n"
                                "  %v = view(%x, %n, %n, %n, %c1) : view<2x$T>\n"
                                "  %a = load(%v, %c0, %c0) {pad = -1.5} : tile<8x32x$T>\n"
                                "  %b = load(%v, %c1, %c1) : tile<8x32x$T>\n"
                                "  %0 = add(%a, %b) : tile<8x32x$T>\n"
                                "  %1 = sub(%0, %b) : tile<8x32x$T>\n"
                                "  %2 = mul(%1, %a) : tile<8x32x$T>\n"
                                "  %3 = div(%2, %b) : tile<8x32x$T>\n"
                                "  %4 = min(%3, %a) : tile<8x32x$T>\n"
                                "  %5 = max(%4, %b) : tile<8x32x$T>\n"
                                "  %6 = fma(%5, %a, %b) : tile<8x32x$T>\n"
                                "  %7 = neg(%6) : tile<8x32x$T>\n"
                                "  %8 = abs(%7) : tile<8x32x$T>\n"
                                "  %9 = exp(%8) : tile<8x32x$T>\n"
                                "  %10 = exp2(%9) : tile<8x32x$T>\n"
                                "  %11 = log(%10) : tile<8x32x$T>\n"
                                "  %12 = log2(%11) : tile<8x32x$T>\n"
                                "  %13 = sqrt(%12) : tile<8x32x$T>\n"
                                "  %14 = rsqrt(%13) : tile<8x32x$T>\n"
                                "  %15 = cmp(%14, %a) {pred = \"ge\"} : tile<8x32xi1>\n"
                                "  %16 = select(%15, %14, %b) : tile<8x32x$T>\n"
                                "  %17 = const() {value = 2.0} : tile<8x32x$T>\n"
                                "  %18 = rem(%16, %17) : tile<8x32x$T>\n"
                                "  store(%v, %c0, %c0, %18)\n"
                                "}\n";

/* Integer arithmetic and bit ops. */
static const char *k_ew_int = "kernel @ew_$T(%x: ptr<$T>, %n: i32, %s: $T) {warps = 4} {\n"
                              "  %c0 = const() {value = 0} : i32\n"
                              "  %c1 = const() {value = 1} : i32\n"
                              "  %v = view(%x, %n, %n, %c1, %n) : view<2x$T>\n"
                              "  %a = load(%v, %c0, %c1) {pad = 3} : tile<32x8x$T>\n"
                              "  %b = splat(%s) : tile<32x8x$T>\n"
                              "  %0 = add(%a, %b) : tile<32x8x$T>\n"
                              "  %1 = sub(%0, %b) : tile<32x8x$T>\n"
                              "  %2 = mul(%1, %a) : tile<32x8x$T>\n"
                              "  %3 = div(%2, %b) : tile<32x8x$T>\n"
                              "  %4 = rem(%3, %b) : tile<32x8x$T>\n"
                              "  %5 = min(%4, %a) : tile<32x8x$T>\n"
                              "  %6 = max(%5, %b) : tile<32x8x$T>\n"
                              "  %7 = and(%6, %a) : tile<32x8x$T>\n"
                              "  %8 = or(%7, %b) : tile<32x8x$T>\n"
                              "  %9 = xor(%8, %a) : tile<32x8x$T>\n"
                              "  %10 = shl(%9, %b) : tile<32x8x$T>\n"
                              "  %11 = shr(%10, %b) : tile<32x8x$T>\n"
                              "  %12 = not(%11) : tile<32x8x$T>\n"
                              "  %13 = popc(%12) : tile<32x8x$T>\n"
                              "  %14 = neg(%13) : tile<32x8x$T>\n"
                              "  %15 = abs(%14) : tile<32x8x$T>\n"
                              "  %16 = fma(%15, %a, %b) : tile<32x8x$T>\n"
                              "  %17 = cmp(%16, %a) {pred = \"le\"} : tile<32x8xi1>\n"
                              "  %18 = select(%17, %16, %a) : tile<32x8x$T>\n"
                              "  %19 = iota() {axis = 1} : tile<32x8xi32>\n"
                              "  %20 = cast(%19) : tile<32x8x$T>\n"
                              "  %21 = add(%18, %20) : tile<32x8x$T>\n"
                              "  store(%v, %c1, %c0, %21)\n"
                              "}\n";

/* Every cast from and back to f32, integer widenings and narrowings, bitcasts. */
static const char *k_casts = "kernel @casts(%x: ptr<f32>, %n: i32) {warps = 4} {\n"
                             "  %c0 = const() {value = 0} : i32\n"
                             "  %c1 = const() {value = 1} : i32\n"
                             "  %v = view(%x, %n, %c1) : view<1xf32>\n"
                             "  %a = load(%v, %c0) : tile<128xf32>\n"
                             "  %h = cast(%a) : tile<128xf16>\n"
                             "  %bf = cast(%h) : tile<128xbf16>\n"
                             "  %q = cast(%bf) : tile<128xe4m3>\n"
                             "  %r = cast(%q) : tile<128xe5m2>\n"
                             "  %d = cast(%r) : tile<128xf64>\n"
                             "  %i8 = cast(%d) : tile<128xi8>\n"
                             "  %u8 = cast(%i8) : tile<128xu8>\n"
                             "  %i16 = cast(%u8) : tile<128xi16>\n"
                             "  %i64 = cast(%i16) : tile<128xi64>\n"
                             "  %u32 = cast(%i64) : tile<128xu32>\n"
                             "  %i1 = cast(%u32) : tile<128xi1>\n"
                             "  %f1 = cast(%i1) : tile<128xf16>\n"
                             "  %q1 = cast(%u32) : tile<128xe4m3>\n"
                             "  %i2 = cast(%q1) : tile<128xi32>\n"
                             "  %r2 = cast(%a) : tile<128xe5m2>\n"
                             "  %h2 = cast(%r2) : tile<128xf16>\n"
                             "  %b2 = cast(%a) : tile<128xbf16>\n"
                             "  %u2 = cast(%b2) : tile<128xu32>\n"
                             "  %bc = bitcast(%a) : tile<128xu32>\n"
                             "  %bh = bitcast(%h2) : tile<128xi16>\n"
                             "  %bq = bitcast(%q1) : tile<128xu8>\n"
                             "  %s0 = cast(%f1) : tile<128xf32>\n"
                             "  %s1 = cast(%i2) : tile<128xf32>\n"
                             "  %s2 = cast(%bh) : tile<128xf32>\n"
                             "  %s3 = cast(%bq) : tile<128xf32>\n"
                             "  %s4 = add(%u2, %bc) : tile<128xu32>\n"
                             "  %s5 = cast(%s4) : tile<128xf32>\n"
                             "  %t0 = add(%s0, %s1) : tile<128xf32>\n"
                             "  %t1 = add(%t0, %s2) : tile<128xf32>\n"
                             "  %t2 = add(%t1, %s3) : tile<128xf32>\n"
                             "  %t3 = add(%t2, %s5) : tile<128xf32>\n"
                             "  store(%v, %c0, %t3)\n"
                             "}\n";

/* Reductions: both axes, under replication (a tile smaller than the layout), across warps, and
 * other element types; broadcasts back. */
static const char *k_reduce =
    "kernel @reduce(%x: ptr<f32>, %h: ptr<f16>, %w: ptr<i32>, %n: i32) {warps = 8} {\n"
    "  %c0 = const() {value = 0} : i32\n"
    "  %c1 = const() {value = 1} : i32\n"
    "  %v = view(%x, %n, %n, %n, %c1) : view<2xf32>\n"
    "  %a = load(%v, %c0, %c0) : tile<64x64xf32>\n"
    "  %r0 = reduce(%a) {axis = 0, kind = \"sum\"} : tile<1x64xf32>\n"
    "  %r1 = reduce(%a) {axis = 1, kind = \"max\"} : tile<64x1xf32>\n"
    "  %b0 = broadcast(%r0) : tile<64x64xf32>\n"
    "  %b1 = broadcast(%r1) : tile<64x64xf32>\n"
    "  %d = sub(%a, %b1) : tile<64x64xf32>\n"
    "  %e = add(%d, %b0) : tile<64x64xf32>\n"
    "  store(%v, %c0, %c0, %e)\n"
    "  %s = load(%v, %c1, %c0) : tile<4x8xf32>\n"
    "  %sr = reduce(%s) {axis = 1, kind = \"min\"} : tile<4x1xf32>\n"
    "  store(%v, %c1, %c1, %sr)\n"
    "  %vh = view(%h, %n, %n, %n, %c1) : view<2xf16>\n"
    "  %t = load(%vh, %c0, %c0) : tile<16x128xf16>\n"
    "  %tr = reduce(%t) {axis = 0, kind = \"max\"} : tile<1x128xf16>\n"
    "  store(%vh, %c0, %c0, %tr)\n"
    "  %vw = view(%w, %n, %c1) : view<1xi32>\n"
    "  %i = load(%vw, %c0) : tile<1024xi32>\n"
    "  %ir = reduce(%i) {axis = 0, kind = \"sum\"} : tile<1xi32>\n"
    "  store(%vw, %c0, %ir)\n"
    "  %cm = cmp(%i, %i) {pred = \"eq\"} : tile<1024xi1>\n"
    "  %cr = reduce(%cm) {axis = 0, kind = \"max\"} : tile<1xi1>\n"
    "  %ci = cast(%cr) : tile<1xi32>\n"
    "  store(%vw, %c1, %ci)\n"
    "}\n";

/* dot with inputs $T and accumulator $C, precision $P. */
static const char *k_dot = "kernel @dot_$T(%a: ptr<$T>, %b: ptr<$T>, %c: ptr<$C>, %n: i32) {warps = 4} {\n"
                           "  %c0 = const() {value = 0} : i32\n"
                           "  %c1 = const() {value = 1} : i32\n"
                           "  %va = view(%a, %n, %n, %n, %c1) : view<2x$T>\n"
                           "  %vb = view(%b, %n, %n, %n, %c1) : view<2x$T>\n"
                           "  %vc = view(%c, %n, %n, %n, %c1) : view<2x$C>\n"
                           "  %x = load(%va, %c0, %c0) : tile<32x16x$T>\n"
                           "  %y = load(%vb, %c0, %c0) : tile<16x16x$T>\n"
                           "  %z = load(%vc, %c0, %c0) : tile<32x16x$C>\n"
                           "  %r = dot(%x, %y, %z) {precision = \"$P\"} : tile<32x16x$C>\n"
                           "  store(%vc, %c0, %c0, %r)\n"
                           "}\n";

/* A loop carrying a tile and a scalar, an if with a tile result, shared buffers, an explicit
 * conversion. */
static const char *k_control =
    "kernel @control(%x: ptr<f32>, %n: i32) {warps = 4} {\n"
    "  %c0 = const() {value = 0} : i32\n"
    "  %c1 = const() {value = 1} : i32\n"
    "  %c32 = const() {value = 32} : i32\n"
    "  %v = view(%x, %n, %n, %n, %c1) : view<2xf32>\n"
    "  %init = const() {value = 0.0} : tile<32x32xf32>\n"
    "  %z = const() {value = 0.0} : f32\n"
    "  %sm = alloc_shared() : smem<32x32xf32>\n"
    "  %acc, %cnt = for(%c0, %n, %c32, %init, %z) : tile<32x32xf32>, f32 {\n"
    "  ^(%k: i32, %a: tile<32x32xf32>, %s: f32):\n"
    "    copy(%v, %k, %c0, %sm) {pad = 0.0}\n"
    "    barrier()\n"
    "    %t = load_shared(%sm) : tile<32x32xf32>\n"
    "    barrier()\n"
    "    %a2 = add(%a, %t) : tile<32x32xf32>\n"
    "    %big = cmp(%k, %c32) {pred = \"gt\"} : i1\n"
    "    %sel = if(%big) : tile<32x32xf32> {\n"
    "      %m = mul(%a2, %a2) : tile<32x32xf32>\n"
    "      yield(%m)\n"
    "    } else {\n"
    "      yield(%a2)\n"
    "    }\n"
    "    %one = const() {value = 1.0} : f32\n"
    "    %s2 = add(%s, %one) : f32\n"
    "    yield(%sel, %s2)\n"
    "  }\n"
    "  %sp = splat(%cnt) : tile<32x32xf32>\n"
    "  %o = add(%acc, %sp) : tile<32x32xf32>\n"
    "  %cv = convert_layout(%o) : tile<32x32xf32, blocked<[1,1],[32,1],[1,4],[0,1]>>\n"
    "  store_shared(%sm, %cv)\n"
    "  barrier()\n"
    "  %back = load_shared(%sm) : tile<32x32xf32>\n"
    "  store(%v, %c0, %c0, %back)\n"
    "}\n";

/* Replaces each $T, $C, $P in tmpl. */
static char *subst(const char *tmpl, const char *t, const char *c, const char *p) {
  size_t n = strlen(tmpl) * 2 + 64;
  char *out = malloc(n), *o = out;
  for (const char *s = tmpl; *s; s++) {
    const char *r = NULL;
    if (s[0] == '$' && s[1] == 'T') r = t;
    if (s[0] == '$' && s[1] == 'C') r = c;
    if (s[0] == '$' && s[1] == 'P') r = p;
    if (r) {
      o += sprintf(o, "%s", r);
      s++;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
  return out;
}

/* Parses text (no verifier: the codegen error tests feed IR the verifier would refuse). */
static ir_func *parse(const char *text) {
  char err[1024];
  ir_func *fn = ir_parse(text, "test.ir", err, sizeof err, NULL);
  if (!fn) fprintf(stderr, "parse error: %s\n", err);
  CHECK(fn != NULL);
  return fn;
}

/* Parse, verify, default pipeline, codegen. Returns cg_compile's status; err gets any message. */
static int compile_text(const char *text, const cg_target *t, cg_backend be, cg_result *res, char *err,
                        size_t errn) {
  ir_func *fn = parse(text);
  if (!fn) return -1;
  if (ir_verify(fn, err, errn)) {
    fprintf(stderr, "verify error: %s\n", err);
    CHECK(0);
    ir_func_destroy(fn);
    return -1;
  }
  pass_ctx pc = {.target = t, .verify_each = 1};
  if (pass_run_default(fn, &pc)) {
    fprintf(stderr, "pipeline error: %s\n", pc.err);
    CHECK(0);
    ir_func_destroy(fn);
    return -1;
  }
  int rc = cg_compile(fn, t, be, res, err, errn);
  ir_func_destroy(fn);
  return rc;
}

static const char *ptxas_path(void) {
  static const char *p;
  static int looked;
  if (looked) return p;
  looked = 1;
  const char *path = getenv("PATH");
  static char buf[4096];
  while (path && *path) {
    const char *e = strchr(path, ':');
    size_t n = e ? (size_t)(e - path) : strlen(path);
    snprintf(buf, sizeof buf, "%.*s/ptxas", (int)n, path);
    if (n && access(buf, X_OK) == 0) return p = buf;
    path = e ? e + 1 : NULL;
  }
  return p = access("/usr/local/cuda/bin/ptxas", X_OK) == 0 ? "/usr/local/cuda/bin/ptxas" : NULL;
}

/* 0 if ptxas accepts the PTX for arch; prints ptxas's output otherwise. */
static int run_ptxas(const char *ptx, const char *arch) {
  char in[] = "/tmp/kiln_test_cg_XXXXXX";
  int fd = mkstemp(in);
  if (fd < 0) return -1;
  size_t n = strlen(ptx);
  int ok = write(fd, ptx, n) == (ssize_t)n;
  close(fd);
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "'%s' -arch=%s '%s' -o /dev/null 2>&1", ptxas_path(), arch, in);
  FILE *f = ok ? popen(cmd, "r") : NULL;
  char out[4096] = "";
  size_t got = f ? fread(out, 1, sizeof out - 1, f) : 0;
  out[got] = 0;
  int rc = f ? pclose(f) : -1;
  unlink(in);
  if (rc != 0) fprintf(stderr, "ptxas -arch=%s failed:\n%s\n", arch, out);
  return rc == 0 ? 0 : -1;
}

/* Compiles for every target row (or the oldest and the newest: target-independent code); kernels needing
 * feature `need` must fail on rows without it, with the one-line message. Every PTX goes through ptxas when
 * it is installed; the sim module verifies. */
static void check_targets(const char *name, const char *text, uint32_t need, int every) {
  for (int i = 0; i < cg_ntargets; i++) {
    if (!every && i != 0 && i != cg_ntargets - 1) continue;
    const cg_target *t = &cg_targets[i];
    cg_result res;
    char err[1024] = "";
    int rc = compile_text(text, t, CG_NVPTX, &res, err, sizeof err);
    int expect_ok = (t->features & need) == need;
    if (expect_ok != (rc == 0)) {
      fprintf(stderr, "%s on %s: rc %d, expected %s: %s\n", name, t->name, rc,
              expect_ok ? "success" : "an error", err);
      failures++;
    }
    if (rc == 0) {
      CHECK(res.ptx && strstr(res.ptx, ".entry"));
      CHECK(res.threads >= 32 && res.kernel_name && res.llvm_ir);
      if (ptxas_path() && run_ptxas(res.ptx, t->name)) {
        fprintf(stderr, "  (kernel %s)\n", name);
        failures++;
      }
      cg_result_free(&res);
    } else if (!expect_ok) {
      char want[256];
      snprintf(want, sizeof want, "needs %s, which target %s does not have", cg_feature_name(need), t->name);
      CHECK(strstr(err, want) != NULL && strstr(err, "op 'dot'") != NULL && !strchr(err, '\n'));
    }
  }
  cg_result res;
  char err[1024];
  if (compile_text(text, &cg_targets[cg_ntargets - 1], CG_SIM, &res, err, sizeof err) == 0) {
    CHECK(res.llvm_mod != NULL && res.llvm_ctx != NULL && res.ptx == NULL);
    cg_result_free(&res);
  } else if ((cg_targets[cg_ntargets - 1].features & need) == need) {
    fprintf(stderr, "%s for the simulator: %s\n", name, err);
    failures++;
  }
}

static void test_codegen_targets(void) {
  if (!ptxas_path()) printf("test_codegen: ptxas not found (PATH, /usr/local/cuda/bin): PTX not assembled\n");
  check_targets("ew_f32", k_ew_f32, 0, 1);
  static const char *floats[] = {"f16", "bf16", "f64", "e4m3", "e5m2"};
  for (size_t i = 0; i < sizeof floats / sizeof *floats; i++) {
    char *k = subst(k_ew_float, floats[i], "", "");
    check_targets(floats[i], k, 0, 1);
    free(k);
  }
  static const char *ints[] = {"i8", "u8", "i16", "i32", "u32", "i64"};
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
    char *k = subst(k_ew_int, ints[i], "", "");
    check_targets(ints[i], k, 0, 0);
    free(k);
  }
  check_targets("casts", k_casts, 0, 1);
  check_targets("reduce", k_reduce, 0, 1);
  check_targets("control", k_control, 0, 1);
  static const struct {
    const char *a, *c, *prec;
    uint32_t need;
  } dots[] = {
      {"f16", "f32", "ieee", 0},
      {"f16", "f16", "ieee", 0},
      {"bf16", "f32", "ieee", CG_F_BF16},
      {"e4m3", "f32", "ieee", CG_F_FP8_CVT},
      {"e5m2", "f32", "ieee", CG_F_FP8_CVT},
      {"f32", "f32", "tf32", 0},
      {"i8", "i32", "ieee", 0},
      {"u8", "i32", "ieee", 0},
      {"u32", "i32", "b1_and", CG_F_MMA_B1_AND},
  };
  for (size_t i = 0; i < sizeof dots / sizeof *dots; i++) {
    char *k = subst(k_dot, dots[i].a, dots[i].c, dots[i].prec);
    char name[64];
    snprintf(name, sizeof name, "dot %s/%s/%s", dots[i].a, dots[i].c, dots[i].prec);
    check_targets(name, k, dots[i].need, 1);
    free(k);
  }
}

int main(void) {
  test_layout_defaults();
  test_layout_reduce_broadcast();
  test_layout_conversions();
  test_layout_loop();
  test_layout_warps_error();
  test_codegen_targets();
  if (failures) {
    fprintf(stderr, "test_codegen: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_codegen: ok\n");
  return 0;
}
