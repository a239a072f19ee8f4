/*
 * kl_memory.c - where data lives and how it moves: k.program_id, k.num_programs, k.view, k.load,
 * k.store, k.alloc_shared, k.copy, k.load_shared, k.store_shared, k.barrier.
 *
 * Offsets and sizes are counted in elements. A load or copy reads `pad` (default 0) outside the
 * view's shape, and a store writes only inside it, so ragged edges need no explicit masks.
 */
#include <math.h>
#include <string.h>

#include "kl_lib.h"

static ir_type check_kind(lua_State *L, int idx, ir_val *v, int kind, const char *what) {
  static const char *const kinds[] = {[IR_TPTR] = "a tensor pointer (k.args.NAME)",
                                      [IR_TVIEW] = "a view (k.view)",
                                      [IR_TSMEM] = "a shared buffer (k.alloc_shared)",
                                      [IR_TTILE] = "a tile"};
  char buf[64];
  *v = kl_check(L, idx);
  ir_type t = kl_vtype(L, *v);
  if (t.kind != kind) luaL_error(L, "%s needs %s, got %s", what, kinds[kind], kl_tstr(t, buf, sizeof buf));
  return t;
}

static int list_len(lua_State *L, int idx, const char *what, const char *item) {
  if (!lua_istable(L, idx))
    luaL_error(L, "%s: expected a list of %s, got %s", what, item, luaL_typename(L, idx));
  return (int)luaL_len(L, idx);
}

/* Reads `rank` i32 offsets from the list at idx into out. */
static void read_offsets(lua_State *L, int idx, int rank, ir_val *out, const char *what) {
  char buf[64];
  int n = list_len(L, idx, what, "offsets");
  if (n != rank) luaL_error(L, "%s: %d offsets for a rank-%d view", what, n, rank);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    out[i] = kl_index(L, -1, IR_I32, what);
    ir_type t = kl_vtype(L, out[i]);
    if (t.elem != IR_I32) luaL_error(L, "%s: offsets are i32, got %s", what, kl_tstr(t, buf, sizeof buf));
    lua_pop(L, 1);
  }
}

/* Checks that the options table at idx (or nil) has only the keys in `allowed`. */
static void check_opts(lua_State *L, int idx, const char *const *allowed, const char *what) {
  if (lua_isnoneornil(L, idx)) return;
  if (!lua_istable(L, idx)) luaL_error(L, "%s: options are a table, got %s", what, luaL_typename(L, idx));
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    int ok = 0;
    for (int i = 0; allowed[i]; i++) ok |= !strcmp(k, allowed[i]);
    if (!ok) luaL_error(L, "%s: unknown option '%s'", what, k);
  }
}

/* Sets the op's pad attribute from opts.pad, typed like the element. */
static void set_pad(lua_State *L, int idx, ir_opid op, ir_elem e, const char *what) {
  if (lua_isnoneornil(L, idx)) return;
  lua_getfield(L, idx, "pad");
  ir_func *fn = kl_build_get(L)->fn;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "%s: pad must be a number", what);
    double d = lua_tonumber(L, -1);
    if (ir_elem_is_float(e))
      ir_op_set_f(fn, op, "pad", d);
    else if (d != floor(d) || !(fabs(d) < 9.2e18))
      luaL_error(L, "%s: pad %f is not a whole number", what, d);
    else
      ir_op_set_i(fn, op, "pad", (int64_t)d);
  }
  lua_pop(L, 1);
}

/* ---- program ids ---- */

static int program_axis(lua_State *L, ir_opcode code) {
  int axis = lua_isnoneornil(L, 1)
                 ? 0
                 : kl_check_axis(L, 1, 3, code == IR_OP_PROGRAM_ID ? "k.program_id" : "k.num_programs");
  ir_type t = ir_t_scalar(IR_I32);
  ir_opid op = kl_op(L, code, NULL, 0, &t, 1, 0);
  ir_func *fn = kl_build_get(L)->fn;
  ir_op_set_i(fn, op, "axis", axis);
  kl_push(L, ir_res(fn, op, 0));
  return 1;
}

static int f_program_id(lua_State *L) { return program_axis(L, IR_OP_PROGRAM_ID); }
static int f_num_programs(lua_State *L) { return program_axis(L, IR_OP_NUM_PROGRAMS); }

/* ---- views ---- */

/* Row-major strides: stride[r-1] = 1, stride[i] = dims[i+1] * stride[i+1]. */
static void row_major(lua_State *L, const ir_val *dims, int rank, ir_val *strides) {
  ir_type t = kl_vtype(L, dims[rank - 1]);
  lua_pushinteger(L, 1);
  strides[rank - 1] = kl_const(L, t, -1);
  lua_pop(L, 1);
  for (int i = rank - 2; i >= 0; i--) {
    ir_val ops[2] = {dims[i + 1], strides[i + 1]};
    if (!ir_type_eq(kl_vtype(L, dims[i + 1]), t)) luaL_error(L, "k.view: dims mix i32 and i64");
    strides[i] = i == rank - 2 ? dims[i + 1] : kl_op1(L, IR_OP_MUL, ops, 2, t);
  }
}

/* A base given as coordinates {{index, count, stride}, ...}: the sum of index * stride, each index
 * stated to lie in [0, count) (op bounded, which the simulator checks), so that TMA can address the
 * slice with a tensor map of rank 2 + #coordinates (docs/hopper.md). */
static ir_val as_type(lua_State *L, ir_val v, ir_type t) {
  return ir_type_eq(kl_vtype(L, v), t) ? v : kl_op1(L, IR_OP_CAST, &v, 1, t);
}

static ir_val coords_base(lua_State *L, int idx) {
  int n = (int)luaL_len(L, idx);
  if (n < 1 || n > IR_TMA_MAXCOORDS)
    luaL_error(L, "k.view: a base given as coordinates has 1 to %d of them, got %d", IR_TMA_MAXCOORDS, n);
  static const char *const what[3] = {"k.view: a base coordinate's index",
                                      "k.view: a base coordinate's count",
                                      "k.view: a base coordinate's stride"};
  ir_val part[IR_TMA_MAXCOORDS][3], sum = 0;
  ir_type t = ir_t_scalar(IR_I32);
  for (int i = 0; i < n; i++) {
    if (lua_geti(L, idx, i + 1) != LUA_TTABLE || kl_isvalue(L, -1) || luaL_len(L, -1) != 3)
      luaL_error(L, "k.view: base coordinate %d is not a table {index, count, stride}", i + 1);
    for (int j = 0; j < 3; j++) {
      lua_geti(L, -1, j + 1);
      part[i][j] = kl_index(L, lua_gettop(L), IR_I32, what[j]);
      if (kl_vtype(L, part[i][j]).elem == IR_I64) t = ir_t_scalar(IR_I64);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  for (int i = 0; i < n; i++) {
    ir_val b[2], mul[2]; /* built one at a time: the ops' order does not depend on the C compiler */
    b[0] = as_type(L, part[i][0], t);
    b[1] = as_type(L, part[i][1], t);
    mul[0] = kl_op1(L, IR_OP_BOUNDED, b, 2, t);
    mul[1] = as_type(L, part[i][2], t);
    ir_val term = kl_op1(L, IR_OP_MUL, mul, 2, t);
    ir_val add[2] = {sum, term};
    sum = sum ? kl_op1(L, IR_OP_ADD, add, 2, t) : term;
  }
  return sum;
}

/* k.view(ptr, {dims...}[, {strides...}[, base]]): base counts elements from ptr to the view's
 * element 0 (a slice of a larger tensor), so that offsets and masks stay relative to the slice; it
 * is a number, a scalar, or coordinates (coords_base). */
static int f_view(lua_State *L) {
  ir_val opnd[2 + 2 * IR_MAXRANK];
  ir_type p = check_kind(L, 1, &opnd[0], IR_TPTR, "k.view");
  int rank = list_len(L, 2, "k.view", "dims");
  if (rank < 1 || rank > IR_MAXRANK) luaL_error(L, "k.view: a view has 1 to 3 dims, got %d", rank);
  for (int i = 0; i < rank; i++) {
    lua_geti(L, 2, i + 1);
    opnd[1 + i] = kl_index(L, -1, IR_I32, "k.view: a dim");
    lua_pop(L, 1);
  }
  if (lua_isnoneornil(L, 3)) {
    row_major(L, opnd + 1, rank, opnd + 1 + rank);
  } else {
    if (list_len(L, 3, "k.view", "strides") != rank)
      luaL_error(L, "k.view: %d dims but a different number of strides", rank);
    for (int i = 0; i < rank; i++) {
      lua_geti(L, 3, i + 1);
      opnd[1 + rank + i] = kl_index(L, -1, IR_I32, "k.view: a stride");
      lua_pop(L, 1);
    }
  }
  int n = 1 + 2 * rank;
  if (lua_type(L, 4) == LUA_TTABLE && !kl_isvalue(L, 4))
    opnd[n++] = coords_base(L, 4);
  else if (!lua_isnoneornil(L, 4))
    opnd[n++] = kl_index(L, 4, IR_I32, "k.view: the base");
  kl_push(L, kl_op1(L, IR_OP_VIEW, opnd, n, ir_t_view((ir_elem)p.elem, rank)));
  return 1;
}

/* k.load(view, {offsets...}, {shape...}[, {pad=v}]) */
static int f_load(lua_State *L) {
  static const char *const opts[] = {"pad", NULL};
  ir_val opnd[1 + IR_MAXRANK];
  uint32_t shape[IR_MAXRANK];
  ir_type v = check_kind(L, 1, &opnd[0], IR_TVIEW, "k.load");
  read_offsets(L, 2, v.rank, opnd + 1, "k.load");
  int rank = kl_check_shape(L, 3, shape, "k.load");
  if (rank != v.rank) luaL_error(L, "k.load: a rank-%d tile from a rank-%d view", rank, v.rank);
  check_opts(L, 4, opts, "k.load");
  ir_type t = ir_t_tile((ir_elem)v.elem, rank, shape);
  ir_opid op = kl_op(L, IR_OP_LOAD, opnd, 1 + rank, &t, 1, 0);
  set_pad(L, 4, op, (ir_elem)v.elem, "k.load");
  kl_push(L, ir_res(kl_build_get(L)->fn, op, 0));
  return 1;
}

/* k.store(view, {offsets...}, tile[, {tma = b}]): tma asks for the store through shared memory and
 * TMA boxes where the target and the view allow (docs/hopper.md); elsewhere it changes nothing. */
static int f_store(lua_State *L) {
  static const char *const opts[] = {"tma", NULL};
  char buf[64];
  ir_val opnd[2 + IR_MAXRANK];
  ir_type v = check_kind(L, 1, &opnd[0], IR_TVIEW, "k.store");
  read_offsets(L, 2, v.rank, opnd + 1, "k.store");
  ir_type t = check_kind(L, 3, &opnd[1 + v.rank], IR_TTILE, "k.store");
  if (t.rank != v.rank) luaL_error(L, "k.store: %s into a rank-%d view", kl_tstr(t, buf, sizeof buf), v.rank);
  if (t.elem != v.elem)
    luaL_error(L, "k.store: %s into a %s view: convert with k.cast", kl_tstr(t, buf, sizeof buf),
               ir_elem_name((ir_elem)v.elem));
  check_opts(L, 4, opts, "k.store");
  ir_opid op = kl_op(L, IR_OP_STORE, opnd, 2 + v.rank, NULL, 0, 0);
  if (!lua_isnoneornil(L, 4) && lua_getfield(L, 4, "tma") != LUA_TNIL && kl_check_flag(L, "k.store", "tma"))
    ir_op_set_i(kl_build_get(L)->fn, op, "tma", 1);
  return 0;
}

/* ---- shared memory ---- */

/* k.alloc_shared(E, {shape...}[, {swizzle=n}]) */
static int f_alloc_shared(lua_State *L) {
  static const char *const opts[] = {"swizzle", NULL};
  uint32_t shape[IR_MAXRANK];
  ir_elem e = kl_check_elem(L, 1);
  int rank = kl_check_shape(L, 2, shape, "k.alloc_shared");
  check_opts(L, 3, opts, "k.alloc_shared");
  ir_type t = ir_t_smem(e, rank, shape);
  ir_opid op = kl_op(L, IR_OP_ALLOC_SHARED, NULL, 0, &t, 1, 0);
  ir_func *fn = kl_build_get(L)->fn;
  if (!lua_isnoneornil(L, 3) && lua_getfield(L, 3, "swizzle") != LUA_TNIL) {
    int ok;
    lua_Integer s = lua_tointegerx(L, -1, &ok);
    if (!ok || s < 0) luaL_error(L, "k.alloc_shared: swizzle must be a whole number >= 0");
    ir_op_set_i(fn, op, "swizzle", s);
  }
  kl_push(L, ir_res(fn, op, 0));
  return 1;
}

static void same_buffer_shape(lua_State *L, ir_type a, ir_type b, const char *what) {
  char sa[64], sb[64];
  int ok = a.rank == b.rank && a.elem == b.elem;
  for (int d = 0; ok && d < a.rank; d++) ok = a.shape[d] == b.shape[d];
  if (!ok)
    luaL_error(L, "%s: %s does not match %s", what, kl_tstr(a, sa, sizeof sa), kl_tstr(b, sb, sizeof sb));
}

/* k.copy(view, {offsets...}, smem[, {pad=v, tma=b}]): tma asks for TMA boxes where the copy is not
 * in a loop, the target has TMA and the view and buffer allow (docs/hopper.md); elsewhere it
 * changes nothing (a copy in a loop takes the loop's `tma`). */
static int f_copy(lua_State *L) {
  static const char *const opts[] = {"pad", "tma", NULL};
  char buf[64];
  ir_val opnd[2 + IR_MAXRANK];
  ir_type v = check_kind(L, 1, &opnd[0], IR_TVIEW, "k.copy");
  read_offsets(L, 2, v.rank, opnd + 1, "k.copy");
  ir_type s = check_kind(L, 3, &opnd[1 + v.rank], IR_TSMEM, "k.copy");
  if (s.rank != v.rank || s.elem != v.elem)
    luaL_error(L, "k.copy: %s from a rank-%d %s view", kl_tstr(s, buf, sizeof buf), v.rank,
               ir_elem_name((ir_elem)v.elem));
  check_opts(L, 4, opts, "k.copy");
  ir_opid op = kl_op(L, IR_OP_COPY, opnd, 2 + v.rank, NULL, 0, 0);
  set_pad(L, 4, op, (ir_elem)v.elem, "k.copy");
  if (!lua_isnoneornil(L, 4) && lua_getfield(L, 4, "tma") != LUA_TNIL && kl_check_flag(L, "k.copy", "tma"))
    ir_op_set_i(kl_build_get(L)->fn, op, "by_tma", 1);
  return 0;
}

/* A list of rank whole numbers >= lo at options field `key` (on the Lua stack top), into v. */
static void read_dims(lua_State *L, int rank, int64_t lo, int64_t *v, const char *key, const char *what) {
  if (!lua_istable(L, -1) || luaL_len(L, -1) != rank)
    luaL_error(L, "%s: %s is a list of %d whole numbers (one per dim of the buffer)", what, key, rank);
  for (int d = 0; d < rank; d++) {
    int ok;
    lua_geti(L, -1, d + 1);
    lua_Integer x = lua_tointegerx(L, -1, &ok);
    if (!ok || x < lo || x > UINT32_MAX)
      luaL_error(L, "%s: %s[%d] must be a whole number >= %d", what, key, d + 1, (int)lo);
    v[d] = x;
    lua_pop(L, 1);
  }
}

/* k.load_shared(smem[, {trans = true, at = {o0, ...}, shape = {n0, ...}, reverse = true}]): trans
 * reads a rank-2 buffer [R, C] as its transpose [C, R]; at and shape (buffer coordinates, before
 * trans) read the block of that shape whose first element is buffer element at (default: all of the
 * buffer from at, or the block of shape from element 0); reverse reads the whole buffer with every
 * dim reversed (element (i0, ...) from (d0 - 1 - i0, ...)), alone; quad_dim = q reads a buffer whose
 * dim q (a multiple of 16) holds each block of 16 as a 4 x 4 transpose: index c at
 * (c & ~15) | (c & 3) << 2 | (c >> 2) & 3 (Marlin-style fragments: a thread's four words of an mma_b
 * tile side by side, one 16-byte read; docs/bitgemm.md). */
static int f_load_shared(lua_State *L) {
  static const char *const opts[] = {"trans", "at", "shape", "reverse", "quad_dim", NULL};
  ir_val s;
  ir_type t = check_kind(L, 1, &s, IR_TSMEM, "k.load_shared");
  check_opts(L, 2, opts, "k.load_shared");
  int trans = 0, has_at = 0, has_shape = 0, reverse = 0, quad = -1;
  if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "quad_dim") != LUA_TNIL) {
    int ok;
    lua_Integer q = lua_tointegerx(L, -1, &ok);
    if (!ok || q < 0 || q >= t.rank)
      luaL_error(L, "k.load_shared: quad_dim is a dim of the buffer, 0 to %d", t.rank - 1);
    if (t.shape[q] % 16)
      luaL_error(L,
                 "k.load_shared: quad_dim = %d needs dim %d of the buffer to be a multiple of 16 (it is %d)",
                 (int)q, (int)q, (int)t.shape[q]);
    quad = (int)q;
  }
  if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "reverse") != LUA_TNIL) {
    if (!lua_isboolean(L, -1)) luaL_error(L, "k.load_shared: reverse is true or false");
    reverse = lua_toboolean(L, -1);
  }
  int64_t at[IR_MAXRANK] = {0}, sub[IR_MAXRANK];
  if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "trans") != LUA_TNIL) {
    if (!lua_isboolean(L, -1)) luaL_error(L, "k.load_shared: trans is true or false");
    trans = lua_toboolean(L, -1);
    if (trans && t.rank != 2)
      luaL_error(L, "k.load_shared: trans needs a rank-2 buffer, got rank %d", t.rank);
  }
  if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "at") != LUA_TNIL)
    read_dims(L, t.rank, 0, at, "at", "k.load_shared"), has_at = 1;
  if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "shape") != LUA_TNIL)
    read_dims(L, t.rank, 1, sub, "shape", "k.load_shared"), has_shape = 1;
  for (int d = 0; d < t.rank; d++) {
    if (!has_shape) sub[d] = at[d] < t.shape[d] ? t.shape[d] - at[d] : 0;
    if (at[d] + sub[d] > t.shape[d] || !sub[d]) {
      char b[64];
      luaL_error(L,
                 "k.load_shared: the block at %I of %I elements leaves dim %d of the buffer %s (dims from 0)",
                 (lua_Integer)at[d], (lua_Integer)sub[d], d, kl_tstr(t, b, sizeof b));
    }
  }
  if (reverse && (trans || has_at || has_shape))
    luaL_error(
        L, "k.load_shared: reverse reads the whole buffer as it is stored: no trans, at or shape with it");
  if (reverse && quad >= 0) luaL_error(L, "k.load_shared: quad_dim and reverse do not go together");
  uint32_t shape[IR_MAXRANK];
  for (int d = 0; d < t.rank; d++) shape[d] = (uint32_t)sub[trans ? t.rank - 1 - d : d];
  ir_val r = kl_op1(L, IR_OP_LOAD_SHARED, &s, 1, ir_t_tile((ir_elem)t.elem, t.rank, shape));
  ir_func *fn = kl_build_get(L)->fn;
  if (trans) ir_op_set_i(fn, ir_v(fn, r)->def, "trans", 1);
  if (reverse) ir_op_set_i(fn, ir_v(fn, r)->def, "reverse", 1);
  if (quad >= 0) ir_op_set_i(fn, ir_v(fn, r)->def, "quad_dim", quad);
  if (has_at || has_shape) ir_attr_set_list(fn->A, &ir_o(fn, ir_v(fn, r)->def)->attrs, "at", at, t.rank);
  kl_push(L, r);
  return 1;
}

/* k.gather_shared(smem, i0, ...): one i32 index tile per dim of the buffer, all of one shape; the
 * result has that shape and the buffer's element, element e read from buffer element
 * (i0[e] mod dim 0, ...) (the dims are powers of two: any index names an element). */
static int f_gather_shared(lua_State *L) {
  ir_val opnd[1 + IR_MAXRANK];
  char b[64], b2[64];
  ir_type s = check_kind(L, 1, &opnd[0], IR_TSMEM, "k.gather_shared");
  int n = lua_gettop(L) - 1;
  if (n != s.rank)
    luaL_error(L, "k.gather_shared: the buffer %s needs %d index tiles (one per dim), got %d",
               kl_tstr(s, b, sizeof b), s.rank, n);
  if (ir_elem_bits(s.elem) < 8)
    luaL_error(L, "k.gather_shared: the buffer %s has elements narrower than a byte",
               kl_tstr(s, b, sizeof b));
  ir_type t0 = {0};
  for (int d = 0; d < n; d++) {
    ir_type t = check_kind(L, 2 + d, &opnd[1 + d], IR_TTILE, "k.gather_shared");
    if (t.elem != IR_I32)
      luaL_error(L, "k.gather_shared: index %d is %s; the indices are i32 tiles", d + 1,
                 kl_tstr(t, b, sizeof b));
    if (d == 0)
      t0 = t;
    else if (!ir_type_eq_nolayout(t, t0))
      luaL_error(L, "k.gather_shared: index %d is %s but index 1 is %s (the indices have one shape)", d + 1,
                 kl_tstr(t, b, sizeof b), kl_tstr(t0, b2, sizeof b2));
  }
  kl_push(L, kl_op1(L, IR_OP_GATHER_SHARED, opnd, 1 + n, ir_t_tile((ir_elem)s.elem, t0.rank, t0.shape)));
  return 1;
}

/* k.store_shared(smem, tile) */
static int f_store_shared(lua_State *L) {
  ir_val opnd[2];
  ir_type s = check_kind(L, 1, &opnd[0], IR_TSMEM, "k.store_shared");
  ir_type t = check_kind(L, 2, &opnd[1], IR_TTILE, "k.store_shared");
  same_buffer_shape(L, t, ir_t_tile((ir_elem)s.elem, s.rank, s.shape), "k.store_shared");
  kl_op(L, IR_OP_STORE_SHARED, opnd, 2, NULL, 0, 0);
  return 0;
}

static int f_barrier(lua_State *L) {
  kl_op(L, IR_OP_BARRIER, NULL, 0, NULL, 0, 0);
  return 0;
}

const luaL_Reg kl_memory_lib[] = {{"program_id", f_program_id},
                                  {"num_programs", f_num_programs},
                                  {"view", f_view},
                                  {"load", f_load},
                                  {"store", f_store},
                                  {"alloc_shared", f_alloc_shared},
                                  {"copy", f_copy},
                                  {"load_shared", f_load_shared},
                                  {"gather_shared", f_gather_shared},
                                  {"store_shared", f_store_shared},
                                  {"barrier", f_barrier},
                                  {NULL, NULL}};
