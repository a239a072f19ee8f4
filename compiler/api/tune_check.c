/*
 * tune_check.c - the tuner's quiet check: one variant run on the simulator (or the GPU) against the recipe's
 * reference, returning the largest relative error instead of printing result lines (kiln run's
 * check is in run.c). A miscompiled variant must never win a sweep, so every surviving variant
 * goes through here before it is ranked.
 *
 *   1. the argument list and the grid for the settings;
 *   2. inputs get seeded random values, outputs NaN poison;
 *   3. the kernel compiled for the simulator and launched;
 *   4. the reference, exact and (when the criterion needs it) in low precision;
 *   5. every output judged by the recipe's criterion (harness_judge) against the reference on the
 *      inputs as the kernel saw them;
 *   6. the error recorded: the largest relative error against the exact reference on the float
 *      inputs before they were rounded to the kernel's types, so that a narrower type shows what it
 *      costs (precision is a dimension of the sweep).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ir/elem_float.h"
#include "../../runtime/rt.h"
#include "../../sim/sim.h"
#include "../ref/ref.h"
#include "driver.h"
#include "harness.h"
#include "tune.h"

typedef struct {
  kl_arg args[KL_MAXARGS];
  int nargs;
  int64_t grid[3];
  void *host[KL_MAXARGS];
  double *ref[KL_MAXARGS], *lowp[KL_MAXARGS];
  double *orig[KL_MAXARGS]; /* float inputs: the values before rounding to the element type */
  size_t n[KL_MAXARGS];
  cg_result k;
  rt_dptr dev[KL_MAXARGS];
  api_tmap maps[RT_TMAP_MAXSPEC]; /* the kernel's tensor maps (copies {tma = 1}) */
} check_case;

static void free_case(check_case *c) {
  for (int i = 0; i < c->nargs; i++) free(c->host[i]), free(c->ref[i]), free(c->lowp[i]), free(c->orig[i]);
  cg_result_free(&c->k);
}

static int alloc_tensors(check_case *c, harness_rng *rng, char *err, size_t errn) {
  for (int i = 0; i < c->nargs; i++) {
    const kl_arg *a = &c->args[i];
    if (!a->is_tensor) continue;
    size_t n = 1;
    for (int d = 0; d < a->rank; d++) n *= (size_t)a->dims[d];
    c->n[i] = n;
    c->host[i] = harness_alloc(n * harness_elem_size(a->elem));
    c->ref[i] = malloc((n ? n : 1) * sizeof(double));
    c->lowp[i] = malloc((n ? n : 1) * sizeof(double));
    if (!c->host[i] || !c->ref[i] || !c->lowp[i])
      return snprintf(err, errn, "out of memory for %s (%zu elements)", a->name, n), -1;
    if ((a->role & KL_IN) && ir_elem_is_float(a->elem)) { /* uniform in [-1, 1), kept unrounded */
      if (!(c->orig[i] = malloc((n ? n : 1) * sizeof(double))))
        return snprintf(err, errn, "out of memory for %s (%zu elements)", a->name, n), -1;
      for (size_t j = 0; j < n; j++) c->orig[i][j] = harness_uniform(rng);
      harness_from_double(c->host[i], a->elem, n, c->orig[i]);
    } else if (a->role & KL_IN) {
      harness_fill(c->host[i], a->elem, n, rng);
    } else {
      harness_poison(c->host[i], a->elem, n);
    }
  }
  return 0;
}

static int launch(check_case *c, char *err, size_t errn) {
  sim_arg sa[KL_MAXARGS + RT_TMAP_MAXSPEC];
  for (int i = 0; i < c->nargs; i++) {
    const kl_arg *a = &c->args[i];
    sa[i] = (sim_arg){.is_ptr = a->is_tensor, .elem = a->elem, .ival = a->ival, .fval = a->fval};
    if (a->is_tensor) sa[i].ptr = c->host[i], sa[i].bytes = c->n[i] * harness_elem_size(a->elem);
  }
  int nmaps = api_tmaps(&c->k, c->args, c->nargs, NULL, c->host, c->maps, RT_TMAP_MAXSPEC, err, errn);
  if (nmaps < 0) return -1;
  for (int j = 0; j < nmaps; j++)
    sa[c->nargs + j] = (sim_arg){.is_ptr = 1, .elem = IR_U8, .ptr = c->maps[j].b, .bytes = RT_TMAP_BYTES};
  sim_opts so = {.workers = 1, .check_races = 1, .check_uninit = 1};
  return sim_launch(&c->k, sa, c->nargs + nmaps, c->grid, &so, err, errn);
}

static int reference(kl_recipe *r, const kl_settings *s, check_case *c, ir_elem precision, double **data,
                     char *err, size_t errn) {
  for (int i = 0; i < c->nargs; i++)
    if (c->args[i].is_tensor && (c->args[i].role & KL_IN))
      harness_to_double(c->host[i], c->args[i].elem, c->n[i], data[i]);
  ref_job job = {.nargs = c->nargs,
                 .args = c->args,
                 .data = data,
                 .set = s,
                 .precision = precision,
                 .round = harness_round_named};
  return ref_run(r, &job, err, errn);
}

/* The exact reference always; the low-precision one when the criterion is vs_lowp. 1: lowp ran. */
static int run_reference(kl_recipe *r, const kl_settings *s, check_case *c, char *err, size_t errn) {
  ir_elem elems[KL_MAXARGS];
  int ne = 0;
  for (int i = 0; i < c->nargs; i++)
    if (c->args[i].is_tensor) elems[ne++] = c->args[i].elem;
  if (reference(r, s, c, IR_F64, c->ref, err, errn)) return -1;
  ir_elem precision = harness_lowp_precision(elems, ne);
  if (kl_recipe_check_rule(r)->criterion != KL_CRIT_VS_LOWP || precision == IR_F64) return 0;
  int rc = reference(r, s, c, precision, c->lowp, err, errn);
  if (rc == REF_FAILED) return -1;
  return rc == REF_OK;
}

/* The budget of output i as kiln run has it: check.tol, else the loosest float type's. */
static double output_tol(kl_recipe *r, const check_case *c, int out) {
  if (!ir_elem_is_float(c->args[out].elem)) return 0;
  if (kl_recipe_check_rule(r)->tol > 0) return kl_recipe_check_rule(r)->tol;
  double tol = harness_tolerance(c->args[out].elem);
  for (int i = 0; i < c->nargs; i++)
    if (c->args[i].is_tensor && ir_elem_is_float(c->args[i].elem) && harness_tolerance(c->args[i].elem) > tol)
      tol = harness_tolerance(c->args[i].elem);
  return tol;
}

static int judge(kl_recipe *r, check_case *c, int have_lowp, double *max_err, char *err, size_t errn) {
  int failed = 0;
  *max_err = 0;
  for (int i = 0; i < c->nargs; i++) {
    const kl_arg *a = &c->args[i];
    if (!a->is_tensor || !(a->role & KL_OUT)) continue;
    harness_rule rule = {.vs_lowp = kl_recipe_check_rule(r)->criterion == KL_CRIT_VS_LOWP,
                         .tol = output_tol(r, c, i),
                         .factor = kl_recipe_check_rule(r)->factor,
                         .lowp = have_lowp ? c->lowp[i] : NULL};
    harness_verdict v;
    int bad = harness_judge(c->host[i], a->elem, c->ref[i], c->n[i], &rule, &v) != 0;
    if (v.rel.max_rel > *max_err || v.rel.max_rel != v.rel.max_rel) *max_err = v.rel.max_rel;
    if (bad && !failed)
      snprintf(err, errn, "%s: max rel err %.3g over its budget (%.3gx the limit)", a->name, v.rel.max_rel,
               v.over);
    failed |= bad;
  }
  return failed;
}

/* The error a variant's element types cost: the exact reference on the float inputs as drawn, before
 * they were rounded to the kernel's types, against the kernel's outputs; the largest relative error
 * (harness_compare's measure) over the outputs. The judged error when no input is a float. */
static int precision_error(kl_recipe *r, const kl_settings *s, check_case *c, double *max_err, char *err,
                           size_t errn) {
  int any = 0;
  for (int i = 0; i < c->nargs; i++) any |= c->orig[i] != NULL;
  if (!any) return 0;
  for (int i = 0; i < c->nargs; i++) /* the inputs into ref[] (free again after the judgement) */
    if (c->args[i].is_tensor && (c->args[i].role & KL_IN)) {
      if (c->orig[i])
        memcpy(c->ref[i], c->orig[i], c->n[i] * sizeof(double));
      else
        harness_to_double(c->host[i], c->args[i].elem, c->n[i], c->ref[i]);
    }
  ref_job job = {.nargs = c->nargs,
                 .args = c->args,
                 .data = c->ref,
                 .set = s,
                 .precision = IR_F64,
                 .round = harness_round_named};
  if (ref_run(r, &job, err, errn)) return -1;
  *max_err = 0;
  for (int i = 0; i < c->nargs; i++) {
    harness_cmp m;
    if (!c->args[i].is_tensor || !(c->args[i].role & KL_OUT)) continue;
    harness_compare(c->host[i], c->args[i].elem, c->ref[i], c->n[i], INFINITY, &m);
    if (m.max_rel > *max_err || m.max_rel != m.max_rel) *max_err = m.max_rel;
  }
  return 0;
}

int tune_check_sim(kl_recipe *r, const kl_settings *s, const tg_target *t, uint64_t seed, double *max_err,
                   char *err, size_t errn) {
  check_case *c = calloc(1, sizeof *c);
  if (!c) return snprintf(err, errn, "out of memory"), -1;
  harness_rng rng;
  harness_seed(&rng, seed);
  driver_opts o = {.target = t, .backend = CG_SIM, .specialize = 1};
  int rc = -1, lowp;
  c->nargs = kl_recipe_args(r, s, c->args, KL_MAXARGS, err, errn);
  if (c->nargs >= 0 && !kl_recipe_grid(r, s, c->grid, err, errn) && !alloc_tensors(c, &rng, err, errn) &&
      !driver_compile_recipe(r, s, &o, NULL, &c->k, err, errn) && !launch(c, err, errn) &&
      (lowp = run_reference(r, s, c, err, errn)) >= 0)
    rc = judge(r, c, lowp, max_err, err, errn);
  if (rc == 0 && precision_error(r, s, c, max_err, err, errn)) rc = -1;
  if (c->nargs < 0) c->nargs = 0;
  free_case(c);
  free(c);
  return rc;
}

/* ---- on the GPU: the same check, then the timing ---- */

struct tune_gpu {
  rt_device *d;
  rt_dptr flush; /* a buffer larger than any L2, written between timed launches (flush_l2) */
};

enum { FLUSH_BYTES = 256 << 20, DEFAULT_REPS = 50, DEFAULT_WARMUP = 5 };

int tune_gpu_open(tune_gpu **out, const char *forced_target, const tg_target **t, char *name, size_t namen,
                  char *err, size_t errn) {
  tune_gpu *g = calloc(1, sizeof *g);
  *out = NULL;
  if (!g) return snprintf(err, errn, "out of memory"), -1;
  if (rt_device_open(0, &g->d, err, errn)) return free(g), -1;
  *t = forced_target ? tg_target_lookup(forced_target) : harness_pick_target(rt_device_sm(g->d), err, errn);
  if (!*t) return tune_gpu_close(g), -1;
  snprintf(name, namen, "%s", rt_device_name(g->d));
  *out = g;
  return 0;
}

void tune_gpu_close(tune_gpu *g) {
  if (!g) return;
  if (g->flush) rt_mem_free(g->d, g->flush);
  rt_device_close(g->d);
  free(g);
}

static int gpu_upload(tune_gpu *g, check_case *c, api_param *pv, void **params, char *err, size_t errn) {
  for (int i = 0; i < c->nargs; i++) {
    params[i] = &pv[i];
    if (!c->args[i].is_tensor) {
      pv[i] = api_scalar_param(&c->args[i]);
      continue;
    }
    size_t bytes = c->n[i] * harness_elem_size(c->args[i].elem);
    if (rt_mem_alloc(g->d, bytes ? bytes : 1, &c->dev[i], err, errn) ||
        rt_mem_upload(g->d, c->dev[i], c->host[i], bytes, err, errn))
      return -1;
    pv[i].ptr = c->dev[i];
  }
  int nmaps = api_tmaps(&c->k, c->args, c->nargs, c->dev, NULL, c->maps, RT_TMAP_MAXSPEC, err, errn);
  if (nmaps < 0) return -1;
  for (int j = 0; j < nmaps; j++) params[c->nargs + j] = c->maps[j].b;
  return 0;
}

static int gpu_download(tune_gpu *g, check_case *c, char *err, size_t errn) {
  for (int i = 0; i < c->nargs; i++)
    if (c->args[i].is_tensor && (c->args[i].role & KL_OUT) &&
        rt_mem_download(g->d, c->host[i], c->dev[i], c->n[i] * harness_elem_size(c->args[i].elem), err, errn))
      return -1;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Warm-up launches, then reps launches timed one by one with events (the L2 flushed before each
 * when asked): the median, and the spread from the 10th to the 90th percentile. */
static int gpu_time(tune_gpu *g, rt_kernel *k, check_case *c, void **params, const kiln_tune_opts *o,
                    tune_row *row, char *err, size_t errn) {
  int reps = o->reps > 0 ? o->reps : DEFAULT_REPS, warm = o->warmup > 0 ? o->warmup : DEFAULT_WARMUP;
  double *ms = calloc((size_t)reps, sizeof *ms);
  if (!ms) return snprintf(err, errn, "out of memory"), -1;
  int rc = -1;
  if (o->flush_l2 && !g->flush && rt_mem_alloc(g->d, FLUSH_BYTES, &g->flush, err, errn)) goto out;
  for (int i = 0; i < warm; i++)
    if (rt_launch(k, c->grid, c->k.threads, c->k.shared_bytes, params, err, errn)) goto out;
  for (int i = 0; i < reps; i++)
    if ((o->flush_l2 && rt_mem_set8(g->d, g->flush, (unsigned char)i, FLUSH_BYTES, err, errn)) ||
        rt_launch_timed(k, c->grid, c->k.threads, c->k.shared_bytes, params, 1, &ms[i], err, errn))
      goto out;
  qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
  row->time_s = ms[reps / 2] * 1e-3;
  row->spread_s = (ms[reps * 9 / 10 < reps ? reps * 9 / 10 : reps - 1] - ms[reps / 10]) * 1e-3;
  row->time_source = "gpu";
  rc = 0;
out:
  free(ms);
  return rc;
}

static void gpu_free(tune_gpu *g, check_case *c) {
  for (int i = 0; i < c->nargs; i++)
    if (c->dev[i]) rt_mem_free(g->d, c->dev[i]);
  free_case(c);
  free(c);
}

/* Compiles s's kernel, fills its inputs (seeded) and poisons its outputs, uploads, launches once and
 * downloads the outputs; *k and params stay for the timing. */
static int gpu_prepare(tune_gpu *g, kl_recipe *r, const kl_settings *s, const tg_target *t, uint64_t seed,
                       check_case *c, rt_kernel **k, api_param *pv, void **params, char *err, size_t errn) {
  harness_rng rng;
  harness_seed(&rng, seed);
  driver_opts dopts = {.target = t, .backend = CG_NVPTX, .specialize = 1};
  c->nargs = kl_recipe_args(r, s, c->args, KL_MAXARGS, err, errn);
  if (c->nargs < 0) return c->nargs = 0, -1;
  return kl_recipe_grid(r, s, c->grid, err, errn) || alloc_tensors(c, &rng, err, errn) ||
                 driver_compile_recipe(r, s, &dopts, NULL, &c->k, err, errn) ||
                 rt_kernel_load(g->d, c->k.ptx, c->k.kernel_name, c->k.shared_bytes, k, err, errn) ||
                 gpu_upload(g, c, pv, params, err, errn) ||
                 rt_launch(*k, c->grid, c->k.threads, c->k.shared_bytes, params, err, errn) ||
                 rt_synchronize(g->d, err, errn) || gpu_download(g, c, err, errn)
             ? -1
             : 0;
}

/* The check at the check's settings: 0 pass, 1 wrong, -1 could not run (err says why). */
static int gpu_check(tune_gpu *g, kl_recipe *r, const kl_settings *s, const tg_target *t, uint64_t seed,
                     double *max_err, char *err, size_t errn) {
  api_param pv[KL_MAXARGS];
  void *params[KL_MAXARGS + RT_TMAP_MAXSPEC];
  rt_kernel *k = NULL;
  int lowp, rc = -1;
  check_case *c = calloc(1, sizeof *c);
  if (!c) return snprintf(err, errn, "out of memory"), -1;
  if (!gpu_prepare(g, r, s, t, seed, c, &k, pv, params, err, errn) &&
      (lowp = run_reference(r, s, c, err, errn)) >= 0)
    rc = judge(r, c, lowp, max_err, err, errn);
  if (rc == 0 && precision_error(r, s, c, max_err, err, errn)) rc = -1;
  rt_kernel_free(k);
  gpu_free(g, c);
  return rc;
}

/* The timing at the problem's settings. */
static int gpu_measure_time(tune_gpu *g, kl_recipe *r, const kl_settings *s, const tg_target *t,
                            const kiln_tune_opts *o, uint64_t seed, tune_row *row, char *err, size_t errn) {
  api_param pv[KL_MAXARGS];
  void *params[KL_MAXARGS + RT_TMAP_MAXSPEC];
  rt_kernel *k = NULL;
  check_case *c = calloc(1, sizeof *c);
  if (!c) return snprintf(err, errn, "out of memory"), -1;
  int rc = gpu_prepare(g, r, s, t, seed, c, &k, pv, params, err, errn) ||
                   gpu_time(g, k, c, params, o, row, err, errn)
               ? -1
               : 0;
  rt_kernel_free(k);
  gpu_free(g, c);
  return rc;
}

int tune_gpu_measure(tune_gpu *g, kl_recipe *r, const kl_settings *s, const kl_settings *check,
                     const tg_target *t, const kiln_tune_opts *o, uint64_t seed, tune_row *row) {
  char err[1024] = "";
  int rc = o->no_check ? 0 : gpu_check(g, r, check, t, seed, &row->error, err, sizeof err);
  if (rc > 0)
    row->status = "wrong";
  else if (rc < 0 || gpu_measure_time(g, r, s, t, o, seed, row, err, sizeof err))
    row->status = "refused", rc = -1;
  else
    row->status = "ok", err[0] = 0;
  if (o->accuracy > 0 && row->error >= 0) row->within_accuracy = row->error <= o->accuracy;
  snprintf(row->reason, sizeof row->reason, "%s", err);
  return rc ? -1 : 0;
}
