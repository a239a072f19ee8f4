/*
 * test_api.c - the public C API (include/kiln.h), used the way a program outside kiln uses it: this
 * file includes nothing else of kiln.
 *
 *  1. load recipes/vector_add.lua, set a knob, compile it to PTX for sm_80;
 *  2. run it on the simulator against its C reference;
 *  3. the error paths: a missing file, a bad setting, an unknown target, a broken recipe, an IR file
 *     given to kiln_run, each with its status and a message that names the place.
 * Exits non-zero if any check fails. Run from the source root (ctest does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

static int failures;

#define CHECK(c)                                                                                             \
  do {                                                                                                       \
    if (!(c)) {                                                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                                  \
      failures++;                                                                                            \
    }                                                                                                        \
  } while (0)

/* ---- 1 and 2 (docs/api.md's example program is built and run as the test docs/api_example) ---- */

/* Load, set, compile, run, checking what each step gives. */
static void test_compile_and_run(void) {
  kiln_session *s = kiln_session_new();
  kiln_recipe *r = NULL;
  CHECK(kiln_recipe_load(s, "recipes/vector_add.lua", &r) == KILN_OK && r);
  CHECK(kiln_recipe_set(r, "  BLOCK = 256 ") == KILN_OK && !kiln_error(s)[0]);
  kiln_output out;
  kiln_compile_opts co = {.target = "sm_80", .emit = KILN_EMIT_PTX, .no_cache = 1};
  CHECK(kiln_compile(r, &co, &out) == KILN_OK);
  CHECK(out.data && strstr(out.data, ".target sm_80") && strstr(out.data, ".entry"));
  CHECK(out.size == strlen(out.data) && out.threads == 128 && out.cache_use == KILN_CACHE_BYPASSED);
  CHECK(!strcmp(out.kernel, "vector_add"));
  /* the steps' CPU times: each step ran */
  CHECK(out.ms_lower > 0 && out.ms_llvm_passes > 0 && out.ms_ptx > 0);
  kiln_output_free(&out);
  CHECK(out.data == NULL);
  /* the knob reached the kernel: 256 elements per program in the IR */
  co.emit = KILN_EMIT_IR;
  CHECK(kiln_compile(r, &co, &out) == KILN_OK && strstr(out.data, "tile<256xf32>"));
  kiln_output_free(&out);
  co.emit = KILN_EMIT_LAUNCH;
  CHECK(kiln_compile(r, &co, &out) == KILN_OK && strstr(out.data, "\"grid\": [385, 1, 1]"));
  kiln_output_free(&out);
  kiln_run_opts ro = {.sim = 1, .have_seed = 1, .seed = 7};
  CHECK(kiln_run(r, &ro) == KILN_OK);
  ro.tol = 1e-300; /* a budget nothing meets: the check fails */
  CHECK(kiln_run(r, &ro) == KILN_ERR_CHECK && strstr(kiln_error(s), "recipes/vector_add.lua"));
  kiln_recipe_free(r);
  kiln_session_free(s);
}

/* ---- 3: errors ---- */

static void test_errors(void) {
  kiln_session *s = kiln_session_new();
  kiln_recipe *r = NULL;
  /* a missing file: the path and the system's reason */
  CHECK(kiln_recipe_load(s, "recipes/no_such_recipe.lua", &r) == KILN_ERR_INPUT && r == NULL);
  CHECK(strstr(kiln_error(s), "no_such_recipe.lua") && strstr(kiln_error(s), "No such file or directory"));
  CHECK(kiln_recipe_load(s, "tests/errors/no_such.ir", &r) == KILN_ERR_INPUT && r == NULL);
  CHECK(!strcmp(kiln_error(s), "cannot read tests/errors/no_such.ir: No such file or directory"));
  char *text = NULL;
  CHECK(kiln_read_file(s, "tests", &text) == KILN_ERR_INPUT && text == NULL);
  CHECK(!strcmp(kiln_error(s), "cannot read tests: Is a directory"));
  /* a recipe that does not parse: file:line */
  CHECK(kiln_recipe_load(s, "tests/errors/syntax_error.lua", &r) == KILN_ERR_INPUT);
  CHECK(strstr(kiln_error(s), "tests/errors/syntax_error.lua:4:") == kiln_error(s));
  /* a recipe whose body fails at build time: the status comes from kiln_compile */
  CHECK(kiln_recipe_load(s, "tests/recipes_bad/type_mismatch.lua", &r) == KILN_OK);
  kiln_output out;
  kiln_compile_opts co = {.emit = KILN_EMIT_IR};
  CHECK(kiln_compile(r, &co, &out) == KILN_ERR_INPUT && out.data == NULL);
  CHECK(strstr(kiln_error(s), "tests/recipes_bad/type_mismatch.lua:") == kiln_error(s));
  kiln_recipe_free(r);

  CHECK(kiln_recipe_load(s, "recipes/vector_add.lua", &r) == KILN_OK && !kiln_error(s)[0]);
  /* bad settings: the name and the parameters */
  CHECK(kiln_recipe_set(r, "NO_SUCH=1") == KILN_ERR_INPUT &&
        strstr(kiln_error(s), "unknown parameter 'NO_SUCH'"));
  CHECK(kiln_recipe_set(r, "BLOCK") == KILN_ERR_INPUT && strstr(kiln_error(s), "'BLOCK' is not NAME=VALUE"));
  CHECK(kiln_recipe_set(r, NULL) == KILN_ERR_USAGE);
  /* an unknown target: the name and the known ones */
  co = (kiln_compile_opts){.target = "sm_70", .emit = KILN_EMIT_PTX};
  CHECK(kiln_compile(r, &co, &out) == KILN_ERR_USAGE);
  CHECK(strstr(kiln_error(s), "unknown target 'sm_70' (known: sm_75 ") != NULL);
  CHECK(kiln_target_check(s, "sm_70") == KILN_ERR_USAGE && kiln_target_check(s, "sm_90a") == KILN_OK);
  co = (kiln_compile_opts){.emit = (kiln_emit)99};
  CHECK(kiln_compile(r, &co, &out) == KILN_ERR_USAGE && strstr(kiln_error(s), "emit kind 99"));
  kiln_run_opts ro = {.sim = 1, .target = "sm_1"};
  CHECK(kiln_run(r, &ro) == KILN_ERR_USAGE && strstr(kiln_error(s), "unknown target 'sm_1'"));
  /* the profile: 0, 1 or 2, and only on the simulator */
  ro = (kiln_run_opts){.sim = 1, .profile = 3};
  CHECK(kiln_run(r, &ro) == KILN_ERR_USAGE &&
        strstr(kiln_error(s), "profile is 0 (off), 1 (table) or 2 (JSON), not 3"));
  ro = (kiln_run_opts){.sim = 1, .profile = -1};
  CHECK(kiln_run(r, &ro) == KILN_ERR_USAGE && strstr(kiln_error(s), "not -1"));
  ro = (kiln_run_opts){.profile = 1};
  CHECK(kiln_run(r, &ro) == KILN_ERR_USAGE &&
        strstr(kiln_error(s), "the profile counts what the simulator runs"));
  ro = (kiln_run_opts){.sim = 1, .target = "sm_1"};
  kiln_recipe_free(r);

  /* an IR file: no settings, no reference; a verifier error names the op */
  CHECK(kiln_recipe_load(s, "tests/sim/vector_add.ir", &r) == KILN_OK);
  CHECK(kiln_recipe_set(r, "BLOCK=128") == KILN_ERR_USAGE && strstr(kiln_error(s), "not to IR files"));
  CHECK(kiln_run(r, &ro) == KILN_ERR_USAGE && strstr(kiln_error(s), "needs a recipe"));
  kiln_recipe_free(r);
  CHECK(kiln_recipe_load(s, "tests/errors/type_mismatch.ir", &r) == KILN_OK);
  co = (kiln_compile_opts){.emit = KILN_EMIT_PTX};
  CHECK(kiln_compile(r, &co, &out) == KILN_ERR_INPUT &&
        strstr(kiln_error(s), "type_mismatch.ir:5: op 'add'"));
  kiln_recipe_free(r);
  /* a valid kernel the target cannot compile */
  CHECK(kiln_recipe_load(s, "tests/errors/fp8_dot.ir", &r) == KILN_OK);
  co = (kiln_compile_opts){.target = "sm_80", .emit = KILN_EMIT_PTX};
  CHECK(kiln_compile(r, &co, &out) == KILN_ERR_COMPILE && strstr(kiln_error(s), "sm_80 does not have"));
  kiln_recipe_free(r);
  kiln_session_free(s);
}

/* Missing arguments are usage errors, never crashes; a cubin needs ptxas and a temporary file. */
static void test_bad_calls(void) {
  kiln_session *s = kiln_session_new();
  kiln_recipe *r = NULL;
  kiln_output out;
  char *text = NULL;
  CHECK(kiln_recipe_load(NULL, "recipes/vector_add.lua", &r) == KILN_ERR_USAGE && r == NULL);
  CHECK(kiln_recipe_load(s, NULL, &r) == KILN_ERR_USAGE && strstr(kiln_error(s), "no path"));
  CHECK(kiln_read_file(s, NULL, &text) == KILN_ERR_USAGE && text == NULL);
  CHECK(kiln_compile(NULL, NULL, &out) == KILN_ERR_USAGE && kiln_run(NULL, NULL) == KILN_ERR_USAGE);
  CHECK(kiln_recipe_set(NULL, "BLOCK=128") == KILN_ERR_USAGE);
  CHECK(kiln_opt(s, NULL, "x.ir", NULL, &text) == KILN_ERR_USAGE && text == NULL);
  CHECK(!strcmp(kiln_error(NULL), "no session"));
  CHECK(kiln_recipe_load(s, "recipes/vector_add.lua", &r) == KILN_OK);
  CHECK(kiln_compile(r, NULL, &out) == KILN_ERR_USAGE && strstr(kiln_error(s), "no options"));
  CHECK(kiln_run(r, NULL) == KILN_ERR_USAGE && strstr(kiln_error(s), "no options"));
  char set[32];
  kiln_status st = KILN_OK;
  for (int i = 0; i < 65 && st == KILN_OK; i++)
    st = kiln_recipe_set(r, (snprintf(set, sizeof set, "n=%d", i + 1), set));
  CHECK(st == KILN_ERR_USAGE && strstr(kiln_error(s), "more than 64 settings"));
  kiln_compile_opts co = {.emit = KILN_EMIT_CUBIN, .no_cache = 1};
  setenv("KILN_PTXAS", "/nonexistent/ptxas", 1);
  CHECK(kiln_compile(r, &co, &out) == KILN_ERR_NO_TOOL && strstr(kiln_error(s), "ptxas not found"));
  unsetenv("KILN_PTXAS");
  const char *tmp = getenv("TMPDIR");
  char *saved = tmp ? strdup(tmp) : NULL;
  setenv("TMPDIR", "/nonexistent", 1);
  CHECK(kiln_compile(r, &co, &out) == KILN_ERR_SYSTEM &&
        strstr(kiln_error(s), "cannot make a temporary file /nonexistent/"));
  if (saved)
    setenv("TMPDIR", saved, 1);
  else
    unsetenv("TMPDIR");
  free(saved);
  kiln_recipe_free(r);
  kiln_session_free(s);
}

/* ---- kiln_opt and the tables ---- */

static void test_opt(void) {
  kiln_session *s = kiln_session_new();
  const char *passes[] = {"cse"}, *bad[] = {"no-such-pass"};
  kiln_opt_opts o = {.passes = passes, .npasses = 1};
  char *out = NULL, *text = NULL;
  CHECK(kiln_read_file(s, "tests/lit/opt/Inputs/neg.ir", &text) == KILN_OK && text);
  CHECK(kiln_opt(s, text, "neg.ir", &o, &out) == KILN_OK && out && strstr(out, "kernel @neg"));
  CHECK(strlen(out) < strlen(text)); /* cse merged the two equal negations */
  kiln_free(out);
  o.passes = bad;
  CHECK(kiln_opt(s, text, "neg.ir", &o, &out) == KILN_ERR_USAGE && strstr(kiln_error(s), "'no-such-pass'"));
  kiln_free(out);
  o = (kiln_opt_opts){.target = "sm_70"};
  CHECK(kiln_opt(s, text, "neg.ir", &o, &out) == KILN_ERR_USAGE &&
        strstr(kiln_error(s), "unknown target 'sm_70'"));
  kiln_free(out);
  kiln_free(text);
  o = (kiln_opt_opts){0};
  CHECK(kiln_opt(s, "kernel @k(\n", "broken.ir", &o, &out) == KILN_ERR_INPUT);
  CHECK(strstr(kiln_error(s), "broken.ir:") == kiln_error(s));
  kiln_free(out);
  int n = 0;
  for (int i = 0; kiln_pass_name(i); i++) n += kiln_pass_help(i) != NULL;
  CHECK(n >= 7 && kiln_pass_name(-1) == NULL);
  kiln_target_info t;
  CHECK(kiln_target_count() >= 7 && kiln_target_get(0, &t) == KILN_OK && !strcmp(t.name, "sm_75"));
  CHECK(kiln_target_get(kiln_target_count(), &t) == KILN_ERR_USAGE);
  CHECK(!strcmp(kiln_status_name(KILN_ERR_CHECK), "KILN_ERR_CHECK") && kiln_version()[0]);
  kiln_session_free(s);
}

/* Recipe options: limits reach the evaluation; bad values are refused. */
static void test_recipe_opts(void) {
  kiln_session *s = kiln_session_new();
  kiln_recipe *r = NULL;
  kiln_recipe_opts o = {0};
  char *words[] = {"--recipe-time", "0.2", "--recipe-mem=soon"};
  CHECK(kiln_recipe_opts_arg(s, &o, 3, words) == 2 && o.time_limit == 0.2);
  CHECK(kiln_recipe_opts_arg(s, &o, 1, words + 2) == -1 &&
        !strcmp(kiln_error(s), "--recipe-mem needs a positive number, got 'soon'"));
  CHECK(kiln_recipe_opts_arg(s, &o, 1, (char *[]){"--sim"}) == 0);
  kiln_compile_opts co = {.target = "sm_80", .emit = KILN_EMIT_IR};
  kiln_output out;
  CHECK(kiln_recipe_load_opts(s, "tests/recipes_bad/sandbox_time_body.lua", &o, &r) == KILN_OK);
  CHECK(r && kiln_compile(r, &co, &out) == KILN_ERR_INPUT &&
        strstr(kiln_error(s), "sandbox_time_body.lua:12: recipe evaluation exceeded 0.2 s"));
  kiln_recipe_free(r);
  kiln_recipe_opts neg = {.mem_limit = -1};
  CHECK(kiln_recipe_load_opts(s, "recipes/vector_add.lua", &neg, &r) == KILN_ERR_USAGE && !r);
  kiln_session_free(s);
}

int main(void) {
  test_compile_and_run();
  test_recipe_opts();
  test_errors();
  test_bad_calls();
  test_opt();
  if (failures)
    fprintf(stderr, "test_api: %d check(s) failed\n", failures);
  else
    printf("test_api: ok\n");
  return failures != 0;
}
