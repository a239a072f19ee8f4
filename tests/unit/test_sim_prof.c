/*
 * test_sim_prof.c - the simulator's profile counters (sim_opts.profile, docs/profiling.md) on kernels
 * whose counts are worked out by hand: shared-memory bank conflicts (a stride of 32 words, contiguous
 * words, the stride through a swizzled buffer, ldmatrix rows 64 bytes apart), global sectors (coalesced
 * and strided loads), unique bytes, barriers; the wavefront model on hand-made requests; profiling off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "sim/sim.h"
#include "test.h"

/* tests/sim/NAME.ir -> a CG_SIM kernel. */
static int build(const char *name, cg_result *out) {
  char path[256], err[1024] = "";
  snprintf(path, sizeof path, "tests/sim/%s.ir", name);
  char *text = test_read_file(path, NULL);
  if (!text) return -1;
  char file[64];
  snprintf(file, sizeof file, "%s.ir", name);
  int rc = test_compile_ir(text, file, tg_target_lookup("sm_80"), CG_SIM, out, err, sizeof err);
  free(text);
  if (rc) fprintf(stderr, "%s: %s\n", path, err);
  return rc;
}

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
 * three kernels: load_shared reads in the default layout (spt [1,4], tpw [4,8]) one f32 per lane per
 * request, 32 requests: lane l at row 4q + l/8, column 4(l%8) + k, so 8 banks hold 4 rows each: 4
 * wavefronts. The global store of that tile: 32 requests of 4 rows x 8 lanes 16 bytes apart, each row
 * 128 bytes = 4 sectors: 16 sectors, 128 bytes, per request. One barrier. */
static void test_smem(const char *name, uint64_t wf) {
  float *y = aligned_alloc(128, 1024 * sizeof *y);
  sim_arg a[1] = {{.is_ptr = 1, .elem = IR_F32, .ptr = y, .bytes = 1024 * 4}};
  sim_profile p = {0};
  CHECK(run(name, a, 1, 1, 1, &p) == 0);
  dump(name, &p);
  const sim_counters *st = op(&p, "store_shared"), *ld = op(&p, "load_shared"), *g = op(&p, "store (");
  CHECK(st->smem_requests == 32 && st->smem_wavefronts == 32 * wf,
        "%s: store_shared %llu requests, %llu wavefronts", name, (unsigned long long)st->smem_requests,
        (unsigned long long)st->smem_wavefronts);
  CHECK(ld->smem_requests == 32 && ld->smem_wavefronts == 128);
  CHECK(g->gmem_requests == 32 && g->gmem_sectors == 512 && g->gmem_bytes == 4096 && g->smem_requests == 0);
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
  float *x = aligned_alloc(128, n * 4), *y = aligned_alloc(128, n * 4);
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

/* A 16x32 by 32x8 f16 dot in one warp (tests/sim/prof_ldm_*.ir), mma m16n8k16: two k-steps, each an
 * ldmatrix.x4 of A (four 8x8 matrices; a matrix is 8 consecutive rows' same 16-byte chunk) and an
 * ldmatrix.x2.trans of B (16-byte rows packed: one wavefront per matrix), all at the dot's site.
 * A's rows are 64 bytes: unswizzled, row r's chunk c starts at bank 16 (r % 2) + 4c, so 4 of the 8
 * rows share each bank: 4 wavefronts per matrix, 16 per x4; with swizzle = 4 (G = 2 rows per 128-byte
 * line) the chunk moves to c ^ (r / 2 % 4) and the 8 rows hit 8 bank groups: 1 per matrix, 4 per x4.
 * So the dot has 4 ldmatrix requests and 2 a_wf + 2 x 2 wavefronts. The copies go by cp.async, 16
 * bytes a lane: A 1024 bytes (2 requests of 512 bytes, 16 sectors each), B 512 (1 request, 16). */
static void test_ldm(const char *name, uint64_t a_wf) {
  uint16_t *a = aligned_alloc(128, 16 * 32 * 2), *b = aligned_alloc(128, 32 * 8 * 2);
  float *c = aligned_alloc(128, 16 * 8 * 4);
  memset(a, 0, 16 * 32 * 2), memset(b, 0, 32 * 8 * 2);
  sim_arg args[3] = {{.is_ptr = 1, .elem = IR_F16, .ptr = a, .bytes = 16 * 32 * 2},
                     {.is_ptr = 1, .elem = IR_F16, .ptr = b, .bytes = 32 * 8 * 2},
                     {.is_ptr = 1, .elem = IR_F32, .ptr = c, .bytes = 16 * 8 * 4}};
  sim_profile p = {0};
  CHECK(run(name, args, 3, 1, 1, &p) == 0);
  dump(name, &p);
  const sim_counters *d = op(&p, "dot ");
  CHECK(d->ldmatrix == 4 && d->smem_requests == 4 && d->mma == 2, "%s: dot ldmatrix %llu mma %llu", name,
        (unsigned long long)d->ldmatrix, (unsigned long long)d->mma);
  CHECK(d->smem_wavefronts == 2 * a_wf + 4, "%s: dot %llu wavefronts", name,
        (unsigned long long)d->smem_wavefronts);
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
  free(a), free(b), free(c);
}

int main(void) {
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
