/*
 * kl_math.c - elementwise ops: the operators on kiln values (+ - * / % unary-, & | ~ << >>), the
 * comparisons (t:lt(u) ...), math functions (k.exp2 ...), k.where and k.fma.
 *
 * Lua turns the results of == < <= into booleans, so comparisons are methods (t:lt(u)) that build
 * i1 values; < and <= on kiln values raise an error that says so. '%' is the IR's rem (truncating,
 * as in C), not Lua's floored modulo; '//' and '^' are refused.
 */
#include <string.h>

#include "kl_lib.h"

enum { NUMERIC, INTEGER, FLOAT, ANY };

static void check_class(lua_State *L, ir_type t, int cls, const char *op) {
  int f = ir_elem_is_float((ir_elem)t.elem);
  if (cls == FLOAT && !f)
    luaL_error(L, "'%s' needs a float value, got %s", op, ir_elem_name((ir_elem)t.elem));
  if (cls == INTEGER && f)
    luaL_error(L, "'%s' needs an integer value, got %s", op, ir_elem_name((ir_elem)t.elem));
  if (cls == NUMERIC && t.elem == IR_I1)
    luaL_error(L, "'%s' does not apply to i1 (use & | ~ on conditions, or k.cast)", op);
}

static int binary(lua_State *L, ir_opcode code, int cls, const char *op) {
  int idx[2] = {1, 2};
  ir_val v[2];
  ir_type t = kl_unify(L, idx, 2, 0, op, v);
  check_class(L, t, cls, op);
  kl_push(L, kl_op1(L, code, v, 2, t));
  return 1;
}

static int unary(lua_State *L, ir_opcode code, int cls, const char *op) {
  char buf[64];
  ir_val x = kl_check(L, 1);
  ir_type t = kl_vtype(L, x);
  if (t.kind != IR_TSCALAR && t.kind != IR_TTILE)
    luaL_error(L, "'%s' works on scalars and tiles, not %s", op, kl_tstr(t, buf, sizeof buf));
  check_class(L, t, cls, op);
  kl_push(L, kl_op1(L, code, &x, 1, t));
  return 1;
}

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

static int m_add(lua_State *L) { return binary(L, IR_OP_ADD, NUMERIC, "add"); }
static int m_sub(lua_State *L) { return binary(L, IR_OP_SUB, NUMERIC, "sub"); }
static int m_mul(lua_State *L) { return binary(L, IR_OP_MUL, NUMERIC, "mul"); }
static int m_div(lua_State *L) { return binary(L, IR_OP_DIV, NUMERIC, "div"); }
static int m_rem(lua_State *L) { return binary(L, IR_OP_REM, NUMERIC, "rem"); }
static int m_and(lua_State *L) { return binary(L, IR_OP_AND, INTEGER, "and"); }
static int m_or(lua_State *L) { return binary(L, IR_OP_OR, INTEGER, "or"); }
static int m_xor(lua_State *L) { return binary(L, IR_OP_XOR, INTEGER, "xor"); }
static int m_shl(lua_State *L) { return binary(L, IR_OP_SHL, INTEGER, "shl"); }
static int m_shr(lua_State *L) { return binary(L, IR_OP_SHR, INTEGER, "shr"); }
static int m_neg(lua_State *L) { return unary(L, IR_OP_NEG, NUMERIC, "neg"); }
static int m_not(lua_State *L) { return unary(L, IR_OP_NOT, INTEGER, "not"); }

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

void kl_math_metamethods(lua_State *L, int mt) {
  static const luaL_Reg ops[] = {{"__add", m_add},
                                 {"__sub", m_sub},
                                 {"__mul", m_mul},
                                 {"__div", m_div},
                                 {"__mod", m_rem},
                                 {"__unm", m_neg},
                                 {"__band", m_and},
                                 {"__bor", m_or},
                                 {"__bxor", m_xor},
                                 {"__shl", m_shl},
                                 {"__shr", m_shr},
                                 {"__bnot", m_not},
                                 {"__lt", m_refuse_cmp},
                                 {"__le", m_refuse_cmp},
                                 {"__idiv", m_refuse_idiv},
                                 {"__pow", m_refuse_pow},
                                 {"__concat", m_refuse_concat},
                                 {NULL, NULL}};
  lua_pushvalue(L, mt);
  luaL_setfuncs(L, ops, 0);
  lua_pop(L, 1);
}

/* ---- library functions ---- */

static int f_lt(lua_State *L) { return compare(L, "lt"); }
static int f_le(lua_State *L) { return compare(L, "le"); }
static int f_gt(lua_State *L) { return compare(L, "gt"); }
static int f_ge(lua_State *L) { return compare(L, "ge"); }
static int f_eq(lua_State *L) { return compare(L, "eq"); }
static int f_ne(lua_State *L) { return compare(L, "ne"); }
static int f_exp(lua_State *L) { return unary(L, IR_OP_EXP, FLOAT, "exp"); }
static int f_exp2(lua_State *L) { return unary(L, IR_OP_EXP2, FLOAT, "exp2"); }
static int f_log(lua_State *L) { return unary(L, IR_OP_LOG, FLOAT, "log"); }
static int f_log2(lua_State *L) { return unary(L, IR_OP_LOG2, FLOAT, "log2"); }
static int f_sqrt(lua_State *L) { return unary(L, IR_OP_SQRT, FLOAT, "sqrt"); }
static int f_rsqrt(lua_State *L) { return unary(L, IR_OP_RSQRT, FLOAT, "rsqrt"); }
static int f_abs(lua_State *L) { return unary(L, IR_OP_ABS, NUMERIC, "abs"); }
static int f_popc(lua_State *L) { return unary(L, IR_OP_POPC, INTEGER, "popc"); }
static int f_maximum(lua_State *L) { return binary(L, IR_OP_MAX, NUMERIC, "max"); }
static int f_minimum(lua_State *L) { return binary(L, IR_OP_MIN, NUMERIC, "min"); }

/* k.max(t, axis) / t:max(axis) reduces a tile; k.max(a, b) with b a kiln value is elementwise. */
static int reduces(lua_State *L) {
  if (!kl_isvalue(L, 1) || kl_vtype(L, kl_check(L, 1)).kind != IR_TTILE) return 0;
  return lua_isnoneornil(L, 2) || lua_type(L, 2) == LUA_TNUMBER;
}
static int f_max(lua_State *L) { return reduces(L) ? kl_reduce(L, "max") : f_maximum(L); }
static int f_min(lua_State *L) { return reduces(L) ? kl_reduce(L, "min") : f_minimum(L); }

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

static int f_fma(lua_State *L) {
  int idx[3] = {1, 2, 3};
  ir_val v[3];
  ir_type t = kl_unify(L, idx, 3, 0, "fma", v);
  check_class(L, t, NUMERIC, "fma");
  kl_push(L, kl_op1(L, IR_OP_FMA, v, 3, t));
  return 1;
}

const luaL_Reg kl_math_lib[] = {{"lt", f_lt},     {"le", f_le},           {"gt", f_gt},
                                {"ge", f_ge},     {"eq", f_eq},           {"ne", f_ne},
                                {"exp", f_exp},   {"exp2", f_exp2},       {"log", f_log},
                                {"log2", f_log2}, {"sqrt", f_sqrt},       {"rsqrt", f_rsqrt},
                                {"abs", f_abs},   {"popc", f_popc},       {"neg", m_neg},
                                {"bnot", m_not},  {"maximum", f_maximum}, {"minimum", f_minimum},
                                {"max", f_max},   {"min", f_min},         {"where", f_where},
                                {"fma", f_fma},   {"add", m_add},         {"sub", m_sub},
                                {"mul", m_mul},   {"div", m_div},         {"rem", m_rem},
                                {"band", m_and},  {"bor", m_or},          {"bxor", m_xor},
                                {"shl", m_shl},   {"shr", m_shr},         {NULL, NULL}};
