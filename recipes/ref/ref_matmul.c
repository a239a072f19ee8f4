/*
 * ref_matmul.c - reference for recipes/matmul.lua: c[M, N] = a[M, K] b[K, N], summed in double.
 */
#include "ref.h"

int ref_matmul(const ref_call *c) {
  int a = ref_find(c, "a", 1, 2), b = ref_find(c, "b", 1, 2), o = ref_find(c, "c", 1, 2);
  if (a < 0 || b < 0 || o < 0) return -1;
  int64_t m = c->args[a].dims[0], k = c->args[a].dims[1], n = c->args[b].dims[1];
  if (c->args[b].dims[0] != k || c->args[o].dims[0] != m || c->args[o].dims[1] != n) return -1;
  const double *A = c->data[a], *B = c->data[b];
  double *C = c->data[o];
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) C[i * n + j] = 0;
    for (int64_t p = 0; p < k; p++)
      for (int64_t j = 0; j < n; j++) C[i * n + j] += A[i * k + p] * B[p * n + j];
  }
  return 0;
}
