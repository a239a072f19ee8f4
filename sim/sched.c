/*
 * sched.c - running one block: its threads as fibers, barriers and warp ops (shuffle, mma, ldmatrix)
 * as rendezvous.
 *
 * 1. Every thread of the block gets a fresh fiber on its own stack; the scheduler switches to
 *    thread 0 and waits.
 * 2. A thread runs until it arrives at a barrier or a warp op, or exits; then it switches straight to
 *    the next runnable thread in tid order (wrapping), or back to the scheduler if there is none.
 * 3. The last thread of the block to reach a barrier (of the warp, for a warp op) checks that all
 *    wait at the same op and releases them (a barrier also starts a new race epoch; a warp op computes
 *    every lane's result); then the released threads resume in tid order from the first, so that the
 *    order of execution, and so every report, is the same as if threads ran one after another.
 * 4. Back in the scheduler: all exited is success; a failed check left a report; anything else is a
 *    deadlock, reported as the divergent barrier or warp op that caused it.
 * A failed check never returns to the kernel: its fiber and the rest of the block are abandoned.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/devops.h"
#include "sim_int.h"

int sim_report_head(const sim_exec *x, int64_t linear, const char *what, char *buf, size_t n) {
  const int64_t *g = x->grid;
  return snprintf(buf, n, "sim: %s in kernel %s, block (%lld,%lld,%lld): ", what, x->k->name,
                  (long long)(linear % g[0]), (long long)(linear / g[0] % g[1]),
                  (long long)(linear / (g[0] * g[1])));
}

void sim_report(sim_worker *w, const char *what, const char *fmt, ...) {
  /* an earlier uninitialised read comes first; a race may be that very read meeting its writer */
  if (strcmp(what, "race") && sim_check_epoch_end(w)) return;
  int n = sim_report_head(w->x, w->linear, what, w->report, sizeof w->report);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof w->report) vsnprintf(w->report + n, sizeof w->report - n, fmt, ap);
  va_end(ap);
  w->failed = 1;
}

_Noreturn void sim_abandon(sim_worker *w) {
  int cur = w->cur;
  w->cur = -1;
  sim_fiber_exit(&w->th[cur].fib, &w->sched);
}

/* Switches from the running thread to `to`; for good if it has exited. */
static void switch_to(sim_thread *from, sim_fiber *to) {
  if (from->state == SIM_EXITED)
    sim_fiber_exit(&from->fib, to);
  else
    sim_fiber_switch(&from->fib, to);
}

/* Switches from the running thread to the next runnable one, or to the scheduler. */
static void sim_yield(sim_worker *w) {
  int n = w->nthreads, cur = w->cur, i = cur;
  sim_thread *th = w->th;
  do {
    if (++i == n) i = 0;
    if (th[i].state == SIM_RUN) {
      if (i == cur) return;
      w->cur = i;
      switch_to(&th[cur], &th[i].fib);
      return;
    }
  } while (i != cur);
  w->cur = -1;
  switch_to(&th[cur], &w->sched);
}

void sim_park(sim_worker *w) { sim_yield(w); }

/* After a release: the released threads go on in tid order from `first`, the running one in its turn. */
static void resume_from(sim_worker *w, int first) {
  int cur = w->cur;
  if (cur == first) return;
  w->cur = first;
  sim_fiber_switch(&w->th[cur].fib, &w->th[first].fib);
}

static int same_site(const char *a, const char *b) { return a == b || !strcmp(a, b); }

/* ---- barrier ---- */

/* Tids in [lo, hi) whose state is st (and, if site is non-NULL, that wait at site). */
static int collect(sim_worker *w, int lo, int hi, sim_state st, const char *site, int *out) {
  int n = 0;
  for (int i = lo; i < hi; i++)
    if (w->th[i].state == st && (!site || same_site(w->th[i].site, site))) out[n++] = i;
  return n;
}

/* Two groups of waiting threads that disagree: "A wait at 'X', B at 'Y'". */
static void report_split(sim_worker *w, const char *what, int lo, int hi, sim_state st) {
  int *ids = malloc(sizeof(int) * (size_t)w->nthreads * 2), *other = ids + w->nthreads;
  const char *s0 = w->th[lo].site, *s1 = NULL;
  int n0 = collect(w, lo, hi, st, s0, ids), n1 = 0;
  for (int i = lo; i < hi && !s1; i++)
    if (w->th[i].state == st && !same_site(w->th[i].site, s0)) s1 = w->th[i].site;
  n1 = collect(w, lo, hi, st, s1, other);
  char a[160], b[160];
  sim_fmt_threads(a, sizeof a, ids, n0);
  sim_fmt_threads(b, sizeof b, other, n1);
  sim_report(w, what, "%s wait at '%s', %s at '%s'", a, s0, b, s1);
  free(ids);
}

/* Releases the threads waiting at barrier id: 0, the block's (every thread), or a named one (a
 * warp_split's consumers: codegen/lower_control.c). They must wait at one site. The epoch ends for
 * the whole block either way: at a named barrier an access of a thread outside it (a producer warp)
 * and one of a thread in it, on either side, are taken to be ordered (the producer warps of kiln's
 * warp_split touch shared memory only through mbarriers and TMA, which the simulator checks by
 * their phases). */
static void barrier_release(sim_worker *w, int id, int resume) {
  sim_thread *th = w->th;
  int first = -1;
  if (sim_check_epoch_end(w)) sim_abandon(w);
  for (int i = 0; i < w->nthreads; i++) {
    if (th[i].state != SIM_AT_BARRIER || th[i].bar != id) continue;
    if (first < 0) {
      first = i;
    } else if (!same_site(th[i].site, th[first].site)) {
      report_split(w, "divergent barrier", first, w->nthreads, SIM_AT_BARRIER);
      sim_abandon(w);
    }
  }
  if (w->prof && first >= 0) {
    sim_prof_flush(w, -1);
    sim_prof_site(w, th[first].site)->barriers++;
  }
  for (int i = first < 0 ? w->nthreads : first; i < w->nthreads; i++)
    if (th[i].state == SIM_AT_BARRIER && th[i].bar == id) th[i].state = SIM_RUN;
  sim_hopper_barrier(w);
  if (id)
    w->named_arrived[id] = 0;
  else
    w->bar_arrived = 0;
  w->epoch++;
  if (resume && first >= 0) resume_from(w, first);
}

void sim_barrier_arrive(sim_worker *w, const char *site) {
  sim_thread *t = &w->th[w->cur];
  t->state = SIM_AT_BARRIER;
  t->site = site;
  t->bar = 0;
  if (++w->bar_arrived < w->nthreads)
    sim_yield(w);
  else
    barrier_release(w, 0, 1);
}

static void check_named(sim_worker *w, const char *what, int id, int n, const char *site) {
  if (id < 1 || id > 15 || n < 32 || n % 32 || n > w->nthreads) {
    sim_report(w, "bad barrier",
               "%s %d, %d at '%s': the id must be 1..15 and the count a multiple of 32 "
               "up to the block's %d threads",
               what, id, n, site, w->nthreads);
    sim_abandon(w);
  }
}

void sim_barrier_named_arrive(sim_worker *w, int id, int n, const char *site) {
  sim_thread *t = &w->th[w->cur];
  check_named(w, "bar.sync", id, n, site);
  t->state = SIM_AT_BARRIER;
  t->site = site;
  t->bar = id;
  if (++w->named_arrived[id] < n)
    sim_yield(w);
  else
    barrier_release(w, id, 1);
}

/* bar.arrive id, n: the caller counts towards the n without waiting; the threads waiting at id go
 * on when the count is complete. The epoch ends for the block there (barrier_release), so an access
 * of the arriving thread after its arrive and before the release is taken to be ordered before the
 * waiting threads' accesses after it: the model may miss a race there, never report a false one. */
void sim_barrier_named_signal(sim_worker *w, int id, int n, const char *site) {
  check_named(w, "bar.arrive", id, n, site);
  if (++w->named_arrived[id] >= n) barrier_release(w, id, 0);
}

/* ---- warp collectives: shuffles here, mma and ldmatrix in tensor_ops.c ---- */

void sim_warp_arrive(sim_worker *w, const char *what, const char *site, sim_warp_fn done) {
  sim_thread *t = &w->th[w->cur];
  int warp = t->tid >> 5, lanes = w->nthreads - warp * 32;
  if (lanes > 32) lanes = 32;
  t->state = SIM_AT_WARP;
  t->site = site;
  t->what = what;
  if (++w->warp_arrived[warp] < lanes) {
    sim_yield(w);
    return;
  }
  sim_thread *l = &w->th[warp * 32];
  for (int i = 1; i < lanes; i++)
    if (!same_site(l[i].site, l[0].site)) {
      char d[64];
      snprintf(d, sizeof d, "divergent %s", l[0].what);
      report_split(w, d, warp * 32, warp * 32 + lanes, SIM_AT_WARP);
      sim_abandon(w);
    }
  if (w->prof) sim_prof_flush(w, warp);
  done(w, l, lanes);
  for (int i = 0; i < lanes; i++) l[i].state = SIM_RUN;
  w->warp_arrived[warp] = 0;
  resume_from(w, warp * 32);
}

/* The source lane of `lane` per PTX shfl.sync with c = 0x1f (up: c = 0); out of range reads itself. */
static int shfl_src(int mode, int lane, int arg, int lanes) {
  int b = arg & 31, j;
  switch (mode) {
  case SIM_SHFL_XOR: j = lane ^ b; break;
  case SIM_SHFL_IDX: j = b; break;
  case SIM_SHFL_UP: j = lane - b; break;
  case SIM_SHFL_DOWN: j = lane + b; break;
  default: abort();
  }
  return j >= 0 && j < lanes ? j : lane;
}

static void shfl_exchange(sim_worker *w, sim_thread *l, int lanes) {
  for (int i = 0; i < lanes; i++)
    l[i].op.shfl.out = l[shfl_src(l[i].op.shfl.mode, i, l[i].op.shfl.arg, lanes)].op.shfl.val;
  if (w->prof) sim_prof_site(w, l[0].site)->shuffles++;
}

int32_t sim_shfl_arrive(sim_worker *w, int32_t mode, int32_t v, int32_t arg, const char *site) {
  sim_thread *t = &w->th[w->cur];
  t->op.shfl.mode = mode;
  t->op.shfl.val = v;
  t->op.shfl.arg = arg;
  sim_warp_arrive(w, "shuffle", site, shfl_exchange);
  return t->op.shfl.out;
}

/* ---- deadlock: nobody can run, not all exited ---- */

/* The lanes of a warp wait at a warp op that some lane never reaches. */
static void report_warp_deadlock(sim_worker *w, int first, int *a, int *b) {
  int lo = first & ~31, hi = lo + 32 < w->nthreads ? lo + 32 : w->nthreads;
  const char *site = w->th[first].site;
  int na = collect(w, lo, hi, SIM_AT_WARP, site, a), odd = lo;
  while (odd < hi && w->th[odd].state == SIM_AT_WARP && same_site(w->th[odd].site, site)) odd++;
  if (odd == hi) abort(); /* a full warp at one op would have been released */
  sim_thread *o = &w->th[odd];
  const char *osite = o->state == SIM_EXITED ? NULL : o->site;
  int nb = collect(w, lo, hi, o->state, osite, b);
  char sa[160], sb[160], what[64];
  sim_fmt_threads(sa, sizeof sa, a, na);
  sim_fmt_threads(sb, sizeof sb, b, nb);
  snprintf(what, sizeof what, "divergent %s", w->th[first].what);
  if (o->state == SIM_EXITED)
    sim_report(w, what, "%s wait at '%s', %s exited without reaching it", sa, site, sb);
  else
    sim_report(w, what, "%s wait at '%s', %s at %s'%s'", sa, site, sb,
               o->state == SIM_AT_BARRIER ? "barrier " : "", osite);
}

static void report_deadlock(sim_worker *w) {
  if (sim_hopper_deadlock(w)) return;
  int *a = malloc(sizeof(int) * (size_t)w->nthreads * 2), *b = a + w->nthreads;
  int i = 0;
  while (i < w->nthreads && w->th[i].state != SIM_AT_WARP) i++;
  if (i < w->nthreads) {
    report_warp_deadlock(w, i, a, b);
  } else {
    i = 0;
    while (i < w->nthreads && w->th[i].state != SIM_AT_BARRIER) i++;
    if (i == w->nthreads) abort(); /* neither warp-op nor barrier waiters: not a deadlock */
    const char *site = w->th[i].site;
    int na = collect(w, 0, w->nthreads, SIM_AT_BARRIER, NULL, a);
    int nb = collect(w, 0, w->nthreads, SIM_EXITED, NULL, b);
    char sa[160], sb[160];
    sim_fmt_threads(sa, sizeof sa, a, na);
    sim_fmt_threads(sb, sizeof sb, b, nb);
    char named[32] = "";
    if (w->th[i].bar) snprintf(named, sizeof named, " (named barrier %d)", w->th[i].bar);
    sim_report(w, "divergent barrier", "%s wait at '%s'%s, %s exited without reaching it", sa, site, named,
               sb);
  }
  free(a);
}

/* ---- one block ---- */

static void thread_main(void *arg) {
  sim_thread *t = arg;
  sim_worker *w = t->w;
  const sim_exec *x = w->x;
  ffi_arg ret;
  ffi_call((ffi_cif *)&x->cif, x->k->entry, &ret, x->argv);
  sim_cp_async_wait(&t->cpq, &w->cps, -1); /* copies still in flight land when their thread exits */
  sim_hopper_thread_exit(w, t);
  t->state = SIM_EXITED;
  w->nexited++;
  sim_yield(w); /* never returns: an exited thread is never resumed */
  abort();
}

static void block_coords(sim_worker *w, int64_t linear) {
  const int64_t *g = w->x->grid;
  w->block[0] = linear % g[0];
  w->block[1] = linear / g[0] % g[1];
  w->block[2] = linear / (g[0] * g[1]);
}

int sim_block_run(sim_worker *w, int64_t linear) {
  block_coords(w, linear);
  w->linear = linear;
  sim_check_block_start(w);
  sim_hopper_block_start(w);
  w->bar_arrived = w->nexited = 0;
  memset(w->named_arrived, 0, sizeof w->named_arrived);
  w->failed = 0;
  memset(w->warp_arrived, 0, sizeof(int) * (size_t)w->nwarps);
  for (int i = 0; i < w->nthreads; i++) {
    sim_thread *t = &w->th[i];
    t->state = SIM_RUN;
    t->ts.shared = w->shared;
    t->cpq.n = 0;
    t->cpq.committed = 0;
    t->steps = 0;
    for (int d = 0; d < 3; d++) t->ts.sreg[CG_CTAID_X + d] = (int32_t)w->block[d];
    sim_fiber_init(&t->fib, &w->stacks, (size_t)i, thread_main, t);
  }
  w->cur = 0;
  sim_fiber_switch(&w->sched, &w->th[0].fib);
  if (w->failed) return -1;
  if (w->nexited == w->nthreads) {
    if (w->prof) sim_prof_flush(w, -1);
    return sim_check_epoch_end(w) ? -1 : 0;
  }
  report_deadlock(w);
  return -1;
}
