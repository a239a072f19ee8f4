/*
 * test_ir.c - the IR builder, printer, parser and verifier through the C API.
 *
 * Kernels built in C print, parse back and print to the same text; attributes keep insertion
 * order; unlinking and replacing uses show in the printed form and in the verifier; random doubles
 * survive print + parse bit for bit; errors that text cannot produce (builder misuse) are checked
 * here. Run from the source root (ctest does): it also checks that tests/lit/ir/roundtrip.ir uses
 * every op of ops.def.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/file.h"
#include "ir/ir.h"
#include "test.h"

/* print(fn) == print(parse(print(fn))); returns the first print (caller frees). */
static char *check_round_trip(ir_func *fn) {
  char *a = ir_print(fn), err[1024];
  ir_func *g = ir_parse(a, "roundtrip", err, sizeof err, NULL);
  if (!g) {
    fprintf(stderr, "parse of printed IR failed: %s\n%s", err, a);
    test_failures++;
    return a;
  }
  char *b = ir_print(g);
  if (strcmp(a, b)) {
    fprintf(stderr, "round trip differs:\n%s---\n%s", a, b);
    test_failures++;
  }
  free(b);
  ir_func_destroy(g);
  return a;
}

static int verify_ok(ir_func *fn) {
  char err[1024];
  if (ir_verify(fn, err, sizeof err) == 0) return 1;
  fprintf(stderr, "unexpected verifier error: %s\n", err);
  return 0;
}

/* ---- a kernel built in C ---- */

/* z[i] = x[i] + sum over a loop of y, with an if inside the loop. */
static ir_func *build_kernel(void) {
  ir_func *fn = ir_func_new("built");
  ir_attr_set_i(fn->A, &fn->attrs, "warps", 4);
  ir_val x = ir_add_param(fn, "x", ir_t_ptr(IR_F32));
  ir_val z = ir_add_param(fn, "z", ir_t_ptr(IR_F32));
  ir_val n = ir_add_param(fn, "n", ir_t_scalar(IR_I32));
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_val pid = ir_b_program_id(&b, 0);
  ir_val one = ir_b_const_i(&b, ir_t_scalar(IR_I32), 1);
  ir_val zero = ir_b_const_i(&b, ir_t_scalar(IR_I32), 0);
  ir_val vx[3] = {x, n, one};
  ir_type tv = ir_t_view(IR_F32, 1);
  ir_val view = ir_res(fn, ir_build(&b, IR_OP_VIEW, vx, 3, &tv, 1, 0), 0);
  uint32_t shape[1] = {128};
  ir_type tt = ir_t_tile(IR_F32, 1, shape);
  ir_val lx[2] = {view, pid};
  ir_opid load = ir_build(&b, IR_OP_LOAD, lx, 2, &tt, 1, 0);
  ir_op_set_f(fn, load, "pad", 0.0);
  ir_val t = ir_res(fn, load, 0);
  ir_val fo[4] = {zero, n, one, t};
  ir_opid loop = ir_build(&b, IR_OP_FOR, fo, 4, &tt, 1, 1);
  ir_op_set_i(fn, loop, "stages", 2);
  ir_reg body = ir_o(fn, loop)->region[0];
  ir_val iv = ir_region_add_arg(fn, body, ir_t_scalar(IR_I32));
  ir_val acc = ir_region_add_arg(fn, body, tt);
  ir_builder lb = ir_builder_at_end(fn, body);
  ir_val c = ir_b_cmp(&lb, "lt", iv, pid);
  ir_opid br = ir_build(&lb, IR_OP_IF, &c, 1, &tt, 1, 2);
  ir_builder tb = ir_builder_at_end(fn, ir_o(fn, br)->region[0]);
  ir_val sum = ir_b_binary(&tb, IR_OP_ADD, acc, t);
  ir_build(&tb, IR_OP_YIELD, &sum, 1, NULL, 0, 0);
  ir_builder eb = ir_builder_at_end(fn, ir_o(fn, br)->region[1]);
  ir_build(&eb, IR_OP_YIELD, &acc, 1, NULL, 0, 0);
  ir_val r = ir_res(fn, br, 0);
  ir_build(&lb, IR_OP_YIELD, &r, 1, NULL, 0, 0);
  ir_val zx[3] = {z, n, one};
  ir_val zv = ir_res(fn, ir_build(&b, IR_OP_VIEW, zx, 3, &tv, 1, 0), 0);
  ir_val st[3] = {zv, pid, ir_res(fn, loop, 0)};
  ir_build(&b, IR_OP_STORE, st, 3, NULL, 0, 0);
  return fn;
}

static const char *built_text = "kernel @built(%x: ptr<f32>, %z: ptr<f32>, %n: i32) {warps = 4} {\n"
                                "  %0 = program_id() {axis = 0} : i32\n"
                                "  %1 = const() {value = 1} : i32\n"
                                "  %2 = const() {value = 0} : i32\n"
                                "  %3 = view(%x, %n, %1) : view<1xf32>\n"
                                "  %4 = load(%3, %0) {pad = 0.0} : tile<128xf32>\n"
                                "  %5 = for(%2, %n, %1, %4) {stages = 2} : tile<128xf32> {\n"
                                "    ^(%6: i32, %7: tile<128xf32>):\n"
                                "    %8 = cmp(%6, %0) {pred = \"lt\"} : i1\n"
                                "    %9 = if(%8) : tile<128xf32> {\n"
                                "      %10 = add(%7, %4) : tile<128xf32>\n"
                                "      yield(%10)\n"
                                "    } else {\n"
                                "      yield(%7)\n"
                                "    }\n"
                                "    yield(%9)\n"
                                "  }\n"
                                "  %11 = view(%z, %n, %1) : view<1xf32>\n"
                                "  store(%11, %0, %5)\n"
                                "}\n";

static void test_built_kernel(void) {
  ir_func *fn = build_kernel();
  CHECK(verify_ok(fn));
  char *s = check_round_trip(fn);
  if (strcmp(s, built_text)) {
    fprintf(stderr, "printed:\n%s\nexpected:\n%s", s, built_text);
    test_failures++;
  }
  free(s);
  ir_func_destroy(fn);
}

/* ---- parsed ops carry their location ---- */

static void test_locations(void) {
  char err[512];
  ir_func *fn =
      ir_parse("// c\nkernel @k(%x: f32) {\n\n  %0 = neg(%x) : f32\n}\n", "loc.ir", err, sizeof err, NULL);
  CHECK(fn != NULL);
  if (!fn) return;
  ir_op *o = ir_o(fn, ir_r(fn, fn->body)->first);
  CHECK(o->file && !strcmp(o->file, "loc.ir"));
  CHECK(o->line == 4);
  ir_func_destroy(fn);
}

/* ---- attributes ---- */

static void test_attributes(void) {
  ir_func *fn = ir_func_new("attrs");
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_opid op = ir_build(&b, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
  int64_t list[3] = {3, -1, 7};
  ir_op_set_s(fn, op, "s", "a\"b\\c\x01");
  ir_op_set_i(fn, op, "i", -42);
  ir_op_set_f(fn, op, "f", 0.5);
  ir_attr_set_list(fn->A, &ir_o(fn, op)->attrs, "l", list, 3);
  ir_op_set_i(fn, op, "s", 9); /* replacing keeps the key's place */
  ir_attr *as = ir_o(fn, op)->attrs;
  CHECK(ir_attr_i(as, "s", 0) == 9);
  CHECK(ir_attr_f(as, "i", 0) == -42.0);
  CHECK(ir_attr_f(as, "f", 0) == 0.5);
  CHECK(ir_attr_s(as, "f", "dflt")[0] == 'd');
  CHECK(ir_attr_get(as, "l")->nlist == 3 && ir_attr_get(as, "l")->list[1] == -1);
  char *s = check_round_trip(fn);
  CHECK_CONTAINS(s, "  barrier() {s = 9, i = -42, f = 0.5, l = [3, -1, 7]}\n");
  free(s);
  ir_op_set_s(fn, op, "s", "a\"b\\c\x01\n\t");
  s = check_round_trip(fn);
  CHECK_CONTAINS(s, "{s = \"a\\\"b\\\\c\\x01\\n\\t\", i = -42");
  free(s);
  ir_func_destroy(fn);
}

/* ---- editing: unlink and replace uses ---- */

static void test_unlink_and_replace(void) {
  ir_func *fn = ir_func_new("edit");
  ir_val x = ir_add_param(fn, "x", ir_t_scalar(IR_F32));
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_val a = ir_b_unary(&b, IR_OP_NEG, x, ir_t_scalar(IR_F32));
  ir_val a2 = ir_b_unary(&b, IR_OP_NEG, x, ir_t_scalar(IR_F32));
  ir_val s = ir_b_binary(&b, IR_OP_ADD, a, a2);
  (void)s;
  CHECK(verify_ok(fn));
  ir_op_unlink(fn, ir_v(fn, a2)->def);
  char err[512];
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  CHECK_CONTAINS(err, "op 'add' (result %1): operand 1 is a result of a removed op");
  ir_replace_all_uses(fn, a2, a);
  CHECK(verify_ok(fn));
  uint32_t *uses = ir_use_counts(fn, fn->A);
  CHECK(uses[a] == 2 && uses[a2] == 0);
  char *p = check_round_trip(fn);
  CHECK(!strcmp(p, "kernel @edit(%x: f32) {\n  %0 = neg(%x) : f32\n  %1 = add(%0, %0) : f32\n}\n"));
  free(p);
  /* an op inserted before another takes its place in the printed order */
  ir_builder bb = ir_builder_before(fn, ir_v(fn, a)->def);
  ir_b_const_f(&bb, ir_t_scalar(IR_F32), 2.0);
  p = check_round_trip(fn);
  CHECK_CONTAINS(p, "  %0 = const() {value = 2.0} : f32\n  %1 = neg(%x) : f32\n  %2 = add(%1, %1) : f32\n");
  free(p);
  ir_func_destroy(fn);
}

/* ---- floats survive print + parse bit for bit ---- */

static void test_float_round_trip(void) {
  ir_func *fn = ir_func_new("floats");
  ir_builder b = ir_builder_at_end(fn, fn->body);
  enum { N = 2000 };
  static double vals[N];
  for (int i = 0; i < N; i++) {
    uint64_t bits = test_rand64();
    if (i % 4 == 1) bits &= 0x80000000ffffffffull | (0x3ffull << 52); /* near 1.0 */
    double d;
    memcpy(&d, &bits, sizeof d);
    vals[i] = isnan(d) ? (double)i * 0.1 : i == 0 ? -0.0 : i == 2 ? INFINITY : d;
    ir_b_const_f(&b, ir_t_scalar(IR_F64), vals[i]);
  }
  char *text = ir_print(fn), err[512];
  ir_func *g = ir_parse(text, "floats", err, sizeof err, NULL);
  CHECK(g != NULL);
  int i = 0, bad = 0;
  for (ir_opid op = g ? ir_r(g, g->body)->first : 0; op; op = ir_o(g, op)->next, i++) {
    double d = ir_attr_f(ir_o(g, op)->attrs, "value", 0);
    if (memcmp(&d, &vals[i], sizeof d) && bad++ < 5)
      fprintf(stderr, "float %.17g came back as %.17g\n", vals[i], d);
  }
  CHECK(i == N && bad == 0);
  free(text);
  ir_func_destroy(g);
  ir_func_destroy(fn);
}

/* ---- parameter and kernel names ---- */

static void test_names(void) {
  ir_func *fn = ir_func_new("has space");
  ir_add_param(fn, NULL, ir_t_scalar(IR_I32));
  ir_add_param(fn, "0", ir_t_scalar(IR_I32));
  ir_add_param(fn, "y", ir_t_scalar(IR_I32));
  ir_add_param(fn, "y", ir_t_scalar(IR_I32));
  char *s = check_round_trip(fn);
  CHECK(!strcmp(s, "kernel @\"has space\"(%arg0: i32, %arg1: i32, %y: i32, %arg3: i32) {\n}\n"));
  free(s);
  ir_func_destroy(fn);
}

/* ---- parse API: several kernels in one buffer, trailing text, error format ---- */

static void test_parse_api(void) {
  const char *two = "kernel @a() {\n}\nkernel @b() {\n}\n";
  char err[512];
  size_t end = 0;
  ir_func *a = ir_parse(two, "two.ir", err, sizeof err, &end);
  CHECK(a && !strcmp(a->name, "a") && end == strlen("kernel @a() {\n}"));
  ir_func_destroy(a);
  CHECK(ir_parse(two, "two.ir", err, sizeof err, NULL) == NULL);
  CHECK(!strcmp(err,
                "two.ir:3:1: expected end of input after the kernel, found 'kernel'\n  kernel @b() {\n  ^"));
  CHECK(ir_parse("kernel @k(%x: f32) {\n  %0 = neg(%x) : f32 : f32\n}\n", "t.ir", err, sizeof err, NULL) ==
        NULL);
  CHECK_CONTAINS(
      err,
      "t.ir:2:22: expected an op name, found ':'\n    %0 = neg(%x) : f32 : f32\n                       ^");
  CHECK(ir_parse("", NULL, err, sizeof err, NULL) == NULL);
  CHECK_CONTAINS(err, "<input>:1:1: expected 'kernel', found end of input");
  CHECK(ir_parse("kernel @k() {", "x", NULL, 0, NULL) == NULL); /* no message buffer: no crash */
}

/* ---- verifier errors that only the builder can make ---- */

static void test_builder_errors(void) {
  char err[512];
  ir_func *fn = ir_func_new("bad");
  ir_val x = ir_add_param(fn, "x", ir_t_scalar(IR_F32));
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_val ops[2] = {x, 0};
  ir_type f = ir_t_scalar(IR_F32);
  ir_build(&b, IR_OP_ADD, ops, 2, &f, 1, 0);
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  CHECK(!strcmp(err, "op 'add' (result %0): operand 1 is missing"));
  ir_func_destroy(fn);

  fn = ir_func_new("bad");
  x = ir_add_param(fn, "x", ir_t_scalar(IR_F32));
  b = ir_builder_at_end(fn, fn->body);
  b.file = "gen.lua";
  b.line = 7;
  ir_type two[2] = {f, f};
  ir_build(&b, IR_OP_NEG, &x, 1, two, 2, 0);
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  CHECK(!strcmp(err, "gen.lua:7: op 'neg' (result %0): expected 1 result, got 2"));
  ir_func_destroy(fn);

  fn = ir_func_new("bad");
  b = ir_builder_at_end(fn, fn->body);
  ir_build(&b, IR_OP_BARRIER, NULL, 0, NULL, 0, 1);
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  CHECK(!strcmp(err, "op 'barrier': expected 0 regions, got 1"));
  ir_func_destroy(fn);

  fn = ir_func_new("bad");
  b = ir_builder_at_end(fn, fn->body);
  ir_type none = ir_t_none();
  ir_build(&b, IR_OP_NUM_PROGRAMS, NULL, 0, &none, 1, 0);
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  CHECK(!strcmp(err, "op 'num_programs' (result %0): result 0 has no valid type"));
  ir_func_destroy(fn);

  fn = ir_func_new("bad");
  ir_add_param(fn, "t", ir_t_view(IR_F32, 4));
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  CHECK(!strcmp(err, "kernel @bad: parameter %t has type view<4xf32>; parameters are scalars or pointers"));
  ir_func_destroy(fn);

  /* the names in check_type's messages are spelled out only when it fails (verify.c's what_t) */
  fn = ir_func_new("bad");
  ir_add_param(fn, "n", ir_t_scalar(IR_I32));
  ir_type bad = ir_t_scalar(IR_F32);
  bad.elem = IR_NELEM;
  ir_add_param(fn, "q", bad);
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  CHECK(!strcmp(err, "kernel @bad: parameter %q has no valid type"));
  ir_func_destroy(fn);

  fn = ir_parse("kernel @k(%n: i32) {\n"
                "  %c0 = const() {value = 0} : i32\n"
                "  %c1 = const() {value = 1} : i32\n"
                "  %z = const() {value = 0.0} : tile<4xf32>\n"
                "  %a = for(%c0, %n, %c1, %z) : tile<4xf32> {\n"
                "  ^(%i: i32, %x: tile<4xf32>):\n"
                "    yield(%x)\n"
                "  }\n"
                "}\n",
                "loop.ir", err, sizeof err, NULL);
  CHECK(fn && ir_verify(fn, err, sizeof err) == 0);
  if (fn) { /* the carried tile's block argument given a shape the verifier refuses */
    ir_region *body = NULL;
    for (uint32_t i = 1; i < fn->nops && !body; i++)
      if (fn->ops[i].code == IR_OP_FOR) body = ir_r(fn, fn->ops[i].region[0]);
    CHECK(body && body->nargs == 2);
    if (body && body->nargs == 2) ir_v(fn, body->args[1])->type = ir_t_tile(IR_F32, 1, (uint32_t[]){3});
    CHECK(ir_verify(fn, err, sizeof err) != 0);
    CHECK(!strcmp(err,
                  "loop.ir:5: op 'for' (result %3): region 0 block argument 1 has type tile<3xf32>: dim 0 "
                  "(3) is not a power of two"));
    ir_func_destroy(fn);
  }

  fn = ir_func_new("bad"); /* IR text cannot say this: the parser refuses it first */
  b = ir_builder_at_end(fn, fn->body);
  ir_op_set_i(fn, ir_build(&b, IR_OP_ASYNC_WAIT, NULL, 0, NULL, 0, 0), "pending", 256);
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  CHECK(!strcmp(err, "op 'async_wait': attribute 'pending' = 256 is out of range 0..255"));
  ir_func_destroy(fn);

  fn = ir_func_new("bad");
  b = ir_builder_at_end(fn, fn->body);
  ir_opid op = ir_build(&b, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
  ir_o(fn, op)->code = IR_NOPS;
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  CHECK_CONTAINS(err, "invalid opcode");
  ir_func_destroy(fn);
}

/* ---- every op appears in the round-trip lit test ---- */

static void test_roundtrip_file_covers_ops(void) {
  char *buf = test_read_file("tests/lit/ir/roundtrip.ir", NULL);
  CHECK(buf != NULL);
  if (!buf) return;
  int seen[IR_NOPS] = {0};
  char err[1024];
  for (size_t off = 0, end; strstr(buf + off, "kernel @"); off += end) {
    ir_func *fn = ir_parse(buf + off, "roundtrip.ir", err, sizeof err, &end);
    CHECK(fn != NULL);
    if (!fn) {
      fprintf(stderr, "%s\n", err);
      free(buf);
      return;
    }
    CHECK(verify_ok(fn));
    for (ir_opid op = 1; op < fn->nops; op++) seen[ir_o(fn, op)->code] = 1;
    ir_func_destroy(fn);
  }
  free(buf);
  for (int c = 1; c < IR_NOPS; c++)
    if (!seen[c]) {
      fprintf(stderr, "op '%s' does not appear in tests/lit/ir/roundtrip.ir\n", ir_opinfo_table[c].name);
      test_failures++;
    }
}

int main(void) {
  test_built_kernel();
  test_locations();
  test_attributes();
  test_unlink_and_replace();
  test_float_round_trip();
  test_names();
  test_parse_api();
  test_builder_errors();
  test_roundtrip_file_covers_ops();
  return test_done("test_ir");
}
