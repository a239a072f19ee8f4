/*
 * canonicalize.c - placeholder entry point; the pass body follows in the next commit.
 */
#include "pass.h"

int pass_canonicalize(ir_func *fn, pass_ctx *pc) { return 0; }
