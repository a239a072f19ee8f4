/*
 * codegen.c - cg_compile: from laid-out tile IR to an LLVM module, then PTX (or a module for the
 * simulator).
 *
 * Steps:
 *   1. Check the input: every tile has a layout, every shared buffer an offset; find where the scratch
 *      area starts (after the planned shared memory, 16-byte aligned).
 *   2. Create one LLVM context, module and builder; the device ops set up the module and create the
 *      kernel (PTX-kernel calling convention on NVPTX). Kernel parameters: ptr<E> -> global pointer,
 *      scalars -> their LLVM type.
 *   3. Lower the body op by op (the table lowerings[], expanded from ops.def's lower column), each op
 *      family in its lower_*.c file. Values every thread needs once (thread ids, per-layout offsets)
 *      go into a prologue block.
 *   4. Check the shared memory total against the target, then verify the module: a failure is a
 *      compiler bug (print the module, abort).
 *   5. Optimise (kiln's pass pipeline, below); NVPTX: emit PTX through the target machine; sim: hand the
 * module and its context to the caller. User errors longjmp back here from anywhere in the lowering
 * (cg_fail); LLVM objects are then freed.
 */
#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cg.h"

#define NVPTX_TRIPLE "nvptx64-nvidia-cuda"

/* ---- helpers shared by the lower_*.c files ---- */

_Noreturn void cg_fail(cg_lower *L, ir_opid op, const char *fmt, ...) {
  int n = 0;
  if (op && L->fn->ops[op].file)
    n = snprintf(L->err, L->errn, "%s:%d: ", L->fn->ops[op].file, L->fn->ops[op].line);
  if (n < 0 || (size_t)n >= L->errn) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(L->err + n, L->errn - n, fmt, ap);
  va_end(ap);
  longjmp(L->fail, 1);
}

void cg_require(cg_lower *L, ir_opid op, uint32_t feature) {
  char msg[256];
  if (tg_target_require(L->c.target, feature, ir_opinfo_table[L->fn->ops[op].code].name, msg, sizeof msg))
    cg_fail(L, op, "%s", msg);
}

LLVMTypeRef cg_elem_type(cg_lower *L, ir_elem e) {
  LLVMContextRef C = L->c.ctx;
  switch (e) {
  case IR_I1: return LLVMInt1TypeInContext(C);
  case IR_I8:
  case IR_U8:
  case IR_E4M3:
  case IR_E5M2: return LLVMInt8TypeInContext(C);
  case IR_I16: return LLVMInt16TypeInContext(C);
  case IR_I32:
  case IR_U32: return LLVMInt32TypeInContext(C);
  case IR_I64: return LLVMInt64TypeInContext(C);
  case IR_F16: return LLVMHalfTypeInContext(C);
  case IR_BF16: return LLVMBFloatTypeInContext(C);
  case IR_F32: return LLVMFloatTypeInContext(C);
  case IR_F64: return LLVMDoubleTypeInContext(C);
  default: abort();
  }
}

LLVMTypeRef cg_mem_type(cg_lower *L, ir_elem e) {
  return e == IR_I1 ? LLVMInt8TypeInContext(L->c.ctx) : cg_elem_type(L, e);
}

LLVMValueRef cg_to_mem(cg_lower *L, LLVMValueRef v, ir_elem e) {
  return e == IR_I1 ? LLVMBuildZExt(L->c.b, v, LLVMInt8TypeInContext(L->c.ctx), "") : v;
}

LLVMValueRef cg_from_mem(cg_lower *L, LLVMValueRef v, ir_elem e) {
  return e == IR_I1 ? LLVMBuildICmp(L->c.b, LLVMIntNE, v, LLVMConstInt(LLVMTypeOf(v), 0, 0), "") : v;
}

LLVMValueRef cg_i32(cg_lower *L, int64_t v) {
  return LLVMConstInt(LLVMInt32TypeInContext(L->c.ctx), (unsigned long long)v, 1);
}
LLVMValueRef cg_i64(cg_lower *L, int64_t v) {
  return LLVMConstInt(LLVMInt64TypeInContext(L->c.ctx), (unsigned long long)v, 1);
}

cg_value *cg_get(cg_lower *L, ir_val v) {
  if (!L->vals[v].v) {
    fprintf(stderr, "kiln: codegen: value %u used before it was lowered (%s)\n", v,
            L->c.site ? L->c.site : "");
    abort();
  }
  return &L->vals[v];
}

LLVMValueRef *cg_def(cg_lower *L, ir_val v, uint32_t n) {
  L->vals[v].n = n;
  L->vals[v].v = ir_alloc(L->A, (n ? n : 1) * sizeof(LLVMValueRef));
  return L->vals[v].v;
}

LLVMValueRef cg_call(cg_lower *L, const char *name, LLVMTypeRef ret, LLVMValueRef *args, unsigned n) {
  LLVMTypeRef ps[8];
  for (unsigned i = 0; i < n && i < 8; i++) ps[i] = LLVMTypeOf(args[i]);
  LLVMTypeRef ft = LLVMFunctionType(ret, ps, n, 0);
  LLVMValueRef f = LLVMGetNamedFunction(L->c.mod, name);
  if (!f) f = LLVMAddFunction(L->c.mod, name, ft);
  return LLVMBuildCall2(L->c.b, ft, f, args, n, "");
}

void cg_enter_prologue(cg_lower *L, LLVMBasicBlockRef *saved) {
  *saved = LLVMGetInsertBlock(L->c.b);
  LLVMPositionBuilderAtEnd(L->c.b, L->prologue);
}

void cg_leave_prologue(cg_lower *L, LLVMBasicBlockRef saved) { LLVMPositionBuilderAtEnd(L->c.b, saved); }

LLVMBasicBlockRef cg_block(cg_lower *L, const char *name) {
  return LLVMAppendBasicBlockInContext(L->c.ctx, L->c.fn, name);
}

/* ---- the op switch ---- */

/* "load %12 (softmax.lua:14)": what the simulator names in its reports. */
static uint32_t text_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

/* 1 if text is new, and then recorded (the table never fills: at most one text per op). */
static int text_new(cg_lower *L, const char *text) {
  uint32_t m = L->ntexts - 1;
  for (uint32_t h = text_hash(text) & m;; h = (h + 1) & m) {
    if (!L->texts[h]) return L->texts[h] = text, 1;
    if (!strcmp(L->texts[h], text)) return 0;
  }
}

/* The op's site, as the simulator's reports and profile name it: "store %5 (file:line)". Sites
 * with the same text are one site to the simulator (codegen/devops_sim.c), whose profile groups a
 * site's accesses into requests: two ops of one line and name without a result name (two stores
 * of a line) get " #2", " #3" ... after the first, so that one op's lanes never join another's.
 * Made once per op: an op lowered twice (a loop's versions) keeps its one site. */
static const char *site_of(cg_lower *L, ir_opid op) {
  if (!L->sites) {
    L->sites = ir_alloc(L->A, (L->fn->nops + 1) * sizeof *L->sites);
    memset(L->sites, 0, (L->fn->nops + 1) * sizeof *L->sites);
    for (L->ntexts = 64; L->ntexts < 2 * L->fn->nops + 2; L->ntexts *= 2) {
    }
    L->texts = ir_alloc(L->A, L->ntexts * sizeof *L->texts);
    memset(L->texts, 0, L->ntexts * sizeof *L->texts);
  }
  if (op <= L->fn->nops && L->sites[op]) return L->sites[op];
  ir_op *o = &L->fn->ops[op];
  char buf[256], text[280];
  int n = snprintf(buf, sizeof buf, "%s", ir_opinfo_table[o->code].name);
  if (o->nres && L->names[o->res[0]]) n += snprintf(buf + n, sizeof buf - n, " %s", L->names[o->res[0]]);
  int at = n;
  if (o->file) snprintf(buf + n, sizeof buf - n, " (%s:%d)", o->file, o->line);
  snprintf(text, sizeof text, "%s", buf);
  for (int k = 2; !text_new(L, ir_strdup(L->A, text)); k++)
    snprintf(text, sizeof text, "%.*s #%d%s", at, buf, k, buf + at);
  const char *s = ir_strdup(L->A, text);
  if (op <= L->fn->nops) L->sites[op] = s;
  return s;
}

/* Each op's lowering: ops.def's lower column. */
static void (*const lowerings[IR_NOPS])(cg_lower *, ir_opid) = {
#define OP(E, name, nopnd, nres, nregion, flags, elems, verify, lower, lua, lua_name, lua_meta)              \
  [IR_OP_##E] = cg_lower_##lower,
#include "../ir/ops.def"
#undef OP
};

static void lower_op(cg_lower *L, ir_opid op) {
  ir_op *o = &L->fn->ops[op];
  L->c.site = site_of(L, op);
  lowerings[o->code](L, op);
}

void cg_lower_region(cg_lower *L, ir_reg r) {
  uint32_t i = 0;
  for (ir_opid op = L->fn->regions[r].first; op; op = L->fn->ops[op].next) {
    if (r == L->fn->body) L->top = ++i;
    lower_op(L, op);
  }
}

/* 1 if op or an op nested in it has a shared buffer among its operands or results. */
static int uses_smem(ir_func *fn, ir_opid op) {
  ir_op *o = &fn->ops[op];
  for (uint32_t k = 0; k < o->nopnd; k++)
    if (ir_vtype(fn, o->opnd[k]).kind == IR_TSMEM) return 1;
  for (uint32_t k = 0; k < o->nres; k++)
    if (ir_vtype(fn, o->res[k]).kind == IR_TSMEM) return 1;
  for (int r = 0; r < o->nregion; r++)
    for (ir_opid c = fn->regions[o->region[r]].first; c; c = fn->ops[c].next)
      if (uses_smem(fn, c)) return 1;
  return 0;
}

/* L->dead_from (cg.h): the body's first barrier after the last op that uses a shared buffer. Only
 * ops of the body count, so a loop's buffers stay live through the whole loop. That barrier also
 * waits for every cp.async of the thread (cg_lower_barrier), so that none is still landing in the
 * buffers when the scratch reuses them. */
static void find_dead_buffers(cg_lower *L) {
  ir_func *fn = L->fn;
  uint32_t i = 0, last = 0;
  for (ir_opid op = fn->regions[fn->body].first; op; op = fn->ops[op].next) {
    i++;
    if (uses_smem(fn, op)) last = i;
  }
  if (!last) return;
  i = 0;
  for (ir_opid op = fn->regions[fn->body].first; op; op = fn->ops[op].next)
    if (++i > last && fn->ops[op].code == IR_OP_BARRIER) {
      L->dead_from = i + 1;
      L->dead_barrier = op;
      return;
    }
}

/* ---- step 1: input checks and the shared-memory plan ---- */

static int smem_bytes(ir_type t) { return (int)ir_type_numel(t) * ir_elem_bytes(t.elem); }

static int pow2(uint32_t x) { return x && !(x & (x - 1)); }

/* The layout describes whole warps and the kernel's warps: each entry a power of two, lanes
 * multiplying to 32, warps to the kernel's, order a permutation. */
static int layout_ok(const cg_lower *L, ir_type t) {
  uint32_t tpw = 1, wpc = 1, seen = 0;
  if (t.layout.kind >= IR_LMMA) { /* mma layouts (ir.h): a warp grid within the kernel's warps */
    ir_layout want = ir_layout_mma((ir_lkind)t.layout.kind, t.layout.wpc[0], t.layout.wpc[1],
                                   t.layout.kind == IR_LMMA_B ? t.layout.spt[0] : t.layout.spt[1]);
    return t.rank == 2 && pow2(t.layout.wpc[0]) && pow2(t.layout.wpc[1]) &&
           (uint32_t)t.layout.wpc[0] * t.layout.wpc[1] <= (uint32_t)L->warps &&
           !memcmp(&want, &t.layout, sizeof want);
  }
  for (int d = 0; d < t.rank; d++) {
    const ir_layout *l = &t.layout;
    if (!pow2(l->spt[d]) || !pow2(l->tpw[d]) || !pow2(l->wpc[d]) || l->order[d] >= t.rank ||
        (seen & (1u << l->order[d])))
      return 0;
    seen |= 1u << l->order[d];
    tpw *= l->tpw[d];
    wpc *= l->wpc[d];
  }
  return tpw == 32 && wpc == (uint32_t)L->warps;
}

/* A tile value (result of op, or a block argument of a region of op) must have a valid layout. */
static void check_tile(cg_lower *L, ir_opid op, ir_val v) {
  ir_type t = ir_vtype(L->fn, v);
  const char *name = ir_opinfo_table[L->fn->ops[op].code].name;
  if (t.kind != IR_TTILE) return;
  if (t.layout.kind == IR_LNONE || t.layout.kind > IR_LMMA_B)
    cg_fail(L, op, "op '%s' gives a tile without a layout: run the layout pass before codegen", name);
  if (!layout_ok(L, t)) {
    char ts[160];
    ir_type_str(t, ts, sizeof ts);
    cg_fail(L, op, "op '%s' gives %s, whose layout does not cover 32 lanes and %d warps", name, ts, L->warps);
  }
}

/* Every tile has a valid layout; every shared buffer an offset. Returns the end of planned shared
 * memory. */
static int check_input(cg_lower *L) {
  ir_func *fn = L->fn;
  if (L->warps < 1 || L->warps > 32 || !pow2((uint32_t)L->warps))
    cg_fail(L, 0, "kernel '%s': warps = %d must be a power of two from 1 to 32", fn->name, L->warps);
  int end = (int)ir_attr_i(fn->attrs, "shared_bytes", 0);
  for (ir_opid op = 1; op < fn->nops; op++) {
    ir_op *o = &fn->ops[op];
    if (o->dead) continue;
    for (uint32_t i = 0; i < o->nres; i++) check_tile(L, op, o->res[i]);
    for (int r = 0; r < o->nregion; r++)
      for (uint32_t i = 0; i < fn->regions[o->region[r]].nargs; i++)
        check_tile(L, op, fn->regions[o->region[r]].args[i]);
    if (o->code != IR_OP_ALLOC_SHARED) continue;
    ir_attr *a = ir_attr_get(o->attrs, "offset");
    if (!a || a->kind != IR_AINT || a->i < 0)
      cg_fail(L, op, "op 'alloc_shared' has no offset: run the shared-plan pass before codegen");
    int e = (int)a->i + smem_bytes(ir_vtype(fn, o->res[0]));
    if (e > end) end = e;
  }
  return end;
}

/* ---- step 2: module and kernel ---- */

static LLVMTypeRef param_type(cg_lower *L, ir_val v) {
  ir_type t = ir_vtype(L->fn, v);
  if (t.kind == IR_TPTR) return L->c.ops->global_ptr_type(&L->c);
  if (t.kind == IR_TSCALAR) return cg_elem_type(L, t.elem);
  char ts[128];
  ir_type_str(t, ts, sizeof ts);
  cg_fail(L, 0, "kernel '%s': parameter %s has type %s; kernel parameters are pointers or scalars",
          L->fn->name, L->fn->vals[v].name ? L->fn->vals[v].name : "?", ts);
}

/* ---- tensor maps (copies {tma = 1}) ---- */

static int tmap_find(cg_lower *L, ir_val view, const uint32_t box[2], int swizzle, ir_elem e) {
  for (int k = 0; k < L->ntmaps; k++) {
    cg_tmap *m = &L->tmaps[k];
    if (m->view == view && m->box[0] == box[0] && m->box[1] == box[1] && m->swizzle == swizzle &&
        m->elem == e)
      return k;
  }
  return -1;
}

/* One map per distinct (view, box) of the kernel's TMA copies, in op order. */
static void collect_tmaps(cg_lower *L) {
  ir_func *fn = L->fn;
  L->tmaps = ir_alloc(L->A, (fn->nops + 1) * sizeof *L->tmaps);
  for (ir_opid op = 1; op < fn->nops; op++) {
    ir_op *o = &fn->ops[op];
    int store = o->code == IR_OP_STORE_TMA;
    if (o->dead || !(store || (o->code == IR_OP_COPY && ir_attr_i(o->attrs, "tma", 0))) || o->nopnd < 4)
      continue;
    ir_val buf = o->opnd[o->nopnd - (store ? 1 : 3)];
    uint32_t box[2];
    int sw;
    cg_tma_box(L, buf, box, &sw);
    ir_elem e = ir_vtype(fn, buf).elem;
    if (tmap_find(L, o->opnd[0], box, sw, e) >= 0) continue;
    L->tmaps[L->ntmaps++] = (cg_tmap){.view = o->opnd[0], .box = {box[0], box[1]}, .swizzle = sw, .elem = e};
  }
}

LLVMValueRef cg_tmap_param(cg_lower *L, ir_val view, const uint32_t box[2], int swizzle, ir_elem e) {
  int k = tmap_find(L, view, box, swizzle, e);
  if (k < 0) cg_fail(L, 0, "kernel '%s': a TMA copy without its tensor map (a compiler bug)", L->fn->name);
  return L->tmaps[k].param;
}

/* Appends to the kiln-tmap text s (cap bytes, n used); the new length. */
static size_t tmap_put(cg_lower *L, char *s, size_t cap, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(s + n, cap - n, fmt, ap);
  va_end(ap);
  if (w < 0 || (size_t)w >= cap - n)
    cg_fail(L, 0, "kernel '%s': tensor-map description too long", L->fn->name);
  return n + (size_t)w;
}

/* The kiln-tmap lines of cg_result.tmaps (codegen.h). */
static char *tmap_lines(cg_lower *L) {
  ir_func *fn = L->fn;
  if (!L->ntmaps) return NULL;
  size_t cap = 4096 * (size_t)L->ntmaps, n = 0;
  char *s = malloc(cap);
  if (!s) abort();
  s[0] = 0;
  uint32_t nparams = fn->regions[fn->body].nargs;
  for (int k = 0; k < L->ntmaps; k++) {
    cg_tmap *m = &L->tmaps[k];
    ir_op *v = &fn->ops[fn->vals[m->view].def];
    ir_tma_coords co;
    char rows[256], cols[256], stride[256], outer[IR_TMA_MAXCOORDS][2][256];
    int bad = ir_tma_view_coords(fn, m->view, &co) || ir_param_expr(fn, v->opnd[1], rows, sizeof rows) ||
              ir_param_expr(fn, v->opnd[2], cols, sizeof cols) ||
              ir_param_expr(fn, v->opnd[3], stride, sizeof stride);
    for (int i = 0; !bad && i < co.n; i++)
      bad = ir_param_expr(fn, co.count[i], outer[i][0], sizeof outer[i][0]) ||
            ir_param_expr(fn, co.stride[i], outer[i][1], sizeof outer[i][1]);
    if (bad)
      cg_fail(L, 0, "kernel '%s': a TMA view's sizes are not expressions of the arguments (a compiler bug)",
              fn->name);
    const char *type = m->elem == IR_F16    ? "f16"
                       : m->elem == IR_BF16 ? "bf16"
                       : m->elem == IR_F32  ? "f32"
                       : m->elem == IR_I32  ? "i32"
                                            : "u8";
    int eb = ir_elem_bytes(m->elem);
    /* A coordinate of the base is one more dimension: a box of 1, its count, its stride in bytes. */
    n = tmap_put(L, s, cap, n, "kiln-tmap param=%u arg=%d type=%s rank=%d swizzle=%d box=%u,%u",
                 nparams + (uint32_t)k, ir_param_index(fn, v->opnd[0]), type, 2 + co.n, m->swizzle, m->box[0],
                 m->box[1]);
    for (int i = 0; i < co.n; i++) n = tmap_put(L, s, cap, n, ",1");
    n = tmap_put(L, s, cap, n, " dims=%s;%s", cols, rows);
    for (int i = 0; i < co.n; i++) n = tmap_put(L, s, cap, n, ";%s", outer[i][0]);
    n = tmap_put(L, s, cap, n, " strides=%s,%d,*", stride, eb);
    for (int i = 0; i < co.n; i++) n = tmap_put(L, s, cap, n, ";%s,%d,*", outer[i][1], eb);
    n = tmap_put(L, s, cap, n, "\n");
  }
  return s;
}

static void begin_kernel(cg_lower *L) {
  ir_region *body = &L->fn->regions[L->fn->body];
  collect_tmaps(L);
  uint32_t np = body->nargs + (uint32_t)L->ntmaps;
  LLVMTypeRef *ps = ir_alloc(L->A, (np + 1) * sizeof *ps);
  for (uint32_t i = 0; i < body->nargs; i++) ps[i] = param_type(L, body->args[i]);
  for (int k = 0; k < L->ntmaps; k++) ps[body->nargs + (uint32_t)k] = LLVMPointerTypeInContext(L->c.ctx, 0);
  L->c.ops->kernel_begin(&L->c, L->fn->name, ps, np);
  for (int k = 0; k < L->ntmaps; k++) {
    L->c.ops->hopper->tmap_param(&L->c, body->nargs + (unsigned)k);
    L->tmaps[k].param = LLVMGetParam(L->c.fn, body->nargs + (unsigned)k);
  }
  for (uint32_t i = 0; i < body->nargs; i++) {
    cg_def(L, body->args[i], 1)[0] = LLVMGetParam(L->c.fn, i);
    if (L->fn->vals[body->args[i]].name)
      LLVMSetValueName2(LLVMGetParam(L->c.fn, i), L->fn->vals[body->args[i]].name,
                        strlen(L->fn->vals[body->args[i]].name));
  }
  L->prologue = LLVMGetInsertBlock(L->c.b);
  L->tid = L->c.ops->sreg(&L->c, CG_TID_X);
  L->lane = LLVMBuildAnd(L->c.b, L->tid, cg_i32(L, 31), "lane");
  L->warp = LLVMBuildLShr(L->c.b, L->tid, cg_i32(L, 5), "warp");
  LLVMPositionBuilderAtEnd(L->c.b, cg_block(L, "body"));
}

static void end_kernel(cg_lower *L) {
  LLVMBasicBlockRef last = LLVMGetInsertBlock(L->c.b);
  LLVMBuildRetVoid(L->c.b);
  LLVMPositionBuilderAtEnd(L->c.b, L->prologue);
  LLVMBuildBr(L->c.b, LLVMGetNextBasicBlock(L->prologue));
  LLVMPositionBuilderAtEnd(L->c.b, last);
  L->c.ops->kernel_end(&L->c);
}

/* ---- steps 4 and 5 ---- */

static void verify_module(cg_lower *L) {
  char *msg = NULL;
  if (!LLVMVerifyModule(L->c.mod, LLVMReturnStatusAction, &msg)) {
    LLVMDisposeMessage(msg);
    return;
  }
  char *text = LLVMPrintModuleToString(L->c.mod);
  fprintf(stderr, "%s\nkiln: codegen produced invalid LLVM IR for kernel '%s' (a compiler bug):\n%s\n", text,
          L->fn->name, msg);
  LLVMDisposeMessage(text);
  LLVMDisposeMessage(msg);
  abort();
}

static pthread_once_t nvptx_once = PTHREAD_ONCE_INIT;

static void nvptx_init(void) {
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
}

static LLVMTargetMachineRef nvptx_machine(cg_lower *L) {
  pthread_once(&nvptx_once, nvptx_init);
  LLVMTargetRef target;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(NVPTX_TRIPLE, &target, &msg)) {
    snprintf(L->err, L->errn, "LLVM has no NVPTX target: %s", msg ? msg : "?");
    LLVMDisposeMessage(msg);
    return NULL;
  }
  /* O3: at the default level (O2) NVPTX's clean-up after straight-line strength reduction is EarlyCSE
   * where O3 runs GVN, 8% less code generation, but attention's general D=64 causal=1 kernel on sm_86
   * and sm_89 then keeps two more min.s32 and spills 28 bytes at 255 registers (docs/compile-speed.md) */
  return LLVMCreateTargetMachine(target, NVPTX_TRIPLE, L->c.target->llvm_cpu, L->c.target->ptx_feat,
                                 LLVMCodeGenLevelAggressive, LLVMRelocDefault, LLVMCodeModelDefault);
}

/* The LLVM pass pipeline (docs/compile-speed.md). O3's function pipeline for kiln's IR, one kernel and
 * no calls: without O3's module and call-graph passes (inlining, attribute inference, interprocedural
 * constant propagation), without the vectorisers (the lowering already emits vector accesses; the loops
 * are not vectorisable) and with four of O3's eight InstCombine runs, the ones that follow the passes
 * that make new work for it (the first clean-up, jump threading, GVN, the late unroll). Measured on
 * the large GEMM and attention variants: the same registers, spills and non-MMA instructions per MMA
 * as default<O3>, but two variants of the bit-GEMM suite spill a few bytes more
 * (tests/sh/bitgemm_targets.sh), so default<O3> (spelled out with fewer InstCombine runs: make_lean)
 * stays the default: KILN_LLVM_PASSES=kiln selects this pipeline, any other text is a new-PM pipeline
 * of its own; the choice is part of the kernel cache key (cg_llvm_passes). */
#define SIMPLIFYCFG(opts) "simplifycfg<bonus-inst-threshold=1;speculate-blocks;simplify-cond-branch;" opts ">"
/* O3's four simplifycfg settings: early, after the loop passes, late, last */
#define SCFG_EARLY                                                                                           \
  SIMPLIFYCFG("no-forward-switch-cond;switch-range-to-icmp;no-switch-to-arithmetic;no-switch-to-lookup;"     \
              "keep-loops;no-hoist-common-insts;no-hoist-loads-stores-with-cond-faulting;"                   \
              "no-sink-common-insts;no-speculate-unpredictables")
#define SCFG_MID                                                                                             \
  SIMPLIFYCFG("no-forward-switch-cond;switch-range-to-icmp;switch-to-arithmetic;no-switch-to-lookup;"        \
              "keep-loops;hoist-common-insts;no-hoist-loads-stores-with-cond-faulting;sink-common-insts;"    \
              "no-speculate-unpredictables")
#define SCFG_LATE                                                                                            \
  SIMPLIFYCFG("forward-switch-cond;switch-range-to-icmp;switch-to-arithmetic;switch-to-lookup;"              \
              "no-keep-loops;hoist-common-insts;no-hoist-loads-stores-with-cond-faulting;sink-common-insts;" \
              "no-speculate-unpredictables")
#define SCFG_LAST                                                                                            \
  SIMPLIFYCFG("no-forward-switch-cond;switch-range-to-icmp;switch-to-arithmetic;no-switch-to-lookup;"        \
              "keep-loops;no-hoist-common-insts;hoist-loads-stores-with-cond-faulting;no-sink-common-insts;" \
              "speculate-unpredictables")
#define INSTCOMBINE "instcombine<max-iterations=1;no-verify-fixpoint>"
#define LICM_LOOP "loop-mssa(licm<allowspeculation>)"
static const char *const kiln_pass_list[] = {
    /* first clean-up */
    SCFG_EARLY, "sroa<modify-cfg>", "early-cse<>", INSTCOMBINE, SCFG_EARLY,
    /* simplification and the loop passes */
    "sroa<modify-cfg>", "early-cse<memssa>", "speculative-execution<only-if-divergent-target>",
    "jump-threading", "correlated-propagation", SCFG_EARLY, INSTCOMBINE, "aggressive-instcombine", SCFG_EARLY,
    "reassociate", "constraint-elimination",
    "loop-mssa(loop-instsimplify,loop-simplifycfg,licm<no-allowspeculation>,"
    "loop-rotate<header-duplication;no-prepare-for-lto>,licm<allowspeculation>,"
    "simple-loop-unswitch<nontrivial;trivial>)",
    SCFG_EARLY, "loop(loop-idiom,indvars,loop-deletion,loop-unroll-full)",
    /* redundancy and dead code */
    "sroa<modify-cfg>", "vector-combine", "mldst-motion<no-split-footer-bb>", "gvn<>", "sccp", "bdce",
    INSTCOMBINE, "jump-threading", "correlated-propagation", "adce", "memcpyopt", "dse", LICM_LOOP, SCFG_MID,
    /* the late loop passes and the last clean-up */
    "float2int", "loop(loop-rotate<header-duplication;no-prepare-for-lto>,loop-deletion)", "infer-alignment",
    SCFG_LATE, "loop-unroll<O3>", "sroa<preserve-cfg>", "infer-alignment", INSTCOMBINE, LICM_LOOP,
    "instsimplify", "div-rem-pairs", SCFG_LAST};

static char kiln_passes[4096];
static pthread_once_t passes_once = PTHREAD_ONCE_INIT;

/* kiln_passes = "function(" + the list, comma-separated + ")". */
static void join_passes(void) {
  size_t n = (size_t)snprintf(kiln_passes, sizeof kiln_passes, "function(");
  for (size_t i = 0; i < sizeof kiln_pass_list / sizeof *kiln_pass_list && n < sizeof kiln_passes; i++)
    n += (size_t)snprintf(kiln_passes + n, sizeof kiln_passes - n, "%s%s", i ? "," : "", kiln_pass_list[i]);
  if (n + 2 > sizeof kiln_passes) abort(); /* the buffer is too small for the list: a compiler bug */
  strcat(kiln_passes, ")");
}

const char *cg_llvm_passes(void) {
  const char *env = getenv("KILN_LLVM_PASSES");
  if (!env || !*env) return "default<O3>";
  if (strcmp(env, "kiln")) return env;
  pthread_once(&passes_once, join_passes);
  return kiln_passes;
}

/* default<O3> without its SLP vectoriser: LLVM's O3 pipeline for the NVPTX target as `opt-22
 * -mtriple=nvptx64-nvidia-cuda -passes='default<O3>' -print-pipeline-passes` prints it, less
 * `slp-vectorizer` (tests/unit/test_codegen.c checks that it still is); the base of the pipelines PTX is
 * optimised with (make_lean below). Kernels with no `dot` (packers, reductions, elementwise) go without
 * the vectoriser: it finds next to nothing to pair there and cost a quarter of the optimiser's time
 * (bitpack_act; docs/compile-speed.md); LLVM has no per-run switch for it (the pass builder's SLP option
 * leaves `default<O3>` as it is, and `-vectorize-slp` is process-wide), hence the pipeline spelled out. */
static const char o3_without_slp[] =
    "memprof-remove-attributes,annotation2metadata,forceattrs,nvvm-reflect,"
    "function(nvvm-intr-range),inferattrs,coro-early,function<eager-inv>(ee-instrument<>,"
    "lower-expect,simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;"
    "no-switch-range-to-icmp;no-switch-to-arithmetic;no-switch-to-lookup;keep-loops;"
    "no-hoist-common-insts;no-hoist-loads-stores-with-cond-faulting;no-sink-common-insts;"
    "speculate-blocks;simplify-cond-branch;no-speculate-unpredictables>,sroa<modify-cfg>,"
    "early-cse<>,callsite-splitting),openmp-opt,ipsccp,called-value-propagation,globalopt,"
    "function<eager-inv>(mem2reg,instcombine<max-iterations=1;no-verify-fixpoint>,"
    "simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;switch-range-to-icmp;"
    "no-switch-to-arithmetic;no-switch-to-lookup;keep-loops;no-hoist-common-insts;"
    "no-hoist-loads-stores-with-cond-faulting;no-sink-common-insts;speculate-blocks;"
    "simplify-cond-branch;no-speculate-unpredictables>),always-inline,require<globals-aa>,"
    "function(invalidate<aa>),require<profile-summary>,cgscc(devirt<4>(inline,"
    "function-attrs<skip-non-recursive-function-attrs>,argpromotion,openmp-opt-cgscc,"
    "function<eager-inv;no-rerun>(sroa<modify-cfg>,early-cse<memssa>,"
    "speculative-execution<only-if-divergent-target>,jump-threading,correlated-propagation,"
    "simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;switch-range-to-icmp;"
    "no-switch-to-arithmetic;no-switch-to-lookup;keep-loops;no-hoist-common-insts;"
    "no-hoist-loads-stores-with-cond-faulting;no-sink-common-insts;speculate-blocks;"
    "simplify-cond-branch;no-speculate-unpredictables>,instcombine<max-iterations=1;"
    "no-verify-fixpoint>,aggressive-instcombine,libcalls-shrinkwrap,tailcallelim,"
    "simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;switch-range-to-icmp;"
    "no-switch-to-arithmetic;no-switch-to-lookup;keep-loops;no-hoist-common-insts;"
    "no-hoist-loads-stores-with-cond-faulting;no-sink-common-insts;speculate-blocks;"
    "simplify-cond-branch;no-speculate-unpredictables>,reassociate,constraint-elimination,"
    "loop-mssa(loop-instsimplify,loop-simplifycfg,licm<no-allowspeculation>,"
    "loop-rotate<header-duplication;no-prepare-for-lto>,licm<allowspeculation>,"
    "simple-loop-unswitch<nontrivial;trivial>),simplifycfg<bonus-inst-threshold=1;"
    "no-forward-switch-cond;switch-range-to-icmp;no-switch-to-arithmetic;no-switch-to-lookup;"
    "keep-loops;no-hoist-common-insts;no-hoist-loads-stores-with-cond-faulting;"
    "no-sink-common-insts;speculate-blocks;simplify-cond-branch;no-speculate-unpredictables>,"
    "instcombine<max-iterations=1;no-verify-fixpoint>,loop(loop-idiom,indvars,"
    "extra-simple-loop-unswitch-passes,loop-deletion,loop-unroll-full),sroa<modify-cfg>,"
    "vector-combine,mldst-motion<no-split-footer-bb>,gvn<>,sccp,bdce,"
    "instcombine<max-iterations=1;no-verify-fixpoint>,jump-threading,correlated-propagation,adce,"
    "memcpyopt,dse,move-auto-init,loop-mssa(licm<allowspeculation>),coro-elide,"
    "simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;switch-range-to-icmp;"
    "switch-to-arithmetic;no-switch-to-lookup;keep-loops;hoist-common-insts;"
    "no-hoist-loads-stores-with-cond-faulting;sink-common-insts;speculate-blocks;"
    "simplify-cond-branch;no-speculate-unpredictables>,instcombine<max-iterations=1;"
    "no-verify-fixpoint>),function-attrs,function(require<should-not-run-function-passes>),"
    "coro-split,coro-annotation-elide)),deadargelim,coro-cleanup,globalopt,globaldce,"
    "elim-avail-extern,rpo-function-attrs,recompute-globalsaa,"
    "function<eager-inv>(drop-unnecessary-assumes,float2int,lower-constant-intrinsics,chr,"
    "loop(loop-rotate<header-duplication;no-prepare-for-lto>,loop-deletion),loop-distribute,"
    "inject-tli-mappings,loop-vectorize<no-interleave-forced-only;no-vectorize-forced-only;>,"
    "drop-unnecessary-assumes,infer-alignment,loop-load-elim,instcombine<max-iterations=1;"
    "no-verify-fixpoint>,simplifycfg<bonus-inst-threshold=1;forward-switch-cond;"
    "switch-range-to-icmp;switch-to-arithmetic;switch-to-lookup;no-keep-loops;hoist-common-insts;"
    "no-hoist-loads-stores-with-cond-faulting;sink-common-insts;speculate-blocks;"
    "simplify-cond-branch;no-speculate-unpredictables>,vector-combine,"
    "instcombine<max-iterations=1;no-verify-fixpoint>,loop-unroll<O3>,transform-warning,"
    "sroa<preserve-cfg>,infer-alignment,instcombine<max-iterations=1;no-verify-fixpoint>,"
    "loop-mssa(licm<allowspeculation>),alignment-from-assumptions,loop-sink,instsimplify,"
    "div-rem-pairs,tailcallelim,simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;"
    "switch-range-to-icmp;switch-to-arithmetic;no-switch-to-lookup;keep-loops;"
    "no-hoist-common-insts;hoist-loads-stores-with-cond-faulting;no-sink-common-insts;"
    "speculate-blocks;simplify-cond-branch;speculate-unpredictables>),alloc-token,globaldce,"
    "constmerge,cg-profile,rel-lookup-table-converter,function(annotation-remarks),verify";

/* the LLVM that printed it; another release may add or rename passes: a pipeline that then does not
 * parse falls back to default<O3> (optimise), and the unit test compares it only under this one */
#define O3_WITHOUT_SLP_LLVM "22.1.8"

const char *cg_llvm_passes_o3_without_slp(const char **llvm_version) {
  if (llvm_version) *llvm_version = O3_WITHOUT_SLP_LLVM;
  return o3_without_slp;
}

/* The pipelines PTX is optimised with (cg_llvm_passes_for): default<O3> spelled out, with its SLP
 * vectoriser for kernels with a `dot` and without it for the others, without called-value propagation
 * (make_leans), and with fewer of its eight InstCombine runs: the first (after mem2reg, on the module
 * as lowered), the third (after the loop passes' LICM and rotation, before indvars and the full
 * unroll) and, for kernels with a `dot`, the last (after the late unroll). The others were a third of the
 * optimiser's time in the packers and 2-11% of a whole GEMM, attention or FFT compile, and leave the kernels'
 * registers and main loops as they were or shorter; without the third, bitpack_act spills on sm_120a, and
 * without the last, attention's general `D=64 causal=1` on sm_86, sm_89 and sm_100a (docs/compile-speed.md,
 * the lever table). Built from o3_without_slp, so that the three stay one pipeline but for these passes. */
static const char instcombine_run[] = "instcombine<max-iterations=1;no-verify-fixpoint>";
/* where default<O3> runs the SLP vectoriser: before this, in its late function pipeline */
static const char slp_before[] =
    "vector-combine,instcombine<max-iterations=1;no-verify-fixpoint>,loop-unroll<O3>";
static char lean[2][sizeof o3_without_slp + sizeof "slp-vectorizer,"]; /* [slp] */
static pthread_once_t lean_once = PTHREAD_ONCE_INIT;

/* o3_without_slp into out, with "slp-vectorizer," before slp_before when slp is set, and only the first
 * and third InstCombine runs (and the last, after the late unroll, when slp is set) */
static void make_lean(char *out, int slp) {
  const char *p = o3_without_slp, *at = slp ? strstr(p, slp_before) : NULL;
  char *o = out;
  if (slp && !at) abort(); /* o3_without_slp lost the place: a compiler bug the unit test shows */
  for (int run = 1;; run++) {
    const char *hit = strstr(p, instcombine_run);
    if (at && at >= p && (!hit || at < hit)) { /* the SLP vectoriser's place comes first */
      memcpy(o, p, (size_t)(at - p));
      o += at - p;
      o += sprintf(o, "slp-vectorizer,");
      p = at;
      at = NULL;
      hit = strstr(p, instcombine_run);
    }
    size_t n = hit ? (size_t)(hit - p) : strlen(p);
    memcpy(o, p, n);
    o += n;
    if (!hit) break;
    p = hit + strlen(instcombine_run);
    if (run == 1 || run == 3 || (slp && run == 8)) {
      memcpy(o, hit, strlen(instcombine_run));
      o += strlen(instcombine_run);
    } else if (o > out && o[-1] == ',')
      o--; /* the run and the comma before it */
    else if (*p == ',')
      p++; /* the run and the comma after it */
  }
  *o = 0;
}

/* O3's called-value propagation annotates indirect calls with their possible callees; a kernel has
 * none, and the pass was 1% of a compile (fftconv's default): the same PTX without it. */
static const char cvp[] = "called-value-propagation,";

static void make_leans(void) {
  for (int slp = 0; slp < 2; slp++) {
    make_lean(lean[slp], slp);
    char *at = strstr(lean[slp], cvp);
    if (at) memmove(at, at + strlen(cvp), strlen(at + strlen(cvp)) + 1);
  }
}

const char *cg_llvm_passes_lean(int slp) {
  pthread_once(&lean_once, make_leans);
  return lean[slp != 0];
}

/* 1 when the kernel has a `dot` op (its products are where the SLP vectoriser pays: the FFT family's
 * complex arithmetic around them) */
static int has_dot(const ir_func *fn) {
  for (uint32_t i = 1; i < fn->nops; i++)
    if (fn->ops[i].code == IR_OP_DOT && !fn->ops[i].dead) return 1;
  return 0;
}

const char *cg_llvm_passes_for(const ir_func *fn, int nvptx) {
  const char *env = getenv("KILN_LLVM_PASSES");
  if ((env && *env) || !nvptx) return cg_llvm_passes();
  return cg_llvm_passes_lean(has_dot(fn));
}

int cg_run_passes(void *mod, void *tm, const char *passes, const char *fallback, char *err, size_t errn) {
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMErrorRef e = LLVMRunPasses((LLVMModuleRef)mod, passes, (LLVMTargetMachineRef)tm, po);
  if (e && fallback) { /* LLVMRunPasses fails only on a pipeline it cannot parse, before any pass ran */
    LLVMConsumeError(e);
    e = LLVMRunPasses((LLVMModuleRef)mod, fallback, (LLVMTargetMachineRef)tm, po);
  }
  LLVMDisposePassBuilderOptions(po);
  if (!e) return 0;
  char *msg = LLVMGetErrorMessage(e);
  snprintf(err, errn, "%s", msg);
  LLVMDisposeErrorMessage(msg);
  return -1;
}

static int optimise(cg_lower *L, LLVMTargetMachineRef tm) {
  const char *passes = cg_llvm_passes_for(L->fn, tm != NULL);
  /* an LLVM whose O3 has other pass names than the spelled-out pipeline's gets default<O3> */
  char msg[1024];
  if (!cg_run_passes(L->c.mod, tm, passes, passes == lean[0] || passes == lean[1] ? "default<O3>" : NULL, msg,
                     sizeof msg))
    return 0;
  snprintf(L->err, L->errn, "LLVM optimisation failed (pass pipeline %s): %s",
           getenv("KILN_LLVM_PASSES") && *getenv("KILN_LLVM_PASSES") ? "from KILN_LLVM_PASSES" : "kiln's",
           msg);
  return -1;
}

static double thread_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *dup_message(char *m) {
  char *s = strdup(m ? m : "");
  if (!s) abort();
  LLVMDisposeMessage(m);
  return s;
}

/* Optimises and emits PTX into out->ptx. */
static int emit_ptx(cg_lower *L, unsigned flags, cg_result *out) {
  LLVMTargetMachineRef tm = nvptx_machine(L);
  if (!tm) return -1;
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(L->c.mod, dl);
  LLVMDisposeTargetData(dl);
  double t0 = thread_ms();
  int rc = optimise(L, tm);
  out->ms_opt = thread_ms() - t0;
  if (rc == 0) {
    if (flags & CG_KEEP_LLVM_IR) out->llvm_ir = dup_message(LLVMPrintModuleToString(L->c.mod));
    char *msg = NULL;
    LLVMMemoryBufferRef buf = NULL;
    t0 = thread_ms();
    int failed = LLVMTargetMachineEmitToMemoryBuffer(tm, L->c.mod, LLVMAssemblyFile, &msg, &buf);
    out->ms_emit = thread_ms() - t0;
    if (failed) {
      snprintf(L->err, L->errn, "kernel '%s': PTX emission for %s failed: %s", L->fn->name, L->c.target->name,
               msg ? msg : "?");
      LLVMDisposeMessage(msg);
      rc = -1;
    } else {
      size_t n = LLVMGetBufferSize(buf), pre = 0;
      /* the tensor maps' lines as comments at the top: the cache and packs keep only the PTX */
      for (const char *t = out->tmaps; t && *t; t++) pre += *t == '\n' ? 4 : 1;
      out->ptx = malloc(pre + n + 1);
      if (!out->ptx) abort();
      char *w = out->ptx;
      for (const char *t = out->tmaps; t && *t;) {
        const char *e = strchr(t, '\n');
        w += sprintf(w, "// %.*s\n", (int)(e - t), t);
        t = e + 1;
      }
      memcpy(w, LLVMGetBufferStart(buf), n);
      w[n] = 0;
      LLVMDisposeMemoryBuffer(buf);
    }
  }
  LLVMDisposeTargetMachine(tm);
  return rc;
}

/* ---- the entry point ---- */

static void check_shared_total(cg_lower *L, int planned) {
  L->c.shared_bytes = L->scratch_max ? L->scratch_base + L->scratch_max : planned;
  if (L->dead_max > L->c.shared_bytes) L->c.shared_bytes = L->dead_max;
  if (L->c.shared_bytes > L->c.target->smem_per_block)
    cg_fail(
        L, 0,
        "kernel '%s' needs %d bytes of shared memory per block (%d planned, %d scratch); target %s allows %d",
        L->fn->name, L->c.shared_bytes, planned, L->scratch_max > L->dead_max ? L->scratch_max : L->dead_max,
        L->c.target->name, L->c.target->smem_per_block);
}

static void dispose_llvm(cg_lower *L) {
  if (L->c.b) LLVMDisposeBuilder(L->c.b);
  if (L->c.mod) LLVMDisposeModule(L->c.mod);
  if (L->c.ctx) LLVMContextDispose(L->c.ctx);
  L->c.b = NULL;
  L->c.mod = NULL;
  L->c.ctx = NULL;
}

/* Steps 1-4 (everything up to a verified module); longjmps on user errors. */
static void lower_kernel(cg_lower *L) {
  int planned = check_input(L);
  L->scratch_base = (planned + 15) & ~15;
  find_dead_buffers(L);
  L->c.ctx = LLVMContextCreate();
  L->c.mod = LLVMModuleCreateWithNameInContext(L->fn->name, L->c.ctx);
  L->c.b = LLVMCreateBuilderInContext(L->c.ctx);
  L->c.ops->module_init(&L->c);
  begin_kernel(L);
  cg_lower_region(L, L->fn->body);
  check_shared_total(L, planned);
  end_kernel(L);
  verify_module(L);
}

int cg_compile(ir_func *fn, const tg_target *t, cg_backend be, unsigned flags, cg_result *out, char *err,
               size_t errn) {
  memset(out, 0, sizeof *out);
  cg_lower *L = calloc(1, sizeof *L);
  if (!L) abort();
  L->fn = fn;
  L->A = ir_arena_new();
  L->vals = ir_alloc(L->A, (fn->nvals + 1) * sizeof *L->vals);
  L->copy_aligned = ir_alloc(L->A, fn->nops + 1);
  L->copy_test = ir_alloc(L->A, (fn->nops + 1) * sizeof *L->copy_test);
  L->names = ir_value_names(fn, L->A);
  L->err = err;
  L->errn = errn;
  L->warps = (int)ir_attr_i(fn->attrs, "warps", 4);
  L->c.target = t;
  L->c.ops = be == CG_SIM ? &cg_devops_sim : &cg_devops_nvptx;
  L->c.threads = L->c.block_threads = L->warps * 32;
  L->c.min_blocks = (int)ir_attr_i(fn->attrs, "min_blocks", 0);
  for (ir_opid op = fn->regions[fn->body].first; op; op = fn->ops[op].next)
    if (fn->ops[op].code == IR_OP_WARP_SPLIT) { /* a producer warpgroup beside the kernel's warps */
      L->c.block_threads += 128;
      /* setmaxnreg needs a register cap at entry: .minnctapersm 1 gives one under .maxntid */
      if (ir_attr_i(fn->ops[op].attrs, "consumer_regs", 0) && !L->c.min_blocks) L->c.min_blocks = 1;
    }
  int rc = 0;
  if (setjmp(L->fail)) {
    rc = -1;
    goto done;
  }
  double t0 = thread_ms();
  lower_kernel(L);
  out->ms_lower = thread_ms() - t0;
  out->kernel_name = strdup(fn->name);
  out->threads = L->c.block_threads;
  out->shared_bytes = L->c.shared_bytes;
  out->tmaps = tmap_lines(L);
  out->aligned_used = L->aligned_used;
  if (be == CG_NVPTX) {
    rc = emit_ptx(L, flags, out);
  } else {
    t0 = thread_ms();
    rc = optimise(L, NULL);
    out->ms_opt = thread_ms() - t0;
    if (rc == 0) {
      if (flags & CG_KEEP_LLVM_IR) out->llvm_ir = dup_message(LLVMPrintModuleToString(L->c.mod));
      LLVMDisposeBuilder(L->c.b);
      out->llvm_ctx = L->c.ctx;
      out->llvm_mod = L->c.mod;
      L->c.b = NULL;
      L->c.mod = NULL;
      L->c.ctx = NULL;
    }
  }
done:
  if (rc) cg_result_free(out);
  dispose_llvm(L);
  ir_arena_free(L->A);
  free(L);
  return rc;
}

void cg_result_free(cg_result *r) {
  free(r->kernel_name);
  free(r->tmaps);
  free(r->llvm_ir);
  free(r->ptx);
  if (r->llvm_mod) LLVMDisposeModule(r->llvm_mod);
  if (r->llvm_ctx) LLVMContextDispose(r->llvm_ctx);
  memset(r, 0, sizeof *r);
}

const char *cg_llvm_version(void) {
  static char v[32];
  unsigned maj, min, patch;
  LLVMGetVersion(&maj, &min, &patch);
  snprintf(v, sizeof v, "%u.%u.%u", maj, min, patch);
  return v;
}
