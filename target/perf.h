/*
 * perf.h - the rates of one reference GPU per target row, for the roofline model (docs/profiling.md,
 * "The model"). They are datasheet figures, not measurements: a row stands for many parts, and the model
 * names the part it assumed.
 */
#ifndef KILN_TARGET_PERF_H
#define KILN_TARGET_PERF_H

#include "target.h"

typedef struct {
  const char *target; /* the row, "sm_90a" */
  const char *part;   /* the reference part, "H100 SXM5" */
  int sms;            /* streaming multiprocessors */
  double clock_ghz;   /* the clock the tensor figures are quoted at */
  double dram_gbs;    /* DRAM bandwidth, GB/s (1e9 bytes) */
  /* dense mma.sync operations (2 per multiply-add) per clock per SM, by input width; 0: none */
  double mma16, mma8, mma1;
  /* warpgroup MMA (wgmma) operations per clock per SM, 16- and 8-bit inputs; 0: the row has none */
  double wgmma16, wgmma8;
  double fp32;            /* FP32 FMA-pipe flops per clock per SM */
  double smem_wavefronts; /* shared-memory wavefronts (128 bytes) per clock per SM */
  double issue;           /* warp instructions issued per clock per SM (one per scheduler) */
  const char *note;       /* how the figures were derived, and what is assumed rather than quoted */
} tg_perf;

/* The row's reference rates; NULL for a row without them. */
const tg_perf *tg_perf_of(const tg_target *t);

#endif
