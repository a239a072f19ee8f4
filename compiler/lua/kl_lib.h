/*
 * kl_lib.h - private to compiler/lua: the state behind the `kiln` Lua module while a recipe body
 * runs, and the helpers its op families share.
 *
 * Files:  kl_value.c    value userdata, metatable, coercion of numbers/scalars/shapes, op creation
 *         kl_math.c     elementwise arithmetic, comparisons, math, select (operators and k.* functions)
 *         kl_tile.c     constants, iota, broadcast, casts, reductions, dot, shape queries
 *         kl_memory.c   program ids, views, loads/stores, shared buffers, barriers
 *         kl_control.c  k.range (for) and k.if_ (if)
 *         kl_declare.c  kiln.recipe / kiln.tensor / kiln.scalar: the recipe declaration, checked
 *         kl_module.c   luaopen_kiln: the library table (also the values' __index)
 *         kl_recipe.c   the C API of kl_recipe.h: load a recipe, the protected boundary, checks
 *         kl_sandbox.c  the recipe's Lua state: its libraries, text-only loading, time and memory limits
 *         kl_settings.c parameters and settings (NAME=VALUE text)
 *         kl_run.c      running the recipe's functions: build (body), args, grid; the p table
 *         kl_reference.c the declared reference and check rule; calling a Lua reference
 *
 * A value userdata holds (build serial, value handle): never a pointer. The build in progress
 * hangs off the Lua state's extra space; values of an earlier build are refused by serial.
 */
#ifndef KILN_KL_LIB_H
#define KILN_KL_LIB_H

#include <lauxlib.h>
#include <lua.h>

#include "../../ir/ir.h"

#define KL_VALUE_MT "kiln.value"
#define KL_RECIPE_MT "kiln.recipe"         /* userdata holding the checked declaration as its user value */
#define KL_ARG_MT "kiln.arg"               /* userdata holding an argument table as its user value */
#define KL_RECIPE_KEY "kiln.loaded_recipe" /* registry: the recipe table of this state */
#define KL_K_MT "kiln.k"                   /* metatable of the body's k */

typedef struct {
  ir_func *fn;
  ir_builder b;    /* insertion point: moves into loop and branch bodies and back; b.file/b.line
                      are restamped from the calling recipe frame before each op */
  uint32_t serial; /* stamped on every value this build makes */
} kl_build;

typedef struct {
  uint32_t serial;
  ir_val v;
} kl_value;

/* ---- kl_recipe.c, kl_settings.c, kl_run.c ---- */

#include "kl_recipe.h"

enum { KL_MAXCHECKS = 64 };

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
  const char **checks[KL_MAXCHECKS]; /* each a NULL-terminated list of "NAME=VALUE" */
  char plist[512];                   /* "M, N, BLOCK, dtype, warps": for messages */
  kl_options opt;
  /* limits (kl_sandbox.c) */
  size_t mem_used, mem_cap, mem_watch; /* bytes of the state; past mem_watch every instruction notes
                                          its position for a memory error */
  int mem_hit;                         /* an allocation was refused in this evaluation */
  int depth;                           /* kl_protect nesting: the limits hold while > 0 */
  int watching;                        /* the hook runs at every instruction */
  int timed_out;                       /* past the deadline: every instruction fails */
  unsigned ticks;                      /* hook calls while watching */
  double deadline;                     /* of this evaluation, in CLOCK_MONOTONIC seconds */
  char pos_file[512];                  /* the noted position */
  int pos_line;
  kl_reference ref;   /* the declared reference (kl_reference.c calls a Lua one) */
  kl_check_rule rule; /* the declared `check` */
  int ncomputed;      /* knobs whose default is a function(p) */
};

/* Runs f(ud) in protected mode; on error copies the one-line message to err and returns -1. Every
 * call into the recipe's Lua goes through here: the time and memory limits hold only inside. */
int kl_protect(kl_recipe *r, lua_CFunction f, void *ud, char *err, size_t errn);
/* Reads R.reference and R.check into r (kl_reference.c). */
void kl_read_reference(lua_State *L, kl_recipe *r, int R);
/* Raises "FILE:LINE: msg" for a recipe-level problem found by C code. */
int kl_recipe_error(lua_State *L, kl_recipe *r, int line, const char *msg);
/* The same for a function of the recipe's (ar from lua_getinfo ">S"): the file it was defined in (the
 * recipe, or a module it requires) and its first line. */
int kl_recipe_fn_error(lua_State *L, kl_recipe *r, const lua_Debug *ar, const char *msg);
/* The file ar's function was defined in, as positions name it (the recipe's path for its own chunk). */
const char *kl_fn_file(kl_recipe *r, const lua_Debug *ar);
/* The parameter list for messages, and one parameter's setting (its default if s lacks it;
 * NULL if the recipe has no such parameter). */
void kl_param_list(kl_recipe *r, char *buf, size_t n);
const char *kl_setting_value(kl_recipe *r, const kl_settings *s, const char *name);
/* 0 if the text v suits parameter p (a flag's true/false rewritten to 1/0 in place), else -1 with
 * "parameter 'NAME' ..." in err. */
int kl_param_check(const kl_param *p, char *v, char *err, size_t errn);
/* Text of the number, string or boolean (as 1 or 0) at idx into buf (64 bytes); raises for a value
 * too long, naming `name`. */
void kl_value_text(lua_State *L, kl_recipe *r, int idx, char *buf, const char *name);
/* At load: each computed default's value when every other parameter has its default, into dflt. */
void kl_derive_static_defaults(lua_State *L, kl_recipe *r);

/* kiln.cdiv on a problem-size symbol (kl_trace.c): the expression "a b cdiv". */
int kl_size_cdiv(lua_State *L);
int kl_size_min(lua_State *L);

/* ---- kl_sandbox.c ---- */

lua_State *kl_sandbox_state(kl_recipe *r);           /* a new state under r's limits (r->opt set) */
void kl_sandbox_open(kl_recipe *r, const char *dir); /* the libraries; dir: the recipe's folder */
kl_recipe *kl_state_recipe(lua_State *L);            /* the recipe a state belongs to, or NULL */
/* Loads a file as a chunk; text_only refuses precompiled ones ("FILE: binary ... not accepted"). */
int kl_load_file(lua_State *L, const char *path, int text_only);
void kl_limits_begin(kl_recipe *r); /* an evaluation starts: fresh deadline, memory cap on */
void kl_limits_end(kl_recipe *r);
void kl_limits_memory_error(kl_recipe *r, char *err, size_t errn); /* the message of LUA_ERRMEM */
void kl_limit_ops(lua_State *L, uint32_t nops); /* raises when the kernel IR passes the memory cap */

/* ---- kl_value.c ---- */

void kl_build_set(lua_State *L, kl_build *B); /* NULL when no body runs */
kl_build *kl_build_get(lua_State *L);         /* raises an error when no body runs */
void kl_value_open(lua_State *L, int lib);    /* creates the value metatable; lib is the __index */

/* Creates an op at the insertion point, stamped with the calling recipe line. */
ir_opid kl_op(lua_State *L, ir_opcode code, const ir_val *opnds, int nopnd, const ir_type *res, int nres,
              int nregion);
ir_val kl_op1(lua_State *L, ir_opcode code, const ir_val *opnds, int nopnd, ir_type res);

void kl_push(lua_State *L, ir_val v);
int kl_isvalue(lua_State *L, int idx);
ir_val kl_check(lua_State *L, int idx);         /* a value of this build, visible at the insertion point */
int kl_peek(lua_State *L, int idx, ir_type *t); /* 1 and its type if idx holds a value of this build */
ir_type kl_vtype(lua_State *L, ir_val v);
const char *kl_tstr(ir_type t, char *buf, size_t n);                 /* "tile<64x64xf32>" */
const char *kl_describe(lua_State *L, int idx, char *buf, size_t n); /* value type or Lua type */

ir_elem kl_check_elem(lua_State *L, int idx);
/* A flag option at the top of the stack: true, false, 0 or 1 gives 0 or 1; anything else raises
 * "WHAT: NAME must be true, false, 0 or 1, got X". */
int kl_check_flag(lua_State *L, const char *what, const char *name);
int kl_check_shape(lua_State *L, int idx, uint32_t shape[IR_MAXRANK], const char *what); /* rank */
int kl_check_axis(lua_State *L, int idx, int rank, const char *what);
ir_val kl_const(lua_State *L, ir_type t, int idx);       /* number at idx as a constant of type t */
ir_val kl_value_as(lua_State *L, int idx, ir_type like); /* value or number; exactly type `like` */
ir_val kl_index(lua_State *L, int idx, ir_elem e, const char *what); /* integer scalar, number -> const */

/* Brings operands idx[0..n) to one type: numbers become constants, scalars splat, size-1 dims
 * broadcast. Operands with elem_free set keep their element type (select's condition) and must be
 * kiln values (the caller checks). */
ir_type kl_unify(lua_State *L, const int *idx, int n, unsigned elem_free, const char *op, ir_val *out);
ir_val kl_to_shape(lua_State *L, ir_val v, ir_type t); /* splat or broadcast v to t's shape */

/* ---- op families (each registers into the library table) ---- */

extern const luaL_Reg kl_math_lib[];
extern const luaL_Reg kl_tile_lib[];
extern const luaL_Reg kl_memory_lib[];
extern const luaL_Reg kl_control_lib[];
extern const luaL_Reg kl_declare_lib[];
/* The operators on the value metatable at mt, and ops.def's generic bindings into its __index. */
void kl_math_metamethods(lua_State *L, int mt);

int kl_reduce(lua_State *L, const char *kind); /* kl_tile.c: t:sum(axis) and friends */

/* ---- kl_module.c ---- */

int luaopen_kiln(lua_State *L);
void kl_preload(lua_State *L);                /* package.preload.kiln = luaopen_kiln */
void kl_lock_metatable(lua_State *L, int mt); /* getmetatable gives false, setmetatable refuses */

#endif
