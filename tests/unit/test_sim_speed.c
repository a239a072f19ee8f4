/*
 * test_sim_speed.c - how fast the simulator runs real lowered kernels (the figures in
 * docs/simulator.md come from `build/test_sim_speed`).
 *
 * Each kernel of tests/sim/ goes through the default pipeline and cg_compile(CG_SIM), is JIT-loaded
 * once and launched on one worker and on every core, with checks on and off. Every launch's output
 * is checked against C, so that a fast wrong simulator fails here too. An empty kernel gives the fixed
 * cost of a simulated thread. Printed per launch: simulated
 * threads, device ops (checked accesses, barriers, shuffles, math calls), seconds, threads/s, ops/s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/codegen.h"
#include "compiler/passes/pass.h"
#include "ir/file.h"
#include "sim/sim.h"
#include "test.h"

/* tests/sim/NAME.ir, compiled and JIT-loaded; prints the compile and JIT times. */
static sim_kernel *load(const char *name) {
  char path[256], err[1024];
  snprintf(path, sizeof path, "tests/sim/%s.ir", name);
  char *text = test_read_file(path, NULL);
  if (!text) return NULL;
  double t0 = test_now();
  cg_result r;
  int rc = test_compile_ir(text, path, tg_target_lookup("sm_80"), CG_SIM, &r, err, sizeof err);
  free(text);
  if (rc) {
    fprintf(stderr, "%s: cannot compile: %s\n", path, err);
    return NULL;
  }
  double t1 = test_now();
  sim_kernel *k = sim_load(&r, err, sizeof err);
  cg_result_free(&r);
  if (!k) fprintf(stderr, "%s\n", err);
  printf("%-14s compile %.1f ms, JIT %.1f ms\n", name, (t1 - t0) * 1e3, (test_now() - t1) * 1e3);
  return k;
}

/* Launches k (per_block threads) on `workers` (0 = all cores); prints the figures; 0 on success. */
static int timed(sim_kernel *k, const sim_arg *a, int n, int64_t blocks, int per_block, int workers,
                 int checks) {
  sim_opts o = {.workers = workers, .check_races = checks ? 0 : -1, .check_uninit = checks ? 0 : -1};
  int64_t grid[3] = {blocks, 1, 1};
  char err[512];
  if (sim_run(k, a, n, grid, &o, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  CHECK(o.threads == (uint64_t)blocks * (uint64_t)per_block);
  printf("  %-10s workers=%-3s checks=%-3s %9llu threads %10llu ops %7.3f s %8.2f Mthreads/s %8.2f Mops/s\n",
         sim_kernel_name(k), workers ? "1" : "all", checks ? "on" : "off", (unsigned long long)o.threads,
         (unsigned long long)o.thread_ops, o.seconds, o.threads / o.seconds / 1e6,
         o.thread_ops / o.seconds / 1e6);
  return 0;
}

static float *rand_f32(size_t n) {
  float *p = malloc(n * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = (float)(test_rand() % 20001) / 10000.0f - 1.0f;
  return p;
}

static sim_arg fbuf(float *p, size_t n) {
  return (sim_arg){.is_ptr = 1, .elem = IR_F32, .ptr = p, .bytes = n * 4};
}
static sim_arg i32arg(int64_t v) { return (sim_arg){.elem = IR_I32, .ival = v}; }

/* Runs the four configurations of one kernel, checking the output after each. */
static void sweep(sim_kernel *k, const sim_arg *a, int n, int64_t blocks, int per_block, float *out,
                  size_t nout, int (*ok)(const float *, size_t)) {
  for (int w = 1; w >= 0; w--)
    for (int checks = 1; checks >= 0; checks--) {
      memset(out, 0xff, nout * sizeof *out);
      CHECK(timed(k, a, n, blocks, per_block, w, checks) == 0);
      CHECK(ok(out, nout));
    }
}

static float *gx, *gy;

static int vector_add_ok(const float *z, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (z[i] != gx[i] + gy[i]) return 0;
  return 1;
}

static int exchange_ok(const float *y, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (y[i] != __builtin_fmaf(gx[i], 2.0f, 1.0f)) return 0;
  return 1;
}

int main(void) {
  const int n = 1 << 20;
  gx = rand_f32(n);
  gy = rand_f32(n);
  float *z = malloc(n * sizeof *z);
  sim_kernel *k = load("vector_add");
  CHECK(k != NULL);
  if (k) {
    sim_arg a[4] = {fbuf(gx, n), fbuf(gy, n), fbuf(z, n), i32arg(n)};
    sweep(k, a, 4, n / 256, 128, z, n, vector_add_ok);
    sim_kernel_free(k);
  }
  k = load("empty");
  CHECK(k != NULL);
  if (k) {
    for (int w = 1; w >= 0; w--) CHECK(timed(k, NULL, 0, 4096, 256, w, 1) == 0);
    sim_kernel_free(k);
  }
  k = load("smem_exchange");
  CHECK(k != NULL);
  if (k) {
    sim_arg a[3] = {fbuf(gx, n), fbuf(z, n), i32arg(n)};
    sweep(k, a, 3, n / 512, 64, z, n, exchange_ok);
    sim_kernel_free(k);
  }
  free(gx), free(gy), free(z);
  return test_done("test_sim_speed");
}
