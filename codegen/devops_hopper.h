/*
 * devops_hopper.h - Hopper (sm_90/sm_90a) device ops: warpgroup MMA, the tensor memory accelerator,
 * mbarriers, and the small ops warp-specialised kernels need.
 *
 * Like devops_mma.h, one contract and two implementations:
 *   cg_nvptx_*  (devops_nvptx_hopper.c): NVVM intrinsics where LLVM 22 has them (TMA, mbarrier,
 *                                        fence.proxy.async, setmaxnreg, elect.sync), inline PTX for
 *                                        wgmma (LLVM has no wgmma intrinsic);
 *   cg_sim_*    (devops_sim_hopper.c):   calls into the simulator's ABI (sim/sim_hopper.h), whose
 *                                        semantics are in sim/sim_wgmma.c, sim_tma.c, sim_mbarrier.c.
 *
 * The tables and the descriptor encoding below are pure and shared by the lowering, both
 * implementations and the simulator, so that "which shapes exist" and "what a descriptor means" are
 * written once. docs/hopper.md explains the ops, the simulator's model and its limits.
 */
#ifndef KILN_DEVOPS_HOPPER_H
#define KILN_DEVOPS_HOPPER_H

#include <llvm-c/Core.h>
#include <stdint.h>
#include <stdio.h>

#include "../target/target.h"
#include "devops_mma.h"

typedef struct cg_ctx cg_ctx; /* devops.h */

/* ---- wgmma.mma_async: m64nNkK, A and B from shared memory (K-major descriptors) ---- */

typedef enum {
  CG_WGMMA_F16,    /* m64nNk16  f16 x f16 + f32 */
  CG_WGMMA_BF16,   /* m64nNk16  bf16 x bf16 + f32 */
  CG_WGMMA_E4M3,   /* m64nNk32  e4m3 x e4m3 + f32 */
  CG_WGMMA_E5M2,   /* m64nNk32  e5m2 x e5m2 + f32 */
  CG_WGMMA_S8,     /* m64nNk32  s8 x s8 + s32 */
  CG_WGMMA_B1_AND, /* m64nNk256 b1 AND, popcount + s32 */
  CG_WGMMA_NTYPES
} cg_wgmma_type;

typedef struct {
  const char *name; /* "wgmma.f16": diagnostics */
  int k;            /* 16, 32 or 256: every kind reads 32 bytes of each row per op */
  int in_bits;      /* 16, 8, 1 */
  cg_mma_in in;     /* input encoding (devops_mma.h) */
  int acc_int;      /* 1: s32 accumulators */
  int n_step16;     /* 1: N beyond 32 must be a multiple of 16 (the integer kinds) */
  int has_scale;    /* 1: the instruction takes imm-scale-a/-b (the float kinds) */
  int has_trans;    /* 1: the instruction takes imm-trans-a/-b (16-bit inputs) */
  const char *ptx;  /* the PTX type suffix after the shape */
} cg_wgmma_info;

static inline const cg_wgmma_info *cg_wgmma_info_of(cg_wgmma_type t) {
  static const cg_wgmma_info info[CG_WGMMA_NTYPES] = {
      [CG_WGMMA_F16] = {"wgmma.f16", 16, 16, CG_MMA_IN_F16, 0, 0, 1, 1, "f32.f16.f16"},
      [CG_WGMMA_BF16] = {"wgmma.bf16", 16, 16, CG_MMA_IN_BF16, 0, 0, 1, 1, "f32.bf16.bf16"},
      [CG_WGMMA_E4M3] = {"wgmma.e4m3", 32, 8, CG_MMA_IN_E4M3, 0, 0, 1, 0, "f32.e4m3.e4m3"},
      [CG_WGMMA_E5M2] = {"wgmma.e5m2", 32, 8, CG_MMA_IN_E5M2, 0, 0, 1, 0, "f32.e5m2.e5m2"},
      [CG_WGMMA_S8] = {"wgmma.s8", 32, 8, CG_MMA_IN_S8, 1, 1, 0, 0, "s32.s8.s8"},
      [CG_WGMMA_B1_AND] = {"wgmma.b1.and.popc", 256, 1, CG_MMA_IN_B1, 1, 1, 0, 0, "s32.b1.b1.and.popc"},
  };
  return (unsigned)t < CG_WGMMA_NTYPES ? &info[t] : NULL;
}

/* 1 if m64nNk* exists for type t: N in 8..256 step 8 (float kinds); 8, 16, 24, then step 16 to 256
 * (integer kinds). */
static inline int cg_wgmma_n_ok(cg_wgmma_type t, int n) {
  const cg_wgmma_info *wi = cg_wgmma_info_of(t);
  if (!wi || n < 8 || n > 256 || n % 8) return 0;
  return !wi->n_step16 || n <= 24 || n % 16 == 0;
}

/* 0 if target tg can issue wgmma of type t and width n; else -1 and a message naming the op, the
 * shape and the target. */
static inline int cg_wgmma_check(const tg_target *tg, cg_wgmma_type t, int n, char *err, int errn) {
  const cg_wgmma_info *wi = cg_wgmma_info_of(t);
  if (!wi) return snprintf(err, (size_t)errn, "wgmma type %d does not exist", (int)t), -1;
  if (!cg_wgmma_n_ok(t, n))
    return snprintf(err, (size_t)errn, "op '%s' has no shape m64n%dk%d (N: 8..256 step %d)", wi->name, n,
                    wi->k, wi->n_step16 ? 16 : 8),
           -1;
  return tg_target_require(tg, TG_F_WGMMA, wi->name, err, errn);
}

/* The other Hopper ops, for cg_hopper_check. */
typedef enum { CG_HOP_TMA, CG_HOP_MBARRIER, CG_HOP_SETMAXNREG, CG_HOP_ELECT } cg_hopper_op;

static inline int cg_hopper_check(const tg_target *tg, cg_hopper_op op, char *err, int errn) {
  switch (op) {
  case CG_HOP_TMA: return tg_target_require(tg, TG_F_TMA, "cp.async.bulk.tensor", err, errn);
  case CG_HOP_MBARRIER: /* mbarrier.expect_tx and try_wait.parity are sm_90 */
  case CG_HOP_ELECT:
    return tg_target_require(tg, TG_F_TMA, op == CG_HOP_ELECT ? "elect.sync" : "mbarrier", err, errn);
  case CG_HOP_SETMAXNREG: return tg_target_require(tg, TG_F_WGMMA, "setmaxnreg", err, errn);
  }
  return -1;
}

/* Operand flags of the wgmma hook (its neg_a and neg_b arguments). CG_WGMMA_TRANS: the operand is
 * MN-major (imm-trans 1): its rows in shared memory run along M (A) or N (B). With a swizzle of W
 * bytes, element (mn, k) is at start + (mn bytes / W) * LBO + (k / 8) * SBO + (k % 8) * W +
 * mn bytes % W, through the swizzle: 8 rows of K, W bytes of MN each, make one pattern, further
 * MN bytes are LBO apart and further groups of 8 K rows SBO apart. */
enum { CG_WGMMA_NEG = 1, CG_WGMMA_TRANS = 2 };

/* ---- the shared-memory matrix descriptor (64 bits) ----
 *   bits  0-13: start address >> 4          bits 32-45: stride byte offset >> 4 (between 8-row groups)
 *   bits 16-29: leading byte offset >> 4    bits 49-51: base offset (0: the pattern starts aligned)
 *   bits 62-63: swizzle: 0 none, 1 128 B, 2 64 B, 3 32 B
 * The leading offset is the distance between the two 16-byte core-matrix columns of a row's 32 bytes
 * (used only without swizzle); the stride offset the distance between groups of 8 rows. */
typedef struct {
  uint32_t start, lbo, sbo; /* bytes, multiples of 16 below 2^18 */
  int base_offset;          /* 0..7 */
  int swizzle;              /* swizzle width in bytes: 0, 32, 64 or 128 */
} cg_wgmma_desc;

static inline int cg_swizzle_code(int bytes) {
  return bytes == 128 ? 1 : bytes == 64 ? 2 : bytes == 32 ? 3 : 0;
}
static inline int cg_swizzle_bytes(int code) { return code == 1 ? 128 : code == 2 ? 64 : code == 3 ? 32 : 0; }

static inline uint64_t cg_wgmma_desc_encode(cg_wgmma_desc d) {
  return (uint64_t)((d.start >> 4) & 0x3fff) | (uint64_t)((d.lbo >> 4) & 0x3fff) << 16 |
         (uint64_t)((d.sbo >> 4) & 0x3fff) << 32 | (uint64_t)(d.base_offset & 7) << 49 |
         (uint64_t)cg_swizzle_code(d.swizzle) << 62;
}

static inline cg_wgmma_desc cg_wgmma_desc_decode(uint64_t v) {
  cg_wgmma_desc d;
  d.start = (uint32_t)(v & 0x3fff) << 4;
  d.lbo = (uint32_t)((v >> 16) & 0x3fff) << 4;
  d.sbo = (uint32_t)((v >> 32) & 0x3fff) << 4;
  d.base_offset = (int)((v >> 49) & 7);
  d.swizzle = cg_swizzle_bytes((int)(v >> 62));
  return d;
}

/* ---- the tensor map (the simulator's encoding of the fields cuTensorMapEncodeTiled takes) ----
 * On the GPU the 128-byte map is the driver's (runtime/tensormap.c asks for it); the simulator reads
 * its own 128-byte encoding of the same fields, written by sim_tma_encode. */
enum { CG_TMAP_BYTES = 128, CG_TMAP_MAXDIM = 5 };

/* ---- the hooks ----
 *
 * wgmma_fence:   wgmma.fence.sync.aligned: orders register accesses to the accumulators before
 *                the next wgmma (required before the first wgmma, and after the registers change).
 * wgmma:         wgmma.mma_async.sync.aligned.m64n{n}k{K}: d[0..n/2) = (scale_d ? acc : 0) +
 *                A.B; A is 64 x K and B is n x K, both K-major in shared memory described by the i64
 *                descriptors (a NULL), or A from registers (adesc NULL, below); scale_d an i1 (NULL: 1);
 * neg_a/neg_b are operand flags: CG_WGMMA_NEG negates the operand (float kinds only), CG_WGMMA_TRANS reads it
 * MN-major (16-bit kinds, swizzled descriptors: see below). Warpgroup-collective: the four warps of a
 * warpgroup issue it together. d's values are not to be read before a wgmma_wait that covers the op's group.
 *                A from registers (the register form, f16 and bf16 only, K-major): a[4] are the
 *                thread's i32 registers of its warp's 16 rows of A for this k16 step, in mma.sync's
 *                m16n8k16 A-fragment order (register j: row g + 8 (j & 1), K 2q + 8 (j >> 1), lane
 *                4g + q); neg_a may hold CG_WGMMA_NEG, not CG_WGMMA_TRANS.
 * wgmma_commit:  wgmma.commit_group: closes the open group of wgmma ops.
 * wgmma_wait:    wgmma.wait_group(n): waits until at most n groups are pending; regs[nregs] are the
 *                accumulator values the caller will read next, returned in place (on NVPTX they are
 *                tied to the wait, so no use can move above it; the simulator checks their group).
 * tma_load:      cp.async.bulk.tensor.{dims}d.shared::cluster.global.mbarrier::complete_tx::bytes:
 *                the box at coords[dims] (i32 element coordinates) of the tensor map `tmap` (a
 *                pointer to the __grid_constant__ parameter) into shared `sdst`, completing its bytes
 *                as a transaction on mbarrier `bar`. Elements outside the tensor are zero-filled.
 * tma_store:     cp.async.bulk.tensor.{dims}d.global.shared::cta.bulk_group: the box from shared
 *                `ssrc`; elements outside the tensor are not written.
 * tma_store_commit / tma_store_wait(n): cp.async.bulk.commit_group / wait_group.read n.
 * mbar_init:     mbarrier.init.shared.b64 [bar], count.
 * mbar_arrive:   mbarrier.arrive.shared.b64: returns the i64 state token.
 * mbar_arrive_expect_tx: mbarrier.arrive.expect_tx.shared.b64 [bar], tx_bytes.
 * mbar_try_wait: mbarrier.try_wait.parity.shared.b64: i1, 1 once the phase of the given parity (i32
 *                0 or 1) has completed. Callers loop on it.
 * mbar_inval:    mbarrier.inval.shared.b64: the 8 bytes may be used for something else afterwards.
 * fence_proxy_async: fence.proxy.async.shared::cta.
 * setmaxnreg:    setmaxnreg.{inc,dec}.sync.aligned.u32 n (24..256, a multiple of 8).
 * elect_sync:    elect.sync with a full mask: i1, true in exactly one lane of the warp.
 * Pointers to shared memory (sdst, ssrc, bar) are shared_ptr_type values; tmap is the tensor-map
 * parameter itself (see tmap_param).
 */
typedef struct {
  void (*wgmma_fence)(cg_ctx *c);
  void (*wgmma)(cg_ctx *c, cg_wgmma_type t, int n, LLVMValueRef adesc, const LLVMValueRef *a,
                LLVMValueRef bdesc, const LLVMValueRef *acc, LLVMValueRef scale_d, int neg_a, int neg_b,
                LLVMValueRef *d);
  void (*wgmma_commit)(cg_ctx *c);
  void (*wgmma_wait)(cg_ctx *c, int n, LLVMValueRef *regs, int nregs);
  void (*tma_load)(cg_ctx *c, int dims, LLVMValueRef sdst, LLVMValueRef tmap, const LLVMValueRef *coords,
                   LLVMValueRef bar);
  void (*tma_store)(cg_ctx *c, int dims, LLVMValueRef tmap, const LLVMValueRef *coords, LLVMValueRef ssrc);
  void (*tma_store_commit)(cg_ctx *c);
  void (*tma_store_wait)(cg_ctx *c, int n);
  void (*mbar_init)(cg_ctx *c, LLVMValueRef bar, LLVMValueRef count);
  LLVMValueRef (*mbar_arrive)(cg_ctx *c, LLVMValueRef bar);
  void (*mbar_arrive_expect_tx)(cg_ctx *c, LLVMValueRef bar, LLVMValueRef tx_bytes);
  LLVMValueRef (*mbar_try_wait)(cg_ctx *c, LLVMValueRef bar, LLVMValueRef parity);
  void (*mbar_inval)(cg_ctx *c, LLVMValueRef bar);
  void (*fence_proxy_async)(cg_ctx *c);
  void (*setmaxnreg)(cg_ctx *c, int inc, int n);
  LLVMValueRef (*elect_sync)(cg_ctx *c);
  /* Marks kernel parameter i (a ptr) as a tensor map passed by value: on NVPTX a 64-byte-aligned
   * 128-byte grid-constant parameter whose address the copies take; in the simulator a plain pointer
   * to the map's bytes. */
  void (*tmap_param)(cg_ctx *c, unsigned i);
  /* The i32 shared-memory address of shared pointer p, as descriptors and the hardware see it: on
   * NVPTX the .shared address, in the simulator the offset from the block's shared base. */
  LLVMValueRef (*smem_addr)(cg_ctx *c, LLVMValueRef p);
} cg_hopper_ops;

/* The i64 descriptor of a K-major operand at shared address addr (i32, from smem_addr), with the
 * constant fields of d (d.start is ignored). */
static inline LLVMValueRef cg_wgmma_desc_build(LLVMBuilderRef b, LLVMContextRef ctx, LLVMValueRef addr,
                                               cg_wgmma_desc d) {
  LLVMTypeRef i64 = LLVMInt64TypeInContext(ctx);
  d.start = 0;
  LLVMValueRef a = LLVMBuildZExt(b, addr, i64, "");
  a = LLVMBuildAnd(b, LLVMBuildLShr(b, a, LLVMConstInt(i64, 4, 0), ""), LLVMConstInt(i64, 0x3fff, 0), "");
  return LLVMBuildOr(b, a, LLVMConstInt(i64, cg_wgmma_desc_encode(d), 0), "desc");
}

extern const cg_hopper_ops cg_hopper_nvptx;
extern const cg_hopper_ops cg_hopper_sim;

#endif
