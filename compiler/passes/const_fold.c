/*
 * const_fold.c - placeholder entry point; the pass body follows in the next commit.
 */
#include "pass.h"

int pass_const_fold(ir_func *fn, pass_ctx *pc) { return 0; }
