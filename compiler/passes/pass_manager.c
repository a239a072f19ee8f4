/*
 * pass_manager.c - the table of named passes, running one pass, and the default pipeline.
 *
 * A pass is `int pass_NAME(ir_func *, pass_ctx *)`. pass_run wraps one pass with the two debugging
 * aids every pass gets for free: the verifier after the pass (pc->verify_each) and the IR printed
 * after the pass (pc->print_after_all). A pass must never turn valid IR into invalid IR, so a
 * verifier failure after a pass is a compiler bug, not a user error: pass_run writes the IR to
 * $TMPDIR/kiln-ir-after-PASS-PID.ir, prints the pass, the verifier's message and that path on
 * stderr, and aborts. (Verifying the pipeline's *input* is the caller's job and a user error.)
 *
 * The default pipeline is the straight list in pass_run_default, read top to bottom.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pass.h"

static const pass_info passes[] = {
    {"canonicalize", pass_canonicalize, "fold algebraic identities, order commutative operands"},
    {"const-fold", pass_const_fold, "evaluate elementwise ops whose operands are constants"},
    {"cse", pass_cse, "merge equal pure ops (scoped by regions)"},
    {"dce", pass_dce, "remove pure ops and side-effect-free loops whose results are unused"},
    {"wgmma", pass_wgmma_plan, "pick the dots that run as wgmma on sm_90a; lay out their shared buffers"},
    {"layout", pass_layout_assign, "assign register layouts to tiles, insert conversions"},
    {"pipeline", pass_pipeline, "software-pipeline the copies of loops with stages >= 2; batch other copies"},
    {"shared-plan", pass_shared_plan, "give shared buffers offsets, reusing memory by liveness"},
};

enum { NPASSES = sizeof passes / sizeof passes[0] };

const pass_info *pass_lookup(const char *name) {
  for (int i = 0; i < NPASSES; i++)
    if (strcmp(passes[i].name, name) == 0) return &passes[i];
  return NULL;
}

const pass_info *pass_at(int i) { return i >= 0 && i < NPASSES ? &passes[i] : NULL; }

void pass_list(FILE *out) {
  for (int i = 0; i < NPASSES; i++) fprintf(out, "  %-14s %s\n", passes[i].name, passes[i].help);
}

/* Prints fn after pass `name` with the header line tools and tests look for. */
static void print_after(ir_func *fn, FILE *out, const char *name) {
  char *text = ir_print(fn);
  fprintf(out, "// -----// IR after %s //----- //\n%s", name, text ? text : "");
  if (text && text[0] && text[strlen(text) - 1] != '\n') fputc('\n', out);
  free(text);
}

/* A pass broke the IR: dump it, say so, abort. */
static _Noreturn void broken_by(ir_func *fn, const char *name, const char *verr) {
  const char *dir = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/kiln-ir-after-%s-%ld.ir", dir && dir[0] ? dir : "/tmp", name,
           (long)getpid());
  char *text = ir_print(fn);
  FILE *f = fopen(path, "w");
  int dumped = f && text && fputs(text, f) >= 0;
  if (f && fclose(f) != 0) dumped = 0;
  free(text);
  fprintf(stderr, "kiln: internal error: IR invalid after pass '%s': %s\n", name, verr);
  if (dumped)
    fprintf(stderr, "kiln: the IR after '%s' is in %s\n", name, path);
  else
    fprintf(stderr, "kiln: could not write the IR after '%s' to %s\n", name, path);
  abort();
}

/* Runs one pass; on failure pc->err holds the pass's message and -1 is returned. IR that no longer
 * verifies after the pass (pc->verify_each) aborts (broken_by). */
int pass_run(ir_func *fn, pass_ctx *pc, const pass_info *p) {
  pc->err[0] = 0;
  if (p->run(fn, pc) != 0) {
    if (!pc->err[0]) snprintf(pc->err, sizeof pc->err, "pass '%s' failed", p->name);
    return -1;
  }
  if (pc->verify_each) {
    char verr[900];
    if (ir_verify(fn, verr, sizeof verr) != 0) broken_by(fn, p->name, verr);
  }
  if (pc->print_after_all) print_after(fn, pc->print_after_all, p->name);
  return 0;
}

static int run_named(ir_func *fn, pass_ctx *pc, const char *name) {
  const pass_info *p = pass_lookup(name);
  return p ? pass_run(fn, pc, p) : -1;
}

/* The default pipeline, in order. */
int pass_run_default(ir_func *fn, pass_ctx *pc) {
  if (run_named(fn, pc, "canonicalize")) return -1;
  if (run_named(fn, pc, "const-fold")) return -1;
  if (run_named(fn, pc, "cse")) return -1;
  if (run_named(fn, pc, "dce")) return -1;
  if (run_named(fn, pc, "wgmma")) return -1;
  if (run_named(fn, pc, "layout")) return -1;
  /* The layout pass inserts a conversion per use: merge those of one value to one layout. */
  if (run_named(fn, pc, "cse")) return -1;
  if (run_named(fn, pc, "dce")) return -1;
  if (run_named(fn, pc, "pipeline")) return -1;
  if (run_named(fn, pc, "shared-plan")) return -1;
  return 0;
}
