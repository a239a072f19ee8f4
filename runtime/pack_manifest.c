/*
 * pack_manifest.c - the pack's manifest (section 0): text lines of tab-separated fields that say
 * which kernels the pack holds, their arguments, and for each shape bucket the settings, the launch
 * rules (expressions of the problem sizes) and the images per target. The grammar is in
 * docs/packs.md, "The manifest"; this parser accepts exactly that and names the line of anything else.
 *
 * Fields point into p->manifest, whose tabs and newlines are overwritten with NULs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack_int.h"

enum { MAXFIELDS = 40 };

typedef struct {
  char *next; /* the rest of the manifest */
  int line;   /* of the fields in f */
  int n;
  char *f[MAXFIELDS];
  char *err;
  size_t errn;
} cursor;

__attribute__((format(printf, 2, 3))) static int bad(cursor *c, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(c->err, c->errn, "line %d: %s", c->line, msg);
  return -1;
}

/* Cuts the next line into fields; 0, or -1 at the end (n = 0). */
static int next_line(cursor *c) {
  c->n = 0;
  if (!c->next || !*c->next) return -1;
  c->line++;
  char *nl = strchr(c->next, '\n'), *s = c->next;
  if (nl) *nl = 0;
  c->next = nl ? nl + 1 : NULL;
  for (c->f[c->n++] = s; (s = strchr(s, '\t')) && c->n < MAXFIELDS; c->f[c->n++] = ++s) *s = 0;
  return 0;
}

/* The next line, which must start with key and have between min and max fields after it. */
static int expect(cursor *c, const char *key, int min, int max) {
  if (next_line(c)) return c->line++, bad(c, "the manifest ends where '%s' was expected", key);
  if (strcmp(c->f[0], key)) return bad(c, "'%s' where '%s' was expected", c->f[0], key);
  if (c->n - 1 < min || c->n - 1 > max)
    return bad(c, "'%s' has %d fields (expected %d to %d)", key, c->n - 1, min, max);
  return 0;
}

static int to_int(cursor *c, const char *s, long long lo, long long hi, long long *out) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < lo || v > hi)
    return bad(c, "'%s' is not a whole number from %lld to %lld", s, lo, hi);
  *out = v;
  return 0;
}

int pack_type_bytes(const char *t) {
  static const struct {
    const char *name;
    int bytes;
  } types[] = {{"f64", 8}, {"f32", 4}, {"f16", 2}, {"bf16", 2}, {"e4m3", 1}, {"e5m2", 1}, {"i1", 1},
               {"i8", 1},  {"u8", 1},  {"i16", 2}, {"i32", 4},  {"u32", 4},  {"i64", 8}};
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (!strcmp(t, types[i].name)) return types[i].bytes;
  return 0;
}

int pack_type_is_float(const char *t) { return t[0] == 'f' || t[0] == 'b' || t[0] == 'e'; }

static int parse_arg(cursor *c, pack_kernel *k) {
  if (k->nargs == PACK_MAXARGS) return bad(c, "more than %d arguments", PACK_MAXARGS);
  pack_arg *a = &k->args[k->nargs++];
  a->name = c->f[1];
  a->type = c->f[3];
  a->bytes = pack_type_bytes(a->type);
  if (!a->bytes) return bad(c, "unknown element type '%s'", a->type);
  a->is_tensor = !strcmp(c->f[2], "tensor");
  if (!a->is_tensor)
    return strcmp(c->f[2], "scalar") || c->n != 4 ? bad(c, "expected 'arg NAME scalar TYPE'") : 0;
  if (c->n != 6) return bad(c, "expected 'arg NAME tensor TYPE ROLE RANK'");
  static const char *const roles[] = {"", "in", "out", "inout"};
  for (int r = 1; r <= 3; r++)
    if (!strcmp(c->f[4], roles[r])) a->role = r;
  long long rank = 0;
  if (!a->role) return bad(c, "unknown role '%s' (in, out, inout)", c->f[4]);
  if (to_int(c, c->f[5], 1, 3, &rank)) return -1;
  a->rank = (int)rank;
  k->ntensors++;
  return 0;
}

static int check_expr(cursor *c, const char *e, int nsizes, int float_ok) {
  char msg[256];
  if (pack_expr_check(e, nsizes, msg, sizeof msg)) return bad(c, "%s", msg);
  if (!float_ok && e[0] == '#') return bad(c, "a float constant '%s' where a whole number is needed", e);
  return 0;
}

/* One "dims" or "value" line for argument i. */
static int parse_arg_rule(cursor *c, const pack_kernel *k, pack_variant *v, int i) {
  const pack_arg *a = &k->args[i];
  if (expect(c, a->is_tensor ? "dims" : "value", a->is_tensor ? 1 + a->rank : 2,
             a->is_tensor ? 1 + a->rank : 2))
    return -1;
  if (strcmp(c->f[1], a->name)) return bad(c, "argument '%s' where '%s' was expected", c->f[1], a->name);
  if (!a->is_tensor) {
    v->value[i] = c->f[2];
    return check_expr(c, c->f[2], k->nsizes, pack_type_is_float(a->type));
  }
  for (int d = 0; d < a->rank; d++) {
    v->dims[i][d] = c->f[2 + d];
    if (check_expr(c, c->f[2 + d], k->nsizes, 0)) return -1;
  }
  return 0;
}

static int parse_image(cursor *c, const kiln_pack *p, pack_image_ref *images, int *nimages) {
  if (*nimages == PACK_MAXIMAGES) return bad(c, "more than %d images in one variant", PACK_MAXIMAGES);
  pack_image_ref *r = &images[(*nimages)++];
  r->target = -1;
  for (int t = 0; t < p->ntargets; t++)
    if (!strcmp(c->f[1], p->targets[t])) r->target = t;
  if (r->target < 0) return bad(c, "image for '%s', which is not in the targets line", c->f[1]);
  r->is_cubin = !strcmp(c->f[2], "cubin");
  if (!r->is_cubin && strcmp(c->f[2], "ptx")) return bad(c, "image kind '%s' (ptx or cubin)", c->f[2]);
  long long idx = 0;
  if (to_int(c, c->f[3], 0, p->nimages - 1, &idx)) return -1;
  r->image = (int)idx;
  const pack_image *im = &p->img[idx];
  if (!r->is_cubin && (im->size == 0 || im->data[im->size - 1] != 0))
    return bad(c, "PTX image %lld does not end with a NUL byte", idx);
  return 0;
}

/* aligned NAME...: arguments (tensors, integer scalars), each once, into v->amask */
static int parse_aligned(cursor *c, const pack_kernel *k, pack_variant *v) {
  if (c->n < 2) return bad(c, "'aligned' names no argument");
  for (int i = 1; i < c->n; i++) {
    int a = -1;
    for (int j = 0; j < k->nargs; j++)
      if (!strcmp(c->f[i], k->args[j].name)) a = j;
    if (a < 0)
      return bad(c, "'aligned' names '%s', which is not an argument of kernel '%s'", c->f[i], k->name);
    const pack_arg *x = &k->args[a];
    if (!x->is_tensor && pack_type_is_float(x->type))
      return bad(c, "'aligned' names '%s', a %s scalar (tensors and integers only)", c->f[i], x->type);
    if ((v->amask >> a) & 1) return bad(c, "'aligned' names '%s' twice", c->f[i]);
    v->amask |= (uint64_t)1 << a;
  }
  return 0;
}

static int parse_variant(cursor *c, const kiln_pack *p, const pack_kernel *k, pack_variant *v) {
  long long x = 0;
  v->symbol = c->f[1];
  if (to_int(c, c->f[2], 1, 1024, &x)) return -1;
  v->threads = (int)x;
  if (to_int(c, c->f[3], 0, 1 << 30, &x)) return -1;
  v->shared = (int)x;
  v->settings = c->f[4];
  if (expect(c, "bucket", k->nsizes, k->nsizes)) return -1;
  for (int i = 0; i < k->nsizes; i++)
    if (to_int(c, c->f[1 + i], 0, INT64_MAX, &x))
      return -1;
    else
      v->bucket[i] = x;
  if (expect(c, "grid", 3, 3)) return -1;
  for (int d = 0; d < 3; d++)
    if (check_expr(c, v->grid[d] = c->f[1 + d], k->nsizes, 0)) return -1;
  for (int i = 0; i < k->nargs; i++)
    if (parse_arg_rule(c, k, v, i)) return -1;
  while (!next_line(c) && !strcmp(c->f[0], "image")) {
    if (c->n != 4) return bad(c, "expected 'image TARGET ptx|cubin INDEX'");
    if (parse_image(c, p, v->images, &v->nimages)) return -1;
  }
  if (!v->nimages) return bad(c, "a variant with no image");
  if (c->n && !strcmp(c->f[0], "aligned")) {
    if (p->format < 2) return bad(c, "'aligned' in a pack of format %d (it came with format 2)", p->format);
    if (parse_aligned(c, k, v)) return -1;
    while (!next_line(c) && !strcmp(c->f[0], "image")) {
      if (c->n != 4) return bad(c, "expected 'image TARGET ptx|cubin INDEX'");
      if (parse_image(c, p, v->aimages, &v->naimages)) return -1;
    }
    if (!v->naimages) return bad(c, "an 'aligned' line with no image after it");
  }
  if (c->n == 0 || strcmp(c->f[0], "end") || c->n != 1) return bad(c, "expected 'image' or 'end'");
  return 0;
}

static int parse_kernel(cursor *c, kiln_pack *p, pack_kernel *k) {
  k->name = c->f[1];
  k->nsizes = c->n - 2;
  if (k->nsizes > PACK_MAXSIZES) return bad(c, "more than %d sizes", PACK_MAXSIZES);
  for (int i = 0; i < k->nsizes; i++) k->sizes[i] = c->f[2 + i];
  while (!next_line(c) && !strcmp(c->f[0], "arg"))
    if (c->n < 4 || parse_arg(c, k)) return c->n < 4 ? bad(c, "an 'arg' line needs NAME, KIND and TYPE") : -1;
  while (c->n && !strcmp(c->f[0], "variant")) {
    if (c->n != 5) return bad(c, "expected 'variant SYMBOL THREADS SHARED SETTINGS'");
    pack_variant *nv = realloc(k->v, (size_t)(k->nvariants + 1) * sizeof *nv);
    if (!nv) return bad(c, "out of memory");
    k->v = nv;
    memset(&k->v[k->nvariants], 0, sizeof *nv);
    if (parse_variant(c, p, k, &k->v[k->nvariants++])) return -1;
    next_line(c);
  }
  if (!k->nvariants) return bad(c, "kernel '%s' has no variant", k->name);
  return 0;
}

int pack_manifest_parse(kiln_pack *p, char *err, size_t errn) {
  cursor c = {.next = p->manifest, .err = err, .errn = errn};
  long long fmt;
  if (expect(&c, "kiln-pack", 1, 1) || to_int(&c, c.f[1], 1, p->format, &fmt)) return -1;
  if (expect(&c, "writer", 1, 1)) return -1;
  p->writer = c.f[1];
  if (expect(&c, "targets", 1, PACK_MAXTARGETS)) return -1;
  p->ntargets = c.n - 1;
  for (int t = 0; t < p->ntargets; t++) p->targets[t] = c.f[1 + t];
  next_line(&c);
  while (c.n) {
    if (strcmp(c.f[0], "kernel") || c.n < 2) return bad(&c, "expected 'kernel NAME SIZE...'");
    pack_kernel *nk = realloc(p->k, (size_t)(p->nkernels + 1) * sizeof *nk);
    if (!nk) return bad(&c, "out of memory");
    p->k = nk;
    memset(&p->k[p->nkernels], 0, sizeof *nk);
    if (parse_kernel(&c, p, &p->k[p->nkernels++])) return -1;
  }
  if (!p->nkernels) return bad(&c, "no kernel");
  return 0;
}
