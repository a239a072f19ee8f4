/*
 * mma_layout.h - which warp-level matrix instruction (mma.sync) a dot uses on a target, and the
 * register layouts of its fragments.
 *
 * No LLVM here: the layout pass (compiler/passes/layout_assign.c) and the lowering
 * (codegen/lower_mma.c) make the same choice from the same function, so that a dot the pass gave
 * mma layouts is exactly a dot the lowering can run on tensor cores. The layouts themselves are
 * ir.h's mma, mma_a and mma_b; docs/tensor-cores.md has the fragment maps.
 */
#ifndef KILN_MMA_LAYOUT_H
#define KILN_MMA_LAYOUT_H

#include "../ir/ir.h"
#include "target.h"

/* The instruction a dot maps to. K counts elements of the operand type (u32 words for b1_and). */
typedef struct {
  ir_elem in;  /* operand element type: f16 bf16 i8 u8 e4m3 e5m2, or u32 (b1_and) */
  int k;       /* the instruction's K: 8 or 16 (16-bit), 32 (8-bit), 8 words (b1, 256 bits) */
  int kw;      /* operand elements per 32-bit register: 2, 4 or 1 */
  int ktiles;  /* K tiles of 4*kw elements per instruction: 1 (m16n8k8) or 2 */
  int acc_int; /* s32 accumulator (else f32) */
} tg_mma_pick;

/* 1 and *p if target t (NULL: sm_80) has an mma.sync for dot(a: ea, b: eb) -> er at `precision`
 * ("ieee", "tf32", "b1_and"; NULL = "ieee"); else 0 (the dot stays on FMAs). */
int tg_mma_pick_for(const tg_target *t, ir_elem ea, ir_elem eb, ir_elem er, const char *precision,
                    tg_mma_pick *p);

/* The warp grid wm x wn (wm * wn <= warps) for an M x N dot result, or 0 if no grid holds whole
 * fragments (N < 8). Uses as many warps as fit, then the grid that reads the least operand data
 * from shared memory (wn * M + wm * N), then more warps along M. An M below 16 takes one warp row
 * whose fragments' 16 rows repeat the tile's (rows wrap modulo M, as a layout's coordinates do past
 * a small shape: ir.h): the instruction computes each row more than once and the copies agree. */
int tg_mma_warp_grid(uint32_t m, uint32_t n, int warps, int *wm, int *wn);

/* The warp grid wm x 1 of a dot whose warps split the rows only (`dot {split = "rows"}`): each warp
 * owns whole rows of the result, so that row reductions stay inside a warp and the result feeds a
 * following dot's A operand from registers. wm is the most warps (a power of two <= warps) with
 * 16 rows each (1 for M < 16, rows repeated as above); 0 if N < 8. */
int tg_mma_warp_rows(uint32_t m, uint32_t n, int warps, int *wm, int *wn);

/* 1 if a dot of these shapes can keep its operands and accumulator in mma layouts (whole
 * fragments, rows repeated where M < 16 with wm = 1): M >= 16 * wm, N >= 8 * wn, K >= 4 * kw. */
int tg_mma_fits(const tg_mma_pick *p, uint32_t m, uint32_t n, uint32_t k, int wm, int wn);

#endif
