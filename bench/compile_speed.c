/*
 * compile_speed.c - how long kiln takes from recipe to PTX, per variant, on one core.
 *
 *   compile_speed [RECIPE_DIR] [--target sm_XX] [--reps N]
 *
 * For each recipe in RECIPE_DIR (default: recipes) and a few variants of it (its defaults, its first
 * `checks` entries, and the second value of each tuning knob), the clock runs over everything a cold
 * compile does: load the recipe, build the IR, run the pass pipeline, lower to LLVM IR and emit
 * PTX, with the kernel cache bypassed. Each variant is compiled N times (default 5) and the median
 * kept. The process is pinned to one core. Prints a markdown table against the target of 50 ms per
 * variant as a ratio (below 1.00 meets it). A benchmark, not a test: it fails only if a compile does.
 */
#include <dirent.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/api/driver.h"

enum { MAX_VARIANTS = 5, MAX_RECIPES = 64 };
static const double TARGET_MS = 50.0;

typedef struct {
  const char *dir, *target;
  int reps;
} bench_args;

typedef struct {
  char desc[160];
  const char *sets[KL_MAXSET];
  char bufs[KL_MAXSET][160];
  int nsets;
} variant;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Adds NAME=VALUE to the variant; the description shows it only if it differs from the default. */
static void add_set(variant *v, const char *name, const char *value, const char *dflt) {
  if (v->nsets == KL_MAXSET) return;
  snprintf(v->bufs[v->nsets], sizeof v->bufs[0], "%s=%s", name, value);
  v->sets[v->nsets] = v->bufs[v->nsets];
  v->nsets++;
  if (dflt && !strcmp(dflt, value)) return;
  size_t n = strlen(v->desc);
  snprintf(v->desc + n, sizeof v->desc - n, "%s%s=%s", n ? " " : "", name, value);
}

static const char *default_of(kl_recipe *r, const char *name) {
  for (int i = 0; i < kl_recipe_nparams(r); i++)
    if (!strcmp(kl_recipe_param(r, i)->name, name)) return kl_recipe_param(r, i)->dflt;
  return NULL;
}

/* The first value of a tuning knob other than its default, or NULL. */
static const char *other_value(const kl_param *p) {
  for (int i = 0; p->is_tune && i < p->nvalues; i++)
    if (strcmp(p->values[i], p->dflt)) return p->values[i];
  return NULL;
}

/* defaults; up to two checks entries; one other value of each tuning knob. */
static int pick_variants(kl_recipe *r, variant *out) {
  int n = 0;
  memset(out, 0, MAX_VARIANTS * sizeof *out);
  snprintf(out[n++].desc, sizeof out[0].desc, "defaults");
  kl_settings checks[2];
  int nc = kl_recipe_checks(r, checks, 2);
  for (int i = 0; i < nc && n < MAX_VARIANTS; i++, n++)
    for (int j = 0; j < checks[i].n; j++)
      add_set(&out[n], checks[i].v[j].name, checks[i].v[j].value, default_of(r, checks[i].v[j].name));
  for (int i = 0; i < kl_recipe_nparams(r) && n < MAX_VARIANTS; i++) {
    const kl_param *p = kl_recipe_param(r, i);
    const char *v = other_value(p);
    if (v) add_set(&out[n++], p->name, v, NULL);
  }
  return n;
}

/* One cold compile of a variant, recipe load included. Returns ms, or -1 with err. */
static double compile_once(const char *path, const variant *v, const tg_target *t, char *err, size_t errn) {
  double t0 = now_ms();
  kl_recipe *r = kl_recipe_load(path, err, errn);
  if (!r) return -1;
  kl_settings s;
  kl_recipe_defaults(r, &s);
  int rc = 0;
  for (int i = 0; i < v->nsets && !rc; i++) rc = kl_settings_apply(r, &s, v->sets[i], err, errn);
  driver_opts o = {.target = t, .backend = CG_NVPTX, .no_cache = 1};
  cg_result res;
  memset(&res, 0, sizeof res);
  if (!rc) rc = driver_compile_recipe(r, &s, &o, NULL, &res, err, errn);
  double ms = now_ms() - t0;
  if (!rc && !res.ptx) snprintf(err, errn, "no PTX produced"), rc = -1;
  cg_result_free(&res);
  kl_recipe_free(r);
  return rc ? -1 : ms;
}

static int bench_variant(const bench_args *a, const char *path, const char *name, const variant *v,
                         const tg_target *t, double *sum_log, int *nrows, int *nmet) {
  double ms[32];
  char err[2048] = "";
  int reps = a->reps < 32 ? a->reps : 32;
  for (int i = 0; i < reps; i++)
    if ((ms[i] = compile_once(path, v, t, err, sizeof err)) < 0) {
      fprintf(stderr, "compile_speed: %s (%s): %s\n", name, v->desc, err);
      return -1;
    }
  qsort(ms, (size_t)reps, sizeof ms[0], cmp_double);
  double med = ms[reps / 2], ratio = med / TARGET_MS;
  printf("| %s | %s | %s | %.2f | %.2f | %.2f | %s |\n", name, v->desc, t->name, med, ms[0], ratio,
         ratio <= 1 ? "yes" : "no");
  *sum_log += log(ratio);
  ++*nrows;
  *nmet += ratio <= 1;
  return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_recipes(const char *dir, char **out) {
  DIR *d = opendir(dir);
  int n = 0;
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d)) && n < MAX_RECIPES;) {
    size_t len = strlen(e->d_name);
    if (len > 4 && !strcmp(e->d_name + len - 4, ".lua")) out[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(out, (size_t)n, sizeof *out, by_name);
  return n;
}

static int parse(int argc, char **argv, bench_args *a) {
  *a = (bench_args){"recipes", "sm_90a", 5};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--target") && i + 1 < argc)
      a->target = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      a->reps = atoi(argv[++i]);
    else if (argv[i][0] != '-')
      a->dir = argv[i];
    else
      return fprintf(stderr, "usage: compile_speed [RECIPE_DIR] [--target sm_XX] [--reps N]\n"), -1;
  }
  if (a->reps < 1) a->reps = 1;
  return 0;
}

static void pin_one_core(void) {
  cpu_set_t set, mine;
  if (sched_getaffinity(0, sizeof mine, &mine)) return;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &mine)) {
      CPU_ZERO(&set);
      CPU_SET(c, &set);
      sched_setaffinity(0, sizeof set, &set);
      return;
    }
}

typedef struct {
  double sum_log; /* of the ratios, for the geometric mean */
  int rows, met;
} bench_totals;

/* Every variant of one recipe file; -1 if it does not load or a variant does not compile. */
static int bench_recipe(const bench_args *a, const char *file, const tg_target *t, bench_totals *tot) {
  char path[4096], err[2048] = "";
  snprintf(path, sizeof path, "%s/%s", a->dir, file);
  kl_recipe *r = kl_recipe_load(path, err, sizeof err);
  if (!r) return fprintf(stderr, "compile_speed: %s\n", err), -1;
  variant v[MAX_VARIANTS];
  int nv = pick_variants(r, v), failed = 0;
  for (int j = 0; j < nv; j++)
    failed |= bench_variant(a, path, kl_recipe_name(r), &v[j], t, &tot->sum_log, &tot->rows, &tot->met) != 0;
  kl_recipe_free(r);
  return failed ? -1 : 0;
}

int main(int argc, char **argv) {
  bench_args a;
  if (parse(argc, argv, &a)) return 2;
  const tg_target *t = tg_target_lookup(a.target);
  char *names[MAX_RECIPES];
  int n = list_recipes(a.dir, names), failed = 0;
  if (!t || n < 0)
    return fprintf(stderr, "compile_speed: %s\n", t ? "cannot read the recipe directory" : "unknown target"),
           2;
  pin_one_core();
  printf("| recipe | variant | target | ms (median of %d) | ms (min) | ratio to %.0f ms | met |\n", a.reps,
         TARGET_MS);
  printf("|---|---|---|---|---|---|---|\n");
  bench_totals tot = {0};
  for (int i = 0; i < n; i++) failed |= bench_recipe(&a, names[i], t, &tot) != 0;
  if (tot.rows)
    printf("\n%d of %d variants under %.0f ms; geometric mean ratio %.2f\n", tot.met, tot.rows, TARGET_MS,
           exp(tot.sum_log / tot.rows));
  for (int i = 0; i < n; i++) free(names[i]);
  return failed;
}
