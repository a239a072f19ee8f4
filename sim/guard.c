/*
 * guard.c - a fiber that overflows its stack becomes a report, not a crash.
 *
 * Every fiber stack has a PROT_NONE guard page below it, and the kernel function is compiled with
 * stack probes (devops_sim.c), so an overflow always faults on a guard page. While launches run,
 * a SIGSEGV handler (on an alternate signal stack per worker thread) looks at the fault address: in
 * a guard page of the running worker's stacks, it reports the overflow and abandons the fiber, the
 * same way a failed check does; anything else goes to the handler that was there before (or the
 * default action, which ends the process as it would have without us).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_int.h"

static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static int guard_users;
static struct sigaction guard_old;

/* The thread whose guard page holds addr, or -1. */
static int guard_owner(const sim_worker *w, uintptr_t addr) {
  const sim_stacks *s = &w->stacks;
  uintptr_t base = (uintptr_t)s->base, page = (uintptr_t)sysconf(_SC_PAGESIZE);
  if (!s->base || addr < base || addr >= base + s->each * s->count) return -1;
  size_t i = (addr - base) / s->each;
  return addr - base - i * s->each < page ? (int)i : -1;
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
  sim_worker *w = sim_cur;
  int tid = w && w->cur >= 0 ? guard_owner(w, (uintptr_t)si->si_addr) : -1;
  if (tid >= 0) {
    sim_report(w, "stack overflow",
               "thread %d overflowed its %zu-byte fiber stack (KILN_SIM_STACK_KB sets the size)", tid,
               w->x->stack_bytes);
    sim_abandon(w);
  }
  if (guard_old.sa_flags & SA_SIGINFO) {
    guard_old.sa_sigaction(sig, si, uc);
  } else if (guard_old.sa_handler != SIG_DFL && guard_old.sa_handler != SIG_IGN) {
    guard_old.sa_handler(sig);
  } else {
    signal(SIGSEGV, SIG_DFL); /* the fault repeats on return and ends the process as usual */
  }
}

void sim_guard_acquire(void) {
  pthread_mutex_lock(&guard_mu);
  if (guard_users++ == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER; /* NODEFER: we leave the handler by switching */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &guard_old);
  }
  pthread_mutex_unlock(&guard_mu);
}

void sim_guard_release(void) {
  pthread_mutex_lock(&guard_mu);
  if (--guard_users == 0) sigaction(SIGSEGV, &guard_old, NULL);
  pthread_mutex_unlock(&guard_mu);
}

enum { SIM_ALTSTACK = 64 * 1024 };

void sim_guard_thread_begin(sim_worker *w) {
  w->altstack = malloc(SIM_ALTSTACK);
  stack_t ss = {.ss_sp = w->altstack, .ss_size = SIM_ALTSTACK, .ss_flags = 0};
  if (!w->altstack || sigaltstack(&ss, &w->old_altstack)) {
    free(w->altstack);
    w->altstack = NULL;
  }
}

void sim_guard_thread_end(sim_worker *w) {
  if (!w->altstack) return;
  if (w->old_altstack.ss_flags & SS_DISABLE) {
    stack_t off = {.ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
  } else {
    sigaltstack(&w->old_altstack, NULL);
  }
  free(w->altstack);
  w->altstack = NULL;
}
