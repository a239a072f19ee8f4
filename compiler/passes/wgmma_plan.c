/*
 * wgmma_plan.c - the `wgmma` pass: picks the dots that run as warpgroup MMA (wgmma.mma_async) on a
 * target with TG_F_WGMMA, and lays out their shared buffers the way the instruction reads them.
 *
 * A dot is taken when all of these hold (otherwise it stays on mma.sync, untouched):
 *   - the target row has wgmma and the dot's `mma` attribute is not "mma_sync" (absent or "auto");
 *   - precision ieee; f16 x f16, bf16 x bf16, e4m3 x e4m3 or e5m2 x e5m2 into f32, i8 x i8 into i32;
 *   - both operands are load_shared results used only by this dot, from rank-2 buffers: A [M,K]
 *     not transposed (K-major); B either [K,N] read as stored (N-major, 16-bit inputs only) or
 *     [N,K] read transposed (K-major);
 *   - the kernel's warps are whole warpgroups and M = 64 per warpgroup (each warpgroup owns 64 rows,
 *     each warp 16: the accumulator is the mma layout with the warps on the rows, mma<[warps,1]>,
 *     which is what a dot with split = "rows" asks for, so such a dot is taken too);
 *   - N is a wgmma width (8..256, step 8; i8: 8, 16, 24, then step 16), K a multiple of one
 *     instruction's K (16 for 16-bit inputs, 32 for 8-bit ones);
 *   - every buffer's rows are 32, 64, 128 bytes, or a multiple of 128 bytes, and its swizzle is the
 *     one the instruction's swizzle mode makes of them: row bytes / 16 chunks (8 from 128 bytes on).
 * A may also be a 16-bit tile computed in registers (not a load_shared at all: attention's P): the
 * instruction's register form, A in mma_a<[warps,1]>; only B is then marked.
 *
 * The pass marks the dot and its two load_shared ops `wgmma = 1` (layout_assign gives the dot
 * mma<[warps,1]>, codegen lowers it in lower_dot_wgmma.c and loads nothing for the operands), and
 * each operand buffer `wgmma = 1`: shared_plan places it at a multiple of
 * 1024 bytes (the 128-byte swizzle pattern repeats every 8 rows of 128 bytes and the hardware XORs
 * address bits), and rows wider than 128 bytes are stored as 128-byte panels (smem_swizzle.c), the
 * canonical layout of the swizzled descriptors. A's buffer also gets `wgmma_rows = warps`: its
 * 8-row groups are stored in the order the warpgroups' instructions read them (smem_swizzle.c), so
 * that each thread's accumulator registers are the elements the mma<[warps,1]> layout gives it.
 * The pass changes nothing else, so the copies into
 * the buffers (cp.async, pipelined by the pipeline pass) stay as they are.
 *
 * A dot with `mma = "wgmma"` that cannot be taken is an error naming the reason.
 *
 * In a loop {inflight = 1} (stages >= 3) the wgmma dot that accumulates into a carried value is
 * marked `inflight = 1` too (mark_inflight); elsewhere the attribute changes nothing.
 */
#include <stdio.h>
#include <string.h>

#include "pass.h"

typedef struct {
  ir_func *fn;
  pass_ctx *pc;
  uint32_t *uses;
  int warps;
  int failed;
} wg_ctx;

/* The alloc_shared behind buf (through nothing: the pass runs before the pipeline pass, so the
 * buffers are the recipe's), or 0. */
static ir_opid alloc_of(ir_func *fn, ir_val buf) {
  ir_opid d = ir_v(fn, buf)->def;
  return d && ir_o(fn, d)->code == IR_OP_ALLOC_SHARED ? d : 0;
}

/* 1 if a buffer of shape [rows, cols] of e (cols along the swizzled rows) suits the descriptors. */
static int buffer_ok(ir_func *fn, ir_opid alloc, char *why, size_t n) {
  ir_type t = ir_vtype(fn, ir_o(fn, alloc)->res[0]);
  uint32_t row = t.shape[1] * (uint32_t)ir_elem_bytes(t.elem);
  int64_t sw = ir_attr_i(ir_o(fn, alloc)->attrs, "swizzle", 0);
  if (row != 32 && row != 64 && row % 128)
    return snprintf(why, n, "a shared buffer's rows are %u bytes (32, 64 or a multiple of 128)", row), 0;
  int want = row >= 128 ? 8 : (int)(row / 16);
  if (sw != want)
    return snprintf(why, n, "a shared buffer with %u-byte rows has swizzle %d (the descriptors need %d)", row,
                    (int)sw, want),
           0;
  if (t.shape[0] % 8) return snprintf(why, n, "a shared buffer has %u rows (a multiple of 8)", t.shape[0]), 0;
  return 1;
}

/* The load_shared behind dot operand k, used only by the dot, or 0. */
static ir_opid operand_load(wg_ctx *c, ir_opid dot, int k) {
  ir_val v = ir_o(c->fn, dot)->opnd[k];
  ir_opid d = ir_v(c->fn, v)->def;
  if (!d || ir_o(c->fn, d)->code != IR_OP_LOAD_SHARED || c->uses[v] != 1) return 0;
  return d;
}

/* 1 if dot op can be a wgmma; else 0 and the reason. */
static int eligible(wg_ctx *c, ir_opid op, ir_opid *alloc_a, ir_opid *alloc_b, char *why, size_t n) {
  ir_func *fn = c->fn;
  ir_op *o = ir_o(fn, op);
  ir_type ta = ir_vtype(fn, o->opnd[0]), tb = ir_vtype(fn, o->opnd[1]), tr = ir_vtype(fn, o->res[0]);
  const tg_target *tg = c->pc->target;
  if (!tg || !(tg->features & TG_F_WGMMA))
    return snprintf(why, n, "target %s has no wgmma", tg ? tg->name : "sm_80"), 0;
  if (strcmp(ir_attr_s(o->attrs, "precision", "ieee"), "ieee"))
    return snprintf(why, n, "precision %s has no wgmma form here", ir_attr_s(o->attrs, "precision", "")), 0;
  int b16 = ta.elem == IR_F16 || ta.elem == IR_BF16, s8 = ta.elem == IR_I8;
  if (ta.elem != tb.elem ||
      !(((b16 || ir_elem_is_fp8(ta.elem)) && tr.elem == IR_F32) || (s8 && tr.elem == IR_I32)))
    return snprintf(why, n, "%s x %s -> %s (wgmma takes f16, bf16, e4m3 or e5m2 into f32, i8 into i32)",
                    ir_elem_name(ta.elem), ir_elem_name(tb.elem), ir_elem_name(tr.elem)),
           0;
  if ((c->warps != 4 && c->warps != 8 && c->warps != 16) || tr.shape[0] != 16u * (uint32_t)c->warps)
    return snprintf(why, n, "%u rows for %d warps (64 rows per warpgroup of 4 warps)", tr.shape[0], c->warps),
           0;
  if (tr.shape[1] < 8 || tr.shape[1] > 256 || tr.shape[1] % 8 || (s8 && tr.shape[1] > 24 && tr.shape[1] % 16))
    return snprintf(why, n, "N = %u (8..256, step 8; i8: 8, 16, 24, then step 16)", tr.shape[1]), 0;
  if (ta.shape[1] % (b16 ? 16 : 32))
    return snprintf(why, n, "K = %u (a multiple of %d)", ta.shape[1], b16 ? 16 : 32), 0;
  ir_opid la = operand_load(c, op, 0), lb = operand_load(c, op, 1), da = ir_v(fn, o->opnd[0])->def;
  /* A computed in registers (not loaded from shared memory at all: attention's P): the register form */
  int rs = b16 && !(da && ir_o(fn, da)->code == IR_OP_LOAD_SHARED);
  if ((!la && !rs) || !lb)
    return snprintf(why, n, "an operand is not a load_shared used only by this dot"), 0;
  if ((la && ir_attr_get(ir_o(fn, la)->attrs, "at")) || ir_attr_get(ir_o(fn, lb)->attrs, "at"))
    return snprintf(why, n, "an operand reads a block of its buffer (at = ...)"), 0;
  if ((la && ir_attr_i(ir_o(fn, la)->attrs, "reverse", 0)) || ir_attr_i(ir_o(fn, lb)->attrs, "reverse", 0))
    return snprintf(why, n, "an operand is read reversed (reverse = 1)"), 0;
  if ((la && ir_attr_get(ir_o(fn, la)->attrs, "quad_dim")) || ir_attr_get(ir_o(fn, lb)->attrs, "quad_dim"))
    return snprintf(why, n, "an operand is read in quad order (quad_dim)"), 0;
  if (la && ir_attr_i(ir_o(fn, la)->attrs, "trans", 0))
    return snprintf(why, n, "A is read transposed (the M-major A form is not lowered yet)"), 0;
  if (!b16 && !ir_attr_i(ir_o(fn, lb)->attrs, "trans", 0))
    return snprintf(why, n, "B is read as stored, N-major, which wgmma has for 16-bit inputs only"), 0;
  *alloc_a = la ? alloc_of(fn, ir_o(fn, la)->opnd[0]) : 0;
  *alloc_b = alloc_of(fn, ir_o(fn, lb)->opnd[0]);
  if ((la && !*alloc_a) || !*alloc_b)
    return snprintf(why, n, "an operand's buffer is not an alloc_shared"), 0;
  return (!la || buffer_ok(fn, *alloc_a, why, n)) && buffer_ok(fn, *alloc_b, why, n);
}

static void visit(ir_func *fn, ir_opid op, void *ctx) {
  wg_ctx *c = ctx;
  ir_op *o = ir_o(fn, op);
  if (o->code != IR_OP_DOT || c->failed) return;
  const char *mode = ir_attr_s(o->attrs, "mma", "auto");
  if (!strcmp(mode, "mma_sync")) return;
  char why[300];
  ir_opid aa = 0, ab = 0;
  if (!eligible(c, op, &aa, &ab, why, sizeof why)) {
    if (!strcmp(mode, "wgmma")) {
      int k = o->file ? snprintf(c->pc->err, sizeof c->pc->err, "%s:%d: ", o->file, o->line) : 0;
      snprintf(c->pc->err + k, sizeof c->pc->err - (size_t)k, "op 'dot' with mma = \"wgmma\": %s", why);
      c->failed = 1;
    }
    return;
  }
  ir_op_set_i(fn, op, "wgmma", 1);
  if (aa) { /* A from its buffer; else from registers, nothing to mark */
    ir_op_set_i(fn, aa, "wgmma", 1);
    ir_op_set_i(fn, aa, "wgmma_rows", c->warps);
    ir_op_set_i(fn, ir_v(fn, o->opnd[0])->def, "wgmma", 1);
  }
  ir_op_set_i(fn, ab, "wgmma", 1);
  ir_op_set_i(fn, ir_v(fn, o->opnd[1])->def, "wgmma", 1);
}

/* A loop {inflight = 1}: its wgmma dot that accumulates into a carried value (the body's argument
 * used only by the dot, the dot's result used only by the yield, in the same place) is marked
 * `inflight = 1`: codegen then leaves its group in flight at the end of each iteration and waits for
 * it after the loop, and the pipeline pass refills a stage only two iterations after it was read. */
int pass_dot_carried(ir_func *fn, ir_reg body, ir_opid dot, const uint32_t *uses) {
  ir_region *b = ir_r(fn, body);
  ir_op *d = ir_o(fn, dot), *y = ir_o(fn, b->last);
  if (uses[d->res[0]] != 1) return 0;
  for (uint32_t k = 1; k < b->nargs && k - 1 < y->nopnd; k++)
    if (d->opnd[2] == b->args[k] && uses[b->args[k]] == 1 && y->opnd[k - 1] == d->res[0]) return 1;
  return 0;
}

static void mark_inflight(ir_func *fn, ir_opid op, void *ctx) {
  wg_ctx *c = ctx;
  ir_op *o = ir_o(fn, op);
  if (o->code != IR_OP_FOR || !ir_attr_i(o->attrs, "inflight", 0)) return;
  for (ir_opid d = ir_r(fn, o->region[0])->first; d; d = ir_o(fn, d)->next)
    if (ir_o(fn, d)->code == IR_OP_DOT && ir_attr_i(ir_o(fn, d)->attrs, "wgmma", 0) &&
        pass_dot_carried(fn, o->region[0], d, c->uses)) {
      ir_op_set_i(fn, d, "inflight", 1);
      return; /* one group in flight a loop */
    }
}

int pass_wgmma_plan(ir_func *fn, pass_ctx *pc) {
  ir_arena *A = ir_arena_new();
  wg_ctx c = {fn, pc, ir_use_counts(fn, A), (int)ir_attr_i(fn->attrs, "warps", 4), 0};
  ir_walk(fn, fn->body, visit, &c);
  if (!c.failed) ir_walk(fn, fn->body, mark_inflight, &c);
  ir_arena_free(A);
  return c.failed ? -1 : 0;
}
