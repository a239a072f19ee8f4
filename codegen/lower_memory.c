/*
 * lower_memory.c - views, global loads and stores, shared buffers, and global -> shared copies.
 *
 * A view lowers to its base pointer, its dims and its strides (i64). Element (c_0, ..., c_R-1) of a
 * tile at offsets (o_d) is at base + sum((o_d + c_d) * stride_d) and inside the view when every
 * 0 <= o_d + c_d < dim_d; a load yields `pad` outside, a store skips it. The index, mask and address
 * term are computed once per distinct coordinate along each dim and combined per element.
 *
 * Shared buffers sit at shared_base + the planned `offset`, row-major. A copy spreads the buffer
 * over the block's threads, 16 bytes per thread per step (a rank-1 blocked layout over the
 * flattened buffer), so that global reads coalesce. In memory an i1 element is a byte (0 or 1).
 */
#include "cg.h"

static int log2_u32(uint32_t x) { return 31 - __builtin_clz(x); }

void cg_lower_view(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  int r = ir_vtype(L->fn, o->res[0]).rank;
  if (o->nopnd != (uint32_t)(1 + 2 * r))
    cg_fail(L, op, "op 'view' of rank %d takes a pointer, %d dims and %d strides", r, r, r);
  LLVMValueRef *out = cg_def(L, o->res[0], o->nopnd);
  out[0] = cg_get(L, o->opnd[0])->v[0];
  for (uint32_t k = 1; k < o->nopnd; k++)
    out[k] = cg_convert(L, cg_get(L, o->opnd[k])->v[0], ir_vtype(L->fn, o->opnd[k]).elem, IR_I64);
}

/* Addressing of a tile laid out as y at the view's offsets. The last dim f is the "column": each
 * combination of the other dims gets one row pointer (base + the thread's first column), and an
 * element is its row pointer plus a constant column step times stride_f, which folds to an
 * immediate offset when the stride is the constant 1. Masks are per dim and per distinct
 * coordinate, and-ed per element. */
typedef struct {
  const cg_lay *y;
  LLVMValueRef *mask[IR_MAXRANK]; /* [d][e]: 0 <= coordinate < dim */
  LLVMValueRef *term[IR_MAXRANK]; /* [d][e], d < f: (offset + coordinate) * stride */
  LLVMValueRef *col;              /* [e]: column step times stride_f */
  LLVMValueRef *rows;             /* row pointers, indexed by the element's index with e[f] = 0 */
  ir_elem elem;
} tile_addr;

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
  int f = y->rank - 1;
  ta->y = y;
  ta->elem = el;
  LLVMValueRef first[IR_MAXRANK];
  for (int d = 0; d <= f; d++) dim_terms(L, op, ta, d, &first[d]);
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
    for (int d = 0; d < f; d++) idx = LLVMBuildAdd(B, idx, ta->term[d][e[d]], "");
    ta->rows[i] = LLVMBuildGEP2(B, cg_mem_type(L, el), vw->v[0], &idx, 1, "");
  }
}

/* Address and in-bounds predicate of element i. */
static LLVMValueRef tile_addr_at(cg_lower *L, const tile_addr *ta, uint32_t i, LLVMValueRef *mask) {
  const cg_lay *y = ta->y;
  int f = y->rank - 1;
  uint32_t e[IR_MAXRANK];
  cg_lay_multi(y, i, e);
  *mask = ta->mask[f][e[f]];
  for (int d = 0; d < f; d++) *mask = LLVMBuildAnd(L->c.b, *mask, ta->mask[d][e[d]], "");
  LLVMValueRef row = ta->rows[i - e[f] * y->step[f]];
  return LLVMBuildGEP2(L->c.b, cg_mem_type(L, ta->elem), row, &ta->col[e[f]], 1, "");
}

/* Elements per vector access along the last dim (1: none): the device ops have the hooks, the view's
 * last stride is the constant 1, the element is 16, 32 or 64 bits, and the thread holds runs of at
 * least 2 consecutive elements. At most 16 bytes and 4 elements. */
static uint32_t vec_width(cg_lower *L, const cg_lay *y, ir_elem e, ir_val view) {
  int bits = ir_elem_bits(e);
  LLVMValueRef stride = cg_get(L, view)->v[2 * y->rank];
  if (!L->c.ops->load_vec || !L->c.ops->store_vec || (bits != 16 && bits != 32 && bits != 64)) return 1;
  if (!LLVMIsAConstantInt(stride) || LLVMConstIntGetSExtValue(stride) != 1) return 1;
  uint32_t n = y->run[y->rank - 1], max = 128 / (uint32_t)bits < 4 ? 128 / (uint32_t)bits : 4;
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
  uint32_t nv = vec_width(L, &y, t.elem, o->opnd[0]), f = (uint32_t)y.rank - 1, e[IR_MAXRANK];
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
  uint32_t nv = vec_width(L, &y, t.elem, o->opnd[0]), f = (uint32_t)y.rank - 1, e[IR_MAXRANK];
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
}

/* ---- shared memory ---- */

void cg_lower_alloc_shared(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  LLVMValueRef off = cg_i32(L, ir_attr_i(o->attrs, "offset", 0));
  LLVMValueRef base = L->c.ops->shared_base(&L->c);
  cg_def(L, o->res[0], 1)[0] = LLVMBuildGEP2(L->c.b, LLVMInt8TypeInContext(L->c.ctx), base, &off, 1, "smem");
}

void cg_lower_load_shared(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type t = ir_vtype(L->fn, o->res[0]);
  cg_lay y;
  cg_lay_init(&y, t);
  cg_tile_from_shared(L, &y, t.elem, cg_get(L, o->opnd[0])->v[0], cg_def(L, o->res[0], y.n));
}

void cg_lower_store_shared(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type t = ir_vtype(L->fn, o->opnd[1]);
  cg_lay y;
  cg_lay_init(&y, t);
  cg_tile_to_shared(L, &y, t.elem, cg_get(L, o->opnd[1])->v, cg_get(L, o->opnd[0])->v[0]);
}

/* The flattened buffer as a rank-1 tile: 16 bytes per thread per step, lanes then warps. */
static void flat_layout(cg_lower *L, ir_type sm, cg_lay *y) {
  uint32_t n = ir_type_numel(sm);
  uint32_t v = 16 / (uint32_t)cg_elem_bytes(sm.elem);
  ir_type t = ir_t_tile(sm.elem, 1, &n);
  t.layout = (ir_layout){
      .kind = IR_LBLOCKED, .spt = {(uint8_t)(v < n ? v : n)}, .tpw = {32}, .wpc = {(uint8_t)L->warps}};
  cg_lay_init(y, t);
}

void cg_lower_copy(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_val smv = o->opnd[o->nopnd - 1];
  ir_type sm = ir_vtype(L->fn, smv);
  if (o->nopnd != (uint32_t)(2 + sm.rank))
    cg_fail(L, op, "op 'copy' to a rank-%d buffer takes a view, %d offsets and the buffer", sm.rank, sm.rank);
  cg_lay y;
  flat_layout(L, sm, &y);
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx), ety = cg_mem_type(L, sm.elem);
  cg_value *vw = cg_get(L, o->opnd[0]);
  LLVMValueRef *flat = cg_lay_coords(L, &y);
  LLVMValueRef owner = cg_lay_thread(L, &y)->owner;
  LLVMValueRef pad = cg_to_mem(L, cg_const_elem(L, sm.elem, ir_attr_get(o->attrs, "pad")), sm.elem);
  LLVMValueRef sbase = cg_get(L, smv)->v[0];
  LLVMValueRef offs[IR_MAXRANK];
  for (int d = 0; d < sm.rank; d++)
    offs[d] = cg_convert(L, cg_get(L, o->opnd[1 + d])->v[0], ir_vtype(L->fn, o->opnd[1 + d]).elem, IR_I64);
  for (uint32_t i = 0; i < y.n; i++) {
    LLVMValueRef idx = cg_i64(L, 0), mask = NULL;
    int shift = 0;
    for (int d = sm.rank - 1; d >= 0; d--) {
      LLVMValueRef c =
          LLVMBuildAnd(B, LLVMBuildLShr(B, flat[i], cg_i32(L, shift), ""), cg_i32(L, sm.shape[d] - 1), "");
      shift += log2_u32(sm.shape[d]);
      LLVMValueRef g = LLVMBuildAdd(B, offs[d], LLVMBuildZExt(B, c, i64, ""), "");
      LLVMValueRef in = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSGE, g, cg_i64(L, 0), ""),
                                     LLVMBuildICmp(B, LLVMIntSLT, g, vw->v[1 + d], ""), "");
      mask = mask ? LLVMBuildAnd(B, mask, in, "") : in;
      idx = LLVMBuildAdd(B, idx, LLVMBuildMul(B, g, vw->v[1 + sm.rank + d], ""), "");
    }
    LLVMValueRef gp = LLVMBuildGEP2(B, ety, vw->v[0], &idx, 1, "");
    LLVMValueRef x =
        L->c.ops->load(&L->c, CG_GLOBAL, ety, gp, owner ? LLVMBuildAnd(B, mask, owner, "") : mask, pad);
    LLVMValueRef sp = LLVMBuildGEP2(B, ety, sbase, &flat[i], 1, "");
    L->c.ops->store(&L->c, CG_SHARED, sp, x, owner);
  }
}
