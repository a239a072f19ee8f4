/*
 * lower_layout.c - blocked layouts seen from one thread, the shared scratch area, convert_layout
 * and broadcast.
 *
 * A thread's id splits into lane and warp; each splits across dims in layout order (lane bits for
 * order[0] lowest). Along dim d the thread's position is t_d = warp_d * tpw[d] + lane_d and its first
 * coordinate t_d * spt[d]. Where the layout tile is larger than the shape, coordinates wrap modulo
 * the shape (replication); the first holder of each element is the thread with t_d * spt[d] <
 * shape[d] in every dim, and only that thread writes the element to memory, so that replicated
 * values never race.
 *
 * Scratch: shared memory after the planned buffers, reused by every op that needs it (reductions
 * across warps, layout conversions, dot operands). Each use is write, barrier, read, barrier, so
 * uses never overlap; the kernel's scratch size is the largest use.
 */
#include <string.h>

#include "../target/smem_banks.h"
#include "cg.h"

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
int cg_log2(uint32_t x) { return 31 - __builtin_clz(x); }

/* y->wpc, wshift, wlow (cg.h). */
static void init_warps(cg_lay *y) {
  const ir_layout *l = &y->l;
  int s = 0;
  for (int j = 0; j < y->rank; j++) {
    int d = l->order[j];
    y->wpc[d] = l->wpc[d];
    y->wshift[d] = (uint8_t)s;
    s += cg_log2(l->wpc[d]);
  }
  if (l->kind == IR_LMMA_A) { /* warp_m in the bits above warp_n's */
    y->wpc[1] = 1;
    y->wshift[0] = y->wlow = (uint8_t)cg_log2(l->wpc[1]);
  } else if (l->kind == IR_LMMA_B) {
    y->wpc[0] = 1;
    y->wshift[1] = 0;
  }
}

void cg_lay_init(cg_lay *y, ir_type t) {
  memset(y, 0, sizeof *y);
  y->rank = t.rank;
  y->l = t.layout;
  init_warps(y);
  uint32_t acc = 1;
  for (int d = 0; d < t.rank; d++) {
    y->shape[d] = t.shape[d];
    y->run[d] = min_u32(t.layout.spt[d], t.shape[d]);
    y->tile[d] = (uint32_t)t.layout.spt[d] * t.layout.tpw[d] * y->wpc[d];
    y->per[d] = y->run[d] * (t.shape[d] > y->tile[d] ? t.shape[d] / y->tile[d] : 1);
  }
  for (int j = 0; j < t.rank; j++) {
    int d = t.layout.order[j];
    y->step[d] = acc;
    acc *= y->per[d];
  }
  y->n = acc;
}

int cg_lay_same(const cg_lay *a, const cg_lay *b) {
  if (a->rank != b->rank || a->wlow != b->wlow) return 0;
  for (int d = 0; d < a->rank; d++)
    if (a->l.spt[d] != b->l.spt[d] || a->l.tpw[d] != b->l.tpw[d] || a->l.order[d] != b->l.order[d] ||
        a->wpc[d] != b->wpc[d] || a->wshift[d] != b->wshift[d])
      return 0;
  return 1;
}

uint32_t cg_lay_index(const cg_lay *y, const uint32_t *e) {
  uint32_t i = 0;
  for (int d = 0; d < y->rank; d++) i += e[d] * y->step[d];
  return i;
}

void cg_lay_multi(const cg_lay *y, uint32_t i, uint32_t *e) {
  for (int d = 0; d < y->rank; d++) e[d] = (i / y->step[d]) % y->per[d];
}

uint32_t cg_lay_const(const cg_lay *y, int d, uint32_t ed) {
  return (ed / y->run[d]) * y->tile[d] + ed % y->run[d];
}

/* ---- per-thread values of a layout ---- */

static cg_thread_lay *find_thread_lay(cg_lower *L, const cg_lay *y) {
  for (int i = 0; i < L->ntl; i++) {
    cg_thread_lay *t = &L->tl[i];
    if (t->rank == y->rank && !memcmp(&t->l, &y->l, sizeof t->l) &&
        !memcmp(t->shape, y->shape, sizeof t->shape))
      return t;
  }
  if (L->ntl == L->captl) {
    int cap = L->captl ? 2 * L->captl : 16;
    cg_thread_lay *n = ir_alloc(L->A, cap * sizeof *n);
    if (L->ntl) memcpy(n, L->tl, L->ntl * sizeof *n);
    L->tl = n;
    L->captl = cap;
  }
  cg_thread_lay *t = &L->tl[L->ntl++];
  memset(t, 0, sizeof *t);
  t->l = y->l;
  t->rank = y->rank;
  memcpy(t->shape, y->shape, sizeof t->shape);
  return t;
}

int cg_lay_lane_shift(const cg_lay *y, int d) {
  int s = 0;
  for (int j = 0; j < y->rank && y->l.order[j] != d; j++) s += cg_log2(y->l.tpw[y->l.order[j]]);
  return s;
}

void cg_lay_pos(cg_lower *L, const cg_lay *y, int d, LLVMValueRef *lane, LLVMValueRef *warp) {
  LLVMBuilderRef b = L->c.b;
  *lane = LLVMBuildAnd(b, LLVMBuildLShr(b, L->lane, cg_i32(L, cg_lay_lane_shift(y, d)), ""),
                       cg_i32(L, y->l.tpw[d] - 1), "");
  *warp =
      LLVMBuildAnd(b, LLVMBuildLShr(b, L->warp, cg_i32(L, y->wshift[d]), ""), cg_i32(L, y->wpc[d] - 1), "");
}

LLVMValueRef cg_lay_owner_dim(cg_lower *L, const cg_lay *y, int d) {
  if (y->tile[d] <= y->shape[d]) return NULL;
  LLVMValueRef lane, warp;
  cg_lay_pos(L, y, d, &lane, &warp);
  LLVMBuilderRef b = L->c.b;
  LLVMValueRef pos = LLVMBuildAdd(b, LLVMBuildMul(b, warp, cg_i32(L, y->l.tpw[d]), ""), lane, "");
  LLVMValueRef first = LLVMBuildMul(b, pos, cg_i32(L, y->l.spt[d]), "");
  return LLVMBuildICmp(b, LLVMIntULT, first, cg_i32(L, y->shape[d]), "");
}

/* The warps whose ids have zeros in the copy-making bits: the low wlow bits and those above the
 * layout's warps. */
LLVMValueRef cg_lay_warps_owner(cg_lower *L, const cg_lay *y) {
  uint32_t nwarps = 1;
  for (int d = 0; d < y->rank; d++) nwarps *= y->wpc[d];
  nwarps <<= y->wlow;
  LLVMValueRef own = NULL;
  if (y->wlow)
    own = LLVMBuildICmp(L->c.b, LLVMIntEQ, LLVMBuildAnd(L->c.b, L->warp, cg_i32(L, (1 << y->wlow) - 1), ""),
                        cg_i32(L, 0), "");
  if (nwarps >= (uint32_t)L->warps) return own;
  return cg_and_pred(L, own, LLVMBuildICmp(L->c.b, LLVMIntULT, L->warp, cg_i32(L, nwarps), ""));
}

LLVMValueRef cg_and_pred(cg_lower *L, LLVMValueRef a, LLVMValueRef b) {
  if (!a) return b;
  if (!b) return a;
  return LLVMBuildAnd(L->c.b, a, b, "");
}

/* Fills t->off and t->owner (in the prologue). */
static void compute_thread_lay(cg_lower *L, const cg_lay *y, cg_thread_lay *t) {
  LLVMBuilderRef b = L->c.b;
  for (int d = 0; d < y->rank; d++) {
    LLVMValueRef lane, warp;
    cg_lay_pos(L, y, d, &lane, &warp);
    LLVMValueRef pos = LLVMBuildAdd(b, LLVMBuildMul(b, warp, cg_i32(L, y->l.tpw[d]), ""), lane, "");
    LLVMValueRef first = LLVMBuildMul(b, pos, cg_i32(L, y->l.spt[d]), "");
    t->off[d] = y->tile[d] > y->shape[d] ? LLVMBuildAnd(b, first, cg_i32(L, y->shape[d] - 1), "") : first;
    t->owner = cg_and_pred(L, t->owner, cg_lay_owner_dim(L, y, d));
  }
  t->owner = cg_and_pred(L, t->owner, cg_lay_warps_owner(L, y));
}

const cg_thread_lay *cg_lay_thread(cg_lower *L, const cg_lay *y) {
  cg_thread_lay *t = find_thread_lay(L, y);
  if (t->off[0]) return t;
  LLVMBasicBlockRef saved;
  cg_enter_prologue(L, &saved);
  compute_thread_lay(L, y, t);
  cg_leave_prologue(L, saved);
  return t;
}

LLVMValueRef *cg_lay_coords(cg_lower *L, const cg_lay *y) {
  const cg_thread_lay *t = cg_lay_thread(L, y);
  LLVMValueRef *c = ir_alloc(L->A, (size_t)y->n * y->rank * sizeof *c);
  uint32_t e[IR_MAXRANK];
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, e);
    for (int d = 0; d < y->rank; d++)
      c[i * y->rank + d] = LLVMBuildAdd(L->c.b, t->off[d], cg_i32(L, cg_lay_const(y, d, e[d])), "");
  }
  return c;
}

/* ---- scratch and tiles in shared memory ---- */

LLVMValueRef cg_scratch(cg_lower *L, int bytes) {
  int dead = L->dead_from && L->top >= L->dead_from;
  if (dead && bytes > L->dead_max) L->dead_max = bytes;
  if (!dead && bytes > L->scratch_max) L->scratch_max = bytes;
  LLVMValueRef base = L->c.ops->shared_base(&L->c);
  LLVMValueRef off = cg_i32(L, dead ? 0 : L->scratch_base);
  return LLVMBuildGEP2(L->c.b, LLVMInt8TypeInContext(L->c.ctx), base, &off, 1, "scratch");
}

/* Row-major index of a thread's elements in a buffer of shape mem (dims of size 1 broadcast): the
 * thread's part, computed once, plus a constant per element, so that every access is one base
 * register plus an immediate offset. */
LLVMValueRef cg_buffer_base(cg_lower *L, const cg_lay *y, const uint32_t *mem) {
  const cg_thread_lay *t = cg_lay_thread(L, y);
  LLVMValueRef idx = cg_i32(L, 0);
  uint32_t stride = 1;
  for (int d = y->rank - 1; d >= 0; d--) {
    if (mem[d] > 1)
      idx = LLVMBuildAdd(L->c.b, idx, LLVMBuildMul(L->c.b, t->off[d], cg_i32(L, stride), ""), "");
    stride *= mem[d];
  }
  return idx;
}

uint32_t cg_buffer_const(const cg_lay *y, uint32_t i, const uint32_t *mem) {
  uint32_t e[IR_MAXRANK], idx = 0, stride = 1;
  cg_lay_multi(y, i, e);
  for (int d = y->rank - 1; d >= 0; d--) {
    if (mem[d] > 1) idx += cg_lay_const(y, d, e[d]) * stride;
    stride *= mem[d];
  }
  return idx;
}

/* Pointer to element i of a row-major buffer at base, given the thread's base pointer tp. */
static LLVMValueRef buffer_elem(cg_lower *L, LLVMTypeRef ty, LLVMValueRef tp, const cg_lay *y, uint32_t i,
                                const uint32_t *mem) {
  LLVMValueRef c = cg_i32(L, cg_buffer_const(y, i, mem));
  return LLVMBuildGEP2(L->c.b, ty, tp, &c, 1, "");
}

/* Elements v[0], v[step], ... v[(w - 1) step] of a thread from or to shared memory at ptr: one access
 * of w elements (w > 1 as cg_wide_type's integer or vector), stored under `owner` when not NULL. */
void cg_shared_group(cg_lower *L, ir_elem e, uint32_t w, LLVMValueRef ptr, LLVMValueRef *v, uint32_t step,
                     int store, LLVMValueRef owner) {
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef mt = cg_mem_type(L, e);
  if (w == 1) {
    if (store)
      L->c.ops->store(&L->c, CG_SHARED, ptr, cg_to_mem(L, v[0], e), owner);
    else
      v[0] = cg_from_mem(L, L->c.ops->load(&L->c, CG_SHARED, mt, ptr, NULL, NULL), e);
    return;
  }
  LLVMTypeRef wt = cg_wide_type(L, e, w), vt = LLVMVectorType(mt, w);
  if (store) {
    LLVMValueRef x = LLVMGetUndef(vt);
    for (uint32_t k = 0; k < w; k++)
      x = LLVMBuildInsertElement(B, x, cg_to_mem(L, v[k * step], e), cg_i32(L, (int)k), "");
    L->c.ops->store(&L->c, CG_SHARED, ptr, LLVMBuildBitCast(B, x, wt, ""), owner);
    return;
  }
  LLVMValueRef x = LLVMBuildBitCast(B, L->c.ops->load(&L->c, CG_SHARED, wt, ptr, NULL, NULL), vt, "");
  for (uint32_t k = 0; k < w; k++)
    v[k * step] = cg_from_mem(L, LLVMBuildExtractElement(B, x, cg_i32(L, (int)k), ""), e);
}

/* Elements per store of a thread in layout y into a row-major buffer of shape mem: its run along the
 * last dim up to 16 bytes; under the owner predicate (`owned`) one, unless wide_owned. */
static uint32_t store_elems(const cg_lay *y, int eb, const uint32_t *mem, int owned, int wide_owned) {
  uint32_t f = (uint32_t)y->rank - 1;
  uint32_t w = (eb == 1 || eb == 2 || eb == 4) && (!owned || wide_owned) ? cg_wide_elems(y, (int)f, eb) : 1;
  while (w > 1 && mem[f] % w) w /= 2;
  return w;
}

/* The elements per load of the row-major path over mem (tile_from_buffer). */
static uint32_t load_elems(const cg_lay *y, int eb, const uint32_t *mem) {
  uint32_t f = (uint32_t)y->rank - 1;
  uint32_t w = (eb == 1 || eb == 2 || eb == 4) && mem[f] > 1 ? cg_wide_elems(y, (int)f, eb) : 1;
  while (w > 1 && mem[f] % w) w /= 2;
  return w;
}

/* cg_tile_to_buffer; wide_owned: runs under the owner predicate are wide accesses too. */
static void tile_to_buffer(cg_lower *L, const cg_lay *y, ir_elem e, LLVMValueRef *v, LLVMValueRef base,
                           const uint32_t *mem, int wide_owned) {
  LLVMValueRef owner = cg_lay_thread(L, y)->owner;
  LLVMTypeRef ty = cg_mem_type(L, e);
  LLVMValueRef tb = cg_buffer_base(L, y, mem);
  LLVMValueRef tp = LLVMBuildGEP2(L->c.b, ty, base, &tb, 1, "");
  /* runs along the last dim as one access each, up to 16 bytes; element by element under the owner
   * predicate unless wide_owned (wide predicated stores here made bitgemm spill on sm_80: a_signed,
   * act = f16, 16 rows, G = 256; through_scratch takes them where they save wavefronts) */
  int f = y->rank - 1;
  uint32_t w = store_elems(y, ir_elem_bytes(e), mem, owner != NULL, wide_owned), ix[IR_MAXRANK];
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ix);
    if (ix[f] % w == 0)
      cg_shared_group(L, e, w, buffer_elem(L, ty, tp, y, i, mem), &v[i], y->step[f], 1, owner);
  }
}

void cg_tile_to_buffer(cg_lower *L, const cg_lay *y, ir_elem e, LLVMValueRef *v, LLVMValueRef base,
                       const uint32_t *mem) {
  tile_to_buffer(L, y, e, v, base, mem, 0);
}

void cg_tile_to_shared(cg_lower *L, const cg_lay *y, ir_elem e, LLVMValueRef *v, LLVMValueRef base) {
  cg_tile_to_buffer(L, y, e, v, base, y->shape);
}

/* Loads y's elements from a row-major buffer of shape mem (y->shape, or a shape with dims of size 1
 * that broadcast). */
static void tile_from_buffer(cg_lower *L, const cg_lay *y, ir_elem e, LLVMValueRef base, const uint32_t *mem,
                             LLVMValueRef *out) {
  LLVMTypeRef ty = cg_mem_type(L, e);
  LLVMValueRef tb = cg_buffer_base(L, y, mem);
  LLVMValueRef tp = LLVMBuildGEP2(L->c.b, ty, base, &tb, 1, "");
  /* runs along the last dim as one access each, up to 16 bytes, where that dim is not broadcast */
  int f = y->rank - 1;
  uint32_t w = load_elems(y, ir_elem_bytes(e), mem), ix[IR_MAXRANK];
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ix);
    if (ix[f] % w == 0)
      cg_shared_group(L, e, w, buffer_elem(L, ty, tp, y, i, mem), &out[i], y->step[f], 0, NULL);
  }
}

/* ---- ops ---- */

static int same_layout(const cg_lay *a, const cg_lay *b) { return cg_lay_same(a, b); }

/* ---- wide, swizzled staging of rank-2 tiles ---- */

/* Elements per access of a thread in layout y along dim d: the largest power of two that divides
 * its run, its per-thread size and the tile's extent, at most 16 bytes. */
uint32_t cg_wide_elems(const cg_lay *y, int d, int eb) {
  uint32_t n = 16u / (uint32_t)eb;
  while (n > 1 && (y->run[d] % n || y->l.spt[d] % n || y->shape[d] % n)) n /= 2;
  return n;
}

/* Byte offset of element (r, c) in the staging area: rows of rb bytes, 16-byte chunk q of row r
 * stored at chunk q ^ ((r / G) % N) (G = max(1, 128 / rb), N = min(8, rb / 16)), as the shared
 * buffers' swizzle does: 8 rows' same chunk fall in 8 distinct bank groups. Not the keys of 4-byte
 * buffers (smem_swizzle.c): with them f32 read back in an accumulator layout's pairs would not
 * conflict, but fftconv then spilled on sm_90a (N = 2048, kspec = given, 8 warps). */
static LLVMValueRef staged_at(cg_lower *L, LLVMValueRef r, LLVMValueRef c, uint32_t rb, int eb, uint32_t u) {
  LLVMBuilderRef B = L->c.b;
  uint32_t cpr = rb / 16, g = rb >= 128 ? 1 : 128 / rb, n = cpr < 8 ? cpr : 8;
  LLVMValueRef byte = LLVMBuildMul(B, c, cg_i32(L, eb), "");
  LLVMValueRef q = LLVMBuildLShr(B, byte, cg_i32(L, 4), ""), in = LLVMBuildAnd(B, byte, cg_i32(L, 15), "");
  LLVMValueRef line = LLVMBuildMul(B, LLVMBuildUDiv(B, r, cg_i32(L, (int)g), ""), cg_i32(L, (int)u), "");
  LLVMValueRef x = LLVMBuildAnd(B, line, cg_i32(L, (int)n - 1), "");
  q = LLVMBuildXor(B, q, x, "");
  LLVMValueRef qb = LLVMBuildShl(B, q, cg_i32(L, 4), ""); /* one at a time: C leaves argument order open */
  return LLVMBuildAdd(B, LLVMBuildAdd(B, LLVMBuildMul(B, r, cg_i32(L, (int)rb), ""), qb, ""), in, "");
}

/* The memory type of n elements of e accessed at once: an integer up to 8 bytes, else <4 x i32>. */
LLVMTypeRef cg_wide_type(cg_lower *L, ir_elem e, uint32_t n) {
  uint32_t bits = n * 8u * (uint32_t)ir_elem_bytes(e); /* memory bits: an i1 is a byte */
  if (bits <= 64) return LLVMIntTypeInContext(L->c.ctx, bits);
  return LLVMVectorType(LLVMInt32TypeInContext(L->c.ctx), bits / 32);
}

/* Whether a conversion can go through scratch with accesses of up to 16 bytes and the swizzle of
 * staged_at: rank-2 tiles of one shape with rows of a multiple of 16 bytes. */
static int wide_fits(const cg_lay *ys, ir_elem e, const cg_lay *yd) {
  int eb = ir_elem_bytes(e);
  return ys->rank == 2 && (eb == 1 || eb == 2 || eb == 4) && ys->shape[1] * (uint32_t)eb % 16 == 0 &&
         yd->shape[0] == ys->shape[0] && yd->shape[1] == ys->shape[1];
}

/* The store's elements per access in the wide path: a store of 4-byte elements predicated on the
 * owner moves at most 8 bytes (16 made bitgemm spill at 255 registers, sm_80, p = q = 8, 16 x 64,
 * 2 warps); 16-bit ones move 16 (8 would put two rows' half-chunks in one bank group: fftconv's gate
 * at N1 = 32). */
static uint32_t wide_store_elems(const cg_lay *ys, int eb, int owned) {
  uint32_t ws = cg_wide_elems(ys, 1, eb);
  return owned && eb > 2 && ws * (uint32_t)eb > 8 ? 8 / (uint32_t)eb : ws;
}

/* Through scratch with the accesses and the swizzle of staged_at (wide_fits holds). */
static void wide_scratch(cg_lower *L, const cg_lay *ys, ir_elem e, LLVMValueRef *src, const cg_lay *yd,
                         LLVMValueRef *out, uint32_t u) {
  int eb = ir_elem_bytes(e);
  uint32_t rb = ys->shape[1] * (uint32_t)eb;
  LLVMBuilderRef B = L->c.b;
  LLVMTypeRef i8 = LLVMInt8TypeInContext(L->c.ctx), mt = cg_mem_type(L, e);
  LLVMValueRef base = cg_scratch(L, (int)(ys->shape[0] * rb));
  const cg_thread_lay *ts = cg_lay_thread(L, ys);
  uint32_t ws = wide_store_elems(ys, eb, ts->owner != NULL), ex[2];
  LLVMTypeRef wt = cg_wide_type(L, e, ws);
  for (uint32_t i = 0; i < ys->n; i++) {
    cg_lay_multi(ys, i, ex);
    if (ex[1] % ws) continue;
    LLVMValueRef x = LLVMGetUndef(LLVMVectorType(mt, ws));
    for (uint32_t k = 0; k < ws; k++)
      x = LLVMBuildInsertElement(B, x, cg_to_mem(L, src[i + k * ys->step[1]], e), cg_i32(L, (int)k), "");
    LLVMValueRef r = LLVMBuildAdd(B, ts->off[0], cg_i32(L, (int)cg_lay_const(ys, 0, ex[0])), "");
    LLVMValueRef c = LLVMBuildAdd(B, ts->off[1], cg_i32(L, (int)cg_lay_const(ys, 1, ex[1])), "");
    LLVMValueRef off = staged_at(L, r, c, rb, eb, u);
    LLVMValueRef bits = LLVMBuildBitCast(B, x, wt, ""); /* one at a time: C leaves argument order open */
    L->c.ops->store(&L->c, CG_SHARED, LLVMBuildGEP2(B, i8, base, &off, 1, ""), bits, ts->owner);
  }
  L->c.ops->barrier(&L->c);
  const cg_thread_lay *td = cg_lay_thread(L, yd);
  uint32_t wr = cg_wide_elems(yd, 1, eb);
  LLVMTypeRef rt = cg_wide_type(L, e, wr);
  for (uint32_t i = 0; i < yd->n; i++) {
    cg_lay_multi(yd, i, ex);
    if (ex[1] % wr) continue;
    LLVMValueRef r = LLVMBuildAdd(B, td->off[0], cg_i32(L, (int)cg_lay_const(yd, 0, ex[0])), "");
    LLVMValueRef c = LLVMBuildAdd(B, td->off[1], cg_i32(L, (int)cg_lay_const(yd, 1, ex[1])), "");
    LLVMValueRef off = staged_at(L, r, c, rb, eb, u);
    LLVMValueRef x =
        L->c.ops->load(&L->c, CG_SHARED, rt, LLVMBuildGEP2(B, i8, base, &off, 1, ""), NULL, NULL);
    x = LLVMBuildBitCast(B, x, LLVMVectorType(mt, wr), "");
    for (uint32_t k = 0; k < wr; k++)
      out[i + k * yd->step[1]] = cg_from_mem(L, LLVMBuildExtractElement(B, x, cg_i32(L, (int)k), ""), e);
  }
  L->c.ops->barrier(&L->c);
}

/* ---- the arrangement of scratch with the fewest bank conflicts ---- */

/* A conversion through scratch is a store in the source layout and a load in the destination's; which
 * arrangement of the scratch (the staged_at swizzle, or row-major rows with some padding) conflicts
 * least depends on both layouts, so the candidates are counted here, on the host, request by request
 * as the hardware (and the simulator's profile, docs/profiling.md) counts them: 32 banks of 4-byte
 * words, 8-byte accesses by half-warps, 16-byte ones by quarter-warps. */

typedef struct {
  int wide;                 /* the staged_at swizzle (rank 2), else row-major over mem */
  uint32_t xmul;            /* wide: the 128-byte line's index times xmul is the chunks' XOR */
  int wide_owned;           /* row-major: wide stores under the owner predicate too */
  uint32_t mem[IR_MAXRANK]; /* row-major: the buffer's shape (the tile's, the last dim padded) */
} scratch_plan;

/* The threads of layout y on the host, as compute_thread_lay computes them: off[tid * rank + d], and
 * own[tid] whether the thread is its elements' first holder. Returns whether any thread is not (the
 * stores are then predicated). */
static int host_threads(const cg_lay *y, int warps, uint32_t *off, uint8_t *own) {
  uint32_t nw = 1, any = 0;
  for (int d = 0; d < y->rank; d++) nw *= y->wpc[d];
  nw <<= y->wlow;
  for (uint32_t t = 0; t < (uint32_t)warps * 32u; t++) {
    uint32_t lane = t % 32, warp = t / 32;
    int o = !(y->wlow && warp & ((1u << y->wlow) - 1)) && !(nw < (uint32_t)warps && warp >= nw);
    for (int d = 0; d < y->rank; d++) {
      uint32_t ln = (lane >> cg_lay_lane_shift(y, d)) & (y->l.tpw[d] - 1u);
      uint32_t wp = (warp >> y->wshift[d]) & (y->wpc[d] - 1u);
      uint32_t first = (wp * y->l.tpw[d] + ln) * y->l.spt[d];
      int wraps = y->tile[d] > y->shape[d];
      off[t * (uint32_t)y->rank + (uint32_t)d] = wraps ? first & (y->shape[d] - 1) : first;
      if (wraps && first >= y->shape[d]) o = 0;
    }
    own[t] = (uint8_t)o;
  }
  /* the predicate exists wherever the layout could leave a thread out, as in compute_thread_lay */
  for (int d = 0; d < y->rank; d++) any |= y->tile[d] > y->shape[d];
  return any || y->wlow || nw < (uint32_t)warps;
}

/* Byte offset of the element at coordinates c in the scratch under plan P (a tile of row bytes rb
 * for the wide plan). */
static uint32_t plan_at(const scratch_plan *P, int rank, const uint32_t *c, uint32_t rb, int eb) {
  if (P->wide) {
    uint32_t g = rb >= 128 ? 1 : 128 / rb, n = rb / 16 < 8 ? rb / 16 : 8, byte = c[1] * (uint32_t)eb;
    return c[0] * rb + (((byte >> 4) ^ ((c[0] / g * P->xmul) & (n - 1))) << 4) + (byte & 15);
  }
  uint32_t idx = 0, stride = 1;
  for (int d = rank - 1; d >= 0; d--) {
    if (P->mem[d] > 1) idx += c[d] * stride;
    stride *= P->mem[d];
  }
  return idx * (uint32_t)eb;
}

/* A layout's threads on the host (host_threads), computed once per conversion. */
typedef struct {
  const cg_lay *y;
  uint32_t *off;
  uint8_t *own;
  int owned; /* its stores are predicated on the owner */
} host_lay;

static host_lay host_lay_of(cg_lower *L, const cg_lay *y) {
  size_t nt = (size_t)L->warps * 32;
  host_lay h = {y, ir_alloc(L->A, nt * (size_t)y->rank * sizeof *h.off), ir_alloc(L->A, nt), 0};
  h.owned = host_threads(y, L->warps, h.off, h.own);
  return h;
}

/* Wavefronts of one side of the conversion: h's accesses of w elements (those whose index along the
 * last dim is a multiple of w), only the owners' when `owned`; *ideal grows by the same without
 * conflicts (target/smem_banks.c, the simulator's count). */
static uint64_t side_wavefronts(const host_lay *h, int warps, int owned, uint32_t w, const scratch_plan *P,
                                uint32_t rb, int eb, uint64_t *ideal) {
  const cg_lay *y = h->y;
  uint32_t ix[IR_MAXRANK], c[IR_MAXRANK], f = (uint32_t)y->rank - 1;
  uintptr_t at[32];
  uint16_t bytes[32];
  uint64_t total = 0, id;
  for (uint32_t i = 0; i < y->n; i++) {
    cg_lay_multi(y, i, ix);
    if (ix[f] % w) continue;
    for (int warp = 0; warp < warps; warp++) {
      uint32_t mask = 0;
      for (uint32_t l = 0; l < 32; l++) {
        uint32_t t = (uint32_t)warp * 32 + l;
        for (int d = 0; d < y->rank; d++)
          c[d] = h->off[t * (uint32_t)y->rank + (uint32_t)d] + cg_lay_const(y, d, ix[d]);
        at[l] = plan_at(P, y->rank, c, rb, eb);
        bytes[l] = (uint16_t)(w * (uint32_t)eb);
        if (!owned || h->own[t]) mask |= 1u << l;
      }
      total += tg_smem_wavefronts(at, bytes, mask, &id);
      *ideal += id;
    }
  }
  return total;
}

/* Shared wavefronts of the conversion hs -> hd under plan P, store and load; *ideal: without conflicts. */
static uint64_t plan_wavefronts(cg_lower *L, const host_lay *hs, const host_lay *hd, int eb,
                                const scratch_plan *P, uint64_t *ideal) {
  const cg_lay *ys = hs->y, *yd = hd->y;
  uint32_t rb = ys->shape[ys->rank - 1] * (uint32_t)eb, ws, wl;
  if (P->wide) {
    ws = wide_store_elems(ys, eb, hs->owned);
    wl = cg_wide_elems(yd, 1, eb);
  } else {
    ws = store_elems(ys, eb, P->mem, hs->owned, P->wide_owned);
    wl = load_elems(yd, eb, P->mem);
  }
  *ideal = 0;
  return side_wavefronts(hs, L->warps, hs->owned, ws, P, rb, eb, ideal) +
         side_wavefronts(hd, L->warps, 0, wl, P, rb, eb, ideal);
}

/* The scratch bytes of plan P for a tile of layout y (eb-byte elements). */
static uint64_t plan_bytes(const cg_lay *y, uint32_t eb, const scratch_plan *P) {
  if (P->wide) return (uint64_t)y->shape[0] * y->shape[1] * eb;
  uint64_t n = eb;
  for (int d = 0; d < y->rank; d++) n *= P->mem[d];
  return n;
}

/* Source tile (layout ys) to the scratch area, then read back with layout yd from a buffer of shape
 * mem; out gets yd.n values. */
static void through_scratch(cg_lower *L, ir_opid op, const cg_lay *ys, ir_elem e, LLVMValueRef *src,
                            const cg_lay *yd, LLVMValueRef *out) {
  uint32_t f = (uint32_t)ys->rank - 1, eb = (uint32_t)ir_elem_bytes(e);
  int same = 1;
  for (int d = 0; d < ys->rank; d++) same &= ys->shape[d] == yd->shape[d];
  scratch_plan cand[20];
  int nc = 0;
  /* In the order taken on a tie: the wide path computes each access's swizzled address, so it comes
   * first only outside loops (an epilogue), where it runs once; inside a loop the plain path's
   * constant offsets cost less per iteration. */
  int wide = wide_fits(ys, e, yd);
  if (L->fn->ops[op].parent == 1 && wide) cand[nc++] = (scratch_plan){.wide = 1, .xmul = 1};
  /* Row-major: the lanes of one request write whole 128-byte lines as rows of `cover` bytes each (a
   * thread's run times the lanes along the row); rows of a multiple of 128 bytes would put those
   * rows in the same banks, so they get `cover` bytes more and fall side by side. Then other
   * paddings, should the two layouts' requests still meet in one bank. */
  scratch_plan p = {0};
  memcpy(p.mem, ys->shape, sizeof p.mem);
  int pad = same && ys->rank >= 2 && (eb == 1 || eb == 2 || eb == 4) && p.mem[f] > 1;
  if (pad && p.mem[f] * eb % 128 == 0) {
    uint32_t cover = cg_wide_elems(ys, (int)f, (int)eb) * eb * ys->l.tpw[f];
    if (cover >= 4 && cover < 128) p.mem[f] += cover / eb;
  }
  cand[nc++] = p;
  for (uint32_t b = 4; pad && b <= 128; b *= 2)
    if (b % eb == 0 && ys->shape[f] + b / eb != p.mem[f]) {
      cand[nc] = p;
      cand[nc++].mem[f] = ys->shape[f] + b / eb;
    }
  /* the same with wide stores where the source's are predicated on the owner (a replicated tile),
   * for rows of 128 bytes or more (on 32-byte rows, 16 rows in 2 warps, bitgemm spilled 16 to 48
   * bytes on sm_80 and sm_90a with them: a_signed = 1, act = f16, G = 256) */
  if (cg_lay_thread(L, ys)->owner && ys->shape[f] * eb >= 128)
    for (int i = 0, n = nc; i < n; i++)
      if (!cand[i].wide) {
        cand[nc] = cand[i];
        cand[nc++].wide_owned = 1;
      }
  /* Then the wide path where it was not first (inside a loop: taken only where it halves the best
   * row-major plan's wavefronts; for less, its per-access address arithmetic costs registers: a
   * bit-GEMM loop's conversions at 96 wavefronts instead of 160 made it spill 36 bytes at 168
   * registers on sm_80, a_signed = 1, act = out = f16, BLOCK_M = 16, G = 256), and its swizzle with the XOR
   * in steps of 2 and 4 chunks: a request that writes runs of 32 bytes in each of 4 rows of 64 (an mma
   * accumulator's [16, 16] f32 tile) meets itself in two of them with steps of one (fftconv's products in
   * layout bnh's channel loop) */
  if (wide && L->fn->ops[op].parent != 1) cand[nc++] = (scratch_plan){.wide = 1, .xmul = 1};
  for (uint32_t u = 2; wide && u <= 4 && u < ys->shape[1] * eb / 16; u *= 2)
    cand[nc++] = (scratch_plan){.wide = 1, .xmul = u};
  /* the first candidate if it has no conflicts, else the one with the fewest wavefronts (the first
   * of those); but the wide path, where it comes first, gives way only to a plan that halves the
   * wavefronts of its best swizzle (leaving it for 2/3 of them made bitgemm_splitk's epilogue spill
   * 4 bytes on sm_120a, at its 128 registers); and a padding may add at most 4 KiB or an eighth to
   * the first's scratch, and never past the target's shared memory */
  int best = 0, wbest = 0, rbest = 0;
  uint64_t fewest = UINT64_MAX, wfewest = UINT64_MAX, rfewest = UINT64_MAX, ideal;
  uint64_t base = plan_bytes(ys, eb, &cand[0]);
  int dead = L->dead_from && L->top >= L->dead_from;
  host_lay hs = {0}, hd = {0};
  if (nc > 1) hs = host_lay_of(L, ys), hd = host_lay_of(L, yd);
  for (int i = 0; i < nc && nc > 1; i++) {
    uint64_t bytes = plan_bytes(ys, eb, &cand[i]);
    if (i && (bytes > base + (base / 8 > 4096 ? base / 8 : 4096) ||
              (dead ? 0 : (uint64_t)L->scratch_base) + bytes > (uint64_t)L->c.target->smem_per_block))
      continue;
    uint64_t wf = plan_wavefronts(L, &hs, &hd, (int)eb, &cand[i], &ideal);
    if (wf < fewest) fewest = wf, best = i;
    if (cand[i].wide && wf < wfewest) wfewest = wf, wbest = i;
    if (!cand[i].wide && wf < rfewest) rfewest = wf, rbest = i;
    if (i == 0 && wf == ideal) break;
  }
  if (cand[0].wide && !cand[best].wide && 2 * fewest > wfewest) best = wbest;
  if (!cand[0].wide && cand[best].wide && 2 * fewest > rfewest) best = rbest;
  if (cand[best].wide) {
    wide_scratch(L, ys, e, src, yd, out, cand[best].xmul);
    return;
  }
  const uint32_t *mem = cand[best].mem;
  LLVMValueRef s = cg_scratch(L, (int)(ir_type_numel(ir_t_tile(e, ys->rank, mem)) * eb));
  tile_to_buffer(L, ys, e, src, s, mem, cand[best].wide_owned);
  L->c.ops->barrier(&L->c);
  tile_from_buffer(L, yd, e, s, mem, out);
  L->c.ops->barrier(&L->c);
}

void cg_lower_convert_layout(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type ts = ir_vtype(L->fn, o->opnd[0]), td = ir_vtype(L->fn, o->res[0]);
  cg_lay ys, yd;
  cg_lay_init(&ys, ts);
  cg_lay_init(&yd, td);
  cg_value *src = cg_get(L, o->opnd[0]);
  LLVMValueRef *out = cg_def(L, o->res[0], yd.n);
  if (same_layout(&ys, &yd))
    memcpy(out, src->v, yd.n * sizeof *out);
  else if (!cg_mma_convert_operand(L, op, &ys, ts.elem, src->v, &yd, out)) /* ldmatrix for mma operands */
    through_scratch(L, op, &ys, ts.elem, src->v, &yd, out);
}

/* Same layout (the layout pass's rule): a register copy. Otherwise through scratch. */
void cg_lower_broadcast(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  ir_type ts = ir_vtype(L->fn, o->opnd[0]), td = ir_vtype(L->fn, o->res[0]);
  cg_lay ys, yd;
  cg_lay_init(&ys, ts);
  cg_lay_init(&yd, td);
  cg_value *src = cg_get(L, o->opnd[0]);
  LLVMValueRef *out = cg_def(L, o->res[0], yd.n);
  if (!same_layout(&ys, &yd)) {
    through_scratch(L, op, &ys, ts.elem, src->v, &yd, out);
    return;
  }
  uint32_t e[IR_MAXRANK];
  for (uint32_t i = 0; i < yd.n; i++) {
    cg_lay_multi(&yd, i, e);
    for (int d = 0; d < yd.rank; d++)
      if (ts.shape[d] == 1) e[d] = 0;
    out[i] = src->v[cg_lay_index(&ys, e)];
  }
}
