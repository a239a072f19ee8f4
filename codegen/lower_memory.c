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
 * flattened buffer), so that global reads coalesce.
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

/* Per dim and per distinct coordinate: the in-bounds test and the address term. */
typedef struct {
  LLVMValueRef *mask[IR_MAXRANK];
  LLVMValueRef *term[IR_MAXRANK];
} dim_terms;

/* For a tile laid out as y at the offsets opnd[1..rank] of view operand opnd[0]. */
static void view_terms(cg_lower *L, ir_opid op, const cg_lay *y, dim_terms *dt) {
  ir_op *o = &L->fn->ops[op];
  cg_value *vw = cg_get(L, o->opnd[0]);
  const cg_thread_lay *t = cg_lay_thread(L, y);
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx);
  for (int d = 0; d < y->rank; d++) {
    LLVMValueRef off =
        cg_convert(L, cg_get(L, o->opnd[1 + d])->v[0], ir_vtype(L->fn, o->opnd[1 + d]).elem, IR_I64);
    LLVMValueRef dim = vw->v[1 + d], stride = vw->v[1 + y->rank + d];
    LLVMValueRef base = LLVMBuildAdd(B, off, LLVMBuildZExt(B, t->off[d], i64, ""), "");
    dt->mask[d] = ir_alloc(L->A, y->per[d] * sizeof(LLVMValueRef));
    dt->term[d] = ir_alloc(L->A, y->per[d] * sizeof(LLVMValueRef));
    for (uint32_t e = 0; e < y->per[d]; e++) {
      LLVMValueRef idx = LLVMBuildAdd(B, base, cg_i64(L, cg_lay_const(y, d, e)), "");
      LLVMValueRef lo = LLVMBuildICmp(B, LLVMIntSGE, idx, cg_i64(L, 0), "");
      LLVMValueRef hi = LLVMBuildICmp(B, LLVMIntSLT, idx, dim, "");
      dt->mask[d][e] = LLVMBuildAnd(B, lo, hi, "");
      dt->term[d][e] = LLVMBuildMul(B, idx, stride, "");
    }
  }
}

/* Address and in-bounds predicate of element i. */
static LLVMValueRef element_addr(cg_lower *L, const cg_lay *y, const dim_terms *dt, LLVMValueRef base,
                                 ir_elem el, uint32_t i, LLVMValueRef *mask) {
  uint32_t e[IR_MAXRANK];
  cg_lay_multi(y, i, e);
  LLVMValueRef idx = dt->term[0][e[0]];
  *mask = dt->mask[0][e[0]];
  for (int d = 1; d < y->rank; d++) {
    idx = LLVMBuildAdd(L->c.b, idx, dt->term[d][e[d]], "");
    *mask = LLVMBuildAnd(L->c.b, *mask, dt->mask[d][e[d]], "");
  }
  return LLVMBuildGEP2(L->c.b, cg_elem_type(L, el), base, &idx, 1, "");
}

void cg_lower_load(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type t = ir_vtype(L->fn, o->res[0]);
  cg_lay y;
  cg_lay_init(&y, t);
  dim_terms dt;
  view_terms(L, op, &y, &dt);
  LLVMValueRef base = cg_get(L, o->opnd[0])->v[0];
  LLVMValueRef pad = cg_const_elem(L, t.elem, ir_attr_get(o->attrs, "pad"));
  LLVMValueRef *out = cg_def(L, o->res[0], y.n);
  for (uint32_t i = 0; i < y.n; i++) {
    LLVMValueRef mask, p = element_addr(L, &y, &dt, base, t.elem, i, &mask);
    out[i] = L->c.ops->load(&L->c, CG_GLOBAL, cg_elem_type(L, t.elem), p, mask, pad);
  }
}

void cg_lower_store(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_val tile = o->opnd[o->nopnd - 1];
  ir_type t = ir_vtype(L->fn, tile);
  cg_lay y;
  cg_lay_init(&y, t);
  dim_terms dt;
  view_terms(L, op, &y, &dt);
  LLVMValueRef base = cg_get(L, o->opnd[0])->v[0];
  LLVMValueRef owner = cg_lay_thread(L, &y)->owner;
  cg_value *v = cg_get(L, tile);
  for (uint32_t i = 0; i < y.n; i++) {
    LLVMValueRef mask, p = element_addr(L, &y, &dt, base, t.elem, i, &mask);
    if (owner) mask = LLVMBuildAnd(L->c.b, mask, owner, "");
    L->c.ops->store(&L->c, CG_GLOBAL, p, v->v[i], mask);
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
  LLVMTypeRef i64 = LLVMInt64TypeInContext(L->c.ctx), ety = cg_elem_type(L, sm.elem);
  cg_value *vw = cg_get(L, o->opnd[0]);
  LLVMValueRef *flat = cg_lay_coords(L, &y);
  LLVMValueRef owner = cg_lay_thread(L, &y)->owner;
  LLVMValueRef pad = cg_const_elem(L, sm.elem, ir_attr_get(o->attrs, "pad"));
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
