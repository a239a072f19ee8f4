/*
 * api.h - what the files of the public API (include/kiln.h) share inside compiler/api: the session
 * and recipe handles and the helpers that turn an internal -1 and message into a status.
 */
#ifndef KILN_API_H
#define KILN_API_H

#include <stdio.h>

#include "../../codegen/codegen.h"
#include "../../include/kiln.h"
#include "../../runtime/rt.h"
#include "../../target/target.h"
#include "../lua/kl_recipe.h"

struct kiln_session {
  char err[4096]; /* the last failed call's message; "" after a success */
};

struct kiln_recipe {
  kiln_session *s;
  char *path;
  kl_recipe *lua;  /* a recipe; NULL for an IR file */
  char *ir_text;   /* an IR file's text; NULL for a recipe */
  kl_settings set; /* the defaults with every kiln_recipe_set applied; computed defaults follow the
                      target of the call that compiles (api_recipe_target) */
  int neutral;     /* 1: computed defaults see no target whatever the call's (a pack's variant serves
                      several targets with one launch rule) */
  int nsets;       /* the NAME=VALUE strings applied, trimmed, in order (kiln_run re-applies them) */
  char *sets[KL_MAXSET];
};

/* Writes s to f as a JSON string (quotes, backslashes and control characters escaped). */
void api_json_string(FILE *f, const char *s);

/* Starts a call: clears the session's message. */
void api_begin(kiln_session *s);
/* Ends a call with status st and a printf-style message (st != KILN_OK). Returns st. */
kiln_status api_fail(kiln_session *s, kiln_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The target row for name (NULL: sm_80), or NULL after api_fail(KILN_ERR_USAGE, "unknown target ..."). */
const tg_target *api_target(kiln_session *s, const char *name);
/* Recomputes r's computed defaults for target t (none where r->neutral), before a call builds, sizes
 * or launches r for t: every use within the call then reads the same settings. KILN_ERR_INPUT with
 * "FILE:LINE: ..." if a default function fails. */
kiln_status api_recipe_target(kiln_recipe *r, const tg_target *t);

/* A kernel parameter's value in the C type of its element, for rt_launch (kiln run, the tuner). */
typedef union {
  int8_t i8;
  uint8_t u8;
  int16_t i16;
  int32_t i32;
  uint32_t u32;
  int64_t i64;
  float f32;
  double f64;
  rt_dptr ptr;
} api_param;

/* A scalar argument as the kernel's parameter holds it: integers narrowed to their type, f16/bf16/fp8
 * as their bit patterns (as the simulator passes them). */
api_param api_scalar_param(const kl_arg *a);

/* The 128 bytes of one tensor map, aligned as a kernel parameter wants them. */
typedef struct {
  _Alignas(64) unsigned char b[RT_TMAP_BYTES];
} api_tmap;

/* The tensor maps kernel k takes after its nargs arguments (its copies {tma = 1}: k->tmaps) for these
 * argument values: with dev (the tensors' device addresses) encoded by the driver, else with host
 * (the simulator's buffers) by the simulator. Returns how many (0 for none), or -1 with a message
 * naming the argument and the rule a map breaks (a row stride not a multiple of 16 bytes, ...). */
int api_tmaps(const cg_result *k, const kl_arg *args, int nargs, const rt_dptr *dev, void *const *host,
              api_tmap *maps, int max, char *err, size_t errn);

/* The SASS of ptx for t: ptxas to a cubin, then kiln_sass_tool's disassembler (inspect.c). KILN_OK with
 * *out malloc'd, or KILN_ERR_NO_TOOL (no ptxas or no disassembler) / KILN_ERR_COMPILE with a message. */
kiln_status api_sass(kiln_session *s, const char *ptx, const tg_target *t, char **out);

#endif
