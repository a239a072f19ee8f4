/*
 * kiln.c - the public API's sessions, errors, tables and recipe handles (include/kiln.h).
 * Compiling is in compile.c, running passes over IR text in opt.c, running against the reference in
 * run.c.
 *
 * Every public call begins with api_begin (the message cleared) and ends in one place that returns
 * a status; internal functions report errors as -1 and a message in a buffer the call owns, and Lua
 * errors never leave compiler/lua (kl_protect runs the recipe under lua_pcall).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../ir/elem_float.h"
#include "../../ir/file.h"
#include "../passes/pass.h"
#include "api.h"

/* ---- sessions and errors ---- */

kiln_session *kiln_session_new(void) { return calloc(1, sizeof(kiln_session)); }

void kiln_session_free(kiln_session *s) { free(s); }

const char *kiln_error(const kiln_session *s) { return s ? s->err : "no session"; }

void kiln_free(void *p) { free(p); }

const char *kiln_version(void) { return KILN_VERSION; }

const char *kiln_status_name(kiln_status st) {
  static const char *const names[] = {"KILN_OK",          "KILN_ERR_USAGE",   "KILN_ERR_INPUT",
                                      "KILN_ERR_COMPILE", "KILN_ERR_NO_TOOL", "KILN_ERR_CHECK",
                                      "KILN_ERR_SYSTEM"};
  return (unsigned)st < sizeof names / sizeof *names ? names[st] : "KILN_ERR_UNKNOWN";
}

void api_begin(kiln_session *s) { s->err[0] = 0; }

void api_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++)
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", *s);
    else
      fputc(*s, f);
  fputc('"', f);
}

kiln_status api_fail(kiln_session *s, kiln_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  return st;
}

kiln_status kiln_read_file(kiln_session *s, const char *path, char **out) {
  *out = NULL;
  if (!s || !path) return s ? api_fail(s, KILN_ERR_USAGE, "kiln_read_file: no path") : KILN_ERR_USAGE;
  api_begin(s);
  *out = strcmp(path, "-") ? ir_read_file(path, NULL, s->err, sizeof s->err)
                           : ir_read_stream(stdin, "<stdin>", NULL, s->err, sizeof s->err);
  return *out ? KILN_OK : KILN_ERR_INPUT;
}

/* ---- targets and passes ---- */

int kiln_target_count(void) { return tg_ntargets; }

kiln_status kiln_target_get(int i, kiln_target_info *out) {
  if (i < 0 || i >= tg_ntargets) return KILN_ERR_USAGE;
  const tg_target *t = &tg_targets[i];
  *out = (kiln_target_info){
      .name = t->name, .smem_per_block = t->smem_per_block, .regs_per_thread = t->regs_per_thread};
  size_t n = 0;
  for (uint32_t f = 1; f; f <<= 1)
    if ((t->features & f) && n < sizeof out->features)
      n += (size_t)snprintf(out->features + n, sizeof out->features - n, "%s%s", n ? " " : "",
                            tg_feature_name(f));
  return KILN_OK;
}

const tg_target *api_target(kiln_session *s, const char *name) {
  const tg_target *t = tg_target_lookup(name ? name : "sm_80");
  if (t) return t;
  size_t n = (size_t)snprintf(s->err, sizeof s->err, "unknown target '%s' (known:", name);
  for (int i = 0; i < tg_ntargets && n < sizeof s->err; i++)
    n += (size_t)snprintf(s->err + n, sizeof s->err - n, " %s", tg_targets[i].name);
  if (n < sizeof s->err) snprintf(s->err + n, sizeof s->err - n, ")");
  return NULL;
}

kiln_status api_recipe_target(kiln_recipe *r, const tg_target *t) {
  if (!r->lua || (r->set.target == t && !r->neutral) || (r->neutral && !r->set.target)) return KILN_OK;
  return kl_settings_target(r->lua, &r->set, r->neutral ? NULL : t, r->s->err, sizeof r->s->err)
             ? KILN_ERR_INPUT
             : KILN_OK;
}

kiln_status kiln_target_check(kiln_session *s, const char *name) {
  api_begin(s);
  if (!name) return api_fail(s, KILN_ERR_USAGE, "kiln_target_check: no target name");
  return api_target(s, name) ? KILN_OK : KILN_ERR_USAGE;
}

const char *kiln_pass_name(int i) {
  const pass_info *p = pass_at(i);
  return p ? p->name : NULL;
}

const char *kiln_pass_help(int i) {
  const pass_info *p = pass_at(i);
  return p ? p->help : NULL;
}

/* ---- recipes ---- */

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

kiln_status kiln_recipe_load(kiln_session *s, const char *path, kiln_recipe **out) {
  return kiln_recipe_load_opts(s, path, NULL, out);
}

int kiln_recipe_opts_arg(kiln_session *s, kiln_recipe_opts *o, int argc, char **argv) {
  kl_options k = {o->unsafe, o->time_limit, o->mem_limit};
  api_begin(s);
  int used = kl_options_arg(&k, argc, argv, s->err, sizeof s->err);
  o->unsafe = k.unsafe, o->time_limit = k.time_limit, o->mem_limit = k.mem_limit;
  return used;
}

kiln_status kiln_recipe_load_opts(kiln_session *s, const char *path, const kiln_recipe_opts *o,
                                  kiln_recipe **out) {
  *out = NULL;
  if (!s) return KILN_ERR_USAGE;
  api_begin(s);
  if (!path) return api_fail(s, KILN_ERR_USAGE, "kiln_recipe_load: no path");
  kl_options k = {0};
  if (o) {
    if (o->time_limit < 0 || o->mem_limit < 0)
      return api_fail(s, KILN_ERR_USAGE, "kiln_recipe_load: negative limit (time %g s, memory %g MiB)",
                      o->time_limit, o->mem_limit);
    k = (kl_options){o->unsafe, o->time_limit, o->mem_limit};
  }
  kiln_recipe *r = calloc(1, sizeof *r);
  if (!r || !(r->path = strdup(path))) {
    free(r);
    return api_fail(s, KILN_ERR_SYSTEM, "out of memory loading %s", path);
  }
  r->s = s;
  if (ends_with(path, ".ir"))
    r->ir_text = ir_read_file(path, NULL, s->err, sizeof s->err);
  else if ((r->lua = kl_recipe_load_opts(path, &k, s->err, sizeof s->err)))
    kl_recipe_defaults(r->lua, &r->set);
  if (!r->ir_text && !r->lua) {
    kiln_recipe_free(r);
    return KILN_ERR_INPUT;
  }
  *out = r;
  return KILN_OK;
}

void kiln_recipe_free(kiln_recipe *r) {
  if (!r) return;
  for (int i = 0; i < r->nsets; i++) free(r->sets[i]);
  kl_recipe_free(r->lua);
  free(r->ir_text);
  free(r->path);
  free(r);
}

/* "  NAME = VALUE " -> "NAME=VALUE" (malloc'd): spaces around the name and the value go. */
static char *trim_setting(const char *text) {
  const char *eq = strchr(text, '='), *end = text + strlen(text);
  const char *name_end = eq ? eq : end, *value = eq ? eq + 1 : end;
  while (isspace((unsigned char)*text)) text++;
  while (name_end > text && isspace((unsigned char)name_end[-1])) name_end--;
  while (isspace((unsigned char)*value)) value++;
  while (end > value && isspace((unsigned char)end[-1])) end--;
  size_t n = (size_t)(name_end - text) + 1 + (size_t)(end - value) + 1;
  char *out = malloc(n);
  if (out)
    snprintf(out, n, "%.*s%s%.*s", (int)(name_end - text), text, eq ? "=" : "", (int)(end - value), value);
  return out;
}

kiln_status kiln_recipe_set(kiln_recipe *r, const char *name_eq_value) {
  if (!r) return KILN_ERR_USAGE;
  kiln_session *s = r->s;
  api_begin(s);
  if (!name_eq_value) return api_fail(s, KILN_ERR_USAGE, "kiln_recipe_set: no setting");
  if (!r->lua) return api_fail(s, KILN_ERR_USAGE, "--set applies to recipes, not to IR files (%s)", r->path);
  if (r->nsets == KL_MAXSET) return api_fail(s, KILN_ERR_USAGE, "more than %d settings", KL_MAXSET);
  char *text = trim_setting(name_eq_value);
  if (!text) return api_fail(s, KILN_ERR_SYSTEM, "out of memory");
  if (kl_settings_apply(r->lua, &r->set, text, s->err, sizeof s->err)) {
    free(text);
    return KILN_ERR_INPUT;
  }
  r->sets[r->nsets++] = text;
  return KILN_OK;
}

api_param api_scalar_param(const kl_arg *a) {
  api_param v = {0};
  switch (a->elem) {
  case IR_I1:
  case IR_I8: v.i8 = (int8_t)a->ival; break;
  case IR_U8: v.u8 = (uint8_t)a->ival; break;
  case IR_I16: v.i16 = (int16_t)a->ival; break;
  case IR_I32: v.i32 = (int32_t)a->ival; break;
  case IR_U32: v.u32 = (uint32_t)a->ival; break;
  case IR_I64: v.i64 = a->ival; break;
  case IR_F32: v.f32 = (float)a->fval; break;
  case IR_F64: v.f64 = a->fval; break;
  case IR_F16:
  case IR_BF16: v.i16 = (int16_t)ir_float_encode(a->elem, a->fval, 0); break;
  case IR_E4M3:
  case IR_E5M2: v.u8 = (uint8_t)ir_float_encode(a->elem, a->fval, 0); break;
  default: v.i64 = a->ival; break;
  }
  return v;
}
