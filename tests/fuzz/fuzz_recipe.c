/*
 * fuzz_recipe.c - libFuzzer target: recipe text through the recipe loader, then, for the recipe's
 * default settings on sm_80, the IR build (the body), the argument list and the grid.
 *
 * Every input is written to one file in a private folder (the loader reads recipes from files, the
 * way kiln does), beside a copy of recipes/lib/ so that the attention recipes find their module.
 * Errors are expected and fine; a crash, a sanitizer report or a hang is a finding.
 *
 * Recipes run in the recipe sandbox (no io, os, package, debug; require only from lib/), with a
 * 1-second time limit and a 256 MiB memory cap per evaluation, well inside libFuzzer's -timeout and
 * -rss_limit_mb: an input that hangs or exhausts memory is a sandbox bug, a finding like a crash.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler/lua/kl_recipe.h"
#include "target/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[300];       /* <dir>/fuzz.lua */
static char modules[16][64]; /* recipes/lib's modules: "attention_layout" */
static int nmodules;

static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  if (!in || !out) abort();
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;)
    if (fwrite(buf, 1, n, out) != n) abort();
  fclose(in);
  if (fclose(out)) abort();
}

static char dir[] = "/tmp/kiln-fuzz-recipe-XXXXXX";

/* At exit: the folder and what make_dir put there. */
static void remove_dir(void) {
  char p[600];
  unlink(path);
  for (int i = 0; i < nmodules; i++) {
    snprintf(p, sizeof p, "%s/lib/%s.lua", dir, modules[i]);
    unlink(p);
  }
  snprintf(p, sizeof p, "%s/lib", dir);
  rmdir(p);
  rmdir(dir);
}

/* A private folder with lib/ holding copies of the .lua files of recipes/lib. */
static void make_dir(void) {
  char lib[300], from[600], to[600];
  if (!mkdtemp(dir)) abort();
  atexit(remove_dir);
  snprintf(path, sizeof path, "%s/fuzz.lua", dir);
  snprintf(lib, sizeof lib, "%s/lib", dir);
  if (mkdir(lib, 0755)) abort();
  DIR *d = opendir(KILN_SOURCE_DIR "/recipes/lib");
  for (struct dirent *e; d && (e = readdir(d));) {
    size_t n = strlen(e->d_name);
    if (n < 5 || n - 4 >= sizeof modules[0] || strcmp(e->d_name + n - 4, ".lua") || nmodules == 16) continue;
    snprintf(modules[nmodules++], sizeof modules[0], "%.*s", (int)(n - 4), e->d_name);
    snprintf(from, sizeof from, "%s/recipes/lib/%s", KILN_SOURCE_DIR, e->d_name);
    snprintf(to, sizeof to, "%s/%s", lib, e->d_name);
    copy_file(from, to);
  }
  if (d) closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  if (!path[0]) make_dir();
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(text, 1, size, f) != size || fclose(f)) abort();
  free(text);
  char err[2048];
  const kl_options limits = {.time_limit = 1, .mem_limit = 256};
  kl_recipe *r = kl_recipe_load_opts(path, &limits, err, sizeof err);
  if (!r) return 0;
  kl_settings s;
  kl_recipe_defaults(r, &s);
  ir_func *fn = kl_recipe_build(r, &s, tg_target_lookup("sm_80"), err, sizeof err);
  if (fn) {
    kl_arg args[KL_MAXARGS];
    int64_t grid[3];
    kl_recipe_args(r, &s, args, KL_MAXARGS, err, sizeof err);
    kl_recipe_grid(r, &s, grid, err, sizeof err);
    ir_func_destroy(fn);
  }
  kl_recipe_free(r);
  return 0;
}
