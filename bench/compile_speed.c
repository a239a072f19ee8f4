/*
 * compile_speed.c - how long kiln takes from recipe to PTX, per variant, on one core, over a sample of
 * every recipe's tuning space.
 *
 *   compile_speed [RECIPE_DIR] [--target sm_XX] [--reps N] [--random N] [--seed S] [--all]
 *                 [--only RECIPE] [--no-ptxas] [--general]
 *
 * The sample, per recipe in RECIPE_DIR (default: recipes): its defaults; its largest tiles (of the
 * BLOCK and BLOCK_* knobs' values, the combination with the most elements that the recipe's constraints
 * accept, the other knobs at their defaults); and N (default 20) random variants, every tuning knob drawn
 * uniformly from its declared values with a seeded generator, kept when the constraints accept it and
 * it compiles (a draw kiln refuses, e.g. for its shared memory, is counted and drawn again: up to 8N
 * draws compiled, 100N that the constraints refuse, 200N in all). The clock runs over everything a cold
 * compile does: load the recipe, build the IR, run the pass pipeline, lower to LLVM IR and emit PTX, with the
 * kernel cache bypassed. It is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other processes on a
 * shared machine do not count; each variant is compiled N times (default 3) and the median kept. ptxas (on
 * PATH or in /usr/local/cuda/bin) then assembles the PTX once (-v): its CPU time (the child's user + system)
 * is reported beside, and how many of the recipe's variants spill (--all: each variant's registers and
 * spilled bytes).
 *
 * Prints one row per recipe (variants, median, maximum and the slowest variant; ptxas median and
 * maximum), then the compile's steps (the front end: recipe, IR and kiln's passes; kiln's lowering to
 * LLVM IR; LLVM's passes; NVPTX code generation to PTX), their medians per recipe and their shares of
 * the whole, and the totals against the targets: median <= 20 ms and maximum <= 50 ms per variant.
 * --all also prints every variant, with its steps. The process is pinned to one core. A benchmark, not a
 * test: it fails only if a variant the recipe accepts does not compile for a reason other than a refusal.
 *
 * Each variant is the kernel `kiln run` and `kiln tune` compile for a launch at the recipe's sizes:
 * specialised on its arguments' alignment (driver_specialize: the tensors and the integers that are
 * multiples of 16), so that copies proven aligned carry no run-time test and fallback. --general
 * compiles the kernels any launch may use instead (what `kiln compile` and packs give by default).
 */
#include <dirent.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compiler/api/driver.h"

enum { MAX_SAMPLE = 130, MAX_RECIPES = 64, MAX_REPS = 32 };
/* A compile's steps: everything before codegen (the recipe's load and Lua, the IR and kiln's passes),
 * kiln's lowering to LLVM IR, LLVM's pass pipeline, NVPTX code generation (cg_result's times). */
enum { NPHASES = 4 };
static const char *const phase_names[NPHASES] = {"front end", "lowering", "LLVM passes", "PTX emission"};
static double *phase_all[NPHASES]; /* every variant's step times, in sample order */
static char phase_rows[MAX_RECIPES][160];
static int nphase_rows;
static const double TARGET_MEDIAN_MS = 20.0, TARGET_MAX_MS = 50.0;
static int specialize = 1;      /* 0 with --general */
static int nspilled, nreported; /* variants whose ptxas report shows spills; variants with a report */

typedef struct {
  const char *dir, *target, *only;
  int reps, random, all, ptxas, general;
  uint64_t seed;
} bench_args;

typedef struct {
  char desc[256];
  kl_settings s;
} variant;

typedef struct {
  char desc[256];
  double ms, ptxas_ms; /* ptxas_ms < 0: not run */
  double ph[NPHASES];  /* the compile's steps (phase_names), each the median over the reps */
  int regs, spill;     /* ptxas -v: registers a thread, spill store + load bytes (-1: not run) */
} sample_row;

/* ---- clocks and the random generator ---- */

static double thread_cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof v[0], cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* splitmix64: the same sample for the same seed on every machine. */
static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* ---- variants ---- */

/* Sets NAME=VALUE in v; the description shows it only when it differs from the default (always for
 * a knob whose default is computed from the others). */
static int set_knob(kl_recipe *r, variant *v, const kl_param *p, const char *value) {
  char buf[192], err[512];
  snprintf(buf, sizeof buf, "%s=%s", p->name, value);
  if (kl_settings_apply(r, &v->s, buf, err, sizeof err))
    return fprintf(stderr, "compile_speed: %s\n", err), -1;
  if (!p->computed && !strcmp(p->dflt, value)) return 0;
  size_t n = strlen(v->desc);
  snprintf(v->desc + n, sizeof v->desc - n, "%s%s", n ? " " : "", buf);
  return 0;
}

static void variant_defaults(kl_recipe *r, variant *v) {
  memset(v, 0, sizeof *v);
  kl_recipe_defaults(r, &v->s);
}

/* 1 if the recipe's constraints accept v; 0 if they refuse it; -1 if one raises an error. */
static int accepted(kl_recipe *r, const variant *v) {
  char why[512], err[512];
  int rc = kl_recipe_constraints(r, &v->s, why, sizeof why, err, sizeof err);
  if (rc < 0) fprintf(stderr, "compile_speed: %s\n", err);
  return rc < 0 ? -1 : rc == 0;
}

/* BLOCK (one-dimensional recipes) and BLOCK_M, BLOCK_N, ... */
static int is_tile_knob(const kl_param *p) {
  return p->is_tune && (!strcmp(p->name, "BLOCK") || !strncmp(p->name, "BLOCK_", 6));
}

/* A random variant: every tuning knob drawn uniformly from its values. */
static int random_variant(kl_recipe *r, uint64_t *state, variant *out) {
  variant_defaults(r, out);
  for (int i = 0; i < kl_recipe_nparams(r); i++) {
    const kl_param *p = kl_recipe_param(r, i);
    if (!p->is_tune || p->nvalues < 1) continue;
    if (set_knob(r, out, p, p->values[next_random(state) % (uint64_t)p->nvalues])) return -1;
  }
  if (!out->desc[0]) snprintf(out->desc, sizeof out->desc, "defaults");
  return 0;
}

/* ---- one compile ---- */

/* One cold compile of a variant, recipe load included: thread CPU ms, or -1 with err. The PTX goes to
 * *ptx when ptx is not NULL. */
static double compile_once(const char *path, const variant *v, const tg_target *t, char **ptx, double *ph,
                           char *err, size_t errn) {
  double t0 = thread_cpu_ms();
  kl_recipe *r = kl_recipe_load(path, err, errn);
  if (!r) return -1;
  driver_opts o = {.target = t, .backend = CG_NVPTX, .no_cache = 1, .specialize = specialize};
  cg_result res;
  memset(&res, 0, sizeof res);
  kl_settings s = v->s; /* computed defaults for t, as kiln compile has them */
  int rc = kl_settings_target(r, &s, t, err, errn) || driver_compile_recipe(r, &s, &o, NULL, &res, err, errn);
  double ms = thread_cpu_ms() - t0;
  ph[1] = res.ms_lower, ph[2] = res.ms_opt, ph[3] = res.ms_emit;
  ph[0] = ms - ph[1] - ph[2] - ph[3];
  if (!rc && !res.ptx) snprintf(err, errn, "no PTX produced"), rc = -1;
  if (!rc && ptx) *ptx = res.ptx, res.ptx = NULL;
  cg_result_free(&res);
  kl_recipe_free(r);
  return rc ? -1 : ms;
}

static const char *find_ptxas(void) {
  static char path[4096];
  for (const char *p = getenv("PATH"); p && *p;) {
    const char *e = strchr(p, ':');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    snprintf(path, sizeof path, "%.*s/ptxas", (int)n, p);
    if (n && access(path, X_OK) == 0) return path;
    p = e ? e + 1 : NULL;
  }
  return access("/usr/local/cuda/bin/ptxas", X_OK) == 0 ? "/usr/local/cuda/bin/ptxas" : NULL;
}

/* ptxas -v -arch=TARGET on the PTX: the child's CPU ms, or -1 if ptxas is missing or refuses it; row's
 * regs and spill from its report. */
static double ptxas_ms(const char *ptx, const tg_target *t, sample_row *row) {
  static const char *ptxas;
  static int looked;
  if (!looked) looked = 1, ptxas = find_ptxas();
  char dir[] = "/tmp/kiln-compile-speed-XXXXXX", in[64], out[64], log[64], arch[64];
  row->regs = row->spill = -1;
  if (!ptxas || !mkdtemp(dir)) return -1;
  snprintf(in, sizeof in, "%s/k.ptx", dir);
  snprintf(out, sizeof out, "%s/k.cubin", dir);
  snprintf(log, sizeof log, "%s/log", dir);
  snprintf(arch, sizeof arch, "-arch=%s", t->name);
  FILE *f = fopen(in, "w");
  int ok = f && fputs(ptx, f) >= 0;
  if (f) ok &= fclose(f) == 0;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = ok ? fork() : -1;
  if (pid == 0) {
    if (!freopen(log, "w", stdout) || dup2(fileno(stdout), 2) < 0) _exit(127);
    execl(ptxas, "ptxas", "-v", arch, "-o", out, in, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  struct rusage ru;
  ok = pid > 0 && wait4(pid, &st, 0, &ru) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  char text[1 << 16];
  size_t n = 0;
  if (ok && (f = fopen(log, "r"))) { /* the figures end the report, after any number of notes (sm_90a's
                                      * "(C7519) warpgroup.arrive is injected ..." one per wgmma) */
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (long)sizeof text - 1)
      fseek(f, -(long)(sizeof text - 1), SEEK_END);
    else
      rewind(f);
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
  }
  text[n] = 0;
  driver_ptxas_figures fig;
  if (ok && !driver_ptxas_parse(text, &fig)) {
    row->regs = fig.registers;
    row->spill = fig.spill_store_bytes + fig.spill_load_bytes;
  }
  unlink(in);
  unlink(out);
  unlink(log);
  rmdir(dir);
  return ok ? (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3
            : -1;
}

/* Compiles v reps times: 0 with the row filled, 1 if kiln refuses the variant (err says why). */
static int measure(const bench_args *a, const char *path, const variant *v, const tg_target *t,
                   sample_row *row, char *err, size_t errn) {
  double ms[MAX_REPS], ph[NPHASES][MAX_REPS], one[NPHASES];
  int reps = a->reps < MAX_REPS ? a->reps : MAX_REPS;
  char *ptx = NULL;
  for (int i = 0; i < reps; i++) {
    if ((ms[i] = compile_once(path, v, t, i ? NULL : &ptx, one, err, errn)) < 0) return 1;
    for (int k = 0; k < NPHASES; k++) ph[k][i] = one[k];
  }
  snprintf(row->desc, sizeof row->desc, "%s", v->desc[0] ? v->desc : "defaults");
  row->ms = median(ms, reps);
  for (int k = 0; k < NPHASES; k++) row->ph[k] = median(ph[k], reps);
  row->regs = row->spill = -1;
  row->ptxas_ms = a->ptxas ? ptxas_ms(ptx, t, row) : -1;
  free(ptx);
  return 0;
}

/* ---- one recipe ---- */

typedef struct {
  sample_row rows[MAX_SAMPLE];
  int n, refused; /* rows kept; random draws kiln or the constraints refused */
} sample;

typedef struct {
  variant v;
  double elems; /* the product of the BLOCK_* values */
} tile_choice;

static int by_elems_desc(const void *a, const void *b) {
  double x = ((const tile_choice *)a)->elems, y = ((const tile_choice *)b)->elems;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The candidates for the largest tiles: every combination of the BLOCK and BLOCK_* knobs' values (the others
 * at their defaults) that the constraints accept, the most elements first. Returns the count (0 if the recipe
 * has no tile knob), -1 on an error; *out is malloc'ed. */
static int tile_choices(kl_recipe *r, tile_choice **out) {
  const kl_param *knob[8];
  int nk = 0, idx[8] = {0}, n = 0, cap = 1;
  for (int i = 0; i < kl_recipe_nparams(r) && nk < 8; i++)
    if (is_tile_knob(kl_recipe_param(r, i))) knob[nk++] = kl_recipe_param(r, i), cap *= knob[nk - 1]->nvalues;
  *out = NULL;
  if (!nk || !(*out = malloc((size_t)cap * sizeof **out))) return nk ? -1 : 0;
  for (int k = 0; k < nk;) {
    tile_choice *c = &(*out)[n];
    variant_defaults(r, &c->v);
    c->elems = 1;
    for (k = 0; k < nk; k++) {
      if (set_knob(r, &c->v, knob[k], knob[k]->values[idx[k]])) return -1;
      c->elems *= atof(knob[k]->values[idx[k]]);
    }
    int ok = accepted(r, &c->v);
    if (ok < 0) return -1;
    n += ok;
    for (k = 0; k < nk && ++idx[k] == knob[k]->nvalues;) idx[k++] = 0;
  }
  qsort(*out, (size_t)n, sizeof **out, by_elems_desc);
  return n;
}

/* The largest tiles that compile: the first of tile_choices that kiln does not refuse. 0 with the row
 * added, 1 if none compiles (or the recipe has no tile knob), -1 on an error. */
static int measure_largest(const bench_args *a, kl_recipe *r, const char *path, const tg_target *t,
                           sample *s) {
  tile_choice *c;
  int n = tile_choices(r, &c), rc = 1;
  char err[2048];
  for (int i = 0; i < n && rc == 1; i++)
    if (!measure(a, path, &c[i].v, t, &s->rows[s->n], err, sizeof err)) {
      size_t len = strlen(s->rows[s->n].desc);
      snprintf(s->rows[s->n].desc + len, sizeof s->rows[0].desc - len, " (largest tiles)");
      s->n++, rc = 0;
    }
  free(c);
  return n < 0 ? -1 : rc;
}

/* A variant that must compile (defaults, largest tiles): -1 if it does not. */
static int measure_required(const bench_args *a, const char *path, const char *name, const variant *v,
                            const tg_target *t, sample *s) {
  char err[2048] = "";
  if (!measure(a, path, v, t, &s->rows[s->n], err, sizeof err)) return s->n++, 0;
  fprintf(stderr, "compile_speed: %s (%s): %s\n", name, v->desc[0] ? v->desc : "defaults", err);
  return -1;
}

/* The random part of the sample: a->random variants, distinct from each other. */
static int measure_random(const bench_args *a, kl_recipe *r, const char *path, const tg_target *t,
                          sample *s) {
  uint64_t state = a->seed;
  for (const char *c = kl_recipe_name(r); *c; c++) state = state * 31 + (unsigned char)*c;
  int want = s->n + a->random;
  /* up to 8N draws that kiln compiles or refuses and 100N that the constraints refuse (spaces that are
   * mostly invalid at the recipe's sizes, such as fftconv4's explicit splits, still give N variants),
   * 200N in all (a space of fewer than N variants draws repeats) */
  int compiled = 0, constrained = 0;
  for (int draw = 0; draw < 200 * a->random && compiled < 8 * a->random && constrained < 100 * a->random &&
                     s->n < want && s->n < MAX_SAMPLE;
       draw++) {
    variant v;
    if (random_variant(r, &state, &v)) return -1;
    int dup = 0;
    for (int i = 0; i < s->n && !dup; i++) dup = !strcmp(s->rows[i].desc, v.desc);
    if (dup) continue;
    int ok = accepted(r, &v);
    if (ok < 0) return -1;
    char err[2048];
    if (!ok) {
      s->refused++, constrained++;
      continue;
    }
    compiled++;
    if (measure(a, path, &v, t, &s->rows[s->n], err, sizeof err)) {
      s->refused++;
      if (a->all) fprintf(stderr, "  %s | %s | refused: %s\n", kl_recipe_name(r), v.desc, err);
    } else
      s->n++;
  }
  return 0;
}

static void print_recipe(const bench_args *a, const char *name, sample *s) {
  double ms[MAX_SAMPLE], px[MAX_SAMPLE];
  int slow = 0, npx = 0, spilled = 0;
  for (int i = 0; i < s->n; i++) {
    ms[i] = s->rows[i].ms;
    if (s->rows[i].ptxas_ms >= 0) px[npx++] = s->rows[i].ptxas_ms;
    spilled += s->rows[i].spill > 0;
    nreported += s->rows[i].spill >= 0;
    if (s->rows[i].ms > s->rows[slow].ms) slow = i;
    if (a->all)
      fprintf(stderr,
              "  %s | %s | %.1f ms (front end %.1f, lowering %.1f, LLVM passes %.1f, PTX emission %.1f) | "
              "ptxas %.1f "
              "ms | %d registers | %d bytes spilled\n",
              name, s->rows[i].desc, s->rows[i].ms, s->rows[i].ph[0], s->rows[i].ph[1], s->rows[i].ph[2],
              s->rows[i].ph[3], s->rows[i].ptxas_ms, s->rows[i].regs, s->rows[i].spill);
  }
  char ptxas[64] = "-";
  if (npx) { /* median() sorts px: the maximum is read after it (argument order is unspecified) */
    double mid = median(px, npx);
    snprintf(ptxas, sizeof ptxas, "%.1f | %.1f | %d", mid, px[npx - 1], spilled);
  } else
    snprintf(ptxas, sizeof ptxas, "- | - | -");
  nspilled += spilled;
  double worst = s->rows[slow].ms;
  printf("| %s | %d | %d | %.1f | %.1f | %s | %s |\n", name, s->n, s->refused, median(ms, s->n), worst,
         s->rows[slow].desc, ptxas);
  if (nphase_rows < MAX_RECIPES) {
    char *w = phase_rows[nphase_rows++];
    int len = snprintf(w, sizeof phase_rows[0], "| %s |", name);
    for (int k = 0; k < NPHASES; k++) {
      double col[MAX_SAMPLE];
      for (int i = 0; i < s->n; i++) col[i] = s->rows[i].ph[k];
      len += snprintf(w + len, sizeof phase_rows[0] - (size_t)len, " %.1f |", median(col, s->n));
    }
  }
}

/* Samples one recipe file; appends its compile times to all. -1 if a required variant fails. */
static int bench_recipe(const bench_args *a, const char *file, const tg_target *t, double *all, int *nall) {
  char path[4096], err[2048] = "";
  snprintf(path, sizeof path, "%s/%s", a->dir, file);
  kl_recipe *r = kl_recipe_load(path, err, sizeof err);
  if (!r) return fprintf(stderr, "compile_speed: %s\n", err), -1;
  if (a->only && strcmp(a->only, kl_recipe_name(r))) return kl_recipe_free(r), 0;
  sample *s = calloc(1, sizeof *s);
  if (!s) abort();
  variant v;
  variant_defaults(r, &v);
  int rc = measure_required(a, path, kl_recipe_name(r), &v, t, s);
  if (!rc && measure_largest(a, r, path, t, s) < 0) rc = -1;
  if (!rc) rc = measure_random(a, r, path, t, s);
  if (s->n) print_recipe(a, kl_recipe_name(r), s);
  for (int i = 0; i < s->n; i++, (*nall)++) {
    all[*nall] = s->rows[i].ms;
    for (int k = 0; k < NPHASES; k++) phase_all[k][*nall] = s->rows[i].ph[k];
  }
  free(s);
  kl_recipe_free(r);
  return rc;
}

/* ---- main ---- */

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
  *a = (bench_args){.dir = "recipes", .target = "sm_90a", .reps = 3, .random = 20, .ptxas = 1, .seed = 1};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--target") && i + 1 < argc)
      a->target = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      a->reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--random") && i + 1 < argc)
      a->random = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      a->seed = strtoull(argv[++i], NULL, 0);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      a->only = argv[++i];
    else if (!strcmp(argv[i], "--all"))
      a->all = 1;
    else if (!strcmp(argv[i], "--no-ptxas"))
      a->ptxas = 0;
    else if (!strcmp(argv[i], "--general"))
      a->general = 1;
    else if (argv[i][0] != '-')
      a->dir = argv[i];
    else
      return fprintf(stderr, "usage: compile_speed [RECIPE_DIR] [--target sm_XX] [--reps N] [--random N] "
                             "[--seed S] [--all] [--only RECIPE] [--no-ptxas] [--general]\n"),
             -1;
  }
  if (a->reps < 1) a->reps = 1;
  if (a->random < 0) a->random = 0;
  if (a->random > MAX_SAMPLE - 2) a->random = MAX_SAMPLE - 2;
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

static void print_totals(double *all, int n) {
  int over = 0;
  for (int i = 0; i < n; i++) over += all[i] > TARGET_MAX_MS;
  double med = median(all, n);
  printf(
      "\n%d variants: median %.1f ms (target %.0f: %s), maximum %.1f ms (target %.0f: %s); %d over %.0f ms\n",
      n, med, TARGET_MEDIAN_MS, med <= TARGET_MEDIAN_MS ? "met" : "not met", all[n - 1], TARGET_MAX_MS,
      all[n - 1] <= TARGET_MAX_MS ? "met" : "not met", over, TARGET_MAX_MS);
  if (nreported) printf("%d of %d variants spill (ptxas -v)\n", nspilled, nreported);
}

/* Where the time goes: each step's median per recipe and over the sample, and its share of the total. The
 * PTX emission alone is a floor under the whole compile for as long as LLVM's NVPTX backend emits the
 * kernel. */
static void print_phases(int n) {
  printf("\nThe compile's steps, thread CPU ms, median per recipe (front end: the recipe, the IR and kiln's "
         "passes)\n\n| recipe |");
  for (int k = 0; k < NPHASES; k++) printf(" %s |", phase_names[k]);
  printf("\n|---|---|---|---|---|\n");
  for (int i = 0; i < nphase_rows; i++) printf("%s\n", phase_rows[i]);
  double sum[NPHASES] = {0}, whole = 0;
  for (int k = 0; k < NPHASES; k++)
    for (int i = 0; i < n; i++) sum[k] += phase_all[k][i], whole += phase_all[k][i];
  printf("| all %d variants |", n);
  for (int k = 0; k < NPHASES; k++) printf(" %.1f |", median(phase_all[k], n));
  printf("\n\nShare of the sample's total time:");
  for (int k = 0; k < NPHASES; k++)
    printf("%s %s %.1f%%", k ? "," : "", phase_names[k], 100 * sum[k] / whole);
  printf("\n");
}

int main(int argc, char **argv) {
  bench_args a;
  if (parse(argc, argv, &a)) return 2;
  const tg_target *t = tg_target_lookup(a.target);
  char *names[MAX_RECIPES];
  int n = list_recipes(a.dir, names), failed = 0, nall = 0;
  if (!t || n < 0)
    return fprintf(stderr, "compile_speed: %s\n", t ? "cannot read the recipe directory" : "unknown target"),
           2;
  pin_one_core();
  specialize = !a.general;
  double *all = malloc((size_t)MAX_RECIPES * MAX_SAMPLE * sizeof *all);
  if (!all) abort();
  for (int k = 0; k < NPHASES; k++)
    if (!(phase_all[k] = malloc((size_t)MAX_RECIPES * MAX_SAMPLE * sizeof *phase_all[k]))) abort();
  printf("recipe -> PTX on %s, thread CPU ms, median of %d compiles per variant; sample: defaults, largest "
         "tiles, %d random (seed %llu); %s\n\n",
         t->name, a.reps, a.random, (unsigned long long)a.seed,
         a.general ? "general kernels (--general)"
                   : "kernels specialised on the arguments' alignment at the recipe's sizes");
  printf("| recipe | variants | refused draws | median ms | max ms | slowest variant | ptxas ms median | "
         "ptxas ms max | spilling |\n");
  printf("|---|---|---|---|---|---|---|---|---|\n");
  for (int i = 0; i < n; i++) failed |= bench_recipe(&a, names[i], t, all, &nall) != 0;
  if (nall) print_phases(nall), print_totals(all, nall);
  for (int i = 0; i < n; i++) free(names[i]);
  for (int k = 0; k < NPHASES; k++) free(phase_all[k]);
  free(all);
  return failed;
}
