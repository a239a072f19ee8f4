/*
 * devops_nvptx.c - the device ops for NVIDIA GPUs: NVVM intrinsics, LLVM's NVPTX address spaces.
 *
 *   - global memory is address space 1 (kernel pointer parameters point there), shared memory
 *     address space 3: one external `[0 x i8]` array, `kiln_smem`, the block's dynamic shared memory
 *     (its size is given at launch: cg_result.shared_bytes);
 *   - the kernel has the PTX-kernel calling convention (71) and "nvvm.maxntid" (launch bounds), and
 *     "nvvm.minctasm" (.minnctapersm) when the IR kernel has `min_blocks`;
 *   - special registers, the CTA barrier and warp shuffles are llvm.nvvm.* intrinsics;
 *   - masked loads and stores are a branch around the access (ptxas turns short ones into predicated
 *     instructions); a masked load joins with `other`;
 *   - math: ex2.approx.ftz / lg2.approx / rsqrt.approx in f32 (exp and log scaled through them), IEEE
 *     sqrt. exp2 flushes subnormal results to 0 (.ftz: one MUFU, where the non-ftz form adds the
 *     scaling around it); the simulator does the same. f64 has no exp2/log2 instruction: those are
 *     computed in f32 (docs/codegen.md).
 */
#include <stdio.h>
#include <string.h>

#include "cg.h"

#define SMEM_NAME "kiln_smem"

/* LLVM 22's NVPTX64 data layout; codegen.c replaces it with the target machine's before emission. */
#define NVPTX_DATA_LAYOUT "e-p6:32:32-i64:64-i128:128-i256:256-v16:16-v32:32-n16:32:64"

static LLVMValueRef intrinsic(cg_ctx *c, const char *name, LLVMTypeRef ret, LLVMValueRef *args, unsigned n) {
  LLVMTypeRef ps[4];
  for (unsigned i = 0; i < n; i++) ps[i] = LLVMTypeOf(args[i]);
  LLVMTypeRef ft = LLVMFunctionType(ret, ps, n, 0);
  LLVMValueRef f = LLVMGetNamedFunction(c->mod, name);
  if (!f) f = LLVMAddFunction(c->mod, name, ft);
  return LLVMBuildCall2(c->b, ft, f, args, n, "");
}

static LLVMValueRef i32c(cg_ctx *c, int v) {
  return LLVMConstInt(LLVMInt32TypeInContext(c->ctx), (unsigned)v, 1);
}

static void nvptx_module_init(cg_ctx *c) {
  LLVMSetTarget(c->mod, "nvptx64-nvidia-cuda");
  LLVMSetDataLayout(c->mod, NVPTX_DATA_LAYOUT);
  LLVMTypeRef arr = LLVMArrayType2(LLVMInt8TypeInContext(c->ctx), 0);
  LLVMValueRef g = LLVMAddGlobalInAddressSpace(c->mod, arr, SMEM_NAME, 3);
  LLVMSetLinkage(g, LLVMExternalLinkage);
  LLVMSetAlignment(g, 1024); /* wgmma operands sit at multiples of 1024 bytes (wgmma_plan.c) */
}

static LLVMTypeRef nvptx_global_ptr(cg_ctx *c) { return LLVMPointerTypeInContext(c->ctx, 1); }
static LLVMTypeRef nvptx_shared_ptr(cg_ctx *c) { return LLVMPointerTypeInContext(c->ctx, 3); }

static LLVMValueRef nvptx_kernel_begin(cg_ctx *c, const char *name, LLVMTypeRef *params, unsigned n) {
  LLVMTypeRef ft = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, n, 0);
  c->fn = LLVMAddFunction(c->mod, name, ft);
  LLVMSetFunctionCallConv(c->fn, 71); /* PTX kernel */
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, c->fn, "entry"));
  return c->fn;
}

static void nvptx_kernel_end(cg_ctx *c) {
  char v[16];
  /* block_threads 0: a context made without codegen.c (the unit tests' hand-built kernels) */
  int n = snprintf(v, sizeof v, "%d", c->block_threads ? c->block_threads : c->threads);
  static const char key[] = "nvvm.maxntid", minkey[] = "nvvm.minctasm";
  LLVMAttributeRef a = LLVMCreateStringAttribute(c->ctx, key, sizeof key - 1, v, (unsigned)n);
  LLVMAddAttributeAtIndex(c->fn, LLVMAttributeFunctionIndex, a);
  if (c->min_blocks > 0) { /* .minnctapersm: ptxas keeps the registers within what that many blocks allow */
    n = snprintf(v, sizeof v, "%d", c->min_blocks);
    a = LLVMCreateStringAttribute(c->ctx, minkey, sizeof minkey - 1, v, (unsigned)n);
    LLVMAddAttributeAtIndex(c->fn, LLVMAttributeFunctionIndex, a);
  }
}

static LLVMValueRef nvptx_sreg(cg_ctx *c, cg_sreg r) {
  static const char *names[CG_NSREG] = {
      [CG_TID_X] = "tid.x",       [CG_NTID_X] = "ntid.x",     [CG_CTAID_X] = "ctaid.x",
      [CG_CTAID_Y] = "ctaid.y",   [CG_CTAID_Z] = "ctaid.z",   [CG_NCTAID_X] = "nctaid.x",
      [CG_NCTAID_Y] = "nctaid.y", [CG_NCTAID_Z] = "nctaid.z", [CG_LANEID] = "laneid",
  };
  char name[64];
  snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.%s", names[r]);
  return intrinsic(c, name, LLVMInt32TypeInContext(c->ctx), NULL, 0);
}

static void nvptx_named_barrier(cg_ctx *c, LLVMValueRef id, int n, int arrive) {
  LLVMValueRef a[2] = {id, i32c(c, n)};
  intrinsic(
      c, arrive ? "llvm.nvvm.barrier.cta.arrive.aligned.count" : "llvm.nvvm.barrier.cta.sync.aligned.count",
      LLVMVoidTypeInContext(c->ctx), a, 2);
}

static void nvptx_barrier(cg_ctx *c) {
  if (c->bar_threads) { /* bar.sync 1, n: the consumers of a warp_split */
    nvptx_named_barrier(c, i32c(c, 1), c->bar_threads, 0);
    return;
  }
  LLVMValueRef id = i32c(c, 0);
  intrinsic(c, "llvm.nvvm.barrier.cta.sync.aligned.all", LLVMVoidTypeInContext(c->ctx), &id, 1);
}

static LLVMValueRef nvptx_prmt(cg_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef sel) {
  LLVMValueRef args[3] = {a, b, sel};
  return intrinsic(c, "llvm.nvvm.prmt", LLVMInt32TypeInContext(c->ctx), args, 3);
}

static LLVMValueRef nvptx_fp8x2_decode(cg_ctx *c, LLVMValueRef pair, int e) {
  LLVMTypeRef h2 = LLVMVectorType(LLVMHalfTypeInContext(c->ctx), 2);
  return intrinsic(c, e == IR_E5M2 ? "llvm.nvvm.e5m2x2.to.f16x2.rn" : "llvm.nvvm.e4m3x2.to.f16x2.rn", h2,
                   &pair, 1);
}

static LLVMValueRef nvptx_fp8x2_encode(cg_ctx *c, LLVMValueRef lo, LLVMValueRef hi, int e) {
  LLVMValueRef args[2] = {hi, lo}; /* cvt's first source goes to the upper byte */
  return intrinsic(c, e == IR_E5M2 ? "llvm.nvvm.ff.to.e5m2x2.rn" : "llvm.nvvm.ff.to.e4m3x2.rn",
                   LLVMInt16TypeInContext(c->ctx), args, 2);
}

static LLVMValueRef nvptx_shfl(cg_ctx *c, cg_shfl mode, LLVMValueRef v, LLVMValueRef arg) {
  static const char *names[] = {[CG_SHFL_XOR] = "llvm.nvvm.shfl.sync.bfly.i32",
                                [CG_SHFL_IDX] = "llvm.nvvm.shfl.sync.idx.i32",
                                [CG_SHFL_UP] = "llvm.nvvm.shfl.sync.up.i32",
                                [CG_SHFL_DOWN] = "llvm.nvvm.shfl.sync.down.i32"};
  LLVMValueRef args[4] = {i32c(c, -1), v, arg, i32c(c, mode == CG_SHFL_UP ? 0 : 0x1f)};
  return intrinsic(c, names[mode], LLVMInt32TypeInContext(c->ctx), args, 4);
}

static LLVMValueRef nvptx_shared_base(cg_ctx *c) { return LLVMGetNamedGlobal(c->mod, SMEM_NAME); }

/* 1: pred is absent or the constant true; -1: the constant false; 0: known at run time only. */
static int pred_kind(LLVMValueRef pred) {
  if (!pred) return 1;
  if (!LLVMIsAConstantInt(pred)) return 0;
  return LLVMConstIntGetZExtValue(pred) ? 1 : -1;
}

/* The PTX register class that carries a value of type ty: its width in bits (8-bit values travel in
 * 16-bit registers) and the inline-asm constraint letter. */
static int reg_bits(LLVMTypeRef ty, char *letter) {
  unsigned bits = LLVMGetTypeKind(ty) == LLVMIntegerTypeKind  ? LLVMGetIntTypeWidth(ty)
                  : LLVMGetTypeKind(ty) == LLVMDoubleTypeKind ? 64
                  : LLVMGetTypeKind(ty) == LLVMFloatTypeKind  ? 32
                                                              : 16;
  int reg = bits <= 16 ? 16 : (int)bits;
  *letter = reg == 16 ? 'h' : reg == 32 ? 'r' : 'l';
  return (int)bits;
}

/* v (of type ty) as the integer register type, and back. */
static LLVMValueRef to_reg(cg_ctx *c, LLVMValueRef v, int bits) {
  LLVMValueRef x = LLVMBuildBitCast(c->b, v, LLVMIntTypeInContext(c->ctx, (unsigned)bits), "");
  return bits < 16 ? LLVMBuildZExt(c->b, x, LLVMInt16TypeInContext(c->ctx), "") : x;
}

static LLVMValueRef from_reg(cg_ctx *c, LLVMValueRef r, LLVMTypeRef ty, int bits) {
  if (bits < 16) r = LLVMBuildTrunc(c->b, r, LLVMIntTypeInContext(c->ctx, (unsigned)bits), "");
  return LLVMBuildBitCast(c->b, r, ty, "");
}

static LLVMValueRef asm_call(cg_ctx *c, LLVMTypeRef ret, const char *text, const char *cons,
                             LLVMValueRef *args, unsigned n, int side_effects) {
  LLVMTypeRef ps[12];
  for (unsigned i = 0; i < n; i++) ps[i] = LLVMTypeOf(args[i]);
  LLVMTypeRef ft = LLVMFunctionType(ret, ps, n, 0);
  LLVMValueRef a = LLVMGetInlineAsm(ft, (char *)text, strlen(text), (char *)cons, strlen(cons), side_effects,
                                    0, LLVMInlineAsmDialectATT, 0);
  return LLVMBuildCall2(c->b, ft, a, args, n, "");
}

/* A move that LLVM cannot see through; it reads no memory and may run anywhere, so that it still
 * leaves loops (LICM) where its operand is invariant. */
static LLVMValueRef nvptx_pin(cg_ctx *c, LLVMValueRef ptr) {
  LLVMTypeRef i64 = LLVMInt64TypeInContext(c->ctx);
  LLVMValueRef x = LLVMBuildPtrToInt(c->b, ptr, i64, "");
  x = asm_call(c, i64, "mov.b64 $0, $1;", "=l,l", &x, 1, 0);
  static const char *const attrs[] = {"nounwind", "willreturn", "memory"};
  for (unsigned i = 0; i < sizeof attrs / sizeof *attrs; i++) {
    unsigned k = LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i]));
    LLVMAddCallSiteAttribute(x, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, k, 0));
  }
  return LLVMBuildIntToPtr(c->b, x, LLVMTypeOf(ptr), "pinned");
}

/* (a & m) | k: lop3 with the truth table 0xea (a & b | c); the constants as immediates. */
static LLVMValueRef nvptx_and_or(cg_ctx *c, LLVMValueRef a, LLVMValueRef m, LLVMValueRef k) {
  LLVMValueRef args[3] = {a, m, k};
  LLVMValueRef r =
      asm_call(c, LLVMInt32TypeInContext(c->ctx), "lop3.b32 $0, $1, $2, $3, 0xea;", "=r,r,n,n", args, 3, 0);
  static const char *const attrs[] = {"nounwind", "willreturn", "memory"};
  for (unsigned i = 0; i < sizeof attrs / sizeof *attrs; i++) {
    unsigned kind = LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i]));
    LLVMAddCallSiteAttribute(r, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, kind, 0));
  }
  return r;
}

/* Appends "{$a, $a+1, ...}" (n operands from a) to text. */
static int put_regs(char *text, size_t size, int len, unsigned n, int a) {
  len += snprintf(text + len, size - len, "{");
  for (unsigned i = 0; i < n; i++) len += snprintf(text + len, size - len, "%s$%u", i ? ", " : "", a + i);
  return len + snprintf(text + len, size - len, "}");
}

/* A masked access is one predicated PTX instruction (no branch), so that a tile's worth of them
 * stays one basic block. Loads clobber "memory" too: LLVM then keeps them in order with stores and
 * barriers (an asm statement without it counts as reading no memory at all). */
static LLVMValueRef nvptx_load(cg_ctx *c, cg_space sp, LLVMTypeRef ty, LLVMValueRef ptr, LLVMValueRef pred,
                               LLVMValueRef other) {
  int k = pred_kind(pred);
  if (k == 1) return LLVMBuildLoad2(c->b, ty, ptr, "");
  if (k == -1) return other;
  char letter, text[256], cons[32];
  int bits = reg_bits(ty, &letter);
  int reg = bits < 16 ? 16 : bits;
  snprintf(text, sizeof text, "mov.b%d $0, $3;\n@$2 ld.%s.b%d $0, [$1];", reg,
           sp == CG_SHARED ? "shared" : "global", bits);
  snprintf(cons, sizeof cons, "=%c,l,b,%c,~{memory}", letter, letter);
  LLVMTypeRef rt = LLVMIntTypeInContext(c->ctx, (unsigned)reg);
  LLVMValueRef args[3] = {ptr, pred, to_reg(c, other, bits)};
  return from_reg(c, asm_call(c, rt, text, cons, args, 3, 0), ty, bits);
}

static void nvptx_store(cg_ctx *c, cg_space sp, LLVMValueRef ptr, LLVMValueRef val, LLVMValueRef pred) {
  int k = pred_kind(pred);
  if (k == -1) return;
  if (k == 1) {
    LLVMBuildStore(c->b, val, ptr);
    return;
  }
  char letter, text[256], cons[32];
  if (LLVMGetTypeKind(LLVMTypeOf(val)) == LLVMVectorTypeKind) { /* <n x i32>: one st.v<n>.b32 */
    unsigned n = LLVMGetVectorSize(LLVMTypeOf(val));
    LLVMValueRef args[6] = {ptr, pred};
    int len =
        snprintf(text, sizeof text, "@$1 st.%s.v%u.b32 [$0], ", sp == CG_SHARED ? "shared" : "global", n);
    len = put_regs(text, sizeof text, len, n, 2);
    snprintf(text + len, sizeof text - len, ";");
    int cl = snprintf(cons, sizeof cons, "l,b");
    for (unsigned i = 0; i < n; i++) {
      args[2 + i] =
          LLVMBuildExtractElement(c->b, val, LLVMConstInt(LLVMInt32TypeInContext(c->ctx), i, 0), "");
      cl += snprintf(cons + cl, sizeof cons - cl, ",r");
    }
    snprintf(cons + cl, sizeof cons - cl, ",~{memory}");
    asm_call(c, LLVMVoidTypeInContext(c->ctx), text, cons, args, 2 + n, 1);
    return;
  }
  int bits = reg_bits(LLVMTypeOf(val), &letter);
  snprintf(text, sizeof text, "@$2 st.%s.b%d [$0], $1;", sp == CG_SHARED ? "shared" : "global", bits);
  snprintf(cons, sizeof cons, "l,%c,b,~{memory}", letter);
  LLVMValueRef args[3] = {ptr, to_reg(c, val, bits), pred};
  asm_call(c, LLVMVoidTypeInContext(c->ctx), text, cons, args, 3, 1);
}

/* ---- groups of consecutive elements ---- */

/* i1: every pred[i] is on and ptr is aligned to n * bytes (then one wide access serves them all). */
static LLVMValueRef whole_group(cg_ctx *c, unsigned n, int bytes, LLVMValueRef ptr, LLVMValueRef *pred) {
  LLVMTypeRef i64 = LLVMInt64TypeInContext(c->ctx);
  LLVMValueRef addr = LLVMBuildPtrToInt(c->b, ptr, i64, "");
  LLVMValueRef low = LLVMBuildAnd(c->b, addr, LLVMConstInt(i64, n * (unsigned)bytes - 1, 0), "");
  LLVMValueRef all = LLVMBuildICmp(c->b, LLVMIntEQ, low, LLVMConstInt(i64, 0, 0), "");
  for (unsigned i = 0; i < n; i++) all = LLVMBuildAnd(c->b, all, pred[i], "");
  return all;
}

/* One asm statement: the wide access under `whole`, else each element under its own predicate (so
 * that exactly one of the two paths touches memory, with no branch). */
static void nvptx_load_vec(cg_ctx *c, cg_space sp, LLVMTypeRef ty, unsigned n, LLVMValueRef ptr,
                           LLVMValueRef *pred, LLVMValueRef other, LLVMValueRef *out) {
  char letter, text[1024], cons[128];
  int bits = reg_bits(ty, &letter), bytes = bits / 8, len = 0, cl = 0;
  const char *space = sp == CG_SHARED ? "shared" : "global";
  LLVMValueRef whole = whole_group(c, n, bytes, ptr, pred);
  /* operands: $0..$n-1 outputs, $n ptr, $n+1 whole, $n+2.. per-element predicates, then other */
  unsigned po = n, pw = n + 1, pp = n + 2, pother = 2 * n + 2;
  for (unsigned i = 0; i < n; i++)
    len += snprintf(text + len, sizeof text - len, "mov.b%d $%u, $%u;\n", bits, i, pother);
  len += snprintf(text + len, sizeof text - len, "@$%u ld.%s.v%u.b%d ", pw, space, n, bits);
  len = put_regs(text, sizeof text, len, n, 0);
  len += snprintf(text + len, sizeof text - len, ", [$%u];\n", po);
  for (unsigned i = 0; i < n; i++)
    len += snprintf(text + len, sizeof text - len, "@$%u ld.%s.b%d $%u, [$%u+%u];\n", pp + i, space, bits, i,
                    po, i * (unsigned)bytes);
  for (unsigned i = 0; i < n; i++) cl += snprintf(cons + cl, sizeof cons - cl, "=%c,", letter);
  cl += snprintf(cons + cl, sizeof cons - cl, "l,b");
  for (unsigned i = 0; i < n; i++) cl += snprintf(cons + cl, sizeof cons - cl, ",b");
  snprintf(cons + cl, sizeof cons - cl, ",%c,~{memory}", letter);
  LLVMValueRef args[12];
  unsigned na = 0;
  args[na++] = ptr;
  args[na++] = whole;
  LLVMValueRef notwhole = LLVMBuildNot(c->b, whole, "");
  for (unsigned i = 0; i < n; i++) args[na++] = LLVMBuildAnd(c->b, pred[i], notwhole, "");
  args[na++] = to_reg(c, other, bits);
  LLVMTypeRef reg = LLVMIntTypeInContext(c->ctx, (unsigned)(bits < 16 ? 16 : bits));
  LLVMTypeRef fields[4] = {reg, reg, reg, reg};
  LLVMValueRef r = asm_call(c, LLVMStructTypeInContext(c->ctx, fields, n, 0), text, cons, args, na, 0);
  for (unsigned i = 0; i < n; i++) out[i] = from_reg(c, LLVMBuildExtractValue(c->b, r, i, ""), ty, bits);
}

static void nvptx_store_vec(cg_ctx *c, cg_space sp, unsigned n, LLVMValueRef ptr, LLVMValueRef *vals,
                            LLVMValueRef *pred) {
  char letter, text[1024], cons[128];
  int bits = reg_bits(LLVMTypeOf(vals[0]), &letter), bytes = bits / 8, len = 0, cl = 0;
  const char *space = sp == CG_SHARED ? "shared" : "global";
  LLVMValueRef whole = whole_group(c, n, bytes, ptr, pred);
  /* operands: $0 ptr, $1..$n values, $n+1 whole, $n+2.. per-element predicates */
  unsigned pw = n + 1, pp = n + 2;
  len += snprintf(text + len, sizeof text - len, "@$%u st.%s.v%u.b%d [$0], ", pw, space, n, bits);
  len = put_regs(text, sizeof text, len, n, 1);
  len += snprintf(text + len, sizeof text - len, ";\n");
  for (unsigned i = 0; i < n; i++)
    len += snprintf(text + len, sizeof text - len, "@$%u st.%s.b%d [$0+%u], $%u;\n", pp + i, space, bits,
                    i * (unsigned)bytes, 1 + i);
  cl += snprintf(cons + cl, sizeof cons - cl, "l");
  for (unsigned i = 0; i < n; i++) cl += snprintf(cons + cl, sizeof cons - cl, ",%c", letter);
  cl += snprintf(cons + cl, sizeof cons - cl, ",b");
  for (unsigned i = 0; i < n; i++) cl += snprintf(cons + cl, sizeof cons - cl, ",b");
  snprintf(cons + cl, sizeof cons - cl, ",~{memory}");
  LLVMValueRef args[12];
  unsigned na = 0;
  args[na++] = ptr;
  for (unsigned i = 0; i < n; i++) args[na++] = to_reg(c, vals[i], bits);
  args[na++] = whole;
  LLVMValueRef notwhole = LLVMBuildNot(c->b, whole, "");
  for (unsigned i = 0; i < n; i++) args[na++] = LLVMBuildAnd(c->b, pred[i], notwhole, "");
  asm_call(c, LLVMVoidTypeInContext(c->ctx), text, cons, args, na, 1);
}

static LLVMValueRef math_f32(cg_ctx *c, cg_math m, LLVMValueRef x) {
  LLVMTypeRef f32 = LLVMFloatTypeInContext(c->ctx);
  switch (m) {
  case CG_EXP2: return intrinsic(c, "llvm.nvvm.ex2.approx.ftz.f32", f32, &x, 1);
  case CG_LOG2: return intrinsic(c, "llvm.nvvm.lg2.approx.f", f32, &x, 1);
  case CG_EXP:
    x = LLVMBuildFMul(c->b, x, LLVMConstReal(f32, 1.4426950408889634), "");
    return intrinsic(c, "llvm.nvvm.ex2.approx.ftz.f32", f32, &x, 1);
  case CG_LOG:
    return LLVMBuildFMul(c->b, intrinsic(c, "llvm.nvvm.lg2.approx.f", f32, &x, 1),
                         LLVMConstReal(f32, 0.6931471805599453), "");
  case CG_SQRT: return intrinsic(c, "llvm.sqrt.f32", f32, &x, 1);
  case CG_RSQRT: return intrinsic(c, "llvm.nvvm.rsqrt.approx.f", f32, &x, 1);
  default: return NULL;
  }
}

static LLVMValueRef nvptx_math(cg_ctx *c, cg_math m, LLVMValueRef x) {
  LLVMTypeRef ty = LLVMTypeOf(x);
  if (LLVMGetTypeKind(ty) != LLVMDoubleTypeKind) return math_f32(c, m, x);
  if (m == CG_SQRT) return intrinsic(c, "llvm.sqrt.f64", ty, &x, 1);
  if (m == CG_RSQRT) return intrinsic(c, "llvm.nvvm.rsqrt.approx.d", ty, &x, 1);
  LLVMValueRef r = math_f32(c, m, LLVMBuildFPTrunc(c->b, x, LLVMFloatTypeInContext(c->ctx), ""));
  return LLVMBuildFPExt(c->b, r, ty, "");
}

const cg_devops cg_devops_nvptx = {
    .name = "nvptx",
    .module_init = nvptx_module_init,
    .global_ptr_type = nvptx_global_ptr,
    .shared_ptr_type = nvptx_shared_ptr,
    .kernel_begin = nvptx_kernel_begin,
    .kernel_end = nvptx_kernel_end,
    .sreg = nvptx_sreg,
    .barrier = nvptx_barrier,
    .named_barrier = nvptx_named_barrier,
    .shfl = nvptx_shfl,
    .prmt = nvptx_prmt,
    .fp8x2_decode = nvptx_fp8x2_decode,
    .fp8x2_encode = nvptx_fp8x2_encode,
    .shared_base = nvptx_shared_base,
    .load = nvptx_load,
    .store = nvptx_store,
    .math = nvptx_math,
    .load_vec = nvptx_load_vec,
    .store_vec = nvptx_store_vec,
    .pin = nvptx_pin,
    .and_or = nvptx_and_or,
    .mma = cg_nvptx_mma,
    .ldmatrix = cg_nvptx_ldmatrix,
    .cp_async = cg_nvptx_cp_async,
    .cp_async_commit = cg_nvptx_cp_async_commit,
    .cp_async_wait = cg_nvptx_cp_async_wait,
    .hopper = &cg_hopper_nvptx,
};
