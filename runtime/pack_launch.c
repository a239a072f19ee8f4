/*
 * pack_launch.c - using an open pack: the queries of include/kiln_rt.h, the launch plan, the image
 * a device gets, and the launch on the caller's stream.
 *
 * A launch:
 * 1. Picks the variant for the sizes: the bucket nearest in log space (docs/packs.md, "Shape buckets").
 * 2. Evaluates the variant's launch rules: grid, tensor shapes, scalar values.
 * 3. Picks the image: a cubin built for exactly the device's sm, else PTX for the row rt_pick_target
 *    chooses among the variant's PTX targets (the rule `kiln run` uses); then, where the variant has
 *    one of that target and kind specialised on alignment (format 2's `aligned` images) and the
 *    launch's arguments are aligned as it needs (tensor addresses to 16 bytes, integer scalars
 *    multiples of 16), that one instead.
 * 4. Loads that image once per device (cached in the variant) and launches on the caller's stream.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack_int.h"

/* ---- queries ---- */

static const pack_kernel *kernel(const kiln_pack *p, int k) {
  return k >= 0 && k < p->nkernels ? &p->k[k] : NULL;
}

const char *kiln_pack_writer(const kiln_pack *p) { return p->writer; }
int kiln_pack_format(const kiln_pack *p) { return p->format; }
int kiln_pack_target_count(const kiln_pack *p) { return p->ntargets; }
const char *kiln_pack_target(const kiln_pack *p, int i) {
  return i >= 0 && i < p->ntargets ? p->targets[i] : NULL;
}
int kiln_pack_kernel_count(const kiln_pack *p) { return p->nkernels; }
const char *kiln_pack_kernel_name(const kiln_pack *p, int k) { return kernel(p, k) ? p->k[k].name : NULL; }

int kiln_pack_kernel_find(const kiln_pack *p, const char *name) {
  for (int k = 0; k < p->nkernels; k++)
    if (!strcmp(p->k[k].name, name)) return k;
  return -1;
}

int kiln_pack_size_count(const kiln_pack *p, int k) { return kernel(p, k) ? p->k[k].nsizes : -1; }
const char *kiln_pack_size_name(const kiln_pack *p, int k, int i) {
  return kernel(p, k) && i >= 0 && i < p->k[k].nsizes ? p->k[k].sizes[i] : NULL;
}
int kiln_pack_variant_count(const kiln_pack *p, int k) { return kernel(p, k) ? p->k[k].nvariants : -1; }
const char *kiln_pack_variant_settings(const kiln_pack *p, int k, int v) {
  return kernel(p, k) && v >= 0 && v < p->k[k].nvariants ? p->k[k].v[v].settings : NULL;
}
const int64_t *kiln_pack_variant_bucket(const kiln_pack *p, int k, int v) {
  return kernel(p, k) && v >= 0 && v < p->k[k].nvariants ? p->k[k].v[v].bucket : NULL;
}
int kiln_pack_arg_count(const kiln_pack *p, int k) { return kernel(p, k) ? p->k[k].nargs : -1; }
int kiln_pack_tensor_count(const kiln_pack *p, int k) { return kernel(p, k) ? p->k[k].ntensors : -1; }

int kiln_pack_arg_get(const kiln_pack *p, int k, int i, kiln_pack_arg *out) {
  if (!kernel(p, k) || i < 0 || i >= p->k[k].nargs) return -1;
  const pack_arg *a = &p->k[k].args[i];
  *out = (kiln_pack_arg){a->name, a->is_tensor, a->type, a->bytes, a->role, a->rank};
  return 0;
}

int kiln_pack_dim_size(const kiln_pack *p, int k, int variant, int arg, int d) {
  const pack_kernel *K = kernel(p, k);
  if (!K || variant < 0 || variant >= K->nvariants || arg < 0 || arg >= K->nargs || !K->args[arg].is_tensor ||
      d < 0 || d >= K->args[arg].rank)
    return -1;
  const char *e = K->v[variant].dims[arg][d];
  char *end;
  long i = e[0] == '$' ? strtol(e + 1, &end, 10) : -1;
  return i >= 0 && !*end ? (int)i : -1;
}

/* ---- step 1: the variant ---- */

/* Distance of sizes from a bucket: the sum over sizes of |log2(1 + x) - log2(1 + b)|. */
static double bucket_distance(const pack_kernel *K, const pack_variant *v, const int64_t *sizes) {
  double d = 0;
  for (int i = 0; i < K->nsizes; i++)
    d += fabs(log2(1.0 + (double)sizes[i]) - log2(1.0 + (double)v->bucket[i]));
  return d;
}

static int pick_variant(const pack_kernel *K, const int64_t *sizes) {
  int best = 0;
  double bd = bucket_distance(K, &K->v[0], sizes);
  for (int i = 1; i < K->nvariants; i++) {
    double d = bucket_distance(K, &K->v[i], sizes);
    if (d < bd) best = i, bd = d; /* ties keep the earlier bucket */
  }
  return best;
}

/* ---- step 2: launch rules ---- */

static int eval(const kiln_pack *p, const pack_kernel *K, const char *what, const char *e,
                const int64_t *sizes, int64_t *out, char *err, size_t errn) {
  char msg[320];
  if (!pack_expr_eval(e, sizes, K->nsizes, out, msg, sizeof msg)) return 0;
  snprintf(err, errn, "%s: kernel '%s': %s: %s", p->path, K->name, what, msg);
  return -1;
}

static int eval_args(const kiln_pack *p, const pack_kernel *K, const pack_variant *v, const int64_t *sizes,
                     kiln_pack_plan *out, char *err, size_t errn) {
  char what[128];
  for (int i = 0; i < K->nargs; i++) {
    const pack_arg *a = &K->args[i];
    for (int d = 0; a->is_tensor && d < a->rank; d++) {
      snprintf(what, sizeof what, "tensor '%s' dim %d", a->name, d);
      if (eval(p, K, what, v->dims[i][d], sizes, &out->dims[i][d], err, errn)) return -1;
      if (out->dims[i][d] < 0)
        return snprintf(err, errn, "%s: kernel '%s': %s is %lld for these sizes", p->path, K->name, what,
                        (long long)out->dims[i][d]),
               -1;
    }
    if (a->is_tensor) continue;
    snprintf(what, sizeof what, "scalar '%s'", a->name);
    if (pack_expr_is_float(v->value[i]))
      out->fval[i] = pack_expr_float(v->value[i]);
    else if (eval(p, K, what, v->value[i], sizes, &out->ival[i], err, errn))
      return -1;
    else
      out->fval[i] = (double)out->ival[i];
  }
  return 0;
}

/* ---- step 3: the image ---- */

static const pack_image_ref *pick_image(const kiln_pack *p, const pack_variant *v, int sm) {
  for (int i = 0; i < v->nimages; i++)
    if (v->images[i].is_cubin && rt_target_sm(p->targets[v->images[i].target]) == sm) return &v->images[i];
  const char *names[PACK_MAXIMAGES];
  int idx[PACK_MAXIMAGES], n = 0;
  for (int i = 0; i < v->nimages; i++)
    if (!v->images[i].is_cubin) names[n] = p->targets[v->images[i].target], idx[n++] = i;
  int best = rt_pick_target(sm, names, n);
  return best < 0 ? NULL : &v->images[idx[best]];
}

/* The arguments of this launch that are aligned: bit i for a tensor whose address is a multiple of
 * 16 bytes or an integer scalar that is a multiple of 16. */
static uint64_t launch_mask(const pack_kernel *K, const kiln_pack_plan *pl, const uint64_t *tensors) {
  uint64_t m = 0;
  for (int i = 0, t = 0; i < K->nargs && i < 64; i++) {
    const pack_arg *a = &K->args[i];
    int ok = a->is_tensor ? tensors[t++] % 16 == 0 : !pack_type_is_float(a->type) && pl->ival[i] % 16 == 0;
    if (ok) m |= (uint64_t)1 << i;
  }
  return m;
}

/* The specialised image of the same target and kind as r when the launch's mask covers the
 * variant's `aligned` arguments; NULL otherwise. */
static const pack_image_ref *aligned_image(const pack_variant *v, const pack_image_ref *r, uint64_t mask) {
  if (!r || !v->naimages || (mask & v->amask) != v->amask) return NULL;
  for (int i = 0; i < v->naimages; i++)
    if (v->aimages[i].target == r->target && v->aimages[i].is_cubin == r->is_cubin) return &v->aimages[i];
  return NULL;
}

static int no_image(const kiln_pack *p, const pack_kernel *K, int sm, char *err, size_t errn) {
  char list[256] = "";
  for (int t = 0; t < p->ntargets; t++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", t ? " " : "", p->targets[t]);
  snprintf(err, errn, "%s: kernel '%s' has no image for a device of sm %d (targets: %s)", p->path, K->name,
           sm, list);
  return -1;
}

int kiln_pack_plan_get(const kiln_pack *p, int k, const int64_t *sizes, int sm, kiln_pack_plan *out,
                       char *err, size_t errn) {
  memset(out, 0, sizeof *out);
  const pack_kernel *K = kernel(p, k);
  if (!K) return snprintf(err, errn, "%s: no kernel %d (the pack has %d)", p->path, k, p->nkernels), -1;
  for (int i = 0; i < K->nsizes; i++)
    if (sizes[i] < 0)
      return snprintf(err, errn, "%s: kernel '%s': size %s = %lld is negative", p->path, K->name, K->sizes[i],
                      (long long)sizes[i]),
             -1;
  out->variant = pick_variant(K, sizes);
  const pack_variant *v = &K->v[out->variant];
  out->settings = v->settings;
  out->threads = v->threads;
  out->shared_bytes = v->shared;
  for (int d = 0; d < 3; d++) {
    char what[16];
    snprintf(what, sizeof what, "grid[%d]", d);
    if (eval(p, K, what, v->grid[d], sizes, &out->grid[d], err, errn)) return -1;
  }
  if (eval_args(p, K, v, sizes, out, err, errn)) return -1;
  if (sm <= 0) return 0;
  const pack_image_ref *r = pick_image(p, v, sm);
  if (!r) return no_image(p, K, sm, err, errn);
  out->target = p->targets[r->target];
  out->is_cubin = r->is_cubin;
  return 0;
}

/* ---- step 4: the launch ---- */

/* The device and the variant's kernel on it for a launch with this mask (launch_mask), opened and
 * loaded on first use; *aligned: 1 when it is the specialised image. Under p->lock. */
static int ready(kiln_pack *p, const pack_kernel *K, pack_variant *v, int device, uint64_t mask,
                 rt_kernel **out, int *aligned, char *err, size_t errn) {
  char msg[1024];
  if (!p->dev[device] && rt_device_open(device, &p->dev[device], msg, sizeof msg))
    return snprintf(err, errn, "%s: %s", p->path, msg), -1;
  if (rt_device_bind(p->dev[device], msg, sizeof msg)) /* this thread may not be the one that opened it */
    return snprintf(err, errn, "%s: %s", p->path, msg), -1;
  const pack_image_ref *r = pick_image(p, v, rt_device_sm(p->dev[device]));
  if (!r) return no_image(p, K, rt_device_sm(p->dev[device]), err, errn);
  const pack_image_ref *a = aligned_image(v, r, mask);
  rt_kernel **slot = a ? &v->aloaded[device] : &v->loaded[device];
  *aligned = a != NULL;
  if (a) r = a;
  if (*slot) return *out = *slot, 0;
  const char *image = (const char *)p->img[r->image].data;
  if (rt_kernel_load(p->dev[device], image, v->symbol, v->shared, slot, msg, sizeof msg))
    return snprintf(err, errn, "%s: kernel '%s' (%s %s%s): %s", p->path, K->name, p->targets[r->target],
                    r->is_cubin ? "cubin" : "PTX", a ? ", aligned" : "", msg),
           -1;
  *out = *slot;
  return 0;
}

/* One parameter's bytes: a device pointer, or a scalar in its type. */
static void put_scalar(const pack_arg *a, const kiln_pack_plan *pl, int i, unsigned char *slot) {
  if (!strcmp(a->type, "f32")) {
    float f = (float)pl->fval[i];
    memcpy(slot, &f, 4);
  } else if (!strcmp(a->type, "f64"))
    memcpy(slot, &pl->fval[i], 8);
  else {
    int64_t v = pl->ival[i]; /* little-endian: the low bytes are the narrower integer */
    memcpy(slot, &v, (size_t)a->bytes);
  }
}

/* The tensor maps the variant's kernel takes after its arguments (copies {tma = 1}, docs/hopper.md):
 * the "kiln-tmap" comment lines of its PTX for the target whose image runs, evaluated for these
 * arguments and encoded by the driver into maps[]. The count, or -1 with a message. */
static int tensor_maps(const kiln_pack *p, const pack_kernel *K, const pack_variant *v, int sm, int aligned,
                       const kiln_pack_plan *pl, const uint64_t *tensors,
                       unsigned char (*maps)[RT_TMAP_BYTES], char *err, size_t errn) {
  const pack_image_ref *r = pick_image(p, v, sm), *set = aligned ? v->aimages : v->images;
  int nset = aligned ? v->naimages : v->nimages;
  const char *ptx = NULL;
  for (int i = 0; r && i < nset && !ptx; i++)
    if (!set[i].is_cubin && set[i].target == r->target) ptx = (const char *)p->img[set[i].image].data;
  if (!ptx && aligned) /* a specialised cubin without its PTX: the maps are the general kernel's */
    for (int i = 0; r && i < v->nimages && !ptx; i++)
      if (!v->images[i].is_cubin && v->images[i].target == r->target)
        ptx = (const char *)p->img[v->images[i].image].data;
  if (!ptx) return 0;
  rt_tmap_spec spec[RT_TMAP_MAXSPEC];
  char msg[512];
  int n = rt_tmap_specs(ptx, spec, RT_TMAP_MAXSPEC, msg, sizeof msg);
  if (n < 0) return snprintf(err, errn, "%s: kernel '%s': %s", p->path, K->name, msg), -1;
  int64_t vals[PACK_MAXARGS] = {0};
  rt_dptr addr[PACK_MAXARGS] = {0};
  for (int i = 0, t = 0; i < K->nargs; i++)
    if (K->args[i].is_tensor)
      addr[i] = tensors[t++];
    else
      vals[i] = pl->ival[i];
  for (int j = 0; j < n; j++) {
    const rt_tmap_spec *s = &spec[j];
    rt_tmap_desc d;
    if (s->param != K->nargs + j || s->arg < 0 || s->arg >= K->nargs || !K->args[s->arg].is_tensor)
      return snprintf(err, errn, "%s: kernel '%s': tensor map %d names no tensor argument", p->path, K->name,
                      j),
             -1;
    if (rt_tmap_spec_desc(s, vals, K->nargs, addr[s->arg], &d, msg, sizeof msg) ||
        rt_tmap_encode(&d, maps[j], msg, sizeof msg))
      return snprintf(err, errn, "%s: kernel '%s', tensor '%s' (its TMA boxes need a tensor map): %s",
                      p->path, K->name, K->args[s->arg].name, msg),
             -1;
  }
  return n;
}

int kiln_pack_launch(kiln_pack *p, int k, const int64_t *sizes, const uint64_t *tensors, int ntensors,
                     int device, void *stream, char *err, size_t errn) {
  kiln_pack_plan pl;
  if (kiln_pack_plan_get(p, k, sizes, 0, &pl, err, errn)) return -1;
  pack_kernel *K = &p->k[k];
  if (ntensors != K->ntensors)
    return snprintf(err, errn, "%s: kernel '%s' takes %d tensors, got %d", p->path, K->name, K->ntensors,
                    ntensors),
           -1;
  if (device < 0 || device >= PACK_MAXDEVICES)
    return snprintf(err, errn, "%s: device %d out of range (0 to %d)", p->path, device, PACK_MAXDEVICES - 1),
           -1;
  for (int i = 0; i < K->nargs; i++)
    if (!K->args[i].is_tensor &&
        (!strcmp(K->args[i].type, "f16") || !strcmp(K->args[i].type, "bf16") || K->args[i].type[0] == 'e'))
      return snprintf(err, errn, "%s: scalar '%s' of type %s cannot be passed", p->path, K->args[i].name,
                      K->args[i].type),
             -1;
  rt_kernel *kern = NULL;
  int aligned = 0;
  uint64_t mask = launch_mask(K, &pl, tensors);
  pthread_mutex_lock(&p->lock);
  int rc = ready(p, K, &K->v[pl.variant], device, mask, &kern, &aligned, err, errn);
  pthread_mutex_unlock(&p->lock);
  if (rc) return -1;
  _Alignas(8) unsigned char store[PACK_MAXARGS][8];
  _Alignas(64) unsigned char maps[RT_TMAP_MAXSPEC][RT_TMAP_BYTES];
  void *params[PACK_MAXARGS + RT_TMAP_MAXSPEC];
  int nmaps = tensor_maps(p, K, &K->v[pl.variant], rt_device_sm(p->dev[device]), aligned, &pl, tensors, maps,
                          err, errn);
  if (nmaps < 0) return -1;
  for (int j = 0; j < nmaps; j++) params[K->nargs + j] = maps[j];
  for (int i = 0, t = 0; i < K->nargs; i++) {
    memset(store[i], 0, 8);
    if (K->args[i].is_tensor)
      memcpy(store[i], &tensors[t++], 8);
    else
      put_scalar(&K->args[i], &pl, i, store[i]);
    params[i] = store[i];
  }
  char msg[1024];
  if (rt_launch_on(kern, pl.grid, pl.threads, pl.shared_bytes, params, stream, msg, sizeof msg))
    return snprintf(err, errn, "%s: kernel '%s': %s", p->path, K->name, msg), -1;
  return 0;
}
