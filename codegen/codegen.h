/*
 * codegen.h - lowering laid-out tile IR to thread-level LLVM IR, and from there to PTX.
 *
 * One lowering, two back ends: every GPU-specific operation goes through the device-op interface
 * (devops.h); CG_NVPTX implements it with NVVM intrinsics and inline PTX, CG_SIM with calls into the
 * C simulator (sim/). Input: a verified function after the default pipeline (layouts assigned,
 * shared memory planned). Errors are user-facing (unsupported op on a target, shared memory too
 * large): a one-line message. An LLVM verifier failure is a compiler bug and aborts.
 */
#ifndef KILN_CODEGEN_H
#define KILN_CODEGEN_H

#include <stddef.h>

#include "../ir/ir.h"
#include "../target/target.h"

typedef enum { CG_NVPTX, CG_SIM } cg_backend;

typedef struct {
  char *kernel_name; /* malloc'd */
  int threads;       /* threads per block (warps * 32) */
  int shared_bytes;  /* dynamic shared memory per block */
  char *llvm_ir;     /* textual LLVM IR after LLVM's passes (malloc'd), with CG_KEEP_LLVM_IR only */
  char *ptx;         /* CG_NVPTX: PTX text (malloc'd); NULL for CG_SIM */
  void *llvm_ctx;    /* CG_SIM: the LLVMContextRef owning llvm_mod (ownership passes to the caller) */
  void *llvm_mod;    /* CG_SIM: the LLVMModuleRef to JIT */
  /* The tensor maps the kernel takes after its IR parameters, one line each (malloc'd; NULL: none):
   *   kiln-tmap param=P arg=A type=T rank=2 swizzle=W box=B0,B1 dims=D0;D1 strides=S1
   * parameter P is a map of kernel argument A (a pointer) with element type T (f16 bf16 f32 i32 u8),
   * swizzle W bytes, box B0 x B1 elements (innermost first), dims and byte stride as expressions
   * of the arguments (runtime/pack_expr.c's tokens joined by commas). The PTX carries the same lines
   * as comments (rt_tmap_spec_parse reads them). */
  char *tmaps;
  /* The parameters (bit i: parameter i) whose promise (`aligned`, `aligned8` or `aligned4`, the
   * strongest the kernel has; docs/ir.md) the code relies on: the kernel is the same for any masks
   * that keep these promises; 0 for a kernel any launch may use. */
  uint64_t aligned_used;
  /* The calling thread's CPU time in milliseconds in each step of cg_compile: kiln's lowering to a
   * verified LLVM module, LLVM's pass pipeline, and (CG_NVPTX) NVPTX code generation to PTX. */
  double ms_lower, ms_opt, ms_emit;
} cg_result;

/* cg_compile's flags. CG_KEEP_LLVM_IR: keep the optimised module as text in out->llvm_ir (printing
 * it is a few percent of a compile, so only `--emit llvm` and tests ask for it). */
enum { CG_KEEP_LLVM_IR = 1 };

/* Lowers fn for target t. Returns 0, or -1 with a one-line message in err. */
int cg_compile(ir_func *fn, const tg_target *t, cg_backend be, unsigned flags, cg_result *out, char *err,
               size_t errn);
void cg_result_free(cg_result *r);

/* LLVM version string baked into cache keys ("22.1.8"). */
const char *cg_llvm_version(void);
/* The LLVM pass pipeline in effect: default<O3>, kiln's (KILN_LLVM_PASSES=kiln), or KILN_LLVM_PASSES's text.
 */
const char *cg_llvm_passes(void);
/* The pipeline a kernel is optimised with: for PTX (nvptx = 1), unless KILN_LLVM_PASSES says
 * otherwise, cg_llvm_passes_lean(the kernel has a `dot`); cg_llvm_passes() for the simulator. */
const char *cg_llvm_passes_for(const ir_func *fn, int nvptx);
/* default<O3> without its SLP vectoriser, spelled out as LLVM llvm_version prints it. */
const char *cg_llvm_passes_o3_without_slp(const char **llvm_version);
/* default<O3> spelled out with three of its eight InstCombine runs, the first, the third and the last,
 * or, when slp is 0, without the SLP vectoriser and with the first and third (docs/compile-speed.md). */
const char *cg_llvm_passes_lean(int slp);
/* Runs the pass pipeline `passes` over the LLVMModuleRef mod for the LLVMTargetMachineRef tm (NULL:
 * none); when `passes` does not parse and `fallback` is not NULL, `fallback` instead. 0 on success,
 * -1 with LLVM's message in err. */
int cg_run_passes(void *mod, void *tm, const char *passes, const char *fallback, char *err, size_t errn);

#endif
