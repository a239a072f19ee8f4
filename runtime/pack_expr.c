/*
 * pack_expr.c - launch rules as data: the postfix expressions a pack stores for grid sizes, tensor
 * dimensions and scalar arguments, as functions of a kernel's problem sizes (docs/packs.md, "Expressions").
 *
 * An expression is a list of tokens separated by single spaces, read left to right with a stack:
 *   a decimal integer (optionally negative)  pushes that number
 *   $K                                      pushes problem size K (0-based, in the kernel's size list)
 *   + - *                                   pop b, pop a, push a op b
 *   /                                       pop b, pop a, push floor(a / b)        (b != 0)
 *   %                                       pop b, pop a, push a - b * floor(a / b)  (b != 0)
 *   cdiv                                    pop b, pop a, push ceil(a / b)         (b > 0)
 *   min                                     pop b, pop a, push the smaller
 * and must leave exactly one value. Arithmetic is on 64-bit signed integers and an overflow is an
 * error, never a wrapped value. A float scalar's value may instead be one token "#X" (X in C's %.17g
 * form), a constant that takes no part in arithmetic.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack_int.h"

enum { STACK = 32 };

static int floor_div(int64_t a, int64_t b, int64_t *out) {
  if (b == 0 || (a == INT64_MIN && b == -1)) return -1;
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  *out = q;
  return 0;
}

/* a op b into *out; -1 on overflow, division by zero or a bad operator. */
static int apply(const char *op, int64_t a, int64_t b, int64_t *out) {
  if (!strcmp(op, "+")) return __builtin_add_overflow(a, b, out) ? -1 : 0;
  if (!strcmp(op, "-")) return __builtin_sub_overflow(a, b, out) ? -1 : 0;
  if (!strcmp(op, "*")) return __builtin_mul_overflow(a, b, out) ? -1 : 0;
  if (!strcmp(op, "/")) return floor_div(a, b, out);
  if (!strcmp(op, "%")) {
    int64_t q;
    if (floor_div(a, b, &q)) return -1;
    *out = a - b * q;
    return 0;
  }
  if (!strcmp(op, "min")) return *out = a < b ? a : b, 0;
  if (!strcmp(op, "cdiv")) {
    int64_t t;
    if (b <= 0 || __builtin_add_overflow(a, b - 1, &t)) return -1;
    return floor_div(t, b, out);
  }
  return -1;
}

static int is_op(const char *t) {
  return !strcmp(t, "+") || !strcmp(t, "-") || !strcmp(t, "*") || !strcmp(t, "/") || !strcmp(t, "%") ||
         !strcmp(t, "cdiv") || !strcmp(t, "min");
}

/* One integer token ("-12", "7"): 0 and *v, or -1. */
static int parse_int(const char *t, int64_t *v) {
  char *end;
  errno = 0;
  long long x = strtoll(t, &end, 10);
  if (end == t || *end || errno || (t[0] != '-' && (t[0] < '0' || t[0] > '9'))) return -1;
  *v = x;
  return 0;
}

int pack_expr_is_float(const char *e) { return e[0] == '#'; }

double pack_expr_float(const char *e) { return strtod(e + 1, NULL); }

int pack_expr_eval(const char *e, const int64_t *sizes, int nsizes, int64_t *out, char *err, size_t errn) {
  int64_t st[STACK];
  int n = 0;
  char tok[32];
  for (const char *p = e; *p;) {
    size_t len = strcspn(p, " ");
    if (len == 0 || len >= sizeof tok) return snprintf(err, errn, "bad token in expression '%s'", e), -1;
    memcpy(tok, p, len), tok[len] = 0;
    p += len + (p[len] == ' ');
    int64_t v;
    if (is_op(tok)) {
      if (n < 2) return snprintf(err, errn, "'%s' needs two operands in expression '%s'", tok, e), -1;
      if (apply(tok, st[n - 2], st[n - 1], &v))
        return snprintf(err, errn, "%" PRId64 " %s %" PRId64 " overflows or divides by zero in '%s'",
                        st[n - 2], tok, st[n - 1], e),
               -1;
      st[n - 2] = v, n--;
      continue;
    }
    if (tok[0] == '$') {
      int64_t k;
      if (parse_int(tok + 1, &k) || k < 0 || k >= nsizes)
        return snprintf(err, errn, "size %s out of range in expression '%s'", tok, e), -1;
      v = sizes[k];
    } else if (parse_int(tok, &v))
      return snprintf(err, errn, "bad token '%s' in expression '%s'", tok, e), -1;
    if (n == STACK) return snprintf(err, errn, "expression '%s' is too deep", e), -1;
    st[n++] = v;
  }
  if (n != 1) return snprintf(err, errn, "expression '%s' leaves %d values, not 1", e, n), -1;
  *out = st[0];
  return 0;
}

int pack_expr_check(const char *e, int nsizes, char *err, size_t errn) {
  if (pack_expr_is_float(e)) {
    char *end;
    strtod(e + 1, &end);
    if (end == e + 1 || *end) return snprintf(err, errn, "bad float constant '%s'", e), -1;
    return 0;
  }
  /* Structure and size references are what can be wrong; evaluate with every size 1 and ignore
   * arithmetic failures, which depend on the sizes. */
  int64_t ones[PACK_MAXSIZES], v;
  for (int i = 0; i < PACK_MAXSIZES; i++) ones[i] = 1;
  char msg[256];
  if (pack_expr_eval(e, ones, nsizes, &v, msg, sizeof msg) && !strstr(msg, "overflows"))
    return snprintf(err, errn, "%s", msg), -1;
  return 0;
}
