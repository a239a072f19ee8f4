/*
 * test_refcheck.c - what kiln run checks kernels with, besides the element conversions
 * (test_harness.c):
 *   1. the vs_lowp criterion (harness_compare_lowp): the low-precision reference's own error as the
 *      yardstick, the slack, NaN poison, and a planted error it must catch;
 *   2. the built-in attention reference's low-precision run: it differs from the exact one by about
 *      the input type's roundoff, a kernel that matches it passes vs_lowp, and a planted error fails;
 *   3. a recipe's reference as declared: the three forms, the `check` field, and the declaration
 *      errors of both;
 *   4. a Lua reference through ref_run: tensors as lists with their shape, scalars, settings,
 *      in-out tensors, the two precisions, and an element left unwritten;
 *   5. a C reference in a shared object called through include/kiln_ref.h alone
 *      (examples/scale_c/scale_ref.so, which the build makes): its values, its refusal of another
 *      ABI version.
 * Random inputs come from the scaffold's seed (KILN_TEST_SEED repeats a run; test.h).
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compiler/api/harness.h"
#include "compiler/ref/ref.h"
#include "test.h"

static harness_rng rng;

/* ---- 1. the vs_lowp criterion ---- */

static void test_compare_lowp(void) {
  enum { N = 512 };
  double ref[N], lowp[N];
  uint16_t got[N];
  harness_lowp m;
  for (int i = 0; i < N; i++) ref[i] = harness_uniform(&rng), lowp[i] = harness_round(IR_F16, ref[i]);
  harness_from_double(got, IR_F16, N, lowp); /* a kernel as good as the f16 computation */
  CHECK(harness_compare_lowp(got, IR_F16, ref, lowp, N, 2, &m) == 0 && m.ratio == 1, "ratio %g", m.ratio);
  CHECK(m.lowp_err > 0 && m.lowp_err <= 0x1p-12 && m.slack > 0 && m.slack <= 3 * 0x1p-11, "lowp %g slack %g",
        m.lowp_err, m.slack);

  /* a planted error of 4 units of roundoff on one element fails, and is the one named */
  for (int i = 0; i < N; i++) harness_set(got, IR_F16, i, ref[i]);
  harness_set(got, IR_F16, 77, ref[77] + 4 * 0x1p-11 * (fabs(ref[77]) + 1));
  CHECK(harness_compare_lowp(got, IR_F16, ref, lowp, N, 2, &m) == -1 && m.worst == 77, "planted: worst %zu",
        m.worst);
  CHECK(m.ratio > 2 && m.err > m.limit, "planted: ratio %g err %g limit %g", m.ratio, m.err, m.limit);
  CHECK(harness_compare_lowp(got, IR_F16, ref, lowp, N, 20, &m) == 0, "a factor of 20 lets it pass");

  /* poison left in the output fails; matching NaNs and infinities do not */
  harness_from_double(got, IR_F16, N, lowp);
  harness_poison(got + 5, IR_F16, 1);
  CHECK(harness_compare_lowp(got, IR_F16, ref, lowp, N, 2, &m) == -1 && m.worst == 5 && isinf(m.err),
        "poison: worst %zu err %g", m.worst, m.err);
  ref[5] = lowp[5] = NAN;
  ref[6] = lowp[6] = -INFINITY;
  harness_set(got, IR_F16, 6, -INFINITY);
  CHECK(harness_compare_lowp(got, IR_F16, ref, lowp, N, 2, &m) == 0,
        "NaN and -inf where the reference has them");

  /* exact everywhere: ratio 0; the low-precision reference exact but the kernel one unit off: the
   * slack (2 units at the output's rms) decides */
  double one[2] = {1, 0.5}, same[2] = {1, 0.5};
  float g[2] = {1, 0.5};
  CHECK(harness_compare_lowp(g, IR_F32, one, same, 2, 2, &m) == 0 && m.ratio == 0, "exact: ratio %g",
        m.ratio);
  g[1] = 0.5f + 0x1p-24f;
  CHECK(harness_compare_lowp(g, IR_F32, one, same, 2, 2, &m) == 0 && isinf(m.ratio), "within the slack");
  g[1] = 0.5f + 0x1p-21f;
  CHECK(harness_compare_lowp(g, IR_F32, one, same, 2, 2, &m) == -1, "beyond the slack");

  /* the f32 LSE of a one-split combine: the low-precision reference is exact, the kernel one unit
   * (2^-24) off an element near 1 whose output's rms is about half of it: the element's own rounding
   * lets it pass; four units do not */
  double lse[4] = {0.854526758, 0.01, 0.01, 0.01};
  float k[4] = {(float)lse[0] - 0x1p-24f, 0.01f, 0.01f, 0.01f};
  for (int i = 1; i < 4; i++) lse[i] = k[i];
  CHECK(harness_compare_lowp(k, IR_F32, lse, lse, 4, 2, &m) == 0, "one unit: err %g limit %g", m.err,
        m.limit);
  k[0] = (float)lse[0] - 4 * 0x1p-24f;
  CHECK(harness_compare_lowp(k, IR_F32, lse, lse, 4, 2, &m) == -1, "four units: err %g limit %g", m.err,
        m.limit);

  /* a one-key attention row: the output is V's -1 itself, which the low-precision reference gets
   * exactly and the kernel (exp2 and a reciprocal, both approximate) one unit in the last place off
   * (-1 - 2^-23), in an output whose rms is about 0.4: one unit of the element passes, two do not */
  double v[6] = {-1, 0, 0, 0, 0, 0};
  float o[6] = {-1.0f - 0x1p-23f, 0, 0, 0, 0, 0};
  CHECK(harness_compare_lowp(o, IR_F32, v, v, 6, 2, &m) == 0, "one ulp at -1: err %g limit %g", m.err,
        m.limit);
  o[0] = -1.0f - 0x1p-22f;
  CHECK(harness_compare_lowp(o, IR_F32, v, v, 6, 2, &m) == -1, "two ulps at -1: err %g limit %g", m.err,
        m.limit);
}

/* harness_judge: which measure decides, for float and integer outputs. The low-precision reference
 * here is off by 0.01 at element 1 (a noisy plain computation); the kernel by 2.4e-3 at element 3. */
static void test_judge(void) {
  double ref[4] = {0.5, -0.25, 0.3, 1}, lowp[4] = {0.5, -0.24, 0.3, 1};
  float got[4] = {0.5f, -0.25f, 0.3f, 1.0f + 0.0024f};
  int32_t ints[4] = {1, 2, 3, 4};
  double iref[4] = {1, 2, 3, 5};
  harness_verdict v;
  harness_rule rel = {.tol = 2e-3, .factor = 2, .lowp = lowp}, vs = rel;
  vs.vs_lowp = 1;
  CHECK(harness_judge(got, IR_F32, ref, 4, &rel, &v) == -1 && v.have_lowp && !v.by_lowp && v.over > 1,
        "relative decides: over %g", v.over);
  CHECK(harness_judge(got, IR_F32, ref, 4, &vs, &v) == 0 && v.by_lowp && v.over < 0.2 && v.rel.max_rel > 2e-3,
        "vs_lowp decides: over %g", v.over);
  CHECK(fabs(v.lowp.ratio - 0.24) < 1e-3 && v.lowp.worst == 3, "ratio %g worst %zu", v.lowp.ratio,
        v.lowp.worst);
  got[0] = 0.53f; /* 3x the low-precision reference's error */
  CHECK(harness_judge(got, IR_F32, ref, 4, &vs, &v) == -1 && v.lowp.worst == 0 && v.over > 1,
        "vs_lowp fails: worst %zu over %g", v.lowp.worst, v.over);
  vs.lowp = NULL;
  got[0] = 0.5f;
  CHECK(harness_judge(got, IR_F32, ref, 4, &vs, &v) == -1 && !v.have_lowp && !v.by_lowp,
        "no low-precision run: the relative measure");
  harness_rule exact = {.vs_lowp = 1, .tol = 0, .factor = 2, .lowp = iref};
  CHECK(harness_judge(ints, IR_I32, iref, 4, &exact, &v) == -1 && !v.by_lowp && v.rel.first_over == 3,
        "integers are exact, whatever the criterion");
}

static void test_precision_rule(void) {
  ir_elem a[] = {IR_F32, IR_F16, IR_I32, IR_F32}, b[] = {IR_I8, IR_I32}, c[] = {IR_BF16, IR_F16, IR_E4M3};
  CHECK(harness_lowp_precision(a, 4) == IR_F16, "f16 among f32");
  CHECK(harness_lowp_precision(b, 2) == IR_F64, "no float: f64");
  CHECK(harness_lowp_precision(c, 3) == IR_E4M3, "e4m3 the narrowest");
  CHECK(harness_round_named("f16", 1 + 0x1p-12) == 1 &&
            harness_round_named("f64", 1 + 0x1p-40) == 1 + 0x1p-40,
        "rounding by name");
  CHECK(isnan(harness_round_named("f17", 1)), "unknown type");
}

/* ---- 2. the attention reference in low precision ---- */

enum { B = 1, H = 2, SQ = 24, SK = 40, D = 16 };

static kiln_ref_arg attn_args[] = {
    {.name = "q", .is_tensor = 1, .elem = "f16", .rank = 3, .dims = {B * H, SQ, D}, .role = KILN_REF_IN},
    {.name = "k", .is_tensor = 1, .elem = "f16", .rank = 3, .dims = {B, SK, D}, .role = KILN_REF_IN},
    {.name = "v", .is_tensor = 1, .elem = "f16", .rank = 3, .dims = {B, SK, D}, .role = KILN_REF_IN},
    {.name = "o", .is_tensor = 1, .elem = "f16", .rank = 3, .dims = {B * H, SQ, D}, .role = KILN_REF_OUT},
    {.name = "lse", .is_tensor = 1, .elem = "f32", .rank = 3, .dims = {1, 1, 1}, .role = KILN_REF_INOUT},
    {.name = "B", .elem = "i32", .ival = B},
    {.name = "H", .elem = "i32", .ival = H},
    {.name = "Hkv", .elem = "i32", .ival = 1},
    {.name = "Sq", .elem = "i32", .ival = SQ},
    {.name = "Sk", .elem = "i32", .ival = SK},
    {.name = "scale", .elem = "f32", .fval = 0.25},
    {.name = "q_sb", .elem = "i32", .ival = H * SQ * D},
    {.name = "q_sh", .elem = "i32", .ival = SQ * D},
    {.name = "q_ss", .elem = "i32", .ival = D},
    {.name = "k_sb", .elem = "i32", .ival = SK * D},
    {.name = "k_sh", .elem = "i32", .ival = SK * D},
    {.name = "k_ss", .elem = "i32", .ival = D},
    {.name = "v_sb", .elem = "i32", .ival = SK * D},
    {.name = "v_sh", .elem = "i32", .ival = SK * D},
    {.name = "v_ss", .elem = "i32", .ival = D},
    {.name = "o_sb", .elem = "i32", .ival = H * SQ * D},
    {.name = "o_sh", .elem = "i32", .ival = SQ * D},
    {.name = "o_ss", .elem = "i32", .ival = D},
};
enum { NA = sizeof attn_args / sizeof *attn_args };

static void attention_call(double **data, const char *precision) {
  static const kiln_ref_setting set[] = {{"D", "16"}, {"causal", "1"}, {"lse", "0"}};
  ref_call c = {.abi_version = KILN_REF_ABI_VERSION,
                .nargs = NA,
                .args = attn_args,
                .data = data,
                .nsettings = 3,
                .settings = set,
                .precision = precision,
                .round = harness_round_named};
  CHECK(ref_lookup("attention")(&c) == 0, "attention reference (%s)", precision);
}

static void test_attention_lowp(void) {
  enum { NQ = B * H * SQ * D, NK = B * SK * D };
  static double q[NQ], k[NK], v[NK], o[NQ], ol[NQ], ob[NQ], lse[1];
  static uint16_t got[NQ];
  for (int i = 0; i < NQ; i++) q[i] = harness_round(IR_F16, harness_uniform(&rng));
  for (int i = 0; i < NK; i++) k[i] = harness_round(IR_F16, harness_uniform(&rng));
  for (int i = 0; i < NK; i++) v[i] = harness_round(IR_F16, harness_uniform(&rng));
  double *exact[NA] = {q, k, v, o, lse}, *low[NA] = {q, k, v, ol, lse};
  attention_call(exact, "f64");
  attention_call(low, "f16");
  harness_lowp m;
  double worst = 0;
  for (int i = 0; i < NQ; i++) worst = fmax(worst, fabs(ol[i] - o[i]));
  CHECK(worst > 0 && worst < 8 * 0x1p-11, "lowp differs from exact by %g", worst);
  /* the f16 computation itself, as a kernel, passes (ratio 1); the exact result rounded passes */
  harness_from_double(got, IR_F16, NQ, ol);
  CHECK(harness_compare_lowp(got, IR_F16, o, ol, NQ, 2, &m) == 0 && fabs(m.ratio - 1) < 1e-12, "ratio %g",
        m.ratio);
  harness_from_double(got, IR_F16, NQ, o);
  CHECK(harness_compare_lowp(got, IR_F16, o, ol, NQ, 2, &m) == 0, "exact rounded: ratio %g", m.ratio);
  /* a kernel that rounds P to e5m2 (a precision bug) fails */
  double *bad[NA] = {q, k, v, ob, lse};
  ref_call c = {.abi_version = KILN_REF_ABI_VERSION,
                .nargs = NA,
                .args = attn_args,
                .data = bad,
                .nsettings = 3,
                .settings = (kiln_ref_setting[]){{"D", "16"}, {"causal", "1"}, {"lse", "0"}},
                .precision = "e5m2",
                .round = harness_round_named};
  CHECK(ref_lookup("attention")(&c) == 0, "attention reference (e5m2)");
  harness_from_double(got, IR_F16, NQ, ob);
  CHECK(harness_compare_lowp(got, IR_F16, o, ol, NQ, 2, &m) == -1, "an e5m2 computation passes: ratio %g",
        m.ratio);
}

/* ---- 3. the declaration ---- */

static const char *recipe_template =
    "local kiln = require 'kiln'\n"
    "return kiln.recipe {\n"
    "  name = 'd', grid = function(p) return 1 end, body = function(k, p) end,\n"
    "  params = { n = 3 },\n"
    "  args = { kiln.tensor('x', 'f16', { 'n' }, 'in'), kiln.tensor('y', 'f32', { 'n' }, 'inout'),\n"
    "           kiln.tensor('z', 'f16', { 'n', 2 }, 'out'), kiln.scalar('n', 'i32'),\n"
    "           kiln.scalar('s', 'f32', 0.1) },\n"
    "  %s\n"
    "}\n";

/* Writes the template with snippet to a fresh file in dir and loads it. */
static kl_recipe *load_snippet(const char *dir, const char *snippet, char *path, size_t pathn, char *err,
                               size_t errn) {
  snprintf(path, pathn, "%s/recipe_XXXXXX", dir);
  int fd = mkstemp(path);
  if (fd < 0) return snprintf(err, errn, "mkstemp failed"), NULL;
  FILE *f = fdopen(fd, "w");
  fprintf(f, recipe_template, snippet);
  fclose(f);
  return kl_recipe_load(path, err, errn);
}

static void declaration_fails(const char *snippet, const char *want) {
  char path[256], err[2048] = "", full[2300];
  kl_recipe *r = load_snippet("/tmp", snippet, path, sizeof path, err, sizeof err);
  snprintf(full, sizeof full, "%s:2: %s", path, want);
  CHECK(!r && !strcmp(err, full), "'%s':\n  got  '%s'\n  want '%s'", snippet, r ? "(loaded)" : err, full);
  kl_recipe_free(r);
  unlink(path);
}

static void test_declaration(void) {
  char path[256], err[2048] = "", want[300];
  kl_recipe *r = load_snippet("/tmp", "reference = { c = 'lib/ref.so', symbol = 'my_ref' },", path,
                              sizeof path, err, sizeof err);
  CHECK(r, "%s", err);
  if (r) {
    const kl_reference *f = kl_recipe_reference_decl(r);
    CHECK(f->kind == KL_REF_C && !strcmp(f->name, "lib/ref.so") && !strcmp(f->path, "/tmp/lib/ref.so") &&
              !strcmp(f->symbol, "my_ref") && !kl_recipe_reference(r),
          "C reference: %s %s", f->path, f->symbol);
    const kl_check_rule *c = kl_recipe_check_rule(r);
    CHECK(c->criterion == KL_CRIT_RELATIVE && c->factor == 2 && c->tol == 0, "default check rule");
    snprintf(want, sizeof want, "C reference 'my_ref' in /tmp/lib/ref.so");
    char what[300];
    ref_describe(r, what, sizeof what);
    CHECK(!strcmp(what, want), "describe: %s", what);
  }
  kl_recipe_free(r);
  unlink(path);
  r = load_snippet("/tmp",
                   "reference = 'softmax', check = { criterion = 'vs_lowp', factor = 3, tol = 1e-3 },", path,
                   sizeof path, err, sizeof err);
  CHECK(r && kl_recipe_reference_decl(r)->kind == KL_REF_BUILTIN &&
            !strcmp(kl_recipe_reference(r), "softmax"),
        "built-in: %s", err);
  if (r) {
    const kl_check_rule *c = kl_recipe_check_rule(r);
    CHECK(c->criterion == KL_CRIT_VS_LOWP && c->factor == 3 && c->tol == 1e-3, "declared check rule");
  }
  kl_recipe_free(r);
  unlink(path);

  declaration_fails("reference = { c = 'x.so' },",
                    "kiln.recipe: reference = {c = \"FILE.so\", symbol = \"NAME\"} needs both as strings");
  declaration_fails("reference = { c = 'x.so', symbol = 'a-b' },",
                    "reference symbol 'a-b' is not a name (letters, digits, _)");
  declaration_fails("reference = { c = 'x.so', symbol = 'f', lua = 1 },",
                    "kiln.recipe: reference: unknown field 'lua'");
  declaration_fails("reference = true,",
                    "kiln.recipe: reference must be a name, a function or {c = \"FILE.so\", "
                    "symbol = \"NAME\"}, got boolean");
  declaration_fails("check = 'vs_lowp',",
                    "kiln.recipe: check must be a table {criterion = ..., factor = ..., tol = ...}");
  declaration_fails("check = { criterion = 'abs' },",
                    "kiln.recipe: check.criterion must be \"relative\" or \"vs_lowp\", got abs");
  declaration_fails("check = { factor = 0 },", "kiln.recipe: check.factor must be a positive number, got 0");
  declaration_fails("check = { tol = '1e-3' },",
                    "kiln.recipe: check.tol must be a positive number, got 1e-3");
  declaration_fails("check = { tol = 1/0 },", "kiln.recipe: check.tol must be a positive number, got inf");
  declaration_fails("check = { crit = 1 },", "kiln.recipe: check: unknown field 'crit'");
}

/* ---- 4. a Lua reference through ref_run ---- */

/* Loads the template with a Lua reference and runs it on x = {1, 2, 3}, y = {10, 20, 30} (in-out),
 * z [3, 2] (out). Returns ref_run's status; err gets its message. */
static int run_lua(const char *reference, ir_elem precision, double *z, double *y, char *err, size_t errn) {
  char path[256], snippet[1024];
  snprintf(snippet, sizeof snippet, "reference = %s,", reference);
  kl_recipe *r = load_snippet("/tmp", snippet, path, sizeof path, err, errn);
  int rc = REF_FAILED;
  if (r) {
    double x[3] = {1, 2, 3};
    y[0] = 10, y[1] = 20, y[2] = 30;
    kl_settings s;
    kl_arg args[8];
    int n = kl_recipe_args(r, (kl_recipe_defaults(r, &s), &s), args, 8, err, errn);
    double *data[8] = {x, y, z, NULL, NULL};
    ref_job job = {.nargs = n,
                   .args = args,
                   .data = data,
                   .set = &s,
                   .precision = precision,
                   .round = harness_round_named};
    rc = n == 5 ? ref_run(r, &job, err, errn) : REF_FAILED;
  }
  kl_recipe_free(r);
  unlink(path);
  return rc;
}

static void test_lua_reference(void) {
  char err[4096] = "";
  double z[6], y[3];
  /* shape, scalars (s as the kernel's f32 sees it), settings, in-out, and every output written */
  int rc = run_lua("function(t, p, r)\n"
                   "  assert(#t.x == 3 and t.z.shape[1] == 3 and t.z.shape[2] == 2 and #t.z.shape == 2)\n"
                   "  assert(t.n == 3 and math.type(t.n) == 'integer' and t.s == (t.s + 0.0) and p.n == 3)\n"
                   "  assert(r.precision == 'f64' and r.round(0.1) == 0.1)\n"
                   "  for i = 1, 3 do t.y[i] = t.y[i] + 1; t.z[2 * i - 1] = t.x[i]; t.z[2 * i] = t.s end\n"
                   "end",
                   IR_F64, z, y, err, sizeof err);
  CHECK(rc == REF_OK, "%s", err);
  CHECK(y[0] == 11 && y[2] == 31 && z[0] == 1 && z[4] == 3 && z[1] == (double)0.1f, "values %g %g %g %g",
        y[0], z[0], z[4], z[1]);
  /* the low-precision run: r.round rounds to f16, and kiln rounds the outputs to their types */
  rc = run_lua("function(t, p, r)\n"
               "  assert(r.precision == 'f16' and r.round(1 + 2^-12) == 1)\n"
               "  for i = 1, 6 do t.z[i] = 1 + 2^-13 end\n"
               "  for i = 1, 3 do t.y[i] = 1 + 2^-30 end\n"
               "end",
               IR_F16, z, y, err, sizeof err);
  CHECK(rc == REF_OK && z[3] == 1 && y[1] == (double)(float)(1 + 0x1p-30), "%s: z %g y %.17g", err, z[3],
        y[1]);
  /* an element left unwritten */
  rc = run_lua("function(t, p, r) for i = 1, 5 do t.z[i] = 0 end end", IR_F64, z, y, err, sizeof err);
  CHECK(rc == REF_FAILED && strstr(err, ") left z[2,1] (element 5) unset (NaN)"), "%s", err);
  /* an output replaced by something that is not a list */
  rc = run_lua("function(t, p, r) t.z = 5 end", IR_F64, z, y, err, sizeof err);
  CHECK(rc == REF_FAILED && strstr(err, ": the reference replaced t.z by a number (in the Lua reference ("),
        "%s", err);
  /* an error names the reference's line */
  rc = run_lua("function(t, p, r)\n  error('boom')\nend", IR_F64, z, y, err, sizeof err);
  CHECK(rc == REF_FAILED && strstr(err, ":9: boom (in the Lua reference (") && strstr(err, ":8))"), "%s",
        err);
}

/* The Lua entry refuses a recipe whose reference is not a Lua function. */
static void test_not_lua(void) {
  char path[256], err[2048] = "";
  kl_recipe *r = load_snippet("/tmp", "reference = 'softmax',", path, sizeof path, err, sizeof err);
  CHECK(r, "%s", err);
  if (r) {
    kl_settings s;
    kl_recipe_defaults(r, &s);
    CHECK(kl_recipe_call_reference(r, &s, NULL, NULL, 0, "f64", harness_round_named, err, sizeof err) == -1 &&
              strstr(err, ": the reference is not a Lua function"),
          "%s", err);
  }
  kl_recipe_free(r);
  unlink(path);
}

/* ---- 5. a C reference through the public ABI ---- */

static void test_shared_object(void) {
  void *h = dlopen("examples/scale_c/scale_ref.so", RTLD_NOW | RTLD_LOCAL);
  CHECK(h, "%s (built by the target example_scale_ref)", dlerror());
  if (!h) return;
  kiln_ref_fn fn;
  void *sym = dlsym(h, "scale_ref");
  memcpy(&fn, &sym, sizeof fn);
  double x[6] = {1, -2, 3, 0.1, 5, 6}, y[6];
  kiln_ref_arg args[3] = {
      {.name = "x", .is_tensor = 1, .elem = "f32", .rank = 2, .dims = {2, 3}, .role = KILN_REF_IN},
      {.name = "y", .is_tensor = 1, .elem = "bf16", .rank = 2, .dims = {2, 3}, .role = KILN_REF_OUT},
      {.name = "s", .elem = "f32", .fval = 0.5}};
  double *data[3] = {x, y, NULL};
  char msg[256] = "";
  kiln_ref_call c = {.abi_version = KILN_REF_ABI_VERSION,
                     .nargs = 3,
                     .args = args,
                     .data = data,
                     .precision = "f64",
                     .round = harness_round_named,
                     .err = msg,
                     .errn = sizeof msg};
  CHECK(sym && fn(&c) == KILN_REF_OK && y[1] == -1 && y[3] == 0.05, "exact: %g %g", y[1], y[3]);
  c.precision = "bf16";
  CHECK(fn(&c) == KILN_REF_OK && y[3] == harness_round(IR_BF16, 0.05), "bf16: %.17g", y[3]);
  c.abi_version = KILN_REF_ABI_VERSION + 1;
  CHECK(fn(&c) == KILN_REF_FAILED && strstr(msg, "built for reference ABI 1, called with 2"), "%s", msg);
  dlclose(h);
}

int main(void) {
  harness_seed(&rng, test_seed());
  test_compare_lowp();
  test_judge();
  test_precision_rule();
  test_attention_lowp();
  test_declaration();
  test_lua_reference();
  test_not_lua();
  test_shared_object();
  return test_done("test_refcheck");
}
