/*
 * fiber.c - fiber stacks and the context switch.
 *
 * Stacks: one anonymous mapping holds every stack of a worker; the lowest page of each stack is made
 * PROT_NONE so that an overflow faults instead of corrupting the neighbour.
 *
 * x86-64 switch (System V): push rbp rbx r12-r15 on the current stack, store rsp in *from, load rsp
 * from to, pop the six registers, ret. MXCSR and the x87 control word are not saved: all fibers of a
 * worker run on one host thread and neither the simulator nor lowered code changes them. A new fiber's
 * stack is laid out as if it had been switched out: six register slots (r12 = fn, r13 = arg) and the
 * return address of fiber_start, which calls fn(arg) with the ABI's 16-byte stack alignment.
 *
 * AddressSanitizer builds (SIM_ASAN) annotate every switch: __sanitizer_start_switch_fiber before it
 * with the stack being entered (NULL fake-stack slot for a fiber that never comes back, so that the
 * sanitizer frees its fake frames), __sanitizer_finish_switch_fiber after it, which also tells the
 * bounds of the stack just left: that is how the scheduler's context (the host thread's own stack)
 * learns its bounds. A new fiber starts in fiber_boot, which finishes the switch first. A stack is
 * unpoisoned whenever a fiber is set up on it, and the stacks when they are unmapped: an abandoned
 * fiber leaves its frames' redzones behind, and the sanitizer keeps the shadow of unmapped memory.
 */
#include "fiber.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(SIM_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>

static __thread sim_fiber *switch_from; /* the fiber that switched to the running one */

/* After a switch into `self` (NULL: a fiber's first start): learn the left stack's bounds. */
static void finish_switch(sim_fiber *self) {
  const void *lo;
  size_t n;
  __sanitizer_finish_switch_fiber(self ? self->fake_stack : NULL, &lo, &n);
  if (switch_from) {
    switch_from->stack_lo = lo;
    switch_from->stack_size = n;
  }
}

static void start_switch(sim_fiber *from, sim_fiber *to, int dying) {
  __sanitizer_start_switch_fiber(dying ? NULL : &from->fake_stack, to->stack_lo, to->stack_size);
  switch_from = from;
}

static void fiber_boot(void *arg) {
  sim_fiber *f = arg;
  finish_switch(NULL);
  f->fn(f->arg);
}

/* Records the stack and the function, unpoisons the stack; fiber_boot(f) runs first. */
static void asan_init(sim_fiber *f, char *lo, size_t n, void (**fn)(void *), void **arg) {
  __asan_unpoison_memory_region(lo, n);
  f->stack_lo = lo;
  f->stack_size = n;
  f->fake_stack = NULL;
  f->fn = *fn;
  f->arg = *arg;
  *fn = fiber_boot;
  *arg = f;
}
#endif

int sim_stacks_map(sim_stacks *s, size_t count, size_t bytes) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t each = (bytes + page - 1) / page * page + page;
  char *p =
      mmap(NULL, each * count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return -1;
  for (size_t i = 0; i < count; i++) mprotect(p + i * each, page, PROT_NONE);
  s->base = p;
  s->each = each;
  s->count = count;
  return 0;
}

void sim_stacks_unmap(sim_stacks *s) {
#if defined(SIM_ASAN)
  /* the sanitizer keeps the shadow of unmapped memory: clear the redzones abandoned frames left, or
   * the next mapping at these addresses (a shadow, a buffer) would inherit them */
  if (s->base) __asan_unpoison_memory_region(s->base, s->each * s->count);
#endif
  if (s->base) munmap(s->base, s->each * s->count);
  s->base = NULL;
  s->count = 0;
}

#if defined(__x86_64__)

__attribute__((visibility("hidden"))) void sim_fiber_swap(void **save_sp, void *load_sp);
__attribute__((visibility("hidden"))) void sim_fiber_start(void);

__asm__(".text\n"
        ".p2align 4\n"
        ".globl sim_fiber_swap\n"
        ".hidden sim_fiber_swap\n"
        ".type sim_fiber_swap,@function\n"
        "sim_fiber_swap:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size sim_fiber_swap, .-sim_fiber_swap\n"
        ".p2align 4\n"
        ".globl sim_fiber_start\n"
        ".hidden sim_fiber_start\n"
        ".type sim_fiber_start,@function\n"
        "sim_fiber_start:\n"
        "  movq %r13, %rdi\n"
        "  callq *%r12\n"
        "  ud2\n"
        ".size sim_fiber_start, .-sim_fiber_start\n");

void sim_fiber_init(sim_fiber *f, sim_stacks *s, size_t i, void (*fn)(void *), void *arg) {
  assert(i < s->count);
#if defined(SIM_ASAN)
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  asan_init(f, s->base + i * s->each + page, s->each - page, &fn, &arg);
#endif
  uintptr_t top = (uintptr_t)(s->base + (i + 1) * s->each) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)top;
  sp[-1] = (uint64_t)(uintptr_t)sim_fiber_start; /* ret target; rsp = top (16-aligned) after ret */
  sp[-2] = 0;                                    /* rbp */
  sp[-3] = 0;                                    /* rbx */
  sp[-4] = (uint64_t)(uintptr_t)fn;              /* r12 */
  sp[-5] = (uint64_t)(uintptr_t)arg;             /* r13 */
  sp[-6] = 0;                                    /* r14 */
  sp[-7] = 0;                                    /* r15 */
  f->sp = sp - 7;
}

static void swap(sim_fiber *from, sim_fiber *to) { sim_fiber_swap(&from->sp, to->sp); }

#else /* ucontext fallback */

static void fiber_trampoline(unsigned fhi, unsigned flo, unsigned ahi, unsigned alo) {
  void (*fn)(void *) = (void (*)(void *))(((uintptr_t)fhi << 32) | flo);
  void *arg = (void *)(((uintptr_t)ahi << 32) | alo);
  fn(arg);
  assert(0 && "a fiber function returned");
}

void sim_fiber_init(sim_fiber *f, sim_stacks *s, size_t i, void (*fn)(void *), void *arg) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
#if defined(SIM_ASAN)
  asan_init(f, s->base + i * s->each + page, s->each - page, &fn, &arg);
#endif
  getcontext(&f->uc);
  f->uc.uc_stack.ss_sp = s->base + i * s->each + page;
  f->uc.uc_stack.ss_size = s->each - page;
  f->uc.uc_link = NULL;
  uintptr_t fp = (uintptr_t)fn, ap = (uintptr_t)arg;
  makecontext(&f->uc, (void (*)(void))fiber_trampoline, 4, (unsigned)(fp >> 32), (unsigned)fp,
              (unsigned)(ap >> 32), (unsigned)ap);
}

static void swap(sim_fiber *from, sim_fiber *to) { swapcontext(&from->uc, &to->uc); }

#endif

void sim_fiber_switch(sim_fiber *from, sim_fiber *to) {
#if defined(SIM_ASAN)
  start_switch(from, to, 0);
  swap(from, to);
  finish_switch(from);
#else
  swap(from, to);
#endif
}

_Noreturn void sim_fiber_exit(sim_fiber *from, sim_fiber *to) {
#if defined(SIM_ASAN)
  start_switch(from, to, 1);
#endif
  swap(from, to);
  abort(); /* a fiber that exited is never resumed */
}
