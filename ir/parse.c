/*
 * parse.c - reads the tile IR's text form (docs/ir.md) back into an ir_func.
 *
 * A hand-written lexer produces one token at a time; a recursive-descent parser, with the grammar
 * rule above each function, builds ops through the builder as it meets them, so that an op exists
 * (and its results are named) before its regions are parsed. Shapes such as `64x32xf16` are not
 * tokens: the type parser scans them character by character.
 *
 * Names are resolved as they are read: a use must come after its definition in the text. Whether
 * the definition dominates the use (same or enclosing region) is the verifier's job, so the parser
 * accepts any earlier name and the verifier names the op that breaks the rule.
 *
 * The first error ends the parse: it is formatted chibicc-style ("file:line:col: message", the
 * source line, a caret under the column) and unwinds with longjmp to ir_parse, the one boundary.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

typedef enum {
  T_EOF,
  T_IDENT,  /* kernel, else, op names, type names, attribute keys */
  T_VALUE,  /* %name */
  T_GLOBAL, /* @name or @"name" */
  T_INT,
  T_FLOAT,  /* digits with . or e, inf, -inf, nan */
  T_STRING, /* "..." */
  T_PUNCT   /* one of ( ) { } < > [ ] , : = ^ */
} tok_kind;

typedef struct {
  tok_kind kind;
  size_t start, end; /* byte offsets into the source */
} token;

typedef struct {
  const char *name; /* points into the source */
  uint32_t len;
  ir_val val;
} sym;

typedef struct {
  const char *src, *file;
  size_t n, pos; /* pos: where the lexer reads next */
  token tok;     /* the current token */
  ir_func *fn;
  const char *file_copy; /* the file name in fn's arena, stamped on ops */
  ir_arena *tmp;         /* symbol table and scratch; freed when the parse ends */
  sym *syms;
  uint32_t nsyms, capsyms; /* open addressing; capsyms is a power of two */
  size_t line_pos;         /* line_of's cache: line_no is the line of offset line_pos */
  int line_no;
  char desc[80]; /* tok_desc's text */
  char *err;
  size_t errn;
  jmp_buf fail;
} parser;

/* ---- errors ---- */

/* Formats "file:line:col: message", the source line and a caret, then unwinds. */
static _Noreturn void error_at(parser *P, size_t at, const char *fmt, ...) {
  size_t ls = at, le = at;
  while (ls > 0 && P->src[ls - 1] != '\n') ls--;
  while (le < P->n && P->src[le] != '\n') le++;
  int line = 1;
  for (size_t i = 0; i < ls; i++) line += P->src[i] == '\n';
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char caret[256];
  size_t k = 0;
  for (size_t i = ls; i < at && k < sizeof caret - 2; i++) caret[k++] = P->src[i] == '\t' ? '\t' : ' ';
  caret[k++] = '^';
  caret[k] = 0;
  if (P->err && P->errn)
    snprintf(P->err, P->errn, "%s:%d:%zu: %s\n  %.*s\n  %s", P->file, line, at - ls + 1, msg, (int)(le - ls),
             P->src + ls, caret);
  longjmp(P->fail, 1);
}

static _Noreturn void error_tok(parser *P, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  error_at(P, P->tok.start, "%s", msg);
}

/* ---- lexer ---- */

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_name(int c) { return is_alpha(c) || is_digit(c) || c == '.'; }
static int peekc(parser *P, size_t at) { return at < P->n ? (unsigned char)P->src[at] : 0; }

static void skip_space(parser *P) {
  for (;;) {
    int c = peekc(P, P->pos);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
      P->pos++;
    else if (c == '/' && peekc(P, P->pos + 1) == '/')
      while (P->pos < P->n && P->src[P->pos] != '\n') P->pos++;
    else
      return;
  }
}

static size_t scan_name(parser *P, size_t at) {
  while (is_name(peekc(P, at))) at++;
  return at;
}

/* number := '-'? digits ('.' digits)? ([eE] [+-]? digits)? | '-inf' */
static tok_kind scan_number(parser *P, size_t *at) {
  size_t p = *at;
  tok_kind k = T_INT;
  if (peekc(P, p) == '-') p++;
  if (!is_digit(peekc(P, p))) {
    if (P->n - p >= 3 && !strncmp(P->src + p, "inf", 3) && !is_name(peekc(P, p + 3))) {
      *at = p + 3;
      return T_FLOAT;
    }
    error_at(P, *at, "expected a digit after '-'");
  }
  while (is_digit(peekc(P, p))) p++;
  if (peekc(P, p) == '.') {
    k = T_FLOAT;
    if (!is_digit(peekc(P, ++p))) error_at(P, p, "expected a digit after '.'");
    while (is_digit(peekc(P, p))) p++;
  }
  if (peekc(P, p) == 'e' || peekc(P, p) == 'E') {
    k = T_FLOAT;
    p++;
    if (peekc(P, p) == '+' || peekc(P, p) == '-') p++;
    if (!is_digit(peekc(P, p))) error_at(P, p, "expected a digit in the exponent");
    while (is_digit(peekc(P, p))) p++;
  }
  *at = p;
  return k;
}

static size_t scan_string(parser *P, size_t at) {
  size_t p = at + 1;
  for (;; p++) {
    int c = peekc(P, p);
    if (c == 0 || c == '\n') error_at(P, at, "unterminated string");
    if (c == '\\')
      p++;
    else if (c == '"')
      return p + 1;
  }
}

/* Reads the next token into P->tok. */
static void next(parser *P) {
  skip_space(P);
  size_t s = P->pos;
  int c = peekc(P, s);
  tok_kind k;
  if (s >= P->n)
    k = T_EOF;
  else if (is_alpha(c)) {
    P->pos = scan_name(P, s);
    k = T_IDENT;
    size_t len = P->pos - s;
    if ((len == 3 && (!strncmp(P->src + s, "inf", 3) || !strncmp(P->src + s, "nan", 3)))) k = T_FLOAT;
  } else if (is_digit(c) || c == '-') {
    k = scan_number(P, &P->pos);
  } else if (c == '%') {
    P->pos = scan_name(P, s + 1);
    if (P->pos == s + 1) error_at(P, s, "expected a value name after '%%'");
    k = T_VALUE;
  } else if (c == '@') {
    P->pos = peekc(P, s + 1) == '"' ? scan_string(P, s + 1) : scan_name(P, s + 1);
    if (P->pos == s + 1) error_at(P, s, "expected a kernel name after '@'");
    k = T_GLOBAL;
  } else if (c == '"') {
    P->pos = scan_string(P, s);
    k = T_STRING;
  } else if (strchr("(){}<>[],:=^", c)) {
    P->pos = s + 1;
    k = T_PUNCT;
  } else {
    error_at(P, s, "unexpected character '%c'", c);
  }
  P->tok = (token){k, s, P->pos};
}

static int tok_len(parser *P) { return (int)(P->tok.end - P->tok.start); }
static const char *tok_text(parser *P) { return P->src + P->tok.start; }

static int is_punct(parser *P, char c) { return P->tok.kind == T_PUNCT && P->src[P->tok.start] == c; }

static int is_word(parser *P, const char *w) {
  return P->tok.kind == T_IDENT && tok_len(P) == (int)strlen(w) && !strncmp(tok_text(P), w, strlen(w));
}

/* The current token for messages: "'text'" or "end of input". */
static const char *tok_desc(parser *P) {
  if (P->tok.kind == T_EOF) return "end of input";
  snprintf(P->desc, sizeof P->desc, "'%.*s'", tok_len(P) > 60 ? 60 : tok_len(P), tok_text(P));
  return P->desc;
}

static void expect(parser *P, char c, const char *where) {
  if (!is_punct(P, c)) error_tok(P, "expected '%c' %s, found %s", c, where, tok_desc(P));
  next(P);
}

static int accept(parser *P, char c) {
  if (!is_punct(P, c)) return 0;
  next(P);
  return 1;
}

/* ---- symbol table: value names (as written) to handles ---- */

static uint32_t hash_name(const char *s, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static sym *sym_slot(parser *P, const char *name, uint32_t len) {
  uint32_t mask = P->capsyms - 1;
  for (uint32_t i = hash_name(name, len) & mask;; i = (i + 1) & mask) {
    sym *s = &P->syms[i];
    if (!s->name || (s->len == len && !memcmp(s->name, name, len))) return s;
  }
}

static void sym_grow(parser *P) {
  sym *old = P->syms;
  uint32_t oldcap = P->capsyms;
  P->capsyms = oldcap ? oldcap * 2 : 256;
  P->syms = ir_alloc(P->tmp, P->capsyms * sizeof *P->syms);
  for (uint32_t i = 0; i < oldcap; i++)
    if (old[i].name) *sym_slot(P, old[i].name, old[i].len) = old[i];
}

/* Binds the value-name token at `at` (without its '%') to v; a name is defined once per kernel. */
static void define(parser *P, token at, ir_val v) {
  if ((P->nsyms + 1) * 2 > P->capsyms) sym_grow(P);
  const char *name = P->src + at.start + 1;
  uint32_t len = (uint32_t)(at.end - at.start - 1);
  sym *s = sym_slot(P, name, len);
  if (s->name) error_at(P, at.start, "redefinition of value %%%.*s", (int)len, name);
  *s = (sym){name, len, v};
  P->nsyms++;
}

/* value-use := VALUE (defined earlier in the text) */
static ir_val use_value(parser *P) {
  if (P->tok.kind != T_VALUE) error_tok(P, "expected a value, found %s", tok_desc(P));
  sym *s = P->capsyms ? sym_slot(P, tok_text(P) + 1, (uint32_t)tok_len(P) - 1) : NULL;
  if (!s || !s->name) error_tok(P, "unknown value %.*s", tok_len(P), tok_text(P));
  next(P);
  return s->val;
}

/* ---- types ---- */

static ir_elem elem_at(parser *P, size_t s, size_t e) {
  int el = ir_elem_parse(P->src + s, (int)(e - s));
  if (el < 0) error_at(P, s, "unknown element type '%.*s'", (int)(e - s), P->src + s);
  return (ir_elem)el;
}

/* shape := (DIGITS 'x')* ELEM, scanned from the raw position after '<'. Returns the number of dims. */
static int scan_shape(parser *P, uint32_t *dims, ir_elem *el) {
  int n = 0;
  size_t p = P->tok.end;
  while (peekc(P, p) == ' ') p++;
  while (is_digit(peekc(P, p))) {
    size_t s = p;
    unsigned long long d = 0;
    while (is_digit(peekc(P, p))) {
      d = d * 10 + (unsigned)(P->src[p++] - '0');
      if (d > 0x7fffffffu) { /* checked per digit: a long run of digits must not wrap back into range */
        while (is_digit(peekc(P, p))) p++;
        error_at(P, s, "dimension %.*s is too large", (int)(p - s), P->src + s);
      }
    }
    if (n == IR_MAXRANK) error_at(P, s, "more than %d dimensions", IR_MAXRANK);
    dims[n++] = (uint32_t)d;
    if (peekc(P, p) != 'x') error_at(P, p, "expected 'x' after a dimension");
    p++;
  }
  size_t s = p;
  while (is_alpha(peekc(P, p)) || is_digit(peekc(P, p))) p++;
  if (s == p) error_at(P, s, "expected an element type");
  *el = elem_at(P, s, p);
  P->pos = p;
  next(P);
  return n;
}

/* int-list := '[' INT (',' INT)* ']' with exactly `rank` entries in 0..255 */
static void parse_layout_list(parser *P, uint8_t *out, int rank, const char *what) {
  expect(P, '[', "to open a layout list");
  for (int i = 0; i < rank; i++) {
    if (i && is_punct(P, ']')) error_tok(P, "expected %d entries in the layout's %s list", rank, what);
    if (i) expect(P, ',', "between layout entries");
    if (P->tok.kind != T_INT) error_tok(P, "expected an integer in the layout's %s list", what);
    long v = strtol(tok_text(P), NULL, 10);
    if (v < 0 || v > 255) error_tok(P, "layout %s entry %ld is out of range 0..255", what, v);
    out[i] = (uint8_t)v;
    next(P);
  }
  if (!is_punct(P, ']')) error_tok(P, "expected %d entries in the layout's %s list", rank, what);
  next(P);
}

/* mma-layout := ('mma' '<' int-list '>') | (('mma_a' | 'mma_b') '<' int-list ',' INT '>'), rank 2:
 * the warp grid [wm, wn] and, for the operands, the elements per 32-bit register. */
static void parse_mma_layout(parser *P, ir_type *t, ir_lkind kind) {
  size_t at = P->tok.start;
  next(P);
  if (t->rank != 2) error_at(P, at, "mma layouts are for rank-2 tiles");
  expect(P, '<', "after the layout name");
  uint8_t w[2];
  parse_layout_list(P, w, 2, "warps");
  int kw = 2;
  if (kind != IR_LMMA) {
    expect(P, ',', "after the warps list");
    if (P->tok.kind != T_INT) error_tok(P, "expected the elements per register (1, 2 or 4)");
    long v = strtol(tok_text(P), NULL, 10);
    if (v != 1 && v != 2 && v != 4) error_tok(P, "elements per register must be 1, 2 or 4, not %ld", v);
    kw = (int)v;
    next(P);
  }
  expect(P, '>', "to close the layout");
  t->layout = ir_layout_mma(kind, w[0], w[1], kw);
}

/* layout := 'blocked' '<' int-list ',' int-list ',' int-list ',' int-list '>' | mma-layout */
static void parse_layout(parser *P, ir_type *t) {
  if (is_word(P, "mma") || is_word(P, "mma_a") || is_word(P, "mma_b")) {
    parse_mma_layout(P, t, is_word(P, "mma") ? IR_LMMA : is_word(P, "mma_a") ? IR_LMMA_A : IR_LMMA_B);
    return;
  }
  if (!is_word(P, "blocked"))
    error_tok(P, "expected a layout ('blocked<...>', 'mma<...>', 'mma_a<...>', 'mma_b<...>'), found %s",
              tok_desc(P));
  next(P);
  expect(P, '<', "after 'blocked'");
  t->layout.kind = IR_LBLOCKED;
  parse_layout_list(P, t->layout.spt, t->rank, "spt");
  expect(P, ',', "after the spt list");
  parse_layout_list(P, t->layout.tpw, t->rank, "tpw");
  expect(P, ',', "after the tpw list");
  parse_layout_list(P, t->layout.wpc, t->rank, "wpc");
  expect(P, ',', "after the wpc list");
  parse_layout_list(P, t->layout.order, t->rank, "order");
  expect(P, '>', "to close the layout");
}

/* type := ELEM | 'ptr' '<' ELEM '>' | 'view' '<' RANK 'x' ELEM '>'
 *       | 'smem' '<' shape '>' | 'tile' '<' shape (',' layout)? '>' */
static ir_type parse_type(parser *P) {
  if (P->tok.kind != T_IDENT) error_tok(P, "expected a type, found %s", tok_desc(P));
  int el = ir_elem_parse(tok_text(P), tok_len(P));
  if (el >= 0) {
    next(P);
    return ir_t_scalar((ir_elem)el);
  }
  int kind = is_word(P, "ptr")    ? IR_TPTR
             : is_word(P, "view") ? IR_TVIEW
             : is_word(P, "tile") ? IR_TTILE
             : is_word(P, "smem") ? IR_TSMEM
                                  : -1;
  if (kind < 0) error_tok(P, "unknown type %s", tok_desc(P));
  next(P);
  if (!is_punct(P, '<')) error_tok(P, "expected '<' after the type name, found %s", tok_desc(P));
  size_t open = P->tok.start;
  uint32_t dims[IR_MAXRANK];
  ir_elem e;
  int n = scan_shape(P, dims, &e);
  ir_type t;
  if (kind == IR_TPTR) {
    if (n) error_at(P, open + 1, "ptr<...> takes an element type only");
    t = ir_t_ptr(e);
  } else if (kind == IR_TVIEW) {
    if (n != 1 || dims[0] < 1 || dims[0] > IR_MAXRANK)
      error_at(P, open + 1, "expected view<RANKxELEM> with rank 1..3");
    t = ir_t_view(e, (int)dims[0]);
  } else {
    t = kind == IR_TTILE ? ir_t_tile(e, n, dims) : ir_t_smem(e, n, dims);
    if (kind == IR_TTILE && accept(P, ',')) parse_layout(P, &t);
  }
  expect(P, '>', "to close the type");
  return t;
}

/* ---- attributes ---- */

static char *decode_string(parser *P, token t) {
  char *out = ir_alloc(P->fn->A, t.end - t.start);
  size_t k = 0;
  for (size_t p = t.start + 1; p + 1 < t.end; p++) {
    char c = P->src[p];
    if (c != '\\') {
      out[k++] = c;
      continue;
    }
    c = P->src[++p];
    if (c == 'n')
      out[k++] = '\n';
    else if (c == 't')
      out[k++] = '\t';
    else if (c == '"' || c == '\\')
      out[k++] = c;
    else if (c == 'x' && p + 2 < t.end) {
      char hex[3] = {P->src[p + 1], P->src[p + 2], 0};
      char *endp;
      long v = strtol(hex, &endp, 16);
      if (*endp || v == 0) error_at(P, p - 1, "bad escape '\\x%s' in string", hex);
      out[k++] = (char)v;
      p += 2;
    } else
      error_at(P, p - 1, "unknown escape '\\%c' in string", c);
  }
  out[k] = 0;
  return out;
}

static int64_t int_value(parser *P) {
  errno = 0;
  long long v = strtoll(tok_text(P), NULL, 10);
  if (errno == ERANGE) error_tok(P, "integer %.*s is out of range", tok_len(P), tok_text(P));
  next(P);
  return v;
}

static double float_value(parser *P) {
  const char *s = tok_text(P);
  double v = !strncmp(s, "nan", 3)    ? NAN
             : !strncmp(s, "inf", 3)  ? INFINITY
             : !strncmp(s, "-inf", 4) ? -INFINITY
                                      : strtod(s, NULL);
  next(P);
  return v;
}

/* list := '[' (INT (',' INT)*)? ']' */
static void parse_list_attr(parser *P, ir_attr **list, const char *key) {
  next(P);
  int64_t buf[64];
  int n = 0;
  while (!is_punct(P, ']')) {
    if (n && !accept(P, ',')) error_tok(P, "expected ',' or ']' in a list, found %s", tok_desc(P));
    if (P->tok.kind != T_INT) error_tok(P, "expected an integer in a list, found %s", tok_desc(P));
    if (n == 64) error_tok(P, "list longer than 64 entries");
    buf[n++] = int_value(P);
  }
  next(P);
  ir_attr_set_list(P->fn->A, list, key, buf, n);
}

/* An integer attribute of op `code` outside its fixed range (ir_attr_int_range) is refused here,
 * before anything can truncate it. */
static void parse_int_attr(parser *P, ir_attr **list, const char *key, int code) {
  char msg[200];
  size_t at = P->tok.start;
  int64_t v = int_value(P);
  if (ir_attr_int_check(code, key, v, msg, sizeof msg)) error_at(P, at, "%s", msg);
  ir_attr_set_i(P->fn->A, list, key, v);
}

/* attr-value := INT | FLOAT | STRING | list */
static void parse_attr_value(parser *P, ir_attr **list, const char *key, int code) {
  switch (P->tok.kind) {
  case T_INT: parse_int_attr(P, list, key, code); return;
  case T_FLOAT: ir_attr_set_f(P->fn->A, list, key, float_value(P)); return;
  case T_STRING:
    ir_attr_set_s(P->fn->A, list, key, decode_string(P, P->tok));
    next(P);
    return;
  default:
    if (!is_punct(P, '['))
      error_tok(P, "expected an attribute value (integer, float, string or list), found %s", tok_desc(P));
    parse_list_attr(P, list, key);
  }
}

/* attr-dict := '{' IDENT '=' attr-value (',' IDENT '=' attr-value)* '}' */
static void parse_attrs(parser *P, ir_attr **list, int code) {
  expect(P, '{', "to open the attributes");
  do {
    if (P->tok.kind != T_IDENT) error_tok(P, "expected an attribute name, found %s", tok_desc(P));
    char key[64];
    snprintf(key, sizeof key, "%.*s", tok_len(P), tok_text(P));
    if (ir_attr_get(*list, key)) error_tok(P, "duplicate attribute '%s'", key);
    next(P);
    expect(P, '=', "after the attribute name");
    parse_attr_value(P, list, key, code);
  } while (accept(P, ','));
  expect(P, '}', "to close the attributes");
}

/* An attribute dictionary, not a region, follows: '{' IDENT, then anything but '(' (a region's
 * first op without results reads '{' OPNAME '('), so that '{value 1}' is reported as an attribute
 * missing its '='. */
static int attrs_follow(parser *P) {
  if (!is_punct(P, '{')) return 0;
  size_t pos = P->pos;
  token tok = P->tok;
  next(P);
  int r = P->tok.kind == T_IDENT;
  if (r) {
    next(P);
    r = !is_punct(P, '(');
  }
  P->pos = pos;
  P->tok = tok;
  return r;
}

/* ---- ops and regions ---- */

static void parse_region(parser *P, ir_reg reg, int allow_args);

/* results := VALUE (',' VALUE)* '=' ; returns the count, tokens in *names (tmp arena) */
static uint32_t parse_result_names(parser *P, token **names) {
  uint32_t n = 0, cap = 4;
  *names = ir_alloc(P->tmp, cap * sizeof **names);
  if (P->tok.kind != T_VALUE) return 0;
  for (;;) {
    if (P->tok.kind != T_VALUE) error_tok(P, "expected a result name, found %s", tok_desc(P));
    if (n == cap) {
      token *t = ir_alloc(P->tmp, 2 * cap * sizeof *t);
      memcpy(t, *names, cap * sizeof *t);
      *names = t;
      cap *= 2;
    }
    (*names)[n++] = P->tok;
    next(P);
    if (!accept(P, ',')) break;
  }
  expect(P, '=', "after the result names");
  return n;
}

/* Grows a handle array in the tmp arena. */
static void push_val(parser *P, ir_val **arr, uint32_t *n, uint32_t *cap, ir_val v) {
  if (*n == *cap) {
    uint32_t nc = *cap ? *cap * 2 : 8;
    ir_val *a = ir_alloc(P->tmp, nc * sizeof *a);
    if (*n) memcpy(a, *arr, *n * sizeof *a);
    *arr = a;
    *cap = nc;
  }
  (*arr)[(*n)++] = v;
}

static void push_type(parser *P, ir_type **arr, uint32_t *n, uint32_t *cap, ir_type t) {
  if (*n == *cap) {
    uint32_t nc = *cap ? *cap * 2 : 8;
    ir_type *a = ir_alloc(P->tmp, nc * sizeof *a);
    if (*n) memcpy(a, *arr, *n * sizeof *a);
    *arr = a;
    *cap = nc;
  }
  (*arr)[(*n)++] = t;
}

/* Line of offset `at`; counts on from the last answer, since ops are met in source order. */
static int line_of(parser *P, size_t at) {
  if (at < P->line_pos) P->line_pos = 0, P->line_no = 1;
  for (; P->line_pos < at; P->line_pos++) P->line_no += P->src[P->line_pos] == '\n';
  return P->line_no;
}

/* Checks the result count against the op table and the types. */
static void check_results(parser *P, int code, token opname, uint32_t nnames, uint32_t ntypes) {
  const ir_opinfo *info = &ir_opinfo_table[code];
  if (info->nres >= 0 && (uint32_t)info->nres != nnames)
    error_at(P, opname.start, "op '%s' has %d result%s, but %u %s named", info->name, info->nres,
             info->nres == 1 ? "" : "s", nnames, nnames == 1 ? "is" : "are");
  if (ntypes != nnames)
    error_at(P, opname.start, "op '%s' names %u result%s but gives %u result type%s", info->name, nnames,
             nnames == 1 ? "" : "s", ntypes, ntypes == 1 ? "" : "s");
}

/* op := results? IDENT '(' (value-use (',' value-use)*)? ')' attr-dict? (':' type (',' type)*)?
 *       ('{' region '}' ('else' '{' region '}')*)? */
static void parse_op(parser *P, ir_reg reg, int line) {
  token *names;
  uint32_t nnames = parse_result_names(P, &names);
  if (P->tok.kind != T_IDENT) error_tok(P, "expected an op name, found %s", tok_desc(P));
  token opname = P->tok;
  int code = ir_opcode_parse(tok_text(P), tok_len(P));
  if (code < 0) error_tok(P, "unknown op '%.*s'", tok_len(P), tok_text(P));
  next(P);
  expect(P, '(', "after the op name");
  ir_val *opnds = NULL;
  uint32_t nopnd = 0, capo = 0;
  while (!is_punct(P, ')')) {
    if (nopnd) expect(P, ',', "between operands");
    push_val(P, &opnds, &nopnd, &capo, use_value(P));
  }
  next(P);
  ir_attr *attrs = NULL;
  if (attrs_follow(P)) parse_attrs(P, &attrs, code);
  ir_type *types = NULL;
  uint32_t ntypes = 0, capt = 0;
  if (accept(P, ':')) do
      push_type(P, &types, &ntypes, &capt, parse_type(P));
    while (accept(P, ','));
  check_results(P, code, opname, nnames, ntypes);
  ir_builder b = ir_builder_at_end(P->fn, reg);
  b.file = P->file_copy;
  b.line = line;
  int nregion = ir_opinfo_table[code].nregion;
  ir_opid op = ir_build(&b, (ir_opcode)code, opnds, nopnd, types, ntypes, nregion);
  ir_o(P->fn, op)->attrs = attrs;
  for (uint32_t i = 0; i < nnames; i++) define(P, names[i], ir_res(P->fn, op, (int)i));
  for (int i = 0; i < nregion; i++) {
    if (i && !is_word(P, "else"))
      error_tok(P, "op '%s' takes %d regions: expected 'else', found %s", ir_opinfo_table[code].name, nregion,
                tok_desc(P));
    if (i) next(P);
    if (!is_punct(P, '{'))
      error_tok(P, "op '%s' takes %d region%s: expected '{', found %s", ir_opinfo_table[code].name, nregion,
                nregion == 1 ? "" : "s", tok_desc(P));
    next(P);
    parse_region(P, ir_o(P->fn, op)->region[i], 1);
    expect(P, '}', "to close the region");
  }
}

/* block-args := '^' '(' (VALUE ':' type (',' VALUE ':' type)*)? ')' ':' */
static void parse_block_args(parser *P, ir_reg reg) {
  next(P);
  expect(P, '(', "after '^'");
  while (!is_punct(P, ')')) {
    if (ir_r(P->fn, reg)->nargs) expect(P, ',', "between block arguments");
    if (P->tok.kind != T_VALUE) error_tok(P, "expected a block argument name, found %s", tok_desc(P));
    token name = P->tok;
    next(P);
    expect(P, ':', "after the block argument name");
    define(P, name, ir_region_add_arg(P->fn, reg, parse_type(P)));
  }
  next(P);
  expect(P, ':', "after the block arguments");
}

/* region := block-args? op* (up to the closing '}', which the caller consumes) */
static void parse_region(parser *P, ir_reg reg, int allow_args) {
  if (is_punct(P, '^')) {
    if (!allow_args) error_tok(P, "the kernel body takes no block arguments (its parameters are)");
    parse_block_args(P, reg);
  }
  while (!is_punct(P, '}')) {
    if (P->tok.kind == T_EOF) error_tok(P, "expected '}' to close the region, found end of input");
    parse_op(P, reg, line_of(P, P->tok.start));
  }
}

/* param := VALUE ':' type */
static void parse_param(parser *P) {
  if (P->tok.kind != T_VALUE) error_tok(P, "expected a parameter name, found %s", tok_desc(P));
  token name = P->tok;
  next(P);
  expect(P, ':', "after the parameter name");
  char buf[128];
  snprintf(buf, sizeof buf, "%.*s", (int)(name.end - name.start - 1), P->src + name.start + 1);
  define(P, name, ir_add_param(P->fn, buf, parse_type(P)));
}

static const char *kernel_name(parser *P, char *buf, size_t n) {
  if (P->tok.kind != T_GLOBAL) error_tok(P, "expected the kernel name '@NAME', found %s", tok_desc(P));
  if (P->src[P->tok.start + 1] != '"')
    snprintf(buf, n, "%.*s", tok_len(P) - 1, tok_text(P) + 1);
  else
    snprintf(buf, n, "%s", decode_string(P, (token){T_STRING, P->tok.start + 1, P->tok.end}));
  next(P);
  return buf;
}

/* kernel := 'kernel' GLOBAL '(' (param (',' param)*)? ')' attr-dict? '{' region '}' */
static void parse_kernel(parser *P) {
  if (!is_word(P, "kernel")) error_tok(P, "expected 'kernel', found %s", tok_desc(P));
  next(P);
  char name[256];
  P->fn = ir_func_new("");
  P->fn->name = ir_strdup(P->fn->A, kernel_name(P, name, sizeof name));
  P->file_copy = ir_strdup(P->fn->A, P->file);
  expect(P, '(', "after the kernel name");
  while (!is_punct(P, ')')) {
    if (ir_r(P->fn, P->fn->body)->nargs) expect(P, ',', "between parameters");
    parse_param(P);
  }
  next(P);
  if (attrs_follow(P)) parse_attrs(P, &P->fn->attrs, IR_OP_NONE);
  expect(P, '{', "to open the kernel body");
  parse_region(P, P->fn->body, 0);
}

ir_func *ir_parse(const char *text, const char *file, char *err, size_t errn, size_t *end) {
  parser P = {.src = text,
              .file = file ? file : "<input>",
              .n = strlen(text),
              .err = err,
              .errn = errn,
              .line_no = 1};
  P.tmp = ir_arena_new();
  if (err && errn) err[0] = 0;
  if (setjmp(P.fail)) {
    ir_func_destroy(P.fn);
    ir_arena_free(P.tmp);
    return NULL;
  }
  next(&P);
  parse_kernel(&P);
  size_t close = P.tok.end; /* the body's '}' is the current token */
  if (end)
    *end = close;
  else {
    next(&P);
    if (P.tok.kind != T_EOF) error_tok(&P, "expected end of input after the kernel, found %s", tok_desc(&P));
  }
  ir_arena_free(P.tmp);
  return P.fn;
}
