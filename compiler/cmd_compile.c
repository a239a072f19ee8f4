/*
 * cmd_compile.c - `kiln compile`: a recipe (or an IR file) to IR, LLVM IR, PTX or cubin for one target.
 *
 *   kiln compile RECIPE.lua|FILE.ir --target sm_XX [--set NAME=VALUE ...]
 *                [--emit ir|ir-opt|llvm|ptx|cubin|launch|sass] [-o FILE] [--print-after-all] [--verify-each]
 *                [--no-cache] [--specialize] [-v]
 *
 * --emit ir prints the kernel exactly as the recipe built it (kiln opt reads it back to the same
 * text); ir-opt prints it after the default pipeline. Errors are one line naming the place.
 * launch prints, as JSON, the kernel's name, threads, dynamic shared bytes, grid and arguments (what a
 * host program needs next to the PTX). --specialize compiles a kernel for launches whose tensors are
 * 16-byte aligned and whose integers are multiples of 16 where the settings' are (launch lists them). The
 * verifier runs after every pass in builds with assertions (the default) or with --verify-each; sass is the
 * cubin through nvdisasm or cuobjdump (kiln_sass_tool); -v reports whether the PTX came from the kernel
 * cache.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { MAXSETS = 64 };

typedef struct {
  const char *input, *target, *emit, *out;
  const char *sets[MAXSETS];
  int nsets, print_after_all, no_cache, verify_each, verbose, specialize;
  kiln_recipe_opts ropts; /* --unsafe-recipe, --recipe-time, --recipe-mem */
} compile_args;

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: kiln compile RECIPE|FILE.ir --target sm_XX [--set NAME=VALUE ...] [--emit "
      "ir|ir-opt|llvm|ptx|cubin|launch|sass]\n"
      "                    [-o FILE] [--print-after-all] [--verify-each] [--no-cache] [--specialize] [-v]\n"
      "                    [--unsafe-recipe] [--recipe-time S] [--recipe-mem MIB]\n");
}

static int parse_args(int argc, char **argv, compile_args *a) {
  memset(a, 0, sizeof *a);
  a->emit = "ptx";
  const cli_option opts[] = {
      {"--target", CLI_VALUE, .value = &a->target},
      {"--emit", CLI_VALUE, .value = &a->emit},
      {"-o", CLI_VALUE, .value = &a->out},
      {"--set", CLI_LIST, .value = a->sets, .count = &a->nsets, .max = MAXSETS},
      {"--print-after-all", CLI_FLAG, .flag = &a->print_after_all},
      {"--no-cache", CLI_FLAG, .flag = &a->no_cache},
      {"--specialize", CLI_FLAG, .flag = &a->specialize},
      {"--verify-each", CLI_FLAG, .flag = &a->verify_each},
      {"-v", CLI_FLAG, .flag = &a->verbose},
  };
  cli_spec spec = {.command = "compile",
                   .opts = opts,
                   .nopts = sizeof opts / sizeof *opts,
                   .input = &a->input,
                   .no_input = "no input",
                   .usage = usage};
  if (cli_recipe_opts(&spec, &argc, argv, &a->ropts)) return -1;
  return cli_parse(&spec, argc, argv);
}

static int parse_emit(const char *name, kiln_emit *out) {
  for (int e = 0; e < KILN_EMIT_COUNT; e++)
    if (!strcmp(name, kiln_emit_name((kiln_emit)e))) return *out = (kiln_emit)e, 0;
  fprintf(stderr, "kiln compile: unknown --emit '%s' (", name);
  for (int e = 0; e < KILN_EMIT_COUNT; e++)
    fprintf(stderr, "%s%s", e ? ", " : "", kiln_emit_name((kiln_emit)e));
  fprintf(stderr, ")\n");
  return -1;
}

/* The artifact to -o FILE, or stdout ("-" or none); a cubin defaults to kernel.cubin. */
static int write_out(const char *path, const kiln_output *o, kiln_emit emit) {
  if (!path && emit == KILN_EMIT_CUBIN) path = "kernel.cubin";
  if (!path || !strcmp(path, "-")) return fwrite(o->data, 1, o->size, stdout) == o->size ? 0 : -1;
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(o->data, 1, o->size, f) != o->size || fclose(f) != 0) {
    fprintf(stderr, "kiln compile: cannot write %s\n", path);
    return -1;
  }
  return 0;
}

static int compile(kiln_session *s, const compile_args *a, const kiln_compile_opts *co) {
  kiln_recipe *r = NULL;
  kiln_status st = kiln_recipe_load_opts(s, a->input, &a->ropts, &r);
  for (int i = 0; st == KILN_OK && i < a->nsets; i++) st = kiln_recipe_set(r, a->sets[i]);
  kiln_output out;
  if (st == KILN_OK) st = kiln_compile(r, co, &out);
  kiln_recipe_free(r);
  if (st != KILN_OK) return cli_fail("compile", s, st);
  static const char *const cache[] = {"bypassed", "miss", "hit"};
  if (a->verbose && co->emit != KILN_EMIT_IR) {
    fprintf(stderr, "kiln: %s: kernel cache %s", a->input, cache[out.cache_use]);
    if (out.cache_use != KILN_CACHE_HIT)
      fprintf(stderr, "; thread CPU ms: lowering %.1f, LLVM passes %.1f, PTX emission %.1f", out.ms_lower,
              out.ms_llvm_passes, out.ms_ptx);
    fprintf(stderr, "\n");
  }
  int rc = write_out(a->out, &out, co->emit) ? 1 : 0;
  kiln_output_free(&out);
  return rc;
}

int cmd_compile(int argc, char **argv) {
  compile_args a;
  if (parse_args(argc, argv, &a)) return 2;
  kiln_compile_opts co = {.target = a.target,
                          .verify_each = a.verify_each,
                          .print_after_all = a.print_after_all ? stderr : NULL,
                          .no_cache = a.no_cache,
                          .specialize = a.specialize};
  if (parse_emit(a.emit, &co.emit)) return 2;
  kiln_session *s = kiln_session_new();
  if (!s) return fprintf(stderr, "kiln compile: out of memory\n"), 1;
  int rc = a.target && kiln_target_check(s, a.target) ? cli_fail("compile", s, KILN_ERR_USAGE)
                                                      : compile(s, &a, &co);
  kiln_session_free(s);
  return rc;
}
