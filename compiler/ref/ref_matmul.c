/*
 * ref_matmul.c - reference for recipes/matmul.lua: c[M, N] = act(alpha * op(a) op(b) + bias[N]),
 * summed in double.
 *
 * op(a) is a [M, K] as stored, or, with the setting trans_a = 1, the transpose of a stored [K, M];
 * likewise op(b) with trans_b and a stored [N, K]. alpha is the scalar argument `alpha` (1 when
 * absent) and scales float outputs only (out = i32 takes none); the bias is the tensor `bias` when
 * the setting bias = 1; act is none, relu or gelu (tanh form). Without settings (a direct call with
 * just a, b and c) it is the plain product.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

static int setting_is(const ref_call *c, const char *name, const char *value) {
  const char *v = ref_setting(c, name);
  return v && !strcmp(v, value);
}

static double gelu(double x) { return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

/* Low precision: the product and each epilogue step rounded, as a plain implementation in the input
 * type stores them (the sum itself is wide: tensor cores accumulate in f32). */
static double epilogue(const ref_call *c, double v, double alpha, const double *bias, int64_t j) {
  v = ref_round(c, v);
  if (!setting_is(c, "out", "i32")) v = ref_round(c, v * alpha);
  if (bias) v = ref_round(c, v + bias[j]);
  if (setting_is(c, "act", "relu")) v = v > 0 ? v : 0;
  if (setting_is(c, "act", "gelu")) v = ref_round(c, gelu(v));
  return v;
}

int ref_matmul(const ref_call *c) {
  int a = ref_find(c, "a", 1, 2), b = ref_find(c, "b", 1, 2), o = ref_find(c, "c", 1, 2);
  if (a < 0 || b < 0 || o < 0) return -1;
  int ta = setting_is(c, "trans_a", "1"), tb = setting_is(c, "trans_b", "1");
  int64_t m = c->args[o].dims[0], n = c->args[o].dims[1], k = c->args[a].dims[ta ? 0 : 1];
  if (c->args[a].dims[ta ? 1 : 0] != m || c->args[b].dims[tb ? 1 : 0] != k ||
      c->args[b].dims[tb ? 0 : 1] != n)
    return -1;
  int bi = setting_is(c, "bias", "1") ? ref_find(c, "bias", 1, 1) : -1, al = ref_find(c, "alpha", 0, 0);
  if (setting_is(c, "bias", "1") && (bi < 0 || c->args[bi].dims[0] != n)) return -1;
  const double *A = c->data[a], *B = c->data[b], *bias = bi >= 0 ? c->data[bi] : NULL;
  double alpha = al >= 0 ? c->args[al].fval : 1, *C = c->data[o];
  int64_t sam = ta ? 1 : k, sak = ta ? m : 1, sbk = tb ? 1 : n, sbn = tb ? k : 1; /* element strides */
  double *row = malloc((size_t)(n ? n : 1) * sizeof *row);
  if (!row) return -1;
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) row[j] = 0;
    for (int64_t p = 0; p < k; p++) {
      double x = A[i * sam + p * sak];
      for (int64_t j = 0; j < n; j++) row[j] += x * B[p * sbk + j * sbn];
    }
    for (int64_t j = 0; j < n; j++) C[i * n + j] = epilogue(c, row[j], alpha, bias, j);
  }
  free(row);
  return 0;
}
