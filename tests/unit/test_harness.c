/*
 * test_harness.c - the host helpers behind `kiln run`: narrow float conversions (known values,
 * every code round-tripping, random doubles against a brute-force nearest-value oracle and, where
 * the compiler has _Float16, against it), random fill, poison, comparison and the target pick.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/api/harness.h"
#include "test.h"

/* ---- conversions ---- */

typedef struct {
  const char *name;
  unsigned bits;     /* code width */
  unsigned max_code; /* largest finite positive code */
  int saturate;      /* overflow to max_code (else to infinity) */
  unsigned inf_code; /* infinity's code when not saturating */
  unsigned (*enc)(double);
  double (*dec)(unsigned);
} format;

static unsigned enc_f16(double v) { return harness_f16_bits(v); }
static double dec_f16(unsigned b) { return harness_f16_value((uint16_t)b); }
static unsigned enc_bf16(double v) { return harness_bf16_bits(v); }
static double dec_bf16(unsigned b) { return harness_bf16_value((uint16_t)b); }
static unsigned enc_e4m3(double v) { return harness_e4m3_bits(v); }
static double dec_e4m3(unsigned b) { return harness_e4m3_value((uint8_t)b); }
static unsigned enc_e5m2(double v) { return harness_e5m2_bits(v); }
static double dec_e5m2(unsigned b) { return harness_e5m2_value((uint8_t)b); }

static const format formats[] = {
    {"f16", 16, 0x7bff, 0, 0x7c00, enc_f16, dec_f16},
    {"bf16", 16, 0x7f7f, 0, 0x7f80, enc_bf16, dec_bf16},
    {"e4m3", 8, 0x7e, 1, 0, enc_e4m3, dec_e4m3},
    {"e5m2", 8, 0x7b, 1, 0, enc_e5m2, dec_e5m2},
};

static void test_known_values(void) {
  CHECK(harness_f16_bits(1.0) == 0x3c00 && harness_f16_bits(-2.0) == 0xc000);
  CHECK(harness_f16_bits(65504) == 0x7bff && harness_f16_bits(65519) == 0x7bff);
  CHECK(harness_f16_bits(65520) == 0x7c00); /* the midpoint to 2^16 rounds to even: infinity */
  CHECK(harness_f16_bits(0x1p-24) == 0x0001 && harness_f16_bits(0x1p-25) == 0x0000);
  CHECK(harness_f16_bits(0x1.8p-25) == 0x0001);
  CHECK(harness_f16_bits(1 + 0x1p-11) == 0x3c00 && harness_f16_bits(1 + 0x1.8p-10) == 0x3c02);
  CHECK(harness_f16_bits(0x1.ffcp-15) == 0x0400); /* the largest subnormal's carry into the smallest normal */
  CHECK(harness_f16_bits(-0.0) == 0x8000 && isnan(harness_f16_value(harness_f16_bits(NAN))));
  CHECK(harness_f16_value(0x7c00) == INFINITY && harness_f16_value(0xfc00) == -INFINITY);
  CHECK(harness_bf16_bits(1.0) == 0x3f80 && harness_bf16_bits(1 + 0x1p-8) == 0x3f80);
  CHECK(harness_bf16_bits(1 + 0x1.8p-7) == 0x3f82 && harness_bf16_bits(1e39) == 0x7f80);
  CHECK(harness_bf16_value(0x4049) == 3.140625);
  CHECK(harness_e4m3_bits(1.0) == 0x38 && harness_e4m3_bits(448) == 0x7e && harness_e4m3_bits(464) == 0x7e);
  CHECK(harness_e4m3_bits(1000) == 0x7e && harness_e4m3_bits(-1000) == 0xfe &&
        harness_e4m3_bits(INFINITY) == 0x7e);
  CHECK(harness_e4m3_bits(0x1p-9) == 0x01 && harness_e4m3_value(0x7e) == 448);
  CHECK(isnan(harness_e4m3_value(0x7f)) && isnan(harness_e4m3_value(0xff)) && harness_e4m3_bits(NAN) == 0x7f);
  CHECK(harness_e5m2_bits(1.0) == 0x3c && harness_e5m2_bits(57344) == 0x7b && harness_e5m2_bits(1e6) == 0x7b);
  CHECK(harness_e5m2_value(0x7c) == INFINITY && isnan(harness_e5m2_value(0x7d)));
  CHECK(harness_e5m2_bits(0x1p-16) == 0x01);
}

/* Every finite code decodes and encodes back to itself, and positive codes increase in value. */
static void test_round_trip(const format *f) {
  unsigned n = 1u << f->bits, sign = 1u << (f->bits - 1);
  int bad = 0;
  for (unsigned b = 0; b < n; b++) {
    unsigned mag = b & (sign - 1);
    if (mag > f->max_code) continue;
    double v = f->dec(b);
    bad += f->enc(v) != b;
    if (mag > 0 && !(b & sign)) bad += !(f->dec(b - 1) < v);
  }
  if (bad) fprintf(stderr, "%s: %d codes do not round-trip\n", f->name, bad);
  CHECK(bad == 0);
}

/* The nearest finite code by binary search over the positive codes, ties to the even code. */
static unsigned oracle(const format *f, double v) {
  unsigned sign = signbit(v) ? 1u << (f->bits - 1) : 0;
  double a = fabs(v), top = f->dec(f->max_code), ulp = top - f->dec(f->max_code - 1);
  if (a >= top + ulp / 2) return sign | (f->saturate ? f->max_code : f->inf_code);
  if (a >= top) return sign | f->max_code;
  unsigned lo = 0, hi = f->max_code; /* dec(lo) <= a < dec(hi) */
  while (hi - lo > 1) {
    unsigned mid = (lo + hi) / 2;
    if (f->dec(mid) <= a)
      lo = mid;
    else
      hi = mid;
  }
  double dl = a - f->dec(lo), dh = f->dec(hi) - a;
  unsigned pick = dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi);
  return sign | pick;
}

static void test_random_rounding(const format *f, harness_rng *r) {
  int bad = 0;
  double top = f->dec(f->max_code);
  for (int i = 0; i < 20000; i++) {
    /* magnitudes from below the subnormals to past the largest value */
    double scale = ldexp(1.0, (int)(harness_next(r) % 200) - 150);
    double v = harness_uniform(r) * (i % 4 == 0 ? top * 1.2 : scale);
    if (f->enc(v) != oracle(f, v)) {
      if (bad++ < 3) fprintf(stderr, "%s(%a): %#x, oracle %#x\n", f->name, v, f->enc(v), oracle(f, v));
    }
  }
  CHECK(bad == 0);
}

static void test_against_compiler(harness_rng *r) {
#ifdef __FLT16_MAX__
  int bad = 0;
  for (int i = 0; i < 100000; i++) {
    double v = harness_uniform(r) * ldexp(1.0, (int)(harness_next(r) % 44) - 28);
    _Float16 h = (_Float16)v;
    uint16_t bits;
    memcpy(&bits, &h, 2);
    bad += bits != harness_f16_bits(v);
  }
  CHECK(bad == 0);
#else
  (void)r;
#endif
}

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
  uint16_t zh[3] = {0, 0, harness_f16_bits(0x1p-20)};
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
  test_known_values();
  for (int i = 0; i < 4; i++) test_round_trip(&formats[i]);
  for (int i = 0; i < 4; i++) test_random_rounding(&formats[i], &r);
  test_against_compiler(&r);
  test_fill(&r);
  test_poison();
  test_compare(&r);
  test_pick_target();
  return test_done("test_harness");
}
