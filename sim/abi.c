/*
 * abi.c - the entry points lowered code calls (codegen/sim_abi.h). Each finds the running thread through
 * the host thread's current worker, counts one device op and hands over to the checker or the
 * scheduler.
 *
 * The watchdog lives here too. Lowered code calls __kiln_sim_loop on every loop back-edge, so a thread
 * cannot run forever without calling in: every loop iteration and every device op with a site is a
 * step of the running thread (sim_step). A thread past the launch's step limit is stopped with a
 * report naming its op; every SIM_WATCH_TICK steps of a worker, sim_watch also looks at the clock (the
 * launch's wall-time limit) and abandons, without a report, a block that comes after an already
 * failed one (its report could not win, see launch.c).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../codegen/devops.h"
#include "sim_int.h"

__thread sim_worker *sim_cur;

void sim_watch(sim_worker *w, const char *site) {
  sim_exec *x = w->x;
  const sim_thread *t = &w->th[w->cur];
  w->tick = SIM_WATCH_TICK;
  if (t->steps > x->max_ops) {
    sim_report(w, "watchdog",
               "thread %d is still running after %llu steps (loop iterations and device ops), at '%s'; "
               "KILN_SIM_MAX_OPS sets the limit",
               t->tid, (unsigned long long)x->max_ops, site);
    sim_abandon(w);
  }
  if (atomic_load(&x->fail_block) < w->linear) { /* cancelled: an earlier block failed */
    w->failed = 1;
    w->report[0] = 0;
    sim_abandon(w);
  }
  if (x->deadline > 0 && sim_now() > x->deadline) {
    sim_report(w, "timeout",
               "the launch ran past its %g-second limit (KILN_SIM_TIMEOUT sets it); thread %d was at '%s'",
               x->timeout, t->tid, site);
    sim_abandon(w);
  }
}

static sim_worker *current(void) {
  sim_worker *w = sim_cur;
  if (!w || w->cur < 0) {
    fprintf(stderr, "kiln: a simulator entry point was called outside a simulated thread\n");
    abort();
  }
  return w;
}

sim_tstate *__kiln_sim_thread(void) {
  sim_worker *w = current();
  return &w->th[w->cur].ts;
}

void *__kiln_sim_access(void *addr, uint32_t bytes, uint32_t kind, const char *site) {
  sim_worker *w = current();
  w->ops++;
  sim_step(w, site);
  sim_check_access(w, (uintptr_t)addr, bytes, kind, site);
  if (w->prof) sim_prof_access(w, (uintptr_t)addr, bytes, kind, site);
  return addr;
}

void __kiln_sim_barrier(const char *site) {
  sim_worker *w = current();
  w->ops++;
  sim_step(w, site);
  sim_barrier_arrive(w, site);
}

void __kiln_sim_barrier_named(int32_t id, int32_t n, const char *site) {
  sim_worker *w = current();
  w->ops++;
  sim_step(w, site);
  sim_barrier_named_arrive(w, id, n, site);
}

void __kiln_sim_barrier_named_signal(int32_t id, int32_t n, const char *site) {
  sim_worker *w = current();
  w->ops++;
  sim_step(w, site);
  sim_barrier_named_signal(w, id, n, site);
}

int32_t __kiln_sim_shfl(int32_t mode, int32_t v, int32_t arg, const char *site) {
  sim_worker *w = current();
  w->ops++;
  sim_step(w, site);
  return sim_shfl_arrive(w, mode, v, arg, site);
}

void __kiln_sim_loop(const char *site) {
  sim_worker *w = current();
  sim_step(w, site);
  if (w->prof && w->cur == 0) sim_prof_site(w, site)->iterations++; /* the block's first thread */
}

void __kiln_sim_check_bound(int64_t v, int64_t n, const char *site) {
  sim_worker *w = current();
  if (v >= 0 && v < n) return;
  sim_report(w, "bound broken",
             "thread %d at '%s': the value %lld lies outside [0, %lld), the range stated for it",
             w->th[w->cur].tid, site, (long long)v, (long long)n);
  sim_abandon(w);
}

static _Noreturn void bad_math(int32_t m) {
  fprintf(stderr, "kiln: simulator math op %d does not exist\n", m);
  abort();
}

/* exp2 and exp flush subnormal results to 0, as ex2.approx.ftz.f32 does on the GPU. */
static float flush_subnormal(float r) { return fabsf(r) < FLT_MIN ? 0.0f : r; }

float __kiln_sim_mathf(int32_t m, float x) {
  current()->ops++;
  switch (m) {
  case CG_EXP2: return flush_subnormal(exp2f(x));
  case CG_LOG2: return log2f(x);
  case CG_EXP: return flush_subnormal(expf(x));
  case CG_LOG: return logf(x);
  case CG_SQRT: return sqrtf(x);
  case CG_RSQRT: return 1.0f / sqrtf(x);
  default: bad_math(m);
  }
}

double __kiln_sim_math(int32_t m, double x) {
  current()->ops++;
  switch (m) {
  case CG_EXP2: return exp2(x);
  case CG_LOG2: return log2(x);
  case CG_EXP: return exp(x);
  case CG_LOG: return log(x);
  case CG_SQRT: return sqrt(x);
  case CG_RSQRT: return 1.0 / sqrt(x);
  default: bad_math(m);
  }
}
