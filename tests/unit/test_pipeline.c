/*
 * test_pipeline.c - swizzled shared buffers, cp.async copies and the pipeline pass, on the simulator.
 *
 *   1. Placement: a copy into a swizzled buffer read back through an unswizzled alias at the same
 *      offset puts element (r, c) where the documented formula says; the formula gives 16-byte
 *      copies (8 consecutive chunks) and ldmatrix row reads (8 consecutive rows) distinct banks.
 *   2. Round trips through swizzled and plain buffers are exact: every element type size, ranks 1-3,
 *      tiles hanging over the view, rows not 16-byte aligned (one cp.async per 4- or 8-byte
 *      element, else the plain path), rows of 8 bytes, a column-major view, a non-zero pad, a false
 *      predicate; on sm_80 (cp.async) and sm_75 (plain loads and stores), with the race and
 *      uninitialised-read checks on; a swizzled buffer chosen by an `if`.
 *   3. Pipelined matmul loops (stages 1..4) with ragged K (trip counts 0, 1, fewer than the stages,
 *      many), against a C product; a loop whose copies cannot be pipelined is left alone and still
 *      right; the pass's structure (buffers per stage, the wait) through the C API; on sm_75 (no
 *      cp.async) the loop keeps one buffer and gains only the barrier after it.
 * Inputs are fresh random values every run (KILN_TEST_SEED=N repeats one); outputs are poisoned.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "compiler/passes/pass.h"
#include "sim/sim.h"
#include "test.h"

static void *random_bytes(size_t n) {
  unsigned char *p = malloc(n + 16);
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)test_rand();
  return p;
}

static void *poisoned(size_t n) {
  void *p = malloc(n + 16);
  memset(p, 0xff, n);
  return p;
}

/* IR text -> a simulator kernel for target t: the default pipeline, or only `layout` when the text
 * plans its own shared memory. 0, or -1 after printing why. */
static int build(const char *text, const char *target, int own_plan, cg_result *out, ir_func **keep) {
  char err[2048];
  ir_func *fn = ir_parse(text, "test.ir", err, sizeof err, NULL);
  if (!fn) {
    fprintf(stderr, "%s\n%s\n", err, text);
    return -1;
  }
  pass_ctx pc = {.target = tg_target_lookup(target), .verify_each = 1};
  int rc = own_plan ? pass_run(fn, &pc, pass_lookup("layout")) : pass_run_default(fn, &pc);
  if (rc) fprintf(stderr, "passes: %s\n%s\n", pc.err, text);
  if (!rc && (rc = cg_compile(fn, pc.target, CG_SIM, 0, out, err, sizeof err)))
    fprintf(stderr, "codegen: %s\n", err);
  if (keep && !rc)
    *keep = fn;
  else
    ir_func_destroy(fn);
  return rc;
}

static int launch(cg_result *k, const sim_arg *a, int n, int64_t gx, int64_t gy) {
  char err[1024] = "";
  int64_t grid[3] = {gx, gy, 1};
  sim_opts o = {.check_races = 1, .check_uninit = 1};
  int rc = sim_launch(k, a, n, grid, &o, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  cg_result_free(k);
  return rc;
}

static sim_arg buf(void *p, ir_elem e, size_t bytes) {
  return (sim_arg){.is_ptr = 1, .elem = e, .ptr = p, .bytes = bytes};
}
static sim_arg i32arg(int64_t v) { return (sim_arg){.elem = IR_I32, .ival = v}; }

static int ebytes(ir_elem e) { return ir_elem_bits(e) < 8 ? 1 : ir_elem_bits(e) / 8; }

/* ---- 1. placement and banks ---- */

/* The documented placement: byte offset of element (r, c) of a [rows, cols] buffer of eb-byte elements. */
static uint32_t swizzled(uint32_t r, uint32_t c, uint32_t cols, int eb, int n) {
  uint32_t row_bytes = cols * (uint32_t)eb, byte = c * (uint32_t)eb;
  if (n < 2) return r * row_bytes + byte;
  uint32_t group = row_bytes >= 128 ? 1 : 128 / row_bytes, x = (r / group) % (uint32_t)n;
  static const uint32_t K8[8] = {0, 3, 4, 7, 2, 1, 6, 5}; /* 4-byte buffers' keys (smem_swizzle.c) */
  if (eb == 4 && n >= 8) x = (x & ~7u) | K8[x & 7];
  if (eb == 4 && n == 4) x = ((x & 1) * 3) ^ (x >> 1);
  return r * row_bytes + (byte ^ (x << 4));
}

/* 16-byte bank group (0..7) of a byte offset. */
static uint32_t bank16(uint32_t off) { return (off / 16) % 8; }

/* With N = min(8, chunks per row): 8 consecutive chunks (one copy step of 8 threads) and one chunk
 * of 8 consecutive rows (an ldmatrix) fall in 8 distinct bank groups. */
static void test_banks(void) {
  static const uint32_t row_bytes[] = {32, 64, 128, 256, 512};
  for (size_t i = 0; i < sizeof row_bytes / sizeof *row_bytes; i++) {
    uint32_t cols = row_bytes[i] / 2, cpr = row_bytes[i] / 16, rows = 64;
    int n = cpr < 8 ? (int)cpr : 8;
    int bad_copy = 0, bad_ldm = 0;
    for (uint32_t q = 0; q < rows * cpr; q += 8) {
      uint32_t seen = 0;
      for (uint32_t k = q; k < q + 8; k++) seen |= 1u << bank16(swizzled(k / cpr, (k % cpr) * 8, cols, 2, n));
      bad_copy += seen != 0xff;
    }
    for (uint32_t r0 = 0; r0 < rows; r0 += 8)
      for (uint32_t c = 0; c < cpr; c++) {
        uint32_t seen = 0;
        for (uint32_t r = r0; r < r0 + 8; r++) seen |= 1u << bank16(swizzled(r, c * 8, cols, 2, n));
        bad_ldm += seen != 0xff;
      }
    CHECK(!bad_copy && !bad_ldm, "rows of %u bytes, swizzle %d: %d copy steps, %d ldmatrix reads conflict",
          row_bytes[i], n, bad_copy, bad_ldm);
  }
}

/* Copy into a swizzled buffer, read it through a plain alias at the same offset. */
static void placement(const char *target, ir_elem e, uint32_t rows, uint32_t cols, int n) {
  const char *en = ir_elem_name(e);
  int eb = ebytes(e);
  size_t bytes = (size_t)rows * cols * (size_t)eb;
  char text[2048];
  snprintf(text, sizeof text,
           "kernel @place(%%x: ptr<%s>, %%y: ptr<%s>) {warps = 4, shared_bytes = %zu} {\n"
           "  %%one = const() {value = 1} : i32\n  %%zero = const() {value = 0} : i32\n"
           "  %%r = const() {value = %u} : i32\n  %%c = const() {value = %u} : i32\n"
           "  %%vx = view(%%x, %%r, %%c, %%c, %%one) : view<2x%s>\n"
           "  %%vy = view(%%y, %%r, %%c, %%c, %%one) : view<2x%s>\n"
           "  %%s = alloc_shared() {swizzle = %d, offset = 0} : smem<%ux%ux%s>\n"
           "  %%p = alloc_shared() {offset = 0} : smem<%ux%ux%s>\n"
           "  copy(%%vx, %%zero, %%zero, %%s)\n  barrier()\n"
           "  %%t = load_shared(%%p) : tile<%ux%ux%s>\n  store(%%vy, %%zero, %%zero, %%t)\n}\n",
           en, en, bytes, rows, cols, en, en, n, rows, cols, en, rows, cols, en, rows, cols, en);
  cg_result k;
  if (build(text, target, 1, &k, NULL)) {
    test_failures++;
    return;
  }
  unsigned char *x = random_bytes(bytes), *y = poisoned(bytes);
  sim_arg a[2] = {buf(x, e, bytes), buf(y, e, bytes)};
  CHECK(launch(&k, a, 2, 1, 1) == 0, "placement %s %ux%ux%s swizzle %d", target, rows, cols, en, n);
  int bad = 0;
  for (uint32_t r = 0; r < rows; r++)
    for (uint32_t c = 0; c < cols; c++)
      bad +=
          memcmp(y + swizzled(r, c, cols, eb, n), x + ((size_t)r * cols + c) * (size_t)eb, (size_t)eb) != 0;
  CHECK(!bad, "placement %s %ux%ux%s swizzle %d: %d elements elsewhere (seed %llu)", target, rows, cols, en,
        n, bad, (unsigned long long)test_seed());
  free(x), free(y);
}

/* ---- 2. round trips ---- */

typedef struct {
  ir_elem e;
  uint32_t rows, cols; /* the buffer */
  int swizzle;
  int R, C, ld; /* the view: R x C, row stride ld (column-major: column stride ld) */
  int r0, c0;   /* the copy's offsets */
  int colmajor; /* the view's dim 0 is contiguous */
  int pred;     /* -1: no predicate operand; else its value */
  double pad;   /* 0: zero fill */
  int warps;
} trip;

static void round_trip(const char *target, const trip *t) {
  const char *en = ir_elem_name(t->e);
  int eb = ebytes(t->e);
  char text[4096], padattr[64] = "", predop[16] = "";
  if (t->pad != 0) snprintf(padattr, sizeof padattr, " {pad = %g}", t->pad);
  if (t->pred >= 0) snprintf(predop, sizeof predop, ", %%on");
  snprintf(text, sizeof text,
           "kernel @trip(%%x: ptr<%s>, %%y: ptr<%s>, %%R: i32, %%C: i32, %%ld: i32, %%r0: i32, %%c0: i32, "
           "%%on: i1) {warps = %d} {\n"
           "  %%one = const() {value = 1} : i32\n  %%zero = const() {value = 0} : i32\n"
           "  %%tr = const() {value = %u} : i32\n  %%tc = const() {value = %u} : i32\n"
           "  %%vx = view(%%x, %%R, %%C, %s) : view<2x%s>\n"
           "  %%vy = view(%%y, %%tr, %%tc, %%tc, %%one) : view<2x%s>\n"
           "  %%s = alloc_shared() {swizzle = %d} : smem<%ux%ux%s>\n"
           "  copy(%%vx, %%r0, %%c0, %%s%s)%s\n  barrier()\n"
           "  %%t = load_shared(%%s) : tile<%ux%ux%s>\n  store(%%vy, %%zero, %%zero, %%t)\n}\n",
           en, en, t->warps, t->rows, t->cols, t->colmajor ? "%one, %ld" : "%ld, %one", en, en, t->swizzle,
           t->rows, t->cols, en, predop, padattr, t->rows, t->cols, en);
  cg_result k;
  if (build(text, target, 0, &k, NULL)) {
    test_failures++;
    return;
  }
  size_t xn = (size_t)t->ld * (size_t)(t->colmajor ? t->C : t->R), yn = (size_t)t->rows * t->cols;
  unsigned char *x = random_bytes(xn * (size_t)eb), *y = poisoned(yn * (size_t)eb);
  sim_arg a[8] = {buf(x, t->e, xn * (size_t)eb),
                  buf(y, t->e, yn * (size_t)eb),
                  i32arg(t->R),
                  i32arg(t->C),
                  i32arg(t->ld),
                  i32arg(t->r0),
                  i32arg(t->c0),
                  (sim_arg){.elem = IR_I1, .ival = t->pred > 0}};
  CHECK(launch(&k, a, 8, 1, 1) == 0, "round trip %s %ux%ux%s", target, t->rows, t->cols, en);
  unsigned char pad[8] = {0};
  if (t->e == IR_F32) {
    float f = (float)t->pad;
    memcpy(pad, &f, 4);
  }
  int bad = 0;
  for (uint32_t i = 0; i < t->rows; i++)
    for (uint32_t j = 0; j < t->cols; j++) {
      int gr = t->r0 + (int)i, gc = t->c0 + (int)j;
      int in = t->pred != 0 && gr >= 0 && gr < t->R && gc >= 0 && gc < t->C;
      size_t g = t->colmajor ? (size_t)gc * t->ld + gr : (size_t)gr * t->ld + gc;
      const unsigned char *want = in ? x + g * (size_t)eb : pad;
      bad += memcmp(y + ((size_t)i * t->cols + j) * (size_t)eb, want, (size_t)eb) != 0;
    }
  CHECK(
      !bad,
      "round trip %s %ux%ux%s swizzle %d view %dx%d ld %d at (%d,%d)%s pred %d pad %g: %d wrong (seed %llu)",
      target, t->rows, t->cols, en, t->swizzle, t->R, t->C, t->ld, t->r0, t->c0,
      t->colmajor ? " col-major" : "", t->pred, t->pad, bad, (unsigned long long)test_seed());
  free(x), free(y);
}

static void test_round_trips(const char *target) {
  int r = (int)(test_rand() % 5), c = (int)(test_rand() % 7);
  const trip trips[] = {
      /* aligned rows: 16-byte chunks; the tile hangs over the bottom and right edges */
      {IR_F16, 32, 64, 8, 40 + r, 100, 128, 16, 64, 0, -1, 0, 4},
      {IR_F16, 16, 32, 4, 30, 45, 48, 8, 32, 0, -1, 0, 4},
      {IR_F16, 64, 16, 2, 64, 16, 16, 0, 0, 0, -1, 0, 2},
      {IR_I8, 16, 128, 8, 20, 150, 160, 0, 128, 0, -1, 0, 4},
      {IR_F32, 8, 64, 8, 9, 70, 72, 4, 8, 0, -1, 0, 1},
      {IR_F64, 8, 16, 4, 8, 18, 20, 2, 4, 0, -1, 0, 4},
      /* rows 8-, 4-, 2-byte aligned: narrower cp.async, then the plain path */
      {IR_F16, 16, 32, 4, 20, 44, 44, 1, 8, 0, -1, 0, 4},
      {IR_F16, 16, 32, 4, 20, 42 + 2 * c, 42 + 2 * c, 0, 2, 0, -1, 0, 4},
      {IR_F16, 16, 32, 0, 20, 37 + c, 37 + c, 3, 5, 0, -1, 0, 4},
      {IR_I8, 8, 64, 4, 9, 71, 71, 0, 1, 0, -1, 0, 2},
      {IR_F32, 16, 16, 4, 17, 19, 19, 1, 3, 0, -1, 0, 4},
      {IR_F64, 8, 16, 4, 9, 19, 19, 0, 1, 0, -1, 0, 4},
      {IR_F16, 32, 4, 0, 40, 6, 8, 3, 0, 0, -1, 0, 4},
      /* negative offsets, a false and a true predicate, a pad, a column-major view */
      {IR_F16, 16, 32, 4, 16, 32, 32, -3, -8, 0, -1, 0, 4},
      {IR_F16, 16, 32, 4, 16, 32, 32, 0, 0, 0, 0, 0, 4},
      {IR_F16, 16, 32, 4, 16, 40, 40, 4, 8, 0, 1, 0, 4},
      {IR_F32, 16, 32, 8, 18, 40, 40, 4, 16, 0, 1, 2.5, 4},
      {IR_F16, 32, 16, 2, 50, 20, 64, 8, 8, 1, -1, 0, 4},
      /* fewer chunks than threads */
      {IR_F16, 4, 16, 2, 4, 16, 16, 0, 0, 0, -1, 0, 8},
  };
  for (size_t i = 0; i < sizeof trips / sizeof *trips; i++) round_trip(target, &trips[i]);
}

/* Ranks 1 and 3, and store_shared into a swizzled buffer. */
static void test_other_ranks(const char *target) {
  int n = 1 + (int)(test_rand() % 300), m = 1 + (int)(test_rand() % 9);
  char text[4096];
  snprintf(text, sizeof text,
           "kernel @ranks(%%x: ptr<f32>, %%y: ptr<f32>, %%u: ptr<f16>, %%v: ptr<f16>, %%n: i32, %%m: i32) "
           "{warps = 4} {\n"
           "  %%one = const() {value = 1} : i32\n  %%zero = const() {value = 0} : i32\n"
           "  %%c256 = const() {value = 256} : i32\n  %%c2 = const() {value = 2} : i32\n"
           "  %%c8 = const() {value = 8} : i32\n  %%c32 = const() {value = 32} : i32\n"
           "  %%vx = view(%%x, %%n, %%one) : view<1xf32>\n  %%vy = view(%%y, %%c256, %%one) : view<1xf32>\n"
           "  %%s1 = alloc_shared() {swizzle = 8} : smem<256xf32>\n"
           "  copy(%%vx, %%zero, %%s1)\n  barrier()\n  %%t1 = load_shared(%%s1) : tile<256xf32>\n"
           "  store(%%vy, %%zero, %%t1)\n"
           "  %%w = mul(%%m, %%c32) : i32\n"
           "  %%vu = view(%%u, %%c2, %%m, %%c32, %%w, %%c32, %%one) : view<3xf16>\n"
           "  %%vv = view(%%v, %%c2, %%c8, %%c32, %%c256, %%c32, %%one) : view<3xf16>\n"
           "  %%s3 = alloc_shared() {swizzle = 4} : smem<2x8x32xf16>\n"
           "  copy(%%vu, %%zero, %%zero, %%zero, %%s3)\n  barrier()\n"
           "  %%t3 = load_shared(%%s3) : tile<2x8x32xf16>\n"
           "  %%s4 = alloc_shared() {swizzle = 2} : smem<2x8x32xf16>\n"
           "  store_shared(%%s4, %%t3)\n  barrier()\n  %%t4 = load_shared(%%s4) : tile<2x8x32xf16>\n"
           "  store(%%vv, %%zero, %%zero, %%zero, %%t4)\n}\n");
  cg_result k;
  if (build(text, target, 0, &k, NULL)) {
    test_failures++;
    return;
  }
  float *x = random_bytes((size_t)n * 4), *y = poisoned(256 * 4);
  for (int i = 0; i < n; i++) x[i] = (float)(test_rand() % 1000);
  uint16_t *u = random_bytes((size_t)2 * m * 32 * 2), *v = poisoned(2 * 8 * 32 * 2);
  sim_arg a[6] = {buf(x, IR_F32, (size_t)n * 4),
                  buf(y, IR_F32, 256 * 4),
                  buf(u, IR_F16, (size_t)2 * m * 32 * 2),
                  buf(v, IR_F16, 2 * 8 * 32 * 2),
                  i32arg(n),
                  i32arg(m)};
  CHECK(launch(&k, a, 6, 1, 1) == 0, "ranks %s", target);
  int bad = 0;
  for (int i = 0; i < 256; i++) bad += y[i] != (i < n ? x[i] : 0.0f);
  for (int b = 0; b < 2; b++)
    for (int i = 0; i < 8; i++)
      for (int j = 0; j < 32; j++) bad += v[(b * 8 + i) * 32 + j] != (i < m ? u[(b * m + i) * 32 + j] : 0);
  CHECK(!bad, "ranks 1 and 3 %s: %d wrong (n %d, m %d, seed %llu)", target, bad, n, m,
        (unsigned long long)test_seed());
  free(x), free(y), free(u), free(v);
}

/* A swizzled buffer chosen by an `if`, written through the `if`'s result and read directly: both
 * accesses must find the same swizzle. */
static void test_if_buffer(const char *target) {
  const char *text =
      "kernel @pick(%x: ptr<f16>, %y: ptr<f16>, %on: i1) {warps = 4} {\n"
      "  %one = const() {value = 1} : i32\n  %zero = const() {value = 0} : i32\n"
      "  %r = const() {value = 16} : i32\n  %c = const() {value = 64} : i32\n"
      "  %vx = view(%x, %r, %c, %c, %one) : view<2xf16>\n  %vy = view(%y, %r, %c, %c, %one) : view<2xf16>\n"
      "  %s1 = alloc_shared() {swizzle = 8} : smem<16x64xf16>\n"
      "  %s2 = alloc_shared() {swizzle = 8} : smem<16x64xf16>\n"
      "  %b = if(%on) : smem<16x64xf16> {\n    yield(%s1)\n  } else {\n    yield(%s2)\n  }\n"
      "  copy(%vx, %zero, %zero, %b)\n  barrier()\n"
      "  %t = load_shared(%s1) : tile<16x64xf16>\n  store(%vy, %zero, %zero, %t)\n}\n";
  cg_result k;
  if (build(text, target, 0, &k, NULL)) {
    test_failures++;
    return;
  }
  uint16_t *x = random_bytes(16 * 64 * 2), *y = poisoned(16 * 64 * 2);
  sim_arg a[3] = {buf(x, IR_F16, 16 * 64 * 2), buf(y, IR_F16, 16 * 64 * 2),
                  (sim_arg){.elem = IR_I1, .ival = 1}};
  CHECK(launch(&k, a, 3, 1, 1) == 0, "if buffer %s", target);
  CHECK(!memcmp(x, y, 16 * 64 * 2), "a buffer through an if keeps its swizzle (%s, seed %llu)", target,
        (unsigned long long)test_seed());
  free(x), free(y);
}

/* ---- 3. pipelined loops ---- */

/* C[M,N] = A[M,K] B[K,N] in f32, 32x32 tiles, BK = 16, A and B staged through swizzled buffers with
 * `stages`; with `carried`, B's column offset comes from a loop-carried value (not pipelinable). */
static void mm_text(char *text, size_t n, int stages, int carried) {
  snprintf(
      text, n,
      "kernel @mm(%%a: ptr<f32>, %%b: ptr<f32>, %%c: ptr<f32>, %%M: i32, %%N: i32, %%K: i32) {warps = 4} {\n"
      "  %%one = const() {value = 1} : i32\n  %%zero = const() {value = 0} : i32\n"
      "  %%c16 = const() {value = 16} : i32\n  %%c32 = const() {value = 32} : i32\n"
      "  %%va = view(%%a, %%M, %%K, %%K, %%one) : view<2xf32>\n"
      "  %%vb = view(%%b, %%K, %%N, %%N, %%one) : view<2xf32>\n"
      "  %%vc = view(%%c, %%M, %%N, %%N, %%one) : view<2xf32>\n"
      "  %%p0 = program_id() {axis = 0} : i32\n  %%p1 = program_id() {axis = 1} : i32\n"
      "  %%row = mul(%%p0, %%c32) : i32\n  %%col = mul(%%p1, %%c32) : i32\n"
      "  %%sa = alloc_shared() {swizzle = 4} : smem<32x16xf32>\n"
      "  %%sb = alloc_shared() {swizzle = 8} : smem<16x32xf32>\n"
      "  %%acc0 = const() {value = 0.0} : tile<32x32xf32>\n"
      "  %%acc, %%cf = for(%%zero, %%K, %%c16, %%acc0, %%col) {stages = %d} : tile<32x32xf32>, i32 {\n"
      "    ^(%%k: i32, %%x: tile<32x32xf32>, %%cc: i32):\n"
      "    %%kx = add(%%k, %%c16) : i32\n    %%ka = sub(%%kx, %%c16) : i32\n"
      "    copy(%%va, %%row, %%ka, %%sa)\n    copy(%%vb, %%k, %s, %%sb)\n    barrier()\n"
      "    %%ta = load_shared(%%sa) : tile<32x16xf32>\n    %%tb = load_shared(%%sb) : tile<16x32xf32>\n"
      "    %%d = dot(%%ta, %%tb, %%x) : tile<32x32xf32>\n    barrier()\n    yield(%%d, %%cc)\n  }\n"
      "  store(%%vc, %%row, %%col, %%acc)\n}\n",
      stages, carried ? "%cc" : "%col");
}

typedef struct {
  int ops[IR_NOPS];
  int max_pending;
} op_census;

static void count_op(ir_func *fn, ir_opid op, void *ctx) {
  op_census *c = ctx;
  c->ops[ir_o(fn, op)->code]++;
  if (ir_o(fn, op)->code == IR_OP_ASYNC_WAIT) {
    int p = (int)ir_attr_i(ir_o(fn, op)->attrs, "pending", -1);
    if (p > c->max_pending) c->max_pending = p;
  }
}

static void pipelined_mm(const char *target, int stages, int carried, int M, int N, int K) {
  char text[4096];
  mm_text(text, sizeof text, stages, carried);
  cg_result k;
  ir_func *fn = NULL;
  if (build(text, target, 0, &k, &fn)) {
    test_failures++;
    return;
  }
  op_census c = {.max_pending = -1};
  ir_walk(fn, fn->body, count_op, &c);
  /* copies pipelined: B's is not when carried; none without cp.async (sm_75: one stage) */
  int async = (tg_target_lookup(target)->features & TG_F_CP_ASYNC) != 0;
  int piped = stages >= 2 && async ? 2 - carried : 0;
  int want_bufs = piped * stages + (2 - piped);
  CHECK(c.ops[IR_OP_ALLOC_SHARED] == want_bufs, "%d buffers for stages %d%s", c.ops[IR_OP_ALLOC_SHARED],
        stages, carried ? " (carried)" : "");
  CHECK(!piped || c.max_pending == piped * (stages - 2), "pending %d for stages %d", c.max_pending, stages);
  CHECK(async || stages < 2 || c.ops[IR_OP_BARRIER] == 3,
        "%s stages %d: %d barriers, want the loop's 2 and one after it", target, stages,
        c.ops[IR_OP_BARRIER]);
  ir_func_destroy(fn);
  float *a = random_bytes((size_t)M * K * 4 + 4), *b = random_bytes((size_t)K * N * 4 + 4);
  float *cm = poisoned((size_t)M * N * 4);
  for (int i = 0; i < M * K; i++) a[i] = (float)((int)(test_rand() % 2001) - 1000) / 1000.0f;
  for (int i = 0; i < K * N; i++) b[i] = (float)((int)(test_rand() % 2001) - 1000) / 1000.0f;
  sim_arg args[6] = {buf(a, IR_F32, (size_t)M * K * 4),
                     buf(b, IR_F32, (size_t)K * N * 4),
                     buf(cm, IR_F32, (size_t)M * N * 4),
                     i32arg(M),
                     i32arg(N),
                     i32arg(K)};
  CHECK(launch(&k, args, 6, (M + 31) / 32, (N + 31) / 32) == 0, "mm %s stages %d", target, stages);
  int bad = 0;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0, mag = 0;
      for (int p = 0; p < K; p++)
        s += (double)a[i * K + p] * b[p * N + j], mag += fabs((double)a[i * K + p] * b[p * N + j]);
      bad += !(fabs(cm[i * N + j] - s) <= 1e-6 * mag + 1e-30);
    }
  CHECK(!bad, "mm %s stages %d%s M %d N %d K %d: %d wrong (seed %llu)", target, stages,
        carried ? " carried" : "", M, N, K, bad, (unsigned long long)test_seed());
  free(a), free(b), free(cm);
}

static void test_pipelined(const char *target) {
  for (int s = 1; s <= 4; s++) {
    int K = 1 + (int)(test_rand() % 90); /* 1 .. 6 trips of 16 */
    pipelined_mm(target, s, 0, 33 + (int)(test_rand() % 40), 1 + (int)(test_rand() % 70), K);
  }
  pipelined_mm(target, 3, 0, 20, 20, 0);  /* no trip */
  pipelined_mm(target, 4, 0, 40, 33, 16); /* one trip, fewer than the stages */
  pipelined_mm(target, 2, 0, 31, 64, 17); /* two trips, the second ragged */
  pipelined_mm(target, 3, 1, 35, 40, 50); /* not pipelinable: left alone */
}

int main(void) {
  test_banks();
  placement("sm_80", IR_F16, 16, 64, 8);
  placement("sm_80", IR_F16, 32, 32, 4);
  placement("sm_80", IR_F16, 32, 16, 2);
  placement("sm_75", IR_F32, 8, 128, 8);
  placement("sm_80", IR_F32, 8, 128, 32);
  placement("sm_80", IR_I8, 16, 128, 8);
  test_round_trips("sm_80");
  test_round_trips("sm_75");
  test_other_ranks("sm_80");
  test_other_ranks("sm_75");
  test_if_buffer("sm_80");
  test_pipelined("sm_80");
  test_pipelined("sm_75");
  return test_done("test_pipeline");
}
