/*
 * target.c - the GPU target table: one row per sm_XX.
 *
 * A row says which NVPTX CPU LLVM compiles for, which PTX version to ask for when LLVM's default is
 * too old for the instructions the row allows, which matrix/copy instructions codegen may use, and
 * the per-block limits (shared memory with and without the opt-in, registers, threads). A new GPU is
 * a new row here plus any new instructions in the lowering.
 *
 * PTX versions: LLVM 22 defaults to the lowest version that knows the CPU (6.3 for sm_75 ... 8.7 for
 * sm_120a), which is too old for some instructions a row allows; those rows raise it to the version
 * that has them: ldmatrix needs 6.5 (sm_75), mma.sync b1 and.popc 7.1 (sm_80), the fp8 mma.sync 8.4
 * (sm_89, sm_90a). CUDA 13's ptxas accepts all of them.
 */
#include "target.h"

#include <stdio.h>
#include <string.h>

#define KIB 1024

/* Feature sets, each generation adding to an older one. */
#define F_SM75 (TG_F_MMA_F16_K8 | TG_F_MMA_S8 | TG_F_LDMATRIX)
#define F_SM80 (F_SM75 | TG_F_MMA_F16_K16 | TG_F_MMA_B1_AND | TG_F_CP_ASYNC | TG_F_BF16)
#define F_SM89 (F_SM80 | TG_F_MMA_FP8 | TG_F_FP8_CVT)
#define F_SM90 (F_SM89 | TG_F_WGMMA | TG_F_TMA)
#define F_SM100 ((F_SM90 & ~TG_F_WGMMA) | TG_F_TCGEN05)
#define F_SM120 F_SM89

/* Per-SM limits (regs_per_sm, smem_per_sm, max_threads_per_sm, max_blocks_per_sm, reserved shared
 * bytes per block) for 7.5/8.0/8.6/8.9/9.0/10.0/12.0: the CUDA C++ Programming Guide, "Compute
 * Capabilities", table "Technical Specifications per Compute Capability": 64 K registers per SM
 * everywhere; resident threads per SM 1024/2048/1536/1536/2048/2048/1536; and, as CUDA 13.0's
 * occupancy calculator (cuda_occupancy.h) encodes the same table: resident blocks per SM
 * 16/32/16/24/32/32/24 (cudaOccMaxBlocksPerMultiprocessor), the largest shared-memory carveout
 * 64/164/100/100/228/228/100 KB (cudaOccSMemPreferenceVoltaPlus), 1 KB reserved per block from 8.0
 * (reservedSharedMemPerBlock; the guide's "Shared Memory" section of 8.x). */
const tg_target tg_targets[] = {
    {"sm_75", 75, "sm_75", "+ptx65", F_SM75, 64 * KIB, 48 * KIB, 255, 1024, 65536, 64 * KIB, 1024, 16, 0},
    {"sm_80", 80, "sm_80", "+ptx71", F_SM80, 163 * KIB, 48 * KIB, 255, 1024, 65536, 164 * KIB, 2048, 32, KIB},
    {"sm_86", 86, "sm_86", "", F_SM80, 99 * KIB, 48 * KIB, 255, 1024, 65536, 100 * KIB, 1536, 16, KIB},
    {"sm_89", 89, "sm_89", "+ptx84", F_SM89, 99 * KIB, 48 * KIB, 255, 1024, 65536, 100 * KIB, 1536, 24, KIB},
    {"sm_90a", 90, "sm_90a", "+ptx84", F_SM90, 227 * KIB, 48 * KIB, 255, 1024, 65536, 228 * KIB, 2048, 32,
     KIB},
    {"sm_100a", 100, "sm_100a", "", F_SM100, 227 * KIB, 48 * KIB, 255, 1024, 65536, 228 * KIB, 2048, 32, KIB},
    {"sm_120a", 120, "sm_120a", "", F_SM120, 99 * KIB, 48 * KIB, 255, 1024, 65536, 100 * KIB, 1536, 24, KIB},
};
const int tg_ntargets = sizeof tg_targets / sizeof tg_targets[0];

const tg_target *tg_target_lookup(const char *name) {
  if (!name) return NULL;
  for (int i = 0; i < tg_ntargets; i++)
    if (strcmp(tg_targets[i].name, name) == 0) return &tg_targets[i];
  return NULL;
}

static const struct {
  uint32_t bit;
  const char *name;
} feature_names[] = {
    {TG_F_MMA_F16_K8, "mma.sync m16n8k8 f16"},
    {TG_F_MMA_F16_K16, "mma.sync m16n8k16 f16/bf16"},
    {TG_F_MMA_S8, "mma.sync s8/u8"},
    {TG_F_MMA_B1_AND, "mma.sync b1 and.popc"},
    {TG_F_MMA_FP8, "mma.sync e4m3/e5m2"},
    {TG_F_LDMATRIX, "ldmatrix"},
    {TG_F_CP_ASYNC, "cp.async"},
    {TG_F_BF16, "bf16"},
    {TG_F_WGMMA, "wgmma"},
    {TG_F_TMA, "tma"},
    {TG_F_TCGEN05, "tcgen05"},
    {TG_F_FP8_CVT, "fp8 conversions"},
};

const char *tg_feature_name(uint32_t feature) {
  for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++)
    if (feature_names[i].bit == feature) return feature_names[i].name;
  return "an unknown feature";
}

int tg_target_require(const tg_target *t, uint32_t feature, const char *op, char *err, int errn) {
  if ((t->features & feature) == feature) return 0;
  if (err && errn > 0)
    snprintf(err, errn, "op '%s' needs %s, which target %s does not have", op, tg_feature_name(feature),
             t->name);
  return -1;
}
