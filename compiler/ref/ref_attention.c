/*
 * ref_attention.c - references for recipes/attention.lua and the flash-decoding pair
 * recipes/attention_decode.lua (partial results per split of the keys) and
 * recipes/attention_decode_combine.lua (the partials merged), all in double.
 *
 * Q, O are [B, H, Sq, D] and K, V [B, Hkv, Sk, D], addressed through the element strides the kernel
 * gets as scalar arguments (q_sb, q_sh, q_ss, ...: batch, head, row; the head dim is contiguous),
 * so the references check the kernel's addressing, not a copy of it. Query head h reads kv head
 * h / (H / Hkv). Causal attention is aligned to the bottom right: query i sees keys
 * j <= i + Sk - Sq. A row that sees no key gets O = 0 and LSE = -inf. LSE is the natural log of
 * the row's sum of exp(scale * q.k).
 *
 * With a low precision (include/kiln_ref.h) each computes as a plain implementation in that type
 * would, FlashAttention's reference with upcast off: what it stores in the type is rounded to it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

typedef struct {
  const double *x;
  int64_t sb, sh, ss; /* element strides of batch, head and row */
} attn_tensor;

typedef struct {
  int64_t B, H, Hkv, Sq, Sk, D;
  double scale;
  int causal;
  attn_tensor q, k, v;
} attn_problem;

/* The value of scalar argument `name`, or -1 (integer) / NAN (float) when missing. */
static int64_t scalar_i(const ref_call *c, const char *name) {
  int i = ref_find(c, name, 0, 0);
  return i < 0 ? -1 : c->args[i].ival;
}

static double scalar_f(const ref_call *c, const char *name) {
  int i = ref_find(c, name, 0, 0);
  return i < 0 ? NAN : (double)(float)c->args[i].fval; /* the kernel sees it as f32 */
}

static int64_t setting_i(const ref_call *c, const char *name) {
  const char *v = ref_setting(c, name);
  return v ? strtoll(v, NULL, 10) : -1;
}

static int64_t numel(const kiln_ref_arg *a) {
  int64_t n = 1;
  for (int d = 0; d < a->rank; d++) n *= a->dims[d];
  return n;
}

/* Reads the strides "<t>_sb", "<t>_sh", "<t>_ss" of tensor t (rank 3) and checks that every element
 * of a [B, heads, rows, D] tensor addressed through them lies inside the allocation. */
static int tensor_of(const ref_call *c, const char *t, int64_t B, int64_t heads, int64_t rows, int64_t D,
                     attn_tensor *out) {
  char name[16];
  int i = ref_find(c, t, 1, 3);
  if (i < 0) return -1;
  int64_t *s[3] = {&out->sb, &out->sh, &out->ss};
  const char *suffix[3] = {"_sb", "_sh", "_ss"};
  for (int k = 0; k < 3; k++) {
    snprintf(name, sizeof name, "%s%s", t, suffix[k]);
    if ((*s[k] = scalar_i(c, name)) < 0) return -1;
  }
  out->x = c->data[i];
  int64_t last = (B - 1) * out->sb + (heads - 1) * out->sh + (rows - 1) * out->ss + D - 1;
  return last < numel(&c->args[i]) ? 0 : -1;
}

static double *at(const attn_tensor *t, int64_t b, int64_t h, int64_t i) {
  return (double *)t->x + b * t->sb + h * t->sh + i * t->ss;
}

/* The problem's sizes, scale, mask and inputs; -1 if an argument is missing or out of range. */
static int problem_of(const ref_call *c, attn_problem *a) {
  a->B = scalar_i(c, "B"), a->H = scalar_i(c, "H"), a->Hkv = scalar_i(c, "Hkv");
  a->Sq = scalar_i(c, "Sq"), a->Sk = scalar_i(c, "Sk"), a->D = setting_i(c, "D");
  a->scale = scalar_f(c, "scale");
  a->causal = setting_i(c, "causal") == 1;
  if (a->B < 1 || a->H < 1 || a->Hkv < 1 || a->H % a->Hkv || a->Sq < 1 || a->Sk < 1 || a->D < 1 ||
      isnan(a->scale))
    return -1;
  if (tensor_of(c, "q", a->B, a->H, a->Sq, a->D, &a->q) ||
      tensor_of(c, "k", a->B, a->Hkv, a->Sk, a->D, &a->k) ||
      tensor_of(c, "v", a->B, a->Hkv, a->Sk, a->D, &a->v))
    return -1;
  return 0;
}

/* Query row (b, h, i) against the keys j in [j0, j1) that it may see: o[0..D) gets the normalised
 * output (0 when it sees none); returns the log-sum-exp (-inf when it sees none). s: Sk scratch.
 * Low precision (ref_round), as a plain implementation in the input type computes it: q * scale and
 * the scores rounded, the probabilities rounded after normalising (the sum unrounded, as a softmax
 * in the type computes it), the output rounded; the log-sum-exp from the rounded scores. */
static double attn_row(const ref_call *c, const attn_problem *a, int64_t b, int64_t h, int64_t i, int64_t j0,
                       int64_t j1, double *o, double *s) {
  int64_t hk = h / (a->H / a->Hkv), last = a->causal ? i + a->Sk - a->Sq : a->Sk - 1;
  if (j1 > last + 1) j1 = last + 1;
  const double *q = at(&a->q, b, h, i);
  double mx = -INFINITY, sum = 0, scale = ref_is_lowp(c) ? 1 : a->scale;
  for (int64_t j = j0; j < j1; j++) {
    const double *kr = at(&a->k, b, hk, j);
    double dot = 0;
    for (int64_t d = 0; d < a->D; d++) dot += (ref_is_lowp(c) ? ref_round(c, q[d] * a->scale) : q[d]) * kr[d];
    s[j] = ref_round(c, scale * dot);
    mx = s[j] > mx ? s[j] : mx;
  }
  for (int64_t d = 0; d < a->D; d++) o[d] = 0;
  if (j1 <= j0) return -INFINITY;
  for (int64_t j = j0; j < j1; j++) sum += exp(s[j] - mx);
  for (int64_t j = j0; j < j1; j++) {
    double p = ref_round(c, exp(s[j] - mx) / sum);
    const double *vr = at(&a->v, b, hk, j);
    for (int64_t d = 0; d < a->D; d++) o[d] += p * vr[d];
  }
  for (int64_t d = 0; d < a->D; d++) o[d] = ref_round(c, o[d]);
  return mx + log(sum);
}

/* recipes/attention.lua: o (strides o_*) and, with lse=1, lse [B, H, Sq]. */
int ref_attention(const ref_call *c) {
  attn_problem a;
  attn_tensor o;
  int li = ref_find(c, "lse", 1, 3), want_lse = setting_i(c, "lse") == 1;
  if (problem_of(c, &a) || tensor_of(c, "o", a.B, a.H, a.Sq, a.D, &o) || li < 0) return -1;
  if (want_lse && numel(&c->args[li]) != a.B * a.H * a.Sq) return -1;
  double *s = malloc((size_t)a.Sk * sizeof *s);
  if (!s) return -1;
  for (int64_t b = 0; b < a.B; b++)
    for (int64_t h = 0; h < a.H; h++)
      for (int64_t i = 0; i < a.Sq; i++) {
        double lse = attn_row(c, &a, b, h, i, 0, a.Sk, at(&o, b, h, i), s);
        if (want_lse) c->data[li][(b * a.H + h) * a.Sq + i] = lse;
      }
  free(s);
  return 0;
}

/* recipes/attention_decode.lua: the keys are cut into SPLITS chunks of `chunk` keys; for each
 * split, o_part [B, H, SPLITS, Sq, D] and lse_part [B, H, SPLITS, Sq] (f32, contiguous) hold the
 * split's normalised output and log-sum-exp (0 and -inf for a split that sees no key). */
int ref_attention_decode(const ref_call *c) {
  attn_problem a;
  int oi = ref_find(c, "o_part", 1, 3), li = ref_find(c, "lse_part", 1, 3);
  int64_t chunk = scalar_i(c, "chunk"), splits = setting_i(c, "SPLITS");
  if (problem_of(c, &a) || oi < 0 || li < 0 || chunk < 1 || splits < 1) return -1;
  if (numel(&c->args[oi]) != a.B * a.H * splits * a.Sq * a.D ||
      numel(&c->args[li]) != a.B * a.H * splits * a.Sq)
    return -1;
  double *s = malloc((size_t)a.Sk * sizeof *s);
  if (!s) return -1;
  for (int64_t b = 0; b < a.B; b++)
    for (int64_t h = 0; h < a.H; h++)
      for (int64_t p = 0; p < splits; p++)
        for (int64_t i = 0; i < a.Sq; i++) {
          int64_t row = ((b * a.H + h) * splits + p) * a.Sq + i, j0 = p * chunk, j1 = j0 + chunk;
          c->data[li][row] = attn_row(c, &a, b, h, i, j0 < a.Sk ? j0 : a.Sk, j1 < a.Sk ? j1 : a.Sk,
                                      c->data[oi] + row * a.D, s);
        }
  free(s);
  return 0;
}

/* recipes/attention_decode_combine.lua: o (strides o_*) and lse [B, H, Sq] from the partials,
 * each split weighted by exp(lse_part - lse). */
int ref_attention_decode_combine(const ref_call *c) {
  attn_tensor o;
  int oi = ref_find(c, "o_part", 1, 3), li = ref_find(c, "lse_part", 1, 3), lo = ref_find(c, "lse", 1, 3);
  int64_t B = scalar_i(c, "B"), H = scalar_i(c, "H"), Sq = scalar_i(c, "Sq"), D = setting_i(c, "D");
  int64_t splits = scalar_i(c, "SPLITS");
  if (oi < 0 || li < 0 || lo < 0 || B < 1 || H < 1 || Sq < 1 || D < 1 || splits < 1 ||
      tensor_of(c, "o", B, H, Sq, D, &o))
    return -1;
  if (numel(&c->args[oi]) != B * H * splits * Sq * D || numel(&c->args[li]) != B * H * splits * Sq ||
      numel(&c->args[lo]) != B * H * Sq)
    return -1;
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t i = 0; i < Sq; i++) {
        const double *lp = c->data[li] + (b * H + h) * splits * Sq + i;
        double *out = at(&o, b, h, i), mx = -INFINITY, sum = 0;
        for (int64_t p = 0; p < splits; p++) mx = lp[p * Sq] > mx ? lp[p * Sq] : mx;
        for (int64_t d = 0; d < D; d++) out[d] = 0;
        for (int64_t p = 0; p < splits && mx > -INFINITY; p++) {
          double w = ref_round(c, exp(lp[p * Sq] - mx));
          const double *op = c->data[oi] + (((b * H + h) * splits + p) * Sq + i) * D;
          sum += w;
          for (int64_t d = 0; d < D; d++) out[d] += w * op[d];
        }
        for (int64_t d = 0; d < D && sum > 0; d++) out[d] = ref_round(c, ref_round(c, out[d]) / sum);
        c->data[lo][(b * H + h) * Sq + i] = sum > 0 ? mx + log(sum) : -INFINITY;
      }
  return 0;
}
