/*
 * devops_nvptx_mma.c - tensor-core device ops for the NVPTX target: NVVM intrinsics.
 *
 * Every op here has an NVVM intrinsic in LLVM 22, so no inline PTX is needed:
 *   mma.sync  -> llvm.nvvm.mma.<shape>.row.col.<types> (the name is in cg_mma_info.nvvm)
 *   ldmatrix  -> llvm.nvvm.ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].b16 (overloaded on the pointer)
 *   cp.async  -> llvm.nvvm.cp.async.{ca,cg}.shared.global.{4,8,16}[.s], .commit.group, .wait.group
 * Declarations come from LLVM's own intrinsic table (LLVMGetIntrinsicDeclaration), so their
 * signatures are LLVM's. Operands are coerced to them: i32 fragment registers become <2 x half> where
 * the f16 intrinsics want that, and pointers are cast into the address space the intrinsic expects
 * (3 shared, 1 global). The caller has checked the target (cg_mma_check, cg_tc_check); an intrinsic
 * missing from LLVM is a compiler bug and aborts.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "devops.h"
#include "devops_mma.h"

enum { AS_SHARED = 3 }; /* NVPTX address space of shared memory */

/* Declares intrinsic `name` in c->mod (overload types `over`, n of them); *fty receives its type. */
static LLVMValueRef intrinsic(cg_ctx *c, const char *name, LLVMTypeRef *over, size_t n, LLVMTypeRef *fty) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) {
    fprintf(stderr, "kiln: internal error: LLVM has no intrinsic %s\n", name);
    abort();
  }
  *fty = LLVMIntrinsicGetType(c->ctx, id, over, n);
  return LLVMGetIntrinsicDeclaration(c->mod, id, over, n);
}

/* v as type `to`: same-size bitcast (i32 <-> <2 x half>) or pointer address-space cast. */
static LLVMValueRef coerce(cg_ctx *c, LLVMValueRef v, LLVMTypeRef to) {
  LLVMTypeRef from = LLVMTypeOf(v);
  if (from == to) return v;
  if (LLVMGetTypeKind(from) == LLVMPointerTypeKind && LLVMGetTypeKind(to) == LLVMPointerTypeKind)
    return LLVMBuildAddrSpaceCast(c->b, v, to, "");
  return LLVMBuildBitCast(c->b, v, to, "");
}

/* Calls f (type fty) with args coerced to its parameter types. */
static LLVMValueRef call(cg_ctx *c, LLVMValueRef f, LLVMTypeRef fty, LLVMValueRef *args, unsigned n) {
  LLVMTypeRef params[16];
  assert(LLVMCountParamTypes(fty) == n && n <= 16);
  LLVMGetParamTypes(fty, params);
  for (unsigned i = 0; i < n; i++) args[i] = coerce(c, args[i], params[i]);
  return LLVMBuildCall2(c->b, fty, f, args, n, "");
}

void cg_nvptx_mma(cg_ctx *c, cg_mma_kind k, const LLVMValueRef *a, const LLVMValueRef *b,
                  const LLVMValueRef *acc, LLVMValueRef *d) {
  const cg_mma_info *mi = cg_mma_info_of(k);
  LLVMTypeRef fty;
  LLVMValueRef f = intrinsic(c, mi->nvvm, NULL, 0, &fty);
  LLVMValueRef args[12];
  unsigned n = 0;
  for (int i = 0; i < mi->na; i++) args[n++] = a[i];
  for (int i = 0; i < mi->nb; i++) args[n++] = b[i];
  for (int i = 0; i < mi->nc; i++) args[n++] = acc[i];
  LLVMValueRef r = call(c, f, fty, args, n);
  for (int i = 0; i < mi->nc; i++) d[i] = LLVMBuildExtractValue(c->b, r, (unsigned)i, "");
}

void cg_nvptx_ldmatrix(cg_ctx *c, int num, int trans, LLVMValueRef saddr, LLVMValueRef *out) {
  assert(num == 1 || num == 2 || num == 4);
  char name[64];
  snprintf(name, sizeof name, "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x%d%s.b16", num, trans ? ".trans" : "");
  LLVMTypeRef sptr = LLVMPointerTypeInContext(c->ctx, AS_SHARED), fty;
  LLVMValueRef f = intrinsic(c, name, &sptr, 1, &fty);
  LLVMValueRef arg = saddr;
  LLVMValueRef r = call(c, f, fty, &arg, 1);
  if (num == 1) { /* x1 returns a plain i32, x2/x4 a struct */
    out[0] = r;
    return;
  }
  for (int i = 0; i < num; i++) out[i] = LLVMBuildExtractValue(c->b, r, (unsigned)i, "");
}

void cg_nvptx_cp_async(cg_ctx *c, LLVMValueRef sdst, LLVMValueRef gsrc, int bytes, LLVMValueRef src_bytes) {
  assert(bytes == 4 || bytes == 8 || bytes == 16);
  if (src_bytes && LLVMTypeOf(src_bytes) == LLVMInt1TypeInContext(c->ctx)) {
    /* all or nothing. In a wide copy (c->wide_copy), the source size selp(p, bytes, 0) inside the
     * asm, which ptxas makes one LDGSTS with p as its zero-fill predicate (outside the asm, LLVM
     * splits the select of an `and` into nested selects, and each copy costs compares). Otherwise
     * two predicated copies, the second a zero fill: two LDGSTS, but in the GEMM's 8-warp loop
     * (2 chunks a thread) the one-instruction form made ptxas move pointer pairs and stop folding
     * ldmatrix addresses (1.81 -> 2.00 non-MMA per MMA on sm_80). PTX 7.5's ignore-src operand
     * would say the same; sm_80 emits PTX 7.1. */
    const char *cache = bytes == 16 ? "cg" : "ca";
    char text[256];
    if (c->wide_copy)
      snprintf(
          text, sizeof text,
          "{\n\t.reg .b32 n;\n\tselp.b32 n, %d, 0, $2;\n\tcp.async.%s.shared.global [$0], [$1], %d, n;\n\t}",
          bytes, cache, bytes);
    else
      snprintf(text, sizeof text,
               "@$2 cp.async.%s.shared.global [$0], [$1], %d;\n\t@!$2 cp.async.%s.shared.global [$0], [$1], "
               "%d, 0;",
               cache, bytes, cache, bytes);
    LLVMTypeRef sp = LLVMPointerTypeInContext(c->ctx, 3), gp = LLVMPointerTypeInContext(c->ctx, 1);
    LLVMValueRef args[3] = {coerce(c, sdst, sp), NULL, src_bytes}; /* one at a time: C leaves the order */
    args[1] = coerce(c, gsrc, gp);                                 /* of initialisers open */
    LLVMTypeRef ps[3] = {sp, gp, LLVMInt1TypeInContext(c->ctx)};
    LLVMTypeRef ft = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), ps, 3, 0);
    const char *cons = "l,l,b,~{memory}";
    LLVMValueRef a = LLVMGetInlineAsm(ft, text, strlen(text), (char *)cons, strlen(cons), 1, 0,
                                      LLVMInlineAsmDialectATT, 0);
    LLVMBuildCall2(c->b, ft, a, args, 3, "");
    return;
  }
  char name[64]; /* 16-byte copies bypass L1 (.cg), as tiles are staged in shared memory anyway */
  snprintf(name, sizeof name, "llvm.nvvm.cp.async.%s.shared.global.%d%s", bytes == 16 ? "cg" : "ca", bytes,
           src_bytes ? ".s" : "");
  LLVMTypeRef fty;
  LLVMValueRef f = intrinsic(c, name, NULL, 0, &fty);
  LLVMValueRef args[3] = {sdst, gsrc, src_bytes};
  call(c, f, fty, args, src_bytes ? 3 : 2);
}

void cg_nvptx_cp_async_commit(cg_ctx *c) {
  LLVMTypeRef fty;
  LLVMValueRef f = intrinsic(c, "llvm.nvvm.cp.async.commit.group", NULL, 0, &fty);
  LLVMBuildCall2(c->b, fty, f, NULL, 0, "");
}

void cg_nvptx_cp_async_wait(cg_ctx *c, int n) {
  assert(n >= 0);
  LLVMTypeRef fty;
  LLVMValueRef f = intrinsic(c, "llvm.nvvm.cp.async.wait.group", NULL, 0, &fty);
  LLVMValueRef arg = LLVMConstInt(LLVMInt32TypeInContext(c->ctx), (unsigned)n, 0);
  LLVMBuildCall2(c->b, fty, f, &arg, 1, "");
}
