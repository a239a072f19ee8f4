/*
 * kl_control.c - structured control flow: k.range (the IR's `for`) and k.if_ (the IR's `if`).
 *
 * A body is a Lua function run once, at build time, with the builder inside the op's region: it
 * receives the region's block arguments as values and returns the values the region yields.
 *   k.range(lo, hi, step, {inits...}, function(i, c1, c2, ...) return c1', c2', ... end[, {stages=n,
 *           inflight=b, tma=b, release=b, ws=b}]); tma: the pipelined copies as TMA boxes where the target
 *           has them; release = false keeps the body's barrier where release mbarriers could replace it;
 *           ws: a producer warpgroup issues the TMA ring's copies (the pipeline pass's warp_split)
 * The loop counts up from lo while i < hi: a number step must be >= 1 (a value step that is not
 * positive at run time runs no iteration); stages is 1..IR_MAX_STAGES.
 *   k.if_(cond, function() return a, b end, function() return a', b' end)
 * The results of the op are returned to the recipe. An `if`'s result types are known only once
 * both branches ran, so the op is first built without results and then rebuilt with them, the two
 * regions moving to the new op.
 */
#include <string.h>

#include "kl_lib.h"

enum { MAXCARRY = 32 };

/* Type of a yielded Lua value: a value's own type, or `like` for a plain number. */
static ir_val yield_one(lua_State *L, int idx, ir_type want, const char *what, int i) {
  char a[64], b[64];
  ir_val v = kl_value_as(L, idx, want);
  ir_type t = kl_vtype(L, v);
  if (!ir_type_eq_nolayout(t, want))
    luaL_error(L, "%s: result %d is %s but should be %s", what, i + 1, kl_tstr(t, a, sizeof a),
               kl_tstr(want, b, sizeof b));
  return v;
}

/* Yields the n Lua values starting at stack index first, typed as types[]. */
static void yield(lua_State *L, int first, const ir_type *types, int n, const char *what) {
  ir_val vals[MAXCARRY + 1];
  for (int i = 0; i < n; i++) vals[i] = yield_one(L, first + i, types[i], what, i);
  kl_op(L, IR_OP_YIELD, vals, n, NULL, 0, 0);
}

/* Calls the function at fidx with nargs arguments already pushed; returns how many it returned. */
static int run_body(lua_State *L, int fidx, int nargs) {
  int base = lua_gettop(L) - nargs;
  lua_pushvalue(L, fidx);
  lua_insert(L, base + 1);
  lua_call(L, nargs, LUA_MULTRET);
  return lua_gettop(L) - base;
}

/* The loop bounds' type: that of the first bound given as a value, else i32. */
static ir_elem bound_type(lua_State *L) {
  char buf[64];
  for (int i = 1; i <= 3; i++) {
    if (lua_type(L, i) == LUA_TNUMBER) continue;
    ir_type t = kl_vtype(L, kl_check(L, i));
    if (t.kind != IR_TSCALAR || (t.elem != IR_I32 && t.elem != IR_I64))
      luaL_error(L, "k.range: bounds are i32 or i64 scalars, got %s", kl_tstr(t, buf, sizeof buf));
    return (ir_elem)t.elem;
  }
  return IR_I32;
}

static int read_inits(lua_State *L, int idx, ir_val *v, ir_type *t) {
  char buf[64];
  if (lua_isnoneornil(L, idx)) return 0;
  if (!lua_istable(L, idx))
    luaL_error(L, "k.range: initial values are a list, got %s", luaL_typename(L, idx));
  int n = (int)luaL_len(L, idx);
  if (n > MAXCARRY) luaL_error(L, "k.range: at most %d carried values", MAXCARRY);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    if (!kl_isvalue(L, -1))
      luaL_error(L, "k.range: initial value %d is %s: give it a type (k.const(v, \"f32\"), k.full(...))",
                 i + 1, luaL_typename(L, -1));
    v[i] = kl_check(L, -1);
    t[i] = kl_vtype(L, v[i]);
    if (t[i].kind != IR_TSCALAR && t[i].kind != IR_TTILE)
      luaL_error(L, "k.range: carried values are scalars or tiles, not %s", kl_tstr(t[i], buf, sizeof buf));
    lua_pop(L, 1);
  }
  return n;
}

/* The options table of k.range: stages = n, inflight, tma, release, ws, pingpong and short =
 * true|false|0|1. */
static void set_stages(lua_State *L, int idx, ir_func *fn, ir_opid op) {
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
    if (lua_type(L, -2) != LUA_TSTRING ||
        (strcmp(lua_tostring(L, -2), "stages") != 0 && strcmp(lua_tostring(L, -2), "inflight") != 0 &&
         strcmp(lua_tostring(L, -2), "tma") != 0 && strcmp(lua_tostring(L, -2), "release") != 0 &&
         strcmp(lua_tostring(L, -2), "ws") != 0 && strcmp(lua_tostring(L, -2), "pingpong") != 0 &&
         strcmp(lua_tostring(L, -2), "short") != 0))
      luaL_error(L, "k.range: unknown option '%s'", luaL_tolstring(L, -2, NULL));
  lua_getfield(L, idx, "stages");
  if (!lua_isnil(L, -1)) {
    int ok;
    lua_Integer s = lua_tointegerx(L, -1, &ok);
    if (!ok || s < 1 || s > IR_MAX_STAGES)
      luaL_error(L, "k.range: stages must be a whole number from 1 to %d, got %s", IR_MAX_STAGES,
                 luaL_tolstring(L, -1, NULL));
    ir_op_set_i(fn, op, "stages", s);
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "inflight");
  if (!lua_isnil(L, -1)) {
    int f = kl_check_flag(L, "k.range", "inflight");
    if (f && ir_attr_i(ir_o(fn, op)->attrs, "stages", 1) < 3)
      luaL_error(L,
                 "k.range: inflight needs stages >= 3 (got %d): the stage a group in flight reads is "
                 "not refilled",
                 (int)ir_attr_i(ir_o(fn, op)->attrs, "stages", 1));
    if (f) ir_op_set_i(fn, op, "inflight", 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "tma");
  if (!lua_isnil(L, -1)) {
    int f = kl_check_flag(L, "k.range", "tma");
    if (f && ir_attr_i(ir_o(fn, op)->attrs, "stages", 1) < 2)
      luaL_error(L, "k.range: tma needs stages >= 2 (got %d): the copies run ahead into a ring of stages",
                 (int)ir_attr_i(ir_o(fn, op)->attrs, "stages", 1));
    if (f) ir_op_set_i(fn, op, "tma", 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "release");
  int release = lua_isnil(L, -1) || kl_check_flag(L, "k.range", "release");
  if (!release) ir_op_set_i(fn, op, "release", 0);
  lua_pop(L, 1);
  lua_getfield(L, idx, "ws");
  if (!lua_isnil(L, -1) && kl_check_flag(L, "k.range", "ws")) {
    if (!ir_attr_i(ir_o(fn, op)->attrs, "tma", 0) || !release)
      luaL_error(L, "k.range: ws needs tma (and release not false): the producer warpgroup issues the ring's "
                    "TMA copies and the consumers hand the stages back by mbarrier");
    ir_op_set_i(fn, op, "ws", 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "pingpong");
  if (!lua_isnil(L, -1) && kl_check_flag(L, "k.range", "pingpong")) {
    if (!ir_attr_i(ir_o(fn, op)->attrs, "ws", 0))
      luaL_error(L,
                 "k.range: pingpong needs ws: the consumer warpgroups of a warp-specialised loop take turns");
    ir_op_set_i(fn, op, "pingpong", 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "short");
  if (!lua_isnil(L, -1) && kl_check_flag(L, "k.range", "short")) ir_op_set_i(fn, op, "short", 1);
  lua_pop(L, 1);
}

/* k.range(lo, hi, step, {inits...}, body[, {stages=n}]) -> final carried values */
static int f_range(lua_State *L) {
  ir_val opnd[3 + MAXCARRY];
  ir_type types[MAXCARRY + 1];
  kl_build *B = kl_build_get(L);
  ir_elem e = bound_type(L);
  if (lua_type(L, 3) == LUA_TNUMBER && !(lua_tonumber(L, 3) >= 1))
    luaL_error(L, "k.range: the step must be at least 1 (loops count up), got %s",
               luaL_tolstring(L, 3, NULL));
  for (int i = 0; i < 3; i++) opnd[i] = kl_index(L, i + 1, e, "k.range: a bound");
  for (int i = 0; i < 3; i++)
    if (kl_vtype(L, opnd[i]).elem != e) luaL_error(L, "k.range: bounds mix i32 and i64");
  int n = read_inits(L, 4, opnd + 3, types);
  luaL_checktype(L, 5, LUA_TFUNCTION);
  ir_opid op = kl_op(L, IR_OP_FOR, opnd, 3 + n, types, n, 1);
  set_stages(L, 6, B->fn, op);
  ir_reg body = ir_o(B->fn, op)->region[0];
  ir_builder outer = B->b;
  B->b = ir_builder_at_end(B->fn, body);
  lua_settop(L, 5);
  luaL_checkstack(L, n + 8, "k.range");
  kl_push(L, ir_region_add_arg(B->fn, body, ir_t_scalar(e)));
  for (int i = 0; i < n; i++) kl_push(L, ir_region_add_arg(B->fn, body, types[i]));
  int nret = run_body(L, 5, n + 1);
  if (nret != n) luaL_error(L, "k.range: the body returns %d values but the loop carries %d", nret, n);
  yield(L, 6, types, n, "k.range");
  B->b = outer;
  for (int i = 0; i < n; i++) kl_push(L, ir_res(B->fn, op, i));
  return n;
}

/* Result types of an if: each result's type from whichever branch gives a value. */
static void if_types(lua_State *L, int then1, int else1, int n, ir_type *t) {
  char a[64], b[64];
  for (int i = 0; i < n; i++) {
    ir_type x, y;
    int hx = kl_peek(L, then1 + i, &x), hy = kl_peek(L, else1 + i, &y);
    if (!hx && !hy)
      luaL_error(L, "k.if_: result %d is not a kiln value in either branch: give it a type with k.const",
                 i + 1);
    t[i] = hx ? x : y;
    if (hx && hy && !ir_type_eq_nolayout(x, y))
      luaL_error(L, "k.if_: result %d is %s in the then branch but %s in the else branch", i + 1,
                 kl_tstr(x, a, sizeof a), kl_tstr(y, b, sizeof b));
  }
}

/* Rebuilds the result-less `if` op as one with results, moving its two regions over. */
static ir_opid rebuild_if(lua_State *L, kl_build *B, ir_opid old, const ir_type *types, int n) {
  ir_builder outer = B->b;
  ir_val cond = ir_o(B->fn, old)->opnd[0];
  B->b = ir_builder_before(B->fn, old);
  ir_opid op = kl_op(L, IR_OP_IF, &cond, 1, types, n, 0);
  B->b = outer;
  ir_op *o = ir_o(B->fn, op), *p = ir_o(B->fn, old);
  o->nregion = 2;
  for (int i = 0; i < 2; i++) {
    o->region[i] = p->region[i];
    ir_r(B->fn, o->region[i])->parent_op = op;
    p->region[i] = 0;
  }
  p->nregion = 0;
  ir_op_unlink(B->fn, old);
  return op;
}

/* k.if_(cond, then_fn[, else_fn]) -> results */
static int f_if(lua_State *L) {
  char buf[64];
  ir_type types[MAXCARRY + 1];
  kl_build *B = kl_build_get(L);
  ir_val cond = kl_check(L, 1);
  ir_type ct = kl_vtype(L, cond);
  if (ct.kind != IR_TSCALAR || ct.elem != IR_I1)
    luaL_error(L, "k.if_: the condition must be an i1 scalar (compare scalars with :lt, :eq, ...), got %s",
               kl_tstr(ct, buf, sizeof buf));
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  lua_settop(L, 3);
  ir_opid op = kl_op(L, IR_OP_IF, &cond, 1, NULL, 0, 2);
  ir_builder outer = B->b;
  ir_reg then_r = ir_o(B->fn, op)->region[0], else_r = ir_o(B->fn, op)->region[1];
  B->b = ir_builder_at_end(B->fn, then_r);
  int nthen = run_body(L, 2, 0);
  B->b = ir_builder_at_end(B->fn, else_r);
  int nelse = lua_isnil(L, 3) ? 0 : run_body(L, 3, 0);
  if (nthen != nelse)
    luaL_error(L, "k.if_: the then branch returns %d values, the else branch %d", nthen, nelse);
  if (nthen > MAXCARRY) luaL_error(L, "k.if_: at most %d results", MAXCARRY);
  if_types(L, 4, 4 + nthen, nthen, types);
  B->b = ir_builder_at_end(B->fn, then_r);
  yield(L, 4, types, nthen, "k.if_ (then)");
  B->b = ir_builder_at_end(B->fn, else_r);
  yield(L, 4 + nthen, types, nthen, "k.if_ (else)");
  B->b = outer;
  if (nthen) op = rebuild_if(L, B, op, types, nthen);
  for (int i = 0; i < nthen; i++) kl_push(L, ir_res(B->fn, op, i));
  return nthen;
}

const luaL_Reg kl_control_lib[] = {{"range", f_range}, {"if_", f_if}, {NULL, NULL}};
