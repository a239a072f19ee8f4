/*
 * tune_db.c - the tuning database: SQLite in WAL mode, one row per (recipe hash, variant, problem,
 * device, driver, kiln version), written as soon as a variant is measured (docs/tuning.md has the
 * schema). Several processes may write one file: each write is one IMMEDIATE transaction and every
 * connection waits up to a minute for the lock.
 *
 * A file is refused, with its path and why, when SQLite cannot read it (not a database, corrupt),
 * when it has no `meta` table saying application = kiln-tune (another program's database), or when
 * its schema version is newer than this kiln's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tune.h"

/* The results table of schema version 2 (version 1 had no 'pruned' and 'pending' statuses). */
#define RESULTS_TABLE(NAME)                                                                                  \
  "CREATE TABLE " NAME "("                                                                                   \
  " recipe_hash TEXT NOT NULL, recipe TEXT NOT NULL, variant TEXT NOT NULL, problem TEXT NOT NULL,"          \
  " device TEXT NOT NULL, driver TEXT NOT NULL, kiln_version TEXT NOT NULL,"                                 \
  " status TEXT NOT NULL CHECK (status IN ('ok','refused','spilled','wrong','timeout','pruned','pending'))," \
  " reason TEXT NOT NULL, time_s REAL, spread_s REAL, time_source TEXT, error REAL,"                         \
  " within_accuracy INTEGER, registers INTEGER, spill_bytes INTEGER, smem_bytes INTEGER,"                    \
  " occupancy_warps INTEGER, measured_at REAL NOT NULL,"                                                     \
  " PRIMARY KEY (recipe_hash, variant, problem, device, driver, kiln_version));"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);" RESULTS_TABLE(
        "results") "INSERT OR IGNORE INTO meta VALUES ('application', 'kiln-tune');"
                   "INSERT OR IGNORE INTO meta VALUES ('schema_version', '2');";

/* Version 1 to 2: the same columns, the status check widened (SQLite cannot alter a CHECK). */
static const char MIGRATE_1_2[] = RESULTS_TABLE("results_v2") "INSERT INTO results_v2 SELECT * FROM results;"
                                                              "DROP TABLE results;"
                                                              "ALTER TABLE results_v2 RENAME TO results;"
                                                              "UPDATE meta SET value = '2' WHERE key = "
                                                              "'schema_version';";

uint64_t tune_hash(const void *data, size_t n, uint64_t h) {
  const unsigned char *p = data;
  if (!h) h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

void tune_row_init(tune_row *row, const tune_row *key) {
  if (key != row) *row = *key;
  row->status = "ok";
  row->reason[0] = 0;
  row->time_s = row->spread_s = row->error = -1;
  row->time_source = NULL;
  row->within_accuracy = -1;
  row->registers = row->spill_bytes = row->smem_bytes = row->occupancy_warps = -1;
  row->measured_at = 0;
}

static int db_fail(sqlite3 *db, const char *path, const char *what, char *err, size_t errn) {
  snprintf(err, errn, "%s: %s%s%s", path, what, db ? ": " : "", db ? sqlite3_errmsg(db) : "");
  return -1;
}

/* The meta table says application = kiln-tune and a schema version this kiln reads. */
static int check_meta(sqlite3 *db, const char *path, char *err, size_t errn) {
  sqlite3_stmt *st = NULL;
  char app[64] = "", ver[32] = "";
  if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &st, NULL) != SQLITE_OK) {
    if (strstr(sqlite3_errmsg(db), "no such table"))
      return snprintf(err, errn, "%s: not a kiln tuning database (it has no meta table)", path), -1;
    return db_fail(db, path, "cannot read it", err, errn);
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *k = (const char *)sqlite3_column_text(st, 0), *v = (const char *)sqlite3_column_text(st, 1);
    if (k && v && !strcmp(k, "application")) snprintf(app, sizeof app, "%s", v);
    if (k && v && !strcmp(k, "schema_version")) snprintf(ver, sizeof ver, "%s", v);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return db_fail(db, path, "cannot read it", err, errn);
  if (strcmp(app, "kiln-tune"))
    return snprintf(err, errn, "%s: not a kiln tuning database (meta says application '%s')", path, app), -1;
  if (atoi(ver) != TUNE_SCHEMA_VERSION)
    return snprintf(err, errn, "%s: schema version '%s', this kiln reads version %d", path, ver,
                    TUNE_SCHEMA_VERSION),
           -1;
  return 0;
}

/* SQLite's lock waits: a busy or locked answer is worth another try while another connection sets
 * the file up (the switch to WAL and the first schema take locks the busy handler does not always
 * wait for). */
static int db_busy(int rc) {
  rc &= 0xff;
  return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* The meta table's schema version of a kiln tuning database; 0 if it has none. */
static int schema_version(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int v = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT (SELECT value FROM meta WHERE key = 'schema_version') FROM meta"
                         " WHERE key = 'application' AND value = 'kiln-tune'",
                         -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    v = atoi((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

/* A new or empty file gets the schema; a version 1 database is migrated to version 2; any other file must
 * already be a kiln tuning database. Returns 0, -1 (refused: err says why) or a busy SQLite code (try again).
 * The count and the schema are one IMMEDIATE transaction, so two processes creating one file at once create
 * it once. */
static int prepare_schema(sqlite3 *db, const char *path, char *err, size_t errn) {
  const char *sql = SCHEMA;
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return db_busy(rc) ? rc : db_fail(db, path, "cannot read it", err, errn);
  sqlite3_stmt *st = NULL;
  rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  int tables = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return db_busy(rc) ? rc : db_fail(db, path, "cannot read it", err, errn);
  }
  char *msg = NULL;
  if (tables > 0 && schema_version(db) == 1) sql = MIGRATE_1_2; /* in the same transaction */
  if ((tables == 0 || sql == MIGRATE_1_2) && (rc = sqlite3_exec(db, sql, NULL, NULL, &msg)) != SQLITE_OK) {
    if (!db_busy(rc))
      snprintf(err, errn, "%s: cannot create the schema: %s", path, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return db_busy(rc) ? rc : -1;
  }
  if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return db_busy(rc) ? rc : db_fail(db, path, "cannot create the schema", err, errn);
  }
  return check_meta(db, path, err, errn);
}

/* WAL mode and the schema, tried again while another connection holds the file (up to a minute). */
static int setup_db(sqlite3 *db, const char *path, char *err, size_t errn) {
  for (int tries = 0;; tries++) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
      rc = prepare_schema(db, path, err, errn);
    else if (!db_busy(rc))
      return db_fail(db, path, "cannot read it", err, errn);
    if (rc <= 0) return rc;
    if (tries >= 6000) return db_fail(db, path, "cannot read it (locked for a minute)", err, errn);
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

int tune_db_open(const char *path, int create, sqlite3 **out, char *err, size_t errn) {
  struct stat sb;
  *out = NULL;
  if (stat(path, &sb) != 0 && (!create || errno != ENOENT))
    return snprintf(err, errn, "%s: cannot open it: %s", path, strerror(errno)), -1;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return snprintf(err, errn, "%s: cannot open it: a directory", path), -1;
  sqlite3 *db = NULL;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
    db_fail(db, path, "cannot open it", err, errn);
    sqlite3_close(db);
    return -1;
  }
  sqlite3_busy_timeout(db, 60000);
  if (setup_db(db, path, err, errn)) {
    sqlite3_close(db);
    return -1;
  }
  *out = db;
  return 0;
}

static void bind_real(sqlite3_stmt *st, int i, double v) {
  if (v < 0)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_double(st, i, v);
}

static void bind_int(sqlite3_stmt *st, int i, int v) {
  if (v < 0)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int(st, i, v);
}

static void bind_key(sqlite3_stmt *st, const tune_row *r) {
  sqlite3_bind_text(st, 1, r->recipe_hash, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, r->variant, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, r->problem, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, r->device, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, r->driver, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, r->version, -1, SQLITE_STATIC);
}

/* Inserts or replaces the row inside the caller's transaction. */
static int insert_row(sqlite3 *db, const tune_row *r) {
  sqlite3_stmt *st = NULL;
  const char *sql =
      "INSERT OR REPLACE INTO results (recipe_hash, variant, problem, device, driver, kiln_version,"
      " recipe, status, reason, time_s, spread_s, time_source, error, within_accuracy, registers,"
      " spill_bytes, smem_bytes, occupancy_warps, measured_at)"
      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
  bind_key(st, r);
  sqlite3_bind_text(st, 7, r->recipe, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, r->status, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 9, r->reason, -1, SQLITE_STATIC);
  bind_real(st, 10, r->time_s);
  bind_real(st, 11, r->spread_s);
  if (r->time_source) sqlite3_bind_text(st, 12, r->time_source, -1, SQLITE_STATIC);
  bind_real(st, 13, r->error);
  bind_int(st, 14, r->within_accuracy);
  bind_int(st, 15, r->registers);
  bind_int(st, 16, r->spill_bytes);
  bind_int(st, 17, r->smem_bytes);
  bind_int(st, 18, r->occupancy_warps);
  sqlite3_bind_double(st, 19, r->measured_at > 0 ? r->measured_at : (double)time(NULL));
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

int tune_db_put_many(sqlite3 *db, const tune_row *rows, long n, char *err, size_t errn) {
  int ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
  for (long i = 0; ok && i < n; i++) ok = insert_row(db, &rows[i]) == 0;
  if (!ok || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, errn, "cannot write a result: %s", sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

int tune_db_put(sqlite3 *db, const tune_row *r, char *err, size_t errn) {
  return tune_db_put_many(db, r, 1, err, errn);
}

int tune_db_has(sqlite3 *db, const tune_row *r, char *err, size_t errn) {
  sqlite3_stmt *st = NULL;
  const char *sql =
      "SELECT 1 FROM results WHERE recipe_hash = ? AND variant = ? AND problem = ? AND device = ?"
      " AND driver = ? AND kiln_version = ?";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return snprintf(err, errn, "cannot read results: %s", sqlite3_errmsg(db)), -1;
  bind_key(st, r);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return snprintf(err, errn, "cannot read results: %s", sqlite3_errmsg(db)), -1;
  return rc == SQLITE_ROW;
}

int tune_db_put_path(const char *path, const tune_row *row, char *err, size_t errn) {
  sqlite3 *db;
  if (tune_db_open(path, 0, &db, err, errn)) return -1;
  int rc = tune_db_put(db, row, err, errn);
  sqlite3_close(db);
  return rc;
}

/* ---- the public calls ---- */

kiln_status kiln_tune_db_open(kiln_session *s, const char *path, int create, kiln_tune_db **out) {
  if (!s || !out) return KILN_ERR_USAGE;
  api_begin(s);
  *out = NULL;
  if (!path || !*path) return api_fail(s, KILN_ERR_USAGE, "kiln_tune_db_open: no path");
  kiln_tune_db *d = calloc(1, sizeof *d);
  if (!d || !(d->path = strdup(path))) {
    free(d);
    return api_fail(s, KILN_ERR_SYSTEM, "out of memory");
  }
  if (tune_db_open(path, create, &d->db, s->err, sizeof s->err)) {
    free(d->path);
    free(d);
    return KILN_ERR_INPUT;
  }
  d->s = s;
  *out = d;
  return KILN_OK;
}

void kiln_tune_db_close(kiln_tune_db *d) {
  if (!d) return;
  sqlite3_close(d->db);
  free(d->path);
  free(d);
}

/* Attaches in as `src` and copies its rows: a key already present keeps the later measurement. */
static int merge_one(sqlite3 *db, const char *in, char *err, size_t errn) {
  sqlite3_stmt *st = NULL;
  const char *sql =
      "INSERT INTO main.results SELECT * FROM src.results WHERE true"
      " ON CONFLICT (recipe_hash, variant, problem, device, driver, kiln_version) DO UPDATE SET"
      " recipe = excluded.recipe, status = excluded.status, reason = excluded.reason, time_s = "
      "excluded.time_s,"
      " spread_s = excluded.spread_s, time_source = excluded.time_source, error = excluded.error,"
      " within_accuracy = excluded.within_accuracy, registers = excluded.registers,"
      " spill_bytes = excluded.spill_bytes, smem_bytes = excluded.smem_bytes,"
      " occupancy_warps = excluded.occupancy_warps, measured_at = excluded.measured_at"
      " WHERE excluded.measured_at > results.measured_at";
  if (sqlite3_prepare_v2(db, "ATTACH DATABASE ? AS src", -1, &st, NULL) != SQLITE_OK) return -1;
  sqlite3_bind_text(st, 1, in, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return snprintf(err, errn, "%s: cannot attach it: %s", in, sqlite3_errmsg(db)), -1;
  rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
       sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK &&
       sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == 0;
  if (!rc) {
    snprintf(err, errn, "%s: cannot merge it: %s", in, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
  sqlite3_exec(db, "DETACH DATABASE src", NULL, NULL, NULL);
  return rc ? 0 : -1;
}

kiln_status kiln_tune_merge(kiln_session *s, const char *const *in, int n, const char *out) {
  if (!s) return KILN_ERR_USAGE;
  api_begin(s);
  if (!out || n < 1 || !in) return api_fail(s, KILN_ERR_USAGE, "kiln tune merge: needs inputs and -o OUT");
  sqlite3 *db = NULL, *check = NULL;
  for (int i = 0; i < n; i++) { /* every input is validated before anything is written */
    if (!in[i] || tune_db_open(in[i], 0, &check, s->err, sizeof s->err)) return KILN_ERR_INPUT;
    sqlite3_close(check);
  }
  if (tune_db_open(out, 1, &db, s->err, sizeof s->err)) return KILN_ERR_INPUT;
  for (int i = 0; i < n; i++)
    if (merge_one(db, in[i], s->err, sizeof s->err)) {
      sqlite3_close(db);
      return KILN_ERR_SYSTEM;
    }
  sqlite3_close(db);
  return KILN_OK;
}
