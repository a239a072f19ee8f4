/*
 * test_sim_wgmma.c - the simulator's warpgroup MMA (sim/sim_wgmma.c) against C references.
 *
 *   numerics:    every type and every N it has, fresh random A (64 x K) and B (N x K) placed in a
 *                shared-memory image by each layout (no swizzle with two core-matrix arrangements,
 *                32/64/128-byte swizzle with the descriptor advanced along K inside the swizzle
 *                atom), accumulators poisoned, the first op with scale-d = 0; every element of D is
 *                unpacked by the accumulator layout and compared with a C matmul.
 *   MN-major:    f16 and bf16 with A, B or both MN-major (CG_WGMMA_TRANS), placed as a TMA box of K
 *                rows of W bytes leaves them (128-byte and narrower swizzles, one or more W-byte
 *                panels LBO apart), against the same C matmul; the two refusals.
 *   descriptor:  encode/decode round trip of every field; the swizzle XOR on known offsets.
 *   groups:      commit/wait_group bookkeeping: which ops are still in flight.
 *   misuse:      operands outside shared memory, a swizzle that disagrees with the TMA tags, a base
 *                offset, shapes that do not exist, negation of integer operands: one line each.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/devops_hopper.h"
#include "ir/elem_float.h"
#include "ir/ir.h"
#include "sim/sim_wgmma.h"
#include "test.h"

static const uint32_t POISON = 0xDEADBEEFu;

/* ---- reference decoders (from the format definitions) ---- */

static double ref_f16(uint32_t h) {
  int s = (h >> 15) & 1, e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? m / 1024.0 * exp2(-14) : (1 + m / 1024.0) * exp2(e - 15);
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
  double v = e == 0 ? m / 8.0 * exp2(-6) : (1 + m / 8.0) * exp2(e - 7);
  return s ? -v : v;
}

static double ref_e5m2(uint32_t x) {
  int s = (x >> 7) & 1, e = (x >> 2) & 31, m = x & 3;
  double v = e == 0 ? m / 4.0 * exp2(-14) : (1 + m / 4.0) * exp2(e - 15);
  return s ? -v : v;
}

/* Element k of a logical row (32 * steps bytes). */
static double ref_elem(cg_wgmma_type t, const unsigned char *row, int k) {
  switch (t) {
  case CG_WGMMA_F16: return ref_f16((uint32_t)row[2 * k] | (uint32_t)row[2 * k + 1] << 8);
  case CG_WGMMA_BF16: return ref_bf16((uint32_t)row[2 * k] | (uint32_t)row[2 * k + 1] << 8);
  case CG_WGMMA_E4M3: return ref_e4m3(row[k]);
  case CG_WGMMA_E5M2: return ref_e5m2(row[k]);
  case CG_WGMMA_S8: return (int8_t)row[k];
  default: return 0;
  }
}

/* A random finite element's bytes at p. */
static void rand_elem(cg_wgmma_type t, unsigned char *p) {
  uint32_t v;
  switch (t) {
  case CG_WGMMA_F16:
  case CG_WGMMA_BF16:
    v = ir_float_encode(t == CG_WGMMA_F16 ? IR_F16 : IR_BF16, test_rand_double(-4, 4), 0);
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    return;
  case CG_WGMMA_E4M3:
    do v = test_rand() & 0xff;
    while ((v & 0x7f) == 0x7f);
    *p = (unsigned char)v;
    return;
  case CG_WGMMA_E5M2:
    do v = test_rand() & 0xff;
    while ((v & 0x7c) == 0x7c);
    *p = (unsigned char)v;
    return;
  default: *p = (unsigned char)test_rand(); return;
  }
}

static void rand_rows(cg_wgmma_type t, unsigned char *m, int rows, int bytes) {
  int eb = t == CG_WGMMA_F16 || t == CG_WGMMA_BF16 ? 2 : 1;
  for (int i = 0; i < rows * bytes; i += eb) rand_elem(t, m + i);
}

/* ---- layouts: where byte kb of row r of a `bytes`-wide logical operand goes ---- */

typedef struct {
  int swizzle;       /* 0, 32, 64, 128 */
  uint32_t base;     /* the operand's first byte */
  uint32_t lbo, sbo; /* no swizzle: between 16-byte chunks of a row, between 8-row groups */
} layout;

/* Written as the tile a TMA load with this swizzle leaves: rows of W bytes, 8-row groups of 8W, the
 * 16-byte chunk index XORed with the row's position in the pattern. */
static uint32_t place(layout L, int r, int kb) {
  if (!L.swizzle)
    return L.base + (uint32_t)(r / 8) * L.sbo + (uint32_t)(kb / 16) * L.lbo + (r % 8) * 16 + kb % 16;
  int W = L.swizzle, chunk = kb / 16, mask = W / 16 - 1;
  int phys = chunk ^ (((r % 8) * W / 128) & mask);
  return L.base + (uint32_t)(r / 8) * 8u * (uint32_t)W + (uint32_t)(r % 8) * (uint32_t)W +
         (uint32_t)phys * 16 + (uint32_t)(kb % 16);
}

/* The descriptor of K-step s (bytes 32s..32s+31 of each row). */
static uint64_t desc_of(layout L, int s) {
  cg_wgmma_desc d = {0};
  d.swizzle = L.swizzle;
  if (L.swizzle) {
    d.start = L.base + 32u * (uint32_t)s, d.lbo = 16, d.sbo = 8u * (uint32_t)L.swizzle;
  } else {
    d.start = L.base + 2u * (uint32_t)s * L.lbo, d.lbo = L.lbo, d.sbo = L.sbo;
  }
  return cg_wgmma_desc_encode(d);
}

/* A layout for `rows` rows of `bytes` bytes at base; no swizzle picks one of two arrangements. */
static layout make_layout(int swizzle, uint32_t base, int rows, int bytes) {
  layout L = {swizzle, base, 0, 0};
  if (swizzle) return L;
  int chunks = bytes / 16;
  if (test_rand() & 1) { /* each 8-row group's chunks side by side, then padding */
    L.lbo = 128, L.sbo = (uint32_t)chunks * 128 + 128 * (test_rand() % 3);
  } else { /* all groups of chunk 0, then all of chunk 1, ... */
    L.sbo = 128, L.lbo = (uint32_t)(rows / 8) * 128;
  }
  return L;
}

static uint32_t layout_span(layout L, int rows, int bytes) {
  uint32_t hi = 0;
  for (int r = 0; r < rows; r++)
    for (int kb = 0; kb < bytes; kb += 16) {
      uint32_t o = place(L, r, kb) + 16;
      if (o > hi) hi = o;
    }
  return hi;
}

/* ---- one case ---- */

static double f32_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* The exact dot product of two rows, as the result register would hold it; *mag receives the sum of
 * the products' magnitudes, which bounds the error of rounding once per K-step. */
static uint32_t ref_dot(cg_wgmma_type t, const unsigned char *a, const unsigned char *b, int bytes, int neg,
                        double *mag) {
  *mag = 0;
  if (t == CG_WGMMA_B1_AND) {
    uint32_t s = 0;
    for (int i = 0; i < bytes; i++)
      for (int bit = 0; bit < 8; bit++) s += (uint32_t)((a[i] >> bit) & (b[i] >> bit) & 1);
    return s;
  }
  int eb = t == CG_WGMMA_F16 || t == CG_WGMMA_BF16 ? 2 : 1;
  double s = 0;
  for (int k = 0; k < bytes / eb; k++) {
    s += ref_elem(t, a, k) * ref_elem(t, b, k);
    *mag += fabs(ref_elem(t, a, k) * ref_elem(t, b, k));
  }
  if (t == CG_WGMMA_S8) return (uint32_t)(int64_t)s;
  float f = (float)(neg ? -s : s);
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* Every element of D (thread th's register i holds D[16 (th / 32) + (th % 32) / 4 + 8 ((i >> 1) & 1)]
 * [8 (i >> 2) + 2 (th % 4) + (i & 1)]) against the exact product of A's and B's rows (`bytes` of K
 * each), then the registers past n/2 still poisoned. 0, or 1 after a CHECK naming `what` and the
 * first wrong element. */
static int check_d(cg_wgmma_type t, int n, const unsigned char *A, const unsigned char *B, int bytes,
                   int steps, int neg, uint32_t regs[][128], const char *what) {
  const cg_wgmma_info *wi = cg_wgmma_info_of(t);
  for (int row = 0; row < 64; row++)
    for (int col = 0; col < n; col++) {
      int th = 32 * (row / 16) + 4 * (row % 8) + (col % 8) / 2,
          i = 4 * (col / 8) + 2 * ((row % 16) / 8) + col % 2;
      double mag;
      uint32_t want = ref_dot(t, A + row * bytes, B + col * bytes, bytes, neg, &mag), got = regs[th][i];
      int ok = wi->acc_int ? got == want : fabs(f32_of(got) - f32_of(want)) <= steps * 0x1p-23 * mag;
      if (!ok) {
        CHECK(0, "%s %s n=%d steps %d: D[%d][%d] = 0x%08x, want 0x%08x (thread %d reg %d)", wi->name, what, n,
              steps, row, col, got, want, th, i);
        return 1;
      }
    }
  for (int th = 0; th < 128; th++)
    for (int i = n / 2; i < 128; i++)
      if (regs[th][i] != POISON) {
        CHECK(0, "%s %s n=%d wrote register %d of thread %d beyond n/2", wi->name, what, n, i, th);
        return 1;
      }
  return 0;
}

/* Runs type t, width n, swizzle sw over `steps` K-steps; 0 if every element matched. */
static int run_case(cg_wgmma_type t, int n, int sw, int steps, int neg) {
  int bytes = 32 * steps;
  unsigned char *A = malloc(64 * (size_t)bytes), *B = malloc((size_t)n * (size_t)bytes);
  rand_rows(t, A, 64, bytes);
  rand_rows(t, B, n, bytes);
  uint32_t align = sw ? 8u * (uint32_t)sw : 128;
  layout La = make_layout(sw, align * (test_rand() % 3), 64, bytes);
  uint32_t bbase = (layout_span(La, 64, bytes) + align - 1) / align * align + align * (test_rand() % 2);
  layout Lb = make_layout(sw, bbase, n, bytes);
  size_t smem_bytes = layout_span(Lb, n, bytes) + 16 * (test_rand() % 4);
  unsigned char *smem = malloc(smem_bytes);
  for (size_t i = 0; i < smem_bytes; i++) smem[i] = 0xA5;
  for (int r = 0; r < 64; r++)
    for (int kb = 0; kb < bytes; kb++) smem[place(La, r, kb)] = A[r * bytes + kb];
  for (int r = 0; r < n; r++)
    for (int kb = 0; kb < bytes; kb++) smem[place(Lb, r, kb)] = B[r * bytes + kb];
  static uint32_t regs[128][128];
  uint32_t *acc[128];
  for (int th = 0; th < 128; th++) {
    acc[th] = regs[th];
    for (int i = 0; i < 128; i++) regs[th][i] = POISON;
  }
  char err[256] = "";
  int bad = 0;
  for (int s = 0; s < steps && !bad; s++)
    if (sim_wgmma_run(t, n, smem, smem_bytes, NULL, desc_of(La, s), desc_of(Lb, s), s > 0, neg, 0, acc, err,
                      sizeof err)) {
      CHECK(0, "%s n=%d swizzle %d: %s", cg_wgmma_info_of(t)->name, n, sw, err);
      bad = 1;
    }
  char what[64];
  snprintf(what, sizeof what, "swizzle %d", sw);
  if (!bad) bad = check_d(t, n, A, B, bytes, steps, neg, regs, what);
  free(A), free(B), free(smem);
  return bad;
}

/* ---- MN-major operands (CG_WGMMA_TRANS): rows of W bytes along M or N, 8 K rows to a pattern ---- */

/* Where byte kb (of K) of MN row r of a 16-bit operand goes: as a TMA box of K rows, W bytes of MN
 * each, leaves it: panel (2 r) / W of the operand at panel * lbo, K row k at k * W inside it, the
 * 16-byte chunk XORed with the row's place in the 8-row pattern. */
static uint32_t place_mn(uint32_t base, int W, uint32_t lbo, int r, int kb) {
  int k = kb / 2, x = (2 * r) % W, mask = W / 16 - 1;
  int phys = (x / 16) ^ (((k % 8) * W / 128) & mask);
  return base + (uint32_t)((2 * r) / W) * lbo + (uint32_t)k * (uint32_t)W + (uint32_t)phys * 16 +
         (uint32_t)(x % 16) + (uint32_t)(kb % 2);
}

/* f16/bf16, width n, swizzle W, `steps` k16 steps; mn: 1 A MN-major, 2 B MN-major (the other
 * K-major, whose rows are then W bytes of K: steps = W / 32). 0 if every element matched. */
static int run_case_mn(cg_wgmma_type t, int n, int W, int steps, int mn) {
  int bytes = 32 * steps, K = 16 * steps;
  unsigned char *A = malloc(64 * (size_t)bytes), *B = malloc((size_t)n * (size_t)bytes);
  rand_rows(t, A, 64, bytes);
  rand_rows(t, B, n, bytes);
  uint32_t pat = 8u * (uint32_t)W;
  /* A at base 0 or one pattern in; B after it, pattern-aligned */
  uint32_t abase = pat * (test_rand() % 2), alen, bbase, blen;
  uint32_t alanes = (mn & 1) ? (uint32_t)((128 + W - 1) / W) : 0,
           blanes = (mn & 2) ? (uint32_t)((2 * n + W - 1) / W) : 0;
  layout La = {W, abase, 0, 0}, Lb = {W, 0, 0, 0};
  alen = (mn & 1) ? alanes * (uint32_t)K * (uint32_t)W : layout_span(La, 64, bytes) - abase;
  bbase = (abase + alen + pat - 1) / pat * pat;
  Lb.base = bbase;
  blen = (mn & 2) ? blanes * (uint32_t)K * (uint32_t)W : layout_span(Lb, n, bytes) - bbase;
  size_t smem_bytes = bbase + blen;
  unsigned char *smem = malloc(smem_bytes);
  memset(smem, 0xA5, smem_bytes);
  for (int r = 0; r < 64; r++)
    for (int kb = 0; kb < bytes; kb++)
      smem[(mn & 1) ? place_mn(abase, W, (uint32_t)K * (uint32_t)W, r, kb) : place(La, r, kb)] =
          A[r * bytes + kb];
  for (int r = 0; r < n; r++)
    for (int kb = 0; kb < bytes; kb++)
      smem[(mn & 2) ? place_mn(bbase, W, (uint32_t)K * (uint32_t)W, r, kb) : place(Lb, r, kb)] =
          B[r * bytes + kb];
  static uint32_t regs[128][128];
  uint32_t *acc[128];
  for (int th = 0; th < 128; th++) {
    acc[th] = regs[th];
    for (int i = 0; i < 128; i++) regs[th][i] = POISON;
  }
  char err[256] = "";
  int bad = 0;
  for (int s = 0; s < steps && !bad; s++) {
    cg_wgmma_desc da = {abase + 16u * (uint32_t)s * (uint32_t)W, (uint32_t)K * (uint32_t)W, pat, 0, W};
    cg_wgmma_desc db = {bbase + 16u * (uint32_t)s * (uint32_t)W, (uint32_t)K * (uint32_t)W, pat, 0, W};
    uint64_t ad = (mn & 1) ? cg_wgmma_desc_encode(da) : desc_of(La, s);
    uint64_t bd = (mn & 2) ? cg_wgmma_desc_encode(db) : desc_of(Lb, s);
    if (sim_wgmma_run(t, n, smem, smem_bytes, NULL, ad, bd, s > 0, (mn & 1) ? CG_WGMMA_TRANS : 0,
                      (mn & 2) ? CG_WGMMA_TRANS : 0, acc, err, sizeof err)) {
      CHECK(0, "%s n=%d MN-major %d swizzle %d: %s", cg_wgmma_info_of(t)->name, n, mn, W, err);
      bad = 1;
    }
  }
  char what[64];
  snprintf(what, sizeof what, "MN-major %d swizzle %d", mn, W);
  if (!bad) bad = check_d(t, n, A, B, bytes, steps, 0, regs, what);
  free(A), free(B), free(smem);
  return bad;
}

static void test_mn_major(void) {
  static const int ns[] = {8, 24, 64, 128, 200, 256};
  for (int t = CG_WGMMA_F16; t <= CG_WGMMA_BF16; t++)
    for (int w = 32; w <= 128; w *= 2)
      for (int mn = 1; mn <= 3; mn++)
        for (unsigned i = 0; i < sizeof ns / sizeof ns[0]; i++)
          if (run_case_mn((cg_wgmma_type)t, ns[i], w, mn == 3 ? 1 + (int)(test_rand() % 3) : w / 32, mn))
            return;
  /* misuse: MN-major without swizzle (not modelled), and for a kind without imm-trans */
  unsigned char smem[4096] = {0};
  uint32_t regs[128][128], *acc[128];
  for (int th = 0; th < 128; th++) acc[th] = regs[th];
  char err[256];
  cg_wgmma_desc none = {0, 128, 256, 0, 0}, s128 = {0, 2048, 1024, 0, 128};
  CHECK(sim_wgmma_run(CG_WGMMA_F16, 8, smem, sizeof smem, NULL, cg_wgmma_desc_encode(none),
                      cg_wgmma_desc_encode(s128), 0, CG_WGMMA_TRANS, 0, acc, err, sizeof err) == -1 &&
            strstr(err, "MN-major operand without swizzle is not modelled"),
        "%s", err);
  CHECK(sim_wgmma_run(CG_WGMMA_E4M3, 8, smem, sizeof smem, NULL, cg_wgmma_desc_encode(s128),
                      cg_wgmma_desc_encode(s128), 0, 0, CG_WGMMA_TRANS, acc, err, sizeof err) == -1 &&
            strstr(err, "takes no MN-major operands"),
        "%s", err);
}

static void test_numerics(void) {
  static const int swz[4] = {0, 32, 64, 128};
  for (int t = 0; t < CG_WGMMA_NTYPES; t++)
    for (int n = 8; n <= 256; n += 8) {
      if (!cg_wgmma_n_ok((cg_wgmma_type)t, n)) continue;
      int sw = swz[test_rand() % 4]; /* every N once with a random layout ... */
      int steps = sw ? sw / 32 : 1 + (int)(test_rand() % 3);
      if (run_case((cg_wgmma_type)t, n, sw, steps, 0)) return;
    }
  for (int t = 0; t < CG_WGMMA_NTYPES; t++) /* ... and every layout at a few widths */
    for (int s = 0; s < 4; s++) {
      int sw = swz[s], steps = sw ? sw / 32 : 2;
      if (run_case((cg_wgmma_type)t, 8, sw, steps, 0) || run_case((cg_wgmma_type)t, 64, sw, steps, 0) ||
          run_case((cg_wgmma_type)t, 256, sw, steps, 0))
        return;
    }
  run_case(CG_WGMMA_F16, 128, 128, 4, 1); /* imm-scale-a = -1 */
  run_case(CG_WGMMA_E4M3, 64, 64, 2, 1);
}

/* A from registers (wgmma's register form, f16 and bf16): each thread's 4 registers a step, in
 * mma.sync's m16n8k16 A-fragment order for its warp's 16 rows; B K-major in shared memory. Every
 * element against the exact product, fresh random inputs, poisoned registers past n/2. */
static int run_rs(cg_wgmma_type t, int n, int sw, int steps, int neg) {
  int bytes = 32 * steps;
  unsigned char *A = malloc(64 * (size_t)bytes), *B = malloc((size_t)n * (size_t)bytes);
  rand_rows(t, A, 64, bytes);
  rand_rows(t, B, n, bytes);
  uint32_t align = sw ? 8u * (uint32_t)sw : 128;
  layout Lb = make_layout(sw, align * (test_rand() % 3), n, bytes);
  size_t smem_bytes = layout_span(Lb, n, bytes) + 16 * (test_rand() % 4);
  unsigned char *smem = malloc(smem_bytes);
  for (size_t i = 0; i < smem_bytes; i++) smem[i] = 0xA5;
  for (int r = 0; r < n; r++)
    for (int kb = 0; kb < bytes; kb++) smem[place(Lb, r, kb)] = B[r * bytes + kb];
  static uint32_t regs[128][128], aval[128][4];
  uint32_t *acc[128];
  const uint32_t *areg[128];
  for (int th = 0; th < 128; th++) {
    acc[th] = regs[th], areg[th] = aval[th];
    for (int i = 0; i < 128; i++) regs[th][i] = POISON;
  }
  char err[256] = "";
  int bad = 0;
  for (int s = 0; s < steps && !bad; s++) {
    for (int th = 0; th < 128; th++) /* lane 4g + q of warp w, register j: row 16w + g + 8(j&1) */
      for (int j = 0; j < 4; j++) {
        const unsigned char *p = A + (16 * (th / 32) + (th % 32) / 4 + 8 * (j & 1)) * bytes + 32 * s +
                                 4 * (th % 4) + 16 * (j >> 1);
        aval[th][j] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      }
    if (sim_wgmma_run_rs(t, n, smem, smem_bytes, NULL, areg, desc_of(Lb, s), s > 0, neg, 0, acc, err,
                         sizeof err)) {
      CHECK(0, "%s (A in registers) n=%d swizzle %d: %s", cg_wgmma_info_of(t)->name, n, sw, err);
      bad = 1;
    }
  }
  if (!bad) bad = check_d(t, n, A, B, bytes, steps, neg, regs, "(A in registers)");
  free(A), free(B), free(smem);
  return bad;
}

static void test_register_a(void) {
  static const int swz[4] = {0, 32, 64, 128};
  for (int t = CG_WGMMA_F16; t <= CG_WGMMA_BF16; t++)
    for (int n = 8; n <= 256; n += 8) {
      int sw = swz[test_rand() % 4], steps = sw ? sw / 32 : 1 + (int)(test_rand() % 3);
      if (run_rs((cg_wgmma_type)t, n, sw, steps, 0)) return;
    }
  run_rs(CG_WGMMA_F16, 64, 128, 4, CG_WGMMA_NEG); /* imm-scale-a = -1 */
  /* refused: an 8-bit kind, and A MN-major */
  static unsigned char smem[4096];
  static uint32_t regs[128][128], aval[128][4];
  uint32_t *acc[128];
  const uint32_t *areg[128];
  for (int th = 0; th < 128; th++) acc[th] = regs[th], areg[th] = aval[th];
  char err[256] = "";
  cg_wgmma_desc none = {0, 128, 256, 0, 0};
  CHECK(sim_wgmma_run_rs(CG_WGMMA_E4M3, 8, smem, sizeof smem, NULL, areg, cg_wgmma_desc_encode(none), 0, 0, 0,
                         acc, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "A from registers is offered for f16 and bf16");
  CHECK(sim_wgmma_run_rs(CG_WGMMA_F16, 8, smem, sizeof smem, NULL, areg, cg_wgmma_desc_encode(none), 0,
                         CG_WGMMA_TRANS, 0, acc, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "K-major, only");
}

static void test_descriptor(void) {
  for (int i = 0; i < 200; i++) {
    cg_wgmma_desc d = {(test_rand() & 0x3fff) << 4, (test_rand() & 0x3fff) << 4, (test_rand() & 0x3fff) << 4,
                       (int)(test_rand() & 7), (int[]){0, 32, 64, 128}[test_rand() & 3]};
    uint64_t v = cg_wgmma_desc_encode(d);
    cg_wgmma_desc e = cg_wgmma_desc_decode(v);
    CHECK(e.start == d.start && e.lbo == d.lbo && e.sbo == d.sbo && e.base_offset == d.base_offset &&
              e.swizzle == d.swizzle,
          "descriptor round trip of 0x%016llx", (unsigned long long)v);
  }
  /* Known values: 128 B at 1024, sbo 1024 -> start 64, sbo 64, swizzle code 1 in bits 62-63. */
  cg_wgmma_desc d = {1024, 16, 1024, 0, 128};
  CHECK(cg_wgmma_desc_encode(d) == (0x4000000000000000ull | 64ull << 32 | 1ull << 16 | 64ull), "0x%016llx",
        (unsigned long long)cg_wgmma_desc_encode(d));
  CHECK(sim_swizzle(0x380, 128) == 0x3f0, "0x%x", sim_swizzle(0x380, 128));
  CHECK(sim_swizzle(0x380, 64) == 0x3b0, "0x%x", sim_swizzle(0x380, 64));
  CHECK(sim_swizzle(0x380, 32) == 0x390, "0x%x", sim_swizzle(0x380, 32));
  CHECK(sim_swizzle(0x385, 0) == 0x385);
  CHECK(sim_swizzle(0x7f, 128) == 0x7f); /* row 0 of the pattern is unchanged */
}

static void test_groups(void) {
  sim_wgmma_groups g = {0};
  uint32_t a = sim_wgmma_issue(&g), b = sim_wgmma_issue(&g);
  sim_wgmma_commit(&g);
  uint32_t c = sim_wgmma_issue(&g);
  sim_wgmma_commit(&g);
  uint32_t d = sim_wgmma_issue(&g); /* open group */
  CHECK(sim_wgmma_pending(&g, a) && sim_wgmma_pending(&g, c) && sim_wgmma_inflight(&g) == 4);
  sim_wgmma_wait(&g, 1);
  CHECK(!sim_wgmma_pending(&g, a) && !sim_wgmma_pending(&g, b) && sim_wgmma_pending(&g, c));
  sim_wgmma_wait(&g, 2); /* never goes backwards */
  CHECK(!sim_wgmma_pending(&g, a));
  sim_wgmma_wait(&g, 0);
  CHECK(!sim_wgmma_pending(&g, c) && sim_wgmma_pending(&g, d), "the open group is not covered by a wait");
  CHECK(sim_wgmma_inflight(&g) == 1);
  sim_wgmma_commit(&g);
  sim_wgmma_wait(&g, 0);
  CHECK(sim_wgmma_inflight(&g) == 0 && !sim_wgmma_pending(&g, d));
  for (int i = 0; i < 1000; i++) sim_wgmma_issue(&g); /* grows */
  CHECK(sim_wgmma_inflight(&g) == 1000);
  sim_wgmma_groups_free(&g);
}

static void test_misuse(void) {
  static unsigned char smem[16384];
  static uint32_t regs[128][128];
  uint32_t *acc[128];
  for (int th = 0; th < 128; th++) acc[th] = regs[th];
  char err[256];
  cg_wgmma_desc a = {0, 128, 256, 0, 0}, b = {12288, 128, 256, 0, 0};
  uint64_t ad = cg_wgmma_desc_encode(a), bd = cg_wgmma_desc_encode(b);
  CHECK(sim_wgmma_run(CG_WGMMA_F16, 64, smem, sizeof smem, NULL, ad, bd, 0, 0, 0, acc, err, sizeof err) == 0,
        "%s", err);
  CHECK(sim_wgmma_run(CG_WGMMA_F16, 136, smem, sizeof smem, NULL, ad, bd, 0, 0, 0, acc, err, sizeof err) ==
        -1);
  CHECK_CONTAINS(
      err, "wgmma operand B row 128 reads shared bytes [16384, 16400), outside the block's 16384 bytes");
  CHECK(sim_wgmma_run(CG_WGMMA_F16, 12, smem, sizeof smem, NULL, ad, bd, 0, 0, 0, acc, err, sizeof err) ==
        -1);
  CHECK_CONTAINS(err, "wgmma wgmma.f16 has no shape m64n12k16");
  CHECK(sim_wgmma_run(CG_WGMMA_S8, 40, smem, sizeof smem, NULL, ad, bd, 0, 0, 0, acc, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "has no shape m64n40k32");
  CHECK(sim_wgmma_run(CG_WGMMA_S8, 32, smem, sizeof smem, NULL, ad, bd, 0, 1, 0, acc, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "wgmma.s8 takes no negated operands");
  cg_wgmma_desc off = a;
  off.base_offset = 3;
  CHECK(sim_wgmma_run(CG_WGMMA_F16, 8, smem, sizeof smem, NULL, cg_wgmma_desc_encode(off), bd, 0, 0, 0, acc,
                      err, sizeof err) == -1);
  CHECK_CONTAINS(err, "wgmma operand A: descriptor base offset 3 is not modelled");
  /* A was written by a TMA load with 128-byte swizzle; the descriptor says 64. */
  static uint8_t tags[16384 / 16];
  memset(tags, SIM_SWZ_UNTAGGED, sizeof tags);
  for (int i = 0; i < 8192 / 16; i++) tags[i] = 128;
  cg_wgmma_desc s64 = {0, 16, 512, 0, 64};
  CHECK(sim_wgmma_run(CG_WGMMA_F16, 8, smem, sizeof smem, tags, cg_wgmma_desc_encode(s64), bd, 0, 0, 0, acc,
                      err, sizeof err) == -1);
  CHECK_CONTAINS(err,
                 "wgmma operand A descriptor has 64-byte swizzle, but shared byte 0 was written by a TMA "
                 "load with 128-byte swizzle");
  cg_wgmma_desc s128 = {0, 16, 1024, 0, 128};
  CHECK(sim_wgmma_run(CG_WGMMA_F16, 8, smem, sizeof smem, tags, cg_wgmma_desc_encode(s128), bd, 0, 0, 0, acc,
                      err, sizeof err) == 0,
        "%s", err);
}

int main(void) {
  test_descriptor();
  test_groups();
  test_numerics();
  test_mn_major();
  test_register_a();
  test_misuse();
  return test_done("test_sim_wgmma");
}
