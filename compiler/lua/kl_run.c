/*
 * kl_run.c - running a loaded recipe's functions for given settings: the body (kl_recipe_build:
 * kernel parameters from `args`, the `warps` attribute, then body(k, p) and the verifier), the
 * argument list (kl_recipe_args) and the grid (kl_recipe_grid), each behind kl_protect.
 *
 * p is an empty proxy: its __index reads the settings (numbers where the text parses as one) and
 * refuses unknown names, its __newindex refuses writes, and pairs(p) lists the settings. Knobs whose
 * default is a function(p) get it here too (kl_settings_derive), from the settings they follow.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ir/elem_float.h"
#include "kl_lib.h"

/* p.NAME: the setting, or an error naming the unknown NAME and listing the parameters. While
 * computed defaults run, the knobs still to compute (upvalue 3) are not there to read. */
static int p_index(lua_State *L) {
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  lua_pushvalue(L, 2);
  if (lua_type(L, lua_upvalueindex(3)) == LUA_TTABLE && lua_rawget(L, lua_upvalueindex(3)) != LUA_TNIL)
    return luaL_error(L,
                      "'%s' has a computed default too: a computed default reads the problem parameters, "
                      "the knobs with plain defaults and the knobs set explicitly",
                      lua_tostring(L, 2));
  return luaL_error(L, "unknown parameter '%s' (parameters: %s)", luaL_tolstring(L, 2, NULL),
                    lua_tostring(L, lua_upvalueindex(2)));
}

static int p_newindex(lua_State *L) { return luaL_error(L, "p is read-only: parameters come from settings"); }

/* pairs(p) walks the settings. */
static int p_pairs(lua_State *L) {
  lua_getglobal(L, "next");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushnil(L);
  return 3;
}

typedef struct {
  kl_recipe *r;
  const kl_settings *s;
  kl_settings *w; /* computed defaults: where they go; p then lacks the knobs still to compute */
  const tg_target *t;
  kl_build B;
  kl_arg *out;
  int max, n;
  int64_t *grid;
  char *why; /* constraints: the refusal */
  size_t whyn;
} job;

/* 1 while computed defaults run, for a knob with one that the settings do not give. */
static int pending(const job *j, const kl_param *p) {
  return j->w && p->computed && !kl_settings_given(j->s, p->name);
}

/* Pushes the recipe table and p: an empty proxy whose __index reads the settings (numbers where
 * they parse as one) and refuses unknown names, and whose __newindex refuses writes. */

static void push_recipe_p(lua_State *L, job *j) {
  lua_getfield(L, LUA_REGISTRYINDEX, KL_RECIPE_KEY);
  lua_newtable(L);
  lua_createtable(L, 0, 2);
  lua_createtable(L, 0, j->r->nparams);
  for (int i = 0; i < j->r->nparams; i++) {
    if (pending(j, &j->r->params[i])) continue;
    const char *v = kl_setting_value(j->r, j->s, j->r->params[i].name);
    if (j->r->params[i].flag)
      lua_pushboolean(L, strcmp(v, "0") != 0);
    else if (!lua_stringtonumber(L, v))
      lua_pushstring(L, v);
    lua_setfield(L, -2, j->r->params[i].name);
  }
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, p_pairs, 1);
  lua_setfield(L, -3, "__pairs");
  lua_pushstring(L, j->r->plist);
  lua_newtable(L); /* the knobs still to compute */
  for (int i = 0; i < j->r->nparams; i++)
    if (pending(j, &j->r->params[i])) lua_pushboolean(L, 1), lua_setfield(L, -2, j->r->params[i].name);
  lua_pushcclosure(L, p_index, 3);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, p_newindex);
  lua_setfield(L, -2, "__newindex");
  kl_lock_metatable(L, -1);
  lua_setmetatable(L, -2);
}

/* Raises "WHERE message" for the argument table at a. */
static int arg_fail(lua_State *L, int a, const char *msg) {
  lua_getfield(L, a, "where");
  lua_pushstring(L, msg);
  lua_concat(L, 2);
  return lua_error(L);
}

/* Element type of argument a: its declared type, or the setting of the parameter it names. */
static ir_elem arg_elem(lua_State *L, int a, int p) {
  char msg[256];
  lua_getfield(L, a, "elem");
  const char *e = lua_tostring(L, -1);
  int k = ir_elem_parse(e, (int)strlen(e));
  if (k < 0) {
    lua_getfield(L, p, e);
    const char *v = lua_tostring(L, -1);
    k = v ? ir_elem_parse(v, (int)strlen(v)) : -1;
    snprintf(msg, sizeof msg, "element type parameter '%s' is '%s', not an element type", e, v ? v : "?");
    if (k < 0) arg_fail(L, a, msg);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return (ir_elem)k;
}

static int is_tensor(lua_State *L, int a) {
  lua_getfield(L, a, "kind");
  int t = !strcmp(lua_tostring(L, -1), "tensor");
  lua_pop(L, 1);
  return t;
}

/* Adds the kernel parameters and fills k.args. Stack: recipe at 2, p at 3, k at 4. */
static void add_params(lua_State *L, job *j) {
  lua_newtable(L);
  lua_getfield(L, 2, "args");
  for (int i = 0; i < j->r->nargs; i++) {
    lua_geti(L, -1, i + 1);
    int a = lua_gettop(L);
    ir_elem e = arg_elem(L, a, 3);
    ir_type t = is_tensor(L, a) ? ir_t_ptr(e) : ir_t_scalar(e);
    kl_push(L, ir_add_param(j->B.fn, j->r->argnames[i], t));
    lua_setfield(L, a - 2, j->r->argnames[i]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_setfield(L, 4, "args");
}

static void set_warps(lua_State *L, job *j) {
  char msg[256];
  const char *w = kl_setting_value(j->r, j->s, "warps");
  long v = 4;
  if (w) {
    char *end;
    v = strtol(w, &end, 10);
    snprintf(msg, sizeof msg, "warps = %s: must be a power of two from 1 to %d", w, IR_MAX_WARPS);
    if (*end || !*w || ir_warps_check(v, NULL, 0)) kl_recipe_error(L, j->r, j->r->line, msg);
  }
  ir_attr_set_i(j->B.fn->A, &j->B.fn->attrs, "warps", v);
  /* min_blocks (a recipe's knob, when it declares one): blocks per SM the registers must allow */
  const char *mb = kl_setting_value(j->r, j->s, "min_blocks");
  if (mb) {
    char *end;
    long m = strtol(mb, &end, 10);
    snprintf(msg, sizeof msg, "min_blocks = %s: must be a whole number from 0 (no bound) to %d", mb,
             IR_MAX_MIN_BLOCKS);
    if (*end || !*mb || m < 0 || m > IR_MAX_MIN_BLOCKS) kl_recipe_error(L, j->r, j->r->line, msg);
    if (m) ir_attr_set_i(j->B.fn->A, &j->B.fn->attrs, "min_blocks", m);
  }
}

/* The target as recipes see it (k.target, a computed default's second argument): {name = "sm_90a",
 * sm = 90, wgmma = true, smem = 232448} (smem: the shared bytes a block may use); nil for none. */
static void push_target(lua_State *L, const tg_target *t) {
  if (!t) {
    lua_pushnil(L);
    return;
  }
  lua_createtable(L, 0, 4);
  lua_pushstring(L, t->name);
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, t->sm);
  lua_setfield(L, -2, "sm");
  lua_pushboolean(L, (t->features & TG_F_WGMMA) != 0);
  lua_setfield(L, -2, "wgmma");
  lua_pushinteger(L, t->smem_per_block);
  lua_setfield(L, -2, "smem");
}

static int build_main(lua_State *L) {
  job *j = lua_touserdata(L, 1);
  push_recipe_p(L, j);
  set_warps(L, j);
  kl_build_set(L, &j->B);
  lua_newtable(L);
  luaL_setmetatable(L, KL_K_MT);
  add_params(L, j);
  if (j->t) {
    push_target(L, j->t);
    lua_setfield(L, 4, "target");
  }
  lua_getfield(L, 2, "body");
  lua_pushvalue(L, 4);
  lua_pushvalue(L, 3);
  lua_call(L, 2, 0);
  return 0;
}

ir_func *kl_recipe_build(kl_recipe *r, const kl_settings *s, const tg_target *t, char *err, size_t errn) {
  if (s->target &&
      s->target != t) { /* a caller's bug: the grid would follow one target, the kernel another */
    fprintf(stderr, "kiln: internal error: %s built for %s with settings derived for %s\n", r->path,
            t ? t->name : "no target", s->target->name);
    abort();
  }
  job j = {.r = r, .s = s, .t = t};
  j.B.fn = ir_func_new(r->name);
  j.B.b = ir_builder_at_end(j.B.fn, j.B.fn->body);
  j.B.serial = ++r->serial;
  int rc = kl_protect(r, build_main, &j, err, errn);
  kl_build_set(r->L, NULL);
  if (rc == 0 && ir_verify(j.B.fn, err, errn) == 0) return j.B.fn;
  ir_func_destroy(j.B.fn);
  return NULL;
}

/* A whole number >= 0 from the value at idx (a number, a parameter name, or a function of p). */
static int64_t eval_size(lua_State *L, int idx, int p, int a, const char *what) {
  char msg[256];
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING)
    lua_getfield(L, p, lua_tostring(L, idx));
  else if (t == LUA_TFUNCTION)
    lua_pushvalue(L, idx), lua_pushvalue(L, p), lua_call(L, 1, 1);
  else
    lua_pushvalue(L, idx);
  int ok;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  snprintf(msg, sizeof msg, "%s is %s, not a whole number >= 0", what, luaL_tolstring(L, -1, NULL));
  if (!ok || v < 0) arg_fail(L, a, msg);
  lua_pop(L, 2);
  return v;
}

static void eval_tensor(lua_State *L, int a, int p, kl_arg *out) {
  char what[96];
  out->is_tensor = 1;
  lua_getfield(L, a, "role");
  const char *role = lua_tostring(L, -1);
  out->role = !strcmp(role, "in") ? KL_IN : !strcmp(role, "out") ? KL_OUT : KL_INOUT;
  lua_getfield(L, a, "dims");
  out->rank = (int)luaL_len(L, -1);
  for (int d = 0; d < out->rank; d++) {
    lua_geti(L, -1, d + 1);
    snprintf(what, sizeof what, "tensor '%s': dim %d", out->name, d);
    out->dims[d] = eval_size(L, lua_gettop(L), p, a, what);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
}

/* 1 if the finite x rounds to a finite value of float type e (infinities and NaN are the caller's). */
static int float_fits(ir_elem e, double x) {
  switch (e) {
  case IR_F64: return 1;
  case IR_F32: return isfinite((float)x);
  case IR_E4M3: return fabs(x) <= 448; /* these two saturate: past the largest value is an error */
  case IR_E5M2: return fabs(x) <= 57344;
  default: return isfinite(ir_float_decode(e, ir_float_encode(e, x, 0)));
  }
}

static void eval_scalar(lua_State *L, int a, int p, kl_arg *out) {
  char msg[256];
  int t = lua_getfield(L, a, "value");
  if (t == LUA_TNIL)
    lua_getfield(L, p, out->name);
  else if (t == LUA_TSTRING)
    lua_getfield(L, p, lua_tostring(L, -1));
  else if (t == LUA_TFUNCTION)
    lua_pushvalue(L, -1), lua_pushvalue(L, p), lua_call(L, 1, 1);
  else
    lua_pushvalue(L, -1);
  int isnum;
  lua_Number x = lua_tonumberx(L, -1, &isnum);
  int ok;
  lua_Integer i = lua_tointegerx(L, -1, &ok);
  snprintf(msg, sizeof msg, "scalar '%s' is %s, not a %s", out->name, luaL_tolstring(L, -1, NULL),
           ir_elem_is_float(out->elem) ? "number" : "whole number");
  if (!isnum || (!ir_elem_is_float(out->elem) && !ok)) arg_fail(L, a, msg);
  char range[160];
  if (ir_int_fits(out->elem, i, range, sizeof range)) {
    snprintf(msg, sizeof msg, "scalar '%s' = %s", out->name, range);
    arg_fail(L, a, msg);
  }
  if (ir_elem_is_float(out->elem) && isfinite(x) && !float_fits(out->elem, x)) {
    snprintf(msg, sizeof msg, "scalar '%s' = %.6g is outside %s's finite range", out->name, x,
             ir_elem_name(out->elem));
    arg_fail(L, a, msg);
  }
  out->fval = x;
  out->ival = ok ? i : (int64_t)x;
  lua_pop(L, 3);
}

static int args_main(lua_State *L) {
  job *j = lua_touserdata(L, 1);
  push_recipe_p(L, j);
  lua_getfield(L, 2, "args");
  if (j->r->nargs > j->max)
    kl_recipe_error(L, j->r, j->r->line, "more kernel arguments than the caller has room for");
  for (int i = 0; i < j->r->nargs; i++) {
    kl_arg *out = &j->out[i];
    memset(out, 0, sizeof *out);
    lua_geti(L, 4, i + 1);
    int a = lua_gettop(L);
    out->name = j->r->argnames[i];
    out->elem = arg_elem(L, a, 3);
    if (is_tensor(L, a))
      eval_tensor(L, a, 3, out);
    else
      eval_scalar(L, a, 3, out);
    lua_settop(L, 4);
  }
  j->n = j->r->nargs;
  return 0;
}

int kl_recipe_args(kl_recipe *r, const kl_settings *s, kl_arg *out, int max, char *err, size_t errn) {
  job j = {.r = r, .s = s, .out = out, .max = max};
  return kl_protect(r, args_main, &j, err, errn) ? -1 : j.n;
}

static int grid_main(lua_State *L) {
  char msg[256];
  lua_Debug ar;
  job *j = lua_touserdata(L, 1);
  push_recipe_p(L, j);
  lua_getfield(L, 2, "grid");
  lua_pushvalue(L, -1);
  lua_getinfo(L, ">S", &ar);
  lua_pushvalue(L, 3);
  lua_call(L, 1, 3);
  for (int i = 0; i < 3; i++) {
    int ok;
    lua_Integer v = lua_tointegerx(L, 4 + i, &ok);
    if (i > 0 && lua_isnil(L, 4 + i)) v = 1, ok = 1;
    lua_Integer max = i == 0 ? INT32_MAX : 65535; /* CUDA's grid limits */
    snprintf(msg, sizeof msg, "grid(p) gives %s programs on axis %d: need a whole number from 1 to %lld",
             luaL_tolstring(L, 4 + i, NULL), i, (long long)max);
    if (!ok || v < 1 || v > max) kl_recipe_fn_error(L, j->r, &ar, msg);
    lua_pop(L, 1);
    j->grid[i] = v;
  }
  return 0;
}

int kl_recipe_grid(kl_recipe *r, const kl_settings *s, int64_t grid[3], char *err, size_t errn) {
  job j = {.r = r, .s = s, .grid = grid};
  return kl_protect(r, grid_main, &j, err, errn);
}

/* Calls each of R.constraints with p until one refuses; j->n = 1 and j->why set when one does. */
static int constraints_main(lua_State *L) {
  lua_Debug ar;
  job *j = lua_touserdata(L, 1);
  push_recipe_p(L, j);
  if (lua_getfield(L, 2, "constraints") != LUA_TTABLE) return 0;
  lua_Integer n = luaL_len(L, 4);
  for (lua_Integer i = 1; i <= n && !j->n; i++) {
    lua_geti(L, 4, i);
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    lua_pushvalue(L, 3);
    lua_call(L, 1, 2);
    if (!lua_toboolean(L, -2)) {
      j->n = 1;
      if (lua_type(L, -1) == LUA_TSTRING)
        snprintf(j->why, j->whyn, "%s", lua_tostring(L, -1));
      else
        snprintf(j->why, j->whyn, "%s:%d: constraints[%d] refuses it", kl_fn_file(j->r, &ar), ar.linedefined,
                 (int)i);
    }
    lua_settop(L, 4);
  }
  return 0;
}

int kl_recipe_constraints(kl_recipe *r, const kl_settings *s, char *why, size_t whyn, char *err,
                          size_t errn) {
  job j = {.r = r, .s = s, .why = why, .whyn = whyn};
  if (whyn) why[0] = 0;
  return kl_protect(r, constraints_main, &j, err, errn) ? -1 : j.n;
}

/* ---- computed defaults ---- */

/* Each knob with a computed default that j->s does not give: its function called with p (at p_idx)
 * and the target (j->s->target; nil when none is known), the value checked like a setting and
 * written to j->w. */
static void derive_into(lua_State *L, job *j, int p_idx) {
  char text[64], why[512], msg[768];
  for (int i = 0; i < j->r->nparams; i++) {
    const kl_param *q = &j->r->params[i];
    if (!pending(j, q)) continue;
    lua_rawgeti(L, LUA_REGISTRYINDEX, q->fn_ref);
    lua_pushvalue(L, p_idx);
    push_target(L, j->s->target);
    lua_call(L, 2, 1);
    int t = lua_type(L, -1);
    if (t != LUA_TNUMBER && t != LUA_TSTRING && t != LUA_TBOOLEAN) {
      snprintf(msg, sizeof msg, "the default of knob '%s' gives %s, not a number, a string or a boolean",
               q->name, luaL_tolstring(L, -1, NULL));
      luaL_error(L, "%s:%d: %s", q->fn_file, q->fn_line, msg);
    }
    kl_value_text(L, j->r, -1, text, q->name);
    if (kl_param_check(q, text, why, sizeof why)) {
      snprintf(msg, sizeof msg, "the default of knob '%s' gives %s: %s", q->name, text, why);
      luaL_error(L, "%s:%d: %s", q->fn_file, q->fn_line, msg);
    }
    lua_pop(L, 1);
    kl_settings *w = j->w;
    int k = 0;
    while (k < w->n && strcmp(w->v[k].name, q->name)) k++;
    if (k == w->n && w->n == KL_MAXSET) kl_recipe_error(L, j->r, j->r->line, "too many settings");
    if (k == w->n) w->n++;
    w->v[k].name = q->name;
    w->v[k].given = 0;
    snprintf(w->v[k].value, sizeof w->v[k].value, "%s", text);
  }
}

static int derive_main(lua_State *L) {
  job *j = lua_touserdata(L, 1);
  push_recipe_p(L, j);
  derive_into(L, j, 3);
  return 0;
}

int kl_settings_derive(kl_recipe *r, kl_settings *s, char *err, size_t errn) {
  if (!r->ncomputed) return 0;
  kl_settings out = *s; /* p reads s as it is; s changes only when every default was computed */
  job j = {.r = r, .s = s, .w = &out};
  if (kl_protect(r, derive_main, &j, err, errn)) return -1;
  *s = out;
  return 0;
}

int kl_settings_target(kl_recipe *r, kl_settings *s, const tg_target *t, char *err, size_t errn) {
  kl_settings was = *s;
  s->target = t;
  if (kl_settings_derive(r, s, err, errn)) {
    *s = was;
    return -1;
  }
  return 0;
}

void kl_derive_static_defaults(lua_State *L, kl_recipe *r) {
  kl_settings s;
  kl_recipe_defaults(r, &s);
  job j = {.r = r, .s = &s, .w = &s};
  int top = lua_gettop(L);
  push_recipe_p(L, &j);
  derive_into(L, &j, lua_gettop(L));
  lua_settop(L, top);
  for (int i = 0; i < r->nparams; i++)
    if (r->params[i].computed) snprintf(r->params[i].dflt, sizeof r->params[i].dflt, "%s", s.v[i].value);
}
