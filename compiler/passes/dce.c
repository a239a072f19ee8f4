/*
 * dce.c - dead code elimination: remove ops whose results are unused and that have no side effect.
 *
 * Side effects are writes and synchronisation: store, copy, store_shared, barrier, async_wait and the
 * mbarrier ops, and a `for` or `if` whose regions hold one of those (at any depth). Every other op only
 * computes its results or reads memory, so it is dead when none of its results is used: pure ops, loads,
 * load_shared and an unused alloc_shared (freeing its shared memory), and loops or conditionals that only
 * compute. Terminators (`yield`) are never removed.
 *
 * Use counts are computed once; removing an op decrements the counts of the values it (and its
 * nested ops) used, and the scan repeats until a sweep removes nothing, so chains of dead ops go.
 */
#include "pass.h"

static int writes(int code) {
  return code == IR_OP_STORE || code == IR_OP_STORE_TMA || code == IR_OP_COPY || code == IR_OP_STORE_SHARED ||
         code == IR_OP_BARRIER || code == IR_OP_ASYNC_WAIT || code == IR_OP_MBAR_INIT ||
         code == IR_OP_MBAR_WAIT || code == IR_OP_MBAR_INVAL || code == IR_OP_MBAR_ARRIVE;
}

/* 1 if op or an op nested in its regions has a side effect. */
static int has_effect(ir_func *fn, ir_opid op) {
  ir_op *o = ir_o(fn, op);
  if (writes(o->code)) return 1;
  for (int i = 0; i < o->nregion; i++)
    for (ir_opid in = ir_r(fn, o->region[i])->first; in; in = ir_o(fn, in)->next)
      if (has_effect(fn, in)) return 1;
  return 0;
}

static int removable(ir_func *fn, ir_opid op, const uint32_t *uses) {
  ir_op *o = ir_o(fn, op);
  if (o->dead || (ir_opinfo_table[o->code].flags & IR_F_TERM)) return 0;
  for (uint32_t k = 0; k < o->nres; k++)
    if (uses[o->res[k]]) return 0;
  return !has_effect(fn, op);
}

/* Unlinks op and the ops nested in it, releasing the uses they held. */
static void erase(ir_func *fn, ir_opid op, uint32_t *uses) {
  ir_op *o = ir_o(fn, op);
  for (int i = 0; i < o->nregion; i++)
    while (ir_r(fn, o->region[i])->first) erase(fn, ir_r(fn, o->region[i])->first, uses);
  for (uint32_t k = 0; k < o->nopnd; k++) uses[o->opnd[k]]--;
  ir_op_unlink(fn, op);
}

/*
 * pass_dce:
 *   1. Count the uses of every value by live ops.
 *   2. Sweep the ops from the last created to the first (uses are usually created after their
 *      definitions, so one sweep removes most chains); remove each op that is removable: not a
 *      terminator, no result used, no side effect in it or its regions. Removing an op releases
 *      the uses of its operands and of every op nested in it.
 *   3. Repeat the sweep until nothing is removed.
 */
int pass_dce(ir_func *fn, pass_ctx *pc) {
  ir_arena *A = ir_arena_new();
  uint32_t *uses = ir_use_counts(fn, A);
  int removed = 1;
  while (removed) {
    removed = 0;
    for (ir_opid op = fn->nops - 1; op > 0; op--)
      if (removable(fn, op, uses)) {
        erase(fn, op, uses);
        removed = 1;
      }
  }
  ir_arena_free(A);
  return 0;
}
