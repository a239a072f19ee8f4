/*
 * kl_sandbox.c - what a recipe can reach, and how long and how much it may run (docs/recipes.md,
 * "What a recipe can reach").
 *
 * A recipe is code from someone else. Its Lua state is made here:
 *   1. an allocator that counts the bytes of the state and refuses to go past the memory cap while
 *      an evaluation runs (kl_protect); the refusal becomes "FILE:LINE: recipe used more than N MiB";
 *   2. a count hook that checks the wall time every HOOK_EVERY instructions and raises
 *      "recipe evaluation exceeded N s"; from then on it fails every instruction, so that a recipe's
 *      own pcall cannot hold on;
 *   3. the libraries: base (without dofile/loadfile; load takes text only; setmetatable refuses
 *      __gc, since finalizers run with hooks off), string (without dump),
 *      table, math, utf8, os.clock and os.time, and a `require` that finds kiln and the text modules
 *      in lib/ beside the recipe: no io, os, debug, package or C modules. With kl_options.unsafe the
 *      whole standard library instead, lib/ first on package.path.
 * Lua does not run the message handler for memory errors, so the position of a refused allocation
 * is noted where it happens: a large request (bigger than any Lua stack) walks the main thread's
 * frames at once; once the heap passes the watch mark the hook notes the position of every
 * instruction, so that the smaller refusals near the cap find it there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lualib.h>

#include "kl_lib.h"

enum { HOOK_EVERY = 1000 };
#define MIB ((double)(1 << 20))
#define STACK_MAX_BYTES ((size_t)17 << 20) /* above a Lua stack of LUAI_MAXSTACK slots */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- options ---- */

static double time_limit(const kl_recipe *r) {
  return r->opt.time_limit > 0 ? r->opt.time_limit : KL_TIME_LIMIT;
}
static double mem_limit(const kl_recipe *r) { return r->opt.mem_limit > 0 ? r->opt.mem_limit : KL_MEM_LIMIT; }

/* A positive number of seconds or MiB. */
static int option_value(const char *flag, const char *v, double *out, char *err, size_t errn) {
  char *end;
  errno = 0;
  double x = v ? strtod(v, &end) : 0;
  if (!v || !*v || *end || errno || !(x > 0) || x > 1e9)
    return snprintf(err, errn, "%s needs a positive number, got '%s'", flag, v ? v : ""), -1;
  *out = x;
  return 0;
}

int kl_options_arg(kl_options *o, int argc, char **argv, char *err, size_t errn) {
  static const char *const named[] = {"--recipe-time", "--recipe-mem"};
  const char *s = argc > 0 ? argv[0] : "";
  if (!strcmp(s, "--unsafe-recipe")) return o->unsafe = 1, 1;
  for (int i = 0; i < 2; i++) {
    size_t n = strlen(named[i]);
    if (strncmp(s, named[i], n) || (s[n] && s[n] != '=')) continue;
    const char *v = s[n] == '=' ? s + n + 1 : argc > 1 ? argv[1] : NULL;
    if (option_value(named[i], v, i ? &o->mem_limit : &o->time_limit, err, errn)) return -1;
    return s[n] == '=' ? 1 : 2;
  }
  return 0;
}

/* ---- the position of the running recipe line ---- */

/* Notes the innermost frame with a line: what a memory error names. Reads only, never allocates. */
static void note_position(kl_recipe *r, lua_State *L) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0) continue;
    const char *src = ar.source[0] == '@' ? ar.source + 1 : ar.short_src;
    if (strcmp(src, r->pos_file) != 0) snprintf(r->pos_file, sizeof r->pos_file, "%s", src);
    r->pos_line = ar.currentline;
    return;
  }
}

/* ---- limits ---- */

static void limit_hook(lua_State *L, lua_Debug *ar) {
  char msg[64];
  (void)ar;
  kl_recipe *r = kl_state_recipe(L);
  if (r->depth == 0) return; /* the limits hold inside kl_protect only */
  if (r->watching) {
    note_position(r, L);
    if (++r->ticks % HOOK_EVERY && !r->timed_out) return; /* the clock as often as when not watching */
  }
  if (!r->timed_out && now() < r->deadline) return;
  r->timed_out = 1;
  lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1); /* every next instruction fails: pcall cannot hold on */
  snprintf(msg, sizeof msg, "recipe evaluation exceeded %g s", time_limit(r));
  lua_pushstring(L, msg);
  lua_error(L); /* no position here: the message handler adds the recipe line */
}

static void *limit_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  kl_recipe *r = ud;
  if (!ptr) osize = 0; /* then osize tells the kind of object */
  if (nsize == 0) {
    free(ptr);
    r->mem_used -= osize;
    return NULL;
  }
  if (r->depth > 0 && nsize > osize &&
      nsize - osize > r->mem_cap - (r->mem_used < r->mem_cap ? r->mem_used : r->mem_cap)) {
    r->mem_hit = 1;
    if (nsize > STACK_MAX_BYTES && r->L) note_position(r, r->L); /* not a stack: the frames are sound */
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  r->mem_used = r->mem_used - osize + nsize;
  if (r->depth > 0 && !r->watching && r->mem_used > r->mem_watch && r->L) {
    r->watching = 1;
    lua_sethook(r->L, limit_hook, LUA_MASKCOUNT, 1); /* sets fields only: safe inside an allocation */
  }
  return p;
}

kl_recipe *kl_state_recipe(lua_State *L) {
  void *ud;
  return lua_getallocf(L, &ud) == limit_alloc ? ud : NULL;
}

void kl_limits_begin(kl_recipe *r) {
  if (r->depth++ > 0) return;
  r->deadline = now() + time_limit(r);
  r->timed_out = 0;
  r->mem_hit = 0;
  r->pos_line = 0;
  r->pos_file[0] = 0;
  r->watching = r->mem_used > r->mem_watch;
  lua_sethook(r->L, limit_hook, LUA_MASKCOUNT, r->watching ? 1 : HOOK_EVERY);
}

void kl_limits_end(kl_recipe *r) { r->depth--; }

/* The message of a memory error (LUA_ERRMEM: Lua ran no message handler). */
void kl_limits_memory_error(kl_recipe *r, char *err, size_t errn) {
  if (!r->mem_hit)
    snprintf(err, errn, "%s: out of memory", r->path);
  else if (r->pos_line > 0)
    snprintf(err, errn, "%s:%d: recipe used more than %g MiB", r->pos_file, r->pos_line, mem_limit(r));
  else
    snprintf(err, errn, "%s: recipe used more than %g MiB", r->path, mem_limit(r));
}

/* The kernel IR counts against the memory cap too (about 256 bytes an op). */
void kl_limit_ops(lua_State *L, uint32_t nops) {
  char msg[96];
  kl_recipe *r = kl_state_recipe(L);
  if (!r || (double)nops * 256 <= (double)r->mem_cap) return;
  snprintf(msg, sizeof msg, "recipe used more than %g MiB (a kernel of %u ops)", mem_limit(r), nops);
  luaL_error(L, "%s", msg);
}

static int panic(lua_State *L) {
  fprintf(stderr, "kiln: internal error: unprotected error in a recipe state: %s\n", lua_tostring(L, -1));
  return 0; /* then Lua aborts */
}

lua_State *kl_sandbox_state(kl_recipe *r) {
  double cap = mem_limit(r) * MIB;
  r->mem_cap = cap > (double)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)cap;
  r->mem_watch = r->mem_cap > 2 * STACK_MAX_BYTES ? r->mem_cap - STACK_MAX_BYTES : r->mem_cap / 2;
  lua_State *L = lua_newstate(limit_alloc, r);
  if (L) lua_atpanic(L, panic);
  return L;
}

/* ---- loading text chunks ---- */

/* Does the file hold a precompiled chunk (after an optional BOM and '#' first line, as Lua reads)? */
static int is_binary(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  int c = getc(f);
  if (c == 0xEF && getc(f) == 0xBB && getc(f) == 0xBF) c = getc(f);
  if (c == '#') {
    while (c != EOF && c != '\n') c = getc(f);
    c = getc(f);
  }
  fclose(f);
  return c == LUA_SIGNATURE[0];
}

int kl_load_file(lua_State *L, const char *path, int text_only) {
  if (text_only && is_binary(path)) {
    lua_pushfstring(L, "%s: binary (precompiled) chunks are not accepted", path);
    return LUA_ERRSYNTAX;
  }
  return luaL_loadfilex(L, path, text_only ? "t" : NULL);
}

/* ---- the libraries of a sandboxed recipe ---- */

/* load(chunk [, name [, mode [, env]]]) with mode "t" whatever is asked: no binary chunks. */
static int text_load(lua_State *L) {
  if (lua_gettop(L) < 3) lua_settop(L, 3); /* an absent env stays absent */
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* setmetatable(t, mt) refusing a metatable with a __gc field: Lua runs finalizers with hooks off,
 * where no time limit reaches them (an object gets its finalizer only from the metatable it is
 * given, so a __gc added later does nothing). */
static int no_gc_setmetatable(lua_State *L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE); /* the argument errors here, so that they name setmetatable */
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (t == LUA_TTABLE && lua_getfield(L, 2, "__gc") != LUA_TNIL)
    luaL_error(L, "recipes cannot set __gc: finalizers run beyond the time limit");
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

/* Module names are names separated by dots: no path can leave lib/. */
static int module_name_ok(const char *s) {
  int start = 1;
  for (; *s; s++) {
    int ok = *s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9');
    if (*s == '.' && !start)
      start = 1;
    else if (ok)
      start = 0;
    else
      return 0;
  }
  return !start;
}

/* Pushes the loader of module `name`: a preloaded one (kiln) or lib/NAME.lua; and its extra argument. */
static void find_module(lua_State *L, const char *name) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  if (lua_getfield(L, -1, name) != LUA_TNIL) {
    lua_remove(L, -2);
    lua_pushliteral(L, ":preload:");
    return;
  }
  lua_pop(L, 2);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, lua_tostring(L, lua_upvalueindex(1)));
  luaL_addstring(&b, "/lib/");
  for (const char *c = name; *c; c++) luaL_addchar(&b, *c == '.' ? '/' : *c);
  luaL_addstring(&b, ".lua");
  luaL_pushresult(&b);
  const char *path = lua_tostring(L, -1);
  FILE *f = module_name_ok(name) ? fopen(path, "r") : NULL;
  if (!f)
    luaL_error(L, "module '%s' not found (recipes find only kiln and the modules in lib/ beside them)", name);
  fclose(f);
  if (kl_load_file(L, path, 1) != LUA_OK) lua_error(L);
  lua_insert(L, -2); /* loader, path */
}

/* require(name): as Lua's, over kiln and the text modules in lib/ beside the recipe. */
static int sandbox_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE); /* 2 */
  if (lua_getfield(L, 2, name) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  find_module(L, name); /* loader, extra */
  lua_pushvalue(L, -1);
  lua_insert(L, 3); /* keep the extra as the second result */
  lua_pushvalue(L, 1);
  lua_insert(L, -2);
  lua_call(L, 2, 1);
  if (!lua_isnil(L, -1))
    lua_setfield(L, 2, name);
  else
    lua_pop(L, 1);
  if (lua_getfield(L, 2, name) == LUA_TNIL) {
    lua_pushboolean(L, 1);
    lua_copy(L, -1, -2);
    lua_setfield(L, 2, name);
  }
  lua_rotate(L, -2, 1);
  return 2;
}

static void open_safe(lua_State *L, const char *dir) {
  static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
                                  {LUA_STRLIBNAME, luaopen_string},
                                  {LUA_TABLIBNAME, luaopen_table},
                                  {LUA_MATHLIBNAME, luaopen_math},
                                  {LUA_UTF8LIBNAME, luaopen_utf8}};
  for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
    luaL_requiref(L, libs[i].name, libs[i].func, 1);
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  lua_setglobal(L, "dofile");
  lua_pushnil(L);
  lua_setglobal(L, "loadfile");
  lua_getglobal(L, "load");
  lua_pushcclosure(L, text_load, 1);
  lua_setglobal(L, "load");
  lua_getglobal(L, "setmetatable");
  lua_pushcclosure(L, no_gc_setmetatable, 1);
  lua_setglobal(L, "setmetatable");
  lua_getglobal(L, LUA_STRLIBNAME);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  /* os: the clocks only */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, luaopen_os);
  lua_call(L, 0, 1);
  lua_getfield(L, -1, "clock");
  lua_setfield(L, -3, "clock");
  lua_getfield(L, -1, "time");
  lua_setfield(L, -3, "time");
  lua_pop(L, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, LUA_OSLIBNAME);
  lua_setglobal(L, LUA_OSLIBNAME);
  lua_pop(L, 1);
  lua_pushstring(L, dir);
  lua_pushcclosure(L, sandbox_require, 1);
  lua_setglobal(L, "require");
}

/* The whole standard library; `require` looks in lib/ beside the recipe first. */
static void open_unsafe(lua_State *L, const char *dir) {
  luaL_openlibs(L);
  lua_getglobal(L, LUA_LOADLIBNAME);
  lua_pushfstring(L, "%s/lib/?.lua;", dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

/* Opens the recipe's libraries (kl_options.unsafe chooses which); dir is the recipe's folder. */
void kl_sandbox_open(kl_recipe *r, const char *dir) {
  if (r->opt.unsafe)
    open_unsafe(r->L, dir);
  else
    open_safe(r->L, dir);
}
