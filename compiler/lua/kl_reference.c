/*
 * kl_reference.c - the reference a recipe declares and how kiln run judges its outputs: reading the
 * `reference` and `check` fields at load, and calling a reference written in Lua.
 *
 * A Lua reference runs in the recipe's own Lua state, behind kl_protect, as reference(t, p, r):
 *   t.NAME  a tensor: a plain Lua list of numbers, flat, 1-based, row-major over its dims, with
 *           t.NAME.shape the dims; inputs (and in-out tensors) hold the values the kernel read,
 *           outputs start empty; a scalar argument: its number (integer types as integers)
 *   p       the settings, numbers where the text is one
 *   r       {precision = "f64" | "f16" | ..., round = function(x)}: the exact run and the
 *           low-precision run (round(x) gives x in the precision; the identity in the exact run)
 * After the call every output element is read back; one left nil (or set to a non-number) reads as
 * NaN, which the caller reports as an element the reference never wrote. Lua values never see a C
 * pointer: the tensors are copies, and r.round finds the call through the registry, so a copy kept
 * past the call raises an error instead of reading freed memory.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kl_lib.h"

#define KL_REFCALL_KEY "kiln.reference_call" /* registry: the call in progress (light userdata) */

typedef struct {
  kl_recipe *r;
  const kl_settings *s;
  const kl_arg *args;
  double **data;
  int nargs;
  const char *precision;
  double (*round)(const char *, double);
} ref_job;

/* ---- the declaration ---- */

/* FILE relative to the recipe's folder, always with a slash (dlopen searches the library path for a
 * bare name). */
static const char *beside_recipe(kl_recipe *r, const char *file) {
  const char *slash = strrchr(r->path, '/');
  if (file[0] == '/') return ir_strdup(r->A, file);
  size_t dn = slash ? (size_t)(slash - r->path) + 1 : 2, fn = strlen(file);
  char *p = ir_alloc(r->A, dn + fn + 1);
  memcpy(p, slash ? r->path : "./", dn);
  memcpy(p + dn, file, fn + 1);
  return p;
}

static void read_reference_decl(lua_State *L, kl_recipe *r, int R) {
  kl_reference *f = &r->ref;
  lua_Debug ar;
  f->line = r->line;
  f->file = r->path;
  int ty = lua_getfield(L, R, "reference");
  if (ty == LUA_TSTRING) {
    f->kind = KL_REF_BUILTIN;
    f->name = r->reference = ir_strdup(r->A, lua_tostring(L, -1));
  } else if (ty == LUA_TFUNCTION) {
    f->kind = KL_REF_LUA;
    lua_pushvalue(L, -1);
    if (lua_getinfo(L, ">S", &ar) && ar.linedefined > 0)
      f->line = ar.linedefined, f->file = ir_strdup(r->A, kl_fn_file(r, &ar));
  } else if (ty == LUA_TTABLE) {
    f->kind = KL_REF_C;
    lua_getfield(L, -1, "c");
    f->name = ir_strdup(r->A, lua_tostring(L, -1));
    f->path = beside_recipe(r, f->name);
    lua_getfield(L, -2, "symbol");
    f->symbol = ir_strdup(r->A, lua_tostring(L, -1));
  }
  lua_settop(L, R);
}

static void read_check_rule(lua_State *L, kl_recipe *r, int R) {
  kl_check_rule *c = &r->rule;
  c->criterion = KL_CRIT_RELATIVE, c->factor = 2, c->tol = 0;
  if (lua_getfield(L, R, "check") == LUA_TTABLE) {
    if (lua_getfield(L, -1, "criterion") == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "vs_lowp"))
      c->criterion = KL_CRIT_VS_LOWP;
    if (lua_getfield(L, -2, "factor") == LUA_TNUMBER) c->factor = lua_tonumber(L, -1);
    if (lua_getfield(L, -3, "tol") == LUA_TNUMBER) c->tol = lua_tonumber(L, -1);
  }
  lua_settop(L, R);
}

void kl_read_reference(lua_State *L, kl_recipe *r, int R) {
  read_reference_decl(L, r, R);
  read_check_rule(L, r, R);
}

/* ---- calling a Lua reference ---- */

static int64_t numel(const kl_arg *a) {
  int64_t n = 1;
  for (int d = 0; d < a->rank; d++) n *= a->dims[d];
  return n;
}

/* r.round(x): x in the call's precision. */
static int round_fn(lua_State *L) {
  double x = luaL_checknumber(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, KL_REFCALL_KEY);
  ref_job *j = lua_touserdata(L, -1);
  if (!j) return luaL_error(L, "round: used outside the reference call it was given to");
  lua_pushnumber(L, j->round(j->precision, x));
  return 1;
}

static void push_tensor(lua_State *L, const ref_job *j, int i) {
  const kl_arg *a = &j->args[i];
  int64_t n = numel(a);
  int filled = (a->role & KL_IN) != 0;
  lua_createtable(L, filled ? (int)n : 0, 1);
  for (int64_t e = 0; filled && e < n; e++) {
    lua_pushnumber(L, j->data[i][e]);
    lua_rawseti(L, -2, e + 1);
  }
  lua_createtable(L, a->rank, 0);
  for (int d = 0; d < a->rank; d++) {
    lua_pushinteger(L, a->dims[d]);
    lua_rawseti(L, -2, d + 1);
  }
  lua_setfield(L, -2, "shape");
}

static void push_scalar(lua_State *L, const kl_arg *a) {
  if (!ir_elem_is_float(a->elem))
    lua_pushinteger(L, a->ival);
  else
    lua_pushnumber(L, a->elem == IR_F32 ? (double)(float)a->fval : a->fval); /* as the kernel sees it */
}

static void push_settings(lua_State *L, kl_recipe *r, const kl_settings *s) {
  lua_createtable(L, 0, r->nparams);
  for (int i = 0; i < r->nparams; i++) {
    const char *v = kl_setting_value(r, s, r->params[i].name);
    if (!lua_stringtonumber(L, v)) lua_pushstring(L, v);
    lua_setfield(L, -2, r->params[i].name);
  }
}

/* Copies the outputs back from the table t; anything but a number reads as NaN (never written). */
static void read_outputs(lua_State *L, const ref_job *j, int t) {
  for (int i = 0; i < j->nargs; i++) {
    const kl_arg *a = &j->args[i];
    if (!a->is_tensor || !(a->role & KL_OUT)) continue;
    if (lua_getfield(L, t, a->name) != LUA_TTABLE)
      luaL_error(L, "%s: the reference replaced t.%s by a %s", j->r->path, a->name, luaL_typename(L, -1));
    int64_t n = numel(a);
    for (int64_t e = 0; e < n; e++) {
      int isnum;
      lua_rawgeti(L, -1, e + 1);
      double v = lua_tonumberx(L, -1, &isnum);
      j->data[i][e] = isnum && lua_type(L, -1) == LUA_TNUMBER ? v : NAN;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

static int call_main(lua_State *L) {
  ref_job *j = lua_touserdata(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, KL_RECIPE_KEY);
  lua_createtable(L, 0, j->nargs); /* t, kept below the call to read the outputs back */
  int t = lua_gettop(L);
  for (int i = 0; i < j->nargs; i++) {
    if (j->args[i].is_tensor)
      push_tensor(L, j, i);
    else
      push_scalar(L, &j->args[i]);
    lua_setfield(L, t, j->args[i].name);
  }
  lua_getfield(L, t - 1, "reference");
  lua_pushvalue(L, t);
  push_settings(L, j->r, j->s);
  lua_createtable(L, 0, 2);
  lua_pushstring(L, j->precision);
  lua_setfield(L, -2, "precision");
  lua_pushcfunction(L, round_fn);
  lua_setfield(L, -2, "round");
  lua_pushlightuserdata(L, j);
  lua_setfield(L, LUA_REGISTRYINDEX, KL_REFCALL_KEY);
  lua_call(L, 3, 0);
  read_outputs(L, j, t);
  return 0;
}

int kl_recipe_call_reference(kl_recipe *r, const kl_settings *s, const kl_arg *args, double **data, int nargs,
                             const char *precision, double (*round)(const char *, double), char *err,
                             size_t errn) {
  ref_job j = {r, s, args, data, nargs, precision, round};
  if (r->ref.kind != KL_REF_LUA)
    return snprintf(err, errn, "%s: the reference is not a Lua function", r->path), -1;
  int rc = kl_protect(r, call_main, &j, err, errn);
  lua_pushnil(r->L);
  lua_setfield(r->L, LUA_REGISTRYINDEX, KL_REFCALL_KEY);
  return rc;
}
