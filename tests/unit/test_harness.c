/*
 * test_harness.c - the host helpers behind `kiln run`: random fill, poison, comparison and the
 * target pick. (The narrow float conversions they use are ir/elem_float.h's: test_elem_float.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/api/harness.h"
#include "ir/elem_float.h"
#include "test.h"

/* ---- fill and poison ---- */

static const ir_elem all_elems[] = {IR_I1,  IR_I8,   IR_U8,  IR_I16, IR_I32,  IR_U32, IR_I64,
                                    IR_F16, IR_BF16, IR_F32, IR_F64, IR_E4M3, IR_E5M2};
enum { NELEMS = sizeof all_elems / sizeof all_elems[0], N = 4096 };

static void test_fill(harness_rng *r) {
  static unsigned char a[N * 8], b[N * 8];
  for (int k = 0; k < NELEMS; k++) {
    ir_elem e = all_elems[k];
    harness_fill(a, e, N, r);
    harness_fill(b, e, N, r);
    CHECK(memcmp(a, b, N * harness_elem_size(e)) != 0); /* fresh values each call */
    double lo = INFINITY, hi = -INFINITY;
    int unrepresentable = 0;
    for (size_t i = 0; i < N; i++) {
      double v = harness_get(a, e, i);
      lo = fmin(lo, v), hi = fmax(hi, v);
      unrepresentable += harness_round(e, v) != v;
    }
    CHECK(unrepresentable == 0);
    switch (e) {
    case IR_I1: CHECK(lo == 0 && hi == 1); break;
    case IR_I8: CHECK(lo == -8 && hi == 8); break;
    case IR_U8: CHECK(lo == 0 && hi == 15); break;
    case IR_I16:
    case IR_I32:
    case IR_I64: CHECK(lo == -64 && hi == 64); break;
    case IR_U32: CHECK(lo >= 0 && hi >= 0x1p31); break; /* the top bit is used */
    default: CHECK(lo >= -1 && hi <= 1 && lo < -0.9 && hi > 0.9); break;
    }
  }
  harness_rng s1, s2; /* a seed reproduces its values */
  harness_seed(&s1, 42), harness_seed(&s2, 42);
  harness_fill(a, IR_F32, 64, &s1), harness_fill(b, IR_F32, 64, &s2);
  CHECK(memcmp(a, b, 64 * 4) == 0);
}

static void test_poison(void) {
  unsigned char buf[64 * 8];
  for (int k = 0; k < NELEMS; k++) {
    ir_elem e = all_elems[k];
    memset(buf, 0, sizeof buf);
    harness_poison(buf, e, 64);
    for (size_t i = 0; i < 64; i++) {
      double v = harness_get(buf, e, i);
      if (e == IR_U8)
        CHECK(v == 255);
      else if (e == IR_U32)
        CHECK(v == 4294967295.0);
      else if (e == IR_I1)
        CHECK(v == 1);
      else if (e == IR_I8 || e == IR_I16 || e == IR_I32 || e == IR_I64)
        CHECK(v == -1);
      else
        CHECK(isnan(v));
    }
  }
}

/* ---- comparison ---- */

static void test_compare(harness_rng *r) {
  enum { M = 1000 };
  static double ref[M];
  static float got[M];
  harness_cmp c;
  for (int i = 0; i < M; i++) ref[i] = harness_uniform(r) * 3, got[i] = (float)ref[i];
  CHECK(harness_compare(got, IR_F32, ref, M, 1e-5, &c) == 0);
  CHECK(c.max_rel <= 0x1p-24 && c.nan_at == HARNESS_NONE && c.over == 0 && c.worst < M);
  got[417] = (float)(ref[417] + 1e-3 * c.floor); /* 1e-3 relative to the floor: over 1e-5 */
  CHECK(harness_compare(got, IR_F32, ref, M, 1e-5, &c) == -1);
  CHECK(c.over == 1 && c.first_over == 417 && c.worst == 417 && c.max_rel > 5e-4);
  got[417] = (float)ref[417];
  memset(&got[600], 0xff, sizeof(float)); /* poison left in place */
  CHECK(harness_compare(got, IR_F32, ref, M, 1e-5, &c) == -1 && c.nan_at == 600);
  got[600] = INFINITY;
  CHECK(harness_compare(got, IR_F32, ref, M, 1e-5, &c) == -1 && c.first_over == 600);
  got[600] = (float)ref[600];
  /* an element near zero is judged against the output's scale (rms), not against itself */
  ref[5] = 1e-9, got[5] = 2e-9f;
  CHECK(harness_compare(got, IR_F32, ref, M, 1e-5, &c) == 0);
  /* NaN where the reference has NaN too, and equal infinities, are matches */
  ref[7] = NAN, got[7] = NAN, ref[8] = INFINITY, got[8] = INFINITY;
  CHECK(harness_compare(got, IR_F32, ref, M, 1e-5, &c) == 0);
  /* integers are exact */
  int32_t ig[4] = {1, 2, 3, 4};
  double ir[4] = {1, 2, 3, 4};
  CHECK(harness_compare(ig, IR_I32, ir, 4, harness_tolerance(IR_I32), &c) == 0 && c.max_abs == 0);
  ig[2] = 4;
  CHECK(harness_compare(ig, IR_I32, ir, 4, harness_tolerance(IR_I32), &c) == -1 && c.first_over == 2);
  /* an all-zero reference: the floor falls back to the type's smallest normal */
  double zr[3] = {0, 0, 0};
  uint16_t zh[3] = {0, 0, ir_f16_from_double(0x1p-20)};
  CHECK(harness_compare(zh, IR_F16, zr, 3, harness_tolerance(IR_F16), &c) == -1 && c.floor == 0x1p-14);
  CHECK(harness_tolerance(IR_F16) > harness_tolerance(IR_F32) && harness_tolerance(IR_U32) == 0);
}

/* ---- target pick ---- */

static void test_pick_target(void) {
  struct {
    int sm;
    const char *want;
  } cases[] = {{75, "sm_75"},  {80, "sm_80"},    {86, "sm_86"},  {87, "sm_86"},    {89, "sm_89"},
               {90, "sm_90a"}, {100, "sm_100a"}, {103, "sm_89"}, {120, "sm_120a"}, {121, "sm_89"}};
  char err[256] = "";
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const tg_target *t = harness_pick_target(cases[i].sm, err, sizeof err);
    CHECK(t && !strcmp(t->name, cases[i].want));
    if (t && strcmp(t->name, cases[i].want))
      fprintf(stderr, "sm %d: %s, want %s\n", cases[i].sm, t->name, cases[i].want);
  }
  CHECK(harness_pick_target(70, err, sizeof err) == NULL);
  CHECK(strstr(err, "no target row for a device of compute capability 7.0") != NULL);
}

int main(void) {
  harness_rng r;
  harness_seed(&r, test_seed());
  test_fill(&r);
  test_poison();
  test_compare(&r);
  test_pick_target();
  return test_done("test_harness");
}
