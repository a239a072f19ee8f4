/*
 * sim_wgmma.c - warpgroup MMA for the simulator (sim_wgmma.h).
 *
 * 1. Each operand is read through its descriptor: every row's 32 bytes of K (16 f16, 32 bytes of
 *    fp8/s8, 256 bits) come from two 16-byte chunks whose offsets sim_wgmma_addr gives. Chunks
 *    outside shared memory, swizzle tags that disagree with the descriptor, and a nonzero base offset
 *    (not modelled) are reported before anything is computed.
 * 2. The product is exact in double (f16, bf16 and fp8 products fit; sums of 32 such products are
 *    rounded once to f32 at the end, as sim_mma.c does), or exact in integers, wrapping to 32 bits.
 * 3. Results go to the registers of the thread that owns each element, by the accumulator layout.
 */
#include "sim_wgmma.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/elem_float.h"

uint32_t sim_swizzle(uint32_t off, int bytes) {
  uint32_t mask = bytes == 128 ? 7 : bytes == 64 ? 3 : bytes == 32 ? 1 : 0;
  return off ^ (((off >> 7) & mask) << 4);
}

uint32_t sim_wgmma_addr(cg_wgmma_desc d, int row, int kbyte) {
  uint32_t r8 = (uint32_t)row / 8, r = (uint32_t)row % 8, kb = (uint32_t)kbyte;
  if (!d.swizzle) return d.start + r8 * d.sbo + (kb / 16) * d.lbo + r * 16 + kb % 16;
  return sim_swizzle(d.start + r8 * d.sbo + r * (uint32_t)d.swizzle + kb, d.swizzle);
}

uint32_t sim_wgmma_addr_mn(cg_wgmma_desc d, int mnbyte, int k) {
  uint32_t w = (uint32_t)d.swizzle, mb = (uint32_t)mnbyte, kk = (uint32_t)k;
  return sim_swizzle(d.start + (mb / w) * d.lbo + (kk / 8) * d.sbo + (kk % 8) * w + mb % w, d.swizzle);
}

/* n bytes of operand `which` at shared offset off into dst, checked: inside the block, and not
 * written by a TMA load with another swizzle than the descriptor's. The report names row r (k < 0)
 * or the MN-major element (r, k). */
static int fetch(const char *which, int r, int k, cg_wgmma_desc d, uint32_t off, uint32_t n,
                 const unsigned char *smem, size_t bytes, const uint8_t *tags, unsigned char *dst, char *err,
                 size_t errn) {
  if ((size_t)off + n > bytes) {
    char where[48];
    if (k < 0)
      snprintf(where, sizeof where, "row %d", r);
    else
      snprintf(where, sizeof where, "(MN-major) element (%d, %d)", r, k);
    return snprintf(err, errn,
                    "wgmma operand %s %s reads shared bytes [%u, %u), outside the block's %zu bytes "
                    "(descriptor start %u, lbo %u, sbo %u, swizzle %d)",
                    which, where, off, off + n, bytes, d.start, d.lbo, d.sbo, d.swizzle),
           -1;
  }
  uint8_t tag = tags ? tags[off / 16] : SIM_SWZ_UNTAGGED;
  if (tag != SIM_SWZ_UNTAGGED && tag != d.swizzle)
    return snprintf(err, errn,
                    "wgmma operand %s descriptor has %d-byte swizzle, but shared byte %u was written by a "
                    "TMA load with %d-byte swizzle",
                    which, d.swizzle, off, tag),
           -1;
  memcpy(dst, smem + off, n);
  return 0;
}

/* Rows x 32 bytes of an MN-major operand (16-bit elements): row r's K element k from (r, k). */
static int gather_mn(const char *which, cg_wgmma_desc d, int rows, const unsigned char *smem, size_t bytes,
                     const uint8_t *tags, unsigned char *out, char *err, size_t errn) {
  if (!d.swizzle)
    return snprintf(err, errn, "wgmma operand %s: an MN-major operand without swizzle is not modelled",
                    which),
           -1;
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < 16; k++) {
      if (fetch(which, r, k, d, sim_wgmma_addr_mn(d, 2 * r, k), 2, smem, bytes, tags, out + 32 * r + 2 * k,
                err, errn))
        return -1;
    }
  return 0;
}

/* Copies rows x 32 bytes of the operand described by v into out (row-major, 32 bytes a row). */
static int gather(const char *which, uint64_t v, int rows, int trans, const unsigned char *smem, size_t bytes,
                  const uint8_t *tags, unsigned char *out, char *err, size_t errn) {
  cg_wgmma_desc d = cg_wgmma_desc_decode(v);
  if (d.base_offset)
    return snprintf(err, errn,
                    "wgmma operand %s: descriptor base offset %d is not modelled (use 0 and a "
                    "pattern-aligned buffer)",
                    which, d.base_offset),
           -1;
  if (trans) return gather_mn(which, d, rows, smem, bytes, tags, out, err, errn);
  for (int r = 0; r < rows; r++)
    for (int h = 0; h < 2; h++) {
      if (fetch(which, r, -1, d, sim_wgmma_addr(d, r, 16 * h), 16, smem, bytes, tags, out + 32 * r + 16 * h,
                err, errn))
        return -1;
    }
  return 0;
}

static double decode(cg_mma_in in, const unsigned char *row, int k) {
  switch (in) {
  case CG_MMA_IN_F16: return ir_f16_to_double((uint16_t)(row[2 * k] | row[2 * k + 1] << 8));
  case CG_MMA_IN_BF16: return ir_bf16_to_double((uint16_t)(row[2 * k] | row[2 * k + 1] << 8));
  case CG_MMA_IN_E4M3: return ir_e4m3_to_double(row[k]);
  case CG_MMA_IN_E5M2: return ir_e5m2_to_double(row[k]);
  case CG_MMA_IN_S8: return (int8_t)row[k];
  default: abort(); /* u8 has no wgmma here; b1 is summed by popcount */
  }
}

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

/* The rows' elements as doubles (not for b1). */
static void decode_rows(const cg_wgmma_info *wi, const unsigned char *m, int rows, double *out) {
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < wi->k; k++) out[r * wi->k + k] = decode(wi->in, m + 32 * r, k);
}

/* D[row][col] from the gathered rows (32 bytes each) and their decoded elements. */
static uint32_t dot(const cg_wgmma_info *wi, const unsigned char *a, const unsigned char *b, const double *da,
                    const double *db, uint32_t c, int scale_d, double sign) {
  if (wi->in == CG_MMA_IN_B1) {
    uint32_t sum = scale_d ? c : 0;
    for (int i = 0; i < 32; i++) sum += (uint32_t)__builtin_popcount((unsigned)(a[i] & b[i]));
    return sum;
  }
  double sum = 0;
  for (int k = 0; k < wi->k; k++) sum += da[k] * db[k];
  if (wi->acc_int) return (scale_d ? c : 0) + (uint32_t)(int64_t)sum; /* exact: |sum| < 2^19 */
  return f32_bits(sign * sum + (scale_d ? f32_value(c) : 0.0));
}

/* The operands' checks and the product for both forms: A from adesc, or from the threads' registers
 * (aregs, adesc unused). */
static int run(cg_wgmma_type t, int n, const unsigned char *smem, size_t smem_bytes, const uint8_t *tags,
               uint64_t adesc, const uint32_t *const aregs[128], uint64_t bdesc, int scale_d, int neg_a,
               int neg_b, uint32_t *const acc[128], char *err, size_t errn) {
  const cg_wgmma_info *wi = cg_wgmma_info_of(t);
  if (!wi || !cg_wgmma_n_ok(t, n))
    return snprintf(err, errn, "wgmma %s has no shape m64n%dk%d", wi ? wi->name : "?", n, wi ? wi->k : 0), -1;
  if (((neg_a | neg_b) & CG_WGMMA_NEG) && !wi->has_scale)
    return snprintf(err, errn, "%s takes no negated operands (imm-scale is for float kinds)", wi->name), -1;
  if (((neg_a | neg_b) & CG_WGMMA_TRANS) && !wi->has_trans)
    return snprintf(err, errn, "%s takes no MN-major operands (imm-trans is for 16-bit kinds)", wi->name), -1;
  if (aregs && (wi->in_bits != 16 || (neg_a & CG_WGMMA_TRANS)))
    return snprintf(err, errn, "%s: A from registers is offered for f16 and bf16, K-major, only", wi->name),
           -1;
  unsigned char *A = malloc(64 * 32), *B = malloc((size_t)n * 32);
  double *dA = malloc(64 * 32 * sizeof *dA), *dB = malloc((size_t)n * 32 * sizeof *dB);
  int rc = -1;
  if (!A || !B || !dA || !dB) {
    snprintf(err, errn, "wgmma: out of memory");
    goto out;
  }
  if (aregs) { /* warp w's 16 rows: register j of lane 4g + q is row g + 8 (j & 1), bytes 4q + 16 (j >> 1) */
    for (int th = 0; th < 128; th++)
      for (int j = 0; j < 4; j++) {
        int row = 16 * (th / 32) + (th % 32) / 4 + 8 * (j & 1), byte = 4 * (th % 4) + 16 * (j >> 1);
        for (int k = 0; k < 4; k++) A[32 * row + byte + k] = (unsigned char)(aregs[th][j] >> (8 * k));
      }
  } else if (gather("A", adesc, 64, neg_a & CG_WGMMA_TRANS, smem, smem_bytes, tags, A, err, errn))
    goto out;
  if (gather("B", bdesc, n, neg_b & CG_WGMMA_TRANS, smem, smem_bytes, tags, B, err, errn)) goto out;
  if (wi->in != CG_MMA_IN_B1) decode_rows(wi, A, 64, dA), decode_rows(wi, B, n, dB);
  double sign = (neg_a & CG_WGMMA_NEG ? -1.0 : 1.0) * (neg_b & CG_WGMMA_NEG ? -1.0 : 1.0);
  for (int th = 0; th < 128; th++) {
    int w = th / 32, g = (th % 32) / 4, q = th % 4;
    for (int i = 0; i < n / 2; i++) {
      int row = 16 * w + g + 8 * ((i >> 1) & 1), col = 8 * (i >> 2) + 2 * q + (i & 1);
      acc[th][i] =
          dot(wi, A + 32 * row, B + 32 * col, dA + wi->k * row, dB + wi->k * col, acc[th][i], scale_d, sign);
    }
  }
  rc = 0;
out:
  free(A), free(B), free(dA), free(dB);
  return rc;
}

int sim_wgmma_run(cg_wgmma_type t, int n, const unsigned char *smem, size_t smem_bytes, const uint8_t *tags,
                  uint64_t adesc, uint64_t bdesc, int scale_d, int neg_a, int neg_b, uint32_t *const acc[128],
                  char *err, size_t errn) {
  return run(t, n, smem, smem_bytes, tags, adesc, NULL, bdesc, scale_d, neg_a, neg_b, acc, err, errn);
}

int sim_wgmma_run_rs(cg_wgmma_type t, int n, const unsigned char *smem, size_t smem_bytes,
                     const uint8_t *tags, const uint32_t *const aregs[128], uint64_t bdesc, int scale_d,
                     int neg_a, int neg_b, uint32_t *const acc[128], char *err, size_t errn) {
  return run(t, n, smem, smem_bytes, tags, 0, aregs, bdesc, scale_d, neg_a, neg_b, acc, err, errn);
}

/* ---- asynchronous groups ---- */

uint32_t sim_wgmma_issue(sim_wgmma_groups *g) {
  if (g->issued == g->cap) {
    uint32_t cap = g->cap ? 2 * g->cap : 64;
    uint32_t *p = realloc(g->group_of, cap * sizeof *p);
    if (!p) return UINT32_MAX;
    g->group_of = p, g->cap = cap;
  }
  g->group_of[g->issued] = g->committed;
  return g->issued++;
}

void sim_wgmma_commit(sim_wgmma_groups *g) { g->committed++; }

void sim_wgmma_wait(sim_wgmma_groups *g, int n) {
  if (n < 0) n = 0;
  if (g->committed >= (uint32_t)n && g->committed - (uint32_t)n > g->completed)
    g->completed = g->committed - (uint32_t)n;
}

int sim_wgmma_pending(const sim_wgmma_groups *g, uint32_t op) {
  return op < g->issued && g->group_of[op] >= g->completed;
}

uint32_t sim_wgmma_inflight(const sim_wgmma_groups *g) {
  uint32_t n = 0;
  for (uint32_t i = g->issued; i-- > 0 && g->group_of[i] >= g->completed;) n++;
  return n;
}

void sim_wgmma_groups_free(sim_wgmma_groups *g) {
  free(g->group_of);
  *g = (sim_wgmma_groups){0};
}
