/*
 * devops_mma.h - tensor-core device ops: warp-level mma.sync, ldmatrix and cp.async.
 *
 * These are the device ops that lowering `dot` to tensor cores needs, with one implementation per
 * target, like the rest of the device-op interface (devops.h):
 *   cg_nvptx_*  (devops_nvptx_mma.c): NVVM intrinsics (llvm.nvvm.mma.*, ldmatrix, cp.async.*);
 *   cg_sim_*    (devops_sim_mma.c):   calls into the simulator (sim/sim_mma.h), which implements
 *                                     each op as the PTX ISA specifies its fragment layout.
 *
 * mma and ldmatrix are warp-collective: all 32 lanes of a warp execute the same op with the same
 * immediates (kind, num, trans), converged. Fragment registers are i32 (two f16/bf16, four 8-bit
 * values or 32 bits, lowest element in the lowest bits); accumulators are f32 or i32 per the kind.
 * The lane -> element maps are in docs/tensor-cores.md.
 *
 * Before emitting an op the lowering checks it with cg_mma_check / cg_tc_check, so that an
 * unsupported (op, target) pair is a user error naming both, never an LLVM selection failure.
 */
#ifndef KILN_DEVOPS_MMA_H
#define KILN_DEVOPS_MMA_H

#include <llvm-c/Core.h>
#include <stdio.h>

#include "../target/target.h"

typedef struct cg_ctx cg_ctx; /* devops.h */

/* mma.sync kinds: shape, input type and accumulator. All are row (A) x col (B). */
typedef enum {
  CG_MMA_F16_K8,      /* m16n8k8   f16 x f16 + f32 */
  CG_MMA_F16_K16,     /* m16n8k16  f16 x f16 + f32 */
  CG_MMA_BF16_K16,    /* m16n8k16  bf16 x bf16 + f32 */
  CG_MMA_S8_K32,      /* m16n8k32  s8 x s8 + s32 */
  CG_MMA_U8_K32,      /* m16n8k32  u8 x u8 + s32 */
  CG_MMA_E4M3_K32,    /* m16n8k32  e4m3 x e4m3 + f32 */
  CG_MMA_E5M2_K32,    /* m16n8k32  e5m2 x e5m2 + f32 */
  CG_MMA_B1_AND_K256, /* m16n8k256 b1 AND, popcount + s32 */
  CG_MMA_NKINDS
} cg_mma_kind;

/* Input element encodings, as the simulator decodes them. */
typedef enum {
  CG_MMA_IN_F16,
  CG_MMA_IN_BF16,
  CG_MMA_IN_S8,
  CG_MMA_IN_U8,
  CG_MMA_IN_E4M3,
  CG_MMA_IN_E5M2,
  CG_MMA_IN_B1
} cg_mma_in;

typedef struct {
  const char *name; /* "mma.m16n8k16.f16": diagnostics */
  int m, n, k;      /* 16, 8, K */
  int na, nb, nc;   /* i32 registers per lane of A and B; accumulator registers per lane (4) */
  int in_bits;      /* bits per input element: 16, 8 or 1 */
  cg_mma_in in;     /* input encoding */
  int acc_int;      /* 1: s32 accumulator, 0: f32 */
  uint32_t feature; /* TG_F_* the target must have */
  int min_sm;       /* and the oldest sm with this exact shape */
  const char *nvvm; /* the NVVM intrinsic */
} cg_mma_info;

static inline const cg_mma_info *cg_mma_info_of(cg_mma_kind k) {
  static const cg_mma_info info[CG_MMA_NKINDS] = {
      [CG_MMA_F16_K8] = {"mma.m16n8k8.f16", 16, 8, 8, 2, 1, 4, 16, CG_MMA_IN_F16, 0, TG_F_MMA_F16_K8, 75,
                         "llvm.nvvm.mma.m16n8k8.row.col.f32.f32"},
      [CG_MMA_F16_K16] = {"mma.m16n8k16.f16", 16, 8, 16, 4, 2, 4, 16, CG_MMA_IN_F16, 0, TG_F_MMA_F16_K16, 80,
                          "llvm.nvvm.mma.m16n8k16.row.col.f32.f32"},
      [CG_MMA_BF16_K16] = {"mma.m16n8k16.bf16", 16, 8, 16, 4, 2, 4, 16, CG_MMA_IN_BF16, 0, TG_F_MMA_F16_K16,
                           80, "llvm.nvvm.mma.m16n8k16.row.col.bf16"},
      [CG_MMA_S8_K32] = {"mma.m16n8k32.s8", 16, 8, 32, 4, 2, 4, 8, CG_MMA_IN_S8, 1, TG_F_MMA_S8, 80,
                         "llvm.nvvm.mma.m16n8k32.row.col.s8"},
      [CG_MMA_U8_K32] = {"mma.m16n8k32.u8", 16, 8, 32, 4, 2, 4, 8, CG_MMA_IN_U8, 1, TG_F_MMA_S8, 80,
                         "llvm.nvvm.mma.m16n8k32.row.col.u8"},
      [CG_MMA_E4M3_K32] = {"mma.m16n8k32.e4m3", 16, 8, 32, 4, 2, 4, 8, CG_MMA_IN_E4M3, 0, TG_F_MMA_FP8, 89,
                           "llvm.nvvm.mma.m16n8k32.row.col.f32.e4m3.e4m3.f32"},
      [CG_MMA_E5M2_K32] = {"mma.m16n8k32.e5m2", 16, 8, 32, 4, 2, 4, 8, CG_MMA_IN_E5M2, 0, TG_F_MMA_FP8, 89,
                           "llvm.nvvm.mma.m16n8k32.row.col.f32.e5m2.e5m2.f32"},
      [CG_MMA_B1_AND_K256] = {"mma.m16n8k256.b1.and.popc", 16, 8, 256, 4, 2, 4, 1, CG_MMA_IN_B1, 1,
                              TG_F_MMA_B1_AND, 80, "llvm.nvvm.mma.and.popc.m16n8k256.row.col.b1"},
  };
  return (unsigned)k < CG_MMA_NKINDS ? &info[k] : NULL;
}

/* 0 if target t can run mma kind k; else -1 and "op 'mma.m16n8k32.e4m3' needs ..., which target sm_80
 * does not have". The sm check matters where a feature bit covers an older shape too (TG_F_MMA_S8 on
 * sm_75 is m8n8k16 only). */
static inline int cg_mma_check(const tg_target *t, cg_mma_kind k, char *err, int errn) {
  const cg_mma_info *mi = cg_mma_info_of(k);
  if (tg_target_require(t, mi->feature, mi->name, err, errn)) return -1;
  if (t->sm >= mi->min_sm) return 0;
  if (err && errn > 0)
    snprintf(err, errn, "op '%s' needs sm_%d or newer, which target %s is not", mi->name, mi->min_sm,
             t->name);
  return -1;
}

/* The non-mma tensor-core ops, for cg_tc_check. */
typedef enum { CG_TC_LDMATRIX, CG_TC_CP_ASYNC } cg_tc_op;

static inline int cg_tc_check(const tg_target *t, cg_tc_op op, char *err, int errn) {
  return op == CG_TC_LDMATRIX ? tg_target_require(t, TG_F_LDMATRIX, "ldmatrix", err, errn)
                              : tg_target_require(t, TG_F_CP_ASYNC, "cp.async", err, errn);
}

/*
 * The hooks. Same contract on both targets:
 *
 * mma:      d[0..nc) = A.B + C for the warp. a[na], b[nb] are i32 fragment registers; c[nc] are f32
 *           (acc_int = 0) or i32 accumulators; d receives values of the same type as c.
 * ldmatrix: num (1, 2, 4) 8x8 matrices of 16-bit elements from shared memory; `saddr` is this lane's
 *           row address (a shared_ptr_type pointer, 16-byte aligned; lanes 8j..8j+7 give the rows of
 *           matrix j, lanes beyond 8*num are ignored); trans transposes each matrix. out[num] i32.
 * cp_async: asynchronous copy of `bytes` (4, 8, 16) from global `gsrc` to shared `sdst`, both
 *           aligned to `bytes`; src_bytes (i32, NULL = bytes) bytes are read and the rest zero-filled,
 *           so src_bytes = 0 is a masked-off copy; an i1 src_bytes means all (true) or none (false).
 *           The copy joins the thread's open group.
 * cp_async_commit: closes the open group. cp_async_wait(n): waits until at most the n most recent
 *           committed groups are pending (n = 0: all committed copies are complete).
 */
typedef void (*cg_mma_fn)(cg_ctx *c, cg_mma_kind k, const LLVMValueRef *a, const LLVMValueRef *b,
                          const LLVMValueRef *acc, LLVMValueRef *d);
typedef void (*cg_ldmatrix_fn)(cg_ctx *c, int num, int trans, LLVMValueRef saddr, LLVMValueRef *out);
typedef void (*cg_cp_async_fn)(cg_ctx *c, LLVMValueRef sdst, LLVMValueRef gsrc, int bytes,
                               LLVMValueRef src_bytes);
typedef void (*cg_cp_async_commit_fn)(cg_ctx *c);
typedef void (*cg_cp_async_wait_fn)(cg_ctx *c, int n);

/* NVPTX (devops_nvptx_mma.c). */
void cg_nvptx_mma(cg_ctx *c, cg_mma_kind k, const LLVMValueRef *a, const LLVMValueRef *b,
                  const LLVMValueRef *acc, LLVMValueRef *d);
void cg_nvptx_ldmatrix(cg_ctx *c, int num, int trans, LLVMValueRef saddr, LLVMValueRef *out);
void cg_nvptx_cp_async(cg_ctx *c, LLVMValueRef sdst, LLVMValueRef gsrc, int bytes, LLVMValueRef src_bytes);
void cg_nvptx_cp_async_commit(cg_ctx *c);
void cg_nvptx_cp_async_wait(cg_ctx *c, int n);

/* Simulator (devops_sim_mma.c). */
void cg_sim_mma(cg_ctx *c, cg_mma_kind k, const LLVMValueRef *a, const LLVMValueRef *b,
                const LLVMValueRef *acc, LLVMValueRef *d);
void cg_sim_ldmatrix(cg_ctx *c, int num, int trans, LLVMValueRef saddr, LLVMValueRef *out);
void cg_sim_cp_async(cg_ctx *c, LLVMValueRef sdst, LLVMValueRef gsrc, int bytes, LLVMValueRef src_bytes);
void cg_sim_cp_async_commit(cg_ctx *c);
void cg_sim_cp_async_wait(cg_ctx *c, int n);

/* Shared by the simulator's device ops (devops_sim.c): a new builder at the top of the kernel's entry
 * block (the caller disposes it); the op site (cg_ctx.site) as a private constant string; a call of
 * `name`, declared nounwind on first use. */
LLVMBuilderRef cg_sim_entry_builder(cg_ctx *c);
LLVMValueRef cg_sim_site(cg_ctx *c);
LLVMValueRef cg_sim_call(cg_ctx *c, const char *name, LLVMTypeRef ret, LLVMTypeRef *ptys, LLVMValueRef *args,
                         unsigned n);

#endif
