/*
 * opt.c - kiln_opt (include/kiln.h): IR text in, named passes, IR text out; the engine of `kiln opt`.
 *
 * 1. Look up every pass and the target first: a typo fails before any work.
 * 2. For each kernel in the text: parse it (the parser stops after one kernel and says where), verify
 *    it (a user error), run the passes in order (pass_run verifies after each: a pass that breaks
 *    the IR aborts), append its printed form.
 * The kernels after the first are parsed from the same text with what came before blanked out, so
 * every message names the line and column of the text the user wrote.
 */
#include <stdlib.h>
#include <string.h>

#include "../passes/pass.h"
#include "api.h"

enum { MAXPASSES = 64 };

/* Only blanks and // comments from p on. */
static int nothing_left(const char *p) {
  for (;;) {
    p += strspn(p, " \t\r\n");
    if (p[0] != '/' || p[1] != '/') return !*p;
    p += strcspn(p, "\n");
  }
}

/* Blanks text[0, n) except newlines, so the next parse starts after it with lines and columns kept. */
static void blank_prefix(char *text, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (text[i] != '\n') text[i] = ' ';
}

/* Step 1. */
static kiln_status lookup_passes(kiln_session *s, const kiln_opt_opts *o, const pass_info **ps) {
  if (o->npasses > MAXPASSES) return api_fail(s, KILN_ERR_USAGE, "more than %d passes", MAXPASSES);
  for (int i = 0; i < o->npasses; i++)
    if (!(ps[i] = pass_lookup(o->passes[i])))
      return api_fail(s, KILN_ERR_USAGE, "unknown pass '%s'", o->passes[i]);
  return KILN_OK;
}

static kiln_status run_passes(kiln_session *s, ir_func *fn, pass_ctx *pc, const pass_info **ps, int n) {
  if (ir_verify(fn, s->err, sizeof s->err)) return KILN_ERR_INPUT;
  for (int i = 0; i < n; i++)
    if (pass_run(fn, pc, ps[i])) return api_fail(s, KILN_ERR_COMPILE, "%s", pc->err);
  return KILN_OK;
}

/* Step 2 over a private copy of the text. */
static kiln_status each_kernel(kiln_session *s, char *text, const char *file, pass_ctx *pc,
                               const pass_info **ps, int n, FILE *out) {
  for (int count = 0; !nothing_left(text); count++) {
    size_t end = 0;
    ir_func *fn = ir_parse(text, file, s->err, sizeof s->err, &end);
    if (!fn) return KILN_ERR_INPUT;
    kiln_status st = run_passes(s, fn, pc, ps, n);
    if (st == KILN_OK) {
      char *printed = ir_print(fn);
      fprintf(out, "%s%s", count ? "\n" : "", printed);
      free(printed);
    }
    ir_func_destroy(fn);
    if (st != KILN_OK) return st;
    blank_prefix(text, end);
  }
  return KILN_OK;
}

kiln_status kiln_opt(kiln_session *s, const char *text, const char *file, const kiln_opt_opts *o,
                     char **out) {
  *out = NULL;
  if (!s) return KILN_ERR_USAGE;
  api_begin(s);
  if (!text || !o) return api_fail(s, KILN_ERR_USAGE, "kiln_opt: no text or no options");
  const pass_info *ps[MAXPASSES];
  kiln_status st = lookup_passes(s, o, ps);
  if (st != KILN_OK) return st;
  pass_ctx pc = {.verify_each = 1, .print_after_all = o->print_after_all};
  if (o->target && !(pc.target = api_target(s, o->target))) return KILN_ERR_USAGE;
  char *copy = strdup(text), *buf = NULL;
  size_t len = 0;
  FILE *f = copy ? open_memstream(&buf, &len) : NULL;
  if (!f) {
    free(copy);
    return api_fail(s, KILN_ERR_SYSTEM, "out of memory");
  }
  st = each_kernel(s, copy, file ? file : "<input>", &pc, ps, o->npasses, f);
  fclose(f);
  free(copy);
  *out = buf;
  return st;
}
