/*
 * cmd_run.c - `kiln run`: compile a recipe, run it on the GPU (or the simulator), and check every
 * element of every output against the recipe's C reference (kiln_run in include/kiln.h).
 *
 *   kiln run RECIPE [--set NAME=VALUE]... [--sim] [--target sm_XX] [--check-all] [--reps N]
 *                   [--seed S] [--tol X] [--no-check] [--profile[=json]] [--tuned DB]
 *
 * Exit status: 0 if every variant passed, 1 if one failed or could not run, 2 for bad usage.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { MAXSETS = 64 };

typedef struct {
  const char *recipe, *target, *reps, *seed, *tol, *profile, *tuned;
  const char *sets[MAXSETS];
  int nsets, sim, check_all, no_check;
  kiln_recipe_opts ropts; /* --unsafe-recipe, --recipe-time, --recipe-mem */
} run_args;

static void usage(FILE *f) {
  fprintf(f, "usage: kiln run RECIPE [--set NAME=VALUE]... [--sim] [--target sm_XX] [--check-all] "
             "[--reps N] [--seed S] [--tol X] [--no-check]\n"
             "                [--profile[=json]] [--tuned DB]\n"
             "                [--unsafe-recipe] [--recipe-time S] [--recipe-mem MIB]\n");
}

static int parse_args(int argc, char **argv, run_args *a) {
  memset(a, 0, sizeof *a);
  const cli_option opts[] = {
      {"--set", CLI_LIST, .value = a->sets, .count = &a->nsets, .max = MAXSETS},
      {"--target", CLI_VALUE, .value = &a->target},
      {"--reps", CLI_VALUE, .value = &a->reps},
      {"--seed", CLI_VALUE, .value = &a->seed},
      {"--tol", CLI_VALUE, .value = &a->tol},
      {"--sim", CLI_FLAG, .flag = &a->sim},
      {"--check-all", CLI_FLAG, .flag = &a->check_all},
      {"--no-check", CLI_FLAG, .flag = &a->no_check},
      {"--profile", CLI_OPT, .value = &a->profile},
      {"--tuned", CLI_VALUE, .value = &a->tuned},
  };
  cli_spec spec = {.command = "run",
                   .opts = opts,
                   .nopts = sizeof opts / sizeof *opts,
                   .input = &a->recipe,
                   .no_input = "no recipe given",
                   .usage = usage};
  if (cli_recipe_opts(&spec, &argc, argv, &a->ropts)) return -1;
  return cli_parse(&spec, argc, argv);
}

static int bad_value(const char *what, const char *value) {
  fprintf(stderr, "kiln run: %s, not %s\n", what, value);
  usage(stderr);
  return -1;
}

static int parse_number(const char *s, double *out) {
  char *end;
  *out = strtod(s, &end);
  return *s && !*end ? 0 : -1;
}

/* The values of --reps, --seed and --tol into o. */
static int parse_values(const run_args *a, kiln_run_opts *o) {
  double v;
  o->reps = 20;
  if (a->reps) {
    if (parse_number(a->reps, &v) || v < 0 || v != floor(v))
      return bad_value("--reps wants a count", a->reps);
    o->reps = (int)v;
  }
  if (a->seed) {
    char *end;
    o->seed = strtoull(a->seed, &end, 0);
    if (!*a->seed || *end) return bad_value("--seed wants an integer", a->seed);
    o->have_seed = 1;
  }
  if (a->profile) {
    if (strcmp(a->profile, "") && strcmp(a->profile, "json") && strcmp(a->profile, "table"))
      return bad_value("--profile wants no value, 'table' or 'json'", a->profile);
    o->profile = strcmp(a->profile, "json") ? 1 : 2;
  }
  if (a->tol) {
    if (parse_number(a->tol, &v) || !(v > 0)) return bad_value("--tol wants a positive number", a->tol);
    o->tol = v;
  }
  return 0;
}

static int run(kiln_session *s, const run_args *a, const kiln_run_opts *o) {
  kiln_recipe *r = NULL;
  kiln_status st = o->target ? kiln_target_check(s, o->target) : KILN_OK;
  if (st == KILN_OK) st = kiln_recipe_load_opts(s, a->recipe, &a->ropts, &r);
  for (int i = 0; st == KILN_OK && i < a->nsets; i++) st = kiln_recipe_set(r, a->sets[i]);
  if (st == KILN_OK && a->tuned) {
    char *what = NULL;
    st = kiln_tune_apply(r, a->tuned, &what);
    if (st == KILN_OK) fprintf(stderr, "kiln run: tuned: %s\n", what ? what : "");
    kiln_free(what);
  }
  if (st == KILN_OK) st = kiln_run(r, o);
  kiln_recipe_free(r);
  if (st == KILN_ERR_CHECK) return 1; /* each variant printed its line */
  return st == KILN_OK ? 0 : cli_fail("run", s, st);
}

int cmd_run(int argc, char **argv) {
  run_args a;
  if (parse_args(argc, argv, &a)) return 2;
  kiln_run_opts o = {.target = a.target, .sim = a.sim, .check_all = a.check_all, .no_check = a.no_check};
  if (parse_values(&a, &o)) return 2;
  kiln_session *s = kiln_session_new();
  if (!s) return fprintf(stderr, "kiln run: out of memory\n"), 1;
  int rc = run(s, &a, &o);
  kiln_session_free(s);
  return rc;
}
