/*
 * test_sim_prof.c - the simulator's profile counters (sim_opts.profile, docs/profiling.md) on kernels
 * whose counts are worked out by hand: shared-memory bank conflicts (a stride of 32 words, contiguous
 * words, the stride through a swizzled buffer, ldmatrix rows 64 bytes apart), global sectors (coalesced
 * and strided loads), unique bytes, barriers; the wavefront model on hand-made requests; profiling off.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/codegen.h"
#include "sim/sim.h"
#include "sim/sim_int.h"
#include "target/smem_banks.h"
#include "test.h"

static int build(const char *name, cg_result *out) { return test_sim_ir_kernel(name, out); }

/* n bytes aligned to 128 (aligned_alloc wants a size that is a multiple of the alignment). */
static void *buf128(size_t n) { return aligned_alloc(128, (n + 127) / 128 * 128); }

/* Runs NAME over gx blocks with a, profiled into p; 0 or -1. */
static int run(const char *name, const sim_arg *a, int n, int64_t gx, int workers, sim_profile *p) {
  cg_result r;
  if (build(name, &r)) return -1;
  int64_t grid[3] = {gx, 1, 1};
  sim_opts o = {.workers = workers, .profile = p};
  char err[1024] = "";
  int rc = sim_launch(&r, a, n, grid, &o, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  cg_result_free(&r);
  return rc;
}

/* The counters of the op whose site starts with `op`. */
static const sim_counters *op(const sim_profile *p, const char *prefix) {
  for (int i = 0; i < p->nops; i++)
    if (!strncmp(p->ops[i].site, prefix, strlen(prefix))) return &p->ops[i].c;
  CHECK(0, "no op '%s' in the profile", prefix);
  static sim_counters none;
  return &none;
}

static void dump(const char *name, const sim_profile *p) {
  if (!getenv("KILN_TEST_VERBOSE")) return;
  for (int i = 0; i < p->nops; i++) {
    const sim_counters *c = &p->ops[i].c;
    fprintf(stderr, "%s: %s: smem %llu/%llu gmem %llu/%llu %lluB bar %llu ldm %llu cp %llu\n", name,
            p->ops[i].site, (unsigned long long)c->smem_requests, (unsigned long long)c->smem_wavefronts,
            (unsigned long long)c->gmem_requests, (unsigned long long)c->gmem_sectors,
            (unsigned long long)c->gmem_bytes, (unsigned long long)c->barriers,
            (unsigned long long)c->ldmatrix, (unsigned long long)c->cp_async_bytes);
  }
}

/* One warp stores a 32x32 f32 tile into shared memory (tests/sim/prof_smem_*.ir), one f32 per lane
 * per request: 32 requests. `wf` is the wavefronts of one store request. The rest is the same in all
 * three kernels: load_shared reads in the default layout (spt [1,4], tpw [4,8]) a lane's run of 4
 * f32 as one 16-byte access, 8 requests: lane l at row 4q + l/8, columns 4(l%8) .. +3; each
 * quarter-warp reads one whole 128-byte row: 4 wavefronts a request, the ideal. The global store of that tile
 * (wholly inside y: 16-byte stores, a lane's run of 4): 8 requests of 4 rows x 8 lanes, each row 128 bytes =
 * 4 sectors: 16 sectors, 512 bytes, per request. One barrier. */
static void test_smem(const char *name, uint64_t wf) {
  float *y = buf128(1024 * sizeof *y);
  sim_arg a[1] = {{.is_ptr = 1, .elem = IR_F32, .ptr = y, .bytes = 1024 * 4}};
  sim_profile p = {0};
  CHECK(run(name, a, 1, 1, 1, &p) == 0);
  dump(name, &p);
  const sim_counters *st = op(&p, "store_shared"), *ld = op(&p, "load_shared"), *g = op(&p, "store (");
  CHECK(st->smem_requests == 32 && st->smem_wavefronts == 32 * wf,
        "%s: store_shared %llu requests, %llu wavefronts", name, (unsigned long long)st->smem_requests,
        (unsigned long long)st->smem_wavefronts);
  CHECK(st->smem_store_requests == 32 && st->smem_store_wavefronts == 32 * wf);
  /* 32 distinct words a store request: one wavefront each without conflicts; the load's 128 words
   * a request take 4, none of them conflicts */
  CHECK(st->smem_ideal_wavefronts == 32 && ld->smem_ideal_wavefronts == 32,
        "%s: ideal wavefronts %llu (store), %llu (load)", name, (unsigned long long)st->smem_ideal_wavefronts,
        (unsigned long long)ld->smem_ideal_wavefronts);
  CHECK(ld->smem_requests == 8 && ld->smem_wavefronts == 32 && ld->smem_store_requests == 0,
        "%s: load_shared %llu requests, %llu wavefronts", name, (unsigned long long)ld->smem_requests,
        (unsigned long long)ld->smem_wavefronts);
  CHECK(g->gmem_requests == 8 && g->gmem_sectors == 128 && g->gmem_bytes == 4096 && g->smem_requests == 0);
  CHECK(op(&p, "barrier")->barriers == 1);
  CHECK(p.total.barriers == 3); /* and the convert_layout's two */
  CHECK(p.total.gmem_unique_bytes == 4096 && p.total.gmem_bytes == 4096 && p.total.mma == 0);
  int bad = 0;
  for (int i = 0; i < 1024; i++) bad += y[i] != 3.0f;
  CHECK(bad == 0);
  sim_profile_free(&p);
  free(y);
}

static void test_gmem(int stride) {
  size_t n = 32 * (size_t)stride;
  float *x = buf128(n * 4), *y = buf128(n * 4);
  for (size_t i = 0; i < n; i++) x[i] = (float)i, y[i] = -1;
  sim_arg a[3] = {{.is_ptr = 1, .elem = IR_F32, .ptr = x, .bytes = n * 4},
                  {.is_ptr = 1, .elem = IR_F32, .ptr = y, .bytes = n * 4},
                  {.elem = IR_I32, .ival = stride}};
  sim_profile p = {0};
  CHECK(run("prof_gmem", a, 3, 1, 1, &p) == 0);
  dump("prof_gmem", &p);
  /* lane i at byte 4 i s of a 128-byte aligned buffer: s = 1, bytes 0..127, four sectors; s = 32, a
   * sector per lane */
  uint64_t sectors = stride == 1 ? 4 : 32;
  const sim_counters *ld = op(&p, "load "), *st = op(&p, "store (");
  CHECK(ld->gmem_requests == 1 && ld->gmem_sectors == sectors && ld->gmem_bytes == 128);
  CHECK(st->gmem_requests == 1 && st->gmem_sectors == sectors && st->gmem_bytes == 128);
  CHECK(p.total.gmem_requests == 2 && p.total.gmem_sectors == 2 * sectors && p.total.gmem_bytes == 256);
  CHECK(p.total.gmem_unique_bytes == 256 && p.total.smem_requests == 0 && p.total.barriers == 0);
  CHECK(p.nops == 2);
  int bad = 0;
  for (int i = 0; i < 32; i++) bad += y[i * stride] != (float)(i * stride);
  CHECK(bad == 0);
  sim_profile_free(&p);
  free(x), free(y);
}

/* NAME.ir on a 16x32 f16 A, a 32x8 f16 B (both zero) and a 16x8 f32 C, one block, profiled into p. */
static int run_dot(const char *name, sim_profile *p) {
  uint16_t *a = buf128(16 * 32 * 2), *b = buf128(32 * 8 * 2);
  float *c = buf128(16 * 8 * 4);
  memset(a, 0, 16 * 32 * 2), memset(b, 0, 32 * 8 * 2);
  sim_arg args[3] = {{.is_ptr = 1, .elem = IR_F16, .ptr = a, .bytes = 16 * 32 * 2},
                     {.is_ptr = 1, .elem = IR_F16, .ptr = b, .bytes = 32 * 8 * 2},
                     {.is_ptr = 1, .elem = IR_F32, .ptr = c, .bytes = 16 * 8 * 4}};
  int rc = run(name, args, 3, 1, 1, p);
  free(a), free(b), free(c);
  return rc;
}

/* A 16x32 by 32x8 f16 dot in one warp (tests/sim/prof_ldm_*.ir), mma m16n8k16: two k-steps, each an
 * ldmatrix.x4 of A (four 8x8 matrices; a matrix is 8 consecutive rows' same 16-byte chunk) and an
 * ldmatrix.x2.trans of B (16-byte rows packed: one wavefront per matrix), all at the dot's site.
 * A's rows are 64 bytes: unswizzled, row r's chunk c starts at bank 16 (r % 2) + 4c, so 4 of the 8
 * rows share each bank: 4 wavefronts per matrix, 16 per x4; with swizzle = 4 (G = 2 rows per 128-byte
 * line) the chunk moves to c ^ (r / 2 % 4) and the 8 rows hit 8 bank groups: 1 per matrix, 4 per x4.
 * So the dot has 4 ldmatrix requests and 2 a_wf + 2 x 2 wavefronts. The copies go by cp.async, 16
 * bytes a lane: A 1024 bytes (2 requests of 512 bytes, 16 sectors each), B 512 (1 request, 16). */
static void test_ldm(const char *name, uint64_t a_wf) {
  sim_profile p = {0};
  CHECK(run_dot(name, &p) == 0);
  dump(name, &p);
  const sim_counters *d = op(&p, "dot ");
  CHECK(d->ldmatrix == 4 && d->smem_requests == 4 && d->mma == 2, "%s: dot ldmatrix %llu mma %llu", name,
        (unsigned long long)d->ldmatrix, (unsigned long long)d->mma);
  CHECK(d->smem_store_requests == 0 && d->smem_store_wavefronts == 0);
  CHECK(d->smem_wavefronts == 2 * a_wf + 4, "%s: dot %llu wavefronts", name,
        (unsigned long long)d->smem_wavefronts);
  /* without conflicts one wavefront per 8x8 matrix: 2 x 4 for A, 2 x 2 for B */
  CHECK(d->smem_ideal_wavefronts == 12, "%s: dot %llu ideal wavefronts", name,
        (unsigned long long)d->smem_ideal_wavefronts);
  CHECK(p.total.cp_async_bytes == 1536 && p.total.ldmatrix == 4 && p.total.mma == 2);
  char site[64];
  snprintf(site, sizeof site, "copy (%s.ir:14)", name);
  const sim_counters *ca = op(&p, site);
  CHECK(ca->gmem_requests == 2 && ca->gmem_sectors == 32 && ca->gmem_bytes == 1024 &&
        ca->cp_async_bytes == 1024);
  snprintf(site, sizeof site, "copy (%s.ir:15)", name);
  const sim_counters *cb = op(&p, site);
  CHECK(cb->gmem_requests == 1 && cb->gmem_sectors == 16 && cb->gmem_bytes == 512 &&
        cb->cp_async_bytes == 512);
  CHECK(p.total.gmem_unique_bytes == 1024 + 512 + 512);
  sim_profile_free(&p);
}

/* loop_sum.ir: one warp, a 64-element i32 tile (lane l holds elements 2l and 2l+1), 10 iterations of
 * a load with no rendezvous between them: thread 0 runs all ten before thread 1 starts, so each
 * lane's n-th load joins the warp's n-th request. The simulator's lowering accesses element by
 * element (no vector hook), so an iteration is 2 requests of 32 lanes x 4 bytes (128 asked), lanes
 * 8 bytes apart over 256 bytes: 8 sectors. 20 requests, 160 sectors, 2560 bytes. The store: 2
 * requests of 32 lanes x 4 bytes, 8 sectors each. */
static void test_loop(void) {
  int n = 640;
  int32_t *x = buf128((size_t)n * 4), *out = buf128(64 * 4);
  for (int i = 0; i < n; i++) x[i] = i;
  sim_arg a[3] = {{.is_ptr = 1, .elem = IR_I32, .ptr = x, .bytes = (size_t)n * 4},
                  {.is_ptr = 1, .elem = IR_I32, .ptr = out, .bytes = 64 * 4},
                  {.elem = IR_I32, .ival = n}};
  sim_profile p = {0};
  CHECK(run("loop_sum", a, 3, 1, 1, &p) == 0);
  dump("loop_sum", &p);
  const sim_counters *ld = op(&p, "load "), *st = op(&p, "store (");
  CHECK(ld->gmem_requests == 20 && ld->gmem_sectors == 160 && ld->gmem_bytes == 2560, "%llu %llu %llu",
        (unsigned long long)ld->gmem_requests, (unsigned long long)ld->gmem_sectors,
        (unsigned long long)ld->gmem_bytes);
  CHECK(st->gmem_requests == 2 && st->gmem_sectors == 16 && st->gmem_bytes == 256);
  CHECK(p.total.gmem_unique_bytes == 2560 + 256);
  /* the loop: 0, 64, ..., 576: 10 iterations in the one block */
  const sim_counters *lp = op(&p, "for ");
  CHECK(lp->iterations == 10 && p.blocks == 1 && p.total.iterations == 10, "%llu iterations",
        (unsigned long long)lp->iterations);
  /* per op, first touches: the load's 2560 bytes of x, the store's 256 of out */
  CHECK(ld->gmem_unique_bytes == 2560 && st->gmem_unique_bytes == 256, "%llu %llu",
        (unsigned long long)ld->gmem_unique_bytes, (unsigned long long)st->gmem_unique_bytes);
  int bad = 0;
  for (int j = 0; j < 64; j++) bad += out[j] != 10 * j + 64 * 45;
  CHECK(bad == 0);
  sim_profile_free(&p);
  CHECK(p.ops == NULL && p.nops == 0 && p.total.gmem_requests == 0);
  free(x), free(out);
}

/* loop_sum16.ir: one warp, a 16-element i32 tile: lane l < 16 holds element l, lanes 16..31 hold
 * copies. A load is one request of 32 lanes x 4 bytes (128 asked, the copies included) over 64
 * bytes: 2 sectors; 10 iterations. The store: first holders only, one request of 16 lanes x 4 bytes,
 * 2 sectors. */
static void test_loop_replicated(void) {
  int n = 160;
  int32_t *x = buf128((size_t)n * 4), *out = buf128(16 * 4);
  for (int i = 0; i < n; i++) x[i] = i;
  for (int j = 0; j < 16; j++) out[j] = -1;
  sim_arg a[3] = {{.is_ptr = 1, .elem = IR_I32, .ptr = x, .bytes = (size_t)n * 4},
                  {.is_ptr = 1, .elem = IR_I32, .ptr = out, .bytes = 16 * 4},
                  {.elem = IR_I32, .ival = n}};
  sim_profile p = {0};
  CHECK(run("loop_sum16", a, 3, 1, 1, &p) == 0);
  dump("loop_sum16", &p);
  const sim_counters *ld = op(&p, "load "), *st = op(&p, "store (");
  CHECK(ld->gmem_requests == 10 && ld->gmem_sectors == 20 && ld->gmem_bytes == 1280, "%llu %llu %llu",
        (unsigned long long)ld->gmem_requests, (unsigned long long)ld->gmem_sectors,
        (unsigned long long)ld->gmem_bytes);
  CHECK(st->gmem_requests == 1 && st->gmem_sectors == 2 && st->gmem_bytes == 64, "%llu %llu %llu",
        (unsigned long long)st->gmem_requests, (unsigned long long)st->gmem_sectors,
        (unsigned long long)st->gmem_bytes);
  CHECK(ld->gmem_unique_bytes == 640 && st->gmem_unique_bytes == 64);
  int bad = 0;
  for (int j = 0; j < 16; j++) bad += out[j] != 10 * j + 16 * 45;
  CHECK(bad == 0);
  sim_profile_free(&p);
  free(x), free(out);
}

/* smem_exchange.ir over several blocks: the same counters on one worker and on two (merged by site);
 * two barriers per block; unique bytes: x read (by cp.async or loads) and y written, 4 n bytes each. */
static void test_workers(void) {
  int n = 5000, blocks = (n + 511) / 512;
  float *x = buf128((size_t)n * 4), *y = buf128((size_t)n * 4);
  for (int i = 0; i < n; i++) x[i] = (float)i;
  sim_arg a[3] = {{.is_ptr = 1, .elem = IR_F32, .ptr = x, .bytes = (size_t)n * 4},
                  {.is_ptr = 1, .elem = IR_F32, .ptr = y, .bytes = (size_t)n * 4},
                  {.elem = IR_I32, .ival = n}};
  sim_profile p1 = {0}, p2 = {0};
  CHECK(run("smem_exchange", a, 3, blocks, 1, &p1) == 0);
  CHECK(run("smem_exchange", a, 3, blocks, 2, &p2) == 0);
  CHECK(p1.total.barriers == 2 * (uint64_t)blocks && p1.blocks == (uint64_t)blocks);
  CHECK(p1.total.gmem_unique_bytes == 8 * (uint64_t)n);
  uint64_t first = 0;
  for (int i = 0; i < p1.nops; i++) first += p1.ops[i].c.gmem_unique_bytes;
  CHECK(first == 8 * (uint64_t)n, "first touches sum to %llu", (unsigned long long)first);
  CHECK(!memcmp(&p1.total, &p2.total, sizeof p1.total));
  CHECK(p1.nops == p2.nops);
  for (int i = 0; i < p1.nops && i < p2.nops; i++)
    CHECK(!strcmp(p1.ops[i].site, p2.ops[i].site) && !memcmp(&p1.ops[i].c, &p2.ops[i].c, sizeof p1.ops[i].c));
  /* a profile passed again is freed and refilled */
  CHECK(run("smem_exchange", a, 3, blocks, 2, &p2) == 0);
  CHECK(!memcmp(&p1.total, &p2.total, sizeof p1.total));
  sim_profile_free(&p1);
  sim_profile_free(&p2);
  sim_profile_free(NULL);
  free(x), free(y);
}

/* sim_opts.sample: only the listed blocks run (their outputs written, the others' left alone), the
 * counters are theirs (two barriers each), and a bad list is refused with one line. */
static void test_sample(void) {
  int n = 5000, blocks = (n + 511) / 512;
  float *x = buf128((size_t)n * 4), *y = buf128((size_t)n * 4);
  for (int i = 0; i < n; i++) x[i] = (float)i, y[i] = -1;
  sim_arg a[3] = {{.is_ptr = 1, .elem = IR_F32, .ptr = x, .bytes = (size_t)n * 4},
                  {.is_ptr = 1, .elem = IR_F32, .ptr = y, .bytes = (size_t)n * 4},
                  {.elem = IR_I32, .ival = n}};
  int64_t grid[3] = {blocks, 1, 1}, ids[2] = {0, blocks - 1};
  sim_profile p = {0};
  cg_result r;
  CHECK(build("smem_exchange", &r) == 0);
  uint64_t threads = (uint64_t)r.threads;
  sim_opts o = {.workers = 2, .profile = &p, .sample = ids, .nsample = 2};
  char err[512] = "";
  CHECK(sim_launch(&r, a, 3, grid, &o, err, sizeof err) == 0, "%s", err);
  cg_result_free(&r);
  CHECK(p.total.barriers == 4 && o.threads == 2 * threads && p.blocks == 2, "%llu barriers, %llu threads",
        (unsigned long long)p.total.barriers, (unsigned long long)o.threads);
  int written = 0;
  for (int i = 0; i < n; i++) written += y[i] != -1;
  CHECK(written == 512 + (n - (blocks - 1) * 512), "%d written", written);
  const int64_t bad[][2] = {{1, 1}, {3, 2}, {0, blocks}, {-1, 0}};
  for (int i = 0; i < 4; i++) {
    CHECK(build("smem_exchange", &r) == 0);
    o.sample = bad[i], o.nsample = 2;
    CHECK(sim_launch(&r, a, 3, grid, &o, err, sizeof err) == -1);
    cg_result_free(&r);
    CHECK_CONTAINS(err, "is out of order or outside the grid of 10 blocks");
  }
  CHECK(build("smem_exchange", &r) == 0);
  o.sample = ids, o.nsample = 0;
  CHECK(sim_launch(&r, a, 3, grid, &o, err, sizeof err) == -1);
  cg_result_free(&r);
  CHECK_CONTAINS(err, "samples 0 blocks (at least 1)");
  sim_profile_free(&p);
  free(x), free(y);
}

/* The wavefront model on hand-made requests: lane l at byte off(l) with `bytes` bytes; `ideal` gets
 * the request's wavefronts without bank conflicts. */
static uint64_t ideal;
static uint64_t wf(uint32_t mask, uint16_t bytes, uintptr_t (*off)(int)) {
  uintptr_t o[32];
  uint16_t b[32];
  for (int l = 0; l < 32; l++) o[l] = off(l), b[l] = bytes;
  return tg_smem_wavefronts(o, b, mask, &ideal);
}
static uintptr_t off_same(int l) { return (void)l, 64; }
static uintptr_t off_4l(int l) { return 4 * (uintptr_t)l; }
static uintptr_t off_8l(int l) { return 8 * (uintptr_t)l; }
static uintptr_t off_16l(int l) { return 16 * (uintptr_t)l; }
static uintptr_t off_2words(int l) { return 8 * (uintptr_t)l; }
static uintptr_t off_256l(int l) { return 256 * (uintptr_t)l; }
static uintptr_t off_128l(int l) { return 128 * (uintptr_t)l; }

/* Each case: wavefronts, then the ideal (distinct words over 32 banks, rounded up, per phase): a
 * wide access without conflicts has as many wavefronts as its ideal (conflicts = the difference). */
static void test_model(void) {
  CHECK(wf(~0u, 4, off_same) == 1 && ideal == 1);     /* broadcast: one word */
  CHECK(wf(~0u, 4, off_4l) == 1 && ideal == 1);       /* 32 words, 32 banks */
  CHECK(wf(~0u, 4, off_2words) == 2 && ideal == 1);   /* words 2l: lanes l and l + 16 share bank 2l % 32 */
  CHECK(wf(~0u, 4, off_128l) == 32 && ideal == 1);    /* one bank, 32 words */
  CHECK(wf(0x3u, 4, off_128l) == 2 && ideal == 1);    /* two lanes on */
  CHECK(wf(0, 4, off_4l) == 0 && ideal == 0);         /* no lane on */
  CHECK(wf(~0u, 2, off_4l) == 1 && ideal == 1);       /* 16-bit: 32 lanes, one phase */
  CHECK(wf(~0u, 8, off_8l) == 2 && ideal == 2);       /* 64-bit: two half-warps of 128 bytes, one each */
  CHECK(wf(0xffffu, 8, off_8l) == 1 && ideal == 1);   /* the second half-warp off */
  CHECK(wf(~0u, 8, off_256l) == 32 && ideal == 2);    /* words 64l, 64l + 1 in banks 0, 1: 16 per half */
  CHECK(wf(~0u, 16, off_16l) == 4 && ideal == 4);     /* 128-bit: four quarter-warps of 128 bytes */
  CHECK(wf(~0u, 16, off_128l) == 32 && ideal == 4);   /* 8 lanes per phase on banks 0..3, 4 phases */
  CHECK(wf(0x0101u, 16, off_16l) == 2 && ideal == 2); /* one lane in each of two quarter-warps */
}

/* The unique-byte bitmap of a buffer too large to map: the launch fails with one line. */
static void test_oom(void) {
  float *x = buf128(32 * 4), *y = buf128(32 * 4);
  sim_arg a[3] = {{.is_ptr = 1, .elem = IR_F32, .ptr = x, .bytes = (size_t)1 << 50},
                  {.is_ptr = 1, .elem = IR_F32, .ptr = y, .bytes = 32 * 4},
                  {.elem = IR_I32, .ival = 1}};
  sim_profile p = {0};
  cg_result r;
  CHECK(build("prof_gmem", &r) == 0);
  int64_t grid[3] = {1, 1, 1};
  sim_opts o = {.workers = 1, .profile = &p};
  char err[256] = "";
  CHECK(sim_launch(&r, a, 3, grid, &o, err, sizeof err) == -1);
  CHECK_STR(err, "sim: out of memory for the profile of kernel prof_gmem");
  CHECK(p.nops == 0 && p.ops == NULL);
  cg_result_free(&r);
  free(x), free(y);
}

/* prof_stage.ir: A comes from registers (spt [1,8], tpw [8,4]: lane l holds row l/4 (+8), columns
 * 8(l%4)..+7), so the dot stages it into scratch at its own site, "dot %N stage A": rows of 32 f16
 * padded to 40 (80 bytes), one 16-byte store per run of 8: 2 requests. A quarter-warp's 8 lanes
 * write rows r and r + 1 (4 chunks each) at 16-byte bank groups 5r + c (mod 8): row 0 takes 0..3,
 * row 1 5, 6, 7, 0, so group 0 twice: 2 wavefronts per quarter-warp, 16 in all (the pitch keeps
 * ldmatrix's 8 rows apart, which a pitch keeping these two rows apart cannot). The ldmatrix.x4 of A then
 * reads 8 rows 80 bytes apart: banks 20r + 4c, 8 distinct groups, 1 per matrix: 2 x 4; B as in
 * test_ldm, 2 x 2. */
static void test_stage(void) {
  sim_profile p = {0};
  CHECK(run_dot("prof_stage", &p) == 0);
  dump("prof_stage", &p);
  const sim_counters *sa = NULL, *d = NULL;
  for (int i = 0; i < p.nops; i++) {
    if (strstr(p.ops[i].site, " stage A (prof_stage.ir:22)")) sa = &p.ops[i].c;
    if (strstr(p.ops[i].site, "dot ") && strstr(p.ops[i].site, " (prof_stage.ir:22)") &&
        !strstr(p.ops[i].site, " stage "))
      d = &p.ops[i].c;
  }
  CHECK(sa && sa->smem_store_requests == 2 && sa->smem_requests == 2 && sa->smem_wavefronts == 16);
  CHECK(d && d->ldmatrix == 4 && d->smem_requests == 4 && d->smem_wavefronts == 12 && d->mma == 2);
  /* two m16n8k16 f16 mma: 2 x 2 x 16 x 8 x 16 operations, all of them 16-bit */
  CHECK(d && d->mma_ops16 == 8192 && d->mma_ops8 == 0 && d->mma_ops1 == 0);
  CHECK(p.total.mma_ops16 == 8192);
  sim_profile_free(&p);
}

/* prof_chain.ir: two staged dots (N = 4), the first from zeros, the second accumulating on the first;
 * prof_chain_mix.ir: two such sums, for B and B2, interleaved (d1, e1, d2 on d1, e2 on e1). Fresh small
 * integers (exact in f16, their sums exact in f32), the outputs poisoned first: every element is 2 A.B
 * (2 A.B2).
 * Barriers of prof_chain: the copy's, then one after the first dot's A and B are staged (no
 * accumulator staged, no result written back), and the second's four: before its stores (the
 * first's reads of the scratch), after them, after its instructions write the result, after it is
 * read back in the result's layout; staging each accumulator and writing each result back took
 * 1 + 4 + 4. prof_chain_mix keeps no sum in registers (e1 is lowered between d1 and d2): the copy's,
 * three for each dot from zeros, four for each of the others. */
static void test_chain(const char *name, int sums, uint64_t barriers) {
  static const uint16_t f16_of[5] = {0xc000, 0xbc00, 0x0000, 0x3c00, 0x4000}; /* -2 .. 2 */
  unsigned seed = (unsigned)time(NULL);
  srand(seed);
  uint16_t *a = buf128(16 * 32 * 2), *b[2] = {buf128(32 * 4 * 2), buf128(32 * 4 * 2)};
  float *c[2] = {buf128(16 * 4 * 4), buf128(16 * 4 * 4)};
  int ia[16 * 32], ib[2][32 * 4];
  for (int i = 0; i < 16 * 32; i++) ia[i] = rand() % 5 - 2, a[i] = f16_of[ia[i] + 2];
  for (int j = 0; j < 2; j++) {
    for (int i = 0; i < 32 * 4; i++) ib[j][i] = rand() % 5 - 2, b[j][i] = f16_of[ib[j][i] + 2];
    for (int i = 0; i < 16 * 4; i++) c[j][i] = NAN;
  }
  sim_arg args[5] = {{.is_ptr = 1, .elem = IR_F16, .ptr = a, .bytes = 16 * 32 * 2},
                     {.is_ptr = 1, .elem = IR_F16, .ptr = b[0], .bytes = 32 * 4 * 2},
                     {.is_ptr = 1, .elem = IR_F32, .ptr = c[0], .bytes = 16 * 4 * 4},
                     {.is_ptr = 1, .elem = IR_F32, .ptr = c[1], .bytes = 16 * 4 * 4},
                     {.is_ptr = 1, .elem = IR_F16, .ptr = b[1], .bytes = 32 * 4 * 2}};
  sim_profile p = {0};
  CHECK(run(name, args, sums == 1 ? 3 : 5, 1, 1, &p) == 0);
  dump(name, &p);
  int bad = 0;
  for (int j = 0; j < sums; j++)
    for (int m = 0; m < 16; m++)
      for (int n = 0; n < 4; n++) {
        int want = 0;
        for (int k = 0; k < 32; k++) want += ia[m * 32 + k] * ib[j][k * 4 + n];
        if (c[j][m * 4 + n] != 2.0f * (float)want) bad++;
      }
  CHECK(bad == 0, "%s (seed %u): %d of %d elements differ from 2 A.B", name, seed, bad, 64 * sums);
  CHECK(p.total.barriers == barriers && p.total.mma == 4 * (uint64_t)sums, "%s: %llu barriers, %llu mma",
        name, (unsigned long long)p.total.barriers, (unsigned long long)p.total.mma);
  sim_profile_free(&p);
  free(a), free(b[0]), free(b[1]), free(c[0]), free(c[1]);
}

int main(void) {
  test_chain("prof_chain", 1, 6);
  test_chain("prof_chain_mix", 2, 1 + 3 + 3 + 4 + 4);
  test_stage();
  test_oom();
  test_model();
  test_loop();
  test_loop_replicated();
  test_workers();
  test_sample();
  test_gmem(1);
  test_gmem(32);
  test_ldm("prof_ldm_plain", 16);
  test_ldm("prof_ldm_swz", 4);
  test_smem("prof_smem_stride", 32); /* lane i at word 32 i + j: all in bank j */
  test_smem("prof_smem_contig", 1);  /* lane i at word 32 j + i: bank i */
  /* swizzle = 8, 128-byte rows: lane i's chunk j/4 moves to (j/4) ^ (i % 8), bank 4((j/4) ^ (i%8)) + j%4:
   * 8 banks, 4 rows (i, i+8, i+16, i+24) each. Swizzling 16-byte chunks cannot spread 32 rows of one
   * 4-byte column over more than 8 chunk positions: 4-way, not conflict-free. */
  test_smem("prof_smem_swz", 4);
  return test_done("test_sim_prof");
}
