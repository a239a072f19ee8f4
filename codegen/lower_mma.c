/*
 * lower_mma.c - dot on the target's warp-level matrix instruction (mma.sync), its operands read from
 * shared memory with ldmatrix.
 *
 * The layouts are ir.h's mma (accumulator), mma_a and mma_b (operands): blocked layouts in which
 * a thread's elements are exactly its mma.sync fragment registers (docs/tensor-cores.md). For
 * lane 4g + t, row group i of the accumulator is 8 rows (g + 8i in the warp's rows); groups 2q and
 * 2q + 1 are the 16 rows of instruction tile q. Column pairs 2p, 2p + 1 are the 8 columns of tile p.
 * A tile of fewer than 16 rows (the layout pass gives its dot one warp row) has one group, its rows
 * repeated past M as a layout's coordinates wrap: the instruction's rows 8-15 take the A registers
 * of rows 0-7 (or of rows i mod M below 8) and their results, the same values, are dropped.
 * Along K an operand thread holds kw elements (one 32-bit register) of each K tile of 4*kw; an
 * instruction takes ktiles (2, or 1 for m16n8k8) consecutive K tiles.
 *
 * Steps of cg_lower_dot_mma:
 *   1. Pick the instruction (mma_layout.c; none: return 0 and the dot stays on FMAs).
 *   2. Direct path: a in mma_a, b in mma_b, the accumulator and the result in mma, one warp grid (the
 *      layout pass's choice). The registers are packed from the elements, the instruction tiles run
 *      for each K step, (q, p) tile and the accumulator stays in registers. An operand from a
 *      load_shared or a convert_layout used only here is read by the dot itself, one pair of K
 *      tiles at a time just before its instructions; with both so and a long K the K loop stays
 *      rolled (see "operands the dot reads itself" below).
 *   3. Otherwise (any layouts, tiles smaller than one fragment): a, b and the accumulator are
 *      staged in scratch, zero-padded to M >= 16, N >= 8, K >= 4*kw, read back in mma layouts of a
 *      grid that fits (ldmatrix), run as in 2, and the result goes back through scratch.
 * A K that is not a multiple of the instruction's K (f16 K = 8 on m16n8k16) leaves the missing K
 * tiles as zero registers.
 *
 * Operand fragments from shared memory (operand_from_shared), for a buffer read by load_shared, a
 * convert_layout, or the staging of step 3. The stored matrix is row-major with its rows along the
 * operand's M or N (A [M,K]; B staged as [N,K]) or along K (B [K,N]):
 *   16-bit elements: ldmatrix, four 8x8 matrices at a time (.trans when the rows are K);
 *   8-bit elements with rows along M or N, and u32 words (b1): one 32-bit load per register;
 *   8-bit elements with rows along K: one 32-bit load per register across four lanes' columns and
 *   a byte transpose by two shuffles and two prmt (operand_words); one load per element
 *   where the layout is not the fragments'.
 * Buffers are addressed through cg_smem_swizzle (16-byte chunks stay whole, so ldmatrix rows do);
 * scratch rows get 16 bytes of padding where that keeps 8 consecutive rows off one bank group.
 */
#include <string.h>

#include "../target/mma_layout.h"
#include "cg.h"

typedef struct {
  tg_mma_pick p;
  cg_mma_kind kind;
  const cg_mma_info *mi;
  ir_elem ea, er, ct; /* operand, result and accumulator (f32 or i32) types */
  uint32_t m, n, k;
} mma_dot;

static cg_mma_kind kind_of(const tg_mma_pick *p) {
  switch (p->in) {
  case IR_F16: return p->k == 8 ? CG_MMA_F16_K8 : CG_MMA_F16_K16;
  case IR_BF16: return CG_MMA_BF16_K16;
  case IR_I8: return CG_MMA_S8_K32;
  case IR_U8: return CG_MMA_U8_K32;
  case IR_E4M3: return CG_MMA_E4M3_K32;
  case IR_E5M2: return CG_MMA_E5M2_K32;
  default: return CG_MMA_B1_AND_K256;
  }
}

static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static int is_operand(const cg_lay *y) { return y->l.kind == IR_LMMA_A || y->l.kind == IR_LMMA_B; }
static int kdim(const cg_lay *y) { return y->l.kind == IR_LMMA_A ? 1 : 0; } /* the operand's K dim */
static int kw_of(const cg_lay *y) { return y->l.spt[kdim(y)]; }

/* 1 if a tile of y's shape and element type e holds whole fragments of its mma operand layout:
 * 32-bit registers of kw elements; an A of fewer than 16 rows on one warp row repeats its rows. */
static int whole_operand(const cg_lay *y, ir_elem e) {
  int kd = kdim(y), md = 1 - kd;
  return y->rank == 2 && ir_elem_bits(e) * kw_of(y) == 32 &&
         (y->shape[md] >= (kd ? 16u : 8u) * y->wpc[md] || (kd && y->wpc[md] == 1)) &&
         y->shape[kd] >= 4u * kw_of(y);
}

/* Row group g (8 rows) of an accumulator or A operand layout y. A tile of fewer than 16 rows (one
 * warp row) has one group, and the fragment's rows 8-15 are its rows again (coordinates wrap modulo
 * M): group 1 is group 0. */
static uint32_t group_of(const cg_lay *y, uint32_t g) { return g % y->per[0]; }

/* ---- registers ---- */

/* kw elements of type e as one i32 register (element 0 in the low bits). */
static LLVMValueRef pack(cg_lower *L, ir_elem e, const LLVMValueRef *v, int kw) {
  if (kw == 1) return v[0];
  LLVMTypeRef vt = LLVMVectorType(cg_elem_type(L, e), (unsigned)kw);
  LLVMValueRef x = LLVMGetUndef(vt);
  for (int j = 0; j < kw; j++) x = LLVMBuildInsertElement(L->c.b, x, v[j], cg_i32(L, j), "");
  return LLVMBuildBitCast(L->c.b, x, LLVMInt32TypeInContext(L->c.ctx), "");
}

static void unpack(cg_lower *L, ir_elem e, LLVMValueRef r, int kw, LLVMValueRef *out) {
  if (kw == 1) {
    out[0] = r;
    return;
  }
  LLVMValueRef x = LLVMBuildBitCast(L->c.b, r, LLVMVectorType(cg_elem_type(L, e), (unsigned)kw), "");
  for (int j = 0; j < kw; j++) out[j] = LLVMBuildExtractElement(L->c.b, x, cg_i32(L, j), "");
}

/* Index in y's element array of (e0, e1). */
static uint32_t at2(const cg_lay *y, uint32_t e0, uint32_t e1) { return e0 * y->step[0] + e1 * y->step[1]; }

void cg_mma_a_step_regs(cg_lower *L, const cg_lay *ya, ir_elem e, const LLVMValueRef *v, uint32_t s,
                        LLVMValueRef out[4]) {
  int kw = kw_of(ya);
  LLVMValueRef pv[4];
  for (uint32_t j = 0; j < 4; j++) {
    uint32_t kt = 2 * s + (j >> 1);
    for (int i = 0; i < kw; i++) pv[i] = v[at2(ya, group_of(ya, j & 1), kt * (uint32_t)kw + (uint32_t)i)];
    out[j] = pack(L, e, pv, kw);
  }
}

/* ---- operand fragments from shared memory ---- */

typedef struct {
  LLVMValueRef base;  /* shared pointer to element [0][0] */
  ir_val buf;         /* a buffer (addressed through cg_smem_swizzle), or 0: scratch with `stride` */
  uint32_t stride;    /* scratch: elements per row */
  int rows_k;         /* the rows run along K (B as [K,N]); else along the operand's M or N */
  LLVMValueRef kbase; /* i32 K tiles to add to every K tile read (a rolled K loop), or NULL */
  uint32_t at[2];     /* a buffer: the stored matrix's element [0][0] is the buffer's element at */
} smem_src;

/* The K coordinate of K tile 0 (elements): kbase * 4 * kw. */
static LLVMValueRef kbase_elems(cg_lower *L, const smem_src *s, int kw) {
  return s->kbase ? LLVMBuildMul(L->c.b, s->kbase, cg_i32(L, 4 * kw), "") : cg_i32(L, 0);
}

/* Pointer to element (row, col) of the stored matrix. */
static LLVMValueRef smem_at(cg_lower *L, const smem_src *s, ir_elem e, LLVMValueRef row, LLVMValueRef col) {
  LLVMBuilderRef B = L->c.b;
  if (s->buf) {
    LLVMValueRef idx[2]; /* one at a time: C leaves the order of initialisers open */
    idx[0] = LLVMBuildAdd(B, row, cg_i32(L, s->at[0]), "");
    idx[1] = LLVMBuildAdd(B, col, cg_i32(L, s->at[1]), "");
    LLVMValueRef off = cg_smem_swizzle(L, s->buf, idx);
    return LLVMBuildGEP2(B, LLVMInt8TypeInContext(L->c.ctx), s->base, &off, 1, "");
  }
  LLVMValueRef i = LLVMBuildAdd(B, LLVMBuildMul(B, row, cg_i32(L, s->stride), ""), col, "");
  return LLVMBuildGEP2(B, cg_mem_type(L, e), s->base, &i, 1, "");
}

/* Element (major coordinate, k coordinate) of the operand. */
static LLVMValueRef operand_at(cg_lower *L, const smem_src *s, ir_elem e, LLVMValueRef mj, LLVMValueRef k) {
  return s->rows_k ? smem_at(L, s, e, k, mj) : smem_at(L, s, e, mj, k);
}

/* 16-bit operands: ldmatrix of up to four 8x8 matrices per instruction; gb, kb say whether the
 * instruction spans two groups and two K tiles. The matrices come in the order of the mma's
 * registers, so that each instruction reads consecutive registers (a pair, ptxas moves nothing): for
 * A (a0..a3 = rows 0-7 and 8-15 of K tile 0, then of K tile 1) matrix j is group g0 + (j & gb) and
 * K tile kt0 + ((j >> gb) & kb); for B (b0, b1 = K tiles 0 and 1 of one group) the K tile varies
 * first: K tile kt0 + (j & kb), group g0 + ((j >> kb) & gb). Lane 8j + i gives row i of matrix j. */
static void operand_ldmatrix(cg_lower *L, const cg_lay *y, ir_elem e, const smem_src *s, uint32_t k0,
                             uint32_t k1, LLVMValueRef *out) {
  LLVMBuilderRef B = L->c.b;
  int kd = kdim(y), md = 1 - kd;
  uint32_t ng = y->per[md];
  int gb = ng >= 2, kb = k1 - k0 >= 2, num = 1 << (gb + kb);
  LLVMValueRef lane_m, warp_m;
  cg_lay_pos(L, y, md, &lane_m, &warp_m);
  LLVMValueRef i = LLVMBuildAnd(B, L->lane, cg_i32(L, 7), "");
  LLVMValueRef j = LLVMBuildAnd(B, LLVMBuildLShr(B, L->lane, cg_i32(L, 3), ""), cg_i32(L, num - 1), "");
  int lo = kd ? gb : kb; /* bits of j below the other selector: A's group, B's K tile */
  LLVMValueRef gsel = kd ? LLVMBuildAnd(B, j, cg_i32(L, gb), "")
                         : LLVMBuildAnd(B, LLVMBuildLShr(B, j, cg_i32(L, lo), ""), cg_i32(L, gb), "");
  LLVMValueRef ksel = kd ? LLVMBuildAnd(B, LLVMBuildLShr(B, j, cg_i32(L, lo), ""), cg_i32(L, kb), "")
                         : LLVMBuildAnd(B, j, cg_i32(L, kb), "");
  /* the lane's row: major 8 * warp + 8 * wpc * group (+ i), K 8 * tile (+ i when rows are K) */
  LLVMValueRef gm = LLVMBuildMul(B, gsel, cg_i32(L, 8 * y->wpc[md]), ""); /* one at a time: argument order */
  LLVMValueRef mj = LLVMBuildAdd(B, LLVMBuildMul(B, warp_m, cg_i32(L, 8), ""), gm, "");
  LLVMValueRef kbase = kbase_elems(L, s, 2);
  LLVMValueRef kk = LLVMBuildAdd(B, LLVMBuildMul(B, ksel, cg_i32(L, 8), ""), kbase, "");
  if (s->rows_k)
    kk = LLVMBuildAdd(B, kk, i, "");
  else /* an A of fewer than 8 rows: rows 8 apart repeat it (group_of) */
    mj = LLVMBuildAdd(B, mj, y->shape[md] < 8 ? LLVMBuildAnd(B, i, cg_i32(L, y->shape[md] - 1), "") : i, "");
  LLVMValueRef regs[4], two[2];
  uint32_t e2[2];
  /* unswizzled: one lane pointer plus a constant per instruction; swizzled: one per column
   * offset, plus a constant for rows further down where the swizzle repeats (cg_smem_row_step) */
  uint32_t stride = s->buf ? ir_vtype(L->fn, s->buf).shape[1] : s->stride;
  LLVMValueRef lp = s->buf && cg_smem_swizzle_of(L, s->buf) ? NULL : operand_at(L, s, e, mj, kk);
  enum { NCOL = 64 };
  struct {
    uint32_t col, row;
    LLVMValueRef p;
  } seen[NCOL];
  int nseen = 0;
  for (uint32_t g0 = 0; g0 < ng; g0 += 1u << gb)
    for (uint32_t kt0 = k0; kt0 < k1; kt0 += 1u << kb) {
      uint32_t gm = g0 * 8 * y->wpc[md], gk = kt0 * 8;
      uint32_t col = s->rows_k ? gm : gk, row = s->rows_k ? gk : gm;
      LLVMValueRef p = NULL;
      if (lp) {
        LLVMValueRef c = cg_i32(L, s->rows_k ? gk * stride + gm : gm * stride + gk);
        p = LLVMBuildGEP2(B, cg_mem_type(L, e), lp, &c, 1, "");
      } else {
        for (int q = 0; q < nseen && !p; q++) {
          int64_t step =
              seen[q].col == col && row >= seen[q].row ? cg_smem_row_step(L, s->buf, row - seen[q].row) : -1;
          if (step >= 0) {
            LLVMValueRef c = cg_i32(L, (uint32_t)step);
            p = LLVMBuildGEP2(B, LLVMInt8TypeInContext(L->c.ctx), seen[q].p, &c, 1, "");
          }
        }
        if (!p) {
          LLVMValueRef kat = LLVMBuildAdd(B, kk, cg_i32(L, gk), ""); /* one at a time: argument order */
          p = operand_at(L, s, e, LLVMBuildAdd(B, mj, cg_i32(L, gm), ""), kat);
          if (nseen < NCOL) {
            seen[nseen].col = col;
            seen[nseen].row = row;
            seen[nseen++].p = p;
          }
        }
      }
      L->c.ops->ldmatrix(&L->c, num, s->rows_k, p, regs);
      for (int r = 0; r < num; r++) {
        unpack(L, e, regs[r], 2, two);
        uint32_t rg = (uint32_t)(kd ? r & gb : (r >> lo) & gb), rk = (uint32_t)(kd ? (r >> lo) & kb : r & kb);
        e2[md] = g0 + rg;
        for (int h = 0; h < 2; h++) {
          e2[kd] = (kt0 + rk) * 2 + (uint32_t)h;
          out[cg_lay_index(y, e2)] = two[h];
        }
      }
    }
}

/* One 32-bit load per register. 8-bit operands with rows along M or N, and u32 words: the word of
 * the register. 8-bit operands with rows along K (B as [K,N]; `transpose`), in the mma fragments'
 * lane order (K's four lanes lowest, then N's eight, rows_k_words_ok): a 4 x 4 byte transpose across
 * the four lanes that hold four consecutive columns (lanes 4 apart), instead of four byte loads.
 * Lane j of such a group (j = lane / 4 % 4) loads row k + j of the four columns; after one shuffle
 * (lane ^ 4) and a prmt each holds two rows of two columns, after a second (lane ^ 8) its own
 * column's four rows. */
static int rows_k_words_ok(const cg_lay *y) {
  int kd = kdim(y), md = 1 - kd;
  return is_operand(y) && kw_of(y) == 4 && y->l.tpw[kd] == 4 && y->l.tpw[md] == 8 && y->l.spt[md] == 1 &&
         y->l.order[0] == kd;
}

/* prmt.b32 (devops.h): the device op, or its meaning in shifts and masks (the simulator's). */
static LLVMValueRef prmt(cg_lower *L, LLVMValueRef a, LLVMValueRef b, LLVMValueRef sel) {
  if (L->c.ops->prmt) return L->c.ops->prmt(&L->c, a, b, sel);
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx), i32 = LLVMInt32TypeInContext(L->c.ctx);
  /* one instruction at a time: the order of a call's arguments is the C compiler's */
  LLVMValueRef lo = LLVMBuildZExt(B, a, i64, "");
  LLVMValueRef hi = LLVMBuildShl(B, LLVMBuildZExt(B, b, i64, ""), LLVMConstInt(i64, 32, 0), "");
  LLVMValueRef x = LLVMBuildOr(B, lo, hi, "");
  LLVMValueRef r = cg_i32(L, 0);
  for (int i = 0; i < 4; i++) {
    LLVMValueRef nib = LLVMBuildAnd(B, LLVMBuildLShr(B, sel, cg_i32(L, 4 * i), ""), cg_i32(L, 7), "");
    LLVMValueRef sh = LLVMBuildZExt(B, LLVMBuildShl(B, nib, cg_i32(L, 3), ""), i64, "");
    LLVMValueRef byte = LLVMBuildTrunc(B, LLVMBuildLShr(B, x, sh, ""), i32, "");
    byte = LLVMBuildAnd(B, byte, cg_i32(L, 0xff), "");
    r = LLVMBuildOr(B, r, LLVMBuildShl(B, byte, cg_i32(L, 8 * i), ""), "");
  }
  return r;
}

static void operand_words(cg_lower *L, const cg_lay *y, ir_elem e, const smem_src *s, uint32_t k0,
                          uint32_t k1, int transpose, LLVMValueRef *out) {
  int kd = kdim(y), md = 1 - kd, kw = kw_of(y);
  const cg_thread_lay *t = cg_lay_thread(L, y);
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i32 = LLVMInt32TypeInContext(L->c.ctx);
  LLVMValueRef j = NULL, sel1 = NULL, sel2 = NULL;
  if (transpose) {
    j = LLVMBuildAnd(B, LLVMBuildLShr(B, L->lane, cg_i32(L, 2), ""), cg_i32(L, 3), "");
    LLVMValueRef odd = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, j, cg_i32(L, 1), ""), cg_i32(L, 0), "");
    LLVMValueRef upper = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, j, cg_i32(L, 2), ""), cg_i32(L, 0), "");
    /* the byte selectors (own word bytes 0-3, the partner's 4-7). First exchange, with lane ^ 4: a
     * lane keeps columns j & 1 and (j & 1) + 2 of its pair of rows, the lower row's byte first
     * (even j: own 0, theirs 0, own 2, theirs 2; odd j: theirs 1, own 1, theirs 3, own 3). Second,
     * with lane ^ 8: column j's four rows, rows 0-1 from the lane of the lower pair (j < 2: own
     * bytes 0-1 then theirs 0-1; j >= 2: theirs 2-3 then own 2-3). */
    sel1 = LLVMBuildSelect(B, odd, cg_i32(L, 0x3715), cg_i32(L, 0x6240), "");
    sel2 = LLVMBuildSelect(B, upper, cg_i32(L, 0x3276), cg_i32(L, 0x5410), "");
  }
  LLVMValueRef v[4];
  uint32_t e2[2];
  for (uint32_t g = 0; g < y->per[md]; g++)
    for (uint32_t kt = k0; kt < k1; kt++) {
      LLVMValueRef m = LLVMBuildAdd(B, t->off[md], cg_i32(L, cg_lay_const(y, md, g)), "");
      LLVMValueRef k = LLVMBuildAdd(B, t->off[kd], cg_i32(L, cg_lay_const(y, kd, kt * kw)), "");
      k = LLVMBuildAdd(B, k, kbase_elems(L, s, kw), "");
      if (transpose) /* row k + j of the group's four columns */
        m = LLVMBuildSub(B, m, j, ""), k = LLVMBuildAdd(B, k, j, "");
      LLVMValueRef r = L->c.ops->load(&L->c, CG_SHARED, i32, operand_at(L, s, e, m, k), NULL, NULL);
      if (transpose) {
        r = prmt(L, r, L->c.ops->shfl(&L->c, CG_SHFL_XOR, r, cg_i32(L, 4)), sel1);
        r = prmt(L, r, L->c.ops->shfl(&L->c, CG_SHFL_XOR, r, cg_i32(L, 8)), sel2);
      }
      unpack(L, e, r, kw, v);
      e2[md] = g;
      for (int h = 0; h < kw; h++) {
        e2[kd] = kt * (uint32_t)kw + (uint32_t)h;
        out[cg_lay_index(y, e2)] = v[h];
      }
    }
}

/* One load per element. */
static void operand_elements(cg_lower *L, const cg_lay *y, ir_elem e, const smem_src *s, uint32_t k0,
                             uint32_t k1, LLVMValueRef *out) {
  const cg_thread_lay *t = cg_lay_thread(L, y);
  int kd = kdim(y), md = 1 - kd, kw = kw_of(y);
  uint32_t ex[2];
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ex);
    if (ex[kd] / (uint32_t)kw < k0 || ex[kd] / (uint32_t)kw >= k1) continue;
    LLVMValueRef c[2];
    for (int d = 0; d < 2; d++)
      c[d] = LLVMBuildAdd(L->c.b, t->off[d], cg_i32(L, cg_lay_const(y, d, ex[d])), "");
    c[kd] = LLVMBuildAdd(L->c.b, c[kd], kbase_elems(L, s, kw), "");
    LLVMValueRef p = operand_at(L, s, e, c[md], c[kd]);
    out[i] = cg_from_mem(L, L->c.ops->load(&L->c, CG_SHARED, cg_mem_type(L, e), p, NULL, NULL), e);
  }
}

/* The elements of K tiles [k0, k1) of y (an operand layout holding whole fragments) from the stored
 * matrix, into out (indexed as y's elements). */
static void operand_from_shared(cg_lower *L, const cg_lay *y, ir_elem e, const smem_src *s, uint32_t k0,
                                uint32_t k1, LLVMValueRef *out) {
  int bits = ir_elem_bits(e);
  /* ldmatrix rows and 32-bit words start on their own alignment: a block of a buffer whose first
   * column is not on a 16-byte chunk (4 bytes for words) is read an element at a time */
  uint32_t col0 = s->buf ? s->at[1] * (uint32_t)ir_elem_bytes(e) : 0;
  if (col0 % 16 && (bits == 16 || col0 % 4))
    operand_elements(L, y, e, s, k0, k1, out);
  else if (bits == 16 && !cg_tc_check(L->c.target, CG_TC_LDMATRIX, NULL, 0))
    operand_ldmatrix(L, y, e, s, k0, k1, out);
  else if (bits == 32 || (bits == 8 && !s->rows_k))
    operand_words(L, y, e, s, k0, k1, 0, out);
  else if (bits == 8 && rows_k_words_ok(y))
    operand_words(L, y, e, s, k0, k1, 1, out);
  else
    operand_elements(L, y, e, s, k0, k1, out);
}

static uint32_t ktiles_of(const cg_lay *y) { return y->per[kdim(y)] / (uint32_t)kw_of(y); }

/* A dot operand: its elements in registers, or a stored matrix read one K step at a time (v then
 * holds the current step's elements). */
typedef struct {
  const cg_lay *y;
  LLVMValueRef *v;
  const smem_src *s;
} operand;

/* Instruction steps over K tiles [k0, k1) (registers of tiles at or beyond nkt are zero): acc +=
 * a . b for every (q, p) instruction tile. */
static void run_steps(cg_lower *L, const mma_dot *d, const cg_lay *ya, const LLVMValueRef *a,
                      const cg_lay *yb, const LLVMValueRef *b, const cg_lay *yc, LLVMValueRef *acc,
                      uint32_t k0, uint32_t k1, uint32_t nkt) {
  int kw = d->p.kw, na = d->mi->na, nb = d->mi->nb;
  uint32_t nq = (yc->per[0] + 1) / 2, np = yc->per[1] / 2, kt; /* M < 16: one q (group_of) */
  LLVMValueRef *ar = ir_alloc(L->A, nq * na * sizeof *ar), *br = ir_alloc(L->A, np * nb * sizeof *br);
  LLVMValueRef v[4], c4[4], d4[4];
  for (uint32_t s = k0; s < k1; s += (uint32_t)d->p.ktiles) {
    for (uint32_t q = 0; q < nq; q++)
      for (int r = 0; r < na; r++) {
        kt = s + (uint32_t)(r >> 1);
        for (int j = 0; j < kw && kt < nkt; j++)
          v[j] = a[at2(ya, group_of(ya, 2 * q + (r & 1)), kt * kw + j)];
        ar[q * na + r] = kt < nkt ? pack(L, d->ea, v, kw) : cg_i32(L, 0);
      }
    for (uint32_t p = 0; p < np; p++)
      for (int r = 0; r < nb; r++) {
        kt = s + (uint32_t)r;
        for (int j = 0; j < kw && kt < nkt; j++) v[j] = b[at2(yb, kt * kw + j, p)];
        br[p * nb + r] = kt < nkt ? pack(L, d->ea, v, kw) : cg_i32(L, 0);
      }
    for (uint32_t q = 0; q < nq; q++)
      for (uint32_t p = 0; p < np; p++) {
        for (int i = 0; i < 4; i++) c4[i] = acc[at2(yc, group_of(yc, 2 * q + (i >> 1)), 2 * p + (i & 1))];
        L->c.ops->mma(&L->c, d->kind, &ar[q * na], &br[p * nb], c4, d4);
        for (int i = 0; i < 4; i++) /* the repeated rows' results (M < 16) are the same: dropped */
          if (2 * q + (uint32_t)(i >> 1) < yc->per[0])
            acc[at2(yc, 2 * q + (i >> 1), 2 * p + (i & 1))] = d4[i];
      }
  }
}

/* Both operands from shared memory and a long K: a loop over pairs of K tiles (one ldmatrix.x4
 * spans a pair), not unrolled, with the accumulator in phis. Unrolled, the loads of every step are
 * independent of the instructions and get scheduled ahead of them, holding every step's fragments
 * at once (attention's head dimension of 256 spilled). */
static void mma_rolled(cg_lower *L, const mma_dot *d, const operand *oa, const operand *ob, const cg_lay *yc,
                       LLVMValueRef *acc) {
  LLVMBuilderRef B = L->c.b;
  uint32_t nkt = ktiles_of(oa->y);
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(B), body = cg_block(L, "mma.k"), exit = cg_block(L, "mma.k.end");
  LLVMBuildBr(B, body);
  LLVMPositionBuilderAtEnd(B, body);
  LLVMValueRef it = LLVMBuildPhi(B, LLVMInt32TypeInContext(L->c.ctx), "kpair"), zero = cg_i32(L, 0);
  LLVMAddIncoming(it, &zero, &pre, 1);
  LLVMValueRef *phi = ir_alloc(L->A, yc->n * sizeof *phi);
  for (uint32_t i = 0; i < yc->n; i++) {
    phi[i] = LLVMBuildPhi(B, LLVMTypeOf(acc[i]), "");
    LLVMAddIncoming(phi[i], &acc[i], &pre, 1);
    acc[i] = phi[i];
  }
  smem_src sa = *oa->s, sb = *ob->s;
  sa.kbase = sb.kbase = LLVMBuildShl(B, it, cg_i32(L, 1), "");
  operand_from_shared(L, oa->y, d->ea, &sa, 0, 2, oa->v);
  operand_from_shared(L, ob->y, d->ea, &sb, 0, 2, ob->v);
  run_steps(L, d, oa->y, oa->v, ob->y, ob->v, yc, acc, 0, 2, 2);
  LLVMValueRef next = LLVMBuildAdd(B, it, cg_i32(L, 1), "");
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(B);
  LLVMAddIncoming(it, &next, &latch, 1);
  for (uint32_t i = 0; i < yc->n; i++) LLVMAddIncoming(phi[i], &acc[i], &latch, 1);
  cg_keep_loop_rolled(
      L, LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntULT, next, cg_i32(L, nkt / 2), ""), body, exit));
  LLVMPositionBuilderAtEnd(B, exit);
}

/* Step 2: acc (f32 or i32 elements in layout yc) += a . b, a and b in the operand layouts of yc's
 * grid. An operand read from shared memory is loaded two K tiles at a time, just before their
 * instructions; with both read so and K at least 8 tiles, as a loop (mma_rolled). */
static void mma_core(cg_lower *L, const mma_dot *d, const operand *oa, const operand *ob, const cg_lay *yc,
                     LLVMValueRef *acc) {
  uint32_t nkt = ktiles_of(oa->y);
  if (oa->s && ob->s && nkt >= 8) {
    mma_rolled(L, d, oa, ob, yc, acc);
    return;
  }
  for (uint32_t k0 = 0; k0 < nkt; k0 += 2) {
    uint32_t k1 = k0 + 2 < nkt ? k0 + 2 : nkt;
    if (oa->s) operand_from_shared(L, oa->y, d->ea, oa->s, k0, k1, oa->v);
    if (ob->s) operand_from_shared(L, ob->y, d->ea, ob->s, k0, k1, ob->v);
    run_steps(L, d, oa->y, oa->v, ob->y, ob->v, yc, acc, k0, k0 + 2, nkt);
  }
}

/* ---- scratch ---- */

/* Row stride (elements) for `cols` elements of `eb` bytes: rows of a multiple of 32 bytes get 16
 * more, so that 8 consecutive rows start in 8 distinct 16-byte bank groups. */
static uint32_t padded_stride(uint32_t cols, int eb) {
  uint32_t bytes = cols * (uint32_t)eb;
  return bytes % 32 == 0 ? cols + 16u / (uint32_t)eb : cols;
}

/* Elements per access of a thread in layout y along its columns, rows of `stride` elements of e: the
 * runs of consecutive elements (cg_wide_elems), up to 16 bytes, dividing the stride. Stores under
 * the owner predicate too: capped at 8 bytes, the 8-byte halves of 16-byte runs put rows r and r + 4
 * (32-byte rows, or 128-byte rows of 16-byte runs two to a half-warp) in the same banks; 16 bytes a
 * quarter-warp write whole rows side by side (fftconv3's 8 x 8 products). */
static uint32_t rect_width(const cg_lay *y, ir_elem e, uint32_t stride) {
  int eb = ir_elem_bytes(e);
  uint32_t w = eb == 1 || eb == 2 || eb == 4 ? cg_wide_elems(y, 1, eb) : 1;
  while (w > 1 && stride % w) w /= 2;
  return w;
}

/* Tile v (layout y) into scratch at base, as rows of `stride` elements (trans: element (r, c) at
 * (c, r)), a thread's runs along the rows as one access each. Only first holders store. */
static void stage_tile(cg_lower *L, const cg_lay *y, ir_elem e, const LLVMValueRef *v, LLVMValueRef base,
                       uint32_t stride, int trans) {
  LLVMBuilderRef B = L->c.b;
  const cg_thread_lay *t = cg_lay_thread(L, y);
  LLVMTypeRef ty = cg_mem_type(L, e);
  int r = trans ? 1 : 0, c = 1 - r;
  LLVMValueRef tb = LLVMBuildAdd(B, LLVMBuildMul(B, t->off[r], cg_i32(L, stride), ""), t->off[c], "");
  LLVMValueRef tp = LLVMBuildGEP2(B, ty, base, &tb, 1, "");
  uint32_t ex[2], w = trans ? 1 : rect_width(y, e, stride);
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ex);
    if (ex[1] % w) continue;
    LLVMValueRef ci = cg_i32(L, cg_lay_const(y, r, ex[r]) * stride + cg_lay_const(y, c, ex[c]));
    cg_shared_group(L, e, w, LLVMBuildGEP2(B, ty, tp, &ci, 1, ""), (LLVMValueRef *)&v[i], y->step[1], 1,
                    t->owner);
  }
}

/* Zeros in rows [r0, r1) x columns [c0, c1) of a scratch matrix, spread over the block. */
static void zero_rect(cg_lower *L, ir_elem e, LLVMValueRef base, uint32_t stride, uint32_t r0, uint32_t r1,
                      uint32_t c0, uint32_t c1) {
  LLVMBuilderRef B = L->c.b;
  uint32_t w = c1 - c0, n = (r1 - r0) * w, T = (uint32_t)L->c.threads;
  LLVMTypeRef ty = cg_mem_type(L, e);
  for (uint32_t j = 0; j * T < n; j++) {
    LLVMValueRef pos = LLVMBuildAdd(B, L->tid, cg_i32(L, j * T), "");
    LLVMValueRef in = (j + 1) * T > n ? LLVMBuildICmp(B, LLVMIntULT, pos, cg_i32(L, n), "") : NULL;
    LLVMValueRef r = LLVMBuildAdd(B, LLVMBuildUDiv(B, pos, cg_i32(L, w), ""), cg_i32(L, r0), "");
    LLVMValueRef c = LLVMBuildAdd(B, LLVMBuildURem(B, pos, cg_i32(L, w), ""), cg_i32(L, c0), "");
    LLVMValueRef i = LLVMBuildAdd(B, LLVMBuildMul(B, r, cg_i32(L, stride), ""), c, "");
    L->c.ops->store(&L->c, CG_SHARED, LLVMBuildGEP2(B, ty, base, &i, 1, ""), LLVMConstNull(ty), in);
  }
}

/* The site of one part of the op being lowered: "dot %5 (k.lua:9)" -> "dot %5 stage B (k.lua:9)", so
 * that the simulator's reports and profile (docs/profiling.md) tell the operands' staging apart. */
static const char *part_site(cg_lower *L, const char *site, const char *part) {
  if (!site) return NULL;
  const char *paren = strrchr(site, '(');
  size_t head = paren && paren > site ? (size_t)(paren - site - 1) : strlen(site);
  size_t n = strlen(site) + strlen(part) + 2;
  char *s = ir_alloc(L->A, n);
  snprintf(s, n, "%.*s %s%s", (int)head, site, part, site + head);
  return s;
}

/* Whether each thread of layout y holds whole rows of its tile as one run, so that a row and the
 * zeros padding it to cols_p elements of e (at most 16 bytes, rows `stride` elements apart) are one
 * aligned access: a tile of 8-byte rows staged into 16-byte ones (a dot's K = 4 padded to 8) wrote a
 * half of each of 16 rows (two wavefronts where one would do) and then the zeros. */
static int rows_whole(const cg_lay *y, ir_elem e, uint32_t stride, uint32_t cols_p) {
  int eb = ir_elem_bytes(e);
  uint32_t cols = y->shape[1];
  return (eb == 1 || eb == 2 || eb == 4) && cols_p * (uint32_t)eb <= 16 && (cols_p & (cols_p - 1)) == 0 &&
         stride % cols_p == 0 && rect_width(y, e, stride) == cols;
}

/* stage_tile for rows_whole: each row with its zeros up to cols_p, one access per row. */
static void stage_rows_padded(cg_lower *L, const cg_lay *y, ir_elem e, const LLVMValueRef *v,
                              LLVMValueRef base, uint32_t stride, uint32_t cols_p) {
  LLVMBuilderRef B = L->c.b;
  const cg_thread_lay *t = cg_lay_thread(L, y);
  LLVMTypeRef ty = cg_mem_type(L, e);
  LLVMValueRef tb = LLVMBuildAdd(B, LLVMBuildMul(B, t->off[0], cg_i32(L, stride), ""), t->off[1], "");
  LLVMValueRef tp = LLVMBuildGEP2(B, ty, base, &tb, 1, ""), row[16];
  uint32_t ex[2], cols = y->shape[1];
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ex);
    if (ex[1]) continue;
    for (uint32_t k = 0; k < cols_p; k++)
      row[k] = k < cols ? v[i + k * y->step[1]] : LLVMConstNull(LLVMTypeOf(v[i]));
    LLVMValueRef ci = cg_i32(L, cg_lay_const(y, 0, ex[0]) * stride);
    cg_shared_group(L, e, cols_p, LLVMBuildGEP2(B, ty, tp, &ci, 1, ""), row, 1, 1, t->owner);
  }
}

/* A rows x cols tile staged as a padded rows_p x cols_p matrix: the tile, then zeros around it, at
 * the site `part` of the op (the zeros at `part` "zeros": their stores are other instructions, under
 * another predicate, and the simulator groups a site's accesses into requests by their count per
 * lane, docs/profiling.md, so that one site would join a lane's zeros to another lane's tile). */
static void stage_padded(cg_lower *L, const char *part, const cg_lay *y, ir_elem e, const LLVMValueRef *v,
                         LLVMValueRef base, uint32_t stride, int trans, uint32_t rows_p, uint32_t cols_p) {
  uint32_t rows = y->shape[trans ? 1 : 0], cols = y->shape[trans ? 0 : 1];
  const char *site = L->c.site;
  L->c.site = part_site(L, site, part);
  if (!trans && cols < cols_p && rows_whole(y, e, stride, cols_p)) {
    stage_rows_padded(L, y, e, v, base, stride, cols_p);
    cols = cols_p; /* the zeros to the right went with the rows */
  } else {
    stage_tile(L, y, e, v, base, stride, trans);
  }
  L->c.site = part_site(L, L->c.site, "zeros");
  if (cols < cols_p) zero_rect(L, e, base, stride, 0, rows, cols, cols_p);
  if (rows < rows_p) zero_rect(L, e, base, stride, rows, rows_p, 0, cols_p);
  L->c.site = site;
}

/* Row stride (elements) of the staged accumulator, `cols` elements of `eb` bytes: rows of a multiple
 * of 64 bytes get 32 more, so that the accumulator layout's pairs (a half-warp reads 4 rows x 32
 * bytes) fall in 4 distinct 32-byte bank groups. */
static uint32_t acc_stride(uint32_t cols, int eb) {
  uint32_t bytes = cols * (uint32_t)eb;
  return bytes % 64 == 0 ? cols + 32u / (uint32_t)eb : cols;
}

/* Bytes of a scratch matrix, rounded up to 16. */
static int region_bytes(uint32_t rows, uint32_t stride, ir_elem e) {
  return ((int)(rows * stride) * ir_elem_bytes(e) + 15) & ~15;
}

static LLVMValueRef byte_offset(cg_lower *L, LLVMValueRef base, int off) {
  LLVMValueRef o = cg_i32(L, off);
  return LLVMBuildGEP2(L->c.b, LLVMInt8TypeInContext(L->c.ctx), base, &o, 1, "");
}

/* ---- layouts of one warp grid ---- */

static void grid_lay(cg_lay *y, ir_lkind kind, ir_elem e, uint32_t rows, uint32_t cols, int wm, int wn,
                     int kw) {
  ir_type t = ir_t_tile(e, 2, (uint32_t[]){rows, cols});
  t.layout = ir_layout_mma(kind, wm, wn, kw);
  cg_lay_init(y, t);
}

static int same_grid(const cg_lay *a, const cg_lay *b) {
  return a->l.wpc[0] == b->l.wpc[0] && a->l.wpc[1] == b->l.wpc[1];
}

/* ---- instruction and layouts ---- */

static int pick(cg_lower *L, ir_opid op, mma_dot *d) {
  ir_op *o = &L->fn->ops[op];
  ir_type ta = ir_vtype(L->fn, o->opnd[0]), tb = ir_vtype(L->fn, o->opnd[1]), tr = ir_vtype(L->fn, o->res[0]);
  memset(d, 0, sizeof *d);
  if (!tg_mma_pick_for(L->c.target, ta.elem, tb.elem, tr.elem, ir_attr_s(o->attrs, "precision", "ieee"),
                       &d->p))
    return 0;
  d->kind = kind_of(&d->p);
  d->mi = cg_mma_info_of(d->kind);
  char msg[256];
  if (cg_mma_check(L->c.target, d->kind, msg, sizeof msg)) cg_fail(L, op, "op 'dot': %s", msg);
  d->ea = ta.elem, d->er = tr.elem, d->ct = d->p.acc_int ? IR_I32 : IR_F32;
  d->m = ta.shape[0], d->k = ta.shape[1], d->n = tb.shape[1];
  return 1;
}

/* Operands and accumulator in the mma layouts of one grid (step 2's layout condition). */
static int in_mma_layouts(const mma_dot *d, const cg_lay *ya, const cg_lay *yb, const cg_lay *yacc,
                          const cg_lay *yr) {
  return yr->l.kind == IR_LMMA && cg_lay_same(yacc, yr) && ya->l.kind == IR_LMMA_A &&
         yb->l.kind == IR_LMMA_B && same_grid(ya, yr) && same_grid(yb, yr) && kw_of(ya) == d->p.kw &&
         kw_of(yb) == d->p.kw && tg_mma_fits(&d->p, d->m, d->n, d->k, yr->l.wpc[0], yr->l.wpc[1]);
}

/* Loads a rows x cols f32/i32 tile in layout y from a scratch matrix of `stride` elements per row. */
static void load_rect(cg_lower *L, const cg_lay *y, ir_elem e, LLVMValueRef base, uint32_t stride,
                      LLVMValueRef *out) {
  const cg_thread_lay *t = cg_lay_thread(L, y);
  LLVMTypeRef ty = cg_mem_type(L, e);
  LLVMValueRef tb =
      LLVMBuildAdd(L->c.b, LLVMBuildMul(L->c.b, t->off[0], cg_i32(L, stride), ""), t->off[1], "");
  LLVMValueRef tp = LLVMBuildGEP2(L->c.b, ty, base, &tb, 1, "");
  uint32_t ex[2], w = rect_width(y, e, stride);
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ex);
    if (ex[1] % w) continue;
    LLVMValueRef ci = cg_i32(L, cg_lay_const(y, 0, ex[0]) * stride + cg_lay_const(y, 1, ex[1]));
    cg_shared_group(L, e, w, LLVMBuildGEP2(L->c.b, ty, tp, &ci, 1, ""), &out[i], y->step[1], 0, NULL);
  }
}

/* 1 if every element of acc is the constant +0 (a dot that starts a sum: k.dot(a, b, zeros)). */
static int all_zero(const LLVMValueRef *acc, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (!LLVMIsConstant(acc[i]) || !LLVMIsNull(acc[i])) return 0;
  return 1;
}

static int takes_direct_path(cg_lower *L, ir_opid op, mma_dot *d);
static ir_opid only_user(ir_func *fn, ir_val v);

/* 1 for an op whose lowering stays in registers (elementwise ops, constants, ids, views) or reads
 * memory without writing shared memory or scratch (load, load_shared) */
static int between_ok(int code) {
  if (ir_opinfo_table[code].flags & IR_F_ELEMENTWISE) return 1;
  switch (code) {
  case IR_OP_CONST:
  case IR_OP_SPLAT:
  case IR_OP_IOTA:
  case IR_OP_PROGRAM_ID:
  case IR_OP_NUM_PROGRAMS:
  case IR_OP_VIEW:
  case IR_OP_BOUNDED:
  case IR_OP_LOAD:
  case IR_OP_LOAD_SHARED: return 1;
  default: return 0;
  }
}

/* The staged dot that accumulates on staged dot op's result, where op's result can stay in the
 * grid's fragments for it: the result's only use, later in the same region with only register work
 * and loads between (between_ok), the sum in the compute type (f32 or i32: nothing rounded between the two),
 * the same padded grid (one result shape, one kernel's warps); else 0. */
static ir_opid chained_dot(cg_lower *L, ir_opid op, const mma_dot *d) {
  ir_func *fn = L->fn;
  ir_val v = fn->ops[op].res[0];
  ir_opid y = only_user(fn, v);
  mma_dot dy;
  if (!y || fn->ops[y].code != IR_OP_DOT || fn->ops[y].opnd[2] != v || fn->ops[y].opnd[0] == v ||
      fn->ops[y].opnd[1] == v || fn->ops[y].parent != fn->ops[op].parent || d->er != d->ct ||
      ir_attr_i(fn->ops[y].attrs, "wgmma", 0) || !pick(L, y, &dy) || dy.ct != d->ct ||
      takes_direct_path(L, y, &dy))
    return 0;
  /* nothing lowered in between may use the scratch (other warps may still read op's operands
   * there) or stage a dot of its own (one sum kept at a time): only register work and loads */
  ir_opid o = fn->ops[op].next;
  for (; o && o != y; o = fn->ops[o].next)
    if (!between_ok(fn->ops[o].code)) return 0;
  return o == y ? y : 0;
}

/* Step 3: through scratch, padded, in the mma layouts of a grid that fits. acc (layout yr, type
 * ct) is updated in place. An accumulator of zeros is not staged: the grid's fragments start at 0,
 * and no warp reads the scratch's C region before the results are written there, so the barrier
 * that kept those writes after every warp's reads goes too. A chain of staged dots, one
 * accumulating on the other's result (the FFT library's complex products: dot(a, b, dot(c, d,
 * zeros))), keeps the sum in the grid's fragments: the first writes no result to scratch (acc then
 * holds placeholders that nothing reads), the second stages no accumulator, after a barrier that
 * keeps its operands' stores after the first's reads. */
static void dot_staged(cg_lower *L, ir_opid op, const mma_dot *d, const cg_lay *ya, const LLVMValueRef *a,
                       const cg_lay *yb, const LLVMValueRef *b, const cg_lay *yr, LLVMValueRef *acc) {
  int kw = d->p.kw, wm = 1, wn = 1, word8 = ir_elem_bits(d->ea) == 8;
  uint32_t mp = max_u32(d->m, 16), np = max_u32(d->n, 8), kp = max_u32(d->k, 4u * (uint32_t)kw);
  tg_mma_warp_grid(mp, np, L->warps, &wm, &wn);
  cg_lay va, vb, vc;
  grid_lay(&va, IR_LMMA_A, d->ea, mp, kp, wm, wn, kw);
  grid_lay(&vb, IR_LMMA_B, d->ea, kp, np, wm, wn, kw);
  grid_lay(&vc, IR_LMMA, d->ct, mp, np, wm, wn, 2);
  /* A as [mp][kp]; B as [np][kp] for 8-bit (32-bit loads), else [kp][np]; C as [mp][np] */
  smem_src sa = {.stride = padded_stride(kp, ir_elem_bytes(d->ea))};
  smem_src sb = {.stride = word8 ? padded_stride(kp, 1) : padded_stride(np, ir_elem_bytes(d->ea)),
                 .rows_k = !word8};
  int ab = region_bytes(mp, sa.stride, d->ea), bb = region_bytes(word8 ? np : kp, sb.stride, d->ea);
  uint32_t cs = acc_stride(np, ir_elem_bytes(d->ct));
  LLVMValueRef base = cg_scratch(L, ab + bb + region_bytes(mp, cs, d->ct));
  sa.base = base, sb.base = byte_offset(L, base, ab);
  LLVMValueRef cbase = byte_offset(L, base, ab + bb);
  ir_val in = L->fn->ops[op].opnd[2];
  LLVMValueRef *kept = L->chain_v && L->chain_v == in ? L->chain_fc : NULL; /* acc in the fragments */
  if (L->chain_v && !kept) /* chained_dot promised that this dot would take the sum: a compiler bug */
    cg_fail(L, op, "op 'dot': the sum kept for %%%u is not this dot's accumulator", (unsigned)L->chain_v);
  int zero = !kept && all_zero(acc, yr->n);
  L->chain_v = 0, L->chain_fc = NULL;
  if (kept) L->c.ops->barrier(&L->c);
  stage_padded(L, "stage A", ya, d->ea, a, sa.base, sa.stride, 0, mp, kp);
  stage_padded(L, "stage B", yb, d->ea, b, sb.base, sb.stride, word8, word8 ? np : kp, word8 ? kp : np);
  if (!zero && !kept) stage_padded(L, "stage C", yr, d->ct, acc, cbase, cs, 0, mp, np);
  L->c.ops->barrier(&L->c);
  LLVMValueRef *fc = kept ? kept : ir_alloc(L->A, vc.n * sizeof *fc);
  operand oa = {&va, ir_alloc(L->A, va.n * sizeof(LLVMValueRef)), &sa};
  operand ob = {&vb, ir_alloc(L->A, vb.n * sizeof(LLVMValueRef)), &sb};
  if (zero)
    for (uint32_t i = 0; i < vc.n; i++) fc[i] = acc[0];
  else if (!kept)
    load_rect(L, &vc, d->ct, cbase, cs, fc);
  mma_core(L, d, &oa, &ob, &vc, fc);
  if (chained_dot(L, op, d)) { /* the sum stays in fc for the next dot */
    L->chain_v = L->fn->ops[op].res[0], L->chain_fc = fc;
    for (uint32_t i = 0; i < yr->n; i++) acc[i] = LLVMGetUndef(LLVMTypeOf(acc[i]));
    return;
  }
  if (!zero && !kept) L->c.ops->barrier(&L->c); /* warps beyond the grid read C too */
  stage_tile(L, &vc, d->ct, fc, cbase, cs, 0);
  L->c.ops->barrier(&L->c);
  load_rect(L, yr, d->ct, cbase, cs, acc);
  L->c.ops->barrier(&L->c);
}

/* ---- operands the dot reads from shared memory itself ----
 *
 * A load_shared or a convert_layout into an operand layout whose only user is a direct-path dot is
 * not lowered where it stands: the dot reads the buffer (or stages the converted tile in scratch)
 * and loads each K step's fragments just before its instructions, so that a long K (attention's
 * head dimension) never holds all its fragments in registers at once. A load_shared is deferred
 * only when nothing between it and the dot can write shared memory. */

/* The op of fn that uses v, if v has exactly one use. */
static ir_opid only_user(ir_func *fn, ir_val v) {
  ir_opid user = 0;
  for (ir_opid op = 1; op < fn->nops; op++) {
    if (fn->ops[op].dead) continue;
    for (uint32_t k = 0; k < fn->ops[op].nopnd; k++)
      if (fn->ops[op].opnd[k] == v) {
        if (user) return 0;
        user = op;
      }
  }
  return user;
}

static int writes_shared(int code) {
  return code == IR_OP_STORE_SHARED || code == IR_OP_COPY || code == IR_OP_STORE_TMA ||
         code == IR_OP_BARRIER || code == IR_OP_ASYNC_WAIT || code == IR_OP_MBAR_WAIT || code == IR_OP_FOR ||
         code == IR_OP_IF;
}

/* The dot that reads v (operand 0 or 1) itself, or 0. */
static ir_opid reading_dot(cg_lower *L, ir_val v) {
  ir_func *fn = L->fn;
  ir_opid def = fn->vals[v].def, dot = def ? only_user(fn, v) : 0;
  mma_dot d;
  if (!dot || fn->ops[dot].code != IR_OP_DOT || fn->ops[dot].parent != fn->ops[def].parent ||
      fn->ops[dot].opnd[2] == v || !takes_direct_path(L, dot, &d))
    return 0;
  /* a warpgroup MMA takes a register A as lowered where it stands (lower_dot_wgmma.c); deferring its
   * conversion left the operand's registers undefined (a converted A of 4 warps read as zeros) */
  if (ir_attr_i(fn->ops[dot].attrs, "wgmma", 0)) return 0;
  int code = fn->ops[def].code;
  if (code == IR_OP_CONVERT_LAYOUT) { /* the same thread -> element map (mma<[wm,1]> as mma_a): */
    cg_lay ys, yd;                    /* a register copy, lowered by the convert itself */
    cg_lay_init(&ys, ir_vtype(fn, fn->ops[def].opnd[0]));
    cg_lay_init(&yd, ir_vtype(fn, v));
    if (cg_lay_same(&ys, &yd)) return 0;
  }
  if (code == IR_OP_LOAD_SHARED &&
      (ir_attr_i(fn->ops[def].attrs, "reverse", 0) || ir_attr_get(fn->ops[def].attrs, "quad_dim")))
    return 0; /* read reversed or permuted by the load itself (lower_memory.c), not by the dot's ldmatrix */
  if (code == IR_OP_LOAD_SHARED)
    for (ir_opid o = fn->ops[def].next; o && o != dot; o = fn->ops[o].next)
      if (writes_shared(fn->ops[o].code)) return 0;
  return code == IR_OP_LOAD_SHARED || code == IR_OP_CONVERT_LAYOUT ? dot : 0;
}

/* Operand k of dot op: in registers, or read from shared memory (a deferred load_shared or
 * convert_layout; a converted tile is staged at base + *used in scratch). */
static void dot_operand(cg_lower *L, ir_opid op, int k, const cg_lay *y, smem_src *s, LLVMValueRef base,
                        int *used, operand *o) {
  ir_func *fn = L->fn;
  ir_val v = fn->ops[op].opnd[k];
  ir_opid def = fn->vals[v].def;
  ir_elem e = ir_vtype(fn, v).elem;
  *o = (operand){y, cg_get(L, v)->v, NULL};
  if (reading_dot(L, v) != op) return;
  o->v = ir_alloc(L->A, y->n * sizeof *o->v);
  o->s = s;
  if (fn->ops[def].code == IR_OP_LOAD_SHARED) {
    int trans = (int)ir_attr_i(fn->ops[def].attrs, "trans", 0); /* the buffer holds the transpose */
    *s = (smem_src){.base = cg_get(L, fn->ops[def].opnd[0])->v[0],
                    .buf = fn->ops[def].opnd[0],
                    .rows_k = (k == 1) != trans};
    cg_load_shared_at(L, def, s->at);
    return;
  }
  ir_val src = fn->ops[def].opnd[0];
  cg_lay ys;
  cg_lay_init(&ys, ir_vtype(fn, src));
  int word8 = ir_elem_bits(e) == 8 && k == 1; /* 8-bit B staged as [N][K] */
  uint32_t rows = y->shape[word8 ? 1 : 0], cols = y->shape[word8 ? 0 : 1];
  *s = (smem_src){.stride = padded_stride(cols, ir_elem_bytes(e)), .rows_k = k == 1 && !word8};
  s->base = byte_offset(L, base, *used);
  const char *site = L->c.site;
  L->c.site = part_site(L, site, k == 0 ? "stage A" : "stage B");
  stage_tile(L, &ys, e, cg_get(L, src)->v, s->base, s->stride, word8);
  L->c.site = site;
  *used += region_bytes(rows, s->stride, e);
}

/* Scratch bytes the converted operands of dot op need. */
static int staged_bytes(cg_lower *L, ir_opid op) {
  int n = 0;
  for (int k = 0; k < 2; k++) {
    ir_val v = L->fn->ops[op].opnd[k];
    ir_opid def = L->fn->vals[v].def;
    if (reading_dot(L, v) != op || L->fn->ops[def].code != IR_OP_CONVERT_LAYOUT) continue;
    ir_type t = ir_vtype(L->fn, v);
    int word8 = ir_elem_bits(t.elem) == 8 && k == 1;
    uint32_t rows = t.shape[word8 ? 1 : 0], cols = t.shape[word8 ? 0 : 1];
    n += region_bytes(rows, padded_stride(cols, ir_elem_bytes(t.elem)), t.elem);
  }
  return n;
}

/* ---- the dot ---- */

/* 1 if dot op has an instruction (picked into *d) and takes step 2, the direct path: operands and
 * accumulator already in the mma layouts of one grid, in whole fragments (no step 3 staging). */
static int takes_direct_path(cg_lower *L, ir_opid op, mma_dot *d) {
  if (!pick(L, op, d)) return 0;
  ir_op *o = &L->fn->ops[op];
  cg_lay ya, yb, yacc, yr;
  cg_lay_init(&ya, ir_vtype(L->fn, o->opnd[0]));
  cg_lay_init(&yb, ir_vtype(L->fn, o->opnd[1]));
  cg_lay_init(&yacc, ir_vtype(L->fn, o->opnd[2]));
  cg_lay_init(&yr, ir_vtype(L->fn, o->res[0]));
  return in_mma_layouts(d, &ya, &yb, &yacc, &yr) && whole_operand(&ya, d->ea) && whole_operand(&yb, d->ea);
}

/* Step 2 with the operands of dot op: registers, buffers or staged conversions. */
static void dot_direct(cg_lower *L, ir_opid op, const mma_dot *d, const cg_lay *ya, const cg_lay *yb,
                       const cg_lay *yr, LLVMValueRef *acc) {
  int bytes = staged_bytes(L, op), used = 0;
  LLVMValueRef base = bytes ? cg_scratch(L, bytes) : NULL;
  smem_src sa, sb;
  operand oa, ob;
  dot_operand(L, op, 0, ya, &sa, base, &used, &oa);
  dot_operand(L, op, 1, yb, &sb, base, &used, &ob);
  if (bytes) L->c.ops->barrier(&L->c);
  mma_core(L, d, &oa, &ob, yr, acc);
  if (bytes) L->c.ops->barrier(&L->c);
}

int cg_lower_dot_mma(cg_lower *L, ir_opid op) {
  mma_dot d;
  if (!pick(L, op, &d)) return 0;
  ir_op *o = &L->fn->ops[op];
  cg_lay ya, yb, yacc, yr;
  cg_lay_init(&ya, ir_vtype(L->fn, o->opnd[0]));
  cg_lay_init(&yb, ir_vtype(L->fn, o->opnd[1]));
  cg_lay_init(&yacc, ir_vtype(L->fn, o->opnd[2]));
  cg_lay_init(&yr, ir_vtype(L->fn, o->res[0]));
  cg_value *vacc = cg_get(L, o->opnd[2]);
  if (!cg_lay_same(&yacc, &yr) || vacc->n != yr.n)
    cg_fail(L, op, "op 'dot': the accumulator's layout differs from the result's");
  LLVMValueRef *acc = ir_alloc(L->A, yr.n * sizeof *acc);
  for (uint32_t i = 0; i < yr.n; i++) acc[i] = cg_convert(L, vacc->v[i], d.er, d.ct);
  if (takes_direct_path(L, op, &d))
    dot_direct(L, op, &d, &ya, &yb, &yr, acc);
  else
    dot_staged(L, op, &d, &ya, cg_get(L, o->opnd[0])->v, &yb, cg_get(L, o->opnd[1])->v, &yr, acc);
  LLVMValueRef *out = cg_def(L, o->res[0], yr.n);
  for (uint32_t i = 0; i < yr.n; i++) out[i] = cg_convert(L, acc[i], d.ct, d.er);
  return 1;
}

/* ---- operands in mma layouts from other layouts and from buffers ---- */

/* v is read by its dot: placeholders (never read) in out instead of values. */
static int deferred(cg_lower *L, ir_val v, const cg_lay *y, ir_elem e, LLVMValueRef *out) {
  if (!reading_dot(L, v)) return 0;
  for (uint32_t i = 0; i < y->n; i++) out[i] = LLVMGetUndef(cg_elem_type(L, e));
  return 1;
}

int cg_mma_convert_operand(cg_lower *L, ir_opid op, const cg_lay *ys, ir_elem e, const LLVMValueRef *src,
                           const cg_lay *yd, LLVMValueRef *out) {
  if (!is_operand(yd) || !whole_operand(yd, e) || ys->rank != 2) return 0;
  if (deferred(L, L->fn->ops[op].res[0], yd, e, out)) return 1;
  int kd = kdim(yd), word8 = ir_elem_bits(e) == 8 && kd == 0; /* 8-bit B staged as [N][K] */
  uint32_t rows = yd->shape[word8 ? 1 : 0], cols = yd->shape[word8 ? 0 : 1];
  smem_src s = {.stride = padded_stride(cols, ir_elem_bytes(e)), .rows_k = kd == 0 && !word8};
  s.base = cg_scratch(L, region_bytes(rows, s.stride, e));
  stage_tile(L, ys, e, src, s.base, s.stride, word8);
  L->c.ops->barrier(&L->c);
  operand_from_shared(L, yd, e, &s, 0, ktiles_of(yd), out);
  L->c.ops->barrier(&L->c);
  return 1;
}

int cg_mma_load_shared(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type t = ir_vtype(L->fn, o->res[0]);
  cg_lay y;
  cg_lay_init(&y, t);
  if (!is_operand(&y) || !whole_operand(&y, t.elem)) return 0;
  LLVMValueRef *out = cg_def(L, o->res[0], y.n);
  if (deferred(L, o->res[0], &y, t.elem, out)) return 1;
  int trans = (int)ir_attr_i(o->attrs, "trans", 0); /* the buffer holds the transpose */
  smem_src s = {.base = cg_get(L, o->opnd[0])->v[0], .buf = o->opnd[0], .rows_k = (kdim(&y) == 0) != trans};
  cg_load_shared_at(L, op, s.at);
  operand_from_shared(L, &y, t.elem, &s, 0, ktiles_of(&y), out);
  return 1;
}
