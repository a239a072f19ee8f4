/*
 * tmaps.c - the tensor maps a compiled kernel takes after its arguments (copies {tma = 1},
 * docs/hopper.md): built at launch from the kernel's "kiln-tmap" lines and the arguments' values, by
 * the driver for a GPU (rt_tmap_encode) or by the simulator's own encoder (sim_tma_encode).
 */
#include <stdio.h>
#include <string.h>

#include "../../runtime/rt.h"
#include "../../sim/sim_tma.h"
#include "api.h"

/* The description as the simulator's encoder takes it (the same fields). */
static void to_sim(const rt_tmap_desc *d, const void *host, sim_tma_params *p) {
  memset(p, 0, sizeof *p);
  p->elem_bytes = rt_tmap_elem_bytes(d->type);
  p->is_float = d->type == RT_TMAP_F16 || d->type == RT_TMAP_BF16 || d->type == RT_TMAP_F32; /* i32: no NaN */
  p->rank = d->rank;
  p->gaddr = host;
  for (int i = 0; i < d->rank; i++) {
    p->dims[i] = d->dims[i];
    p->box[i] = d->box[i];
    p->elem_strides[i] = 1;
    if (i + 1 < d->rank) p->strides[i] = d->strides[i];
  }
  p->swizzle = d->swizzle;
  p->oob_nan = d->oob_nan;
}

int api_tmaps(const cg_result *k, const kl_arg *args, int nargs, const rt_dptr *dev, void *const *host,
              api_tmap *maps, int max, char *err, size_t errn) {
  rt_tmap_spec spec[RT_TMAP_MAXSPEC];
  char m[300];
  int n = k->tmaps ? rt_tmap_specs(k->tmaps, spec, RT_TMAP_MAXSPEC, m, sizeof m) : 0;
  if (n < 0) return snprintf(err, errn, "kernel '%s': %s", k->kernel_name, m), -1;
  if (n > max)
    return snprintf(err, errn, "kernel '%s' takes %d tensor maps, more than %d", k->kernel_name, n, max), -1;
  int64_t vals[64] = {0};
  for (int i = 0; i < nargs && i < 64; i++) vals[i] = args[i].is_tensor ? 0 : args[i].ival;
  for (int j = 0; j < n; j++) {
    const rt_tmap_spec *s = &spec[j];
    if (s->param != nargs + j || s->arg < 0 || s->arg >= nargs || !args[s->arg].is_tensor)
      return snprintf(err, errn,
                      "kernel '%s': tensor map %d does not follow the %d arguments or names no tensor",
                      k->kernel_name, j, nargs),
             -1;
    const char *name = args[s->arg].name;
    rt_tmap_desc d;
    if (rt_tmap_spec_desc(s, vals, nargs, dev ? dev[s->arg] : (rt_dptr)(uintptr_t)host[s->arg], &d, m,
                          sizeof m))
      return snprintf(err, errn, "kernel '%s', argument '%s': %s", k->kernel_name, name, m), -1;
    int rc;
    if (dev) {
      rc = rt_tmap_encode(&d, maps[j].b, m, sizeof m);
    } else {
      sim_tma_params p;
      to_sim(&d, host[s->arg], &p);
      rc = sim_tma_encode(&p, maps[j].b, m, sizeof m);
    }
    if (rc)
      return snprintf(err, errn, "kernel '%s', argument '%s' (its TMA boxes need a tensor map): %s",
                      k->kernel_name, name, m),
             -1;
  }
  return n;
}
