/*
 * devops_nvptx_hopper.c - Hopper device ops for the NVPTX target (devops_hopper.h).
 *
 * LLVM 22 has NVVM intrinsics for all of these but wgmma.mma_async and a wait tied to its registers:
 *   TMA       -> llvm.nvvm.cp.async.bulk.tensor.{g2s,s2g}.tile.{1..5}d (the g2s form writes a
 *                shared::cluster address: a CTA's own shared address cast into that space), and
 *                llvm.nvvm.cp.async.bulk.{commit.group,wait.group.read}
 *   mbarrier  -> llvm.nvvm.mbarrier.{init.shared, arrive.shared, arrive.expect.tx.scope.cta.space.cta,
 *                try.wait.parity.scope.cta.space.cta}
 *   fences    -> llvm.nvvm.fence.proxy.async.shared_cta, llvm.nvvm.wgmma.{fence,commit_group}.sync.aligned
 *   others    -> llvm.nvvm.setmaxnreg.{inc,dec}.sync.aligned.u32, llvm.nvvm.elect.sync
 * wgmma.mma_async is inline PTX whose accumulators are tied in/out operands; wgmma.wait_group is
 * inline PTX too when it is given registers, tying them so that no read of them moves above it.
 * A tensor-map parameter becomes `.param .align 64 .b8 [128]` by value, marked grid-constant, so
 * that its address can be handed to the copy.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "devops.h"
#include "devops_hopper.h"

enum { AS_SHARED = 3, AS_SHARED_CLUSTER = 7 };

static LLVMTypeRef i1t(cg_ctx *c) { return LLVMInt1TypeInContext(c->ctx); }
static LLVMTypeRef i16t(cg_ctx *c) { return LLVMInt16TypeInContext(c->ctx); }
static LLVMTypeRef i32t(cg_ctx *c) { return LLVMInt32TypeInContext(c->ctx); }
static LLVMTypeRef i64t(cg_ctx *c) { return LLVMInt64TypeInContext(c->ctx); }
static LLVMValueRef cint(LLVMTypeRef t, long long v) { return LLVMConstInt(t, (unsigned long long)v, 1); }

/* Calls intrinsic `name` (not overloaded) with args cast to its parameter types. */
static LLVMValueRef intr(cg_ctx *c, const char *name, LLVMValueRef *args, unsigned n) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) {
    fprintf(stderr, "kiln: internal error: LLVM has no intrinsic %s\n", name);
    abort();
  }
  LLVMTypeRef fty = LLVMIntrinsicGetType(c->ctx, id, NULL, 0), params[16];
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, NULL, 0);
  assert(LLVMCountParamTypes(fty) == n && n <= 16);
  LLVMGetParamTypes(fty, params);
  for (unsigned i = 0; i < n; i++) {
    LLVMTypeRef from = LLVMTypeOf(args[i]);
    if (from == params[i]) continue;
    if (LLVMGetTypeKind(from) == LLVMPointerTypeKind)
      args[i] = LLVMBuildAddrSpaceCast(c->b, args[i], params[i], "");
    else
      args[i] = LLVMBuildIntCast2(c->b, args[i], params[i], 0, "");
  }
  return LLVMBuildCall2(c->b, fty, f, args, n, "");
}

static LLVMValueRef shared_ptr(cg_ctx *c, LLVMValueRef p) {
  LLVMTypeRef t = LLVMPointerTypeInContext(c->ctx, AS_SHARED);
  return LLVMTypeOf(p) == t ? p : LLVMBuildAddrSpaceCast(c->b, p, t, "");
}

/* ---- wgmma ---- */

static void wgmma_fence(cg_ctx *c) { intr(c, "llvm.nvvm.wgmma.fence.sync.aligned", NULL, 0); }
static void wgmma_commit(cg_ctx *c) { intr(c, "llvm.nvvm.wgmma.commit_group.sync.aligned", NULL, 0); }

/* Appends "$lo, ..., $hi" to s. */
static char *reg_list(char *s, int lo, int hi) {
  for (int i = lo; i <= hi; i++) s += sprintf(s, "%s$%d", i > lo ? ", " : "", i);
  return s;
}

/* wgmma.mma_async: A by descriptor (a = NULL, adesc) or from four registers (a, f16/bf16 only). */
static void wgmma(cg_ctx *c, cg_wgmma_type t, int n, LLVMValueRef adesc, const LLVMValueRef *a,
                  LLVMValueRef bdesc, const LLVMValueRef *acc, LLVMValueRef scale_d, int neg_a, int neg_b,
                  LLVMValueRef *d) {
  const cg_wgmma_info *wi = cg_wgmma_info_of(t);
  assert(wi && cg_wgmma_n_ok(t, n) && (wi->has_scale || (!neg_a && !neg_b)));
  assert(wi->has_trans || !((neg_a | neg_b) & CG_WGMMA_TRANS));
  assert(!a || (wi->in_bits == 16 && !(neg_a & CG_WGMMA_TRANS)));
  int R = n / 2, na = a ? 4 : 1; /* operands: R results, then A (na), B, scale-d, then R tied inputs */
  LLVMTypeRef rt = wi->acc_int ? i32t(c) : LLVMFloatTypeInContext(c->ctx);
  char *text = malloc(4096), *cons = malloc(4096), *s = text, *k = cons;
  s += sprintf(s, "{\n.reg .pred p;\nsetp.ne.b32 p, $%d, 0;\nwgmma.mma_async.sync.aligned.m64n%dk%d.%s {",
               R + na + 1, n, wi->k, wi->ptx);
  s = reg_list(s, 0, R - 1);
  if (a) {
    s += sprintf(s, "}, {");
    s = reg_list(s, R, R + 3);
    s += sprintf(s, "}, $%d, p", R + 4);
  } else
    s += sprintf(s, "}, $%d, $%d, p", R, R + 1);
  if (wi->has_scale)
    s += sprintf(s, ", %d, %d", neg_a & CG_WGMMA_NEG ? -1 : 1, neg_b & CG_WGMMA_NEG ? -1 : 1);
  if (wi->has_trans) { /* the register form has no imm-trans-a */
    if (!a) s += sprintf(s, ", %d", !!(neg_a & CG_WGMMA_TRANS));
    s += sprintf(s, ", %d", !!(neg_b & CG_WGMMA_TRANS));
  }
  sprintf(s, ";\n}");
  for (int i = 0; i < R; i++) k += sprintf(k, "%s=%s", i ? "," : "", wi->acc_int ? "r" : "f");
  k += sprintf(k, a ? ",r,r,r,r,l,r" : ",l,l,r");
  for (int i = 0; i < R; i++) k += sprintf(k, ",%d", i);
  LLVMTypeRef *ret = malloc((size_t)R * sizeof *ret), pt[136];
  LLVMValueRef args[136];
  for (int i = 0; i < R; i++) ret[i] = rt;
  LLVMTypeRef st = LLVMStructTypeInContext(c->ctx, ret, (unsigned)R, 0);
  int m = 0;
  if (a)
    for (int i = 0; i < 4; i++) args[m++] = a[i];
  else
    args[m++] = adesc;
  args[m++] = bdesc;
  args[m++] = scale_d ? LLVMBuildZExt(c->b, scale_d, i32t(c), "") : cint(i32t(c), 1);
  for (int i = 0; i < R; i++) args[m++] = acc[i];
  for (int i = 0; i < m; i++) pt[i] = LLVMTypeOf(args[i]);
  LLVMTypeRef fty = LLVMFunctionType(st, pt, (unsigned)m, 0);
  LLVMValueRef asmv =
      LLVMGetInlineAsm(fty, text, strlen(text), cons, strlen(cons), 1, 0, LLVMInlineAsmDialectATT, 0);
  LLVMValueRef r = LLVMBuildCall2(c->b, fty, asmv, args, (unsigned)m, "");
  for (int i = 0; i < R; i++) d[i] = LLVMBuildExtractValue(c->b, r, (unsigned)i, "");
  free(text), free(cons), free(ret);
}

static void wgmma_wait(cg_ctx *c, int n, LLVMValueRef *regs, int nregs) {
  assert(n >= 0 && n <= 7 && nregs <= 128);
  if (!nregs) {
    LLVMValueRef a = cint(i64t(c), n);
    intr(c, "llvm.nvvm.wgmma.wait_group.sync.aligned", &a, 1);
    return;
  }
  char text[64], *cons = malloc(2048), *k = cons;
  snprintf(text, sizeof text, "wgmma.wait_group.sync.aligned %d;", n);
  LLVMTypeRef ty[128];
  for (int i = 0; i < nregs; i++) {
    ty[i] = LLVMTypeOf(regs[i]);
    k += sprintf(k, "%s=%s", i ? "," : "", LLVMGetTypeKind(ty[i]) == LLVMFloatTypeKind ? "f" : "r");
  }
  for (int i = 0; i < nregs; i++) k += sprintf(k, ",%d", i);
  LLVMTypeRef st = LLVMStructTypeInContext(c->ctx, ty, (unsigned)nregs, 0);
  LLVMTypeRef fty = LLVMFunctionType(st, ty, (unsigned)nregs, 0);
  LLVMValueRef asmv =
      LLVMGetInlineAsm(fty, text, strlen(text), cons, strlen(cons), 1, 0, LLVMInlineAsmDialectATT, 0);
  LLVMValueRef r = LLVMBuildCall2(c->b, fty, asmv, regs, (unsigned)nregs, "");
  for (int i = 0; i < nregs; i++) regs[i] = LLVMBuildExtractValue(c->b, r, (unsigned)i, "");
  free(cons);
}

/* ---- TMA ---- */

static void tma_load(cg_ctx *c, int dims, LLVMValueRef sdst, LLVMValueRef tmap, const LLVMValueRef *coords,
                     LLVMValueRef bar) {
  assert(dims >= 1 && dims <= CG_TMAP_MAXDIM);
  char name[64];
  snprintf(name, sizeof name, "llvm.nvvm.cp.async.bulk.tensor.g2s.tile.%dd", dims);
  LLVMValueRef args[16];
  unsigned n = 0;
  args[n++] = LLVMBuildAddrSpaceCast(c->b, shared_ptr(c, sdst),
                                     LLVMPointerTypeInContext(c->ctx, AS_SHARED_CLUSTER), "");
  args[n++] = shared_ptr(c, bar);
  args[n++] = tmap;
  for (int i = 0; i < dims; i++) args[n++] = coords[i];
  args[n++] = cint(i16t(c), 0); /* no multicast */
  args[n++] = cint(i64t(c), 0); /* no cache hint */
  args[n++] = cint(i1t(c), 0);
  args[n++] = cint(i1t(c), 0);
  args[n++] = cint(i32t(c), 0); /* no cta_group */
  intr(c, name, args, n);
}

static void tma_store(cg_ctx *c, int dims, LLVMValueRef tmap, const LLVMValueRef *coords, LLVMValueRef ssrc) {
  assert(dims >= 1 && dims <= CG_TMAP_MAXDIM);
  char name[64];
  snprintf(name, sizeof name, "llvm.nvvm.cp.async.bulk.tensor.s2g.tile.%dd", dims);
  LLVMValueRef args[16];
  unsigned n = 0;
  args[n++] = shared_ptr(c, ssrc);
  args[n++] = tmap;
  for (int i = 0; i < dims; i++) args[n++] = coords[i];
  args[n++] = cint(i64t(c), 0);
  args[n++] = cint(i1t(c), 0);
  intr(c, name, args, n);
}

static void tma_store_commit(cg_ctx *c) { intr(c, "llvm.nvvm.cp.async.bulk.commit.group", NULL, 0); }

static void tma_store_wait(cg_ctx *c, int n) {
  LLVMValueRef a = cint(i32t(c), n);
  intr(c, "llvm.nvvm.cp.async.bulk.wait.group.read", &a, 1);
}

/* ---- mbarrier and the rest ---- */

static void mbar_init(cg_ctx *c, LLVMValueRef bar, LLVMValueRef count) {
  LLVMValueRef a[2] = {shared_ptr(c, bar), count};
  intr(c, "llvm.nvvm.mbarrier.init.shared", a, 2);
}

static LLVMValueRef mbar_arrive(cg_ctx *c, LLVMValueRef bar) {
  LLVMValueRef a = shared_ptr(c, bar);
  return intr(c, "llvm.nvvm.mbarrier.arrive.shared", &a, 1);
}

static void mbar_arrive_expect_tx(cg_ctx *c, LLVMValueRef bar, LLVMValueRef tx) {
  LLVMValueRef a[2] = {shared_ptr(c, bar), tx};
  intr(c, "llvm.nvvm.mbarrier.arrive.expect.tx.scope.cta.space.cta", a, 2);
}

static LLVMValueRef mbar_try_wait(cg_ctx *c, LLVMValueRef bar, LLVMValueRef parity) {
  LLVMValueRef a[2] = {shared_ptr(c, bar), parity};
  return intr(c, "llvm.nvvm.mbarrier.try.wait.parity.scope.cta.space.cta", a, 2);
}

static void mbar_inval(cg_ctx *c, LLVMValueRef bar) {
  LLVMValueRef a = shared_ptr(c, bar);
  intr(c, "llvm.nvvm.mbarrier.inval.shared", &a, 1);
}

static void fence_proxy_async(cg_ctx *c) { intr(c, "llvm.nvvm.fence.proxy.async.shared_cta", NULL, 0); }

static void setmaxnreg(cg_ctx *c, int inc, int n) {
  assert(n >= 24 && n <= 256 && n % 8 == 0);
  LLVMValueRef a = cint(i32t(c), n);
  intr(c, inc ? "llvm.nvvm.setmaxnreg.inc.sync.aligned.u32" : "llvm.nvvm.setmaxnreg.dec.sync.aligned.u32", &a,
       1);
}

static LLVMValueRef elect_sync(cg_ctx *c) {
  LLVMValueRef a = cint(i32t(c), -1);
  return LLVMBuildExtractValue(c->b, intr(c, "llvm.nvvm.elect.sync", &a, 1), 1, "");
}

static void tmap_param(cg_ctx *c, unsigned i) {
  LLVMTypeRef map = LLVMArrayType2(LLVMInt8TypeInContext(c->ctx), CG_TMAP_BYTES);
  unsigned byval = LLVMGetEnumAttributeKindForName("byval", 5),
           align = LLVMGetEnumAttributeKindForName("align", 5);
  LLVMAddAttributeAtIndex(c->fn, i + 1, LLVMCreateTypeAttribute(c->ctx, byval, map));
  LLVMAddAttributeAtIndex(c->fn, i + 1, LLVMCreateEnumAttribute(c->ctx, align, 64));
  static const char key[] = "nvvm.grid_constant";
  LLVMAddAttributeAtIndex(c->fn, i + 1, LLVMCreateStringAttribute(c->ctx, key, sizeof key - 1, "", 0));
}

static LLVMValueRef smem_addr(cg_ctx *c, LLVMValueRef p) {
  return LLVMBuildPtrToInt(c->b, shared_ptr(c, p), i32t(c), "saddr");
}

const cg_hopper_ops cg_hopper_nvptx = {
    .wgmma_fence = wgmma_fence,
    .wgmma = wgmma,
    .wgmma_commit = wgmma_commit,
    .wgmma_wait = wgmma_wait,
    .tma_load = tma_load,
    .tma_store = tma_store,
    .tma_store_commit = tma_store_commit,
    .tma_store_wait = tma_store_wait,
    .mbar_init = mbar_init,
    .mbar_arrive = mbar_arrive,
    .mbar_arrive_expect_tx = mbar_arrive_expect_tx,
    .mbar_try_wait = mbar_try_wait,
    .mbar_inval = mbar_inval,
    .fence_proxy_async = fence_proxy_async,
    .setmaxnreg = setmaxnreg,
    .elect_sync = elect_sync,
    .tmap_param = tmap_param,
    .smem_addr = smem_addr,
};
