/*
 * mma_layout.c - the choice of matrix instruction and warp grid for a dot (mma_layout.h).
 *
 * The rows of the target table (target.h) say which mma.sync shapes exist; this file turns a dot's
 * element types and precision into one of them:
 *   f16   -> m16n8k16 (sm_80+), m16n8k8 (sm_75), f32 accumulator (an f16 result is rounded after);
 *   bf16  -> m16n8k16 (sm_80+);   i8, u8 -> m16n8k32, s32 (sm_80+);
 *   e4m3, e5m2 -> m16n8k32, f32 (sm_89+);   u32 b1_and -> m16n8k256 AND-popc, s32 (sm_80+).
 * Everything else (f32, tf32, f64, mixed inputs, i8 on sm_75) has no instruction here and stays
 * on FMAs.
 */
#include <string.h>

#include "mma_layout.h"

static int has(const tg_target *t, uint32_t f, int sm) { return (t->features & f) && t->sm >= sm; }

int tg_mma_pick_for(const tg_target *t, ir_elem ea, ir_elem eb, ir_elem er, const char *precision,
                    tg_mma_pick *p) {
  if (!t) t = tg_target_lookup("sm_80");
  if (!precision) precision = "ieee";
  memset(p, 0, sizeof *p);
  p->in = ea;
  if (ea != eb) return 0;
  if (!strcmp(precision, "b1_and")) {
    p->k = 8, p->kw = 1, p->ktiles = 2, p->acc_int = 1;
    return ea == IR_U32 && er == IR_I32 && has(t, TG_F_MMA_B1_AND, 80);
  }
  if (strcmp(precision, "ieee")) return 0;
  switch (ea) {
  case IR_F16:
    if (er != IR_F32 && er != IR_F16) return 0;
    p->kw = 2;
    if (has(t, TG_F_MMA_F16_K16, 80)) return p->k = 16, p->ktiles = 2, 1;
    return has(t, TG_F_MMA_F16_K8, 75) ? (p->k = 8, p->ktiles = 1, 1) : 0;
  case IR_BF16: p->kw = 2, p->k = 16, p->ktiles = 2; return er == IR_F32 && has(t, TG_F_MMA_F16_K16, 80);
  case IR_I8:
  case IR_U8:
    p->kw = 4, p->k = 32, p->ktiles = 2, p->acc_int = 1;
    return er == IR_I32 && has(t, TG_F_MMA_S8, 80);
  case IR_E4M3:
  case IR_E5M2: p->kw = 4, p->k = 32, p->ktiles = 2; return er == IR_F32 && has(t, TG_F_MMA_FP8, 89);
  default: return 0;
  }
}

int tg_mma_warp_grid(uint32_t m, uint32_t n, int warps, int *wm, int *wn) {
  int best = 0;
  uint64_t best_cost = 0;
  if (m < 1) return 0;
  for (int a = 1; a <= warps && (a == 1 || 16u * a <= m); a *= 2) /* M < 16: one warp row, padded */
    for (int b = 1; a * b <= warps && 8u * b <= n; b *= 2) {
      uint64_t cost = (uint64_t)b * m + (uint64_t)a * n;
      if (a * b > best || (a * b == best && cost <= best_cost)) {
        best = a * b, best_cost = cost;
        *wm = a, *wn = b;
      }
    }
  return best > 0;
}

int tg_mma_warp_rows(uint32_t m, uint32_t n, int warps, int *wm, int *wn) {
  if (m < 1 || n < 8) return 0;
  int a = 1;
  while (a * 2 <= warps && 16u * (uint32_t)a * 2 <= m) a *= 2;
  *wm = a, *wn = 1;
  return 1;
}

int tg_mma_fits(const tg_mma_pick *p, uint32_t m, uint32_t n, uint32_t k, int wm, int wn) {
  return (m >= 16u * wm || (wm == 1 && m >= 1)) && n >= 8u * wn && k >= 4u * p->kw;
}
