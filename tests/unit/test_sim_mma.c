/*
 * test_sim_mma.c - the simulator's tensor-core ops against plain C references.
 *
 *   mma:      for every kind, fresh random A, B, C; fragments packed for all 32 lanes by the layouts
 *             of docs/tensor-cores.md (written out per family here, independently of the simulator's
 *             generic formula); D poisoned, computed by the simulator, unpacked and compared element
 *             by element with a C matmul (f32: within one f32 ulp of the exact sum; s32: exactly, with
 *             wraparound). Also in place (d == c), the element decoders on known values, NaN
 *             propagation, and integer wraparound.
 *   ldmatrix: x1/x2/x4, with and without .trans, rows scattered through shared memory, against a
 *             C gather.
 *   cp.async: zero fill, copies deferred to the wait, in-flight detection, wait_group(n) covering
 *             only older groups, the open group, and the errors a GPU leaves undefined.
 *   lowering: the CG_SIM hooks (devops_sim_mma.c) in a JIT-compiled kernel run lane by lane, with the
 *             ABI entry points stood in for by recorders: registers, kinds, sizes and sites arrive
 *             intact and results come back into the right registers.
 */
#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/devops.h"
#include "codegen/devops_mma.h"
#include "codegen/sim_abi.h"
#include "ir/elem_float.h"
#include "sim/sim_mma.h"
#include "test.h"

static const uint32_t POISON = 0xDEADBEEFu;

/* ---- reference decoders (formulas straight from the format definitions) ---- */

static double ref_f16(uint32_t h) {
  int s = (h >> 15) & 1, e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0    ? m / 1024.0 * exp2(-14)
             : e == 31 ? (m ? NAN : INFINITY)
                       : (1 + m / 1024.0) * exp2(e - 15);
  return s ? -v : v;
}

static double ref_bf16(uint32_t h) {
  uint32_t u = (h & 0xffff) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static double ref_e4m3(uint32_t x) {
  int s = (x >> 7) & 1, e = (x >> 3) & 15, m = x & 7;
  double v = (x & 0x7f) == 0x7f ? NAN : e == 0 ? m / 8.0 * exp2(-6) : (1 + m / 8.0) * exp2(e - 7);
  return s ? -v : v;
}

static double ref_e5m2(uint32_t x) {
  int s = (x >> 7) & 1, e = (x >> 2) & 31, m = x & 3;
  double v = e == 0 ? m / 4.0 * exp2(-14) : e == 31 ? (m ? NAN : INFINITY) : (1 + m / 4.0) * exp2(e - 15);
  return s ? -v : v;
}

static void test_decoders(void) {
  CHECK(ir_f16_to_double(0x3C00) == 1.0 && ir_f16_to_double(0x7BFF) == 65504.0);
  CHECK(ir_f16_to_double(0x0001) == exp2(-24) && ir_f16_to_double(0xC000) == -2.0);
  CHECK(isinf(ir_f16_to_double(0x7C00)) && isnan(ir_f16_to_double(0x7E00)));
  CHECK(ir_bf16_to_double(0x3F80) == 1.0 && ir_bf16_to_double(0xC040) == -3.0);
  CHECK(ir_e4m3_to_double(0x7E) == 448.0 && ir_e4m3_to_double(0x08) == exp2(-6));
  CHECK(ir_e4m3_to_double(0x01) == exp2(-9) && isnan(ir_e4m3_to_double(0xFF)));
  CHECK(ir_e4m3_to_double(0x78) == 256.0 && ir_e4m3_to_double(0xB8) == -1.0);
  CHECK(ir_e5m2_to_double(0x7B) == 57344.0 && ir_e5m2_to_double(0x01) == exp2(-16));
  CHECK(isinf(ir_e5m2_to_double(0x7C)) && isnan(ir_e5m2_to_double(0x7D)) && ir_e5m2_to_double(0x3C) == 1.0);
  for (uint32_t x = 0; x < 256; x++) {
    double a = ir_e4m3_to_double((uint8_t)x), b = ref_e4m3(x), c = ir_e5m2_to_double((uint8_t)x),
           d = ref_e5m2(x);
    CHECK((isnan(a) && isnan(b)) || a == b);
    CHECK((isnan(c) && isnan(d)) || c == d);
  }
  for (uint32_t h = 0; h < 65536; h++) {
    double a = ir_f16_to_double((uint16_t)h), b = ref_f16(h);
    if (!((isnan(a) && isnan(b)) || a == b)) {
      CHECK(!"f16 decoder");
      break;
    }
  }
}

/* ---- mma: matrices, fragments per the documented layouts, reference ---- */

typedef struct {
  cg_mma_kind kind;
  int K;
  uint32_t A[16][256], B[256][8]; /* element bit patterns (b1: one bit each) */
  uint32_t C[16][8];              /* f32 bits or s32 */
  uint32_t a[32][4], b[32][2], c[32][4], d[32][4];
} mma_case;

static uint32_t pack2(uint32_t lo, uint32_t hi) { return (lo & 0xffff) | (hi & 0xffff) << 16; }
static uint32_t pack4(const uint32_t *v, int stride) {
  return (v[0] & 0xff) | (v[stride] & 0xff) << 8 | (v[2 * stride] & 0xff) << 16 |
         (v[3 * stride] & 0xff) << 24;
}
static uint32_t pack32(const uint32_t *v, int stride) {
  uint32_t w = 0;
  for (int i = 0; i < 32; i++) w |= (v[i * stride] & 1) << i;
  return w;
}

/* The A, B and C fragments of every lane, written out per family. */
static void pack_fragments(mma_case *m) {
  const cg_mma_info *mi = cg_mma_info_of(m->kind);
  for (int l = 0; l < 32; l++) {
    int g = l / 4, t = l % 4;
    if (mi->in_bits == 16 && m->K == 8) { /* m16n8k8 */
      m->a[l][0] = pack2(m->A[g][2 * t], m->A[g][2 * t + 1]);
      m->a[l][1] = pack2(m->A[g + 8][2 * t], m->A[g + 8][2 * t + 1]);
      m->b[l][0] = pack2(m->B[2 * t][g], m->B[2 * t + 1][g]);
    } else if (mi->in_bits == 16) { /* m16n8k16 */
      m->a[l][0] = pack2(m->A[g][2 * t], m->A[g][2 * t + 1]);
      m->a[l][1] = pack2(m->A[g + 8][2 * t], m->A[g + 8][2 * t + 1]);
      m->a[l][2] = pack2(m->A[g][2 * t + 8], m->A[g][2 * t + 9]);
      m->a[l][3] = pack2(m->A[g + 8][2 * t + 8], m->A[g + 8][2 * t + 9]);
      m->b[l][0] = pack2(m->B[2 * t][g], m->B[2 * t + 1][g]);
      m->b[l][1] = pack2(m->B[2 * t + 8][g], m->B[2 * t + 9][g]);
    } else if (mi->in_bits == 8) { /* m16n8k32 */
      m->a[l][0] = pack4(&m->A[g][4 * t], 1);
      m->a[l][1] = pack4(&m->A[g + 8][4 * t], 1);
      m->a[l][2] = pack4(&m->A[g][4 * t + 16], 1);
      m->a[l][3] = pack4(&m->A[g + 8][4 * t + 16], 1);
      m->b[l][0] = pack4(&m->B[4 * t][g], 8);
      m->b[l][1] = pack4(&m->B[4 * t + 16][g], 8);
    } else { /* m16n8k256 b1 */
      m->a[l][0] = pack32(&m->A[g][32 * t], 1);
      m->a[l][1] = pack32(&m->A[g + 8][32 * t], 1);
      m->a[l][2] = pack32(&m->A[g][32 * t + 128], 1);
      m->a[l][3] = pack32(&m->A[g + 8][32 * t + 128], 1);
      m->b[l][0] = pack32(&m->B[32 * t][g], 8);
      m->b[l][1] = pack32(&m->B[32 * t + 128][g], 8);
    }
    m->c[l][0] = m->C[g][2 * t], m->c[l][1] = m->C[g][2 * t + 1];
    m->c[l][2] = m->C[g + 8][2 * t], m->c[l][3] = m->C[g + 8][2 * t + 1];
  }
}

static double elem_value(cg_mma_in in, uint32_t x) {
  switch (in) {
  case CG_MMA_IN_F16: return ref_f16(x);
  case CG_MMA_IN_BF16: return ref_bf16(x);
  case CG_MMA_IN_S8: return (int8_t)x;
  case CG_MMA_IN_U8: return (uint8_t)x;
  case CG_MMA_IN_E4M3: return ref_e4m3(x);
  case CG_MMA_IN_E5M2: return ref_e5m2(x);
  case CG_MMA_IN_B1: return x & 1;
  }
  return 0;
}

static float f32_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* Checks D[i][j] (unpacked from lane fragments) against the reference; returns the mismatches. */
static int check_result(const mma_case *m, const char *what) {
  const cg_mma_info *mi = cg_mma_info_of(m->kind);
  int bad = 0;
  for (int l = 0; l < 32; l++)
    for (int r = 0; r < 4; r++) {
      int i = l / 4 + 8 * (r / 2), j = 2 * (l % 4) + r % 2;
      uint32_t got = m->d[l][r];
      if (mi->acc_int) {
        int64_t s = (int32_t)m->C[i][j];
        for (int k = 0; k < m->K; k++)
          s += mi->in == CG_MMA_IN_B1
                   ? (int64_t)(m->A[i][k] & m->B[k][j] & 1)
                   : (int64_t)elem_value(mi->in, m->A[i][k]) * (int64_t)elem_value(mi->in, m->B[k][j]);
        if (got == (uint32_t)s) continue;
        if (bad++ < 5)
          fprintf(stderr, "%s: D[%d][%d] = %d, want %d\n", what, i, j, (int32_t)got, (int32_t)(uint32_t)s);
        continue;
      }
      long double s = 0, mag = fabsf(f32_of(m->C[i][j]));
      for (int k = 0; k < m->K; k++) {
        long double p = (long double)elem_value(mi->in, m->A[i][k]) * elem_value(mi->in, m->B[k][j]);
        s += p, mag += fabsl(p);
      }
      s += f32_of(m->C[i][j]);
      int ok;
      if (isnan(s))
        ok = got == 0x7fffffffu;
      else if (isinf((float)s))
        ok = got == bits_of((float)s);
      else {
        float want = (float)s, g = f32_of(got);
        float ulp = nextafterf(fabsf(want), INFINITY) - fabsf(want);
        ok = !isnan(g) && fabsl((long double)g - s) <= ulp + ldexpl(mag, -48);
      }
      if (ok) continue;
      if (bad++ < 5)
        fprintf(stderr, "%s: D[%d][%d] = %a (0x%08x), want %La\n", what, i, j, f32_of(got), got, s);
    }
  return bad;
}

/* A random finite element of encoding `in`; `nice` draws from small exact values instead. */
static uint32_t rand_elem(cg_mma_in in, int nice) {
  for (;;) {
    uint32_t x = test_rand();
    switch (in) {
    case CG_MMA_IN_F16:
      x &= 0xffff;
      if (nice) x = (x & 0x83ff) | (uint32_t)(13 + test_rand() % 5) << 10; /* |x| in [2^-2, 2^3) */
      if (((x >> 10) & 31) != 31) return x;
      break;
    case CG_MMA_IN_BF16:
      x &= 0xffff;
      x = (x & 0x807f) | (uint32_t)(127 - 30 + test_rand() % (nice ? 8 : 60)) << 7;
      return x;
    case CG_MMA_IN_S8:
    case CG_MMA_IN_U8: return x & 0xff;
    case CG_MMA_IN_E4M3:
      x &= 0xff;
      if ((x & 0x7f) != 0x7f) return x;
      break;
    case CG_MMA_IN_E5M2:
      x &= 0xff;
      if (((x >> 2) & 31) != 31) return x;
      break;
    case CG_MMA_IN_B1: return x & 1;
    }
  }
}

static void fill_case(mma_case *m, cg_mma_kind kind, int nice) {
  const cg_mma_info *mi = cg_mma_info_of(kind);
  m->kind = kind;
  m->K = mi->k;
  for (int i = 0; i < 16; i++)
    for (int k = 0; k < m->K; k++) m->A[i][k] = rand_elem(mi->in, nice);
  for (int k = 0; k < m->K; k++)
    for (int j = 0; j < 8; j++) m->B[k][j] = rand_elem(mi->in, nice);
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 8; j++)
      m->C[i][j] = mi->acc_int ? test_rand()
                               : bits_of((float)((int32_t)test_rand() / 2147483648.0 * (nice ? 4 : 1000)));
  pack_fragments(m);
  for (int l = 0; l < 32; l++)
    for (int r = 0; r < 4; r++) m->d[l][r] = POISON;
}

static void test_mma_kind(cg_mma_kind kind, int trials) {
  static mma_case m;
  const char *name = cg_mma_info_of(kind)->name;
  for (int n = 0; n < trials; n++) {
    fill_case(&m, kind, n % 2);
    sim_mma_warp(kind, (const uint32_t(*)[4])m.a, (const uint32_t(*)[2])m.b, (const uint32_t(*)[4])m.c, m.d);
    if (check_result(&m, name)) {
      test_failures++;
      return;
    }
    memcpy(m.d, m.c, sizeof m.d); /* in place: d aliases c */
    sim_mma_warp(kind, (const uint32_t(*)[4])m.a, (const uint32_t(*)[2])m.b, (const uint32_t(*)[4])m.d, m.d);
    if (check_result(&m, name)) {
      fprintf(stderr, "%s: in-place result differs\n", name);
      test_failures++;
      return;
    }
  }
}

/* NaN in A[3][5] poisons row 3 of D only; s32 sums wrap; b1 with all ones counts K. */
static void test_mma_special(void) {
  static mma_case m;
  fill_case(&m, CG_MMA_F16_K16, 1);
  m.A[3][5] = 0x7E00;
  pack_fragments(&m);
  sim_mma_warp(m.kind, (const uint32_t(*)[4])m.a, (const uint32_t(*)[2])m.b, (const uint32_t(*)[4])m.c, m.d);
  CHECK(check_result(&m, "f16 NaN") == 0);
  for (int l = 0; l < 32; l++)
    for (int r = 0; r < 4; r++) CHECK((m.d[l][r] == 0x7fffffffu) == (l / 4 + 8 * (r / 2) == 3));

  fill_case(&m, CG_MMA_S8_K32, 0);
  for (int k = 0; k < 32; k++)
    for (int j = 0; j < 8; j++) m.A[0][k] = 0x80, m.B[k][j] = 0x80; /* (-128)^2 * 32 = 2^19 */
  m.C[0][0] = 0x7fffffffu;
  pack_fragments(&m);
  sim_mma_warp(m.kind, (const uint32_t(*)[4])m.a, (const uint32_t(*)[2])m.b, (const uint32_t(*)[4])m.c, m.d);
  CHECK(check_result(&m, "s8 wrap") == 0);
  CHECK(m.d[0][0] == 0x7fffffffu + (1u << 19));

  fill_case(&m, CG_MMA_B1_AND_K256, 0);
  for (int k = 0; k < 256; k++) m.A[15][k] = 1, m.B[k][7] = 1;
  m.C[15][7] = 5;
  pack_fragments(&m);
  sim_mma_warp(m.kind, (const uint32_t(*)[4])m.a, (const uint32_t(*)[2])m.b, (const uint32_t(*)[4])m.c, m.d);
  CHECK(m.d[31][3] == 261); /* lane 31 register 3 is D[15][7] */
  CHECK(check_result(&m, "b1 ones") == 0);
}

/* ---- ldmatrix ---- */

static void test_ldmatrix(void) {
  static uint16_t smem[4096];
  for (int trial = 0; trial < 20; trial++)
    for (int num = 1; num <= 4; num *= 2)
      for (int trans = 0; trans < 2; trans++) {
        for (int i = 0; i < 4096; i++) smem[i] = (uint16_t)test_rand();
        const void *rows[32];
        int row_at[32];
        for (int l = 0; l < 32; l++) { /* each row somewhere 16-byte aligned, distinct */
          row_at[l] = 8 * (int)(test_rand() % 512);
          for (int p = 0; p < l; p++)
            if (row_at[p] == row_at[l]) row_at[l] = 8 * (int)(test_rand() % 512), p = -1;
          rows[l] = l < 8 * num ? (const void *)&smem[row_at[l]] : NULL; /* lanes past 8*num give none */
        }
        uint32_t out[32][4], *outp[32];
        for (int l = 0; l < 32; l++) {
          for (int j = 0; j < 4; j++) out[l][j] = POISON;
          outp[l] = out[l];
        }
        sim_ldmatrix_lanes(num, trans, rows, outp);
        int bad = 0;
        for (int l = 0; l < 32; l++)
          for (int j = 0; j < 4; j++) {
            uint32_t want = POISON;
            if (j < num) {
              int r = l / 4, c = 2 * (l % 4);
              /* element [r][c] of matrix j is smem[row_at[8j + r] + c] */
              uint32_t e0 = trans ? smem[row_at[8 * j + c] + r] : smem[row_at[8 * j + r] + c];
              uint32_t e1 = trans ? smem[row_at[8 * j + c + 1] + r] : smem[row_at[8 * j + r] + c + 1];
              want = e0 | e1 << 16;
            }
            bad += out[l][j] != want;
          }
        if (bad) {
          fprintf(stderr, "ldmatrix x%d trans=%d: %d registers wrong\n", num, trans, bad);
          test_failures++;
          return;
        }
      }
}

/* ---- cp.async ---- */

static void test_cp_async(void) {
  static _Alignas(16) unsigned char shared[1024], global[256];
  char err[200];
  sim_cp_shadow sh;
  sim_cp_queue q = {0};
  sim_cp_shadow_init(&sh, shared, sizeof shared);
  for (int i = 0; i < 256; i++) global[i] = (unsigned char)test_rand();
  memset(shared, 0xAA, sizeof shared);
  CHECK(!sim_cp_async_inflight(&sh, shared, sizeof shared));

  /* group 0: 16 bytes with 5 read (zero fill), 8 bytes full; group 1: 4 bytes; open: 16 bytes */
  CHECK(sim_cp_async_issue(&q, &sh, shared + 0, global + 16, 16, 5, err, sizeof err) == 0);
  CHECK(sim_cp_async_issue(&q, &sh, shared + 32, global + 40, 8, 8, err, sizeof err) == 0);
  sim_cp_async_commit(&q);
  CHECK(sim_cp_async_issue(&q, &sh, shared + 64, global + 100, 4, 4, err, sizeof err) == 0);
  sim_cp_async_commit(&q);
  CHECK(sim_cp_async_issue(&q, &sh, shared + 128, global + 0, 16, 0, err, sizeof err) == 0); /* masked off */
  CHECK(shared[0] == 0xAA && shared[64] == 0xAA); /* nothing copied before a wait */
  CHECK(sim_cp_async_inflight(&sh, shared + 15, 1) && sim_cp_async_inflight(&sh, shared + 60, 8));
  CHECK(!sim_cp_async_inflight(&sh, shared + 16, 16) && !sim_cp_async_inflight(&sh, shared + 40, 24));

  CHECK(sim_cp_async_wait(&q, &sh, 1) == 2); /* group 0 only */
  CHECK(memcmp(shared, global + 16, 5) == 0);
  for (int i = 5; i < 16; i++) CHECK(shared[i] == 0);
  CHECK(memcmp(shared + 32, global + 40, 8) == 0 && shared[16] == 0xAA && shared[40] == 0xAA);
  CHECK(shared[64] == 0xAA && !sim_cp_async_inflight(&sh, shared, 64) &&
        sim_cp_async_inflight(&sh, shared + 66, 1));

  CHECK(sim_cp_async_wait(&q, &sh, 0) == 1); /* group 1; the open copy stays */
  CHECK(memcmp(shared + 64, global + 100, 4) == 0 && shared[68] == 0xAA);
  CHECK(shared[128] == 0xAA && sim_cp_async_inflight(&sh, shared + 128, 16));
  CHECK(sim_cp_async_wait(&q, &sh, 0) == 0);
  sim_cp_async_commit(&q);
  CHECK(sim_cp_async_wait(&q, &sh, 1) == 0); /* it is now the most recent group */
  CHECK(sim_cp_async_wait(&q, &sh, 0) == 1);
  for (int i = 128; i < 144; i++) CHECK(shared[i] == 0);
  CHECK(!sim_cp_async_inflight(&sh, shared, sizeof shared) && sh.ninflight == 0);

  /* two copies to the same bytes stay in flight until both are done; thread exit drains all */
  CHECK(sim_cp_async_issue(&q, &sh, shared + 256, global, 8, 8, err, sizeof err) == 0);
  sim_cp_async_commit(&q);
  CHECK(sim_cp_async_issue(&q, &sh, shared + 256, global + 8, 8, 8, err, sizeof err) == 0);
  CHECK(sim_cp_async_wait(&q, &sh, 0) == 1 && sim_cp_async_inflight(&sh, shared + 256, 1));
  CHECK(sim_cp_async_wait(&q, &sh, -1) == 1 && !sim_cp_async_inflight(&sh, shared + 256, 8));
  CHECK(memcmp(shared + 256, global + 8, 8) == 0); /* issue order: the later copy wins */

  /* errors */
  CHECK(sim_cp_async_issue(&q, &sh, shared, global, 12, 12, err, sizeof err) == -1 &&
        strstr(err, "4, 8 or 16"));
  CHECK(sim_cp_async_issue(&q, &sh, shared, global, 8, 9, err, sizeof err) == -1 &&
        strstr(err, "source bytes"));
  CHECK(sim_cp_async_issue(&q, &sh, shared + 4, global, 16, 16, err, sizeof err) == -1 &&
        strstr(err, "aligned"));
  CHECK(sim_cp_async_issue(&q, &sh, shared, global + 4, 16, 16, err, sizeof err) == -1 &&
        strstr(err, "aligned"));
  CHECK(sim_cp_async_issue(&q, &sh, shared, global + 4, 16, 0, err, sizeof err) == 0); /* src unread */
  CHECK(sim_cp_async_issue(&q, &sh, shared + 1024, global, 4, 4, err, sizeof err) == -1 &&
        strstr(err, "outside"));
  CHECK(sim_cp_async_wait(&q, &sh, -1) == 1 && q.n == 0);
  sim_cp_queue_free(&q);
  sim_cp_shadow_free(&sh);
}

/* ---- the CG_SIM lowering, JIT-compiled, with recorders for the ABI ---- */

/* The kernels run one lane at a time: pass 0 records each lane's operands (results poisoned), the
 * warp's results are computed from the records, pass 1 hands each lane its results. */
static int cur_lane, pass;
static sim_tstate mock_ts;
static struct {
  int32_t kind, num, trans;
  uint32_t a[32][4], b[32][2], c[32][4], d[32][4];
  const void *row[32];
  const char *site;
} rec;
static char cp_log[32][256];

static sim_tstate *mock_thread(void) { return &mock_ts; }

static void mock_mma(int32_t kind, const uint32_t *a, const uint32_t *b, const uint32_t *c, uint32_t *d,
                     const char *site) {
  const cg_mma_info *mi = cg_mma_info_of((cg_mma_kind)kind);
  rec.kind = kind, rec.site = site;
  memcpy(rec.a[cur_lane], a, 4 * (size_t)mi->na);
  memcpy(rec.b[cur_lane], b, 4 * (size_t)mi->nb);
  memcpy(rec.c[cur_lane], c, 4 * (size_t)mi->nc);
  for (int i = 0; i < mi->nc; i++) d[i] = pass ? rec.d[cur_lane][i] : POISON;
}

static void mock_ldmatrix(int32_t num, int32_t trans, const void *row, uint32_t *out, const char *site) {
  rec.num = num, rec.trans = trans, rec.site = site, rec.row[cur_lane] = row;
  for (int i = 0; i < num; i++) out[i] = pass ? rec.d[cur_lane][i] : POISON;
}

static void cp_log_add(const char *text) {
  char *s = cp_log[cur_lane];
  size_t n = strlen(s);
  snprintf(s + n, sizeof cp_log[0] - n, "%s ", text);
}
static const unsigned char *cp_base;
static void mock_cp_async(void *dst, const void *src, int32_t bytes, int32_t src_bytes, const char *site) {
  char t[80];
  snprintf(t, sizeof t, "cp(%ld,%ld,%d,%d)", (long)((const unsigned char *)dst - cp_base),
           (long)((const unsigned char *)src - cp_base), bytes, src_bytes);
  rec.site = site;
  cp_log_add(t);
}
static void mock_cp_commit(const char *site) { cp_log_add("commit"); }
static void mock_cp_wait(int32_t n, const char *site) {
  char t[32];
  snprintf(t, sizeof t, "wait(%d)", n);
  cp_log_add(t);
}

typedef struct {
  cg_ctx c;
  LLVMTypeRef i32;
  LLVMValueRef in, out, lane;
} gk;

/* void NAME(ptr in, ptr out) through the CG_SIM device ops; lane = %laneid. */
static void gk_begin(gk *k, const char *name) {
  LLVMTypeRef p = LLVMPointerTypeInContext(k->c.ctx, 0), params[2] = {p, p};
  cg_devops_sim.kernel_begin(&k->c, name, params, 2);
  k->in = LLVMGetParam(k->c.fn, 0), k->out = LLVMGetParam(k->c.fn, 1);
  k->lane = cg_devops_sim.sreg(&k->c, CG_LANEID);
}

/* Byte address of word lane*16 + i of p. */
static LLVMValueRef gk_word(gk *k, LLVMValueRef p, int i) {
  LLVMValueRef idx = LLVMBuildAdd(k->c.b, LLVMBuildMul(k->c.b, k->lane, LLVMConstInt(k->i32, 16, 0), ""),
                                  LLVMConstInt(k->i32, (unsigned)i, 0), "");
  return LLVMBuildGEP2(k->c.b, k->i32, p, &idx, 1, "");
}

static void build_kernels(gk *k, cg_mma_kind kind) {
  const cg_mma_info *mi = cg_mma_info_of(kind);
  LLVMTypeRef acc = mi->acc_int ? k->i32 : LLVMFloatTypeInContext(k->c.ctx);
  LLVMValueRef a[4], b[2], c[4], d[4];
  gk_begin(k, "k_mma");
  for (int i = 0; i < mi->na; i++) a[i] = LLVMBuildLoad2(k->c.b, k->i32, gk_word(k, k->in, i), "");
  for (int i = 0; i < mi->nb; i++) b[i] = LLVMBuildLoad2(k->c.b, k->i32, gk_word(k, k->in, 4 + i), "");
  for (int i = 0; i < mi->nc; i++) c[i] = LLVMBuildLoad2(k->c.b, acc, gk_word(k, k->in, 8 + i), "");
  cg_sim_mma(&k->c, kind, a, b, c, d);
  for (int i = 0; i < mi->nc; i++) {
    CHECK(LLVMTypeOf(d[i]) == acc);
    LLVMBuildStore(k->c.b, d[i], gk_word(k, k->out, i));
  }
  LLVMBuildRetVoid(k->c.b);

  gk_begin(k, "k_ldmatrix"); /* x4.trans, row address = in + 64 * lane */
  LLVMValueRef r[4];
  cg_sim_ldmatrix(&k->c, 4, 1, gk_word(k, k->in, 0), r);
  for (int i = 0; i < 4; i++) LLVMBuildStore(k->c.b, r[i], gk_word(k, k->out, i));
  LLVMBuildRetVoid(k->c.b);

  gk_begin(k, "k_cp_async"); /* 16 bytes with src_bytes from in, 8 and 4 bytes whole, 4 all or nothing */
  LLVMValueRef n = LLVMBuildLoad2(k->c.b, k->i32, gk_word(k, k->in, 0), "");
  cg_sim_cp_async(&k->c, gk_word(k, k->out, 0), gk_word(k, k->in, 4), 16, n);
  cg_sim_cp_async_commit(&k->c);
  cg_sim_cp_async(&k->c, gk_word(k, k->out, 8), gk_word(k, k->in, 8), 8, NULL);
  cg_sim_cp_async(&k->c, gk_word(k, k->out, 12), gk_word(k, k->in, 12), 4, LLVMConstInt(k->i32, 3, 0));
  /* all or nothing: an i1 source size, here "n is odd" */
  LLVMValueRef odd = LLVMBuildTrunc(k->c.b, n, LLVMInt1TypeInContext(k->c.ctx), "");
  cg_sim_cp_async(&k->c, gk_word(k, k->out, 13), gk_word(k, k->in, 13), 4, odd);
  cg_sim_cp_async_commit(&k->c);
  cg_sim_cp_async_wait(&k->c, 1);
  cg_sim_cp_async_wait(&k->c, 0);
  LLVMBuildRetVoid(k->c.b);
}

static LLVMOrcJITTargetAddress jit_sym(LLVMOrcLLJITRef jit, const char *name) {
  LLVMOrcJITTargetAddress addr = 0;
  LLVMErrorRef e = LLVMOrcLLJITLookup(jit, &addr, name);
  if (e) {
    char *m = LLVMGetErrorMessage(e);
    fprintf(stderr, "lookup %s: %s\n", name, m);
    LLVMDisposeErrorMessage(m);
    test_failures++;
    return 0;
  }
  return addr;
}

static LLVMOrcLLJITRef jit_module(LLVMContextRef ctx, LLVMModuleRef mod) {
  LLVMOrcLLJITRef jit;
  if (LLVMOrcCreateLLJIT(&jit, NULL)) abort();
  struct {
    const char *name;
    void *fn;
  } stand_in[] = {{"__kiln_sim_thread", (void *)mock_thread},
                  {"__kiln_sim_mma", (void *)mock_mma},
                  {"__kiln_sim_ldmatrix", (void *)mock_ldmatrix},
                  {"__kiln_sim_cp_async", (void *)mock_cp_async},
                  {"__kiln_sim_cp_async_commit", (void *)mock_cp_commit},
                  {"__kiln_sim_cp_async_wait", (void *)mock_cp_wait}};
  LLVMOrcCSymbolMapPair syms[6];
  for (int i = 0; i < 6; i++) {
    syms[i].Name = LLVMOrcLLJITMangleAndIntern(jit, stand_in[i].name);
    syms[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)stand_in[i].fn;
    syms[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
    syms[i].Sym.Flags.TargetFlags = 0;
  }
  LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(jit);
  if (LLVMOrcJITDylibDefine(jd, LLVMOrcAbsoluteSymbols(syms, 6))) abort();
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContextFromLLVMContext(ctx);
  if (LLVMOrcLLJITAddLLVMIRModule(jit, jd, LLVMOrcCreateNewThreadSafeModule(mod, tsc))) abort();
  LLVMOrcDisposeThreadSafeContext(tsc);
  return jit;
}

typedef void (*kernel_fn)(void *in, void *out);

static void run_lanes(kernel_fn f, void *in, void *out, int p) {
  pass = p;
  for (int l = 0; l < 32; l++) {
    cur_lane = l;
    mock_ts.sreg[CG_LANEID] = l;
    f(in, out);
  }
}

static void test_lowering(cg_mma_kind kind) {
  const char *site = "dot %7 (test.lua:3)";
  gk k = {{0}};
  k.c.ctx = LLVMContextCreate();
  k.c.mod = LLVMModuleCreateWithNameInContext("sim_mma", k.c.ctx);
  k.c.b = LLVMCreateBuilderInContext(k.c.ctx);
  k.c.target = tg_target_lookup("sm_90a");
  k.c.ops = &cg_devops_sim;
  k.c.threads = 32;
  k.c.site = site;
  k.i32 = LLVMInt32TypeInContext(k.c.ctx);
  cg_devops_sim.module_init(&k.c);
  build_kernels(&k, kind);
  char *msg = NULL;
  if (LLVMVerifyModule(k.c.mod, LLVMReturnStatusAction, &msg)) {
    fprintf(stderr, "sim lowering does not verify: %s\n", msg);
    test_failures++;
    return;
  }
  LLVMDisposeMessage(msg);
  LLVMDisposeBuilder(k.c.b);
  LLVMOrcLLJITRef jit = jit_module(k.c.ctx, k.c.mod);
  static _Alignas(16) uint32_t in[32 * 16], out[32 * 16];
  const cg_mma_info *mi = cg_mma_info_of(kind);

  /* mma: registers in, results back, f32 accumulators bit-exact through the bitcasts */
  kernel_fn f = (kernel_fn)(uintptr_t)jit_sym(jit, "k_mma");
  for (int i = 0; i < 32 * 16; i++) in[i] = test_rand(), out[i] = POISON;
  memset(&rec, 0, sizeof rec);
  run_lanes(f, in, out, 0);
  CHECK(rec.kind == (int32_t)kind && rec.site && strcmp(rec.site, site) == 0);
  int bad = 0;
  for (int l = 0; l < 32; l++) {
    for (int i = 0; i < mi->na; i++) bad += rec.a[l][i] != in[16 * l + i];
    for (int i = 0; i < mi->nb; i++) bad += rec.b[l][i] != in[16 * l + 4 + i];
    for (int i = 0; i < mi->nc; i++) bad += rec.c[l][i] != in[16 * l + 8 + i];
  }
  sim_mma_warp(kind, (const uint32_t(*)[4])rec.a, (const uint32_t(*)[2])rec.b, (const uint32_t(*)[4])rec.c,
               rec.d);
  run_lanes(f, in, out, 1);
  for (int l = 0; l < 32; l++)
    for (int i = 0; i < 16; i++) bad += out[16 * l + i] != (i < mi->nc ? rec.d[l][i] : POISON);
  if (bad)
    fprintf(stderr, "%s through the CG_SIM lowering: %d registers wrong\n", mi->name, bad), test_failures++;

  /* ldmatrix: each lane's row address, num and trans arrive; four results come back in order */
  f = (kernel_fn)(uintptr_t)jit_sym(jit, "k_ldmatrix");
  for (int i = 0; i < 32 * 16; i++) out[i] = POISON;
  run_lanes(f, in, out, 0);
  CHECK(rec.num == 4 && rec.trans == 1);
  for (int l = 0; l < 32; l++) {
    CHECK(rec.row[l] == (const void *)&in[16 * l]);
    for (int i = 0; i < 4; i++) rec.d[l][i] = test_rand();
  }
  run_lanes(f, in, out, 1);
  bad = 0;
  for (int l = 0; l < 32; l++)
    for (int i = 0; i < 16; i++) bad += out[16 * l + i] != (i < 4 ? rec.d[l][i] : POISON);
  if (bad)
    fprintf(stderr, "ldmatrix through the CG_SIM lowering: %d registers wrong\n", bad), test_failures++;

  /* cp.async: addresses, sizes and zero-fill sizes in program order, commits and waits */
  f = (kernel_fn)(uintptr_t)jit_sym(jit, "k_cp_async");
  memset(cp_log, 0, sizeof cp_log);
  for (int l = 0; l < 32; l++) in[16 * l] = (uint32_t)l % 17;
  cp_base = (const unsigned char *)in;
  run_lanes(f, in, out, 0);
  for (int l = 0; l < 32; l++) {
    char want[256];
    long o = (const unsigned char *)out - cp_base, b = 64L * l;
    snprintf(
        want, sizeof want,
        "cp(%ld,%ld,16,%d) commit cp(%ld,%ld,8,8) cp(%ld,%ld,4,3) cp(%ld,%ld,4,%d) commit wait(1) wait(0) ",
        o + b, b + 16, l % 17, o + b + 32, b + 32, o + b + 48, b + 48, o + b + 52, b + 52,
        l % 17 % 2 ? 4 : 0);
    if (strcmp(cp_log[l], want)) {
      fprintf(stderr, "cp.async lane %d:\n  got  %s\n  want %s\n", l, cp_log[l], want);
      test_failures++;
      break;
    }
  }
  CHECK(rec.site && strcmp(rec.site, site) == 0);
  LLVMOrcDisposeLLJIT(jit);
  /* the context went to the JIT with the module (LLVMOrcCreateNewThreadSafeContextFromLLVMContext) */
}

int main(void) {
  test_decoders();
  for (int k = 0; k < CG_MMA_NKINDS; k++) test_mma_kind((cg_mma_kind)k, 40);
  test_mma_special();
  test_ldmatrix();
  test_cp_async();
  test_lowering(CG_MMA_BF16_K16); /* f32 accumulators */
  test_lowering(CG_MMA_S8_K32);   /* i32 accumulators */
  test_lowering(CG_MMA_F16_K8);   /* 2 + 1 registers */
  return test_done("test_sim_mma");
}
