/*
 * test_inspect.c - kiln inspect's parts (include/kiln.h):
 *   1. the occupancy arithmetic against hand-computed cases, one per binding limit and tie rule, and
 *      its argument errors;
 *      and against CUDA's own occupancy calculator: tests/inspect/occupancy_calc.txt, 4823 cases
 *      (tests/inspect/occupancy_calc.cpp, CUDA 13.0's cuda_occupancy.h);
 *   2. the SASS loop finder on tests/inspect/matmul_sm90a.sass (nvdisasm 13.5 -c of the cubin of
 *      recipes/matmul.lua's defaults for sm_90a; the counts were checked with a separate script) and
 *      on hand-written cuobjdump-style text: nested loops, hex targets, NOPs, two functions;
 *   3. kiln_inspect end to end with ptxas (skipped, said, without it), and without it (KILN_PTXAS set
 *      to a missing file): KILN_ERR_NO_TOOL naming where it looked.
 * Run from the source root (ctest does).
 */
#include "test.h"

#include "include/kiln.h"

static void occ_case(const char *target, int regs, int threads, int smem, int by_regs, int by_smem,
                     int by_threads, int by_slots, int blocks, const char *limit, int warps, int max_warps) {
  kiln_session *s = kiln_session_new();
  kiln_occupancy o;
  CHECK(kiln_occupancy_get(s, target, regs, threads, smem, &o) == KILN_OK, "%s", kiln_error(s));
  CHECK(o.by_regs == by_regs && o.by_smem == by_smem && o.by_threads == by_threads && o.by_slots == by_slots,
        "%s regs %d threads %d smem %d: by regs %d smem %d threads %d slots %d", target, regs, threads, smem,
        o.by_regs, o.by_smem, o.by_threads, o.by_slots);
  CHECK(o.blocks == blocks && o.warps == warps && o.max_warps == max_warps, "%s: %d blocks %d/%d warps",
        target, o.blocks, o.warps, o.max_warps);
  CHECK_STR(o.limit, limit);
  kiln_session_free(s);
}

static void test_occupancy(void) {
  /* 96 regs = 3072 per warp, 4 warps = 12288 per block: 65536/12288 = 5; 32768+1024 B: 233472/33792 = 6;
   * 2048/128 = 16 threads; 32 slots. */
  occ_case("sm_90a", 96, 128, 32768, 5, 6, 16, 32, 5, "registers", 20, 64);
  /* no registers, no shared memory but the 1 KB reserve (167936/1024 = 164): 2048/1024 = 2 by threads */
  occ_case("sm_80", 0, 1024, 0, 32, 164, 2, 32, 2, "threads", 64, 64);
  /* 33 regs: 1056 rounds up to 1280 per warp: 16384/1280 = 12 warps per sub-partition, 48 per SM,
   * 8 per block: 6; threads 1536/256 = 6: the tie names registers */
  occ_case("sm_86", 33, 256, 0, 6, 100, 6, 16, 6, "registers", 48, 48);
  /* sm_75: 32 regs: 16 warps per sub-partition, 64 per SM: 32 blocks of 2 warps; no reserve on sm_75:
   * shared memory does not limit (the slots are shown); threads 1024/64 = 16 ties the 16 slots */
  occ_case("sm_75", 32, 64, 0, 32, 16, 16, 16, 16, "threads", 32, 32);
  /* shared memory binds: 48 KB + 1 KB reserved on sm_89: 102400/50176 = 2 */
  occ_case("sm_89", 32, 128, 48 * 1024, 16, 2, 12, 24, 2, "shared memory", 8, 48);
  /* over the per-block limit (99 KB on sm_86): no block fits */
  occ_case("sm_86", 32, 128, 100 * 1024, 16, 0, 12, 16, 0, "shared memory", 0, 48);
  /* 255 regs: 8192 per warp: 2 warps per sub-partition, 8 per SM < 32 per block: none */
  occ_case("sm_120a", 255, 1024, 0, 0, 100, 1, 24, 0, "registers", 0, 48);
  /* many small blocks: slots bind (sm_100a: 32 slots, 2048/32 = 64 by threads, 16384/512 = 32 warps
   * per sub-partition: 128 by registers) */
  occ_case("sm_100a", 16, 32, 0, 128, 228, 64, 32, 32, "block slots", 32, 64);

  /* the sub-partitions: 120 regs = 3840 per warp, 16384/3840 = 4 warps each, 16 per SM (not
   * 65536/3840 = 17) */
  occ_case("sm_80", 120, 32, 0, 16, 164, 64, 32, 16, "registers", 16, 64);
  /* shared memory rounded up: 1000 + 1024 = 2024 -> 2048 on sm_90a (233472/2048 = 114), 1024 on sm_75
   * (65536/1024 = 64, where 1000 bytes alone would give 65) */
  occ_case("sm_90a", 32, 128, 1000, 16, 114, 16, 32, 16, "registers", 64, 64);
  occ_case("sm_75", 32, 32, 1000, 64, 64, 32, 16, 16, "block slots", 16, 32);

  kiln_session *s = kiln_session_new();
  kiln_occupancy o;
  CHECK(kiln_occupancy_get(s, "sm_99", 32, 128, 0, &o) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(s), "unknown target 'sm_99'");
  CHECK(kiln_occupancy_get(s, "sm_80", 32, 0, 0, &o) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(s), "threads per block 0 outside 1..1024 for sm_80");
  CHECK(kiln_occupancy_get(s, "sm_80", 32, 1025, 0, &o) == KILN_ERR_USAGE);
  CHECK(kiln_occupancy_get(s, "sm_80", 256, 128, 0, &o) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(s), "registers per thread 256 outside 0..255");
  CHECK(kiln_occupancy_get(s, "sm_80", -1, 128, 0, &o) == KILN_ERR_USAGE);
  CHECK(kiln_occupancy_get(s, "sm_80", 32, 128, -4, &o) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(s), "shared bytes -4 is negative");
  CHECK(kiln_occupancy_get(NULL, "sm_80", 32, 128, 0, &o) == KILN_ERR_USAGE);
  CHECK(kiln_occupancy_get(s, NULL, 32, 128, 0, &o) == KILN_OK && !kiln_error(s)[0]); /* sm_80 */
  kiln_session_free(s);
}

/* Every case of tests/inspect/occupancy_calc.txt: CUDA 13.0's occupancy calculator's blocks per SM. */
static void test_occupancy_calculator(void) {
  kiln_session *s = kiln_session_new();
  char *text = NULL;
  CHECK(kiln_read_file(s, "tests/inspect/occupancy_calc.txt", &text) == KILN_OK, "%s", kiln_error(s));
  int n = 0, bad = 0, off = 0, rg, th, sm, want;
  char t[16];
  while (text && sscanf(text + off, "%15s %d %d %d %d\n%n", t, &rg, &th, &sm, &want, &n) == 5) {
    off += n;
    kiln_occupancy o;
    CHECK(kiln_occupancy_get(s, t, rg, th, sm, &o) == KILN_OK, "%s", kiln_error(s));
    if (o.blocks != want && bad++ < 10)
      CHECK(o.blocks == want, "%s regs %d threads %d smem %d: %d blocks (%s), the calculator %d", t, rg, th,
            sm, o.blocks, o.limit, want);
    n = 0;
  }
  CHECK(text && !text[off], "occupancy_calc.txt: unread text at byte %d", off);
  int cases = 0;
  for (int i = 0; text && text[i]; i++) cases += text[i] == '\n';
  CHECK(cases > 4000, "only %d cases", cases);
  kiln_free(text);
  kiln_session_free(s);
}

static void test_sass_fixture(void) {
  kiln_session *s = kiln_session_new();
  char *text = NULL;
  CHECK(kiln_read_file(s, "tests/inspect/matmul_sm90a.sass", &text) == KILN_OK, "%s", kiln_error(s));
  kiln_sass_loop l;
  CHECK(kiln_sass_loop_find(s, text, &l) == KILN_OK, "%s", kiln_error(s));
  CHECK(l.found && l.start == 0x18b0 && l.end == 0x2d40, "loop %x..%x", l.start, l.end);
  CHECK(l.instructions == 330 && l.kernel_instructions == 1039 && l.kernel_mma == 16, "%d of %d, %d MMA",
        l.instructions, l.kernel_instructions, l.kernel_mma);
  CHECK(l.by_class[KILN_SASS_MMA] == 16 && l.by_class[KILN_SASS_SHARED_LOAD] == 14 &&
            l.by_class[KILN_SASS_SHARED_STORE] == 16 && l.by_class[KILN_SASS_GLOBAL] == 20 &&
            l.by_class[KILN_SASS_SYNC] == 4 && l.by_class[KILN_SASS_BRANCH] == 7,
        "classes");
  int sum = 0;
  for (int c = 0; c < KILN_SASS_NCLASS; c++) sum += l.by_class[c];
  CHECK(sum == l.instructions);
  CHECK(l.non_mma_per_mma == 314.0 / 16, "%g", l.non_mma_per_mma);
  CHECK(l.mma_units == 16 && l.non_mma_per_unit == l.non_mma_per_mma, "%g units", l.mma_units); /* no HGMMA */
  kiln_free(text);
  kiln_session_free(s);
}

/* cuobjdump -sass style: hex targets, no labels. An outer loop (0x0010..0x00c0) holding an MMA loop
 * (0x0020..0x0060) and a copy loop without MMA (0x0070..0x0090); NOPs after EXIT. */
static const char cuobjdump_text[] = "\tcode for sm_80\n"
                                     "\t\tFunction : k\n"
                                     "        /*0000*/                   MOV R1, c[0x0][0x28] ;\n"
                                     "        /*0010*/                   S2R R0, SR_TID.X ;\n"
                                     "        /*0020*/                   LDSM.16.M88.4 R4, [R2] ;\n"
                                     "        /*0030*/                   HMMA.16816.F32 R8, R4, R6, R8 ;\n"
                                     "        /*0040*/                   IADD3 R2, R2, 0x20, RZ ;\n"
                                     "        /*0050*/                   ISETP.GE.AND P0, PT, R2, R3, PT ;\n"
                                     "        /*0060*/              @!P0 BRA 0x20 ;\n"
                                     "        /*0070*/                   LDG.E R5, [R10.64] ;\n"
                                     "        /*0080*/                   STS [R12], R5 ;\n"
                                     "        /*0090*/               @P1 BRA 0x70 ;\n"
                                     "        /*00a0*/                   BAR.SYNC 0x0 ;\n"
                                     "        /*00b0*/                   FFMA R8, R8, R9, R8 ;\n"
                                     "        /*00c0*/               @P2 BRA 0x10 ;\n"
                                     "        /*00d0*/                   BRA 0xf0 ;\n"
                                     "        /*00e0*/                   NOP ;\n"
                                     "        /*00f0*/                   EXIT ;\n"
                                     "        /*0100*/                   NOP ;\n";

static void test_sass_handwritten(void) {
  kiln_session *s = kiln_session_new();
  kiln_sass_loop l;
  CHECK(kiln_sass_loop_find(s, cuobjdump_text, &l) == KILN_OK, "%s", kiln_error(s));
  CHECK(l.found && l.start == 0x20 && l.end == 0x60, "loop %x..%x", l.start, l.end);
  CHECK(l.instructions == 5 && l.by_class[KILN_SASS_MMA] == 1 && l.by_class[KILN_SASS_SHARED_LOAD] == 1 &&
        l.by_class[KILN_SASS_INT] == 2 && l.by_class[KILN_SASS_BRANCH] == 1);
  CHECK(l.non_mma_per_mma == 4.0 && l.kernel_instructions == 15 && l.kernel_mma == 1);

  /* Without the inner MMA loop's branch, the outer loop (0x10..0xc0) is the innermost one with MMA. */
  char *t = strdup(cuobjdump_text), *p = strstr(t, "@!P0 BRA 0x20");
  memcpy(p, "@!P0 BRA 0xd0", 13); /* forward now */
  CHECK(kiln_sass_loop_find(s, t, &l) == KILN_OK && l.found && l.start == 0x10 && l.end == 0xc0,
        "loop %x..%x", l.start, l.end);
  CHECK(l.instructions == 12 && l.by_class[KILN_SASS_GLOBAL] == 1 &&
        l.by_class[KILN_SASS_SHARED_STORE] == 1 && l.by_class[KILN_SASS_SYNC] == 1 &&
        l.by_class[KILN_SASS_FLOAT] == 1 && l.by_class[KILN_SASS_OTHER] == 1);
  free(t);

  /* A cold path laid out after the loop that branches back into its middle (0xc0 -> 0x60) is no loop:
   * its region (0x60..0xc0, shorter) holds the MMA and the loop's latch, not the loop's head. */
  const char *cold =
      "        /*0000*/                   MOV R1, c[0x0][0x28] ;\n"
      "        /*0010*/                   IADD3 R2, R2, 0x1, RZ ;\n"
      "        /*0020*/              @!P1 BRA 0xb0 ;\n"
      "        /*0030*/                   LDGSTS.E.BYPASS.128 [R3], desc[UR4][R4.64] ;\n"
      "        /*0040*/                   LDGSTS.E.BYPASS.128 [R3+0x800], desc[UR4][R4.64+0x40] ;\n"
      "        /*0050*/                   IADD3 R3, R3, 0x1000, RZ ;\n"
      "        /*0060*/                   HMMA.16816.F32 R8, R4, R6, R8 ;\n"
      "        /*0070*/                   ISETP.GE.AND P0, PT, R2, R5, PT ;\n"
      "        /*0080*/              @!P0 BRA 0x10 ;\n"
      "        /*0090*/                   EXIT ;\n"
      "        /*00a0*/                   BRA 0xa0 ;\n"
      "        /*00b0*/                   LDGSTS.E.BYPASS.64 [R3], desc[UR4][R4.64] ;\n"
      "        /*00c0*/                   BRA 0x60 ;\n";
  CHECK(kiln_sass_loop_find(s, cold, &l) == KILN_OK && l.found && l.start == 0x10 && l.end == 0x80,
        "loop %x..%x", l.start, l.end);
  CHECK(l.instructions == 8 && l.by_class[KILN_SASS_MMA] == 1, "%d instructions", l.instructions);

  /* No MMA: no loop found, still KILN_OK. */
  const char *no_mma = "        /*0000*/                   IADD3 R2, R2, 0x1, RZ ;\n"
                       "        /*0010*/               @P0 BRA 0x0 ;\n"
                       "        /*0020*/                   EXIT ;\n";
  CHECK(kiln_sass_loop_find(s, no_mma, &l) == KILN_OK && !l.found && l.kernel_instructions == 3);

  /* nvdisasm style, two functions with the same label: each branch goes to its own function's. */
  const char *two = "\t.section\t.text.a,\"ax\",@progbits\n"
                    ".L_x_0:\n"
                    "        /*0000*/                   HMMA.16816.F32 R8, R4, R6, R8 ;\n"
                    "        /*0010*/               @P0 BRA `(.L_x_0) ;\n"
                    "\t.section\t.text.b,\"ax\",@progbits\n"
                    "        /*0000*/                   MOV R1, R2 ;\n"
                    "        /*0010*/                   HMMA.16816.F32 R8, R4, R6, R8 ;\n"
                    "        /*0020*/                   IMAD R3, R3, R3, RZ ;\n"
                    ".L_x_0:\n"
                    "        /*0030*/                   FADD R3, R3, R3 ;\n"
                    "        /*0040*/               @P0 BRA `(.L_x_0) ;\n";
  CHECK(kiln_sass_loop_find(s, two, &l) == KILN_OK && l.found && l.start == 0 && l.end == 0x10 &&
            l.instructions == 2 && l.non_mma_per_mma == 1.0,
        "loop %x..%x %d", l.start, l.end, l.instructions);

  /* Warpgroup MMAs count N/8 units of work each (each warp's share in m16n8 instructions), mma.sync's
   * one: 2 HGMMA .64x128 + 1 QGMMA .64x64 (fp8, K 32) + 1 HMMA = 16 + 16 + 8 + 1 units. */
  const char *wg = ".L_x_3:\n"
                   "        /*0000*/                   WARPGROUP.ARRIVE ;\n"
                   "        /*0010*/                   HGMMA.64x128x16.F32 R24, gdesc[UR4], R24 ;\n"
                   "        /*0020*/                   HGMMA.64x128x16.F32 R24, gdesc[UR8], R24, gsb0 ;\n"
                   "        /*0030*/                   QGMMA.64x64x32.F32.E4M3.E4M3 R88, gdesc[UR12], R88 ;\n"
                   "        /*0040*/                   HMMA.16816.F32 R8, R4, R6, R8 ;\n"
                   "        /*0050*/                   IADD3 R2, R2, 0x20, RZ ;\n"
                   "        /*0060*/               @P0 BRA `(.L_x_3) ;\n";
  CHECK(kiln_sass_loop_find(s, wg, &l) == KILN_OK && l.found && l.instructions == 7 &&
            l.by_class[KILN_SASS_MMA] == 4 && l.mma_units == 41 && l.non_mma_per_mma == 0.75 &&
            l.non_mma_per_unit == 3.0 / 41,
        "%d instructions, %g units, %g per unit", l.instructions, l.mma_units, l.non_mma_per_unit);

  /* A block only an elected lane runs (bulk copies): skipped by a forward branch followed by ELECT;
   * a forward branch with no ELECT after it (a mask) skips nothing for this count. 12 instructions,
   * 1 MMA of 16 units, 4 of them elected (ELECT, the branch, the copy, the move; not the NOP). */
  const char *el = ".L_x_9:\n"
                   "        /*0000*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4], R5 ;\n"
                   "        /*0010*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;\n"
                   "        /*0020*/               @P1 BRA `(.L_x_11) ;\n"
                   "        /*0030*/                   ELECT P2, URZ, PT ;\n"
                   "        /*0040*/              @!P2 BRA `(.L_x_11) ;\n"
                   "        /*0050*/                   UTMALDG.2D [UR8], [UR12] ;\n"
                   "        /*0060*/                   UMOV UR9, UR10 ;\n"
                   "        /*0070*/                   NOP ;\n"
                   ".L_x_11:\n"
                   "        /*0080*/               @P3 BRA `(.L_x_12) ;\n"
                   "        /*0090*/                   IADD3 R2, R2, 0x1, RZ ;\n"
                   ".L_x_12:\n"
                   "        /*00a0*/                   HGMMA.64x128x16.F32 R24, gdesc[UR16], R24, gsb0 ;\n"
                   "        /*00b0*/                   IADD3 R3, R3, 0x1, RZ ;\n"
                   "        /*00c0*/               @P0 BRA `(.L_x_9) ;\n";
  CHECK(kiln_sass_loop_find(s, el, &l) == KILN_OK && l.found && l.instructions == 12 && l.mma_units == 16 &&
            l.elected == 4 && l.non_mma_per_unit == 11.0 / 16 && l.others_per_unit == 7.0 / 16,
        "%d instructions, %d elected, %g and %g per unit", l.instructions, l.elected, l.non_mma_per_unit,
        l.others_per_unit);
  CHECK(kiln_sass_loop_find(s, wg, &l) == KILN_OK && l.elected == 0 &&
        l.others_per_unit == l.non_mma_per_unit);

  /* Errors. */
  CHECK(kiln_sass_loop_find(s, "no instructions here\n", &l) == KILN_ERR_INPUT);
  CHECK_CONTAINS(kiln_error(s), "no SASS instructions");
  CHECK(kiln_sass_loop_find(s, NULL, &l) == KILN_ERR_USAGE);
  CHECK(kiln_sass_loop_find(NULL, "", &l) == KILN_ERR_USAGE);
  CHECK_STR(kiln_sass_class_name(KILN_SASS_MMA), "mma");
  CHECK_STR(kiln_sass_class_name(KILN_SASS_OTHER), "other");
  CHECK(kiln_sass_class_name(KILN_SASS_NCLASS) == NULL && kiln_sass_class_name(-1) == NULL);
  kiln_session_free(s);
}

static void test_inspect_ptxas(void) {
  kiln_session *s = kiln_session_new();
  kiln_recipe *r = NULL;
  CHECK(kiln_recipe_load(s, "recipes/matmul.lua", &r) == KILN_OK, "%s", kiln_error(s));
  kiln_inspect_opts io = {.target = "sm_90a", .no_sass = 1};
  kiln_inspect_result res;
  /* No ptxas: first, before driver.c remembers the one it finds. */
  setenv("KILN_PTXAS", "/nonexistent/ptxas", 1);
  CHECK(kiln_inspect(r, &io, &res) == KILN_ERR_NO_TOOL);
  CHECK_CONTAINS(kiln_error(s), "ptxas not found (looked in KILN_PTXAS=/nonexistent/ptxas");
  unsetenv("KILN_PTXAS");
  io.target = "sm_12";
  CHECK(kiln_inspect(r, &io, &res) == KILN_ERR_USAGE);
  CHECK(kiln_inspect(r, NULL, &res) == KILN_ERR_USAGE);
  CHECK(kiln_inspect(NULL, &io, &res) == KILN_ERR_USAGE);
  io.target = "sm_90a";
  kiln_status st = kiln_inspect(r, &io, &res);
  if (st == KILN_ERR_NO_TOOL) {
    printf("skip: kiln_inspect with ptxas: %s\n", kiln_error(s));
  } else {
    CHECK(st == KILN_OK, "%s", kiln_error(s));
    CHECK_STR(res.kernel, "matmul");
    /* matmul's defaults on sm_90a: 128x128x64 (BLOCK_K follows the target), 8 warps, 3 stages of
     * 32 KB (the epilogue's scratch over them) */
    CHECK(res.threads == 256 && res.dynamic_shared_bytes == 98304, "%d threads %d B", res.threads,
          res.dynamic_shared_bytes);
    CHECK(res.registers > 0 && res.registers <= 255 && res.spill_store_bytes == 0 &&
          res.spill_load_bytes == 0);
    CHECK_CONTAINS(res.ptxas_report, "Used ");
    CHECK(!res.have_sass);
    CHECK_STR(res.sass_tool, "not asked for");
    kiln_occupancy o;
    CHECK(kiln_occupancy_get(s, "sm_90a", res.registers, 256, res.static_shared_bytes + 98304, &o) ==
          KILN_OK);
    CHECK(o.blocks == res.occ.blocks && o.by_regs == res.occ.by_regs && !strcmp(o.limit, res.occ.limit));
    CHECK(res.regs_per_sm == 65536 && res.smem_per_sm == 228 * 1024 && res.max_blocks_per_sm == 32);
    /* a broken setting is the recipe's error */
    CHECK(kiln_recipe_set(r, "dtype=bf16") == KILN_OK);
    io.target = "sm_75";
    CHECK(kiln_inspect(r, &io, &res) == KILN_ERR_INPUT || kiln_inspect(r, &io, &res) == KILN_ERR_COMPILE);
    CHECK_CONTAINS(kiln_error(s), "sm_75");
  }
  kiln_recipe_free(r);
  kiln_session_free(s);
}

int main(void) {
  test_occupancy();
  test_occupancy_calculator();
  test_sass_fixture();
  test_sass_handwritten();
  test_inspect_ptxas();
  return test_done("test_inspect");
}
