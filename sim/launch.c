/*
 * launch.c - one launch: arguments checked against the kernel's parameters and marshalled for
 * libffi, blocks handed out to worker host threads, the first failure kept.
 *
 * 1. Read the KILN_SIM_* environment variables (strictly: a bad value is an error) and the options;
 *    check the grid and every argument against the JIT'd kernel's parameter list; build the ffi_cif
 *    and argument values once (every simulated thread calls the kernel with the same arguments).
 * 2. Set up one worker per host thread: its thread records, fiber stacks (guard page each), shared
 *    memory and shadow. Worker 0 runs on the calling thread.
 * 3. Workers claim blocks in increasing linear order (x fastest). A failed block records its report
 *    if it is the lowest failing block so far; blocks after the lowest failure are not started. So
 *    the report is the same whatever the number of workers: the first failing block's.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../codegen/devops.h"
#include "../ir/elem_float.h"
#include "sim_int.h"

static int ncores(void) {
  cpu_set_t s;
  if (!sched_getaffinity(0, sizeof s, &s)) return CPU_COUNT(&s);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* ---- step 1: arguments ---- */

static void param_desc(const sim_param *p, int i, char *buf, size_t n) {
  if (p->name)
    snprintf(buf, n, "argument %d ('%s': %s)", i, p->name, p->type);
  else
    snprintf(buf, n, "argument %d (%s)", i, p->type);
}

static ffi_type *int_ffi(int bits, int is_signed) {
  if (bits <= 8) return is_signed ? &ffi_type_sint8 : &ffi_type_uint8;
  if (bits <= 16) return is_signed ? &ffi_type_sint16 : &ffi_type_uint16;
  if (bits <= 32) return is_signed ? &ffi_type_sint32 : &ffi_type_uint32;
  return is_signed ? &ffi_type_sint64 : &ffi_type_uint64;
}

static void set_int(sim_argval *v, int bits, int64_t x) {
  if (bits == 1) x &= 1;
  if (bits <= 8)
    v->i8 = (int8_t)x;
  else if (bits <= 16)
    v->i16 = (int16_t)x;
  else if (bits <= 32)
    v->i32 = (int32_t)x;
  else
    v->i64 = x;
}

/* A scalar for parameter p, or -1 if a's type does not fit it. Integers travel at the parameter's
 * width; f16/bf16 as a float whose low 16 bits are the value's bits (x86-64 passes both in the low
 * bits of an SSE register); e4m3/e5m2 (i8 parameters) as their bits, converted from fval. */
static int marshal_scalar(const sim_param *p, const sim_arg *a, sim_argval *v, ffi_type **ft) {
  switch (a->elem) {
  case IR_F32:
    if (p->kind != SIM_P_F32) return -1;
    v->f = (float)a->fval, *ft = &ffi_type_float;
    return 0;
  case IR_F64:
    if (p->kind != SIM_P_F64) return -1;
    v->d = a->fval, *ft = &ffi_type_double;
    return 0;
  case IR_F16:
  case IR_BF16:
    if (p->kind != (a->elem == IR_F16 ? SIM_P_F16 : SIM_P_BF16)) return -1;
    v->u32 = ir_float_encode(a->elem, a->fval, 0), *ft = &ffi_type_float;
    return 0;
  case IR_E4M3:
  case IR_E5M2:
    if (p->kind != SIM_P_INT || p->bits != 8) return -1;
    v->i8 = (int8_t)ir_float_encode(a->elem, a->fval, 0), *ft = &ffi_type_uint8;
    return 0;
  default:
    if (p->kind != SIM_P_INT || p->bits != ir_elem_bits(a->elem)) return -1;
    set_int(v, p->bits, a->ival), *ft = int_ffi(p->bits, ir_elem_is_signed(a->elem));
    return 0;
  }
}

/* Checks argument i against parameter i and marshals it. */
static int marshal(sim_exec *x, int i, const sim_arg *a, char *err, size_t errn) {
  const sim_kernel *k = x->k;
  const sim_param *p = &k->params[i];
  char d[128];
  param_desc(p, i, d, sizeof d);
  sim_argval *v = &x->vals[i];
  x->argv[i] = v;
  if (p->kind == SIM_P_PTR) {
    if (!a->is_ptr)
      return snprintf(err, errn, "sim: %s of kernel %s is a buffer, the launch passes a scalar", d, k->name),
             -1;
    if (!a->ptr && a->bytes)
      return snprintf(err, errn, "sim: %s of kernel %s: a buffer of %zu bytes at NULL", d, k->name, a->bytes),
             -1;
    x->ftypes[i] = &ffi_type_pointer;
    v->p = a->ptr;
    x->bufs[x->nbufs++] = (sim_buf){(uintptr_t)a->ptr, (uintptr_t)a->ptr + a->bytes, i, p->name};
    return 0;
  }
  if (a->is_ptr)
    return snprintf(err, errn, "sim: %s of kernel %s is a scalar, the launch passes a buffer", d, k->name),
           -1;
  if ((unsigned)a->elem >= IR_NELEM)
    return snprintf(err, errn, "sim: %s of kernel %s: bad element type", d, k->name), -1;
  if (p->kind == SIM_P_OTHER)
    return snprintf(
               err, errn,
               "sim: %s of kernel %s has a type the simulator cannot pass (use a buffer, an integer or a "
               "float)",
               d, k->name),
           -1;
  if (marshal_scalar(p, a, v, &x->ftypes[i]))
    return snprintf(err, errn, "sim: %s of kernel %s, the launch passes %s", d, k->name,
                    ir_elem_name(a->elem)),
           -1;
  return 0;
}

/* ---- step 1: settings ---- */

/* $name, if set, parsed strictly: the whole value a decimal integer in [lo, hi], else an error naming
 * the variable, the value and the range (`what` says what it sets). 0 and *out untouched if unset. */
static int env_int(const char *name, long long lo, long long hi, const char *what, long long *out, char *err,
                   size_t errn) {
  const char *v = getenv(name);
  if (!v) return 0;
  const char *p = v + (*v == '-' || *v == '+');
  int ok = *p >= '0' && *p <= '9';
  long long x = 0;
  for (; ok && *p; p++) {
    if (*p < '0' || *p > '9' || x > (LLONG_MAX - (*p - '0')) / 10) {
      ok = 0;
      break;
    }
    x = x * 10 + (*p - '0');
  }
  if (*v == '-') x = -x;
  if (ok && x >= lo && x <= hi) {
    *out = x;
    return 0;
  }
  snprintf(err, errn, "sim: %s='%s' is invalid: it must be an integer from %lld to %lld (%s)", name, v, lo,
           hi, what);
  return -1;
}

enum { SIM_MAX_STACK_KB = 1 << 20, SIM_MAX_TIMEOUT = 100000000 };
#define SIM_DEFAULT_MAX_OPS 4000000000ull
#define SIM_DEFAULT_TIMEOUT 600.0

/* Stack size, watchdog limits and check switches from o, else the environment, else the defaults. */
static int settings(sim_exec *x, const sim_opts *o, char *err, size_t errn) {
  long long stack_kb = 256, max_ops = (long long)SIM_DEFAULT_MAX_OPS,
            timeout = (long long)SIM_DEFAULT_TIMEOUT, global = 1;
  if (env_int("KILN_SIM_STACK_KB", 4, SIM_MAX_STACK_KB, "KiB of fiber stack per simulated thread", &stack_kb,
              err, errn) ||
      env_int("KILN_SIM_MAX_OPS", 0, LLONG_MAX, "steps per simulated thread; 0: no limit", &max_ops, err,
              errn) ||
      env_int("KILN_SIM_TIMEOUT", 0, SIM_MAX_TIMEOUT, "seconds per launch; 0: no limit", &timeout, err,
              errn) ||
      env_int("KILN_SIM_GLOBAL_RACES", 0, 1, "0: no cross-block global race check", &global, err, errn))
    return -1;
  x->stack_bytes = o && o->stack_bytes ? o->stack_bytes : (size_t)stack_kb * 1024;
  x->max_ops = o && o->max_ops ? o->max_ops : max_ops ? (uint64_t)max_ops : UINT64_MAX;
  x->timeout = o && o->timeout ? o->timeout : (double)timeout;
  if (x->timeout < 0) x->timeout = 0;
  x->check_races = !o || o->check_races >= 0;
  x->check_uninit = !o || o->check_uninit >= 0;
  x->check_global = o && o->check_global ? o->check_global > 0 : global != 0;
  x->profile = o && o->profile;
  /* records hold block + 1 in 44 bits: a grid that large could never finish anyway */
  if (x->nblocks >= (1ll << (64 - SIM_GREC_BLOCK_SHIFT)) - 1) x->check_global = 0;
  return 0;
}

/* The global-race shadows: a buffer inside another (the same memory passed twice) shares its shadow. */
static void global_shadows(sim_exec *x) {
  for (int i = 0; i < x->nbufs; i++) {
    sim_buf *b = &x->bufs[i];
    int best = i;
    for (int j = 0; j < x->nbufs; j++) {
      const sim_buf *c = &x->bufs[j], *r = &x->bufs[best];
      size_t cn = c->hi - c->lo, rn = r->hi - r->lo;
      if (c->lo <= b->lo && b->hi <= c->hi && (cn > rn || (cn == rn && j < best))) best = j;
    }
    b->root = best;
    b->off = b->lo - x->bufs[best].lo;
  }
}

static int check_grid(const sim_kernel *k, const int64_t g[3], char *err, size_t errn) {
  if (g[0] >= 1 && g[0] <= INT32_MAX && g[1] >= 1 && g[1] <= 65535 && g[2] >= 1 && g[2] <= 65535) return 0;
  snprintf(err, errn,
           "sim: grid (%lld,%lld,%lld) of kernel %s is invalid (x in 1..2^31-1, y and z in 1..65535)",
           (long long)g[0], (long long)g[1], (long long)g[2], k->name);
  return -1;
}

/* sim_opts.sample: strictly increasing block ids inside the grid. */
static int check_sample(const sim_kernel *k, sim_exec *x, const sim_opts *o, char *err, size_t errn) {
  if (o->nsample < 1) {
    snprintf(err, errn, "sim: the launch of kernel %s samples %lld blocks (at least 1)", k->name,
             (long long)o->nsample);
    return -1;
  }
  for (int64_t i = 0; i < o->nsample; i++)
    if (o->sample[i] < 0 || o->sample[i] >= x->nblocks || (i > 0 && o->sample[i] <= o->sample[i - 1])) {
      snprintf(err, errn,
               "sim: sampled block %lld of kernel %s is out of order or outside the grid of %lld blocks",
               (long long)o->sample[i], k->name, (long long)x->nblocks);
      return -1;
    }
  x->sample = o->sample;
  x->nrun = o->nsample;
  return 0;
}

static int exec_init(sim_exec *x, const sim_kernel *k, const sim_arg *args, int nargs, const int64_t grid[3],
                     const sim_opts *o, char *err, size_t errn) {
  memset(x, 0, sizeof *x);
  x->k = k;
  pthread_mutex_init(&x->mu, NULL);
  if (check_grid(k, grid, err, errn)) return -1;
  memcpy(x->grid, grid, sizeof x->grid);
  x->nblocks = grid[0] * grid[1] * grid[2];
  x->nrun = x->nblocks;
  if (o && o->sample && check_sample(k, x, o, err, errn)) return -1;
  if (nargs < 0 || (nargs > 0 && !args)) {
    snprintf(err, errn, "sim: the launch of kernel %s passes no argument list", k->name);
    return -1;
  }
  if (nargs != k->nparams) {
    snprintf(err, errn, "sim: kernel %s takes %d arguments, the launch passes %d", k->name, k->nparams,
             nargs);
    return -1;
  }
  size_t n = (size_t)nargs + 1;
  x->ftypes = calloc(n, sizeof *x->ftypes);
  x->vals = calloc(n, sizeof *x->vals);
  x->argv = calloc(n, sizeof *x->argv);
  x->bufs = calloc(n, sizeof *x->bufs);
  for (int i = 0; i < nargs; i++)
    if (marshal(x, i, &args[i], err, errn)) return -1;
  if (ffi_prep_cif(&x->cif, FFI_DEFAULT_ABI, (unsigned)nargs, &ffi_type_void, x->ftypes) != FFI_OK) {
    snprintf(err, errn, "sim: libffi cannot describe the call of kernel %s", k->name);
    return -1;
  }
  if (settings(x, o, err, errn)) return -1;
  global_shadows(x);
  for (int i = 0; x->profile && i < x->nbufs; i++) {
    sim_buf *b = &x->bufs[i];
    if (b->root != i) continue;
    b->ubits = calloc((b->hi - b->lo + 7) / 8 + 1, 1);
    if (!b->ubits) {
      snprintf(err, errn, "sim: out of memory for the profile of kernel %s", k->name);
      return -1;
    }
  }
  atomic_init(&x->next_block, 0);
  atomic_init(&x->fail_block, INT64_MAX);
  return 0;
}

static void exec_free(sim_exec *x) {
  for (int i = 0; x->bufs && i < x->nbufs; i++) {
    uint64_t *rec = (uint64_t *)atomic_load(&x->bufs[i].rec);
    if (rec) munmap(rec, (x->bufs[i].hi - x->bufs[i].lo) * sizeof *rec);
  }
  for (int i = 0; x->bufs && i < x->nbufs; i++) free((void *)x->bufs[i].ubits);
  free(x->ftypes);
  free(x->vals);
  free(x->argv);
  free(x->bufs);
  if (x->k) pthread_mutex_destroy(&x->mu);
}

/* ---- step 2: workers ---- */

static int worker_init(sim_worker *w, sim_exec *x, char *err, size_t errn) {
  const sim_kernel *k = x->k;
  int n = k->threads;
  memset(w, 0, sizeof *w);
  w->x = x;
  w->nthreads = n;
  w->nwarps = (n + 31) / 32;
  w->tick = SIM_WATCH_TICK;
  w->th = calloc((size_t)n, sizeof *w->th);
  w->warp_arrived = calloc((size_t)w->nwarps, sizeof *w->warp_arrived);
  w->shared_bytes = (size_t)k->shared_bytes;
  w->shared = aligned_alloc(128, (w->shared_bytes + 127) / 128 * 128 + 128);
  if ((x->check_races || x->check_uninit) && w->shared_bytes)
    w->shadow = calloc(w->shared_bytes, sizeof *w->shadow);
  if (x->profile && !(w->prof = sim_prof_new(n))) {
    snprintf(err, errn, "sim: out of memory for the profile of kernel %s", k->name);
    return -1;
  }
  if (!w->th || !w->warp_arrived || !w->shared ||
      (!w->shadow && w->shared_bytes && (x->check_races || x->check_uninit)) ||
      sim_stacks_map(&w->stacks, (size_t)n, x->stack_bytes)) {
    snprintf(err, errn, "sim: out of memory for %d threads of kernel %s (%zu-byte stacks)", n, k->name,
             x->stack_bytes);
    return -1;
  }
  sim_cp_shadow_init(&w->cps, w->shared, w->shared_bytes);
  for (int i = 0; i < n; i++) {
    sim_thread *t = &w->th[i];
    t->w = w;
    t->tid = i;
    t->ts.sreg[CG_TID_X] = i;
    t->ts.sreg[CG_NTID_X] = n;
    t->ts.sreg[CG_LANEID] = i & 31;
    for (int d = 0; d < 3; d++) t->ts.sreg[CG_NCTAID_X + d] = (int32_t)x->grid[d];
  }
  return 0;
}

static void worker_free(sim_worker *w) {
  sim_stacks_unmap(&w->stacks);
  for (int i = 0; w->th && i < w->nthreads; i++) sim_cp_queue_free(&w->th[i].cpq);
  sim_cp_shadow_free(&w->cps);
  free(w->th);
  free(w->warp_arrived);
  sim_hopper_free(w);
  free(w->shared);
  free(w->shadow);
  sim_prof_free(w->prof);
}

/* ---- step 3: running blocks ---- */

static void *worker_main(void *arg) {
  sim_worker *w = arg;
  sim_exec *x = w->x;
  sim_worker *saved = sim_cur;
  sim_cur = w;
  sim_guard_thread_begin(w);
  for (;;) {
    long long i = atomic_fetch_add(&x->next_block, 1);
    if (i >= x->nrun) break;
    long long b = x->sample ? x->sample[i] : i;
    if (b > atomic_load(&x->fail_block)) break;
    if (sim_block_run(w, b) == 0) continue;
    sim_exec_fail(x, b, w->report);
    break;
  }
  sim_guard_thread_end(w);
  sim_cur = saved;
  return NULL;
}

void sim_exec_fail(sim_exec *x, int64_t linear, const char *report) {
  pthread_mutex_lock(&x->mu);
  if (linear < atomic_load(&x->fail_block)) {
    atomic_store(&x->fail_block, linear);
    snprintf(x->report, sizeof x->report, "%s", report);
  }
  pthread_mutex_unlock(&x->mu);
}

double sim_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs the grid on nw workers (already set up); returns 0 or -1 with the report in err. */
static int run_workers(sim_exec *x, sim_worker *ws, int nw, char *err, size_t errn) {
  pthread_t *tids = calloc((size_t)nw, sizeof *tids);
  int started = 1;
  for (int i = 1; i < nw; i++, started++)
    if (pthread_create(&tids[i], NULL, worker_main, &ws[i])) break;
  worker_main(&ws[0]);
  for (int i = 1; i < started; i++) pthread_join(tids[i], NULL);
  free(tids);
  if (atomic_load(&x->fail_block) == INT64_MAX) return 0;
  snprintf(err, errn, "%s", x->report);
  return -1;
}

int sim_run(sim_kernel *k, const sim_arg *args, int nargs, const int64_t grid[3], sim_opts *o, char *err,
            size_t errn) {
  sim_exec x;
  if (exec_init(&x, k, args, nargs, grid, o, err, errn)) {
    exec_free(&x);
    return -1;
  }
  int nw = o && o->workers > 0 ? o->workers : ncores();
  if (nw > x.nrun) nw = (int)x.nrun;
  x.concurrent = nw > 1;
  sim_worker *ws = calloc((size_t)nw, sizeof *ws);
  int rc = 0, ready = 0;
  for (; ready < nw && rc == 0; ready++) rc = worker_init(&ws[ready], &x, err, errn);
  double t0 = sim_now();
  x.deadline = x.timeout > 0 ? t0 + x.timeout : 0;
  if (rc == 0) {
    sim_guard_acquire();
    rc = run_workers(&x, ws, nw, err, errn);
    sim_guard_release();
  }
  if (rc == 0 && x.profile && sim_prof_collect(&x, ws, nw, o->profile)) {
    snprintf(err, errn, "sim: out of memory for the profile of kernel %s", k->name);
    rc = -1;
  }
  uint64_t ops = 0;
  for (int i = 0; i < ready; i++) {
    ops += ws[i].ops;
    worker_free(&ws[i]);
  }
  if (o) {
    o->seconds = sim_now() - t0;
    o->thread_ops = ops;
    o->threads = rc ? 0 : (uint64_t)x.nrun * (uint64_t)k->threads;
  }
  free(ws);
  exec_free(&x);
  return rc;
}

int sim_launch(cg_result *k, const sim_arg *args, int nargs, const int64_t grid[3], sim_opts *o, char *err,
               size_t errn) {
  sim_kernel *sk = sim_load(k, err, errn);
  if (!sk) return -1;
  int rc = sim_run(sk, args, nargs, grid, o, err, errn);
  sim_kernel_free(sk);
  return rc;
}
