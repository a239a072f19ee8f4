/*
 * tune.c - kiln_tune_run (include/kiln.h): a sweep over a recipe's tuning space for one problem.
 *
 *   1. the space: every knob the settings do not pin, with its declared values or --space's;
 *      variant i is the mixed-radix number i over the knobs (the first knob varies slowest);
 *   2. the shard: variant i belongs to shard i mod N; the strategy orders the shard's variants
 *      (exhaustive: by i; random: a seeded shuffle);
 *   3. for each variant in order, until the budget: skip it if the database holds its row
 *      (resume), ask the recipe's constraints (a refusal is written as it is), else hand it to a
 *      worker process (at most jobs at once; each writes its own row: tune_measure.c);
 *   4. a worker past its time is killed and its row written as timeout; with a GPU, a worker's
 *      survivor is checked and timed by this process, one at a time (tune_gpu.c);
 *   5. progress on stderr after each variant: compiled, checked, timed, the best so far, the ETA.
 * With pruning (the default on the simulator: docs/tuning.md, "Pruning") step 3's worker only counts
 * the model's bound on the tile IR and writes the row pending; then pending rows are compiled in the
 * order of their bound while it can still enter the best check_best or stay within prune x the best,
 * checked in model order until check_best passed, and the rest written pruned with why.
 * A sweep killed at any point loses only the variants its workers were measuring. No SQLite
 * connection is open across fork() (SQLite's locks are per process): the parent opens one for each
 * read or write while the sweep runs, each worker its own.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tune.h"

enum { MAXVALUES = 32, MAXJOBS = 256 };
/* A sweep without a budget walks its whole space: at most MAXSPACE variants. With --budget the space is
 * sampled (the order is computed per position, nothing the size of the space is held): up to MAXSAMPLED. */
#define MAXSPACE (1L << 22)
#define MAXSAMPLED (1L << 62)

typedef struct {
  const kl_param *p;
  int n;
  char v[MAXVALUES][64];
} knob;

enum { PH_ONE, PH_COUNT, PH_COMPILE, PH_CHECK }; /* a worker's step: all in one, or one of three */

typedef struct {
  pid_t pid;
  long index;
  double start;
  int phase;
} slot;

typedef struct {
  kiln_recipe *r;
  kiln_tune_db *db;
  const kiln_tune_opts *o;
  kiln_tune_summary *sum;
  tune_env env;
  tune_gpu *gpu;
  knob knobs[KL_MAXSET];
  int nknobs, jobs;
  long total;
  long in_shard;      /* the shard's variants: total / nshards, rounded up for the first shards */
  unsigned perm_bits; /* random order: the permutation's domain, 2^perm_bits >= in_shard (even) */
  uint64_t perm_key;  /* random order: the rounds' keys, from --seed */
  tune_row key;       /* the row's key but the variant */
  slot slots[MAXJOBS];
  double t0, best;
  char best_variant[1024];
  long started;      /* variants this run started in a worker (what --budget N counts) */
  long skipped;      /* variants this run found refused by the recipe's constraints (not counted) */
  int skip_said;     /* the note that the constraint refusals ended the run was printed */
  double prune;      /* the model pruning factor; 0: off */
  int check_best;    /* checks to pass before the rest are pruned; 0: every survivor */
  double best_model; /* the best model time among compiled variants (pending or ok); < 0: none */
  long passed;       /* checks passed (ok rows of the shard) */
  tune_row handoff;  /* the row the next check worker starts from */
} sweep;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int tune_pinned(const kiln_recipe *r, const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < r->nsets; i++)
    if (!strncmp(r->sets[i], name, n) && r->sets[i][n] == '=') return 1;
  return 0;
}

/* --space NAME=v1,v2,...: the knob's values, each one the recipe accepts. */
static kiln_status space_values(sweep *w, knob *k, const char *list) {
  char buf[1024], err[512];
  kl_settings scratch = w->r->set;
  snprintf(buf, sizeof buf, "%s", list);
  k->n = 0;
  for (char *save = NULL, *v = strtok_r(buf, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
    char set[160];
    if (k->n == MAXVALUES)
      return api_fail(w->r->s, KILN_ERR_USAGE, "--space %s: more than %d values", k->p->name, MAXVALUES);
    snprintf(set, sizeof set, "%s=%s", k->p->name, v);
    if (kl_settings_apply(w->r->lua, &scratch, set, err, sizeof err))
      return api_fail(w->r->s, KILN_ERR_USAGE, "--space: %s", err);
    snprintf(k->v[k->n++], 64, "%s", kl_settings_get(&scratch, k->p->name));
  }
  if (!k->n) return api_fail(w->r->s, KILN_ERR_USAGE, "--space %s: no values", k->p->name);
  return KILN_OK;
}

/* Step 1: the knobs and their values; --space entries must name knobs the settings leave free. */
static kiln_status make_space(sweep *w) {
  kl_recipe *lr = w->r->lua;
  for (int i = 0; i < w->o->nspace; i++) {
    const char *eq = strchr(w->o->space[i], '=');
    int j, n = eq ? (int)(eq - w->o->space[i]) : 0;
    for (j = 0; j < kl_recipe_nparams(lr); j++) {
      const kl_param *p = kl_recipe_param(lr, j);
      if (p->is_tune && (int)strlen(p->name) == n && !strncmp(p->name, w->o->space[i], (size_t)n)) break;
    }
    if (!eq || j == kl_recipe_nparams(lr))
      return api_fail(w->r->s, KILN_ERR_USAGE, "%s: --space %s: not KNOB=v1,v2,... with a knob of the recipe",
                      w->r->path, w->o->space[i]);
    if (tune_pinned(w->r, kl_recipe_param(lr, j)->name))
      return api_fail(w->r->s, KILN_ERR_USAGE, "--space %s: the knob is pinned by --set", w->o->space[i]);
  }
  w->total = 1;
  for (int j = 0; j < kl_recipe_nparams(lr); j++) {
    const kl_param *p = kl_recipe_param(lr, j);
    if (!p->is_tune) continue;
    knob *k = &w->knobs[w->nknobs++];
    k->p = p;
    if (tune_pinned(w->r, p->name)) { /* one value: the setting's, so that it is part of the key */
      k->n = 1;
      snprintf(k->v[0], 64, "%s", kl_settings_get(&w->r->set, p->name));
      continue;
    }
    k->n = p->nvalues;
    for (int v = 0; v < p->nvalues; v++) snprintf(k->v[v], 64, "%s", p->values[v]);
    if (p->flag)
      for (int v = 0; v < p->nvalues; v++)
        snprintf(k->v[v], 64, "%d", strcmp(p->values[v], "false") != 0 && strcmp(p->values[v], "0") != 0);
    for (int i = 0; i < w->o->nspace; i++)
      if (!strncmp(w->o->space[i], p->name, strlen(p->name)) && w->o->space[i][strlen(p->name)] == '=') {
        kiln_status st = space_values(w, k, w->o->space[i] + strlen(p->name) + 1);
        if (st != KILN_OK) return st;
      }
    if (k->n < 1) k->n = 1, snprintf(k->v[0], 64, "%s", p->dflt);
    int budget = w->o->budget_variants > 0 || w->o->budget_seconds > 0;
    long cap = budget ? MAXSAMPLED : MAXSPACE;
    if (w->total > cap / k->n)
      return api_fail(
          w->r->s, KILN_ERR_USAGE,
          budget ? "%s: the space has more than %ld variants: narrow it with --space or pin knobs with --set"
                 : "%s: the space has more than %ld variants: narrow it with --space, pin knobs with "
                   "--set, or sample it with --strategy random --budget N",
          w->r->path, cap);
    w->total *= k->n;
  }
  return KILN_OK;
}

/* Variant i as "NAME=VALUE" strings in knobs[] (pointing into bufs) and as one line in text. */
static int variant_of(const sweep *w, long i, char bufs[][128], char **knobs, char *text, size_t textn) {
  size_t n = 0;
  long rest = i;
  for (int k = w->nknobs - 1; k >= 0; k--) {
    snprintf(bufs[k], 128, "%s=%s", w->knobs[k].p->name, w->knobs[k].v[rest % w->knobs[k].n]);
    knobs[k] = bufs[k];
    rest /= w->knobs[k].n;
  }
  text[0] = 0;
  for (int k = 0; k < w->nknobs && n < textn; k++)
    n += (size_t)snprintf(text + n, textn - n, "%s%s", k ? " " : "", bufs[k]);
  return w->nknobs;
}

void tune_problem_text(const kiln_recipe *r, char *text, size_t textn) {
  size_t n = 0;
  text[0] = 0;
  for (int j = 0; j < kl_recipe_nparams(r->lua) && n < textn; j++) {
    const kl_param *p = kl_recipe_param(r->lua, j);
    if (p->is_tune) continue;
    n += (size_t)snprintf(text + n, textn - n, "%s%s=%s", n ? " " : "", p->name,
                          kl_settings_get(&r->set, p->name));
  }
}

/* Step 2: the shard's variants in the strategy's order, computed per position so that a sampled space
 * of any size costs nothing to order. Exhaustive: the shard's variants in index order. Random: a
 * permutation of the shard's positions made from --seed, a four-round Feistel network over the
 * smallest even number of bits that covers them, walked until it lands inside (cycle walking: the
 * domain is under four times the positions, so a few steps at most on average). */
static void order_init(sweep *w) {
  w->in_shard = w->total > w->o->shard ? (w->total - w->o->shard + w->o->nshards - 1) / w->o->nshards : 0;
  w->perm_bits = 2;
  while (w->perm_bits < 62 && (1L << w->perm_bits) < w->in_shard) w->perm_bits += 2;
  harness_rng rng;
  harness_seed(&rng, w->o->seed);
  w->perm_key = harness_next(&rng);
}

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t tune_permute(uint64_t x, unsigned bits, uint64_t key) {
  unsigned h = bits / 2;
  uint64_t mask = (1ull << h) - 1, l = x >> h, r = x & mask;
  for (unsigned round = 0; round < 4; round++) {
    uint64_t t = l ^ (mix64(r ^ (key + 0x9e3779b97f4a7c15ull * (round + 1))) & mask);
    l = r, r = t;
  }
  return (l << h) | r;
}

/* The variant index at position k (0 <= k < in_shard) of the shard's order. */
static long order_at(const sweep *w, long k) {
  uint64_t p = (uint64_t)k;
  if (w->o->strategy && !strcmp(w->o->strategy, "random")) do
      p = tune_permute(p, w->perm_bits, w->perm_key);
    while (p >= (uint64_t)w->in_shard);
  return w->o->shard + (long)p * w->o->nshards;
}

/* ---- progress ---- */

static void progress(sweep *w, long left) {
  if (w->o->progress == KILN_TUNE_PROGRESS_NONE) return;
  kiln_tune_summary *s = w->sum;
  long todo = s->in_shard - s->done;
  if (w->o->budget_variants > 0) {
    if (left > w->o->budget_variants - w->started) left = w->o->budget_variants - w->started;
    if (todo > w->o->budget_variants) todo = w->o->budget_variants;
  }
  if (left < 0) left = 0;
  double el = now() - w->t0, per = s->measured ? el / (double)s->measured : 0;
  char best[1200] = "none yet";
  if (w->best >= 0)
    snprintf(best, sizeof best, "%.3g s (%s) %s", w->best, w->env.gpu ? "gpu" : "model", w->best_variant);
  if (w->o->progress == KILN_TUNE_PROGRESS_TERMINAL)
    fprintf(stderr,
            "\r\033[Kkiln tune: %ld/%ld measured (%ld ok, %ld refused, %ld spilled, %ld wrong), best %.60s, "
            "ETA %.0f s",
            s->measured, todo, s->ok, s->refused, s->spilled, s->wrong, best, per * (double)left);
  else
    fprintf(stderr,
            "kiln tune: %ld/%ld measured (%ld ok, %ld refused, %ld spilled, %ld wrong, %ld timeout), best "
            "%s, ETA %.0f s\n",
            s->measured, todo, s->ok, s->refused, s->spilled, s->wrong, s->timeout, best, per * (double)left);
  fflush(stderr);
}

static void row_status(sweep *w, const char *variant, char *out, size_t outn, double *time_s);

/* Counts a written row (read back from the database) in the summary and the best so far. */
static void count_row(sweep *w, const char *variant) {
  char status[16];
  double t;
  row_status(w, variant, status, sizeof status, &t);
}

/* Reads the row's status and time back; counts a final row in the summary and the best so far. */
static void row_status(sweep *w, const char *variant, char *out, size_t outn, double *time_s) {
  sqlite3_stmt *st = NULL;
  const char *sql = "SELECT status, time_s FROM results WHERE recipe_hash = ? AND variant = ? AND problem = ?"
                    " AND device = ? AND driver = ? AND kiln_version = ?";
  tune_row k = w->key;
  snprintf(k.variant, sizeof k.variant, "%s", variant);
  char err[512];
  sqlite3 *db;
  snprintf(out, outn, "none");
  *time_s = -1;
  if (tune_db_open(w->db->path, 0, &db, err, sizeof err))
    return (void)fprintf(stderr, "kiln tune: %s\n", err);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return (void)sqlite3_close(db);
  sqlite3_bind_text(st, 1, k.recipe_hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, k.variant, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, k.problem, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, k.device, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, k.driver, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 6, k.version, -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char *status = (const char *)sqlite3_column_text(st, 0);
    double t = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 1);
    snprintf(out, outn, "%s", status);
    *time_s = t;
    if (strcmp(status, "pending")) w->sum->measured++;
    if (!strcmp(status, "pruned")) w->sum->pruned++;
    if (!strcmp(status, "ok")) w->sum->ok++;
    if (!strcmp(status, "refused")) w->sum->refused++;
    if (!strcmp(status, "spilled")) w->sum->spilled++;
    if (!strcmp(status, "wrong")) w->sum->wrong++;
    if (!strcmp(status, "timeout")) w->sum->timeout++;
    if (!strcmp(status, "ok") && t >= 0 && (w->best < 0 || t < w->best))
      w->best = t, snprintf(w->best_variant, sizeof w->best_variant, "%s", variant);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

/* ---- workers ---- */

static void write_row(sweep *w, long index, const char *status, const char *why) {
  char bufs[KL_MAXSET][128], *knobs[KL_MAXSET], err[512];
  tune_row row;
  tune_row_init(&row, &w->key);
  variant_of(w, index, bufs, knobs, row.variant, sizeof row.variant);
  row.status = status;
  snprintf(row.reason, sizeof row.reason, "%s", why);
  if (tune_db_put_path(w->db->path, &row, err, sizeof err)) fprintf(stderr, "kiln tune: %s\n", err);
  count_row(w, row.variant);
}

/* In the child: measure, write, exit. Never returns. */
static void worker(sweep *w, long index, int phase) {
  char bufs[KL_MAXSET][128], *knobs[KL_MAXSET], err[512];
  tune_row row;
  if (phase == PH_CHECK)
    row = w->handoff;
  else
    tune_row_init(&row, &w->key);
  int n = variant_of(w, index, bufs, knobs, row.variant, sizeof row.variant);
  int rc = phase == PH_COUNT     ? tune_count(w->r, &w->env, knobs, n, &row)
           : phase == PH_COMPILE ? tune_compile(w->r, &w->env, knobs, n, &row)
           : phase == PH_CHECK   ? tune_check(w->r, &w->env, knobs, n, &row)
                                 : tune_measure(w->r, &w->env, knobs, n, &row);
  if (rc == TUNE_WORKER_GPU) _exit(rc);
  if (tune_db_put_path(w->env.db_path, &row, err, sizeof err)) {
    fprintf(stderr, "kiln tune: %s\n", err);
    _exit(TUNE_WORKER_FAILED);
  }
  _exit(TUNE_WORKER_WROTE);
}

/* With a GPU: the survivor of worker `index`, checked and timed here. */
static void gpu_measure(sweep *w, long index) {
  char bufs[KL_MAXSET][128], *knobs[KL_MAXSET], err[1024];
  tune_row row;
  kl_settings s = w->r->set, check;
  tune_row_init(&row, &w->key);
  int n = variant_of(w, index, bufs, knobs, row.variant, sizeof row.variant);
  for (int i = 0; i < n; i++)
    if (kl_settings_apply(w->r->lua, &s, knobs[i], err, sizeof err)) {
      write_row(w, index, "refused", err);
      return;
    }
  if (tune_check_settings(w->r->lua, &s, &w->env, &check, err, sizeof err)) {
    write_row(w, index, "refused", err);
    return;
  }
  tune_gpu_measure(w->gpu, w->r->lua, &s, &check, w->env.t, w->o,
                   tune_hash(row.variant, strlen(row.variant), w->o->seed + 1), &row);
  if (tune_db_put_path(w->db->path, &row, err, sizeof err)) fprintf(stderr, "kiln tune: %s\n", err);
  count_row(w, row.variant);
}

static void finished(sweep *w, slot *sl, int status, long left) {
  char why[128], bufs[KL_MAXSET][128], *knobs[KL_MAXSET], variant[1024];
  variant_of(w, sl->index, bufs, knobs, variant, sizeof variant);
  double took = now() - sl->start;
  if (sl->phase == PH_COUNT) w->sum->counted++, w->sum->count_s += took;
  if (sl->phase == PH_COMPILE || sl->phase == PH_ONE) w->sum->compiled++, w->sum->compile_s += took;
  if (sl->phase == PH_CHECK) w->sum->checked++, w->sum->check_s += took;
  if (WIFEXITED(status) && WEXITSTATUS(status) == TUNE_WORKER_WROTE) {
    char st[16];
    double t;
    row_status(w, variant, st, sizeof st, &t);
    if (sl->phase == PH_COMPILE && !strcmp(st, "pending") && t >= 0 &&
        (w->best_model < 0 || t < w->best_model))
      w->best_model = t;
    if (sl->phase == PH_CHECK && !strcmp(st, "ok")) w->passed++;
    if (!strcmp(st, "pending") && w->o->progress != KILN_TUNE_PROGRESS_TERMINAL) { /* no line per step */
      sl->pid = 0;
      return;
    }
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == TUNE_WORKER_GPU)
    gpu_measure(w, sl->index);
  else {
    if (WIFSIGNALED(status))
      snprintf(why, sizeof why, "the worker died of signal %d", WTERMSIG(status));
    else
      snprintf(why, sizeof why, "the worker failed (exit status %d)", WEXITSTATUS(status));
    write_row(w, sl->index, "refused", why);
  }
  sl->pid = 0;
  progress(w, left);
}

/* Reaps finished workers and kills those past their time; block = 1 waits for at least one. */
static void reap(sweep *w, int block, long left) {
  double limit = w->o->variant_timeout > 0 ? w->o->variant_timeout : 300;
  for (;;) {
    int any = 0, busy = 0;
    for (int i = 0; i < w->jobs; i++) {
      slot *sl = &w->slots[i];
      int status;
      if (!sl->pid) continue;
      busy++;
      pid_t p = waitpid(sl->pid, &status, WNOHANG);
      if (p == sl->pid) {
        finished(w, sl, status, left), any = 1;
      } else if (now() - sl->start > limit) {
        kill(sl->pid, SIGKILL);
        waitpid(sl->pid, &status, 0);
        char why[128];
        snprintf(why, sizeof why, "still measuring after %g s", limit);
        sl->pid = 0;
        write_row(w, sl->index, "timeout", why);
        progress(w, left);
        any = 1;
      }
    }
    if (any || !block || !busy) return;
    usleep(20000);
  }
}

static slot *free_slot(sweep *w, long left) {
  for (;;) {
    for (int i = 0; i < w->jobs; i++)
      if (!w->slots[i].pid) return &w->slots[i];
    reap(w, 1, left);
  }
}

/* A budget of N variants also ends after SKIP_FACTOR * N constraint refusals: a space the constraints
 * refuse almost whole is not walked to its end in search of N variants. */
enum { SKIP_FACTOR = 100 };

static int budget_left(sweep *w) {
  long n = w->o->budget_variants;
  if (n > 0 && w->started >= n) return 0;
  if (n > 0 && w->skipped >= SKIP_FACTOR * n) {
    if (!w->skip_said++)
      fprintf(stderr,
              "kiln tune: stopped after %ld variants refused by the recipe's constraints in this run (%d x "
              "--budget): narrow the space with --space or --set\n",
              w->skipped, SKIP_FACTOR);
    return 0;
  }
  return !(w->o->budget_seconds > 0 && now() - w->t0 >= w->o->budget_seconds);
}

/* Step 3 for variant index: resumed, refused by a constraint, or started in a worker. */
static kiln_status one_variant(sweep *w, long index, long left) {
  char bufs[KL_MAXSET][128], *knobs[KL_MAXSET], err[1024], why[1024];
  tune_row row = w->key;
  kl_settings s = w->r->set;
  int n = variant_of(w, index, bufs, knobs, row.variant, sizeof row.variant);
  sqlite3 *db;
  int has = tune_db_open(w->db->path, 0, &db, err, sizeof err) ? -1 : tune_db_has(db, &row, err, sizeof err);
  sqlite3_close(db);
  if (has < 0) return api_fail(w->r->s, KILN_ERR_SYSTEM, "%s: %s", w->db->path, err);
  if (has) return w->sum->done++, KILN_OK;
  for (int i = 0; i < n; i++)
    if (kl_settings_apply(w->r->lua, &s, knobs[i], err, sizeof err))
      return api_fail(w->r->s, KILN_ERR_INPUT, "%s", err);
  int c = kl_recipe_constraints(w->r->lua, &s, why, sizeof why, err, sizeof err);
  if (c < 0) return api_fail(w->r->s, KILN_ERR_INPUT, "%s", err);
  if (c > 0) return w->skipped++, write_row(w, index, "refused", why), progress(w, left), KILN_OK;
  w->started++;
  slot *sl = free_slot(w, left);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return api_fail(w->r->s, KILN_ERR_SYSTEM, "cannot start a worker: %s", strerror(errno));
  if (pid == 0) worker(w, index, w->prune > 0 || w->check_best > 0 ? PH_COUNT : PH_ONE);
  sl->pid = pid, sl->index = index, sl->start = now();
  sl->phase = w->prune > 0 || w->check_best > 0 ? PH_COUNT : PH_ONE;
  return KILN_OK;
}

/* A worker for step phase of variant index (the pruning sweep's steps 2 and 3). */
static kiln_status start_worker(sweep *w, long index, int phase, long left) {
  slot *sl = free_slot(w, left);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return api_fail(w->r->s, KILN_ERR_SYSTEM, "cannot start a worker: %s", strerror(errno));
  if (pid == 0) worker(w, index, phase);
  sl->pid = pid, sl->index = index, sl->start = now(), sl->phase = phase;
  return KILN_OK;
}

static void wait_all(sweep *w) {
  for (int busy = 1; busy;) {
    reap(w, 1, 0);
    busy = 0;
    for (int i = 0; i < w->jobs; i++) busy |= w->slots[i].pid != 0;
  }
}

/* ---- the pruning sweep's steps 2 and 3: compile in model order, check the best ---- */

/* The variant number of a variant's text, or -1 if it is not one of this space's. */
static long variant_index(const sweep *w, const char *text) {
  long index = 0;
  const char *p = text;
  for (int k = 0; k < w->nknobs; k++) {
    size_t n = strlen(w->knobs[k].p->name), len;
    if (strncmp(p, w->knobs[k].p->name, n) || p[n] != '=') return -1;
    p += n + 1;
    len = strcspn(p, " ");
    int j;
    for (j = 0; j < w->knobs[k].n; j++)
      if (strlen(w->knobs[k].v[j]) == len && !strncmp(w->knobs[k].v[j], p, len)) break;
    if (j == w->knobs[k].n) return -1;
    index = index * w->knobs[k].n + j;
    p += len;
    if (*p == ' ') p++;
  }
  return *p ? -1 : index;
}

typedef struct {
  long index;
  double t;
  tune_row row;
} pend;

static int by_time(const void *a, const void *b) { /* ties in variant order: deterministic */
  const pend *x = a, *y = b;
  return x->t < y->t ? -1 : x->t > y->t ? 1 : (x->index > y->index) - (x->index < y->index);
}

static int cmp_time(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* This shard's rows of the given status (and time source, unless NULL), fastest first. */
static pend *shard_rows(sweep *w, const char *status, const char *source, long *count) {
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  char err[512];
  pend *out = NULL;
  long n = 0, cap = 0;
  *count = 0;
  const char *sql = "SELECT variant, time_s, time_source, error, within_accuracy, registers, spill_bytes,"
                    " smem_bytes, occupancy_warps FROM results WHERE recipe_hash = ? AND problem = ? AND"
                    " device = ? AND driver = ? AND kiln_version = ? AND status = ?";
  if (tune_db_open(w->db->path, 0, &db, err, sizeof err))
    return fprintf(stderr, "kiln tune: %s\n", err), NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, w->key.recipe_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, w->key.problem, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, w->key.device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, w->key.driver, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, w->key.version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, status, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *v = (const char *)sqlite3_column_text(st, 0),
                 *src = (const char *)sqlite3_column_text(st, 2);
      long i = v ? variant_index(w, v) : -1;
      if (i < 0 || i % w->o->nshards != w->o->shard || (source && (!src || strcmp(src, source)))) continue;
      if (n == cap) {
        pend *m = realloc(out, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *out);
        if (!m) break;
        out = m;
      }
      pend *e = &out[n++];
      tune_row_init(&e->row, &w->key);
      snprintf(e->row.variant, sizeof e->row.variant, "%s", v);
      e->index = i;
      e->t = e->row.time_s = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 1);
      e->row.time_source = source;
      if (sqlite3_column_type(st, 3) != SQLITE_NULL) e->row.error = sqlite3_column_double(st, 3);
      int *ints[] = {&e->row.within_accuracy, &e->row.registers, &e->row.spill_bytes, &e->row.smem_bytes,
                     &e->row.occupancy_warps};
      for (int c = 0; c < 5; c++)
        if (sqlite3_column_type(st, 4 + c) != SQLITE_NULL) *ints[c] = sqlite3_column_int(st, 4 + c);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (n) qsort(out, (size_t)n, sizeof *out, by_time);
  *count = n;
  return out;
}

/* Writes a pending row's final status and why, keeping what was measured. */
static void finish_row(sweep *w, pend *e, const char *status, const char *why) {
  char err[512];
  e->row.status = status;
  snprintf(e->row.reason, sizeof e->row.reason, "%s", why);
  e->row.measured_at = 0;
  if (tune_db_put_path(w->db->path, &e->row, err, sizeof err)) fprintf(stderr, "kiln tune: %s\n", err);
  count_row(w, e->row.variant);
  progress(w, 0);
}

static int out_of_time(const sweep *w) {
  return w->o->budget_seconds > 0 && now() - w->t0 >= w->o->budget_seconds;
}

/* The viable variants of the shard (ok, or compiled and not checked yet): the best model time into
 * best_model, the check_best-th best into *nth (infinite when fewer or no check_best), the ok ones into
 * passed. On a GPU the ok rows hold GPU times: only the compiled ones count. */
static void viable(sweep *w, double *nth) {
  long nok = 0, nc = 0;
  pend *ok = shard_rows(w, "ok", NULL, &nok), *c = shard_rows(w, "pending", "model", &nc);
  double *t = malloc((size_t)(nok + nc + 1) * sizeof *t);
  long n = 0;
  for (long i = 0; t && i < nok; i++)
    if (!w->env.gpu && ok[i].t > 0) t[n++] = ok[i].t;
  for (long i = 0; t && i < nc; i++) t[n++] = c[i].t;
  *nth = INFINITY;
  for (long i = 0; t && i < n; i++) {
    if (w->best_model < 0 || t[i] < w->best_model) w->best_model = t[i];
  }
  if (t && w->check_best > 0 && n >= w->check_best) {
    qsort(t, (size_t)n, sizeof *t, cmp_time);
    *nth = t[w->check_best - 1];
  }
  w->passed = nok;
  free(t), free(ok), free(c);
}

/* The bound a counted variant must stay under to be compiled: prune x the best, and (checking the
 * best check_best) under the check_best-th best compiled one: a variant at or over it cannot enter. */
static double compile_limit(const sweep *w, double nth) {
  double lim = w->prune > 0 && w->best_model > 0 ? w->prune * w->best_model : INFINITY;
  return nth < lim ? nth : lim;
}

/* Step 2: counted variants compiled in the order of their bound while it is under compile_limit. 1 if
 * any was compiled. */
static int compile_step(sweep *w, kiln_status *st) {
  long n = 0, done = 0;
  double nth;
  pend *p = shard_rows(w, "pending", "bound", &n);
  viable(w, &nth);
  for (long i = 0; i < n && *st == KILN_OK && !out_of_time(w); i++) {
    reap(w, 0, n - i);
    if (p[i].t >= compile_limit(w, nth) && p[i].t > 0) break;
    *st = start_worker(w, p[i].index, PH_COMPILE, n - i);
    done++;
    if (w->check_best > 0) { /* the limit moves as compiled variants come back */
      long busy = 0;
      for (int j = 0; j < w->jobs; j++) busy += w->slots[j].pid != 0;
      if (busy == w->jobs) reap(w, 1, n - i), viable(w, &nth);
    }
  }
  wait_all(w);
  free(p);
  return done > 0;
}

/* Step 3: compiled variants in model order, those under prune x the best: with a GPU each checked
 * and timed; on the simulator checked until check_best passed (a failed check is written wrong and
 * the next is checked). 1 if check_best passed (or every candidate was checked). */
static int check_step(sweep *w, kiln_status *st) {
  long n = 0;
  double nth;
  pend *p = shard_rows(w, "pending", "model", &n);
  viable(w, &nth);
  for (long i = 0; i < n && *st == KILN_OK && !out_of_time(w); i++) {
    if (w->prune > 0 && w->best_model > 0 && p[i].t > w->prune * w->best_model) break;
    if (w->env.gpu) {
      gpu_measure(w, p[i].index);
      continue;
    }
    if (w->o->no_check) {
      finish_row(w, &p[i], "ok", "");
      w->passed++;
    } else {
      for (;;) { /* wait while the checks running could complete check_best */
        long busy = 0;
        for (int j = 0; j < w->jobs; j++) busy += w->slots[j].pid != 0;
        if (w->check_best <= 0 || w->passed + busy < w->check_best || !busy) break;
        reap(w, 1, n - i);
      }
      if (w->check_best > 0 && w->passed >= w->check_best) break;
      w->handoff = p[i].row;
      *st = start_worker(w, p[i].index, PH_CHECK, n - i);
    }
    if (w->check_best > 0 && w->passed >= w->check_best) break;
  }
  wait_all(w);
  free(p);
  return w->check_best <= 0 || w->passed >= w->check_best;
}

/* Writes the n rows of p as pruned (one transaction) and counts them. */
static void put_pruned(sweep *w, pend *p, long n) {
  char err[512];
  sqlite3 *db;
  tune_row *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
  if (!rows) return (void)fprintf(stderr, "kiln tune: out of memory\n");
  for (long i = 0; i < n; i++) rows[i] = p[i].row, rows[i].status = "pruned", rows[i].measured_at = 0;
  if (tune_db_open(w->db->path, 0, &db, err, sizeof err) || tune_db_put_many(db, rows, n, err, sizeof err))
    fprintf(stderr, "kiln tune: %s\n", err);
  else
    w->sum->measured += n, w->sum->pruned += n;
  sqlite3_close(db);
  free(rows);
  progress(w, 0);
}

/* The end of the pruning sweep: every variant still pending is pruned, with why. */
static void prune_rest(sweep *w) {
  long n = 0;
  double nth;
  viable(w, &nth);
  double over = w->prune > 0 && w->best_model > 0 ? w->prune * w->best_model : INFINITY;
  pend *p = shard_rows(w, "pending", "bound", &n);
  for (long i = 0; i < n; i++) {
    char *why = p[i].row.reason;
    size_t whyn = sizeof p[i].row.reason;
    if (p[i].t > over)
      snprintf(why, whyn, "model: at least %.3g s before compiling, over %g x the best's %.3g s", p[i].t,
               w->prune, w->best_model);
    else
      snprintf(why, whyn, "model: at least %.3g s before compiling, not under the %d best compiled (%.3g s)",
               p[i].t, w->check_best, nth);
  }
  put_pruned(w, p, n);
  free(p);
  p = shard_rows(w, "pending", "model", &n);
  for (long i = 0; i < n; i++) {
    char *why = p[i].row.reason;
    size_t whyn = sizeof p[i].row.reason;
    if (p[i].t > over)
      snprintf(why, whyn, "model: %.3g s, over %g x the best's %.3g s", p[i].t, w->prune, w->best_model);
    else
      snprintf(why, whyn,
               "not checked: model %.3g s, rank %ld of %ld unchecked, after %ld passed their check", p[i].t,
               i + 1, n, w->passed);
  }
  put_pruned(w, p, n);
  free(p);
}

/* Steps 2 and 3 until check_best passed or nothing is left under the limits; then the rest pruned
 * (unless the time budget ended the run: a resumed run goes on from the pending rows). */
static kiln_status prune_sweep(sweep *w) {
  kiln_status st = KILN_OK;
  if (w->o->progress != KILN_TUNE_PROGRESS_NONE)
    fprintf(stderr, "kiln tune: compiling in the order of the model's bound, checking in model order\n");
  for (;;) {
    int compiled = compile_step(w, &st);
    if (st != KILN_OK || out_of_time(w)) return st;
    int enough = check_step(w, &st);
    if (st != KILN_OK || out_of_time(w)) return st;
    if (enough || !compiled) break;
  }
  prune_rest(w);
  return st;
}

/* ---- the key: recipe hash, problem, device, driver, kiln version ---- */

/* The driver's version from /proc (the NVIDIA kernel module), else "cuda". */
static void driver_version(char *out, size_t n) {
  char line[512], ver[40];
  FILE *f = fopen("/proc/driver/nvidia/version", "r");
  snprintf(out, n, "cuda");
  if (!f) return;
  if (fgets(line, sizeof line, f)) {
    char *m = strstr(line, "Module");
    if (m && sscanf(m + 6, " %39s", ver) == 1) snprintf(out, n, "cuda %s", ver);
  }
  fclose(f);
}

static kiln_status make_key(sweep *w, const char *gpu_name) {
  char *text = NULL;
  tune_row *k = &w->key;
  kiln_status st = kiln_read_file(w->r->s, w->r->path, &text);
  if (st != KILN_OK) return st;
  snprintf(k->recipe_hash, sizeof k->recipe_hash, "%016llx",
           (unsigned long long)tune_hash(text, strlen(text), 0));
  kiln_free(text);
  snprintf(k->recipe, sizeof k->recipe, "%s", kl_recipe_name(w->r->lua));
  tune_problem_text(w->r, k->problem, sizeof k->problem);
  snprintf(k->version, sizeof k->version, "%s", kiln_version());
  if (gpu_name) {
    snprintf(k->device, sizeof k->device, "%.100s %s", gpu_name, w->env.t->name);
    driver_version(k->driver, sizeof k->driver);
  } else {
    snprintf(k->device, sizeof k->device, "model %s", w->env.t->name);
    snprintf(k->driver, sizeof k->driver, "none");
  }
  return KILN_OK;
}

/* ---- the options ---- */

static kiln_status check_opts(kiln_recipe *r, const kiln_tune_opts *o) {
  if (!r->lua)
    return api_fail(r->s, KILN_ERR_USAGE, "%s: kiln tune needs a recipe (an IR file has no knobs)", r->path);
  if (o->nshards < 0 || (o->nshards > 0 && (o->shard < 0 || o->shard >= o->nshards)))
    return api_fail(r->s, KILN_ERR_USAGE, "--shard %d/%d: I must be 0 .. N-1 and N at least 1", o->shard,
                    o->nshards);
  if (o->jobs < 0 || o->jobs > MAXJOBS)
    return api_fail(r->s, KILN_ERR_USAGE, "--jobs %d: 1 .. %d", o->jobs, MAXJOBS);
  if (o->strategy && strcmp(o->strategy, "exhaustive") && strcmp(o->strategy, "random"))
    return api_fail(r->s, KILN_ERR_USAGE, "--strategy %s: exhaustive or random", o->strategy);
  if (o->budget_variants < 0 || o->budget_seconds < 0 || o->accuracy < 0 || o->variant_timeout < 0 ||
      o->reps < 0 || o->warmup < 0)
    return api_fail(r->s, KILN_ERR_USAGE, "kiln_tune_run: a negative budget, accuracy, timeout or count");
  if (o->target && !api_target(r->s, o->target)) return KILN_ERR_USAGE;
  for (int i = 0; i < o->ncheck_sets; i++) {
    char err[512];
    kl_settings s = r->set;
    if (i >= KL_MAXSET || kl_settings_apply(r->lua, &s, o->check_sets[i], err, sizeof err))
      return api_fail(r->s, KILN_ERR_USAGE, "--check-set: %s", i >= KL_MAXSET ? "too many" : err);
  }
  return KILN_OK;
}

/* The GPU unless --sim; without one, the target row (sm_80 by default) and the model. */
static kiln_status open_device(sweep *w, char *gpu_name, size_t n) {
  char err[1024];
  const kiln_tune_opts *o = w->o;
  w->env.target = o->target ? o->target : "sm_80";
  if (!o->sim && tune_gpu_open(&w->gpu, o->target, &w->env.t, gpu_name, n, err, sizeof err) == 0) {
    w->env.gpu = 1;
    w->env.target = w->env.t->name;
    return KILN_OK;
  }
  if (!o->sim) fprintf(stderr, "kiln tune: no GPU (%s): ranking by the model\n", err);
  w->env.t = tg_target_lookup(w->env.target);
  gpu_name[0] = 0;
  return w->env.t ? KILN_OK : api_fail(w->r->s, KILN_ERR_USAGE, "unknown target '%s'", w->env.target);
}

static kiln_status sweep_all(sweep *w) {
  order_init(w);
  long n = w->in_shard;
  kiln_status st = KILN_OK;
  w->sum->in_shard = n;
  for (long i = 0; i < n && st == KILN_OK && budget_left(w); i++) {
    st = one_variant(w, order_at(w, i), n - i - 1);
    reap(w, 0, n - i - 1);
  }
  wait_all(w);
  if (st == KILN_OK && (w->prune > 0 || w->check_best > 0)) st = prune_sweep(w);
  if (w->o->progress == KILN_TUNE_PROGRESS_TERMINAL) fprintf(stderr, "\n");
  return st;
}

kiln_status kiln_tune_run(kiln_recipe *r, kiln_tune_db *db, const kiln_tune_opts *o, kiln_tune_summary *out) {
  if (!r) return KILN_ERR_USAGE;
  api_begin(r->s);
  if (!o || !db || !out)
    return api_fail(r->s, KILN_ERR_USAGE, "kiln_tune_run: no options, database or summary");
  sweep *w = calloc(1, sizeof *w);
  if (!w) return api_fail(r->s, KILN_ERR_SYSTEM, "out of memory");
  kiln_tune_opts opts = *o;
  if (!opts.nshards) opts.nshards = 1, opts.shard = 0;
  if (!opts.jobs) opts.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (opts.jobs < 1) opts.jobs = 1;
  memset(out, 0, sizeof *out);
  char gpu_name[256];
  *w = (sweep){.r = r,
               .db = db,
               .o = &opts,
               .sum = out,
               .jobs = opts.jobs < MAXJOBS ? opts.jobs : MAXJOBS,
               .best = -1,
               .t0 = now()};
  w->env.o = &opts;
  w->env.db_path = db->path;
  for (int i = 0; i < opts.ncheck_sets && i < KL_MAXSET; i++)
    w->env.check_sets[w->env.ncheck_sets++] = opts.check_sets[i];
  kiln_status st = check_opts(r, &opts);
  if (st == KILN_OK) st = make_space(w);
  if (st == KILN_OK) st = open_device(w, gpu_name, sizeof gpu_name);
  if (st == KILN_OK) st = api_recipe_target(r, w->env.t); /* the knobs the sweep leaves follow it */
  if (st == KILN_OK) st = make_key(w, gpu_name[0] ? gpu_name : NULL);
  /* pruning: by default on the simulator only (a GPU times every survivor) */
  w->prune = opts.prune_model > 0 ? opts.prune_model : opts.prune_model < 0 || w->env.gpu ? 0 : 2;
  w->check_best = opts.check_best > 0 ? opts.check_best : opts.check_best < 0 || w->env.gpu ? 0 : 4;
  w->best_model = -1;
  out->space = w->total;
  if (st == KILN_OK) { /* no connection open across fork(): each step opens its own (tune_db.c) */
    sqlite3_close(db->db);
    db->db = NULL;
    st = sweep_all(w);
    char err[512];
    if (tune_db_open(db->path, 0, &db->db, err, sizeof err) && st == KILN_OK)
      st = api_fail(r->s, KILN_ERR_SYSTEM, "%s", err);
  }
  out->wall_s = now() - w->t0;
  tune_gpu_close(w->gpu);
  free(w);
  return st;
}
