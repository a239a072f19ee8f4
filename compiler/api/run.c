/*
 * run.c - kiln_run (include/kiln.h), the engine of `kiln run`: compile a recipe, run it on the GPU
 * (or the simulator), and check every element of every output against the recipe's C reference.
 *
 * Without a usable GPU (no driver, no device) it says so on one line and runs on the simulator.
 * Each variant (the settings, or with check_all each of the recipe's `checks` entries on top of
 * them) goes through these steps:
 *   1. settings: the recipe's defaults, then kiln_recipe_set's, then the values the check entry gives
 *      (the others stay as set: `kiln run R --check-all --set warps=1` runs every check on 1 warp);
 *   2. the argument list and the grid from the recipe;
 *   3. host tensors: inputs (and in-out tensors) get fresh random values, outputs NaN poison;
 *   4. compile: PTX for the GPU (kernel cache on), or a CG_SIM module for the simulator;
 *   5. run: upload, launch, download, then time `reps` launches with events; or sim_launch;
 *   6. the recipe's reference (ref_run.c: built in, Lua or a shared object) on double copies of the
 *      inputs, exact and, when it can, in low precision;
 *   7. compare every output element (harness.h) by the recipe's criterion and print one line:
 *      "softmax [M=1000 N=781] sm_90a gpu: max rel err 3.1e-07 (tol 1e-05), vs lowp 0.5 PASS, 12.3 us".
 * KILN_OK if every variant passed, KILN_ERR_CHECK if one failed or could not run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../ir/elem_float.h"
#include "../../runtime/rt.h"
#include "../../sim/sim.h"
#include "../ref/ref.h"
#include "api.h"
#include "driver.h"
#include "harness.h"
#include "profile_print.h"

typedef struct {
  const char *recipe, *target;
  const char *sets[KL_MAXSET];
  int nsets, sim, check_all, reps, have_seed, no_check;
  int profile; /* 0 off, 1 table, 2 JSON (the result lines then go to stderr) */
  uint64_t seed;
  double tol; /* 0: the budget of the element types */
} run_args;

typedef struct {
  rt_device *gpu; /* NULL: the simulator */
  const tg_target *target;
  harness_rng rng;
  uint64_t seed;
  int profile; /* the simulator gathers its counters (run_args.profile) */
} run_env;

typedef struct {
  size_t n, bytes; /* tensors: elements and host bytes */
  void *host;      /* tensors: typed data as the kernel sees it */
  double *ref;     /* tensors: the reference's copy */
  double *lowp;    /* tensors: the low-precision reference's copy */
  rt_dptr dev;
} run_tensor;

typedef struct {
  kl_settings set;
  int nargs;
  kl_arg args[KL_MAXARGS];
  run_tensor t[KL_MAXARGS];
  int64_t grid[3];
  cg_result k;
  int have_lowp; /* the reference did its low-precision run */
  double ms;     /* GPU: mean per launch; simulator: the launch's wall time */
  char label[512];
  char err[4096];
  FILE *out;           /* where the result lines go: stdout, stderr under --profile=json */
  sim_profile profile; /* --profile: the simulator's counters */
} run_case;

/* ---- where kernels run ---- */

/* Opens the GPU unless --sim; falls back to the simulator with one line saying why. The target is
 * --target, else the device's row, else (simulator) sm_80. */
static int open_env(const run_args *a, run_env *env) {
  char err[1024] = "";
  memset(env, 0, sizeof *env);
  env->seed = a->have_seed ? a->seed : (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
  harness_seed(&env->rng, env->seed);
  if (!a->sim && rt_device_open(0, &env->gpu, err, sizeof err))
    fprintf(stderr, "kiln: no GPU (%s): running on the simulator\n", err);
  if (a->target)
    env->target = tg_target_lookup(a->target); /* kiln_run checked the name */
  else if (!env->gpu)
    env->target = tg_target_lookup("sm_80");
  else if (!(env->target = harness_pick_target(rt_device_sm(env->gpu), err, sizeof err)))
    fprintf(stderr, "kiln run: %s (%s)\n", err, rt_device_name(env->gpu));
  if (env->gpu && env->target)
    fprintf(stderr, "kiln: GPU 0: %s (sm %d), target %s\n", rt_device_name(env->gpu), rt_device_sm(env->gpu),
            env->target->name);
  return env->target ? 0 : -1;
}

/* ---- one variant: settings, arguments, host tensors ---- */

/* The settings of one variant on target t: the defaults, the handle's settings, then the check's;
 * computed defaults see t. */
static int settings_for(kl_recipe *r, const run_args *a, const kl_settings *check, const tg_target *t,
                        kl_settings *s, char *err, size_t errn) {
  char buf[128];
  kl_recipe_defaults(r, s);
  s->target = t;
  for (int i = 0; i < a->nsets; i++)
    if (kl_settings_apply(r, s, a->sets[i], err, errn)) return -1;
  for (int i = 0; check && i < check->n; i++) {
    if (!check->v[i].given)
      continue; /* a value the entry does not give: the settings' (a computed one follows them again) */
    snprintf(buf, sizeof buf, "%s=%s", check->v[i].name, check->v[i].value);
    if (kl_settings_apply(r, s, buf, err, errn)) return -1;
  }
  return kl_settings_derive(r, s, err, errn);
}

/* "softmax [M=1000 N=781]": problem sizes, and the tuning knobs set to other than their defaults (a
 * computed default follows the rest: such a knob shows when it is set). */
static void make_label(kl_recipe *r, run_case *c) {
  size_t n = (size_t)snprintf(c->label, sizeof c->label, "%s [", kl_recipe_name(r));
  const char *sep = "";
  for (int i = 0; i < kl_recipe_nparams(r) && n < sizeof c->label; i++) {
    const kl_param *p = kl_recipe_param(r, i);
    const char *v = kl_settings_get(&c->set, p->name);
    if (!v || (p->is_tune && (p->computed ? !kl_settings_given(&c->set, p->name) : !strcmp(v, p->dflt))))
      continue;
    n += (size_t)snprintf(c->label + n, sizeof c->label - n, "%s%s=%s", sep, p->name, v);
    sep = " ";
  }
  if (n < sizeof c->label) snprintf(c->label + n, sizeof c->label - n, "]");
}

static size_t numel(const kl_arg *a) {
  size_t n = 1;
  for (int d = 0; d < a->rank; d++) n *= (size_t)a->dims[d];
  return n;
}

static int alloc_tensors(run_case *c, harness_rng *rng) {
  for (int i = 0; i < c->nargs; i++) {
    const kl_arg *a = &c->args[i];
    run_tensor *t = &c->t[i];
    if (!a->is_tensor) continue;
    t->n = numel(a);
    t->bytes = t->n * harness_elem_size(a->elem);
    t->host = harness_alloc(t->bytes);
    t->ref = malloc((t->n ? t->n : 1) * sizeof(double));
    t->lowp = malloc((t->n ? t->n : 1) * sizeof(double));
    if (!t->host || !t->ref || !t->lowp) {
      snprintf(c->err, sizeof c->err, "out of memory for %s (%zu elements)", a->name, t->n);
      return -1;
    }
    if (a->role & KL_IN)
      harness_fill(t->host, a->elem, t->n, rng);
    else
      harness_poison(t->host, a->elem, t->n);
  }
  return 0;
}

static void free_case(run_case *c, rt_device *gpu) {
  for (int i = 0; i < c->nargs; i++) {
    free(c->t[i].host);
    free(c->t[i].ref);
    free(c->t[i].lowp);
    if (gpu) rt_mem_free(gpu, c->t[i].dev);
  }
  cg_result_free(&c->k);
}

/* ---- running on the GPU ---- */

static int upload_all(rt_device *gpu, run_case *c, api_param *pv, void **params) {
  for (int i = 0; i < c->nargs; i++) {
    run_tensor *t = &c->t[i];
    params[i] = &pv[i];
    if (!c->args[i].is_tensor) {
      pv[i] = api_scalar_param(&c->args[i]);
      continue;
    }
    if (rt_mem_alloc(gpu, t->bytes, &t->dev, c->err, sizeof c->err) ||
        rt_mem_upload(gpu, t->dev, t->host, t->bytes, c->err, sizeof c->err))
      return -1;
    pv[i].ptr = t->dev;
  }
  return 0;
}

static int download_outputs(rt_device *gpu, run_case *c) {
  for (int i = 0; i < c->nargs; i++)
    if (c->args[i].is_tensor && (c->args[i].role & KL_OUT) &&
        rt_mem_download(gpu, c->t[i].host, c->t[i].dev, c->t[i].bytes, c->err, sizeof c->err))
      return -1;
  return 0;
}

/* Upload, one checked launch, download; then reps timed launches (outputs are already home). */
static int run_gpu(run_env *env, run_case *c, int reps) {
  api_param pv[KL_MAXARGS];
  void *params[KL_MAXARGS + RT_TMAP_MAXSPEC];
  api_tmap maps[RT_TMAP_MAXSPEC];
  rt_dptr dev[KL_MAXARGS];
  rt_kernel *k = NULL;
  int rc = -1, nmaps;
  if (rt_kernel_load(env->gpu, c->k.ptx, c->k.kernel_name, c->k.shared_bytes, &k, c->err, sizeof c->err))
    return -1;
  if (upload_all(env->gpu, c, pv, params)) goto out;
  for (int i = 0; i < c->nargs; i++) dev[i] = c->t[i].dev;
  if ((nmaps = api_tmaps(&c->k, c->args, c->nargs, dev, NULL, maps, RT_TMAP_MAXSPEC, c->err, sizeof c->err)) <
      0)
    goto out;
  for (int j = 0; j < nmaps; j++) params[c->nargs + j] = maps[j].b;
  if (rt_launch(k, c->grid, c->k.threads, c->k.shared_bytes, params, c->err, sizeof c->err) ||
      rt_synchronize(env->gpu, c->err, sizeof c->err) || download_outputs(env->gpu, c))
    goto out;
  c->ms = 0;
  if (reps > 0 && rt_launch_timed(k, c->grid, c->k.threads, c->k.shared_bytes, params, reps, &c->ms, c->err,
                                  sizeof c->err))
    goto out;
  rc = 0;
out:
  rt_kernel_free(k);
  return rc;
}

/* ---- running on the simulator ---- */

static int run_sim(run_env *env, run_case *c) {
  sim_arg sa[KL_MAXARGS + RT_TMAP_MAXSPEC];
  api_tmap maps[RT_TMAP_MAXSPEC];
  void *host[KL_MAXARGS];
  for (int i = 0; i < c->nargs; i++) {
    const kl_arg *a = &c->args[i];
    sa[i] = (sim_arg){.is_ptr = a->is_tensor, .elem = a->elem, .ival = a->ival, .fval = a->fval};
    if (a->is_tensor) sa[i].ptr = c->t[i].host, sa[i].bytes = c->t[i].bytes;
    host[i] = c->t[i].host;
  }
  int nmaps = api_tmaps(&c->k, c->args, c->nargs, NULL, host, maps, RT_TMAP_MAXSPEC, c->err, sizeof c->err);
  if (nmaps < 0) return -1;
  for (int j = 0; j < nmaps; j++)
    sa[c->nargs + j] = (sim_arg){.is_ptr = 1, .elem = IR_U8, .ptr = maps[j].b, .bytes = RT_TMAP_BYTES};
  sim_opts so = {
      .workers = 0, .check_races = 1, .check_uninit = 1, .profile = env->profile ? &c->profile : NULL};
  if (sim_launch(&c->k, sa, c->nargs + nmaps, c->grid, &so, c->err, sizeof c->err)) return -1;
  c->ms = so.seconds * 1e3;
  return 0;
}

/* ---- the reference and the comparison ---- */

/* The recipe's check.criterion; --tol asks for the relative measure with that budget. */
static kl_criterion criterion_of(const run_args *a, kl_recipe *r) {
  return a->tol > 0 ? KL_CRIT_RELATIVE : kl_recipe_check_rule(r)->criterion;
}

/* One run of the reference (ref_run.c) on double copies of the inputs as the kernel saw them. */
static int reference_pass(kl_recipe *r, run_case *c, ir_elem precision, double **data) {
  for (int i = 0; i < c->nargs; i++)
    if (c->args[i].is_tensor && (c->args[i].role & KL_IN))
      harness_to_double(c->t[i].host, c->args[i].elem, c->t[i].n, data[i]);
  ref_job job = {.nargs = c->nargs,
                 .args = c->args,
                 .data = data,
                 .set = &c->set,
                 .precision = precision,
                 .round = harness_round_named};
  return ref_run(r, &job, c->err, sizeof c->err);
}

/* The exact reference, then the low-precision one (in the narrowest float type of the kernel's
 * tensors) when the reference does precision; the vs_lowp criterion needs it. */
static int run_reference(kl_recipe *r, const run_args *a, run_case *c) {
  double *exact[KL_MAXARGS] = {0}, *lowp[KL_MAXARGS] = {0};
  ir_elem elems[KL_MAXARGS];
  int ne = 0;
  for (int i = 0; i < c->nargs; i++)
    if (c->args[i].is_tensor) exact[i] = c->t[i].ref, lowp[i] = c->t[i].lowp, elems[ne++] = c->args[i].elem;
  if (reference_pass(r, c, IR_F64, exact)) return -1;
  ir_elem precision = harness_lowp_precision(elems, ne);
  int rc = precision == IR_F64 ? REF_EXACT_ONLY : reference_pass(r, c, precision, lowp);
  if (rc == REF_FAILED) return -1;
  c->have_lowp = rc == REF_OK;
  if (!c->have_lowp && criterion_of(a, r) == KL_CRIT_VS_LOWP) {
    char what[512];
    ref_describe(r, what, sizeof what);
    if (precision == IR_F64)
      snprintf(
          c->err, sizeof c->err,
          "%s: check.criterion 'vs_lowp' needs a low-precision reference, but the kernel has no float tensor "
          "narrower than f64 for it to compute in",
          kl_recipe_path(r));
    else
      snprintf(
          c->err, sizeof c->err,
          "%s: check.criterion 'vs_lowp' needs a low-precision reference, and the %s computes only exactly "
          "(KILN_REF_EXACT_ONLY)",
          kl_recipe_path(r), what);
    return -1;
  }
  return 0;
}

/* The error budget for output i: --tol, else the recipe's check.tol, else the loosest budget among
 * the kernel's float tensors (a kernel may compute at the precision of its narrowest operand);
 * integer outputs are exact. */
static double output_tol(const run_args *a, kl_recipe *r, const run_case *c, int out) {
  if (!ir_elem_is_float(c->args[out].elem)) return 0;
  if (a->tol > 0) return a->tol;
  if (kl_recipe_check_rule(r)->tol > 0) return kl_recipe_check_rule(r)->tol;
  double tol = harness_tolerance(c->args[out].elem);
  for (int i = 0; i < c->nargs; i++)
    if (c->args[i].is_tensor && ir_elem_is_float(c->args[i].elem) && harness_tolerance(c->args[i].elem) > tol)
      tol = harness_tolerance(c->args[i].elem);
  return tol;
}

/* Why output i failed, on the lines under the result line. */
static void report_failure(const run_case *c, int i, const harness_cmp *m, double tol, uint64_t seed) {
  char where[128];
  const kl_arg *a = &c->args[i];
  if (m->nan_at != HARNESS_NONE) {
    ref_name_element(a, m->nan_at, where, sizeof where);
    fprintf(c->out, "  %s: %s is NaN (poison never overwritten?) (seed %llu)\n", a->name, where,
            (unsigned long long)seed);
  }
  if (m->first_over != HARNESS_NONE) {
    ref_name_element(a, m->first_over, where, sizeof where);
    double g = harness_get(c->t[i].host, a->elem, m->first_over), want = c->t[i].ref[m->first_over];
    fprintf(c->out, "  %s: %zu of %zu elements over tol %.3g; first %s = %.9g, reference %.9g (seed %llu)\n",
            a->name, m->over, m->n, tol, where, g, want, (unsigned long long)seed);
  }
}

/* "12.3 us", "4.56 ms", "1.23 s" */
static void format_time(double ms, char *buf, size_t n) {
  if (ms < 1)
    snprintf(buf, n, "%.1f us", ms * 1e3);
  else if (ms < 1e3)
    snprintf(buf, n, "%.2f ms", ms);
  else
    snprintf(buf, n, "%.2f s", ms / 1e3);
}

/* Why output i failed the vs_lowp criterion. */
static void report_lowp_failure(const run_case *c, int i, const harness_lowp *m, double factor,
                                uint64_t seed) {
  char where[128];
  const kl_arg *a = &c->args[i];
  ref_name_element(a, m->worst, where, sizeof where);
  fprintf(
      c->out,
      "  %s: max abs err %.3g at %s = %.9g, reference %.9g; the low-precision reference's %.3g: %.3gx, over "
      "%gx + %.3g (seed %llu)\n",
      a->name, m->err, where, harness_get(c->t[i].host, a->elem, m->worst), c->t[i].ref[m->worst],
      m->lowp_err, m->ratio, factor, m->slack, (unsigned long long)seed);
}

/* Compares every output by the recipe's criterion (harness_judge); prints the result line:
 *   "NAME [SETTINGS] TARGET sim: max rel err E (tol T)[, vs lowp R[ (limit F)]] PASS, TIME"
 * (vs lowp when the reference did its low-precision run; the limit when that run is the criterion)
 * with the figures of the output closest to failing. 0 pass, 1 fail. */
static int check_outputs(const run_args *a, kl_recipe *r, run_env *env, run_case *c) {
  harness_rule rule = {.vs_lowp = criterion_of(a, r) == KL_CRIT_VS_LOWP,
                       .factor = kl_recipe_check_rule(r)->factor};
  harness_verdict v[KL_MAXARGS];
  int bad[KL_MAXARGS] = {0}, failed = 0, worst = -1;
  double tol[KL_MAXARGS];
  for (int i = 0; i < c->nargs; i++) {
    const kl_arg *o = &c->args[i];
    if (!o->is_tensor || !(o->role & KL_OUT)) continue;
    rule.tol = tol[i] = output_tol(a, r, c, i);
    rule.lowp = c->have_lowp ? c->t[i].lowp : NULL;
    failed |= bad[i] = harness_judge(c->t[i].host, o->elem, c->t[i].ref, c->t[i].n, &rule, &v[i]) != 0;
    if (worst < 0 || v[i].over > v[worst].over) worst = i;
  }
  char timing[64], lowp[96] = "";
  format_time(c->ms, timing, sizeof timing);
  if (worst >= 0 && v[worst].have_lowp)
    snprintf(lowp, sizeof lowp, rule.vs_lowp ? ", vs lowp %.2g (limit %g)" : ", vs lowp %.2g",
             v[worst].lowp.ratio, rule.factor);
  fprintf(c->out, "%s %s %s: max rel err %.2g (tol %.2g)%s %s, %s\n", c->label, env->target->name,
          env->gpu ? "gpu" : "sim", worst >= 0 ? v[worst].rel.max_rel : 0, worst >= 0 ? tol[worst] : 0, lowp,
          failed ? "FAIL" : "PASS", timing);
  for (int i = 0; i < c->nargs; i++)
    if (bad[i] && v[i].by_lowp)
      report_lowp_failure(c, i, &v[i].lowp, rule.factor, env->seed);
    else if (bad[i])
      report_failure(c, i, &v[i].rel, tol[i], env->seed);
  fflush(c->out);
  return failed;
}

/* --no-check (benchmarks): the time and the launch facts, no reference. */
static int print_timing(run_env *env, run_case *c) {
  char timing[64];
  format_time(c->ms, timing, sizeof timing);
  fprintf(c->out, "%s %s %s: %s per launch (grid %lld,%lld,%lld, %d threads, %d B shared; not checked)\n",
          c->label, env->target->name, env->gpu ? "gpu" : "sim", timing, (long long)c->grid[0],
          (long long)c->grid[1], (long long)c->grid[2], c->k.threads, c->k.shared_bytes);
  fflush(c->out);
  return 0;
}

/* ---- the steps for one variant ---- */

static int prepare(kl_recipe *r, run_env *env, run_case *c) {
  c->nargs = kl_recipe_args(r, &c->set, c->args, KL_MAXARGS, c->err, sizeof c->err);
  if (c->nargs < 0 || kl_recipe_grid(r, &c->set, c->grid, c->err, sizeof c->err)) return -1;
  if (alloc_tensors(c, &env->rng)) return -1;
  driver_opts o = {.target = env->target, .backend = env->gpu ? CG_NVPTX : CG_SIM, .specialize = 1};
  return driver_compile_recipe(r, &c->set, &o, NULL, &c->k, c->err, sizeof c->err);
}

/* 0 pass, 1 fail (wrong answer or an error on the way, printed). */
static int run_variant(kl_recipe *r, const run_args *a, run_env *env, const kl_settings *check) {
  run_case *c = calloc(1, sizeof *c);
  if (!c) return fprintf(stderr, "kiln run: out of memory\n"), 1;
  int rc = 1;
  if (settings_for(r, a, check, env->target, &c->set, c->err, sizeof c->err)) {
    fprintf(stderr, "kiln run: %s\n", c->err);
    free(c);
    return 1;
  }
  make_label(r, c);
  c->out = a->profile == 2 ? stderr : stdout;
  if (prepare(r, env, c) || (env->gpu ? run_gpu(env, c, a->reps) : run_sim(env, c)) ||
      (!a->no_check && run_reference(r, a, c))) {
    fprintf(c->out, "%s %s %s: ERROR: %s\n", c->label, env->target->name, env->gpu ? "gpu" : "sim", c->err);
    fflush(c->out);
  } else {
    rc = a->no_check ? print_timing(env, c) : check_outputs(a, r, env, c);
    if (a->profile == 1) profile_print_table(stdout, c->label, &c->profile);
    if (a->profile == 2) profile_print_json(stdout, c->label, &c->profile);
    fflush(stdout);
  }
  sim_profile_free(&c->profile);
  free_case(c, env->gpu);
  free(c);
  return rc;
}

static int run_checks(kl_recipe *r, const run_args *a, run_env *env) {
  enum { MAXCHECKS = 64 };
  kl_settings *checks = calloc(MAXCHECKS, sizeof *checks);
  if (!checks) return 1;
  int n = kl_recipe_checks(r, checks, MAXCHECKS), failed = 0;
  if (n <= 0) failed |= run_variant(r, a, env, NULL); /* no checks declared: the settings themselves */
  for (int i = 0; i < n; i++) failed |= run_variant(r, a, env, &checks[i]);
  free(checks);
  return failed;
}

/* The run_args of the handle and the options (the target is checked here: usage, not a run). */
static kiln_status make_args(kiln_recipe *r, const kiln_run_opts *o, run_args *a) {
  memset(a, 0, sizeof *a);
  if (!r->lua)
    return api_fail(r->s, KILN_ERR_USAGE, "%s: kiln run needs a recipe (an IR file has no reference)",
                    r->path);
  if (o->target && !api_target(r->s, o->target)) return KILN_ERR_USAGE;
  a->recipe = r->path;
  a->target = o->target;
  for (int i = 0; i < r->nsets; i++) a->sets[a->nsets++] = r->sets[i];
  a->sim = o->sim, a->check_all = o->check_all, a->reps = o->reps, a->no_check = o->no_check;
  a->have_seed = o->have_seed, a->seed = o->seed, a->tol = o->tol;
  if (o->profile < 0 || o->profile > 2)
    return api_fail(r->s, KILN_ERR_USAGE, "kiln_run: profile is 0 (off), 1 (table) or 2 (JSON), not %d",
                    o->profile);
  if (o->profile && !o->sim)
    return api_fail(r->s, KILN_ERR_USAGE, "%s: the profile counts what the simulator runs: it needs --sim",
                    r->path);
  a->profile = o->profile;
  return KILN_OK;
}

kiln_status kiln_run(kiln_recipe *r, const kiln_run_opts *o) {
  if (!r) return KILN_ERR_USAGE;
  api_begin(r->s);
  if (!o) return api_fail(r->s, KILN_ERR_USAGE, "kiln_run: no options");
  run_args a;
  run_env env;
  kiln_status st = make_args(r, o, &a);
  if (st != KILN_OK) return st;
  if (open_env(&a, &env)) {
    rt_device_close(env.gpu);
    return api_fail(r->s, KILN_ERR_CHECK, "no target row for the GPU");
  }
  env.profile = a.profile;
  int failed = a.check_all ? run_checks(r->lua, &a, &env) : run_variant(r->lua, &a, &env, NULL);
  rt_device_close(env.gpu);
  if (failed) return api_fail(r->s, KILN_ERR_CHECK, "%s: a variant failed (see its line)", r->path);
  return KILN_OK;
}
