/*
 * sim_mma.c - the simulator's tensor-core ops: warp-level mma.sync and ldmatrix semantics, and the
 * cp.async queues.
 *
 * mma: every kind kiln uses shares one fragment scheme (PTX ISA, "Matrix Fragments for mma.m16n8k*";
 * lane = 4 * groupID + threadID_in_group, g and t below). With E = 32 / element-bits elements per
 * register, lowest element in the lowest bits:
 *   A (16 x K, row-major): element e of register r is A[g + 8 * (r & 1)][E * t + e + 4E * (r >> 1)]
 *   B (K x 8):             element e of register r is B[E * t + e + 4E * r][g]
 *   C, D (16 x 8):         register i is C[g + 8 * (i >> 1)][2 * t + (i & 1)]
 * The whole warp's A and B are gathered into matrices, then each lane's D is computed. Floating
 * kinds multiply exactly in double (f16/bf16/fp8 products fit), sum over k in double and round once
 * to f32; integer kinds sum exactly and wrap to 32 bits; b1 sums popcounts of 32-bit ANDs.
 *
 * cp.async: a copy waits in its thread's queue, tagged with the commit group it belongs to; a wait
 * completes the groups it covers (memcpy of src_bytes, zero fill of the rest). Meanwhile the
 * destination bytes are counted in flight in the block's shadow, which the shared-memory read
 * check consults.
 */
#include "sim_mma.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/elem_float.h"

/* ---- element decoders (ir/elem_float.c) ---- */

/* Element e of register word w, for input encoding `in`. */
static double decode(cg_mma_in in, uint32_t w, int e) {
  switch (in) {
  case CG_MMA_IN_F16: return ir_f16_to_double((uint16_t)(w >> (16 * e)));
  case CG_MMA_IN_BF16: return ir_bf16_to_double((uint16_t)(w >> (16 * e)));
  case CG_MMA_IN_S8: return (int8_t)(w >> (8 * e));
  case CG_MMA_IN_U8: return (uint8_t)(w >> (8 * e));
  case CG_MMA_IN_E4M3: return ir_e4m3_to_double((uint8_t)(w >> (8 * e)));
  case CG_MMA_IN_E5M2: return ir_e5m2_to_double((uint8_t)(w >> (8 * e)));
  case CG_MMA_IN_B1: break;
  }
  abort(); /* b1 never decodes per element */
}

/* ---- mma ---- */

/* Row and column of accumulator register i of lane l. */
static int acc_row(int l, int i) { return (l >> 2) + 8 * (i >> 1); }
static int acc_col(int l, int i) { return 2 * (l & 3) + (i & 1); }

static void mma_b1(const sim_mma_lane L[32]) {
  uint32_t arow[16][8], bcol[8][8]; /* 32-bit words of A's rows and B's columns, k = 32 * word + bit */
  for (int l = 0; l < 32; l++) {
    int g = l >> 2, t = l & 3;
    for (int r = 0; r < 4; r++) arow[g + 8 * (r & 1)][t + 4 * (r >> 1)] = L[l].a[r];
    for (int r = 0; r < 2; r++) bcol[g][t + 4 * r] = L[l].b[r];
  }
  for (int l = 0; l < 32; l++)
    for (int i = 0; i < 4; i++) {
      int row = acc_row(l, i), col = acc_col(l, i);
      uint32_t sum = L[l].c[i];
      for (int w = 0; w < 8; w++) sum += (uint32_t)__builtin_popcount(arow[row][w] & bcol[col][w]);
      L[l].d[i] = sum;
    }
}

/* The f32 result of an exact sum: rounded to nearest even; NaN is the canonical NaN. */
static uint32_t f32_bits(double v) {
  if (isnan(v)) return 0x7fffffffu;
  float f = (float)v;
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static double f32_value(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

void sim_mma_lanes(cg_mma_kind k, const sim_mma_lane L[32]) {
  const cg_mma_info *mi = cg_mma_info_of(k);
  if (mi->in == CG_MMA_IN_B1) {
    mma_b1(L);
    return;
  }
  int per = 32 / mi->in_bits; /* elements per register */
  double A[16][32], B[32][8];
  for (int l = 0; l < 32; l++) {
    int g = l >> 2, t = l & 3;
    for (int r = 0; r < mi->na; r++)
      for (int e = 0; e < per; e++)
        A[g + 8 * (r & 1)][per * t + e + 4 * per * (r >> 1)] = decode(mi->in, L[l].a[r], e);
    for (int r = 0; r < mi->nb; r++)
      for (int e = 0; e < per; e++) B[per * t + e + 4 * per * r][g] = decode(mi->in, L[l].b[r], e);
  }
  for (int l = 0; l < 32; l++)
    for (int i = 0; i < 4; i++) {
      int row = acc_row(l, i), col = acc_col(l, i);
      double sum = 0;
      for (int kk = 0; kk < mi->k; kk++) sum += A[row][kk] * B[kk][col];
      if (mi->acc_int) /* exact: |sum| < 2^21 */
        L[l].d[i] = L[l].c[i] + (uint32_t)(int64_t)sum;
      else
        L[l].d[i] = f32_bits(sum + f32_value(L[l].c[i]));
    }
}

void sim_mma_warp(cg_mma_kind k, const uint32_t a[32][4], const uint32_t b[32][2], const uint32_t c[32][4],
                  uint32_t d[32][4]) {
  sim_mma_lane L[32];
  for (int l = 0; l < 32; l++) L[l] = (sim_mma_lane){a[l], b[l], c[l], d[l]};
  sim_mma_lanes(k, L);
}

/* ---- ldmatrix ---- */

void sim_ldmatrix_lanes(int num, int trans, const void *const rows[32], uint32_t *const out[32]) {
  uint16_t m[4][8][8];
  for (int j = 0; j < num; j++)
    for (int r = 0; r < 8; r++) memcpy(m[j][r], rows[8 * j + r], 16);
  for (int l = 0; l < 32; l++) {
    int r = l >> 2, c = 2 * (l & 3); /* lane l holds row r, columns c and c + 1 (of the transpose) */
    for (int j = 0; j < num; j++) {
      uint32_t lo = trans ? m[j][c][r] : m[j][r][c], hi = trans ? m[j][c + 1][r] : m[j][r][c + 1];
      out[l][j] = lo | hi << 16;
    }
  }
}

/* ---- cp.async ---- */

void sim_cp_shadow_init(sim_cp_shadow *s, void *shared, size_t bytes) {
  *s = (sim_cp_shadow){shared, bytes, NULL, 0};
}

void sim_cp_shadow_free(sim_cp_shadow *s) {
  free(s->inflight);
  s->inflight = NULL;
  s->ninflight = 0;
}

void sim_cp_queue_free(sim_cp_queue *q) {
  free(q->q);
  *q = (sim_cp_queue){0};
}

/* Adds delta (+1 or -1) to the in-flight count of n bytes at dst. */
static void mark(sim_cp_shadow *s, const unsigned char *dst, int n, int delta) {
  uint16_t *f = s->inflight + (dst - s->base);
  for (int i = 0; i < n; i++) {
    if (delta > 0 && f[i]++ == 0) s->ninflight++;
    if (delta < 0 && --f[i] == 0) s->ninflight--;
  }
}

int sim_cp_async_issue(sim_cp_queue *q, sim_cp_shadow *s, void *dst, const void *src, int bytes,
                       int src_bytes, char *err, size_t errn) {
  unsigned char *d = dst;
  if (bytes != 4 && bytes != 8 && bytes != 16)
    return snprintf(err, errn, "cp.async of %d bytes: the size must be 4, 8 or 16", bytes), -1;
  if (src_bytes < 0 || src_bytes > bytes)
    return snprintf(err, errn, "cp.async reads %d source bytes, outside 0..%d", src_bytes, bytes), -1;
  if ((uintptr_t)d % (unsigned)bytes || (src_bytes && (uintptr_t)src % (unsigned)bytes))
    return snprintf(err, errn, "cp.async of %d bytes from %p to %p: both must be %d-byte aligned", bytes, src,
                    dst, bytes),
           -1;
  if (d < s->base || d + bytes > s->base + s->bytes)
    return snprintf(err, errn, "cp.async destination %p is outside the block's %zu bytes of shared memory",
                    dst, s->bytes),
           -1;
  if (!s->inflight && !(s->inflight = calloc(s->bytes, sizeof *s->inflight)))
    return snprintf(err, errn, "cp.async: out of memory"), -1;
  if (q->n == q->cap) {
    int cap = q->cap ? 2 * q->cap : 16;
    sim_cp_copy *nq = realloc(q->q, (size_t)cap * sizeof *nq);
    if (!nq) return snprintf(err, errn, "cp.async: out of memory"), -1;
    q->q = nq, q->cap = cap;
  }
  q->q[q->n++] = (sim_cp_copy){d, src, (uint8_t)bytes, (uint8_t)src_bytes, q->committed};
  mark(s, d, bytes, +1);
  return 0;
}

void sim_cp_async_commit(sim_cp_queue *q) { q->committed++; }

int sim_cp_async_wait(sim_cp_queue *q, sim_cp_shadow *s, int n) {
  int kept = 0, done = 0;
  for (int i = 0; i < q->n; i++) {
    sim_cp_copy c = q->q[i];
    int complete = n < 0 || (c.group < q->committed && q->committed - c.group > (uint32_t)n);
    if (!complete) {
      q->q[kept++] = c;
      continue;
    }
    if (c.src_bytes) memcpy(c.dst, c.src, c.src_bytes);
    memset(c.dst + c.src_bytes, 0, (size_t)(c.bytes - c.src_bytes));
    mark(s, c.dst, c.bytes, -1);
    done++;
  }
  q->n = kept;
  return done;
}

int sim_cp_async_inflight(const sim_cp_shadow *s, const void *addr, size_t n) {
  if (!s->ninflight) return 0;
  const unsigned char *p = addr;
  if (p < s->base || p + n > s->base + s->bytes) return 0;
  for (size_t i = 0; i < n; i++)
    if (s->inflight[p - s->base + i]) return 1;
  return 0;
}
