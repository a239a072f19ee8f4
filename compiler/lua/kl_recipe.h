/*
 * kl_recipe.h - recipes: Lua 5.4 programs that declare a kernel's parameters, tuning space, grid
 * rule, arguments, reference, and a body that builds tile IR through the `kiln` Lua module.
 *
 * A recipe file returns `kiln.recipe{...}` (docs/recipes.md). The C side loads it once and then,
 * for any settings (problem sizes + tuning knobs, all given as name=value strings), asks for the
 * kernel IR, the concrete argument list, and the launch grid. Every error that comes from the recipe
 * names the recipe file and line ("recipes/softmax.lua:12: ...").
 *
 * A kl_recipe owns one Lua state: use it from one thread at a time (load one per thread to build
 * variants in parallel).
 *
 * Recipes are code from someone else: the state is a sandbox (the base library without file access
 * or binary chunks, string, table, math, utf8, os.clock/os.time, `require` limited to the recipe's
 * lib/), text chunks only, with a wall-time budget per evaluation and a memory cap (kl_options).
 */
#ifndef KILN_KL_RECIPE_H
#define KILN_KL_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include "../../ir/ir.h"
#include "../../target/target.h"

typedef struct kl_recipe kl_recipe;

enum { KL_MAXSET = 64, KL_MAXARGS = 32 };

typedef struct {
  const char *name; /* "M", "BLOCK_N", "dtype" */
  char value[64];   /* "1024", "f16" */
  int given;        /* 1: set by kl_settings_apply; 0: the default (a computed one follows the rest) */
} kl_setting;

typedef struct {
  int n;
  kl_setting v[KL_MAXSET];
  const tg_target *target; /* the target computed defaults see (their second argument); NULL: none known
                              (kl_recipe_defaults), set by kl_settings_target */
} kl_settings;

typedef struct {
  const char *name;
  int is_tune;   /* 1: a tuning knob; 0: a problem parameter (size) */
  char dflt[64]; /* default value as text (a flag's is "0" or "1") */
  int nvalues;   /* the declared values: a knob's space, or a parameter's allowed values */
  const char *values[32];
  int closed;          /* 1: a setting must be one of the values (strings, flags, listed parameters) */
  int flag;            /* 1: a boolean: set as 0, 1, true or false, held as "0"/"1", a Lua boolean in p */
  int computed;        /* 1: the default is a function(p) of the other settings (dflt: its value when every
                          other parameter has its default); 0: dflt is the default */
  int fn_ref, fn_line; /* computed: the function (a registry reference) and its first line */
  const char *fn_file; /* computed: the file that line is in (the recipe, or a module it requires) */
} kl_param;

/* How recipes run (docs/recipes.md, "What a recipe can reach"). All zero: the defaults. */
typedef struct {
  int unsafe;        /* 1: the whole Lua standard library and binary chunks: trusted recipes only */
  double time_limit; /* seconds of wall time per evaluation (file, body, grid, ...); 0: 10 */
  double mem_limit;  /* MiB of Lua heap (and kernel IR being built); 0: 1024 */
} kl_options;

enum { KL_TIME_LIMIT = 10, KL_MEM_LIMIT = 1024 };

/* Reads one command-line option of kl_options from argv[0] (and its value argv[1]): --unsafe-recipe,
 * --recipe-time S, --recipe-mem MIB (also as --opt=value). Returns the number of arguments used, 0
 * when argv[0] is not one of them, -1 with a message in err for a bad or missing value. */
int kl_options_arg(kl_options *o, int argc, char **argv, char *err, size_t errn);

enum { KL_IN = 1, KL_OUT = 2, KL_INOUT = 3 };

typedef struct {
  const char *name;
  int is_tensor; /* 1: pointer to a tensor in global memory; 0: a scalar */
  ir_elem elem;
  int rank;        /* tensors */
  int64_t dims[3]; /* tensors: concrete shape for the settings */
  int role;        /* tensors: KL_IN / KL_OUT / KL_INOUT */
  int64_t ival;    /* scalars of integer type */
  double fval;     /* scalars of float type */
} kl_arg;

kl_recipe *kl_recipe_load(const char *path, char *err, size_t errn); /* default kl_options */
kl_recipe *kl_recipe_load_opts(const char *path, const kl_options *o, char *err, size_t errn);
void kl_recipe_free(kl_recipe *r);
const char *kl_recipe_name(kl_recipe *r);
const char *kl_recipe_path(kl_recipe *r);
const char *kl_recipe_reference(kl_recipe *r); /* name of the built-in C reference (compiler/ref), or NULL */

/* The reference a recipe declares (docs/recipes.md): a built-in name, a Lua function, or a C
 * function in a shared object beside the recipe. */
typedef enum { KL_REF_NONE, KL_REF_BUILTIN, KL_REF_LUA, KL_REF_C } kl_ref_kind;
typedef struct {
  kl_ref_kind kind;
  const char *name;   /* built-in: its name; C: the shared object as declared ("myref.so") */
  const char *path;   /* C: the shared object's path, relative to the recipe's folder */
  const char *symbol; /* C: the function */
  int line;           /* Lua: the function's first line; else the kiln.recipe call's */
  const char *file;   /* the file of line: the recipe, or (Lua) the module the function is in */
} kl_reference;
const kl_reference *kl_recipe_reference_decl(kl_recipe *r);

/* How kiln run judges float outputs (the recipe's `check` field): the relative measure against a
 * tolerance, or the kernel's max abs error against factor x that of the low-precision reference. */
typedef enum { KL_CRIT_RELATIVE, KL_CRIT_VS_LOWP } kl_criterion;
typedef struct {
  kl_criterion criterion;
  double factor; /* vs_lowp: 2 unless declared */
  double tol;    /* relative: 0 = the element types' budget */
} kl_check_rule;
const kl_check_rule *kl_recipe_check_rule(kl_recipe *r);

/* Calls the recipe's Lua reference (kind KL_REF_LUA) as reference(t, p, r): t.NAME is a flat,
 * 1-based, row-major list of numbers for a tensor (with t.NAME.shape) or a number for a scalar; p the
 * settings; r = {precision = "f64" | "f16" ..., round = function(x)}. Outputs are read back from t;
 * an element left nil or not a number reads as NaN. -1 with "FILE:LINE: message" on a Lua error. */
int kl_recipe_call_reference(kl_recipe *r, const kl_settings *s, const kl_arg *args, double **data, int nargs,
                             const char *precision, double (*round)(const char *, double), char *err,
                             size_t errn);

int kl_recipe_nparams(kl_recipe *r);
const kl_param *kl_recipe_param(kl_recipe *r, int i);

/* Fills s with every parameter's default (none given). */
void kl_recipe_defaults(kl_recipe *r, kl_settings *s);
/* Applies "NAME=VALUE" to s (given from then on), then recomputes the computed defaults of the knobs
 * s does not give; -1 with a message naming NAME if it is not a parameter of the recipe or the value
 * is malformed, or "FILE:LINE: ..." naming the knob whose default function fails or gives a value
 * its knob does not accept. On -1, s is left as it was. */
int kl_settings_apply(kl_recipe *r, kl_settings *s, const char *name_eq_value, char *err, size_t errn);
/* nv[0..n) applied as kl_settings_apply applies each, the computed defaults derived once after the
 * last (the recipe's checks entries: one derivation where there was one a setting); on an error s is
 * as it was. */
int kl_settings_apply_all(kl_recipe *r, kl_settings *s, const char **nv, int n, char *err, size_t errn);
const char *kl_settings_get(const kl_settings *s, const char *name);
/* 1 if s gives NAME (kl_settings_apply), 0 if it holds the default or lacks it. */
int kl_settings_given(const kl_settings *s, const char *name);
/* Recomputes the computed defaults of the knobs s does not give (kl_settings_apply does it after
 * each setting); 0, or -1 with "FILE:LINE: ..." in err and s unchanged. */
int kl_settings_derive(kl_recipe *r, kl_settings *s, char *err, size_t errn);
/* Makes t (NULL: none) the target s's computed defaults see, and recomputes them; 0, or -1 as
 * kl_settings_derive with s unchanged. A recipe whose defaults read no target gets the same values. */
int kl_settings_target(kl_recipe *r, kl_settings *s, const tg_target *t, char *err, size_t errn);

/* Runs the body: returns verified IR, or NULL with "file:line: message" in err. */
ir_func *kl_recipe_build(kl_recipe *r, const kl_settings *s, const tg_target *t, char *err, size_t errn);
/* Kernel arguments in order, with concrete shapes and scalar values. Returns the count or -1. */
int kl_recipe_args(kl_recipe *r, const kl_settings *s, kl_arg *out, int max, char *err, size_t errn);
/* Launch grid (programs per axis). */
int kl_recipe_grid(kl_recipe *r, const kl_settings *s, int64_t grid[3], char *err, size_t errn);
/* The recipe's `constraints` on the settings (the tuner's pruning): 0 if every constraint function
 * accepts s, 1 with the refusing one's reason in why ("FILE:LINE: constraints[i] refuses it" when it
 * gives none), -1 with "FILE:LINE: message" in err when one raises an error. */
int kl_recipe_constraints(kl_recipe *r, const kl_settings *s, char *why, size_t whyn, char *err, size_t errn);
/* Launch rules as expressions of the problem sizes (kl_trace.c; the form is docs/packs.md's
 * "Expressions"): the sizes are the whole-number parameters the kernel also takes as a scalar of the
 * same name; grid, tensor dims and scalar values are written in terms of them for the settings s. */
enum { KL_MAXSIZES = 16, KL_EXPR_MAX = 256 };
typedef struct {
  int nsizes;
  const char *sizes[KL_MAXSIZES]; /* parameter names, in kl_recipe_param order (sorted by name) */
  int64_t bucket[KL_MAXSIZES];    /* their values in s */
  char grid[3][KL_EXPR_MAX];
  int nargs;
  char dims[KL_MAXARGS][3][KL_EXPR_MAX]; /* tensors */
  char value[KL_MAXARGS][KL_EXPR_MAX];   /* scalars: an expression, or "#X" for a float constant */
} kl_launch_rule;
/* 0, or -1 with "FILE:LINE: message" (a rule that compares or converts a size cannot be data). */
int kl_recipe_launch_rule(kl_recipe *r, const kl_settings *s, kl_launch_rule *out, char *err, size_t errn);

/* The variants `make demo` and the tests exercise: a list of settings overrides (e.g. shapes with
 * ragged edges), declared by the recipe as `checks = { {M=..., N=...}, ... }`. Returns the count. */
int kl_recipe_checks(kl_recipe *r, kl_settings *out, int max);

#endif
