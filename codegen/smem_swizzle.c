/*
 * smem_swizzle.c - where an element of a shared buffer lives: row-major order, then an XOR swizzle
 * of 16-byte chunks within each row.
 *
 * A buffer's rows are its last dim; the leading dims, flattened row-major, number them. With
 * `alloc_shared {swizzle = N}` (N a power of two, 2 <= N <= chunks per row), the 16-byte chunk c of
 * row r is stored at chunk c ^ ((r / G) % N) of the same row, where G = max(1, 128 / row bytes) is
 * the number of rows that share one 128-byte line of the 32 four-byte banks. Bytes inside a chunk
 * keep their place, so 16-byte accesses (cp.async, ldmatrix rows, vector loads) stay contiguous.
 *
 * Why this XOR: an ldmatrix reads the same logical chunk of 8 consecutive rows, and 8 consecutive
 * threads of a copy write the 8 chunks of one 128-byte line. Unswizzled, the 8 rows' chunks share a
 * bank group whenever a row is a multiple of 128 bytes (an 8-way conflict). With N = min(8, chunks
 * per row) the 8 rows land on 8 distinct 16-byte bank groups, while the chunks of any one line are
 * only permuted among themselves, so neither side conflicts (docs/gemm.md works the cases).
 *
 * Buffers of 4-byte elements (f32, i32, u32) that are not wgmma operands take the keys of the
 * lines in another order: line x gets key K(x), K = [0, 3, 1, 2] for N = 4 and [0, 3, 4, 7, 2, 1,
 * 6, 5] for N = 8, and for N of 16 or more the low 3 bits through that of 8 (a permutation, so 8
 * rows' same chunk still fall in 8 distinct bank groups). Three
 * more patterns are 4-byte ones: an accumulator layout reads 8-byte pairs, a half-warp 4 rows x 32
 * bytes (chunks 2j and 2j + 1), which is conflict-free only when the 4 rows' keys differ in their
 * high bits (K(x) >> 1 distinct over x = 0..3 and 4..7; with K(x) = x rows 0 and 1 collide); an
 * mma_b operand layout of f32 reads one word of each of rows 0, 2, 4, 6 (or the odd ones) x 32
 * bytes, which needs K(x) >> 1 distinct over the even and over the odd x (with [0, 3, 4, 7, 1, 2,
 * 5, 6], the keys before, rows 0 and 4 collided: fftconv's twiddles at N1 = 8); and a thread with
 * 32-byte runs (a layout inherited from a 2-byte tile) writes every other chunk, a quarter-warp 2
 * rows of 128 bytes, conflict-free only when neighbouring lines' keys differ in their low bit. K
 * meets all four; the identity meets the first and last only. It is applied from a table
 * constant: K(x) = (table >> (x log2 N)) & (N - 1).
 *
 * A wgmma operand (`alloc_shared {wgmma = 1}`, compiler/passes/wgmma_plan.c) with rows wider than
 * 128 bytes is stored as 128-byte panels: the bytes [128 p, 128 p + 128) of every row form panel p,
 * rows * 128 bytes, one after the other; inside a panel the rule above applies to 128-byte rows.
 * That is the canonical layout wgmma's swizzled descriptors read (docs/hopper.md). A wgmma A
 * operand (`wgmma_rows = w`) also has its 8-row groups permuted (wgmma_row below).
 *
 * Every access to a buffer goes through cg_smem_swizzle: copy, load_shared, store_shared, and the
 * tensor-core operand loads. The verifier checks that N fits the rows (ir/verify.c). A buffer that
 * flows through `for` or `if` takes the swizzle of the buffer it starts as (or of the then-arm's):
 * every buffer that can flow into one value must have the same swizzle.
 */
#include <assert.h>

#include "cg.h"

/* The alloc_shared behind buf: through loop-carried values (block arguments of a `for` body take
 * their init's buffer; a `for` result its init) and `if` results (the then-arm's yield) to the op
 * that made it; 0 if none. */
static ir_opid alloc_of(ir_func *fn, ir_val buf) {
  for (int hops = 0; hops < 64 && buf; hops++) {
    ir_value *v = ir_v(fn, buf);
    if (v->def) {
      ir_op *o = ir_o(fn, v->def);
      if (o->code == IR_OP_ALLOC_SHARED) return v->def;
      if (o->code == IR_OP_FOR) {
        buf = o->opnd[3 + v->index];
      } else if (o->code == IR_OP_IF) {
        ir_opid y = ir_r(fn, o->region[0])->last;
        buf = y && v->index < ir_o(fn, y)->nopnd ? ir_o(fn, y)->opnd[v->index] : 0;
      } else {
        return 0;
      }
      continue;
    }
    ir_opid parent = v->arg_of ? ir_r(fn, v->arg_of)->parent_op : 0;
    if (!parent || ir_o(fn, parent)->code != IR_OP_FOR || v->index == 0) return 0;
    buf = ir_o(fn, parent)->opnd[3 + v->index - 1];
  }
  return 0;
}

int cg_smem_swizzle_of(cg_lower *L, ir_val buf) {
  ir_opid op = alloc_of(L->fn, buf);
  int n = op ? (int)ir_attr_i(ir_o(L->fn, op)->attrs, "swizzle", 0) : 0;
  return n > 1 ? n : 0;
}

int cg_smem_wgmma_rows(cg_lower *L, ir_val buf) {
  ir_opid op = alloc_of(L->fn, buf);
  return op ? (int)ir_attr_i(ir_o(L->fn, op)->attrs, "wgmma_rows", 0) : 0;
}

/* Where row r of a wgmma A buffer for w warps is stored. The mma<[w,1]> layout gives warp v rows
 * 8 v + g and 8 v + g + 8 w (g < 8); wgmma gives warp v of warpgroup u = v / 4 the rows 16 (v % 4)
 * + g + {0, 8} of the 64 its warpgroup reads from 64 u on. So the 8-row group G = h w + v (h = 0, 1)
 * is stored as group 8 (v / 4) + 2 (v % 4) + h. */
static LLVMValueRef wgmma_row(cg_lower *L, LLVMValueRef r, int w) {
  LLVMBuilderRef B = L->c.b;
  int lw = cg_log2((uint32_t)w);
  LLVMValueRef g = LLVMBuildAnd(B, r, cg_i32(L, 7), ""), G = LLVMBuildLShr(B, r, cg_i32(L, 3), "");
  LLVMValueRef h = LLVMBuildLShr(B, G, cg_i32(L, lw), ""), v = LLVMBuildAnd(B, G, cg_i32(L, w - 1), "");
  LLVMValueRef P = LLVMBuildShl(B, LLVMBuildLShr(B, v, cg_i32(L, 2), ""), cg_i32(L, 3), "");
  P = LLVMBuildOr(B, P, LLVMBuildShl(B, LLVMBuildAnd(B, v, cg_i32(L, 3), ""), cg_i32(L, 1), ""), "");
  P = LLVMBuildOr(B, P, h, "");
  return LLVMBuildOr(B, LLVMBuildShl(B, P, cg_i32(L, 3), ""), g, "");
}

int cg_smem_panels(cg_lower *L, ir_val buf) {
  ir_opid op = alloc_of(L->fn, buf);
  return op && ir_attr_i(ir_o(L->fn, op)->attrs, "wgmma", 0);
}

/* The map below moves row r + k to row r's place plus k rows when the row order is not permuted
 * (no wgmma_rows) and k is a multiple of the swizzle's period, G * N rows (every row when N = 0). */
int64_t cg_smem_row_step(cg_lower *L, ir_val buf, uint32_t rows) {
  ir_type t = ir_vtype(L->fn, buf);
  if (t.rank != 2 || cg_smem_wgmma_rows(L, buf)) return -1;
  uint32_t row_bytes = t.shape[1] * (uint32_t)ir_elem_bytes(t.elem), n = (uint32_t)cg_smem_swizzle_of(L, buf);
  if (row_bytes > 128 && cg_smem_panels(L, buf)) row_bytes = 128;
  uint32_t period = n ? (row_bytes >= 128 ? 1 : 128 / row_bytes) * n : 1;
  return rows % period ? -1 : (int64_t)rows * row_bytes;
}

/* The key of line x (x < n) of a 4-byte buffer with swizzle n: see the header (n >= 8: the low 3
 * bits through K of N = 8, the bank groups of a line; the rest as they are). */
static int wide_key(int x, int n) {
  if (n >= 8) return (x & ~7) | ((x & 3) ^ (x >> 2 & 1)) << 1 | (x & 1);
  if (n == 4) return ((x & 1) * 3) ^ (x >> 1);
  return x;
}

/* wide_key of an i32 x < n from a table constant of the low 3 (or 2) bits' keys. */
static LLVMValueRef swizzle_key(cg_lower *L, LLVMValueRef x, int n) {
  if (n <= 2) return x;
  LLVMBuilderRef B = L->c.b;
  int m = n < 8 ? n : 8, lb = cg_log2((uint32_t)m);
  uint32_t table = 0;
  for (int k = 0; k < m; k++) table |= (uint32_t)wide_key(k, m) << (k * lb);
  LLVMValueRef lo = n > 8 ? LLVMBuildAnd(B, x, cg_i32(L, 7), "") : x;
  LLVMValueRef sh = LLVMBuildMul(B, lo, cg_i32(L, lb), "");
  LLVMValueRef key =
      LLVMBuildAnd(B, LLVMBuildLShr(B, cg_i32(L, (int64_t)table), sh, ""), cg_i32(L, m - 1), "");
  return n > 8 ? LLVMBuildOr(B, LLVMBuildAnd(B, x, cg_i32(L, n - 8), ""), key, "") : key;
}

LLVMValueRef cg_swizzle_at(cg_lower *L, LLVMValueRef row, LLVMValueRef col, uint32_t row_bytes, int n,
                           int wide) {
  LLVMBuilderRef B = L->c.b;
  LLVMValueRef start = LLVMBuildMul(B, row, cg_i32(L, row_bytes), "");
  if (n < 2) return LLVMBuildAdd(B, start, col, "");
  assert(row_bytes % 16 == 0 && (uint32_t)n <= row_bytes / 16 && !(n & (n - 1)));
  int group = row_bytes >= 128 ? 0 : cg_log2(128 / row_bytes);
  LLVMValueRef key = LLVMBuildAnd(B, LLVMBuildLShr(B, row, cg_i32(L, group), ""), cg_i32(L, n - 1), "");
  if (wide) key = swizzle_key(L, key, n);
  LLVMValueRef moved = LLVMBuildXor(B, col, LLVMBuildShl(B, key, cg_i32(L, 4), ""), "");
  return LLVMBuildAdd(B, start, moved, "");
}

LLVMValueRef cg_smem_swizzle(cg_lower *L, ir_val buf, const LLVMValueRef *idx) {
  LLVMBuilderRef B = L->c.b;
  ir_type t = ir_vtype(L->fn, buf);
  int f = t.rank - 1, eb = ir_elem_bytes(t.elem), n = cg_smem_swizzle_of(L, buf);
  uint32_t row_bytes = t.shape[f] * (uint32_t)eb;
  LLVMValueRef row = cg_i32(L, 0);
  for (int d = 0; d < f; d++)
    row = LLVMBuildAdd(B, LLVMBuildMul(B, row, cg_i32(L, t.shape[d]), ""), idx[d], "");
  LLVMValueRef col = LLVMBuildMul(B, idx[f], cg_i32(L, eb), "");
  int wrows = cg_smem_wgmma_rows(L, buf);
  if (wrows) row = wgmma_row(L, row, wrows);
  if (row_bytes > 128 && cg_smem_panels(L, buf)) {
    /* 128-byte panels: byte b of row r is in panel b / 128, at r * 128 + b % 128 inside it */
    uint32_t rows = (uint32_t)(ir_type_numel(t) / t.shape[f]);
    LLVMValueRef panel = LLVMBuildLShr(B, col, cg_i32(L, 7), "");
    col = LLVMBuildAnd(B, col, cg_i32(L, 127), "");
    row_bytes = 128;
    row = LLVMBuildAdd(B, LLVMBuildMul(B, panel, cg_i32(L, rows), ""), row, "");
  }
  /* wgmma operands keep the hardware's swizzle; other 4-byte buffers rotate the key */
  return cg_swizzle_at(L, row, col, row_bytes, n, eb == 4 && !cg_smem_panels(L, buf));
}
