/*
 * tune_apply.c - kiln_tune_apply (include/kiln.h): the best measured variant for a recipe's problem,
 * applied to its settings (`kiln run RECIPE --tuned DB`).
 *
 *   1. candidates: the recipe's rows with status ok and a time, within --accuracy when that was
 *      given; rows of the same recipe text first, GPU times before the model's, fastest first;
 *   2. a row whose variant disagrees with a knob the caller set is skipped;
 *   3. the distance of a row's problem to the recipe's: the sum over size parameters of
 *      |log2(a / b)|, 1000 for any other parameter that differs; the first row at the smallest
 *      distance wins (0: the exact problem);
 *   4. its knobs are set on the recipe, except those the caller set.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tune.h"

/* The value of NAME in "A=1 B=2 ..." into out; 0 if found. */
static int field(const char *text, const char *name, char *out, size_t n) {
  size_t len = strlen(name);
  for (const char *p = text; p && *p;) {
    if (!strncmp(p, name, len) && p[len] == '=') {
      const char *v = p + len + 1, *end = strchr(v, ' ');
      size_t vl = end ? (size_t)(end - v) : strlen(v);
      snprintf(out, n, "%.*s", (int)vl, v);
      return 0;
    }
    p = strchr(p, ' ');
    if (p) p++;
  }
  return -1;
}

static double problem_distance(const char *want, const char *have) {
  double d = 0;
  char name[128], a[128], b[128];
  for (const char *p = want; p && *p;) {
    const char *eq = strchr(p, '=');
    if (!eq) break;
    snprintf(name, sizeof name, "%.*s", (int)(eq - p), p);
    if (field(want, name, a, sizeof a) || field(have, name, b, sizeof b)) return INFINITY;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (!*ea && !*eb && x > 0 && y > 0)
      d += fabs(log2(x / y));
    else if (strcmp(a, b))
      d += 1000;
    p = strchr(eq, ' ');
    if (p) p++;
  }
  return d;
}

/* The caller's knobs agree with the variant's. */
static int agrees(const kiln_recipe *r, const char *variant) {
  char v[128];
  for (int i = 0; i < r->nsets; i++) {
    const char *eq = strchr(r->sets[i], '=');
    char name[128];
    if (!eq) continue;
    snprintf(name, sizeof name, "%.*s", (int)(eq - r->sets[i]), r->sets[i]);
    if (!field(variant, name, v, sizeof v) && strcmp(v, kl_settings_get(&r->set, name))) return 0;
  }
  return 1;
}

typedef struct {
  char variant[1024], problem[512];
  double dist, time_s;
  char source[16];
} best_row;

static kiln_status find_best(kiln_recipe *r, sqlite3 *db, const char *path, best_row *best) {
  sqlite3_stmt *st = NULL;
  char want[512], *text = NULL, hash[17];
  const char *sql =
      "SELECT problem, variant, time_s, time_source FROM results WHERE recipe = ? AND status = 'ok'"
      " AND time_s IS NOT NULL AND (within_accuracy IS NULL OR within_accuracy = 1)"
      " ORDER BY recipe_hash = ? DESC, time_source = 'gpu' DESC, time_s, variant";
  if (kiln_read_file(r->s, r->path, &text) != KILN_OK) return KILN_ERR_INPUT;
  snprintf(hash, sizeof hash, "%016llx", (unsigned long long)tune_hash(text, strlen(text), 0));
  kiln_free(text);
  tune_problem_text(r, want, sizeof want);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return api_fail(r->s, KILN_ERR_INPUT, "%s: cannot read results: %s", path, sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, kl_recipe_name(r->lua), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
  best->dist = INFINITY;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *problem = (const char *)sqlite3_column_text(st, 0),
               *variant = (const char *)sqlite3_column_text(st, 1);
    const char *source = (const char *)sqlite3_column_text(st, 3);
    double d = problem_distance(want, problem);
    if (!agrees(r, variant) || !(d < best->dist)) continue;
    best->dist = d, best->time_s = sqlite3_column_double(st, 2);
    snprintf(best->variant, sizeof best->variant, "%s", variant);
    snprintf(best->problem, sizeof best->problem, "%s", problem);
    snprintf(best->source, sizeof best->source, "%s", source ? source : "");
  }
  sqlite3_finalize(st);
  if (isinf(best->dist))
    return api_fail(r->s, KILN_ERR_INPUT, "%s: no measured variant of %s for [%s] (with the knobs set)", path,
                    kl_recipe_name(r->lua), want);
  return KILN_OK;
}

static kiln_status apply_variant(kiln_recipe *r, const char *variant) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", variant);
  for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    char name[128];
    const char *eq = strchr(w, '=');
    snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - w) : 0, w);
    if (!eq || tune_pinned(r, name)) continue;
    kiln_status st = kiln_recipe_set(r, w);
    if (st != KILN_OK) return st;
  }
  return KILN_OK;
}

kiln_status kiln_tune_apply(kiln_recipe *r, const char *path, char **what) {
  if (!r) return KILN_ERR_USAGE;
  api_begin(r->s);
  if (!path || !what) return api_fail(r->s, KILN_ERR_USAGE, "kiln_tune_apply: no database path or result");
  *what = NULL;
  if (!r->lua) return api_fail(r->s, KILN_ERR_USAGE, "%s: --tuned needs a recipe", r->path);
  sqlite3 *db;
  best_row *best = calloc(1, sizeof *best);
  if (!best) return api_fail(r->s, KILN_ERR_SYSTEM, "out of memory");
  kiln_status st = KILN_OK;
  if (tune_db_open(path, 0, &db, r->s->err, sizeof r->s->err)) st = KILN_ERR_INPUT;
  if (st == KILN_OK) st = find_best(r, db, path, best), sqlite3_close(db);
  if (st == KILN_OK) st = apply_variant(r, best->variant);
  if (st == KILN_OK) {
    size_t n = strlen(best->variant) + strlen(best->problem) + strlen(path) + 128;
    if ((*what = malloc(n)))
      snprintf(*what, n, "%s (%.3g s %s, %s [%s]) from %s", best->variant, best->time_s, best->source,
               best->dist == 0 ? "measured at" : "nearest measured problem", best->problem, path);
  }
  free(best);
  return st;
}
