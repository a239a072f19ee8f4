/*
 * kl_value.c - kiln values in Lua: userdata holding (build serial, value handle), and the rules that
 * turn what a recipe writes into well-typed IR operands.
 *
 * Rules (docs/recipes.md, "Values"):
 *   - a plain Lua number next to a value becomes a constant of that value's element type (and
 *     shape, for tiles); a whole number is required for integer types and must fit the type;
 *   - a scalar next to a tile is splatted; a tile with a size-1 dim next to a bigger tile is
 *     broadcast; ranks never change implicitly;
 *   - element types never change implicitly: mixing f16 and f32 is an error naming the line
 *     (k.cast converts);
 *   - a value made inside a k.range or k.if_ body cannot be used after it (the results of the
 *     k.range/k.if_ are how values leave a body).
 * Every op records the file and line of the recipe frame that asked for it, so that the verifier
 * can name the recipe line.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kl_lib.h"

/* ---- the build in progress ---- */

void kl_build_set(lua_State *L, kl_build *B) { *(kl_build **)lua_getextraspace(L) = B; }

static kl_build *build_peek(lua_State *L) { return *(kl_build **)lua_getextraspace(L); }

kl_build *kl_build_get(lua_State *L) {
  kl_build *B = build_peek(L);
  if (!B) luaL_error(L, "kiln ops build a kernel: call them inside the recipe's body function");
  return B;
}

/* Points the builder's file/line at the innermost Lua frame (the recipe line making the op). */
static void stamp(lua_State *L, kl_build *B) {
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline <= 0) continue;
    const char *src = ar.source[0] == '@' || ar.source[0] == '=' ? ar.source + 1 : ar.short_src;
    if (!B->b.file || strcmp(B->b.file, src) != 0) B->b.file = ir_strdup(B->fn->A, src);
    B->b.line = ar.currentline;
    return;
  }
}

ir_opid kl_op(lua_State *L, ir_opcode code, const ir_val *opnds, int nopnd, const ir_type *res, int nres,
              int nregion) {
  kl_build *B = kl_build_get(L);
  kl_limit_ops(L, B->fn->nops);
  char msg[200], ts[64];
  for (int i = 0; i < nres; i++) /* the verifier's limit, reported at the recipe line */
    if (ir_tile_size_check(res[i], (int)ir_attr_i(B->fn->attrs, "warps", 4), msg, sizeof msg))
      luaL_error(L, "'%s' makes %s: %s", ir_opinfo_table[code].name, kl_tstr(res[i], ts, sizeof ts), msg);
  stamp(L, B);
  return ir_build(&B->b, code, opnds, (uint32_t)nopnd, res, (uint32_t)nres, nregion);
}

ir_val kl_op1(lua_State *L, ir_opcode code, const ir_val *opnds, int nopnd, ir_type res) {
  ir_opid op = kl_op(L, code, opnds, nopnd, &res, 1, 0);
  return ir_res(kl_build_get(L)->fn, op, 0);
}

/* ---- userdata ---- */

void kl_push(lua_State *L, ir_val v) {
  kl_value *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->serial = kl_build_get(L)->serial;
  u->v = v;
  luaL_setmetatable(L, KL_VALUE_MT);
}

/* The value userdata at idx, or NULL: its metatable is kiln's (locked, so a recipe cannot dress
 * another object in it) and its size is a value's. */
static kl_value *value_ud(lua_State *L, int idx) {
  kl_value *u = luaL_testudata(L, idx, KL_VALUE_MT);
  return u && lua_rawlen(L, idx) == sizeof *u ? u : NULL;
}

/* Is u a value of the build B (made by it, its handle in range)? */
static int of_build(const kl_value *u, const kl_build *B) {
  return u && B && u->serial == B->serial && u->v > 0 && u->v < B->fn->nvals;
}

int kl_isvalue(lua_State *L, int idx) { return value_ud(L, idx) != NULL; }

ir_type kl_vtype(lua_State *L, ir_val v) { return ir_vtype(kl_build_get(L)->fn, v); }

const char *kl_tstr(ir_type t, char *buf, size_t n) {
  ir_type_str(t, buf, n);
  return buf;
}

const char *kl_describe(lua_State *L, int idx, char *buf, size_t n) {
  kl_value *u = value_ud(L, idx);
  kl_build *B = build_peek(L);
  if (of_build(u, B)) return kl_tstr(ir_vtype(B->fn, u->v), buf, n);
  snprintf(buf, n, "%s", u ? "a value of an earlier build" : luaL_typename(L, idx));
  return buf;
}

ir_val kl_check(lua_State *L, int idx) {
  char buf[64];
  kl_value *u = value_ud(L, idx);
  if (!u) luaL_error(L, "expected a kiln value, got %s", kl_describe(L, idx, buf, sizeof buf));
  kl_build *B = kl_build_get(L);
  if (!of_build(u, B))
    luaL_error(L, "this value belongs to an earlier kernel build (kept in a global or upvalue?)");
  ir_reg home = ir_val_region(B->fn, u->v);
  if (!ir_region_encloses(B->fn, home, B->b.reg)) {
    ir_opid owner = ir_r(B->fn, home)->parent_op;
    luaL_error(L, "a value made inside the k.%s body at line %d is used outside it (return it from the body)",
               ir_o(B->fn, owner)->code == IR_OP_FOR ? "range" : "if_", ir_o(B->fn, owner)->line);
  }
  return u->v;
}

int kl_peek(lua_State *L, int idx, ir_type *t) {
  kl_value *u = value_ud(L, idx);
  kl_build *B = build_peek(L);
  if (!of_build(u, B)) return 0;
  *t = ir_vtype(B->fn, u->v);
  return 1;
}

static int value_tostring(lua_State *L) {
  char buf[96];
  lua_pushfstring(L, "kiln value: %s", kl_describe(L, 1, buf, sizeof buf));
  return 1;
}

void kl_value_open(lua_State *L, int lib) {
  lib = lua_absindex(L, lib);
  luaL_newmetatable(L, KL_VALUE_MT);
  lua_pushvalue(L, lib);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, value_tostring);
  lua_setfield(L, -2, "__tostring");
  kl_math_metamethods(L, lua_gettop(L));
  kl_lock_metatable(L, -1);
  lua_pop(L, 1);
}

/* ---- checked arguments ---- */

int kl_check_flag(lua_State *L, const char *what, const char *name) {
  int ok = 1;
  lua_Integer f = lua_isboolean(L, -1) ? lua_toboolean(L, -1) : lua_tointegerx(L, -1, &ok);
  if (!ok || f < 0 || f > 1)
    luaL_error(L, "%s: %s must be true, false, 0 or 1, got %s", what, name, luaL_tolstring(L, -1, NULL));
  return (int)f;
}

ir_elem kl_check_elem(lua_State *L, int idx) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  int e = s && lua_type(L, idx) == LUA_TSTRING ? ir_elem_parse(s, (int)n) : -1;
  if (e < 0)
    luaL_error(L, "'%s' is not an element type (i1 i8 u8 i16 i32 u32 i64 f16 bf16 f32 f64 e4m3 e5m2)",
               s ? s : luaL_typename(L, idx));
  return (ir_elem)e;
}

static int64_t check_size(lua_State *L, int idx, const char *what) {
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok) luaL_error(L, "%s: sizes must be whole numbers, got %s", what, luaL_typename(L, idx));
  if (v < 1 || (v & (v - 1)) != 0 || v > (1 << 20))
    luaL_error(L, "%s: tile size %I is not a power of two (1 to 2^20)", what, v);
  return v;
}

int kl_check_shape(lua_State *L, int idx, uint32_t shape[IR_MAXRANK], const char *what) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TNUMBER) {
    shape[0] = (uint32_t)check_size(L, idx, what);
    return 1;
  }
  if (!lua_istable(L, idx))
    luaL_error(L, "%s: a shape is a list of 1 to 3 sizes, got %s", what, luaL_typename(L, idx));
  int rank = (int)luaL_len(L, idx);
  if (rank < 1 || rank > IR_MAXRANK) luaL_error(L, "%s: a shape has 1 to 3 sizes, got %d", what, rank);
  for (int i = 0; i < rank; i++) {
    lua_geti(L, idx, i + 1);
    shape[i] = (uint32_t)check_size(L, -1, what);
    lua_pop(L, 1);
  }
  return rank;
}

int kl_check_axis(lua_State *L, int idx, int rank, const char *what) {
  int ok;
  lua_Integer a = lua_tointegerx(L, idx, &ok);
  if (!ok || a < 0 || a >= rank)
    luaL_error(L, "%s: axis must be 0 to %d (axes count from 0), got %s", what, rank - 1,
               luaL_tolstring(L, idx, NULL));
  return (int)a;
}

/* ---- constants ---- */

static void check_int_range(lua_State *L, ir_elem e, int64_t v) {
  static const struct {
    int64_t lo, hi;
  } r[IR_NELEM] = {[IR_I1] = {0, 1},
                   [IR_I8] = {INT8_MIN, INT8_MAX},
                   [IR_U8] = {0, UINT8_MAX},
                   [IR_I16] = {INT16_MIN, INT16_MAX},
                   [IR_I32] = {INT32_MIN, INT32_MAX},
                   [IR_U32] = {0, UINT32_MAX},
                   [IR_I64] = {INT64_MIN, INT64_MAX}};
  if (v < r[e].lo || v > r[e].hi) luaL_error(L, "%I does not fit in %s", (lua_Integer)v, ir_elem_name(e));
}

ir_val kl_const(lua_State *L, ir_type t, int idx) {
  kl_build *B = kl_build_get(L);
  int is_bool = lua_isboolean(L, idx);
  if (!is_bool && lua_type(L, idx) != LUA_TNUMBER)
    luaL_error(L, "expected a number for a %s constant, got %s", ir_elem_name(t.elem), luaL_typename(L, idx));
  ir_opid op = kl_op(L, IR_OP_CONST, NULL, 0, &t, 1, 0);
  if (ir_elem_is_float(t.elem)) {
    ir_op_set_f(B->fn, op, "value", is_bool ? lua_toboolean(L, idx) : lua_tonumber(L, idx));
    return ir_res(B->fn, op, 0);
  }
  int64_t v;
  if (is_bool)
    v = lua_toboolean(L, idx);
  else if (lua_isinteger(L, idx))
    v = lua_tointeger(L, idx);
  else {
    double d = lua_tonumber(L, idx);
    if (d != floor(d) || !(fabs(d) < 9.2e18))
      luaL_error(L, "%f is not a whole number: it cannot be a %s", d, ir_elem_name(t.elem));
    v = (int64_t)d;
  }
  check_int_range(L, t.elem, v);
  ir_op_set_i(B->fn, op, "value", v);
  return ir_res(B->fn, op, 0);
}

ir_val kl_value_as(lua_State *L, int idx, ir_type like) {
  if (lua_type(L, idx) == LUA_TNUMBER || lua_isboolean(L, idx)) return kl_const(L, like, idx);
  return kl_check(L, idx);
}

ir_val kl_index(lua_State *L, int idx, ir_elem e, const char *what) {
  char buf[64];
  if (lua_type(L, idx) == LUA_TNUMBER) return kl_const(L, ir_t_scalar(e), idx);
  ir_val v = kl_check(L, idx);
  ir_type t = kl_vtype(L, v);
  if (t.kind != IR_TSCALAR || (t.elem != IR_I32 && t.elem != IR_I64))
    luaL_error(L, "%s must be an i32 or i64 scalar, got %s", what, kl_tstr(t, buf, sizeof buf));
  return v;
}

/* ---- unification of elementwise operands ---- */

typedef struct {
  int have_elem, rank, tile;
  ir_elem elem;
  uint32_t shape[IR_MAXRANK];
} unify_acc;

static void shape_str(const uint32_t *s, int rank, char *buf, size_t n) {
  int len = snprintf(buf, n, "[");
  for (int i = 0; i < rank; i++) len += snprintf(buf + len, n - (size_t)len, "%s%u", i ? "x" : "", s[i]);
  snprintf(buf + len, n - (size_t)len, "]");
}

static void merge_shape(lua_State *L, unify_acc *u, ir_type t, const char *op) {
  char a[48], b[48];
  shape_str(u->shape, u->rank, a, sizeof a);
  shape_str(t.shape, t.rank, b, sizeof b);
  if (!u->tile) {
    u->tile = 1;
    u->rank = t.rank;
    memcpy(u->shape, t.shape, sizeof u->shape);
    return;
  }
  if (u->rank != t.rank)
    luaL_error(L, "'%s': tiles %s and %s differ in rank (make both the same rank, e.g. k.iota({64,1}, 0))",
               op, a, b);
  for (int d = 0; d < t.rank; d++) {
    if (u->shape[d] == t.shape[d] || t.shape[d] == 1) continue;
    if (u->shape[d] != 1) luaL_error(L, "'%s': shapes %s and %s do not broadcast (dim %d)", op, a, b, d);
    u->shape[d] = t.shape[d];
  }
}

static void unify_one(lua_State *L, unify_acc *u, int idx, int elem_free, const char *op) {
  char buf[64];
  if (lua_type(L, idx) == LUA_TNUMBER || lua_isboolean(L, idx)) return;
  ir_type t = kl_vtype(L, kl_check(L, idx));
  if (t.kind != IR_TSCALAR && t.kind != IR_TTILE)
    luaL_error(L, "'%s' works on scalars and tiles, not %s", op, kl_tstr(t, buf, sizeof buf));
  if (!elem_free && !u->have_elem) {
    u->have_elem = 1;
    u->elem = (ir_elem)t.elem;
  } else if (!elem_free && u->elem != t.elem) {
    luaL_error(L, "'%s' mixes %s and %s: convert one with k.cast", op, ir_elem_name(u->elem),
               ir_elem_name((ir_elem)t.elem));
  }
  if (t.kind == IR_TTILE) merge_shape(L, u, t, op);
}

ir_val kl_to_shape(lua_State *L, ir_val v, ir_type t) {
  ir_type vt = kl_vtype(L, v);
  if (t.kind != IR_TTILE) return v;
  ir_type want = ir_t_tile((ir_elem)vt.elem, t.rank, t.shape);
  if (vt.kind == IR_TSCALAR) return kl_op1(L, IR_OP_SPLAT, &v, 1, want);
  if (ir_type_eq_nolayout(vt, want)) return v;
  return kl_op1(L, IR_OP_BROADCAST, &v, 1, want);
}

ir_type kl_unify(lua_State *L, const int *idx, int n, unsigned elem_free, const char *op, ir_val *out) {
  unify_acc u = {0};
  for (int i = 0; i < n; i++) unify_one(L, &u, idx[i], (elem_free >> i) & 1, op);
  if (!u.have_elem)
    luaL_error(L, "'%s' needs at least one kiln value to take its type from (use k.const(v, \"f32\"))", op);
  ir_type t = u.tile ? ir_t_tile(u.elem, u.rank, u.shape) : ir_t_scalar(u.elem);
  for (int i = 0; i < n; i++) {
    if (lua_type(L, idx[i]) == LUA_TNUMBER || lua_isboolean(L, idx[i])) {
      out[i] = kl_const(L, t, idx[i]); /* never an elem_free operand: callers check those are values */
    } else {
      out[i] = kl_to_shape(L, kl_check(L, idx[i]), t);
    }
  }
  return t;
}
