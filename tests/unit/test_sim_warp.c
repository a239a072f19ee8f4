/*
 * test_sim_warp.c - the tensor-core device ops running in the simulator: kernels built through
 * codegen/devops_sim_mma.c whose warps meet at mma and ldmatrix, and whose threads queue cp.async.
 *
 * The fragment semantics themselves are test_sim_mma's; here the plumbing is checked: every lane's
 * registers reach the warp op and its results come back to the right lane, for several warps and
 * blocks at once (against sim_mma_warp / sim_ldmatrix_lanes called directly on the same data), and
 * cp.async delivers at the wait. Then the reports: reading a cp.async destination before its wait,
 * an out-of-bounds cp.async source, an ldmatrix row outside shared memory, a partial warp, a
 * divergent mma.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/devops.h"
#include "codegen/devops_mma.h"
#include "sim/sim.h"
#include "sim/sim_mma.h"
#include "test.h"

/* ---- kernel building: kb in test.h, and a few more helpers ---- */

static LLVMValueRef mul(kb *k, LLVMValueRef a, int b) { return LLVMBuildMul(k->c.b, a, kb_int(k, b), ""); }
/* The block-wide thread index: ctaid.x * ntid.x + tid.x. */
static LLVMValueRef gid(kb *k) {
  return kb_add(k, mul(k, kb_sreg(k, CG_CTAID_X), k->c.threads), kb_sreg(k, CG_TID_X));
}
static LLVMValueRef gload(kb *k, LLVMValueRef p, const char *site) {
  k->c.site = site;
  return k->c.ops->load(&k->c, CG_GLOBAL, k->i32, p, NULL, NULL);
}
static void gstore(kb *k, LLVMValueRef p, LLVMValueRef v, const char *site) {
  k->c.site = site;
  k->c.ops->store(&k->c, CG_GLOBAL, p, v, NULL);
}

static sim_arg buf(void *p, size_t bytes) {
  return (sim_arg){.is_ptr = 1, .elem = IR_U32, .ptr = p, .bytes = bytes};
}

static int run(cg_result *r, const sim_arg *a, int n, int64_t blocks, char *err) {
  int64_t grid[3] = {blocks, 1, 1};
  int rc = sim_launch(r, a, n, grid, NULL, err, 512);
  cg_result_free(r);
  return rc;
}

/* ---- mma ---- */

/* Thread g loads a[4g..4g+na), b[2g..), c[4g..) and stores d[4g..4g+4). */
static cg_result k_mma(cg_mma_kind kind, int threads) {
  const cg_mma_info *mi = cg_mma_info_of(kind);
  kb k;
  kb_begin(&k, "mma", "pppp", NULL, threads, 0);
  LLVMValueRef g = gid(&k), a[4], b[2], c[4], d[4];
  LLVMTypeRef acc = mi->acc_int ? k.i32 : LLVMFloatTypeInContext(k.c.ctx);
  for (int i = 0; i < mi->na; i++)
    a[i] = gload(&k, kb_at(&k, kb_param(&k, 0), kb_add(&k, mul(&k, g, 4), kb_int(&k, i))), "load a");
  for (int i = 0; i < mi->nb; i++)
    b[i] = gload(&k, kb_at(&k, kb_param(&k, 1), kb_add(&k, mul(&k, g, 2), kb_int(&k, i))), "load b");
  for (int i = 0; i < 4; i++) {
    c[i] = gload(&k, kb_at(&k, kb_param(&k, 2), kb_add(&k, mul(&k, g, 4), kb_int(&k, i))), "load c");
    if (!mi->acc_int) c[i] = LLVMBuildBitCast(k.c.b, c[i], acc, "");
  }
  k.c.site = "mma (mma.ll:4)";
  cg_sim_mma(&k.c, kind, a, b, c, d);
  for (int i = 0; i < 4; i++) {
    LLVMValueRef v = mi->acc_int ? d[i] : LLVMBuildBitCast(k.c.b, d[i], k.i32, "");
    gstore(&k, kb_at(&k, kb_param(&k, 3), kb_add(&k, mul(&k, g, 4), kb_int(&k, i))), v, "store d");
  }
  return kb_end(&k);
}

static uint32_t rand_f32_bits(void) {
  float f = (float)(test_rand() % 2001) / 1000.0f - 1.0f;
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static void test_mma(cg_mma_kind kind) {
  const cg_mma_info *mi = cg_mma_info_of(kind);
  const int threads = 128, blocks = 3, n = threads * blocks;
  uint32_t(*a)[4] = calloc((size_t)n, sizeof *a), (*b)[2] = calloc((size_t)n, sizeof *b);
  uint32_t(*c)[4] = calloc((size_t)n, sizeof *c), (*d)[4] = malloc((size_t)n * sizeof *d);
  uint32_t(*want)[4] = calloc((size_t)n, sizeof *want);
  for (int t = 0; t < n; t++) {
    /* f16/bf16 inputs kept finite: random mantissa, small exponents */
    for (int i = 0; i < 4; i++) a[t][i] = mi->in_bits == 16 ? test_rand() & 0xbbffbbff : test_rand();
    for (int i = 0; i < 2; i++) b[t][i] = mi->in_bits == 16 ? test_rand() & 0xbbffbbff : test_rand();
    for (int i = 0; i < 4; i++) c[t][i] = mi->acc_int ? test_rand() % 1000 : rand_f32_bits();
  }
  memset(d, 0xff, (size_t)n * sizeof *d);
  for (int wp = 0; wp < n / 32; wp++)
    sim_mma_warp(kind, &a[32 * wp], &b[32 * wp], &c[32 * wp], &want[32 * wp]);
  cg_result r = k_mma(kind, threads);
  sim_arg args[4] = {buf(a, n * sizeof *a), buf(b, n * sizeof *b), buf(c, n * sizeof *c),
                     buf(d, n * sizeof *d)};
  char err[512] = "";
  CHECK(run(&r, args, 4, blocks, err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  CHECK(memcmp(d, want, (size_t)n * sizeof *d) == 0);
  free(a), free(b), free(c), free(d), free(want);
}

static void test_mma_reports(void) {
  char err[512];
  uint32_t *z = calloc(64 * 4, 4);
  sim_arg args[4] = {buf(z, 64 * 16), buf(z, 64 * 16), buf(z, 64 * 16), buf(z, 64 * 16)};
  cg_result r = k_mma(CG_MMA_F16_K16, 48);
  CHECK(run(&r, args, 4, 1, err) == -1);
  CHECK_STR(err,
            "sim: partial-warp mma in kernel mma, block (0,0,0): warp 1 has 16 threads at 'mma (mma.ll:4)'; "
            "mma needs all 32 lanes");
  /* lanes 0..15 at the mma, 16..31 return first */
  kb k;
  kb_begin(&k, "divmma", "", NULL, 32, 0);
  LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "yes");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(k.c.ctx, k.c.fn, "done");
  LLVMBuildCondBr(k.c.b, LLVMBuildICmp(k.c.b, LLVMIntULT, kb_sreg(&k, CG_LANEID), kb_int(&k, 16), ""), yes,
                  done);
  LLVMPositionBuilderAtEnd(k.c.b, yes);
  LLVMValueRef regs[4] = {kb_int(&k, 0), kb_int(&k, 0), kb_int(&k, 0), kb_int(&k, 0)}, d[4];
  k.c.site = "mma (div.ll:2)";
  cg_sim_mma(&k.c, CG_MMA_S8_K32, regs, regs, regs, d);
  LLVMBuildBr(k.c.b, done);
  LLVMPositionBuilderAtEnd(k.c.b, done);
  r = kb_end(&k);
  CHECK(run(&r, NULL, 0, 1, err) == -1);
  CHECK_STR(err,
            "sim: divergent mma in kernel divmma, block (0,0,0): threads 0..15 wait at 'mma (div.ll:2)', "
            "threads 16..31 exited without reaching it");
  free(z);
}

/* ---- ldmatrix ---- */

/* Each thread stores words [8t, 8t+8) of src into shared (2 KiB per warp), barrier, then ldmatrix.x4
 * with lane l's row at shared + warp * 512 + rowsel(l) * 16; out[4g..4g+4). */
static cg_result k_ldmatrix(int trans, int threads, int row_stride) {
  kb k;
  kb_begin(&k, "ldmatrix", "pp", NULL, threads, threads * 32);
  LLVMValueRef t = kb_sreg(&k, CG_TID_X), g = gid(&k), sm = k.c.ops->shared_base(&k.c);
  for (int i = 0; i < 8; i++) {
    LLVMValueRef v =
        gload(&k, kb_at(&k, kb_param(&k, 0), kb_add(&k, mul(&k, g, 8), kb_int(&k, i))), "load src");
    k.c.site = "store_shared";
    k.c.ops->store(&k.c, CG_SHARED, kb_at(&k, sm, kb_add(&k, mul(&k, t, 8), kb_int(&k, i))), v, NULL);
  }
  k.c.site = "barrier";
  k.c.ops->barrier(&k.c);
  LLVMValueRef warp = LLVMBuildLShr(k.c.b, t, kb_int(&k, 5), "");
  LLVMValueRef lane = kb_sreg(&k, CG_LANEID);
  /* rows in a scrambled order: lane l gives row (l * 7) & 31 of its warp's 32 rows */
  LLVMValueRef row = LLVMBuildAnd(k.c.b, mul(&k, lane, 7), kb_int(&k, 31), "");
  LLVMValueRef word = kb_add(&k, mul(&k, warp, 256), mul(&k, row, row_stride));
  LLVMValueRef out[4];
  k.c.site = "ldmatrix (ldm.ll:5)";
  cg_sim_ldmatrix(&k.c, 4, trans, kb_at(&k, sm, word), out);
  for (int i = 0; i < 4; i++)
    gstore(&k, kb_at(&k, kb_param(&k, 1), kb_add(&k, mul(&k, g, 4), kb_int(&k, i))), out[i], "store out");
  return kb_end(&k);
}

static void test_ldmatrix(int trans) {
  const int threads = 64, blocks = 2, n = threads * blocks;
  uint32_t *src = malloc((size_t)n * 32), *out = malloc((size_t)n * 16), *want = malloc((size_t)n * 16);
  for (int i = 0; i < n * 8; i++) src[i] = test_rand();
  memset(out, 0xff, (size_t)n * 16);
  for (int b = 0; b < blocks; b++)
    for (int w = 0; w < threads / 32; w++) {
      const uint32_t *sh = src + b * threads * 8 + w * 256; /* the warp's 1 KiB of shared memory */
      const void *rows[32];
      uint32_t *o[32];
      for (int l = 0; l < 32; l++) {
        rows[l] = sh + ((l * 7) & 31) * 4;
        o[l] = want + (b * threads + w * 32 + l) * 4;
      }
      sim_ldmatrix_lanes(4, trans, rows, o);
    }
  cg_result r = k_ldmatrix(trans, threads, 4);
  sim_arg args[2] = {buf(src, (size_t)n * 32), buf(out, (size_t)n * 16)};
  char err[512] = "";
  CHECK(run(&r, args, 2, blocks, err) == 0);
  if (err[0]) fprintf(stderr, "%s\n", err);
  CHECK(memcmp(out, want, (size_t)n * 16) == 0);
  /* rows 2 words apart are not 16-byte aligned: the first misaligned row is lane 1's (row 7) */
  r = k_ldmatrix(trans, threads, 2);
  CHECK(run(&r, args, 2, blocks, err) == -1);
  CHECK_STR(
      err, "sim: misaligned shared read in kernel ldmatrix, block (0,0,0): thread 1 reads shared[0x38..0x48) "
           "at 'ldmatrix (ldm.ll:5)', a 16-byte access needs 16-byte alignment");
  /* rows 64 bytes apart: warp 1's lane 3 (row 21) is past the end of shared memory */
  r = k_ldmatrix(trans, threads, 16);
  CHECK(run(&r, args, 2, blocks, err) == -1);
  CHECK_STR(
      err, "sim: out-of-bounds shared read in kernel ldmatrix, block (0,0,0): thread 35 reads "
           "shared[0x940..0x950) at 'ldmatrix (ldm.ll:5)', outside the launch's 2048 bytes of shared memory");
  free(src), free(out), free(want);
}

/* ---- cp.async ---- */

/* Thread t copies 16 bytes of src (src_bytes of them, the rest zero) to shared [16t, 16t+16), commits,
 * waits (unless early), then after a barrier reads thread (t+1)'s 16 bytes into dst. */
static cg_result k_cp_async(int early_read, int src_bytes) {
  const int threads = 64;
  kb k;
  kb_begin(&k, "cp_async", "pp", NULL, threads, threads * 16);
  LLVMValueRef t = kb_sreg(&k, CG_TID_X), g = gid(&k), sm = k.c.ops->shared_base(&k.c);
  k.c.site = "cp.async (cp.ll:2)";
  cg_sim_cp_async(&k.c, kb_at(&k, sm, mul(&k, t, 4)), kb_at(&k, kb_param(&k, 0), mul(&k, g, 4)), 16,
                  kb_int(&k, src_bytes));
  k.c.site = "commit";
  cg_sim_cp_async_commit(&k.c);
  if (early_read) {
    k.c.site = "load_shared (cp.ll:4)";
    k.c.ops->load(&k.c, CG_SHARED, k.i32, kb_at(&k, sm, mul(&k, t, 4)), NULL, NULL);
  }
  k.c.site = "wait";
  cg_sim_cp_async_wait(&k.c, 0);
  k.c.site = "barrier";
  k.c.ops->barrier(&k.c);
  LLVMValueRef next = LLVMBuildURem(k.c.b, kb_add(&k, t, kb_int(&k, 1)), kb_int(&k, threads), "");
  for (int i = 0; i < 4; i++) {
    k.c.site = "load_shared";
    LLVMValueRef v = k.c.ops->load(&k.c, CG_SHARED, k.i32,
                                   kb_at(&k, sm, kb_add(&k, mul(&k, next, 4), kb_int(&k, i))), NULL, NULL);
    gstore(&k, kb_at(&k, kb_param(&k, 1), kb_add(&k, mul(&k, g, 4), kb_int(&k, i))), v, "store dst");
  }
  return kb_end(&k);
}

static void test_cp_async(void) {
  const int threads = 64, blocks = 3, n = threads * blocks;
  uint32_t *src = malloc((size_t)n * 16), *dst = malloc((size_t)n * 16);
  for (int i = 0; i < n * 4; i++) src[i] = test_rand();
  for (int sb = 16; sb >= 0; sb -= 12) { /* 16: whole copies; 4: one word, zero fill */
    memset(dst, 0xff, (size_t)n * 16);
    cg_result r = k_cp_async(0, sb);
    sim_arg args[2] = {buf(src, (size_t)n * 16), buf(dst, (size_t)n * 16)};
    char err[512] = "";
    CHECK(run(&r, args, 2, blocks, err) == 0);
    if (err[0]) fprintf(stderr, "%s\n", err);
    int bad = 0;
    for (int g = 0; g < n; g++) {
      int b = g / threads, from = b * threads + (g % threads + 1) % threads;
      for (int i = 0; i < 4; i++) bad += dst[g * 4 + i] != (i * 4 < sb ? src[from * 4 + i] : 0);
    }
    CHECK(bad == 0);
  }
  char err[512];
  cg_result r = k_cp_async(1, 16);
  sim_arg args[2] = {buf(src, (size_t)n * 16), buf(dst, (size_t)n * 16)};
  CHECK(run(&r, args, 2, blocks, err) == -1);
  CHECK_STR(err, "sim: cp.async hazard in kernel cp_async, block (0,0,0): thread 0 reads shared[0x0..0x4) at "
                 "'load_shared (cp.ll:4)' while a cp.async into it is in flight (not waited for)");
  /* a source buffer one copy short: the last thread's copy reads past its end */
  r = k_cp_async(0, 16);
  sim_arg shortsrc[2] = {buf(src, (size_t)n * 16 - 16), buf(dst, (size_t)n * 16)};
  CHECK(run(&r, shortsrc, 2, blocks, err) == -1);
  char want[512];
  snprintf(
      want, sizeof want,
      "sim: out-of-bounds global read in kernel cp_async, block (2,0,0): thread 63 reads global[%p..%p) at "
      "'cp.async (cp.ll:2)', 0 bytes past the end of arg 0 (%d bytes at %p)",
      (void *)(src + (n - 1) * 4), (void *)(src + n * 4), n * 16 - 16, (void *)src);
  CHECK_STR(err, want);
  free(src), free(dst);
}

int main(void) {
  for (int k = 0; k < CG_MMA_NKINDS; k++) test_mma((cg_mma_kind)k);
  test_mma_reports();
  test_ldmatrix(0);
  test_ldmatrix(1);
  test_cp_async();
  return test_done("test_sim_warp");
}
