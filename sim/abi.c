/*
 * abi.c - the entry points lowered code calls (codegen/sim_abi.h). Each finds the running thread through
 * the host thread's current worker, counts one device op and hands over to the checker or the
 * scheduler.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../codegen/devops.h"
#include "sim_int.h"

__thread sim_worker *sim_cur;

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
  sim_check_access(w, (uintptr_t)addr, bytes, kind, site);
  return addr;
}

void __kiln_sim_barrier(const char *site) {
  sim_worker *w = current();
  w->ops++;
  sim_barrier_arrive(w, site);
}

int32_t __kiln_sim_shfl(int32_t mode, int32_t v, int32_t arg, const char *site) {
  sim_worker *w = current();
  w->ops++;
  return sim_shfl_arrive(w, mode, v, arg, site);
}

static _Noreturn void bad_math(int32_t m) {
  fprintf(stderr, "kiln: simulator math op %d does not exist\n", m);
  abort();
}

float __kiln_sim_mathf(int32_t m, float x) {
  current()->ops++;
  switch (m) {
  case CG_EXP2: return exp2f(x);
  case CG_LOG2: return log2f(x);
  case CG_EXP: return expf(x);
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
