/*
 * devops_sim_hopper.c - Hopper device ops for the simulator: calls into sim/sim_hopper.h's ABI.
 *
 * Registers travel through entry-block arrays as in devops_sim_mma.c; scalars are passed as they are.
 * Every call carries the op site:
 *   void __kiln_sim_wgmma_fence(ptr site)
 *   void __kiln_sim_wgmma(i32 type, i32 n, i64 adesc, i64 bdesc, ptr acc, i32 scale_d, i32 neg_a,
 *                         i32 neg_b, ptr site)                       acc: n/2 registers, in and out
 *   void __kiln_sim_wgmma_rs(i32 type, i32 n, ptr aregs, i64 bdesc, ptr acc, i32 scale_d, i32 neg_a,
 *                            i32 neg_b, ptr site)                    aregs: the 4 registers of A
 *   void __kiln_sim_wgmma_commit(ptr site)
 *   void __kiln_sim_wgmma_wait(i32 n, ptr regs, i32 nregs, ptr site)  regs: in and out
 *   void __kiln_sim_tma_load(i32 dims, ptr sdst, ptr tmap, ptr coords, ptr bar, ptr site)
 *   void __kiln_sim_tma_store(i32 dims, ptr tmap, ptr coords, ptr ssrc, ptr site)
 *   void __kiln_sim_tma_store_commit(ptr site), __kiln_sim_tma_store_wait(i32 n, ptr site)
 *   void __kiln_sim_mbar_init(ptr bar, i32 count, ptr site)
 *   i64  __kiln_sim_mbar_arrive(ptr bar, i32 tx_bytes, ptr site)     plain arrive: tx_bytes 0
 *   i32  __kiln_sim_mbar_try_wait(ptr bar, i32 parity, ptr site)
 *   void __kiln_sim_mbar_inval(ptr bar, ptr site)
 *   void __kiln_sim_fence_proxy_async(ptr site)
 *   void __kiln_sim_setmaxnreg(i32 inc, i32 n, ptr site)
 *   i32  __kiln_sim_elect_sync(ptr site)
 */
#include <assert.h>

#include "devops.h"
#include "devops_hopper.h"

static LLVMTypeRef i32t(cg_ctx *c) { return LLVMInt32TypeInContext(c->ctx); }
static LLVMTypeRef i64t(cg_ctx *c) { return LLVMInt64TypeInContext(c->ctx); }
static LLVMValueRef i32c(cg_ctx *c, int v) { return LLVMConstInt(i32t(c), (unsigned long long)v, 1); }

static LLVMValueRef call(cg_ctx *c, const char *name, LLVMTypeRef ret, LLVMValueRef *args, unsigned n) {
  LLVMTypeRef ptys[12];
  assert(n <= 12);
  for (unsigned i = 0; i < n; i++) ptys[i] = LLVMTypeOf(args[i]);
  return cg_sim_call(c, name, ret ? ret : LLVMVoidTypeInContext(c->ctx), ptys, args, n);
}

static void call_site(cg_ctx *c, const char *name) {
  LLVMValueRef s = cg_sim_site(c);
  call(c, name, NULL, &s, 1);
}

/* An [n x i32] array at the top of the entry block. */
static LLVMValueRef regs_alloca(cg_ctx *c, int n, const char *name) {
  LLVMBuilderRef b = cg_sim_entry_builder(c);
  LLVMValueRef a = LLVMBuildAlloca(b, LLVMArrayType2(i32t(c), (uint64_t)n), name);
  LLVMSetAlignment(a, 16);
  LLVMDisposeBuilder(b);
  return a;
}

static LLVMValueRef reg_ptr(cg_ctx *c, LLVMValueRef arr, int i) {
  LLVMValueRef idx = LLVMConstInt(i64t(c), (unsigned long long)i, 0);
  return LLVMBuildGEP2(c->b, i32t(c), arr, &idx, 1, "");
}

static void spill(cg_ctx *c, LLVMValueRef arr, const LLVMValueRef *v, int n) {
  for (int i = 0; i < n; i++) {
    LLVMValueRef x = v[i];
    if (LLVMTypeOf(x) != i32t(c)) x = LLVMBuildBitCast(c->b, x, i32t(c), "");
    LLVMBuildStore(c->b, x, reg_ptr(c, arr, i));
  }
}

static void fill(cg_ctx *c, LLVMValueRef arr, int n, const LLVMTypeRef *ty, LLVMValueRef *out) {
  for (int i = 0; i < n; i++) {
    LLVMValueRef x = LLVMBuildLoad2(c->b, i32t(c), reg_ptr(c, arr, i), "");
    out[i] = ty[i] == i32t(c) ? x : LLVMBuildBitCast(c->b, x, ty[i], "");
  }
}

static void wgmma_fence(cg_ctx *c) { call_site(c, "__kiln_sim_wgmma_fence"); }
static void wgmma_commit(cg_ctx *c) { call_site(c, "__kiln_sim_wgmma_commit"); }

/* Either form: A by descriptor (a = NULL: adesc, an i64) or from registers (a[4]: their array). */
static void wgmma(cg_ctx *c, cg_wgmma_type t, int n, LLVMValueRef adesc, const LLVMValueRef *a,
                  LLVMValueRef bdesc, const LLVMValueRef *acc, LLVMValueRef scale_d, int neg_a, int neg_b,
                  LLVMValueRef *d) {
  const cg_wgmma_info *wi = cg_wgmma_info_of(t);
  assert(wi && cg_wgmma_n_ok(t, n));
  int R = n / 2;
  LLVMValueRef arr = regs_alloca(c, R, "wgmma.acc");
  spill(c, arr, acc, R);
  if (a) {
    adesc = regs_alloca(c, 4, "wgmma.a");
    spill(c, adesc, a, 4);
  }
  LLVMValueRef sd = scale_d ? LLVMBuildZExt(c->b, scale_d, i32t(c), "") : i32c(c, 1);
  LLVMValueRef args[9] = {i32c(c, (int)t), i32c(c, n),     adesc,         bdesc, arr, sd,
                          i32c(c, neg_a),  i32c(c, neg_b), cg_sim_site(c)};
  call(c, a ? "__kiln_sim_wgmma_rs" : "__kiln_sim_wgmma", NULL, args, 9);
  LLVMTypeRef ty[128];
  for (int i = 0; i < R; i++) ty[i] = wi->acc_int ? i32t(c) : LLVMFloatTypeInContext(c->ctx);
  fill(c, arr, R, ty, d);
}

static void wgmma_wait(cg_ctx *c, int n, LLVMValueRef *regs, int nregs) {
  assert(nregs <= 128);
  LLVMValueRef arr = regs_alloca(c, nregs ? nregs : 1, "wgmma.wait");
  LLVMTypeRef ty[128];
  for (int i = 0; i < nregs; i++) ty[i] = LLVMTypeOf(regs[i]);
  spill(c, arr, regs, nregs);
  LLVMValueRef args[4] = {i32c(c, n), arr, i32c(c, nregs), cg_sim_site(c)};
  call(c, "__kiln_sim_wgmma_wait", NULL, args, 4);
  fill(c, arr, nregs, ty, regs);
}

static LLVMValueRef coords_array(cg_ctx *c, int dims, const LLVMValueRef *coords) {
  LLVMValueRef arr = regs_alloca(c, dims, "tma.coords");
  spill(c, arr, coords, dims);
  return arr;
}

static void tma_load(cg_ctx *c, int dims, LLVMValueRef sdst, LLVMValueRef tmap, const LLVMValueRef *coords,
                     LLVMValueRef bar) {
  LLVMValueRef args[6] = {i32c(c, dims), sdst, tmap, coords_array(c, dims, coords), bar, cg_sim_site(c)};
  call(c, "__kiln_sim_tma_load", NULL, args, 6);
}

static void tma_store(cg_ctx *c, int dims, LLVMValueRef tmap, const LLVMValueRef *coords, LLVMValueRef ssrc) {
  LLVMValueRef args[5] = {i32c(c, dims), tmap, coords_array(c, dims, coords), ssrc, cg_sim_site(c)};
  call(c, "__kiln_sim_tma_store", NULL, args, 5);
}

static void tma_store_commit(cg_ctx *c) { call_site(c, "__kiln_sim_tma_store_commit"); }

static void tma_store_wait(cg_ctx *c, int n) {
  LLVMValueRef args[2] = {i32c(c, n), cg_sim_site(c)};
  call(c, "__kiln_sim_tma_store_wait", NULL, args, 2);
}

static void mbar_init(cg_ctx *c, LLVMValueRef bar, LLVMValueRef count) {
  LLVMValueRef args[3] = {bar, count, cg_sim_site(c)};
  call(c, "__kiln_sim_mbar_init", NULL, args, 3);
}

static LLVMValueRef mbar_arrive_tx(cg_ctx *c, LLVMValueRef bar, LLVMValueRef tx) {
  LLVMValueRef args[3] = {bar, tx, cg_sim_site(c)};
  return call(c, "__kiln_sim_mbar_arrive", i64t(c), args, 3);
}

static LLVMValueRef mbar_arrive(cg_ctx *c, LLVMValueRef bar) { return mbar_arrive_tx(c, bar, i32c(c, 0)); }
static void mbar_arrive_expect_tx(cg_ctx *c, LLVMValueRef bar, LLVMValueRef tx) {
  mbar_arrive_tx(c, bar, tx);
}

static LLVMValueRef mbar_try_wait(cg_ctx *c, LLVMValueRef bar, LLVMValueRef parity) {
  LLVMValueRef args[3] = {bar, parity, cg_sim_site(c)};
  LLVMValueRef r = call(c, "__kiln_sim_mbar_try_wait", i32t(c), args, 3);
  return LLVMBuildICmp(c->b, LLVMIntNE, r, i32c(c, 0), "");
}

static void mbar_inval(cg_ctx *c, LLVMValueRef bar) {
  LLVMValueRef args[2] = {bar, cg_sim_site(c)};
  call(c, "__kiln_sim_mbar_inval", NULL, args, 2);
}

static void fence_proxy_async(cg_ctx *c) { call_site(c, "__kiln_sim_fence_proxy_async"); }

static void setmaxnreg(cg_ctx *c, int inc, int n) {
  LLVMValueRef args[3] = {i32c(c, inc), i32c(c, n), cg_sim_site(c)};
  call(c, "__kiln_sim_setmaxnreg", NULL, args, 3);
}

static LLVMValueRef elect_sync(cg_ctx *c) {
  LLVMValueRef s = cg_sim_site(c);
  return LLVMBuildICmp(c->b, LLVMIntNE, call(c, "__kiln_sim_elect_sync", i32t(c), &s, 1), i32c(c, 0), "");
}

static void tmap_param(cg_ctx *c, unsigned i) { (void)c, (void)i; /* a pointer to the map's bytes */ }

static LLVMValueRef smem_addr(cg_ctx *c, LLVMValueRef p) {
  LLVMValueRef base = c->ops->shared_base(c);
  LLVMValueRef b = LLVMBuildPtrToInt(c->b, base, i64t(c), ""); /* one at a time: argument order */
  LLVMValueRef d = LLVMBuildSub(c->b, LLVMBuildPtrToInt(c->b, p, i64t(c), ""), b, "");
  return LLVMBuildTrunc(c->b, d, i32t(c), "saddr");
}

const cg_hopper_ops cg_hopper_sim = {
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
