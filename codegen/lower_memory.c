/*
 * lower_memory.c - views, global loads and stores, shared buffers, global -> shared copies, barriers.
 *
 * A view lowers to its base pointer, its dims and its strides (i64). Element (c_0, ..., c_R-1) of a
 * tile at offsets (o_d) is at base + sum((o_d + c_d) * stride_d) and inside the view when every
 * 0 <= o_d + c_d < dim_d; a load yields `pad` outside, a store skips it. The index, mask and address
 * term are computed once per distinct coordinate along each dim and combined per element.
 *
 * Shared buffers sit at shared_base + the planned `offset`, row-major, with the XOR swizzle of
 * smem_swizzle.c when they have one. A copy spreads the buffer over the block's threads in chunks,
 * cp.async where the target has it (see the copy section), so that global reads coalesce. In
 * memory an i1 element is a byte (0 or 1).
 */
#include <string.h>

#include "cg.h"

/* A view is its pointer (moved to the base element when the op has a base), then its dims and
 * strides as i64: 1 + 2R values, with or without a base. */
void cg_lower_view(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type vt = ir_vtype(L->fn, o->res[0]);
  uint32_t n = 1 + 2 * (uint32_t)vt.rank;
  if (o->nopnd != n && o->nopnd != n + 1)
    cg_fail(L, op, "op 'view' of rank %d takes a pointer, %d dims, %d strides and an optional base", vt.rank,
            vt.rank, vt.rank);
  LLVMValueRef *out = cg_def(L, o->res[0], n);
  out[0] = cg_get(L, o->opnd[0])->v[0];
  for (uint32_t k = 1; k < n; k++)
    out[k] = cg_convert(L, cg_get(L, o->opnd[k])->v[0], ir_vtype(L->fn, o->opnd[k]).elem, IR_I64);
  if (o->nopnd == n + 1) {
    LLVMValueRef base = cg_convert(L, cg_get(L, o->opnd[n])->v[0], ir_vtype(L->fn, o->opnd[n]).elem, IR_I64);
    out[0] = LLVMBuildGEP2(L->c.b, cg_mem_type(L, vt.elem), out[0], &base, 1, "");
  }
}

/* bounded(i, n): i itself; the simulator checks 0 <= i < n (tensor maps address by it: docs/hopper.md). */
void cg_lower_bounded(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_elem e = ir_vtype(L->fn, o->opnd[0]).elem;
  LLVMValueRef v = cg_get(L, o->opnd[0])->v[0];
  if (L->c.ops->check_bound) {
    LLVMValueRef n = cg_convert(L, cg_get(L, o->opnd[1])->v[0], e, IR_I64); /* one at a time */
    L->c.ops->check_bound(&L->c, cg_convert(L, v, e, IR_I64), n);
  }
  cg_def(L, o->res[0], 1)[0] = v;
}

/* Addressing of a tile laid out as y at the view's offsets. The layout's fastest dim f (the last dim
 * for default layouts; the unit-stride dim of a transposed view) is the "column": each combination
 * of the other dims gets one row pointer (base + the thread's first column), and an element is its
 * row pointer plus a constant column step times stride_f, which folds to an immediate offset when
 * the stride is the constant 1. Masks are per dim and per distinct coordinate, and-ed per element. */
typedef struct {
  const cg_lay *y;
  LLVMValueRef *mask[IR_MAXRANK]; /* [d][e]: 0 <= coordinate < dim */
  LLVMValueRef *term[IR_MAXRANK]; /* [d][e], d != f: (offset + coordinate) * stride */
  LLVMValueRef *col;              /* [e]: column step times stride_f */
  LLVMValueRef *rows;             /* row pointers, indexed by the element's index with e[f] = 0 */
  ir_elem elem;
  int f; /* the column dim: the layout's fastest */
} tile_addr;

/* The dim whose elements a thread holds in runs: the layout's fastest (blocked layouts), else the last. */
static int column_dim(const cg_lay *y) {
  return y->l.kind == IR_LBLOCKED && y->l.order[0] < y->rank ? y->l.order[0] : y->rank - 1;
}

static LLVMValueRef *new_values(cg_lower *L, uint32_t n) {
  return ir_alloc(L->A, (n ? n : 1) * sizeof(LLVMValueRef));
}

/* Masks and terms of dim d; *first gets (offset + the thread's first coordinate) as i64. */
static void dim_terms(cg_lower *L, ir_opid op, tile_addr *ta, int d, LLVMValueRef *first) {
  ir_op *o = &L->fn->ops[op];
  const cg_lay *y = ta->y;
  LLVMBuilderRef B = L->c.b;
  cg_value *vw = cg_get(L, o->opnd[0]);
  LLVMValueRef off =
      cg_convert(L, cg_get(L, o->opnd[1 + d])->v[0], ir_vtype(L->fn, o->opnd[1 + d]).elem, IR_I64);
  LLVMValueRef dim = vw->v[1 + d], stride = vw->v[1 + y->rank + d];
  *first = LLVMBuildAdd(
      B, off, LLVMBuildZExt(B, cg_lay_thread(L, y)->off[d], LLVMInt64TypeInContext(L->c.ctx), ""), "");
  ta->mask[d] = new_values(L, y->per[d]);
  ta->term[d] = new_values(L, y->per[d]);
  for (uint32_t e = 0; e < y->per[d]; e++) {
    LLVMValueRef idx = LLVMBuildAdd(B, *first, cg_i64(L, cg_lay_const(y, d, e)), "");
    LLVMValueRef lo = LLVMBuildICmp(B, LLVMIntSGE, idx, cg_i64(L, 0), "");
    ta->mask[d][e] = LLVMBuildAnd(B, lo, LLVMBuildICmp(B, LLVMIntSLT, idx, dim, ""), "");
    ta->term[d][e] = LLVMBuildMul(B, idx, stride, "");
  }
}

static void tile_addr_init(cg_lower *L, ir_opid op, const cg_lay *y, ir_elem el, tile_addr *ta) {
  ir_op *o = &L->fn->ops[op];
  LLVMBuilderRef B = L->c.b;
  cg_value *vw = cg_get(L, o->opnd[0]);
  int f = column_dim(y);
  ta->y = y;
  ta->elem = el;
  ta->f = f;
  LLVMValueRef first[IR_MAXRANK];
  for (int d = 0; d < y->rank; d++) dim_terms(L, op, ta, d, &first[d]);
  LLVMValueRef stride = vw->v[1 + y->rank + f];
  ta->col = new_values(L, y->per[f]);
  for (uint32_t e = 0; e < y->per[f]; e++)
    ta->col[e] = LLVMBuildMul(B, cg_i64(L, cg_lay_const(y, f, e)), stride, "");
  LLVMValueRef colbase = LLVMBuildMul(B, first[f], stride, "");
  ta->rows = new_values(L, y->n);
  uint32_t e[IR_MAXRANK];
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, e);
    if (e[f]) continue;
    LLVMValueRef idx = colbase;
    for (int d = 0; d < y->rank; d++)
      if (d != f) idx = LLVMBuildAdd(B, idx, ta->term[d][e[d]], "");
    ta->rows[i] = LLVMBuildGEP2(B, cg_mem_type(L, el), vw->v[0], &idx, 1, "");
  }
}

/* Address and in-bounds predicate of element i. */
static LLVMValueRef tile_addr_at(cg_lower *L, const tile_addr *ta, uint32_t i, LLVMValueRef *mask) {
  const cg_lay *y = ta->y;
  int f = ta->f;
  uint32_t e[IR_MAXRANK];
  cg_lay_multi(y, i, e);
  *mask = ta->mask[f][e[f]];
  for (int d = 0; d < y->rank; d++)
    if (d != f) *mask = LLVMBuildAnd(L->c.b, *mask, ta->mask[d][e[d]], "");
  LLVMValueRef row = ta->rows[i - e[f] * y->step[f]];
  return LLVMBuildGEP2(L->c.b, cg_mem_type(L, ta->elem), row, &ta->col[e[f]], 1, "");
}

/* Elements per vector access along the column dim f (1: none): the device ops have the hooks, the
 * view's stride along f is the constant 1, the element is 16, 32 or 64 bits, and the thread holds
 * runs of at least 2 consecutive elements. At most 16 bytes and 4 elements. */
static uint32_t vec_width(cg_lower *L, const cg_lay *y, ir_elem e, ir_val view, int f) {
  int bits = ir_elem_bits(e);
  LLVMValueRef stride = cg_get(L, view)->v[1 + y->rank + f];
  if (!L->c.ops->load_vec || !L->c.ops->store_vec || (bits != 16 && bits != 32 && bits != 64)) return 1;
  if (!LLVMIsAConstantInt(stride) || LLVMConstIntGetSExtValue(stride) != 1) return 1;
  uint32_t n = y->run[f], max = 128 / (uint32_t)bits < 4 ? 128 / (uint32_t)bits : 4;
  return n < 2 ? 1 : n > max ? max : n;
}

void cg_lower_load(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type t = ir_vtype(L->fn, o->res[0]);
  cg_lay y;
  cg_lay_init(&y, t);
  tile_addr ta;
  tile_addr_init(L, op, &y, t.elem, &ta);
  LLVMValueRef pad = cg_to_mem(L, cg_const_elem(L, t.elem, ir_attr_get(o->attrs, "pad")), t.elem);
  LLVMValueRef *out = cg_def(L, o->res[0], y.n);
  LLVMTypeRef ty = cg_mem_type(L, t.elem);
  uint32_t f = (uint32_t)ta.f, nv = vec_width(L, &y, t.elem, o->opnd[0], ta.f), e[IR_MAXRANK];
  for (uint32_t i = 0; i < y.n; i++) {
    cg_lay_multi(&y, i, e);
    if (e[f] % nv) continue; /* inside a group */
    LLVMValueRef mask[4], p = tile_addr_at(L, &ta, i, &mask[0]), v[4];
    if (nv == 1) {
      out[i] = cg_from_mem(L, L->c.ops->load(&L->c, CG_GLOBAL, ty, p, mask[0], pad), t.elem);
      continue;
    }
    for (uint32_t k = 1; k < nv; k++) tile_addr_at(L, &ta, i + k * y.step[f], &mask[k]);
    L->c.ops->load_vec(&L->c, CG_GLOBAL, ty, nv, p, mask, pad, v);
    for (uint32_t k = 0; k < nv; k++) out[i + k * y.step[f]] = v[k];
  }
}

static int known_nonneg(ir_func *fn, ir_val v, int depth);

/* Elements per 16-byte store along the column dim f for the whole-tile version of a store (0:
 * none): stores of 8-, 16- and 32-bit elements whose thread runs along f are at least 16 bytes (a
 * multiple of them), the view's stride along f the constant 1, and no replicated elements (owner). */
static uint32_t wide_width(cg_lower *L, const cg_lay *y, ir_elem e, ir_val view, int f, LLVMValueRef owner) {
  int bits = ir_elem_bits(e);
  LLVMValueRef stride = cg_get(L, view)->v[1 + y->rank + f];
  if (owner || (bits != 8 && bits != 16 && bits != 32)) return 0;
  if (!LLVMIsAConstantInt(stride) || LLVMConstIntGetSExtValue(stride) != 1) return 0;
  uint32_t n = 128 / (uint32_t)bits;
  return y->run[f] >= n && y->run[f] % n == 0 && y->shape[f] % n == 0 ? n : 0;
}

/* i1, uniform: the whole tile lies inside the view (offset >= 0 and offset + shape <= dim in every
 * dim) and every run of n elements along f starts 16-byte aligned (base, the other dims' strides and
 * the offset along f). */
static LLVMValueRef tile_inside(cg_lower *L, ir_opid op, const cg_lay *y, ir_elem e, int f, uint32_t n) {
  ir_op *o = &L->fn->ops[op];
  LLVMBuilderRef B = L->c.b;
  cg_value *vw = cg_get(L, o->opnd[0]);
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx);
  int R = y->rank, eb = ir_elem_bytes(e);
  LLVMValueRef ok = NULL, bits = LLVMBuildPtrToInt(B, vw->v[0], i64, "");
  for (int d = 0; d < R; d++) {
    LLVMValueRef off =
        cg_convert(L, cg_get(L, o->opnd[1 + d])->v[0], ir_vtype(L->fn, o->opnd[1 + d]).elem, IR_I64);
    LLVMValueRef end = LLVMBuildAdd(B, off, cg_i64(L, y->shape[d]), "");
    ok = cg_and_pred(L, ok, LLVMBuildICmp(B, LLVMIntSLE, end, vw->v[1 + d], ""));
    if (!known_nonneg(L->fn, o->opnd[1 + d], 0))
      ok = cg_and_pred(L, ok, LLVMBuildICmp(B, LLVMIntSGE, off, cg_i64(L, 0), ""));
    LLVMValueRef term = d == f ? off : vw->v[1 + R + d];
    bits = LLVMBuildOr(B, bits, LLVMBuildMul(B, term, cg_i64(L, eb), ""), "");
  }
  LLVMValueRef low = LLVMBuildAnd(B, bits, cg_i64(L, (int64_t)n * eb - 1), "");
  return cg_and_pred(L, ok, LLVMBuildICmp(B, LLVMIntEQ, low, cg_i64(L, 0), ""));
}

/* Whether op lies inside a `for` (at any depth). */
static int in_loop(const ir_func *fn, ir_opid op) {
  for (ir_reg r = fn->ops[op].parent; r > 1; r = fn->ops[fn->regions[r].parent_op].parent)
    if (fn->ops[fn->regions[r].parent_op].code == IR_OP_FOR) return 1;
  return 0;
}

/* The whole-tile version: one unpredicated 16-byte store per run of n elements. */
static void store_wide(cg_lower *L, const cg_lay *y, const tile_addr *ta, ir_elem e, const cg_value *v,
                       uint32_t n) {
  LLVMBuilderRef B = L->c.b;
  uint32_t f = (uint32_t)ta->f, ex[IR_MAXRANK];
  LLVMTypeRef vt = LLVMVectorType(cg_mem_type(L, e), n);
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ex);
    if (ex[f] % n) continue;
    LLVMValueRef mask, p = tile_addr_at(L, ta, i, &mask), x = LLVMGetUndef(vt);
    for (uint32_t k = 0; k < n; k++)
      x = LLVMBuildInsertElement(B, x, cg_to_mem(L, v->v[i + k * y->step[f]], e), cg_i32(L, (int)k), "");
    L->c.ops->store(&L->c, CG_GLOBAL, p, x, NULL);
  }
}

void cg_lower_store(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_val tile = o->opnd[o->nopnd - 1];
  ir_type t = ir_vtype(L->fn, tile);
  cg_lay y;
  cg_lay_init(&y, t);
  tile_addr ta;
  tile_addr_init(L, op, &y, t.elem, &ta);
  LLVMValueRef owner = cg_lay_thread(L, &y)->owner;
  cg_value *v = cg_get(L, tile);
  /* Two versions when the thread's runs make 16-byte stores: for a tile wholly inside the view and
   * aligned, the stores alone; otherwise (ragged edges, unaligned views) each element's mask. Only
   * outside loops (an epilogue, run once): in a loop body the second copy of the store's addressing
   * stays live across iterations (fftconv's bnh output loop spilled on sm_90a). */
  uint32_t wide = in_loop(L->fn, op) ? 0 : wide_width(L, &y, t.elem, o->opnd[0], ta.f, owner);
  LLVMBasicBlockRef join = NULL;
  if (wide) {
    LLVMBasicBlockRef fast = cg_block(L, "store.whole"), slow = cg_block(L, "store.edge");
    join = cg_block(L, "store.end");
    LLVMBuildCondBr(L->c.b, tile_inside(L, op, &y, t.elem, ta.f, wide), fast, slow);
    LLVMPositionBuilderAtEnd(L->c.b, fast);
    store_wide(L, &y, &ta, t.elem, v, wide);
    LLVMBuildBr(L->c.b, join);
    LLVMPositionBuilderAtEnd(L->c.b, slow);
  }
  uint32_t f = (uint32_t)ta.f, nv = vec_width(L, &y, t.elem, o->opnd[0], ta.f), e[IR_MAXRANK];
  for (uint32_t i = 0; i < y.n; i++) {
    cg_lay_multi(&y, i, e);
    if (e[f] % nv) continue;
    LLVMValueRef mask[4], vals[4], p = tile_addr_at(L, &ta, i, &mask[0]);
    for (uint32_t k = 1; k < nv; k++) tile_addr_at(L, &ta, i + k * y.step[f], &mask[k]);
    for (uint32_t k = 0; k < nv; k++) {
      mask[k] = cg_and_pred(L, mask[k], owner);
      vals[k] = cg_to_mem(L, v->v[i + k * y.step[f]], t.elem);
    }
    if (nv == 1)
      L->c.ops->store(&L->c, CG_GLOBAL, p, vals[0], mask[0]);
    else
      L->c.ops->store_vec(&L->c, CG_GLOBAL, nv, p, vals, mask);
  }
  if (join) {
    LLVMBuildBr(L->c.b, join);
    LLVMPositionBuilderAtEnd(L->c.b, join);
  }
}

/* ---- shared memory ---- */

void cg_lower_alloc_shared(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  LLVMValueRef off = cg_i32(L, ir_attr_i(o->attrs, "offset", 0));
  LLVMValueRef base = L->c.ops->shared_base(&L->c);
  cg_def(L, o->res[0], 1)[0] = LLVMBuildGEP2(L->c.b, LLVMInt8TypeInContext(L->c.ctx), base, &off, 1, "smem");
}

/* The elements per access of a tile of e in layout y along its last dim (swizzled_tile, plain_tile). */
static uint32_t group_width(const cg_lay *y, ir_elem e) {
  int eb = ir_elem_bytes(e);
  return eb == 1 || eb == 2 || eb == 4 ? cg_wide_elems(y, y->rank - 1, eb) : 1;
}

/* A tile to or from a swizzled buffer, in accesses of up to 16 bytes (cg_wide_elems: the thread's
 * runs along the last dim): cg_smem_swizzle gives the
 * address of each 16-byte piece of a run (a run starts at a multiple of its length, so neither a
 * piece nor an access crosses a chunk); the piece's other accesses follow at constant byte steps.
 * Element-wide accesses would make a warp's request touch each bank's word of several rows: the
 * accumulator layout's f32 pairs or a blocked layout's four-element runs conflict that way, where
 * one 8- or 16-byte access per run reads or writes whole chunks. */
static void swizzled_tile(cg_lower *L, const cg_lay *y, ir_val buf, LLVMValueRef *vals, int store) {
  LLVMBuilderRef B = L->c.b;
  ir_elem e = ir_vtype(L->fn, buf).elem;
  int eb = ir_elem_bytes(e);
  LLVMTypeRef i8 = LLVMInt8TypeInContext(L->c.ctx);
  LLVMValueRef *coords = cg_lay_coords(L, y), base = cg_get(L, buf)->v[0];
  LLVMValueRef owner = store ? cg_lay_thread(L, y)->owner : NULL;
  LLVMValueRef *ptrs = ir_alloc(L->A, y->n * sizeof *ptrs);
  uint32_t f = (uint32_t)y->rank - 1, piece = 16 / (uint32_t)eb, ix[IR_MAXRANK];
  uint32_t w = group_width(y, e);
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ix);
    if (ix[f] % w) continue; /* inside an access */
    uint32_t in = (ix[f] % y->run[f]) % piece;
    LLVMValueRef off =
        in ? cg_i32(L, (int64_t)in * eb) : cg_smem_swizzle(L, buf, &coords[i * (uint32_t)y->rank]);
    LLVMValueRef ptr = ptrs[i] = LLVMBuildGEP2(B, i8, in ? ptrs[i - in * y->step[f]] : base, &off, 1, "");
    cg_shared_group(L, e, w, ptr, &vals[i], y->step[f], store, owner);
  }
}

/* A tile to or from an unswizzled buffer: the thread's base pointer plus a constant per access, one
 * access per group of consecutive elements as in swizzled_tile (16 bytes at most). */
static void plain_tile(cg_lower *L, const cg_lay *y, ir_val buf, LLVMValueRef *vals, int store) {
  LLVMBuilderRef B = L->c.b;
  ir_elem e = ir_vtype(L->fn, buf).elem;
  LLVMTypeRef mt = cg_mem_type(L, e);
  LLVMValueRef tb = cg_buffer_base(L, y, y->shape), base = cg_get(L, buf)->v[0];
  LLVMValueRef tp = LLVMBuildGEP2(B, mt, base, &tb, 1, "");
  LLVMValueRef owner = store ? cg_lay_thread(L, y)->owner : NULL;
  uint32_t f = (uint32_t)y->rank - 1, ix[IR_MAXRANK];
  uint32_t w = group_width(y, e);
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ix);
    if (ix[f] % w) continue; /* inside an access */
    LLVMValueRef c = cg_i32(L, cg_buffer_const(y, i, y->shape)), ptr = LLVMBuildGEP2(B, mt, tp, &c, 1, "");
    cg_shared_group(L, e, w, ptr, &vals[i], y->step[f], store, owner);
  }
}

int cg_load_shared_at(cg_lower *L, ir_opid op, uint32_t *at) {
  ir_attr *a = ir_attr_get(L->fn->ops[op].attrs, "at");
  for (int d = 0; d < (a ? a->nlist : 0); d++) at[d] = (uint32_t)a->list[d];
  return a != NULL;
}

/* load_shared {quad_dim = q}: index c of buffer dim q is stored at (c & ~15) | (c & 3) << 2 |
 * (c >> 2) & 3, each block of 16 a 4 x 4 transpose (its own inverse). */
static LLVMValueRef quad_index(cg_lower *L, LLVMValueRef c) {
  LLVMBuilderRef B = L->c.b;
  LLVMValueRef hi = LLVMBuildAnd(B, c, cg_i32(L, ~15), "");
  LLVMValueRef lo = LLVMBuildShl(B, LLVMBuildAnd(B, c, cg_i32(L, 3), ""), cg_i32(L, 2), "");
  LLVMValueRef mid = LLVMBuildAnd(B, LLVMBuildLShr(B, c, cg_i32(L, 2), ""), cg_i32(L, 3), "");
  return LLVMBuildOr(B, hi, LLVMBuildOr(B, lo, mid, ""), "");
}

/* The tile dim whose four consecutive elements of a thread lie side by side in a quad_dim buffer (one
 * 16-byte access): 4-byte elements, quad dim the buffer's last, and the thread's elements along it
 * at off + 4e with off in [0, 4) (one element a run, a layout tile of 4: mma_b of words, e.g.), e
 * running in whole quads; the block (at) starting a group of 16. -1 when not. */
static int quad_vector_dim(const cg_lay *y, ir_type bt, int qd, int trans, const uint32_t *at) {
  int td = trans ? y->rank - 1 - qd : qd;
  if (ir_elem_bytes(bt.elem) != 4 || qd != bt.rank - 1 || at[qd] % 16) return -1;
  return y->run[td] == 1 && y->tile[td] == 4 && y->per[td] % 4 == 0 && y->shape[td] % 16 == 0 ? td : -1;
}

/* load_shared {trans = 1}, {at = ...} or {quad_dim = q} outside mma operands: element (r, c) of the
 * tile from (c, r) of the buffer (trans), offset by at, along dim q at its quad index; one load each
 * (swizzled or row-major), or one 16-byte load for four words where quad_vector_dim finds them. */
static void mapped_tile(cg_lower *L, ir_opid op, const cg_lay *y, ir_val buf, LLVMValueRef *out) {
  ir_type bt = ir_vtype(L->fn, buf);
  ir_elem e = bt.elem;
  LLVMTypeRef ty = cg_mem_type(L, e), i8 = LLVMInt8TypeInContext(L->c.ctx);
  LLVMValueRef *coords = cg_lay_coords(L, y), base = cg_get(L, buf)->v[0];
  ir_attr *as = L->fn->ops[op].attrs;
  int trans = (int)ir_attr_i(as, "trans", 0), r = y->rank;
  int qd = ir_attr_get(as, "quad_dim") ? (int)ir_attr_i(as, "quad_dim", 0) : -1;
  uint32_t at[IR_MAXRANK] = {0}, ix[IR_MAXRANK];
  cg_load_shared_at(L, op, at);
  int vd = qd >= 0 ? quad_vector_dim(y, bt, qd, trans, at) : -1;
  for (uint32_t i = 0; i < y->n; i++) {
    LLVMValueRef idx[IR_MAXRANK];
    cg_lay_multi(y, i, ix);
    if (vd >= 0 && ix[vd] % 4) continue; /* inside a quad read below */
    for (int d = 0; d < r; d++)
      idx[d] = LLVMBuildAdd(L->c.b, coords[i * (uint32_t)r + (uint32_t)(trans ? r - 1 - d : d)],
                            cg_i32(L, at[d]), "");
    if (vd >= 0) { /* elements off + 4 (e + j), j < 4: buffer index at + 16 (e / 4) + 4 off + j */
      LLVMValueRef off4 = LLVMBuildShl(L->c.b, cg_lay_thread(L, y)->off[vd], cg_i32(L, 2), "");
      idx[qd] = LLVMBuildAdd(L->c.b, off4, cg_i32(L, at[qd] + 16 * (ix[vd] / 4)), "");
    } else if (qd >= 0) {
      idx[qd] = quad_index(L, idx[qd]);
    }
    LLVMValueRef off = cg_smem_swizzle(L, buf, idx), p = LLVMBuildGEP2(L->c.b, i8, base, &off, 1, "");
    if (vd >= 0)
      cg_shared_group(L, e, 4, p, &out[i], y->step[vd], 0, NULL);
    else
      out[i] = cg_from_mem(L, L->c.ops->load(&L->c, CG_SHARED, ty, p, NULL, NULL), e);
  }
}

/* load_shared {reverse = 1}: element (i0, ...) from buffer element (d0 - 1 - i0, ...). A thread's run
 * of w elements along the last dim (starting at a multiple of w) is a run of the buffer's, starting
 * at a multiple of w too, in the opposite order: one access of up to 16 bytes as in swizzled_tile,
 * its elements taken last to first. Any layout (the reversed read of an mma operand is not
 * ldmatrix's). */
static void reversed_tile(cg_lower *L, const cg_lay *y, ir_val buf, LLVMValueRef *vals) {
  ir_type bt = ir_vtype(L->fn, buf);
  ir_elem e = bt.elem;
  LLVMTypeRef i8 = LLVMInt8TypeInContext(L->c.ctx);
  LLVMValueRef *coords = cg_lay_coords(L, y), base = cg_get(L, buf)->v[0];
  uint32_t f = (uint32_t)y->rank - 1, ix[IR_MAXRANK];
  uint32_t w = group_width(y, e);
  while (w > 1 && (y->run[f] % w || bt.shape[f] % w)) w /= 2;
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ix);
    if (ix[f] % w) continue; /* inside an access */
    LLVMValueRef idx[IR_MAXRANK], got[16];
    for (uint32_t d = 0; d <= f; d++) {
      int64_t last = (int64_t)bt.shape[d] - (d == f ? (int64_t)w : 1);
      idx[d] = LLVMBuildSub(L->c.b, cg_i32(L, last), coords[i * (uint32_t)y->rank + d], "");
    }
    LLVMValueRef off = cg_smem_swizzle(L, buf, idx);
    LLVMValueRef ptr = LLVMBuildGEP2(L->c.b, i8, base, &off, 1, "");
    cg_shared_group(L, e, w, ptr, got, 1, 0, NULL);
    for (uint32_t k = 0; k < w; k++) vals[i + k * y->step[f]] = got[w - 1 - k];
  }
}

void cg_lower_load_shared(cg_lower *L, ir_opid op) {
  if (ir_attr_i(L->fn->ops[op].attrs, "reverse", 0)) {
    ir_type t = ir_vtype(L->fn, L->fn->ops[op].res[0]);
    cg_lay y;
    cg_lay_init(&y, t);
    LLVMValueRef *out = cg_def(L, L->fn->ops[op].res[0], y.n);
    reversed_tile(L, &y, L->fn->ops[op].opnd[0], out);
    return;
  }
  /* a wgmma operand is read by the dot (lower_dot_wgmma.c), mma fragments by ldmatrix (lower_mma.c);
   * a read in quad order by neither */
  int quads = ir_attr_get(L->fn->ops[op].attrs, "quad_dim") != NULL;
  if (!quads && (cg_wgmma_load_shared(L, op) || cg_mma_load_shared(L, op))) return;
  ir_op *o = &L->fn->ops[op];
  ir_type t = ir_vtype(L->fn, o->res[0]);
  cg_lay y;
  cg_lay_init(&y, t);
  LLVMValueRef *out = cg_def(L, o->res[0], y.n);
  if (quads || ir_attr_i(o->attrs, "trans", 0) || ir_attr_get(o->attrs, "at"))
    mapped_tile(L, op, &y, o->opnd[0], out);
  else if (cg_smem_swizzle_of(L, o->opnd[0]))
    swizzled_tile(L, &y, o->opnd[0], out, 0);
  else
    plain_tile(L, &y, o->opnd[0], out, 0);
}

/* gather_shared: element i of the result from the buffer element its index tiles name (each index
 * modulo its dim: an and, the dims being powers of two), one load each through the buffer's swizzle.
 * The index tiles have the result's layout (the layout pass converts them), so a thread's element i
 * of each is its own. */
void cg_lower_gather_shared(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_val buf = o->opnd[0];
  ir_type bt = ir_vtype(L->fn, buf), t = ir_vtype(L->fn, o->res[0]);
  ir_elem e = bt.elem;
  LLVMTypeRef ty = cg_mem_type(L, e), i8 = LLVMInt8TypeInContext(L->c.ctx);
  cg_lay y;
  cg_lay_init(&y, t);
  LLVMValueRef *out = cg_def(L, o->res[0], y.n);
  LLVMValueRef base = cg_get(L, buf)->v[0];
  for (uint32_t i = 0; i < y.n; i++) {
    LLVMValueRef idx[IR_MAXRANK];
    for (int d = 0; d < bt.rank; d++) {
      LLVMValueRef mask = cg_i32(L, (int64_t)bt.shape[d] - 1);
      idx[d] = LLVMBuildAnd(L->c.b, cg_get(L, o->opnd[1 + d])->v[i], mask, "");
    }
    LLVMValueRef off = cg_smem_swizzle(L, buf, idx);
    LLVMValueRef p = LLVMBuildGEP2(L->c.b, i8, base, &off, 1, "");
    LLVMValueRef v = L->c.ops->load(&L->c, CG_SHARED, ty, p, NULL, NULL);
    out[i] = cg_from_mem(L, v, e);
  }
}

void cg_lower_store_shared(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type t = ir_vtype(L->fn, o->opnd[1]);
  cg_lay y;
  cg_lay_init(&y, t);
  if (cg_smem_swizzle_of(L, o->opnd[0]))
    swizzled_tile(L, &y, o->opnd[0], cg_get(L, o->opnd[1])->v, 1);
  else
    plain_tile(L, &y, o->opnd[0], cg_get(L, o->opnd[1])->v, 1);
}

/* ---- global -> shared copies ----
 *
 * A copy moves the buffer as chunks: runs of consecutive elements along one row of the buffer.
 * Chunk q goes to thread q mod T (T threads), so consecutive threads read consecutive global bytes;
 * a buffer with fewer chunks than threads is copied by the first threads only. On targets with
 * cp.async a chunk of 16 bytes (or the whole row, when rows are 4 or 8 bytes) is one cp.async
 * whose src_bytes counts the chunk's elements inside the view (the rest, and masked-off chunks, are
 * zero-filled), when a run-time test finds the view aligned to the chunk (base, row strides and
 * column offset are the same in every thread). Otherwise 4- and 8-byte elements go one cp.async
 * each, and narrower ones take the plain path, as does a non-zero pad, a last stride that is not
 * the constant 1, or a target without cp.async: masked global loads and shared stores, up to 16
 * bytes per chunk (one element per chunk down the columns of a view whose dim 0 is contiguous, so
 * that reads still coalesce).
 *
 * Only the aligned cp.async path is unrolled. The fallback runs as a loop over the thread's chunks,
 * not unrolled: unrolled, the addresses of every chunk of every path are invariant in the enclosing
 * K loop and stay live across it. With the aligned path alone the default GEMM (64x64x32, 4 warps)
 * took 72 registers; with unrolled 8-byte, 4-byte and plain fallbacks 254; with each of them as a
 * loop 128 and a spill; with the one fallback loop 96.
 *
 * On cp.async targets every copy then commits one group (the pipeline pass counts groups per copy);
 * a copy without `async = 1` also waits for it, so that it is complete in the issuing thread like a
 * plain copy. */

typedef struct {
  ir_val buf;
  ir_type sm;
  int eb;         /* element bytes */
  cg_value *view; /* pointer, dims, strides (i64) */
  ir_val view_val, off_val[IR_MAXRANK];
  ir_reg loop;                  /* the body of the innermost `for` around the copy, or 0 */
  LLVMValueRef off[IR_MAXRANK]; /* the copy's offsets, i64 */
  LLVMValueRef pred;            /* the copy's predicate, or NULL */
  LLVMValueRef pad;             /* what a masked element reads (plain path) */
  LLVMValueRef sbase;
  int col_major; /* plain path over a view whose dim 0 is contiguous: chunks run down the columns */
} copy_plan;

/* Coordinates in the buffer (i32) of the first element of chunk q of cb-byte chunks. */
static void chunk_coords(cg_lower *L, const copy_plan *p, int cb, LLVMValueRef q, LLVMValueRef *idx) {
  LLVMBuilderRef B = L->c.b;
  int f = p->sm.rank - 1;
  uint32_t cpr = p->sm.shape[f] * (uint32_t)p->eb / (uint32_t)cb; /* chunks per row */
  LLVMValueRef cc, r;
  if (p->col_major) {
    idx[0] = LLVMBuildAnd(B, q, cg_i32(L, p->sm.shape[0] - 1), "");
    cc = LLVMBuildLShr(B, q, cg_i32(L, cg_log2(p->sm.shape[0])), "");
  } else {
    cc = LLVMBuildAnd(B, q, cg_i32(L, cpr - 1), "");
    r = LLVMBuildLShr(B, q, cg_i32(L, cg_log2(cpr)), "");
    for (int d = f - 1; d >= 0; d--) {
      idx[d] = LLVMBuildAnd(B, r, cg_i32(L, p->sm.shape[d] - 1), "");
      r = LLVMBuildLShr(B, r, cg_i32(L, cg_log2(p->sm.shape[d])), "");
    }
  }
  idx[f] = LLVMBuildMul(B, cc, cg_i32(L, cb / p->eb), "");
}

/* Global address of the chunk at idx; *ok: its row is inside the view and the predicate holds;
 * *col: its first column in the view (i64). */
static LLVMValueRef chunk_global(cg_lower *L, const copy_plan *p, const LLVMValueRef *idx, LLVMValueRef *ok,
                                 LLVMValueRef *col) {
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx);
  int R = p->sm.rank, f = R - 1;
  LLVMValueRef addr = cg_i64(L, 0), g = NULL;
  *ok = p->pred;
  for (int d = 0; d <= f; d++) {
    g = LLVMBuildAdd(B, p->off[d], LLVMBuildZExt(B, idx[d], i64, ""), "");
    if (d < f) {
      LLVMValueRef below = LLVMBuildICmp(B, LLVMIntSLT, g, p->view->v[1 + d], ""); /* one at a time */
      *ok =
          cg_and_pred(L, *ok, LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSGE, g, cg_i64(L, 0), ""), below, ""));
    }
    addr = LLVMBuildAdd(B, addr, LLVMBuildMul(B, g, p->view->v[1 + R + d], ""), "");
  }
  *col = g;
  return LLVMBuildGEP2(B, cg_mem_type(L, p->sm.elem), p->view->v[0], &addr, 1, "");
}

/* The chunk's shared address: at byte offset off (i32) from the buffer, or NULL: where idx is. */
static LLVMValueRef chunk_shared(cg_lower *L, const copy_plan *p, const LLVMValueRef *idx, LLVMValueRef off) {
  if (!off) off = cg_smem_swizzle(L, p->buf, idx);
  return LLVMBuildGEP2(L->c.b, LLVMInt8TypeInContext(L->c.ctx), p->sbase, &off, 1, "");
}

static LLVMValueRef min_max_i64(cg_lower *L, LLVMValueRef x, int64_t lo, int64_t hi) {
  LLVMBuilderRef B = L->c.b;
  x = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, x, cg_i64(L, lo), ""), cg_i64(L, lo), x, "");
  return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, x, cg_i64(L, hi), ""), cg_i64(L, hi), x, "");
}

/* What the cp.async chunks of one copy share, computed once per copy: the global address of the
 * copy's origin (the view's element at the offsets) and, per dim, the range [lo, hi) of buffer
 * coordinates inside the view (-offset and dim - offset, clamped to +-2^30 and made i32: a buffer
 * coordinate is far smaller, so the clamp changes no comparison). A chunk then costs its
 * thread-constant offset from the origin (invariant in an enclosing loop), one add and i32
 * compares, instead of its address and bounds rebuilt in 64 bits. */
typedef struct {
  LLVMValueRef origin, rel; /* rel: the origin's offset from the view's pointer, elements (i64) */
  LLVMValueRef lo[IR_MAXRANK], hi[IR_MAXRANK]; /* lo NULL: the offset is known >= 0 */
} copy_origin;

/* The IR scalar v as i32 when it is a signed integer of at most 32 bits, else NULL. */
static LLVMValueRef narrow_i32(cg_lower *L, ir_val v) {
  if (!v) return NULL;
  ir_elem e = ir_vtype(L->fn, v).elem;
  if (!ir_elem_is_signed(e) || ir_elem_bits(e) > 32) return NULL;
  return cg_convert(L, cg_get(L, v)->v[0], e, IR_I32);
}

/* x - y as a bound on buffer coordinates: i32, clamped to +-2^30. With both operands i32 in the IR
 * (x NULL: 0), a saturating i32 subtraction, which orders the same against any coordinate below
 * 2^30; otherwise the difference in i64, clamped. When y is known >= 0 (y_nonneg), max(x, 0) - y
 * cannot wrap, and against a coordinate c >= 0 it orders as x - y does (for x < 0 both are <= 0, so
 * c is outside either way): a plain subtraction, max(x, 0) invariant where x is. */
static LLVMValueRef bound_i32(cg_lower *L, ir_val x, LLVMValueRef x64, ir_val y, LLVMValueRef y64,
                              int y_nonneg) {
  LLVMBuilderRef B = L->c.b;
  LLVMValueRef a = x ? narrow_i32(L, x) : cg_i32(L, 0), b = narrow_i32(L, y);
  if (a && b && y_nonneg && x) {
    LLVMValueRef ax =
        LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, a, cg_i32(L, 0), ""), a, cg_i32(L, 0), "");
    return LLVMBuildNSWSub(B, ax, b, "");
  }
  if (a && b) {
    LLVMValueRef args[2] = {a, b};
    return cg_call(L, "llvm.ssub.sat.i32", LLVMInt32TypeInContext(L->c.ctx), args, 2);
  }
  return LLVMBuildTrunc(B, min_max_i64(L, LLVMBuildSub(B, x64, y64, ""), -(1 << 30), 1 << 30),
                        LLVMInt32TypeInContext(L->c.ctx), "");
}

/* 1 if the integer scalar v is known to be >= 0: non-negative constants, program ids, sums,
 * products and maxima of such values, and the induction variable of a `for` starting at one (a loop
 * runs only with a positive step). Used to drop the lower bound checks of copies. */
static int known_nonneg(ir_func *fn, ir_val v, int depth) {
  ir_value *x = ir_v(fn, v);
  if (depth > 16 || x->type.kind != IR_TSCALAR || !ir_elem_in_class(IR_EC_INT, x->type.elem)) return 0;
  if (!x->def) {
    ir_region *r = ir_r(fn, x->arg_of);
    if (x->index != 0 || !r->parent_op || ir_o(fn, r->parent_op)->code != IR_OP_FOR) return 0;
    return known_nonneg(fn, ir_o(fn, r->parent_op)->opnd[0], depth + 1);
  }
  ir_op *o = ir_o(fn, x->def);
  switch (o->code) {
  case IR_OP_CONST: {
    ir_attr *a = ir_attr_get(o->attrs, "value");
    return a && a->kind == IR_AINT && a->i >= 0;
  }
  case IR_OP_PROGRAM_ID:
  case IR_OP_NUM_PROGRAMS: return 1;
  case IR_OP_ADD:
  case IR_OP_MUL:
    /* a sum or product that wraps past 2^31 is no usable offset with or without this */
    return known_nonneg(fn, o->opnd[0], depth + 1) && known_nonneg(fn, o->opnd[1], depth + 1);
  default: return 0;
  }
}

static void copy_origin_init(cg_lower *L, const copy_plan *p, copy_origin *co) {
  LLVMBuilderRef B = L->c.b;
  int R = p->sm.rank;
  LLVMValueRef addr = cg_i64(L, 0);
  ir_value *vv = ir_v(L->fn, p->view_val);
  ir_op *vo = vv->def && L->fn->ops[vv->def].code == IR_OP_VIEW ? &L->fn->ops[vv->def] : NULL;
  for (int d = 0; d < R; d++) {
    addr = LLVMBuildAdd(B, addr, LLVMBuildMul(B, p->off[d], p->view->v[1 + R + d], ""), "");
    int nonneg = known_nonneg(L->fn, p->off_val[d], 0);
    co->lo[d] = nonneg ? NULL : bound_i32(L, 0, cg_i64(L, 0), p->off_val[d], p->off[d], 0);
    co->hi[d] = bound_i32(L, vo ? vo->opnd[1 + d] : 0, p->view->v[1 + d], p->off_val[d], p->off[d], nonneg);
  }
  co->rel = addr;
  co->origin = LLVMBuildGEP2(B, cg_mem_type(L, p->sm.elem), p->view->v[0], &addr, 1, "");
}

/* Chunk q as one cp.async of cb bytes (aligned: a chunk starting before column 0 lies wholly
 * before it). A chunk outside the view or the predicate copies 0 source bytes, which reads
 * nothing, so its address needs no clamping. idx_of, toff_of, soff_of and gp_of, when given: its
 * coordinates, offset from the copy's origin (elements, i64), shared offset (bytes, i32) and global
 * address. */
static void chunk_async(cg_lower *L, const copy_plan *p, const copy_origin *co, int cb, int whole,
                        LLVMValueRef q, const LLVMValueRef *idx_of, LLVMValueRef toff_of,
                        LLVMValueRef soff_of, LLVMValueRef gp_of) {
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx);
  LLVMValueRef idx[IR_MAXRANK], ok = p->pred, toff = cg_i64(L, 0);
  int R = p->sm.rank, f = R - 1;
  if (idx_of) {
    memcpy(idx, idx_of, (size_t)R * sizeof *idx);
    toff = toff_of;
  } else {
    chunk_coords(L, p, cb, q, idx);
    for (int d = 0; d < R; d++)
      toff = LLVMBuildAdd(B, toff,
                          LLVMBuildMul(B, LLVMBuildZExt(B, idx[d], i64, ""), p->view->v[1 + R + d], ""), "");
  }
  for (int d = 0; d < R; d++) {
    if (co->lo[d]) ok = cg_and_pred(L, ok, LLVMBuildICmp(B, LLVMIntSGE, idx[d], co->lo[d], ""));
    if (d < f || whole) ok = cg_and_pred(L, ok, LLVMBuildICmp(B, LLVMIntSLT, idx[d], co->hi[d], ""));
  }
  LLVMValueRef gp = gp_of ? gp_of : LLVMBuildGEP2(B, cg_mem_type(L, p->sm.elem), co->origin, &toff, 1, "");
  if (whole) { /* every chunk lies wholly inside the view's columns or wholly outside */
    L->c.ops->cp_async(&L->c, chunk_shared(L, p, idx, soff_of), gp, cb,
                       ok ? ok : LLVMConstInt(LLVMInt1TypeInContext(L->c.ctx), 1, 0));
    return;
  }
  LLVMValueRef left = LLVMBuildSub(B, co->hi[f], idx[f], ""), n = cg_i32(L, cb / p->eb);
  left = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, left, n, ""), left, n, "");
  left = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, left, cg_i32(L, 0), ""), left, cg_i32(L, 0), "");
  LLVMValueRef bytes = LLVMBuildMul(B, left, cg_i32(L, p->eb), "");
  if (ok) bytes = LLVMBuildSelect(B, ok, bytes, cg_i32(L, 0), "");
  L->c.ops->cp_async(&L->c, chunk_shared(L, p, idx, soff_of), gp, cb, bytes);
}

/* Chunk q of cb bytes on the plain path: each element a masked global load (pad outside the view)
 * and a shared store, at constant steps from the chunk's first element. */
static void chunk_plain(cg_lower *L, const copy_plan *p, int cb, LLVMValueRef q) {
  LLVMBuilderRef B = L->c.b;
  LLVMValueRef idx[IR_MAXRANK], ok, col;
  LLVMTypeRef ety = cg_mem_type(L, p->sm.elem), i8 = LLVMInt8TypeInContext(L->c.ctx);
  chunk_coords(L, p, cb, q, idx);
  LLVMValueRef gp = chunk_global(L, p, idx, &ok, &col), sp = chunk_shared(L, p, idx, NULL);
  LLVMValueRef stride = p->view->v[2 * p->sm.rank], dim = p->view->v[p->sm.rank];
  for (int e = 0; e < cb / p->eb; e++) {
    LLVMValueRef g = LLVMBuildAdd(B, col, cg_i64(L, e), "");
    LLVMValueRef below = LLVMBuildICmp(B, LLVMIntSLT, g, dim, ""); /* one at a time: argument order */
    LLVMValueRef in = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSGE, g, cg_i64(L, 0), ""), below, "");
    LLVMValueRef step = LLVMBuildMul(B, cg_i64(L, e), stride, ""), soff = cg_i32(L, e * p->eb);
    LLVMValueRef pr = cg_and_pred(L, in, ok); /* one at a time: C leaves argument order open */
    LLVMValueRef x =
        L->c.ops->load(&L->c, CG_GLOBAL, ety, LLVMBuildGEP2(B, ety, gp, &step, 1, ""), pr, p->pad);
    L->c.ops->store(&L->c, CG_SHARED, LLVMBuildGEP2(B, i8, sp, &soff, 1, ""), x, NULL);
  }
}

static void chunk(cg_lower *L, const copy_plan *p, int cb, int async, LLVMValueRef q) {
  if (async) {
    copy_origin co;
    copy_origin_init(L, p, &co);
    chunk_async(L, p, &co, cb, 0, q, NULL, NULL, NULL, NULL);
  } else {
    chunk_plain(L, p, cb, q);
  }
}

/* Bytes per chunk of the plain path: a run of up to 16 bytes along a row, or one element down the
 * columns. */
static int plain_bytes(const copy_plan *p) {
  uint32_t row = p->sm.shape[p->sm.rank - 1] * (uint32_t)p->eb;
  return p->col_major ? p->eb : row < 16 ? (int)row : 16;
}

/* Branches to a fresh block when cond holds (the rest of the code goes to *join). */
static void begin_if(cg_lower *L, LLVMValueRef cond, LLVMBasicBlockRef *join) {
  LLVMBasicBlockRef go = cg_block(L, "copy.go");
  *join = cg_block(L, "copy.join");
  LLVMBuildCondBr(L->c.b, cond, go, *join);
  LLVMPositionBuilderAtEnd(L->c.b, go);
}

static void end_if(cg_lower *L, LLVMBasicBlockRef join) {
  LLVMBuildBr(L->c.b, join);
  LLVMPositionBuilderAtEnd(L->c.b, join);
}

/* 1 if the copy is in a loop and its view and column offset are defined outside it: each iteration
 * moves the copy down the view's rows (or not at all). */
static int rows_only_loop(cg_lower *L, const copy_plan *p) {
  ir_func *fn = L->fn;
  return p->loop && !ir_region_encloses(fn, p->loop, ir_val_region(fn, p->view_val)) &&
         !ir_region_encloses(fn, p->loop, ir_val_region(fn, p->off_val[p->sm.rank - 1]));
}

/* The body of the innermost `for` around op, or 0. */
static ir_reg loop_body_of(ir_func *fn, ir_opid op) {
  for (ir_reg r = ir_o(fn, op)->parent; r;) {
    ir_opid up = ir_r(fn, r)->parent_op;
    if (!up) return 0;
    if (ir_o(fn, up)->code == IR_OP_FOR) return r;
    r = ir_o(fn, up)->parent;
  }
  return 0;
}

enum { WIDE_CHUNKS = 4 }; /* chunks a thread moves in a wide copy (chunks_unrolled) */

/* The thread's chunks of cb bytes, unrolled (chunk q = tid + j T); whole: async chunks lie wholly
 * inside the view's columns or wholly outside. */
static void chunks_unrolled(cg_lower *L, const copy_plan *p, int cb, int async, int whole) {
  uint32_t n = ir_type_numel(p->sm) * (uint32_t)p->eb / (uint32_t)cb, T = (uint32_t)L->c.threads;
  LLVMBasicBlockRef join = NULL;
  copy_origin co;
  if (async) copy_origin_init(L, p, &co);
  if (n < T) begin_if(L, LLVMBuildICmp(L->c.b, LLVMIntULT, L->tid, cg_i32(L, n), ""), &join);
  /* Threads covering whole rows (rank 2): chunk j of a thread is its chunk 0 moved down j * T / cpr
   * rows, so its coordinates and its offset from the copy's origin are chunk 0's plus a constant (and
   * a uniform product), not a fresh 64-bit offset per chunk held across an enclosing loop.
   * A wide copy (WIDE_CHUNKS or more chunks a thread) goes further: where the swizzle repeats every
   * j * T / cpr rows, a chunk's shared offset is chunk 0's plus a constant (an immediate in the
   * cp.async, not a register per chunk); an all-or-nothing chunk is one LDGSTS (cg_ctx.wide_copy);
   * and in a loop that moves the copy's rows only (rows_only_loop), each chunk's pointer at the
   * loop's first origin is pinned (devops pin) and the origin's move added to it: left to itself,
   * LLVM's strength reduction steps a pointer per chunk and adds the thread's column to each in
   * every iteration (a 64-bit multiply-add and two moves per chunk on sm_80). With fewer chunks
   * there is less to save and ptxas's register targets decide: w4a16 (2 chunks) spilled 16 bytes
   * at 72 registers on sm_90a, the GEMM's 8-warp loop (2 chunks) lost its ldmatrix folds. */
  uint32_t cpr = p->sm.shape[p->sm.rank - 1] * (uint32_t)p->eb / (uint32_t)cb;
  uint32_t drow = async && p->sm.rank == 2 && !p->col_major && T % cpr == 0 ? T / cpr : 0;
  LLVMValueRef idx0[IR_MAXRANK], toff0 = NULL, soff0 = NULL;
  int wide = drow && n >= WIDE_CHUNKS * T, pin = wide && L->c.ops->pin && rows_only_loop(L, p);
  L->c.wide_copy = wide;
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx);
  if (drow) {
    chunk_coords(L, p, cb, L->tid, idx0);
    LLVMValueRef t1 = LLVMBuildMul(L->c.b, LLVMBuildZExt(L->c.b, idx0[1], i64, ""), p->view->v[4], "");
    toff0 =
        LLVMBuildAdd(L->c.b, LLVMBuildMul(L->c.b, LLVMBuildZExt(L->c.b, idx0[0], i64, ""), p->view->v[3], ""),
                     t1, ""); /* t1 first: C leaves argument order open */
    soff0 = cg_smem_swizzle(L, p->buf, idx0);
  }
  for (uint32_t j = 0; j * T < n; j++) {
    LLVMValueRef q = LLVMBuildAdd(L->c.b, L->tid, cg_i32(L, j * T), "");
    if (async && drow) {
      LLVMValueRef idx[2] = {LLVMBuildAdd(L->c.b, idx0[0], cg_i32(L, j * drow), ""), idx0[1]};
      LLVMValueRef toff =
          LLVMBuildAdd(L->c.b, toff0, LLVMBuildMul(L->c.b, cg_i64(L, j * drow), p->view->v[3], ""), "");
      int64_t step = cg_smem_row_step(L, p->buf, j * drow);
      LLVMValueRef soff =
          step < 0 || !wide ? NULL : LLVMBuildNUWAdd(L->c.b, soff0, cg_i32(L, (uint32_t)step), "");
      LLVMValueRef gp = NULL;
      if (pin) {
        LLVMTypeRef ety = cg_mem_type(L, p->sm.elem);
        gp = L->c.ops->pin(&L->c, LLVMBuildGEP2(L->c.b, ety, p->view->v[0], &toff, 1, ""));
        gp = LLVMBuildGEP2(L->c.b, ety, gp, &co.rel, 1, "");
      }
      chunk_async(L, p, &co, cb, whole, q, idx, toff, soff, gp);
    } else if (async) {
      chunk_async(L, p, &co, cb, whole, q, NULL, NULL, NULL, NULL);
    } else {
      chunk(L, p, cb, async, q);
    }
  }
  L->c.wide_copy = 0;
  if (join) end_if(L, join);
}

/* The thread's chunks of cb bytes as a loop over j (chunk q = tid + j T, skipped when q >= n). */
static void chunks_looped(cg_lower *L, const copy_plan *p, int cb, int async) {
  LLVMBuilderRef B = L->c.b;
  uint32_t n = ir_type_numel(p->sm) * (uint32_t)p->eb / (uint32_t)cb, T = (uint32_t)L->c.threads;
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(B), head = cg_block(L, "copy.loop"),
                    exit = cg_block(L, "copy.loop.end");
  LLVMBuildBr(B, head);
  LLVMPositionBuilderAtEnd(B, head);
  LLVMValueRef j = LLVMBuildPhi(B, LLVMInt32TypeInContext(L->c.ctx), "j"), zero = cg_i32(L, 0);
  LLVMAddIncoming(j, &zero, &pre, 1);
  LLVMValueRef q = LLVMBuildAdd(B, L->tid, LLVMBuildMul(B, j, cg_i32(L, T), ""), "");
  LLVMBasicBlockRef join;
  begin_if(L, LLVMBuildICmp(B, LLVMIntULT, q, cg_i32(L, n), ""), &join);
  chunk(L, p, cb, async, q);
  end_if(L, join);
  LLVMValueRef next = LLVMBuildAdd(B, j, cg_i32(L, 1), "");
  LLVMAddIncoming(j, &next, &join, 1);
  cg_keep_loop_rolled(
      L, LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntULT, next, cg_i32(L, (n + T - 1) / T), ""), head, exit));
  LLVMPositionBuilderAtEnd(B, exit);
}

/* i1: every chunk of cb bytes is cb-aligned in global memory (base, row strides, column offset). */
static LLVMValueRef aligned_to(cg_lower *L, const copy_plan *p, int cb) {
  LLVMBuilderRef B = L->c.b;
  int R = p->sm.rank;
  LLVMValueRef bits = LLVMBuildPtrToInt(B, p->view->v[0], LLVMInt64TypeInContext(L->c.ctx), "");
  for (int d = 0; d < R - 1; d++)
    bits = LLVMBuildOr(B, bits, LLVMBuildMul(B, p->view->v[1 + R + d], cg_i64(L, p->eb), ""), "");
  bits = LLVMBuildOr(B, bits, LLVMBuildMul(B, p->off[R - 1], cg_i64(L, p->eb), ""), "");
  LLVMValueRef low = LLVMBuildAnd(B, bits, cg_i64(L, cb - 1), "");
  return LLVMBuildICmp(B, LLVMIntEQ, low, cg_i64(L, 0), "");
}

/* Bytes per cp.async chunk of a buffer row: the row or 16, whichever is less. */
static int async_chunk(ir_type sm, int eb) {
  uint32_t row_bytes = sm.shape[sm.rank - 1] * (uint32_t)eb;
  return row_bytes < 16 ? (int)row_bytes : 16;
}

/* cp.async: chunks of the buffer's row or 16 bytes, whichever is less, unrolled, when the view is
 * aligned to them (a run-time test, or `aligned`: the enclosing loop's version has made it);
 * otherwise a loop of one-element cp.async chunks for 4- and 8-byte elements, else the plain path.
 * `before`, the view's alignment tested before the enclosing loop {short} (cg_lower_for), selects
 * the all-or-nothing chunks, unrolled, and leaves the other paths rolled: unrolled in the loop, their
 * chunks' addresses would be hoisted out of it and held across it. */
static void copy_async(cg_lower *L, const copy_plan *p, int aligned, LLVMValueRef before) {
  int cb = async_chunk(p->sm, p->eb);
  if (cb < 4 || cb < p->eb) {
    chunks_looped(L, p, plain_bytes(p), 0);
    return;
  }
  if (aligned) {
    chunks_unrolled(L, p, cb, 1, 1);
    return;
  }
  LLVMValueRef ok = before ? NULL : aligned_to(L, p, cb);
  if (ok && cg_proven(L, ok)) {
    chunks_unrolled(L, p, cb, 1, 0);
    return;
  }
  LLVMBasicBlockRef join = cg_block(L, "copy.end");
  if (before) {
    LLVMBasicBlockRef whole = cg_block(L, "copy.whole"), other = cg_block(L, "copy.other");
    LLVMBuildCondBr(L->c.b, before, whole, other);
    LLVMPositionBuilderAtEnd(L->c.b, whole);
    chunks_unrolled(L, p, cb, 1, 1);
    LLVMBuildBr(L->c.b, join);
    LLVMPositionBuilderAtEnd(L->c.b, other);
  }
  LLVMBasicBlockRef yes = cg_block(L, "copy.async"), no = cg_block(L, "copy.narrow");
  LLVMBuildCondBr(L->c.b, ok ? ok : aligned_to(L, p, cb), yes, no);
  LLVMPositionBuilderAtEnd(L->c.b, yes);
  if (before)
    chunks_looped(L, p, cb, 1);
  else
    chunks_unrolled(L, p, cb, 1, 0);
  LLVMBuildBr(L->c.b, join);
  LLVMPositionBuilderAtEnd(L->c.b, no);
  if (p->eb >= 4)
    chunks_looped(L, p, p->eb, 1);
  else
    chunks_looped(L, p, plain_bytes(p), 0);
  LLVMBuildBr(L->c.b, join);
  LLVMPositionBuilderAtEnd(L->c.b, join);
}

/* The pad attribute is absent or zero (+0): what cp.async's zero fill gives. */
static int pad_is_zero(ir_attr *pad) {
  return !pad || (pad->kind == IR_AINT && pad->i == 0) ||
         (pad->kind == IR_AFLOAT && pad->f == 0 && !__builtin_signbit(pad->f));
}

static int const_one(LLVMValueRef v) { return LLVMIsAConstantInt(v) && LLVMConstIntGetSExtValue(v) == 1; }

/* The copy offset v as i64. A sum known to be >= 0 (known_nonneg, which already takes it not to
 * wrap) is the sum of its operands widened, with no wrap: `k + 2 BK` of a pipelined loop becomes
 * sext(k) + 2 BK, which LLVM steps by a constant with the loop (the address of a copy along K is a
 * pointer advanced once per iteration, not a 64-bit product rebuilt). */
static LLVMValueRef offset_i64(cg_lower *L, ir_val v, int depth) {
  ir_value *x = ir_v(L->fn, v);
  ir_elem e = x->type.elem;
  if (depth < 8 && x->def && L->fn->ops[x->def].code == IR_OP_ADD && ir_elem_is_signed(e) &&
      ir_elem_bits(e) <= 32 && known_nonneg(L->fn, v, 0)) {
    const ir_op *o = &L->fn->ops[x->def];
    LLVMValueRef y = offset_i64(L, o->opnd[1], depth + 1); /* one at a time: argument order */
    return LLVMBuildNSWAdd(L->c.b, offset_i64(L, o->opnd[0], depth + 1), y, "");
  }
  return cg_convert(L, cg_get(L, v)->v[0], e, IR_I64);
}

/* 1 if the copy's predicate is `off_d < dim_d` for one of its dims d: the offset and the view's
 * extent, the same IR values, signed. Every path checks each element's coordinate off_d + c (c >= 0)
 * against dim_d, and an element inside implies the predicate, so the predicate selects nothing more:
 * dropping it leaves one compare per chunk instead of two (the pipeline pass's `k + (S-1) BK < K`). */
static int pred_implied(ir_func *fn, const ir_op *o) {
  ir_value *pv = ir_v(fn, o->opnd[o->nopnd - 1]), *vv = ir_v(fn, o->opnd[0]);
  if (!pv->def || !vv->def || fn->ops[vv->def].code != IR_OP_VIEW) return 0;
  const ir_op *c = &fn->ops[pv->def], *v = &fn->ops[vv->def];
  if (c->code != IR_OP_CMP || strcmp(ir_attr_s(c->attrs, "pred", ""), "lt")) return 0;
  ir_type t = ir_vtype(fn, c->opnd[0]);
  if (t.kind != IR_TSCALAR || !ir_elem_in_class(IR_EC_INT, t.elem) || !ir_elem_is_signed(t.elem)) return 0;
  int R = (int)o->nopnd - 3;
  for (int d = 0; d < R; d++)
    if (c->opnd[0] == o->opnd[1 + d] && c->opnd[1] == v->opnd[1 + d]) return 1;
  return 0;
}

/* ---- copy {tma = 1}: TMA boxes into a warpgroup-MMA operand buffer (the pipeline pass, docs/hopper.md) ----
 *
 * The buffer is 128-byte panels of rows (or rows of 32 or 64 bytes) with the hardware's swizzle at a
 * 1024-byte aligned address, A's 8-row groups permuted (wgmma_rows): one box per panel and row group
 * (8 rows where the groups are permuted, else all rows), each landing where cg_smem_swizzle puts its
 * first element (a group's first row has no swizzle offset). One elected lane of warp 0, when the
 * predicate holds, announces the buffer's bytes on the mbarrier and issues the boxes; elements outside
 * the tensor are zero-filled and count as bytes. */
void cg_tma_box(cg_lower *L, ir_val buf, uint32_t box[2], int *swizzle) {
  ir_type t = ir_vtype(L->fn, buf);
  uint32_t eb = (uint32_t)ir_elem_bytes(t.elem), rb = t.shape[1] * eb, w = rb < 128 ? rb : 128;
  box[0] = w / eb;
  box[1] = cg_smem_wgmma_rows(L, buf) ? 8 : t.shape[0];
  *swizzle = (int)w;
}

/* Positions the builder in a block that one lane of warp 0 runs when `also` (NULL: always) holds:
 * the warp as lane 0 holds it (uniform for ptxas), then elect.sync, so that ptxas issues each bulk
 * copy once rather than looping over the lanes that might be active. Returns the block to branch to
 * at its end. */
static LLVMBasicBlockRef begin_elected(cg_lower *L, LLVMValueRef also) {
  LLVMBuilderRef B = L->c.b;
  LLVMValueRef go = LLVMBuildICmp(B, LLVMIntEQ, cg_warp_uniform(L), cg_i32(L, L->elect_warp), "warp0");
  if (also) go = LLVMBuildAnd(B, go, also, "");
  LLVMBasicBlockRef warp0 = cg_block(L, "warp0"), one = cg_block(L, "elected"),
                    done = cg_block(L, "elected.done");
  LLVMBuildCondBr(B, go, warp0, done);
  LLVMPositionBuilderAtEnd(B, warp0);
  LLVMBuildCondBr(B, L->c.ops->hopper->elect_sync(&L->c), one, done);
  LLVMPositionBuilderAtEnd(B, one);
  return done;
}

/* A TMA copy or store (IR the pipeline pass made, or one written by hand) must move a rank-2 buffer
 * whose bytes are where the boxes put them, of a view a tensor map can describe: otherwise a clear
 * error, never silently misplaced data. */
static void check_tma(cg_lower *L, ir_opid op, ir_val view, ir_val buf) {
  const char *what = L->fn->ops[op].code == IR_OP_STORE_TMA ? "op 'store_tma'" : "op 'copy' with tma = 1";
  int sw = cg_smem_swizzle_of(L, buf), wg = cg_smem_panels(L, buf);
  if (!ir_tma_buffer_ok(ir_vtype(L->fn, buf), sw, wg)) {
    char ts[96];
    ir_type_str(ir_vtype(L->fn, buf), ts, sizeof ts);
    cg_fail(
        L, op,
        "%s needs a rank-2 buffer of 1-byte, f16, bf16, f32 or i32 elements, at most 256 rows (a multiple "
        "of 8), allocated {wgmma = 1} with rows of 32 or 64 bytes swizzled 2 or 4, or a multiple of 128 "
        "bytes swizzled 8; %s is swizzled %d%s",
        what, ts, sw, wg ? "" : ", not {wgmma = 1}");
  }
  if (!ir_tma_view_ok(L->fn, view))
    cg_fail(L, op,
            "%s needs a rank-2 view of a kernel argument with unit inner stride, dims and row stride made of "
            "the arguments by +, - and *, and no base or a base given as coordinates (k.view)",
            what);
}

/* What a TMA copy or store (view, row, col, ..., buffer buf) works with, checked. */
typedef struct {
  ir_type t;        /* the buffer's type */
  uint32_t box[2];  /* elements along a row, rows */
  LLVMValueRef map; /* the tensor-map parameter */
  LLVMValueRef row, col;
  int rank;                                  /* the map's: 2 + the base's coordinates */
  LLVMValueRef coords[2 + IR_TMA_MAXCOORDS]; /* a box's; [2..rank) the base's coordinates (i32) */
} tma_op;

static tma_op tma_begin(cg_lower *L, ir_opid op, ir_val buf) {
  ir_op *o = &L->fn->ops[op];
  tma_op x = {.t = ir_vtype(L->fn, buf)};
  int sw;
  ir_tma_coords co;
  check_tma(L, op, o->opnd[0], buf);
  ir_tma_view_coords(L->fn, o->opnd[0], &co);
  cg_tma_box(L, buf, x.box, &sw);
  x.map = cg_tmap_param(L, o->opnd[0], x.box, sw, x.t.elem);
  x.row = cg_get(L, o->opnd[1])->v[0], x.col = cg_get(L, o->opnd[2])->v[0];
  x.rank = 2 + co.n;
  for (int i = 0; i < co.n; i++)
    x.coords[2 + i] = cg_convert(L, cg_get(L, co.index[i])->v[0], ir_vtype(L->fn, co.index[i]).elem, IR_I32);
  return x;
}

static void copy_tma(cg_lower *L, ir_opid op) {
  ir_func *fn = L->fn;
  ir_op *o = &fn->ops[op];
  LLVMBuilderRef B = L->c.b;
  const cg_hopper_ops *h = L->c.ops->hopper;
  ir_val buf = o->opnd[o->nopnd - 3];
  tma_op x = tma_begin(L, op, buf);
  ir_type t = x.t;
  const uint32_t *box = x.box;
  LLVMValueRef map = x.map, row = x.row, col = x.col;
  LLVMValueRef bar = cg_get(L, o->opnd[o->nopnd - 1])->v[0], pred = cg_get(L, o->opnd[o->nopnd - 2])->v[0];
  LLVMBasicBlockRef done = begin_elected(L, pred);
  uint32_t eb = (uint32_t)ir_elem_bytes(t.elem);
  h->mbar_arrive_expect_tx(&L->c, bar, cg_i32(L, (int64_t)t.shape[0] * t.shape[1] * eb));
  LLVMTypeRef i8 = LLVMInt8TypeInContext(L->c.ctx);
  LLVMValueRef base = cg_get(L, buf)->v[0];
  for (uint32_t r = 0; r < t.shape[0]; r += box[1])
    for (uint32_t c = 0; c < t.shape[1]; c += box[0]) {
      LLVMValueRef idx[2] = {cg_i32(L, r), cg_i32(L, c)};
      LLVMValueRef at = cg_smem_swizzle(L, buf, idx);
      LLVMValueRef dst = LLVMBuildGEP2(B, i8, base, &at, 1, "tma.dst");
      x.coords[0] = LLVMBuildAdd(B, col, cg_i32(L, c), "");
      x.coords[1] = LLVMBuildAdd(B, row, cg_i32(L, r), "");
      h->tma_load(&L->c, x.rank, dst, map, x.coords, bar);
    }
  LLVMBuildBr(B, done);
  LLVMPositionBuilderAtEnd(B, done);
}

/* store_tma(view, row, col, buf): the tile the pipeline pass staged in buf (128-byte panels or rows
 * of 32 or 64 bytes, the hardware's swizzle) to global memory by TMA boxes, one a panel. Every thread
 * fences its shared writes for the async proxy, then a barrier; one elected lane of warp 0 stores the
 * boxes that meet the tensor (elements outside it are not written; a box wholly outside is left
 * out), commits them and waits until they are read, so that the buffer's bytes may be reused after
 * the next barrier. */
void cg_lower_store_tma(cg_lower *L, ir_opid op) {
  ir_func *fn = L->fn;
  ir_op *o = &fn->ops[op];
  LLVMBuilderRef B = L->c.b;
  cg_require(L, op, TG_F_TMA);
  const cg_hopper_ops *h = L->c.ops->hopper;
  ir_val buf = o->opnd[3];
  tma_op x = tma_begin(L, op, buf);
  ir_type t = x.t;
  const uint32_t *box = x.box;
  LLVMValueRef map = x.map, row = x.row, col = x.col;
  const cg_value *view = cg_get(L, o->opnd[0]);
  h->fence_proxy_async(&L->c);
  L->c.ops->barrier(&L->c);
  LLVMBasicBlockRef done = begin_elected(L, NULL);
  LLVMTypeRef i8 = LLVMInt8TypeInContext(L->c.ctx), i64 = LLVMInt64TypeInContext(L->c.ctx);
  LLVMValueRef base = cg_get(L, buf)->v[0];
  for (uint32_t r = 0; r < t.shape[0]; r += box[1])
    for (uint32_t c = 0; c < t.shape[1]; c += box[0]) {
      LLVMValueRef *coords = x.coords;
      coords[0] = LLVMBuildAdd(B, col, cg_i32(L, c), "");
      coords[1] = LLVMBuildAdd(B, row, cg_i32(L, r), "");
      LLVMValueRef meets = NULL;
      for (int d = 0; d < 2; d++) { /* -box < coordinate < dim */
        LLVMValueRef x = LLVMBuildSExt(B, coords[d], i64, "");
        LLVMValueRef after =
            LLVMBuildICmp(B, LLVMIntSGT, x, cg_i64(L, -(int64_t)box[d]), ""); /* one at a time */
        LLVMValueRef in = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSLT, x, view->v[2 - d], ""), after, "");
        meets = meets ? LLVMBuildAnd(B, meets, in, "") : in;
      }
      LLVMBasicBlockRef one = cg_block(L, "tma.st.box"), next = cg_block(L, "tma.st.next");
      LLVMBuildCondBr(B, meets, one, next);
      LLVMPositionBuilderAtEnd(B, one);
      LLVMValueRef idx[2] = {cg_i32(L, r), cg_i32(L, c)};
      LLVMValueRef at = cg_smem_swizzle(L, buf, idx);
      h->tma_store(&L->c, x.rank, map, coords, LLVMBuildGEP2(B, i8, base, &at, 1, "tma.src"));
      LLVMBuildBr(B, next);
      LLVMPositionBuilderAtEnd(B, next);
    }
  h->tma_store_commit(&L->c);
  h->tma_store_wait(&L->c, 0);
  LLVMBuildBr(B, done);
  LLVMPositionBuilderAtEnd(B, done);
}

void cg_lower_copy(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  if (ir_attr_i(o->attrs, "tma", 0)) {
    cg_require(L, op, TG_F_TMA);
    copy_tma(L, op);
    return;
  }
  ir_type last = ir_vtype(L->fn, o->opnd[o->nopnd - 1]);
  int has_pred = last.kind == IR_TSCALAR && last.elem == IR_I1;
  copy_plan p = {.buf = o->opnd[o->nopnd - 1 - has_pred]};
  p.sm = ir_vtype(L->fn, p.buf);
  int R = p.sm.rank;
  if (o->nopnd != (uint32_t)(2 + R + has_pred))
    cg_fail(L, op, "op 'copy' to a rank-%d buffer takes a view, %d offsets and the buffer", R, R);
  p.eb = ir_elem_bytes(p.sm.elem);
  p.view = cg_get(L, o->opnd[0]);
  p.view_val = o->opnd[0];
  p.loop = loop_body_of(L->fn, op);
  for (int d = 0; d < R; d++) {
    p.off_val[d] = o->opnd[1 + d];
    p.off[d] = offset_i64(L, o->opnd[1 + d], 0);
  }
  p.pred = has_pred && !pred_implied(L->fn, o) ? cg_get(L, o->opnd[o->nopnd - 1])->v[0] : NULL;
  ir_attr *pad = ir_attr_get(o->attrs, "pad");
  p.pad = cg_to_mem(L, cg_const_elem(L, p.sm.elem, pad), p.sm.elem);
  p.sbase = cg_get(L, p.buf)->v[0];
  int cp = (L->c.target->features & TG_F_CP_ASYNC) && L->c.ops->cp_async;
  int contiguous = const_one(p.view->v[2 * R]);
  p.col_major = R == 2 && !contiguous && const_one(p.view->v[1 + R]);
  if (cp && contiguous && pad_is_zero(pad))
    copy_async(L, &p, L->copy_aligned[op], L->copy_test[op]);
  else
    chunks_looped(L, &p, plain_bytes(&p), 0);
  if (!cp) return;
  L->c.ops->cp_async_commit(&L->c);
  if (!ir_attr_i(o->attrs, "async", 0)) L->c.ops->cp_async_wait(&L->c, 0);
}

/* log2 of a power of two known to divide the integer scalar v (30 at most): constants, sums,
 * differences, products and shifts of them, and the induction variable of a `for` whose start and
 * step are known multiples. Wrapping arithmetic keeps the low bits, so overflow does not matter. */
static int known_pow2(ir_func *fn, ir_val v, int depth) {
  ir_value *x = ir_v(fn, v);
  if (depth > 16 || x->type.kind != IR_TSCALAR || !ir_elem_in_class(IR_EC_INT, x->type.elem)) return 0;
  if (!x->def) {
    ir_region *r = ir_r(fn, x->arg_of);
    if (x->index != 0 || !r->parent_op || ir_o(fn, r->parent_op)->code != IR_OP_FOR) return 0;
    ir_op *f = ir_o(fn, r->parent_op);
    int lo = known_pow2(fn, f->opnd[0], depth + 1), st = known_pow2(fn, f->opnd[2], depth + 1);
    return lo < st ? lo : st;
  }
  ir_op *o = ir_o(fn, x->def);
  switch (o->code) {
  case IR_OP_CONST: {
    ir_attr *a = ir_attr_get(o->attrs, "value");
    if (!a || a->kind != IR_AINT) return 0;
    int z = a->i ? __builtin_ctzll((unsigned long long)a->i) : 30;
    return z > 30 ? 30 : z;
  }
  case IR_OP_ADD:
  case IR_OP_SUB: {
    int a = known_pow2(fn, o->opnd[0], depth + 1), b = known_pow2(fn, o->opnd[1], depth + 1);
    return a < b ? a : b;
  }
  case IR_OP_MUL: {
    int a = known_pow2(fn, o->opnd[0], depth + 1) + known_pow2(fn, o->opnd[1], depth + 1);
    return a > 30 ? 30 : a;
  }
  default: return 0;
  }
}

LLVMValueRef cg_copy_alignment_before(cg_lower *L, ir_opid op, ir_opid loop_op) {
  ir_func *fn = L->fn;
  ir_op *o = ir_o(fn, op);
  if (o->code != IR_OP_COPY || o->nopnd < 3 || ir_attr_i(o->attrs, "tma", 0)) return NULL;
  ir_reg loop = ir_o(fn, loop_op)->region[0];
  ir_type last = ir_vtype(fn, o->opnd[o->nopnd - 1]);
  int has_pred = last.kind == IR_TSCALAR && last.elem == IR_I1;
  ir_val buf = o->opnd[o->nopnd - 1 - has_pred];
  ir_type sm = ir_vtype(fn, buf);
  int R = sm.rank;
  if (sm.kind != IR_TSMEM || o->nopnd != (uint32_t)(2 + R + has_pred)) return NULL;
  if (!(L->c.target->features & TG_F_CP_ASYNC) || !L->c.ops->cp_async) return NULL;
  if (!pad_is_zero(ir_attr_get(o->attrs, "pad"))) return NULL;
  if (ir_region_encloses(fn, loop, ir_val_region(fn, o->opnd[0]))) return NULL; /* the view varies */
  copy_plan p = {.buf = buf, .sm = sm, .eb = ir_elem_bytes(sm.elem), .view = cg_get(L, o->opnd[0])};
  int cb = async_chunk(sm, p.eb);
  if (!const_one(p.view->v[2 * R]) || cb < 4 || cb < p.eb) return NULL;
  ir_val col = o->opnd[R]; /* the last offset */
  if (!ir_region_encloses(fn, loop, ir_val_region(fn, col)))
    p.off[R - 1] = cg_convert(L, cg_get(L, col)->v[0], ir_vtype(fn, col).elem, IR_I64);
  else if ((1 << known_pow2(fn, col, 0)) % (cb / p.eb) == 0)
    p.off[R - 1] = cg_i64(L, 0);
  else
    return NULL;
  /* and the last dim a multiple of the chunk: every chunk then lies wholly inside it or outside */
  LLVMValueRef dim = p.view->v[R], n = cg_i64(L, cb / p.eb - 1);
  LLVMValueRef whole = LLVMBuildICmp(L->c.b, LLVMIntEQ, LLVMBuildAnd(L->c.b, dim, n, ""), cg_i64(L, 0), "");
  return LLVMBuildAnd(L->c.b, aligned_to(L, &p, cb), whole, "");
}

/* async_wait {pending = N}: this thread's copies are complete except the N most recent groups. */
void cg_lower_async_wait(cg_lower *L, ir_opid op) {
  int n = (int)ir_attr_i(L->fn->ops[op].attrs, "pending", 0);
  if ((L->c.target->features & TG_F_CP_ASYNC) && L->c.ops->cp_async_wait) L->c.ops->cp_async_wait(&L->c, n);
}

/* mbar_init (thread 0: one arrival per phase, then the proxy fence so that the copies' completions see
 * it; the pipeline pass puts a barrier after), mbar_wait (every thread spins on try_wait for the
 * parity), mbar_inval (thread 0, once every thread is done with it). */
void cg_lower_mbar(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  LLVMBuilderRef B = L->c.b;
  cg_require(L, op, TG_F_TMA);
  const cg_hopper_ops *h = L->c.ops->hopper;
  LLVMValueRef bar = cg_get(L, o->opnd[0])->v[0];
  if (o->code == IR_OP_MBAR_WAIT) {
    /* {elected}: only the lane that issues TMA boxes (copy_tma's) waits; the others go on */
    LLVMBasicBlockRef after = ir_attr_i(o->attrs, "elected", 0) ? begin_elected(L, NULL) : NULL;
    LLVMBasicBlockRef spin = cg_block(L, "mbar.wait"), done = cg_block(L, "mbar.done");
    LLVMBuildBr(B, spin);
    LLVMPositionBuilderAtEnd(B, spin);
    LLVMBuildCondBr(B, h->mbar_try_wait(&L->c, bar, cg_get(L, o->opnd[1])->v[0]), done, spin);
    LLVMPositionBuilderAtEnd(B, done);
    if (after) {
      LLVMBuildBr(B, after);
      LLVMPositionBuilderAtEnd(B, after);
    }
    return;
  }
  if (o->code == IR_OP_MBAR_ARRIVE) { /* every thread (where the predicate holds) arrives once */
    LLVMBasicBlockRef go = NULL, done = NULL;
    if (o->nopnd > 1) {
      go = cg_block(L, "mbar.arrive"), done = cg_block(L, "mbar.arrived");
      LLVMBuildCondBr(B, cg_get(L, o->opnd[1])->v[0], go, done);
      LLVMPositionBuilderAtEnd(B, go);
    }
    h->mbar_arrive(&L->c, bar);
    if (done) {
      LLVMBuildBr(B, done);
      LLVMPositionBuilderAtEnd(B, done);
    }
    return;
  }
  LLVMBasicBlockRef one = cg_block(L, "mbar.t0"), done = cg_block(L, "mbar.done");
  LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntEQ, L->tid, cg_i32(L, 0), ""), one, done);
  LLVMPositionBuilderAtEnd(B, one);
  if (o->code == IR_OP_MBAR_INIT) {
    h->mbar_init(&L->c, bar, cg_i32(L, (int)ir_attr_i(o->attrs, "count", 1)));
    h->fence_proxy_async(&L->c);
  } else {
    h->mbar_inval(&L->c, bar);
  }
  LLVMBuildBr(B, done);
  LLVMPositionBuilderAtEnd(B, done);
}

void cg_lower_barrier(cg_lower *L, ir_opid op) {
  /* the scratch reuses the buffers after this barrier: no copy may still be landing in them */
  if (op == L->dead_barrier && (L->c.target->features & TG_F_CP_ASYNC) && L->c.ops->cp_async_wait)
    L->c.ops->cp_async_wait(&L->c, 0);
  L->c.ops->barrier(&L->c);
}
