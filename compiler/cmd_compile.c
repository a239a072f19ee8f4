/*
 * cmd_compile.c - `kiln compile`: a recipe (or an IR file) to IR, LLVM IR, PTX or cubin for one target.
 *
 *   kiln compile RECIPE.lua|FILE.ir --target sm_XX [--set NAME=VALUE ...]
 *                [--emit ir|ir-opt|llvm|ptx|cubin|launch] [-o FILE] [--print-after-all] [--verify-each]
 *                [--no-cache] [-v]
 *
 * --emit ir prints the kernel exactly as the recipe built it (kiln opt reads it back to the same
 * text); ir-opt prints it after the default pipeline. Errors are one line naming the place.
 * launch prints, as JSON, the kernel's name, threads, dynamic shared bytes, grid and arguments (what a
 * host program needs next to the PTX). The verifier runs after every pass in debug builds (NDEBUG unset) or
 * with --verify-each; -v reports whether the PTX came from the kernel cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "driver.h"

typedef struct {
  const char *input, *target, *emit, *out;
  const char *sets[KL_MAXSET];
  int nsets, print_after_all, no_cache, verify_each, verbose;
  kl_options recipe_opts; /* --unsafe-recipe, --recipe-time, --recipe-mem */
} compile_args;

static int parse_args(int argc, char **argv, compile_args *a) {
  memset(a, 0, sizeof *a);
  a->emit = "ptx";
#ifndef NDEBUG
  a->verify_each = 1;
#endif
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int more = i + 1 < argc;
    char why[256];
    int used = kl_options_arg(&a->recipe_opts, argc - i, argv + i, why, sizeof why);
    if (used < 0) {
      fprintf(stderr, "kiln compile: %s\n", why);
      return -1;
    }
    if (used > 0)
      i += used - 1;
    else if (!strcmp(s, "--target") && more)
      a->target = argv[++i];
    else if (!strncmp(s, "--target=", 9))
      a->target = s + 9;
    else if (!strcmp(s, "--emit") && more)
      a->emit = argv[++i];
    else if (!strncmp(s, "--emit=", 7))
      a->emit = s + 7;
    else if (!strcmp(s, "-o") && more)
      a->out = argv[++i];
    else if (!strcmp(s, "--set") && more && a->nsets < KL_MAXSET)
      a->sets[a->nsets++] = argv[++i];
    else if (!strcmp(s, "--print-after-all"))
      a->print_after_all = 1;
    else if (!strcmp(s, "--no-cache"))
      a->no_cache = 1;
    else if (!strcmp(s, "--verify-each"))
      a->verify_each = 1;
    else if (!strcmp(s, "-v"))
      a->verbose = 1;
    else if (s[0] == '-' || a->input) {
      fprintf(stderr, "kiln compile: unexpected argument '%s'\n", s);
      return -1;
    } else
      a->input = s;
  }
  if (!a->input) {
    fprintf(stderr, "kiln compile: no input (usage: kiln compile RECIPE --target sm_XX [--emit ...])\n");
    return -1;
  }
  return 0;
}

static const tg_target *pick_target(const char *name) {
  if (!name) name = "sm_80";
  const tg_target *t = tg_target_lookup(name);
  if (!t) {
    fprintf(stderr, "kiln compile: unknown target '%s' (known:", name);
    for (int i = 0; i < tg_ntargets; i++) fprintf(stderr, " %s", tg_targets[i].name);
    fprintf(stderr, ")\n");
  }
  return t;
}

static int write_out(const char *path, const char *text) {
  if (!path || !strcmp(path, "-")) return fputs(text, stdout) < 0 ? -1 : 0;
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
    fprintf(stderr, "kiln compile: cannot write %s\n", path);
    return -1;
  }
  return 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0, k;
  char *s = malloc(cap);
  while (s && (k = fread(s + n, 1, cap - n - 1, f)) > 0) {
    n += k;
    if (cap - n < 2) s = realloc(s, cap *= 2);
  }
  fclose(f);
  if (s) s[n] = 0;
  return s;
}

/* Builds the kernel IR from the input (recipe or IR text). */
static ir_func *load_ir(compile_args *a, kl_recipe **rp, kl_settings *s, const tg_target *t, char *err,
                        size_t errn) {
  if (ends_with(a->input, ".ir")) {
    if (a->nsets) {
      snprintf(err, errn, "--set applies to recipes, not to IR files (%s)", a->input);
      return NULL;
    }
    char *text = read_file(a->input);
    if (!text) {
      snprintf(err, errn, "cannot read %s", a->input);
      return NULL;
    }
    ir_func *fn = ir_parse(text, a->input, err, errn, NULL);
    free(text);
    return fn;
  }
  kl_recipe *r = kl_recipe_load_opts(a->input, &a->recipe_opts, err, errn);
  if (!r) return NULL;
  *rp = r;
  kl_recipe_defaults(r, s);
  for (int i = 0; i < a->nsets; i++)
    if (kl_settings_apply(r, s, a->sets[i], err, errn)) return NULL;
  return kl_recipe_build(r, s, t, err, errn);
}

/* --emit launch: what a host program needs to launch the kernel (JSON). The grid and the argument
 * shapes come from the recipe for the settings; for an IR file they are absent. */
static char *launch_json(kl_recipe *r, const kl_settings *s, const cg_result *res, const tg_target *t,
                         char *err, size_t errn) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f) return NULL;
  fprintf(f, "{\n  \"kernel\": \"%s\",\n  \"target\": \"%s\",\n  \"threads\": %d,\n  \"shared_bytes\": %d",
          res->kernel_name, t->name, res->threads, res->shared_bytes);
  int rc = 0;
  if (r) {
    int64_t g[3];
    kl_arg args[KL_MAXARGS];
    int na = kl_recipe_args(r, s, args, KL_MAXARGS, err, errn);
    rc = na < 0 || kl_recipe_grid(r, s, g, err, errn) ? -1 : 0;
    if (!rc) {
      fprintf(f, ",\n  \"grid\": [%lld, %lld, %lld],\n  \"args\": [", (long long)g[0], (long long)g[1],
              (long long)g[2]);
      for (int i = 0; i < na; i++) {
        const kl_arg *x = &args[i];
        fprintf(f, "%s\n    {\"name\": \"%s\", \"kind\": \"%s\", \"type\": \"%s\"", i ? "," : "", x->name,
                x->is_tensor ? "tensor" : "scalar", ir_elem_name(x->elem));
        if (x->is_tensor) {
          fprintf(f, ", \"shape\": [");
          for (int d = 0; d < x->rank; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)x->dims[d]);
          fprintf(f, "], \"role\": \"%s\"}", x->role == KL_IN ? "in" : x->role == KL_OUT ? "out" : "inout");
        } else if (ir_elem_is_float(x->elem))
          fprintf(f, ", \"value\": %.17g}", x->fval);
        else
          fprintf(f, ", \"value\": %lld}", (long long)x->ival);
      }
      fprintf(f, "\n  ]");
    }
  }
  fprintf(f, "\n}\n");
  fclose(f);
  if (rc) free(buf);
  return rc ? NULL : buf;
}

static int emit(compile_args *a, kl_recipe *r, const kl_settings *s, ir_func *fn, const tg_target *t,
                char *err, size_t errn) {
  if (!strcmp(a->emit, "ir")) {
    char *text = ir_print(fn);
    int rc = write_out(a->out, text);
    free(text);
    return rc;
  }
  kiln_opts o = {.target = t,
                 .backend = CG_NVPTX,
                 .verify_each = a->verify_each,
                 .print_after_all = a->print_after_all ? stderr : NULL};
  cg_result res;
  /* ir-opt needs the pipeline's IR and llvm the LLVM module: the cache keeps only PTX */
  o.no_cache = a->no_cache || !strcmp(a->emit, "ir-opt") || !strcmp(a->emit, "llvm");
  if (kiln_compile_ir(fn, &o, &res, err, errn)) return -1;
  if (a->verbose)
    fprintf(stderr, "kiln: %s: kernel cache %s\n", a->input,
            o.no_cache    ? "bypassed"
            : o.cache_hit ? "hit"
                          : "miss");
  int rc = 0;
  if (!strcmp(a->emit, "ir-opt")) {
    char *text = ir_print(fn);
    rc = write_out(a->out, text);
    free(text);
  } else if (!strcmp(a->emit, "llvm")) {
    rc = write_out(a->out, res.llvm_ir);
  } else if (!strcmp(a->emit, "ptx")) {
    rc = write_out(a->out, res.ptx);
  } else if (!strcmp(a->emit, "launch")) {
    char *json = launch_json(r, s, &res, t, err, errn);
    rc = json ? write_out(a->out, json) : -1;
    free(json);
  } else {
    const char *path = a->out ? a->out : "kernel.cubin";
    char info[4096];
    int st = kiln_ptxas(res.ptx, t->name, path, info, sizeof info, err, errn);
    rc = st == 0 ? 0 : -1;
  }
  cg_result_free(&res);
  return rc;
}

int cmd_compile(int argc, char **argv) {
  compile_args a;
  if (parse_args(argc, argv, &a)) return 2;
  static const char *emits[] = {"ir", "ir-opt", "llvm", "ptx", "cubin", "launch"};
  int known = 0;
  for (size_t i = 0; i < sizeof emits / sizeof *emits; i++) known |= !strcmp(a.emit, emits[i]);
  if (!known) {
    fprintf(stderr, "kiln compile: unknown --emit '%s' (ir, ir-opt, llvm, ptx, cubin, launch)\n", a.emit);
    return 2;
  }
  const tg_target *t = pick_target(a.target);
  if (!t) return 2;
  char err[2048] = "";
  kl_recipe *r = NULL;
  kl_settings s = {0};
  ir_func *fn = load_ir(&a, &r, &s, t, err, sizeof err);
  int rc = fn ? emit(&a, r, &s, fn, t, err, sizeof err) : -1;
  if (rc && err[0]) fprintf(stderr, "%s\n", err);
  ir_func_destroy(fn);
  kl_recipe_free(r);
  return rc ? 1 : 0;
}
