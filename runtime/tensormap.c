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
#include <string.h>

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
