/*
 * devops.h - the device-op interface: everything GPU-specific that lowered code does.
 *
 * The lowering (codegen/lower_*.c) emits thread-level LLVM IR: plain arithmetic inline, and every
 * thread/block id, barrier, shuffle, memory access to global or shared memory, and special math
 * function through one of these hooks. Two implementations:
 *   cg_devops_nvptx (devops_nvptx.c): NVVM intrinsics / inline PTX, address spaces 1 and 3;
 *   cg_devops_sim   (devops_sim.c):   calls into the C simulator (codegen/sim_abi.h), which checks
 *                                     every access and makes barriers and shuffles rendezvous.
 * Masked memory ops take an i1 predicate (NULL = always): a false lane does not touch memory and a
 * masked load yields `other`.
 */
#ifndef KILN_DEVOPS_H
#define KILN_DEVOPS_H

#include <llvm-c/Core.h>

#include "../target/target.h"
#include "devops_hopper.h"
#include "devops_mma.h"

typedef struct cg_devops cg_devops;

/* Per-kernel lowering state shared by the lowering and the device ops. */
typedef struct cg_ctx {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMValueRef fn; /* the kernel function */
  const tg_target *target;
  const cg_devops *ops;
  int threads;       /* threads that run the kernel's tile code: its warps * 32 */
  int block_threads; /* threads per block: `threads`, and a producer warpgroup's 128 with a warp_split */
  /* 0: `barrier` is bar.sync 0 for the whole block; n: a named barrier (1) of n threads, the
   * consumers of a warp_split (cg_lower_warp_split) */
  int bar_threads;
  int min_blocks;   /* blocks per SM the register allocation must fit (kernel `min_blocks`; 0: none) */
  int shared_bytes; /* dynamic shared memory per block (planned + scratch) */
  void *backend;    /* the device-op implementation's private state */
  /* 1 while a copy whose threads move 4 or more chunks each is lowered (lower_memory.c): an
   * all-or-nothing cp_async is then one instruction with a computed source size, not a copy and a
   * zero fill (devops_nvptx_mma.c says why only there). */
  int wide_copy;
  const char
      *site; /* the IR op being lowered, e.g. "load %5 (softmax.lua:12)": the simulator's reports name it */
} cg_ctx;

typedef enum { CG_GLOBAL, CG_SHARED } cg_space;

typedef enum {
  CG_TID_X,
  CG_NTID_X,
  CG_CTAID_X,
  CG_CTAID_Y,
  CG_CTAID_Z,
  CG_NCTAID_X,
  CG_NCTAID_Y,
  CG_NCTAID_Z,
  CG_LANEID,
  CG_NSREG
} cg_sreg;

typedef enum { CG_SHFL_XOR, CG_SHFL_IDX, CG_SHFL_UP, CG_SHFL_DOWN } cg_shfl;

typedef enum { CG_EXP2, CG_LOG2, CG_EXP, CG_LOG, CG_SQRT, CG_RSQRT, CG_NMATH } cg_math;

struct cg_devops {
  const char *name; /* "nvptx", "sim" */
  /* Sets triple/data layout on c->mod and any module-level declarations. */
  void (*module_init)(cg_ctx *c);
  /* Pointer types for global and shared memory. */
  LLVMTypeRef (*global_ptr_type)(cg_ctx *c);
  LLVMTypeRef (*shared_ptr_type)(cg_ctx *c);
  /* Creates the kernel function (entry block positioned) and stores it in c->fn. */
  LLVMValueRef (*kernel_begin)(cg_ctx *c, const char *name, LLVMTypeRef *params, unsigned n);
  /* Called after the body: launch bounds, shared size, metadata. */
  void (*kernel_end)(cg_ctx *c);
  LLVMValueRef (*sreg)(cg_ctx *c, cg_sreg r); /* i32 */
  void (*barrier)(cg_ctx *c);                 /* bar.sync 0 for the whole block */
  /* Named barrier `id` (an i32, warp-uniform, 1..15) of n threads: bar.sync id, n (arrive = 0: wait
   * until n threads have come), or bar.arrive id, n (arrive = 1: count towards them and go on). */
  void (*named_barrier)(cg_ctx *c, LLVMValueRef id, int n, int arrive);
  /* Warp shuffle of an i32 over all 32 lanes (full mask); `arg` is the lane mask/index/delta. */
  LLVMValueRef (*shfl)(cg_ctx *c, cg_shfl mode, LLVMValueRef v, LLVMValueRef arg);
  /* Base of the block's dynamic shared memory (shared_ptr_type). */
  LLVMValueRef (*shared_base)(cg_ctx *c);
  LLVMValueRef (*load)(cg_ctx *c, cg_space sp, LLVMTypeRef ty, LLVMValueRef ptr, LLVMValueRef pred,
                       LLVMValueRef other);
  void (*store)(cg_ctx *c, cg_space sp, LLVMValueRef ptr, LLVMValueRef val, LLVMValueRef pred);
  /* Special math on f32 or f64 (the value's type). */
  LLVMValueRef (*math)(cg_ctx *c, cg_math m, LLVMValueRef x);
  /* Optional (NULL: the lowering makes n single accesses instead). n (2 or 4) consecutive elements of
   * type ty (16, 32 or 64 bits) starting at ptr; element i is accessed iff pred[i]; a masked-off
   * element of a load yields `other`. An implementation may use one wide access when all are on and
   * ptr is aligned to the whole group. */
  void (*load_vec)(cg_ctx *c, cg_space sp, LLVMTypeRef ty, unsigned n, LLVMValueRef ptr, LLVMValueRef *pred,
                   LLVMValueRef other, LLVMValueRef *out);
  void (*store_vec)(cg_ctx *c, cg_space sp, unsigned n, LLVMValueRef ptr, LLVMValueRef *vals,
                    LLVMValueRef *pred);
  /* Optional (NULL: nothing). Called in a loop's latch just before its back-edge, with c->site the loop
   * op; adds no block. The simulator counts loop iterations there, so that its watchdog can stop a
   * thread that never ends even when the loop makes no device op. */
  void (*loop_back)(cg_ctx *c);
  /* Optional (NULL: ptr itself). The global pointer ptr, unchanged, as a value the optimizer cannot
   * take apart: a loop-invariant per-thread pointer that must stay one register (LLVM's loop
   * strength reduction would otherwise move its parts into the loop: lower_memory.c's copies). */
  LLVMValueRef (*pin)(cg_ctx *c, LLVMValueRef ptr);
  /* Optional (NULL: an and and an or). (a & m) | k for an i32 a and i32 constants m and k as one
   * instruction: ptxas gives a plain and/or pair one immediate each (two LOP3), a lop3 with both a
   * LOP3 and a register holding one constant for the whole kernel (w4a16's field mask and exponent). */
  LLVMValueRef (*and_or)(cg_ctx *c, LLVMValueRef a, LLVMValueRef m, LLVMValueRef k);
  /* Optional (NULL: the same in shifts and masks, lower_mma.c's prmt). prmt.b32 with a selector in a
   * register: byte i of the result is byte (sel >> 4i) & 7 of the eight bytes of a (0-3) and b (4-7); the
   * selector's sign-replicate bits are not used. */
  LLVMValueRef (*prmt)(cg_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef sel);
  /* Optional (NULL: one element at a time in plain LLVM IR, lower_cast.c), used where the target has
   * fp8 conversions (TG_F_FP8_CVT). fp8x2_decode: two fp8 of type e (IR_E4M3, IR_E5M2) packed in an
   * i16, element 0 in the low byte, to <2 x half> (exact). fp8x2_encode: two f32 to an i16 of two fp8,
   * lo in the low byte, each rounded to nearest even and saturated to the largest finite value (NaN
   * stays NaN): cvt.rn.f16x2.e4m3x2 and cvt.rn.satfinite.e4m3x2.f32 (and the e5m2 forms). */
  LLVMValueRef (*fp8x2_decode)(cg_ctx *c, LLVMValueRef pair, int e);
  LLVMValueRef (*fp8x2_encode)(cg_ctx *c, LLVMValueRef lo, LLVMValueRef hi, int e);
  /* Optional (NULL: nothing). Op `bounded`: a recipe's statement that i64 v lies in [0, n) (the
   * simulator reports a value outside it; on the GPU the statement is taken as given). */
  void (*check_bound)(cg_ctx *c, LLVMValueRef v, LLVMValueRef n);
  /* Tensor-core ops (devops_mma.h: contracts, fragment layouts in docs/tensor-cores.md). The caller
   * checks the target first (cg_mma_check, cg_tc_check). */
  cg_mma_fn mma;
  cg_ldmatrix_fn ldmatrix;
  cg_cp_async_fn cp_async;
  cg_cp_async_commit_fn cp_async_commit;
  cg_cp_async_wait_fn cp_async_wait;
  /* Hopper ops (devops_hopper.h); the caller checks the target first (cg_wgmma_check, cg_hopper_check). */
  const cg_hopper_ops *hopper;
};

extern const cg_devops cg_devops_nvptx;
extern const cg_devops cg_devops_sim;

#endif
