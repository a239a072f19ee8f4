/*
 * pass.h - the pass manager: named passes over one ir_func, and the default pipeline.
 *
 * Each pass is one file named after it, exposing `int pass_NAME(ir_func *fn, pass_ctx *pc)`:
 * 0 on success, -1 with a one-line message in pc->err (user error, e.g. shared memory overflow).
 * The default pipeline is the straight list in pass_manager.c. pass_run verifies after the pass
 * when pc->verify_each is set and aborts, naming the pass and the file it dumped the IR to, if the
 * pass broke the IR: the caller verifies the input first, so only a compiler bug gets there.
 */
#ifndef KILN_PASS_H
#define KILN_PASS_H

#include <stdio.h>

#include "../../ir/ir.h"
#include "../../target/target.h"

typedef struct {
  const tg_target *target; /* may be NULL for target-independent passes (defaults to sm_80) */
  int verify_each;         /* run the verifier after every pass (debug builds default to 1) */
  FILE *print_after_all;   /* if non-NULL, print the IR after each pass with a header line */
  char err[1024];
} pass_ctx;

typedef int (*pass_fn)(ir_func *fn, pass_ctx *pc);

typedef struct {
  const char *name; /* the --pass spelling: "canonicalize", "cse", ... */
  pass_fn run;
  const char *help;
} pass_info;

const pass_info *pass_lookup(const char *name); /* NULL if unknown */
const pass_info *pass_at(int i);                /* the i-th pass of the table; NULL past the end */
void pass_list(FILE *out);                      /* names and help, one per line */
int pass_run(ir_func *fn, pass_ctx *pc, const pass_info *p);
int pass_run_default(ir_func *fn,
                     pass_ctx *pc); /* canonicalize, fold, cse, dce, wgmma, layout, pipeline, shared plan */

int pass_canonicalize(ir_func *fn, pass_ctx *pc);
int pass_const_fold(ir_func *fn, pass_ctx *pc);
int pass_cse(ir_func *fn, pass_ctx *pc);
int pass_dce(ir_func *fn, pass_ctx *pc);
int pass_wgmma_plan(ir_func *fn, pass_ctx *pc);
int pass_layout_assign(ir_func *fn, pass_ctx *pc);
int pass_pipeline(ir_func *fn, pass_ctx *pc);
int pass_shared_plan(ir_func *fn, pass_ctx *pc);

/* Whether dot, an op of loop body `body`, accumulates into a carried value: its accumulator is one of
 * the body's arguments, used only by it, and its result, used only there, is yielded in that place
 * (uses: ir_use_counts). The wgmma pass and the pipeline pass keep a group in flight only for such a
 * dot (wgmma_plan.c). */
int pass_dot_carried(ir_func *fn, ir_reg body, ir_opid dot, const uint32_t *uses);

#endif
