/*
 * test_model.c - the roofline model (include/kiln.h, docs/profiling.md "The model"):
 *   1. kiln_model_compute on hand-worked cases: each bound binding in turn, the busiest SM's share when
 *      the blocks do not divide evenly, the three input widths, and its argument errors;
 *   2. kiln_model_estimate on recipes/matmul.lua without ptxas (KILN_PTXAS set to a missing file): the
 *      simulated work scaled to the grid equals the GEMM's 2 M N K and its tensors' bytes exactly, and
 *      the assumptions say what is unknown; its usage errors (an IR file, bad samples, bad target, a
 *      compile error naming the recipe line).
 * Run from the source root (ctest does).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "include/kiln.h"
#include "test.h"

static int near(double got, double want) { return fabs(got - want) <= 1e-9 * fabs(want) + 1e-18; }

/* sm_80's reference part: 108 SMs at 1.41 GHz, 2039 GB/s, 2048 16-bit / 4096 8-bit / 32768 1-bit
 * operations, 1 wavefront and 4 warp instructions per clock per SM. */
static void test_compute(void) {
  kiln_session *s = kiln_session_new();
  const double hz = 1.41e9;
  kiln_model_result m;
  /* 216 blocks on 108 SMs: two each, no imbalance. Per SM: 2000 tensor clocks, 3000 wavefront clocks,
   * 1000 issue clocks; DRAM 1 us. Shared memory binds. */
  kiln_model_work w = {.blocks = 216,
                       .mma_ops16 = 108.0 * 2048 * 2000,
                       .smem_wavefronts = 108.0 * 3000,
                       .dram_bytes = 2039e3,
                       .warp_instructions = 108.0 * 4 * 1000,
                       .blocks_per_sm = 4};
  CHECK(kiln_model_compute(s, "sm_80", &w, &m) == KILN_OK, "%s", kiln_error(s));
  CHECK(near(m.tensor_s, 2000 / hz) && near(m.smem_s, 3000 / hz) && near(m.issue_s, 1000 / hz), "%g %g %g",
        m.tensor_s, m.smem_s, m.issue_s);
  CHECK(near(m.dram_s, 1e-6) && near(m.wave_eff, 1) && near(m.waves, 0.5), "%g %g %g", m.dram_s, m.wave_eff,
        m.waves);
  CHECK(near(m.time_s, 3000 / hz));
  CHECK_STR(m.bound, "shared memory");
  CHECK(near(m.tensor_tflops, 108.0 * 2048 * 2000 / (3000 / hz) / 1e12));
  CHECK_STR(m.part, "A100 SXM4 80GB");
  CHECK(m.sms == 108 && near(m.clock_ghz, 1.41) && near(m.dram_gbs, 2039));
  CHECK_CONTAINS(m.assumptions, "a model, not a measurement");
  /* 8-bit and 1-bit operations at their rates: 1000 + 1000 more tensor clocks: tensor binds */
  w.mma_ops8 = 108.0 * 4096 * 1000, w.mma_ops1 = 108.0 * 32768 * 1000;
  CHECK(kiln_model_compute(s, "sm_80", &w, &m) == KILN_OK);
  CHECK(near(m.tensor_s, 4000 / hz));
  CHECK_STR(m.bound, "tensor");
  /* 109 blocks: the busiest SM runs 2 against an even 109/108: every per-SM bound stretched by 216/109,
   * DRAM not; with everything else tiny, DRAM binds */
  kiln_model_work v = {.blocks = 109, .mma_ops16 = 109.0 * 2048, .dram_bytes = 2039e6};
  CHECK(kiln_model_compute(s, "sm_80", &v, &m) == KILN_OK);
  CHECK(near(m.wave_eff, 109.0 / 216) && near(m.tensor_s, 109.0 / 108 / hz * 216 / 109), "%g %g", m.wave_eff,
        m.tensor_s);
  CHECK(near(m.dram_s, 1e-3) && near(m.time_s, 1e-3));
  CHECK_STR(m.bound, "DRAM");
  CHECK_CONTAINS(m.assumptions, "occupancy unknown");
  CHECK_CONTAINS(m.assumptions, "no issue bound");
  /* issue binds; NULL target is sm_80 */
  kiln_model_work u = {.blocks = 108, .warp_instructions = 108.0 * 4 * 5000};
  CHECK(kiln_model_compute(s, NULL, &u, &m) == KILN_OK);
  CHECK(near(m.time_s, 5000 / hz));
  CHECK_STR(m.bound, "issue");
  CHECK(m.tensor_tflops == 0);
  /* warpgroup MMAs at sm_90a's wgmma rate (4096 16-bit, 8192 8-bit operations a clock an SM at
   * 1.83 GHz on 132 SMs), the rest at its mma.sync rate (2731, 5461); on sm_80, which has no wgmma
   * rate, all of it at mma.sync's */
  {
    const double h = 1.83e9;
    kiln_model_work g = {.blocks = 132,
                         .mma_ops16 = 132.0 * (4096 * 1000 + 2731 * 500),
                         .wgmma_ops16 = 132.0 * 4096 * 1000,
                         .mma_ops8 = 132.0 * 8192 * 300,
                         .wgmma_ops8 = 132.0 * 8192 * 300};
    CHECK(kiln_model_compute(s, "sm_90a", &g, &m) == KILN_OK, "%s", kiln_error(s));
    CHECK(near(m.tensor_s, 1800 / h), "sm_90a wgmma: %g s, want %g", m.tensor_s, 1800 / h);
    kiln_model_work a = g;
    a.wgmma_ops16 = a.wgmma_ops8 = 0; /* the same work on mma.sync */
    CHECK(kiln_model_compute(s, "sm_90a", &a, &m) == KILN_OK);
    CHECK(near(m.tensor_s, (g.mma_ops16 / 2731 + g.mma_ops8 / 5461) / 132 / h), "sm_90a mma.sync: %g s",
          m.tensor_s);
    kiln_model_work b = {.blocks = 108, .mma_ops16 = 108.0 * 2048 * 1000, .wgmma_ops16 = 108.0 * 2048 * 1000};
    CHECK(kiln_model_compute(s, "sm_80", &b, &m) == KILN_OK && near(m.tensor_s, 1000 / hz), "sm_80: %g",
          m.tensor_s);
    b.wgmma_ops16 = 2 * b.mma_ops16; /* more wgmma operations than operations */
    CHECK(kiln_model_compute(s, "sm_80", &b, &m) == KILN_ERR_USAGE);
    CHECK_CONTAINS(kiln_error(s), "are part of the mma operations");
  }
  /* errors */
  kiln_model_work bad = w;
  bad.blocks = 0;
  CHECK(kiln_model_compute(s, "sm_80", &bad, &m) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(s), "at least 1 block");
  bad = w, bad.smem_wavefronts = -1;
  CHECK(kiln_model_compute(s, "sm_80", &bad, &m) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(s), "negative or not finite");
  bad = w, bad.dram_bytes = NAN;
  CHECK(kiln_model_compute(s, "sm_80", &bad, &m) == KILN_ERR_USAGE);
  bad = w, bad.blocks_per_sm = -2;
  CHECK(kiln_model_compute(s, "sm_80", &bad, &m) == KILN_ERR_USAGE);
  CHECK(kiln_model_compute(s, "sm_81", &w, &m) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(s), "unknown target 'sm_81'");
  CHECK(kiln_model_compute(s, "sm_75", &w, &m) == KILN_ERR_USAGE); /* no b1 mma on sm_75 */
  CHECK_CONTAINS(kiln_error(s), "no rate for the kernel's mma inputs");
  CHECK(kiln_model_compute(NULL, "sm_80", &w, &m) == KILN_ERR_USAGE);
  kiln_session_free(s);
}

/* matmul at M = N = K = 256 with 64 x 64 tiles: 16 programs, each the whole K: 2 * 256^3 16-bit
 * operations, A, B read and C written once (3 x 256 x 256 f16) and the one-element bias placeholder
 * read. 16 programs on 108 SMs: one each, the tensor bound is one program's 2 * 64 * 64 * 256. */
static void test_estimate(void) {
  setenv("KILN_PTXAS", "/nonexistent/ptxas", 1);
  kiln_session *s = kiln_session_new();
  kiln_recipe *r = NULL;
  CHECK(kiln_recipe_load(s, "recipes/matmul.lua", &r) == KILN_OK, "%s", kiln_error(s));
  CHECK(kiln_recipe_set(r, "BLOCK_M=64") == KILN_OK && kiln_recipe_set(r, "BLOCK_N=64") == KILN_OK &&
        kiln_recipe_set(r, "warps=4") == KILN_OK);
  kiln_model_opts o = {.target = "sm_80", .samples = 3};
  kiln_model_work w;
  kiln_model_result m;
  CHECK(kiln_model_estimate(r, &o, &w, &m) == KILN_OK, "%s", kiln_error(s));
  CHECK(w.blocks == 16 && w.mma_ops16 == 2.0 * 256 * 256 * 256 && w.mma_ops8 == 0 && w.mma_ops1 == 0,
        "%g blocks %g ops", w.blocks, w.mma_ops16);
  CHECK(w.dram_bytes == 3.0 * 256 * 256 * 2 + 2, "%g", w.dram_bytes);
  CHECK(w.smem_wavefronts > 0 && w.blocks_per_sm == 0 && w.warp_instructions == 0);
  CHECK(m.time_s > 0 && near(m.tensor_s, 2.0 * 64 * 64 * 256 / 2048 / 1.41e9));
  CHECK_CONTAINS(m.assumptions, "occupancy unknown");
  /* one sample, and every program: the same work (the programs of a GEMM are alike) */
  o.samples = 1;
  kiln_model_work w1;
  CHECK(kiln_model_estimate(r, &o, &w1, &m) == KILN_OK);
  CHECK(w1.mma_ops16 == w.mma_ops16 && w1.smem_wavefronts == w.smem_wavefronts);
  o.samples = 16;
  CHECK(kiln_model_estimate(r, &o, &w1, &m) == KILN_OK);
  CHECK(w1.mma_ops16 == w.mma_ops16 && w1.smem_wavefronts == w.smem_wavefronts);
  /* errors */
  o.samples = -1;
  CHECK(kiln_model_estimate(r, &o, &w1, &m) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(s), "samples");
  o.samples = 0, o.target = "sm_7";
  CHECK(kiln_model_estimate(r, &o, &w1, &m) == KILN_ERR_USAGE);
  CHECK(kiln_model_estimate(r, NULL, &w1, &m) == KILN_ERR_USAGE);
  o.target = "sm_75"; /* bf16 is refused by codegen on sm_75 at the k.dot line */
  CHECK(kiln_recipe_set(r, "dtype=bf16") == KILN_OK);
  CHECK(kiln_model_estimate(r, &o, &w1, &m) == KILN_ERR_COMPILE);
  CHECK_CONTAINS(kiln_error(s), "matmul.lua:");
  kiln_recipe_free(r);
  kiln_recipe *ir = NULL;
  CHECK(kiln_recipe_load(s, "tests/sim/prof_gmem.ir", &ir) == KILN_OK, "%s", kiln_error(s));
  o.target = "sm_80";
  CHECK(kiln_model_estimate(ir, &o, &w1, &m) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(s), "an IR file has no arguments");
  kiln_recipe_free(ir);
  kiln_session_free(s);
}

/* kiln_model_static against the simulated count (every program simulated) on matmul tiles and warp
 * grids: the tensor operations equal exactly; the shared-memory wavefronts, counted free of bank
 * conflicts, at most the simulated ones and at least a quarter of them (the epilogue's layout
 * conversion has conflicts at these shapes); the shared memory planned; an IR file refused. */
static void test_static(void) {
  setenv("KILN_PTXAS", "/nonexistent/ptxas", 1);
  static const char *const cases[][6] = {
      {"BLOCK_M=64", "BLOCK_N=64", "BLOCK_K=32", "warps=4", "stages=3", "dtype=f16"},
      {"BLOCK_M=128", "BLOCK_N=32", "BLOCK_K=16", "warps=2", "stages=2", "dtype=f16"},
      {"BLOCK_M=32", "BLOCK_N=128", "BLOCK_K=64", "warps=8", "stages=1", "dtype=bf16"},
      {"BLOCK_M=64", "BLOCK_N=32", "BLOCK_K=64", "warps=1", "stages=4", "dtype=f16"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    kiln_session *s = kiln_session_new();
    kiln_recipe *r = NULL;
    CHECK(kiln_recipe_load(s, "recipes/matmul.lua", &r) == KILN_OK, "%s", kiln_error(s));
    CHECK(kiln_recipe_set(r, "M=128") == KILN_OK && kiln_recipe_set(r, "N=128") == KILN_OK &&
          kiln_recipe_set(r, "K=128") == KILN_OK && kiln_recipe_set(r, "out=f16") == KILN_OK);
    for (int i = 0; i < 6; i++) CHECK(kiln_recipe_set(r, cases[c][i]) == KILN_OK, "%s", kiln_error(s));
    kiln_model_opts o = {.target = "sm_80", .samples = 4096};
    kiln_model_work sim, st;
    kiln_model_result ms, mt;
    int smem = -1;
    CHECK(kiln_model_estimate(r, &o, &sim, &ms) == KILN_OK, "%s", kiln_error(s));
    CHECK(kiln_model_static(r, "sm_80", NULL, &st, &smem, &mt) == KILN_OK, "%s", kiln_error(s));
    CHECK(mt.bound != NULL, "case %zu: %s", c, mt.assumptions);
    CHECK(st.blocks == sim.blocks && st.dram_bytes == sim.dram_bytes, "case %zu", c);
    CHECK(st.mma_ops16 == sim.mma_ops16 && st.mma_ops16 == 2.0 * 128 * 128 * 128, "case %zu: %g vs %g", c,
          st.mma_ops16, sim.mma_ops16);
    CHECK(st.smem_wavefronts <= sim.smem_wavefronts && st.smem_wavefronts >= 0.25 * sim.smem_wavefronts,
          "case %zu: %g wavefronts counted, %g simulated", c, st.smem_wavefronts, sim.smem_wavefronts);
    CHECK(smem > 0 && st.warp_instructions == 0, "case %zu: %d", c, smem);
    kiln_recipe_free(r);
    kiln_session_free(s);
  }
  /* The issue count at the loop's mix: an mma.sync loop (32 HMMA in 90 instructions) issues 90/32
   * per m16n8k16 of the work; a loop with warpgroup MMAs (2 HGMMA.64x128x16, 32 units of work, in
   * 68 instructions), 68/32 per unit: each warp issues each HGMMA once, not once per unit. */
  {
    kiln_session *s = kiln_session_new();
    kiln_recipe *r = NULL;
    CHECK(kiln_recipe_load(s, "recipes/matmul.lua", &r) == KILN_OK, "%s", kiln_error(s));
    CHECK(kiln_recipe_set(r, "M=128") == KILN_OK && kiln_recipe_set(r, "N=128") == KILN_OK &&
          kiln_recipe_set(r, "K=128") == KILN_OK);
    kiln_sass_loop sync = {.found = 1, .instructions = 90, .mma_units = 32, .non_mma_per_mma = 58.0 / 32};
    sync.by_class[KILN_SASS_MMA] = 32;
    kiln_sass_loop wg = {.found = 1, .instructions = 68, .mma_units = 32, .non_mma_per_mma = 33};
    wg.by_class[KILN_SASS_MMA] = 2;
    double units = 2.0 * 128 * 128 * 128 / 4096;
    kiln_model_work w;
    kiln_model_result m;
    CHECK(kiln_model_static(r, "sm_90a", &sync, &w, NULL, &m) == KILN_OK, "%s", kiln_error(s));
    CHECK(fabs(w.warp_instructions - units * 90 / 32) < 1e-6, "mma.sync loop: %g", w.warp_instructions);
    CHECK(kiln_model_static(r, "sm_90a", &wg, &w, NULL, &m) == KILN_OK, "%s", kiln_error(s));
    CHECK(fabs(w.warp_instructions - units * 68 / 32) < 1e-6, "wgmma loop: %g", w.warp_instructions);
    kiln_recipe_free(r);
    kiln_session_free(s);
  }
  /* sm_90a: the simulated and the static count agree on the part done by wgmma (all of it at the
   * defaults, none with mma = mma_sync), and the wgmma rate makes the tensor bound 2/3 of mma.sync's */
  for (int sync = 0; sync < 2; sync++) {
    kiln_session *s = kiln_session_new();
    kiln_recipe *r = NULL;
    CHECK(kiln_recipe_load(s, "recipes/matmul.lua", &r) == KILN_OK, "%s", kiln_error(s));
    CHECK(kiln_recipe_set(r, "M=256") == KILN_OK && kiln_recipe_set(r, "N=256") == KILN_OK &&
          kiln_recipe_set(r, "K=128") == KILN_OK);
    if (sync) CHECK(kiln_recipe_set(r, "mma=mma_sync") == KILN_OK);
    kiln_model_opts o = {.target = "sm_90a", .samples = 4096};
    kiln_model_work sim, st;
    kiln_model_result ms, mt;
    CHECK(kiln_model_estimate(r, &o, &sim, &ms) == KILN_OK, "%s", kiln_error(s));
    CHECK(kiln_model_static(r, "sm_90a", NULL, &st, NULL, &mt) == KILN_OK, "%s", kiln_error(s));
    double ops = 2.0 * 256 * 256 * 128, want = sync ? 0 : ops;
    CHECK(sim.mma_ops16 == ops && st.mma_ops16 == ops && sim.wgmma_ops16 == want && st.wgmma_ops16 == want,
          "sm_90a %s: simulated %g (%g by wgmma), static %g (%g)", sync ? "mma.sync" : "wgmma", sim.mma_ops16,
          sim.wgmma_ops16, st.mma_ops16, st.wgmma_ops16);
    CHECK(near(mt.tensor_s, ops / (sync ? 2731.0 : 4096.0) / 132 / 1.83e9 * (132.0 / 4)),
          "sm_90a %s: tensor %g s", sync ? "mma.sync" : "wgmma", mt.tensor_s);
    kiln_recipe_free(r);
    kiln_session_free(s);
  }
  /* Dots that issue more than their useful work, and programs whose loops run fewer trips than the
   * first's: the static count is the simulated one (every program simulated), exactly. fftconv at
   * N1 = 8 ([8, N2] products: each m16n8 instruction's rows 8-15 repeat 0-7), fftconv4 (rows of 2 and
   * 4, K of 4 staged and padded to one K tile), bitgemm (b1_and: u32 words of 32 bits, m16n8k256),
   * attention_decode at 32 splits of 300 keys (the splits past the tenth have no key tile), matmul
   * tiles narrower than a warp grid's (warps repeating the grid's), e4m3 on sm_89, and a warp-specialised
   * kernel (its dots in the consumers' region of the warp_split). */
  static const char *const exact[][6] = {
      {"sm_80", "recipes/fftconv.lua", "N1=8"},
      {"sm_80", "recipes/fftconv4.lua"},
      {"sm_80", "recipes/bitgemm.lua"},
      {"sm_90a", "recipes/attention_decode.lua", "SPLITS=32"},
      {"sm_80", "recipes/matmul.lua", "BLOCK_N=16", "warps=8"},
      {"sm_89", "recipes/attention.lua", "dtype=e4m3"},
      {"sm_90a", "recipes/attention.lua", "BLOCK_N=64", "stages=3", "tma=1", "ws=1"},
  };
  for (size_t c = 0; c < sizeof exact / sizeof exact[0]; c++) {
    kiln_session *s = kiln_session_new();
    kiln_recipe *r = NULL;
    CHECK(kiln_recipe_load(s, exact[c][1], &r) == KILN_OK, "%s", kiln_error(s));
    for (int i = 2; i < 6 && exact[c][i]; i++)
      CHECK(kiln_recipe_set(r, exact[c][i]) == KILN_OK, "%s", kiln_error(s));
    kiln_model_opts o = {.target = exact[c][0], .samples = 4096};
    kiln_model_work sim, st;
    kiln_model_result ms, mt;
    CHECK(kiln_model_estimate(r, &o, &sim, &ms) == KILN_OK, "%s", kiln_error(s));
    CHECK(kiln_model_static(r, exact[c][0], NULL, &st, NULL, &mt) == KILN_OK, "%s", kiln_error(s));
    CHECK(mt.bound != NULL, "%s: %s", exact[c][1], mt.assumptions);
    CHECK(sim.mma_ops16 + sim.mma_ops8 + sim.mma_ops1 > 0, "%s: no tensor work simulated", exact[c][1]);
    CHECK(st.mma_ops16 == sim.mma_ops16 && st.mma_ops8 == sim.mma_ops8 && st.mma_ops1 == sim.mma_ops1 &&
              st.wgmma_ops16 == sim.wgmma_ops16 && st.wgmma_ops8 == sim.wgmma_ops8,
          "%s %s %s: simulated %g %g %g (wgmma %g %g), static %g %g %g (wgmma %g %g)", exact[c][0],
          exact[c][1], exact[c][2] ? exact[c][2] : "", sim.mma_ops16, sim.mma_ops8, sim.mma_ops1,
          sim.wgmma_ops16, sim.wgmma_ops8, st.mma_ops16, st.mma_ops8, st.mma_ops1, st.wgmma_ops16,
          st.wgmma_ops8);
    kiln_recipe_free(r);
    kiln_session_free(s);
  }
  /* The shared-memory traffic of lowerings that go through scratch (a dot staged for the tensor cores,
   * a dot on FMAs, a reduction across warps) and of warpgroup dots (their operands read by the tensor
   * cores, no load of their own): counted within a factor of 1.5 of the simulated wavefronts (conflicts
   * and partial requests aside). fftconv4's padded [4, 4] products, fftconv3_kspec's f32 products on
   * FMAs, softmax's row reductions over 4 warps, matmul's wgmma on sm_90a; and within a factor of 2
   * kernels whose few small conversions make requests of less than a wavefront each (bitpack_act,
   * attention_decode_combine: a request a wavefront at least). */
  static const struct {
    const char *target, *recipe;
    double factor;
  } traffic[] = {
      {"sm_80", "recipes/fftconv4.lua", 1.5},  {"sm_80", "recipes/fftconv3_kspec.lua", 1.5},
      {"sm_80", "recipes/softmax.lua", 1.5},   {"sm_90a", "recipes/matmul.lua", 1.5},
      {"sm_80", "recipes/bitpack_act.lua", 2}, {"sm_80", "recipes/attention_decode_combine.lua", 2}};
  for (size_t c = 0; c < sizeof traffic / sizeof *traffic; c++) {
    kiln_session *s = kiln_session_new();
    kiln_recipe *r = NULL;
    CHECK(kiln_recipe_load(s, traffic[c].recipe, &r) == KILN_OK, "%s", kiln_error(s));
    kiln_model_opts o = {.target = traffic[c].target, .samples = 4096};
    kiln_model_work sim, st;
    kiln_model_result ms, mt;
    CHECK(kiln_model_estimate(r, &o, &sim, &ms) == KILN_OK, "%s", kiln_error(s));
    CHECK(kiln_model_static(r, traffic[c].target, NULL, &st, NULL, &mt) == KILN_OK, "%s", kiln_error(s));
    CHECK(sim.smem_wavefronts > 0 && st.smem_wavefronts >= sim.smem_wavefronts / traffic[c].factor &&
              st.smem_wavefronts <= sim.smem_wavefronts * traffic[c].factor,
          "%s %s: %g wavefronts counted, %g simulated", traffic[c].target, traffic[c].recipe,
          st.smem_wavefronts, sim.smem_wavefronts);
    kiln_recipe_free(r);
    kiln_session_free(s);
  }
  kiln_session *s = kiln_session_new();
  kiln_recipe *ir = NULL;
  kiln_model_result m;
  CHECK(kiln_recipe_load(s, "tests/sim/prof_gmem.ir", &ir) == KILN_OK, "%s", kiln_error(s));
  CHECK(kiln_model_static(ir, "sm_80", NULL, NULL, NULL, &m) == KILN_ERR_USAGE);
  CHECK(strstr(kiln_error(s), "an IR file has no arguments") != NULL, "%s", kiln_error(s));
  kiln_recipe_free(ir);
  kiln_session_free(s);
}

int main(void) {
  test_compute();
  test_estimate();
  test_static();
  return test_done("test_model");
}
