/*
 * test_mma_lowering.c - dot on tensor cores (codegen/lower_mma.c) against C references. The layout
 * pass's choices are checked as text in tests/lit/passes/layout_assign_mma.ir.
 *
 * 1. Numerics on the simulator: a K loop of masked loads and dots (C = C_in + A B over shapes that
 *    are not multiples of the tile) for every element type (f16, bf16, e4m3, e5m2, i8, u8, b1
 *    AND-popc; and f32, tf32, i8 on sm_75, which stay on FMAs), on the oldest row that has the
 *    instruction, for several tile shapes and warp counts: the direct path (operands and
 *    accumulator in mma layouts), fewer rows than a fragment (one warp row, rows repeated: M = 8,
 *    4, 2, 1), tiles under one K tile (zero-padded staging) and K below the instruction's K. Operands also
 * come through shared buffers (copy, load_shared: ldmatrix straight from the buffer), swizzled or not, and K
 * tiles long enough for the dot's K loop to stay rolled. Two chained dots with a row maximum between them
 * (reduce, broadcast, cast on the mma layout). Inputs are fresh random values each run (KILN_TEST_SEED=
 * replays one); outputs are poisoned first and every element is checked: integers exactly, floats against a
 *    double reference within 2^-18 of sum |a b| + |c|.
 * 2. NVPTX: every row that has the instruction emits it (and ldmatrix for 16-bit operands) and
 *    ptxas accepts the PTX, with operands in registers (and in swizzled shared buffers on the
 *    oldest such row and on sm_90a); rows without it keep the FMA lowering (i8 on sm_75) or refuse
 *    the type in one line as before (bf16 on sm_75, fp8 below sm_89, b1 on sm_75).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "compiler/passes/pass.h"
#include "sim/sim.h"
#include "target/mma_layout.h"
#include "test.h"

static long checked, runs; /* elements compared, kernels run */

/* ---- element encodings ---- */

static double dec_f16(uint32_t c) {
  int e = (c >> 10) & 31, m = c & 1023;
  double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
  return c & 0x8000 ? -v : v;
}
static double dec_bf16(uint32_t c) {
  uint32_t bits = c << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}
static double dec_e4m3(uint32_t c) {
  int e = (c >> 3) & 15, m = c & 7;
  double v = e ? ldexp(8 + m, e - 10) : ldexp(m, -9);
  return c & 0x80 ? -v : v;
}
static double dec_e5m2(uint32_t c) {
  int e = (c >> 2) & 31, m = c & 3;
  double v = e ? ldexp(4 + m, e - 17) : ldexp(m, -16);
  return c & 0x80 ? -v : v;
}

typedef struct {
  const char *t, *c, *p; /* operand type, accumulator type, precision */
  const char *target;    /* the oldest row with the instruction */
  int bytes;             /* operand element bytes */
  int is_float, b1, small;
} etype;

static const etype F16 = {"f16", "f32", "ieee", "sm_80", 2, 1, 0, 0};
static const etype F16_SM75 = {"f16", "f32", "ieee", "sm_75", 2, 1, 0, 0};
static const etype F16_ACC16 = {"f16", "f16", "ieee", "sm_80", 2, 1, 0, 1};
static const etype BF16 = {"bf16", "f32", "ieee", "sm_80", 2, 1, 0, 0};
static const etype E4M3 = {"e4m3", "f32", "ieee", "sm_89", 1, 1, 0, 0};
static const etype E5M2 = {"e5m2", "f32", "ieee", "sm_89", 1, 1, 0, 0};
static const etype S8 = {"i8", "i32", "ieee", "sm_80", 1, 0, 0, 0};
static const etype U8 = {"u8", "i32", "ieee", "sm_80", 1, 0, 0, 0};
static const etype B1 = {"u32", "i32", "b1_and", "sm_80", 4, 0, 1, 0};
/* no instruction: the FMA lowering */
static const etype F32 = {"f32", "f32", "ieee", "sm_80", 4, 1, 0, 0};
static const etype TF32 = {"f32", "f32", "tf32", "sm_90a", 4, 1, 0, 0};
static const etype S8_SM75 = {"i8", "i32", "ieee", "sm_75", 1, 0, 0, 0};

/* A random operand element: its code and its value. Floats near 1 in magnitude (f16, bf16) or
 * anywhere in the finite range (fp8); small integers when the result must stay exact in f16. */
static uint32_t random_code(const etype *et, double *v) {
  uint32_t c;
  if (et->small) {
    static const uint32_t f16_small[9] = {0xc400, 0xc200, 0xc000, 0xbc00, 0, 0x3c00, 0x4000, 0x4200, 0x4400};
    c = f16_small[test_rand() % 9];
    *v = dec_f16(c);
  } else if (!strcmp(et->t, "f16")) {
    c = (test_rand() & 0x83ff) | ((13 + test_rand() % 5) << 10);
    *v = dec_f16(c);
  } else if (!strcmp(et->t, "bf16")) {
    c = (test_rand() & 0x807f) | ((125 + test_rand() % 5) << 7);
    *v = dec_bf16(c);
  } else if (!strcmp(et->t, "e4m3")) {
    do c = test_rand() & 0xff;
    while ((c & 0x7f) == 0x7f);
    *v = dec_e4m3(c);
  } else if (!strcmp(et->t, "e5m2")) {
    do c = test_rand() & 0xff;
    while (((c >> 2) & 31) == 31);
    *v = dec_e5m2(c);
  } else if (!strcmp(et->t, "i8")) {
    c = test_rand() & 0xff;
    *v = (int8_t)c;
  } else if (!strcmp(et->t, "u8")) {
    c = test_rand() & 0xff;
    *v = c;
  } else if (!strcmp(et->t, "f32")) {
    float f = (float)((int)(test_rand() % 2001) - 1000) / 256;
    memcpy(&c, &f, 4);
    *v = f;
  } else {
    c = test_rand();
    *v = 0;
  }
  return c;
}

static void put_code(const etype *et, void *buf, size_t i, uint32_t c) {
  if (et->bytes == 1) ((uint8_t *)buf)[i] = (uint8_t)c;
  if (et->bytes == 2) ((uint16_t *)buf)[i] = (uint16_t)c;
  if (et->bytes == 4) ((uint32_t *)buf)[i] = c;
}

/* ---- kernels ---- */

/* C = C_in + A B with a K loop of BK, each program one BM x BN tile, the operands in registers
 * (masked loads) or through shared buffers (copy, load_shared). */
static char *k_mm_regs; /* tests/unit/ir/mma_lowering/mm_regs.ir */
static char *k_mm_smem; /* tests/unit/ir/mma_lowering/mm_smem.ir */

typedef struct {
  int bm, bn, bk, warps;
  int smem;    /* operands through shared buffers */
  int swizzle; /* ... with this swizzle */
} config;

/* The kernel text for one element type and configuration (malloc'd). */
static char *mm_text(const etype *et, const config *cf) {
  char num[6][16], sw[32] = "";
  snprintf(num[0], 16, "%d", cf->bm), snprintf(num[1], 16, "%d", cf->bn), snprintf(num[2], 16, "%d", cf->bk);
  snprintf(num[3], 16, "%d", cf->warps);
  if (cf->swizzle) snprintf(sw, sizeof sw, "{swizzle = %d}", cf->swizzle);
  const char *keys[] = {"$BM", "$BN", "$BK", "$W", "$T", "$C", "$P", "$SW"};
  const char *vals[] = {num[0], num[1], num[2], num[3], et->t, et->c, et->p, sw};
  return test_subst(cf->smem ? k_mm_smem : k_mm_regs, keys, vals, 8);
}

/* ---- 1. numerics on the simulator ---- */

/* One run: fresh inputs, poisoned output, every element checked. */
static void check_mm(const etype *et, const config *cf, const char *target, int M, int N, int K) {
  char *text = mm_text(et, cf);
  char err[2048] = "", what[160];
  snprintf(what, sizeof what, "%s x %s -> %s on %s, %dx%dx%d tiles, %d warps%s%s, M=%d N=%d K=%d", et->t,
           et->t, et->c, target, cf->bm, cf->bn, cf->bk, cf->warps, cf->smem ? ", shared" : "",
           cf->swizzle ? ", swizzled" : "", M, N, K);
  size_t cb = !strcmp(et->c, "f16") ? 2 : 4;
  void *a = calloc((size_t)M * K, (size_t)et->bytes), *b = calloc((size_t)K * N, (size_t)et->bytes);
  void *ci = calloc((size_t)M * N, cb), *c = malloc((size_t)M * N * cb);
  double *av = calloc((size_t)M * K, sizeof *av), *bv = calloc((size_t)K * N, sizeof *bv);
  uint32_t *ac = calloc((size_t)M * K, 4), *bc = calloc((size_t)K * N, 4);
  for (int i = 0; i < M * K; i++) put_code(et, a, i, ac[i] = random_code(et, &av[i]));
  for (int i = 0; i < K * N; i++) put_code(et, b, i, bc[i] = random_code(et, &bv[i]));
  for (int i = 0; i < M * N; i++) {
    if (cb == 2)
      ((uint16_t *)ci)[i] =
          (uint16_t)(0x3c00 | ((test_rand() % 4) << 8)) ^ (test_rand() & 0x8000); /* +-1, 1.25, ... */
    else if (et->is_float)
      ((float *)ci)[i] = (float)((int)(test_rand() % 201) - 100) / 8;
    else
      ((int32_t *)ci)[i] = (int32_t)(test_rand() % 2001) - 1000;
  }
  memset(c, 0xff, (size_t)M * N * cb); /* NaN / -1 */
  cg_result res;
  const tg_target *t = tg_target_lookup(target);
  if (test_compile_ir(text, "mm.ir", t, CG_SIM, &res, err, sizeof err)) {
    fprintf(stderr, "%s: compile: %s\n", what, err);
    test_failures++;
  } else {
    ir_elem te = (ir_elem)ir_elem_parse(et->t, (int)strlen(et->t));
    ir_elem tc = (ir_elem)ir_elem_parse(et->c, (int)strlen(et->c));
    sim_arg args[7] = {
        {.is_ptr = 1, .elem = te, .ptr = a, .bytes = (size_t)M * K * et->bytes},
        {.is_ptr = 1, .elem = te, .ptr = b, .bytes = (size_t)K * N * et->bytes},
        {.is_ptr = 1, .elem = tc, .ptr = ci, .bytes = (size_t)M * N * cb},
        {.is_ptr = 1, .elem = tc, .ptr = c, .bytes = (size_t)M * N * cb},
        {.elem = IR_I32, .ival = M},
        {.elem = IR_I32, .ival = N},
        {.elem = IR_I32, .ival = K},
    };
    int64_t grid[3] = {(M + cf->bm - 1) / cf->bm, (N + cf->bn - 1) / cf->bn, 1};
    sim_opts o = {.workers = 1};
    if (sim_launch(&res, args, 7, grid, &o, err, sizeof err)) {
      fprintf(stderr, "%s: sim: %s\n", what, err);
      test_failures++;
    } else {
      int bad = 0;
      for (int m = 0; m < M && bad < 5; m++)
        for (int n = 0; n < N && bad < 5; n++) {
          double want = 0, mag = 0, got;
          for (int k = 0; k < K; k++) {
            double p =
                et->b1 ? __builtin_popcount(ac[m * K + k] & bc[k * N + n]) : av[m * K + k] * bv[k * N + n];
            want += p, mag += fabs(p);
          }
          double cin = cb == 2        ? dec_f16(((uint16_t *)ci)[m * N + n])
                       : et->is_float ? ((float *)ci)[m * N + n]
                                      : ((int32_t *)ci)[m * N + n];
          want += cin, mag += fabs(cin);
          got = cb == 2        ? dec_f16(((uint16_t *)c)[m * N + n])
                : et->is_float ? ((float *)c)[m * N + n]
                               : ((int32_t *)c)[m * N + n];
          int ok = et->is_float && !et->small ? fabs(got - want) <= ldexp(mag, -18) : got == want;
          if (!ok) {
            fprintf(stderr, "%s: c[%d][%d] = %.9g, want %.9g\n", what, m, n, got, want);
            bad++;
          }
        }
      test_failures += bad;
      checked += (long)M * N, runs++;
    }
    cg_result_free(&res);
  }
  free(text), free(a), free(b), free(ci), free(c), free(av), free(bv), free(ac), free(bc);
}

static void test_sim_types(void) {
  /* the direct path (2 x 2 warps), masked edges in M, N and K */
  static const config base = {64, 64, 32, 4, 0, 0};
  const etype *types[] = {&F16, &F16_SM75, &BF16, &E4M3, &E5M2, &S8, &U8};
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    check_mm(types[i], &base, types[i]->target, 100, 70, 75);
  config b1 = {32, 32, 8, 4, 0, 0}; /* K counts 32-bit words: 8 words = 256 bits, one instruction */
  check_mm(&B1, &b1, "sm_80", 50, 40, 21);
  config small = {32, 32, 16, 4, 0, 0};
  check_mm(&F16_ACC16, &small, "sm_80", 40, 33, 40);
  /* types without an instruction stay on FMAs */
  check_mm(&F32, &small, F32.target, 40, 33, 40);
  check_mm(&TF32, &small, TF32.target, 33, 40, 17);
  check_mm(&S8_SM75, &small, S8_SM75.target, 40, 33, 40);
}

static void test_sim_shapes(void) {
  static const struct {
    const etype *et;
    config cf;
    int M, N, K;
  } cases[] = {
      {&F16, {16, 8, 16, 1, 0, 0}, 33, 17, 40},     /* one fragment per warp */
      {&F16, {128, 64, 32, 8, 0, 0}, 130, 64, 64},  /* 8 warps */
      {&F16, {64, 32, 16, 2, 0, 0}, 64, 40, 48},    /* 2 warps */
      {&F16, {16, 16, 16, 4, 0, 0}, 20, 20, 20},    /* 1 x 2 warps hold the tile, the other two copy it */
      {&F16, {8, 8, 8, 4, 0, 0}, 13, 9, 11},        /* M = 8: one warp row, the fragment's rows repeated */
      {&F16, {4, 8, 4, 1, 0, 0}, 5, 9, 7},          /* K = 4, under one K tile: zero-padded staging */
      {&BF16, {1, 64, 32, 4, 0, 0}, 3, 100, 70},    /* M = 1 (a row times a matrix) on 1 x 4 warps */
      {&F16_SM75, {2, 16, 16, 2, 0, 0}, 5, 40, 33}, /* M = 2 on m16n8k8 */
      {&F16, {32, 64, 8, 4, 0, 0}, 32, 64, 24},     /* K = 8 under m16n8k16: zero K tiles */
      {&BF16, {32, 16, 64, 4, 0, 0}, 40, 30, 130},
      {&S8, {32, 32, 16, 4, 0, 0}, 33, 31, 50}, /* K = 16 under m16n8k32 */
      {&S8, {4, 16, 32, 2, 0, 0}, 7, 16, 32},   /* M = 4: rows repeated */
      {&E4M3, {16, 32, 64, 2, 0, 0}, 16, 64, 64},
      {&B1, {16, 16, 4, 2, 0, 0}, 16, 16, 9}, /* 4 words: half an instruction */
      {&B1, {16, 8, 2, 1, 0, 0}, 16, 8, 6},   /* 2 words: padded */
      {&U8, {64, 64, 64, 8, 0, 0}, 64, 64, 64},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    check_mm(cases[i].et, &cases[i].cf, cases[i].et->target, cases[i].M, cases[i].N, cases[i].K);
}

static void test_sim_shared(void) {
  static const struct {
    const etype *et;
    config cf;
    int M, N, K;
  } cases[] = {
      {&F16, {64, 64, 32, 4, 1, 0}, 100, 70, 75},
      {&F16, {64, 64, 32, 4, 1, 4}, 64, 128, 64},
      {&BF16, {32, 64, 64, 4, 1, 8}, 60, 64, 100},
      {&F16_SM75, {32, 32, 16, 4, 1, 2}, 32, 32, 48},
      {&S8, {32, 32, 64, 4, 1, 2}, 40, 32, 64},
      {&E5M2, {64, 32, 32, 4, 1, 0}, 64, 32, 96},
      {&B1, {32, 32, 8, 4, 1, 2}, 32, 32, 16},
      /* K of 8 tiles or more: the rolled K loop (two K tiles per iteration) */
      {&F16, {32, 32, 128, 4, 1, 4}, 40, 32, 300},
      {&F16_SM75, {32, 32, 64, 4, 1, 4}, 32, 48, 100},
      {&E5M2, {32, 32, 128, 4, 1, 2}, 32, 32, 200},
      {&S8, {32, 64, 128, 4, 0, 0}, 32, 64, 160},
      {&B1, {16, 32, 32, 2, 1, 8}, 16, 40, 70},
      /* fewer rows than a fragment read from a buffer (ldmatrix rows wrap below 8) */
      {&F16, {8, 64, 128, 4, 1, 4}, 12, 64, 300},
      {&F16, {4, 32, 32, 2, 1, 0}, 7, 32, 64},
      {&BF16, {1, 32, 64, 1, 1, 4}, 3, 40, 100},
      {&S8, {8, 32, 64, 2, 1, 2}, 9, 32, 64},
      {&E4M3, {2, 16, 64, 1, 1, 0}, 2, 16, 64},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    check_mm(cases[i].et, &cases[i].cf, cases[i].et->target, cases[i].M, cases[i].N, cases[i].K);
}

/* A row maximum of a dot's result, subtracted, rounded to f16 and multiplied by a third matrix (the
 * shape of attention's two products): the reduce and broadcast on the mma layout, the cast, and the
 * second dot's A operand from the first's accumulator (a register copy or a conversion). Small
 * integer inputs keep every value exact. */
static char *k_chain; /* tests/unit/ir/mma_lowering/chain.ir */

static void check_chain(int bm, int bn, int bk, int dd, int warps, const char *target) {
  char num[5][16], err[2048] = "";
  snprintf(num[0], 16, "%d", bm), snprintf(num[1], 16, "%d", bn), snprintf(num[2], 16, "%d", bk);
  snprintf(num[3], 16, "%d", dd), snprintf(num[4], 16, "%d", warps);
  const char *keys[] = {"$BM", "$BN", "$BK", "$D", "$W"}, *vals[] = {num[0], num[1], num[2], num[3], num[4]};
  char *text = test_subst(k_chain, keys, vals, 5);
  uint16_t *a = malloc(bm * bk * 2), *b = malloc(bk * bn * 2), *v = malloc(bn * dd * 2);
  int *ai = malloc(bm * bk * sizeof(int)), *bi = malloc(bk * bn * sizeof(int)),
      *vi = malloc(bn * dd * sizeof(int));
  float *out = malloc(bm * dd * 4), *rmax = malloc(bm * 4);
  static const uint16_t f16_int[9] = {0xc400, 0xc200, 0xc000, 0xbc00, 0, 0x3c00, 0x4000, 0x4200, 0x4400};
  for (int i = 0; i < bm * bk; i++) ai[i] = (int)(test_rand() % 9), a[i] = f16_int[ai[i]], ai[i] -= 4;
  for (int i = 0; i < bk * bn; i++) bi[i] = (int)(test_rand() % 9), b[i] = f16_int[bi[i]], bi[i] -= 4;
  for (int i = 0; i < bn * dd; i++) vi[i] = (int)(test_rand() % 9), v[i] = f16_int[vi[i]], vi[i] -= 4;
  memset(out, 0xff, bm * dd * 4), memset(rmax, 0xff, bm * 4);
  cg_result res;
  if (test_compile_ir(text, "mm.ir", tg_target_lookup(target), CG_SIM, &res, err, sizeof err)) {
    fprintf(stderr, "chain %dx%dx%d D=%d warps=%d: %s\n", bm, bn, bk, dd, warps, err);
    test_failures++;
  } else {
    sim_arg args[5] = {{.is_ptr = 1, .elem = IR_F16, .ptr = a, .bytes = bm * bk * 2},
                       {.is_ptr = 1, .elem = IR_F16, .ptr = b, .bytes = bk * bn * 2},
                       {.is_ptr = 1, .elem = IR_F16, .ptr = v, .bytes = bn * dd * 2},
                       {.is_ptr = 1, .elem = IR_F32, .ptr = out, .bytes = bm * dd * 4},
                       {.is_ptr = 1, .elem = IR_F32, .ptr = rmax, .bytes = bm * 4}};
    int64_t grid[3] = {1, 1, 1};
    sim_opts so = {.workers = 1};
    if (sim_launch(&res, args, 5, grid, &so, err, sizeof err)) {
      fprintf(stderr, "chain %dx%dx%d D=%d warps=%d: sim: %s\n", bm, bn, bk, dd, warps, err);
      test_failures++;
    } else {
      int bad = 0, *srow = malloc(bn * sizeof(int));
      for (int m = 0; m < bm; m++) {
        int mx = -(1 << 30);
        for (int n = 0; n < bn; n++) {
          srow[n] = 0;
          for (int k = 0; k < bk; k++) srow[n] += ai[m * bk + k] * bi[k * bn + n];
          if (srow[n] > mx) mx = srow[n];
        }
        bad += rmax[m] != (float)mx;
        for (int c = 0; c < dd; c++) {
          long want = 0;
          for (int n = 0; n < bn; n++) want += (long)(srow[n] - mx) * vi[n * dd + c];
          if (out[m * dd + c] != (float)want && bad++ < 5)
            fprintf(stderr, "chain %dx%dx%d D=%d warps=%d: o[%d][%d] = %g, want %ld\n", bm, bn, bk, dd, warps,
                    m, c, out[m * dd + c], want);
        }
      }
      free(srow);
      test_failures += bad;
      checked += (long)bm * (dd + 1), runs++;
    }
    cg_result_free(&res);
  }
  free(text), free(a), free(b), free(v), free(ai), free(bi), free(vi), free(out), free(rmax);
}

static void test_sim_chain(void) {
  check_chain(64, 64, 32, 32, 4, "sm_80");  /* first dot 2 x 2 warps, second 4 x 1: P converts */
  check_chain(64, 16, 32, 16, 4, "sm_80");  /* both 4 x 1: P stays in registers */
  check_chain(128, 64, 16, 64, 8, "sm_80"); /* 8 warps: row maxima across 2 warps */
  check_chain(32, 32, 16, 32, 4, "sm_75");  /* m16n8k8 */
  check_chain(8, 32, 16, 16, 2, "sm_80");   /* M = 8: rows repeated, P from registers */
  check_chain(4, 16, 16, 8, 1, "sm_75");
}

/* ---- 2. NVPTX on every target row ---- */

/* The PTX spelling of the instruction a type maps to on target t, or NULL if none. */
static const char *mma_spelling(const etype *et, const tg_target *t, char *buf, size_t n) {
  tg_mma_pick p;
  ir_elem te = (ir_elem)ir_elem_parse(et->t, (int)strlen(et->t));
  ir_elem tc = (ir_elem)ir_elem_parse(et->c, (int)strlen(et->c));
  if (!tg_mma_pick_for(t, te, te, tc, et->p, &p)) return NULL;
  const char *in = et->b1 ? "b1" : !strcmp(et->t, "i8") ? "s8" : et->t;
  snprintf(buf, n, "mma.sync.aligned.m16n8k%d.row.col.%s.%s.%s.%s", et->b1 ? 256 : p.k,
           p.acc_int ? "s32" : "f32", in, in, p.acc_int ? "s32" : "f32");
  return buf;
}

static void test_nvptx_rows(void) {
  const char *ptxas = test_ptxas();
  if (!ptxas) printf("test_mma_lowering: ptxas not found: PTX not assembled\n");
  const etype *types[] = {&F16, &BF16, &E4M3, &E5M2, &S8, &U8, &B1};
  config regs = {64, 64, 32, 4, 0, 0}, smem = {64, 64, 32, 4, 1, 4}, b1 = {64, 64, 8, 4, 1, 2};
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    for (int r = 0; r < tg_ntargets; r++) {
      const tg_target *t = &tg_targets[r];
      for (int v = 0; v < 2; v++) {
        if (v && strcmp(t->name, types[i]->target) && strcmp(t->name, "sm_90a")) continue; /* time */
        config cf = v ? (types[i]->b1 ? b1 : smem) : regs;
        if (types[i]->b1 && !v) cf.bk = 8;
        if (types[i]->bytes == 1) cf.bk = 64; /* rows of 64 bytes: 4 chunks to swizzle */
        char *text = mm_text(types[i], &cf), err[2048] = "", want[128];
        const char *spell = mma_spelling(types[i], t, want, sizeof want);
        cg_result res;
        int rc = test_compile_ir(text, "mm.ir", t, CG_NVPTX, &res, err, sizeof err);
        free(text);
        int fp8 = !strcmp(types[i]->t, "e4m3") || !strcmp(types[i]->t, "e5m2");
        int refused = (!strcmp(types[i]->t, "bf16") && !(t->features & TG_F_BF16)) ||
                      (fp8 && !(t->features & TG_F_FP8_CVT)) ||
                      (types[i]->b1 && !(t->features & TG_F_MMA_B1_AND));
        if (refused) { /* as before tensor cores: one line naming the op and the target */
          if (rc == 0 || !strstr(err, "op 'dot' needs") || !strstr(err, t->name) || strchr(err, '\n')) {
            fprintf(stderr, "%s on %s: want a one-line refusal, got rc %d: %s\n", types[i]->t, t->name, rc,
                    err);
            test_failures++;
          }
          if (rc == 0) cg_result_free(&res);
          continue;
        }
        if (rc) {
          fprintf(stderr, "%s on %s (%s): %s\n", types[i]->t, t->name, v ? "shared" : "registers", err);
          test_failures++;
          continue;
        }
        /* the instruction where the row has it (ldmatrix for 16-bit operands), FMAs elsewhere */
        if (spell ? !strstr(res.ptx, spell) : strstr(res.ptx, "mma.sync") != NULL) {
          fprintf(stderr, "%s on %s: PTX should %s\n", types[i]->t, t->name,
                  spell ? spell : "have no mma.sync");
          test_failures++;
        }
        if (spell && types[i]->bytes == 2) CHECK(strstr(res.ptx, "ldmatrix.sync.aligned.m8n8.x4") != NULL);
        if (ptxas && test_ptxas_accepts(res.ptx, t->name)) {
          fprintf(stderr, "  (%s x %s on %s, %s)\n", types[i]->t, types[i]->t, t->name,
                  v ? "shared" : "registers");
          test_failures++;
        }
        cg_result_free(&res);
      }
    }
}

int main(void) {
  k_mm_regs = test_ir_file("tests/unit/ir/mma_lowering/mm_regs.ir");
  k_mm_smem = test_ir_file("tests/unit/ir/mma_lowering/mm_smem.ir");
  k_chain = test_ir_file("tests/unit/ir/mma_lowering/chain.ir");
  if (!k_mm_regs || !k_mm_smem || !k_chain) return test_done("test_mma_lowering");
  test_sim_types();
  test_sim_shapes();
  test_sim_shared();
  test_sim_chain();
  test_nvptx_rows();
  printf("test_mma_lowering: %ld kernels, %ld elements checked\n", runs, checked);
  return test_done("test_mma_lowering");
}
