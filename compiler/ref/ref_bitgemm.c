/*
 * ref_bitgemm.c - references for the bit-plane GEMM family (docs/bitgemm.md): recipes/bitgemm.lua
 * (the plane product), recipes/bitpack_act.lua and recipes/bitpack_w.lua (the packers).
 *
 * The integer parts are exact (int64, wrapped to int32 where the kernel's arithmetic is i32); the
 * scaled outputs are computed in double from the exact integers. The packers' quantisation is done
 * in float with the kernel's operations in the kernel's order, so that every code (and so every
 * packed bit) is the kernel's, exactly.
 *
 * Bit layout (recipes/lib/bitgemm_enc.lua): Kw = ceil(K / 32) words; bit b of word w is element
 * k = b * Kw + w. Activation planes xa [q*M, Kw] (plane i: rows i*M ..), weight planes wb [Kw, p*N]
 * (plane j: columns j*N ..).
 *
 * The packers' `back` tensor (in-out) holds, with roundtrip = 1, the codes the kernel unpacked again
 * from its own planes: here the codes themselves, so that unpack(pack(x)) == x is checked exactly.
 * Without it the reference leaves the input there, as the kernel does.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

static int setting_int(const ref_call *c, const char *name, int def) {
  const char *v = ref_setting(c, name);
  return v ? atoi(v) : def;
}

static int setting_is(const ref_call *c, const char *name, const char *value) {
  const char *v = ref_setting(c, name);
  return v && !strcmp(v, value);
}

static int32_t wrap32(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }

/* The code of element (r, k) from its planes: bit (k % Kw)... see the layout above. */
static int64_t code_at(const double *planes, int nplanes, int64_t plane_stride, int64_t word_index_base,
                       int64_t word_stride, int64_t kw, int64_t k) {
  int64_t w = k % kw, b = k / kw;
  int64_t u = 0;
  for (int i = 0; i < nplanes; i++) {
    uint32_t word = (uint32_t)planes[i * plane_stride + word_index_base + w * word_stride];
    u |= (int64_t)((word >> b) & 1u) << i;
  }
  return u;
}

static int64_t value_of(int64_t u, int bits, int is_signed) {
  return is_signed && (u >> (bits - 1)) ? u - ((int64_t)1 << bits) : u;
}

int ref_bitgemm(const ref_call *c) {
  int xa = ref_find(c, "xa", 1, 2), wb = ref_find(c, "wb", 1, 2), y = ref_find(c, "y", 1, 2);
  int sa = ref_find(c, "sa", 1, 1), sb = ref_find(c, "sb", 1, 1), zp = ref_find(c, "zpa", 1, 1);
  int sx = ref_find(c, "sx", 1, 1), sw = ref_find(c, "sw", 1, 1), ka = ref_find(c, "K", 0, 0);
  if (xa < 0 || wb < 0 || y < 0 || sa < 0 || sb < 0 || zp < 0 || sx < 0 || sw < 0 || ka < 0) return -1;
  int p = setting_int(c, "p", 4), q = setting_int(c, "q", 4);
  int bip = setting_is(c, "enc", "bipolar"), zpa = setting_int(c, "zp", 0);
  int ws = setting_int(c, "w_signed", 1) && !bip, as = setting_int(c, "a_signed", 0) && !bip;
  int int_out = !ref_setting(c, "out") || setting_is(c, "out", "i32");
  int64_t m = c->args[y].dims[0], n = c->args[y].dims[1], kw = c->args[xa].dims[1];
  int64_t K = (int64_t)c->args[ka].ival;
  if (p < 1 || p > 8 || q < 1 || q > 8 || c->args[xa].dims[0] != q * m || c->args[wb].dims[0] != kw ||
      c->args[wb].dims[1] != p * n || K > 32 * kw) {
    snprintf(c->err, c->errn, "bitgemm reference: shapes do not match p, q, M, N, K");
    return -1;
  }
  const double *X = c->data[xa], *W = c->data[wb];
  size_t kb = (size_t)(32 * kw > 0 ? 32 * kw : 1);
  int64_t *cw = malloc((size_t)(n ? n : 1) * kb * sizeof *cw);
  if (!cw) return -1;
  /* weight values by column, all 32 Kw bit positions (the kernel multiplies every word) */
  for (int64_t j = 0; j < n; j++)
    for (int64_t k = 0; k < 32 * kw; k++)
      cw[j * 32 * kw + k] = value_of(code_at(W, p, n, j, p * n, kw, k), p, ws);
  int64_t pm = ((int64_t)1 << p) - 1, qm = ((int64_t)1 << q) - 1;
  for (int64_t i = 0; i < m; i++) {
    int64_t xv[32 * 64]; /* 32 * Kw at most 2048 at check sizes; larger goes through the heap */
    int64_t *xr = 32 * kw <= (int64_t)(sizeof xv / sizeof *xv) ? xv : malloc((size_t)(32 * kw) * sizeof *xr);
    if (!xr) {
      free(cw);
      return -1;
    }
    for (int64_t k = 0; k < 32 * kw; k++) xr[k] = value_of(code_at(X, q, m * kw, i * kw, 1, kw, k), q, as);
    for (int64_t j = 0; j < n; j++) {
      int64_t s = 0;
      for (int64_t k = 0; k < 32 * kw; k++) s += xr[k] * cw[j * 32 * kw + k];
      if (bip)
        s = 4 * s - 2 * pm * (int64_t)c->data[sa][i] - 2 * qm * (int64_t)c->data[sb][j] + K * pm * qm;
      else if (zpa)
        s -= (int64_t)c->data[zp][i] * (int64_t)c->data[sb][j];
      double v = wrap32(s);
      if (!int_out) v = ref_round(c, v * c->data[sx][i] * c->data[sw][j]);
      c->data[y][i * n + j] = v;
    }
    if (xr != xv) free(xr);
  }
  free(cw);
  return 0;
}

int ref_bitpack_w(const ref_call *c) {
  int w = ref_find(c, "w", 1, 2), wb = ref_find(c, "wb", 1, 2), sb = ref_find(c, "sb", 1, 1);
  int back = ref_find(c, "back", 1, 2), rt = setting_int(c, "roundtrip", 0);
  if (w < 0 || wb < 0 || sb < 0 || back < 0) return -1;
  int p = setting_int(c, "p", 4), sgn = !ref_setting(c, "enc") || setting_is(c, "enc", "signed");
  int64_t n = c->args[w].dims[0], K = c->args[w].dims[1], kw = (K + 31) / 32;
  if (p < 1 || p > 8 || c->args[wb].dims[0] != kw || c->args[wb].dims[1] != p * n ||
      c->args[sb].dims[0] != n) {
    snprintf(c->err, c->errn, "bitpack_w reference: shapes do not match p, N, K");
    return -1;
  }
  const double *W = c->data[w];
  double *WB = c->data[wb];
  int mask = (1 << p) - 1;
  for (int64_t i = 0; i < kw * p * n; i++) WB[i] = 0;
  for (int64_t j = 0; j < n; j++) {
    int64_t s = 0;
    for (int64_t k = 0; k < K; k++) {
      int code = (int)W[j * K + k] & mask;
      s += value_of(code, p, sgn);
      if (rt) c->data[back][j * K + k] = (double)value_of(code, p, sgn);
      for (int i = 0; i < p; i++) {
        double *word = &WB[(k % kw) * p * n + i * n + j];
        *word = (double)((uint32_t)*word | (uint32_t)((code >> i) & 1) << (k / kw));
      }
    }
    c->data[sb][j] = (double)wrap32(s);
  }
  return 0;
}

/* The kernel's quantisation, in float, one fma per rounding (recipes/bitpack_act.lua). */
int ref_bitpack_act(const ref_call *c) {
  int x = ref_find(c, "x", 1, 2), xa = ref_find(c, "xa", 1, 2), sx = ref_find(c, "sx", 1, 1);
  int sa = ref_find(c, "sa", 1, 1), zp = ref_find(c, "zpa", 1, 1), back = ref_find(c, "back", 1, 2);
  int rt = setting_int(c, "roundtrip", 0);
  if (x < 0 || xa < 0 || sx < 0 || sa < 0 || zp < 0 || back < 0) return -1;
  int q = setting_int(c, "q", 4);
  int sgn = !ref_setting(c, "enc") || setting_is(c, "enc", "signed"), uns = setting_is(c, "enc", "unsigned");
  int64_t m = c->args[x].dims[0], K = c->args[x].dims[1], kw = (K + 31) / 32;
  if (q < 1 || q > 8 || (sgn && q < 2) || c->args[xa].dims[0] != q * m || c->args[xa].dims[1] != kw ||
      (rt && (c->args[back].dims[0] != m || c->args[back].dims[1] != K))) {
    snprintf(c->err, c->errn, "bitpack_act reference: shapes do not match q, M, K");
    return -1;
  }
  const double *X = c->data[x];
  double *XA = c->data[xa];
  int qm = (1 << q) - 1, top = sgn ? (1 << (q - 1)) - 1 : qm;
  for (int64_t i = 0; i < q * m * kw; i++) XA[i] = 0;
  for (int64_t r = 0; r < m; r++) {
    float lo = 0, hi = 0;
    for (int64_t k = 0; k < K; k++) {
      float t = (float)X[r * K + k];
      lo = t < lo ? t : lo;
      hi = t > hi ? t : hi;
    }
    float amax = hi > -lo ? hi : -lo;
    float range = uns ? hi - lo : amax;
    float scale = range / (float)top, inv = range > 0 ? (float)top / range : 0.0f;
    int z = 0;
    if (uns) {
      z = (int)fmaf(-lo, inv, 0.5f);
      z = z < 0 ? 0 : z > qm ? qm : z;
    }
    float zf = (float)z + 0.5f, half_inv = inv * 0.5f, cb = (float)(1 << (q - 1));
    int64_t s = 0;
    for (int64_t k = 0; k < K; k++) {
      float t = (float)X[r * K + k];
      int code;
      if (sgn) {
        code = (int)(t >= 0 ? fmaf(t, inv, 0.5f) : fmaf(t, inv, -0.5f));
        code = code < -top - 1 ? -top - 1 : code > top ? top : code;
      } else {
        code = (int)fmaf(t, uns ? inv : half_inv, uns ? zf : cb);
        code = code < 0 ? 0 : code > qm ? qm : code;
      }
      s += code;
      if (rt) c->data[back][r * K + k] = code;
      for (int i = 0; i < q; i++) {
        double *word = &XA[(i * m + r) * kw + k % kw];
        *word = (double)((uint32_t)*word | (uint32_t)((code & qm) >> i & 1) << (k / kw));
      }
    }
    c->data[sx][r] = scale;
    c->data[sa][r] = (double)wrap32(s);
    c->data[zp][r] = z;
  }
  return 0;
}
