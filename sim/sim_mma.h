/*
 * sim_mma.h - the simulator's tensor-core ops: mma.sync, ldmatrix and cp.async, exactly as the PTX
 * ISA lays out their fragments (docs/tensor-cores.md).
 *
 * Three layers:
 *   1. Warp semantics, pure functions over the 32 lanes' registers: sim_mma_lanes, sim_ldmatrix_lanes
 *      (and array forms for tests). The scheduler calls them once per warp at the rendezvous, with
 *      pointers into each lane's fiber-local operands; no other state is involved.
 *   2. cp.async bookkeeping: a queue per thread (copies tagged with their commit group) and a
 *      per-block record of shared bytes with a copy in flight, so that reading them before the
 *      matching wait is reported. Copies happen at the wait, zero-filled beyond src_bytes.
 *   3. The ABI the lowered code calls (codegen/devops_sim_mma.c emits these; see sim_abi.h for the
 *      conventions): __kiln_sim_mma, __kiln_sim_ldmatrix, __kiln_sim_cp_async,
 *      __kiln_sim_cp_async_commit, __kiln_sim_cp_async_wait. They run on the calling thread's fiber;
 *      sim/tensor_ops.c defines them on top of layers 1 and 2.
 */
#ifndef KILN_SIM_MMA_H
#define KILN_SIM_MMA_H

#include <stddef.h>
#include <stdint.h>

#include "../codegen/devops_mma.h"

/* ---- 1. warp semantics ---- */

/* One lane's operands: na, nb, nc registers (cg_mma_info) and where its nc results go. d may alias c. */
typedef struct {
  const uint32_t *a, *b, *c;
  uint32_t *d;
} sim_mma_lane;

/* D = A.B + C for one warp of kind k. f32 results are the exact sum rounded once to f32 (NaN results
 * are the canonical 0x7fffffff); s32 results wrap modulo 2^32. */
void sim_mma_lanes(cg_mma_kind k, const sim_mma_lane lanes[32]);
void sim_mma_warp(cg_mma_kind k, const uint32_t a[32][4], const uint32_t b[32][2], const uint32_t c[32][4],
                  uint32_t d[32][4]);

/* ldmatrix.m8n8.x{num}[.trans].b16: rows[8j + r] is row r of matrix j (16 bytes, already checked by
 * the caller), for j < num; out[l][j] receives lane l's register j. */
void sim_ldmatrix_lanes(int num, int trans, const void *const rows[32], uint32_t *const out[32]);

/* ---- 2. cp.async bookkeeping ---- */

typedef struct {
  unsigned char *dst;
  const unsigned char *src;
  uint8_t bytes, src_bytes;
  uint32_t group; /* commit-group number; == sim_cp_queue.committed while still open */
} sim_cp_copy;

/* One thread's copies not yet complete. Zero-initialised = empty. */
typedef struct {
  sim_cp_copy *q;
  int n, cap;
  uint32_t committed; /* groups committed so far */
} sim_cp_queue;

/* The block's shared bytes with a copy in flight (a count per byte, allocated on first use). */
typedef struct {
  unsigned char *base;
  size_t bytes;
  uint16_t *inflight;
  size_t ninflight; /* bytes with a nonzero count: reads cost one test while nothing is in flight */
} sim_cp_shadow;

void sim_cp_shadow_init(sim_cp_shadow *s, void *shared, size_t bytes);
void sim_cp_shadow_free(sim_cp_shadow *s);
void sim_cp_queue_free(sim_cp_queue *q);

/* Queues a copy of `bytes` (4, 8, 16) bytes into shared dst from global src, of which src_bytes
 * (0..bytes) are read and the rest zero-filled. Checks sizes, alignment and that dst lies in shared
 * memory; the caller checks the src_bytes source bytes against the global buffers. 0, or -1 with a
 * message. */
int sim_cp_async_issue(sim_cp_queue *q, sim_cp_shadow *s, void *dst, const void *src, int bytes,
                       int src_bytes, char *err, size_t errn);
void sim_cp_async_commit(sim_cp_queue *q);
/* Completes every copy of the committed groups but the n most recent. n < 0: every copy, committed
 * or not (thread exit). Returns the number of copies completed. */
int sim_cp_async_wait(sim_cp_queue *q, sim_cp_shadow *s, int n);
/* 1 if any of [addr, addr + n) has a copy in flight (a read of it is a bug), else 0. */
int sim_cp_async_inflight(const sim_cp_shadow *s, const void *addr, size_t n);

/* ---- 3. the ABI: defined in sim/tensor_ops.c, beside the scheduler that owns the rendezvous ---- */

void __kiln_sim_mma(int32_t kind, const uint32_t *a, const uint32_t *b, const uint32_t *c, uint32_t *d,
                    const char *site);
void __kiln_sim_ldmatrix(int32_t num, int32_t trans, const void *row, uint32_t *out, const char *site);
void __kiln_sim_cp_async(void *dst, const void *src, int32_t bytes, int32_t src_bytes, const char *site);
void __kiln_sim_cp_async_commit(const char *site);
void __kiln_sim_cp_async_wait(int32_t n, const char *site);

#endif
