/*
 * sim_tma.c - tensor maps and bulk tensor copies for the simulator (sim_tma.h).
 *
 * The encoding (128 bytes): "KTM1" magic, then the fields of sim_tma_params at fixed offsets (the
 * global address as a 64-bit integer). A copy walks the box in order, dimension 0 innermost, one
 * element at a time: its coordinate decides in or out of bounds, its dense box offset (through the
 * swizzle) its place in shared memory.
 */
#include "sim_tma.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim_wgmma.h"

enum { MAGIC = 0x314d544b }; /* "KTM1" */

typedef struct {
  uint32_t magic;
  uint8_t elem_bytes, is_float, rank, swizzle, oob_nan, pad[3];
  uint64_t gaddr;
  uint64_t dims[CG_TMAP_MAXDIM];
  uint64_t strides[CG_TMAP_MAXDIM - 1];
  uint16_t box[CG_TMAP_MAXDIM];
  uint8_t elem_strides[CG_TMAP_MAXDIM];
} map_bytes;
_Static_assert(sizeof(map_bytes) <= CG_TMAP_BYTES, "the simulator's tensor map fits the driver's 128 bytes");

static int check(const sim_tma_params *p, char *err, size_t errn) {
  int eb = p->elem_bytes;
  if (eb != 1 && eb != 2 && eb != 4 && eb != 8)
    return snprintf(err, errn, "tensor map: element size %d bytes (want 1, 2, 4 or 8)", eb), -1;
  if (p->rank < 1 || p->rank > CG_TMAP_MAXDIM)
    return snprintf(err, errn, "tensor map: rank %d (want 1..%d)", p->rank, CG_TMAP_MAXDIM), -1;
  if ((uintptr_t)p->gaddr % 16)
    return snprintf(err, errn, "tensor map: global address %p is not 16-byte aligned", p->gaddr), -1;
  for (int i = 0; i < p->rank; i++) {
    if (p->dims[i] < 1 || p->dims[i] > (1ull << 32))
      return snprintf(err, errn, "tensor map: dimension %d has %llu elements (want 1..2^32)", i,
                      (unsigned long long)p->dims[i]),
             -1;
    if (p->box[i] < 1 || p->box[i] > 256)
      return snprintf(err, errn, "tensor map: box dimension %d is %u (want 1..256)", i, p->box[i]), -1;
    if (p->elem_strides[i] < 1 || p->elem_strides[i] > 8)
      return snprintf(err, errn, "tensor map: element stride %d is %u (want 1..8)", i, p->elem_strides[i]),
             -1;
    if (i && (p->strides[i - 1] % 16 || p->strides[i - 1] >= (1ull << 40)))
      return snprintf(err, errn,
                      "tensor map: stride of dimension %d is %llu bytes (want a multiple of 16 below "
                      "2^40)",
                      i, (unsigned long long)p->strides[i - 1]),
             -1;
  }
  uint32_t inner = p->box[0] * (uint32_t)eb;
  if (inner % 16)
    return snprintf(err, errn,
                    "tensor map: the box's inner dimension is %u bytes (want a multiple "
                    "of 16)",
                    inner),
           -1;
  if (p->swizzle && p->swizzle != 32 && p->swizzle != 64 && p->swizzle != 128)
    return snprintf(err, errn, "tensor map: swizzle %d (want 0, 32, 64 or 128 bytes)", p->swizzle), -1;
  if (p->swizzle && inner > (uint32_t)p->swizzle)
    return snprintf(err, errn,
                    "tensor map: the box's inner dimension is %u bytes, wider than its %d-byte swizzle",
                    inner, p->swizzle),
           -1;
  return 0;
}

int sim_tma_encode(const sim_tma_params *p, void *map, char *err, size_t errn) {
  if (check(p, err, errn)) return -1;
  map_bytes m = {MAGIC,
                 (uint8_t)p->elem_bytes,
                 (uint8_t)(p->is_float != 0),
                 (uint8_t)p->rank,
                 (uint8_t)(p->swizzle / 16),
                 (uint8_t)(p->oob_nan != 0),
                 {0},
                 (uint64_t)(uintptr_t)p->gaddr,
                 {0},
                 {0},
                 {0},
                 {0}};
  for (int i = 0; i < p->rank; i++) {
    m.dims[i] = p->dims[i], m.box[i] = (uint16_t)p->box[i], m.elem_strides[i] = (uint8_t)p->elem_strides[i];
    if (i) m.strides[i - 1] = p->strides[i - 1];
  }
  memset(map, 0, CG_TMAP_BYTES);
  memcpy(map, &m, sizeof m);
  return 0;
}

int sim_tma_decode(const void *map, sim_tma_params *p, char *err, size_t errn) {
  map_bytes m;
  memcpy(&m, map, sizeof m);
  if (m.magic != MAGIC)
    return snprintf(err, errn, "tensor map at %p was not made for the simulator (magic 0x%08x)", map,
                    m.magic),
           -1;
  *p = (sim_tma_params){
      m.elem_bytes, m.is_float,     m.rank,   (const void *)(uintptr_t)m.gaddr, {0}, {0}, {0},
      {0},          m.swizzle * 16, m.oob_nan};
  for (int i = 0; i < m.rank && i < CG_TMAP_MAXDIM; i++) {
    p->dims[i] = m.dims[i], p->box[i] = m.box[i], p->elem_strides[i] = m.elem_strides[i];
    if (i) p->strides[i - 1] = m.strides[i - 1];
  }
  return check(p, err, errn);
}

uint32_t sim_tma_box_bytes(const sim_tma_params *p) {
  uint32_t n = (uint32_t)p->elem_bytes;
  for (int i = 0; i < p->rank; i++) n *= p->box[i];
  return n;
}

uint64_t sim_tma_span(const sim_tma_params *p) {
  uint64_t end = (uint64_t)p->elem_bytes * p->dims[0];
  for (int i = 1; i < p->rank; i++) end += p->strides[i - 1] * (p->dims[i] - 1);
  return end;
}

/* Checks a copy's operands: rank, coordinates, shared range. A load's box may lie partly or wholly
 * outside the tensor (those elements are filled: a tile at the edge of a problem, split into boxes,
 * has such boxes); a store whose box writes nothing at all is reported. */
static int check_copy(const sim_tma_params *p, int dims, const int32_t *coords, size_t smem_bytes,
                      uint32_t off, const char *what, char *err, size_t errn) {
  if (dims != p->rank)
    return snprintf(err, errn, "%s of %dD on a tensor map of rank %d", what, dims, p->rank), -1;
  for (int i = 0; i < p->rank; i++)
    if (p->elem_strides[i] != 1)
      return snprintf(err, errn, "%s: element stride %u in dimension %d is not modelled", what,
                      p->elem_strides[i], i),
             -1;
  int inside = 1;
  for (int i = 0; i < dims; i++)
    if ((int64_t)coords[i] + p->box[i] <= 0 || (int64_t)coords[i] >= (int64_t)p->dims[i]) inside = 0;
  if (!inside && strstr(what, "store")) {
    char at[96] = "", *s = at;
    for (int i = 0; i < dims; i++)
      s += snprintf(s, (size_t)(at + sizeof at - s), "%s%d", i ? ", " : "", coords[i]);
    return snprintf(err, errn, "%s: the box at (%s) lies wholly outside the tensor", what, at), -1;
  }
  uint32_t bytes = sim_tma_box_bytes(p);
  if (off % 128) return snprintf(err, errn, "%s: shared offset %u is not 128-byte aligned", what, off), -1;
  if ((size_t)off + bytes > smem_bytes)
    return snprintf(err, errn, "%s: the box's %u bytes at shared offset %u overrun the block's %zu bytes",
                    what, bytes, off, smem_bytes),
           -1;
  return 0;
}

int sim_tma_check_copy(const sim_tma_params *p, int dims, const int32_t *coords, size_t smem_bytes,
                       uint32_t off, const char *what, char *err, size_t errn) {
  return check_copy(p, dims, coords, smem_bytes, off, what, err, errn);
}

/* Walks the box: for element e (dense index), its global address (NULL: out of bounds) and its
 * shared offset. */
typedef void (*visit_fn)(const sim_tma_params *p, unsigned char *g, uint32_t soff, void *ctx);

static void walk(const sim_tma_params *p, const int32_t *coords, uint32_t base, visit_fn f, void *ctx) {
  uint32_t idx[CG_TMAP_MAXDIM] = {0}, total = sim_tma_box_bytes(p) / (uint32_t)p->elem_bytes;
  for (uint32_t e = 0; e < total; e++) {
    int in = 1;
    uint64_t goff = 0;
    for (int i = 0; i < p->rank; i++) {
      int64_t c = (int64_t)coords[i] + idx[i];
      if (c < 0 || c >= (int64_t)p->dims[i])
        in = 0;
      else
        goff += i ? (uint64_t)c * p->strides[i - 1] : (uint64_t)c * (uint64_t)p->elem_bytes;
    }
    uint32_t soff = base + e * (uint32_t)p->elem_bytes;
    f(p, in ? (unsigned char *)(uintptr_t)p->gaddr + goff : NULL, sim_swizzle(soff, p->swizzle), ctx);
    for (int i = 0; i < p->rank && ++idx[i] == p->box[i]; i++) idx[i] = 0;
  }
}

typedef struct {
  unsigned char *smem;
  uint8_t *tags;
} load_ctx;

static void load_one(const sim_tma_params *p, unsigned char *g, uint32_t soff, void *ctx) {
  load_ctx *L = ctx;
  int eb = p->elem_bytes;
  /* An element never straddles a 16-byte chunk (sizes divide 16), so the swizzle keeps it whole. */
  if (g)
    memcpy(L->smem + soff, g, (size_t)eb);
  else if (p->oob_nan && p->is_float) {
    static const unsigned char nan16[2] = {0xff, 0x7f}, nan32[4] = {0xff, 0xff, 0xff, 0x7f},
                               nan64[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    memcpy(L->smem + soff, eb == 2 ? nan16 : eb == 4 ? nan32 : eb == 8 ? nan64 : nan16 + 1, (size_t)eb);
  } else
    memset(L->smem + soff, 0, (size_t)eb);
  if (L->tags) L->tags[soff / 16] = (uint8_t)p->swizzle;
}

int sim_tma_load(const sim_tma_params *p, int dims, const int32_t *coords, unsigned char *smem,
                 size_t smem_bytes, uint32_t dst_off, uint8_t *tags, char *err, size_t errn) {
  if (check_copy(p, dims, coords, smem_bytes, dst_off, "cp.async.bulk.tensor load", err, errn)) return -1;
  load_ctx L = {smem, tags};
  walk(p, coords, dst_off, load_one, &L);
  return 0;
}

static void store_one(const sim_tma_params *p, unsigned char *g, uint32_t soff, void *ctx) {
  if (g) memcpy(g, (const unsigned char *)ctx + soff, (size_t)p->elem_bytes);
}

int sim_tma_store(const sim_tma_params *p, int dims, const int32_t *coords, const unsigned char *smem,
                  size_t smem_bytes, uint32_t src_off, char *err, size_t errn) {
  if (check_copy(p, dims, coords, smem_bytes, src_off, "cp.async.bulk.tensor store", err, errn)) return -1;
  walk(p, coords, src_off, store_one, (void *)(uintptr_t)smem);
  return 0;
}
