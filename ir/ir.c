/*
 * ir.c - the tile IR core: arena, types, op table, builder, attributes and editing.
 */
#include "ir.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} chunk;

struct ir_arena {
  chunk *head;
};

ir_arena *ir_arena_new(void) {
  ir_arena *a = calloc(1, sizeof *a);
  if (!a) abort();
  return a;
}

void ir_arena_free(ir_arena *a) {
  if (!a) return;
  for (chunk *c = a->head, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  free(a);
}

void *ir_alloc(ir_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  chunk *c = a->head;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    c = malloc(sizeof *c + cap);
    if (!c) abort();
    c->used = 0;
    c->cap = cap;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

char *ir_strdup(ir_arena *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = ir_alloc(a, n);
  memcpy(p, s, n);
  return p;
}

/* ---- element types ---- */

static const struct {
  const char *name;
  int bits, is_float, is_signed;
} elems[IR_NELEM] = {
    [IR_I1] = {"i1", 1, 0, 0},     [IR_I8] = {"i8", 8, 0, 1},    [IR_U8] = {"u8", 8, 0, 0},
    [IR_I16] = {"i16", 16, 0, 1},  [IR_I32] = {"i32", 32, 0, 1}, [IR_U32] = {"u32", 32, 0, 0},
    [IR_I64] = {"i64", 64, 0, 1},  [IR_F16] = {"f16", 16, 1, 1}, [IR_BF16] = {"bf16", 16, 1, 1},
    [IR_F32] = {"f32", 32, 1, 1},  [IR_F64] = {"f64", 64, 1, 1}, [IR_E4M3] = {"e4m3", 8, 1, 1},
    [IR_E5M2] = {"e5m2", 8, 1, 1},
};

const char *ir_elem_name(ir_elem e) { return e < IR_NELEM ? elems[e].name : "?"; }
int ir_elem_bits(ir_elem e) { return elems[e].bits; }
int ir_elem_is_float(ir_elem e) { return elems[e].is_float; }
int ir_elem_is_signed(ir_elem e) { return elems[e].is_signed && !elems[e].is_float; }
int ir_elem_is_fp8(ir_elem e) { return e == IR_E4M3 || e == IR_E5M2; }
int ir_elem_bytes(ir_elem e) { return elems[e].bits < 8 ? 1 : elems[e].bits / 8; }

int ir_elem_in_class(ir_eclass c, ir_elem e) {
  switch (c) {
  case IR_EC_NUM: return e != IR_I1;
  case IR_EC_INT: return !ir_elem_is_float(e);
  case IR_EC_FLOAT: return ir_elem_is_float(e);
  default: return 1;
  }
}

int ir_elem_parse(const char *s, int n) {
  for (int e = 0; e < IR_NELEM; e++)
    if ((int)strlen(elems[e].name) == n && memcmp(elems[e].name, s, n) == 0) return e;
  return -1;
}

/* ---- value types ---- */

ir_type ir_t_none(void) { return (ir_type){.kind = IR_TNONE}; }
ir_type ir_t_scalar(ir_elem e) { return (ir_type){.kind = IR_TSCALAR, .elem = e}; }
ir_type ir_t_ptr(ir_elem e) { return (ir_type){.kind = IR_TPTR, .elem = e}; }
ir_type ir_t_view(ir_elem e, int rank) { return (ir_type){.kind = IR_TVIEW, .elem = e, .rank = rank}; }

static ir_type shaped(ir_tkind k, ir_elem e, int rank, const uint32_t *shape) {
  ir_type t = {.kind = k, .elem = e, .rank = rank};
  for (int i = 0; i < rank && i < IR_MAXRANK; i++) t.shape[i] = shape[i];
  return t;
}

ir_type ir_t_tile(ir_elem e, int rank, const uint32_t *shape) { return shaped(IR_TTILE, e, rank, shape); }
ir_type ir_t_smem(ir_elem e, int rank, const uint32_t *shape) { return shaped(IR_TSMEM, e, rank, shape); }

int ir_type_eq_nolayout(ir_type a, ir_type b) {
  if (a.kind != b.kind || a.elem != b.elem) return 0;
  if (a.kind == IR_TTILE || a.kind == IR_TSMEM || a.kind == IR_TVIEW) {
    if (a.rank != b.rank) return 0;
    if (a.kind != IR_TVIEW)
      for (int i = 0; i < a.rank; i++)
        if (a.shape[i] != b.shape[i]) return 0;
  }
  return 1;
}

int ir_type_eq(ir_type a, ir_type b) {
  if (!ir_type_eq_nolayout(a, b)) return 0;
  if (a.kind != IR_TTILE) return 1;
  return memcmp(&a.layout, &b.layout, sizeof a.layout) == 0;
}

uint64_t ir_type_numel(ir_type t) {
  if (t.kind != IR_TTILE && t.kind != IR_TSMEM) return 1;
  uint64_t n = 1;
  for (int i = 0; i < t.rank; i++) {
    if (t.shape[i] && n > UINT64_MAX / t.shape[i]) return UINT64_MAX; /* saturates: never wraps */
    n *= t.shape[i];
  }
  return n;
}

static int put_list(char *buf, size_t n, int len, const uint8_t *v, int rank) {
  len += snprintf(buf + len, len < (int)n ? n - len : 0, "[");
  for (int i = 0; i < rank; i++)
    len += snprintf(buf + len, len < (int)n ? n - len : 0, "%s%u", i ? "," : "", v[i]);
  return len + snprintf(buf + len, len < (int)n ? n - len : 0, "]");
}

ir_layout ir_layout_mma(ir_lkind kind, int wm, int wn, int kw) {
  ir_layout l = {.kind = (uint8_t)kind, .wpc = {(uint8_t)wm, (uint8_t)wn}};
  if (kind == IR_LMMA_B) {
    l.spt[0] = (uint8_t)kw, l.spt[1] = 1;
    l.tpw[0] = 4, l.tpw[1] = 8;
    l.order[0] = 0, l.order[1] = 1;
  } else {
    l.spt[0] = 1, l.spt[1] = (uint8_t)(kind == IR_LMMA ? 2 : kw);
    l.tpw[0] = 8, l.tpw[1] = 4;
    l.order[0] = 1, l.order[1] = 0;
  }
  return l;
}

static int split_ok(ir_layout l, int axis) {
  return l.kind == IR_LBLOCKED || (l.kind == IR_LMMA_A && axis == 1) || (l.kind == IR_LMMA_B && axis == 0);
}

int ir_layout_split(ir_layout l, int axis, int f, ir_layout *out) {
  if (axis < 0 || axis >= 3 || f < 1 || !split_ok(l, axis) ||
      l.spt[axis] * f > (l.kind == IR_LBLOCKED ? 128 : 4))
    return 0;
  l.spt[axis] = (uint8_t)(l.spt[axis] * f);
  *out = l;
  return 1;
}

int ir_layout_unsplit(ir_layout l, int axis, int f, ir_layout *out) {
  if (axis < 0 || axis >= 3 || f < 1 || !split_ok(l, axis) || l.spt[axis] % f) return 0;
  l.spt[axis] = (uint8_t)(l.spt[axis] / f);
  *out = l;
  return 1;
}

/* ", mma<[2,2]>", ", mma_a<[2,2],2>" */
static int put_mma_layout(char *buf, size_t n, int len, ir_layout l) {
  static const char *const names[] = {[IR_LMMA] = "mma", [IR_LMMA_A] = "mma_a", [IR_LMMA_B] = "mma_b"};
  len += snprintf(buf + len, len < (int)n ? n - len : 0, ", %s<", names[l.kind]);
  len = put_list(buf, n, len, l.wpc, 2);
  if (l.kind != IR_LMMA)
    len += snprintf(buf + len, len < (int)n ? n - len : 0, ",%u", l.kind == IR_LMMA_A ? l.spt[1] : l.spt[0]);
  return len + snprintf(buf + len, len < (int)n ? n - len : 0, ">");
}

int ir_type_str(ir_type t, char *buf, size_t n) {
  const char *e = ir_elem_name(t.elem);
  int len = 0;
  switch (t.kind) {
  case IR_TNONE: return snprintf(buf, n, "none");
  case IR_TSCALAR: return snprintf(buf, n, "%s", e);
  case IR_TPTR: return snprintf(buf, n, "ptr<%s>", e);
  case IR_TVIEW: return snprintf(buf, n, "view<%ux%s>", t.rank, e);
  case IR_TTILE:
  case IR_TSMEM:
    len = snprintf(buf, n, "%s<", t.kind == IR_TTILE ? "tile" : "smem");
    for (int i = 0; i < t.rank; i++)
      len += snprintf(buf + len, len < (int)n ? n - len : 0, "%ux", t.shape[i]);
    len += snprintf(buf + len, len < (int)n ? n - len : 0, "%s", e);
    if (t.kind == IR_TTILE && t.layout.kind == IR_LBLOCKED) {
      len += snprintf(buf + len, len < (int)n ? n - len : 0, ", blocked<");
      len = put_list(buf, n, len, t.layout.spt, t.rank);
      len += snprintf(buf + len, len < (int)n ? n - len : 0, ",");
      len = put_list(buf, n, len, t.layout.tpw, t.rank);
      len += snprintf(buf + len, len < (int)n ? n - len : 0, ",");
      len = put_list(buf, n, len, t.layout.wpc, t.rank);
      len += snprintf(buf + len, len < (int)n ? n - len : 0, ",");
      len = put_list(buf, n, len, t.layout.order, t.rank);
      len += snprintf(buf + len, len < (int)n ? n - len : 0, ">");
    } else if (t.kind == IR_TTILE && t.layout.kind >= IR_LMMA && t.layout.kind <= IR_LMMA_B && t.rank == 2) {
      len = put_mma_layout(buf, n, len, t.layout);
    }
    return len + snprintf(buf + len, len < (int)n ? n - len : 0, ">");
  }
  return snprintf(buf, n, "?");
}

/* ---- op table ---- */

const ir_opinfo ir_opinfo_table[IR_NOPS] = {
    [IR_OP_NONE] = {"<none>", 0, 0, 0, 0, IR_EC_ANY},
#define OP(E, name, nopnd, nres, nregion, flags, elems, verify, lower, lua, lua_name, lua_meta)              \
  [IR_OP_##E] = {name, nopnd, nres, nregion, flags, IR_EC_##elems},
#include "ops.def"
#undef OP
};

int ir_opcode_parse(const char *s, int n) {
  for (int i = 1; i < IR_NOPS; i++)
    if ((int)strlen(ir_opinfo_table[i].name) == n && memcmp(ir_opinfo_table[i].name, s, n) == 0) return i;
  return -1;
}

/* ---- functions ---- */

#define GROW(fn, arr, n, cap)                                                                                \
  do {                                                                                                       \
    if ((fn)->n >= (fn)->cap) {                                                                              \
      (fn)->cap = (fn)->cap ? (fn)->cap * 2 : 64;                                                            \
      (fn)->arr = realloc((fn)->arr, (fn)->cap * sizeof *(fn)->arr);                                         \
      if (!(fn)->arr) abort();                                                                               \
    }                                                                                                        \
    memset(&(fn)->arr[(fn)->n], 0, sizeof *(fn)->arr);                                                       \
  } while (0)

static ir_val new_val(ir_func *fn, ir_type t) {
  GROW(fn, vals, nvals, capvals);
  fn->vals[fn->nvals].type = t;
  return fn->nvals++;
}

static ir_reg new_region(ir_func *fn, ir_opid parent) {
  GROW(fn, regions, nregions, capregions);
  fn->regions[fn->nregions].parent_op = parent;
  return fn->nregions++;
}

ir_func *ir_func_new(const char *name) {
  ir_func *fn = calloc(1, sizeof *fn);
  if (!fn) abort();
  fn->A = ir_arena_new();
  fn->name = ir_strdup(fn->A, name);
  fn->nvals = fn->nops = fn->nregions = 1; /* handle 0 is "none" */
  GROW(fn, vals, nvals, capvals);
  GROW(fn, ops, nops, capops);
  GROW(fn, regions, nregions, capregions);
  memset(&fn->vals[0], 0, sizeof fn->vals[0]); /* the "none" entries */
  memset(&fn->ops[0], 0, sizeof fn->ops[0]);
  memset(&fn->regions[0], 0, sizeof fn->regions[0]);
  fn->body = new_region(fn, 0);
  return fn;
}

void ir_func_destroy(ir_func *fn) {
  if (!fn) return;
  free(fn->vals);
  free(fn->ops);
  free(fn->regions);
  ir_arena_free(fn->A);
  free(fn);
}

ir_val ir_region_add_arg(ir_func *fn, ir_reg reg, ir_type t) {
  ir_val v = new_val(fn, t);
  ir_region *r = ir_r(fn, reg);
  ir_val *args = ir_alloc(fn->A, (r->nargs + 1) * sizeof *args);
  if (r->nargs) memcpy(args, r->args, r->nargs * sizeof *args);
  args[r->nargs] = v;
  fn->vals[v].arg_of = reg;
  fn->vals[v].index = r->nargs;
  r->args = args;
  r->nargs++;
  return v;
}

ir_reg ir_val_region(ir_func *fn, ir_val v) {
  ir_value *x = ir_v(fn, v);
  return x->def ? ir_o(fn, x->def)->parent : x->arg_of;
}

int ir_region_encloses(ir_func *fn, ir_reg outer, ir_reg inner) {
  for (ir_reg r = inner; r; r = ir_r(fn, r)->parent_op ? ir_o(fn, ir_r(fn, r)->parent_op)->parent : 0)
    if (r == outer) return 1;
  return 0;
}

ir_val ir_add_param(ir_func *fn, const char *name, ir_type t) {
  ir_val v = ir_region_add_arg(fn, fn->body, t);
  if (name) fn->vals[v].name = ir_strdup(fn->A, name);
  return v;
}

int ir_param_index(const ir_func *fn, ir_val v) {
  const ir_region *b = &fn->regions[fn->body];
  for (uint32_t i = 0; i < b->nargs; i++)
    if (b->args[i] == v) return (int)i;
  return -1;
}

static int expr_append(char *buf, size_t n, size_t *at, const char *tok) {
  int w = snprintf(buf + *at, n - *at, "%s%s", *at ? "," : "", tok);
  if (w < 0 || (size_t)w >= n - *at) return -1;
  *at += (size_t)w;
  return 0;
}

static int expr_of(const ir_func *fn, ir_val v, char *buf, size_t n, size_t *at, int depth) {
  ir_type t = fn->vals[v].type;
  char tok[32];
  if (depth > 32 || t.kind != IR_TSCALAR || ir_elem_is_float(t.elem) || t.elem == IR_I1) return -1;
  int pi = ir_param_index(fn, v);
  if (pi >= 0) {
    snprintf(tok, sizeof tok, "$%d", pi);
    return expr_append(buf, n, at, tok);
  }
  ir_opid d = fn->vals[v].def;
  if (!d) return -1;
  const ir_op *o = &fn->ops[d];
  switch (o->code) {
  case IR_OP_CONST: {
    ir_attr *a = ir_attr_get(o->attrs, "value");
    if (!a || a->kind != IR_AINT) return -1;
    snprintf(tok, sizeof tok, "%lld", (long long)a->i);
    return expr_append(buf, n, at, tok);
  }
  case IR_OP_CAST: return expr_of(fn, o->opnd[0], buf, n, at, depth + 1);
  case IR_OP_ADD:
  case IR_OP_SUB:
  case IR_OP_MUL:
    if (expr_of(fn, o->opnd[0], buf, n, at, depth + 1) || expr_of(fn, o->opnd[1], buf, n, at, depth + 1))
      return -1;
    return expr_append(buf, n, at, o->code == IR_OP_ADD ? "+" : o->code == IR_OP_SUB ? "-" : "*");
  default: return -1;
  }
}

int ir_param_expr(const ir_func *fn, ir_val v, char *buf, size_t n) {
  size_t at = 0;
  if (!n) return -1;
  buf[0] = 0;
  return expr_of(fn, v, buf, n, &at, 0);
}

/* v with integer casts looked through. */
static ir_val uncast(const ir_func *fn, ir_val v) {
  for (int d = 0; d < 8 && fn->vals[v].def && fn->ops[fn->vals[v].def].code == IR_OP_CAST; d++)
    v = fn->ops[fn->vals[v].def].opnd[0];
  return v;
}

/* Adds the terms of sum v (bounded(i, n) * s) to c; -1 if v is not such a sum. */
static int base_terms(const ir_func *fn, ir_val v, ir_tma_coords *c, int depth) {
  char e[256];
  ir_opid d = fn->vals[uncast(fn, v)].def;
  if (!d || depth > 8) return -1;
  const ir_op *o = &fn->ops[d];
  if (o->code == IR_OP_ADD)
    return base_terms(fn, o->opnd[0], c, depth + 1) || base_terms(fn, o->opnd[1], c, depth + 1) ? -1 : 0;
  if (o->code != IR_OP_MUL || c->n == IR_TMA_MAXCOORDS) return -1;
  for (int k = 0; k < 2; k++) {
    ir_opid bd = fn->vals[uncast(fn, o->opnd[k])].def;
    if (!bd || fn->ops[bd].code != IR_OP_BOUNDED) continue;
    const ir_op *b = &fn->ops[bd];
    if (ir_param_expr(fn, b->opnd[1], e, sizeof e) || ir_param_expr(fn, o->opnd[1 - k], e, sizeof e))
      return -1;
    c->index[c->n] = b->opnd[0], c->count[c->n] = b->opnd[1], c->stride[c->n] = o->opnd[1 - k];
    c->n++;
    return 0;
  }
  return -1;
}

int ir_tma_view_coords(const ir_func *fn, ir_val view, ir_tma_coords *c) {
  ir_opid vd = fn->vals[view].def;
  char e[256];
  c->n = 0;
  if (!vd || fn->ops[vd].code != IR_OP_VIEW) return -1;
  const ir_op *v = &fn->ops[vd];
  if (fn->vals[v->res[0]].type.rank != 2 || (v->nopnd != 5 && v->nopnd != 6) ||
      ir_param_index(fn, v->opnd[0]) < 0)
    return -1;
  ir_opid sd = fn->vals[v->opnd[4]].def;
  if (!sd || fn->ops[sd].code != IR_OP_CONST || ir_attr_i(fn->ops[sd].attrs, "value", 0) != 1) return -1;
  for (int k = 1; k <= 3; k++)
    if (ir_param_expr(fn, v->opnd[k], e, sizeof e)) return -1;
  if (v->nopnd == 6 && base_terms(fn, v->opnd[5], c, 0)) return c->n = 0, -1;
  return 0;
}

int ir_tma_view_ok(const ir_func *fn, ir_val view) {
  ir_tma_coords c;
  return ir_tma_view_coords(fn, view, &c) == 0;
}

int ir_tma_buffer_ok(ir_type t, int64_t swizzle, int wgmma) {
  int eb = ir_elem_bytes(t.elem);
  if (!((eb == 1 && t.elem != IR_I1) || t.elem == IR_F16 || t.elem == IR_BF16 || t.elem == IR_F32 ||
        t.elem == IR_I32))
    return 0;
  if (t.kind != IR_TSMEM || t.rank != 2 || !wgmma || t.shape[0] > 256 || t.shape[0] % 8) return 0;
  uint32_t rb = t.shape[1] * (uint32_t)eb;
  return (rb == 32 && swizzle == 2) || (rb == 64 && swizzle == 4) || (rb % 128 == 0 && swizzle == 8);
}

/* ---- builder ---- */

ir_builder ir_builder_at_end(ir_func *fn, ir_reg reg) { return (ir_builder){.fn = fn, .reg = reg}; }

ir_builder ir_builder_before(ir_func *fn, ir_opid op) {
  return (ir_builder){
      .fn = fn, .reg = fn->ops[op].parent, .before = op, .file = fn->ops[op].file, .line = fn->ops[op].line};
}

static void link_op(ir_func *fn, ir_reg reg, ir_opid op, ir_opid before) {
  ir_region *r = ir_r(fn, reg);
  ir_op *o = ir_o(fn, op);
  o->parent = reg;
  if (!before) {
    o->prev = r->last;
    o->next = 0;
    if (r->last)
      fn->ops[r->last].next = op;
    else
      r->first = op;
    r->last = op;
    return;
  }
  ir_op *b = ir_o(fn, before);
  o->prev = b->prev;
  o->next = before;
  if (b->prev)
    fn->ops[b->prev].next = op;
  else
    r->first = op;
  b->prev = op;
}

ir_opid ir_build(ir_builder *b, ir_opcode code, const ir_val *opnds, uint32_t nopnd, const ir_type *restypes,
                 uint32_t nres, int nregion) {
  ir_func *fn = b->fn;
  GROW(fn, ops, nops, capops);
  ir_opid id = fn->nops++;
  ir_op *o = ir_o(fn, id);
  o->code = code;
  o->nopnd = nopnd;
  o->opnd = ir_alloc(fn->A, (nopnd + 1) * sizeof(ir_val));
  if (nopnd) memcpy(o->opnd, opnds, nopnd * sizeof(ir_val));
  o->nres = nres;
  o->res = ir_alloc(fn->A, (nres + 1) * sizeof(ir_val));
  o->file = b->file;
  o->line = b->line;
  for (uint32_t i = 0; i < nres; i++) {
    ir_val v = new_val(fn, restypes[i]);
    fn->vals[v].def = id;
    fn->vals[v].index = i;
    fn->ops[id].res[i] = v;
  }
  fn->ops[id].nregion = nregion;
  for (int i = 0; i < nregion; i++) {
    ir_reg r = new_region(fn, id);
    fn->ops[id].region[i] = r;
  }
  link_op(fn, b->reg, id, b->before);
  return id;
}

ir_val ir_b_const_i(ir_builder *b, ir_type t, int64_t v) {
  ir_opid op = ir_build(b, IR_OP_CONST, NULL, 0, &t, 1, 0);
  if (ir_elem_is_float(t.elem))
    ir_op_set_f(b->fn, op, "value", (double)v);
  else
    ir_op_set_i(b->fn, op, "value", v);
  return ir_res(b->fn, op, 0);
}

ir_val ir_b_const_f(ir_builder *b, ir_type t, double v) {
  ir_opid op = ir_build(b, IR_OP_CONST, NULL, 0, &t, 1, 0);
  if (ir_elem_is_float(t.elem))
    ir_op_set_f(b->fn, op, "value", v);
  else
    ir_op_set_i(b->fn, op, "value", (int64_t)v);
  return ir_res(b->fn, op, 0);
}

ir_val ir_b_unary(ir_builder *b, ir_opcode code, ir_val x, ir_type t) {
  return ir_res(b->fn, ir_build(b, code, &x, 1, &t, 1, 0), 0);
}

ir_val ir_b_binary(ir_builder *b, ir_opcode code, ir_val x, ir_val y) {
  ir_type t = ir_vtype(b->fn, x);
  if (code == IR_OP_CMP) t.elem = IR_I1;
  ir_val ops[2] = {x, y};
  return ir_res(b->fn, ir_build(b, code, ops, 2, &t, 1, 0), 0);
}

ir_val ir_b_cmp(ir_builder *b, const char *pred, ir_val x, ir_val y) {
  ir_val r = ir_b_binary(b, IR_OP_CMP, x, y);
  ir_op_set_s(b->fn, b->fn->vals[r].def, "pred", pred);
  return r;
}

ir_val ir_b_program_id(ir_builder *b, int axis) {
  ir_type t = ir_t_scalar(IR_I32);
  ir_opid op = ir_build(b, IR_OP_PROGRAM_ID, NULL, 0, &t, 1, 0);
  ir_op_set_i(b->fn, op, "axis", axis);
  return ir_res(b->fn, op, 0);
}

/* ---- attributes ---- */

static ir_attr *attr_slot(ir_arena *A, ir_attr **list, const char *key) {
  ir_attr **p = list;
  for (; *p; p = &(*p)->next)
    if (strcmp((*p)->key, key) == 0) return *p;
  *p = ir_alloc(A, sizeof **p);
  (*p)->key = ir_strdup(A, key);
  return *p;
}

void ir_attr_set_i(ir_arena *A, ir_attr **list, const char *key, int64_t v) {
  ir_attr *a = attr_slot(A, list, key);
  a->kind = IR_AINT;
  a->i = v;
}

void ir_attr_set_f(ir_arena *A, ir_attr **list, const char *key, double v) {
  ir_attr *a = attr_slot(A, list, key);
  a->kind = IR_AFLOAT;
  a->f = v;
}

void ir_attr_set_s(ir_arena *A, ir_attr **list, const char *key, const char *v) {
  ir_attr *a = attr_slot(A, list, key);
  a->kind = IR_ASTR;
  a->s = ir_strdup(A, v);
}

void ir_attr_set_list(ir_arena *A, ir_attr **list, const char *key, const int64_t *v, int n) {
  ir_attr *a = attr_slot(A, list, key);
  a->kind = IR_ALIST;
  a->list = ir_alloc(A, (n + 1) * sizeof *v);
  if (n) memcpy(a->list, v, n * sizeof *v);
  a->nlist = n;
}

ir_attr *ir_attr_get(ir_attr *list, const char *key) {
  for (; list; list = list->next)
    if (strcmp(list->key, key) == 0) return list;
  return NULL;
}

const ir_promise ir_promises[IR_NPROMISE] = {{"aligned", 4}, {"aligned8", 3}, {"aligned4", 2}};

int64_t ir_attr_i(ir_attr *list, const char *key, int64_t dflt) {
  ir_attr *a = ir_attr_get(list, key);
  return a && a->kind == IR_AINT ? a->i : dflt;
}

double ir_attr_f(ir_attr *list, const char *key, double dflt) {
  ir_attr *a = ir_attr_get(list, key);
  if (!a) return dflt;
  return a->kind == IR_AFLOAT ? a->f : a->kind == IR_AINT ? (double)a->i : dflt;
}

const char *ir_attr_s(ir_attr *list, const char *key, const char *dflt) {
  ir_attr *a = ir_attr_get(list, key);
  return a && a->kind == IR_ASTR ? a->s : dflt;
}

/* ---- editing ---- */

void ir_op_unlink(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  if (o->dead) return;
  ir_region *r = ir_r(fn, o->parent);
  if (o->prev)
    fn->ops[o->prev].next = o->next;
  else
    r->first = o->next;
  if (o->next)
    fn->ops[o->next].prev = o->prev;
  else
    r->last = o->prev;
  o->dead = 1;
  o->prev = o->next = 0;
}

void ir_op_move(ir_func *fn, ir_opid op, ir_reg reg) {
  ir_op_unlink(fn, op);
  ir_o(fn, op)->dead = 0;
  link_op(fn, reg, op, 0);
}

void ir_replace_all_uses(ir_func *fn, ir_val from, ir_val to) {
  for (ir_opid i = 1; i < fn->nops; i++) {
    ir_op *o = &fn->ops[i];
    if (o->dead) continue;
    for (uint32_t k = 0; k < o->nopnd; k++)
      if (o->opnd[k] == from) o->opnd[k] = to;
  }
}

uint32_t *ir_use_counts(ir_func *fn, ir_arena *A) {
  uint32_t *n = ir_alloc(A, fn->nvals * sizeof *n);
  for (ir_opid i = 1; i < fn->nops; i++) {
    ir_op *o = &fn->ops[i];
    if (o->dead) continue;
    for (uint32_t k = 0; k < o->nopnd; k++) n[o->opnd[k]]++;
  }
  return n;
}

void ir_walk(ir_func *fn, ir_reg reg, ir_walk_fn f, void *ctx) {
  for (ir_opid op = fn->regions[reg].first; op;) {
    ir_opid next = fn->ops[op].next; /* f may unlink op */
    f(fn, op, ctx);
    for (int i = 0; i < fn->ops[op].nregion; i++) ir_walk(fn, fn->ops[op].region[i], f, ctx);
    op = next;
  }
}
