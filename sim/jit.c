/*
 * jit.c - loading a CG_SIM kernel: LLVM ORC LLJIT compiles its module for the host and resolves the
 * simulator's entry points and library calls as absolute symbols (libcalls.c).
 *
 * 1. Take the module and context out of the cg_result (they are consumed even on error).
 * 2. Read the kernel function's parameters (kind, width, name) for argument checks and libffi.
 * 3. Wrap the context in a ThreadSafeContext, create the LLJIT, define the absolute symbols in its
 *    main JITDylib, add the module, look the kernel up (this compiles it).
 */
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

enum { SIM_MAX_SHARED = 1 << 20 };

static pthread_once_t native_once = PTHREAD_ONCE_INIT;
static void native_init(void) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
}

static void flatten(char *s) {
  for (; *s; s++)
    if (*s == '\n') *s = ' ';
}

/* Writes "sim: WHAT for kernel K: MESSAGE" (newlines flattened), consumes e, returns -1. */
static int llvm_fail(LLVMErrorRef e, const char *what, const char *kname, char *err, size_t errn) {
  char *m = LLVMGetErrorMessage(e);
  snprintf(err, errn, "sim: %s for kernel %s: %s", what, kname, m);
  LLVMDisposeErrorMessage(m);
  flatten(err);
  return -1;
}

static void param_info(LLVMValueRef fn, unsigned i, sim_param *p) {
  LLVMValueRef v = LLVMGetParam(fn, i);
  LLVMTypeRef ty = LLVMTypeOf(v);
  size_t len;
  const char *nm = LLVMGetValueName2(v, &len);
  p->name = len ? strndup(nm, len) : NULL;
  char *ts = LLVMPrintTypeToString(ty);
  p->type = strdup(ts);
  LLVMDisposeMessage(ts);
  switch (LLVMGetTypeKind(ty)) {
  case LLVMPointerTypeKind: p->kind = SIM_P_PTR; break;
  case LLVMIntegerTypeKind:
    p->kind = LLVMGetIntTypeWidth(ty) <= 64 ? SIM_P_INT : SIM_P_OTHER;
    p->bits = (int)LLVMGetIntTypeWidth(ty);
    break;
#if defined(__x86_64__) /* passed in an SSE register's low 16 bits: launch.c uses a float carrier */
  case LLVMHalfTypeKind: p->kind = SIM_P_F16; break;
  case LLVMBFloatTypeKind: p->kind = SIM_P_BF16; break;
#endif
  case LLVMFloatTypeKind: p->kind = SIM_P_F32; break;
  case LLVMDoubleTypeKind: p->kind = SIM_P_F64; break;
  default: p->kind = SIM_P_OTHER; break;
  }
}

/* Checks the kernel function and fills the kernel's shape and parameters. */
static int describe(sim_kernel *k, const cg_result *r, LLVMModuleRef mod, char *err, size_t errn) {
  LLVMValueRef fn = LLVMGetNamedFunction(mod, k->name);
  if (!fn || LLVMIsDeclaration(fn)) {
    snprintf(err, errn, "sim: kernel %s is not defined in its module", k->name);
    return -1;
  }
  LLVMTypeRef fty = LLVMGlobalGetValueType(fn);
  if (LLVMGetTypeKind(LLVMGetReturnType(fty)) != LLVMVoidTypeKind) {
    snprintf(err, errn, "sim: kernel %s must return void", k->name);
    return -1;
  }
  if (r->threads < 1 || r->threads > 1024) {
    snprintf(err, errn, "sim: kernel %s has %d threads per block (1..1024 allowed)", k->name, r->threads);
    return -1;
  }
  if (r->shared_bytes < 0 || r->shared_bytes > SIM_MAX_SHARED) {
    snprintf(err, errn, "sim: kernel %s asks for %d bytes of shared memory (0..%d allowed)", k->name,
             r->shared_bytes, SIM_MAX_SHARED);
    return -1;
  }
  k->threads = r->threads;
  k->shared_bytes = r->shared_bytes;
  k->nparams = (int)LLVMCountParams(fn);
  k->params = calloc((size_t)k->nparams + 1, sizeof *k->params);
  for (int i = 0; i < k->nparams; i++) param_info(fn, (unsigned)i, &k->params[i]);
  return 0;
}

static LLVMErrorRef define_symbols(LLVMOrcLLJITRef jit) {
  LLVMOrcCSymbolMapPair *pairs = calloc((size_t)sim_nsymbols, sizeof *pairs);
  for (int i = 0; i < sim_nsymbols; i++) {
    pairs[i].Name = LLVMOrcLLJITMangleAndIntern(jit, sim_symbols[i].name);
    pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)sim_symbols[i].addr;
    pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
  }
  LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, (size_t)sim_nsymbols);
  free(pairs);
  LLVMErrorRef e = LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(jit), mu);
  if (e) LLVMOrcDisposeMaterializationUnit(mu);
  return e;
}

/* The JIT session's own errors (unresolved symbols, ...) are kept for the report, not printed. */
static void session_error(void *ctx, LLVMErrorRef e) {
  sim_kernel *k = ctx;
  char *m = LLVMGetErrorMessage(e);
  if (!k->jit_err[0]) snprintf(k->jit_err, sizeof k->jit_err, "%s", m);
  LLVMDisposeErrorMessage(m);
}

/* Steps 3: the JIT, its symbols, the module (consumed), the kernel's address. */
static int compile(sim_kernel *k, LLVMContextRef ctx, LLVMModuleRef mod, char *err, size_t errn) {
  pthread_once(&native_once, native_init);
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContextFromLLVMContext(ctx);
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc);
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&k->jit, NULL);
  if (e) {
    LLVMOrcDisposeThreadSafeModule(tsm);
    return llvm_fail(e, "cannot create the JIT", k->name, err, errn);
  }
  LLVMOrcExecutionSessionSetErrorReporter(LLVMOrcLLJITGetExecutionSession(k->jit), session_error, k);
  if ((e = define_symbols(k->jit))) {
    LLVMOrcDisposeThreadSafeModule(tsm);
    return llvm_fail(e, "cannot define the simulator's symbols", k->name, err, errn);
  }
  if ((e = LLVMOrcLLJITAddLLVMIRModule(k->jit, LLVMOrcLLJITGetMainJITDylib(k->jit), tsm))) {
    LLVMOrcDisposeThreadSafeModule(tsm);
    return llvm_fail(e, "cannot add the module to the JIT", k->name, err, errn);
  }
  LLVMOrcExecutorAddress addr = 0;
  if ((e = LLVMOrcLLJITLookup(k->jit, &addr, k->name))) {
    if (!k->jit_err[0]) return llvm_fail(e, "JIT compilation failed", k->name, err, errn);
    LLVMConsumeError(e); /* "failed to materialize": the session's error says why */
    snprintf(err, errn, "sim: JIT compilation failed for kernel %s: %s", k->name, k->jit_err);
    flatten(err);
    return -1;
  }
  k->entry = (void (*)(void))(uintptr_t)addr;
  return 0;
}

sim_kernel *sim_load(cg_result *r, char *err, size_t errn) {
  LLVMContextRef ctx = r->llvm_ctx;
  LLVMModuleRef mod = r->llvm_mod;
  r->llvm_ctx = r->llvm_mod = NULL;
  if (!ctx || !mod) {
    snprintf(err, errn, "sim: kernel %s has no LLVM module (compile it for the sim back end)",
             r->kernel_name ? r->kernel_name : "?");
    if (mod) LLVMDisposeModule(mod);
    if (ctx) LLVMContextDispose(ctx);
    return NULL;
  }
  sim_kernel *k = calloc(1, sizeof *k);
  k->name = strdup(r->kernel_name ? r->kernel_name : "");
  if (describe(k, r, mod, err, errn)) {
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    sim_kernel_free(k);
    return NULL;
  }
  if (compile(k, ctx, mod, err, errn)) {
    sim_kernel_free(k);
    return NULL;
  }
  return k;
}

void sim_kernel_free(sim_kernel *k) {
  if (!k) return;
  if (k->jit) {
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(k->jit);
    if (e) LLVMConsumeError(e);
  }
  for (int i = 0; i < k->nparams; i++) {
    free(k->params[i].name);
    free(k->params[i].type);
  }
  free(k->params);
  free(k->name);
  free(k);
}

const char *sim_kernel_name(const sim_kernel *k) { return k->name; }
