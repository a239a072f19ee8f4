/*
 * fiber.h - the simulator's fibers: one small stack and a saved context per simulated thread.
 *
 * x86-64 uses a hand-written switch (six callee-saved registers and the stack pointer, no system
 * call); other hosts fall back to ucontext. docs/simulator.md gives the measured cost of both.
 * A fiber's function must never return: it ends by switching to another fiber for good.
 */
#ifndef KILN_SIM_FIBER_H
#define KILN_SIM_FIBER_H

#include <stddef.h>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

/* AddressSanitizer builds tell it about every switch (its fiber annotations), see fiber.c. */
#if defined(__SANITIZE_ADDRESS__)
#define SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_ASAN 1
#endif
#endif

/* A run of equally sized stacks in one mapping, each with a guard page below it. */
typedef struct {
  char *base;
  size_t each; /* bytes per stack, guard page included */
  size_t count;
} sim_stacks;

typedef struct sim_fiber {
#if defined(__x86_64__)
  void *sp; /* saved stack pointer; the registers are on that stack */
#else
  ucontext_t uc;
#endif
#if defined(SIM_ASAN)
  const void *stack_lo; /* its stack, for the sanitizer (the scheduler's is learnt at its first switch) */
  size_t stack_size;
  void *fake_stack; /* the sanitizer's fake stack while switched out */
  void (*fn)(void *);
  void *arg;
#endif
} sim_fiber;

/* Maps `count` stacks of `bytes` usable bytes each (rounded up to pages). 0, or -1 if mmap fails. */
int sim_stacks_map(sim_stacks *s, size_t count, size_t bytes);
void sim_stacks_unmap(sim_stacks *s);

/* Prepares f to run fn(arg) on stack i of s the first time it is switched to. */
void sim_fiber_init(sim_fiber *f, sim_stacks *s, size_t i, void (*fn)(void *), void *arg);

/* Saves the current context in `from` and resumes `to`. Returns when something switches back to
 * `from`. The scheduler's own context is a sim_fiber that was never initialised. */
void sim_fiber_switch(sim_fiber *from, sim_fiber *to);
/* The same for a fiber that is done for good (exited or abandoned): `from` is never resumed. */
_Noreturn void sim_fiber_exit(sim_fiber *from, sim_fiber *to);

#endif
