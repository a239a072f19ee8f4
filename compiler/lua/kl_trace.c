/*
 * kl_trace.c - a recipe's launch rules as expressions of its problem sizes, for packs: the grid, each
 * tensor's shape and each scalar argument, written in the postfix form of docs/packs.md
 * ("Expressions") so that a loader without Lua can evaluate them for sizes it has never seen.
 *
 * 1. The problem sizes (in parameter order, sorted by name) are the whole-number parameters that the
 *    kernel also takes as a scalar argument of their own name (the kernel reads them at run time, so
 *    one compiled kernel serves every value). Everything else (tuning knobs, layouts, flags) keeps
 *    its setting.
 * 2. p is built with each size as a symbol: a table whose metatable turns + - * // % and kiln.cdiv
 *    and kiln.min into expression text ("$0 1024 cdiv"). Comparing a symbol, dividing it with /, or using it
 * where Lua needs a number is an error naming the recipe line: such a rule cannot be written as data.
 * 3. grid(p), every tensor dimension and every scalar value are evaluated with that p; a plain
 *    number becomes a constant (a float scalar's as "#%.17g").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "kl_lib.h"

#define SYM_MT "kiln.size_symbol"

/* Expression text of the value at idx: a symbol's text or a whole number; else an error. */
static const char *operand(lua_State *L, int idx) {
  if (lua_istable(L, idx) && lua_getmetatable(L, idx)) {
    luaL_getmetatable(L, SYM_MT);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (same) {
      lua_rawgeti(L, idx, 1);
      const char *s = lua_tostring(L, -1);
      lua_pop(L, 1); /* the symbol table keeps the string alive */
      return s;
    }
  }
  if (lua_isinteger(L, idx)) return lua_pushfstring(L, "%I", lua_tointeger(L, idx)), lua_tostring(L, -1);
  return luaL_error(L,
                    "a launch rule combines a problem size with %s: packs need whole numbers and + - * // %% "
                    "kiln.cdiv kiln.min",
                    luaL_tolstring(L, idx, NULL)),
         NULL;
}

static void push_sym(lua_State *L, const char *text) {
  lua_createtable(L, 1, 0);
  lua_pushstring(L, text);
  lua_rawseti(L, -2, 1);
  luaL_setmetatable(L, SYM_MT);
}

static int binary(lua_State *L, const char *op) {
  const char *a = operand(L, 1), *b = operand(L, 2);
  push_sym(L, lua_pushfstring(L, "%s %s %s", a, b, op));
  return 1;
}

static int s_add(lua_State *L) { return binary(L, "+"); }
static int s_sub(lua_State *L) { return binary(L, "-"); }
static int s_mul(lua_State *L) { return binary(L, "*"); }
static int s_idiv(lua_State *L) { return binary(L, "/"); }
static int s_mod(lua_State *L) { return binary(L, "%"); }
static int s_unm(lua_State *L) { return push_sym(L, lua_pushfstring(L, "0 %s -", operand(L, 1))), 1; }
static int s_refuse(lua_State *L) {
  return luaL_error(L, "a launch rule compares, divides with / or converts a problem size: packs evaluate "
                       "rules without Lua and need whole numbers and + - * // %% kiln.cdiv kiln.min");
}
static int s_tostring(lua_State *L) {
  return lua_pushfstring(L, "problem size expression '%s'", operand(L, 1)), 1;
}

int kl_size_cdiv(lua_State *L) { return binary(L, "cdiv"); }
int kl_size_min(lua_State *L) { return binary(L, "min"); }

static void sym_metatable(lua_State *L) {
  static const luaL_Reg mm[] = {{"__add", s_add},           {"__sub", s_sub},     {"__mul", s_mul},
                                {"__idiv", s_idiv},         {"__mod", s_mod},     {"__unm", s_unm},
                                {"__div", s_refuse},        {"__pow", s_refuse},  {"__lt", s_refuse},
                                {"__le", s_refuse},         {"__eq", s_refuse},   {"__concat", s_refuse},
                                {"__len", s_refuse},        {"__call", s_refuse}, {"__index", s_refuse},
                                {"__tostring", s_tostring}, {NULL, NULL}};
  if (luaL_newmetatable(L, SYM_MT)) luaL_setfuncs(L, mm, 0);
  lua_pop(L, 1);
}

typedef struct {
  kl_recipe *r;
  const kl_settings *s;
  kl_launch_rule *out;
} trace_job;

/* Step 1: is parameter i a problem size? Stack: the recipe's args list at `args`. */
static int is_size(lua_State *L, kl_recipe *r, int i, int args) {
  const kl_param *p = &r->params[i];
  if (p->is_tune || p->flag || p->closed || !lua_stringtonumber(L, p->dflt)) return 0;
  int whole = lua_isinteger(L, -1);
  lua_pop(L, 1);
  for (int a = 0; whole && a < r->nargs; a++) {
    lua_geti(L, args, a + 1);
    lua_getfield(L, -1, "kind");
    lua_getfield(L, -2, "value");
    int named =
        !strcmp(lua_tostring(L, -2), "scalar") && !strcmp(r->argnames[a], p->name) &&
        (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), p->name)));
    lua_pop(L, 3);
    if (named) return 1;
  }
  return 0;
}

/* Step 2: pushes p. */
static void push_p(lua_State *L, trace_job *j, int args) {
  kl_recipe *r = j->r;
  lua_createtable(L, 0, r->nparams);
  for (int i = 0; i < r->nparams; i++) {
    const char *v = kl_setting_value(r, j->s, r->params[i].name);
    if (is_size(L, r, i, args) && j->out->nsizes < KL_MAXSIZES) {
      push_sym(L, lua_pushfstring(L, "$%d", j->out->nsizes));
      lua_remove(L, -2);
      j->out->sizes[j->out->nsizes] = r->params[i].name;
      j->out->bucket[j->out->nsizes++] = strtoll(v, NULL, 10);
    } else if (r->params[i].flag)
      lua_pushboolean(L, strcmp(v, "0") != 0);
    else if (!lua_stringtonumber(L, v))
      lua_pushstring(L, v);
    lua_setfield(L, -2, r->params[i].name);
  }
}

/* Step 3: the value on top as expression text into buf (popped). */
static void take(lua_State *L, const char *what, int float_ok, char *buf, size_t n) {
  int top = lua_gettop(L);
  if (float_ok && lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1))
    snprintf(buf, n, "#%.17g", lua_tonumber(L, -1));
  else {
    const char *e = operand(L, -1);
    if (strlen(e) >= n)
      luaL_error(L, "%s: the launch rule '%s' is longer than %d bytes", what, e, (int)n - 1);
    snprintf(buf, n, "%s", e);
  }
  lua_settop(L, top - 1);
}

static void trace_arg(lua_State *L, trace_job *j, int a, int i, int p) {
  kl_launch_rule *o = j->out;
  char what[128];
  lua_getfield(L, a, "kind");
  int tensor = !strcmp(lua_tostring(L, -1), "tensor");
  lua_pop(L, 1);
  if (tensor) {
    lua_getfield(L, a, "dims");
    int rank = (int)luaL_len(L, -1);
    for (int d = 0; d < rank && d < 3; d++) {
      int t = lua_geti(L, -1, d + 1);
      if (t == LUA_TSTRING)
        lua_getfield(L, p, lua_tostring(L, -1)), lua_remove(L, -2);
      else if (t == LUA_TFUNCTION)
        lua_pushvalue(L, p), lua_call(L, 1, 1);
      snprintf(what, sizeof what, "tensor '%s' dim %d", j->r->argnames[i], d);
      take(L, what, 0, o->dims[i][d], sizeof o->dims[i][d]);
    }
    lua_pop(L, 1);
    return;
  }
  int t = lua_getfield(L, a, "value");
  if (t == LUA_TNIL)
    lua_pop(L, 1), lua_getfield(L, p, j->r->argnames[i]);
  else if (t == LUA_TSTRING)
    lua_getfield(L, p, lua_tostring(L, -1)), lua_remove(L, -2);
  else if (t == LUA_TFUNCTION)
    lua_pushvalue(L, p), lua_call(L, 1, 1);
  snprintf(what, sizeof what, "scalar '%s'", j->r->argnames[i]);
  take(L, what, 1, o->value[i], sizeof o->value[i]);
}

static int trace_main(lua_State *L) {
  trace_job *j = lua_touserdata(L, 1);
  sym_metatable(L);
  lua_getfield(L, LUA_REGISTRYINDEX, KL_RECIPE_KEY); /* 2 */
  lua_getfield(L, 2, "args");                        /* 3 */
  push_p(L, j, 3);                                   /* 4 */
  lua_getfield(L, 2, "grid");
  lua_pushvalue(L, 4);
  lua_call(L, 1, 3);
  for (int d = 0; d < 3; d++) {
    lua_pushvalue(L, 5 + d);
    if (d > 0 && lua_isnil(L, -1)) lua_pop(L, 1), lua_pushinteger(L, 1);
    take(L, "grid", 0, j->out->grid[d], sizeof j->out->grid[d]);
  }
  lua_settop(L, 4);
  for (int i = 0; i < j->r->nargs; i++) {
    lua_geti(L, 3, i + 1);
    trace_arg(L, j, 5, i, 4);
    lua_settop(L, 4);
  }
  j->out->nargs = j->r->nargs;
  return 0;
}

int kl_recipe_launch_rule(kl_recipe *r, const kl_settings *s, kl_launch_rule *out, char *err, size_t errn) {
  memset(out, 0, sizeof *out);
  trace_job j = {.r = r, .s = s, .out = out};
  return kl_protect(r, trace_main, &j, err, errn);
}
