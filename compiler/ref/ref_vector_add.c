/*
 * ref_vector_add.c - reference for recipes/vector_add.lua: z[i] = x[i] + y[i] for i < n.
 * Exact only: with no intermediate to round, its low-precision form would be the exact sum rounded,
 * which the kernel must match anyway (the relative measure judges it).
 */
#include "ref.h"

int ref_vector_add(const ref_call *c) {
  int x = ref_find(c, "x", 1, 1), y = ref_find(c, "y", 1, 1), z = ref_find(c, "z", 1, 1);
  if (ref_is_lowp(c)) return KILN_REF_EXACT_ONLY;
  if (x < 0 || y < 0 || z < 0) return -1;
  int64_t n = c->args[z].dims[0];
  if (c->args[x].dims[0] != n || c->args[y].dims[0] != n) return -1;
  for (int64_t i = 0; i < n; i++) c->data[z][i] = c->data[x][i] + c->data[y][i];
  return 0;
}
