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

#include <math.h>
#include <stdint.h>

#include "codegen/codegen.h"
#include "compiler/passes/pass.h"
#include "ir/elem_float.h"
#include "sim/sim.h"
#include "test.h"

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
  /* fewer elements than the threads: one a thread, lanes and warps left over replicate */
  CHECK(lay_is(ir_vtype(fn, s).layout, 1, (int[]){1}, (int[]){32}, (int[]){4}, (int[]){0}));
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
  /* the add takes the f32 default; the cast widens and has one use, so its f16 operand is
   * converted (half the bytes) and the cast moves to the f32 default */
  CHECK(same_layout(fn, cf, a));
  CHECK(same_layout(fn, s, a));
  ir_op *add = &fn->ops[fn->vals[s].def];
  CHECK(add->opnd[0] == a && add->opnd[1] == cf);
  CHECK(fn->ops[fn->vals[fn->ops[fn->vals[cf].def].opnd[0]].def].code == IR_OP_CONVERT_LAYOUT);
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

/* Kernels as IR text, read from tests/unit/ir/codegen/NAME.ir. `$T` in a template is replaced by an
 * element type. */

static char *k_ew_f32; /* tests/unit/ir/codegen/ew_f32.ir */

/* Float arithmetic and math in another float type. */
static char *k_ew_float; /* tests/unit/ir/codegen/ew_float.ir */

/* Integer arithmetic and bit ops. */
static char *k_ew_int; /* tests/unit/ir/codegen/ew_int.ir */

/* Every cast from and back to f32, integer widenings and narrowings, bitcasts. */
static char *k_casts; /* tests/unit/ir/codegen/casts.ir */

/* Reductions: both axes, under replication (a tile smaller than the layout), across warps, and
 * other element types; broadcasts back. */
static char *k_reduce; /* tests/unit/ir/codegen/reduce.ir */

/* dot with inputs $T and accumulator $C, precision $P. */
static char *k_dot; /* tests/unit/ir/codegen/dot.ir */

/* A loop carrying a tile and a scalar, an if with a tile result, shared buffers, an explicit
 * conversion. */
static char *k_control; /* tests/unit/ir/codegen/control.ir */

/* Replaces each $T, $C, $P in tmpl. */
static char *subst(const char *tmpl, const char *t, const char *c, const char *p) {
  const char *keys[] = {"$T", "$C", "$P"}, *vals[] = {t, c, p};
  return test_subst(tmpl, keys, vals, 3);
}

/* Parses text (no verifier: the codegen error tests feed IR the verifier would refuse). */
static ir_func *parse(const char *text) {
  char err[1024];
  ir_func *fn = ir_parse(text, "test.ir", err, sizeof err, NULL);
  if (!fn) fprintf(stderr, "parse error: %s\n", err);
  CHECK(fn != NULL);
  return fn;
}

/* test_compile_ir, where any failure before codegen is a failed check: codegen's own refusals are
 * what the callers test. 0 or -1; err gets the message. */
static int compile_text(const char *text, const tg_target *t, cg_backend be, cg_result *res, char *err,
                        size_t errn) {
  int rc = test_compile_ir(text, "test.ir", t, be, res, err, errn);
  if (rc == TEST_BEFORE_CODEGEN) fprintf(stderr, "before codegen: %s\n", err);
  CHECK(rc != TEST_BEFORE_CODEGEN);
  return rc ? -1 : 0;
}

/* Compiles for every target row (or the oldest and the newest: target-independent code); kernels needing
 * feature `need` must fail on rows without it, with the one-line message. Every PTX goes through ptxas when
 * it is installed; the sim module verifies. */
static void check_targets(const char *name, const char *text, uint32_t need, int every) {
  for (int i = 0; i < tg_ntargets; i++) {
    if (!every && i != 0 && i != tg_ntargets - 1) continue;
    const tg_target *t = &tg_targets[i];
    cg_result res;
    char err[1024] = "";
    int rc = compile_text(text, t, CG_NVPTX, &res, err, sizeof err);
    int expect_ok = (t->features & need) == need;
    if (expect_ok != (rc == 0)) {
      fprintf(stderr, "%s on %s: rc %d, expected %s: %s\n", name, t->name, rc,
              expect_ok ? "success" : "an error", err);
      test_failures++;
    }
    if (rc == 0) {
      CHECK(res.ptx && strstr(res.ptx, ".entry"));
      CHECK(res.threads >= 32 && res.kernel_name && res.llvm_ir);
      if (test_ptxas() && test_ptxas_accepts(res.ptx, t->name)) {
        fprintf(stderr, "  (kernel %s)\n", name);
        test_failures++;
      }
      cg_result_free(&res);
    } else if (!expect_ok) {
      char want[256];
      snprintf(want, sizeof want, "needs %s, which target %s does not have", tg_feature_name(need), t->name);
      CHECK(strstr(err, want) != NULL && strstr(err, "op 'dot'") != NULL && !strchr(err, '\n'));
    }
  }
  cg_result res;
  char err[1024];
  if (compile_text(text, &tg_targets[tg_ntargets - 1], CG_SIM, &res, err, sizeof err) == 0) {
    CHECK(res.llvm_mod != NULL && res.llvm_ctx != NULL && res.ptx == NULL);
    cg_result_free(&res);
  } else if ((tg_targets[tg_ntargets - 1].features & need) == need) {
    fprintf(stderr, "%s for the simulator: %s\n", name, err);
    test_failures++;
  }
}

static void test_codegen_targets(void) {
  if (!test_ptxas()) printf("test_codegen: ptxas not found (PATH, /usr/local/cuda/bin): PTX not assembled\n");
  check_targets("ew_f32", k_ew_f32, 0, 1);
  /* f16 and bf16 arithmetic depends on the target; f64 and fp8 (software) do not */
  static const char *floats[] = {"f16", "bf16", "f64", "e4m3", "e5m2"};
  for (size_t i = 0; i < sizeof floats / sizeof *floats; i++) {
    char *k = subst(k_ew_float, floats[i], "", "");
    check_targets(floats[i], k, 0, i < 2);
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
      {"bf16", "f32", "ieee", TG_F_BF16},
      {"e4m3", "f32", "ieee", TG_F_FP8_CVT},
      {"e5m2", "f32", "ieee", TG_F_FP8_CVT},
      {"f32", "f32", "tf32", 0},
      {"i8", "i32", "ieee", 0},
      {"u8", "i32", "ieee", 0},
      {"u32", "i32", "b1_and", TG_F_MMA_B1_AND},
  };
  for (size_t i = 0; i < sizeof dots / sizeof *dots; i++) {
    char *k = subst(k_dot, dots[i].a, dots[i].c, dots[i].prec);
    char name[64];
    snprintf(name, sizeof name, "dot %s/%s/%s", dots[i].a, dots[i].c, dots[i].prec);
    check_targets(name, k, dots[i].need, 1);
    free(k);
  }
}

/* User errors: IR given with its layouts (no passes), compiled for a target; the message is one
 * line, names the op (and its place) and contains `want`. */
#define L32 "tile<32xf32, blocked<[1],[32],[1],[0]>>"
#define LI32 "tile<32xi32, blocked<[1],[32],[1],[0]>>"
#define L8x8(e) "tile<8x8x" e ", blocked<[1,1],[4,8],[1,1],[1,0]>>"

static const struct {
  const char *body, *target, *want;
} cg_errors[] = {
    {"  %a = const() {value = 0.0} : tile<32xf32>\n", "sm_80",
     "test.ir:2: op 'const' gives a tile without a layout: run the layout pass before codegen"},
    {"  %s = alloc_shared() : smem<32xf32>\n", "sm_80", "test.ir:2: op 'alloc_shared' has no offset"},
    {"  %a = const() {value = 0.0} : tile<32xf32, blocked<[1],[16],[1],[0]>>\n", "sm_80",
     "test.ir:2: op 'const' gives tile<32xf32, blocked<[1],[16],[1],[0]>>, whose layout does not cover 32 "
     "lanes "
     "and 1 warps"},
    {"  %c = const() {value = 1} : i32\n  %r = for(%c, %c, %c, %c) : i32 {\n  ^(%i: i32, %x: tile<32xf32>):\n"
     "    yield(%x)\n  }\n",
     "sm_80", "test.ir:3: op 'for' gives a tile without a layout"},
    {"  %s = alloc_shared() {offset = 0} : smem<256x256xf32>\n", "sm_80",
     "kernel 'e' needs 262144 bytes of shared memory per block (262144 planned, 0 scratch); target sm_80 "
     "allows "
     "166912"},
    {"  %a = iota() {axis = 1} : " LI32 "\n", "sm_80",
     "test.ir:2: op 'iota': axis 1 is outside the tile's rank 1"},
    {"  %a = const() {value = 1.0} : " L32
     "\n  %b = cmp(%a, %a) {pred = \"lq\"} : tile<32xi1, blocked<[1],[32],[1],[0]>>\n",
     "sm_80", "test.ir:3: op 'cmp': unknown pred 'lq'"},
    {"  %a = const() {value = 1.0} : " L32 "\n  %b = not(%a) : " L32 "\n", "sm_80",
     "test.ir:3: op 'not' does not apply to element type f32"},
    {"  %a = const() {value = 1} : " LI32 "\n  %b = exp2(%a) : " LI32 "\n", "sm_80",
     "test.ir:3: op 'exp2' does not apply to element type i32"},
    {"  %a = const() {value = 1.0} : " L32 "\n  %b = bitcast(%a) : tile<32xf16, blocked<[1],[32],[1],[0]>>\n",
     "sm_80", "test.ir:3: op 'bitcast': f32 and f16 differ in width"},
    {"  %c = const() {value = 1} : i32\n  %v = view(%p, %c) : view<1xf32>\n", "sm_80",
     "test.ir:3: op 'view' of rank 1 takes a pointer, 1 dims, 1 strides and an optional base"},
    {"  %c = const() {value = 1} : i32\n  %v = view(%p, %c, %c) : view<1xf32>\n"
     "  %s = alloc_shared() {offset = 0} : smem<32xf32>\n  copy(%v, %s)\n",
     "sm_80", "test.ir:5: op 'copy' to a rank-1 buffer takes a view, 1 offsets and the buffer"},
    {"  %a = program_id() {axis = 3} : i32\n", "sm_80",
     "test.ir:2: op 'program_id': axis 3 is not 0, 1 or 2"},
    {"  %c = const() {value = 1} : i32\n  for(%c, %c, %c, %c) {\n  ^(%i: i32):\n    yield()\n  }\n", "sm_80",
     "test.ir:3: op 'for': 1 inits and 0 results for 0 carried values"},
    {"  %c = const() {value = 1} : i32\n  %r = for(%c, %c, %c, %c) : i32 {\n  ^(%i: i32, %x: i32):\n    "
     "yield()\n  }\n",
     "sm_80", "test.ir:3: op 'for': the body yields 0 values for 1 carried"},
    {"  %c = const() {value = 1} : i32\n  %t = cmp(%c, %c) {pred = \"eq\"} : i1\n"
     "  %r = if(%t) : i32 {\n    yield(%c)\n  } else {\n    yield()\n  }\n",
     "sm_80", "test.ir:4: op 'if': the else region yields 0 values for 1 results"},
    {"  %a = const() {value = 1.0} : " L32 "\n  %b = reduce(%a) {axis = 1, kind = \"sum\"} : " L32 "\n",
     "sm_80", "test.ir:3: op 'reduce': axis 1 is outside the tile's rank 1"},
    {"  %a = const() {value = 1.0} : " L32 "\n  %b = reduce(%a) {axis = 0, kind = \"prod\"} : tile<1xf32, "
     "blocked<[1],[32],[1],[0]>>\n",
     "sm_80", "test.ir:3: op 'reduce': unknown kind 'prod' (sum max min)"},
    {"  %a = const() {value = 1.0} : " L8x8("f16") "\n  %c = const() {value = 0.0} : tile<16x8xf32, "
                                                   "blocked<[1,1],[4,8],[1,1],[1,0]>>\n  %d = dot(%a, %a, "
                                                   "%c) : tile<16x8xf32, blocked<[1,1],[4,8],[1,1],[1,0]>>\n",
     "sm_80", "test.ir:4: op 'dot': operand shapes do not form [M,K] x [K,N] -> [M,N]"},
    {"  %a = const() {value = 1.0} : " L8x8("f16") "\n  %c = const() {value = 0} : " L8x8(
         "i32") "\n  %d = dot(%a, %a, %c) {precision = \"b1_and\"} : " L8x8("i32") "\n",
     "sm_80",
     "test.ir:4: op 'dot' with precision b1_and takes u32 x u32 (packed bits) and an i32 accumulator"},
    {"  %a = const() {value = 1.0} : " L8x8("f16") "\n  %c = const() {value = 0.0} : " L8x8(
         "f32") "\n  %d = dot(%a, %a, %c) {precision = \"fp64\"} : " L8x8("f32") "\n",
     "sm_80", "test.ir:4: op 'dot': unknown precision 'fp64' (ieee tf32 b1_and)"},
    {"  %a = const() {value = 1.0} : " L8x8(
         "f16") "\n  %c = const() {value = 0.0} : tile<8x8xf32, "
                "blocked<[1,1],[32,1],[1,1],[1,0]>>\n  %d = dot(%a, %a, %c) : " L8x8("f32") "\n",
     "sm_80", "test.ir:4: op 'dot': the accumulator's layout differs from the result's"},
    {"  %a = const() {value = 1.0} : " L8x8("bf16") "\n  %c = const() {value = 0.0} : " L8x8(
         "f32") "\n  %d = dot(%a, %a, %c) : " L8x8("f32") "\n",
     "sm_75", "test.ir:4: op 'dot' needs bf16, which target sm_75 does not have"},
    {"  %a = const() {value = 1} : " L8x8("u32") "\n  %c = const() {value = 0} : " L8x8(
         "i32") "\n  %d = dot(%a, %a, %c) {precision = \"b1_and\"} : " L8x8("i32") "\n",
     "sm_75", "test.ir:4: op 'dot' needs mma.sync b1 and.popc, which target sm_75 does not have"},
};

static void test_codegen_errors(void) {
  for (size_t i = 0; i < sizeof cg_errors / sizeof *cg_errors; i++) {
    char text[4096];
    snprintf(text, sizeof text, "kernel @e(%%p: ptr<f32>) {warps = 1} {\n%s}\n", cg_errors[i].body);
    ir_func *fn = parse(text);
    if (!fn) continue;
    cg_result res;
    char err[1024] = "";
    int rc = cg_compile(fn, tg_target_lookup(cg_errors[i].target), CG_NVPTX, 0, &res, err, sizeof err);
    if (rc != -1 || !strstr(err, cg_errors[i].want) || strchr(err, '\n')) {
      fprintf(stderr, "error case %zu: rc %d, message '%s'\n  want '%s'\n", i, rc, err, cg_errors[i].want);
      test_failures++;
    }
    if (rc == 0) cg_result_free(&res);
    ir_func_destroy(fn);
  }
  /* a tile parameter */
  ir_func *fn = parse("kernel @e(%t: tile<32xf32, blocked<[1],[32],[1],[0]>>) {warps = 1} {\n}\n");
  cg_result res;
  char err[1024] = "";
  CHECK(fn && cg_compile(fn, tg_target_lookup("sm_80"), CG_NVPTX, 0, &res, err, sizeof err) == -1);
  CHECK(strstr(err,
               "kernel 'e': parameter t has type tile<32xf32, blocked<[1],[32],[1],[0]>>; kernel parameters "
               "are pointers or scalars") != NULL);
  ir_func_destroy(fn);
  /* warps out of range */
  fn = parse("kernel @w() {warps = 3} {\n}\n");
  CHECK(fn && cg_compile(fn, tg_target_lookup("sm_80"), CG_NVPTX, 0, &res, err, sizeof err) == -1);
  CHECK(strstr(err, "kernel 'w': warps = 3 must be a power of two from 1 to 32") != NULL);
  ir_func_destroy(fn);
}

/* The optimised module is printed only when asked for (CG_KEEP_LLVM_IR): the same PTX either way. */
static void test_codegen_keep_ir(void) {
  const char *text = "kernel @k(%p: ptr<f32>, %n: i32) {warps = 1} {\n"
                     "  %c0 = const() {value = 0} : i32\n"
                     "  %c1 = const() {value = 1} : i32\n"
                     "  %v = view(%p, %n, %c1) : view<1xf32>\n"
                     "  %t = load(%v, %c0) : tile<32xf32>\n"
                     "  %s = add(%t, %t) : tile<32xf32>\n"
                     "  store(%v, %c0, %s)\n"
                     "}\n";
  char *ptx[2] = {NULL, NULL};
  for (unsigned keep = 0; keep < 2; keep++) {
    ir_func *fn = parse(text);
    pass_ctx pc = {.target = tg_target_lookup("sm_80")};
    cg_result res;
    char err[1024] = "";
    CHECK(fn && pass_run_default(fn, &pc) == 0);
    CHECK(fn && cg_compile(fn, pc.target, CG_NVPTX, keep ? CG_KEEP_LLVM_IR : 0, &res, err, sizeof err) == 0);
    if (fn) ir_func_destroy(fn);
    CHECK(keep ? res.llvm_ir && strstr(res.llvm_ir, "define") : !res.llvm_ir);
    ptx[keep] = res.ptx ? strdup(res.ptx) : NULL;
    cg_result_free(&res);
  }
  CHECK(ptx[0] && ptx[1] && !strcmp(ptx[0], ptx[1]));
  free(ptx[0]);
  free(ptx[1]);
}

/* s without the first `what` in it, where that one is; returns where it was (NULL: not there) */
static char *cut(char *s, const char *what) {
  char *at = strstr(s, what);
  if (at) memmove(at, at + strlen(what), strlen(at + strlen(what)) + 1);
  return at;
}

/* in without its InstCombine runs (each with the comma before it, or after it when none is before)
 * into out (16 KB); returns how many there were */
static int without_instcombine(const char *in, char *out) {
  const char *ic = "instcombine<max-iterations=1;no-verify-fixpoint>";
  int runs = 0;
  char *o = out;
  for (const char *p = in; *p && o < out + 16383;) {
    if (!strncmp(p, ic, strlen(ic))) {
      runs++;
      p += strlen(ic);
      if (o > out && o[-1] == ',')
        o--;
      else if (*p == ',')
        p++;
    } else
      *o++ = *p++;
  }
  *o = 0;
  return runs;
}

/* codegen's default<O3> without the SLP vectoriser (for kernels with no dot) is LLVM's own O3
 * pipeline for NVPTX, as opt prints it, less `slp-vectorizer`: a new LLVM that changes O3 shows
 * here. Skipped (with a note) without opt. */
static void test_o3_without_slp(void) {
  const char *from, *kiln = cg_llvm_passes_o3_without_slp(&from);
  if (strcmp(from, cg_llvm_version())) {
    fprintf(stderr, "note: the pipeline was printed by LLVM %s, this is %s: not compared\n", from,
            cg_llvm_version());
    return;
  }
  char path[] = "/tmp/kiln-o3-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  const char *mod = "target triple = \"nvptx64-nvidia-cuda\"\n";
  CHECK(write(fd, mod, strlen(mod)) == (ssize_t)strlen(mod));
  close(fd);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "for o in opt-22 /usr/lib/llvm-22/bin/opt; do command -v $o >/dev/null 2>&1 && exec $o "
           "-mtriple=nvptx64-nvidia-cuda -mcpu=sm_80 -passes='default<O3>' -print-pipeline-passes "
           "-disable-output %s; "
           "done; exit 127",
           path);
  FILE *p = popen(cmd, "r");
  static char got[16384];
  size_t n = p ? fread(got, 1, sizeof got - 1, p) : 0;
  got[n] = 0;
  int rc = p ? pclose(p) : -1;
  unlink(path);
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) == 127) {
    fprintf(stderr, "note: opt-22 not found: default<O3>'s pipeline not compared\n");
    return;
  }
  CHECK(WEXITSTATUS(rc) == 0 && n > 0 && n < sizeof got - 1);
  while (n && (got[n - 1] == '\n' || got[n - 1] == ' ')) got[--n] = 0;
  /* the pipeline for kernels with a dot is opt's O3 but for five InstCombine runs and called-value
   * propagation */
  static char bare_opt[16384], bare_lean[16384];
  CHECK(without_instcombine(got, bare_opt) == 8);
  CHECK(without_instcombine(cg_llvm_passes_lean(1), bare_lean) == 3);
  CHECK(cut(bare_opt, "called-value-propagation,") != NULL);
  CHECK(!strcmp(bare_opt, bare_lean));
  char *slp = cut(got, ",slp-vectorizer");
  CHECK(slp && *slp == ',' && !strstr(got, "slp-vectorizer"));
  if (!slp) return;
  CHECK(!strcmp(got, kiln));
  if (strcmp(got, kiln))
    fprintf(stderr, "  opt's O3 less slp-vectorizer:\n  %s\n  kiln's:\n  %s\n", got, kiln);
}

/* a kernel that loads a tile and stores it back (the pipeline tests below) */
static const char copy_kernel[] = "kernel @k(%p: ptr<f32>, %n: i32) {warps = 1} {\n"
                                  "  %c0 = const() {value = 0} : i32\n"
                                  "  %c1 = const() {value = 1} : i32\n"
                                  "  %v = view(%p, %n, %c1) : view<1xf32>\n"
                                  "  %t = load(%v, %c0) : tile<32xf32>\n"
                                  "  store(%v, %c0, %t)\n"
                                  "}\n";

/* The pipelines PTX is optimised with: o3_without_slp but for called-value propagation and its
 * InstCombine runs other than the first and third (and, with the SLP vectoriser in its place for
 * kernels with a dot, the last); which a kernel gets; and LLVM parses both (given as
 * KILN_LLVM_PASSES, without a fallback). */
static void test_lean_pipelines(void) {
  const char *base = cg_llvm_passes_o3_without_slp(NULL), *nd = cg_llvm_passes_lean(0),
             *wd = cg_llvm_passes_lean(1);
  static char bare[3][16384];
  CHECK(without_instcombine(base, bare[0]) == 8);
  CHECK(without_instcombine(nd, bare[1]) == 2);
  CHECK(without_instcombine(wd, bare[2]) == 3);
  /* and without called-value propagation (kernels make no indirect calls) */
  CHECK(cut(bare[0], "called-value-propagation,") && !strstr(nd, "called-value-propagation") &&
        !strstr(wd, "called-value-propagation"));
  CHECK(!strcmp(bare[0], bare[1]));
  char *slp = cut(bare[2], ",slp-vectorizer");
  CHECK(slp && *slp == ',' && !strstr(bare[2], "slp-vectorizer") && !strstr(nd, "slp-vectorizer"));
  CHECK(!strcmp(bare[0], bare[2]));
  for (int k = 0; k < 2; k++) {
    const char *t = k ? wd : nd;
    CHECK(strstr(t, "mem2reg,instcombine<") != NULL);        /* the first run */
    CHECK(strstr(t, "-fixpoint>,loop(loop-idiom,") != NULL); /* the third, before indvars */
  }
  /* the last, after the late unroll, for kernels with a dot only */
  CHECK(strstr(wd, "sroa<preserve-cfg>,infer-alignment,instcombine<") != NULL);
  CHECK(strstr(nd, "sroa<preserve-cfg>,infer-alignment,loop-mssa") != NULL);
  /* the choice: this pipeline for PTX from a kernel with no dot, cg_llvm_passes() otherwise */
  const char *with_dot = "kernel @k() {warps = 1} {\n  %a = const() {value = 1.0} : " L8x8(
      "f16") "\n  %c = const() {value = 0.0} : " L8x8("f32") "\n  %d = dot(%a, %a, %c) : " L8x8("f32") "\n}"
                                                                                                       "\n";
  const char *no_dot = "kernel @k() {warps = 1} {\n  %a = const() {value = 1.0} : " L8x8("f32") "\n}\n";
  ir_func *fd = parse(with_dot), *fn = parse(no_dot);
  if (fd && fn && !getenv("KILN_LLVM_PASSES")) {
    CHECK(cg_llvm_passes_for(fn, 1) == nd);
    CHECK(cg_llvm_passes_for(fd, 1) == wd);
    CHECK(!strcmp(cg_llvm_passes_for(fn, 0), "default<O3>"));
    CHECK(!strcmp(cg_llvm_passes_for(fd, 0), "default<O3>"));
  }
  if (fd) ir_func_destroy(fd);
  if (fn) ir_func_destroy(fn);
  /* given as KILN_LLVM_PASSES a pipeline has no fallback: one LLVM cannot parse is an error */
  const char *old = getenv("KILN_LLVM_PASSES");
  char *keep = old ? strdup(old) : NULL;
  for (int k = 0; k < 2; k++) {
    cg_result res;
    char err[1024] = "";
    setenv("KILN_LLVM_PASSES", k ? wd : nd, 1);
    CHECK(compile_text(copy_kernel, tg_target_lookup("sm_80"), CG_NVPTX, &res, err, sizeof err) == 0);
    if (err[0])
      fprintf(stderr, "  %s\n", err);
    else
      cg_result_free(&res);
  }
  if (keep)
    setenv("KILN_LLVM_PASSES", keep, 1);
  else
    unsetenv("KILN_LLVM_PASSES");
  free(keep);
}

/* cg_run_passes: a pipeline that does not parse is an error naming the pass, or, given a fallback,
 * the fallback runs (the path an LLVM whose O3 renamed a pass takes for kernels with no dot). */
static void test_run_passes_fallback(void) {
  cg_result res;
  char err[1024] = "";
  CHECK(compile_text(copy_kernel, tg_target_lookup("sm_80"), CG_SIM, &res, err, sizeof err) == 0);
  if (!res.llvm_mod) return;
  CHECK(cg_run_passes(res.llvm_mod, NULL, "no-such-pass", NULL, err, sizeof err) == -1);
  CHECK(strstr(err, "no-such-pass") != NULL);
  err[0] = 0;
  CHECK(cg_run_passes(res.llvm_mod, NULL, "no-such-pass", "default<O3>", err, sizeof err) == 0 && !err[0]);
  CHECK(cg_run_passes(res.llvm_mod, NULL, "no-such-pass", "no-such-either", err, sizeof err) == -1);
  CHECK(strstr(err, "no-such-either") != NULL);
  cg_result_free(&res);
}

/* ---- 3. numerics on the simulator ---- */

/* Compiles text for the simulator and runs it over grid. 0 on success; the report goes to stderr. */
static int run_sim_on(const char *target, const char *text, const sim_arg *args, int nargs, int64_t gx) {
  cg_result res;
  char err[1024];
  if (compile_text(text, tg_target_lookup(target), CG_SIM, &res, err, sizeof err)) {
    fprintf(stderr, "sim compile: %s\n", err);
    return -1;
  }
  int64_t grid[3] = {gx, 1, 1};
  sim_opts o = {.workers = 1};
  int rc = sim_launch(&res, args, nargs, grid, &o, err, sizeof err);
  if (rc) fprintf(stderr, "sim: %s\n", err);
  cg_result_free(&res);
  return rc;
}
static int run_sim(const char *text, const sim_arg *args, int nargs, int64_t gx) {
  return run_sim_on("sm_90a", text, args, nargs, gx);
}

static sim_arg buf(ir_elem e, void *p, size_t bytes) {
  return (sim_arg){.is_ptr = 1, .elem = e, .ptr = p, .bytes = bytes};
}
static sim_arg i32arg(int64_t v) { return (sim_arg){.elem = IR_I32, .ival = v}; }

/* fp8 by the definition: sign, exponent, mantissa (independent of codegen's bit tricks). */
typedef struct {
  int mbits, bias, has_inf;
} fp8fmt;
static const fp8fmt E4M3 = {3, 7, 0}, E5M2 = {2, 15, 1};

static double fp8_value(fp8fmt f, int code) {
  int sign = code & 0x80, em = code & 0x7f, e = em >> f.mbits, m = em & ((1 << f.mbits) - 1);
  int emax = 0x7f >> f.mbits;
  double v;
  if (!f.has_inf && em == 0x7f)
    v = NAN;
  else if (f.has_inf && e == emax)
    v = m ? NAN : INFINITY;
  else if (e == 0)
    v = ldexp(m, 1 - f.bias - f.mbits);
  else
    v = ldexp(1.0 + m / (double)(1 << f.mbits), e - f.bias);
  return sign ? -v : v;
}

/* Round to nearest even, saturating to the largest finite value; NaN stays NaN (-1). Magnitude codes
 * 0..max are in increasing order of value. */
static int fp8_nearest(fp8fmt f, float x) {
  if (isnan(x)) return -1;
  int sign = signbit(x) ? 0x80 : 0, max = f.has_inf ? 0x7b : 0x7e, lo = 0;
  double ax = fabs((double)x);
  while (lo < max && fp8_value(f, lo + 1) <= ax) lo++;
  if (lo == max) return max | sign;
  double dlo = ax - fp8_value(f, lo), dhi = fp8_value(f, lo + 1) - ax;
  int c = dlo < dhi ? lo : dhi < dlo ? lo + 1 : (lo & 1 ? lo + 1 : lo);
  return c | sign;
}

static char *k_fp8_encode; /* tests/unit/ir/codegen/fp8_encode.ir */

static char *k_fp8_decode; /* tests/unit/ir/codegen/fp8_decode.ir */

static char *k_fp8_pairs; /* tests/unit/ir/codegen/fp8_pairs.ir */

static int same_float(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

/* Every code decoded; every value of both formats, each midpoint between neighbours and the floats
 * either side of it, and special values encoded: on sm_80 one element at a time, on sm_90a (fp8
 * conversions) two at a time through the paired device ops. */
static void test_sim_fp8(const char *target) {
  static uint8_t codes[256];
  static float dq[256], dr[256];
  for (int c = 0; c < 256; c++) codes[c] = (uint8_t)c;
  sim_arg dec[4] = {buf(IR_E4M3, codes, 256), buf(IR_E5M2, codes, 256), buf(IR_F32, dq, sizeof dq),
                    buf(IR_F32, dr, sizeof dr)};
  CHECK(run_sim_on(target, k_fp8_decode, dec, 4, 1) == 0);
  for (int c = 0; c < 256; c++)
    if (!same_float(dq[c], fp8_value(E4M3, c)) || !same_float(dr[c], fp8_value(E5M2, c))) {
      fprintf(stderr, "%s: fp8 decode of 0x%02x: e4m3 %g (want %g), e5m2 %g (want %g)\n", target, c, dq[c],
              fp8_value(E4M3, c), dr[c], fp8_value(E5M2, c));
      test_failures++;
      break;
    }

  enum { N = 4096 };
  static float x[N];
  static uint8_t q[N], r[N];
  int n = 0;
  for (int k = 0; k < 2; k++)
    for (int c = 0; c < 256; c++) {
      fp8fmt f = k ? E5M2 : E4M3;
      double v = fp8_value(f, c), w = fp8_value(f, (c & 0x80) | ((c + 1) & 0x7f));
      if (isnan(v)) continue;
      x[n++] = (float)v;
      if (isnan(w) || isinf(w) || isinf(v)) continue;
      float mid = (float)((v + w) / 2);
      x[n++] = mid;
      x[n++] = nextafterf(mid, INFINITY);
      x[n++] = nextafterf(mid, -INFINITY);
    }
  float extra[] = {NAN,    -NAN,     INFINITY, -INFINITY, 1e30f,  -1e30f,  448.0f, 464.0f, 465.0f,
                   480.0f, 57344.0f, 61440.0f, 65536.0f,  1e-30f, -1e-30f, 0.0f,   -0.0f,  1e-45f};
  for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) x[n++] = extra[i];
  CHECK(n <= N);
  sim_arg enc[4] = {buf(IR_F32, x, sizeof x), buf(IR_E4M3, q, sizeof q), buf(IR_E5M2, r, sizeof r),
                    i32arg(n)};
  CHECK(run_sim_on(target, k_fp8_encode, enc, 4, (n + 511) / 512) == 0);
  int bad = 0;
  for (int i = 0; i < n && bad < 5; i++) {
    int wq = fp8_nearest(E4M3, x[i]), wr = fp8_nearest(E5M2, x[i]);
    int okq = wq < 0 ? isnan(fp8_value(E4M3, q[i])) : q[i] == wq;
    int okr = wr < 0 ? isnan(fp8_value(E5M2, r[i])) : r[i] == wr;
    if (!okq || !okr) {
      fprintf(stderr, "%s: fp8 encode of %.9g: e4m3 0x%02x (want 0x%02x), e5m2 0x%02x (want 0x%02x)\n",
              target, x[i], q[i], wq & 0xff, r[i], wr & 0xff);
      bad++;
    }
  }
  test_failures += bad;
}

/* Casts from fp8 to f16, bf16 and the other fp8 format and back from f16, 16 elements a thread and one
 * (an odd one out where conversions go in pairs), every code, poisoned outputs; and the PTX: paired cvt
 * instructions where the target has fp8 conversions, none on sm_80. */
static void test_fp8_pairs(const char *target) {
  static uint8_t codes[256], qr[512], rq[512], hq[512];
  static uint16_t h[512], b[512];
  for (int c = 0; c < 256; c++) codes[c] = (uint8_t)c;
  memset(qr, 0xa5, sizeof qr), memset(rq, 0xa5, sizeof rq), memset(hq, 0xa5, sizeof hq);
  memset(h, 0xa5, sizeof h), memset(b, 0xa5, sizeof b);
  sim_arg a[7] = {buf(IR_E4M3, codes, 256),   buf(IR_E5M2, codes, 256),    buf(IR_F16, h, sizeof h),
                  buf(IR_BF16, b, sizeof b),  buf(IR_E5M2, qr, sizeof qr), buf(IR_E4M3, rq, sizeof rq),
                  buf(IR_E4M3, hq, sizeof hq)};
  CHECK(run_sim_on(target, k_fp8_pairs, a, 7, 8) == 0);
  int bad = 0;
  for (int i = 0; i < 512 && bad < 5; i++) {
    int c = i % 256;
    double v = fp8_value(E4M3, c), w = fp8_value(E5M2, c);
    int wqr = fp8_nearest(E5M2, (float)v), wrq = fp8_nearest(E4M3, (float)w);
    int ok = same_float(ir_f16_to_double(h[i]), v) && same_float(ir_bf16_to_double(b[i]), v) &&
             (wqr < 0 ? isnan(fp8_value(E5M2, qr[i])) : qr[i] == wqr) &&
             (wrq < 0 ? isnan(fp8_value(E4M3, rq[i])) : rq[i] == wrq) &&
             (isnan(v) ? isnan(fp8_value(E4M3, hq[i])) : hq[i] == c);
    if (!ok) {
      fprintf(stderr,
              "%s: fp8 pairs [%d], code 0x%02x: f16 %g bf16 %g (want %g), e4m3->e5m2 0x%02x (want 0x%02x), "
              "e5m2->e4m3 0x%02x (want 0x%02x), f16->e4m3 0x%02x\n",
              target, i, c, ir_f16_to_double(h[i]), ir_bf16_to_double(b[i]), v, qr[i], wqr & 0xff, rq[i],
              wrq & 0xff, hq[i]);
      bad++;
    }
  }
  test_failures += bad;
  cg_result res;
  char err[1024];
  if (compile_text(k_fp8_pairs, tg_target_lookup(target), CG_NVPTX, &res, err, sizeof err)) {
    fprintf(stderr, "%s: fp8 pairs: %s\n", target, err);
    test_failures++;
    return;
  }
  int paired = (tg_target_lookup(target)->features & TG_F_FP8_CVT) != 0;
  static const char *cvts[] = {"cvt.rn.f16x2.e4m3x2", "cvt.rn.f16x2.e5m2x2", "cvt.rn.satfinite.e4m3x2.f32",
                               "cvt.rn.satfinite.e5m2x2.f32"};
  for (size_t i = 0; i < sizeof cvts / sizeof *cvts; i++)
    if (!strstr(res.ptx, cvts[i]) != !paired) {
      fprintf(stderr, "%s: fp8 pairs: %s %s in the PTX\n", target, cvts[i], paired ? "missing" : "found");
      test_failures++;
    }
  cg_result_free(&res);
}

/* Reductions on both axes, across and within warps, under replication, for 1..16 warps. */
static char *k_sim_reduce; /* tests/unit/ir/codegen/sim_reduce.ir */

static void test_sim_reduce(void) {
  static float x[64 * 64], rmax[64], csum[64], smin[4];
  static int32_t w[1024], o[2];
  for (int i = 0; i < 64 * 64; i++) x[i] = (float)((i * 37) % 101 - 50);
  int64_t wsum = 0;
  for (int i = 0; i < 1024; i++) wsum += w[i] = (i * 7919) % 1000 - 300;
  static const char *warps[] = {"1", "2", "4", "8", "16"};
  for (size_t k = 0; k < sizeof warps / sizeof *warps; k++) {
    char *text = subst(k_sim_reduce, warps[k], "", "");
    memset(rmax, 0, sizeof rmax);
    memset(csum, 0, sizeof csum);
    sim_arg args[6] = {buf(IR_F32, x, sizeof x),       buf(IR_F32, rmax, sizeof rmax),
                       buf(IR_F32, csum, sizeof csum), buf(IR_F32, smin, sizeof smin),
                       buf(IR_I32, w, sizeof w),       buf(IR_I32, o, sizeof o)};
    CHECK(run_sim(text, args, 6, 1) == 0);
    free(text);
    int bad = 0;
    for (int r = 0; r < 64; r++) {
      float m = -INFINITY, s = 0;
      for (int c = 0; c < 64; c++) m = fmaxf(m, x[r * 64 + c]), s += x[c * 64 + r];
      bad += rmax[r] != m || csum[r] != s;
    }
    for (int r = 0; r < 4; r++) {
      float m = INFINITY;
      for (int c = 0; c < 8; c++) m = fminf(m, x[r * 64 + c]);
      bad += smin[r] != m;
    }
    bad += o[0] != (int32_t)wsum || o[1] != 0;
    if (bad) fprintf(stderr, "reduce with %s warps: %d wrong results\n", warps[k], bad);
    test_failures += bad != 0;
  }
}

/* Explicit layout conversions (column-major order, replication, other warp splits) move every
 * element exactly; loads at negative offsets read the pad. */
static char *k_sim_convert; /* tests/unit/ir/codegen/sim_convert.ir */

static void test_sim_convert(void) {
  static uint16_t x[32 * 64], y[32 * 64], z[32 * 64];
  for (int i = 0; i < 32 * 64; i++) x[i] = (uint16_t)(0x3c00 + i % 1000); /* f16 values in [1, 2) */
  sim_arg args[3] = {buf(IR_F16, x, sizeof x), buf(IR_F16, y, sizeof y), buf(IR_F16, z, sizeof z)};
  CHECK(run_sim(k_sim_convert, args, 3, 1) == 0);
  CHECK(!memcmp(x, y, sizeof x));
  int bad = 0;
  for (int r = 0; r < 32; r++)
    for (int c = 0; c < 64; c++) {
      uint16_t want = r >= 1 && c >= 2 ? x[(r - 1) * 64 + c - 2] : 0x4700; /* 7.0 */
      bad += z[r * 64 + c] != want;
    }
  CHECK(bad == 0);
}

/* Integer division never traps: x / 0 = x, x % 0 = 0, INT_MIN / -1 = INT_MIN (wraps). */
static char *k_sim_div; /* tests/unit/ir/codegen/sim_div.ir */

static void test_sim_div(void) {
  int32_t a[8] = {7, -7, 7, -7, INT32_MIN, 5, 9, -9}, b[8] = {2, 2, -2, 0, -1, -1, 0, 4}, q[8], r[8];
  int32_t wq[8] = {3, -3, -3, -7, INT32_MIN, -5, 9, -2}, wr[8] = {1, -1, 1, 0, 0, 0, 0, -1};
  sim_arg args[4] = {buf(IR_I32, a, sizeof a), buf(IR_I32, b, sizeof b), buf(IR_I32, q, sizeof q),
                     buf(IR_I32, r, sizeof r)};
  char *text = subst(k_sim_div, "i32", "", "");
  CHECK(run_sim(text, args, 4, 1) == 0);
  free(text);
  CHECK(!memcmp(q, wq, sizeof q) && !memcmp(r, wr, sizeof r));
  uint32_t ua[8] = {7, 0xfffffff9u, 100, 5, 0x80000000u, 1, 2, 3}, ub[8] = {2, 2, 0, 0xffffffffu, 3, 1, 5, 0};
  uint32_t uq[8], ur[8];
  sim_arg uargs[4] = {buf(IR_U32, ua, sizeof ua), buf(IR_U32, ub, sizeof ub), buf(IR_U32, uq, sizeof uq),
                      buf(IR_U32, ur, sizeof ur)};
  text = subst(k_sim_div, "u32", "", "");
  CHECK(run_sim(text, uargs, 4, 1) == 0);
  free(text);
  for (int i = 0; i < 8; i++) {
    uint32_t d = ub[i] ? ub[i] : 1;
    CHECK(uq[i] == ua[i] / d && ur[i] == ua[i] % d);
  }
}

/* dot against a C reference, inputs small integers so that every product and sum is exact. */
static char *k_sim_dot; /* tests/unit/ir/codegen/sim_dot.ir */

static uint16_t f16_of(int v) { /* small integers only */
  if (!v) return 0;
  int s = v < 0, a = abs(v), e = 0;
  while ((a >> e) > 1) e++;
  return (uint16_t)((s << 15) | ((e + 15) << 10) | (((a << 10) >> e) & 0x3ff));
}

static void test_sim_dot(void) {
  static uint16_t ah[32 * 16], bh[16 * 32];
  static int8_t ai[32 * 16], bi[16 * 32];
  static uint8_t aq[32 * 16], bq[16 * 32];
  static uint32_t ab[32 * 16], bb[16 * 32];
  static float cf[32 * 32], want[32 * 32];
  static int32_t ci[32 * 32], wanti[32 * 32];
  int av[32 * 16], bv[16 * 32];
  for (int i = 0; i < 32 * 16; i++) {
    av[i] = (i * 7) % 9 - 4;
    bv[i] = (i * 5) % 7 - 3;
    ah[i] = f16_of(av[i]), bh[i] = f16_of(bv[i]);
    ai[i] = (int8_t)av[i], bi[i] = (int8_t)bv[i];
    aq[i] = (uint8_t)fp8_nearest(E4M3, (float)av[i]), bq[i] = (uint8_t)fp8_nearest(E4M3, (float)bv[i]);
    ab[i] = (uint32_t)i * 2654435761u, bb[i] = (uint32_t)i * 40503u + 12345u;
  }
  for (int m = 0; m < 32; m++)
    for (int n = 0; n < 32; n++) {
      int s = 0;
      for (int k = 0; k < 16; k++) s += av[m * 16 + k] * bv[k * 32 + n];
      want[m * 32 + n] = (float)(s + m - n);
      wanti[m * 32 + n] = s + m - n;
    }
  struct {
    const char *t, *c, *p;
    void *a, *b;
    size_t bytes;
  } cases[] = {{"f16", "f32", "ieee", ah, bh, 2},
               {"i8", "i32", "ieee", ai, bi, 1},
               {"e4m3", "f32", "ieee", aq, bq, 1}};
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    int fl = cases[k].c[0] == 'f';
    for (int i = 0; i < 32 * 32; i++) cf[i] = (float)(i / 32 - i % 32), ci[i] = i / 32 - i % 32;
    char *text = subst(k_sim_dot, cases[k].t, cases[k].c, cases[k].p);
    ir_elem te = (ir_elem)ir_elem_parse(cases[k].t, (int)strlen(cases[k].t));
    sim_arg args[3] = {buf(te, cases[k].a, 32 * 16 * cases[k].bytes),
                       buf(te, cases[k].b, 16 * 32 * cases[k].bytes),
                       fl ? buf(IR_F32, cf, sizeof cf) : buf(IR_I32, ci, sizeof ci)};
    CHECK(run_sim(text, args, 3, 1) == 0);
    free(text);
    int bad = fl ? memcmp(cf, want, sizeof cf) : memcmp(ci, wanti, sizeof ci);
    if (bad) fprintf(stderr, "dot %s x %s + %s: wrong results\n", cases[k].t, cases[k].t, cases[k].c);
    test_failures += bad != 0;
  }
  /* b1_and: popc(a & b) over packed words */
  for (int m = 0; m < 32; m++)
    for (int n = 0; n < 32; n++) {
      int p = 0;
      for (int k = 0; k < 16; k++) p += __builtin_popcount(ab[m * 16 + k] & bb[k * 32 + n]);
      wanti[m * 32 + n] = p + m - n;
      ci[m * 32 + n] = m - n;
    }
  char *text = subst(k_sim_dot, "u32", "i32", "b1_and");
  sim_arg args[3] = {buf(IR_U32, ab, sizeof ab), buf(IR_U32, bb, sizeof bb), buf(IR_I32, ci, sizeof ci)};
  CHECK(run_sim(text, args, 3, 1) == 0);
  free(text);
  CHECK(!memcmp(ci, wanti, sizeof ci));
}

/* A loop over row blocks of a ragged matrix through shared memory (copy with pad, load_shared), a
 * carried tile and scalar, and an if choosing a tile. */
static char *k_sim_loop; /* tests/unit/ir/codegen/sim_loop.ir */

static void test_sim_loop(void) {
  static float x[100 * 32], y[32 * 32];
  for (int i = 0; i < 100 * 32; i++) x[i] = (float)(i % 13);
  int rows_cases[] = {100, 40, 0}; /* 0: the loop does not run, the results are the inits */
  for (int c = 0; c < 3; c++) {
    int rows = rows_cases[c], iters = (rows + 31) / 32;
    sim_arg args[3] = {buf(IR_F32, x, sizeof x), buf(IR_F32, y, sizeof y), i32arg(rows)};
    CHECK(run_sim(k_sim_loop, args, 3, 1) == 0);
    int bad = 0;
    for (int i = 0; i < 32; i++)
      for (int j = 0; j < 32; j++) {
        float s = 0;
        for (int k = 0; k < iters; k++) s += k * 32 + i < rows ? x[(k * 32 + i) * 32 + j] : 0.5f;
        if (rows > 50) s *= (float)iters;
        bad += y[i * 32 + j] != s;
      }
    if (bad) fprintf(stderr, "loop with %d rows: %d wrong results\n", rows, bad);
    test_failures += bad != 0;
  }
}

/* Rank 3: a strided view (a transposed read), a reduction along the middle dim, and a 3-D copy into
 * shared memory read back with a layout, for 1 and 32 warps. */
static char *k_sim_rank3; /* tests/unit/ir/codegen/sim_rank3.ir */

static void test_sim_rank3(void) {
  /* x is [4][6][8] in memory read as a [4][8][6]-shaped view with strides (48, 1, 8): element
   * (i, j, k) of the view is x[i][k][j]; j < 8, k < 6 are in bounds. */
  static int32_t x[4 * 6 * 8], r[4 * 8], y[4 * 8 * 8];
  for (int i = 0; i < 4 * 6 * 8; i++) x[i] = i * 3 - 100;
  static const char *warps[] = {"1", "32"};
  for (int w = 0; w < 2; w++) {
    char *text = subst(k_sim_rank3, warps[w], "", "");
    sim_arg args[3] = {buf(IR_I32, x, sizeof x), buf(IR_I32, r, sizeof r), buf(IR_I32, y, sizeof y)};
    CHECK(run_sim(text, args, 3, 1) == 0);
    free(text);
    int bad = 0;
    for (int i = 0; i < 4; i++)
      for (int k = 0; k < 8; k++) {
        int32_t s = 0;
        for (int j = 0; j < 8; j++) {
          int32_t v = k < 6 ? x[i * 48 + k * 8 + j] : 1000, c = k < 6 ? v : 7;
          s += v;
          bad += y[i * 64 + j * 8 + k] != c;
        }
        bad += r[i * 8 + k] != s;
      }
    if (bad) fprintf(stderr, "rank 3 with %s warps: %d wrong results\n", warps[w], bad);
    test_failures += bad != 0;
  }
}

/* A store into a transposed view (unit stride on dim 0): the layout pass gives the stored tile that
 * dim fastest; ragged edges masked. y (c x r, row-major) = x^T for x r x c, for 1 and 32 warps. */
static char *k_sim_transpose; /* tests/unit/ir/codegen/sim_transpose.ir */

static void test_sim_transpose(void) {
  enum { R = 30, C = 50 };
  static float x[R * C], y[R * C];
  for (int i = 0; i < R * C; i++) x[i] = (float)((int)(test_rand() % 2001) - 1000) / 8.0f;
  static const char *warps[] = {"1", "32"};
  for (int w = 0; w < 2; w++) {
    for (int i = 0; i < R * C; i++) y[i] = NAN;
    char *text = subst(k_sim_transpose, warps[w], "", "");
    sim_arg args[4] = {buf(IR_F32, x, sizeof x),
                       buf(IR_F32, y, sizeof y),
                       {.elem = IR_I32, .ival = R},
                       {.elem = IR_I32, .ival = C}};
    CHECK(run_sim(text, args, 4, 1) == 0);
    free(text);
    int bad = 0;
    for (int i = 0; i < R; i++)
      for (int j = 0; j < C; j++) bad += !(y[j * R + i] == x[i * C + j]);
    if (bad) fprintf(stderr, "transposed store with %s warps: %d wrong results\n", warps[w], bad);
    test_failures += bad != 0;
  }
}

/* i1 tiles in global memory are bytes: a comparison stored, read back at an offset with pad 1. */
static char *k_sim_i1; /* tests/unit/ir/codegen/sim_i1.ir */

static void test_sim_i1(void) {
  float x[100];
  uint8_t m[100];
  int32_t o[100];
  for (int i = 0; i < 100; i++) x[i] = (float)((i * 7) % 5 - 2);
  sim_arg args[4] = {buf(IR_F32, x, sizeof x), buf(IR_I1, m, sizeof m), buf(IR_I32, o, sizeof o),
                     i32arg(100)};
  CHECK(run_sim(k_sim_i1, args, 4, 1) == 0);
  int bad = 0;
  for (int i = 0; i < 100; i++) {
    bad += m[i] != (x[i] > 0);
    bad += o[i] != (i + 3 < 100 ? x[i + 3] > 0 : 1);
  }
  CHECK(bad == 0);
}

/* Reads every kernel above from its file; -1 if one is missing. */
static int read_kernels(void) {
  static const struct {
    char **text;
    const char *name;
  } files[] = {
      {&k_ew_f32, "ew_f32"},
      {&k_ew_float, "ew_float"},
      {&k_ew_int, "ew_int"},
      {&k_casts, "casts"},
      {&k_reduce, "reduce"},
      {&k_dot, "dot"},
      {&k_control, "control"},
      {&k_fp8_encode, "fp8_encode"},
      {&k_fp8_decode, "fp8_decode"},
      {&k_fp8_pairs, "fp8_pairs"},
      {&k_sim_reduce, "sim_reduce"},
      {&k_sim_convert, "sim_convert"},
      {&k_sim_div, "sim_div"},
      {&k_sim_dot, "sim_dot"},
      {&k_sim_loop, "sim_loop"},
      {&k_sim_rank3, "sim_rank3"},
      {&k_sim_transpose, "sim_transpose"},
      {&k_sim_i1, "sim_i1"},
  };
  int rc = 0;
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[256];
    snprintf(path, sizeof path, "tests/unit/ir/codegen/%s.ir", files[i].name);
    if (!(*files[i].text = test_ir_file(path))) rc = -1;
  }
  return rc;
}

int main(void) {
  if (read_kernels()) return test_done("test_codegen");
  test_layout_defaults();
  test_layout_reduce_broadcast();
  test_layout_conversions();
  test_layout_loop();
  test_layout_warps_error();
  test_codegen_targets();
  test_codegen_errors();
  test_codegen_keep_ir();
  test_o3_without_slp();
  test_lean_pipelines();
  test_run_passes_fallback();
  test_sim_fp8("sm_80");
  test_sim_fp8("sm_90a");
  test_fp8_pairs("sm_80");
  test_fp8_pairs("sm_89");
  test_fp8_pairs("sm_90a");
  test_fp8_pairs("sm_120a");
  test_sim_reduce();
  test_sim_convert();
  test_sim_div();
  test_sim_dot();
  test_sim_loop();
  test_sim_rank3();
  test_sim_transpose();
  test_sim_i1();
  return test_done("test_codegen");
}
