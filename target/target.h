/*
 * target.h - the GPU target table: one row per sm_XX, listing what codegen may use there.
 * No LLVM dependency: passes and the runtime read this table too.
 */
#ifndef KILN_TARGET_H
#define KILN_TARGET_H

#include <stdint.h>

/* Features a target row may have. Codegen asks for a feature; a missing one is a clear error that
 * names the op and the target (tg_target_require). */
enum {
  TG_F_MMA_F16_K8 = 1u << 0,  /* mma.sync m16n8k8 f16 (sm_75) */
  TG_F_MMA_F16_K16 = 1u << 1, /* mma.sync m16n8k16 f16/bf16, f32 acc (sm_80+) */
  TG_F_MMA_S8 = 1u << 2,      /* mma.sync m16n8k32 s8/u8, s32 acc (sm_80+; m8n8k16 on sm_75) */
  TG_F_MMA_B1_AND = 1u << 3,  /* mma.sync m16n8k256 b1 and.popc (sm_80+) */
  TG_F_MMA_FP8 = 1u << 4,     /* mma.sync m16n8k32 e4m3/e5m2, f32 acc (sm_89+) */
  TG_F_LDMATRIX = 1u << 5,    /* ldmatrix (sm_75+) */
  TG_F_CP_ASYNC = 1u << 6,    /* cp.async (sm_80+) */
  TG_F_BF16 = 1u << 7,        /* bf16 arithmetic and conversions (sm_80+) */
  TG_F_WGMMA = 1u << 8,       /* wgmma.mma_async (sm_90a) */
  TG_F_TMA = 1u << 9,         /* cp.async.bulk.tensor (sm_90+) */
  TG_F_TCGEN05 = 1u << 10,    /* tcgen05 (sm_100a) */
  TG_F_FP8_CVT = 1u << 11,    /* cvt to/from e4m3/e5m2 (sm_89+) */
};

typedef struct {
  const char *name;     /* "sm_90a": the --target spelling */
  int sm;               /* 90 */
  const char *llvm_cpu; /* the NVPTX CPU name */
  const char *ptx_feat; /* LLVM feature string ("" = LLVM's default PTX version) */
  uint32_t features;    /* TG_F_* */
  int smem_per_block;   /* bytes a block may opt in to */
  int smem_default;     /* bytes without the opt-in */
  int regs_per_thread;  /* max registers per thread */
  int max_threads;      /* threads per block */
  /* Per-SM residency limits (occupancy, compiler/api/inspect.c) */
  int regs_per_sm;        /* 32-bit registers in one SM's register file */
  int smem_per_sm;        /* bytes of shared memory per SM (the largest carveout) */
  int max_threads_per_sm; /* resident threads */
  int max_blocks_per_sm;  /* resident blocks */
  int smem_reserved;      /* bytes of shared memory the driver reserves per block */
} tg_target;

extern const tg_target tg_targets[];
extern const int tg_ntargets;

const tg_target *tg_target_lookup(const char *name); /* NULL if unknown */
const char *tg_feature_name(uint32_t feature);
/* 0 if the target has the feature; else -1 and "op 'OP' needs FEATURE, which target T does not have". */
int tg_target_require(const tg_target *t, uint32_t feature, const char *op, char *err, int errn);

#endif
