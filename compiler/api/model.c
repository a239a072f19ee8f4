/*
 * model.c - the roofline model (include/kiln.h, docs/profiling.md "The model"): an estimate of a
 * launch's time on a target row's reference GPU from what the simulator counts, never a measurement.
 *
 * kiln_model_compute is the arithmetic: four bounds, each the launch's work over the rate the whole
 * GPU sustains for it (target/perf.c), the per-SM ones stretched by the last wave's idle SMs; the
 * estimate is the largest. kiln_model_estimate gathers the work: it simulates a few programs of the
 * grid (first, last, evenly between), scales their counters to the grid, and asks ptxas and the
 * disassembler (kiln_inspect) for occupancy and for the instructions the MMA loop issues per MMA.
 * kiln_model_static counts the same work on the tile IR after the pass pipeline instead (no
 * simulation, no LLVM): the tuner's cheap ranking (docs/tuning.md, "Pruning").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/sim.h"
#include "../../target/mma_layout.h"
#include "../../target/perf.h"
#include "../passes/pass.h"
#include "api.h"
#include "driver.h"
#include "harness.h"

enum { DEFAULT_SAMPLES = 3 };
enum { WALK_ALL = 1024, WALK_SAMPLES = 64 }; /* the static count's programs (kiln_model_static) */

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
  const double counts[] = {w->blocks,     w->mma_ops16,         w->mma_ops8,
                           w->mma_ops1,   w->wgmma_ops16,       w->wgmma_ops8,
                           w->dram_bytes, w->warp_instructions, w->smem_wavefronts};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
    if (bad_count(counts[i]))
      return api_fail(s, KILN_ERR_USAGE, "kiln_model_compute: a count is negative or not finite (%g)",
                      counts[i]);
  if (w->blocks < 1) return api_fail(s, KILN_ERR_USAGE, "kiln_model_compute: a launch has at least 1 block");
  if (w->blocks_per_sm < 0)
    return api_fail(s, KILN_ERR_USAGE, "kiln_model_compute: blocks per SM is %d", w->blocks_per_sm);
  if (w->wgmma_ops16 > w->mma_ops16 || w->wgmma_ops8 > w->mma_ops8)
    return api_fail(s, KILN_ERR_USAGE,
                    "kiln_model_compute: wgmma operations (%g, %g) are part of the mma operations (%g, %g), "
                    "not more",
                    w->wgmma_ops16, w->wgmma_ops8, w->mma_ops16, w->mma_ops8);
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
  double clocks = 0; /* tensor clocks per SM, summed over input widths; wgmma at its own rate where the
                       row has one (else at mma.sync's) */
  double wg16 = p->wgmma16 > 0 ? w->wgmma_ops16 : 0, wg8 = p->wgmma8 > 0 ? w->wgmma_ops8 : 0;
  if (w->mma_ops16 > 0) clocks += (w->mma_ops16 - wg16) / p->mma16 + (wg16 > 0 ? wg16 / p->wgmma16 : 0);
  if (w->mma_ops8 > 0) clocks += (w->mma_ops8 - wg8) / p->mma8 + (wg8 > 0 ? wg8 / p->wgmma8 : 0);
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
    if (!(c->host[i] = harness_alloc(bytes))) {
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

static double mma_instructions(const kiln_model_work *w) {
  return w->mma_ops16 / 4096 + w->mma_ops8 / 8192 + w->mma_ops1 / 65536;
}

/* The warp instructions issued for w's matrix work, mma of them matrix instructions, at the loop's
 * mix. A loop with warpgroup MMAs (its mma_units are not its MMA count: an HGMMA .64xN is N/8 m16n8
 * units of work, each warp issuing it once) issues its instructions per unit for each m16n8 unit of
 * the work (mma_instructions); a loop of mma.sync, 1 + its non-MMA instructions per MMA for each. */
static double issued(const kiln_model_work *w, double mma, const kiln_sass_loop *l) {
  if (l->mma_units > 0 && l->mma_units != (double)l->by_class[KILN_SASS_MMA])
    return mma_instructions(w) * (double)l->instructions / l->mma_units;
  return mma * (1 + l->non_mma_per_mma);
}

/* Simulates the sampled programs; fills the work's counts scaled to the grid. */
static kiln_status simulate(kiln_recipe *r, const tg_target *t, int samples, kiln_model_work *w,
                            double *mma_count) {
  kiln_session *s = r->s;
  model_case c = {0};
  sim_arg sa[KL_MAXARGS + RT_TMAP_MAXSPEC];
  api_tmap maps[RT_TMAP_MAXSPEC];
  int nmaps;
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
  driver_opts dopt = {.target = t, .backend = CG_SIM, .specialize = 1};
  st = KILN_ERR_COMPILE;
  if (driver_compile_recipe(r->lua, &r->set, &dopt, NULL, &k, s->err, sizeof s->err)) goto out;
  sim_opts so = {.check_races = -1,
                 .check_uninit = -1,
                 .check_global = -1,
                 .profile = &prof,
                 .sample = ids,
                 .nsample = n};
  st = KILN_ERR_CHECK;
  if ((nmaps = api_tmaps(&k, c.args, c.nargs, NULL, c.host, maps, RT_TMAP_MAXSPEC, s->err, sizeof s->err)) <
      0)
    goto out;
  for (int j = 0; j < nmaps; j++)
    sa[c.nargs + j] = (sim_arg){.is_ptr = 1, .elem = IR_U8, .ptr = maps[j].b, .bytes = RT_TMAP_BYTES};
  if (sim_launch(&k, sa, c.nargs + nmaps, grid, &so, s->err, sizeof s->err)) goto out;
  double scale = (double)blocks / (double)n;
  w->blocks = (double)blocks;
  w->mma_ops16 = (double)prof.total.mma_ops16 * scale;
  w->mma_ops8 = (double)prof.total.mma_ops8 * scale;
  w->mma_ops1 = (double)prof.total.mma_ops1 * scale;
  w->wgmma_ops16 = (double)prof.total.wgmma_ops16 * scale;
  w->wgmma_ops8 = (double)prof.total.wgmma_ops8 * scale;
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
  if (api_recipe_target(r, t) != KILN_OK) return KILN_ERR_INPUT;
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
    if (ins->have_sass && ins->loop.found && mma > 0) w.warp_instructions = issued(&w, mma, &ins->loop);
  } else if (st != KILN_ERR_NO_TOOL) {
    free(ins);
    return st;
  }
  free(ins);
  if (work) *work = w;
  return kiln_model_compute(s, t->name, &w, out);
}

/* ---- the static count: the work read off the tile IR after the pass pipeline ---- */

typedef struct {
  ir_func *fn;
  const tg_target *target;
  const kl_arg *args;
  int nargs;
  const int64_t *grid;
  int64_t pid[3]; /* the program walked */
  double ops16, ops8, ops1, smem_bytes;
  double wg16, wg8; /* the part of ops16 and ops8 in dots the wgmma pass took */
  char why[256];    /* set: the count cannot follow the IR (a loop bound it cannot evaluate) */
} static_walk;

/* The value of an integer scalar when it follows from constants, the launch's scalar arguments, the
 * grid and the id of the program walked; 0 if known, -1 if not. */
static int scalar_of(static_walk *sw, ir_val v, int64_t *out, int depth) {
  ir_func *fn = sw->fn;
  const ir_value *x = &fn->vals[v];
  if (depth > 64 || x->type.kind != IR_TSCALAR || ir_elem_is_float((ir_elem)x->type.elem)) return -1;
  if (!x->def) {
    if (x->arg_of != fn->body || (int)x->index >= sw->nargs || sw->args[x->index].is_tensor) return -1;
    return *out = sw->args[x->index].ival, 0;
  }
  const ir_op *op = &fn->ops[x->def];
  int64_t a = 0, b = 0;
  switch (op->code) {
  case IR_OP_CONST: {
    for (const ir_attr *at = op->attrs; at; at = at->next)
      if (!strcmp(at->key, "value") && at->kind == IR_AINT) return *out = at->i, 0;
    return -1;
  }
  case IR_OP_PROGRAM_ID: {
    int64_t axis = ir_attr_i(op->attrs, "axis", 0);
    return axis >= 0 && axis < 3 ? (*out = sw->pid[axis], 0) : -1;
  }
  case IR_OP_NUM_PROGRAMS: {
    int64_t axis = ir_attr_i(op->attrs, "axis", 0);
    return axis >= 0 && axis < 3 ? (*out = sw->grid[axis], 0) : -1;
  }
  case IR_OP_CAST: return scalar_of(sw, op->opnd[0], out, depth + 1);
  case IR_OP_ADD:
  case IR_OP_SUB:
  case IR_OP_MUL:
  case IR_OP_DIV:
  case IR_OP_REM:
  case IR_OP_MIN:
  case IR_OP_MAX:
  case IR_OP_SHL:
  case IR_OP_SHR: break;
  default: return -1;
  }
  if (scalar_of(sw, op->opnd[0], &a, depth + 1) || scalar_of(sw, op->opnd[1], &b, depth + 1)) return -1;
  switch (op->code) {
  case IR_OP_ADD: *out = a + b; break;
  case IR_OP_SUB: *out = a - b; break;
  case IR_OP_MUL: *out = a * b; break;
  case IR_OP_DIV: return b ? (*out = a / b, 0) : -1;
  case IR_OP_REM: return b ? (*out = a % b, 0) : -1;
  case IR_OP_MIN: *out = a < b ? a : b; break;
  case IR_OP_MAX: *out = a > b ? a : b; break;
  case IR_OP_SHL: return b >= 0 && b < 63 ? (*out = a << b, 0) : -1;
  default: return b >= 0 && b < 63 ? (*out = a >> b, 0) : -1;
  }
  return 0;
}

static double type_bytes(ir_type t) { return (double)ir_type_numel(t) * ir_elem_bytes((ir_elem)t.elem); }

/* A tile's layout along dim d: the elements a thread holds (its run, repeated past the layout's
 * coverage) and the threads that hold each element (coverage past the tile). */
static double lay_spt(ir_layout l, int d) { return l.spt[d] ? l.spt[d] : 1; }

/* the elements one pass of the layout covers along d: a thread's run, the lanes', the warps' */
static double coverage(ir_layout l, int d) {
  return lay_spt(l, d) * (l.tpw[d] ? l.tpw[d] : 1) * (l.wpc[d] ? l.wpc[d] : 1);
}

static double per_thread(ir_type t, int d) {
  double spt = lay_spt(t.layout, d), cov = coverage(t.layout, d), n = t.shape[d];
  return n >= cov ? spt * ceil(n / cov) : (n < spt ? n : spt);
}

static double per_thread_all(ir_type t) {
  double n = 1;
  for (int d = 0; d < t.rank; d++) n *= per_thread(t, d);
  return n;
}

static double holders(ir_type t) {
  double r = 1;
  for (int d = 0; d < t.rank; d++)
    if (coverage(t.layout, d) > t.shape[d]) r *= coverage(t.layout, d) / t.shape[d];
  return r;
}

/* Shared-memory traffic in bytes (128 a wavefront) of ops whose lowering goes through scratch:
 * counted as requests of one wavefront where a request moves less (a lane's word broadcast). */
enum { WAVE = 128 };

/* A dot staged through scratch for the tensor cores (codegen/lower_mma.c, dot_staged): A, B and the
 * accumulator (unless zeros) written padded, the fragments read by every warp of the padded grid (A once per
 * warp column, B once per warp row; the warps past the grid as a grid warp), the result written and read back
 * in the grid's layout and then in the result's. */
static double staged_mma_bytes(ir_type a, ir_type r, const tg_mma_pick *p, int warps, int zero_acc) {
  double kt = 4.0 * p->kw, eb = ir_elem_bytes((ir_elem)a.elem);
  double mp = r.shape[0] < 16 ? 16 : r.shape[0], np = r.shape[1] < 8 ? 8 : r.shape[1];
  double kp = a.shape[1] < kt ? kt : a.shape[1];
  int wm = 1, wn = 1;
  if (!tg_mma_warp_grid((uint32_t)mp, (uint32_t)np, warps, &wm, &wn)) return 0;
  double rep = (double)warps / (wm * wn);
  return mp * kp * eb + kp * np * eb + (zero_acc ? 0 : mp * np * 4) /* staged */
         + mp * kp * eb * warps / wm + kp * np * eb * warps / wn    /* fragments */
         + (zero_acc ? 1 : 2) * mp * np * 4 * rep                   /* the grid's result: read, written */
         + (double)r.shape[0] * r.shape[1] * 4 * holders(r);        /* read in the result's layout */
}

/* A dot on FMAs (codegen/lower_dot.c): A and B written once; then for each k every warp reads its
 * threads' A elements (a word each, one request per row a thread holds) and B elements (runs of up
 * to 16 bytes a thread, the warp's lanes along N side by side). */
static double fma_dot_bytes(ir_type a, ir_type b, ir_type r, int warps) {
  double ea = ir_elem_bytes((ir_elem)a.elem), eb = ir_elem_bytes((ir_elem)b.elem), k = a.shape[1];
  double run = lay_spt(r.layout, 1), wide = 16 / eb;
  if (run > wide) run = wide;
  double lanes = r.layout.tpw[1] ? r.layout.tpw[1] : 1;
  double breq = ceil(lanes * run * eb / WAVE) * ceil(per_thread(r, 1) / run);
  return (double)a.shape[0] * k * ea + k * b.shape[1] * eb + warps * k * (per_thread(r, 0) + breq) * WAVE;
}

/* A layout conversion through scratch: the tile written and read, each side at least a wavefront
 * per request, a request being every warp's access of one run of a thread's elements along the
 * fastest dim (up to 16 bytes). */
static double convert_bytes(ir_type src, ir_type dst, int warps) {
  double bytes = type_bytes(dst), req = 0;
  ir_type side[2] = {src, dst};
  for (int i = 0; i < 2; i++) {
    ir_type t = side[i];
    if (t.layout.kind != IR_LBLOCKED || t.rank < 1) return 2 * bytes;
    int fast = t.layout.order[0] < t.rank ? t.layout.order[0] : t.rank - 1;
    double eb = ir_elem_bytes((ir_elem)t.elem), run = lay_spt(t.layout, fast);
    if (run * eb > 16) run = floor(16 / eb);
    req += warps * per_thread_all(t) / (run < 1 ? 1 : run);
  }
  return fmax(2 * bytes, req * WAVE);
}

/* reduce across warps (codegen/lower_reduce.c, across_warps): where warps hold distinct parts of the
 * axis, one writer warp per part stores its partials and every warp reads every part's. */
static double reduce_bytes(ir_type src, int axis, int warps) {
  ir_layout l = src.layout;
  double span = lay_spt(l, axis) * (l.tpw[axis] ? l.tpw[axis] : 1);
  double parts = src.shape[axis] > span ? floor(src.shape[axis] / span) : 1,
         wpc = l.wpc[axis] ? l.wpc[axis] : 1;
  if (parts > wpc) parts = wpc;
  if (parts <= 1) return 0;
  ir_type res = src;
  res.shape[axis] = 1;
  double n = per_thread_all(res);
  return (parts * n + warps * n * parts) * WAVE;
}

/* The warps that read the same operand of an MMA layout: A is shared along the warp grid's columns,
 * B along its rows. */
static double mma_replicas(ir_layout l) {
  if (l.kind == IR_LMMA_A) return l.wpc[1] ? l.wpc[1] : 1;
  if (l.kind == IR_LMMA_B) return l.wpc[0] ? l.wpc[0] : 1;
  return 1;
}

static double cdiv(double a, double b) { return ceil(a / b); }

/* The tensor operations dot op issues, as the simulator counts them (2 x m x n x k of each matrix
 * instruction, k in bits for b1_and): 0 for a dot on FMAs (no instruction for its types on the
 * target). A warpgroup dot (the wgmma pass's) issues its useful work; an mma.sync dot issues, in
 * every warp of the kernel, its warp grid's share padded to whole instructions: the result's rows
 * to 16 per warp row (an M below 16 repeats rows), its columns to 8, K to the instruction's, and
 * warps past the grid repeat a grid warp's instructions (codegen/lower_mma.c: run_steps,
 * dot_staged). The grid is the result's mma layout's, or, for a dot staged through scratch, the
 * one the lowering picks for the padded shape. */
static double dot_ops(static_walk *sw, const ir_op *op, tg_mma_pick *p) {
  ir_func *fn = sw->fn;
  ir_type a = ir_vtype(fn, op->opnd[0]), b = ir_vtype(fn, op->opnd[1]), c = ir_vtype(fn, op->res[0]);
  if (a.rank != 2 || b.rank != 2 || c.rank != 2 ||
      !tg_mma_pick_for(sw->target, (ir_elem)a.elem, (ir_elem)b.elem, (ir_elem)c.elem,
                       ir_attr_s(op->attrs, "precision", "ieee"), p))
    return 0;
  double bits = !strcmp(ir_attr_s(op->attrs, "precision", "ieee"), "b1_and") ? 32 : 1; /* per K element */
  double m = c.shape[0], n = c.shape[1], k = a.shape[1];
  if (ir_attr_i(op->attrs, "wgmma", 0)) return 2.0 * m * n * k * bits;
  int warps = (int)ir_attr_i(fn->attrs, "warps", 4), wm = 1, wn = 1;
  double kt = 4.0 * p->kw; /* a K tile: one register of each of 4 lanes */
  if (c.layout.kind == IR_LMMA) {
    wm = c.layout.wpc[0] ? c.layout.wpc[0] : 1;
    wn = c.layout.wpc[1] ? c.layout.wpc[1] : 1;
  } else {
    m = m < 16 ? 16 : m, n = n < 8 ? 8 : n, k = k < kt ? kt : k;
    if (!tg_mma_warp_grid((uint32_t)m, (uint32_t)n, warps, &wm, &wn)) return 0;
  }
  /* K steps: pairs of K tiles, each one instruction (k16, k32, b1 k256) or two (m16n8k8) */
  double steps = cdiv(cdiv(k, kt), 2) * (2 / p->ktiles);
  double per_warp = cdiv(m, 16.0 * wm) * cdiv(n, 8.0 * wn) * steps;
  return per_warp * warps * 2.0 * 16 * 8 * (kt * p->ktiles * bits);
}

/* 1 if v is a tile of +0 (a constant tile, or a splat of a constant, of 0): a dot that starts a sum,
 * whose staging leaves its accumulator out. */
static int zero_tile(const ir_func *fn, ir_val v) {
  ir_opid c = fn->vals[v].def;
  if (c && fn->ops[c].code == IR_OP_SPLAT) c = fn->vals[fn->ops[c].opnd[0]].def;
  if (!c || fn->ops[c].code != IR_OP_CONST) return 0;
  for (const ir_attr *at = fn->ops[c].attrs; at; at = at->next)
    if (!strcmp(at->key, "value"))
      return (at->kind == IR_AINT && at->i == 0) || (at->kind == IR_AFLOAT && at->f == 0 && !signbit(at->f));
  return 0;
}

/* The shared-memory traffic of dot op's lowering: a warpgroup dot's operand reads (as the simulator
 * counts them: 128-byte lines of the rows each wgmma reads); none on the direct path of mma.sync (its
 * operands' loads and conversions are counted where they stand); else the scratch of a dot staged for
 * the tensor cores, or on FMAs. */
static double dot_scratch_bytes(static_walk *sw, const ir_op *op) {
  ir_func *fn = sw->fn;
  ir_type a = ir_vtype(fn, op->opnd[0]), b = ir_vtype(fn, op->opnd[1]), r = ir_vtype(fn, op->res[0]);
  int warps = (int)ir_attr_i(fn->attrs, "warps", 4);
  tg_mma_pick p;
  if (a.rank != 2 || b.rank != 2 || r.rank != 2) return 0;
  if (ir_attr_i(op->attrs, "wgmma", 0)) { /* each warpgroup reads its 64 rows of A (from shared memory,
                                             not registers) and the whole of B */
    ir_opid da = fn->vals[op->opnd[0]].def;
    int a_shared = da && fn->ops[da].code == IR_OP_LOAD_SHARED && ir_attr_i(fn->ops[da].attrs, "wgmma", 0);
    double kb = (double)a.shape[1] * ir_elem_bytes((ir_elem)a.elem);
    return kb * ((a_shared ? r.shape[0] : 0) + (double)r.shape[1] * (warps / 4 > 0 ? warps / 4 : 1));
  }
  if (!tg_mma_pick_for(sw->target, (ir_elem)a.elem, (ir_elem)b.elem, (ir_elem)r.elem,
                       ir_attr_s(op->attrs, "precision", "ieee"), &p))
    return fma_dot_bytes(a, b, r, warps);
  if (r.layout.kind == IR_LMMA && a.layout.kind == IR_LMMA_A && b.layout.kind == IR_LMMA_B) return 0;
  return staged_mma_bytes(a, r, &p, warps, zero_tile(fn, op->opnd[2]));
}

static void walk_region(static_walk *sw, ir_reg reg, double mult) {
  ir_func *fn = sw->fn;
  for (ir_opid o = fn->regions[reg].first; o && !sw->why[0]; o = fn->ops[o].next) {
    const ir_op *op = &fn->ops[o];
    switch (op->code) {
    case IR_OP_DOT: {
      tg_mma_pick p;
      double ops = dot_ops(sw, op, &p) * mult;
      sw->smem_bytes += dot_scratch_bytes(sw, op) * mult;
      int wg = ir_attr_i(op->attrs, "wgmma", 0) != 0;
      if (ops <= 0) break;
      if (!strcmp(ir_attr_s(op->attrs, "precision", "ieee"), "b1_and"))
        sw->ops1 += ops;
      else if (ir_elem_bits(p.in) == 16)
        sw->ops16 += ops, sw->wg16 += wg ? ops : 0;
      else if (ir_elem_bits(p.in) == 8)
        sw->ops8 += ops, sw->wg8 += wg ? ops : 0;
      break;
    }
    case IR_OP_LOAD_SHARED:
    case IR_OP_GATHER_SHARED: {
      if (ir_attr_i(op->attrs, "wgmma", 0)) break; /* a warpgroup dot's operand: read by the dot */
      ir_type t = ir_vtype(fn, op->res[0]);
      sw->smem_bytes += type_bytes(t) * mma_replicas(t.layout) * mult;
      break;
    }
    case IR_OP_STORE_SHARED: /* the tile written (copies from global memory: as the simulator, not counted) */
      sw->smem_bytes += type_bytes(ir_vtype(fn, op->opnd[1])) * mult;
      break;
    case IR_OP_REDUCE:
      sw->smem_bytes += reduce_bytes(ir_vtype(fn, op->opnd[0]), (int)ir_attr_i(op->attrs, "axis", 0),
                                     (int)ir_attr_i(fn->attrs, "warps", 4)) *
                        mult;
      break;
    case IR_OP_CONVERT_LAYOUT: /* through shared memory: written once, read once */
      sw->smem_bytes += convert_bytes(ir_vtype(fn, op->opnd[0]), ir_vtype(fn, op->res[0]),
                                      (int)ir_attr_i(fn->attrs, "warps", 4)) *
                        mult;
      break;
    case IR_OP_FOR: {
      int64_t lb, ub, step;
      if (op->nopnd < 3 || scalar_of(sw, op->opnd[0], &lb, 0) || scalar_of(sw, op->opnd[1], &ub, 0) ||
          scalar_of(sw, op->opnd[2], &step, 0) || step <= 0) {
        snprintf(sw->why, sizeof sw->why, "a loop's bounds at %s:%d are not known before the launch",
                 op->file ? op->file : "?", op->line);
        break;
      }
      double trips = ub > lb ? (double)((ub - lb + step - 1) / step) : 0;
      walk_region(sw, op->region[0], mult * trips);
      break;
    }
    case IR_OP_WARP_SPLIT: /* the producer warpgroup's region and the kernel's warps' (the dots) */
      for (uint32_t r = 0; r < op->nregion; r++) walk_region(sw, op->region[r], mult);
      break;
    case IR_OP_IF: { /* the larger branch */
      static_walk then = *sw, other = *sw;
      walk_region(&then, op->region[0], mult);
      if (op->nregion > 1) walk_region(&other, op->region[1], mult);
      *sw = then.ops16 + then.ops8 + then.ops1 + then.smem_bytes >=
                    other.ops16 + other.ops8 + other.ops1 + other.smem_bytes
                ? then
                : other;
      if (!sw->why[0] && other.why[0]) snprintf(sw->why, sizeof sw->why, "%s", other.why);
      break;
    }
    default: break;
    }
  }
}

/* MMA instructions of the work: the m16n8k16, m16n8k32 and m16n8k256 shapes (4096, 8192 and 65536
 * operations each). */
kiln_status kiln_model_static(kiln_recipe *r, const char *target, const kiln_sass_loop *loop,
                              kiln_model_work *work, int *shared_bytes, kiln_model_result *out) {
  if (!r || !out) return KILN_ERR_USAGE;
  kiln_session *s = r->s;
  api_begin(s);
  memset(out, 0, sizeof *out);
  if (!r->lua)
    return api_fail(s, KILN_ERR_USAGE, "%s: the model counts a recipe's launch (an IR file has no arguments)",
                    r->path);
  const tg_target *t = api_target(s, target);
  if (!t) return KILN_ERR_USAGE;
  if (api_recipe_target(r, t) != KILN_OK) return KILN_ERR_INPUT;
  kl_arg args[KL_MAXARGS];
  int64_t grid[3];
  int nargs = kl_recipe_args(r->lua, &r->set, args, KL_MAXARGS, s->err, sizeof s->err);
  if (nargs < 0 || kl_recipe_grid(r->lua, &r->set, grid, s->err, sizeof s->err)) return KILN_ERR_INPUT;
  kiln_model_work w = {.blocks = (double)grid[0] * (double)grid[1] * (double)grid[2]};
  if (w.blocks < 1) return api_fail(s, KILN_ERR_INPUT, "%s: the grid has no programs", r->path);
  for (int i = 0; i < nargs; i++) {
    const kl_arg *a = &args[i];
    if (!a->is_tensor) continue;
    double n = 1;
    for (int d = 0; d < a->rank; d++) n *= (double)a->dims[d];
    w.dram_bytes +=
        n * (double)harness_elem_size(a->elem) * (((a->role & KL_IN) ? 1 : 0) + ((a->role & KL_OUT) ? 1 : 0));
  }
  ir_func *fn = kl_recipe_build(r->lua, &r->set, t, s->err, sizeof s->err);
  if (!fn) return KILN_ERR_COMPILE;
  pass_ctx pc = {.target = t};
  if (ir_verify(fn, s->err, sizeof s->err) || pass_run_default(fn, &pc)) {
    if (pc.err[0]) snprintf(s->err, sizeof s->err, "%s", pc.err);
    ir_func_destroy(fn);
    return KILN_ERR_COMPILE;
  }
  /* every program of a grid of up to WALK_ALL, else WALK_SAMPLES of them evenly spread (the first and
   * the last among them), each standing for its share of the grid: a program's loops may run fewer
   * trips than the first's (a split-K or split-key program past the end of its sequence) */
  static_walk sw = {.fn = fn, .target = t, .args = args, .nargs = nargs, .grid = grid};
  double nwalk = w.blocks <= WALK_ALL ? w.blocks : WALK_SAMPLES;
  for (double j = 0; j < nwalk && !sw.why[0]; j++) {
    double at = nwalk == w.blocks ? j : floor(j * (w.blocks - 1) / (nwalk - 1));
    sw.pid[0] = (int64_t)fmod(at, (double)grid[0]);
    sw.pid[1] = (int64_t)fmod(floor(at / (double)grid[0]), (double)grid[1]);
    sw.pid[2] = (int64_t)floor(at / ((double)grid[0] * (double)grid[1]));
    walk_region(&sw, fn->body, w.blocks / nwalk);
  }
  if (shared_bytes) *shared_bytes = (int)ir_attr_i(fn->attrs, "shared_bytes", 0);
  ir_func_destroy(fn);
  if (sw.why[0]) { /* not countable: no estimate, the reason in the assumptions */
    snprintf(out->assumptions, sizeof out->assumptions, "%s", sw.why);
    return KILN_OK;
  }
  w.mma_ops16 = sw.ops16, w.mma_ops8 = sw.ops8, w.mma_ops1 = sw.ops1;
  w.wgmma_ops16 = sw.wg16, w.wgmma_ops8 = sw.wg8;
  w.smem_wavefronts = sw.smem_bytes / 128;
  if (loop && loop->found && mma_instructions(&w) > 0)
    w.warp_instructions = issued(&w, mma_instructions(&w), loop);
  if (work) *work = w;
  return kiln_model_compute(s, t->name, &w, out);
}
