/*
 * tune_measure.c - one variant, measured in a worker process (tune.c forks one per variant, so
 * each has its own LLVM context and Lua state):
 *   1. the knobs set on the worker's copy of the recipe;
 *   2. kiln_inspect: compiled to PTX through the kernel cache, ptxas -v's registers, spills and
 *      shared memory, the occupancy; a variant that does not compile or fit is refused, one that
 *      spills is marked spilled and goes no further (it cannot be fast);
 *   3. with a GPU the parent takes over (TUNE_WORKER_GPU); else the check on the simulator at the
 *      check's problem (small shapes) and the model's time.
 * The pruning sweep (tune.c) splits the same work in three steps, each a worker of its own:
 * tune_count (the model's bound from the tile IR, no LLVM), tune_compile (steps 1-2 and the model's
 * time) and tune_check (the check of a compiled variant).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune.h"

static int refuse(tune_row *row, const char *status, const char *why) {
  row->status = status;
  snprintf(row->reason, sizeof row->reason, "%s", why);
  return TUNE_WORKER_WROTE;
}

/* Compiles through kiln_inspect (ptxas's report); without ptxas, PTX alone (resources unknown). */
static int compile_variant(kiln_recipe *r, const tune_env *e, kiln_inspect_result *res, tune_row *row,
                           int *have_res) {
  kiln_inspect_opts io = {.target = e->target,
                          .specialize = 1}; /* the SASS MMA loop: the model's issue bound */
  kiln_status st = kiln_inspect(r, &io, res);
  *have_res = st == KILN_OK;
  if (st == KILN_ERR_NO_TOOL) {
    kiln_compile_opts co = {.target = e->target, .emit = KILN_EMIT_PTX, .specialize = 1};
    kiln_output out = {0};
    st = kiln_compile(r, &co, &out);
    if (st == KILN_OK) row->smem_bytes = out.shared_bytes;
    kiln_output_free(&out);
  }
  if (st != KILN_OK) return refuse(row, "refused", kiln_error(r->s)), -1;
  if (!*have_res) return 0;
  row->registers = res->registers;
  row->spill_bytes = res->spill_store_bytes + res->spill_load_bytes;
  row->smem_bytes = res->static_shared_bytes + res->dynamic_shared_bytes;
  row->occupancy_warps = res->occ.warps;
  return 0;
}

/* The target's limits and ptxas's report: -1 (row filled) when the variant goes no further. */
static int prune(const tune_env *e, const kiln_inspect_result *res, int have_res, tune_row *row) {
  char why[256];
  if (row->smem_bytes > e->t->smem_per_block) {
    snprintf(why, sizeof why, "%d B of shared memory, over the target's %d B per block", row->smem_bytes,
             e->t->smem_per_block);
    return refuse(row, "refused", why), -1;
  }
  if (!have_res) return 0;
  if (res->occ.blocks < 1) {
    snprintf(why, sizeof why, "no block fits on a multiprocessor (%s)", res->occ.limit);
    return refuse(row, "refused", why), -1;
  }
  if (row->spill_bytes > 0) {
    snprintf(why, sizeof why, "ptxas spills %d B stores, %d B loads at %d registers", res->spill_store_bytes,
             res->spill_load_bytes, res->registers);
    return refuse(row, "spilled", why), -1;
  }
  return 0;
}

/* base with every size parameter above cap brought to cap, then --check-set. */
static int capped(kl_recipe *r, const kl_settings *base, const tune_env *e, long long cap, kl_settings *s,
                  char *err, size_t errn) {
  char buf[128];
  *s = *base;
  for (int i = 0; i < kl_recipe_nparams(r); i++) {
    const kl_param *p = kl_recipe_param(r, i);
    const char *v = kl_settings_get(s, p->name);
    char *end;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (p->is_tune || !v || *end || x <= cap) continue;
    snprintf(buf, sizeof buf, "%s=%lld", p->name, cap);
    if (kl_settings_apply(r, s, buf, err, errn)) return -1;
  }
  for (int i = 0; i < e->ncheck_sets; i++)
    if (kl_settings_apply(r, s, e->check_sets[i], err, errn)) return -1;
  return 0;
}

/* 1 if the recipe builds its kernel at s: its arguments, grid and body accept the sizes. */
static int builds(kl_recipe *r, const kl_settings *s, const tg_target *t) {
  kl_arg args[KL_MAXARGS];
  int64_t grid[3];
  char err[1024];
  if (kl_recipe_args(r, s, args, KL_MAXARGS, err, sizeof err) < 0 ||
      kl_recipe_grid(r, s, grid, err, sizeof err))
    return 0;
  ir_func *fn = kl_recipe_build(r, s, t, err, sizeof err);
  if (fn) ir_func_destroy(fn);
  return fn != NULL;
}

/* The check's settings: the sweep's, then every size parameter above 64 brought to 64 (unless
 * --check-set names it), then --check-set. Where the recipe does not build the variant at those sizes
 * (a split of an FFT that needs a longer row), the cap doubles, 128, 256, ..., until it builds or the
 * sweep's own sizes are reached. */
int tune_check_settings(kl_recipe *r, const kl_settings *base, const tune_env *e, kl_settings *s, char *err,
                        size_t errn) {
  long long top = 0;
  for (int i = 0; i < kl_recipe_nparams(r); i++) {
    const kl_param *p = kl_recipe_param(r, i);
    const char *v = kl_settings_get(base, p->name);
    char *end;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!p->is_tune && v && !*end && x > top) top = x;
  }
  for (long long cap = 64;; cap *= 2) {
    if (capped(r, base, e, cap, s, err, errn)) return -1;
    if (cap >= top || builds(r, s, e->t)) return 0;
  }
}

/* The check on the simulator: 0 and row->error, or the row made refused or wrong. */
static int check_variant(kiln_recipe *r, const tune_env *e, tune_row *row) {
  char err[1024];
  kl_settings s;
  uint64_t seed = tune_hash(row->variant, strlen(row->variant), e->o->seed + 1);
  if (tune_check_settings(r->lua, &r->set, e, &s, err, sizeof err)) return refuse(row, "refused", err), -1;
  int rc = tune_check_sim(r->lua, &s, e->t, seed, &row->error, err, sizeof err);
  if (rc < 0) return refuse(row, "refused", err), -1;
  if (rc > 0) return refuse(row, "wrong", err), -1;
  if (e->o->accuracy > 0) row->within_accuracy = row->error <= e->o->accuracy;
  return 0;
}

static int check_and_rank(kiln_recipe *r, const tune_env *e, const kiln_sass_loop *loop, tune_row *row) {
  char err[1024];
  if (!e->o->no_check && check_variant(r, e, row)) return TUNE_WORKER_WROTE;
  if (tune_model_time(r, e->target, loop, &row->time_s, err, sizeof err)) return refuse(row, "refused", err);
  row->time_source = "model";
  return TUNE_WORKER_WROTE;
}

int tune_measure(kiln_recipe *r, const tune_env *e, char **knobs, int n, tune_row *row) {
  static kiln_inspect_result res; /* large: off the stack */
  int have_res = 0;
  for (int i = 0; i < n; i++)
    if (kiln_recipe_set(r, knobs[i]) != KILN_OK) return refuse(row, "refused", kiln_error(r->s));
  if (compile_variant(r, e, &res, row, &have_res) || prune(e, &res, have_res, row)) return TUNE_WORKER_WROTE;
  if (e->gpu) return TUNE_WORKER_GPU;
  return check_and_rank(r, e, have_res && res.have_sass ? &res.loop : NULL, row);
}

static int set_knobs(kiln_recipe *r, char **knobs, int n, tune_row *row) {
  for (int i = 0; i < n; i++)
    if (kiln_recipe_set(r, knobs[i]) != KILN_OK) return refuse(row, "refused", kiln_error(r->s)), -1;
  return 0;
}

int tune_count(kiln_recipe *r, const tune_env *e, char **knobs, int n, tune_row *row) {
  kiln_model_result m;
  int smem = 0;
  char why[256];
  if (set_knobs(r, knobs, n, row)) return TUNE_WORKER_WROTE;
  if (kiln_model_static(r, e->target, NULL, NULL, &smem, &m) != KILN_OK)
    return refuse(row, "refused", kiln_error(r->s));
  if (smem > e->t->smem_per_block) {
    snprintf(why, sizeof why, "%d B of shared memory planned, over the target's %d B per block", smem,
             e->t->smem_per_block);
    return refuse(row, "refused", why);
  }
  row->smem_bytes = smem;
  row->status = "pending";
  row->time_s = m.bound ? m.time_s : 0; /* not countable: no bound, compiled first */
  row->time_source = "bound";
  snprintf(row->reason, sizeof row->reason, "%s",
           m.bound ? "the model's bound before compiling" : m.assumptions);
  return TUNE_WORKER_WROTE;
}

int tune_compile(kiln_recipe *r, const tune_env *e, char **knobs, int n, tune_row *row) {
  static kiln_inspect_result res;
  int have_res = 0;
  char err[1024];
  if (set_knobs(r, knobs, n, row)) return TUNE_WORKER_WROTE;
  if (compile_variant(r, e, &res, row, &have_res) || prune(e, &res, have_res, row)) return TUNE_WORKER_WROTE;
  if (tune_model_time(r, e->target, have_res && res.have_sass ? &res.loop : NULL, &row->time_s, err,
                      sizeof err))
    return refuse(row, "refused", err);
  row->status = "pending";
  row->time_source = "model";
  snprintf(row->reason, sizeof row->reason, "compiled, not checked yet");
  return TUNE_WORKER_WROTE;
}

int tune_check(kiln_recipe *r, const tune_env *e, char **knobs, int n, tune_row *row) {
  if (set_knobs(r, knobs, n, row) || check_variant(r, e, row)) return TUNE_WORKER_WROTE;
  row->status = "ok";
  row->reason[0] = 0;
  return TUNE_WORKER_WROTE;
}
