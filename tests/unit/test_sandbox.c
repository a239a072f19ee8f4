/*
 * test_sandbox.c - what a recipe can reach, its limits, and the values its settings take
 * (compiler/lua/kl_sandbox.c, kl_settings.c; docs/recipes.md, "What a recipe can reach").
 *
 *   1. The sandboxed recipes in tests/recipes_bad/sandbox_*.lua, loaded, built, and asked for their
 *      arguments and grid with the options of their "-- flags:" line: each fails with the one-line
 *      error its first line expects.
 *   2. Command-line options (kl_options_arg): each form, and each bad value.
 *   3. What a recipe can reach, and what --unsafe-recipe gives back.
 *   4. Binary chunks: a recipe file or a lib/ module compiled with lua_dump (also mutated) is refused;
 *      the unsafe mode loads it.
 *   5. Kiln objects cannot be changed or forged: declarations are kiln's copies, metatables locked.
 *   6. Limits: a recipe cannot set a finalizer (Lua runs them out of the hooks' reach); a build
 *      after a timed-out one gets a fresh budget.
 *   7. Settings: flags, closed parameters, spaces around names and values.
 * Run from the source root (ctest does); scratch files go in a folder of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "compiler/lua/kl_recipe.h"
#include "target/target.h"
#include "test.h"

static char *scratch;

/* ---- helpers ---- */

static void write_file(const char *path, const char *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n || fclose(f)) abort();
}

/* scratch/NAME holding text; returns a static path (one at a time). */
static const char *scratch_file(const char *name, const char *text) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", scratch, name);
  write_file(path, text, strlen(text));
  return path;
}

/* Loads, builds for sm_80, and asks for the arguments and the grid: 0, or -1 with the first error. */
static int run_recipe(const char *path, const kl_options *o, char *err, size_t errn) {
  kl_recipe *r = kl_recipe_load_opts(path, o, err, errn);
  if (!r) return -1;
  kl_settings s;
  kl_arg args[KL_MAXARGS];
  int64_t grid[3];
  kl_recipe_defaults(r, &s);
  ir_func *fn = kl_recipe_build(r, &s, tg_target_lookup("sm_80"), err, errn);
  int rc =
      fn && kl_recipe_args(r, &s, args, KL_MAXARGS, err, errn) >= 0 && !kl_recipe_grid(r, &s, grid, err, errn)
          ? 0
          : -1;
  ir_func_destroy(fn);
  kl_recipe_free(r);
  return rc;
}

/* Options from words ("--recipe-time 0.2 --emit launch"): kl_options_arg's, others skipped. */
static void parse_flags(char *words, kl_options *o) {
  char *argv[16], err[256];
  int argc = 0;
  for (char *w = strtok(words, " "); w && argc < 16; w = strtok(NULL, " ")) argv[argc++] = w;
  for (int i = 0; i < argc;) {
    int used = kl_options_arg(o, argc - i, argv + i, err, sizeof err);
    CHECK(used >= 0, "flags: %s", err);
    i += used > 0 ? used : 1;
  }
}

/* ---- 1. tests/recipes_bad/sandbox_*.lua ---- */

static const char *const sandboxed[] = {"os_execute", "os_exit",     "io_open",    "debug",       "loadlib",
                                        "dump",       "load_binary", "dofile",     "forge",       "time_file",
                                        "time_body",  "time_grid",   "time_args",  "time_pcall",  "mem_loop",
                                        "mem_rep",    "mem_ops",     "flag_check", "require_path"};

static void expect_sandboxed(const char *name) {
  char path[256], want[1024], err[2048] = "";
  snprintf(path, sizeof path, "tests/recipes_bad/sandbox_%s.lua", name);
  char *text = test_read_file(path, NULL), *rest = test_expected_error(path, text, want, sizeof want);
  if (!rest) return free(text);
  char *nl = rest - 1;
  kl_options o = {0};
  if (!strncmp(nl + 1, "-- flags: ", 10)) {
    char *end = strchr(nl + 1, '\n');
    *end = 0;
    parse_flags(nl + 11, &o);
  }
  double t0 = (double)clock();
  CHECK(run_recipe(path, &o, err, sizeof err) == -1, "%s: no error", path);
  CHECK(!strcmp(err, want), "%s:\n  got  '%s'\n  want '%s'", path, err, want);
  CHECK(((double)clock() - t0) / CLOCKS_PER_SEC < 5, "%s: took more than 5 s of CPU", path);
  free(text);
}

static void test_sandboxed_recipes(void) {
  for (size_t i = 0; i < sizeof sandboxed / sizeof *sandboxed; i++) expect_sandboxed(sandboxed[i]);
}

/* ---- 2. options ---- */

static void expect_option(const char *const *argv, int argc, int used, const char *want_err) {
  char err[256] = "";
  kl_options o = {0};
  int got = kl_options_arg(&o, argc, (char **)argv, err, sizeof err);
  CHECK(got == used, "%s: used %d, want %d", argv[0], got, used);
  if (want_err) CHECK(!strcmp(err, want_err), "%s:\n  got  '%s'\n  want '%s'", argv[0], err, want_err);
}

static void test_options(void) {
  kl_options o = {0};
  char err[256];
  const char *a1[] = {"--recipe-time", "2.5"}, *a2[] = {"--recipe-mem=64"}, *a3[] = {"--unsafe-recipe"};
  CHECK(kl_options_arg(&o, 2, (char **)a1, err, sizeof err) == 2 && o.time_limit == 2.5, "--recipe-time 2.5");
  CHECK(kl_options_arg(&o, 1, (char **)a2, err, sizeof err) == 1 && o.mem_limit == 64, "--recipe-mem=64");
  CHECK(kl_options_arg(&o, 1, (char **)a3, err, sizeof err) == 1 && o.unsafe == 1, "--unsafe-recipe");
  const char *other[] = {"--recipe-timer", "3"}, *set[] = {"--set", "n=1"};
  expect_option(other, 2, 0, NULL);
  expect_option(set, 2, 0, NULL);
  const char *missing[] = {"--recipe-time"}, *zero[] = {"--recipe-mem", "0"},
             *word[] = {"--recipe-time=soon"};
  expect_option(missing, 1, -1, "--recipe-time needs a positive number, got ''");
  expect_option(zero, 2, -1, "--recipe-mem needs a positive number, got '0'");
  expect_option(word, 1, -1, "--recipe-time needs a positive number, got 'soon'");
}

/* ---- 3. what a recipe reaches ---- */

/* A recipe whose file level runs `pre`. */
static const char *recipe_with(const char *name, const char *pre) {
  static char text[4096];
  snprintf(text, sizeof text,
           "local kiln = require 'kiln'\n"
           "%s\n"
           "return kiln.recipe { name = 't', params = { n = 4 }, args = { kiln.scalar('n', 'i32') },\n"
           "  grid = function(p) return 1 end, body = function(k, p) end }\n",
           pre);
  return scratch_file(name, text);
}

static void expect_reach(const char *pre, int unsafe, const char *want) {
  char err[2048] = "";
  kl_options o = {.unsafe = unsafe};
  const char *path = recipe_with("reach.lua", pre);
  int rc = run_recipe(path, &o, err, sizeof err);
  if (!want)
    CHECK(rc == 0, "'%s' (unsafe %d): %s", pre, unsafe, err);
  else
    CHECK(rc == -1 && strstr(err, want), "'%s' (unsafe %d):\n  got  '%s'\n  want '...%s'", pre, unsafe, err,
          want);
}

static void test_reach(void) {
  /* the sandbox: absent libraries and functions */
  expect_reach("assert(io == nil and debug == nil and package == nil and coroutine == nil)", 0, NULL);
  expect_reach("assert(dofile == nil and loadfile == nil and string.dump == nil and ('').dump == nil)", 0,
               NULL);
  expect_reach("assert(os.getenv == nil and os.remove == nil and os.exit == nil and os.execute == nil)", 0,
               NULL);
  expect_reach("os.getenv('HOME')", 0, "attempt to call a nil value (field 'getenv')");
  expect_reach("assert(require('os') == os and require('string') == string)", 0, NULL);
  /* what stays: clocks, text load, the libraries */
  expect_reach("assert(os.clock() >= 0 and os.time() > 0 and utf8.char(72) == 'H' and math.pi)", 0, NULL);
  expect_reach("assert(load('return 1 + 1')() == 2 and load('return x', 'c', 't', { x = 3 })() == 3)", 0,
               NULL);
  expect_reach("assert(load('return x', 'c', 'bt')); x = 1", 0, NULL);
  expect_reach("assert(load(string.char(27) .. 'Lua'))", 0, "attempt to load a binary chunk (mode is 't')");
  expect_reach("require 'a/b'", 0, "module 'a/b' not found");
  expect_reach("require 'nothing_here'", 0, "module 'nothing_here' not found");
  /* --unsafe-recipe gives everything back */
  expect_reach("assert(os.getenv('PATH') and io.open and debug.getinfo and package.loadlib)", 1, NULL);
  expect_reach("assert(load(string.dump(function() return 7 end))() == 7)", 1, NULL);
  expect_reach("require 'nothing_here'", 1, "module 'nothing_here' not found");
}

/* A module in scratch/lib/ is found by require, text only. */
static void test_lib_modules(void) {
  char path[256], err[2048];
  snprintf(path, sizeof path, "%s/lib", scratch);
  mkdir(path, 0700);
  scratch_file("lib/helper.lua", "return { answer = 42 }\n");
  scratch_file("lib/deep.lua", "return require('helper').answer + 1\n");
  const char *r =
      recipe_with("uses_lib.lua", "assert(require('deep') == 43 and require('helper').answer == 42)");
  CHECK(run_recipe(r, NULL, err, sizeof err) == 0, "lib modules: %s", err);
}

/* ---- 4. binary chunks ---- */

typedef struct {
  char *p;
  size_t n;
} bytes;

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud) {
  bytes *b = ud;
  (void)L;
  b->p = realloc(b->p, b->n + n);
  memcpy(b->p + b->n, p, n);
  b->n += n;
  return 0;
}

/* Compiles the text file `src` into scratch/name with lua_dump (a '#' line first when hashbang);
 * mutate flips bytes in the middle. Returns the path. */
static const char *compile_chunk(const char *src, const char *name, int hashbang, int mutate) {
  static char path[256];
  static const char hash[] = "#!/usr/bin/env kiln\n";
  bytes b = {NULL, 0};
  if (hashbang) dump_writer(NULL, hash, strlen(hash), &b);
  lua_State *L = luaL_newstate();
  CHECK(luaL_loadfile(L, src) == LUA_OK, "cannot compile %s: %s", src, lua_tostring(L, -1));
  lua_dump(L, dump_writer, &b, 0);
  lua_close(L);
  for (size_t i = b.n / 3; mutate && i < b.n / 3 + 16; i++) b.p[i] ^= 0x5a;
  snprintf(path, sizeof path, "%s/%s", scratch, name);
  write_file(path, b.p, b.n);
  free(b.p);
  return path;
}

static void expect_binary_refused(const char *path) {
  char err[2048], want[512];
  snprintf(want, sizeof want, "%s: binary (precompiled) chunks are not accepted", path);
  CHECK(run_recipe(path, NULL, err, sizeof err) == -1 && !strcmp(err, want), "%s:\n  got  '%s'\n  want '%s'",
        path, err, want);
}

static void test_binary_chunks(void) {
  char err[2048], want[512];
  expect_binary_refused(compile_chunk("recipes/vector_add.lua", "bin.lua", 0, 0));
  expect_binary_refused(compile_chunk("recipes/vector_add.lua", "bin_hash.lua", 1, 0));
  expect_binary_refused(compile_chunk("recipes/vector_add.lua", "bin_mutated.lua", 0, 1));
  kl_options unsafe = {.unsafe = 1};
  const char *bin = compile_chunk("recipes/vector_add.lua", "bin.lua", 0, 0);
  CHECK(run_recipe(bin, &unsafe, err, sizeof err) == 0, "unsafe loads a binary recipe: %s", err);
  /* a binary module in lib/ */
  const char *lib_src = scratch_file("lib_src.lua", "return 5\n");
  char lib_src_copy[256];
  snprintf(lib_src_copy, sizeof lib_src_copy, "%s", lib_src);
  compile_chunk(lib_src_copy, "lib/binmod.lua", 0, 0);
  const char *r = recipe_with("uses_binmod.lua", "local m = require 'binmod'");
  snprintf(want, sizeof want, "%s:2: %s/lib/binmod.lua: binary (precompiled) chunks are not accepted", r,
           scratch);
  CHECK(run_recipe(r, NULL, err, sizeof err) == -1 && !strcmp(err, want),
        "binary module:\n  got  '%s'\n  want '%s'", err, want);
}

/* ---- 5. kiln objects ---- */

static void test_objects(void) {
  /* declarations are kiln's own copies: changing the recipe's tables afterwards changes nothing */
  expect_reach("local a = kiln.tensor('x', 'f32', { 4 }, 'in'); a.elem = nil", 0,
               "attempt to index a kiln.arg value (local 'a')");
  expect_reach("local r = kiln.recipe { name = 'u', args = {}, grid = function() return 1 end,\n"
               "  body = function() end }; r.name = nil",
               0, "attempt to index a kiln.recipe value (local 'r')");
  expect_reach("local dims, vals, c = { 4 }, { 1, 2 }, { { B = 2 } }\n"
               "local r = kiln.recipe { name = 'u', tune = { B = vals }, checks = c,\n"
               "  args = { kiln.tensor('x', 'f32', dims, 'in') }, grid = function() return 1 end,\n"
               "  body = function() end }\n"
               "dims[1] = {}; vals[1] = {}; c[1].B = {}; c[1][1] = 5",
               0, NULL);
  /* metatables are locked */
  expect_reach("assert(getmetatable(kiln.tensor('x', 'f32', { 4 }, 'in')) == false)", 0, NULL);
  expect_reach("setmetatable(kiln.tensor('x', 'f32', { 4 }, 'in'), {})", 0,
               "bad argument #1 to 'setmetatable' (table expected, got kiln.arg)");
  /* a value's metatable, the k table's and p's are locked too (checked inside a body) */
  char err[2048];
  const char *path = scratch_file(
      "locked.lua", "local kiln = require 'kiln'\n"
                    "return kiln.recipe { name = 't', params = { n = 4 }, args = { kiln.tensor('x', 'f32', { "
                    "'n' }, 'in') },\n"
                    "  grid = function(p) assert(getmetatable(p) == false) return 1 end,\n"
                    "  body = function(k, p)\n"
                    "    assert(getmetatable(k.args.x) == false and getmetatable(k) == false and "
                    "getmetatable(p) == false)\n"
                    "    assert(not pcall(setmetatable, k, nil) and not pcall(setmetatable, p, {}))\n"
                    "  end }\n");
  CHECK(run_recipe(path, NULL, err, sizeof err) == 0, "locked metatables: %s", err);
  /* under --unsafe-recipe debug.setmetatable can dress a value: kiln refuses it, never crashes */
  kl_options unsafe = {.unsafe = 1};
  path = scratch_file("dressed.lua",
                      "local kiln = require 'kiln'\n"
                      "return kiln.recipe { name = 't', params = { n = 4 }, args = { kiln.tensor('x', 'f32', "
                      "{ 'n' }, 'in') },\n"
                      "  grid = function(p) return 1 end,\n"
                      "  body = function(k, p)\n"
                      "    local fake = debug.setmetatable(io.stdout, debug.getmetatable(k.args.x))\n"
                      "    k.view(fake, { 4 })\n"
                      "  end }\n");
  CHECK(run_recipe(path, &unsafe, err, sizeof err) == -1 &&
            strstr(err, "dressed.lua:6: expected a kiln value, got userdata"),
        "dressed value: %s", err);
}

/* ---- 6. limits ---- */

static void test_limits(void) {
  char err[2048];
  /* finalizers run with hooks off, out of the time limit's reach: a recipe cannot set one */
  kl_options quick = {.time_limit = 0.2};
  expect_reach("setmetatable({}, { __gc = function() while true do end end })", 0,
               "reach.lua:2: recipes cannot set __gc: finalizers run beyond the time limit");
  expect_reach("setmetatable({}, { __gc = true })", 0, "recipes cannot set __gc");
  expect_reach("local mt = {}; local t = setmetatable({}, mt); mt.__gc = function() while true do end end;"
               " t = nil; collectgarbage()",
               0, NULL);
  expect_reach("assert(getmetatable(setmetatable({}, { __index = math })).__index == math)", 0, NULL);
  const char *path;
  /* each evaluation has its own budget: a slow build, then a quick one */
  path = scratch_file("budget.lua", "local kiln = require 'kiln'\n"
                                    "return kiln.recipe { name = 't', params = { slow = 0 }, args = {},\n"
                                    "  grid = function(p) return 1 end,\n"
                                    "  body = function(k, p) while p.slow == 1 do end end }\n");
  kl_recipe *r = kl_recipe_load_opts(path, &quick, err, sizeof err);
  CHECK(r, "%s", err);
  if (!r) return;
  kl_settings s;
  kl_recipe_defaults(r, &s);
  CHECK(kl_settings_apply(r, &s, "slow=1", err, sizeof err) == 0, "%s", err);
  ir_func *fn = kl_recipe_build(r, &s, NULL, err, sizeof err);
  CHECK(!fn && strstr(err, "budget.lua:4: recipe evaluation exceeded 0.2 s"), "slow build: %s", err);
  CHECK(kl_settings_apply(r, &s, "slow=0", err, sizeof err) == 0, "%s", err);
  fn = kl_recipe_build(r, &s, NULL, err, sizeof err);
  CHECK(fn, "a build after a timed-out one: %s", err);
  ir_func_destroy(fn);
  kl_recipe_free(r);
  /* the default limits let the shipped recipes build (their checks run in test_recipes) */
  CHECK(run_recipe("recipes/attention.lua", NULL, err, sizeof err) == 0, "attention: %s", err);
}

/* ---- 7. settings ---- */

static void expect_setting(kl_recipe *r, const char *set, const char *want_value, const char *want_err) {
  char err[1024] = "";
  kl_settings s;
  kl_recipe_defaults(r, &s);
  int rc = kl_settings_apply(r, &s, set, err, sizeof err);
  if (want_err) {
    CHECK(rc == -1 && !strcmp(err, want_err), "'%s':\n  got  '%s'\n  want '%s'", set, err, want_err);
    return;
  }
  char name[64];
  sscanf(set, " %63[A-Za-z_0-9]", name);
  const char *got = kl_settings_get(&s, name);
  CHECK(rc == 0 && got && !strcmp(got, want_value), "'%s': %s, value '%s', want '%s'", set, err,
        got ? got : "", want_value);
}

static void test_settings(void) {
  char err[2048];
  const char *path = scratch_file(
      "knobs.lua",
      "local kiln = require 'kiln'\n"
      "return kiln.recipe { name = 't',\n"
      "  params = { n = 4, layout = { 'bhsd', 'bshd' }, split = { default = 2, values = { 1, 2, 4 } },\n"
      "             exact = false, scale = 'auto' },\n"
      "  tune = { causal = { false, true }, B = { 16, 32 }, only = { default = true, values = { true } } },\n"
      "  args = {}, grid = function(p) return 1 end,\n"
      "  body = function(k, p)\n"
      "    assert(type(p.causal) == 'boolean' and type(p.exact) == 'boolean' and p.only == true)\n"
      "    assert(p.causal == (p.n == 1))\n"
      "  end }\n");
  kl_recipe *r = kl_recipe_load(path, err, sizeof err);
  CHECK(r, "%s", err);
  if (!r) return;
  char want[512];
  /* flags */
  expect_setting(r, "causal=1", "1", NULL);
  expect_setting(r, "causal=true", "1", NULL);
  expect_setting(r, "causal=false", "0", NULL);
  expect_setting(r, "causal = 0 ", "0", NULL);
  expect_setting(r, "exact=true", "1", NULL);
  snprintf(want, sizeof want, "%s: parameter 'causal' is a flag (0, 1, true or false); got '2'", path);
  expect_setting(r, "causal=2", NULL, want);
  snprintf(want, sizeof want, "%s: parameter 'exact' is a flag (0, 1, true or false); got 'yes'", path);
  expect_setting(r, "exact=yes", NULL, want);
  snprintf(want, sizeof want, "%s: parameter 'only' is one of 1; got '0'", path);
  expect_setting(r, "only=false", NULL, want);
  /* closed parameters; numeric knobs stay open */
  expect_setting(r, "layout=bshd", "bshd", NULL);
  snprintf(want, sizeof want, "%s: parameter 'layout' is one of bhsd, bshd; got 'xyz'", path);
  expect_setting(r, "layout=xyz", NULL, want);
  expect_setting(r, "split=4", "4", NULL);
  snprintf(want, sizeof want, "%s: parameter 'split' is one of 1, 2, 4; got '3'", path);
  expect_setting(r, "split=3", NULL, want);
  expect_setting(r, "B=4096", "4096", NULL);
  expect_setting(r, "scale=0.25", "0.25", NULL);
  /* spaces around the name and the value, on either side */
  expect_setting(r, "B= 64", "64", NULL);
  expect_setting(r, "B=64 ", "64", NULL);
  expect_setting(r, " B =\t64", "64", NULL);
  snprintf(want, sizeof want, "%s: parameter 'B' needs a value", path);
  expect_setting(r, "B=  ", NULL, want);
  snprintf(
      want, sizeof want,
      "%s: setting ' = 4' is not NAME=VALUE (parameters: exact, layout, n, scale, split, B, causal, only)",
      path);
  expect_setting(r, " = 4", NULL, want);
  /* p holds booleans for flags; the declared values as text */
  kl_settings s;
  kl_recipe_defaults(r, &s);
  CHECK(kl_settings_apply(r, &s, "n=1", err, sizeof err) == 0 &&
            kl_settings_apply(r, &s, "causal=true", err, sizeof err) == 0,
        "%s", err);
  ir_func *fn = kl_recipe_build(r, &s, NULL, err, sizeof err);
  CHECK(fn, "flags in p: %s", err);
  ir_func_destroy(fn);
  const kl_param *causal = NULL;
  for (int i = 0; i < kl_recipe_nparams(r); i++)
    if (!strcmp(kl_recipe_param(r, i)->name, "causal")) causal = kl_recipe_param(r, i);
  CHECK(causal && causal->flag && causal->closed && causal->is_tune && !strcmp(causal->dflt, "0") &&
            causal->nvalues == 2 && !strcmp(causal->values[1], "1"),
        "the causal knob as a parameter");
  kl_recipe_free(r);
}

int main(void) {
  scratch = test_scratch_dir("kiln-sandbox");
  test_sandboxed_recipes();
  test_options();
  test_reach();
  test_lib_modules();
  test_binary_chunks();
  test_objects();
  test_limits();
  test_settings();
  CHECK(test_rmtree(scratch) == 0, "cannot remove %s", scratch);
  free(scratch);
  return test_done("test_sandbox");
}
