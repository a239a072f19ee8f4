/*
 * test_sim.c - the SIMT simulator on kernels built directly in LLVM IR through the sim device ops
 * (codegen/devops_sim.c), so that it is tested independently of the tile-IR lowering:
 *   - working kernels against C references (fresh random inputs, poisoned outputs, every element):
 *     warp shuffles (xor reduction, up, down, idx), a shared-memory exchange across barriers, special
 *     math, a grid spread over several workers, load once / launch many;
 *   - planted bugs, each asserting its exact one-line report: a race (barrier removed), an
 *     off-by-one global store, a divergent barrier, a read of never-written shared memory, and the
 *     other checks (shared bounds, misalignment, divergent shuffle, mismatched barriers);
 *   - every error path of sim_load / sim_run (module, shape, arguments, grid, JIT failure).
 */
#include <float.h>
#include <llvm-c/Analysis.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codegen/devops.h"
#include "sim/fiber.h"
#include "sim/sim.h"
#include "test.h"

/* ---- kernel building: kb in test.h, and a few more helpers ---- */

static LLVMValueRef cmp(kb *k, LLVMIntPredicate p, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildICmp(k->c.b, p, a, b, "");
}

static LLVMValueRef gid(kb *k) {
  LLVMValueRef b = LLVMBuildMul(k->c.b, kb_sreg(k, CG_CTAID_X), kb_sreg(k, CG_NTID_X), "");
  return kb_add(k, b, kb_sreg(k, CG_TID_X));
}

static LLVMValueRef load(kb *k, cg_space sp, LLVMTypeRef ty, LLVMValueRef p, LLVMValueRef pred,
                         const char *site) {
  k->c.site = site;
  return k->c.ops->load(&k->c, sp, ty, p, pred, NULL);
}

static void store(kb *k, cg_space sp, LLVMValueRef p, LLVMValueRef v, LLVMValueRef pred, const char *site) {
  k->c.site = site;
  k->c.ops->store(&k->c, sp, p, v, pred);
}

static void barrier(kb *k, const char *site) {
  k->c.site = site;
  k->c.ops->barrier(&k->c);
}

static LLVMValueRef shfl(kb *k, cg_shfl m, LLVMValueRef v, LLVMValueRef arg, const char *site) {
  k->c.site = site;
  return k->c.ops->shfl(&k->c, m, v, arg);
}

/* Emits `if (cond) { body(k) }`. */
static void if_then(kb *k, LLVMValueRef cond, void (*body)(kb *, void *), void *arg) {
  LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(k->c.ctx, k->c.fn, "then");
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(k->c.ctx, k->c.fn, "join");
  LLVMBuildCondBr(k->c.b, cond, then, join);
  LLVMPositionBuilderAtEnd(k->c.b, then);
  body(k, arg);
  LLVMBuildBr(k->c.b, join);
  LLVMPositionBuilderAtEnd(k->c.b, join);
}

/* ---- inputs ---- */

static int32_t *rand_ints(size_t n, int range) {
  int32_t *p = malloc(n * sizeof *p + 1);
  for (size_t i = 0; i < n; i++) p[i] = (int32_t)(test_rand() % (unsigned)range) - range / 2;
  return p;
}

static int32_t *poisoned(size_t n) {
  int32_t *p = malloc(n * sizeof *p + 1);
  memset(p, 0xa5, n * sizeof *p);
  return p;
}

static sim_arg buf(void *p, size_t bytes) {
  return (sim_arg){.is_ptr = 1, .elem = IR_I32, .ptr = p, .bytes = bytes};
}
static sim_arg i32arg(int64_t v) { return (sim_arg){.elem = IR_I32, .ival = v}; }

static int run(cg_result *r, const sim_arg *a, int n, int64_t gx, sim_opts *o, char *err) {
  int64_t grid[3] = {gx, 1, 1};
  int rc = sim_launch(r, a, n, grid, o, err, 512);
  cg_result_free(r);
  return rc;
}

/* ---- shuffles ---- */

/* x -> sum per warp (xor tree), up by 3, down by 5, idx (lane*7+3)&31; lanes >= n hold 0. */
static cg_result k_shuffles(void) {
  kb k;
  const char *names[] = {"x", "sum", "up", "down", "idx", "n"};
  kb_begin(&k, "shuffles", "pppppi", names, 128, 0);
  LLVMValueRef g = gid(&k), in = cmp(&k, LLVMIntSLT, g, kb_param(&k, 5));
  LLVMValueRef x = load(&k, CG_GLOBAL, k.i32, kb_at(&k, kb_param(&k, 0), g), in, "load x (shuffles.ll:1)");
  LLVMValueRef s = x;
  for (int off = 16; off >= 1; off /= 2)
    s = kb_add(&k, s, shfl(&k, CG_SHFL_XOR, s, kb_int(&k, off), "shfl.bfly (shuffles.ll:2)"));
  LLVMValueRef lane = kb_sreg(&k, CG_LANEID);
  LLVMValueRef w = LLVMBuildLShr(k.c.b, g, kb_int(&k, 5), "");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 1), w), s, cmp(&k, LLVMIntEQ, lane, kb_int(&k, 0)),
        "store sum (shuffles.ll:3)");
  LLVMValueRef up = shfl(&k, CG_SHFL_UP, x, kb_int(&k, 3), "shfl.up (shuffles.ll:4)");
  LLVMValueRef dn = shfl(&k, CG_SHFL_DOWN, x, kb_int(&k, 5), "shfl.down (shuffles.ll:5)");
  LLVMValueRef src = LLVMBuildAnd(
      k.c.b, kb_add(&k, LLVMBuildMul(k.c.b, lane, kb_int(&k, 7), ""), kb_int(&k, 3)), kb_int(&k, 31), "");
  LLVMValueRef ix = shfl(&k, CG_SHFL_IDX, x, src, "shfl.idx (shuffles.ll:6)");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 2), g), up, in, "store up");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 3), g), dn, in, "store down");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 4), g), ix, in, "store idx");
  return kb_end(&k);
}

static void test_shuffles(void) {
  const int blocks = 9, n = blocks * 128 - 37,
            nw = blocks * 4; /* every warp stores its sum, warps past n too (0) */
  int32_t *x = rand_ints((size_t)n, 2000), *sum = poisoned((size_t)nw), *up = poisoned((size_t)n),
          *dn = poisoned((size_t)n), *ix = poisoned((size_t)n);
  cg_result r = k_shuffles();
  sim_arg a[6] = {buf(x, n * 4u),  buf(sum, nw * 4u), buf(up, n * 4u),
                  buf(dn, n * 4u), buf(ix, n * 4u),   i32arg(n)};
  char err[512] = "";
  sim_opts o = {0};
  CHECK(run(&r, a, 6, blocks, &o, err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  CHECK(o.threads == (uint64_t)blocks * 128);
  CHECK(o.thread_ops > (uint64_t)blocks * 128 * 8);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    int lane = i % 32, base = i - lane;
#define XV(j) ((j) < n ? x[(j)] : 0)
    int32_t want_up = lane >= 3 ? XV(i - 3) : x[i];
    int32_t want_dn = lane + 5 < 32 ? XV(i + 5) : x[i];
    int32_t want_ix = XV(base + ((lane * 7 + 3) & 31));
    bad += up[i] != want_up || dn[i] != want_dn || ix[i] != want_ix;
  }
  for (int w = 0; w < nw; w++) {
    int32_t s = 0;
    for (int l = 0; l < 32; l++) s += XV(w * 32 + l);
#undef XV
    bad += sum[w] != s;
  }
  CHECK(bad == 0);
  free(x), free(sum), free(up), free(dn), free(ix);
}

/* ---- shared memory across barriers ---- */

/* y[g] = x[block reverse of g]; z[g] = y of the next thread (second phase, after two more barriers). */
static cg_result k_exchange(int threads) {
  kb k;
  const char *names[] = {"x", "y", "z"};
  kb_begin(&k, "exchange", "ppp", names, threads, threads * 4);
  LLVMValueRef g = gid(&k), t = kb_sreg(&k, CG_TID_X), sm = k.c.ops->shared_base(&k.c);
  LLVMValueRef x = load(&k, CG_GLOBAL, k.i32, kb_at(&k, kb_param(&k, 0), g), NULL, "load x");
  store(&k, CG_SHARED, kb_at(&k, sm, t), x, NULL, "store_shared (exchange.ll:1)");
  barrier(&k, "barrier (exchange.ll:2)");
  LLVMValueRef rev = LLVMBuildSub(k.c.b, kb_int(&k, threads - 1), t, "");
  LLVMValueRef v = load(&k, CG_SHARED, k.i32, kb_at(&k, sm, rev), NULL, "load_shared (exchange.ll:3)");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 1), g), v, NULL, "store y");
  barrier(&k, "barrier (exchange.ll:4)");
  store(&k, CG_SHARED, kb_at(&k, sm, t), v, NULL, "store_shared (exchange.ll:5)");
  barrier(&k, "barrier (exchange.ll:6)");
  LLVMValueRef nx = LLVMBuildURem(k.c.b, kb_add(&k, t, kb_int(&k, 1)), kb_int(&k, threads), "");
  LLVMValueRef w = load(&k, CG_SHARED, k.i32, kb_at(&k, sm, nx), NULL, "load_shared (exchange.ll:7)");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 2), g), w, NULL, "store z");
  return kb_end(&k);
}

static void test_exchange(int workers) {
  const int threads = 256, blocks = 23, n = threads * blocks;
  int32_t *x = rand_ints((size_t)n, 1 << 30), *y = poisoned((size_t)n), *z = poisoned((size_t)n);
  cg_result r = k_exchange(threads);
  sim_arg a[3] = {buf(x, n * 4u), buf(y, n * 4u), buf(z, n * 4u)};
  char err[512] = "";
  sim_opts o = {.workers = workers};
  CHECK(run(&r, a, 3, blocks, &o, err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    int b = i / threads, t = i % threads;
    bad += y[i] != x[b * threads + threads - 1 - t];
    bad += z[i] != y[b * threads + (t + 1) % threads];
  }
  CHECK(bad == 0);
  free(x), free(y), free(z);
}

/* ---- special math ---- */

static cg_result k_math(void) {
  kb k;
  kb_begin(&k, "math", "pppp", NULL, 64, 0);
  LLVMTypeRef f32 = LLVMFloatTypeInContext(k.c.ctx), f64 = LLVMDoubleTypeInContext(k.c.ctx);
  LLVMValueRef g = gid(&k);
  LLVMValueRef xf = load(&k, CG_GLOBAL, f32, kb_at(&k, kb_param(&k, 0), g), NULL, "load xf");
  LLVMValueRef gd = LLVMBuildMul(k.c.b, g, kb_int(&k, 2), ""); /* f64 index as two i32 steps */
  LLVMValueRef xd = load(&k, CG_GLOBAL, f64, kb_at(&k, kb_param(&k, 1), gd), NULL, "load xd");
  for (int m = 0; m < CG_NMATH; m++) {
    LLVMValueRef of = kb_at(&k, kb_param(&k, 2),
                            kb_add(&k, LLVMBuildMul(k.c.b, g, kb_int(&k, CG_NMATH), ""), kb_int(&k, m)));
    store(&k, CG_GLOBAL, of, k.c.ops->math(&k.c, (cg_math)m, xf), NULL, "store f");
    LLVMValueRef od =
        kb_at(&k, kb_param(&k, 3),
              LLVMBuildMul(k.c.b, kb_add(&k, LLVMBuildMul(k.c.b, g, kb_int(&k, CG_NMATH), ""), kb_int(&k, m)),
                           kb_int(&k, 2), ""));
    store(&k, CG_GLOBAL, od, k.c.ops->math(&k.c, (cg_math)m, xd), NULL, "store d");
  }
  return kb_end(&k);
}

static void test_math(void) {
  const int n = 128;
  float *xf = malloc(n * sizeof *xf), *of = malloc(n * CG_NMATH * sizeof *of);
  double *xd = malloc(n * sizeof *xd), *od = malloc(n * CG_NMATH * sizeof *od);
  for (int i = 0; i < n; i++)
    xf[i] = 0.01f + (float)(test_rand() % 100000) / 1000.0f, xd[i] = 0.5 + (test_rand() % 100000) / 997.0;
  xf[0] = -130.0f, xf[1] = -88.5f; /* exp2 and exp of these are subnormal in f32: flushed to 0 (.ftz) */
  memset(of, 0xff, n * CG_NMATH * sizeof *of);
  memset(od, 0xff, n * CG_NMATH * sizeof *od);
  cg_result r = k_math();
  sim_arg a[4] = {{.is_ptr = 1, .elem = IR_F32, .ptr = xf, .bytes = n * sizeof *xf},
                  {.is_ptr = 1, .elem = IR_F64, .ptr = xd, .bytes = n * sizeof *xd},
                  {.is_ptr = 1, .elem = IR_F32, .ptr = of, .bytes = n * CG_NMATH * sizeof *of},
                  {.is_ptr = 1, .elem = IR_F64, .ptr = od, .bytes = n * CG_NMATH * sizeof *od}};
  char err[512] = "";
  CHECK(run(&r, a, 4, 2, NULL, err) == 0);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    float f = xf[i];
    double d = xd[i];
    float e2 = exp2f(f), e = expf(f);
    if (fabsf(e2) < FLT_MIN) e2 = 0;
    if (fabsf(e) < FLT_MIN) e = 0;
    float wf[CG_NMATH] = {[CG_EXP2] = e2,     [CG_LOG2] = log2f(f), [CG_EXP] = e,
                          [CG_LOG] = logf(f), [CG_SQRT] = sqrtf(f), [CG_RSQRT] = 1.0f / sqrtf(f)};
    double wd[CG_NMATH] = {[CG_EXP2] = exp2(d), [CG_LOG2] = log2(d), [CG_EXP] = exp(d),
                           [CG_LOG] = log(d),   [CG_SQRT] = sqrt(d), [CG_RSQRT] = 1.0 / sqrt(d)};
    for (int m = 0; m < CG_NMATH; m++) {
      bad += memcmp(&of[i * CG_NMATH + m], &wf[m], sizeof(float)) != 0;
      bad += memcmp(&od[i * CG_NMATH + m], &wd[m], sizeof(double)) != 0;
    }
  }
  CHECK(bad == 0);
  free(xf), free(of), free(xd), free(od);
}

/* ---- load once, launch many; scalar parameter kinds ---- */

/* y[g] = x[g] * a + (int)(f * 2) + (int)d + (int)l */
static cg_result k_axpy(void) {
  kb k;
  kb_begin(&k, "axpy", "ppifd", NULL, 32, 0);
  LLVMValueRef g = gid(&k);
  LLVMValueRef x = load(&k, CG_GLOBAL, k.i32, kb_at(&k, kb_param(&k, 0), g), NULL, "load x");
  LLVMValueRef v = LLVMBuildMul(k.c.b, x, kb_param(&k, 2), "");
  LLVMValueRef f2 =
      LLVMBuildFMul(k.c.b, kb_param(&k, 3), LLVMConstReal(LLVMFloatTypeInContext(k.c.ctx), 2.0), "");
  v = kb_add(&k, v, LLVMBuildFPToSI(k.c.b, f2, k.i32, ""));
  v = kb_add(&k, v, LLVMBuildFPToSI(k.c.b, kb_param(&k, 4), k.i32, ""));
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 1), g), v, NULL, "store y");
  return kb_end(&k);
}

static void test_load_once(void) {
  cg_result r = k_axpy();
  char err[512] = "";
  sim_kernel *sk = sim_load(&r, err, sizeof err);
  CHECK(sk && r.llvm_mod == NULL && r.llvm_ctx == NULL);
  cg_result_free(&r);
  if (!sk) return;
  CHECK(!strcmp(sim_kernel_name(sk), "axpy"));
  for (int rep = 0; rep < 3; rep++) {
    const int n = 32 * (rep + 2);
    int32_t *x = rand_ints((size_t)n, 1000), *y = poisoned((size_t)n);
    int av = (int)(test_rand() % 50) - 25;
    sim_arg a[5] = {buf(x, n * 4u),
                    buf(y, n * 4u),
                    i32arg(av),
                    {.elem = IR_F32, .fval = 3.25 + rep},
                    {.elem = IR_F64, .fval = -7.5 * rep}};
    int64_t grid[3] = {rep + 2, 1, 1};
    CHECK(sim_run(sk, a, 5, grid, NULL, err, sizeof err) == 0);
    int bad = 0;
    for (int i = 0; i < n; i++)
      bad += y[i] != x[i] * av + (int)((float)(3.25 + rep) * 2.0f) + (int)(-7.5 * rep);
    CHECK(bad == 0);
    free(x), free(y);
  }
  sim_kernel_free(sk);
}

/* ---- planted bugs ---- */

static void shift_body(kb *k, void *arg) {
  (void)arg;
  barrier(k, "barrier (shift.ll:2)");
}

/* y[g] = tid > 0 ? shared[tid - 1] : 0 after each thread stored x into shared[tid]. */
static cg_result k_shift(int with_barrier) {
  kb k;
  const char *names[] = {"x", "y"};
  kb_begin(&k, "shift", "pp", names, 64, 64 * 4);
  LLVMValueRef g = gid(&k), t = kb_sreg(&k, CG_TID_X), sm = k.c.ops->shared_base(&k.c);
  LLVMValueRef x = load(&k, CG_GLOBAL, k.i32, kb_at(&k, kb_param(&k, 0), g), NULL, "load x");
  store(&k, CG_SHARED, kb_at(&k, sm, t), x, NULL, "store_shared %3 (shift.lua:1)");
  if (with_barrier) shift_body(&k, NULL);
  LLVMValueRef prev = LLVMBuildSub(k.c.b, t, kb_int(&k, 1), "");
  LLVMValueRef v = load(&k, CG_SHARED, k.i32, kb_at(&k, sm, prev), cmp(&k, LLVMIntSGT, t, kb_int(&k, 0)),
                        "load_shared %5 (shift.lua:3)");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 1), g), v, NULL, "store y");
  return kb_end(&k);
}

static void test_shift_and_race(void) {
  const int n = 64 * 5;
  int32_t *x = rand_ints((size_t)n, 1000), *y = poisoned((size_t)n);
  sim_arg a[2] = {buf(x, n * 4u), buf(y, n * 4u)};
  char err[512] = "";
  cg_result r = k_shift(1);
  CHECK(run(&r, a, 2, 5, NULL, err) == 0);
  int bad = 0;
  for (int i = 0; i < n; i++) bad += y[i] != (i % 64 ? x[i - 1] : 0);
  CHECK(bad == 0);
  /* the barrier removed: every block races; the report is block 0's whatever the workers */
  for (int workers = 1; workers <= 3; workers++) {
    r = k_shift(0);
    sim_opts o = {.workers = workers};
    CHECK(run(&r, a, 2, 5, &o, err) == -1);
    CHECK_STR(
        err, "sim: race in kernel shift, block (0,0,0): thread 0 writes shared[0x0..0x4) at 'store_shared %3 "
             "(shift.lua:1)', thread 1 read it at 'load_shared %5 (shift.lua:3)' with no barrier between");
  }
  /* race checks off: no report */
  r = k_shift(0);
  sim_opts off = {.check_races = -1};
  CHECK(run(&r, a, 2, 5, &off, err) == 0);
  free(x), free(y);
}

/* The exchange without its first barrier, uninitialised-read check off: thread 128 reads slot 127. */
static void test_race_war(void) {
  const int threads = 256;
  kb k;
  kb_begin(&k, "reverse", "pp", NULL, threads, threads * 4);
  LLVMValueRef g = gid(&k), t = kb_sreg(&k, CG_TID_X), sm = k.c.ops->shared_base(&k.c);
  LLVMValueRef xv = load(&k, CG_GLOBAL, k.i32, kb_at(&k, kb_param(&k, 0), g), NULL, "load x");
  store(&k, CG_SHARED, kb_at(&k, sm, t), xv, NULL, "store_shared (reverse.ll:1)");
  LLVMValueRef rev = LLVMBuildSub(k.c.b, kb_int(&k, threads - 1), t, "");
  LLVMValueRef v = load(&k, CG_SHARED, k.i32, kb_at(&k, sm, rev), NULL, "load_shared (reverse.ll:3)");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 1), g), v, NULL, "store y");
  cg_result r = kb_end(&k);
  int32_t *x = rand_ints(threads, 100), *y = poisoned(threads);
  sim_arg a[2] = {buf(x, threads * 4u), buf(y, threads * 4u)};
  sim_opts o = {.check_uninit = -1};
  char err[512] = "";
  CHECK(run(&r, a, 2, 1, &o, err) == -1);
  /* thread 127 reads slot 128 (not written yet: no report with the check off), then thread 128 writes it */
  CHECK_STR(
      err,
      "sim: race in kernel reverse, block (0,0,0): thread 127 reads shared[0x200..0x204) at "
      "'load_shared (reverse.ll:3)', thread 128 wrote it at 'store_shared (reverse.ll:1)' with no barrier "
      "between");
  /* write after read: thread 0 read slot 255 before thread 255 wrote it (uninit check off) */
  kb_begin(&k, "war", "p", NULL, 64, 64 * 4);
  sm = k.c.ops->shared_base(&k.c);
  t = kb_sreg(&k, CG_TID_X);
  load(&k, CG_SHARED, k.i32, kb_at(&k, sm, kb_int(&k, 63)), cmp(&k, LLVMIntEQ, t, kb_int(&k, 0)),
       "load_shared (war.ll:1)");
  store(&k, CG_SHARED, kb_at(&k, sm, t), t, NULL, "store_shared (war.ll:2)");
  r = kb_end(&k);
  CHECK(run(&r, a, 1, 1, &o, err) == -1);
  CHECK_STR(err, "sim: race in kernel war, block (0,0,0): thread 0 reads shared[0xfc..0x100) at 'load_shared "
                 "(war.ll:1)', thread 63 wrote it at 'store_shared (war.ll:2)' with no barrier between");
  free(x), free(y);
}

/* Off by one: the store's mask is g <= n instead of g < n. */
static void test_oob_global(void) {
  kb k;
  const char *names[] = {"x", "y", "n"};
  kb_begin(&k, "oob", "ppi", names, 128, 0);
  LLVMValueRef g = gid(&k);
  LLVMValueRef xv = load(&k, CG_GLOBAL, k.i32, kb_at(&k, kb_param(&k, 0), g),
                         cmp(&k, LLVMIntSLT, g, kb_param(&k, 2)), "load x");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 1), g), xv, cmp(&k, LLVMIntSLE, g, kb_param(&k, 2)),
        "store %7 (oob.lua:9)");
  cg_result r = kb_end(&k);
  const int n = 3 * 128 - 5;
  int32_t *x = rand_ints((size_t)n, 100), *y = poisoned((size_t)n);
  sim_arg a[3] = {buf(x, n * 4u), buf(y, n * 4u), i32arg(n)};
  char err[512] = "", want[512];
  CHECK(run(&r, a, 3, 3, NULL, err) == -1);
  snprintf(
      want, sizeof want,
      "sim: out-of-bounds global write in kernel oob, block (2,0,0): thread 123 writes global[%p..%p) at "
      "'store %%7 (oob.lua:9)', 0 bytes past the end of 'y' (arg 1, %d bytes at %p)",
      (void *)(y + n), (void *)(y + n + 1), n * 4, (void *)y);
  CHECK_STR(err, want);
  free(x), free(y);
}

static void half_barrier(kb *k, void *arg) { barrier(k, (const char *)arg); }

/* Threads 0..15 wait at a barrier the others never reach. */
static void test_divergent_barrier(void) {
  kb k;
  kb_begin(&k, "divbar", "", NULL, 64, 0);
  if_then(&k, cmp(&k, LLVMIntSLT, kb_sreg(&k, CG_TID_X), kb_int(&k, 16)), half_barrier,
          "barrier (divbar.lua:4)");
  cg_result r = kb_end(&k);
  char err[512] = "";
  CHECK(run(&r, NULL, 0, 2, NULL, err) == -1);
  CHECK_STR(err, "sim: divergent barrier in kernel divbar, block (0,0,0): threads 0..15 wait at 'barrier "
                 "(divbar.lua:4)', threads 16..63 exited without reaching it");
  /* two different barriers */
  kb_begin(&k, "twobar", "", NULL, 64, 0);
  LLVMValueRef c =
      cmp(&k, LLVMIntEQ, LLVMBuildAnd(k.c.b, kb_sreg(&k, CG_TID_X), kb_int(&k, 1), ""), kb_int(&k, 0));
  LLVMBasicBlockRef a = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "a");
  LLVMBasicBlockRef b = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "b");
  LLVMBasicBlockRef j = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "j");
  LLVMBuildCondBr(k.c.b, c, a, b);
  LLVMPositionBuilderAtEnd(k.c.b, a);
  barrier(&k, "barrier A");
  LLVMBuildBr(k.c.b, j);
  LLVMPositionBuilderAtEnd(k.c.b, b);
  barrier(&k, "barrier B");
  LLVMBuildBr(k.c.b, j);
  LLVMPositionBuilderAtEnd(k.c.b, j);
  r = kb_end(&k);
  CHECK(run(&r, NULL, 0, 1, NULL, err) == -1);
  CHECK_STR(
      err, "sim: divergent barrier in kernel twobar, block (0,0,0): threads 0,2,4,6,... (32 threads) wait at "
           "'barrier A', threads 1,3,5,7,... (32 threads) at 'barrier B'");
}

/* 96 threads: the last warp leaves at once (a warp_split's producer that is done); threads 0..63
 * write shared[t], meet at named barrier 1 of `count` threads (the consumers' bar.sync 1, 64), and
 * thread t reads slot 63 - t. `site2`: threads 32..63 wait at a barrier of another site. */
static cg_result k_named(int count, const char *site2) {
  kb k;
  kb_begin(&k, "named", "pp", NULL, 96, 64 * 4);
  LLVMValueRef g = gid(&k), t = kb_sreg(&k, CG_TID_X), sm = k.c.ops->shared_base(&k.c);
  LLVMBasicBlockRef work = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "work");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "done");
  LLVMBuildCondBr(k.c.b, cmp(&k, LLVMIntULT, t, kb_int(&k, 64)), work, done);
  LLVMPositionBuilderAtEnd(k.c.b, work);
  LLVMValueRef x = load(&k, CG_GLOBAL, k.i32, kb_at(&k, kb_param(&k, 0), g), NULL, "load x");
  store(&k, CG_SHARED, kb_at(&k, sm, t), x, NULL, "store_shared (named.lua:2)");
  k.c.bar_threads = count;
  if (site2) {
    LLVMBasicBlockRef a = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "a");
    LLVMBasicBlockRef b = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "b");
    LLVMBasicBlockRef j = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "j");
    LLVMBuildCondBr(k.c.b, cmp(&k, LLVMIntULT, t, kb_int(&k, 32)), a, b);
    LLVMPositionBuilderAtEnd(k.c.b, a);
    barrier(&k, "barrier (named.lua:3)");
    LLVMBuildBr(k.c.b, j);
    LLVMPositionBuilderAtEnd(k.c.b, b);
    barrier(&k, site2);
    LLVMBuildBr(k.c.b, j);
    LLVMPositionBuilderAtEnd(k.c.b, j);
  } else {
    barrier(&k, "barrier (named.lua:3)");
  }
  k.c.bar_threads = 0;
  LLVMValueRef rev = LLVMBuildSub(k.c.b, kb_int(&k, 63), t, "");
  LLVMValueRef v = load(&k, CG_SHARED, k.i32, kb_at(&k, sm, rev), NULL, "load_shared (named.lua:4)");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 1), g), v, NULL, "store y");
  LLVMBuildBr(k.c.b, done);
  LLVMPositionBuilderAtEnd(k.c.b, done);
  return kb_end(&k);
}

static void test_named_barrier(void) {
  const int n = 96 * 3;
  int32_t *x = rand_ints((size_t)n, 1000), *y = poisoned((size_t)n);
  sim_arg a[2] = {buf(x, n * 4u), buf(y, n * 4u)};
  char err[512] = "";
  cg_result r = k_named(64, NULL);
  CHECK(run(&r, a, 2, 3, NULL, err) == 0);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    int b = i / 96, t = i % 96;
    bad += t < 64 ? y[i] != x[b * 96 + 63 - t] : y[i] != (int32_t)0xa5a5a5a5; /* untouched */
  }
  CHECK(bad == 0);
  /* a count the exited warp was meant to fill */
  r = k_named(96, NULL);
  CHECK(run(&r, a, 2, 3, NULL, err) == -1);
  CHECK_STR(err, "sim: divergent barrier in kernel named, block (0,0,0): threads 0..63 wait at 'barrier "
                 "(named.lua:3)' (named barrier 1), threads 64..95 exited without reaching it");
  /* a count that is not whole warps */
  r = k_named(40, NULL);
  CHECK(run(&r, a, 2, 3, NULL, err) == -1);
  CHECK_STR(err,
            "sim: bad barrier in kernel named, block (0,0,0): bar.sync 1, 40 at 'barrier (named.lua:3)': "
            "the id must be 1..15 and the count a multiple of 32 up to the block's 96 threads");
  /* the two halves at different barriers */
  r = k_named(64, "barrier (named.lua:9)");
  CHECK(run(&r, a, 2, 3, NULL, err) == -1);
  CHECK_STR(err, "sim: divergent barrier in kernel named, block (0,0,0): threads 0..31 wait at 'barrier "
                 "(named.lua:3)', threads 32..63 at 'barrier (named.lua:9)'");
  free(x), free(y);
}

/* bar.arrive (ping-pong's turns, codegen/lower_dot_wgmma.c): 64 threads; warp 1 writes shared[t],
 * arrives at named barrier `id` of 64 threads without waiting (`arrive` 0: it does not) and exits;
 * warp 0 waits at barrier 2 and copies slot 32 + lane out (ordered after warp 1's writes, no race). */
static cg_result k_signal(int arrive, int id) {
  kb k;
  kb_begin(&k, "signal", "pp", NULL, 64, 64 * 4);
  LLVMValueRef g = gid(&k), t = kb_sreg(&k, CG_TID_X), sm = k.c.ops->shared_base(&k.c);
  LLVMBasicBlockRef w1 = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "w1");
  LLVMBasicBlockRef w0 = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "w0");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "done");
  LLVMBuildCondBr(k.c.b, cmp(&k, LLVMIntUGE, t, kb_int(&k, 32)), w1, w0);
  LLVMPositionBuilderAtEnd(k.c.b, w1);
  LLVMValueRef x = load(&k, CG_GLOBAL, k.i32, kb_at(&k, kb_param(&k, 0), g), NULL, "load x");
  store(&k, CG_SHARED, kb_at(&k, sm, t), x, NULL, "store_shared (signal.lua:2)");
  k.c.site = "bar.arrive (signal.lua:3)";
  if (arrive) k.c.ops->named_barrier(&k.c, kb_int(&k, id), 64, 1);
  LLVMBuildBr(k.c.b, done);
  LLVMPositionBuilderAtEnd(k.c.b, w0);
  k.c.site = "bar.sync (signal.lua:4)";
  k.c.ops->named_barrier(&k.c, kb_int(&k, 2), 64, 0);
  LLVMValueRef v = load(&k, CG_SHARED, k.i32, kb_at(&k, sm, kb_add(&k, t, kb_int(&k, 32))), NULL,
                        "load_shared (signal.lua:5)");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 1), g), v, NULL, "store y");
  LLVMBuildBr(k.c.b, done);
  LLVMPositionBuilderAtEnd(k.c.b, done);
  return kb_end(&k);
}

static void test_barrier_arrive(void) {
  const int n = 64 * 3;
  int32_t *x = rand_ints((size_t)n, 1000), *y = poisoned((size_t)n);
  sim_arg a[2] = {buf(x, n * 4u), buf(y, n * 4u)};
  char err[512] = "";
  cg_result r = k_signal(1, 2);
  CHECK(run(&r, a, 2, 3, NULL, err) == 0, "%s", err);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    int b = i / 64, t = i % 64;
    bad += t < 32 ? y[i] != x[b * 64 + 32 + t] : y[i] != (int32_t)0xa5a5a5a5; /* untouched */
  }
  CHECK(bad == 0);
  /* no arrive: warp 0 waits for threads that exited */
  r = k_signal(0, 2);
  CHECK(run(&r, a, 2, 3, NULL, err) == -1);
  CHECK_STR(err, "sim: divergent barrier in kernel signal, block (0,0,0): threads 0..31 wait at 'bar.sync "
                 "(signal.lua:4)' (named barrier 2), threads 32..63 exited without reaching it");
  /* an arrive at another barrier: the same wait never completes */
  r = k_signal(1, 3);
  CHECK(run(&r, a, 2, 3, NULL, err) == -1);
  CHECK_CONTAINS(err, "threads 0..31 wait at 'bar.sync (signal.lua:4)' (named barrier 2)");
  /* a bad id */
  r = k_signal(1, 16);
  CHECK(run(&r, a, 2, 3, NULL, err) == -1);
  CHECK_STR(err, "sim: bad barrier in kernel signal, block (0,0,0): bar.arrive 16, 64 at 'bar.arrive "
                 "(signal.lua:3)': the id must be 1..15 and the count a multiple of 32 up to the block's 64 "
                 "threads");
  free(x), free(y);
}

/* Each thread writes shared[tid]; after the barrier thread t reads shared[t + 32]: 32..63 read 64.. */
static cg_result k_uninit(void) {
  kb k;
  kb_begin(&k, "uninit", "p", NULL, 64, 2 * 64 * 4);
  LLVMValueRef t = kb_sreg(&k, CG_TID_X), sm = k.c.ops->shared_base(&k.c);
  store(&k, CG_SHARED, kb_at(&k, sm, t), t, NULL, "store_shared %2 (uninit.lua:2)");
  barrier(&k, "barrier");
  LLVMValueRef v = load(&k, CG_SHARED, k.i32, kb_at(&k, sm, kb_add(&k, t, kb_int(&k, 32))), NULL,
                        "load_shared %4 (uninit.lua:4)");
  store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 0), t), v, NULL, "store");
  return kb_end(&k);
}

static void test_uninit(void) {
  cg_result r = k_uninit();
  int32_t *y = poisoned(64);
  sim_arg a[1] = {buf(y, 64 * 4)};
  char err[512] = "";
  CHECK(run(&r, a, 1, 1, NULL, err) == -1);
  CHECK_STR(
      err,
      "sim: uninitialised shared read in kernel uninit, block (0,0,0): thread 32 reads shared[0x100..0x104) "
      "at 'load_shared %4 (uninit.lua:4)', never written in this block");
  /* the check off: threads 32..63 read the poison (0xff bytes) the block started with */
  r = k_uninit();
  sim_opts o = {.check_uninit = -1};
  CHECK(run(&r, a, 1, 1, &o, err) == 0);
  int bad = 0;
  for (int t = 0; t < 64; t++) bad += y[t] != (t < 32 ? t + 32 : -1);
  CHECK(bad == 0);
  free(y);
}

/* Shared bounds and alignment; global misalignment; masked lanes skip the checks. */
static void test_bounds_and_alignment(void) {
  char err[512] = "";
  kb k;
  kb_begin(&k, "smem_oob", "", NULL, 64, 64 * 4);
  LLVMValueRef t = kb_sreg(&k, CG_TID_X), sm = k.c.ops->shared_base(&k.c);
  store(&k, CG_SHARED, kb_at(&k, sm, kb_add(&k, t, kb_int(&k, 1))), t, NULL, "store_shared (smem.ll:1)");
  cg_result r = kb_end(&k);
  CHECK(run(&r, NULL, 0, 1, NULL, err) == -1);
  CHECK_STR(
      err,
      "sim: out-of-bounds shared write in kernel smem_oob, block (0,0,0): thread 63 writes "
      "shared[0x100..0x104) at 'store_shared (smem.ll:1)', outside the launch's 256 bytes of shared memory");
  kb_begin(&k, "smem_neg", "", NULL, 32, 64);
  t = kb_sreg(&k, CG_TID_X), sm = k.c.ops->shared_base(&k.c);
  load(&k, CG_SHARED, k.i32, kb_at(&k, sm, kb_int(&k, -2)), NULL, "load_shared (neg.ll:1)");
  r = kb_end(&k);
  CHECK(run(&r, NULL, 0, 1, NULL, err) == -1);
  CHECK_STR(err,
            "sim: out-of-bounds shared read in kernel smem_neg, block (0,0,0): thread 0 reads "
            "shared[-0x8..-0x4) at 'load_shared (neg.ll:1)', outside the launch's 64 bytes of shared memory");
  /* misaligned global load: 4 bytes at x + 2 */
  kb_begin(&k, "misaligned", "p", NULL, 32, 0);
  LLVMValueRef two = LLVMConstInt(LLVMInt64TypeInContext(k.c.ctx), 2, 0);
  LLVMValueRef p = LLVMBuildGEP2(k.c.b, LLVMInt8TypeInContext(k.c.ctx), kb_param(&k, 0), &two, 1, "");
  load(&k, CG_GLOBAL, k.i32, p, NULL, "load (mis.ll:1)");
  r = kb_end(&k);
  int32_t x[4];
  sim_arg a[1] = {buf(x, sizeof x)};
  CHECK(run(&r, a, 1, 1, NULL, err) == -1);
  char want[512];
  snprintf(want, sizeof want,
           "sim: misaligned global read in kernel misaligned, block (0,0,0): thread 0 reads global[%p..%p) "
           "at 'load "
           "(mis.ll:1)', a 4-byte access needs 4-byte alignment",
           (void *)((char *)x + 2), (void *)((char *)x + 6));
  CHECK_STR(err, want);
  /* masked-off lanes with wild addresses are never checked; a constant-false mask emits nothing */
  kb_begin(&k, "masked", "p", NULL, 64, 16);
  t = kb_sreg(&k, CG_TID_X), sm = k.c.ops->shared_base(&k.c);
  LLVMValueRef wild = kb_at(&k, kb_param(&k, 0), LLVMBuildMul(k.c.b, t, kb_int(&k, 1 << 20), ""));
  LLVMValueRef never = cmp(&k, LLVMIntSLT, t, kb_int(&k, 0));
  load(&k, CG_GLOBAL, k.i32, wild, never, "load wild");
  store(&k, CG_GLOBAL, wild, t, never, "store wild");
  store(&k, CG_SHARED, kb_at(&k, sm, t), t, LLVMConstInt(LLVMInt1TypeInContext(k.c.ctx), 0, 0),
        "store_shared");
  r = kb_end(&k);
  CHECK(run(&r, a, 1, 4, NULL, err) == 0);
}

/* Lanes 0..15 shuffle, 16..31 exit; lanes at a shuffle while another waits at a barrier. */
static void lo_shuffle(kb *k, void *arg) {
  (void)arg;
  shfl(k, CG_SHFL_XOR, kb_sreg(k, CG_TID_X), kb_int(k, 1), "shfl.bfly (half.ll:3)");
}

static void test_divergent_shuffle(void) {
  kb k;
  kb_begin(&k, "halfshfl", "", NULL, 64, 0);
  if_then(&k, cmp(&k, LLVMIntSLT, kb_sreg(&k, CG_LANEID), kb_int(&k, 16)), lo_shuffle, NULL);
  cg_result r = kb_end(&k);
  char err[512] = "";
  CHECK(run(&r, NULL, 0, 1, NULL, err) == -1);
  CHECK_STR(err, "sim: divergent shuffle in kernel halfshfl, block (0,0,0): threads 0..15 wait at 'shfl.bfly "
                 "(half.ll:3)', threads 16..31 exited without reaching it");
  kb_begin(&k, "shflbar", "", NULL, 64, 0);
  LLVMValueRef lo = cmp(&k, LLVMIntNE, kb_sreg(&k, CG_TID_X), kb_int(&k, 5));
  LLVMBasicBlockRef a = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "a");
  LLVMBasicBlockRef b = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "b");
  LLVMBasicBlockRef j = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "j");
  LLVMBuildCondBr(k.c.b, lo, a, b);
  LLVMPositionBuilderAtEnd(k.c.b, a);
  lo_shuffle(&k, NULL);
  LLVMBuildBr(k.c.b, j);
  LLVMPositionBuilderAtEnd(k.c.b, b);
  barrier(&k, "barrier (half.ll:5)");
  LLVMBuildBr(k.c.b, j);
  LLVMPositionBuilderAtEnd(k.c.b, j);
  r = kb_end(&k);
  CHECK(run(&r, NULL, 0, 1, NULL, err) == -1);
  CHECK_STR(err,
            "sim: divergent shuffle in kernel shflbar, block (0,0,0): threads 0..4,6..31 wait at 'shfl.bfly "
            "(half.ll:3)', thread 5 at barrier 'barrier (half.ll:5)'");
}

/* A 1 MiB stack frame overflows the default 256 KiB fiber stack; a bigger stack runs it. */
static cg_result k_big_frame(void) {
  kb k;
  kb_begin(&k, "big_frame", "", NULL, 32, 0);
  LLVMTypeRef arr = LLVMArrayType2(LLVMInt8TypeInContext(k.c.ctx), 1024 * 1024);
  LLVMValueRef a = LLVMBuildAlloca(k.c.b, arr, "big");
  LLVMValueRef st = LLVMBuildStore(k.c.b, LLVMConstInt(LLVMInt8TypeInContext(k.c.ctx), 1, 0), a);
  LLVMSetVolatile(st, 1);
  return kb_end(&k);
}

static void test_stack_overflow(void) {
  char err[512] = "";
  cg_result r = k_big_frame();
  CHECK(run(&r, NULL, 0, 3, NULL, err) == -1);
  CHECK_STR(
      err,
      "sim: stack overflow in kernel big_frame, block (0,0,0): thread 0 overflowed its 262144-byte fiber "
      "stack (KILN_SIM_STACK_KB sets the size)");
  r = k_big_frame();
  sim_opts o = {.stack_bytes = 4 << 20};
  CHECK(run(&r, NULL, 0, 3, &o, err) == 0);
  test_exchange(0); /* and the process goes on simulating */
  /* a fault that is not a stack overflow still ends the process as a fault (child process) */
  pid_t pid = fork();
  if (pid == 0) {
    kb k;
    kb_begin(&k, "wild", "", NULL, 32, 0);
    LLVMValueRef st = LLVMBuildStore(k.c.b, kb_int(&k, 1), LLVMConstNull(k.ptr)); /* bypasses the checker */
    LLVMSetVolatile(st, 1);
    r = kb_end(&k);
    run(&r, NULL, 0, 1, NULL, err);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
}

/* ---- error paths of sim_load and sim_run ---- */

static void test_errors(void) {
  char err[512];
  cg_result r = {0};
  r.kernel_name = strdup("nomod");
  CHECK(sim_load(&r, err, sizeof err) == NULL);
  CHECK_STR(err, "sim: kernel nomod has no LLVM module (compile it for the sim back end)");
  cg_result_free(&r);

  r = k_axpy();
  free(r.kernel_name);
  r.kernel_name = strdup("other");
  CHECK(sim_load(&r, err, sizeof err) == NULL);
  CHECK_STR(err, "sim: kernel other is not defined in its module");
  CHECK(r.llvm_mod == NULL && r.llvm_ctx == NULL);
  cg_result_free(&r);

  r = k_axpy();
  r.threads = 0;
  CHECK(sim_load(&r, err, sizeof err) == NULL);
  CHECK_STR(err, "sim: kernel axpy has 0 threads per block (1..1024 allowed)");
  cg_result_free(&r);

  r = k_axpy();
  r.shared_bytes = 1 << 21;
  CHECK(sim_load(&r, err, sizeof err) == NULL);
  CHECK_STR(err, "sim: kernel axpy asks for 2097152 bytes of shared memory (0..1048576 allowed)");
  cg_result_free(&r);

  /* a call to a function nobody defines fails in the JIT */
  kb k;
  kb_begin(&k, "unresolved", "", NULL, 32, 0);
  LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(k.c.ctx), NULL, 0, 0);
  LLVMBuildCall2(k.c.b, fty, LLVMAddFunction(k.c.mod, "kiln_no_such_function", fty), NULL, 0, "");
  r = kb_end(&k);
  CHECK(sim_load(&r, err, sizeof err) == NULL);
  CHECK(!strncmp(err, "sim: JIT compilation failed for kernel unresolved: ", 51) &&
        strstr(err, "kiln_no_such_function"));
  CHECK(!strchr(err, '\n'));
  cg_result_free(&r);

  r = k_axpy();
  sim_kernel *sk = sim_load(&r, err, sizeof err);
  cg_result_free(&r);
  CHECK(sk != NULL);
  if (!sk) return;
  int32_t x[32], y[32];
  sim_arg good[5] = {buf(x, sizeof x), buf(y, sizeof y), i32arg(1), {.elem = IR_F32}, {.elem = IR_F64}};
  int64_t grid[3] = {1, 1, 1};
  CHECK(sim_run(sk, good, 4, grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err, "sim: kernel axpy takes 5 arguments, the launch passes 4");
  CHECK(sim_run(sk, NULL, 5, grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err, "sim: the launch of kernel axpy passes no argument list");
  sim_arg a[5];
  memcpy(a, good, sizeof a);
  a[0] = i32arg(3);
  CHECK(sim_run(sk, a, 5, grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err, "sim: argument 0 (ptr) of kernel axpy is a buffer, the launch passes a scalar");
  memcpy(a, good, sizeof a);
  a[2] = buf(x, sizeof x);
  CHECK(sim_run(sk, a, 5, grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err, "sim: argument 2 (i32) of kernel axpy is a scalar, the launch passes a buffer");
  memcpy(a, good, sizeof a);
  a[2].elem = IR_I64;
  CHECK(sim_run(sk, a, 5, grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err, "sim: argument 2 (i32) of kernel axpy, the launch passes i64");
  memcpy(a, good, sizeof a);
  a[3].elem = IR_F64;
  CHECK(sim_run(sk, a, 5, grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err, "sim: argument 3 (float) of kernel axpy, the launch passes f64");
  memcpy(a, good, sizeof a);
  a[1] = buf(NULL, 64);
  CHECK(sim_run(sk, a, 5, grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err, "sim: argument 1 (ptr) of kernel axpy: a buffer of 64 bytes at NULL");
  int64_t bad_grid[3] = {1, 0, 1};
  CHECK(sim_run(sk, good, 5, bad_grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err, "sim: grid (1,0,1) of kernel axpy is invalid (x in 1..2^31-1, y and z in 1..65535)");
  int64_t big_grid[3] = {1, 70000, 1};
  CHECK(sim_run(sk, good, 5, big_grid, NULL, err, sizeof err) == -1);
  CHECK(sim_run(sk, good, 5, grid, NULL, err, sizeof err) == 0);
  sim_kernel_free(sk);

  /* a parameter type the simulator cannot carry */
  kb_begin(&k, "widearg", "q", NULL, 32, 0);
  r = kb_end(&k);
  sk = sim_load(&r, err, sizeof err);
  cg_result_free(&r);
  CHECK(sk != NULL);
  if (!sk) return;
  sim_arg wa = {.elem = IR_I64, .ival = 1};
  CHECK(sim_run(sk, &wa, 1, grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err,
            "sim: argument 0 (i128) of kernel widearg has a type the simulator cannot pass (use a buffer, an "
            "integer or a float)");
  sim_kernel_free(sk);
}

/* f16, bf16 (x86-64), e4m3 and e5m2 scalars reach the kernel as their bits, rounded to nearest even. */
static void test_small_float_args(void) {
#if defined(__x86_64__)
  kb k;
  kb_begin(&k, "smallargs", "hbccp", NULL, 32, 0);
  LLVMValueRef bits[4] = {LLVMBuildBitCast(k.c.b, kb_param(&k, 0), LLVMInt16TypeInContext(k.c.ctx), ""),
                          LLVMBuildBitCast(k.c.b, kb_param(&k, 1), LLVMInt16TypeInContext(k.c.ctx), ""),
                          kb_param(&k, 2), kb_param(&k, 3)};
  for (int i = 0; i < 4; i++)
    store(&k, CG_GLOBAL, kb_at(&k, kb_param(&k, 4), kb_int(&k, i)), LLVMBuildZExt(k.c.b, bits[i], k.i32, ""),
          NULL, "store bits");
  cg_result r = kb_end(&k);
  char err[512] = "";
  sim_kernel *sk = sim_load(&r, err, sizeof err);
  cg_result_free(&r);
  CHECK(sk != NULL);
  if (!sk) return;
  static const struct {
    double h, b, e4, e5;
    uint32_t want[4];
  } cases[] = {
      {1.5, -2.0, 0.5, 3.0, {0x3e00, 0xc000, 0x30, 0x42}},
      {65504.0,
       1.00390625,
       1000.0,
       -0.0,
       {0x7bff, 0x3f80, 0x7e, 0x80}}, /* bf16 tie to even; e4m3 saturates */
      {65520.0,
       3.0e38,
       0.001953125,
       60000.0,
       {0x7c00, 0x7f62, 0x01, 0x7b}}, /* f16 overflow; e4m3 subnormal */
      {NAN, -INFINITY, NAN, 1e-6, {0x7e00, 0xff80, 0x7f, 0x00}},
  };
  int64_t grid[3] = {1, 1, 1};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    uint32_t out[4];
    memset(out, 0xff, sizeof out);
    sim_arg a[5] = {{.elem = IR_F16, .fval = cases[c].h},
                    {.elem = IR_BF16, .fval = cases[c].b},
                    {.elem = IR_E4M3, .fval = cases[c].e4},
                    {.elem = IR_E5M2, .fval = cases[c].e5},
                    buf(out, sizeof out)};
    CHECK(sim_run(sk, a, 5, grid, NULL, err, sizeof err) == 0);
    for (int i = 0; i < 4; i++)
      if (out[i] != cases[c].want[i]) {
        fprintf(stderr, "case %zu arg %d: bits 0x%x, want 0x%x\n", c, i, out[i], cases[c].want[i]);
        test_failures++;
      }
  }
  sim_arg wrong[5] = {
      {.elem = IR_F32, .fval = 1}, {.elem = IR_BF16}, {.elem = IR_E4M3}, {.elem = IR_E5M2}, buf(NULL, 0)};
  CHECK(sim_run(sk, wrong, 5, grid, NULL, err, sizeof err) == -1);
  CHECK_STR(err, "sim: argument 0 (half) of kernel smallargs, the launch passes f32");
  wrong[0].elem = IR_F16;
  wrong[2].elem = IR_I8;
  wrong[2].ival = 300;
  CHECK(sim_run(sk, wrong, 5, grid, NULL, err, sizeof err) == -1); /* i8 300 is fine; buffer 4 is empty */
  CHECK(strstr(err, "out-of-bounds global write") != NULL);
  sim_kernel_free(sk);
#endif
}

/* Two host threads launching at once (as a tuner would): each gets its own correct result. */
static void *exchange_thread(void *arg) {
  test_rand_seed(test_seed() ^ (uintptr_t)arg * 0x9e3779b97f4a7c15ull);
  test_exchange(2);
  return NULL;
}

static void test_concurrent_launches(void) {
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    CHECK(pthread_create(&t[i], NULL, exchange_thread, (void *)(uintptr_t)(i + 1)) == 0);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
}

int main(void) {
  test_shuffles();
  test_exchange(1);
  test_exchange(0);
  test_math();
  test_load_once();
  test_shift_and_race();
  test_race_war();
  test_oob_global();
  test_divergent_barrier();
  test_named_barrier();
  test_barrier_arrive();
  test_uninit();
  test_bounds_and_alignment();
  test_divergent_shuffle();
  test_stack_overflow();
  test_errors();
  test_small_float_args();
  test_concurrent_launches();
  return test_done("test_sim");
}
