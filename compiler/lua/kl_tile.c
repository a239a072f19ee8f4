/*
 * kl_tile.c - making and reshaping tiles: k.const, k.full, k.iota, k.broadcast, k.cast, k.bitcast,
 * reductions (t:sum(axis), t:max(axis), t:min(axis): the reduced dim is kept with size 1), k.dot,
 * and the queries k.shape, k.dtype, k.rank (plain Lua results, for recipe logic).
 */
#include <stdio.h>
#include <string.h>

#include "kl_lib.h"

static ir_type check_tile(lua_State *L, int idx, ir_val *v, const char *what) {
  char buf[64];
  *v = kl_check(L, idx);
  ir_type t = kl_vtype(L, *v);
  if (t.kind != IR_TTILE) luaL_error(L, "%s needs a tile, got %s", what, kl_tstr(t, buf, sizeof buf));
  return t;
}

/* k.const(v, E): a scalar constant. */
static int f_const(lua_State *L) {
  ir_elem e = kl_check_elem(L, 2);
  kl_push(L, kl_const(L, ir_t_scalar(e), 1));
  return 1;
}

/* k.full(shape, v, E): a tile with every element v. */
static int f_full(lua_State *L) {
  uint32_t shape[IR_MAXRANK];
  int rank = kl_check_shape(L, 1, shape, "k.full");
  ir_elem e = kl_check_elem(L, 3);
  kl_push(L, kl_const(L, ir_t_tile(e, rank, shape), 2));
  return 1;
}

/* k.iota(shape, axis): i32 tile of each element's coordinate along axis. */
static int f_iota(lua_State *L) {
  uint32_t shape[IR_MAXRANK];
  int rank = kl_check_shape(L, 1, shape, "k.iota");
  if (lua_isnoneornil(L, 2) && rank > 1) luaL_error(L, "k.iota: a rank-%d shape needs an axis", rank);
  int axis = lua_isnoneornil(L, 2) ? 0 : kl_check_axis(L, 2, rank, "k.iota");
  ir_type t = ir_t_tile(IR_I32, rank, shape);
  ir_opid op = kl_op(L, IR_OP_IOTA, NULL, 0, &t, 1, 0);
  ir_func *fn = kl_build_get(L)->fn;
  ir_op_set_i(fn, op, "axis", axis);
  kl_push(L, ir_res(fn, op, 0));
  return 1;
}

/* k.broadcast(x, shape): a scalar splatted, or a tile's size-1 dims expanded. */
static int f_broadcast(lua_State *L) {
  char buf[64];
  uint32_t shape[IR_MAXRANK];
  ir_val x = kl_check(L, 1);
  int rank = kl_check_shape(L, 2, shape, "k.broadcast");
  ir_type t = kl_vtype(L, x), want = ir_t_tile((ir_elem)t.elem, rank, shape);
  if (t.kind == IR_TTILE) {
    int ok = t.rank == rank;
    for (int d = 0; ok && d < rank; d++) ok = t.shape[d] == shape[d] || t.shape[d] == 1;
    if (!ok) luaL_error(L, "k.broadcast: %s cannot broadcast to that shape", kl_tstr(t, buf, sizeof buf));
  } else if (t.kind != IR_TSCALAR) {
    luaL_error(L, "k.broadcast needs a scalar or a tile, got %s", kl_tstr(t, buf, sizeof buf));
  }
  kl_push(L, kl_to_shape(L, x, want));
  return 1;
}

static int convert(lua_State *L, ir_opcode code, const char *what) {
  char buf[64];
  ir_elem e = kl_check_elem(L, 2);
  if (lua_type(L, 1) == LUA_TNUMBER) {
    kl_push(L, kl_const(L, ir_t_scalar(e), 1));
    return 1;
  }
  ir_val x = kl_check(L, 1);
  ir_type t = kl_vtype(L, x);
  if (t.kind != IR_TSCALAR && t.kind != IR_TTILE)
    luaL_error(L, "%s works on scalars and tiles, not %s", what, kl_tstr(t, buf, sizeof buf));
  if (code == IR_OP_BITCAST && ir_elem_bits(e) != ir_elem_bits((ir_elem)t.elem))
    luaL_error(L, "k.bitcast: %s and %s differ in width", ir_elem_name((ir_elem)t.elem), ir_elem_name(e));
  if (t.elem == e) {
    lua_settop(L, 1);
    return 1;
  }
  t.elem = e;
  kl_push(L, kl_op1(L, code, &x, 1, t));
  return 1;
}

static int f_cast(lua_State *L) { return convert(L, IR_OP_CAST, "k.cast"); }
static int f_bitcast(lua_State *L) { return convert(L, IR_OP_BITCAST, "k.bitcast"); }

/* k.bitsplit(tile, E, axis): each element's bits as f = width / width(E) elements of type E,
 * consecutive along axis, the low bits first (a u32 word as two f16 along K: a dot operand's pair). */
static int f_bitsplit(lua_State *L) {
  char buf[64];
  ir_val x;
  ir_type t = check_tile(L, 1, &x, "k.bitsplit");
  ir_elem e = kl_check_elem(L, 2);
  int axis = kl_check_axis(L, 3, t.rank, "k.bitsplit");
  int xb = ir_elem_bits((ir_elem)t.elem), eb = ir_elem_bits(e);
  if (t.elem == IR_I1 || e == IR_I1 || eb >= xb || xb % eb)
    luaL_error(L, "k.bitsplit: %s of %s does not split into %s elements (a whole number of two or more)",
               kl_tstr(t, buf, sizeof buf), ir_elem_name((ir_elem)t.elem), ir_elem_name(e));
  t.elem = e;
  t.shape[axis] *= (uint32_t)(xb / eb);
  if (t.shape[axis] > (1u << 20))
    luaL_error(L, "k.bitsplit: axis %d of the result would be %d long (at most 2^20)", axis,
               (int)t.shape[axis]);
  ir_opid op = kl_op(L, IR_OP_BITSPLIT, &x, 1, &t, 1, 0);
  ir_func *fn = kl_build_get(L)->fn;
  ir_op_set_i(fn, op, "axis", axis);
  kl_push(L, ir_res(fn, op, 0));
  return 1;
}

int kl_reduce(lua_State *L, const char *kind) {
  char what[32];
  ir_val x;
  snprintf(what, sizeof what, "k.%s", kind);
  ir_type t = check_tile(L, 1, &x, what);
  if (lua_isnoneornil(L, 2) && t.rank > 1) luaL_error(L, "%s: a rank-%d tile needs an axis", what, t.rank);
  int axis = lua_isnoneornil(L, 2) ? 0 : kl_check_axis(L, 2, t.rank, what);
  t.shape[axis] = 1;
  ir_opid op = kl_op(L, IR_OP_REDUCE, &x, 1, &t, 1, 0);
  ir_func *fn = kl_build_get(L)->fn;
  ir_op_set_i(fn, op, "axis", axis);
  ir_op_set_s(fn, op, "kind", kind);
  kl_push(L, ir_res(fn, op, 0));
  return 1;
}

static int f_sum(lua_State *L) { return kl_reduce(L, "sum"); }

/* k.dot(a, b, acc[, precision | {precision = ..., warps = "rows", mma = ...}]): acc + a.b with a [M,K],
 * b [K,N], acc [M,N]; the types follow ir_dot_check, the verifier's rule. warps = "rows" asks for the
 * warps to split the rows (M) only (the dot's `split` attribute, docs/ir.md). mma = "auto" (wgmma
 * where the target and the dot allow it), "wgmma" (an error where they do not) or "mma_sync": the
 * dot's `mma` attribute. */
static int f_dot(lua_State *L) {
  static const char *const precisions[] = {"ieee", "tf32", "b1_and", NULL};
  static const char *const splits[] = {"rows", NULL};
  static const char *const mmas[] = {"auto", "wgmma", "mma_sync", NULL};
  char msg[400];
  ir_val v[3];
  ir_type t[3];
  for (int i = 0; i < 3; i++)
    t[i] = check_tile(L, i + 1, &v[i], i == 0 ? "k.dot (a)" : i == 1 ? "k.dot (b)" : "k.dot (acc)");
  const char *prec = NULL, *split = NULL, *mma = NULL;
  if (lua_istable(L, 4)) {
    lua_getfield(L, 4, "precision");
    if (!lua_isnil(L, -1)) prec = precisions[luaL_checkoption(L, -1, NULL, precisions)];
    lua_getfield(L, 4, "warps");
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "rows"))
        luaL_error(L, "k.dot: warps = '%s': the one split is \"rows\"", luaL_tolstring(L, -1, NULL));
      split = splits[0];
    }
    lua_getfield(L, 4, "mma");
    if (!lua_isnil(L, -1)) {
      const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      for (int i = 0; m && mmas[i]; i++)
        if (!strcmp(m, mmas[i])) mma = mmas[i];
      if (!mma) luaL_error(L, "k.dot: mma = '%s': auto, wgmma or mma_sync", luaL_tolstring(L, -1, NULL));
    }
    lua_pop(L, 3);
  } else if (!lua_isnoneornil(L, 4)) {
    prec = precisions[luaL_checkoption(L, 4, NULL, precisions)];
  }
  if (ir_dot_check(t[0], t[1], t[2], prec, msg, sizeof msg)) luaL_error(L, "k.dot: %s", msg);
  ir_opid op = kl_op(L, IR_OP_DOT, v, 3, &t[2], 1, 0);
  ir_func *fn = kl_build_get(L)->fn;
  if (prec) ir_op_set_s(fn, op, "precision", prec);
  if (split) ir_op_set_s(fn, op, "split", split);
  if (mma && strcmp(mma, "auto")) ir_op_set_s(fn, op, "mma", mma);
  kl_push(L, ir_res(fn, op, 0));
  return 1;
}

static int f_shape(lua_State *L) {
  ir_type t = kl_vtype(L, kl_check(L, 1));
  lua_createtable(L, t.rank, 0);
  for (int i = 0; i < t.rank && (t.kind == IR_TTILE || t.kind == IR_TSMEM); i++) {
    lua_pushinteger(L, t.shape[i]);
    lua_seti(L, -2, i + 1);
  }
  return 1;
}

static int f_dtype(lua_State *L) {
  lua_pushstring(L, ir_elem_name((ir_elem)kl_vtype(L, kl_check(L, 1)).elem));
  return 1;
}

static int f_rank(lua_State *L) {
  ir_type t = kl_vtype(L, kl_check(L, 1));
  lua_pushinteger(L, t.kind == IR_TSCALAR || t.kind == IR_TPTR ? 0 : t.rank);
  return 1;
}

const luaL_Reg kl_tile_lib[] = {
    {"const", f_const}, {"full", f_full},       {"iota", f_iota},         {"broadcast", f_broadcast},
    {"cast", f_cast},   {"bitcast", f_bitcast}, {"bitsplit", f_bitsplit}, {"sum", f_sum},
    {"dot", f_dot},     {"shape", f_shape},     {"dtype", f_dtype},       {"rank", f_rank},
    {NULL, NULL}};
