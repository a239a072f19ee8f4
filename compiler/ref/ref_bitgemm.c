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

/* The activation quantiser (recipes/lib/bitgemm_enc.lua, enc.quantizer) on one row of K: the
   codes (signed values for signed), the scale, the zero point and the sum of the codes. */
typedef struct {
  float scale;
  int z;
  int64_t sum;
} quant_row;

static quant_row quantize_row(int q, int sgn, int uns, const double *X, int64_t K, int *codes) {
  int qm = (1 << q) - 1, top = sgn ? (1 << (q - 1)) - 1 : qm;
  float lo = 0, hi = 0;
  for (int64_t k = 0; k < K; k++) {
    float t = (float)X[k];
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
    float t = (float)X[k];
    int code;
    if (sgn) {
      code = (int)(t >= 0 ? fmaf(t, inv, 0.5f) : fmaf(t, inv, -0.5f));
      code = code < -top - 1 ? -top - 1 : code > top ? top : code;
    } else {
      code = (int)fmaf(t, uns ? inv : half_inv, uns ? zf : cb);
      code = code < 0 ? 0 : code > qm ? qm : code;
    }
    s += code;
    codes[k] = code;
  }
  return (quant_row){scale, z, s};
}

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

/* Where element k of a row of K lives in the packed layout with groups of G elements (G = 0: one
   group): word *w, bit *b (recipes/lib/bitgemm_enc.lua). */
static void packed_pos(int64_t K, int64_t G, int64_t k, int64_t *w, int64_t *b) {
  int64_t g = G > 0 ? k / G : 0, base = g * G, len = G > 0 && K - base > G ? G : K - base;
  int64_t gw = (len + 31) / 32, kl = k - base;
  *w = g * (G / 32) + kl % gw;
  *b = kl / gw;
}

static int64_t value_of(int64_t u, int bits, int is_signed) {
  return is_signed && (u >> (bits - 1)) ? u - ((int64_t)1 << bits) : u;
}

typedef struct {
  int p, q, ws, as; /* plane counts; two's complement weights / activations */
  int64_t m, n, kw;
} planes_shape;

/* The knobs of the plane product (bipolar multiplies the codes: unsigned both sides). */
static planes_shape planes_of(const ref_call *c) {
  int bip = setting_is(c, "enc", "bipolar");
  return (planes_shape){setting_int(c, "p", 4), setting_int(c, "q", 4), setting_int(c, "w_signed", 1) && !bip,
                        setting_int(c, "a_signed", 0) && !bip};
}

/* out[i * n + j] = sum over the bit positions of words lo .. hi - 1 of x[i] w[j] (exact). */
static int plane_sums(const planes_shape *s, const double *X, const double *W, int64_t lo, int64_t hi,
                      int64_t *out) {
  int64_t m = s->m, n = s->n, kw = s->kw, nb = 32 * (hi - lo);
  int64_t *cw = malloc((size_t)(n ? n : 1) * (size_t)(nb > 0 ? nb : 1) * sizeof *cw);
  int64_t *xr = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *xr);
  if (!cw || !xr) {
    free(cw);
    free(xr);
    return -1;
  }
  /* bit position t of the chunk: word lo + t % (hi - lo), bit t / (hi - lo) -> element b * kw + w */
  for (int64_t j = 0; j < n; j++)
    for (int64_t t = 0; t < nb; t++) {
      int64_t k = t / (hi - lo) * kw + lo + t % (hi - lo);
      cw[j * nb + t] = value_of(code_at(W, s->p, n, j, s->p * n, kw, k), s->p, s->ws);
    }
  for (int64_t i = 0; i < m; i++) {
    for (int64_t t = 0; t < nb; t++) {
      int64_t k = t / (hi - lo) * kw + lo + t % (hi - lo);
      xr[t] = value_of(code_at(X, s->q, m * kw, i * kw, 1, kw, k), s->q, s->as);
    }
    for (int64_t j = 0; j < n; j++) {
      int64_t sum = 0;
      for (int64_t t = 0; t < nb; t++) sum += xr[t] * cw[j * nb + t];
      out[i * n + j] = sum;
    }
  }
  free(cw);
  free(xr);
  return 0;
}

/* The epilogue's tensors and knobs. */
typedef struct {
  int bip, zp, int_out, p, q;
  int64_t K;
  const double *sa, *sb, *zpa, *sx, *sw;
} epi;

static int epi_of(const ref_call *c, epi *e) {
  int sa = ref_find(c, "sa", 1, 1), sb = ref_find(c, "sb", 1, 1), zp = ref_find(c, "zpa", 1, 1);
  int sx = ref_find(c, "sx", 1, 1), sw = ref_find(c, "sw", 1, 1), ka = ref_find(c, "K", 0, 0);
  if (sa < 0 || sb < 0 || zp < 0 || sx < 0 || sw < 0 || ka < 0) return -1;
  *e = (epi){setting_is(c, "enc", "bipolar"),
             setting_int(c, "zp", 0),
             !ref_setting(c, "out") || setting_is(c, "out", "i32"),
             setting_int(c, "p", 4),
             setting_int(c, "q", 4),
             (int64_t)c->args[ka].ival,
             c->data[sa],
             c->data[sb],
             c->data[zp],
             c->data[sx],
             c->data[sw]};
  return 0;
}

static double epilogue(const ref_call *c, const epi *e, int64_t s, int64_t i, int64_t j) {
  int64_t pm = ((int64_t)1 << e->p) - 1, qm = ((int64_t)1 << e->q) - 1;
  if (e->bip)
    s = 4 * s - 2 * pm * (int64_t)e->sa[i] - 2 * qm * (int64_t)e->sb[j] + e->K * pm * qm;
  else if (e->zp)
    s -= (int64_t)e->zpa[i] * (int64_t)e->sb[j];
  double v = wrap32(s);
  return e->int_out ? v : ref_round(c, v * e->sx[i] * e->sw[j]);
}

static int shape_error(const ref_call *c, const char *who) {
  snprintf(c->err, c->errn, "%s reference: shapes do not match p, q, M, N, K", who);
  return -1;
}

/* act = f16 (the fused prologue): the activation values quantised per row (xv [m, K]) and the
   weight values decoded from their planes (wv [n, K]); sums over elements instead of words. */
typedef struct {
  int64_t *xv, *wv;
  double *sa, *zpa, *sx;
} fused_ops;

static void fused_free(fused_ops *f) {
  free(f->xv);
  free(f->wv);
  free(f->sa);
  free(f->zpa);
  free(f->sx);
}

static int fused_of(const ref_call *c, const planes_shape *s, int64_t K, int64_t G, const double *X,
                    const double *WB, fused_ops *f) {
  int bip = setting_is(c, "enc", "bipolar"), sgn = !bip && s->as, uns = !bip && !s->as;
  size_t m = (size_t)(s->m > 0 ? s->m : 1), n = (size_t)(s->n > 0 ? s->n : 1), kk = (size_t)(K > 0 ? K : 1);
  *f = (fused_ops){malloc(m * kk * sizeof(int64_t)), malloc(n * kk * sizeof(int64_t)),
                   malloc(m * sizeof(double)), malloc(m * sizeof(double)), malloc(m * sizeof(double))};
  int *codes = malloc(kk * sizeof *codes);
  if (!f->xv || !f->wv || !f->sa || !f->zpa || !f->sx || !codes) {
    fused_free(f);
    free(codes);
    return -1;
  }
  for (int64_t i = 0; i < s->m; i++) {
    quant_row qr = quantize_row(s->q, sgn, uns, X + i * K, K, codes);
    for (int64_t k = 0; k < K; k++) f->xv[i * K + k] = codes[k];
    f->sa[i] = (double)wrap32(qr.sum), f->zpa[i] = qr.z, f->sx[i] = qr.scale;
  }
  free(codes);
  for (int64_t j = 0; j < s->n; j++)
    for (int64_t k = 0; k < K; k++) {
      int64_t w, b, u = 0;
      packed_pos(K, G, k, &w, &b);
      for (int i = 0; i < s->p; i++)
        u |= (int64_t)(((uint32_t)WB[w * s->p * s->n + i * s->n + j] >> b) & 1u) << i;
      f->wv[j * K + k] = value_of(u, s->p, s->ws);
    }
  return 0;
}

int ref_bitgemm(const ref_call *c) {
  int xa = ref_find(c, "xa", 1, 2), wb = ref_find(c, "wb", 1, 2), y = ref_find(c, "y", 1, 2);
  int fused = ref_setting(c, "act") && !setting_is(c, "act", "packed"),
      x = fused ? ref_find(c, "x", 1, 2) : 0;
  epi e;
  if (xa < 0 || wb < 0 || y < 0 || x < 0 || epi_of(c, &e)) return -1;
  planes_shape s = planes_of(c);
  s.m = c->args[y].dims[0], s.n = c->args[y].dims[1], s.kw = c->args[wb].dims[0];
  if (s.p < 1 || s.p > 8 || s.q < 1 || s.q > 8 || c->args[wb].dims[1] != s.p * s.n || e.K > 32 * s.kw ||
      (!fused && (c->args[xa].dims[0] != s.q * s.m || c->args[xa].dims[1] != s.kw)) ||
      (fused && (c->args[x].dims[0] != s.m || c->args[x].dims[1] != e.K || s.kw != (e.K + 31) / 32)))
    return shape_error(c, "bitgemm");
  int64_t G = setting_int(c, "G", 0), gw = G > 0 ? G / 32 : s.kw, ng = G > 0 ? (e.K + G - 1) / G : 1;
  int sw = ref_find(c, "sw", 1, 1);
  if (G < 0 || G % 32 || sw < 0 || (G > 0 && c->args[sw].dims[0] != ng * s.n) || (ng - 1) * gw >= s.kw)
    return shape_error(c, "bitgemm (G)");
  fused_ops f = {0};
  if (fused) {
    if (fused_of(c, &s, e.K, G, c->data[x], c->data[wb], &f)) return -1;
    e.sa = f.sa, e.zpa = f.zpa, e.sx = f.sx;
  }
  int64_t *sum = malloc((size_t)(s.m * s.n > 0 ? s.m * s.n : 1) * sizeof *sum);
  double *acc = calloc((size_t)(s.m * s.n > 0 ? s.m * s.n : 1), sizeof *acc);
  if (!sum || !acc) {
    free(sum);
    free(acc);
    fused_free(&f);
    return -1;
  }
  /* per group g (G = 0: one): the exact product over its words g*G/32 .. (packed activations: every
     bit, as the kernel multiplies them) or its elements g*G .. (fused: the codes past K are 0) */
  for (int64_t g = 0; g < ng; g++) {
    if (fused) {
      int64_t k0 = G > 0 ? g * G : 0, k1 = G > 0 && k0 + G < e.K ? k0 + G : e.K;
      for (int64_t i = 0; i < s.m; i++)
        for (int64_t j = 0; j < s.n; j++) {
          int64_t t = 0;
          for (int64_t k = k0; k < k1; k++) t += f.xv[i * e.K + k] * f.wv[j * e.K + k];
          sum[i * s.n + j] = t;
        }
    } else {
      int64_t lo = g * gw, hi = lo + gw < s.kw ? lo + gw : s.kw;
      if (plane_sums(&s, c->data[xa], c->data[wb], lo, hi, sum)) {
        free(sum);
        free(acc);
        fused_free(&f);
        return -1;
      }
    }
    if (G <= 0) break;
    /* per-group scales: the exact i32 product scaled by sw[g, n], summed over the groups (double) */
    for (int64_t i = 0; i < s.m; i++)
      for (int64_t j = 0; j < s.n; j++)
        acc[i * s.n + j] += (double)wrap32(sum[i * s.n + j]) * e.sw[g * s.n + j];
  }
  for (int64_t i = 0; i < s.m; i++)
    for (int64_t j = 0; j < s.n; j++)
      c->data[y][i * s.n + j] =
          G > 0 ? ref_round(c, acc[i * s.n + j] * e.sx[i]) : epilogue(c, &e, sum[i * s.n + j], i, j);
  free(sum);
  free(acc);
  fused_free(&f);
  return 0;
}

/* recipes/bitgemm_splitk.lua: part [M, S*N], split z's sums over the words z*CW .. min((z+1)*CW, Kw). */
int ref_bitgemm_splitk(const ref_call *c) {
  int xa = ref_find(c, "xa", 1, 2), wb = ref_find(c, "wb", 1, 2), part = ref_find(c, "part", 1, 2);
  int cwa = ref_find(c, "CW", 0, 0), na = ref_find(c, "N", 0, 0);
  if (xa < 0 || wb < 0 || part < 0 || cwa < 0 || na < 0) return -1;
  planes_shape s = planes_of(c);
  int S = setting_int(c, "split_k", 1);
  int64_t cw = c->args[cwa].ival;
  s.n = c->args[na].ival, s.m = c->args[part].dims[0], s.kw = c->args[xa].dims[1];
  if (s.p < 1 || s.p > 8 || s.q < 1 || s.q > 8 || S < 1 || cw < 1 || c->args[part].dims[1] != S * s.n ||
      c->args[xa].dims[0] != s.q * s.m || c->args[wb].dims[0] != s.kw || c->args[wb].dims[1] != s.p * s.n)
    return shape_error(c, "bitgemm_splitk");
  int64_t *sum = malloc((size_t)(s.m * s.n > 0 ? s.m * s.n : 1) * sizeof *sum);
  if (!sum) return -1;
  for (int z = 0; z < S; z++) {
    int64_t lo = z * cw < s.kw ? z * cw : s.kw, hi = (z + 1) * cw < s.kw ? (z + 1) * cw : s.kw;
    if (plane_sums(&s, c->data[xa], c->data[wb], lo, hi, sum)) {
      free(sum);
      return -1;
    }
    for (int64_t i = 0; i < s.m; i++)
      for (int64_t j = 0; j < s.n; j++) c->data[part][i * S * s.n + z * s.n + j] = wrap32(sum[i * s.n + j]);
  }
  free(sum);
  return 0;
}

/* recipes/bitgemm_reduce.lua: y = epilogue(sum over z of part [M, S*N]), the sum wrapping in i32. */
int ref_bitgemm_reduce(const ref_call *c) {
  int part = ref_find(c, "part", 1, 2), y = ref_find(c, "y", 1, 2);
  epi e;
  if (part < 0 || y < 0 || epi_of(c, &e)) return -1;
  int S = setting_int(c, "split_k", 1);
  int64_t m = c->args[y].dims[0], n = c->args[y].dims[1];
  if (S < 1 || c->args[part].dims[0] != m || c->args[part].dims[1] != S * n)
    return shape_error(c, "bitgemm_reduce");
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      int64_t s = 0;
      for (int z = 0; z < S; z++) s += (int64_t)c->data[part][i * S * n + z * n + j];
      c->data[y][i * n + j] = epilogue(c, &e, wrap32(s), i, j);
    }
  return 0;
}

int ref_bitpack_w(const ref_call *c) {
  int w = ref_find(c, "w", 1, 2), wb = ref_find(c, "wb", 1, 2), sb = ref_find(c, "sb", 1, 1);
  int back = ref_find(c, "back", 1, 2), rt = setting_int(c, "roundtrip", 0);
  if (w < 0 || wb < 0 || sb < 0 || back < 0) return -1;
  int p = setting_int(c, "p", 4), sgn = !ref_setting(c, "enc") || setting_is(c, "enc", "signed");
  int64_t G = setting_int(c, "G", 0);
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
      int64_t wi, bi;
      packed_pos(K, G, k, &wi, &bi);
      for (int i = 0; i < p; i++) {
        double *word = &WB[wi * p * n + i * n + j];
        *word = (double)((uint32_t)*word | (uint32_t)((code >> i) & 1) << bi);
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
  int64_t G = setting_int(c, "G", 0);
  int sgn = !ref_setting(c, "enc") || setting_is(c, "enc", "signed"), uns = setting_is(c, "enc", "unsigned");
  int64_t m = c->args[x].dims[0], K = c->args[x].dims[1], kw = (K + 31) / 32;
  if (q < 1 || q > 8 || (sgn && q < 2) || c->args[xa].dims[0] != q * m || c->args[xa].dims[1] != kw ||
      (rt && (c->args[back].dims[0] != m || c->args[back].dims[1] != K))) {
    snprintf(c->err, c->errn, "bitpack_act reference: shapes do not match q, M, K");
    return -1;
  }
  const double *X = c->data[x];
  double *XA = c->data[xa];
  int qm = (1 << q) - 1;
  for (int64_t i = 0; i < q * m * kw; i++) XA[i] = 0;
  int *codes = malloc((size_t)(K > 0 ? K : 1) * sizeof *codes);
  if (!codes) return -1;
  for (int64_t r = 0; r < m; r++) {
    quant_row qr = quantize_row(q, sgn, uns, X + r * K, K, codes);
    for (int64_t k = 0; k < K; k++) {
      int code = codes[k];
      if (rt) c->data[back][r * K + k] = code;
      int64_t wi, bi;
      packed_pos(K, G, k, &wi, &bi);
      for (int i = 0; i < q; i++) {
        double *word = &XA[(i * m + r) * kw + wi];
        *word = (double)((uint32_t)*word | (uint32_t)((code & qm) >> i & 1) << bi);
      }
    }
    c->data[sx][r] = qr.scale;
    c->data[sa][r] = (double)wrap32(qr.sum);
    c->data[zp][r] = qr.z;
  }
  free(codes);
  return 0;
}
