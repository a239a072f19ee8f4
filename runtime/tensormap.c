/*
 * tensormap.c - tensor maps for Hopper's bulk tensor copies: kiln's description of a tiled view
 * (rt_tmap_desc), checked field by field, then encoded by the driver (cuTensorMapEncodeTiled).
 *
 * The checks are the rules the driver documents for a tiled map without interleave; running them
 * first turns a bad map into a message naming the field instead of a bare CUDA_ERROR_INVALID_VALUE.
 * The simulator encodes the same fields itself (sim/sim_tma.c, which the layering keeps from
 * including this file); tests/unit/test_runtime.c checks that both accept and refuse the same maps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack_int.h"
#include "rt.h"

int rt_tmap_elem_bytes(rt_tmap_type t) {
  static const int bytes[RT_TMAP_NTYPES] = {
      [RT_TMAP_U8] = 1,  [RT_TMAP_U16] = 2, [RT_TMAP_U32] = 4, [RT_TMAP_I32] = 4, [RT_TMAP_U64] = 8,
      [RT_TMAP_I64] = 8, [RT_TMAP_F16] = 2, [RT_TMAP_F32] = 4, [RT_TMAP_F64] = 8, [RT_TMAP_BF16] = 2,
  };
  return (unsigned)t < RT_TMAP_NTYPES ? bytes[t] : 0;
}

static int check_dim(const rt_tmap_desc *d, int i, char *err, size_t errn) {
  uint32_t es = d->elem_strides[i] ? d->elem_strides[i] : 1;
  if (d->dims[i] < 1 || d->dims[i] > (1ull << 32))
    return snprintf(err, errn, "tensor map: dimension %d has %llu elements (want 1..2^32)", i,
                    (unsigned long long)d->dims[i]),
           -1;
  if (d->box[i] < 1 || d->box[i] > 256)
    return snprintf(err, errn, "tensor map: box dimension %d is %u (want 1..256)", i, d->box[i]), -1;
  if (es > 8) return snprintf(err, errn, "tensor map: element stride %d is %u (want 1..8)", i, es), -1;
  if (i && (d->strides[i - 1] % 16 || d->strides[i - 1] >= (1ull << 40)))
    return snprintf(err, errn,
                    "tensor map: stride of dimension %d is %llu bytes (want a multiple of 16 below 2^40)", i,
                    (unsigned long long)d->strides[i - 1]),
           -1;
  return 0;
}

int rt_tmap_check(const rt_tmap_desc *d, char *err, size_t errn) {
  int eb = rt_tmap_elem_bytes(d->type);
  if (!eb) return snprintf(err, errn, "tensor map: element type %d does not exist", (int)d->type), -1;
  if (d->rank < 1 || d->rank > RT_TMAP_MAXDIM)
    return snprintf(err, errn, "tensor map: rank %d (want 1..%d)", d->rank, RT_TMAP_MAXDIM), -1;
  if (d->gaddr % 16)
    return snprintf(err, errn, "tensor map: global address 0x%llx is not 16-byte aligned",
                    (unsigned long long)d->gaddr),
           -1;
  for (int i = 0; i < d->rank; i++)
    if (check_dim(d, i, err, errn)) return -1;
  uint32_t inner = d->box[0] * (uint32_t)eb;
  if (inner % 16)
    return snprintf(err, errn, "tensor map: the box's inner dimension is %u bytes (want a multiple of 16)",
                    inner),
           -1;
  if (d->swizzle && d->swizzle != 32 && d->swizzle != 64 && d->swizzle != 128)
    return snprintf(err, errn, "tensor map: swizzle %d (want 0, 32, 64 or 128 bytes)", d->swizzle), -1;
  if (d->swizzle && inner > (uint32_t)d->swizzle)
    return snprintf(err, errn,
                    "tensor map: the box's inner dimension is %u bytes, wider than its %d-byte swizzle",
                    inner, d->swizzle),
           -1;
  return 0;
}

int rt_tmap_encode(const rt_tmap_desc *d, void *map, char *err, size_t errn) {
  if (rt_tmap_check(d, err, errn)) return -1;
  uint32_t es[RT_TMAP_MAXDIM];
  for (int i = 0; i < RT_TMAP_MAXDIM; i++) es[i] = d->elem_strides[i] ? d->elem_strides[i] : 1;
  int swz = d->swizzle == 32 ? 1 : d->swizzle == 64 ? 2 : d->swizzle == 128 ? 3 : 0;
  int oob = d->oob_nan && (d->type == RT_TMAP_F16 || d->type == RT_TMAP_F32 || d->type == RT_TMAP_F64 ||
                           d->type == RT_TMAP_BF16);
  memset(map, 0, RT_TMAP_BYTES);
  return rt_cu_tensor_map_encode(map, (int)d->type, (unsigned)d->rank, (void *)(uintptr_t)d->gaddr, d->dims,
                                 d->strides, d->box, es, swz, oob, err, errn);
}

/* ---- kiln-tmap lines ---- */

/* The kiln-tmap lines' type names (codegen writes them): the types kiln's maps use. */
static const char *const type_names[RT_TMAP_NTYPES] = {[RT_TMAP_U8] = "u8",
                                                       [RT_TMAP_I32] = "i32",
                                                       [RT_TMAP_F16] = "f16",
                                                       [RT_TMAP_F32] = "f32",
                                                       [RT_TMAP_BF16] = "bf16"};

const char *rt_tmap_type_name(rt_tmap_type t) { return (unsigned)t < RT_TMAP_NTYPES ? type_names[t] : NULL; }

static int type_named(const char *s, size_t n, rt_tmap_type *t) {
  for (int i = 0; i < RT_TMAP_NTYPES; i++)
    if (type_names[i] && strlen(type_names[i]) == n && !strncmp(s, type_names[i], n))
      return *t = (rt_tmap_type)i, 0;
  return -1;
}

/* Splits v (n bytes) at ';' into up to max expressions, commas read as spaces. The count, or -1. */
static int exprs(const char *v, size_t n, char (*out)[RT_TMAP_EXPR], int max) {
  int k = 0;
  for (size_t i = 0; i <= n;) {
    size_t j = i;
    while (j < n && v[j] != ';') j++;
    if (k == max || j == i || j - i >= RT_TMAP_EXPR) return -1;
    for (size_t q = i; q < j; q++) out[k][q - i] = v[q] == ',' ? ' ' : v[q];
    out[k++][j - i] = 0;
    i = j + 1;
  }
  return k;
}

static int parse_line(const char *l, size_t len, rt_tmap_spec *s) {
  memset(s, 0, sizeof *s);
  int have = 0, ndims = 0, nstrides = 0, nbox = 0;
  s->param = s->arg = -1;
  for (size_t i = 0; i < len;) {
    while (i < len && l[i] == ' ') i++;
    size_t j = i;
    while (j < len && l[j] != ' ') j++;
    const char *eq = memchr(l + i, '=', j - i);
    if (j > i && !eq) return -1;
    if (j > i) {
      size_t kn = (size_t)(eq - (l + i)), vn = j - i - kn - 1;
      const char *k = l + i, *v = eq + 1;
      char num[32];
      snprintf(num, sizeof num, "%.*s", (int)(vn < 31 ? vn : 31), v);
      char *end;
      long x = strtol(num, &end, 10);
      int isnum = vn && vn < 31 && *end == 0;
      if (kn == 5 && !strncmp(k, "param", 5) && isnum && x >= 0 && x < 1024)
        s->param = (int)x, have |= 1;
      else if (kn == 3 && !strncmp(k, "arg", 3) && isnum && x >= 0 && x < 1024)
        s->arg = (int)x, have |= 2;
      else if (kn == 4 && !strncmp(k, "type", 4) && !type_named(v, vn, &s->type))
        have |= 4;
      else if (kn == 4 && !strncmp(k, "rank", 4) && isnum && x >= 1 && x <= RT_TMAP_MAXDIM)
        s->rank = (int)x, have |= 8;
      else if (kn == 7 && !strncmp(k, "swizzle", 7) && isnum && (x == 0 || x == 32 || x == 64 || x == 128))
        s->swizzle = (int)x, have |= 16;
      else if (kn == 3 && !strncmp(k, "box", 3)) {
        for (const char *p = v; p < v + vn && nbox < RT_TMAP_MAXDIM;) {
          long b = strtol(p, &end, 10);
          if (end == p || b < 1 || b > 256 || end > v + vn) return -1;
          s->box[nbox++] = (uint32_t)b;
          p = end + (end < v + vn && *end == ',');
          if (end < v + vn && *end != ',') return -1;
        }
        have |= 32;
      } else if (kn == 4 && !strncmp(k, "dims", 4) && (ndims = exprs(v, vn, s->dims, RT_TMAP_MAXDIM)) > 0)
        have |= 64;
      else if (kn == 7 && !strncmp(k, "strides", 7) &&
               (vn == 0 || (nstrides = exprs(v, vn, s->strides, RT_TMAP_MAXDIM - 1)) > 0)) /* rank 1: none */
        have |= 128;
      else
        return -1;
    }
    i = j;
  }
  if (have != 255 || ndims != s->rank || nbox != s->rank || nstrides != s->rank - 1) return -1;
  return 0;
}

int rt_tmap_specs(const char *text, rt_tmap_spec *out, int max, char *err, size_t errn) {
  static const char tag[] = "kiln-tmap ";
  int n = 0;
  for (const char *l = text; l && *l;) {
    const char *e = strchr(l, '\n');
    size_t len = e ? (size_t)(e - l) : strlen(l);
    const char *p = l;
    if (len >= 3 && !strncmp(p, "// ", 3)) p += 3;
    size_t rest = len - (size_t)(p - l);
    if (rest >= sizeof tag - 1 && !strncmp(p, tag, sizeof tag - 1)) {
      if (n == max) return snprintf(err, errn, "more than %d tensor maps in one kernel", max), -1;
      if (parse_line(p + sizeof tag - 1, rest - (sizeof tag - 1), &out[n]))
        return snprintf(err, errn, "malformed tensor-map line '%.*s'", (int)(rest < 200 ? rest : 200), p), -1;
      n++;
    } else if (p == l && len && l[0] != '/' && l[0] != 'k') {
      break; /* past the PTX's leading comments */
    }
    l = e ? e + 1 : NULL;
  }
  return n;
}

int rt_tmap_spec_desc(const rt_tmap_spec *s, const int64_t *args, int nargs, rt_dptr gaddr, rt_tmap_desc *d,
                      char *err, size_t errn) {
  memset(d, 0, sizeof *d);
  d->type = s->type, d->rank = s->rank, d->gaddr = gaddr, d->swizzle = s->swizzle;
  char m[160];
  for (int i = 0; i < s->rank; i++) {
    int64_t v;
    d->box[i] = s->box[i];
    if (pack_expr_eval(s->dims[i], args, nargs, &v, m, sizeof m) ||
        (i + 1 < s->rank && pack_expr_eval(s->strides[i], args, nargs, &v, m, sizeof m)))
      return snprintf(err, errn, "tensor map of argument %d: %s", s->arg, m), -1;
    pack_expr_eval(s->dims[i], args, nargs, &v, m, sizeof m);
    if (v < 0)
      return snprintf(err, errn, "tensor map of argument %d: dimension %d is %lld", s->arg, i, (long long)v),
             -1;
    d->dims[i] = (uint64_t)v;
    if (i + 1 < s->rank) {
      pack_expr_eval(s->strides[i], args, nargs, &v, m, sizeof m);
      if (v < 0)
        return snprintf(err, errn, "tensor map of argument %d: stride %d is %lld", s->arg, i, (long long)v),
               -1;
      d->strides[i] = (uint64_t)v;
    }
  }
  return 0;
}
