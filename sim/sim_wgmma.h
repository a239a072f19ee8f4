/*
 * sim_wgmma.h - the simulator's warpgroup MMA: wgmma.mma_async as the PTX ISA specifies it, over the
 * block's shared memory and the accumulator registers of the warpgroup's 128 threads.
 *
 * Pure functions, no scheduler state: the descriptor's address arithmetic (sim_wgmma_addr), one
 * whole wgmma (sim_wgmma_run), and the bookkeeping of asynchronous groups per thread
 * (sim_wgmma_groups) that tells a read of an accumulator before its wait_group.
 */
#ifndef KILN_SIM_WGMMA_H
#define KILN_SIM_WGMMA_H

#include <stddef.h>
#include <stdint.h>

#include "../codegen/devops_hopper.h"

/* The XOR a swizzle of `bytes` (0, 32, 64, 128) applies to a shared-memory byte offset: bits 4.. of
 * the 16-byte chunk index take bits 7.. of the offset (one bit for 32 B, two for 64 B, three for 128 B). */
uint32_t sim_swizzle(uint32_t off, int bytes);

/* The shared-memory byte offset of byte `kbyte` (0..31) of row `row` of a K-major operand described
 * by d. Without swizzle: start + (row / 8) * sbo + (kbyte / 16) * lbo + (row % 8) * 16 + kbyte % 16;
 * with a swizzle of W bytes: sim_swizzle(start + (row / 8) * sbo + (row % 8) * W + kbyte, W). */
uint32_t sim_wgmma_addr(cg_wgmma_desc d, int row, int kbyte);
/* The same for an MN-major operand (CG_WGMMA_TRANS, swizzled): byte mnbyte along M or N, element k. */
uint32_t sim_wgmma_addr_mn(cg_wgmma_desc d, int mnbyte, int k);

/* Shared-memory swizzle tags, one per 16-byte chunk: the swizzle width a TMA load wrote the chunk
 * with (SIM_SWZ_UNTAGGED: written otherwise). A wgmma whose descriptor disagrees is reported. */
enum { SIM_SWZ_UNTAGGED = 0xff };

/* One wgmma of type t and width n for the warpgroup: D = (scale_d ? C : 0) + (neg_a ? -A : A) . (neg_b ?
 * -B : B)^T, A 64 x K from adesc, B n x K from bdesc, in `smem` (smem_bytes long). neg_a and neg_b
 * are operand flags (devops_hopper.h): CG_WGMMA_NEG negates, CG_WGMMA_TRANS reads MN-major. acc[t] points at
 * thread t's n/2 accumulator registers (f32 or s32 bits), read as C and overwritten with D.
 * Thread t = 32 * warp + lane, lane = 4 * g + q: register i holds D[16 * warp + g + 8 * ((i >> 1) & 1)]
 * [8 * (i >> 2) + 2 * q + (i & 1)]. f32 results are the exact sum rounded once; s32 wraps.
 * tags (NULL: unchecked) are smem's swizzle tags. 0, or -1 with a one-line message in err. */
int sim_wgmma_run(cg_wgmma_type t, int n, const unsigned char *smem, size_t smem_bytes, const uint8_t *tags,
                  uint64_t adesc, uint64_t bdesc, int scale_d, int neg_a, int neg_b, uint32_t *const acc[128],
                  char *err, size_t errn);
/* The same with A from registers (f16 and bf16): aregs[t] points at thread t's 4 registers of A,
 * register j of lane 4g + q of warp w holding the two elements of row 16w + g + 8 (j & 1) at K
 * 2q + 8 (j >> 1), low half first (mma.sync's m16n8k16 A fragment for each warp's 16 rows). */
int sim_wgmma_run_rs(cg_wgmma_type t, int n, const unsigned char *smem, size_t smem_bytes,
                     const uint8_t *tags, const uint32_t *const aregs[128], uint64_t bdesc, int scale_d,
                     int neg_a, int neg_b, uint32_t *const acc[128], char *err, size_t errn);

/* ---- asynchronous groups: one record per thread ----
 * An issued wgmma joins the thread's open group; commit closes it; wait(n) completes all but the n
 * most recent committed groups. sim_wgmma_pending says whether an op issued as number `op` is still in
 * flight: reading its accumulators then is a bug. */
typedef struct {
  uint32_t issued;    /* ops issued so far (an op's number is the count before it) */
  uint32_t committed; /* groups committed so far */
  uint32_t completed; /* groups completed by waits */
  uint32_t *group_of; /* group of op i, i < issued (grown as needed) */
  uint32_t cap;
} sim_wgmma_groups;

/* Records an op; returns its number, or UINT32_MAX when out of memory. */
uint32_t sim_wgmma_issue(sim_wgmma_groups *g);
void sim_wgmma_commit(sim_wgmma_groups *g);
void sim_wgmma_wait(sim_wgmma_groups *g, int n);
int sim_wgmma_pending(const sim_wgmma_groups *g, uint32_t op);
/* Ops issued and not yet complete (at thread exit: a bug if nonzero). */
uint32_t sim_wgmma_inflight(const sim_wgmma_groups *g);
void sim_wgmma_groups_free(sim_wgmma_groups *g);

#endif
