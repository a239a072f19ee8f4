/*
 * print.c - the tile IR's text form (docs/ir.md), written so that ir_parse reads it back exactly.
 *
 * Values are named in the order the printer meets them: an op's results, then for each of its
 * regions the block arguments, then the region's ops. Kernel parameters keep their names (a
 * parameter without a usable name prints as %argI). The verifier uses the same names
 * (ir_value_names) so that its messages match what a user sees in printed IR.
 *
 * Floats print with the fewest significant digits (at most 17, which always suffice) that strtod
 * reads back to the same double: positionally for exponents -5..16, else as d.ddde+XX. A float that
 * would print like an integer gets ".0" so that the parser keeps its kind. NaN
 * prints as "nan" (payload and sign are not kept).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* ---- growing output buffer ---- */

typedef struct {
  char *s;
  size_t len, cap;
} strbuf;

static void sb_reserve(strbuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  while (b->len + extra + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 1024;
  b->s = realloc(b->s, b->cap);
  if (!b->s) abort();
}

static void sb_printf(strbuf *b, const char *fmt, ...) {
  va_list ap, aq;
  va_start(ap, fmt);
  va_copy(aq, ap);
  int n = vsnprintf(NULL, 0, fmt, aq);
  va_end(aq);
  sb_reserve(b, (size_t)n);
  vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static void sb_puts(strbuf *b, const char *s) { sb_printf(b, "%s", s); }

/* ---- value names ---- */

static int is_ident(const char *s) {
  if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return 0;
  for (; *s; s++)
    if (!(*s == '_' || *s == '.' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9')))
      return 0;
  return 1;
}

typedef struct {
  ir_func *fn;
  ir_arena *A;
  const char **names;
  uint32_t next;
} namer;

static void name_number(namer *nm, ir_val v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%%%u", nm->next++);
  nm->names[v] = ir_strdup(nm->A, buf);
}

static void name_region(namer *nm, ir_reg reg) {
  ir_region *r = ir_r(nm->fn, reg);
  for (uint32_t i = 0; i < r->nargs; i++) name_number(nm, r->args[i]);
  for (ir_opid op = r->first; op; op = ir_o(nm->fn, op)->next) {
    ir_op *o = ir_o(nm->fn, op);
    for (uint32_t i = 0; i < o->nres; i++) name_number(nm, o->res[i]);
    for (int i = 0; i < o->nregion; i++) name_region(nm, o->region[i]);
  }
}

/* A parameter's printed name: its own if it is an identifier not taken by an earlier one. */
static void name_param(namer *nm, ir_val v, uint32_t index) {
  ir_region *body = ir_r(nm->fn, nm->fn->body);
  const char *name = ir_v(nm->fn, v)->name;
  int ok = is_ident(name);
  for (uint32_t j = 0; ok && j < index; j++) {
    const char *prev = nm->names[body->args[j]];
    if (prev && strcmp(prev + 1, name) == 0) ok = 0;
  }
  char buf[80];
  if (ok && strlen(name) < sizeof buf - 2)
    snprintf(buf, sizeof buf, "%%%s", name);
  else
    snprintf(buf, sizeof buf, "%%arg%u", index);
  nm->names[v] = ir_strdup(nm->A, buf);
}

const char **ir_value_names(ir_func *fn, ir_arena *A) {
  namer nm = {fn, A, ir_alloc(A, fn->nvals * sizeof(char *)), 0};
  ir_region *body = ir_r(fn, fn->body);
  for (uint32_t i = 0; i < body->nargs; i++) name_param(&nm, body->args[i], i);
  for (ir_opid op = body->first; op; op = ir_o(fn, op)->next) {
    ir_op *o = ir_o(fn, op);
    for (uint32_t i = 0; i < o->nres; i++) name_number(&nm, o->res[i]);
    for (int i = 0; i < o->nregion; i++) name_region(&nm, o->region[i]);
  }
  return nm.names;
}

/* ---- pieces ---- */

typedef struct {
  ir_func *fn;
  const char **names;
  strbuf out;
} printer;

static void put_val(printer *p, ir_val v) {
  if (v && v < p->fn->nvals && p->names[v])
    sb_puts(&p->out, p->names[v]);
  else
    sb_printf(&p->out, "%%<invalid %u>", v);
}

static void put_type(printer *p, ir_type t) {
  char buf[256];
  ir_type_str(t, buf, sizeof buf);
  sb_puts(&p->out, buf);
}

/* Doubles in a form strtod reads back bit for bit, always recognisable as a float. */
static void put_float(strbuf *b, double f) {
  char buf[40];
  if (isnan(f))
    snprintf(buf, sizeof buf, "nan");
  else if (isinf(f))
    snprintf(buf, sizeof buf, "%s", f < 0 ? "-inf" : "inf");
  else {
    int prec = 1; /* the fewest significant digits that read back as f */
    while (snprintf(buf, sizeof buf, "%.*e", prec - 1, f) > 0 && strtod(buf, NULL) != f && prec < 17) prec++;
    int exp = atoi(strchr(buf, 'e') + 1);
    if (exp >= -5 && exp < 17) snprintf(buf, sizeof buf, "%.*f", exp < prec - 1 ? prec - 1 - exp : 0, f);
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
  }
  sb_puts(b, buf);
}

static void put_string(strbuf *b, const char *s) {
  sb_puts(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      sb_printf(b, "\\%c", c);
    else if (c == '\n')
      sb_puts(b, "\\n");
    else if (c == '\t')
      sb_puts(b, "\\t");
    else if (c < 0x20 || c == 0x7f)
      sb_printf(b, "\\x%02x", c);
    else
      sb_printf(b, "%c", c);
  }
  sb_puts(b, "\"");
}

static void put_attr_value(strbuf *b, const ir_attr *a) {
  switch (a->kind) {
  case IR_AINT: sb_printf(b, "%lld", (long long)a->i); break;
  case IR_AFLOAT: put_float(b, a->f); break;
  case IR_ASTR: put_string(b, a->s ? a->s : ""); break;
  case IR_ALIST:
    sb_puts(b, "[");
    for (int i = 0; i < a->nlist; i++) sb_printf(b, "%s%lld", i ? ", " : "", (long long)a->list[i]);
    sb_puts(b, "]");
    break;
  }
}

/* " {k = v, ...}" or nothing when the list is empty. */
static void put_attrs(strbuf *b, const ir_attr *a) {
  if (!a) return;
  sb_puts(b, " {");
  for (const ir_attr *x = a; x; x = x->next) {
    sb_printf(b, "%s%s = ", x == a ? "" : ", ", x->key);
    put_attr_value(b, x);
  }
  sb_puts(b, "}");
}

static void indent(printer *p, int depth) { sb_printf(&p->out, "%*s", depth * 2, ""); }

/* ---- ops and regions ---- */

static void put_op(printer *p, ir_opid op, int depth);

/* The ops of a region at `depth`, preceded by its block arguments when it has any. */
static void put_region_body(printer *p, ir_reg reg, int depth) {
  ir_region *r = ir_r(p->fn, reg);
  if (r->nargs) {
    indent(p, depth);
    sb_puts(&p->out, "^(");
    for (uint32_t i = 0; i < r->nargs; i++) {
      if (i) sb_puts(&p->out, ", ");
      put_val(p, r->args[i]);
      sb_puts(&p->out, ": ");
      put_type(p, ir_vtype(p->fn, r->args[i]));
    }
    sb_puts(&p->out, "):\n");
  }
  for (ir_opid op = r->first; op; op = ir_o(p->fn, op)->next) put_op(p, op, depth);
}

static void put_op(printer *p, ir_opid op, int depth) {
  ir_op *o = ir_o(p->fn, op);
  indent(p, depth);
  for (uint32_t i = 0; i < o->nres; i++) {
    if (i) sb_puts(&p->out, ", ");
    put_val(p, o->res[i]);
  }
  if (o->nres) sb_puts(&p->out, " = ");
  sb_printf(&p->out, "%s(", o->code < IR_NOPS ? ir_opinfo_table[o->code].name : "<bad-op>");
  for (uint32_t i = 0; i < o->nopnd; i++) {
    if (i) sb_puts(&p->out, ", ");
    put_val(p, o->opnd[i]);
  }
  sb_puts(&p->out, ")");
  put_attrs(&p->out, o->attrs);
  for (uint32_t i = 0; i < o->nres; i++) {
    sb_puts(&p->out, i ? ", " : " : ");
    put_type(p, ir_vtype(p->fn, o->res[i]));
  }
  for (int i = 0; i < o->nregion; i++) {
    sb_puts(&p->out, i ? " else {\n" : " {\n");
    put_region_body(p, o->region[i], depth + 1);
    indent(p, depth);
    sb_puts(&p->out, "}");
  }
  sb_puts(&p->out, "\n");
}

static void put_kernel_name(strbuf *b, const char *name) {
  sb_puts(b, "kernel @");
  if (is_ident(name))
    sb_puts(b, name);
  else
    put_string(b, name ? name : "");
}

char *ir_print(ir_func *fn) {
  ir_arena *A = ir_arena_new();
  printer p = {fn, ir_value_names(fn, A), {0}};
  put_kernel_name(&p.out, fn->name);
  sb_puts(&p.out, "(");
  ir_region *body = ir_r(fn, fn->body);
  for (uint32_t i = 0; i < body->nargs; i++) {
    if (i) sb_puts(&p.out, ", ");
    put_val(&p, body->args[i]);
    sb_puts(&p.out, ": ");
    put_type(&p, ir_vtype(fn, body->args[i]));
  }
  sb_puts(&p.out, ")");
  put_attrs(&p.out, fn->attrs);
  sb_puts(&p.out, " {\n");
  for (ir_opid op = body->first; op; op = ir_o(fn, op)->next) put_op(&p, op, 1);
  sb_puts(&p.out, "}\n");
  ir_arena_free(A);
  return p.out.s;
}
