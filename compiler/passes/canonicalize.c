/*
 * canonicalize.c - local rewrites that put the IR in one canonical form and drop identities.
 *
 * Each rule looks at one op and its operands' defining ops, never further; the pass repeats the walk
 * until nothing changes. Rules that remove an op make its results aliases of an existing value
 * (ir_replace_all_uses) and unlink it; rules that turn an op into a constant rewrite it in place so
 * its result handle and source location stay.
 *
 * Float identities follow IEEE 754 exactly: x + (-0.0) and x - (+0.0) are x, but x + 0.0 is not
 * (-0.0 + 0.0 is +0.0) and x * 0.0 is not 0 (NaN, infinities, signed zeros). x * 1.0 is x.
 */
#include <math.h>

#include "pass.h"

/* The constant op that defines v, or 0. */
static ir_opid const_def(ir_func *fn, ir_val v) {
  ir_opid d = ir_v(fn, v)->def;
  return d && ir_o(fn, d)->code == IR_OP_CONST ? d : 0;
}

/* 1 if v is a constant whose value is the integer k (integer element types only). */
static int is_int(ir_func *fn, ir_val v, int64_t k) {
  ir_opid d = const_def(fn, v);
  if (!d || ir_elem_is_float(ir_vtype(fn, v).elem)) return 0;
  ir_attr *a = ir_attr_get(ir_o(fn, d)->attrs, "value");
  return a && a->kind == IR_AINT && a->i == k;
}

/* 1 if v is a float constant equal to f with the same sign bit (so -0.0 and +0.0 differ). */
static int is_float(ir_func *fn, ir_val v, double f) {
  ir_opid d = const_def(fn, v);
  if (!d || !ir_elem_is_float(ir_vtype(fn, v).elem)) return 0;
  double x = ir_attr_f(ir_o(fn, d)->attrs, "value", NAN);
  return x == f && signbit(x) == signbit(f);
}

/* Unlinks op and, recursively, every op of its regions (so that use counts no longer see them). */
static void erase(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  for (int i = 0; i < o->nregion; i++)
    while (ir_r(fn, o->region[i])->first) erase(fn, ir_r(fn, o->region[i])->first);
  ir_op_unlink(fn, op);
}

/* Replaces every use of op's result i with vals[i], then removes op. Refused (0) where a value's
 * type differs from the result's, layouts included: the uses would no longer type-check. */
static int replace_op(ir_func *fn, ir_opid op, const ir_val *vals) {
  ir_op *o = ir_o(fn, op);
  for (uint32_t i = 0; i < o->nres; i++)
    if (!ir_type_eq(ir_vtype(fn, o->res[i]), ir_vtype(fn, vals[i]))) return 0;
  for (uint32_t i = 0; i < o->nres; i++) ir_replace_all_uses(fn, o->res[i], vals[i]);
  erase(fn, op);
  return 1;
}

static int replace_with(ir_func *fn, ir_opid op, ir_val v) { return replace_op(fn, op, &v); }

/* Rule: a commutative op takes its constant operand second. */
static int order_operands(ir_func *fn, ir_op *o) {
  if (o->nopnd != 2 || !const_def(fn, o->opnd[0]) || const_def(fn, o->opnd[1])) return 0;
  ir_val t = o->opnd[0];
  o->opnd[0] = o->opnd[1];
  o->opnd[1] = t;
  return 1;
}

/* Rules: x+0, x-0, x*1, x*0 (ints), with the float cases that are exact. */
static int arith_identity(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  ir_val x = o->opnd[0], y = o->opnd[1];
  switch (o->code) {
  case IR_OP_ADD:
    if (is_int(fn, y, 0) || is_float(fn, y, -0.0)) return replace_with(fn, op, x);
    break;
  case IR_OP_SUB:
    if (is_int(fn, y, 0) || is_float(fn, y, 0.0)) return replace_with(fn, op, x);
    break;
  case IR_OP_MUL:
    if (is_int(fn, y, 1) || is_float(fn, y, 1.0)) return replace_with(fn, op, x);
    if (is_int(fn, y, 0)) return replace_with(fn, op, y);
    break;
  default: break;
  }
  return 0;
}

/* Rule: select with a constant condition, or with equal arms, is one of its arms. */
static int select_const(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  ir_val c = o->opnd[0], a = o->opnd[1], b = o->opnd[2];
  if (a == b) return replace_with(fn, op, a);
  if (!const_def(fn, c)) return 0;
  return replace_with(fn, op, ir_attr_i(ir_o(fn, const_def(fn, c))->attrs, "value", 0) ? a : b);
}

/* Rule: cast, bitcast and broadcast to the operand's own type are the operand. */
static int same_type(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  if (!ir_type_eq(ir_vtype(fn, o->opnd[0]), ir_vtype(fn, o->res[0]))) return 0;
  return replace_with(fn, op, o->opnd[0]);
}

/* Rule: splat or broadcast of a constant is a constant of the result type (rewritten in place). */
static int const_splat(ir_func *fn, ir_opid op) {
  ir_opid d = const_def(fn, ir_o(fn, op)->opnd[0]);
  if (!d) return 0;
  ir_attr *v = ir_attr_get(ir_o(fn, d)->attrs, "value");
  if (!v) return 0;
  ir_op *o = ir_o(fn, op);
  o->code = IR_OP_CONST;
  o->nopnd = 0;
  o->attrs = NULL;
  if (v->kind == IR_AFLOAT)
    ir_op_set_f(fn, op, "value", v->f);
  else
    ir_op_set_i(fn, op, "value", v->i);
  return 1;
}

/* Rule: neg(neg x) and not(not x) are x. */
static int involution(ir_func *fn, ir_opid op) {
  ir_opid d = ir_v(fn, ir_o(fn, op)->opnd[0])->def;
  if (!d || ir_o(fn, d)->code != ir_o(fn, op)->code) return 0;
  return replace_with(fn, op, ir_o(fn, d)->opnd[0]);
}

/* Rule: a `for` whose constant bounds give zero trips yields its inits. */
static int for_zero_trip(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  if (o->nopnd < 3 || o->nres != o->nopnd - 3) return 0;
  ir_opid lo = const_def(fn, o->opnd[0]), hi = const_def(fn, o->opnd[1]);
  if (!lo || !hi) return 0;
  if (ir_attr_i(ir_o(fn, lo)->attrs, "value", 0) < ir_attr_i(ir_o(fn, hi)->attrs, "value", 0)) return 0;
  return replace_op(fn, op, o->opnd + 3);
}

static int rewrite(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  int changed = 0;
  if (ir_opinfo_table[o->code].flags & IR_F_COMMUTATIVE) changed = order_operands(fn, o);
  switch (o->code) {
  case IR_OP_ADD:
  case IR_OP_SUB:
  case IR_OP_MUL: return arith_identity(fn, op) | changed;
  case IR_OP_SELECT: return select_const(fn, op);
  case IR_OP_CAST:
  case IR_OP_BITCAST: return same_type(fn, op);
  case IR_OP_BROADCAST: return same_type(fn, op) || const_splat(fn, op);
  case IR_OP_SPLAT: return const_splat(fn, op);
  case IR_OP_NEG:
  case IR_OP_NOT: return involution(fn, op);
  case IR_OP_FOR: return for_zero_trip(fn, op);
  default: return changed;
  }
}

static void visit(ir_func *fn, ir_opid op, void *ctx) {
  if (!ir_o(fn, op)->dead && rewrite(fn, op)) *(int *)ctx = 1;
}

/*
 * pass_canonicalize:
 *   1. Walk every op in program order (regions included) and apply the first matching rule:
 *      commutative operands (constant second), arithmetic identities, select with a constant
 *      condition, casts/broadcasts to the same type, splat of a constant, double neg/not, and
 *      zero-trip `for` loops.
 *   2. Repeat the walk until a whole walk changes nothing (rules only shrink or reorder the IR,
 *      so this terminates).
 */
int pass_canonicalize(ir_func *fn, pass_ctx *pc) {
  int changed = 1;
  while (changed) {
    changed = 0;
    ir_walk(fn, fn->body, visit, &changed);
  }
  return 0;
}
