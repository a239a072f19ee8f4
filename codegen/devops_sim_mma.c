/*
 * devops_sim_mma.c - tensor-core device ops for the simulator: calls into sim/sim_mma.h's ABI.
 *
 * Register operands travel through small stack arrays: each op stores its i32 registers (f32
 * accumulators bitcast to i32) into allocas made in the entry block, passes their addresses, and
 * loads the results back; LLVM promotes what it can around the call. Every call carries the op site
 * (cg_ctx.site) as a private constant string, like the other simulator device ops:
 *   void __kiln_sim_mma(i32 kind, ptr a, ptr b, ptr c, ptr d, ptr site)
 *   void __kiln_sim_ldmatrix(i32 num, i32 trans, ptr row, ptr out, ptr site)
 *   void __kiln_sim_cp_async(ptr dst, ptr src, i32 bytes, i32 src_bytes, ptr site)
 *   void __kiln_sim_cp_async_commit(ptr site)
 *   void __kiln_sim_cp_async_wait(i32 n, ptr site)
 */
#include <assert.h>

#include "devops.h"
#include "devops_mma.h"

static LLVMTypeRef i32_ty(cg_ctx *c) { return LLVMInt32TypeInContext(c->ctx); }
static LLVMValueRef i32_const(cg_ctx *c, int v) { return LLVMConstInt(i32_ty(c), (unsigned long long)v, 1); }

/* Calls void `name`(args), declaring it (nounwind) on first use. */
static void abi_call(cg_ctx *c, const char *name, LLVMValueRef *args, unsigned n) {
  LLVMTypeRef ptys[8];
  assert(n <= 8);
  for (unsigned i = 0; i < n; i++) ptys[i] = LLVMTypeOf(args[i]);
  cg_sim_call(c, name, LLVMVoidTypeInContext(c->ctx), ptys, args, n);
}

/* An [n x i32] alloca at the top of the entry block. */
static LLVMValueRef regs_alloca(cg_ctx *c, int n, const char *name) {
  LLVMBuilderRef b = cg_sim_entry_builder(c);
  LLVMValueRef a = LLVMBuildAlloca(b, LLVMArrayType2(i32_ty(c), (uint64_t)n), name);
  LLVMSetAlignment(a, 16);
  LLVMDisposeBuilder(b);
  return a;
}

static LLVMValueRef reg_ptr(cg_ctx *c, LLVMValueRef arr, int i) {
  LLVMValueRef idx = LLVMConstInt(LLVMInt64TypeInContext(c->ctx), (unsigned long long)i, 0);
  return LLVMBuildGEP2(c->b, i32_ty(c), arr, &idx, 1, "");
}

/* Stores n registers (any 32-bit type) into a new array; returns the array. */
static LLVMValueRef spill_regs(cg_ctx *c, const LLVMValueRef *v, int n, const char *name) {
  LLVMValueRef arr = regs_alloca(c, n, name);
  for (int i = 0; i < n; i++) {
    LLVMValueRef x = v[i];
    if (LLVMTypeOf(x) != i32_ty(c)) x = LLVMBuildBitCast(c->b, x, i32_ty(c), "");
    LLVMBuildStore(c->b, x, reg_ptr(c, arr, i));
  }
  return arr;
}

/* Loads n registers of type ty from arr. */
static void fill_regs(cg_ctx *c, LLVMValueRef arr, int n, LLVMTypeRef ty, LLVMValueRef *out) {
  for (int i = 0; i < n; i++) {
    LLVMValueRef x = LLVMBuildLoad2(c->b, i32_ty(c), reg_ptr(c, arr, i), "");
    out[i] = ty == i32_ty(c) ? x : LLVMBuildBitCast(c->b, x, ty, "");
  }
}

void cg_sim_mma(cg_ctx *c, cg_mma_kind k, const LLVMValueRef *a, const LLVMValueRef *b,
                const LLVMValueRef *acc, LLVMValueRef *d) {
  const cg_mma_info *mi = cg_mma_info_of(k);
  LLVMTypeRef acc_ty = mi->acc_int ? i32_ty(c) : LLVMFloatTypeInContext(c->ctx);
  LLVMValueRef args[6] = {i32_const(c, (int)k), NULL, NULL, NULL, NULL, cg_sim_site(c)};
  args[1] = spill_regs(c, a, mi->na, "mma.a"); /* one at a time: C leaves the order of initialisers open */
  args[2] = spill_regs(c, b, mi->nb, "mma.b");
  args[3] = spill_regs(c, acc, mi->nc, "mma.c");
  args[4] = regs_alloca(c, mi->nc, "mma.d");
  abi_call(c, "__kiln_sim_mma", args, 6);
  fill_regs(c, args[4], mi->nc, acc_ty, d);
}

void cg_sim_ldmatrix(cg_ctx *c, int num, int trans, LLVMValueRef saddr, LLVMValueRef *out) {
  assert(num == 1 || num == 2 || num == 4);
  LLVMValueRef args[5] = {i32_const(c, num), i32_const(c, trans ? 1 : 0), saddr, regs_alloca(c, num, "ldm"),
                          cg_sim_site(c)};
  abi_call(c, "__kiln_sim_ldmatrix", args, 5);
  fill_regs(c, args[3], num, i32_ty(c), out);
}

void cg_sim_cp_async(cg_ctx *c, LLVMValueRef sdst, LLVMValueRef gsrc, int bytes, LLVMValueRef src_bytes) {
  assert(bytes == 4 || bytes == 8 || bytes == 16);
  LLVMValueRef n = src_bytes ? src_bytes : i32_const(c, bytes);
  if (src_bytes && LLVMTypeOf(src_bytes) == LLVMInt1TypeInContext(c->ctx)) /* all or nothing */
    n = LLVMBuildSelect(c->b, src_bytes, i32_const(c, bytes), i32_const(c, 0), "");
  if (LLVMTypeOf(n) != i32_ty(c)) n = LLVMBuildIntCast2(c->b, n, i32_ty(c), 0, "");
  LLVMValueRef args[5] = {sdst, gsrc, i32_const(c, bytes), n, cg_sim_site(c)};
  abi_call(c, "__kiln_sim_cp_async", args, 5);
}

void cg_sim_cp_async_commit(cg_ctx *c) {
  LLVMValueRef s = cg_sim_site(c);
  abi_call(c, "__kiln_sim_cp_async_commit", &s, 1);
}

void cg_sim_cp_async_wait(cg_ctx *c, int n) {
  assert(n >= 0);
  LLVMValueRef args[2] = {i32_const(c, n), cg_sim_site(c)};
  abi_call(c, "__kiln_sim_cp_async_wait", args, 2);
}
