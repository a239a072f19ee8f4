/*
 * test_hopper_ops.c - the Hopper device ops (codegen/devops_hopper.h) in whole kernels, on the
 * simulator and through NVPTX and ptxas.
 *
 *   gemm tile:  one warpgroup computes a 64 x 64 x 64 f16 tile: thread 0 initialises an mbarrier,
 *               arrives with the expected bytes and issues two TMA loads (128-byte swizzle, ragged
 *               tensors whose missing rows the copy zero-fills); everyone waits on the barrier's
 *               phase; four wgmma k-steps walk the swizzle atom by advancing the descriptors; commit,
 *               wait, store. Built once through the simulator's hooks and run against a C reference on
 *               fresh random inputs (every element, output poisoned); built again through the NVPTX
 *               hooks for sm_90a: the PTX has the instructions, ptxas accepts it without spills and,
 *               when a disassembler is installed, the SASS shows HGMMA.
 *   misuse:     the same kernel with one planted mistake each (a read before wait_group, more
 *               transaction bytes expected than arrive, a box outside the tensor, a descriptor whose
 *               swizzle is not the buffer's, no wgmma.fence, no wait at all, a store into an operand
 *               of a group not yet waited for): one report each; the same store after the wait runs.
 *   ops:        every wgmma type at several widths and every other op (TMA 1D-5D loads and stores,
 *               commit/wait, fences, setmaxnreg, elect.sync) through NVPTX, accepted by ptxas.
 *   refusals:   the target checks refuse wgmma and TMA on rows without them, and shapes that do not exist.
 */
#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "codegen/devops.h"
#include "codegen/devops_hopper.h"
#include "ir/elem_float.h"
#include "ir/ir.h"
#include "kiln.h"
#include "sim/sim.h"
#include "sim/sim_tma.h"
#include "test.h"

/* ---- a kernel over either implementation ---- */

typedef struct {
  cg_ctx c;
  const cg_hopper_ops *h;
  LLVMTypeRef i32, i64;
} hk;

static void hk_begin(hk *k, const cg_devops *ops, const char *sig, int threads, int shared) {
  memset(k, 0, sizeof *k);
  cg_ctx *c = &k->c;
  c->ctx = LLVMContextCreate();
  c->mod = LLVMModuleCreateWithNameInContext("hopper", c->ctx);
  c->b = LLVMCreateBuilderInContext(c->ctx);
  c->ops = ops;
  c->target = tg_target_lookup("sm_90a");
  c->threads = threads;
  c->shared_bytes = shared;
  c->site = "hopper test";
  ops->module_init(c);
  k->h = ops->hopper;
  k->i32 = LLVMInt32TypeInContext(c->ctx);
  k->i64 = LLVMInt64TypeInContext(c->ctx);
  LLVMTypeRef params[8];
  unsigned n = (unsigned)strlen(sig);
  for (unsigned i = 0; i < n; i++) /* 'm': a tensor map, 'p': a buffer */
    params[i] = sig[i] == 'm' ? LLVMPointerTypeInContext(c->ctx, 0) : ops->global_ptr_type(c);
  ops->kernel_begin(c, "hopper", params, n);
  for (unsigned i = 0; i < n; i++)
    if (sig[i] == 'm') k->h->tmap_param(c, i);
}

static int hk_verify(hk *k) {
  k->c.ops->kernel_end(&k->c);
  LLVMBuildRetVoid(k->c.b);
  char *msg = NULL;
  int bad = LLVMVerifyModule(k->c.mod, LLVMReturnStatusAction, &msg);
  if (bad) fprintf(stderr, "test kernel does not verify: %s\n", msg);
  LLVMDisposeMessage(msg);
  LLVMDisposeBuilder(k->c.b);
  return bad;
}

static cg_result hk_result(hk *k) {
  cg_result r = {0};
  r.kernel_name = strdup("hopper");
  r.threads = k->c.threads;
  r.shared_bytes = k->c.shared_bytes;
  r.llvm_ctx = k->c.ctx;
  r.llvm_mod = k->c.mod;
  return r;
}

static LLVMValueRef ci32(hk *k, int v) { return LLVMConstInt(k->i32, (unsigned long long)(long long)v, 1); }

static LLVMValueRef byte_at(hk *k, LLVMValueRef p, int off) {
  LLVMValueRef i = ci32(k, off);
  return LLVMBuildGEP2(k->c.b, LLVMInt8TypeInContext(k->c.ctx), p, &i, 1, "");
}

/* if (cond) { body } with the builder left after it. */
static LLVMBasicBlockRef if_begin(hk *k, LLVMValueRef cond) {
  LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(k->c.ctx, k->c.fn, "then"),
                    after = LLVMAppendBasicBlockInContext(k->c.ctx, k->c.fn, "after");
  LLVMBuildCondBr(k->c.b, cond, then, after);
  LLVMPositionBuilderAtEnd(k->c.b, then);
  return after;
}

static void if_end(hk *k, LLVMBasicBlockRef after) {
  LLVMBuildBr(k->c.b, after);
  LLVMPositionBuilderAtEnd(k->c.b, after);
}

/* ---- the gemm tile ---- */

typedef enum {
  OK,
  READ_BEFORE_WAIT,
  SHORT_TX,
  BOX_OUTSIDE,
  WRONG_SWIZZLE,
  NO_FENCE,
  NO_WAIT,
  WRITE_BEFORE_WAIT, /* thread 0 stores into A's tile while the group that reads it is pending */
  WRITE_AFTER_WAIT,  /* the same store after the wait: allowed */
  READ_BEFORE_MBAR,  /* every thread reads A's tile before its mbarrier wait */
  WGMMA_BEFORE_MBAR, /* the wgmmas issued with no mbarrier wait at all */
  NVARIANTS
} variant;

enum { M = 64, N = 64, K = 64, A_OFF = 0, B_OFF = 8192, BAR_OFF = 16384, SMEM = 16384 + 64 };

/* kernel(map A, map B, ptr A, ptr B, ptr out): out[32 * tid + i] = register i of thread tid. */
static void build_gemm(hk *k, const cg_devops *ops, variant v) {
  hk_begin(k, ops, "mmppp", 128, SMEM);
  cg_ctx *c = &k->c;
  LLVMBuilderRef b = c->b;
  LLVMValueRef tid = ops->sreg(c, CG_TID_X), smem = ops->shared_base(c);
  LLVMValueRef bar = byte_at(k, smem, BAR_OFF), is0 = LLVMBuildICmp(b, LLVMIntEQ, tid, ci32(k, 0), "");
  c->site = "mbarrier.init (gemm.ll:1)";
  LLVMBasicBlockRef after = if_begin(k, is0);
  k->h->mbar_init(c, bar, ci32(k, 1));
  if_end(k, after);
  c->site = "barrier (gemm.ll:2)";
  ops->barrier(c);
  after = if_begin(k, is0);
  c->site = "arrive.expect_tx (gemm.ll:3)";
  k->h->mbar_arrive_expect_tx(c, bar, ci32(k, 2 * M * K * 2 + (v == SHORT_TX ? 64 : 0)));
  c->site = "tma load A (gemm.ll:4)";
  LLVMValueRef ca[2] = {ci32(k, 0), ci32(k, v == BOX_OUTSIDE ? 64 : 0)}, cb[2] = {ci32(k, 0), ci32(k, 0)};
  k->h->tma_load(c, 2, byte_at(k, smem, A_OFF), LLVMGetParam(c->fn, 0), ca, bar);
  c->site = "tma load B (gemm.ll:5)";
  k->h->tma_load(c, 2, byte_at(k, smem, B_OFF), LLVMGetParam(c->fn, 1), cb, bar);
  if_end(k, after);
  /* while (!try_wait(bar, 0)) {} */
  LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "wait"),
                    done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "ready");
  if (v == READ_BEFORE_MBAR) {
    c->site = "early read (gemm.ll:5)";
    ops->load(c, CG_SHARED, LLVMFloatTypeInContext(c->ctx), byte_at(k, smem, A_OFF + 64), NULL, NULL);
  }
  LLVMBuildBr(b, v == WGMMA_BEFORE_MBAR ? done : loop);
  LLVMPositionBuilderAtEnd(b, loop);
  c->site = "mbarrier.try_wait (gemm.ll:6)";
  LLVMBuildCondBr(b, k->h->mbar_try_wait(c, bar, ci32(k, 0)), done, loop);
  LLVMPositionBuilderAtEnd(b, done);
  c->site = "wgmma.fence (gemm.ll:7)";
  if (v != NO_FENCE) k->h->wgmma_fence(c);
  LLVMValueRef acc[32], zero = LLVMConstReal(LLVMFloatTypeInContext(c->ctx), 0);
  for (int i = 0; i < 32; i++) acc[i] = zero;
  LLVMValueRef abase = k->h->smem_addr(c, byte_at(k, smem, A_OFF)),
               bbase = k->h->smem_addr(c, byte_at(k, smem, B_OFF));
  int sw = v == WRONG_SWIZZLE ? 64 : 128;
  cg_wgmma_desc d = {0, 16, 8u * (uint32_t)sw, 0, sw};
  for (int s = 0; s < K / 16; s++) { /* each k-step: the next 32 bytes of every 128-byte row */
    LLVMValueRef ad = cg_wgmma_desc_build(b, c->ctx, LLVMBuildAdd(b, abase, ci32(k, 32 * s), ""), d);
    LLVMValueRef bd = cg_wgmma_desc_build(b, c->ctx, LLVMBuildAdd(b, bbase, ci32(k, 32 * s), ""), d);
    c->site = "wgmma (gemm.ll:8)";
    k->h->wgmma(c, CG_WGMMA_F16, N, ad, NULL, bd, acc, LLVMConstInt(LLVMInt1TypeInContext(c->ctx), s > 0, 0),
                0, 0, acc);
  }
  c->site = "wgmma.commit (gemm.ll:9)";
  k->h->wgmma_commit(c);
  LLVMValueRef one = LLVMConstReal(LLVMFloatTypeInContext(c->ctx), 1);
  if (v == WRITE_BEFORE_WAIT) {
    after = if_begin(k, is0);
    c->site = "overwrite (gemm.ll:12)";
    ops->store(c, CG_SHARED, byte_at(k, smem, A_OFF + 4096), one, NULL);
    if_end(k, after);
  }
  c->site = "wgmma.wait (gemm.ll:10)";
  if (v != NO_WAIT) k->h->wgmma_wait(c, v == READ_BEFORE_WAIT ? 1 : 0, acc, 32);
  if (v == WRITE_AFTER_WAIT) {
    after = if_begin(k, is0);
    c->site = "overwrite (gemm.ll:12)";
    ops->store(c, CG_SHARED, byte_at(k, smem, A_OFF + 4096), one, NULL);
    if_end(k, after);
  }
  c->site = "store (gemm.ll:11)";
  LLVMValueRef out = LLVMGetParam(c->fn, 4), base = LLVMBuildMul(b, tid, ci32(k, 32), "");
  for (int i = 0; v != NO_WAIT && i < 32; i++) {
    LLVMValueRef idx = LLVMBuildAdd(b, base, ci32(k, i), "");
    LLVMValueRef p = LLVMBuildGEP2(b, LLVMFloatTypeInContext(c->ctx), out, &idx, 1, "");
    ops->store(c, CG_GLOBAL, p, acc[i], NULL);
  }
}

typedef struct {
  _Alignas(64) unsigned char mapA[CG_TMAP_BYTES], mapB[CG_TMAP_BYTES];
  uint16_t *A, *B; /* rows x K, K contiguous */
  int rowsA, rowsB;
  float out[128 * 32];
} gemm_io;

static void gemm_inputs(gemm_io *io) {
  io->rowsA = 33 + (int)(test_rand() % 32),
  io->rowsB = 33 + (int)(test_rand() % 32); /* ragged: the rest zero */
  io->A = aligned_alloc(64, (size_t)M * K * 2), io->B = aligned_alloc(64, (size_t)N * K * 2);
  for (int i = 0; i < M * K; i++) io->A[i] = (uint16_t)ir_float_encode(IR_F16, test_rand_double(-2, 2), 0);
  for (int i = 0; i < N * K; i++) io->B[i] = (uint16_t)ir_float_encode(IR_F16, test_rand_double(-2, 2), 0);
  char err[256];
  sim_tma_params pa = {2, 1, 2, io->A, {K, (uint64_t)io->rowsA}, {K * 2}, {K, M}, {1, 1}, 128, 0};
  sim_tma_params pb = {2, 1, 2, io->B, {K, (uint64_t)io->rowsB}, {K * 2}, {K, N}, {1, 1}, 128, 0};
  CHECK(sim_tma_encode(&pa, io->mapA, err, sizeof err) == 0, "%s", err);
  CHECK(sim_tma_encode(&pb, io->mapB, err, sizeof err) == 0, "%s", err);
  for (int i = 0; i < 128 * 32; i++) io->out[i] = NAN;
}

static int gemm_run(variant v, gemm_io *io, char *err, size_t errn) {
  hk k;
  build_gemm(&k, &cg_devops_sim, v);
  if (hk_verify(&k)) {
    test_failures++;
    return -1;
  }
  cg_result r = hk_result(&k);
  sim_arg args[5] = {
      {.is_ptr = 1, .elem = IR_U8, .ptr = io->mapA, .bytes = CG_TMAP_BYTES},
      {.is_ptr = 1, .elem = IR_U8, .ptr = io->mapB, .bytes = CG_TMAP_BYTES},
      {.is_ptr = 1, .elem = IR_F16, .ptr = io->A, .bytes = (size_t)io->rowsA * K * 2},
      {.is_ptr = 1, .elem = IR_F16, .ptr = io->B, .bytes = (size_t)io->rowsB * K * 2},
      {.is_ptr = 1, .elem = IR_F32, .ptr = io->out, .bytes = sizeof io->out},
  };
  int64_t grid[3] = {1, 1, 1};
  int rc = sim_launch(&r, args, 5, grid, NULL, err, errn);
  cg_result_free(&r);
  return rc;
}

/* The tile (variant OK, WRITE_AFTER_WAIT: an operand overwritten once its group is complete, or
 * BOX_OUTSIDE: A's box wholly outside the tensor, so A reads as zeros). */
static void test_gemm_sim(variant v) {
  gemm_io io;
  gemm_inputs(&io);
  char err[1024] = "";
  CHECK(gemm_run(v, &io, err, sizeof err) == 0, "%s", err);
  int bad = 0;
  for (int m = 0; m < M && !bad; m++)
    for (int n = 0; n < N && !bad; n++) {
      double want = 0, mag = 0;
      for (int kk = 0; kk < K; kk++) {
        double a = m < io.rowsA && v != BOX_OUTSIDE ? ir_f16_to_double(io.A[m * K + kk]) : 0;
        double bb = n < io.rowsB ? ir_f16_to_double(io.B[n * K + kk]) : 0;
        want += a * bb, mag += fabs(a * bb);
      }
      int tid = 32 * (m / 16) + 4 * (m % 8) + (n % 8) / 2, reg = 4 * (n / 8) + 2 * ((m % 16) / 8) + n % 2;
      float got = io.out[32 * tid + reg];
      if (!(fabs(got - want) <= 4 * 0x1p-23 * mag)) {
        CHECK(0, "D[%d][%d] = %g, want %g (A rows %d, B rows %d)", m, n, got, want, io.rowsA, io.rowsB);
        bad = 1;
      }
    }
  free(io.A), free(io.B);
}

static void test_gemm_misuse(void) {
  static const struct {
    variant v;
    const char *want;
  } cases[] = {
      {READ_BEFORE_WAIT,
       "wgmma read before wait in kernel hopper, block (0,0,0): thread 124 at 'wgmma.wait "
       "(gemm.ll:10)': register 0 holds the accumulator of the wgmma at 'wgmma (gemm.ll:8)', "
       "whose group wgmma.wait_group has not completed"},
      {SHORT_TX,
       "mbarrier deadlock in kernel hopper, block (0,0,0): threads 0..127 wait at 'mbarrier.try_wait "
       "(gemm.ll:6)' for parity 0 of the mbarrier at shared offset 16384 (initialised at "
       "'mbarrier.init (gemm.ll:1)'), phase 0: 0 of 1 arrivals and 64 transaction bytes outstanding"},
      {WRONG_SWIZZLE, "bad wgmma in kernel hopper, block (0,0,0): warpgroup 0 at 'wgmma (gemm.ll:8)': wgmma "
                      "operand A descriptor has 64-byte swizzle, but shared byte 0 was written by a TMA load "
                      "with 128-byte swizzle"},
      {NO_FENCE, "wgmma without fence in kernel hopper, block (0,0,0): thread 0 at 'wgmma (gemm.ll:8)': "
                 "wgmma.mma_async with no wgmma.fence before it"},
      {NO_WAIT,
       "wgmma never waited for in kernel hopper, block (0,0,0): thread 124 exits with 4 wgmma op(s) in "
       "flight (the last at 'wgmma (gemm.ll:8)')"},
      {READ_BEFORE_MBAR,
       "TMA hazard in kernel hopper, block (0,0,0): thread 0 reads shared[0x40..0x44) at 'early read "
       "(gemm.ll:5)', which the TMA load at 'tma load A (gemm.ll:4)' writes for phase 0 of the mbarrier at "
       "shared offset 16384, before the thread has waited for that phase"},
      {WGMMA_BEFORE_MBAR,
       "TMA hazard in kernel hopper, block (0,0,0): thread 0 of warpgroup 0: the wgmma at 'wgmma "
       "(gemm.ll:8)' reads shared[0x0..0x10), which the TMA load at 'tma load A (gemm.ll:4)' writes for "
       "phase 0 of the mbarrier at shared offset 16384, before the thread has waited for that phase"},
      {WRITE_BEFORE_WAIT,
       "wgmma hazard in kernel hopper, block (0,0,0): thread 0 writes shared[0x1000..0x1004) at 'overwrite "
       "(gemm.ll:12)' while the wgmma at 'wgmma (gemm.ll:8)' of warpgroup 0 still reads them (its group not "
       "completed by a wgmma.wait_group)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gemm_io io;
    gemm_inputs(&io);
    char err[1024] = "";
    CHECK(gemm_run(cases[i].v, &io, err, sizeof err) == -1, "variant %d ran", (int)cases[i].v);
    CHECK_CONTAINS(err, cases[i].want);
    CHECK(!strchr(err, '\n'), "one line: %s", err);
    free(io.A), free(io.B);
  }
}

/* ---- smaller mistakes, one kernel each ---- */

typedef enum {
  UNINIT_BAR,
  BAD_INIT,
  BAD_ARRIVE,
  BAD_SETMAXNREG,
  PARTIAL_WG,
  DIVERGENT_WG,
  WG_NEVER,
  BAD_MAP,
  BAD_SHARED,
  WAIT_RANGE,
  STORE_OUTSIDE,
  STORE_WAIT,
  REG_MISMATCH,
} mistake;

/* kernel(map, ptr tensor) with `threads` threads and the mistake planted. */
static void build_mistake(hk *k, mistake m, int threads) {
  hk_begin(k, &cg_devops_sim, "mp", threads, SMEM);
  cg_ctx *c = &k->c;
  LLVMBuilderRef b = c->b;
  LLVMValueRef tid = c->ops->sreg(c, CG_TID_X), smem = c->ops->shared_base(c),
               bar = byte_at(k, smem, BAR_OFF);
  c->site = "the mistake (m.ll:1)";
  LLVMValueRef zero = LLVMConstReal(LLVMFloatTypeInContext(c->ctx), 0), acc[4] = {zero, zero, zero, zero};
  cg_wgmma_desc d = {0, 128, 256, 0, 0};
  LLVMValueRef desc = cg_wgmma_desc_build(b, c->ctx, k->h->smem_addr(c, smem), d),
               coords[2] = {ci32(k, 0), ci32(k, 500)};
  switch (m) {
  case UNINIT_BAR: k->h->mbar_try_wait(c, bar, ci32(k, 0)); break;
  case BAD_INIT: k->h->mbar_init(c, bar, ci32(k, 0)); break;
  case BAD_ARRIVE:
    k->h->mbar_init(c, bar, ci32(k, 1));
    k->h->mbar_arrive_expect_tx(c, bar, ci32(k, -1));
    break;
  case BAD_SETMAXNREG: k->h->setmaxnreg(c, 1, 20); break;
  case PARTIAL_WG:
  case DIVERGENT_WG:
  case WG_NEVER: {
    if (m == DIVERGENT_WG) /* thread 5 points its descriptor elsewhere */
      desc = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, tid, ci32(k, 5), ""),
                             LLVMBuildAdd(b, desc, LLVMConstInt(k->i64, 8, 0), ""), desc, "");
    LLVMBasicBlockRef after =
        m == WG_NEVER ? if_begin(k, LLVMBuildICmp(b, LLVMIntULT, tid, ci32(k, 64), "")) : NULL;
    k->h->wgmma_fence(c);
    k->h->wgmma(c, CG_WGMMA_F16, 8, desc, NULL, desc, acc, NULL, 0, 0, acc);
    k->h->wgmma_commit(c);
    k->h->wgmma_wait(c, 0, acc, 4);
    if (after) if_end(k, after);
    break;
  }
  case BAD_MAP:
    k->h->mbar_init(c, bar, ci32(k, 1));
    k->h->tma_load(c, 2, smem, LLVMGetParam(c->fn, 1), coords, bar);
    break;
  case BAD_SHARED: k->h->mbar_init(c, byte_at(k, smem, SMEM + 64), ci32(k, 1)); break;
  case WAIT_RANGE: k->h->wgmma_wait(c, 8, NULL, 0); break;
  case STORE_OUTSIDE: k->h->tma_store(c, 2, LLVMGetParam(c->fn, 0), coords, smem); break;
  case STORE_WAIT: k->h->tma_store_wait(c, -1); break;
  case REG_MISMATCH: {
    k->h->wgmma_fence(c);
    k->h->wgmma(c, CG_WGMMA_F16, 8, desc, NULL, desc, acc, NULL, 0, 0, acc);
    k->h->wgmma_commit(c);
    LLVMValueRef regs[8] = {acc[0], acc[1], acc[2], acc[3], acc[0], acc[0], acc[0], acc[0]};
    k->h->wgmma_wait(c, 0, regs, 8);
    break;
  }
  }
}

static void test_mistakes(void) {
  static const struct {
    mistake m;
    int threads;
    const char *want;
  } cases[] = {
      {UNINIT_BAR, 128,
       "uninitialised mbarrier in kernel hopper, block (0,0,0): thread 0 at 'the mistake (m.ll:1)': "
       "mbarrier.try_wait on shared offset 16384, where no mbarrier was initialised"},
      {BAD_INIT, 128,
       "bad mbarrier.init in kernel hopper, block (0,0,0): thread 0 at 'the mistake (m.ll:1)': "
       "mbarrier.init count 0 is outside 1..1048575"},
      {BAD_ARRIVE, 128,
       "bad mbarrier.arrive in kernel hopper, block (0,0,0): thread 0 at 'the mistake (m.ll:1)': "
       "negative transaction bytes"},
      {BAD_SETMAXNREG, 128,
       "bad setmaxnreg in kernel hopper, block (0,0,0): thread 0 at 'the mistake (m.ll:1)': "
       "setmaxnreg.inc 20: the count must be a multiple of 8 in 24..256"},
      {PARTIAL_WG, 64,
       "partial warpgroup in kernel hopper, block (0,0,0): thread 0 at 'the mistake (m.ll:1)': "
       "wgmma needs whole warpgroups of 128 threads"},
      {DIVERGENT_WG, 128,
       "divergent wgmma in kernel hopper, block (0,0,0): thread 5 of warpgroup 0 at 'the mistake "
       "(m.ll:1)' gives other operands than thread 0"},
      {WG_NEVER, 128,
       "divergent wgmma in kernel hopper, block (0,0,0): threads 0..63 wait at 'the mistake "
       "(m.ll:1)'; the rest of warpgroup 0 never arrives"},
      {BAD_MAP, 128,
       "bad tensor map in kernel hopper, block (0,0,0): thread 0 at 'the mistake (m.ll:1)': tensor map "
       "at 0x"},
      {BAD_SHARED, 128,
       "bad shared address in kernel hopper, block (0,0,0): thread 0 at 'the mistake (m.ll:1)': the "
       "mbarrier at 0x"},
      {WAIT_RANGE, 128,
       "bad wgmma.wait_group in kernel hopper, block (0,0,0): thread 0 at 'the mistake (m.ll:1)': "
       "wgmma.wait_group takes 0..7"},
      {STORE_OUTSIDE, 128,
       "bad cp.async.bulk.tensor in kernel hopper, block (0,0,0): thread 0 at 'the mistake "
       "(m.ll:1)': cp.async.bulk.tensor store: the box at (0, 500) lies wholly outside the tensor"},
      {STORE_WAIT, 128,
       "bad cp.async.bulk.wait_group in kernel hopper, block (0,0,0): thread 0 at 'the mistake "
       "(m.ll:1)': a negative group count"},
      {REG_MISMATCH, 128,
       "bad wgmma register in kernel hopper, block (0,0,0): thread 127 at 'the mistake (m.ll:1)': "
       "register 4 holds a tag of the wgmma at 'the mistake (m.ll:1)', which has only 4 registers"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gemm_io io;
    gemm_inputs(&io);
    hk k;
    build_mistake(&k, cases[i].m, cases[i].threads);
    if (hk_verify(&k)) {
      test_failures++;
      continue;
    }
    cg_result r = hk_result(&k);
    static _Alignas(64) unsigned char junk[CG_TMAP_BYTES];
    sim_arg args[2] = {
        {.is_ptr = 1, .elem = IR_U8, .ptr = io.mapA, .bytes = CG_TMAP_BYTES},
        {.is_ptr = 1,
         .elem = IR_U8,
         .ptr = cases[i].m == BAD_MAP ? (void *)junk : (void *)io.A,
         .bytes = cases[i].m == BAD_MAP ? CG_TMAP_BYTES : (size_t)io.rowsA * K * 2},
    };
    int64_t grid[3] = {1, 1, 1};
    char err[1024] = "";
    CHECK(sim_launch(&r, args, 2, grid, NULL, err, sizeof err) == -1, "mistake %d ran", (int)cases[i].m);
    CHECK_CONTAINS(err, cases[i].want);
    CHECK(!strchr(err, '\n'), "one line: %s", err);
    cg_result_free(&r);
    free(io.A), free(io.B);
  }
}

/* ---- NVPTX ---- */

/* PTX of k's module for sm_90a into *ptx (malloc'd); 0 or -1. */
static int emit_ptx(hk *k, char **ptx) {
  const tg_target *t = tg_target_lookup("sm_90a");
  char *msg = NULL;
  LLVMTargetRef tr;
  if (LLVMGetTargetFromTriple("nvptx64-nvidia-cuda", &tr, &msg)) return fprintf(stderr, "%s\n", msg), -1;
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(tr, "nvptx64-nvidia-cuda", t->llvm_cpu, t->ptx_feat, LLVMCodeGenLevelDefault,
                              LLVMRelocDefault, LLVMCodeModelDefault);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(k->c.mod, dl);
  LLVMMemoryBufferRef buf = NULL;
  int rc = 0;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, k->c.mod, LLVMAssemblyFile, &msg, &buf)) {
    fprintf(stderr, "PTX emission failed: %s\n", msg);
    LLVMDisposeMessage(msg);
    rc = -1;
  } else {
    size_t n = LLVMGetBufferSize(buf);
    *ptx = malloc(n + 1);
    memcpy(*ptx, LLVMGetBufferStart(buf), n);
    (*ptx)[n] = 0;
    LLVMDisposeMemoryBuffer(buf);
  }
  LLVMDisposeTargetData(dl);
  LLVMDisposeTargetMachine(tm);
  LLVMDisposeModule(k->c.mod);
  LLVMContextDispose(k->c.ctx);
  return rc;
}

/* Runs argv, output into `log`; 0 if it exited 0. */
static int run_tool(char *const argv[], const char *log) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr)) _exit(127);
    execv(argv[0], argv);
    _exit(127);
  }
  int st = 0;
  return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void test_gemm_nvptx(void) {
  hk k;
  build_gemm(&k, &cg_devops_nvptx, OK);
  if (hk_verify(&k)) {
    test_failures++;
    return;
  }
  char *ptx = NULL;
  if (emit_ptx(&k, &ptx)) {
    test_failures++;
    return;
  }
  static const char *want[] = {"wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16",
                               "wgmma.fence.sync.aligned",
                               "wgmma.commit_group.sync.aligned",
                               "wgmma.wait_group.sync.aligned 0",
                               "cp.async.bulk.tensor.2d",
                               "mbarrier.try_wait.parity",
                               "mbarrier.init.shared",
                               "mbarrier.arrive.expect_tx",
                               ".param .align 64 .b8 hopper_param_0[128]"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    CHECK(strstr(ptx, want[i]), "'%s' not in the PTX", want[i]);
  const char *ptxas = test_ptxas();
  if (!ptxas) {
    printf("test_hopper_ops: no ptxas, the gemm tile's PTX is not assembled\n");
    free(ptx);
    return;
  }
  char *dir = test_scratch_dir("hopper-ptxas"), in[4200], cubin[4200], log[4200];
  snprintf(in, sizeof in, "%s/k.ptx", dir);
  snprintf(cubin, sizeof cubin, "%s/k.cubin", dir);
  snprintf(log, sizeof log, "%s/log", dir);
  test_write_file(in, ptx, strlen(ptx));
  char *argv[] = {(char *)ptxas, "-arch=sm_90a", "-v", "-o", cubin, in, NULL};
  int rc = run_tool(argv, log);
  char *text = test_read_file(log, NULL);
  CHECK(rc == 0, "ptxas refused the gemm tile:\n%s", text ? text : "");
  CHECK(text && strstr(text, "0 bytes spill stores") && strstr(text, "0 bytes spill loads"), "spills:\n%s",
        text ? text : "");
  const char *used = text ? strstr(text, "Used ") : NULL;
  if (used) printf("test_hopper_ops: gemm tile on sm_90a: %.*s\n", (int)strcspn(used, "\n"), used);
  free(text);
  const char *dis = kiln_sass_tool();
  if (rc == 0 && dis) {
    char *dargv[] = {(char *)dis, strstr(dis, "cuobjdump") ? "-sass" : "-c", cubin, NULL};
    CHECK(run_tool(dargv, log) == 0, "%s refused the cubin", dis);
    char *sass = test_read_file(log, NULL);
    CHECK(sass && strstr(sass, "HGMMA.64x64x16.F32"), "no HGMMA in the SASS:\n%s", sass ? sass : "");
    CHECK(sass && strstr(sass, "UTMALDG.2D"), "no TMA load in the SASS");
    free(sass);
  } else if (!dis)
    printf("test_hopper_ops: no disassembler, the SASS is not checked\n");
  test_rmtree(dir);
  free(dir), free(ptx);
}

/* One kernel per wgmma shape; ptxas must accept each. */
static void test_wgmma_shapes_nvptx(void) {
  static const int ns[] = {8, 24, 64, 136, 256};
  for (int t = 0; t < CG_WGMMA_NTYPES; t++)
    for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) {
      int n = ns[j];
      if (!cg_wgmma_n_ok((cg_wgmma_type)t, n)) continue;
      const cg_wgmma_info *wi = cg_wgmma_info_of((cg_wgmma_type)t);
      hk k;
      hk_begin(&k, &cg_devops_nvptx, "p", 128, 16384);
      cg_ctx *c = &k.c;
      LLVMValueRef acc[128], z = wi->acc_int ? ci32(&k, 0) : LLVMConstReal(LLVMFloatTypeInContext(c->ctx), 0);
      for (int i = 0; i < n / 2; i++) acc[i] = z;
      LLVMValueRef base = k.h->smem_addr(c, c->ops->shared_base(c));
      cg_wgmma_desc d = {0, 128, 256, 0, 0};
      LLVMValueRef desc = cg_wgmma_desc_build(c->b, c->ctx, base, d);
      k.h->wgmma_fence(c);
      int tb = wi->has_trans && j % 2 ? CG_WGMMA_TRANS : 0; /* every other width: B MN-major */
      k.h->wgmma(c, (cg_wgmma_type)t, n, desc, NULL, desc, acc, NULL, wi->has_scale, tb, acc);
      k.h->wgmma_commit(c);
      k.h->wgmma_wait(c, 0, acc, n / 2);
      LLVMValueRef tid = c->ops->sreg(c, CG_TID_X);
      for (int i = 0; i < n / 2; i++) {
        LLVMValueRef idx = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, tid, ci32(&k, n / 2), ""), ci32(&k, i), "");
        c->ops->store(c, CG_GLOBAL,
                      LLVMBuildGEP2(c->b, LLVMTypeOf(acc[i]), LLVMGetParam(c->fn, 0), &idx, 1, ""), acc[i],
                      NULL);
      }
      if (hk_verify(&k)) {
        test_failures++;
        continue;
      }
      char *ptx = NULL, want[96];
      if (emit_ptx(&k, &ptx)) {
        test_failures++;
        continue;
      }
      snprintf(want, sizeof want, "wgmma.mma_async.sync.aligned.m64n%dk%d.%s", n, wi->k, wi->ptx);
      CHECK(strstr(ptx, want), "'%s' not in the PTX", want);
      if (wi->has_trans)
        CHECK(strstr(ptx, tb ? ", -1, 1, 0, 1;" : ", -1, 1, 0, 0;"), "imm-trans-b %d: %s", !!tb, ptx);
      CHECK(test_ptxas_accepts(ptx, "sm_90a") == 0 || !test_ptxas(), "%s n=%d", wi->name, n);
      free(ptx);
    }
}

/* Every other op in one kernel per rank: TMA load and store, commit/wait, fences, setmaxnreg, elect. */
static void test_other_ops_nvptx(void) {
  for (int dims = 1; dims <= 5; dims++) {
    hk k;
    hk_begin(&k, &cg_devops_nvptx, "mp", 256, 4096);
    cg_ctx *c = &k.c;
    k.h->setmaxnreg(c, 0, 40);
    k.h->setmaxnreg(c, 1, 232);
    LLVMValueRef smem = c->ops->shared_base(c), bar = byte_at(&k, smem, 2048), coords[5];
    for (int i = 0; i < dims; i++) coords[i] = c->ops->sreg(c, CG_CTAID_X);
    LLVMBasicBlockRef after = if_begin(&k, k.h->elect_sync(c));
    k.h->mbar_init(c, bar, ci32(&k, 1));
    k.h->fence_proxy_async(c);
    k.h->mbar_arrive_expect_tx(c, bar, ci32(&k, 1024));
    k.h->tma_load(c, dims, smem, LLVMGetParam(c->fn, 0), coords, bar);
    LLVMValueRef tok = k.h->mbar_arrive(c, bar);
    k.h->tma_store(c, dims, LLVMGetParam(c->fn, 0), coords, smem);
    k.h->tma_store_commit(c);
    k.h->tma_store_wait(c, 0);
    LLVMValueRef ok = k.h->mbar_try_wait(c, bar, ci32(&k, 0));
    LLVMValueRef v =
        LLVMBuildAdd(c->b, LLVMBuildTrunc(c->b, tok, k.i32, ""), LLVMBuildZExt(c->b, ok, k.i32, ""), "");
    c->ops->store(c, CG_GLOBAL, LLVMGetParam(c->fn, 1), v, NULL);
    if_end(&k, after);
    if (hk_verify(&k)) {
      test_failures++;
      continue;
    }
    char *ptx = NULL, want[64];
    if (emit_ptx(&k, &ptx)) {
      test_failures++;
      continue;
    }
    snprintf(want, sizeof want, "cp.async.bulk.tensor.%dd.global.shared::cta", dims);
    static const char *also[] = {"setmaxnreg.dec.sync.aligned.u32 \t40",
                                 "setmaxnreg.inc.sync.aligned.u32 \t232",
                                 "elect.sync",
                                 "fence.proxy.async.shared::cta",
                                 "cp.async.bulk.commit_group",
                                 "cp.async.bulk.wait_group.read \t0"};
    CHECK(strstr(ptx, want), "'%s' not in the PTX", want);
    for (size_t i = 0; i < sizeof also / sizeof also[0]; i++)
      CHECK(strstr(ptx, also[i]), "'%s' not in the PTX", also[i]);
    CHECK(test_ptxas_accepts(ptx, "sm_90a") == 0 || !test_ptxas(), "%dD ops", dims);
    free(ptx);
  }
}

static void test_refusals(void) {
  char err[256];
  const tg_target *s80 = tg_target_lookup("sm_80"), *s89 = tg_target_lookup("sm_89"),
                  *s90 = tg_target_lookup("sm_90a");
  CHECK(cg_wgmma_check(s90, CG_WGMMA_BF16, 256, err, sizeof err) == 0, "%s", err);
  CHECK(cg_wgmma_check(s80, CG_WGMMA_F16, 64, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "op 'wgmma.f16' needs");
  CHECK_CONTAINS(err, "which target sm_80 does not have");
  CHECK(cg_wgmma_check(s89, CG_WGMMA_E4M3, 64, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "which target sm_89 does not have");
  CHECK(cg_wgmma_check(s90, CG_WGMMA_S8, 40, err, sizeof err) == -1);
  CHECK_STR(err, "op 'wgmma.s8' has no shape m64n40k32 (N: 8..256 step 16)");
  CHECK(cg_wgmma_check(s90, CG_WGMMA_F16, 260, err, sizeof err) == -1);
  CHECK(cg_hopper_check(s90, CG_HOP_TMA, err, sizeof err) == 0 &&
        cg_hopper_check(s90, CG_HOP_SETMAXNREG, err, sizeof err) == 0);
  CHECK(cg_hopper_check(s80, CG_HOP_TMA, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "op 'cp.async.bulk.tensor' needs");
  CHECK(cg_hopper_check(s89, CG_HOP_MBARRIER, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "op 'mbarrier' needs");
  CHECK(cg_hopper_check(s89, CG_HOP_SETMAXNREG, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "op 'setmaxnreg' needs");
}

int main(void) {
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
  test_refusals();
  test_gemm_sim(OK);
  test_gemm_sim(WRITE_AFTER_WAIT);
  test_gemm_sim(BOX_OUTSIDE);
  test_gemm_misuse();
  test_mistakes();
  test_gemm_nvptx();
  test_wgmma_shapes_nvptx();
  test_other_ops_nvptx();
  return test_done("test_hopper_ops");
}
