/*
 * devops_sim.c - the CG_SIM device ops: every GPU-specific operation becomes a call into the SIMT
 * simulator (codegen/sim_abi.h), so that the lowered kernel runs on the host, one fiber per thread.
 *
 * Design:
 *   - The module gets the host's triple and data layout (the ORC JIT compiles it for this CPU).
 *   - kernel_begin makes a plain external `void NAME(params)` host function (stack probes on, so that
 *     a fiber stack overflow faults on its guard page: sim/guard.c). Its entry block starts
 *     with `%ts = call ptr @__kiln_sim_thread()`; special registers and the shared-memory base are
 *     invariant loads from that per-thread state, so they cost no call.
 *   - A global or shared access is `call ptr @__kiln_sim_access(ptr, bytes, kind, site)`, which checks
 *     and records it (bounds, alignment, races, uninitialised reads) and returns the address; the load
 *     or store itself stays inline. A predicated access branches around both: masked-off lanes never
 *     reach the checker, and a masked load yields `other`. The builder is left in the join block.
 *   - Barriers and shuffles are calls: the simulator makes them rendezvous points between fibers.
 *   - Special math calls the simulator's C implementation (no libm symbol needed in the JIT).
 *   - Every loop back-edge calls __kiln_sim_loop(site of the loop op): the simulator's watchdog counts
 *     iterations there, so even a loop without device ops cannot spin unseen.
 *   - `site` (cg_ctx.site, the IR op being lowered) becomes a private constant string, one per distinct
 *     site.
 */
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg.h"
#include "sim_abi.h"

_Static_assert((int)SIM_NSREG == (int)CG_NSREG, "sim_abi.h SIM_NSREG must equal CG_NSREG");
_Static_assert((int)SIM_SHFL_XOR == (int)CG_SHFL_XOR && (int)SIM_SHFL_IDX == (int)CG_SHFL_IDX &&
                   (int)SIM_SHFL_UP == (int)CG_SHFL_UP && (int)SIM_SHFL_DOWN == (int)CG_SHFL_DOWN,
               "shuffle modes must match");

/* ---- host triple and data layout, computed once per process ---- */

static char *host_triple, *host_layout;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_init(void) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  char *triple = LLVMGetDefaultTargetTriple(), *msg = NULL;
  LLVMTargetRef t;
  if (LLVMGetTargetFromTriple(triple, &t, &msg)) {
    fprintf(stderr, "kiln: no LLVM target for the host triple %s: %s\n", triple, msg ? msg : "");
    abort();
  }
  char *cpu = LLVMGetHostCPUName(), *feat = LLVMGetHostCPUFeatures();
  LLVMTargetMachineRef tm = LLVMCreateTargetMachine(t, triple, cpu, feat, LLVMCodeGenLevelDefault,
                                                    LLVMRelocDefault, LLVMCodeModelJITDefault);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *dl = LLVMCopyStringRepOfTargetData(td);
  host_triple = strdup(triple);
  host_layout = strdup(dl);
  LLVMDisposeMessage(dl);
  LLVMDisposeTargetData(td);
  LLVMDisposeTargetMachine(tm);
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(feat);
  LLVMDisposeMessage(triple);
}

static void sim_module_init(cg_ctx *c) {
  pthread_once(&host_once, host_init);
  LLVMSetTarget(c->mod, host_triple);
  LLVMSetDataLayout(c->mod, host_layout);
}

/* ---- declarations of the simulator's entry points ---- */

static LLVMTypeRef ptr_t(cg_ctx *c) { return LLVMPointerTypeInContext(c->ctx, 0); }
static LLVMTypeRef i32_t(cg_ctx *c) { return LLVMInt32TypeInContext(c->ctx); }

/* Returns the declaration of `name`, adding it (nounwind) on first use. */
static LLVMValueRef sim_decl(cg_ctx *c, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n,
                             LLVMTypeRef *fty_out) {
  LLVMTypeRef fty = LLVMFunctionType(ret, params, n, 0);
  *fty_out = fty;
  LLVMValueRef f = LLVMGetNamedFunction(c->mod, name);
  if (f) return f;
  f = LLVMAddFunction(c->mod, name, fty);
  unsigned k = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, k, 0));
  return f;
}

LLVMValueRef cg_sim_call(cg_ctx *c, const char *name, LLVMTypeRef ret, LLVMTypeRef *ptys, LLVMValueRef *args,
                         unsigned n) {
  LLVMTypeRef fty;
  LLVMValueRef f = sim_decl(c, name, ret, ptys, n, &fty);
  return LLVMBuildCall2(c->b, fty, f, args, n, "");
}

/* The op site as a private constant string, one global per distinct string (named after it), so that
 * every call lowered from one op passes the same pointer: the simulator keys per-site records on it. */
LLVMValueRef cg_sim_site(cg_ctx *c) {
  const char *s = c->site ? c->site : "?";
  size_t n = strlen(s);
  char *name = malloc(n + 16);
  snprintf(name, n + 16, "kiln.site:%s", s);
  LLVMValueRef g = LLVMGetNamedGlobal(c->mod, name);
  if (g) {
    free(name);
    return g;
  }
  LLVMValueRef init = LLVMConstStringInContext2(c->ctx, s, n, 0);
  g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
  LLVMSetAlignment(g, 1);
  free(name);
  return g;
}

/* ---- kernel and per-thread state ---- */

static LLVMTypeRef sim_global_ptr_type(cg_ctx *c) { return ptr_t(c); }
static LLVMTypeRef sim_shared_ptr_type(cg_ctx *c) { return ptr_t(c); }

static LLVMValueRef sim_kernel_begin(cg_ctx *c, const char *name, LLVMTypeRef *params, unsigned n) {
  LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, n, 0);
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, fty);
  LLVMSetLinkage(fn, LLVMExternalLinkage);
  unsigned k = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, k, 0));
  /* probe big frames page by page, so that an overflow hits the fiber stack's guard page */
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(c->ctx, "probe-stack", 11, "inline-asm", 10));
  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
  LLVMPositionBuilderAtEnd(c->b, entry);
  c->fn = fn;
  LLVMValueRef ts = cg_sim_call(c, "__kiln_sim_thread", ptr_t(c), NULL, NULL, 0);
  LLVMSetValueName2(ts, "sim.ts", 6);
  return fn;
}

static void sim_kernel_end(cg_ctx *c) { (void)c; }

/* A builder before the entry block's first instruction (devops_mma.h). */
LLVMBuilderRef cg_sim_entry_builder(cg_ctx *c) {
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(c->ctx);
  LLVMValueRef first = LLVMGetFirstInstruction(entry);
  if (first)
    LLVMPositionBuilderBefore(b, first);
  else
    LLVMPositionBuilderAtEnd(b, entry);
  return b;
}

/* The kernel's `%ts`: the __kiln_sim_thread call in the entry block (re-created there if gone). */
static LLVMValueRef sim_thread_state(cg_ctx *c) {
  LLVMValueRef f = LLVMGetNamedFunction(c->mod, "__kiln_sim_thread");
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
  for (LLVMValueRef i = LLVMGetFirstInstruction(entry); i; i = LLVMGetNextInstruction(i))
    if (f && LLVMIsACallInst(i) && LLVMGetCalledValue(i) == f) return i;
  LLVMBuilderRef b = cg_sim_entry_builder(c);
  LLVMBuilderRef saved = c->b;
  c->b = b;
  LLVMValueRef ts = cg_sim_call(c, "__kiln_sim_thread", ptr_t(c), NULL, NULL, 0);
  c->b = saved;
  LLVMDisposeBuilder(b);
  return ts;
}

/* An invariant load of `ty` at byte offset `off` of the thread state. */
static LLVMValueRef sim_state_load(cg_ctx *c, LLVMTypeRef ty, unsigned off, const char *name) {
  LLVMValueRef ts = sim_thread_state(c);
  LLVMValueRef idx = LLVMConstInt(LLVMInt64TypeInContext(c->ctx), off, 0);
  LLVMValueRef p = LLVMBuildGEP2(c->b, LLVMInt8TypeInContext(c->ctx), ts, &idx, 1, "");
  LLVMValueRef v = LLVMBuildLoad2(c->b, ty, p, name);
  LLVMSetAlignment(v, ty == ptr_t(c) ? 8 : 4);
  unsigned md = LLVMGetMDKindIDInContext(c->ctx, "invariant.load", 14);
  LLVMSetMetadata(v, md, LLVMMetadataAsValue(c->ctx, LLVMMDNodeInContext2(c->ctx, NULL, 0)));
  return v;
}

static LLVMValueRef sim_sreg(cg_ctx *c, cg_sreg r) {
  static const char *names[CG_NSREG] = {"tid.x",    "ntid.x",   "ctaid.x",  "ctaid.y", "ctaid.z",
                                        "nctaid.x", "nctaid.y", "nctaid.z", "laneid"};
  return sim_state_load(c, i32_t(c), SIM_TS_SREG_OFF + 4 * (unsigned)r, names[r]);
}

static LLVMValueRef sim_shared_base(cg_ctx *c) {
  return sim_state_load(c, ptr_t(c), SIM_TS_SHARED_OFF, "smem");
}

/* ---- rendezvous ops ---- */

static void sim_named_barrier(cg_ctx *c, LLVMValueRef id, int n, int arrive) {
  LLVMTypeRef ts[3] = {i32_t(c), i32_t(c), ptr_t(c)};
  LLVMValueRef a[3] = {id, LLVMConstInt(i32_t(c), (unsigned)n, 0), cg_sim_site(c)};
  cg_sim_call(c, arrive ? "__kiln_sim_barrier_named_signal" : "__kiln_sim_barrier_named",
              LLVMVoidTypeInContext(c->ctx), ts, a, 3);
}

static void sim_barrier(cg_ctx *c) {
  LLVMTypeRef p = ptr_t(c);
  if (c->bar_threads) { /* a named barrier: id 1, the consumers of a warp_split */
    sim_named_barrier(c, LLVMConstInt(i32_t(c), 1, 0), c->bar_threads, 0);
    return;
  }
  LLVMValueRef site = cg_sim_site(c);
  cg_sim_call(c, "__kiln_sim_barrier", LLVMVoidTypeInContext(c->ctx), &p, &site, 1);
}

static void sim_check_bound(cg_ctx *c, LLVMValueRef v, LLVMValueRef n) {
  LLVMTypeRef i64 = LLVMInt64TypeInContext(c->ctx), ptys[3] = {i64, i64, ptr_t(c)};
  LLVMValueRef args[3] = {v, n, cg_sim_site(c)};
  cg_sim_call(c, "__kiln_sim_check_bound", LLVMVoidTypeInContext(c->ctx), ptys, args, 3);
}

static void sim_loop_back(cg_ctx *c) {
  LLVMTypeRef p = ptr_t(c);
  LLVMValueRef site = cg_sim_site(c);
  cg_sim_call(c, "__kiln_sim_loop", LLVMVoidTypeInContext(c->ctx), &p, &site, 1);
}

/* Shuffles any 32-bit scalar (bitcast through i32). */
static LLVMValueRef sim_shfl(cg_ctx *c, cg_shfl mode, LLVMValueRef v, LLVMValueRef arg) {
  LLVMTypeRef ty = LLVMTypeOf(v), i32 = i32_t(c);
  if (ty != i32) v = LLVMBuildBitCast(c->b, v, i32, "");
  if (LLVMTypeOf(arg) != i32) arg = LLVMBuildIntCast2(c->b, arg, i32, 0, "");
  LLVMTypeRef ptys[4] = {i32, i32, i32, ptr_t(c)};
  LLVMValueRef args[4] = {LLVMConstInt(i32, (unsigned)mode, 0), v, arg, cg_sim_site(c)};
  LLVMValueRef r = cg_sim_call(c, "__kiln_sim_shfl", i32, ptys, args, 4);
  return ty == i32 ? r : LLVMBuildBitCast(c->b, r, ty, "");
}

/* ---- memory ---- */

/* The alignment the checker demands of a `bytes`-byte access: its largest power-of-two divisor, <= 16. */
static unsigned sim_align(unsigned long long bytes) {
  unsigned a = 1;
  while (a < 16 && bytes % (a * 2) == 0) a *= 2;
  return a;
}

/* Calls the checker for an access of type `ty` at `ptr`; returns the address to use. */
static LLVMValueRef sim_checked_addr(cg_ctx *c, cg_space sp, int write, LLVMTypeRef ty, LLVMValueRef ptr,
                                     unsigned *align) {
  unsigned long long bytes = LLVMStoreSizeOfType(LLVMGetModuleDataLayout(c->mod), ty);
  *align = sim_align(bytes);
  LLVMTypeRef i32 = i32_t(c), p = ptr_t(c);
  unsigned kind = (write ? SIM_ACC_WRITE : 0) | (sp == CG_SHARED ? SIM_ACC_SHARED : 0);
  LLVMTypeRef ptys[4] = {p, i32, i32, p};
  LLVMValueRef args[4] = {ptr, LLVMConstInt(i32, bytes, 0), LLVMConstInt(i32, kind, 0), cg_sim_site(c)};
  return cg_sim_call(c, "__kiln_sim_access", p, ptys, args, 4);
}

static LLVMValueRef sim_load_now(cg_ctx *c, cg_space sp, LLVMTypeRef ty, LLVMValueRef ptr) {
  unsigned align;
  LLVMValueRef a = sim_checked_addr(c, sp, 0, ty, ptr, &align);
  LLVMValueRef v = LLVMBuildLoad2(c->b, ty, a, "");
  LLVMSetAlignment(v, align);
  return v;
}

static void sim_store_now(cg_ctx *c, cg_space sp, LLVMValueRef ptr, LLVMValueRef val) {
  unsigned align;
  LLVMValueRef a = sim_checked_addr(c, sp, 1, LLVMTypeOf(val), ptr, &align);
  LLVMValueRef s = LLVMBuildStore(c->b, val, a);
  LLVMSetAlignment(s, align);
}

/* 1 if pred is absent or the constant true, 0 if the constant false, -1 if only known at run time. */
static int pred_const(LLVMValueRef pred) {
  if (!pred) return 1;
  if (!LLVMIsAConstantInt(pred)) return -1;
  return LLVMConstIntGetZExtValue(pred) != 0;
}

/* A new block placed right after the current one. */
static LLVMBasicBlockRef block_after(cg_ctx *c, LLVMBasicBlockRef cur, const char *name) {
  LLVMBasicBlockRef next = LLVMGetNextBasicBlock(cur);
  if (next) return LLVMInsertBasicBlockInContext(c->ctx, next, name);
  return LLVMAppendBasicBlockInContext(c->ctx, LLVMGetBasicBlockParent(cur), name);
}

static LLVMValueRef sim_load(cg_ctx *c, cg_space sp, LLVMTypeRef ty, LLVMValueRef ptr, LLVMValueRef pred,
                             LLVMValueRef other) {
  int k = pred_const(pred);
  if (!other) other = LLVMConstNull(ty);
  if (k == 1) return sim_load_now(c, sp, ty, ptr);
  if (k == 0) return other;
  LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
  LLVMBasicBlockRef on = block_after(c, from, "sim.ld");
  LLVMBasicBlockRef join = block_after(c, on, "sim.ld.join");
  LLVMBuildCondBr(c->b, pred, on, join);
  LLVMPositionBuilderAtEnd(c->b, on);
  LLVMValueRef v = sim_load_now(c, sp, ty, ptr);
  LLVMBuildBr(c->b, join);
  LLVMPositionBuilderAtEnd(c->b, join);
  LLVMValueRef phi = LLVMBuildPhi(c->b, ty, "");
  LLVMValueRef vals[2] = {v, other};
  LLVMBasicBlockRef blocks[2] = {on, from};
  LLVMAddIncoming(phi, vals, blocks, 2);
  return phi;
}

static void sim_store(cg_ctx *c, cg_space sp, LLVMValueRef ptr, LLVMValueRef val, LLVMValueRef pred) {
  int k = pred_const(pred);
  if (k == 1) sim_store_now(c, sp, ptr, val);
  if (k != -1) return;
  LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
  LLVMBasicBlockRef on = block_after(c, from, "sim.st");
  LLVMBasicBlockRef join = block_after(c, on, "sim.st.join");
  LLVMBuildCondBr(c->b, pred, on, join);
  LLVMPositionBuilderAtEnd(c->b, on);
  sim_store_now(c, sp, ptr, val);
  LLVMBuildBr(c->b, join);
  LLVMPositionBuilderAtEnd(c->b, join);
}

/* ---- special math ---- */

static LLVMValueRef sim_math_scalar(cg_ctx *c, cg_math m, LLVMValueRef x) {
  LLVMTypeRef ty = LLVMTypeOf(x), i32 = i32_t(c);
  int dbl = LLVMGetTypeKind(ty) == LLVMDoubleTypeKind;
  LLVMTypeRef ptys[2] = {i32, ty};
  LLVMValueRef args[2] = {LLVMConstInt(i32, (unsigned)m, 0), x};
  return cg_sim_call(c, dbl ? "__kiln_sim_math" : "__kiln_sim_mathf", ty, ptys, args, 2);
}

/* f32 or f64, scalar or vector (element by element). */
static LLVMValueRef sim_math(cg_ctx *c, cg_math m, LLVMValueRef x) {
  LLVMTypeRef ty = LLVMTypeOf(x);
  if (LLVMGetTypeKind(ty) != LLVMVectorTypeKind) return sim_math_scalar(c, m, x);
  LLVMValueRef r = LLVMGetUndef(ty);
  LLVMTypeRef i32 = i32_t(c);
  for (unsigned i = 0; i < LLVMGetVectorSize(ty); i++) {
    LLVMValueRef idx = LLVMConstInt(i32, i, 0);
    LLVMValueRef e = sim_math_scalar(c, m, LLVMBuildExtractElement(c->b, x, idx, ""));
    r = LLVMBuildInsertElement(c->b, r, e, idx, "");
  }
  return r;
}

/* The paired fp8 conversions as two of lower_cast.c's single ones (decode through f32, exact). */
static LLVMValueRef sim_fp8x2_decode(cg_ctx *c, LLVMValueRef pair, int e) {
  LLVMTypeRef i8 = LLVMInt8TypeInContext(c->ctx), half = LLVMHalfTypeInContext(c->ctx);
  LLVMValueRef r = LLVMGetUndef(LLVMVectorType(half, 2));
  for (unsigned j = 0; j < 2; j++) {
    LLVMValueRef b = LLVMBuildLShr(c->b, pair, LLVMConstInt(LLVMTypeOf(pair), 8 * j, 0), "");
    LLVMValueRef f = cg_fp8_decode(c, LLVMBuildTrunc(c->b, b, i8, ""), (ir_elem)e);
    r = LLVMBuildInsertElement(c->b, r, LLVMBuildFPTrunc(c->b, f, half, ""),
                               LLVMConstInt(LLVMInt32TypeInContext(c->ctx), j, 0), "");
  }
  return r;
}

static LLVMValueRef sim_fp8x2_encode(cg_ctx *c, LLVMValueRef lo, LLVMValueRef hi, int e) {
  LLVMTypeRef i16 = LLVMInt16TypeInContext(c->ctx);
  LLVMValueRef l = LLVMBuildZExt(c->b, cg_fp8_encode(c, lo, (ir_elem)e), i16, "");
  LLVMValueRef h = LLVMBuildZExt(c->b, cg_fp8_encode(c, hi, (ir_elem)e), i16, "");
  return LLVMBuildOr(c->b, l, LLVMBuildShl(c->b, h, LLVMConstInt(i16, 8, 0), ""), "");
}

const cg_devops cg_devops_sim = {
    .name = "sim",
    .module_init = sim_module_init,
    .global_ptr_type = sim_global_ptr_type,
    .shared_ptr_type = sim_shared_ptr_type,
    .kernel_begin = sim_kernel_begin,
    .kernel_end = sim_kernel_end,
    .sreg = sim_sreg,
    .barrier = sim_barrier,
    .named_barrier = sim_named_barrier,
    .shfl = sim_shfl,
    .shared_base = sim_shared_base,
    .load = sim_load,
    .store = sim_store,
    .math = sim_math,
    .loop_back = sim_loop_back,
    .check_bound = sim_check_bound,
    .fp8x2_decode = sim_fp8x2_decode,
    .fp8x2_encode = sim_fp8x2_encode,
    .mma = cg_sim_mma,
    .ldmatrix = cg_sim_ldmatrix,
    .cp_async = cg_sim_cp_async,
    .cp_async_commit = cg_sim_cp_async_commit,
    .cp_async_wait = cg_sim_cp_async_wait,
    .hopper = &cg_hopper_sim,
};
