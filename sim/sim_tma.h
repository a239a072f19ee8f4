/*
 * sim_tma.h - the simulator's tensor memory accelerator: tensor maps and bulk tensor copies.
 *
 * A tensor map describes a tiled view of a tensor in global memory: element size, rank (1..5), the
 * global address, the size of each dimension, the byte stride of each dimension beyond the first,
 * the box (the tile one copy moves), the swizzle of the box in shared memory and the out-of-bounds
 * fill. On the GPU the driver encodes these fields into an opaque 128-byte object
 * (runtime/tensormap.c asks for it); for the simulator, sim_tma_encode writes its own 128-byte
 * encoding of the same fields, and the simulated copies read that.
 *
 * A box lands in shared memory densely, dimension 0 innermost; with a swizzle of W bytes (which
 * needs box[0] * element bytes <= W) each byte's shared offset goes through sim_swizzle, the same
 * XOR the wgmma descriptors undo. Elements outside the tensor are zero-filled on a load (NaN when
 * the map asks for NaN fill and the elements are floats) and skipped on a store.
 */
#ifndef KILN_SIM_TMA_H
#define KILN_SIM_TMA_H

#include <stddef.h>
#include <stdint.h>

#include "../codegen/devops_hopper.h"

/* The fields of cuTensorMapEncodeTiled. */
typedef struct {
  int elem_bytes;                        /* 1, 2, 4 or 8 */
  int is_float;                          /* the element type is floating point (NaN fill applies) */
  int rank;                              /* 1..5 */
  const void *gaddr;                     /* 16-byte aligned */
  uint64_t dims[CG_TMAP_MAXDIM];         /* elements per dimension, 1..2^32 */
  uint64_t strides[CG_TMAP_MAXDIM - 1];  /* bytes between consecutive indices of dimension i + 1 */
  uint32_t box[CG_TMAP_MAXDIM];          /* 1..256 elements per dimension */
  uint32_t elem_strides[CG_TMAP_MAXDIM]; /* 1..8; the simulator models 1 only */
  int swizzle;                           /* 0, 32, 64, 128 bytes */
  int oob_nan;                           /* 1: out-of-bounds float elements read as NaN */
} sim_tma_params;

/* Checks p by the rules cuTensorMapEncodeTiled documents and writes the simulator's encoding into
 * map (CG_TMAP_BYTES, 64-byte aligned). 0, or -1 with a message naming the field. */
int sim_tma_encode(const sim_tma_params *p, void *map, char *err, size_t errn);
/* Reads back a map sim_tma_encode wrote; -1 if it is not one. */
int sim_tma_decode(const void *map, sim_tma_params *p, char *err, size_t errn);
/* Bytes of one box in shared memory (the transaction bytes a load completes). */
uint32_t sim_tma_box_bytes(const sim_tma_params *p);
/* The global bytes the tensor spans from gaddr (for the buffer check). */
uint64_t sim_tma_span(const sim_tma_params *p);

/* cp.async.bulk.tensor load: the box at coords[rank] into smem at dst_off; tags (NULL: none) get
 * the swizzle of each 16-byte chunk written; elements outside the tensor (the whole box, possibly) are
 * filled. -1 with a message for a destination outside smem or not 128-byte aligned, or a rank that
 * disagrees with the map. */
int sim_tma_load(const sim_tma_params *p, int dims, const int32_t *coords, unsigned char *smem,
                 size_t smem_bytes, uint32_t dst_off, uint8_t *tags, char *err, size_t errn);
/* The checks a load or store makes before it touches memory (what: "cp.async.bulk.tensor load"). */
int sim_tma_check_copy(const sim_tma_params *p, int dims, const int32_t *coords, size_t smem_bytes,
                       uint32_t off, const char *what, char *err, size_t errn);
/* The store: the box from smem at src_off to the tensor; elements outside it are not written. */
int sim_tma_store(const sim_tma_params *p, int dims, const int32_t *coords, const unsigned char *smem,
                  size_t smem_bytes, uint32_t src_off, char *err, size_t errn);

#endif
