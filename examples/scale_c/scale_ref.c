/*
 * scale_ref.c - the C reference of examples/scale_c/scale.lua, written as an out-of-tree author
 * writes one: it includes only <kiln_ref.h> (kiln's include/), is built as a shared object beside
 * the recipe (cc -shared -fPIC -I KILN/include scale_ref.c -o scale_ref.so; kiln's own build does
 * this as the target example_scale_ref), and the recipe names it:
 *     reference = { c = "scale_ref.so", symbol = "scale_ref" }
 * kiln run loads it with dlopen from the recipe's folder and calls it exactly (precision "f64") and
 * in low precision (round the product to c->precision, as a plain implementation would store it).
 */
#include <kiln_ref.h>
#include <stdio.h>
#include <string.h>

/* Index of argument `name` (a tensor when is_tensor), or -1 with a message in c->err. */
static int find(const kiln_ref_call *c, const char *name, int is_tensor) {
  for (int i = 0; i < c->nargs; i++)
    if (!strcmp(c->args[i].name, name) && c->args[i].is_tensor == is_tensor) return i;
  snprintf(c->err, c->errn, "no %s argument '%s'", is_tensor ? "tensor" : "scalar", name);
  return -1;
}

int scale_ref(const kiln_ref_call *c) {
  if (c->abi_version != KILN_REF_ABI_VERSION) {
    snprintf(c->err, c->errn, "built for reference ABI %d, called with %d", KILN_REF_ABI_VERSION,
             c->abi_version);
    return KILN_REF_FAILED;
  }
  int x = find(c, "x", 1), y = x < 0 ? -1 : find(c, "y", 1), s = y < 0 ? -1 : find(c, "s", 0);
  if (s < 0) return KILN_REF_FAILED;
  int64_t n = c->args[y].dims[0] * c->args[y].dims[1];
  double scale = (float)c->args[s].fval; /* the kernel gets s as an f32 */
  int exact = !strcmp(c->precision, "f64");
  for (int64_t i = 0; i < n; i++) {
    double v = scale * c->data[x][i];
    c->data[y][i] = exact ? v : c->round(c->precision, v);
  }
  return KILN_REF_OK;
}
