/*
 * test_recipes.c - the recipes and the `kiln` Lua module.
 *
 *   1. Every recipe in recipes/ builds verified IR for its defaults and for each `checks` entry on
 *      every target row, with every op stamped with the recipe file and a line; its argument list
 *      and grid agree with the settings.
 *   2. Recipe-specific facts (grids, element types from the dtype knob, the line of an op).
 *   3. The C references on small hand-computed cases.
 *   4. Settings: unknown names, malformed settings, values of the wrong kind.
 *   5. The recipes in tests/recipes_bad/: each gives the one-line error its first line expects
 *      ("-- expect: LINE: TEXT", "-" for no line).
 *   6. Each error path of the module, through small recipes written to a scratch file: a body
 *      snippet fails with an exact "FILE:LINE: message". (What each op family builds is checked as
 *      text by the lit tests in tests/lit/lua/.)
 * Run from the source root (ctest does).
 */
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler/lua/kl_recipe.h"
#include "compiler/ref/ref.h"
#include "ir/file.h"
#include "target/target.h"
#include "test.h"

/* ---- helpers ---- */

/* This run's scratch folder (under $TMPDIR) for the recipes the tests write. */
static char *scratch;

/* Writes text to a fresh .lua file under dir; returns its malloc'd path. */
static char *write_temp(const char *dir, const char *text) {
  return test_scratch_file(dir, "kiln_recipe", ".lua", text);
}

/* 1-based line of the first line of path containing needle, or 0. */
static int line_of(const char *path, const char *needle) {
  char *text = test_read_file(path, NULL);
  int line = 1, found = 0;
  for (char *p = text; p && *p && !found; line++) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = 0;
    found = strstr(p, needle) != NULL;
    p = nl ? nl + 1 : p + strlen(p);
  }
  free(text);
  return found ? line - 1 : 0;
}

typedef struct {
  const char *path;
  int bad;
} stamp_ctx;

/* Is file a module of the recipe's lib/ folder ("recipes/lib/fft.lua" beside "recipes/x.lua")? Ops
 * built by a shared module are stamped with the module's line. */
static int in_recipe_lib(const char *file, const char *recipe) {
  const char *slash = strrchr(recipe, '/');
  size_t dir = slash ? (size_t)(slash - recipe + 1) : 0;
  return !strncmp(file, recipe, dir) && !strncmp(file + dir, "lib/", 4) && strlen(file) > dir + 8 &&
         !strcmp(file + strlen(file) - 4, ".lua");
}

static void check_stamp(ir_func *fn, ir_opid op, void *ctx) {
  stamp_ctx *c = ctx;
  ir_op *o = ir_o(fn, op);
  if (!o->file || (strcmp(o->file, c->path) && !in_recipe_lib(o->file, c->path)) || o->line <= 0) c->bad++;
}

static int count_of(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* ---- 1. every recipe, every check, every target ---- */

static void check_variant(kl_recipe *r, const kl_settings *s, const tg_target *t, const char *label) {
  char err[2048];
  ir_func *fn = kl_recipe_build(r, s, t, err, sizeof err);
  CHECK(fn, "%s %s %s: %s", kl_recipe_path(r), label, t->name, err);
  if (!fn) return;
  stamp_ctx c = {kl_recipe_path(r), 0};
  ir_walk(fn, fn->body, check_stamp, &c);
  CHECK(c.bad == 0, "%s %s: %d ops without the recipe's (or its lib/ module's) file:line", kl_recipe_path(r),
        label, c.bad);
  CHECK(ir_attr_i(fn->attrs, "warps", 0) == atoi(kl_settings_get(s, "warps")), "%s: warps attribute",
        kl_recipe_path(r));
  ir_func_destroy(fn);
}

static void check_args_grid(kl_recipe *r, const kl_settings *s, const char *label) {
  char err[2048];
  kl_arg args[KL_MAXARGS];
  int64_t grid[3];
  int n = kl_recipe_args(r, s, args, KL_MAXARGS, err, sizeof err);
  CHECK(n > 0, "%s %s: args: %s", kl_recipe_path(r), label, err);
  for (int i = 0; i < n; i++) {
    if (!args[i].is_tensor) continue;
    for (int d = 0; d < args[i].rank; d++)
      CHECK(args[i].dims[d] >= 1, "%s %s: tensor %s dim %d", kl_recipe_path(r), label, args[i].name, d);
  }
  CHECK(kl_recipe_grid(r, s, grid, err, sizeof err) == 0, "%s %s: grid: %s", kl_recipe_path(r), label, err);
  CHECK(grid[0] >= 1 && grid[1] >= 1 && grid[2] >= 1, "%s %s: grid", kl_recipe_path(r), label);
}

static void test_recipe(const char *path) {
  char err[2048];
  kl_recipe *r = kl_recipe_load(path, err, sizeof err);
  CHECK(r, "load %s: %s", path, err);
  if (!r) return;
  static kl_settings sets[65];
  kl_recipe_defaults(r, &sets[0]);
  int n = 1 + kl_recipe_checks(r, sets + 1, 64);
  CHECK(n >= 4, "%s: expected several checks, got %d", path, n - 1);
  CHECK(kl_recipe_reference(r) && ref_lookup(kl_recipe_reference(r)), "%s: reference", path);
  for (int v = 0; v < n; v++) {
    char label[32];
    snprintf(label, sizeof label, v ? "checks[%d]" : "defaults", v);
    for (int t = 0; t < tg_ntargets; t++) check_variant(r, &sets[v], &tg_targets[t], label);
    check_args_grid(r, &sets[v], label);
  }
  kl_recipe_free(r);
}

/* Every recipe file under recipes/; the first three must be among them. */
static void test_all_recipes(void) {
  glob_t g;
  int found = 0;
  CHECK(glob("recipes/*.lua", 0, NULL, &g) == 0, "no recipes/*.lua (run from the source root)");
  for (size_t i = 0; i < g.gl_pathc; i++) {
    test_recipe(g.gl_pathv[i]);
    found += strstr(g.gl_pathv[i], "/vector_add.lua") || strstr(g.gl_pathv[i], "/softmax.lua") ||
             strstr(g.gl_pathv[i], "/matmul.lua");
  }
  CHECK(found == 3, "vector_add, softmax and matmul recipes: found %d", found);
  globfree(&g);
}

/* ---- 2. recipe-specific facts ---- */

static kl_recipe *load_with(const char *path, kl_settings *s, const char *const *sets) {
  char err[2048];
  kl_recipe *r = kl_recipe_load(path, err, sizeof err);
  CHECK(r, "load %s: %s", path, err);
  if (!r) return NULL;
  kl_recipe_defaults(r, s);
  for (; *sets; sets++) CHECK(kl_settings_apply(r, s, *sets, err, sizeof err) == 0, "%s: %s", *sets, err);
  return r;
}

static void test_vector_add(void) {
  char err[2048];
  kl_settings s;
  kl_arg a[KL_MAXARGS];
  int64_t g[3];
  kl_recipe *r = load_with("recipes/vector_add.lua", &s, (const char *[]){"n=1025", "BLOCK=512", NULL});
  if (!r) return;
  CHECK(kl_recipe_grid(r, &s, g, err, sizeof err) == 0 && g[0] == 3 && g[1] == 1 && g[2] == 1, "grid %lld",
        (long long)g[0]);
  CHECK(kl_recipe_args(r, &s, a, KL_MAXARGS, err, sizeof err) == 4, "args: %s", err);
  CHECK(a[0].is_tensor && a[0].rank == 1 && a[0].dims[0] == 1025 && a[0].role == KL_IN, "x");
  CHECK(a[2].role == KL_OUT && !strcmp(a[2].name, "z"), "z");
  CHECK(!a[3].is_tensor && a[3].elem == IR_I32 && a[3].ival == 1025, "n");
  CHECK(kl_recipe_args(r, &s, a, 2, err, sizeof err) == -1 && strstr(err, "room"), "args overflow: %s", err);
  kl_recipe_free(r);
}

static void test_softmax(void) {
  char err[2048];
  kl_settings s;
  int64_t g[3];
  kl_recipe *r = load_with("recipes/softmax.lua", &s, (const char *[]){"M=37", "N=781", "dtype=f16", NULL});
  if (!r) return;
  ir_func *fn = kl_recipe_build(r, &s, &tg_targets[0], err, sizeof err);
  CHECK(fn, "softmax f16: %s", err);
  if (fn) {
    char *text = ir_print(fn);
    CHECK(strstr(text, "%x: ptr<f16>") && strstr(text, "%y: ptr<f16>"), "f16 tensors:\n%s", text);
    CHECK(count_of(text, "for(") == 2, "two walks over the row");
    CHECK(strstr(text, "kind = \"max\"") && strstr(text, "kind = \"sum\"") && strstr(text, "exp2("),
          "softmax ops");
    CHECK(strstr(text, "pad = -inf"), "masked edges read -inf");
    free(text);
    ir_func_destroy(fn);
  }
  CHECK(kl_recipe_grid(r, &s, g, err, sizeof err) == 0 && g[0] == 37, "softmax grid");
  kl_recipe_free(r);
}

typedef struct {
  int line;
} find_ctx;

static void find_dot(ir_func *fn, ir_opid op, void *ctx) {
  if (ir_o(fn, op)->code == IR_OP_DOT) ((find_ctx *)ctx)->line = ir_o(fn, op)->line;
}

static void test_matmul(void) {
  char err[2048];
  kl_settings s;
  int64_t g[3];
  kl_recipe *r = load_with("recipes/matmul.lua", &s,
                           (const char *[]){"M=100", "N=70", "dtype=bf16", "BLOCK_M=64", "BLOCK_N=64", NULL});
  if (!r) return;
  CHECK(kl_recipe_grid(r, &s, g, err, sizeof err) == 0 && g[0] == 2 && g[1] == 2 && g[2] == 1, "matmul grid");
  ir_func *fn = kl_recipe_build(r, &s, &tg_targets[0], err, sizeof err);
  CHECK(fn, "matmul bf16: %s", err);
  if (fn) {
    find_ctx c = {0};
    ir_walk(fn, fn->body, find_dot, &c);
    CHECK(c.line && c.line == line_of("recipes/matmul.lua", "k.dot("), "dot stamped with line %d", c.line);
    char *text = ir_print(fn);
    CHECK(strstr(text, "%a: ptr<bf16>") && strstr(text, "tile<64x64xf32>") && strstr(text, "cast("), "%s",
          text);
    free(text);
    ir_func_destroy(fn);
  }
  kl_recipe_free(r);
}

/* ---- 3. references ---- */

static void test_references(void) {
  double x[3] = {1, 2, 3}, y[3] = {10, 20, 30}, z[3] = {0};
  kiln_ref_arg va[4] = {{.name = "x", .is_tensor = 1, .rank = 1, .dims = {3}},
                        {.name = "y", .is_tensor = 1, .rank = 1, .dims = {3}},
                        {.name = "z", .is_tensor = 1, .rank = 1, .dims = {3}},
                        {.name = "n", .elem = "i32", .ival = 3}};
  double *vd[4] = {x, y, z, NULL};
  ref_call vc = {.nargs = 4, .args = va, .data = vd, .precision = "f64"};
  CHECK(ref_lookup("vector_add")(&vc) == 0 && z[0] == 11 && z[1] == 22 && z[2] == 33, "vector_add ref");
  va[1].dims[0] = 2;
  CHECK(ref_lookup("vector_add")(&vc) == -1, "vector_add ref refuses mismatched lengths");

  double sx[4] = {0, 0.6931471805599453, 5, 5}, sy[4];
  kiln_ref_arg sa[2] = {{.name = "x", .is_tensor = 1, .rank = 2, .dims = {2, 2}},
                        {.name = "y", .is_tensor = 1, .rank = 2, .dims = {2, 2}}};
  double *sd[2] = {sx, sy};
  ref_call sc = {.nargs = 2, .args = sa, .data = sd, .precision = "f64"};
  CHECK(ref_lookup("softmax")(&sc) == 0, "softmax ref");
  CHECK(sy[0] > 0.33333 && sy[0] < 0.33334 && sy[1] > 0.66666 && sy[1] < 0.66667 && sy[2] == 0.5 &&
            sy[3] == 0.5,
        "softmax values %g %g %g %g", sy[0], sy[1], sy[2], sy[3]);

  double A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {7, 8, 9, 10, 11, 12}, C[4];
  kiln_ref_arg ma[3] = {{.name = "a", .is_tensor = 1, .rank = 2, .dims = {2, 3}},
                        {.name = "b", .is_tensor = 1, .rank = 2, .dims = {3, 2}},
                        {.name = "c", .is_tensor = 1, .rank = 2, .dims = {2, 2}}};
  double *md[3] = {A, B, C};
  ref_call mc = {.nargs = 3, .args = ma, .data = md, .precision = "f64"};
  CHECK(ref_lookup("matmul")(&mc) == 0 && C[0] == 58 && C[1] == 64 && C[2] == 139 && C[3] == 154,
        "matmul ref");
  ma[1].is_tensor = 0;
  CHECK(ref_lookup("matmul")(&mc) == -1, "matmul ref refuses a missing tensor");
  CHECK(ref_lookup("no_such_reference") == NULL, "unknown reference");
}

/* ---- 4. settings ---- */

static void expect_set_error(kl_recipe *r, const char *set, const char *want) {
  char err[2048] = "";
  kl_settings s;
  kl_recipe_defaults(r, &s);
  int rc = kl_settings_apply(r, &s, set, err, sizeof err);
  CHECK(rc == -1 && !strcmp(err, want), "--set %s:\n  got  '%s'\n  want '%s'", set, err, want);
}

static void test_settings(void) {
  char err[2048];
  kl_recipe *r = kl_recipe_load("recipes/softmax.lua", err, sizeof err);
  CHECK(r, "%s", err);
  if (!r) return;
  const char *P = "(parameters: M, N, BLOCK, dtype, warps)";
  char want[512];
  snprintf(want, sizeof want, "recipes/softmax.lua: unknown parameter 'Q' %s", P);
  expect_set_error(r, "Q=3", want);
  snprintf(want, sizeof want, "recipes/softmax.lua: setting 'M' is not NAME=VALUE %s", P);
  expect_set_error(r, "M", want);
  snprintf(want, sizeof want, "recipes/softmax.lua: setting '=4' is not NAME=VALUE %s", P);
  expect_set_error(r, "=4", want);
  expect_set_error(r, "M=", "recipes/softmax.lua: parameter 'M' needs a value");
  expect_set_error(r, "M=1.5", "recipes/softmax.lua: parameter 'M' is a whole number, got '1.5'");
  expect_set_error(r, "dtype=f8", "recipes/softmax.lua: parameter 'dtype' is one of f32, f16; got 'f8'");
  expect_set_error(r, "M=1234567890123456789012345678901234567890123456789012345678901234567890",
                   "recipes/softmax.lua: the value of 'M' is too long");
  kl_settings s;
  kl_recipe_defaults(r, &s);
  CHECK(kl_settings_apply(r, &s, "BLOCK=4096", err, sizeof err) == 0, "numeric knobs may leave the space");
  CHECK(!strcmp(kl_settings_get(&s, "BLOCK"), "4096") && !kl_settings_get(&s, "nope"), "settings_get");
  CHECK(kl_recipe_nparams(r) == 5 && kl_recipe_param(r, 3)->is_tune && kl_recipe_param(r, 3)->nvalues == 2 &&
            !strcmp(kl_recipe_param(r, 3)->values[1], "f16") && !kl_recipe_param(r, 0)->is_tune &&
            !kl_recipe_param(r, 5),
        "parameter table");
  kl_recipe_free(r);
}

/* ---- 5. tests/recipes_bad ---- */

static const char *const bad[] = {"syntax",   "runtime",        "type_mismatch", "unknown_param",
                                  "bad_op",   "shape_mismatch", "escape",        "verify_dot",
                                  "bad_decl", "no_recipe",      "raise"};

/* The error of loading and building path with its defaults (twice: stale values show on the second). */
static int load_and_build(const char *path, int builds, char *err, size_t errn) {
  kl_recipe *r = kl_recipe_load(path, err, errn);
  if (!r) return -1;
  kl_settings s;
  kl_recipe_defaults(r, &s);
  int rc = 0;
  for (int i = 0; i < builds && rc == 0; i++) {
    ir_func *fn = kl_recipe_build(r, &s, &tg_targets[1], err, errn);
    rc = fn ? 0 : -1;
    ir_func_destroy(fn);
  }
  kl_recipe_free(r);
  return rc;
}

static void expect_bad(const char *name, int builds) {
  char path[256], want[1024], err[2048] = "";
  snprintf(path, sizeof path, "tests/recipes_bad/%s.lua", name);
  char *text = test_read_file(path, NULL);
  if (!test_expected_error(path, text, want, sizeof want)) return free(text);
  CHECK(load_and_build(path, builds, err, sizeof err) == -1, "%s: no error", path);
  CHECK(!strcmp(err, want), "%s:\n  got  '%s'\n  want '%s'", path, err, want);
  free(text);
}

static void test_bad_recipes(void) {
  char err[2048];
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_bad(bad[i], 1);
  CHECK(load_and_build("tests/recipes_bad/stale.lua", 1, err, sizeof err) == 0, "stale: first build: %s",
        err);
  expect_bad("stale", 2);
  CHECK(load_and_build("tests/recipes_bad/missing.lua", 1, err, sizeof err) == -1 &&
            !strcmp(err, "cannot open tests/recipes_bad/missing.lua: No such file or directory"),
        "missing file: %s", err);
}

/* ---- 6. error paths of the op families, through small recipes ---- */

/* The body template: `t` is a tile<64xf32>, x/u rank-1 f32/u32 views, y/h rank-2 views (y's
 * type from the dtype knob, f32 by default; h is f16). The snippet goes on line SNIP. */
static const char *body_template =
    "local kiln = require 'kiln'\n"
    "return kiln.recipe {\n"
    "  name = 't', params = { n = 64, M = 8, N = 8 },\n"
    "  tune = { BLOCK = { 64, 128 }, dtype = { 'f32', 'f16' } },\n"
    "  args = { kiln.tensor('x', 'f32', { 'n' }, 'inout'), kiln.tensor('y', 'dtype', { 'M', 'N' }, "
    "'inout'),\n"
    "           kiln.tensor('u', 'u32', { 'n' }, 'inout'), kiln.tensor('h', 'f16', { 'M', 'N' }, 'inout'),\n"
    "           kiln.scalar('n', 'i32'), kiln.scalar('M', 'i32'), kiln.scalar('N', 'i32') },\n"
    "  grid = function(p) return 1 end,\n"
    "  body = function(k, p)\n"
    "    local x, u = k.view(k.args.x, { k.args.n }), k.view(k.args.u, { k.args.n })\n"
    "    local y, h = k.view(k.args.y, { k.args.M, k.args.N }), k.view(k.args.h, { k.args.M, k.args.N })\n"
    "    local t = k.load(x, { 0 }, { 64 })\n"
    "%s\n"
    "  end,\n"
    "}\n";
enum { SNIP = 13 };

/* Builds a recipe from a template and a snippet; returns the printed IR or NULL with err. */
static char *build_text(const char *dir, const char *tmpl, const char *snippet, char **path_out, char *err,
                        size_t errn) {
  char *text = malloc(strlen(tmpl) + strlen(snippet) + 1);
  sprintf(text, tmpl, snippet);
  char *path = write_temp(dir, text);
  free(text);
  *path_out = path;
  char *ir = NULL;
  kl_recipe *r = kl_recipe_load(path, err, errn);
  if (!r) return NULL;
  kl_settings s;
  kl_recipe_defaults(r, &s);
  ir_func *fn = kl_recipe_build(r, &s, tg_target_lookup("sm_80"), err, errn);
  if (fn) ir = ir_print(fn);
  ir_func_destroy(fn);
  kl_recipe_free(r);
  return ir;
}

/* The snippet fails with "PATH:LINE: want", LINE = line + the snippet's first line. */
static void fails_at(const char *tmpl, int line, const char *snippet, const char *want) {
  char err[2048] = "", *path, full[2048];
  char *ir = build_text(scratch, tmpl, snippet, &path, err, sizeof err);
  snprintf(full, sizeof full, "%s:%d: %s", path, line, want);
  CHECK(!ir && !strcmp(err, full), "snippet '%s':\n  got  '%s'\n  want '%s'", snippet, ir ? "(built)" : err,
        full);
  free(ir);
  unlink(path);
  free(path);
}

static void body_fails(const char *snippet, const char *want) {
  fails_at(body_template, SNIP, snippet, want);
}

static void test_value_errors(void) {
  body_fails("local z = t + k.load(y, { 0, 0 }, { 1, 64 })",
             "'add': tiles [64] and [1x64] differ in rank (make both the same rank, e.g. k.iota({64,1}, 0))");
  body_fails("local w = k.load(u, { 0 }, { 64 }) + 0.5", "0.5 is not a whole number: it cannot be a u32");
  body_fails("local w = k.load(u, { 0 }, { 64 }) + (-1)", "-1 does not fit in u32");
  body_fails("local z = k.const(300, 'i8')", "300 does not fit in i8");
  body_fails("local z = k.const('a', 'f32')", "expected a number for a f32 constant, got string");
  body_fails("local z = t < t", "'<' and '<=' cannot build kiln comparisons (Lua makes them booleans): use "
                                "a:lt(b), a:le(b), a:gt(b), a:ge(b), a:eq(b), a:ne(b)");
  body_fails("local z = t // 2", "'//' is not a kiln op: '/' on integer values already truncates");
  body_fails("local z = t ^ 2", "'^' is not a kiln op: use k.exp2/k.log2");
  body_fails("local z = t .. 'a'", "'..' does not apply to kiln values (use tostring(v) to print one)");
  body_fails("local z = t & 1", "'and' needs an integer value, got f32");
  body_fails("local z = k.exp2(k.load(u, { 0 }, { 64 }))", "'exp2' needs a float value, got u32");
  body_fails("local z = -(t:lt(0))", "'neg' does not apply to i1 (use & | ~ on conditions, or k.cast)");
  body_fails("local z = k.exp2(3)", "expected a kiln value, got number");
  body_fails("local z = t + 'a'", "expected a kiln value, got string");
  body_fails("local z = k.add(x, x)", "'add' works on scalars and tiles, not view<1xf32>");
  body_fails("local z = k.abs(x)", "'abs' works on scalars and tiles, not view<1xf32>");
  body_fails("local z = k.where(t, t, t)",
             "k.where: the condition must be i1 (a comparison), got tile<64xf32>");
  body_fails("local z = k.where(1, t, t)", "k.where: the condition must be an i1 value, got number");
  body_fails("local z = k.where(t:lt(0), 1.0, 2.0)",
             "'where' needs at least one kiln value to take its type from (use k.const(v, \"f32\"))");
  body_fails("p.n = 3", "p is read-only: parameters come from settings");
  fails_at(body_template, SNIP + 1, "local z = k.full({ 2 }, 0, 'f32')\nlocal w = z + k.cast(t, 'f16')",
           "'add' mixes f32 and f16: convert one with k.cast");
}

static void test_tile_errors(void) {
  body_fails("local z = k.full({ 3 }, 0, 'f32')", "k.full: tile size 3 is not a power of two (1 to 2^20)");
  body_fails("local z = k.full({}, 0, 'f32')", "k.full: a shape has 1 to 3 sizes, got 0");
  body_fails("local z = k.full({ 1, 2, 4, 8 }, 0, 'f32')", "k.full: a shape has 1 to 3 sizes, got 4");
  body_fails("local z = k.full({ 2.5 }, 0, 'f32')", "k.full: sizes must be whole numbers, got number");
  body_fails("local z = k.full('a', 0, 'f32')", "k.full: a shape is a list of 1 to 3 sizes, got string");
  body_fails("local z = k.full({ 2, 2 }, 0, 'f8')",
             "'f8' is not an element type (i1 i8 u8 i16 i32 u32 i64 f16 bf16 f32 f64 e4m3 e5m2)");
  body_fails("local z = k.iota({ 4, 4 })", "k.iota: a rank-2 shape needs an axis");
  body_fails("local z = k.iota({ 4 }, 1)", "k.iota: axis must be 0 to 0 (axes count from 0), got 1");
  body_fails("local z = t:sum(1)", "k.sum: axis must be 0 to 0 (axes count from 0), got 1");
  body_fails("local z = k.load(y, { 0, 0 }, { 8, 8 }):sum()", "k.sum: a rank-2 tile needs an axis");
  body_fails("local z = k.sum(k.const(1, 'f32'), 0)", "k.sum needs a tile, got f32");
  body_fails("local z = k.broadcast(t, { 32 })", "k.broadcast: tile<64xf32> cannot broadcast to that shape");
  body_fails("local z = k.broadcast(x, { 32 })", "k.broadcast needs a scalar or a tile, got view<1xf32>");
  body_fails("local z = k.bitcast(t, 'f16')", "k.bitcast: f32 and f16 differ in width");
  body_fails("local z = k.cast(x, 'f16')", "k.cast works on scalars and tiles, not view<1xf32>");
  body_fails("local z = k.dot(k.full({ 16, 8 }, 0, 'f32'), k.full({ 16, 16 }, 0, 'f32'), k.full({ 16, 16 }, "
             "0, 'f32'))",
             "k.dot: operand 1 has type tile<16x16xf32> but operand 0 has type tile<16x8xf32>: K differs (16 "
             "vs 8)");
  body_fails("local z = k.dot(t, t, t)", "k.dot: operand 0 has type tile<64xf32>; expected a rank-2 tile");
  body_fails("local z = k.dot(k.full({ 16, 16 }, 0, 'f32'), k.full({ 16, 16 }, 0, 'f32'), k.full({ 16, 16 }, "
             "0, 'f16'))",
             "k.dot: operand 2 has type tile<16x16xf16>; the accumulator for f32 inputs must be f32");
  body_fails("local z = k.dot(k.full({ 16, 16 }, 0, 'f16'), k.full({ 16, 16 }, 0, 'f16'), k.full({ 16, 16 }, "
             "0, 'f32'), 'tf32')",
             "k.dot: operand 0 has type tile<16x16xf16>; precision 'tf32' takes f32");
  fails_at(body_template, SNIP + 1,
           "local a = k.full({ 16, 16 }, 0, 'f32')\nlocal z = k.dot(a, k.cast(a, 'f16'), a)",
           "k.dot: operand 1 has type tile<16x16xf16> but operand 0 has type tile<16x16xf32>");
  fails_at(body_template, SNIP + 1,
           "local a = k.full({ 16, 16 }, 0, 'f32')\nlocal z = k.dot(a, a, a, 'fast')",
           "bad argument #4 to 'dot' (invalid option 'fast')");
  body_fails("local z = k.dot(x, t, t)", "k.dot (a) needs a tile, got view<1xf32>");
}

static void test_memory_errors(void) {
  body_fails("local v = k.view(t, { 4 })", "k.view needs a tensor pointer (k.args.NAME), got tile<64xf32>");
  body_fails("local v = k.view(k.args.x, {})", "k.view: a view has 1 to 3 dims, got 0");
  body_fails("local v = k.view(k.args.x, 4)", "k.view: expected a list of dims, got number");
  body_fails("local v = k.view(k.args.x, { k.args.n }, { 1, 2 })",
             "k.view: 1 dims but a different number of strides");
  body_fails("local v = k.view(k.args.x, { t })",
             "k.view: a dim must be an i32 or i64 scalar, got tile<64xf32>");
  body_fails("local v = k.view(k.args.x, { k.args.n, k.const(4, 'i64'), k.args.n })",
             "k.view: dims mix i32 and i64");
  body_fails("local z = k.load(x, { 0 }, { 64 }, { mask = 1 })", "k.load: unknown option 'mask'");
  body_fails("local z = k.load(x, { 0 }, { 64 }, 5)", "k.load: options are a table, got number");
  body_fails("local z = k.load(x, { 0 }, { 64 }, { pad = 'x' })", "k.load: pad must be a number");
  body_fails("local z = k.load(u, { 0 }, { 64 }, { pad = 0.5 })", "k.load: pad 0.5 is not a whole number");
  body_fails("local z = k.load(x, { 0 }, { 8, 8 })", "k.load: a rank-2 tile from a rank-1 view");
  body_fails("local z = k.load(x, 0, { 64 })", "k.load: expected a list of offsets, got number");
  body_fails("local z = k.load(y, { 0 }, { 8, 8 })", "k.load: 1 offsets for a rank-2 view");
  body_fails("local z = k.load(x, { k.const(0, 'i64') }, { 64 })", "k.load: offsets are i32, got i64");
  body_fails("local z = k.load(t, { 0 }, { 64 })", "k.load needs a view (k.view), got tile<64xf32>");
  body_fails("k.store(x, { 0 }, k.load(y, { 0, 0 }, { 1, 64 }))",
             "k.store: tile<1x64xf32> into a rank-1 view");
  body_fails("k.store(x, { 0 }, k.cast(t, 'f16'))",
             "k.store: tile<64xf16> into a f32 view: convert with k.cast");
  body_fails("k.store(x, { 0 }, 1.0)", "expected a kiln value, got number");
  body_fails("k.store(x, { 0 }, k.args.n)", "k.store needs a tile, got i32");
  body_fails("local s = k.alloc_shared('f32', { 64 }, { swizzle = -1 })",
             "k.alloc_shared: swizzle must be a whole number >= 0");
  body_fails("local s = k.alloc_shared('f32', { 64 }, { banks = 1 })",
             "k.alloc_shared: unknown option 'banks'");
  body_fails("local z = k.load_shared(k.alloc_shared('f32', { 64 }), { trans = true })",
             "k.load_shared: trans needs a rank-2 buffer, got rank 1");
  body_fails("local z = k.load_shared(k.alloc_shared('f32', { 8, 8 }), { trans = 1 })",
             "k.load_shared: trans is true or false");
  body_fails("local z = k.load_shared(k.alloc_shared('f32', { 8, 8 }), { transpose = true })",
             "k.load_shared: unknown option 'transpose'");
  body_fails("k.copy(x, { 0 }, k.alloc_shared('f16', { 64 }))",
             "k.copy: smem<64xf16> from a rank-1 f32 view");
  body_fails("k.copy(x, { 0 }, k.alloc_shared('f32', { 64 }), { pad = 'no' })",
             "k.copy: pad must be a number");
  body_fails("k.copy(x, { 0 }, t)", "k.copy needs a shared buffer (k.alloc_shared), got tile<64xf32>");
  body_fails("k.store_shared(k.alloc_shared('f32', { 32 }), t)",
             "k.store_shared: tile<64xf32> does not match tile<32xf32>");
  body_fails("local z = k.load_shared(t)",
             "k.load_shared needs a shared buffer (k.alloc_shared), got tile<64xf32>");
  body_fails("local z = k.program_id(3)", "k.program_id: axis must be 0 to 2 (axes count from 0), got 3");
}

static void test_control_errors(void) {
  body_fails("k.range(0, 4, 1, { 1.0 }, function(i, a) return a end)",
             "k.range: initial value 1 is number: give it a type (k.const(v, \"f32\"), k.full(...))");
  body_fails("k.range(0, 4, 1, 7, function(i) end)", "k.range: initial values are a list, got number");
  body_fails("k.range(0, 4, 1, { x }, function(i, a) return a end)",
             "k.range: carried values are scalars or tiles, not view<1xf32>");
  body_fails("k.range(0, 4, 1, { t }, function(i, a) end)",
             "k.range: the body returns 0 values but the loop carries 1");
  body_fails("k.range(0, 4, 1, { t }, function(i, a) return k.cast(a, 'f16') end)",
             "k.range: result 1 is tile<64xf16> but should be tile<64xf32>");
  body_fails("k.range(0, t, 1, {}, function(i) end)",
             "k.range: bounds are i32 or i64 scalars, got tile<64xf32>");
  body_fails("k.range(0, 4, 1, {}, function(i) end, { stages = 0 })",
             "k.range: stages must be a whole number from 1 to 8, got 0");
  body_fails("k.range(0, 4, 1, {}, function(i) end, { stages = 2147483648 })",
             "k.range: stages must be a whole number from 1 to 8, got 2147483648");
  body_fails("k.range(0, 4, 1, {}, function(i) end, { short = 'yes' })",
             "k.range: short must be true, false, 0 or 1, got yes");
  body_fails("k.range(0, 4, 1, {}, function(i) end, { shrot = true })", "k.range: unknown option 'shrot'");
  body_fails("k.range(0, 4, 0, {}, function(i) end)",
             "k.range: the step must be at least 1 (loops count up), got 0");
  body_fails("k.range(0, 4, -2, {}, function(i) end)",
             "k.range: the step must be at least 1 (loops count up), got -2");
  body_fails(
      "local z = k.full({ 65536, 65536, 65536 }, 0, 'f32')",
      "'const' makes tile<65536x65536x65536xf32>: 281474976710656 elements, more than a program of 4 warps "
      "holds in a tile (131072: 1024 per thread)");
  body_fails(
      "local z = k.iota({ 1, 1024 }, 1) + k.iota({ 1024, 1 }, 0)",
      "'broadcast' makes tile<1024x1024xi32>: 1048576 elements, more than a program of 4 warps holds in a "
      "tile (131072: 1024 per thread)");
  body_fails("k.range(0, 4, 1, {}, function(i) end, { depth = 2 })", "k.range: unknown option 'depth'");
  body_fails("k.range(0, 4, 1, {}, function(i) end, 2)",
             "bad argument #6 to 'range' (table expected, got number)");
  fails_at(
      body_template, SNIP + 2,
      "local c = {}\nfor i = 1, 33 do c[i] = t end\nk.range(0, 4, 1, c, function(i, ...) return ... end)",
      "k.range: at most 32 carried values");
  body_fails("k.range(k.const(0, 'i64'), k.args.n, 1, {}, function(i) end)",
             "k.range: bounds mix i32 and i64");
  body_fails("k.range(0, 4, 1, {}, 5)", "bad argument #5 to 'range' (function expected, got number)");
  body_fails(
      "k.if_(t:lt(0), function() end)",
      "k.if_: the condition must be an i1 scalar (compare scalars with :lt, :eq, ...), got tile<64xi1>");
  body_fails("k.if_(k.args.n:lt(4), function() return t end, function() end)",
             "k.if_: the then branch returns 1 values, the else branch 0");
  body_fails("k.if_(k.args.n:lt(4), function() return t end, function() return k.cast(t, 'f16') end)",
             "k.if_: result 1 is tile<64xf32> in the then branch but tile<64xf16> in the else branch");
  body_fails("k.if_(k.args.n:lt(4), function() return 1 end, function() return 2 end)",
             "k.if_: result 1 is not a kiln value in either branch: give it a type with k.const");
  body_fails("k.if_(k.args.n:lt(4), function() return t end, function() return 'a' end)",
             "expected a kiln value, got string");
  fails_at(body_template, SNIP + 2,
           "local v\nk.if_(k.args.n:lt(4), function() v = t + 1 end)\nk.store(x, { 0 }, v)",
           "a value made inside the k.if_ body at line 14 is used outside it (return it from the body)");
  /* errors inside a body name the body's line, not the k.range line */
  fails_at(body_template, SNIP + 1,
           "k.range(0, 4, 1, {}, function(i)\n  local z = t + k.cast(t, 'f16')\nend)",
           "'add' mixes f32 and f16: convert one with k.cast");
  body_fails("error({})", "the recipe raised a table as its error");
  fails_at(
      body_template, SNIP + 2,
      "local c = {}\nfor i = 1, 33 do c[i] = t end\n"
      "k.if_(k.args.n:lt(4), function() return table.unpack(c) end, function() return table.unpack(c) end)",
      "k.if_: at most 32 results");
  body_fails("k.if_(k.args.n:lt(4), function() end, 3)",
             "bad argument #3 to 'if_' (function expected, got number)");
}

/* The declaration template: the snippet's fields (line DECL) override the defaults before them. */
static const char *decl_template =
    "local kiln = require 'kiln'\n"
    "return kiln.recipe {\n"
    "  name = 'd', grid = function(p) return 1 end, body = function(k, p) end, args = {},\n"
    "  %s\n"
    "}\n";

/* The snippet in decl_template, written to a scratch file (*path, to unlink and free) and loaded:
 * the recipe, or NULL with the message in err. */
static kl_recipe *load_decl(const char *snippet, char **path, char *err, size_t errn) {
  char text[4096];
  snprintf(text, sizeof text, decl_template, snippet);
  *path = write_temp(scratch, text);
  return kl_recipe_load(*path, err, errn);
}
enum { DECL = 4, CALL = 2 };

static void test_declaration_errors(void) {
  fails_at(decl_template, CALL, "bdy = 1,", "kiln.recipe: unknown field 'bdy'");
  fails_at(decl_template, CALL, "name = 'a b',", "recipe name 'a b' is not a name (letters, digits, _)");
  fails_at(decl_template, CALL, "body = nil,", "kiln.recipe: the field 'body' is required");
  fails_at(decl_template, CALL, "grid = 5,", "kiln.recipe: 'grid' must be a function, got number");
  fails_at(decl_template, CALL, "reference = 5,",
           "kiln.recipe: reference must be a name, a function or {c = \"FILE.so\", symbol = \"NAME\"}, got "
           "number");
  fails_at(decl_template, CALL, "args = 5,", "kiln.recipe: args must be a list of kiln.tensor/kiln.scalar");
  fails_at(decl_template, CALL, "args = { 3 },", "kiln.recipe: args[1] is not a kiln.tensor or kiln.scalar");
  fails_at(decl_template, CALL, "params = { ['1x'] = 3 },",
           "parameter '1x' is not a name (letters, digits, _)");
  fails_at(decl_template, CALL, "params = { n = {} },", "kiln.recipe: parameter 'n' needs 1 to 32 values");
  fails_at(decl_template, CALL, "tune = { B = {} },", "kiln.recipe: knob 'B' needs 1 to 32 values");
  fails_at(decl_template, CALL, "tune = { B = { 1, 'a' } },",
           "kiln.recipe: knob 'B': values are all numbers, all strings or all booleans");
  fails_at(decl_template, CALL, "tune = { B = { default = 3, values = { 1, 2 } } },",
           "kiln.recipe: knob 'B': the default 3 is not one of its values");
  fails_at(decl_template, CALL, "tune = { B = { values = { 1 }, dflt = 1 } },", "B: unknown field 'dflt'");
  fails_at(decl_template, CALL, "tune = { B = { values = 4 } },",
           "kiln.recipe: knob 'B': values must be a list");
  fails_at(decl_template, CALL, "params = { B = 1 }, tune = { B = { 1 } },",
           "kiln.recipe: 'B' is both a parameter and a knob");
  fails_at(decl_template, CALL, "checks = { 5 },", "kiln.recipe: checks[1] must be a table {NAME = value}");
  fails_at(decl_template, CALL, "checks = { { zz = 1 } },",
           "kiln.recipe: checks[1]: 'zz' is not a parameter of the recipe");
  fails_at(decl_template, CALL, "params = { n = 4 }, checks = { { n = 1.5 } },",
           "checks[1]: parameter 'n' is a whole number, got '1.5'");
  fails_at(decl_template, CALL, "params = { n = 4 }, checks = { { n = true } },",
           "checks[1]: 'n' must be a number or a string");
  fails_at(decl_template, DECL, "args = { kiln.tensor('x', 'f8', { 4 }, 'in') },",
           "'f8' is neither an element type nor a parameter");
  fails_at(decl_template, DECL, "params = { s = 'big' }, args = { kiln.tensor('x', 's', { 4 }, 'in') },",
           "parameter 's' gives the element type, but its values are not all element types");
  fails_at(decl_template, DECL, "args = { kiln.scalar('q', 'i32') },",
           "scalar 'q' has no value: name a parameter 'q' or pass kiln.scalar(name, type, value)");
  fails_at(decl_template, DECL, "args = { kiln.scalar('q', 'i32', 'zz') },",
           "value 'zz' is not a parameter of the recipe");
  fails_at(decl_template, DECL, "args = { kiln.tensor('x', 'f32', { 'K' }, 'in') },",
           "dim 'K' is not a parameter of the recipe");
  fails_at(decl_template, DECL, "args = { kiln.scalar('q', 'i32', 1), kiln.scalar('q', 'i32', 2) },",
           "argument 'q' is declared twice");
  fails_at(decl_template, DECL, "args = { kiln.tensor('x', 'f32', {}, 'in') },",
           "kiln.tensor: a tensor has 1 to 3 dims, got 0");
  fails_at(decl_template, DECL, "args = { kiln.tensor('x', 'f32', { -1 }, 'in') },",
           "kiln.tensor: dim 1 must be a parameter name, a whole number or a function(p)");
  fails_at(decl_template, DECL, "args = { kiln.tensor('x', 'f32', { 4 }, 'sideways') },",
           "bad argument #4 to 'tensor' (invalid option 'sideways')");
  fails_at(decl_template, DECL, "args = { kiln.tensor('2x', 'f32', { 4 }, 'in') },",
           "argument name '2x' is not a name (letters, digits, _)");
  fails_at(decl_template, DECL, "args = { kiln.scalar('q', 'i32', {}) },",
           "kiln.scalar: the value must be a number, a parameter name or a function(p)");
  fails_at(decl_template, DECL, "x = kiln.program_id(0),",
           "kiln ops build a kernel: call them inside the recipe's body function");
  fails_at(decl_template, DECL, "x = kiln.cdiv(-1, 2),", "kiln.cdiv(-1, 2): needs a >= 0 and b > 0");
  fails_at(decl_template, CALL, "tune = { warps = { 3 } },",
           "warps = 3: must be a power of two from 1 to 32");
}

/* Errors of kl_recipe_args / kl_recipe_grid / element knobs, which run after loading. */
static void expect_run_error(const char *snippet, const char *set, int which, int line, const char *want) {
  char text[2048], err[2048] = "", full[2048];
  snprintf(text, sizeof text, decl_template, snippet);
  char *path = write_temp(scratch, text);
  kl_recipe *r = kl_recipe_load(path, err, sizeof err);
  CHECK(r, "%s: %s", snippet, err);
  if (r) {
    kl_settings s;
    kl_arg a[KL_MAXARGS];
    int64_t g[3];
    kl_recipe_defaults(r, &s);
    if (set) CHECK(kl_settings_apply(r, &s, set, err, sizeof err) == 0, "%s", err);
    int rc = which == 0   ? kl_recipe_args(r, &s, a, KL_MAXARGS, err, sizeof err)
             : which == 1 ? kl_recipe_grid(r, &s, g, err, sizeof err)
                          : (kl_recipe_build(r, &s, NULL, err, sizeof err) ? 0 : -1);
    snprintf(full, sizeof full, "%s:%d: %s", path, line, want);
    CHECK(rc == -1 && !strcmp(err, full), "%s:\n  got  '%s'\n  want '%s'", snippet, err, full);
    kl_recipe_free(r);
  }
  unlink(path);
  free(path);
}

static void test_run_errors(void) {
  expect_run_error("args = { kiln.tensor('x', 'f32', { function(p) return -1 end }, 'in') },", NULL, 0, DECL,
                   "tensor 'x': dim 0 is -1, not a whole number >= 0");
  expect_run_error("args = { kiln.scalar('q', 'i32', function(p) return 'a' end) },", NULL, 0, DECL,
                   "scalar 'q' is a, not a whole number");
  expect_run_error("args = { kiln.scalar('q', 'i32', 1.5) },", NULL, 0, DECL,
                   "scalar 'q' is 1.5, not a whole number");
  expect_run_error("params = { n = 0 }, grid = function(p) return p.n end,", NULL, 1, DECL,
                   "grid(p) gives 0 programs on axis 0: need a whole number from 1 to 2147483647");
  expect_run_error("grid = function(p) return 1, 'a' end,", NULL, 1, DECL,
                   "grid(p) gives a programs on axis 1: need a whole number from 1 to 65535");
  expect_run_error("grid = function(p) return 2147483648 end,", NULL, 1, DECL,
                   "grid(p) gives 2147483648 programs on axis 0: need a whole number from 1 to 2147483647");
  expect_run_error("grid = function(p) return 2147483647, 1, 65536 end,", NULL, 1, DECL,
                   "grid(p) gives 65536 programs on axis 2: need a whole number from 1 to 65535");
  expect_run_error("params = { n = 1 }, args = { kiln.scalar('n', 'i32') },", "n=3000000000", 0, DECL,
                   "scalar 'n' = 3000000000 is outside i32's range -2147483648..2147483647");
  expect_run_error("args = { kiln.scalar('q', 'i8', 300) },", NULL, 0, DECL,
                   "scalar 'q' = 300 is outside i8's range -128..127");
  expect_run_error("args = { kiln.scalar('q', 'u32', -1) },", NULL, 0, DECL,
                   "scalar 'q' = -1 is outside u32's range 0..4294967295");
  expect_run_error("params = { s = 'f32' }, args = { kiln.tensor('x', 's', { 4 }, 'in') },", "s=big", 2, DECL,
                   "element type parameter 's' is 'big', not an element type");
  expect_run_error("grid = function(p) return p.Q end,", NULL, 1, DECL,
                   "unknown parameter 'Q' (parameters: )");

  /* A good run of the same machinery: dims from numbers, names and functions; float scalars. */
  char text[2048], err[2048];
  snprintf(text, sizeof text, decl_template,
           "params = { n = 6, eps = 0.5 }, grid = function(p) return 2, 3 end,\n"
           "args = { kiln.tensor('x', 'f32', { 2, 'n', function(p) return p.n * 2 end }, 'inout'),\n"
           "         kiln.scalar('eps', 'f32'), kiln.scalar('half', 'f64', function(p) return p.n / 4 end),\n"
           "         kiln.scalar('m', 'i64', 'n') },");
  char *path = write_temp(scratch, text);
  kl_recipe *r = kl_recipe_load(path, err, sizeof err);
  CHECK(r, "%s", err);
  if (r) {
    kl_settings s;
    kl_arg a[KL_MAXARGS];
    int64_t g[3];
    kl_recipe_defaults(r, &s);
    CHECK(kl_recipe_args(r, &s, a, KL_MAXARGS, err, sizeof err) == 4, "%s", err);
    CHECK(a[0].rank == 3 && a[0].dims[0] == 2 && a[0].dims[1] == 6 && a[0].dims[2] == 12 &&
              a[0].role == KL_INOUT,
          "dims");
    CHECK(a[1].elem == IR_F32 && a[1].fval == 0.5 && a[2].fval == 1.5 && a[3].ival == 6, "scalars");
    CHECK(kl_recipe_grid(r, &s, g, err, sizeof err) == 0 && g[0] == 2 && g[1] == 3 && g[2] == 1, "grid");
    CHECK(kl_settings_apply(r, &s, "eps=abc", err, sizeof err) == -1 &&
              strstr(err, "parameter 'eps' is a number"),
          "%s", err);
    ir_func *fn = kl_recipe_build(r, &s, NULL, err, sizeof err);
    CHECK(fn && ir_attr_i(fn->attrs, "warps", 0) == 4, "default warps: %s", err);
    ir_func_destroy(fn);
    kl_recipe_free(r);
  }
  unlink(path);
  free(path);
}

/* A knob's default as a function(p): it follows the settings it reads until it is set itself. */
static const char *computed_decl =
    "params = { n = 64, kind = { 'a', 'b' } }, grid = function(p) return p.BM end,\n"
    "tune = { D = { 64, 128 },\n"
    "  BM = { default = function(p) return p.D <= 64 and 128 or 64 end, values = { 32, 64, 128 } },\n"
    "  mode = { default = function(p) return p.kind == 'a' and 'x' or 'y' end, values = { 'x', 'y' } },\n"
    "  fast = { default = function(p) return p.n > 100 end, values = { false, true } } },";

static void expect_derived(kl_recipe *r, const kl_settings *s, const char *bm, const char *mode,
                           const char *fast, const char *what) {
  CHECK(!strcmp(kl_settings_get(s, "BM"), bm) && !strcmp(kl_settings_get(s, "mode"), mode) &&
            !strcmp(kl_settings_get(s, "fast"), fast),
        "%s: BM=%s mode=%s fast=%s, want %s %s %s", what, kl_settings_get(s, "BM"),
        kl_settings_get(s, "mode"), kl_settings_get(s, "fast"), bm, mode, fast);
  (void)r;
}

static void test_computed_defaults(void) {
  char err[2048];
  char *path;
  kl_recipe *r = load_decl(computed_decl, &path, err, sizeof err);
  CHECK(r, "%s", err);
  if (r) {
    kl_settings s, t;
    kl_recipe_defaults(r, &s);
    expect_derived(r, &s, "128", "x", "0", "the defaults");
    /* parameters in name order, then knobs: kind, n, BM, D, fast, mode */
    CHECK(kl_recipe_param(r, 2)->computed && !strcmp(kl_recipe_param(r, 2)->dflt, "128") &&
              !kl_recipe_param(r, 3)->computed && kl_recipe_param(r, 4)->flag,
          "the parameter table: BM's default at the defaults");
    CHECK(kl_settings_apply(r, &s, "D=128", err, sizeof err) == 0, "%s", err);
    expect_derived(r, &s, "64", "x", "0", "D=128");
    CHECK(kl_settings_apply(r, &s, "kind=b", err, sizeof err) == 0 &&
              kl_settings_apply(r, &s, "n=1000", err, sizeof err) == 0,
          "%s", err);
    expect_derived(r, &s, "64", "y", "1", "kind=b n=1000");
    CHECK(!kl_settings_given(&s, "BM") && kl_settings_given(&s, "D"), "given flags");
    /* set explicitly, a knob stays as set whatever the others do */
    CHECK(kl_settings_apply(r, &s, "BM=32", err, sizeof err) == 0 &&
              kl_settings_apply(r, &s, "D=64", err, sizeof err) == 0,
          "%s", err);
    expect_derived(r, &s, "32", "y", "1", "BM=32 D=64");
    /* the builders see the derived values */
    kl_recipe_defaults(r, &t);
    CHECK(kl_settings_apply(r, &t, "D=128", err, sizeof err) == 0, "%s", err);
    int64_t g[3] = {0};
    CHECK(kl_recipe_grid(r, &t, g, err, sizeof err) == 0 && g[0] == 64, "grid(p) sees p.BM = %lld: %s",
          (long long)g[0], err);
    kl_recipe_free(r);
  }
  unlink(path);
  free(path);

  /* Errors: each names the function's line (the declaration's snippet starts at line DECL). */
  static const struct {
    const char *decl, *set, *want;
  } bad[] = {
      {"tune = { D = { 64, 128 }, BM = { default = function(p) return p.D == 64 and 'big' or 32 end, "
       "values = { 32, 64 } } },",
       NULL, "the default of knob 'BM' gives big: parameter 'BM' is a whole number, got 'big'"},
      {"tune = { D = { 64, 128 }, m = { default = function(p) return p.D == 128 and 'z' or 'x' end, "
       "values = { 'x', 'y' } } },",
       "D=128", "the default of knob 'm' gives z: parameter 'm' is one of x, y; got 'z'"},
      {"tune = { D = { 64, 128 }, BM = { default = function(p) if p.D == 128 then return {} end return 32 "
       "end, "
       "values = { 32, 64 } } },",
       "D=128", "the default of knob 'BM' gives table"},
      {"tune = { D = { 64, 128 }, BM = { default = function(p) if p.D == 128 then error('no tile for D') end "
       "return 32 end, values = { 32, 64 } } },",
       "D=128", "no tile for D"},
      {"tune = { A = { default = function(p) return p.B end, values = { 1, 2 } },\n"
       "  B = { default = function(p) return 1 end, values = { 1, 2 } } },",
       NULL,
       "'B' has a computed default too: a computed default reads the problem parameters, the knobs with "
       "plain "
       "defaults and the knobs set explicitly"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char full[2048];
    r = load_decl(bad[i].decl, &path, err, sizeof err);
    int rc = -1;
    if (r && bad[i].set) {
      kl_settings s;
      kl_recipe_defaults(r, &s);
      rc = kl_settings_apply(r, &s, bad[i].set, err, sizeof err);
      CHECK(!strcmp(kl_settings_get(&s, "D"), "64") && !kl_settings_given(&s, "D"),
            "computed default %zu: a failed setting leaves the settings as they were (D=%s)", i,
            kl_settings_get(&s, "D"));
    }
    snprintf(full, sizeof full, "%s:%d: ", path, DECL);
    CHECK((bad[i].set ? r && rc == -1 : !r) && !strncmp(err, full, strlen(full)) && strstr(err, bad[i].want),
          "computed default %zu:\n  got  '%s'\n  want '%s%s'", i, r && !bad[i].set ? "(loaded)" : err, full,
          bad[i].want);
    kl_recipe_free(r);
    unlink(path);
    free(path);
  }
  fails_at(decl_template, CALL, "params = { n = { default = function(p) return 1 end, values = { 1 } } },",
           "kiln.recipe: parameter 'n': only a knob's default may be a function(p)");
  /* a checks entry's computed defaults are derived once, from the whole entry: {m = 8, n = 8} is
   * accepted (n = 8 alone, with m at its default, is not), {n = 8} is refused, naming the entry */
  const char *pair =
      "params = { m = 4, n = 4 },\n"
      "  tune = { B = { default = function(p) assert(p.m == p.n, 'm and n differ') return 1 end,"
      " values = { 1, 2 } } },\n"
      "  checks = { { m = 8, n = 8 }, { m = 2, n = 2, B = 2 } },";
  r = load_decl(pair, &path, err, sizeof err);
  CHECK(r, "checks entries derived once: %s", err);
  if (r) {
    kl_settings cs[4];
    CHECK(kl_recipe_checks(r, cs, 4) == 2 && !strcmp(kl_settings_get(&cs[0], "m"), "8") &&
              !strcmp(kl_settings_get(&cs[0], "B"), "1") && !kl_settings_given(&cs[0], "B") &&
              !strcmp(kl_settings_get(&cs[1], "B"), "2") && kl_settings_given(&cs[1], "B"),
          "the checks entries' settings");
  }
  kl_recipe_free(r);
  unlink(path);
  free(path);
  fails_at(decl_template, CALL,
           "params = { m = 4, n = 4 },\n"
           "  tune = { B = { default = function(p) assert(p.m == p.n, 'm and n differ') return 1 end,"
           " values = { 1, 2 } } }, checks = { { m = 4 }, { n = 8 } },",
           "checks[2]: line 5: m and n differ");
}

/* A computed default's second argument: the target (nil until one is known). */
static void test_target_defaults(void) {
  char err[2048];
  char *path;
  kl_recipe *r =
      load_decl("params = { n = 64 }, grid = function(p) return p.BN end,\n"
                "tune = { D = { 64, 128 },\n"
                "  BN = { default = function(p, t) return t and t.wgmma and p.D == 64 and 128 or 64 end,\n"
                "         values = { 64, 128 } },\n"
                "  sm = { default = function(p, t) return t and t.sm or 0 end, values = { 0, 80 } },\n"
                "  name = { default = function(p, t) return t and t.name or 'none' end, values = { 'none', "
                "'sm_80', 'sm_90a' } } },",
                &path, err, sizeof err);

  CHECK(r, "%s", err);
  if (r) {
    const tg_target *hopper = tg_target_lookup("sm_90a"), *ampere = tg_target_lookup("sm_80");
    kl_settings s, was;
    kl_recipe_defaults(r, &s);
    CHECK(!s.target && !strcmp(kl_settings_get(&s, "BN"), "64") && !strcmp(kl_settings_get(&s, "sm"), "0") &&
              !strcmp(kl_settings_get(&s, "name"), "none"),
          "no target: BN=%s sm=%s name=%s", kl_settings_get(&s, "BN"), kl_settings_get(&s, "sm"),
          kl_settings_get(&s, "name"));
    CHECK(kl_settings_target(r, &s, hopper, err, sizeof err) == 0, "%s", err);
    CHECK(s.target == hopper && !strcmp(kl_settings_get(&s, "BN"), "128"), "sm_90a: BN=%s",
          kl_settings_get(&s, "BN"));
    int64_t g[3] = {0};
    CHECK(kl_recipe_grid(r, &s, g, err, sizeof err) == 0 && g[0] == 128, "grid(p) on sm_90a sees p.BN = %lld",
          (long long)g[0]);
    /* a later setting derives for the same target */
    CHECK(kl_settings_apply(r, &s, "D=128", err, sizeof err) == 0 && !strcmp(kl_settings_get(&s, "BN"), "64"),
          "sm_90a D=128: BN=%s", kl_settings_get(&s, "BN"));
    CHECK(kl_settings_apply(r, &s, "D=64", err, sizeof err) == 0 && !strcmp(kl_settings_get(&s, "BN"), "128"),
          "sm_90a D=64 again: BN=%s", kl_settings_get(&s, "BN"));
    /* sm_80: no warpgroup MMA; and t.sm gives 80, which the knob accepts */
    CHECK(kl_settings_target(r, &s, ampere, err, sizeof err) == 0 &&
              !strcmp(kl_settings_get(&s, "BN"), "64") && !strcmp(kl_settings_get(&s, "sm"), "80"),
          "sm_80: BN=%s sm=%s", kl_settings_get(&s, "BN"), kl_settings_get(&s, "sm"));
    /* a default the target makes invalid: an error naming the function's line; s unchanged */
    was = s;
    char want[1024];
    snprintf(want, sizeof want, "%s:%d: the default of knob 'name' gives sm_86: parameter 'name' is one of",
             path, DECL + 5);
    CHECK(kl_settings_target(r, &s, tg_target_lookup("sm_86"), err, sizeof err) == -1 &&
              !strncmp(err, want, strlen(want)),
          "name=sm_86 is not a value of name:\n  got  '%s'\n  want '%s ...'", err, want);
    CHECK(!memcmp(&was, &s, sizeof s), "a failed kl_settings_target leaves the settings as they were");
    /* set explicitly, a knob ignores the target */
    CHECK(kl_settings_apply(r, &s, "BN=64", err, sizeof err) == 0 &&
              kl_settings_target(r, &s, hopper, err, sizeof err) == 0 &&
              !strcmp(kl_settings_get(&s, "BN"), "64") && !strcmp(kl_settings_get(&s, "name"), "sm_90a"),
          "BN=64 set: BN=%s (%s)", kl_settings_get(&s, "BN"), err);
    kl_recipe_free(r);
  }
  unlink(path);
  free(path);
}

/* A long path: Lua shortens it in its own positions; the message gives it whole. */
static void test_long_path(void) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/kiln_recipe_test_with_a_directory_name_long_enough_to_be_shortened", scratch);
  if (mkdir(dir, 0755)) abort();
  char err[2048], *path, full[2048];
  char *ir = build_text(dir, body_template, "local z = t + k.cast(t, 'f16')", &path, err, sizeof err);
  snprintf(full, sizeof full, "%s:%d: 'add' mixes f32 and f16: convert one with k.cast", path, SNIP);
  CHECK(!ir && !strcmp(err, full), "long path:\n  got  '%s'\n  want '%s'", err, full);
  unlink(path);
  free(path);
  ir = build_text(dir, "local kiln = require 'kiln'\nreturn kiln.recipe { name = %s }\n", "'x',,", &path, err,
                  sizeof err);
  snprintf(full, sizeof full, "%s:2: unexpected symbol near ','", path);
  CHECK(!ir && !strcmp(err, full), "long path syntax:\n  got  '%s'\n  want '%s'", err, full);
  unlink(path);
  free(path);
  rmdir(dir);
}

int main(void) {
  scratch = test_scratch_dir("kiln-test-recipes");
  test_target_defaults();
  test_all_recipes();
  test_vector_add();
  test_softmax();
  test_matmul();
  test_references();
  test_settings();
  test_bad_recipes();
  test_value_errors();
  test_tile_errors();
  test_memory_errors();
  test_control_errors();
  test_declaration_errors();
  test_run_errors();
  test_computed_defaults();
  test_long_path();
  test_rmtree(scratch);
  free(scratch);
  return test_done("test_recipes");
}
