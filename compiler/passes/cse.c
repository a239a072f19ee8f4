/*
 * cse.c - common subexpression elimination over pure ops, scoped by regions.
 *
 * Two ops are equal when they have the same opcode, the same operands, the same attributes (as a
 * set: key, kind and value; floats compared bit for bit) and the same result types, layouts
 * included. Only ops flagged IR_F_PURE with no regions are candidates: loads, shared-memory ops,
 * allocations and control flow are never merged.
 *
 * Scoping follows dominance in a region tree: an op seen earlier in region R is available to later
 * ops of R and to the ops of regions nested inside them, never to a sibling region (the two arms of
 * an `if`) or to ops after R's parent. The available set is a chained hash table with an undo log:
 * leaving a region pops the entries it pushed, so each lookup is one bucket.
 *
 * Merged ops are not rewritten through ir_replace_all_uses (one scan of the function per merge):
 * a replacement map is applied to each op's operands as the walk reaches it, which covers every
 * use because uses come after their definition in the walk.
 */
#include <string.h>

#include "pass.h"

enum { NBUCKET = 1024 };

typedef struct {
  ir_opid op;
  uint32_t hash;
  int32_t next; /* previous head of the bucket: restored when the entry is popped */
} entry;

typedef struct {
  ir_func *fn;
  int32_t bucket[NBUCKET]; /* head entry index, or -1 */
  entry *entries;
  uint32_t nentries;
  ir_val *repl; /* value -> value that replaces it (0 = itself) */
} cse_state;

static uint32_t mix(uint32_t h, uint64_t x) {
  h ^= (uint32_t)x + 0x9e3779b9u + (h << 6) + (h >> 2);
  return h ^ ((uint32_t)(x >> 32) * 0x85ebca6bu);
}

/* Hash of what makes two ops equal; attributes are hashed by key only (order-independent sum). */
static uint32_t op_hash(ir_func *fn, ir_op *o) {
  uint32_t h = mix(o->code, o->nopnd * 131u + o->nres);
  for (uint32_t k = 0; k < o->nopnd; k++) h = mix(h, o->opnd[k]);
  for (uint32_t k = 0; k < o->nres; k++) h = mix(h, ir_vtype(fn, o->res[k]).elem);
  uint32_t ah = 0;
  for (ir_attr *a = o->attrs; a; a = a->next) ah += mix(a->kind, strlen(a->key)) + (uint32_t)a->i;
  return mix(h, ah);
}

static int attr_eq(const ir_attr *a, const ir_attr *b) {
  if (a->kind != b->kind) return 0;
  switch (a->kind) {
  case IR_AINT: return a->i == b->i;
  case IR_AFLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
  case IR_ASTR: return strcmp(a->s, b->s) == 0;
  default:
    return a->nlist == b->nlist && (!a->nlist || !memcmp(a->list, b->list, a->nlist * sizeof *a->list));
  }
}

/* Attribute lists equal as sets: same count and every key of a has an equal value in b. */
static int attrs_eq(ir_attr *a, ir_attr *b) {
  int na = 0, nb = 0;
  for (ir_attr *x = a; x; x = x->next) na++;
  for (ir_attr *x = b; x; x = x->next) nb++;
  if (na != nb) return 0;
  for (ir_attr *x = a; x; x = x->next) {
    ir_attr *y = ir_attr_get(b, x->key);
    if (!y || !attr_eq(x, y)) return 0;
  }
  return 1;
}

static int ops_eq(ir_func *fn, ir_op *a, ir_op *b) {
  if (a->code != b->code || a->nopnd != b->nopnd || a->nres != b->nres) return 0;
  for (uint32_t k = 0; k < a->nopnd; k++)
    if (a->opnd[k] != b->opnd[k]) return 0;
  for (uint32_t k = 0; k < a->nres; k++)
    if (!ir_type_eq(ir_vtype(fn, a->res[k]), ir_vtype(fn, b->res[k]))) return 0;
  return attrs_eq(a->attrs, b->attrs);
}

static int candidate(ir_op *o) {
  return (ir_opinfo_table[o->code].flags & IR_F_PURE) && o->nregion == 0 && o->nres > 0;
}

/* An available op equal to op, or 0; if none, op becomes available. */
static ir_opid lookup_or_insert(cse_state *s, ir_opid op) {
  ir_op *o = ir_o(s->fn, op);
  uint32_t h = op_hash(s->fn, o);
  int32_t *head = &s->bucket[h % NBUCKET];
  for (int32_t e = *head; e >= 0; e = s->entries[e].next)
    if (s->entries[e].hash == h && ops_eq(s->fn, ir_o(s->fn, s->entries[e].op), o)) return s->entries[e].op;
  s->entries[s->nentries] = (entry){op, h, *head};
  *head = (int32_t)s->nentries++;
  return 0;
}

/* Forgets the entries pushed since the log had `mark` entries (LIFO, so each bucket head comes back). */
static void pop_to(cse_state *s, uint32_t mark) {
  while (s->nentries > mark) {
    entry *e = &s->entries[--s->nentries];
    s->bucket[e->hash % NBUCKET] = e->next;
  }
}

static void cse_region(cse_state *s, ir_reg reg) {
  ir_func *fn = s->fn;
  uint32_t mark = s->nentries;
  for (ir_opid op = ir_r(fn, reg)->first, next; op; op = next) {
    ir_op *o = ir_o(fn, op);
    next = o->next;
    for (uint32_t k = 0; k < o->nopnd; k++)
      if (s->repl[o->opnd[k]]) o->opnd[k] = s->repl[o->opnd[k]];
    ir_opid same = candidate(o) ? lookup_or_insert(s, op) : 0;
    if (same) {
      for (uint32_t k = 0; k < o->nres; k++) s->repl[o->res[k]] = ir_o(fn, same)->res[k];
      ir_op_unlink(fn, op);
      continue;
    }
    for (int i = 0; i < o->nregion; i++) cse_region(s, o->region[i]);
  }
  pop_to(s, mark);
}

/*
 * pass_cse:
 *   1. Walk the kernel body in program order, keeping the set of available pure ops in a scoped
 *      hash table (one scope per region).
 *   2. At each op, first rewrite its operands through the replacement map.
 *   3. If a pure op without regions equals an available op, map its results to that op's results
 *      and unlink it; otherwise make it available.
 *   4. Recurse into the op's regions with a new scope; leaving a region drops its scope, so values
 *      of one `if` arm never replace values of the other.
 */
int pass_cse(ir_func *fn, pass_ctx *pc) {
  ir_arena *A = ir_arena_new();
  cse_state s = {.fn = fn};
  memset(s.bucket, -1, sizeof s.bucket);
  s.entries = ir_alloc(A, (fn->nops + 1) * sizeof *s.entries);
  s.repl = ir_alloc(A, (fn->nvals + 1) * sizeof *s.repl);
  cse_region(&s, fn->body);
  ir_arena_free(A);
  return 0;
}
