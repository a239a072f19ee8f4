/*
 * test_tune.c - the tuner's database and sweep (compiler/api/tune*.c, docs/tuning.md):
 *   1. a new database gets the schema; a row put is found again; a later put replaces it;
 *   2. files that are not kiln tuning databases are refused with their path and why: random bytes,
 *      a truncated database, another program's SQLite file, a newer schema, a directory, a missing
 *      file opened without create;
 *   3. concurrent writers: forked processes writing random rows to one file lose none;
 *   4. merge: a key in two inputs keeps the later measurement, merging again changes nothing;
 *   5. the sweep over tests/tune/vadd_tune.lua: the space enumerated, the constraints' refusals
 *      written with their reasons, a second run resumes and measures nothing;
 *   6. kiln_tune_apply: the exact problem, the nearest, a pinned knob kept, nothing measured;
 *   7. bad options: --space on an unknown or pinned knob, a bad shard;
 *   8. a schema version 1 database is migrated to version 2 (its rows kept, the new statuses taken);
 *   9. the pruning sweep (the default on the simulator): every variant one final row, at most
 *      check_best ok and checked, the rest pruned with their reasons, a second run measures nothing;
 *  10. the random order's permutation is a bijection of its domain for every size and seed, and not
 *      the identity.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../compiler/api/tune.h"
#include "test.h"

static const char *RECIPE = "tests/tune/vadd_tune.lua";

static char *path_in(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static void key_row(tune_row *r, const char *variant, double t) {
  memset(r, 0, sizeof *r);
  snprintf(r->recipe_hash, sizeof r->recipe_hash, "00000000deadbeef");
  snprintf(r->recipe, sizeof r->recipe, "vadd_tune");
  snprintf(r->variant, sizeof r->variant, "%s", variant);
  snprintf(r->problem, sizeof r->problem, "n=3000");
  snprintf(r->device, sizeof r->device, "model sm_80");
  snprintf(r->driver, sizeof r->driver, "none");
  snprintf(r->version, sizeof r->version, "test");
  tune_row_init(r, r);
  r->time_s = t;
  r->time_source = "model";
}

/* SELECT count(*) ... on the file. */
static long count_rows(const char *path, const char *where) {
  sqlite3 *db;
  sqlite3_stmt *st;
  char sql[512];
  long n = -1;
  snprintf(sql, sizeof sql, "SELECT count(*) FROM results WHERE %s", where);
  if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

static double time_of(const char *path, const char *variant) {
  char where[256];
  sqlite3 *db;
  sqlite3_stmt *st;
  double t = -1;
  snprintf(where, sizeof where, "SELECT time_s FROM results WHERE variant = '%s'", variant);
  if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, where, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) t = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return t;
}

static void test_put_has(const char *dir) {
  char err[1024], *path = path_in(dir, "a.db");
  sqlite3 *db;
  tune_row r;
  CHECK(tune_db_open(path, 1, &db, err, sizeof err) == 0, "%s", err);
  key_row(&r, "BLOCK=64 warps=1", 1e-6);
  CHECK(tune_db_has(db, &r, err, sizeof err) == 0, "empty database has the row");
  CHECK(tune_db_put(db, &r, err, sizeof err) == 0, "%s", err);
  CHECK(tune_db_has(db, &r, err, sizeof err) == 1, "row not found after put");
  r.time_s = 2e-6;
  CHECK(tune_db_put(db, &r, err, sizeof err) == 0, "%s", err);
  sqlite3_close(db);
  CHECK(count_rows(path, "1") == 1, "a second put of one key made %ld rows", count_rows(path, "1"));
  CHECK(time_of(path, "BLOCK=64 warps=1") == 2e-6, "the later put did not replace the row");
  free(path);
}

/* Opens path and expects a refusal naming it with `why` in the message. */
static void expect_refused(const char *path, int create, const char *why) {
  char err[1024] = "";
  sqlite3 *db = NULL;
  CHECK(tune_db_open(path, create, &db, err, sizeof err) == -1, "%s was accepted", path);
  CHECK(!strncmp(err, path, strlen(path)), "the message does not begin with the path: %s", err);
  CHECK_CONTAINS(err, why);
  sqlite3_close(db);
}

static void test_refused(const char *dir) {
  char *junk = path_in(dir, "junk.db"), *other = path_in(dir, "other.db"), *newer = path_in(dir, "newer.db");
  char *cut = path_in(dir, "cut.db"), *missing = path_in(dir, "missing.db"), bytes[4096], err[512];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (char)test_rand();
  test_write_file(junk, bytes, sizeof bytes);
  expect_refused(junk, 1, "not a database");
  sqlite3 *db;
  sqlite3_open(other, &db);
  sqlite3_exec(db, "CREATE TABLE songs(title TEXT)", NULL, NULL, NULL);
  sqlite3_close(db);
  expect_refused(other, 1, "not a kiln tuning database (it has no meta table)");
  CHECK(tune_db_open(newer, 1, &db, err, sizeof err) == 0, "%s", err);
  sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", NULL, NULL, NULL);
  sqlite3_close(db);
  expect_refused(newer, 0, "schema version '99', this kiln reads version 2");
  /* the first page of a real database and nothing else */
  size_t n = 0;
  char *whole = test_read_file(newer, &n);
  CHECK(whole && n >= 4096, "cannot read %s back", newer);
  if (whole) test_write_file(cut, whole, 100);
  free(whole);
  expect_refused(cut, 0, "");
  expect_refused(dir, 1, "a directory");
  expect_refused(missing, 0, "No such file or directory");
  free(junk), free(other), free(newer), free(cut), free(missing);
}

/* Writers in separate processes, each its own connection (as the sweep's workers are). */
static void test_concurrent(const char *dir) {
  enum { WRITERS = 6, ROWS = 40 };
  char *path = path_in(dir, "conc.db"), err[512];
  sqlite3 *db;
  CHECK(tune_db_open(path, 1, &db, err, sizeof err) == 0, "%s", err);
  sqlite3_close(db);
  uint64_t seed = test_rand64();
  for (int w = 0; w < WRITERS; w++) {
    pid_t pid = fork();
    if (pid == 0) {
      tune_row r;
      char v[64];
      int bad = 0;
      test_rand_seed(seed + (uint64_t)w);
      for (int i = 0; i < ROWS; i++) {
        snprintf(v, sizeof v, "w=%d i=%d", w, i);
        key_row(&r, v, test_rand_double(1e-6, 1e-3));
        bad |= tune_db_put_path(path, &r, err, sizeof err) != 0;
        if (test_rand() % 4 == 0) usleep(test_rand() % 2000);
      }
      _exit(bad);
    }
  }
  for (int w = 0; w < WRITERS; w++) {
    int st;
    wait(&st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a writer failed");
  }
  CHECK(count_rows(path, "1") == WRITERS * ROWS, "%ld rows of %d", count_rows(path, "1"), WRITERS * ROWS);
  free(path);
}

static void test_merge(const char *dir) {
  char *a = path_in(dir, "ma.db"), *b = path_in(dir, "mb.db"), *all = path_in(dir, "mall.db"), err[512];
  sqlite3 *db;
  tune_row r;
  kiln_session *s = kiln_session_new();
  CHECK(tune_db_open(a, 1, &db, err, sizeof err) == 0, "%s", err);
  key_row(&r, "x=1", 1e-3), r.measured_at = 100, tune_db_put(db, &r, err, sizeof err);
  key_row(&r, "x=2", 2e-3), r.measured_at = 300, tune_db_put(db, &r, err, sizeof err);
  sqlite3_close(db);
  CHECK(tune_db_open(b, 1, &db, err, sizeof err) == 0, "%s", err);
  key_row(&r, "x=1", 5e-3), r.measured_at = 200, tune_db_put(db, &r, err, sizeof err); /* later: wins */
  key_row(&r, "x=2", 7e-3), r.measured_at = 250, tune_db_put(db, &r, err, sizeof err); /* earlier: loses */
  key_row(&r, "x=3", 3e-3), r.measured_at = 100, tune_db_put(db, &r, err, sizeof err);
  sqlite3_close(db);
  const char *in[] = {a, b};
  for (int round = 0; round < 2; round++) { /* the second merge changes nothing */
    CHECK(kiln_tune_merge(s, in, 2, all) == KILN_OK, "%s", kiln_error(s));
    CHECK(count_rows(all, "1") == 3, "merge round %d: %ld rows", round, count_rows(all, "1"));
    CHECK(time_of(all, "x=1") == 5e-3, "x=1 kept the earlier measurement");
    CHECK(time_of(all, "x=2") == 2e-3, "x=2 took the earlier measurement");
    CHECK(time_of(all, "x=3") == 3e-3, "x=3 lost");
  }
  const char *bad[] = {a, dir};
  CHECK(kiln_tune_merge(s, bad, 2, all) == KILN_ERR_INPUT, "a directory merged");
  CHECK_CONTAINS(kiln_error(s), "a directory");
  kiln_session_free(s);
  free(a), free(b), free(all);
}

static kiln_status sweep(kiln_session *s, const char *db_path, const kiln_tune_opts *o,
                         const char *const *sets, int nsets, kiln_tune_summary *sum) {
  kiln_recipe *r = NULL;
  kiln_tune_db *db = NULL;
  kiln_status st = kiln_recipe_load(s, RECIPE, &r);
  for (int i = 0; st == KILN_OK && i < nsets; i++) st = kiln_recipe_set(r, sets[i]);
  if (st == KILN_OK) st = kiln_tune_db_open(s, db_path, 1, &db);
  if (st == KILN_OK) st = kiln_tune_run(r, db, o, sum);
  kiln_tune_db_close(db);
  kiln_recipe_free(r);
  return st;
}

static char *test_sweep(const char *dir) {
  kiln_session *s = kiln_session_new();
  char *path = path_in(dir, "sweep.db");
  kiln_tune_summary sum;
  kiln_tune_opts o = {.sim = 1, .jobs = 2, .seed = test_rand64() % 1000, .prune_model = -1, .check_best = -1};
  const char *sets[] = {"n=700"};
  CHECK(sweep(s, path, &o, sets, 1, &sum) == KILN_OK, "%s", kiln_error(s));
  /* BLOCK {64..1024} x warps {1,2,4}: 15; BLOCK > 256 warps refused 3 times, BLOCK < 32 warps once */
  CHECK(sum.space == 15 && sum.measured == 15 && sum.done == 0, "space %ld measured %ld done %ld", sum.space,
        sum.measured, sum.done);
  CHECK(sum.refused == 4 && sum.ok == 11, "refused %ld ok %ld", sum.refused, sum.ok);
  CHECK(count_rows(path, "reason = 'BLOCK over 8 elements per thread'") == 3, "constraint reasons");
  CHECK(count_rows(path, "variant = 'BLOCK=64 warps=4' AND status = 'refused' AND reason LIKE "
                         "'tests/tune/vadd_tune.lua:14: constraints[2] refuses it'") == 1,
        "the second constraint's refusal names its line");
  CHECK(count_rows(path, "status = 'ok' AND time_source = 'model' AND time_s > 0 AND error >= 0 AND "
                         "error < 1e-6 AND problem = 'n=700'") == 11,
        "ok rows are labelled model, timed and checked");
  CHECK(sweep(s, path, &o, sets, 1, &sum) == KILN_OK, "%s", kiln_error(s));
  CHECK(sum.measured == 0 && sum.done == 15, "the second run measured %ld, found %ld", sum.measured,
        sum.done);
  /* the budget: 3 variants of another problem compiled (the constraints' refusals on the way written,
   * not counted), then the rest */
  const char *sets2[] = {"n=900"};
  o.budget_variants = 3;
  CHECK(sweep(s, path, &o, sets2, 1, &sum) == KILN_OK && sum.measured - sum.refused == 3 && sum.refused < 4,
        "budget: %ld measured, %ld refused", sum.measured, sum.refused);
  long first = sum.measured;
  o.budget_variants = 0;
  CHECK(sweep(s, path, &o, sets2, 1, &sum) == KILN_OK && sum.measured == 15 - first && sum.done == first,
        "after the budget: %ld measured, %ld done", sum.measured, sum.done);
  kiln_session_free(s);
  return path;
}

/* kiln run --tuned: the exact problem, the nearest one, a pinned knob, nothing measured. */
static void expect_apply(const char *db, const char *const *sets, int nsets, kiln_status want,
                         const char *text) {
  kiln_session *s = kiln_session_new();
  kiln_recipe *r = NULL;
  char *what = NULL;
  kiln_status st = kiln_recipe_load(s, RECIPE, &r);
  for (int i = 0; st == KILN_OK && i < nsets; i++) st = kiln_recipe_set(r, sets[i]);
  if (st == KILN_OK) st = kiln_tune_apply(r, db, &what);
  CHECK(st == want, "apply: %s, want %s (%s)", kiln_status_name(st), kiln_status_name(want), kiln_error(s));
  CHECK_CONTAINS(st == KILN_OK ? what : kiln_error(s), text);
  kiln_free(what);
  kiln_recipe_free(r);
  kiln_session_free(s);
}

static void test_apply(const char *dir, const char *db) {
  const char *exact[] = {"n=700"}, *near[] = {"n=800"}, *pinned[] = {"n=700", "warps=2"};
  expect_apply(db, exact, 1, KILN_OK, "measured at [n=700]");
  expect_apply(db, near, 1, KILN_OK, "nearest measured problem [n=900]"); /* log2(900/800) < log2(800/700) */
  expect_apply(db, pinned, 2, KILN_OK, "warps=2 (");
  char *empty = path_in(dir, "empty.db"), err[256];
  sqlite3 *h;
  CHECK(tune_db_open(empty, 1, &h, err, sizeof err) == 0, "%s", err);
  sqlite3_close(h);
  expect_apply(empty, exact, 1, KILN_ERR_INPUT, "no measured variant of vadd_tune for [n=700]");
  free(empty);
}

static void expect_usage(const kiln_tune_opts *o, const char *const *sets, int nsets, const char *msg) {
  kiln_session *s = kiln_session_new();
  kiln_tune_summary sum;
  char *dir = test_scratch_dir("tune-usage"), *path = path_in(dir, "u.db");
  CHECK(sweep(s, path, o, sets, nsets, &sum) == KILN_ERR_USAGE, "accepted: %s", msg);
  CHECK_CONTAINS(kiln_error(s), msg);
  free(path), free(dir);
  kiln_session_free(s);
}

static void test_bad_options(void) {
  const char *unknown[] = {"BLOCKS=1,2"}, *empty[] = {"BLOCK="}, *bad[] = {"BLOCK=64,big"};
  const char *pin[] = {"warps=1"}, *spin[] = {"warps=1,2"};
  expect_usage(&(kiln_tune_opts){.sim = 1, .space = unknown, .nspace = 1}, NULL, 0,
               "--space BLOCKS=1,2: not KNOB=v1,v2,... with a knob of the recipe");
  expect_usage(&(kiln_tune_opts){.sim = 1, .space = empty, .nspace = 1}, NULL, 0, "--space BLOCK: no values");
  expect_usage(&(kiln_tune_opts){.sim = 1, .space = bad, .nspace = 1}, NULL, 0, "--space: ");
  expect_usage(&(kiln_tune_opts){.sim = 1, .space = spin, .nspace = 1}, pin, 1,
               "--space warps=1,2: the knob is pinned by --set");
  expect_usage(&(kiln_tune_opts){.sim = 1, .shard = 2, .nshards = 2}, NULL, 0, "--shard 2/2");
  expect_usage(&(kiln_tune_opts){.sim = 1, .strategy = "greedy"}, NULL, 0, "--strategy greedy");
  expect_usage(&(kiln_tune_opts){.sim = 1, .target = "sm_7"}, NULL, 0, "unknown target 'sm_7'");
}

/* A database as version 1 made it, opened by this kiln: migrated in place. */
static void test_migrate(const char *dir) {
  char *path = path_in(dir, "v1.db"), err[512];
  sqlite3 *db;
  tune_row r;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(
            db,
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE results(recipe_hash TEXT NOT NULL, recipe TEXT NOT NULL, variant TEXT NOT NULL,"
            " problem TEXT NOT NULL, device TEXT NOT NULL, driver TEXT NOT NULL, kiln_version TEXT NOT "
            "NULL,"
            " status TEXT NOT NULL CHECK (status IN ('ok','refused','spilled','wrong','timeout')),"
            " reason TEXT NOT NULL, time_s REAL, spread_s REAL, time_source TEXT, error REAL,"
            " within_accuracy INTEGER, registers INTEGER, spill_bytes INTEGER, smem_bytes INTEGER,"
            " occupancy_warps INTEGER, measured_at REAL NOT NULL,"
            " PRIMARY KEY (recipe_hash, variant, problem, device, driver, kiln_version));"
            "INSERT INTO meta VALUES ('application', 'kiln-tune'), ('schema_version', '1');"
            "INSERT INTO results VALUES ('00000000deadbeef', 'vadd_tune', 'x=1', 'n=3000', 'model sm_80',"
            " 'none', 'test', 'ok', '', 4e-3, NULL, 'model', 1e-7, NULL, 20, 0, 0, 8, 123);",
            NULL, NULL, NULL) == SQLITE_OK,
        "%s", sqlite3_errmsg(db));
  sqlite3_close(db);
  CHECK(tune_db_open(path, 0, &db, err, sizeof err) == 0, "the version 1 database: %s", err);
  key_row(&r, "x=2", 1e-3), r.status = "pruned";
  CHECK(tune_db_put(db, &r, err, sizeof err) == 0, "a pruned row after the migration: %s", err);
  sqlite3_close(db);
  CHECK(time_of(path, "x=1") == 4e-3 &&
            count_rows(path, "variant = 'x=1' AND registers = 20 AND measured_at = 123") == 1,
        "the version 1 row was not kept");
  CHECK(count_rows(path, "status = 'pruned'") == 1);
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL);
  CHECK(st && sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "2"),
        "schema_version is not 2 after the migration");
  sqlite3_finalize(st);
  sqlite3_close(db);
  free(path);
}

/* The pruning sweep on vadd_tune: 11 variants compile, their model times tie (DRAM-bound), 2 are
 * checked and pass, the other 9 are pruned as not checked; the constraints' 4 refusals as before. */
static void test_pruning(const char *dir) {
  kiln_session *s = kiln_session_new();
  char *path = path_in(dir, "prune.db");
  kiln_tune_summary sum;
  kiln_tune_opts o = {.sim = 1, .jobs = 2, .seed = test_rand64() % 1000, .check_best = 2};
  const char *sets[] = {"n=1100"};
  CHECK(sweep(s, path, &o, sets, 1, &sum) == KILN_OK, "%s", kiln_error(s));
  CHECK(sum.measured == 15 && sum.ok == 2 && sum.refused == 4 && sum.pruned == 9 && sum.checked == 2,
        "measured %ld ok %ld refused %ld pruned %ld checked %ld", sum.measured, sum.ok, sum.refused,
        sum.pruned, sum.checked);
  CHECK(count_rows(path, "1") == 15 && count_rows(path, "status = 'pending'") == 0, "rows");
  CHECK(count_rows(path, "status = 'ok' AND time_source = 'model' AND error >= 0 AND error < 1e-6") == 2,
        "the checked rows");
  CHECK(count_rows(path, "status = 'pruned' AND reason LIKE 'not checked: model %'") +
                count_rows(path, "status = 'pruned' AND reason LIKE 'model: %'") ==
            9,
        "pruning reasons");
  CHECK(sweep(s, path, &o, sets, 1, &sum) == KILN_OK && sum.measured == 0 && sum.done == 15,
        "the second run measured %ld", sum.measured);
  kiln_session_free(s);
  free(path);
}

/* tune_permute: each x of [0, 2^bits) once, for random keys; it moves most of them. */
static void test_permute(void) {
  for (unsigned bits = 2; bits <= 18; bits += 2)
    for (int trial = 0; trial < 3; trial++) {
      uint64_t key = test_rand64(), n = 1ull << bits, moved = 0;
      unsigned char *seen = calloc((size_t)n, 1);
      CHECK(seen != NULL);
      int ok = 1;
      for (uint64_t x = 0; x < n && ok; x++) {
        uint64_t y = tune_permute(x, bits, key);
        ok = y < n && !seen[y];
        if (ok) seen[y] = 1, moved += y != x;
      }
      CHECK(ok);
      if (bits >= 8) CHECK(moved > n / 2);
      free(seen);
    }
}

int main(void) {
  test_rand_seed(test_seed());
  test_permute();
  char *dir = test_scratch_dir("tune");
  test_migrate(dir);
  test_pruning(dir);
  test_put_has(dir);
  test_refused(dir);
  test_concurrent(dir);
  test_merge(dir);
  char *db = test_sweep(dir);
  test_apply(dir, db);
  free(db);
  test_bad_options();
  free(dir);
  return test_done("test_tune");
}
