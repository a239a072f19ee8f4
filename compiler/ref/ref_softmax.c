/*
 * ref_softmax.c - reference for recipes/softmax.lua: each row of y[M, N] is the softmax of the row
 * of x, computed in double with the row maximum subtracted first (or, in the low-precision run,
 * with each stored intermediate rounded to the precision).
 */
#include <math.h>

#include "ref.h"

/* Low precision: x - max and exp rounded, the sum kept wide (a softmax in f16 sums in f32). */
static void softmax_row(const ref_call *c, const double *x, double *y, int64_t n) {
  double mx = -INFINITY, sum = 0;
  for (int64_t j = 0; j < n; j++) mx = x[j] > mx ? x[j] : mx;
  for (int64_t j = 0; j < n; j++) sum += y[j] = ref_round(c, exp(ref_round(c, x[j] - mx)));
  for (int64_t j = 0; j < n; j++) y[j] = ref_round(c, y[j] / sum);
}

int ref_softmax(const ref_call *c) {
  int x = ref_find(c, "x", 1, 2), y = ref_find(c, "y", 1, 2);
  if (x < 0 || y < 0) return -1;
  int64_t m = c->args[x].dims[0], n = c->args[x].dims[1];
  if (c->args[y].dims[0] != m || c->args[y].dims[1] != n) return -1;
  for (int64_t i = 0; i < m; i++) softmax_row(c, c->data[x] + i * n, c->data[y] + i * n, n);
  return 0;
}
