/*
 * model.c - the roofline model (include/kiln.h, docs/profiling.md "The model"): an estimate of a
 * launch's time on a target row's reference GPU from what the simulator counts, never a measurement.
 *
 * kiln_model_compute is the arithmetic: four bounds, each the launch's work over the rate the whole
 * GPU sustains for it (target/perf.c), the per-SM ones stretched by the last wave's idle SMs; the
 * estimate is the largest. kiln_model_estimate gathers the work: it simulates a few programs of the
 * grid (first, last, evenly between), scales their counters to the grid, and asks ptxas and the
 * disassembler (kiln_inspect) for occupancy and for the instructions the MMA loop issues per MMA.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/sim.h"
#include "../../target/perf.h"
#include "api.h"
#include "driver.h"
#include "harness.h"

enum { DEFAULT_SAMPLES = 3 };

static int bad_count(double v) { return !isfinite(v) || v < 0; }

kiln_status kiln_model_compute(kiln_session *s, const char *target, const kiln_model_work *w,
                               kiln_model_result *out) {
  if (!s || !w || !out) return KILN_ERR_USAGE;
  api_begin(s);
  memset(out, 0, sizeof *out);
  const tg_target *t = api_target(s, target);
  if (!t) return KILN_ERR_USAGE;
  const tg_perf *p = tg_perf_of(t);
  if (!p) return api_fail(s, KILN_ERR_USAGE, "kiln_model_compute: target %s has no reference rates", t->name);
  const double counts[] = {w->blocks,          w->mma_ops16,  w->mma_ops8,         w->mma_ops1,
                           w->smem_wavefronts, w->dram_bytes, w->warp_instructions};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
    if (bad_count(counts[i]))
      return api_fail(s, KILN_ERR_USAGE, "kiln_model_compute: a count is negative or not finite (%g)",
                      counts[i]);
  if (w->blocks < 1) return api_fail(s, KILN_ERR_USAGE, "kiln_model_compute: a launch has at least 1 block");
  if (w->blocks_per_sm < 0)
    return api_fail(s, KILN_ERR_USAGE, "kiln_model_compute: blocks per SM is %d", w->blocks_per_sm);
  if ((w->mma_ops8 > 0 && p->mma8 <= 0) || (w->mma_ops1 > 0 && p->mma1 <= 0))
    return api_fail(s, KILN_ERR_USAGE, "kiln_model_compute: %s (%s) has no rate for the kernel's mma inputs",
                    t->name, p->part);
  snprintf(out->part, sizeof out->part, "%s", p->part);
  out->sms = p->sms;
  out->clock_ghz = p->clock_ghz;
  out->dram_gbs = p->dram_gbs;
  double hz = p->clock_ghz * 1e9, sms = p->sms;
  int bps = w->blocks_per_sm > 0 ? w->blocks_per_sm : 1;
  out->waves = w->blocks / (sms * bps);
  /* The busiest SM runs ceil(blocks / SMs) programs, whether at once or in turn: the per-SM bounds are
   * the whole grid's work over all SMs, stretched by that imbalance. */
  out->wave_eff = w->blocks / (sms * ceil(w->blocks / sms));
  double stretch = 1 / out->wave_eff;
  double clocks = 0; /* tensor clocks per SM, summed over input widths */
  if (w->mma_ops16 > 0) clocks += w->mma_ops16 / p->mma16;
  if (w->mma_ops8 > 0) clocks += w->mma_ops8 / p->mma8;
  if (w->mma_ops1 > 0) clocks += w->mma_ops1 / p->mma1;
  out->tensor_s = clocks / (sms * hz) * stretch;
  out->smem_s = w->smem_wavefronts / (p->smem_wavefronts * sms * hz) * stretch;
  out->dram_s = w->dram_bytes / (p->dram_gbs * 1e9);
  out->issue_s = w->warp_instructions / (p->issue * sms * hz) * stretch;
  const struct {
    double v;
    const char *name;
  } bounds[] = {{out->tensor_s, "tensor"},
                {out->smem_s, "shared memory"},
                {out->dram_s, "DRAM"},
                {out->issue_s, "issue"}};
  out->bound = "tensor";
  for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
    if (bounds[i].v > out->time_s) out->time_s = bounds[i].v, out->bound = bounds[i].name;
  double ops = w->mma_ops16 + w->mma_ops8 + w->mma_ops1;
  out->tensor_tflops = out->time_s > 0 ? ops / out->time_s / 1e12 : 0;
  snprintf(
      out->assumptions, sizeof out->assumptions,
      "a model, not a measurement: %s (%d SMs at %.2f GHz, %.0f GB/s; %s); each bound alone at peak rate, "
      "no latency, no overlap limits%s%s",
      p->part, p->sms, p->clock_ghz, p->dram_gbs, p->note,
      w->blocks_per_sm ? "" : "; occupancy unknown (1 block per SM)",
      w->warp_instructions > 0 ? "" : "; no issue bound (instruction count unknown)");
  return KILN_OK;
}

/* ---- gathering the work ---- */

/* n programs spread over [0, blocks): first, last and evenly between, strictly increasing. */
static int64_t spread(int64_t *ids, int n, int64_t blocks) {
  int64_t m = 0;
  for (int i = 0; i < n; i++) {
    int64_t b = n == 1 ? 0 : (int64_t)llround((double)i * (double)(blocks - 1) / (double)(n - 1));
    if (m == 0 || b > ids[m - 1]) ids[m++] = b;
  }
  return m;
}

typedef struct {
  kl_arg args[KL_MAXARGS];
  void *host[KL_MAXARGS];
  int nargs;
} model_case;

static void free_case(model_case *c) {
  for (int i = 0; i < c->nargs; i++) free(c->host[i]);
}

/* The launch's arguments: inputs random, outputs poisoned (as kiln run makes them); the DRAM bytes of
 * every tensor once per direction. */
static int make_args(kiln_recipe *r, model_case *c, sim_arg *sa, double *dram, harness_rng *rng) {
  kiln_session *s = r->s;
  c->nargs = kl_recipe_args(r->lua, &r->set, c->args, KL_MAXARGS, s->err, sizeof s->err);
  if (c->nargs < 0) return -1;
  *dram = 0;
  for (int i = 0; i < c->nargs; i++) {
    const kl_arg *a = &c->args[i];
    sa[i] = (sim_arg){.is_ptr = a->is_tensor, .elem = a->elem, .ival = a->ival, .fval = a->fval};
    if (!a->is_tensor) continue;
    size_t n = 1;
    for (int d = 0; d < a->rank; d++) n *= (size_t)a->dims[d];
    size_t bytes = n * harness_elem_size(a->elem);
    if (!(c->host[i] = malloc(bytes ? bytes : 1))) {
      snprintf(s->err, sizeof s->err, "out of memory for %s (%zu bytes)", a->name, bytes);
      return -1;
    }
    if (a->role & KL_IN)
      harness_fill(c->host[i], a->elem, n, rng);
    else
      harness_poison(c->host[i], a->elem, n);
    sa[i].ptr = c->host[i], sa[i].bytes = bytes;
    *dram += (double)bytes * (((a->role & KL_IN) ? 1 : 0) + ((a->role & KL_OUT) ? 1 : 0));
  }
  return 0;
}

/* Simulates the sampled programs; fills the work's counts scaled to the grid. */
static kiln_status simulate(kiln_recipe *r, const tg_target *t, int samples, kiln_model_work *w,
                            double *mma_count) {
  kiln_session *s = r->s;
  model_case c = {0};
  sim_arg sa[KL_MAXARGS];
  int64_t grid[3], *ids = NULL;
  harness_rng rng;
  harness_seed(&rng, 0x6b696c6e6d6f64ull);
  cg_result k = {0};
  sim_profile prof = {0};
  kiln_status st = KILN_ERR_INPUT;
  if (make_args(r, &c, sa, &w->dram_bytes, &rng) ||
      kl_recipe_grid(r->lua, &r->set, grid, s->err, sizeof s->err))
    goto out;
  int64_t blocks = grid[0] * grid[1] * grid[2];
  if (blocks < 1) {
    snprintf(s->err, sizeof s->err, "%s: the grid has no programs", r->path);
    goto out;
  }
  if (!(ids = calloc((size_t)samples, sizeof *ids))) {
    st = api_fail(s, KILN_ERR_SYSTEM, "out of memory");
    goto out;
  }
  int64_t n = spread(ids, samples, blocks);
  driver_opts dopt = {.target = t, .backend = CG_SIM};
  st = KILN_ERR_COMPILE;
  if (driver_compile_recipe(r->lua, &r->set, &dopt, NULL, &k, s->err, sizeof s->err)) goto out;
  sim_opts so = {.check_races = -1,
                 .check_uninit = -1,
                 .check_global = -1,
                 .profile = &prof,
                 .sample = ids,
                 .nsample = n};
  st = KILN_ERR_CHECK;
  if (sim_launch(&k, sa, c.nargs, grid, &so, s->err, sizeof s->err)) goto out;
  double scale = (double)blocks / (double)n;
  w->blocks = (double)blocks;
  w->mma_ops16 = (double)prof.total.mma_ops16 * scale;
  w->mma_ops8 = (double)prof.total.mma_ops8 * scale;
  w->mma_ops1 = (double)prof.total.mma_ops1 * scale;
  w->smem_wavefronts = (double)prof.total.smem_wavefronts * scale;
  *mma_count = (double)prof.total.mma * scale;
  st = KILN_OK;
out: /* the message of a failure is in s->err already */
  sim_profile_free(&prof);
  cg_result_free(&k);
  free(ids);
  free_case(&c);
  return st;
}

kiln_status kiln_model_estimate(kiln_recipe *r, const kiln_model_opts *o, kiln_model_work *work,
                                kiln_model_result *out) {
  if (!r || !out) return KILN_ERR_USAGE;
  kiln_session *s = r->s;
  api_begin(s);
  memset(out, 0, sizeof *out);
  if (!o) return api_fail(s, KILN_ERR_USAGE, "kiln_model_estimate: no options");
  if (!r->lua)
    return api_fail(s, KILN_ERR_USAGE,
                    "%s: the model simulates a recipe's launch (an IR file has no arguments)", r->path);
  if (o->samples < 0 || o->samples > 4096)
    return api_fail(s, KILN_ERR_USAGE, "kiln_model_estimate: samples is 1 .. 4096 (0: %d), not %d",
                    DEFAULT_SAMPLES, o->samples);
  const tg_target *t = api_target(s, o->target);
  if (!t) return KILN_ERR_USAGE;
  kiln_model_work w = {0};
  double mma = 0;
  kiln_status st = simulate(r, t, o->samples ? o->samples : DEFAULT_SAMPLES, &w, &mma);
  if (st != KILN_OK) return st;
  kiln_inspect_result *ins = calloc(1, sizeof *ins);
  if (!ins) return api_fail(s, KILN_ERR_SYSTEM, "out of memory");
  kiln_inspect_opts io = {.target = t->name, .no_cache = o->no_cache};
  st = kiln_inspect(r, &io, ins);
  if (st == KILN_OK) {
    w.blocks_per_sm = ins->occ.blocks;
    if (ins->have_sass && ins->loop.found && mma > 0)
      w.warp_instructions = mma * (1 + ins->loop.non_mma_per_mma);
  } else if (st != KILN_ERR_NO_TOOL) {
    free(ins);
    return st;
  }
  free(ins);
  if (work) *work = w;
  return kiln_model_compute(s, t->name, &w, out);
}
