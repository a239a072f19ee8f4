/*
 * test_sim_fiber.c - the simulator's fibers (sim/fiber.h) and the half/bfloat conversions it hands
 * to JIT'd code (sim/libcalls.c).
 *
 * 1. Many fibers interleave with a scheduler in a fixed order, each keeping its own stack variables
 *    and callee-saved state across switches.
 * 2. A fiber that overflows its stack dies on the guard page (checked in a child process).
 * 3. Switch cost, printed for docs/simulator.md: the hand-written switch against ucontext.
 * 4. The conversions against the compiler's own _Float16 casts and a bit-level bfloat16 reference,
 *    on random values of every magnitude and on the special cases.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "sim/fiber.h"
#include "sim/sim_int.h"
#include "test.h"

/* ---- 1. interleaving ---- */

enum { NF = 100, ROUNDS = 50 };
static sim_fiber sched, fibers[NF];
static int trace[NF * ROUNDS], ntrace;

static void worker(void *arg) {
  int id = (int)(intptr_t)arg;
  volatile double local = id * 1.5; /* lives on this fiber's stack across switches */
  for (int r = 0; r < ROUNDS; r++) {
    trace[ntrace++] = id * 1000 + r + (local == id * 1.5 ? 0 : 100000);
    sim_fiber_switch(&fibers[id], &sched);
  }
  sim_fiber_switch(&fibers[id], &sched); /* finished: never resumed */
  abort();
}

static void test_interleave(void) {
  sim_stacks st;
  CHECK(sim_stacks_map(&st, NF, 16 * 1024) == 0);
  for (int i = 0; i < NF; i++) sim_fiber_init(&fibers[i], &st, (size_t)i, worker, (void *)(intptr_t)i);
  for (int r = 0; r < ROUNDS; r++)
    for (int i = 0; i < NF; i++) sim_fiber_switch(&sched, &fibers[i]);
  int bad = ntrace != NF * ROUNDS;
  for (int k = 0; k < ntrace && !bad; k++) bad += trace[k] != (k % NF) * 1000 + k / NF;
  CHECK(bad == 0);
  /* a fiber re-initialised on the same stack starts over */
  ntrace = 0;
  sim_fiber_init(&fibers[3], &st, 3, worker, (void *)(intptr_t)3);
  sim_fiber_switch(&sched, &fibers[3]);
  CHECK(ntrace == 1 && trace[0] == 3000);
  sim_stacks_unmap(&st);
}

/* ---- 2. guard page ---- */

static int deep(int n) {
  volatile char pad[512];
  pad[0] = (char)n;
  return n ? deep(n - 1) + pad[0] : 0;
}

static void overflow(void *arg) {
  (void)arg;
  deep(1 << 20);
  sim_fiber_switch(&fibers[0], &sched);
}

static void test_guard_page(void) {
  pid_t pid = fork();
  if (pid == 0) {
    sim_stacks st;
    if (sim_stacks_map(&st, 2, 16 * 1024)) _exit(2);
    sim_fiber_init(&fibers[0], &st, 1, overflow, NULL); /* the upper stack: overflows into the guard */
    sim_fiber_switch(&sched, &fibers[0]);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
}

/* ---- 3. switch cost ---- */

enum { SWITCHES = 2000000 };
static long pings;

static void ping(void *arg) {
  (void)arg;
  for (;;) {
    pings++;
    sim_fiber_switch(&fibers[0], &sched);
  }
}

static ucontext_t uc_main, uc_fib;
static void uc_ping(void) {
  for (;;) {
    pings++;
    swapcontext(&uc_fib, &uc_main);
  }
}

static void test_switch_cost(void) {
  sim_stacks st;
  CHECK(sim_stacks_map(&st, 1, 16 * 1024) == 0);
  sim_fiber_init(&fibers[0], &st, 0, ping, NULL);
  pings = 0;
  double t0 = test_now();
  for (int i = 0; i < SWITCHES / 2; i++) sim_fiber_switch(&sched, &fibers[0]);
  double fib_ns = (test_now() - t0) / SWITCHES * 1e9;
  CHECK(pings == SWITCHES / 2);
  sim_stacks_unmap(&st);

  static char stack[64 * 1024];
  getcontext(&uc_fib);
  uc_fib.uc_stack.ss_sp = stack;
  uc_fib.uc_stack.ss_size = sizeof stack;
  makecontext(&uc_fib, uc_ping, 0);
  pings = 0;
  t0 = test_now();
  for (int i = 0; i < SWITCHES / 10; i++) swapcontext(&uc_main, &uc_fib);
  double uc_ns = (test_now() - t0) / (SWITCHES / 5) * 1e9;
  CHECK(pings == SWITCHES / 10);
  printf("fiber switch: %.1f ns (sim_fiber_switch), %.1f ns (swapcontext)\n", fib_ns, uc_ns);
}

/* ---- 4. half and bfloat conversions ---- */

/* Against the compiler's own _Float16 (which older clang lacks on x86-64: then only the build with
 * the project's default compiler runs it). */
#if defined(__x86_64__) && defined(__FLT16_MAX__)
static uint32_t lo16(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b & 0xffff;
}

static float with_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

static uint16_t half_bits(_Float16 h) {
  uint16_t b;
  memcpy(&b, &h, 2);
  return b;
}

/* bfloat16 of a float, rounded to nearest even, NaN kept quiet. */
static uint32_t bf16_ref(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if (isnan(x)) return (u >> 16) | 0x40;
  return (u + 0x7fff + ((u >> 16) & 1)) >> 16;
}

static float random_float(void) {
  uint32_t b = test_rand() << 16 ^ test_rand();
  uint32_t e = 96 + test_rand() % 64; /* 2^-31 .. 2^32: every half range and beyond */
  return with_bits((b & 0x807fffff) | e << 23);
}

static void test_conversions(void) {
  int bad = 0;
  float specials[] = {0.0f,          -0.0f,    1.0f,     -2.5f,         65504.0f,
                      65519.99f,     65520.0f, 1e-8f,    5.9604645e-8f, 2.98e-8f,
                      6.1035156e-5f, 6.0e-5f,  INFINITY, -INFINITY,     3.3895314e38f};
  for (int i = 0; i < 200000 + (int)(sizeof specials / sizeof *specials); i++) {
    float x = i < (int)(sizeof specials / sizeof *specials) ? specials[i] : random_float();
    bad += lo16(sim_f32_to_f16(x)) != half_bits((_Float16)x);
    bad += lo16(sim_f64_to_f16((double)x * 1.0000001)) != half_bits((_Float16)((double)x * 1.0000001));
    bad += lo16(sim_f32_to_bf16(x)) != bf16_ref(x);
    uint32_t h = test_rand() & 0xffff;
    _Float16 hf;
    memcpy(&hf, &h, 2);
    float back = sim_f16_to_f32(with_bits(h));
    bad += !(back == (float)hf || (isnan(back) && isnan((float)hf)));
    bad += !(sim_f16_to_f64(with_bits(h)) == (double)hf || isnan((double)hf));
  }
  CHECK(bad == 0);
  CHECK(lo16(sim_f32_to_f16(NAN)) == 0x7e00);
  CHECK(lo16(sim_f32_to_bf16(-NAN)) == 0xffc0);
  CHECK(lo16(sim_f64_to_bf16(1.0 + 0x1p-8)) == 0x3f80); /* a tie rounds to even */
  CHECK(lo16(sim_f64_to_bf16(1.0 + 0x1p-8 + 0x1p-30)) == 0x3f81);
}
#else
static void test_conversions(void) {
  puts("test_sim_fiber: no _Float16 in this compiler: conversions not checked");
}
#endif

int main(void) {
  test_interleave();
  test_guard_page();
  test_switch_cost();
  test_conversions();
  return test_done("test_sim_fiber");
}
