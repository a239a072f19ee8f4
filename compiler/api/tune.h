/*
 * tune.h - what the files of the tuner (compiler/api/tune*.c) share: the database's row and its
 * calls (tune_db.c), the measurement of one variant (tune_measure.c), the quiet check against the
 * reference (tune_check.c) and the model's estimate (tune_model.c). The public side is the
 * kiln_tune_* section of include/kiln.h; docs/tuning.md has the schema and the algorithm.
 */
#ifndef KILN_TUNE_H
#define KILN_TUNE_H

#include <sqlite3.h>

#include "api.h"

enum { TUNE_SCHEMA_VERSION = 2 };

struct kiln_tune_db {
  kiln_session *s;
  sqlite3 *db;
  char *path;
};

/* One row of the results table: the key (recipe hash .. kiln version), then what was measured. */
typedef struct {
  char recipe_hash[17], recipe[64];
  char variant[1024], problem[512];
  char device[128], driver[64], version[32];
  const char *status;      /* "ok", "refused", "spilled", "wrong", "timeout", "pruned", "pending" */
  char reason[1024];       /* why not ok; "" when ok */
  double time_s, spread_s; /* < 0: none */
  const char *time_source; /* "gpu", "model" or NULL */
  double error; /* max relative error against the exact reference on unrounded inputs; < 0: not checked */
  int within_accuracy;                                     /* 1, 0, or -1 (no --accuracy) */
  int registers, spill_bytes, smem_bytes, occupancy_warps; /* -1: unknown */
  double measured_at;                                      /* Unix seconds */
} tune_row;

/* A row with every measurement unknown and the key copied from key. */
void tune_row_init(tune_row *row, const tune_row *key);

/* Opens path as a tuning database (tune_db.c). 0, or -1 with "PATH: WHY" in err. */
int tune_db_open(const char *path, int create, sqlite3 **out, char *err, size_t errn);
/* Inserts or replaces the row (one IMMEDIATE transaction). 0 or -1 with a message. */
int tune_db_put(sqlite3 *db, const tune_row *row, char *err, size_t errn);
/* Inserts or replaces n rows in one IMMEDIATE transaction. 0 or -1 with a message. */
int tune_db_put_many(sqlite3 *db, const tune_row *rows, long n, char *err, size_t errn);
/* 1 if the key of row is in db, 0 if not, -1 on error. */
int tune_db_has(sqlite3 *db, const tune_row *row, char *err, size_t errn);
/* Writes the row to the database at path through a connection of its own (worker processes). */
int tune_db_put_path(const char *path, const tune_row *row, char *err, size_t errn);

/* The quiet check (tune_check.c): runs the kernel of r's settings s on the simulator with seeded
 * random inputs, the reference on them, and judges every output by the recipe's criterion. Returns 0
 * pass, 1 wrong (why in err), -1 could not run (err); *max_err the largest relative error. */
int tune_check_sim(kl_recipe *r, const kl_settings *s, const tg_target *t, uint64_t seed, double *max_err,
                   char *err, size_t errn);

/* The model's time for r's settings on target (tune_model.c: kiln_model_static with the SASS loop,
 * else kiln_model_estimate); labelled "model". */
int tune_model_time(kiln_recipe *r, const char *target, const kiln_sass_loop *loop, double *time_s, char *err,
                    size_t errn);

/* The random order's permutation (tune.c): a bijection of [0, 2^bits) (bits even, 2..62) chosen by key. */
uint64_t tune_permute(uint64_t x, unsigned bits, uint64_t key);

/* What a worker needs to measure one variant (tune_measure.c). */
typedef struct {
  const kiln_tune_opts *o;
  const char *db_path;
  const char *target; /* the target row's name */
  const tg_target *t;
  int gpu;                           /* 1: the parent checks and times survivors on the GPU */
  const char *check_sets[KL_MAXSET]; /* the problem of the check, on top of the sweep's */
  int ncheck_sets;
} tune_env;

/* Exit statuses of a worker process. */
enum { TUNE_WORKER_WROTE = 0, TUNE_WORKER_GPU = 3, TUNE_WORKER_FAILED = 4 };

/* Measures one variant in a worker: sets knobs (NAME=VALUE, n of them) on r, compiles, prunes by
 * the target's limits and ptxas's report, checks on the simulator, ranks by the model; fills row.
 * Returns TUNE_WORKER_GPU when the variant survives pruning and the GPU is to check and time it. */
int tune_measure(kiln_recipe *r, const tune_env *e, char **knobs, int n, tune_row *row);

/* The three steps of the pruning sweep, each in a worker; each fills row (status pending until checked):
 * tune_count: the model's bound from the tile IR (no LLVM), the planned shared memory against the
 * target's (refused); tune_compile: compiled, ptxas's report (refused, spilled), the model's time;
 * tune_check: the check on the simulator (ok, wrong, refused). Each returns TUNE_WORKER_WROTE. */
int tune_count(kiln_recipe *r, const tune_env *e, char **knobs, int n, tune_row *row);
int tune_compile(kiln_recipe *r, const tune_env *e, char **knobs, int n, tune_row *row);
int tune_check(kiln_recipe *r, const tune_env *e, char **knobs, int n, tune_row *row);

/* The GPU side (tune_gpu.c), in the parent process: checks the variant against the reference on
 * the GPU at the check's settings (small shapes), then times it at the problem's with events (warm-up,
 * repetitions, median and spread, optional L2 flush). */
typedef struct tune_gpu tune_gpu;
int tune_gpu_open(tune_gpu **out, const char *forced_target, const tg_target **t, char *name, size_t namen,
                  char *err, size_t errn);
void tune_gpu_close(tune_gpu *g);
int tune_gpu_measure(tune_gpu *g, kl_recipe *r, const kl_settings *s, const kl_settings *check,
                     const tg_target *t, const kiln_tune_opts *o, uint64_t seed, tune_row *row);
/* The settings the check runs at: base, then every size parameter above 64 brought to 64, then the
 * env's --check-set entries; where the recipe does not build the variant there, the cap doubled until
 * it does or base's sizes are reached (tune_measure.c). */
int tune_check_settings(kl_recipe *r, const kl_settings *base, const tune_env *e, kl_settings *out, char *err,
                        size_t errn);

/* The problem of r's settings: every parameter that is not a knob, NAME=VALUE in the recipe's
 * order, one space apart ("K=512 M=512 N=512 alpha=none"). */
void tune_problem_text(const kiln_recipe *r, char *text, size_t textn);
/* 1 if a kiln_recipe_set on r named the parameter. */
int tune_pinned(const kiln_recipe *r, const char *name);

/* 64-bit FNV-1a (recipe hashes, check seeds). */
uint64_t tune_hash(const void *data, size_t n, uint64_t h);

#endif
