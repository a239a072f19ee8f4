/*
 * kl_recipe.c - the C side of recipes (kl_recipe.h): load a recipe file into its own Lua state, read
 * its parameters, apply settings, and run its body, grid and argument rules.
 *
 * Every call into Lua goes through one protected boundary (protect): a C function run by lua_pcall
 * with a message handler that makes any error one line "file:line: message". Lua writes positions
 * with a shortened file name; the handler puts back the path the recipe was loaded from, and gives
 * a position to errors raised without one.
 *
 * Parameters are listed problem parameters first, then tuning knobs, each group sorted by name
 * (Lua tables keep no declaration order). Settings are text; the body sees p.NAME as a number when
 * the text parses as one.
 */
#include "kl_recipe.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "kl_lib.h"

#define RECIPE_KEY "kiln.loaded_recipe"
#define K_MT "kiln.k"

enum { MAXCHECKS = 64 };

struct kl_recipe {
  lua_State *L;
  ir_arena *A;
  const char *path, *short_src, *name, *reference;
  int line;        /* of the kiln.recipe{...} call */
  uint32_t serial; /* builds so far: stamps values so that stale ones are refused */
  int nparams;
  kl_param params[KL_MAXSET];
  int nargs;
  const char *argnames[KL_MAXARGS];
  int nchecks;
  const char **checks[MAXCHECKS]; /* each a NULL-terminated list of "NAME=VALUE" */
  char plist[512];                /* "M, N, BLOCK, dtype, warps": for messages */
};

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
  const char *path = lua_tostring(L, lua_upvalueindex(1)), *shrt = lua_tostring(L, lua_upvalueindex(2));
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

/* Runs f(ud) in protected mode; on error copies the one-line message to err and returns -1. */
static int protect(kl_recipe *r, lua_CFunction f, void *ud, char *err, size_t errn) {
  lua_State *L = r->L;
  int top = lua_gettop(L);
  lua_pushstring(L, r->path);
  lua_pushstring(L, r->short_src);
  lua_pushcclosure(L, message_handler, 2);
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, ud);
  int st = lua_pcall(L, 1, 0, top + 1);
  if (st != LUA_OK) snprintf(err, errn, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error in recipe");
  lua_settop(L, top);
  return st == LUA_OK ? 0 : -1;
}

/* Raises "FILE:LINE: message" for a recipe-level problem found by C code. */
static int recipe_error(lua_State *L, kl_recipe *r, int line, const char *msg) {
  return luaL_error(L, "%s:%d: %s", r->path, line, msg);
}

/* ---- parameters and settings ---- */

static const kl_param *find_param(kl_recipe *r, const char *name, size_t n) {
  for (int i = 0; i < r->nparams; i++)
    if (strlen(r->params[i].name) == n && !memcmp(r->params[i].name, name, n)) return &r->params[i];
  return NULL;
}

static void param_list(kl_recipe *r, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < r->nparams && len < n; i++)
    len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", r->params[i].name);
}

static int is_whole(const char *s) {
  char *end;
  if (!*s) return 0;
  (void)strtoll(s, &end, 10);
  return *end == 0;
}

static int is_number(const char *s) {
  char *end;
  if (!*s) return 0;
  (void)strtod(s, &end);
  return *end == 0;
}

/* A value must have its parameter's kind: whole numbers for whole defaults, numbers for numbers,
 * one of the declared values for a knob of strings. */
static int check_value(const kl_param *p, const char *v, char *err, size_t errn) {
  if (!*v) return snprintf(err, errn, "parameter '%s' needs a value", p->name), -1;
  if (strlen(v) >= sizeof p->dflt) return snprintf(err, errn, "the value of '%s' is too long", p->name), -1;
  if (is_whole(p->dflt) && !is_whole(v))
    return snprintf(err, errn, "parameter '%s' is a whole number, got '%s'", p->name, v), -1;
  if (is_number(p->dflt) && !is_number(v))
    return snprintf(err, errn, "parameter '%s' is a number, got '%s'", p->name, v), -1;
  if (is_number(p->dflt) || !p->nvalues) return 0;
  for (int i = 0; i < p->nvalues; i++)
    if (!strcmp(p->values[i], v)) return 0;
  int len = snprintf(err, errn, "parameter '%s' is one of", p->name);
  for (int i = 0; i < p->nvalues && len < (int)errn; i++)
    len += snprintf(err + len, errn - (size_t)len, "%s %s", i ? "," : "", p->values[i]);
  if (len < (int)errn) snprintf(err + len, errn - (size_t)len, "; got '%s'", v);
  return -1;
}

void kl_recipe_defaults(kl_recipe *r, kl_settings *s) {
  s->n = r->nparams;
  for (int i = 0; i < r->nparams; i++) {
    s->v[i].name = r->params[i].name;
    snprintf(s->v[i].value, sizeof s->v[i].value, "%s", r->params[i].dflt);
  }
}

int kl_settings_apply(kl_recipe *r, kl_settings *s, const char *name_eq_value, char *err, size_t errn) {
  char list[512];
  const char *eq = strchr(name_eq_value, '=');
  param_list(r, list, sizeof list);
  if (!eq || eq == name_eq_value) {
    snprintf(err, errn, "%s: setting '%s' is not NAME=VALUE (parameters: %s)", r->path, name_eq_value, list);
    return -1;
  }
  const kl_param *p = find_param(r, name_eq_value, (size_t)(eq - name_eq_value));
  if (!p) {
    snprintf(err, errn, "%s: unknown parameter '%.*s' (parameters: %s)", r->path, (int)(eq - name_eq_value),
             name_eq_value, list);
    return -1;
  }
  char why[512];
  if (check_value(p, eq + 1, why, sizeof why)) {
    snprintf(err, errn, "%s: %s", r->path, why);
    return -1;
  }
  int i = 0;
  while (i < s->n && strcmp(s->v[i].name, p->name)) i++;
  if (i == s->n && s->n == KL_MAXSET) return snprintf(err, errn, "too many settings"), -1;
  if (i == s->n) s->n++;
  s->v[i].name = p->name;
  snprintf(s->v[i].value, sizeof s->v[i].value, "%s", eq + 1);
  return 0;
}

const char *kl_settings_get(const kl_settings *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->v[i].name, name)) return s->v[i].value;
  return NULL;
}

/* The setting of a recipe parameter: from s, else its default; NULL if not a parameter. */
static const char *setting(kl_recipe *r, const kl_settings *s, const char *name) {
  const kl_param *p = find_param(r, name, strlen(name));
  if (!p) return NULL;
  const char *v = kl_settings_get(s, name);
  return v ? v : p->dflt;
}

/* ---- reading the declaration (at load) ---- */

/* Text of the number or string at idx into buf (64 bytes). */
static void value_text(lua_State *L, kl_recipe *r, int idx, char *buf, const char *name) {
  if (lua_isinteger(L, idx))
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
  if (r->nparams == KL_MAXSET) recipe_error(L, r, r->line, "too many parameters");
  kl_param *p = &r->params[r->nparams++];
  p->name = ir_strdup(r->A, name);
  p->is_tune = is_tune;
  return p;
}

static void read_knob(lua_State *L, kl_recipe *r, kl_param *p, int knob) {
  lua_getfield(L, knob, "default");
  value_text(L, r, -1, p->dflt, p->name);
  lua_getfield(L, knob, "values");
  p->nvalues = (int)luaL_len(L, -1);
  for (int i = 0; i < p->nvalues; i++) {
    char text[64];
    lua_geti(L, -1, i + 1);
    value_text(L, r, -1, text, p->name);
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
    lua_getfield(L, -1, keys[i]);
    value_text(L, r, -1, p->dflt, p->name);
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
  if (r->nargs > KL_MAXARGS) recipe_error(L, r, r->line, "too many kernel arguments");
  for (int i = 0; i < r->nargs; i++) {
    lua_geti(L, -1, i + 1);
    lua_getfield(L, -1, "name");
    r->argnames[i] = ir_strdup(r->A, lua_tostring(L, -1));
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

/* Each checks entry becomes "NAME=VALUE" overrides, validated like --set. */
static void read_check(lua_State *L, kl_recipe *r, int entry, int index) {
  const char *keys[KL_MAXSET];
  char err[512], text[64], nv[256], msg[700];
  kl_settings s;
  kl_recipe_defaults(r, &s);
  int n = sorted_keys(L, entry, keys, KL_MAXSET);
  const char **list = ir_alloc(r->A, (size_t)(n + 1) * sizeof *list);
  for (int i = 0; i < n; i++) {
    lua_getfield(L, entry, keys[i]);
    if (lua_type(L, -1) != LUA_TNUMBER && lua_type(L, -1) != LUA_TSTRING)
      snprintf(msg, sizeof msg, "checks[%d]: '%s' must be a number or a string", index, keys[i]),
          recipe_error(L, r, r->line, msg);
    value_text(L, r, -1, text, keys[i]);
    lua_pop(L, 1);
    snprintf(nv, sizeof nv, "%s=%s", keys[i], text);
    if (kl_settings_apply(r, &s, nv, err, sizeof err))
      snprintf(msg, sizeof msg, "checks[%d]: %s", index, err + strlen(r->path) + 2),
          recipe_error(L, r, r->line, msg);
    list[i] = ir_strdup(r->A, nv);
  }
  r->checks[r->nchecks++] = list;
}

static void read_checks(lua_State *L, kl_recipe *r, int R) {
  lua_getfield(L, R, "checks");
  int n = (int)luaL_len(L, -1);
  if (n > MAXCHECKS) recipe_error(L, r, r->line, "too many checks");
  for (int i = 0; i < n; i++) {
    lua_geti(L, -1, i + 1);
    read_check(L, r, lua_gettop(L), i + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* p.NAME: the setting, or an error naming the unknown NAME and listing the parameters. */
static int p_index(lua_State *L) {
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
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

/* The body's k: a fresh table per build whose __index is the kiln library. */
static void make_k_metatable(lua_State *L) {
  luaL_newmetatable(L, K_MT);
  luaL_requiref(L, "kiln", luaopen_kiln, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

static int load_main(lua_State *L) {
  kl_recipe *r = lua_touserdata(L, 1);
  if (luaL_loadfile(L, r->path) != LUA_OK) return lua_error(L);
  lua_call(L, 0, 1);
  if (!kl_has_mt(L, -1, KL_RECIPE_MT)) luaL_error(L, "%s: the file must return kiln.recipe{...}", r->path);
  int R = lua_gettop(L);
  lua_pushvalue(L, R);
  lua_setfield(L, LUA_REGISTRYINDEX, RECIPE_KEY);
  lua_getfield(L, R, "line");
  r->line = (int)lua_tointeger(L, -1);
  lua_getfield(L, R, "name");
  r->name = ir_strdup(r->A, lua_tostring(L, -1));
  if (lua_getfield(L, R, "reference") == LUA_TSTRING) r->reference = ir_strdup(r->A, lua_tostring(L, -1));
  lua_settop(L, R);
  read_params(L, r, R);
  read_args(L, r, R);
  param_list(r, r->plist, sizeof r->plist);
  make_k_metatable(L);
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

kl_recipe *kl_recipe_load(const char *path, char *err, size_t errn) {
  kl_recipe *r = calloc(1, sizeof *r);
  lua_State *L = r ? luaL_newstate() : NULL;
  if (!L) {
    free(r);
    snprintf(err, errn, "%s: out of memory", path);
    return NULL;
  }
  r->L = L;
  r->A = ir_arena_new();
  r->path = ir_strdup(r->A, path);
  kl_build_set(L, NULL);
  luaL_openlibs(L);
  kl_preload(L);
  r->short_src = chunk_short_src(L, r);
  if (protect(r, load_main, r, err, errn)) {
    kl_recipe_free(r);
    return NULL;
  }
  return r;
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
int kl_recipe_nparams(kl_recipe *r) { return r->nparams; }
const kl_param *kl_recipe_param(kl_recipe *r, int i) {
  return i >= 0 && i < r->nparams ? &r->params[i] : NULL;
}

int kl_recipe_checks(kl_recipe *r, kl_settings *out, int max) {
  char err[512];
  int n = r->nchecks < max ? r->nchecks : max;
  for (int i = 0; i < n; i++) {
    kl_recipe_defaults(r, &out[i]);
    for (const char **nv = r->checks[i]; *nv; nv++) kl_settings_apply(r, &out[i], *nv, err, sizeof err);
  }
  return n;
}

/* ---- running the recipe's functions ---- */

typedef struct {
  kl_recipe *r;
  const kl_settings *s;
  const cg_target *t;
  kl_build B;
  kl_arg *out;
  int max, n;
  int64_t *grid;
} job;

/* Pushes the recipe table and p: an empty proxy whose __index reads the settings (numbers where
 * they parse as one) and refuses unknown names, and whose __newindex refuses writes. */
static void push_recipe_p(lua_State *L, job *j) {
  lua_getfield(L, LUA_REGISTRYINDEX, RECIPE_KEY);
  lua_newtable(L);
  lua_createtable(L, 0, 2);
  lua_createtable(L, 0, j->r->nparams);
  for (int i = 0; i < j->r->nparams; i++) {
    const char *v = setting(j->r, j->s, j->r->params[i].name);
    if (!lua_stringtonumber(L, v)) lua_pushstring(L, v);
    lua_setfield(L, -2, j->r->params[i].name);
  }
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, p_pairs, 1);
  lua_setfield(L, -3, "__pairs");
  lua_pushstring(L, j->r->plist);
  lua_pushcclosure(L, p_index, 2);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, p_newindex);
  lua_setfield(L, -2, "__newindex");
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
  const char *w = setting(j->r, j->s, "warps");
  long v = 4;
  if (w) {
    char *end;
    v = strtol(w, &end, 10);
    snprintf(msg, sizeof msg, "warps = %s: must be a power of two from 1 to 32", w);
    if (*end || v < 1 || v > 32 || (v & (v - 1))) recipe_error(L, j->r, j->r->line, msg);
  }
  ir_attr_set_i(j->B.fn->A, &j->B.fn->attrs, "warps", v);
}

static int build_main(lua_State *L) {
  job *j = lua_touserdata(L, 1);
  push_recipe_p(L, j);
  set_warps(L, j);
  kl_build_set(L, &j->B);
  lua_newtable(L);
  luaL_setmetatable(L, K_MT);
  add_params(L, j);
  if (j->t) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, j->t->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, j->t->sm);
    lua_setfield(L, -2, "sm");
    lua_setfield(L, 4, "target");
  }
  lua_getfield(L, 2, "body");
  lua_pushvalue(L, 4);
  lua_pushvalue(L, 3);
  lua_call(L, 2, 0);
  return 0;
}

ir_func *kl_recipe_build(kl_recipe *r, const kl_settings *s, const cg_target *t, char *err, size_t errn) {
  job j = {.r = r, .s = s, .t = t};
  j.B.fn = ir_func_new(r->name);
  j.B.b = ir_builder_at_end(j.B.fn, j.B.fn->body);
  j.B.serial = ++r->serial;
  int rc = protect(r, build_main, &j, err, errn);
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
  out->fval = x;
  out->ival = ok ? i : (int64_t)x;
  lua_pop(L, 3);
}

static int args_main(lua_State *L) {
  job *j = lua_touserdata(L, 1);
  push_recipe_p(L, j);
  lua_getfield(L, 2, "args");
  if (j->r->nargs > j->max)
    recipe_error(L, j->r, j->r->line, "more kernel arguments than the caller has room for");
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
  return protect(r, args_main, &j, err, errn) ? -1 : j.n;
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
    snprintf(msg, sizeof msg, "grid(p) gives %s programs on axis %d: need a whole number >= 1",
             luaL_tolstring(L, 4 + i, NULL), i);
    if (!ok || v < 1) recipe_error(L, j->r, ar.linedefined, msg);
    lua_pop(L, 1);
    j->grid[i] = v;
  }
  return 0;
}

int kl_recipe_grid(kl_recipe *r, const kl_settings *s, int64_t grid[3], char *err, size_t errn) {
  job j = {.r = r, .s = s, .grid = grid};
  return protect(r, grid_main, &j, err, errn);
}
