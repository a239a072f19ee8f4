/*
 * test_sim_ir.c - tile-IR kernels (the .ir files in tests/sim/) through the whole CPU path: ir_parse, the
 * default pass pipeline, cg_compile(CG_SIM) and sim_launch.
 *
 * 1. Working kernels against C computations, with fresh random inputs and poisoned outputs, every
 *    element checked: masked vector add, row max/sum (reductions), shared memory with barriers
 *    (also in a warp_split's consumer region, whose barriers are named), a reduction handed through
 *    shared memory, a gather and a reversed read from shared memory, dot, a loop-carried tile.
 * 2. Planted bugs (race.ir and split_race.ir, oob.ir, uninit.ir, global_race.ir, spin.ir, and
 *    divergent_barrier.ll, which the tile IR cannot express): each file states the report it must produce on
 * an `EXPECT:` line, where `*` stands for any text (addresses differ from run to run). The global races give
 *    the same report on one worker and on several; spin.ir, an endless loop, runs under a small
 *    KILN_SIM_MAX_OPS and an alarm, so that a watchdog that fails ends the test instead of hanging it.
 * 3. Bad KILN_SIM_* values are errors that name the variable, the value and the range.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>

#include "codegen/codegen.h"
#include "compiler/passes/pass.h"
#include "ir/elem_float.h"
#include "ir/file.h"
#include "sim/sim.h"
#include "test.h"

/* tests/sim/NAME.ll (LLVM IR as devops_sim.c emits it, 64 threads per block) -> a kernel. */
static int build_ll(const char *name, cg_result *out) {
  char path[256], *msg = NULL;
  snprintf(path, sizeof path, "tests/sim/%s.ll", name);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef mb;
  LLVMModuleRef mod;
  if (LLVMCreateMemoryBufferWithContentsOfFile(path, &mb, &msg) ||
      LLVMParseIRInContext(ctx, mb, &mod, &msg)) {
    fprintf(stderr, "%s: %s\n", path, msg ? msg : "?");
    LLVMDisposeMessage(msg);
    LLVMContextDispose(ctx);
    return -1;
  }
  memset(out, 0, sizeof *out);
  out->kernel_name = strdup(name);
  out->threads = 64;
  out->llvm_ctx = ctx;
  out->llvm_mod = mod;
  return 0;
}

static int build(const char *name, cg_result *out) { return test_sim_ir_kernel(name, out); }

/* ---- inputs ---- */

static float rndf(void) { return (float)(test_rand() % 2000001) / 1e6f - 1.0f; }

static float *rand_f32(size_t n) {
  float *p = malloc(n * sizeof *p + 1);
  for (size_t i = 0; i < n; i++) p[i] = rndf();
  return p;
}

static void *poisoned(size_t bytes) {
  void *p = malloc(bytes + 1);
  memset(p, 0xff, bytes); /* NaN for f32, -1 for i32 */
  return p;
}

static sim_arg fbuf(float *p, size_t n) {
  return (sim_arg){.is_ptr = 1, .elem = IR_F32, .ptr = p, .bytes = n * 4};
}
static sim_arg ibuf(int32_t *p, size_t n) {
  return (sim_arg){.is_ptr = 1, .elem = IR_I32, .ptr = p, .bytes = n * 4};
}
static sim_arg i32arg(int64_t v) { return (sim_arg){.elem = IR_I32, .ival = v}; }

static int launch_with(const char *name, const sim_arg *a, int n, int64_t gx, sim_opts *o, char *err,
                       size_t errn) {
  cg_result r;
  char path[256];
  snprintf(path, sizeof path, "tests/sim/%s.ll", name);
  if (access(path, R_OK) == 0 ? build_ll(name, &r) : build(name, &r)) return -2;
  int64_t grid[3] = {gx, 1, 1};
  int rc = sim_launch(&r, a, n, grid, o, err, errn);
  cg_result_free(&r);
  return rc;
}

static int launch(const char *name, const sim_arg *a, int n, int64_t gx, char *err, size_t errn) {
  return launch_with(name, a, n, gx, NULL, err, errn);
}

static int close_to(double got, double want, double tol) {
  return fabs(got - want) <= tol * (1 + fabs(want));
}

/* ---- 1. working kernels ---- */

static void test_vector_add(void) {
  int n = 1 + (int)(test_rand() % 3000);
  float *x = rand_f32((size_t)n), *y = rand_f32((size_t)n), *z = poisoned((size_t)n * 4);
  sim_arg a[4] = {fbuf(x, n), fbuf(y, n), fbuf(z, n), i32arg(n)};
  char err[512] = "";
  CHECK(launch("vector_add", a, 4, (n + 255) / 256, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int i = 0; i < n; i++) bad += z[i] != x[i] + y[i];
  CHECK(bad == 0);
  free(x), free(y), free(z);
}

static void test_rowstats(void) {
  int m = 1 + (int)(test_rand() % 70), n = 1 + (int)(test_rand() % 64);
  float *x = rand_f32((size_t)m * n), *mx = poisoned((size_t)m * 4), *sum = poisoned((size_t)m * 4);
  sim_arg a[5] = {fbuf(x, (size_t)m * n), fbuf(mx, m), fbuf(sum, m), i32arg(m), i32arg(n)};
  char err[512] = "";
  CHECK(launch("rowstats", a, 5, (m + 15) / 16, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int r = 0; r < m; r++) {
    float wm = -INFINITY;
    double ws = 0;
    for (int c = 0; c < n; c++) wm = fmaxf(wm, x[r * n + c]), ws += x[r * n + c];
    bad += mx[r] != wm || !close_to(sum[r], ws, 1e-5);
  }
  CHECK(bad == 0);
  free(x), free(mx), free(sum);
}

static void test_smem_exchange_in(const char *name) {
  int n = 1 + (int)(test_rand() % 2500);
  float *x = rand_f32((size_t)n), *y = poisoned((size_t)n * 4);
  sim_arg a[3] = {fbuf(x, n), fbuf(y, n), i32arg(n)};
  char err[512] = "";
  CHECK(launch(name, a, 3, (n + 511) / 512, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int i = 0; i < n; i++) bad += y[i] != fmaf(x[i], 2.0f, 1.0f);
  CHECK(bad == 0);
  free(x), free(y);
}

/* gather.ir: y[r, c] = x[ir[r, c] mod 32, ic[r, c] mod 16] with random indices, negative and large
 * ones included (the op takes them modulo the buffer's dims). */
static void test_gather(void) {
  float *x = rand_f32(512), *y = poisoned(512 * 4);
  int32_t ir[512], ic[512];
  for (int i = 0; i < 512; i++) {
    ir[i] = (int32_t)(test_rand() % 200) - 100;
    ic[i] = (int32_t)(test_rand() % 2000001) - 1000000;
  }
  sim_arg a[4] = {fbuf(x, 512), ibuf(ir, 512), ibuf(ic, 512), fbuf(y, 512)};
  char err[512] = "";
  CHECK(launch("gather", a, 4, 1, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int i = 0; i < 512; i++) bad += y[i] != x[(ir[i] & 31) * 16 + (ic[i] & 15)];
  CHECK(bad == 0);
  free(x), free(y);
}

/* reverse.ir: y[r, c] = x[31 - r, 15 - c] (f32), yh[r, c] = xh[15 - r, 63 - c] (f16, finite bit
 * patterns compared bit for bit) and yb[i] = xb[255 - i] (u8, rank 1). */
static void test_reverse(void) {
  float *x = rand_f32(512), *y = poisoned(512 * 4);
  uint16_t *xh = malloc(1024 * 2), *yh = poisoned(1024 * 2);
  uint8_t xb[256], *yb = poisoned(256);
  for (int i = 0; i < 1024; i++) xh[i] = (uint16_t)((test_rand() % 0x7c00) | (test_rand() % 2 ? 0x8000 : 0));
  for (int i = 0; i < 256; i++) xb[i] = (uint8_t)test_rand();
  sim_arg a[6] = {fbuf(x, 512),
                  fbuf(y, 512),
                  {.is_ptr = 1, .elem = IR_F16, .ptr = xh, .bytes = 2048},
                  {.is_ptr = 1, .elem = IR_F16, .ptr = yh, .bytes = 2048},
                  {.is_ptr = 1, .elem = IR_U8, .ptr = xb, .bytes = 256},
                  {.is_ptr = 1, .elem = IR_U8, .ptr = yb, .bytes = 256}};
  char err[512] = "";
  CHECK(launch("reverse", a, 6, 1, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int r = 0; r < 32; r++)
    for (int c = 0; c < 16; c++) bad += y[r * 16 + c] != x[(31 - r) * 16 + 15 - c];
  for (int r = 0; r < 16; r++)
    for (int c = 0; c < 64; c++) bad += yh[r * 64 + c] != xh[(15 - r) * 64 + 63 - c];
  for (int i = 0; i < 256; i++) bad += yb[i] != xb[255 - i];
  CHECK(bad == 0);
  free(x), free(y), free(xh), free(yh), free(yb);
}

static void test_smem_rowsum(void) {
  int m = 1 + (int)(test_rand() % 100);
  float *x = rand_f32((size_t)m * 16), *y = poisoned((size_t)m * 4);
  sim_arg a[3] = {fbuf(x, (size_t)m * 16), fbuf(y, m), i32arg(m)};
  char err[512] = "";
  CHECK(launch("smem_rowsum", a, 3, (m + 15) / 16, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int r = 0; r < m; r++) {
    double s = 0;
    for (int c = 0; c < 16; c++) s += x[r * 16 + c];
    bad += !close_to(y[r], s, 1e-5);
  }
  CHECK(bad == 0);
  free(x), free(y);
}

static void test_matmul(void) {
  float *a = rand_f32(32 * 16), *b = rand_f32(16 * 32), *c = poisoned(32 * 32 * 4);
  sim_arg args[3] = {fbuf(a, 32 * 16), fbuf(b, 16 * 32), fbuf(c, 32 * 32)};
  char err[512] = "";
  CHECK(launch("matmul", args, 3, 1, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int i = 0; i < 32; i++)
    for (int j = 0; j < 32; j++) {
      double s = 0;
      for (int k = 0; k < 16; k++) s += (double)a[i * 16 + k] * b[k * 32 + j];
      bad += !close_to(c[i * 32 + j], s, 1e-5);
    }
  CHECK(bad == 0);
  free(a), free(b), free(c);
}

/* dot_reverse.ir: c = a . rev(b) in f16 on the matrix instructions, B read reversed from shared
 * memory in the operand layout; inputs are f16 values (exact in double), sums within 1e-5. */
static void test_dot_reverse(void) {
  uint16_t a[32 * 16], b[16 * 32];
  double ad[32 * 16], bd[16 * 32];
  for (int i = 0; i < 32 * 16; i++) a[i] = ir_f16_from_double(rndf()), ad[i] = ir_f16_to_double(a[i]);
  for (int i = 0; i < 16 * 32; i++) b[i] = ir_f16_from_double(rndf()), bd[i] = ir_f16_to_double(b[i]);
  float *c = poisoned(32 * 32 * 4);
  sim_arg args[3] = {{.is_ptr = 1, .elem = IR_F16, .ptr = a, .bytes = sizeof a},
                     {.is_ptr = 1, .elem = IR_F16, .ptr = b, .bytes = sizeof b},
                     fbuf(c, 32 * 32)};
  char err[512] = "";
  CHECK(launch("dot_reverse", args, 3, 1, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int i = 0; i < 32; i++)
    for (int j = 0; j < 32; j++) {
      double s = 0;
      for (int k = 0; k < 16; k++) s += ad[i * 16 + k] * bd[(15 - k) * 32 + 31 - j];
      bad += !close_to(c[i * 32 + j], s, 1e-5);
    }
  CHECK(bad == 0);
  free(c);
}

static void test_loop_sum(void) {
  int n = 1 + (int)(test_rand() % 2000);
  int32_t *x = malloc((size_t)n * 4), *out = poisoned(64 * 4);
  for (int i = 0; i < n; i++) x[i] = (int32_t)(test_rand() % 20001) - 10000;
  sim_arg a[3] = {ibuf(x, n), ibuf(out, 64), i32arg(n)};
  char err[512] = "";
  CHECK(launch("loop_sum", a, 3, 1, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  int bad = 0;
  for (int j = 0; j < 64; j++) {
    int32_t s = 0;
    for (int i = j; i < n; i += 64) s += x[i];
    bad += out[j] != s;
  }
  CHECK(bad == 0);
  free(x), free(out);
}

/* A dynamic step: 64 sums like loop_sum; 0 and -64 run no iteration (they used to spin forever). */
static void test_loop_step(void) {
  int n = 1 + (int)(test_rand() % 2000);
  int32_t *x = malloc((size_t)n * 4), *out = malloc(64 * 4);
  for (int i = 0; i < n; i++) x[i] = (int32_t)(test_rand() % 20001) - 10000;
  const int steps[] = {64, 0, -64};
  for (int k = 0; k < 3; k++) {
    for (int j = 0; j < 64; j++) out[j] = 12345;
    sim_arg a[4] = {ibuf(x, n), ibuf(out, 64), i32arg(n), i32arg(steps[k])};
    char err[512] = "";
    CHECK(launch("loop_step", a, 4, 1, err, sizeof err) == 0);
    if (err[0]) fprintf(stderr, "%s\n", err);
    int bad = 0;
    for (int j = 0; j < 64; j++) {
      int32_t s = 0;
      for (int i = j; steps[k] > 0 && i < n; i += steps[k]) s += x[i];
      bad += out[j] != s;
    }
    if (bad) fprintf(stderr, "loop_step: step %d: %d wrong sums\n", steps[k], bad);
    CHECK(bad == 0);
  }
  free(x), free(out);
}

/* ---- 2. planted bugs ---- */

/* `*` matches any run of characters; everything else is literal. */
static int match(const char *p, const char *s) {
  if (!*p) return !*s;
  if (*p == '*') return match(p + 1, s) || (*s && match(p, s + 1));
  return *p == *s && match(p + 1, s + 1);
}

/* The text after "EXPECT: " in tests/sim/NAME.ir or .ll (static buffer). */
static const char *expectation(const char *name) {
  static char line[1024];
  char path[256];
  snprintf(path, sizeof path, "tests/sim/%s.ir", name);
  char *text = test_read_file(path, NULL);
  if (!text) {
    snprintf(path, sizeof path, "tests/sim/%s.ll", name);
    text = test_read_file(path, NULL);
  }
  char *e = text ? strstr(text, "EXPECT: ") : NULL;
  line[0] = 0;
  if (e) {
    e += strlen("EXPECT: ");
    size_t n = strcspn(e, "\n");
    snprintf(line, sizeof line, "%.*s", (int)n, e);
  }
  free(text);
  return line;
}

/* Each planted kernel takes (x: n * xmul elements, y: n elements, n), `per` elements of y per program. */
static void test_planted_on(const char *name, int xmul, int per, int workers) {
  const int n = 1000;
  sim_opts o = {.workers = workers};
  float *x = rand_f32((size_t)n * xmul), *y = poisoned(n * 4);
  sim_arg a[3] = {fbuf(x, (size_t)n * xmul), fbuf(y, n), i32arg(n)};
  char err[512] = "";
  const char *want = expectation(name);
  CHECK(want[0] != 0);
  CHECK(launch_with(name, a, 3, (n + per - 1) / per, &o, err, sizeof err) == -1);
  if (!match(want, err)) {
    fprintf(stderr, "tests/sim/%s.ir (%d workers): got\n  %s\nwant\n  %s\n", name, workers, err, want);
    test_failures++;
  }
  free(x), free(y);
}

static void test_planted(const char *name, int xmul, int per) { test_planted_on(name, xmul, per, 0); }

/* ---- 3. the environment ---- */

/* vector_add under NAME=VALUE must fail with exactly `want` (NULL: must succeed). */
static void expect_env(const char *name, const char *value, const char *want) {
  float x[300], y[300], z[300];
  for (int i = 0; i < 300; i++) x[i] = y[i] = (float)i;
  sim_arg a[4] = {fbuf(x, 300), fbuf(y, 300), fbuf(z, 300), i32arg(300)};
  char err[512] = "";
  setenv(name, value, 1);
  int rc = launch("vector_add", a, 4, 2, err, sizeof err);
  unsetenv(name);
  if (want ? rc != -1 || strcmp(err, want) : rc != 0) {
    fprintf(stderr, "%s='%s': got %d\n  %s\nwant\n  %s\n", name, value, rc, err, want ? want : "success");
    test_failures++;
  }
}

static void test_env(void) {
  static const char *bad[] = {"0", "-5", "abc", "", " 64", "64 ", "64k", "1048577", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char want[256];
    snprintf(want, sizeof want,
             "sim: KILN_SIM_STACK_KB='%s' is invalid: it must be an integer from 4 to 1048576 (KiB of fiber "
             "stack per simulated thread)",
             bad[i]);
    expect_env("KILN_SIM_STACK_KB", bad[i], want);
  }
  expect_env("KILN_SIM_STACK_KB", "128", NULL);
  expect_env("KILN_SIM_MAX_OPS", "-1",
             "sim: KILN_SIM_MAX_OPS='-1' is invalid: it must be an integer from 0 to 9223372036854775807 "
             "(steps per simulated thread; 0: no limit)");
  expect_env("KILN_SIM_MAX_OPS", "1e9",
             "sim: KILN_SIM_MAX_OPS='1e9' is invalid: it must be an integer from 0 to 9223372036854775807 "
             "(steps per simulated thread; 0: no limit)");
  expect_env("KILN_SIM_MAX_OPS", "0", NULL);
  expect_env(
      "KILN_SIM_MAX_OPS", "1",
      "sim: watchdog in kernel vector_add, block (0,0,0): thread 0 is still running after 1 steps (loop "
      "iterations and device ops), at 'load %7 (vector_add.ir:10)'; KILN_SIM_MAX_OPS sets the limit");
  expect_env("KILN_SIM_TIMEOUT", "ten",
             "sim: KILN_SIM_TIMEOUT='ten' is invalid: it must be an integer from 0 to 100000000 (seconds per "
             "launch; 0: no limit)");
  expect_env(
      "KILN_SIM_TIMEOUT", "100000001",
      "sim: KILN_SIM_TIMEOUT='100000001' is invalid: it must be an integer from 0 to 100000000 (seconds "
      "per launch; 0: no limit)");
  expect_env("KILN_SIM_TIMEOUT", "0", NULL);
  expect_env(
      "KILN_SIM_GLOBAL_RACES", "2",
      "sim: KILN_SIM_GLOBAL_RACES='2' is invalid: it must be an integer from 0 to 1 (0: no cross-block "
      "global race check)");
  expect_env("KILN_SIM_GLOBAL_RACES", "0", NULL);
}

/* An endless loop under a wall-time limit: the timeout report names the loop. */
static void test_timeout(void) {
  float x[64] = {0}, y[64];
  sim_arg a[3] = {fbuf(x, 64), fbuf(y, 64), i32arg(64)};
  sim_opts o = {.workers = 1, .timeout = 0.5, .max_ops = UINT64_MAX};
  char err[512] = "";
  CHECK(launch_with("spin", a, 3, 1, &o, err, sizeof err) == -1);
  const char *want = "sim: timeout in kernel spin, block (0,0,0): the launch ran past its 0.5-second limit "
                     "(KILN_SIM_TIMEOUT sets it); thread 0 was at 'for %9 (spin.ir:13)'";
  if (strcmp(err, want)) {
    fprintf(stderr, "timeout: got\n  %s\nwant\n  %s\n", err, want);
    test_failures++;
  }
}

/* alias.ir with y passed as the same memory as x: the race between the two names is found. */
static void test_alias(void) {
  const int n = 1000;
  float *x = rand_f32(n + 64);
  sim_arg a[3] = {fbuf(x, n + 64), fbuf(x, n + 64), i32arg(n)};
  char err[512] = "";
  CHECK(launch("alias", a, 3, (n + 63) / 64, err, sizeof err) == -1);
  const char *want = expectation("alias");
  if (!match(want, err)) {
    fprintf(stderr, "tests/sim/alias.ir: got\n  %s\nwant\n  %s\n", err, want);
    test_failures++;
  }
  free(x);
}

/* The global race check off (option or environment) lets global_race.ir run; the option wins. */
static void test_global_off(void) {
  const int n = 1000;
  float *x = rand_f32(n), *y = poisoned(n * 4);
  sim_arg a[3] = {fbuf(x, n), fbuf(y, n), i32arg(n)};
  char err[512] = "";
  sim_opts off = {.check_global = -1}, on = {.check_global = 1};
  CHECK(launch_with("global_race", a, 3, 16, &off, err, sizeof err) == 0);
  setenv("KILN_SIM_GLOBAL_RACES", "0", 1);
  CHECK(launch_with("global_race", a, 3, 16, NULL, err, sizeof err) == 0);
  CHECK(launch_with("global_race", a, 3, 16, &on, err, sizeof err) == -1);
  CHECK(match(expectation("global_race"), err));
  unsetenv("KILN_SIM_GLOBAL_RACES");
  free(x), free(y);
}

/* cancel.ir on two workers: block 0 fails at once, block 1 never ends. The launch must end long before
 * block 1's watchdog (KILN_SIM_MAX_OPS = 2e9 steps, seconds at least): the second worker gives up a
 * block that comes after a failed one. */
static void test_cancel(void) {
  const int n = 1000;
  float *x = rand_f32(n), *y = poisoned(n * 4);
  sim_arg a[3] = {fbuf(x, n), fbuf(y, n), i32arg(n)};
  sim_opts o = {.workers = 2, .max_ops = 2000000000};
  char err[512] = "";
  CHECK(launch_with("cancel", a, 3, 16, &o, err, sizeof err) == -1);
  const char *want = expectation("cancel");
  if (!match(want, err)) {
    fprintf(stderr, "tests/sim/cancel.ir: got\n  %s\nwant\n  %s\n", err, want);
    test_failures++;
  }
  if (o.seconds > 1.0) {
    fprintf(stderr, "cancel.ir: the launch took %.2f s: block 1 was not given up\n", o.seconds);
    test_failures++;
  }
  free(x), free(y);
}

/* With too little address space for the global-race shadow of a written buffer, the launch reports
 * it (in a child process: it lowers its own limit). */
static void test_shadow_oom(void) {
  pid_t pid = fork();
  if (pid == 0) {
    const size_t n = (size_t)64 << 20, bytes = n * 4;
    float *p[3];
    for (int i = 0; i < 3; i++)
      p[i] = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long vm_kb = 0;
    while (f && fgets(line, sizeof line, f))
      if (sscanf(line, "VmSize: %lu kB", &vm_kb) == 1) break;
    if (f) fclose(f);
    struct rlimit rl = {.rlim_cur = (vm_kb + 512 * 1024) * 1024, .rlim_max = RLIM_INFINITY};
    setrlimit(RLIMIT_AS, &rl); /* the 2 GiB shadow of z cannot fit */
    sim_arg a[4] = {fbuf(p[0], n), fbuf(p[1], n), fbuf(p[2], n), i32arg((int64_t)n)};
    char err[512] = "";
    int rc = launch("vector_add", a, 4, (int64_t)(n / 256), err, sizeof err);
    const char *want = "sim: out of memory in kernel vector_add, block (0,0,0): thread 0 at 'store "
                       "(vector_add.ir:13)': no memory for the global-race shadow of 'z' (arg 2, 268435456 "
                       "bytes); KILN_SIM_GLOBAL_RACES=0 turns the check off";
    if (rc != -1 || strcmp(err, want))
      fprintf(stderr, "shadow oom: got %d\n  %s\nwant\n  %s\n", rc, err, want);
    _exit(rc == -1 && !strcmp(err, want) ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
  for (int rep = 0; rep < 3; rep++) {
    test_vector_add();
    test_rowstats();
    test_smem_exchange_in("smem_exchange");
    test_smem_exchange_in("split_exchange"); /* the same in a warp_split's consumer region */
    test_smem_rowsum();
    test_gather();
    test_reverse();
    test_loop_sum();
  }
  test_loop_step();
  test_matmul();
  test_dot_reverse();
  test_planted("race", 16, 16);
  test_planted("oob", 1, 256);
  test_planted("bound", 1, 256);
  test_planted("uninit", 1, 256);
  test_planted("split_race", 16, 16);
  test_planted("divergent_barrier", 1, 64);
  alarm(300); /* a watchdog that fails must not hang the test */
  setenv("KILN_SIM_MAX_OPS", "100000", 1);
  test_planted("spin", 1, 64);
  unsetenv("KILN_SIM_MAX_OPS");
  test_timeout();
  for (int workers = 1; workers <= 2; workers++) {
    test_planted_on("global_race", 1, 64, workers);
    for (int rep = 0; rep < 4; rep++) test_planted_on("global_race_late", 1, 64, workers);
  }
  test_env();
  test_cancel();
  test_shadow_oom();
  test_alias();
  test_global_off();
  alarm(0);
  return test_done("test_sim_ir");
}
