/*
 * kl_math.c - elementwise ops: the operators on kiln values (+ - * / % unary-, & | ~ << >>), the
 * comparisons (t:lt(u) ...), math functions (k.exp2 ...), k.where and k.fma.
 *
 * The plain elementwise ops are generic: ops.def's lua column names their k.* function and
 * metamethod, and one closure per op (the opcode its upvalue) builds them (generic[] below). The
 * rest are written here: comparisons, k.where, k.max/k.min (reduction or elementwise).
 *
 * Lua turns the results of == < <= into booleans, so comparisons are methods (t:lt(u)) that build
 * i1 values; < and <= on kiln values raise an error that says so. '%' is the IR's rem (truncating,
 * as in C), not Lua's floored modulo; '//' and '^' are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kl_lib.h"

/* The element class of ops.def (ir_elem_in_class), in the front end's words. */
static void check_class(lua_State *L, ir_type t, ir_opcode code) {
  ir_eclass c = (ir_eclass)ir_opinfo_table[code].elems;
  const char *op = ir_opinfo_table[code].name;
  if (ir_elem_in_class(c, (ir_elem)t.elem)) return;
  if (c == IR_EC_FLOAT) luaL_error(L, "'%s' needs a float value, got %s", op, ir_elem_name((ir_elem)t.elem));
  if (c == IR_EC_INT) luaL_error(L, "'%s' needs an integer value, got %s", op, ir_elem_name((ir_elem)t.elem));
  luaL_error(L, "'%s' does not apply to i1 (use & | ~ on conditions, or k.cast)", op);
}

/* NARY: the operands brought to one type (numbers become constants, scalars splat, size-1 dims
 * broadcast), then the op's element class. */
static int nary(lua_State *L, ir_opcode code) {
  int n = ir_opinfo_table[code].nopnd, idx[3] = {1, 2, 3};
  ir_val v[3];
  ir_type t = kl_unify(L, idx, n, 0, ir_opinfo_table[code].name, v);
  check_class(L, t, code);
  kl_push(L, kl_op1(L, code, v, n, t));
  return 1;
}

static int unary(lua_State *L, ir_opcode code) {
  char buf[64];
  ir_val x = kl_check(L, 1);
  ir_type t = kl_vtype(L, x);
  if (t.kind != IR_TSCALAR && t.kind != IR_TTILE)
    luaL_error(L, "'%s' works on scalars and tiles, not %s", ir_opinfo_table[code].name,
               kl_tstr(t, buf, sizeof buf));
  check_class(L, t, code);
  kl_push(L, kl_op1(L, code, &x, 1, t));
  return 1;
}

/* The generic bindings of ops.def's lua column; the opcode is the closure's upvalue. */
static int l_nary(lua_State *L) { return nary(L, (ir_opcode)lua_tointeger(L, lua_upvalueindex(1))); }
static int l_unary(lua_State *L) { return unary(L, (ir_opcode)lua_tointeger(L, lua_upvalueindex(1))); }

static const struct {
  ir_opcode code;
  lua_CFunction f;
  const char *name, *meta;
} generic[] = {
#define KL_NONE NULL
#define KL_NARY l_nary
#define KL_UNARY l_unary
#define OP(E, name, nopnd, nres, nregion, flags, elems, verify, lower, lua, lua_name, lua_meta)              \
  {IR_OP_##E, KL_##lua, lua_name, lua_meta},
#include "../../ir/ops.def"
#undef OP
#undef KL_NONE
#undef KL_NARY
#undef KL_UNARY
};

static int compare(lua_State *L, const char *pred) {
  int idx[2] = {1, 2};
  ir_val v[2];
  ir_type t = kl_unify(L, idx, 2, 0, pred, v);
  t.elem = IR_I1;
  ir_opid op = kl_op(L, IR_OP_CMP, v, 2, &t, 1, 0);
  ir_op_set_s(kl_build_get(L)->fn, op, "pred", pred);
  kl_push(L, ir_res(kl_build_get(L)->fn, op, 0));
  return 1;
}

/* ---- operators ---- */

static int m_refuse_cmp(lua_State *L) {
  return luaL_error(L, "'<' and '<=' cannot build kiln comparisons (Lua makes them booleans): "
                       "use a:lt(b), a:le(b), a:gt(b), a:ge(b), a:eq(b), a:ne(b)");
}
static int m_refuse_idiv(lua_State *L) {
  return luaL_error(L, "'//' is not a kiln op: '/' on integer values already truncates");
}
static int m_refuse_pow(lua_State *L) { return luaL_error(L, "'^' is not a kiln op: use k.exp2/k.log2"); }
static int m_refuse_concat(lua_State *L) {
  return luaL_error(L, "'..' does not apply to kiln values (use tostring(v) to print one)");
}

/* The operators on the value metatable at mt, and the generic ops into the library (its __index). */
void kl_math_metamethods(lua_State *L, int mt) {
  static const luaL_Reg refused[] = {{"__lt", m_refuse_cmp},        {"__le", m_refuse_cmp},
                                     {"__idiv", m_refuse_idiv},     {"__pow", m_refuse_pow},
                                     {"__concat", m_refuse_concat}, {NULL, NULL}};
  mt = lua_absindex(L, mt);
  lua_pushvalue(L, mt);
  luaL_setfuncs(L, refused, 0);
  lua_getfield(L, mt, "__index");
  int lib = lua_gettop(L);
  for (size_t i = 0; i < sizeof generic / sizeof *generic; i++) {
    if (!generic[i].f) continue;
    int n = ir_opinfo_table[generic[i].code].nopnd;
    if (generic[i].f == l_nary ? n < 1 || n > 3 : n != 1) { /* nary() holds at most 3 operands */
      fprintf(stderr, "kiln: ops.def: op '%s' has %d operands, which its Lua binding kind cannot take\n",
              ir_opinfo_table[generic[i].code].name, n);
      abort();
    }
    lua_pushinteger(L, generic[i].code);
    lua_pushcclosure(L, generic[i].f, 1);
    if (generic[i].meta) {
      lua_pushvalue(L, -1);
      lua_setfield(L, mt, generic[i].meta);
    }
    lua_setfield(L, lib, generic[i].name);
  }
  lua_pop(L, 2);
}

/* ---- library functions ---- */

static int f_lt(lua_State *L) { return compare(L, "lt"); }
static int f_le(lua_State *L) { return compare(L, "le"); }
static int f_gt(lua_State *L) { return compare(L, "gt"); }
static int f_ge(lua_State *L) { return compare(L, "ge"); }
static int f_eq(lua_State *L) { return compare(L, "eq"); }
static int f_ne(lua_State *L) { return compare(L, "ne"); }

/* k.max(t, axis) / t:max(axis) reduces a tile; k.max(a, b) with b a kiln value is elementwise. */
static int reduces(lua_State *L) {
  if (!kl_isvalue(L, 1) || kl_vtype(L, kl_check(L, 1)).kind != IR_TTILE) return 0;
  return lua_isnoneornil(L, 2) || lua_type(L, 2) == LUA_TNUMBER;
}
static int f_max(lua_State *L) { return reduces(L) ? kl_reduce(L, "max") : nary(L, IR_OP_MAX); }
/* kiln.min(a, b) of two whole numbers (a grid size, min(tiles, programs)) is their minimum, and a
 * problem size's expression while a pack traces the launch rules (a table: kl_trace.c). */
static int f_min(lua_State *L) {
  if (lua_istable(L, 1) || lua_istable(L, 2)) return kl_size_min(L);
  if (lua_isinteger(L, 1) && lua_isinteger(L, 2) && lua_gettop(L) == 2) {
    lua_Integer a = lua_tointeger(L, 1), b = lua_tointeger(L, 2);
    return lua_pushinteger(L, a < b ? a : b), 1;
  }
  return reduces(L) ? kl_reduce(L, "min") : nary(L, IR_OP_MIN);
}

static int f_where(lua_State *L) {
  char buf[64];
  int idx[3] = {1, 2, 3};
  ir_val v[3];
  if (!kl_isvalue(L, 1))
    luaL_error(L, "k.where: the condition must be an i1 value, got %s", luaL_typename(L, 1));
  ir_type c = kl_vtype(L, kl_check(L, 1));
  if (c.elem != IR_I1)
    luaL_error(L, "k.where: the condition must be i1 (a comparison), got %s", kl_tstr(c, buf, sizeof buf));
  ir_type t = kl_unify(L, idx, 3, 1u, "where", v);
  kl_push(L, kl_op1(L, IR_OP_SELECT, v, 3, t));
  return 1;
}

/* Hand-written: comparisons (the pred attribute), k.where (an i1 condition of its own type), and
 * k.max/k.min (a reduction or the elementwise op); the rest comes from ops.def (generic[]). */
const luaL_Reg kl_math_lib[] = {{"lt", f_lt},       {"le", f_le}, {"gt", f_gt},   {"ge", f_ge},
                                {"eq", f_eq},       {"ne", f_ne}, {"max", f_max}, {"min", f_min},
                                {"where", f_where}, {NULL, NULL}};
