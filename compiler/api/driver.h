/*
 * driver.h - the compile path behind kiln_compile and kiln_run (include/kiln.h) and the compile-speed
 * benchmark: recipe + settings -> tile IR -> default pass pipeline -> codegen (PTX or sim module),
 * with the on-disk kernel cache for PTX; and the ptxas bridge.
 */
#ifndef KILN_DRIVER_H
#define KILN_DRIVER_H

#include <stdint.h>
#include <stdio.h>

#include "../../codegen/codegen.h"
#include "../lua/kl_recipe.h"

typedef struct {
  const tg_target *target;
  cg_backend backend;
  int verify_each;       /* verify after every pass */
  FILE *print_after_all; /* --print-after-all */
  int no_cache;          /* bypass the kernel cache */
  int keep_llvm_ir;      /* keep the optimised LLVM IR as text (cg_result.llvm_ir) */
  int specialize; /* driver_compile_recipe: a kernel for these arguments' alignment (driver_specialize) */
  int cache_hit;  /* out: 1 if the PTX came from the cache */
} driver_opts;

/* Builds the recipe's kernel for the settings. On success returns 0 and fills out; *ir_out (if
 * non-NULL) receives the IR after the pipeline (caller destroys). On error -1 and a one-line message. */
int driver_compile_recipe(kl_recipe *r, const kl_settings *s, driver_opts *o, ir_func **ir_out,
                          cg_result *out, char *err, size_t errn);
/* Same, from IR already built (kiln opt / tests). fn is modified by the passes. */
int driver_compile_ir(ir_func *fn, driver_opts *o, cg_result *out, char *err, size_t errn);

/* Sets fn's alignment promises (ir_promises, docs/ir.md) for a launch at the recipe's settings: every
 * tensor (the caller passes 16-byte-aligned buffers: harness_alloc, cuMemAlloc) and every integer
 * argument by the largest of 16, 8 and 4 it is a multiple of; none when no argument qualifies. 0, or
 * -1 with the recipe's message. */
int driver_specialize(kl_recipe *r, const kl_settings *s, ir_func *fn, char *err, size_t errn);

/* Runs ptxas (PATH, then /usr/local/cuda/bin) on PTX. Returns 0 if accepted, 1 if ptxas is not
 * installed, -1 if rejected (message in err, ptxas's first error line). If cubin_out is non-NULL the
 * cubin is written there. If info is non-NULL it receives the resource report (-v) text. */
int driver_ptxas(const char *ptx, const char *arch, const char *cubin_out, char *info, size_t infon,
                 char *err, size_t errn);
const char *driver_ptxas_path(void); /* NULL if not found */

/* ptxas -v's figures: "N bytes stack frame, N bytes spill stores, N bytes spill loads", "Used N
 * registers, used N barriers, N bytes smem, ..." (a figure the report lacks stays 0). */
typedef struct {
  int registers, stack_bytes, spill_store_bytes, spill_load_bytes, static_shared_bytes, barriers;
} driver_ptxas_figures;
/* Reads them from ptxas -v's text into f; -1 if it has no register count. */
int driver_ptxas_parse(const char *info, driver_ptxas_figures *f);

#endif
