/*
 * perf.c - reference rates per target row (perf.h).
 *
 * Per-SM rates are the vendor's dense peak divided by SMs x clock: e.g. the A100's 312 TFLOP/s of f16
 * with f32 accumulation / (108 SMs x 1.41 GHz) = 2048 operations per clock per SM. Every SM has 32
 * shared-memory banks of 4 bytes (one 128-byte wavefront per clock) and four warp schedulers issuing one
 * instruction per clock each. Where the vendor quotes no mma.sync rate (Hopper and Blackwell quote the
 * rates of wgmma and tcgen05), the row states the fraction it assumes.
 */
#include "perf.h"

#include <string.h>

static const tg_perf perf[] = {
    {"sm_75", "Tesla T4", 40, 1.59, 320, 1024, 2048, 0, 0, 0, 128, 1, 4,
     "65 TFLOP/s f16, 130 TOP/s int8, 8.1 TFLOP/s fp32; no b1 AND mma"},
    {"sm_80", "A100 SXM4 80GB", 108, 1.41, 2039, 2048, 4096, 32768, 0, 0, 128, 1, 4,
     "312 TFLOP/s f16/bf16, 624 TOP/s int8, 4992 TOP/s binary, 19.5 TFLOP/s fp32"},
    {"sm_86", "RTX A6000", 84, 1.80, 768, 1024, 2048, 16384, 0, 0, 256, 1, 4,
     "155 TFLOP/s f16 with f32 accumulation, 310 TOP/s int8 (b1 assumed at 16x f16), 38.7 TFLOP/s fp32"},
    {"sm_89", "L40S", 142, 2.52, 864, 1024, 2048, 16384, 0, 0, 256, 1, 4,
     "362 TFLOP/s f16, 733 TFLOP/s fp8 and int8 (b1 assumed at 16x f16), 91.6 TFLOP/s fp32"},
    {"sm_90a", "H200 SXM", 132, 1.83, 4800, 2731, 5461, 21845, 4096, 8192, 256, 1, 4,
     "989 TFLOP/s f16 and 1979 TFLOP/s fp8/int8 are wgmma's (4096 and 8192 a clock an SM); mma.sync assumed "
     "at 2/3 of them; b1 assumed at 8x f16; 67 TFLOP/s fp32"},
    {"sm_100a", "B200", 148, 1.85, 8000, 4096, 8192, 32768, 0, 0, 256, 1, 4,
     "2250 TFLOP/s f16 is tcgen05's; mma.sync assumed at 1/2 of it; b1 assumed at 8x f16"},
    {"sm_120a", "RTX 5090", 170, 2.41, 1792, 512, 2048, 8192, 0, 0, 256, 1, 4,
     "209.5 TFLOP/s f16 with f32 accumulation, 838 TOP/s int8 and fp8 (b1 assumed at 16x f16), 104.8 TFLOP/s "
     "fp32"},
};

const tg_perf *tg_perf_of(const tg_target *t) {
  if (!t) return NULL;
  for (size_t i = 0; i < sizeof perf / sizeof perf[0]; i++)
    if (!strcmp(perf[i].target, t->name)) return &perf[i];
  return NULL;
}
