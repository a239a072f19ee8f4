/*
 * kl_declare.c - the recipe declaration: kiln.recipe{...}, kiln.tensor, kiln.scalar, kiln.cdiv.
 *
 * kiln.recipe checks the declaration when the recipe file runs, so that a misspelt field, a dim
 * naming no parameter or a default outside its tuning space is reported at the recipe's line before
 * any kernel is built. It builds a fresh, normalised table:
 *   name, reference, body, grid, line           as declared (line: of the kiln.recipe call)
 *   check  = {criterion =, factor =, tol =}        how kiln run judges the outputs (optional)
 *   params = {NAME = number|string|boolean       problem parameters and their defaults (a boolean:
 *             | {default = v, values = {...}}}     a flag), or their allowed values
 *   tune   = {NAME = {default = v, values = {...}}} tuning knobs (a plain list means default = first;
 *                                                  default may be a function(p) of the other settings)
 *   args   = {argument tables from kiln.tensor / kiln.scalar, in kernel parameter order}
 *   checks = {{NAME = value, ...}, ...}          settings the tests run besides the defaults
 * and returns it inside a userdata (metatable "kiln.recipe", the table its user value); arguments
 * are userdata "kiln.arg" the same way. Every table inside is kiln's own copy, so the recipe cannot
 * change what was checked. Argument tables carry `where` ("file:line: ") so that later errors
 * about them name their line.
 */
#include <math.h>
#include <string.h>

#include "kl_lib.h"

static int name_char(char c, int first) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
}

static void check_ident(lua_State *L, const char *s, const char *what) {
  int ok = s && name_char(*s, 1);
  for (const char *p = s; ok && *p; p++) ok = name_char(*p, 0);
  if (!ok) luaL_error(L, "%s '%s' is not a name (letters, digits, _)", what, s ? s : "?");
}

static void check_keys(lua_State *L, int idx, const char *const *allowed, const char *what) {
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int ok = 0;
    for (int i = 0; k && allowed[i]; i++) ok |= !strcmp(k, allowed[i]);
    if (!ok) luaL_error(L, "%s: unknown field '%s'", what, k ? k : luaL_tolstring(L, -2, NULL));
  }
}

/* Raises "WHERE message" for an argument table at idx. */
static int arg_error(lua_State *L, int idx, const char *fmt, const char *a, const char *b) {
  lua_getfield(L, idx, "where");
  lua_pushfstring(L, fmt, a, b);
  lua_concat(L, 2);
  return lua_error(L);
}

/* Replaces the table on the stack top by a userdata of metatable mt holding it as its user value. */
static void wrap(lua_State *L, const char *mt) {
  lua_newuserdatauv(L, 0, 1);
  lua_insert(L, -2);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, mt);
}

/* A fresh copy of the list at idx (its entries as they are). */
static void copy_list(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  int n = (int)luaL_len(L, idx);
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    lua_seti(L, -2, i);
  }
}

/* ---- kiln.tensor, kiln.scalar, kiln.cdiv ---- */

static void new_arg(lua_State *L, const char *kind) {
  check_ident(L, luaL_checkstring(L, 1), "argument name");
  luaL_checkstring(L, 2);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "name");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "elem");
  luaL_where(L, 1);
  lua_setfield(L, -2, "where");
}

/* kiln.tensor(name, elem_or_knob, {dims...}, "in"|"out"|"inout") */
static int f_tensor(lua_State *L) {
  static const char *const roles[] = {"in", "out", "inout", NULL};
  luaL_checktype(L, 3, LUA_TTABLE);
  int role = luaL_checkoption(L, 4, NULL, roles);
  lua_settop(L, 4);
  int rank = (int)luaL_len(L, 3);
  if (rank < 1 || rank > IR_MAXRANK) luaL_error(L, "kiln.tensor: a tensor has 1 to 3 dims, got %d", rank);
  new_arg(L, "tensor");
  lua_createtable(L, rank, 0);
  for (int i = 1; i <= rank; i++) {
    int t = lua_geti(L, 3, i);
    if (t != LUA_TSTRING && t != LUA_TFUNCTION && !(lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0))
      luaL_error(L, "kiln.tensor: dim %d must be a parameter name, a whole number or a function(p)", i);
    lua_seti(L, -2, i);
  }
  lua_setfield(L, -2, "dims");
  lua_pushstring(L, roles[role]);
  lua_setfield(L, -2, "role");
  wrap(L, KL_ARG_MT);
  return 1;
}

/* kiln.scalar(name, elem_or_knob[, value]): value is a number, a parameter name or a function(p);
 * by default the parameter of the same name. */
static int f_scalar(lua_State *L) {
  lua_settop(L, 3);
  int t = lua_type(L, 3);
  if (t != LUA_TNONE && t != LUA_TNIL && t != LUA_TNUMBER && t != LUA_TSTRING && t != LUA_TFUNCTION)
    luaL_error(L, "kiln.scalar: the value must be a number, a parameter name or a function(p)");
  new_arg(L, "scalar");
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "value");
  wrap(L, KL_ARG_MT);
  return 1;
}

/* kiln.cdiv(a, b): ceil(a / b) for whole numbers a >= 0, b > 0 (grid sizes). */
static int f_cdiv(lua_State *L) {
  if (lua_istable(L, 1) || lua_istable(L, 2)) return kl_size_cdiv(L); /* tracing launch rules for a pack */
  lua_Integer a = luaL_checkinteger(L, 1), b = luaL_checkinteger(L, 2);
  if (a < 0 || b <= 0) luaL_error(L, "kiln.cdiv(%I, %I): needs a >= 0 and b > 0", a, b);
  lua_pushinteger(L, (a + b - 1) / b);
  return 1;
}

/* ---- kiln.recipe ---- */

static void norm_knob(lua_State *L, const char *name, const char *what);

/* R.params from t.params: NAME = number|string|boolean, or a list of the allowed values (normalised
 * like a knob). */
static void copy_params(lua_State *L, int t, int R) {
  lua_newtable(L);
  if (lua_getfield(L, t, "params") != LUA_TNIL) {
    if (!lua_istable(L, -1)) luaL_error(L, "kiln.recipe: params must be a table {NAME = default}");
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
      const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
      check_ident(L, name, "parameter");
      int ty = lua_type(L, -1);
      if (ty == LUA_TTABLE)
        norm_knob(L, name, "parameter");
      else if (ty != LUA_TNUMBER && ty != LUA_TSTRING && ty != LUA_TBOOLEAN)
        luaL_error(
            L,
            "kiln.recipe: parameter '%s' must default to a number, a string or a boolean, or list its values",
            name);
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_settable(L, -6);
    }
  }
  lua_pop(L, 1);
  lua_setfield(L, R, "params");
}

/* Normalises the knob spec on the stack top into {default=, values=} (replacing it); `what` is
 * "knob" or "parameter" (a parameter declared with its allowed values). */
static void norm_knob(lua_State *L, const char *name, const char *what) {
  int spec = lua_gettop(L);
  static const char *const keys[] = {"default", "values", NULL};
  if (!lua_istable(L, spec))
    luaL_error(L, "kiln.recipe: %s '%s' must be a list of values or {default = v, values = {...}}", what,
               name);
  int listed = lua_getfield(L, spec, "values") != LUA_TNIL;
  if (!listed)
    lua_pushvalue(L, spec); /* a plain list of values */
  else
    check_keys(L, spec, keys, name);
  if (!lua_istable(L, -1)) luaL_error(L, "kiln.recipe: %s '%s': values must be a list", what, name);
  copy_list(L, -1);
  lua_replace(L, -2);
  int vals = lua_gettop(L);
  int n = (int)luaL_len(L, vals);
  if (n < 1 || n > 32) luaL_error(L, "kiln.recipe: %s '%s' needs 1 to 32 values", what, name);
  for (int i = 1; i <= n; i++) {
    int ty = lua_geti(L, vals, i), ty1 = lua_geti(L, vals, 1);
    if ((ty != LUA_TNUMBER && ty != LUA_TSTRING && ty != LUA_TBOOLEAN) || ty != ty1)
      luaL_error(L, "kiln.recipe: %s '%s': values are all numbers, all strings or all booleans", what, name);
    lua_pop(L, 2);
  }
  int dt = lua_getfield(L, spec, "default");
  if (dt == LUA_TNIL) {
    lua_pop(L, 1);
    lua_geti(L, vals, 1);
  }
  if (dt == LUA_TFUNCTION && strcmp(what, "knob"))
    luaL_error(L, "kiln.recipe: %s '%s': only a knob's default may be a function(p)", what, name);
  int found = dt == LUA_TFUNCTION; /* computed from the other settings: checked when it runs */
  for (int i = 1; i <= n && !found; i++, lua_pop(L, 1))
    lua_geti(L, vals, i), found = lua_compare(L, -1, -2, LUA_OPEQ);
  if (!found)
    luaL_error(L, "kiln.recipe: %s '%s': the default %s is not one of its values", what, name,
               luaL_tolstring(L, -1, NULL));
  lua_createtable(L, 0, 2);
  lua_insert(L, -2);
  lua_setfield(L, -2, "default");
  lua_pushvalue(L, vals);
  lua_setfield(L, -2, "values");
  lua_replace(L, spec);
  lua_settop(L, spec);
}

/* R.tune from t.tune, each knob normalised; a knob may not share a parameter's name. */
static void copy_tune(lua_State *L, int t, int R) {
  lua_newtable(L);
  lua_getfield(L, R, "params");
  if (lua_getfield(L, t, "tune") != LUA_TNIL) {
    if (!lua_istable(L, -1)) luaL_error(L, "kiln.recipe: tune must be a table {NAME = knob}");
    for (lua_pushnil(L); lua_next(L, -2);) {
      const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
      check_ident(L, name, "knob");
      if (lua_getfield(L, -4, name) != LUA_TNIL)
        luaL_error(L, "kiln.recipe: '%s' is both a parameter and a knob", name);
      lua_pop(L, 1);
      norm_knob(L, name, "knob");
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, -6);
    }
  }
  lua_pop(L, 2);
  lua_setfield(L, R, "tune");
}

/* Pushes the declared value of parameter or knob `name` (a knob's values list), or nil. */
static int lookup_param(lua_State *L, int R, const char *name) {
  lua_getfield(L, R, "params");
  if (lua_getfield(L, -1, name) != LUA_TNIL) {
    if (lua_istable(L, -1)) lua_getfield(L, -1, "values"), lua_remove(L, -2);
    lua_remove(L, -2);
    return 1;
  }
  lua_pop(L, 2);
  lua_getfield(L, R, "tune");
  if (lua_getfield(L, -1, name) != LUA_TNIL) {
    lua_getfield(L, -1, "values");
    lua_remove(L, -2);
    lua_remove(L, -2);
    return 1;
  }
  lua_pop(L, 2);
  lua_pushnil(L);
  return 0;
}

static int is_elem_value(lua_State *L, int idx) {
  size_t n;
  const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
  return s && ir_elem_parse(s, (int)n) >= 0;
}

/* A parameter's default, or every value of a knob's list, is an element type. */
static int all_elem_values(lua_State *L, int idx) {
  if (!lua_istable(L, idx)) return is_elem_value(L, idx);
  int ok = 1;
  for (int i = 1; ok && i <= (int)luaL_len(L, idx); i++) {
    lua_geti(L, idx, i);
    ok = is_elem_value(L, -1);
    lua_pop(L, 1);
  }
  return ok;
}

/* An element type, or the name of a parameter/knob whose values are all element types. */
static void check_arg_elem(lua_State *L, int R, int a) {
  lua_getfield(L, a, "elem");
  const char *e = lua_tostring(L, -1);
  if (ir_elem_parse(e, (int)strlen(e)) >= 0) return (void)lua_pop(L, 1);
  if (!lookup_param(L, R, e)) arg_error(L, a, "'%s' is neither an element type nor a parameter%s", e, "");
  if (!all_elem_values(L, lua_gettop(L)))
    arg_error(L, a, "parameter '%s' gives the element type, but its values are not all element types%s", e,
              "");
  lua_pop(L, 2);
}

static void check_param_ref(lua_State *L, int R, int a, const char *name, const char *what) {
  if (!lookup_param(L, R, name)) arg_error(L, a, "%s '%s' is not a parameter of the recipe", what, name);
  lua_pop(L, 1);
}

static void check_arg(lua_State *L, int R, int a) {
  check_arg_elem(L, R, a);
  lua_getfield(L, a, "kind");
  int tensor = !strcmp(lua_tostring(L, -1), "tensor");
  lua_pop(L, 1);
  if (tensor) {
    lua_getfield(L, a, "dims");
    for (int i = 1; i <= (int)luaL_len(L, -1); i++, lua_pop(L, 1))
      if (lua_geti(L, -1, i) == LUA_TSTRING) check_param_ref(L, R, a, lua_tostring(L, -1), "dim");
    lua_pop(L, 1);
    return;
  }
  int t = lua_getfield(L, a, "value");
  if (t == LUA_TSTRING) check_param_ref(L, R, a, lua_tostring(L, -1), "value");
  lua_getfield(L, a, "name");
  if (t == LUA_TNIL && !lookup_param(L, R, lua_tostring(L, -1)))
    arg_error(L, a, "scalar '%s' has no value: name a parameter '%s' or pass kiln.scalar(name, type, value)",
              lua_tostring(L, -2), lua_tostring(L, -2));
  lua_settop(L, a);
}

/* R.args: the argument tables (from their kiln.arg userdata), names unique. */
static void copy_args(lua_State *L, int t, int R) {
  if (lua_getfield(L, t, "args") != LUA_TTABLE)
    luaL_error(L, "kiln.recipe: args must be a list of kiln.tensor/kiln.scalar");
  int args = lua_gettop(L), n = (int)luaL_len(L, args);
  lua_createtable(L, n, 0); /* R.args */
  lua_newtable(L);          /* names seen */
  for (int i = 1; i <= n; i++) {
    lua_geti(L, args, i);
    if (!luaL_testudata(L, -1, KL_ARG_MT))
      luaL_error(L, "kiln.recipe: args[%d] is not a kiln.tensor or kiln.scalar", i);
    lua_getiuservalue(L, -1, 1);
    lua_replace(L, -2);
    int a = lua_gettop(L);
    check_arg(L, R, a);
    lua_getfield(L, a, "name");
    const char *name = lua_tostring(L, -1);
    if (lua_getfield(L, args + 2, name) != LUA_TNIL)
      arg_error(L, a, "argument '%s' is declared twice%s", name, "");
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, args + 2, name);
    lua_pop(L, 1);
    lua_seti(L, args + 1, i);
  }
  lua_pop(L, 1);
  lua_setfield(L, R, "args");
  lua_pop(L, 1);
}

/* R.checks: a list of {NAME = value}; names must be parameters (values are checked by the C side). */
static void copy_checks(lua_State *L, int t, int R) {
  if (lua_getfield(L, t, "checks") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  if (!lua_istable(L, -1)) luaL_error(L, "kiln.recipe: checks must be a list of tables {NAME = value}");
  int checks = lua_gettop(L), n = (int)luaL_len(L, checks);
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; i++) {
    if (lua_geti(L, checks, i) != LUA_TTABLE)
      luaL_error(L, "kiln.recipe: checks[%d] must be a table {NAME = value}", i);
    lua_newtable(L);
    for (lua_pushnil(L); lua_next(L, -3); lua_pop(L, 1)) {
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
      if (!lookup_param(L, R, k))
        luaL_error(L, "kiln.recipe: checks[%d]: '%s' is not a parameter of the recipe", i, k);
      lua_pop(L, 1);
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_settable(L, -5);
    }
    lua_seti(L, checks + 1, i);
    lua_pop(L, 1);
  }
  lua_setfield(L, R, "checks");
  lua_pop(L, 1);
}

static void copy_field(lua_State *L, int t, int R, const char *key, int type, int required) {
  int ty = lua_getfield(L, t, key);
  if (ty == LUA_TNIL && required) luaL_error(L, "kiln.recipe: the field '%s' is required", key);
  if (ty != LUA_TNIL && ty != type)
    luaL_error(L, "kiln.recipe: '%s' must be a %s, got %s", key, lua_typename(L, type), luaL_typename(L, -1));
  lua_setfield(L, R, key);
}

/* R.reference: a built-in name, a Lua function, or {c = "FILE.so", symbol = "NAME"} (a C reference
 * in a shared object, FILE relative to the recipe's folder). */
static void copy_reference(lua_State *L, int t, int R) {
  static const char *const keys[] = {"c", "symbol", NULL};
  int ty = lua_getfield(L, t, "reference");
  if (ty == LUA_TTABLE) {
    check_keys(L, lua_gettop(L), keys, "kiln.recipe: reference");
    if (lua_getfield(L, -1, "c") != LUA_TSTRING || lua_getfield(L, -2, "symbol") != LUA_TSTRING)
      luaL_error(L, "kiln.recipe: reference = {c = \"FILE.so\", symbol = \"NAME\"} needs both as strings");
    check_ident(L, lua_tostring(L, -1), "reference symbol");
    lua_pop(L, 2);
  } else if (ty != LUA_TNIL && ty != LUA_TSTRING && ty != LUA_TFUNCTION)
    luaL_error(
        L,
        "kiln.recipe: reference must be a name, a function or {c = \"FILE.so\", symbol = \"NAME\"}, got %s",
        luaL_typename(L, -1));
  lua_setfield(L, R, "reference");
}

/* R.check: {criterion = "relative" | "vs_lowp", factor = F, tol = T}, how kiln run judges outputs. */
static void copy_check_rule(lua_State *L, int t, int R) {
  static const char *const keys[] = {"criterion", "factor", "tol", NULL};
  if (lua_getfield(L, t, "check") == LUA_TNIL) return (void)lua_pop(L, 1);
  if (!lua_istable(L, -1))
    luaL_error(L, "kiln.recipe: check must be a table {criterion = ..., factor = ..., tol = ...}");
  int c = lua_gettop(L);
  check_keys(L, c, keys, "kiln.recipe: check");
  if (lua_getfield(L, c, "criterion") != LUA_TNIL &&
      (!lua_isstring(L, -1) ||
       (strcmp(lua_tostring(L, -1), "relative") && strcmp(lua_tostring(L, -1), "vs_lowp"))))
    luaL_error(L, "kiln.recipe: check.criterion must be \"relative\" or \"vs_lowp\", got %s",
               luaL_tolstring(L, -1, NULL));
  for (int i = 1; i <= 2; i++) {
    const char *k = keys[i];
    int isnum, ty = lua_getfield(L, c, k);
    double v = lua_tonumberx(L, -1, &isnum);
    if (ty != LUA_TNIL && (ty != LUA_TNUMBER || !isnum || !(v > 0) || v == HUGE_VAL))
      luaL_error(L, "kiln.recipe: check.%s must be a positive number, got %s", k,
                 luaL_tolstring(L, -1, NULL));
  }
  lua_settop(L, c);
  lua_setfield(L, R, "check");
}

/* R.constraints: a list of functions f(p) -> ok[, why] that the tuner asks about each variant. */
static void copy_constraints(lua_State *L, int t, int R) {
  int ty = lua_getfield(L, t, "constraints");
  if (ty == LUA_TNIL) return (void)lua_pop(L, 1);
  if (ty != LUA_TTABLE) luaL_error(L, "kiln.recipe: constraints must be a list of functions f(p) -> ok, why");
  lua_Integer n = luaL_len(L, -1);
  for (lua_Integer i = 1; i <= n; i++)
    if (lua_geti(L, -1, i) != LUA_TFUNCTION)
      luaL_error(L, "kiln.recipe: constraints[%d] must be a function f(p) -> ok, why, got %s", (int)i,
                 luaL_typename(L, -1));
    else
      lua_pop(L, 1);
  lua_setfield(L, R, "constraints");
}

/* kiln.recipe{name=, params=, tune=, constraints=, args=, grid=, reference=, check=, checks=, body=} */
static int f_recipe(lua_State *L) {
  static const char *const keys[] = {"name",      "params", "tune",   "constraints", "args", "grid",
                                     "reference", "check",  "checks", "body",        NULL};
  lua_Debug ar;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  check_keys(L, 1, keys, "kiln.recipe");
  lua_newtable(L);
  copy_field(L, 1, 2, "name", LUA_TSTRING, 1);
  lua_getfield(L, 2, "name");
  check_ident(L, lua_tostring(L, -1), "recipe name");
  lua_pop(L, 1);
  copy_field(L, 1, 2, "body", LUA_TFUNCTION, 1);
  copy_field(L, 1, 2, "grid", LUA_TFUNCTION, 1);
  copy_reference(L, 1, 2);
  copy_check_rule(L, 1, 2);
  copy_params(L, 1, 2);
  copy_tune(L, 1, 2);
  copy_constraints(L, 1, 2);
  copy_args(L, 1, 2);
  copy_checks(L, 1, 2);
  lua_pushinteger(L, lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) ? ar.currentline : 0);
  lua_setfield(L, 2, "line");
  wrap(L, KL_RECIPE_MT);
  return 1;
}

const luaL_Reg kl_declare_lib[] = {
    {"recipe", f_recipe}, {"tensor", f_tensor}, {"scalar", f_scalar}, {"cdiv", f_cdiv}, {NULL, NULL}};
