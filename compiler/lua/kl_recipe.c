/*
 * kl_recipe.c - the C side of recipes (kl_recipe.h): load a recipe file into its own Lua state and
 * read its declaration; the protected boundary every call into Lua goes through.
 *
 * kl_protect runs a C function under lua_pcall with a message handler that makes any error one
 * line "file:line: message". Lua writes positions with a shortened file name; the handler puts back
 * the path the recipe was loaded from, and gives a position to errors raised without one.
 *
 * Parameters are listed problem parameters first, then tuning knobs, each group sorted by name
 * (Lua tables keep no declaration order).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "kl_lib.h"

/* ---- the protected boundary ---- */

/* Does m start with "FILE:LINE:"? */
static int has_position(const char *m) {
  const char *c = strchr(m, ':');
  if (!c || c == m || memchr(m, ' ', (size_t)(c - m))) return 0;
  if (!isdigit((unsigned char)c[1])) return 0;
  for (c++; isdigit((unsigned char)*c);) c++;
  return *c == ':';
}

/* "FILE:LINE: " of the innermost Lua frame, or "" when none. */
static void frame_position(lua_State *L, char *buf, size_t n) {
  lua_Debug ar;
  buf[0] = 0;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline <= 0) continue;
    snprintf(buf, n, "%s:%d: ", ar.source[0] == '@' ? ar.source + 1 : ar.short_src, ar.currentline);
    return;
  }
}

static int message_handler(lua_State *L) {
  char out[2048], pos[512];
  kl_recipe *r = kl_state_recipe(L);
  const char *path = r->path, *shrt = r->short_src;
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = lua_pushfstring(L, "the recipe raised a %s as its error", luaL_typename(L, 1));
  int n = (int)strcspn(msg, "\n");
  size_t ls = strlen(shrt);
  if (!strncmp(msg, shrt, ls) && msg[ls] == ':')
    snprintf(out, sizeof out, "%s%.*s", path, n - (int)ls, msg + ls);
  else if (has_position(msg))
    snprintf(out, sizeof out, "%.*s", n, msg);
  else
    frame_position(L, pos, sizeof pos), snprintf(out, sizeof out, "%s%.*s", pos, n, msg);
  lua_pushstring(L, out);
  return 1;
}

/* Runs f(ud) in protected mode, under the recipe's time and memory limits; on error copies the
 * one-line message to err and returns -1. Nothing is allocated before the protected call. */
int kl_protect(kl_recipe *r, lua_CFunction f, void *ud, char *err, size_t errn) {
  lua_State *L = r->L;
  int top = lua_gettop(L);
  lua_pushcfunction(L, message_handler);
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, ud);
  kl_limits_begin(r);
  int st = lua_pcall(L, 1, 0, top + 1);
  kl_limits_end(r);
  if (st == LUA_ERRMEM)
    kl_limits_memory_error(r, err, errn);
  else if (st != LUA_OK)
    snprintf(err, errn, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error in recipe");
  lua_settop(L, top);
  return st == LUA_OK ? 0 : -1;
}

/* Raises "FILE:LINE: message" for a recipe-level problem found by C code. */
int kl_recipe_error(lua_State *L, kl_recipe *r, int line, const char *msg) {
  return luaL_error(L, "%s:%d: %s", r->path, line, msg);
}

const char *kl_fn_file(kl_recipe *r, const lua_Debug *ar) {
  return ar->source && ar->source[0] == '@' ? ar->source + 1 : r->path;
}

int kl_recipe_fn_error(lua_State *L, kl_recipe *r, const lua_Debug *ar, const char *msg) {
  return luaL_error(L, "%s:%d: %s", kl_fn_file(r, ar), ar->linedefined, msg);
}

/* ---- reading the declaration (at load) ---- */

/* Text of the number, string or boolean (as 1 or 0) at idx into buf (64 bytes). */
void kl_value_text(lua_State *L, kl_recipe *r, int idx, char *buf, const char *name) {
  if (lua_isboolean(L, idx))
    snprintf(buf, 64, "%d", lua_toboolean(L, idx));
  else if (lua_isinteger(L, idx))
    snprintf(buf, 64, "%lld", (long long)lua_tointeger(L, idx));
  else if (lua_type(L, idx) == LUA_TNUMBER)
    snprintf(buf, 64, "%.14g", lua_tonumber(L, idx));
  else if (strlen(lua_tostring(L, idx)) < 64)
    snprintf(buf, 64, "%s", lua_tostring(L, idx));
  else
    luaL_error(L, "%s:%d: the value of '%s' is too long", r->path, r->line, name);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of the table at idx, sorted (they point into the table's own strings). */
static int sorted_keys(lua_State *L, int idx, const char **keys, int max) {
  int n = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
    if (n < max)
      keys[n++] = lua_tostring(L, -2);
    else
      luaL_error(L, "too many parameters (at most %d)", max);
  qsort(keys, (size_t)n, sizeof *keys, cmp_str);
  return n;
}

static kl_param *new_param(lua_State *L, kl_recipe *r, const char *name, int is_tune) {
  if (r->nparams == KL_MAXSET) kl_recipe_error(L, r, r->line, "too many parameters");
  kl_param *p = &r->params[r->nparams++];
  p->name = ir_strdup(r->A, name);
  p->is_tune = is_tune;
  return p;
}

/* A knob, or a parameter declared with its values: {default = v, values = {...}} (kl_declare.c).
 * Strings and booleans (flags) are closed sets; a knob of numbers is a search space. */
static void read_knob(lua_State *L, kl_recipe *r, kl_param *p, int knob) {
  lua_getfield(L, knob, "default");
  if (lua_isfunction(L, -1)) { /* computed: its kind is its values', its dflt the value at the defaults */
    lua_Debug ar;
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    p->fn_line = ar.linedefined;
    p->fn_file = ir_strdup(r->A, kl_fn_file(r, &ar));
    p->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    p->computed = 1;
    r->ncomputed++;
    lua_getfield(L, knob, "values");
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  p->flag = lua_isboolean(L, -1);
  p->closed = lua_type(L, -1) != LUA_TNUMBER || !p->is_tune;
  kl_value_text(L, r, -1, p->dflt, p->name);
  lua_getfield(L, knob, "values");
  p->nvalues = (int)luaL_len(L, -1);
  for (int i = 0; i < p->nvalues; i++) {
    char text[64];
    lua_geti(L, -1, i + 1);
    kl_value_text(L, r, -1, text, p->name);
    p->values[i] = ir_strdup(r->A, text);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
}

static void read_params(lua_State *L, kl_recipe *r, int R) {
  const char *keys[KL_MAXSET];
  lua_getfield(L, R, "params");
  int n = sorted_keys(L, lua_gettop(L), keys, KL_MAXSET);
  for (int i = 0; i < n; i++) {
    kl_param *p = new_param(L, r, keys[i], 0);
    if (lua_getfield(L, -1, keys[i]) == LUA_TTABLE) {
      read_knob(L, r, p, lua_gettop(L));
    } else if (lua_isboolean(L, -1)) { /* a flag */
      kl_value_text(L, r, -1, p->dflt, p->name);
      p->flag = p->closed = 1;
      p->nvalues = 2;
      p->values[0] = "0";
      p->values[1] = "1";
    } else {
      kl_value_text(L, r, -1, p->dflt, p->name);
    }
    lua_pop(L, 1);
  }
  lua_getfield(L, R, "tune");
  n = sorted_keys(L, lua_gettop(L), keys, KL_MAXSET);
  for (int i = 0; i < n; i++) {
    lua_getfield(L, -1, keys[i]);
    read_knob(L, r, new_param(L, r, keys[i], 1), lua_gettop(L));
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
}

static void read_args(lua_State *L, kl_recipe *r, int R) {
  lua_getfield(L, R, "args");
  r->nargs = (int)luaL_len(L, -1);
  if (r->nargs > KL_MAXARGS) kl_recipe_error(L, r, r->line, "too many kernel arguments");
  for (int i = 0; i < r->nargs; i++) {
    lua_geti(L, -1, i + 1);
    lua_getfield(L, -1, "name");
    r->argnames[i] = ir_strdup(r->A, lua_tostring(L, -1));
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

static int is_flag(kl_recipe *r, const char *name) {
  for (int i = 0; i < r->nparams; i++)
    if (!strcmp(r->params[i].name, name)) return r->params[i].flag;
  return 0;
}

/* Each checks entry becomes "NAME=VALUE" overrides, validated like --set (the computed defaults
 * derived once for the entry, not after each of its settings: they were 3% of every compile). */
static void read_check(lua_State *L, kl_recipe *r, int entry, int index) {
  const char *keys[KL_MAXSET];
  char err[512], text[64], nv[256], msg[700];
  kl_settings s;
  kl_recipe_defaults(r, &s);
  int n = sorted_keys(L, entry, keys, KL_MAXSET);
  const char **list = ir_alloc(r->A, (size_t)(n + 1) * sizeof *list);
  for (int i = 0; i < n; i++) {
    lua_getfield(L, entry, keys[i]);
    int ty = lua_type(L, -1), flag = is_flag(r, keys[i]);
    if (ty != LUA_TNUMBER && ty != LUA_TSTRING && !(flag && ty == LUA_TBOOLEAN))
      snprintf(msg, sizeof msg, "checks[%d]: '%s' must be a number%s", index, keys[i],
               flag ? ", a string or a boolean" : " or a string"),
          kl_recipe_error(L, r, r->line, msg);
    kl_value_text(L, r, -1, text, keys[i]);
    lua_pop(L, 1);
    snprintf(nv, sizeof nv, "%s=%s", keys[i], text);
    list[i] = ir_strdup(r->A, nv);
  }
  if (kl_settings_apply_all(r, &s, list, n, err, sizeof err)) {
    /* err is "FILE: message", or "FILE:LINE: message" from a computed default: without the file */
    const char *m = err;
    size_t np = strlen(r->path);
    if (!strncmp(m, r->path, np) && m[np] == ':') m += np + 1;
    const char *d = m;
    while (isdigit((unsigned char)*d)) d++;
    if (d > m && *d == ':')
      snprintf(msg, sizeof msg, "checks[%d]: line %.*s:%s", index, (int)(d - m), m, d + 1);
    else
      snprintf(msg, sizeof msg, "checks[%d]: %s", index, m + (*m == ' '));
    kl_recipe_error(L, r, r->line, msg);
  }
  r->checks[r->nchecks++] = list;
}

static void read_checks(lua_State *L, kl_recipe *r, int R) {
  lua_getfield(L, R, "checks");
  int n = (int)luaL_len(L, -1);
  if (n > KL_MAXCHECKS) kl_recipe_error(L, r, r->line, "too many checks");
  for (int i = 0; i < n; i++) {
    lua_geti(L, -1, i + 1);
    read_check(L, r, lua_gettop(L), i + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* The body's k: a fresh table per build whose __index is the kiln library. */
static void make_k_metatable(lua_State *L) {
  luaL_newmetatable(L, KL_K_MT);
  luaL_requiref(L, "kiln", luaopen_kiln, 0);
  lua_setfield(L, -2, "__index");
  kl_lock_metatable(L, -1);
  lua_pop(L, 1);
}

static int load_main(lua_State *L) {
  kl_recipe *r = lua_touserdata(L, 1);
  if (kl_load_file(L, r->path, !r->opt.unsafe) != LUA_OK) return lua_error(L);
  lua_call(L, 0, 1);
  if (!luaL_testudata(L, -1, KL_RECIPE_MT))
    luaL_error(L, "%s: the file must return kiln.recipe{...}", r->path);
  lua_getiuservalue(L, -1, 1); /* the declaration as kiln.recipe checked it, out of the recipe's reach */
  int R = lua_gettop(L);
  lua_pushvalue(L, R);
  lua_setfield(L, LUA_REGISTRYINDEX, KL_RECIPE_KEY);
  lua_getfield(L, R, "line");
  r->line = (int)lua_tointeger(L, -1);
  lua_getfield(L, R, "name");
  r->name = ir_strdup(r->A, lua_tostring(L, -1));
  lua_settop(L, R);
  kl_read_reference(L, r, R);
  read_params(L, r, R);
  read_args(L, r, R);
  kl_param_list(r, r->plist, sizeof r->plist);
  make_k_metatable(L);
  if (r->ncomputed) kl_derive_static_defaults(L, r);
  read_checks(L, r, R);
  return 0;
}

/* The short form Lua gives this path in positions ("...tail" when long). */
static const char *chunk_short_src(lua_State *L, kl_recipe *r) {
  lua_Debug ar;
  char *chunk = ir_alloc(r->A, strlen(r->path) + 2);
  chunk[0] = '@';
  strcpy(chunk + 1, r->path);
  if (luaL_loadbuffer(L, "", 0, chunk) != LUA_OK) return r->path;
  lua_getinfo(L, ">S", &ar);
  return ir_strdup(r->A, ar.short_src);
}

/* The recipe's folder ("." for a bare file name), for `require`. */
static const char *recipe_dir(kl_recipe *r) {
  const char *slash = strrchr(r->path, '/');
  if (!slash) return ".";
  char *dir = ir_alloc(r->A, (size_t)(slash - r->path) + 1);
  memcpy(dir, r->path, (size_t)(slash - r->path));
  return dir;
}

kl_recipe *kl_recipe_load_opts(const char *path, const kl_options *o, char *err, size_t errn) {
  kl_recipe *r = calloc(1, sizeof *r);
  if (r && o) r->opt = *o;
  lua_State *L = r ? kl_sandbox_state(r) : NULL;
  if (!L) {
    free(r);
    snprintf(err, errn, "%s: out of memory", path);
    return NULL;
  }
  r->L = L;
  r->A = ir_arena_new();
  r->path = ir_strdup(r->A, path);
  kl_build_set(L, NULL);
  kl_sandbox_open(r, recipe_dir(r));
  kl_preload(L);
  r->short_src = chunk_short_src(L, r);
  if (kl_protect(r, load_main, r, err, errn)) {
    kl_recipe_free(r);
    return NULL;
  }
  return r;
}

kl_recipe *kl_recipe_load(const char *path, char *err, size_t errn) {
  return kl_recipe_load_opts(path, NULL, err, errn);
}

void kl_recipe_free(kl_recipe *r) {
  if (!r) return;
  lua_close(r->L);
  ir_arena_free(r->A);
  free(r);
}

const char *kl_recipe_name(kl_recipe *r) { return r->name; }
const char *kl_recipe_path(kl_recipe *r) { return r->path; }
const char *kl_recipe_reference(kl_recipe *r) { return r->reference; }
const kl_reference *kl_recipe_reference_decl(kl_recipe *r) { return &r->ref; }
const kl_check_rule *kl_recipe_check_rule(kl_recipe *r) { return &r->rule; }
int kl_recipe_nparams(kl_recipe *r) { return r->nparams; }
const kl_param *kl_recipe_param(kl_recipe *r, int i) {
  return i >= 0 && i < r->nparams ? &r->params[i] : NULL;
}

int kl_recipe_checks(kl_recipe *r, kl_settings *out, int max) {
  char err[512];
  int n = r->nchecks < max ? r->nchecks : max;
  for (int i = 0; i < n; i++) {
    int k = 0;
    while (r->checks[i][k]) k++;
    kl_recipe_defaults(r, &out[i]);
    kl_settings_apply_all(r, &out[i], r->checks[i], k, err, sizeof err); /* read_check accepted it */
  }
  return n;
}
