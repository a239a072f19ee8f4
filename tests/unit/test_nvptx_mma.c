/*
 * test_nvptx_mma.c - the NVPTX tensor-core device ops: for every mma kind, ldmatrix (x1/x2/x4, with
 * and without .trans) and cp.async (4/8/16 bytes, with and without zero fill, commit, wait), a small
 * kernel is built with the LLVM-C API through the hooks, verified, compiled to PTX by LLVM's NVPTX
 * backend for each target row that has the feature, checked for the expected instruction, and given
 * to ptxas, which must accept it (skipped with a message where ptxas is not installed). Also checks
 * that the target checks refuse each op on the rows that lack it.
 */
#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/devops.h"
#include "codegen/devops_mma.h"
#include "test.h"

static const char *ptxas; /* NULL: not installed */

/* ---- a kernel around one op ---- */

typedef struct {
  cg_ctx c;
  LLVMValueRef out, in, tid, smem;
  LLVMTypeRef i32;
} kern;

static LLVMValueRef sreg_tid(kern *k) {
  LLVMTypeRef fty = LLVMFunctionType(k->i32, NULL, 0, 0);
  LLVMValueRef f = LLVMGetNamedFunction(k->c.mod, "llvm.nvvm.read.ptx.sreg.tid.x");
  if (!f) f = LLVMAddFunction(k->c.mod, "llvm.nvvm.read.ptx.sreg.tid.x", fty);
  return LLVMBuildCall2(k->c.b, fty, f, NULL, 0, "tid");
}

/* kernel void @k(ptr addrspace(1) out, ptr addrspace(1) in), 4 KiB of static shared memory. */
static void kern_begin(kern *k, const tg_target *t) {
  memset(k, 0, sizeof *k);
  k->c.ctx = LLVMContextCreate();
  k->c.mod = LLVMModuleCreateWithNameInContext("mma", k->c.ctx);
  k->c.b = LLVMCreateBuilderInContext(k->c.ctx);
  k->c.target = t;
  k->c.threads = 32;
  LLVMSetTarget(k->c.mod, "nvptx64-nvidia-cuda");
  k->i32 = LLVMInt32TypeInContext(k->c.ctx);
  LLVMTypeRef gptr = LLVMPointerTypeInContext(k->c.ctx, 1), params[2] = {gptr, gptr};
  k->c.fn = LLVMAddFunction(k->c.mod, "k", LLVMFunctionType(LLVMVoidTypeInContext(k->c.ctx), params, 2, 0));
  LLVMSetFunctionCallConv(k->c.fn, 71); /* PTX kernel */
  LLVMPositionBuilderAtEnd(k->c.b, LLVMAppendBasicBlockInContext(k->c.ctx, k->c.fn, "entry"));
  k->out = LLVMGetParam(k->c.fn, 0);
  k->in = LLVMGetParam(k->c.fn, 1);
  k->tid = sreg_tid(k);
  LLVMTypeRef sty = LLVMArrayType2(LLVMInt8TypeInContext(k->c.ctx), 4096);
  k->smem = LLVMAddGlobalInAddressSpace(k->c.mod, sty, "smem", 3);
  LLVMSetInitializer(k->smem, LLVMGetUndef(sty));
  LLVMSetLinkage(k->smem, LLVMInternalLinkage);
  LLVMSetAlignment(k->smem, 16);
}

/* Address of element (tid * 16 + i) of the i32/f32 array p, or byte tid*16 + i of shared memory. */
static LLVMValueRef elem_ptr(kern *k, LLVMValueRef p, LLVMTypeRef ty, int i) {
  LLVMValueRef idx = LLVMBuildAdd(k->c.b, LLVMBuildMul(k->c.b, k->tid, LLVMConstInt(k->i32, 16, 0), ""),
                                  LLVMConstInt(k->i32, (unsigned)i, 0), "");
  return LLVMBuildGEP2(k->c.b, ty, p, &idx, 1, "");
}

static LLVMValueRef load_in(kern *k, LLVMTypeRef ty, int i) {
  return LLVMBuildLoad2(k->c.b, ty, elem_ptr(k, k->in, ty, i), "");
}

static void store_out(kern *k, LLVMValueRef v, int i) {
  LLVMBuildStore(k->c.b, v, elem_ptr(k, k->out, LLVMTypeOf(v), i));
}

/* Emits PTX for t, checks `want` is in it, runs ptxas. Returns 0 if all passed. */
static int emit_and_check(LLVMModuleRef mod, const tg_target *t, const char *what, const char *want) {
  char *msg = NULL;
  LLVMTargetRef tr;
  if (LLVMGetTargetFromTriple("nvptx64-nvidia-cuda", &tr, &msg)) return fprintf(stderr, "%s\n", msg), -1;
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(tr, "nvptx64-nvidia-cuda", t->llvm_cpu, t->ptx_feat, LLVMCodeGenLevelDefault,
                              LLVMRelocDefault, LLVMCodeModelDefault);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(mod, dl);
  LLVMMemoryBufferRef buf = NULL;
  int rc = 0;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &msg, &buf)) {
    fprintf(stderr, "%s on %s: PTX emission failed: %s\n", what, t->name, msg);
    LLVMDisposeMessage(msg);
    rc = -1;
  } else {
    size_t n = LLVMGetBufferSize(buf);
    char *ptx = malloc(n + 1);
    memcpy(ptx, LLVMGetBufferStart(buf), n);
    ptx[n] = 0;
    if (!strstr(ptx, want)) {
      fprintf(stderr, "%s on %s: '%s' not in the PTX:\n%s\n", what, t->name, want, ptx);
      rc = -1;
    }
    if (ptxas && test_ptxas_accepts(ptx, t->name)) {
      fprintf(stderr, "%s on %s: ptxas rejected it\n", what, t->name);
      rc = -1;
    }
    free(ptx);
    LLVMDisposeMemoryBuffer(buf);
  }
  LLVMDisposeTargetData(dl);
  LLVMDisposeTargetMachine(tm);
  return rc;
}

/* Finishes and verifies the kernel, then emits and checks it in a child process: LLVM aborts on an
 * intrinsic the target's PTX version cannot express, and that must be a failure naming the op and the
 * target, not the end of the test. */
static void kern_end(kern *k, const char *what, const char *want) {
  LLVMBuildRetVoid(k->c.b);
  char *msg = NULL;
  if (LLVMVerifyModule(k->c.mod, LLVMReturnStatusAction, &msg)) {
    fprintf(stderr, "%s: module does not verify: %s\n", what, msg);
    test_failures++;
  }
  LLVMDisposeMessage(msg);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) _exit(emit_and_check(k->c.mod, k->c.target, what, want) ? 1 : 0);
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    if (!WIFEXITED(st))
      fprintf(stderr,
              "%s on %s: LLVM aborted emitting PTX (does the target row ask for a PTX version that "
              "has this instruction?)\n",
              what, k->c.target->name);
    test_failures++;
  }
  LLVMDisposeBuilder(k->c.b);
  LLVMDisposeModule(k->c.mod);
  LLVMContextDispose(k->c.ctx);
}

/* ---- the ops ---- */

static const char *mma_ptx[CG_MMA_NKINDS] = {
    [CG_MMA_F16_K8] = "mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32",
    [CG_MMA_F16_K16] = "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
    [CG_MMA_BF16_K16] = "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
    [CG_MMA_S8_K32] = "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32",
    [CG_MMA_U8_K32] = "mma.sync.aligned.m16n8k32.row.col.s32.u8.u8.s32",
    [CG_MMA_E4M3_K32] = "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32",
    [CG_MMA_E5M2_K32] = "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32",
    [CG_MMA_B1_AND_K256] = "mma.sync.aligned.m16n8k256.row.col.s32.b1.b1.s32.and.popc",
};

static void mma_kernel(cg_mma_kind kind, const tg_target *t) {
  const cg_mma_info *mi = cg_mma_info_of(kind);
  kern k;
  kern_begin(&k, t);
  LLVMTypeRef acc_ty = mi->acc_int ? k.i32 : LLVMFloatTypeInContext(k.c.ctx);
  LLVMValueRef a[4], b[2], c[4], d[4];
  for (int i = 0; i < mi->na; i++) a[i] = load_in(&k, k.i32, i);
  for (int i = 0; i < mi->nb; i++) b[i] = load_in(&k, k.i32, 4 + i);
  for (int i = 0; i < mi->nc; i++) c[i] = load_in(&k, acc_ty, 8 + i);
  cg_nvptx_mma(&k.c, kind, a, b, c, d);
  for (int i = 0; i < mi->nc; i++) {
    CHECK(LLVMTypeOf(d[i]) == acc_ty);
    store_out(&k, d[i], i);
  }
  kern_end(&k, mi->name, mma_ptx[kind]);
}

static void ldmatrix_kernel(int num, int trans, const tg_target *t) {
  kern k;
  kern_begin(&k, t);
  LLVMTypeRef i8 = LLVMInt8TypeInContext(k.c.ctx);
  LLVMValueRef out[4];
  cg_nvptx_ldmatrix(&k.c, num, trans, elem_ptr(&k, k.smem, i8, 0), out);
  for (int i = 0; i < num; i++) {
    CHECK(LLVMTypeOf(out[i]) == k.i32);
    store_out(&k, out[i], i);
  }
  char want[80], what[40];
  snprintf(want, sizeof want, "ldmatrix.sync.aligned.m8n8.x%d%s.shared.b16", num, trans ? ".trans" : "");
  snprintf(what, sizeof what, "ldmatrix.x%d%s", num, trans ? ".trans" : "");
  kern_end(&k, what, want);
}

/* Copies 4, 8 and 16 bytes (the 16 with a zero-fill size from memory), commits, waits, reads back. */
static void cp_async_kernel(const tg_target *t, int generic_dst) {
  kern k;
  kern_begin(&k, t);
  LLVMTypeRef i8 = LLVMInt8TypeInContext(k.c.ctx);
  LLVMValueRef src_bytes = load_in(&k, k.i32, 12);
  LLVMValueRef dst = elem_ptr(&k, k.smem, i8, 0);
  if (generic_dst) /* the hook casts a generic pointer into the shared space */
    dst = LLVMBuildAddrSpaceCast(k.c.b, dst, LLVMPointerTypeInContext(k.c.ctx, 0), "");
  cg_nvptx_cp_async(&k.c, dst, elem_ptr(&k, k.in, i8, 0), 16, src_bytes);
  cg_nvptx_cp_async_commit(&k.c);
  cg_nvptx_cp_async(&k.c, elem_ptr(&k, k.smem, i8, 2048), elem_ptr(&k, k.in, i8, 0), 8, NULL);
  cg_nvptx_cp_async(&k.c, elem_ptr(&k, k.smem, i8, 2056), elem_ptr(&k, k.in, i8, 8), 4, NULL);
  cg_nvptx_cp_async_commit(&k.c);
  cg_nvptx_cp_async_wait(&k.c, 1);
  cg_nvptx_cp_async_wait(&k.c, 0);
  store_out(&k, LLVMBuildLoad2(k.c.b, k.i32, elem_ptr(&k, k.smem, i8, 0), ""), 0);
  kern_end(&k, "cp.async", "cp.async.cg.shared.global [");
  /* the same kernel's other instructions, checked on a second build (a new context: its own i8,
   * the first's died with its context) */
  kern_begin(&k, t);
  i8 = LLVMInt8TypeInContext(k.c.ctx);
  cg_nvptx_cp_async(&k.c, elem_ptr(&k, k.smem, i8, 0), elem_ptr(&k, k.in, i8, 0), 8, NULL);
  cg_nvptx_cp_async(&k.c, elem_ptr(&k, k.smem, i8, 8), elem_ptr(&k, k.in, i8, 8), 4,
                    LLVMConstInt(k.i32, 2, 0));
  cg_nvptx_cp_async_commit(&k.c);
  cg_nvptx_cp_async_wait(&k.c, 0);
  kern_end(&k, "cp.async 8/4", "cp.async.ca.shared.global [");
  /* all or nothing (an i1 source size): a predicated copy and a predicated zero fill */
  kern_begin(&k, t);
  i8 = LLVMInt8TypeInContext(k.c.ctx);
  LLVMValueRef odd = LLVMBuildTrunc(k.c.b, load_in(&k, k.i32, 12), LLVMInt1TypeInContext(k.c.ctx), "");
  cg_nvptx_cp_async(&k.c, elem_ptr(&k, k.smem, i8, 0), elem_ptr(&k, k.in, i8, 0), 16, odd);
  cg_nvptx_cp_async_commit(&k.c);
  cg_nvptx_cp_async_wait(&k.c, 0);
  kern_end(&k, "cp.async all or nothing", "], 16, 0;");
}

/* All or nothing in a wide copy (cg_ctx.wide_copy): one copy whose source size is selp(p, 16, 0). */
static void cp_async_wide_kernel(const tg_target *t) {
  kern k;
  kern_begin(&k, t);
  k.c.wide_copy = 1;
  LLVMValueRef odd = LLVMBuildTrunc(k.c.b, load_in(&k, k.i32, 12), LLVMInt1TypeInContext(k.c.ctx), "");
  LLVMTypeRef i8 = LLVMInt8TypeInContext(k.c.ctx);
  cg_nvptx_cp_async(&k.c, elem_ptr(&k, k.smem, i8, 0), elem_ptr(&k, k.in, i8, 0), 16, odd);
  cg_nvptx_cp_async_commit(&k.c);
  cg_nvptx_cp_async_wait(&k.c, 0);
  kern_end(&k, "cp.async all or nothing, wide", "selp.b32 n, 16, 0, %p");
}

/* ---- target checks ---- */

static const tg_target *T(const char *name) {
  const tg_target *t = tg_target_lookup(name);
  if (!t) {
    fprintf(stderr, "no target row %s\n", name);
    exit(1);
  }
  return t;
}

static void test_checks(void) {
  char err[200];
  CHECK(cg_mma_check(T("sm_75"), CG_MMA_F16_K8, err, sizeof err) == 0);
  CHECK(cg_mma_check(T("sm_75"), CG_MMA_F16_K16, err, sizeof err) == -1);
  CHECK(strstr(err, "mma.m16n8k16.f16") && strstr(err, "sm_75"));
  CHECK(cg_mma_check(T("sm_75"), CG_MMA_S8_K32, err, sizeof err) == -1); /* m16n8k32 is sm_80 */
  CHECK(strstr(err, "mma.m16n8k32.s8") && strstr(err, "sm_80 or newer"));
  CHECK(cg_mma_check(T("sm_80"), CG_MMA_E4M3_K32, err, sizeof err) == -1);
  CHECK(strstr(err, "e4m3") && strstr(err, "sm_80"));
  CHECK(cg_mma_check(T("sm_89"), CG_MMA_E5M2_K32, err, sizeof err) == 0);
  CHECK(cg_mma_check(T("sm_75"), CG_MMA_B1_AND_K256, err, sizeof err) == -1);
  CHECK(cg_tc_check(T("sm_75"), CG_TC_LDMATRIX, err, sizeof err) == 0);
  CHECK(cg_tc_check(T("sm_75"), CG_TC_CP_ASYNC, err, sizeof err) == -1);
  CHECK(strstr(err, "cp.async") && strstr(err, "sm_75"));
  CHECK(cg_tc_check(T("sm_80"), CG_TC_CP_ASYNC, err, sizeof err) == 0);
}

int main(void) {
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
  ptxas = test_ptxas();
  if (!ptxas) printf("skip: ptxas not found (PATH, /usr/local/cuda/bin): PTX is checked, not assembled\n");
  test_checks();

  int built = 0, nld = 0, ncp = 0; /* every row that has the op, so a new row is covered when added */
  for (int i = 0; i < tg_ntargets; i++) {
    const tg_target *t = &tg_targets[i];
    for (int k = 0; k < CG_MMA_NKINDS; k++)
      if (!cg_mma_check(t, (cg_mma_kind)k, NULL, 0)) mma_kernel((cg_mma_kind)k, t), built++;
    if (!cg_tc_check(t, CG_TC_LDMATRIX, NULL, 0))
      for (int num = 1; num <= 4; num *= 2)
        for (int trans = 0; trans < 2; trans++) ldmatrix_kernel(num, trans, t), nld++;
    if (!cg_tc_check(t, CG_TC_CP_ASYNC, NULL, 0))
      cp_async_kernel(t, i % 2), cp_async_wide_kernel(t), ncp += 3;
  }
  /* the rows sm_75 sm_80 sm_86 sm_89 sm_90a sm_100a sm_120a: k8 on 7; k16, bf16, s8, u8, b1 on 6; fp8 on 4 */
  CHECK(built == 7 + 5 * 6 + 2 * 4);
  printf("test_nvptx_mma: %d mma kernels, %d ldmatrix kernels, %d cp.async kernels%s\n", built, nld, ncp,
         ptxas ? ", all accepted by ptxas" : "");
  return test_done("test_nvptx_mma");
}
