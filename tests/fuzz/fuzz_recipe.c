/*
 * fuzz_recipe.c - libFuzzer target: recipe text through the recipe loader, then, for the recipe's
 * default settings on sm_80, the IR build (the body), the argument list and the grid.
 *
 * Every input is written to one file in a private folder (the loader reads recipes from files, the
 * way kiln does), beside a copy of recipes/lib/ so that the attention recipes find their module.
 * Errors are expected and fine; a crash, a sanitizer report or a hang is a finding.
 *
 * Until the recipe sandbox limits what a recipe can reach, inputs that name the host's libraries as
 * globals (os, io, package, debug, load, dofile, _G, _ENV, getmetatable; require of anything but
 * "kiln" and recipes/lib's modules) are skipped, so that a mutated recipe never runs commands or
 * writes files on the fuzzing machine. A field of the same name (`k.load`) is not a global.
 */
#include <ctype.h>
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

static const char *const banned[] = {"os",     "io", "package", "debug",        "load",    "loadfile",
                                     "dofile", "_G", "_ENV",    "getmetatable", "require", "loadstring"};

static char path[300];       /* <dir>/fuzz.lua */
static char modules[16][64]; /* recipes/lib's modules: "attention_layout" */
static int nmodules;

/* `require` followed by "kiln" or a module of recipes/lib, in either quotes, with or without ( ). */
static int allowed_require(const char *p) {
  p += 7;
  while (isspace((unsigned char)*p) || *p == '(') p++;
  if (*p != '"' && *p != '\'') return 0;
  char q = *p++;
  const char *end = strchr(p, q);
  if (!end) return 0;
  size_t n = (size_t)(end - p);
  if (n == 4 && !memcmp(p, "kiln", 4)) return 1;
  for (int i = 0; i < nmodules; i++)
    if (strlen(modules[i]) == n && !memcmp(p, modules[i], n)) return 1;
  return 0;
}

/* 1 if a global named in text is one of the banned names (inside strings and comments too: cheap
 * and conservative). A name right after a single '.' or a ':' is a field or method, not a global. */
static int names_host(const char *text) {
  for (const char *p = text; *p;) {
    if (!isalpha((unsigned char)*p) && *p != '_') {
      p++;
      continue;
    }
    const char *s = p;
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    size_t n = (size_t)(p - s);
    const char *b = s;
    while (b > text && isspace((unsigned char)b[-1])) b--;
    int field = b > text && (b[-1] == ':' || (b[-1] == '.' && !(b - 1 > text && b[-2] == '.')));
    for (size_t i = 0; i < sizeof banned / sizeof banned[0] && !field; i++)
      if (strlen(banned[i]) == n && !memcmp(s, banned[i], n) && !(n == 7 && allowed_require(s))) return 1;
  }
  return 0;
}

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
  int skip = strlen(text) != size || names_host(text);
  if (!skip) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, size, f) != size || fclose(f)) abort();
  }
  free(text);
  if (skip) return 0;
  char err[2048];
  kl_recipe *r = kl_recipe_load(path, err, sizeof err);
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
