/*
 * test_elem_float.c - the narrow float conversions of ir/elem_float.h (f16, bf16, e4m3, e5m2), against
 * references written here from the format definitions alone:
 *   - every 16-bit (f16, bf16) and 8-bit (e4m3, e5m2) code decodes to the value its sign, exponent and
 *     mantissa fields give (NaN codes to a NaN of the same sign and payload) and encodes back to itself
 *     (NaNs to the canonical NaN of their sign, or with IR_FLOAT_NAN_PAYLOAD to the code quieted;
 *     infinity of e5m2 to its largest finite value);
 *   - random doubles from below the subnormals to past the largest value, and every tie between two
 *     neighbouring codes, against a nearest-value search over the reference values (ties to the even
 *     code; past the top: infinity for f16/bf16, the largest finite value for the fp8 types);
 *   - f16 against the compiler's _Float16 where it has one, bf16 from f32 against integer rounding
 *     of the f32 bits;
 *   - known values, and ir_float_exact.
 * Fresh random values every run; KILN_TEST_SEED=N repeats one (the seed is printed on failure).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/elem_float.h"
#include "test.h"

static uint64_t rnd(void) { return test_rand64(); }
static double uniform(void) { return (double)(rnd() >> 11) * 0x1p-52 - 1.0; } /* [-1, 1) */

/* ---- the formats, from their definitions ---- */

typedef struct {
  const char *name;
  ir_elem e;
  int ebits, mbits;
  int ieee_top;      /* top exponent: infinity and NaNs (else only S.1111.111 is NaN: e4m3) */
  int saturate;      /* overflow and infinity go to the largest finite value */
  unsigned nan_code; /* the canonical NaN's magnitude */
} format;

static const format formats[] = {
    {"f16", IR_F16, 5, 10, 1, 0, 0x7e00},
    {"bf16", IR_BF16, 8, 7, 1, 0, 0x7fc0},
    {"e4m3", IR_E4M3, 4, 3, 0, 1, 0x7f},
    {"e5m2", IR_E5M2, 5, 2, 1, 1, 0x7f},
};

static unsigned nbits(const format *f) { return 1u + (unsigned)(f->ebits + f->mbits); }
static unsigned sign_bit(const format *f) { return 1u << (f->ebits + f->mbits); }

static int ref_is_nan(const format *f, unsigned c) {
  unsigned emax = (1u << f->ebits) - 1, x = (c >> f->mbits) & emax, m = c & ((1u << f->mbits) - 1);
  return x == emax && (f->ieee_top ? m != 0 : m == (1u << f->mbits) - 1);
}

static int ref_is_inf(const format *f, unsigned c) {
  unsigned emax = (1u << f->ebits) - 1;
  return f->ieee_top && ((c >> f->mbits) & emax) == emax && (c & ((1u << f->mbits) - 1)) == 0;
}

/* (-1)^s * 2^(x - bias) * (1 + m / 2^mbits), or 2^(1 - bias) * (m / 2^mbits) for x = 0. */
static double ref_value(const format *f, unsigned c) {
  int bias = (1 << (f->ebits - 1)) - 1;
  unsigned x = (c >> f->mbits) & ((1u << f->ebits) - 1), m = c & ((1u << f->mbits) - 1);
  double frac = (double)m / (double)(1u << f->mbits);
  double v = ref_is_nan(f, c)   ? NAN
             : ref_is_inf(f, c) ? INFINITY
             : x == 0           ? frac * exp2(1 - bias)
                                : (1 + frac) * exp2((int)x - bias);
  return c & sign_bit(f) ? -v : v;
}

/* The largest finite positive code. */
static unsigned max_code(const format *f) {
  unsigned c = sign_bit(f) - 1;
  while (ref_is_nan(f, c) || ref_is_inf(f, c)) c--;
  return c;
}

/* The nearest code to v by binary search over the positive reference values, ties to the even code. */
static unsigned oracle(const format *f, double v) {
  unsigned sign = signbit(v) ? sign_bit(f) : 0, top_code = max_code(f);
  if (isnan(v)) return sign | f->nan_code;
  double a = fabs(v), top = ref_value(f, top_code), ulp = top - ref_value(f, top_code - 1);
  unsigned over = f->saturate ? top_code : top_code + 1; /* IEEE: the code after the largest is infinity */
  if (a >= top + ulp / 2) return sign | over;
  if (a >= top) return sign | top_code;
  unsigned lo = 0, hi = top_code; /* ref(lo) <= a < ref(hi) */
  while (hi - lo > 1) {
    unsigned mid = (lo + hi) / 2;
    if (ref_value(f, mid) <= a)
      lo = mid;
    else
      hi = mid;
  }
  double dl = a - ref_value(f, lo), dh = ref_value(f, hi) - a;
  return sign | (dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi));
}

static uint64_t dbits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

/* ---- every code ---- */

static void test_every_code(const format *f) {
  unsigned n = 1u << nbits(f), mmask = (1u << f->mbits) - 1;
  int bad = 0;
  for (unsigned c = 0; c < n; c++) {
    double got = ir_float_decode(f->e, c), want = ref_value(f, c);
    unsigned neg = (c & sign_bit(f)) != 0, sign = c & sign_bit(f);
    if (ref_is_nan(f, c)) {
      /* a NaN of the code's sign whose payload is the code's mantissa, at the top of the double's */
      uint64_t u = dbits(got), payload = (u >> (52 - f->mbits)) & mmask;
      bad += !isnan(got) || (unsigned)(u >> 63) != neg || payload != (c & mmask);
      bad += ir_float_encode(f->e, got, 0) != (sign | f->nan_code);
      unsigned kept = f->saturate ? sign | f->nan_code : c | (1u << (f->mbits - 1));
      bad += ir_float_encode(f->e, got, IR_FLOAT_NAN_PAYLOAD) != kept;
      bad += ir_float_exact(f->e, got);
      continue;
    }
    bad += dbits(got) != dbits(want); /* exact, -0 included */
    if (ref_is_inf(f, c)) {
      bad += ir_float_encode(f->e, got, 0) != (f->saturate ? sign | max_code(f) : c);
      bad += ir_float_exact(f->e, got);
      continue;
    }
    bad += ir_float_encode(f->e, got, 0) != c || ir_float_encode(f->e, got, IR_FLOAT_NAN_PAYLOAD) != c;
    bad += !ir_float_exact(f->e, got);
    if (bad && bad < 4) fprintf(stderr, "%s: code %#x: decoded %a, reference %a\n", f->name, c, got, want);
  }
  if (bad) fprintf(stderr, "%s: %d code(s) wrong\n", f->name, bad);
  CHECK(bad == 0);
}

/* ---- rounding ---- */

static void test_random_doubles(const format *f) {
  int bad = 0;
  double top = ref_value(f, max_code(f));
  for (int i = 0; i < 20000; i++) {
    /* magnitudes from below the subnormals to past the largest value */
    double scale = ldexp(1.0, (int)(rnd() % 300) - 150);
    double v = uniform() * (i % 4 == 0 ? top * 1.2 : i % 4 == 1 ? top * 1e-3 : scale);
    unsigned got = ir_float_encode(f->e, v, 0), want = oracle(f, v);
    if (got != want && bad++ < 3) fprintf(stderr, "%s(%a): %#x, oracle %#x\n", f->name, v, got, want);
    /* a value the type holds exactly is exactly what it rounds to */
    if (ir_float_exact(f->e, v) != (isfinite(v) && ref_value(f, want) == v)) bad++;
  }
  CHECK(bad == 0);
}

/* Every midpoint between two neighbouring positive codes (and one past the top) is a tie. */
static void test_ties(const format *f) {
  int bad = 0;
  unsigned top = max_code(f);
  for (unsigned c = 0; c < top; c++) {
    double mid = (ref_value(f, c) + ref_value(f, c + 1)) / 2; /* exact in double */
    unsigned even = c % 2 == 0 ? c : c + 1;
    bad += ir_float_encode(f->e, mid, 0) != even;
    bad += ir_float_encode(f->e, -mid, 0) != (sign_bit(f) | even);
    bad += ir_float_exact(f->e, mid);
  }
  double ulp = ref_value(f, top) - ref_value(f, top - 1), past = ref_value(f, top) + ulp / 2;
  bad += ir_float_encode(f->e, past, 0) != (f->saturate ? top : top + 1);
  bad += ir_float_encode(f->e, nextafter(past, 0), 0) != top;
  if (bad) fprintf(stderr, "%s: %d tie(s) wrong\n", f->name, bad);
  CHECK(bad == 0);
}

static void test_against_f32_and_compiler(void) {
  int bad = 0;
  for (int i = 0; i < 20000; i++) {
    float x = (float)(uniform() * ldexp(1.0, (int)(rnd() % 260) - 130));
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t rne = (u + 0x7fffu + ((u >> 16) & 1)) >> 16; /* bf16 from the f32 bits, ties to even */
    bad += ir_bf16_from_double(x) != rne;
#ifdef __FLT16_MAX__
    double v = uniform() * ldexp(1.0, (int)(rnd() % 44) - 28);
    _Float16 h = (_Float16)v;
    uint16_t hb;
    memcpy(&hb, &h, 2);
    bad += ir_f16_from_double(v) != hb;
#endif
  }
  CHECK(bad == 0);
}

static void test_known_values(void) {
  CHECK(ir_f16_from_double(1.0) == 0x3c00 && ir_f16_from_double(-2.0) == 0xc000);
  CHECK(ir_f16_from_double(65504) == 0x7bff && ir_f16_from_double(65519) == 0x7bff);
  CHECK(ir_f16_from_double(65520) == 0x7c00); /* the midpoint to 2^16 rounds to even: infinity */
  CHECK(ir_f16_from_double(0x1p-24) == 0x0001 && ir_f16_from_double(0x1p-25) == 0x0000);
  CHECK(ir_f16_from_double(0x1.8p-25) == 0x0001);
  CHECK(ir_f16_from_double(1 + 0x1p-11) == 0x3c00 && ir_f16_from_double(1 + 0x1.8p-10) == 0x3c02);
  CHECK(ir_f16_from_double(0x1.ffcp-15) ==
        0x0400); /* the largest subnormal's carry into the smallest normal */
  CHECK(ir_f16_from_double(-0.0) == 0x8000 && ir_f16_from_double(NAN) == 0x7e00);
  CHECK(ir_f16_to_double(0x7c00) == INFINITY && ir_f16_to_double(0xfc00) == -INFINITY);
  CHECK(ir_bf16_from_double(1.0) == 0x3f80 && ir_bf16_from_double(1 + 0x1p-8) == 0x3f80);
  CHECK(ir_bf16_from_double(1 + 0x1.8p-7) == 0x3f82 && ir_bf16_from_double(1e39) == 0x7f80);
  CHECK(ir_bf16_to_double(0x4049) == 3.140625 && ir_bf16_from_double(-NAN) == 0xffc0);
  CHECK(ir_e4m3_from_double(1.0) == 0x38 && ir_e4m3_from_double(448) == 0x7e &&
        ir_e4m3_from_double(464) == 0x7e);
  CHECK(ir_e4m3_from_double(1000) == 0x7e && ir_e4m3_from_double(-1000) == 0xfe &&
        ir_e4m3_from_double(INFINITY) == 0x7e);
  CHECK(ir_e4m3_from_double(0x1p-9) == 0x01 && ir_e4m3_to_double(0x7e) == 448);
  CHECK(isnan(ir_e4m3_to_double(0x7f)) && isnan(ir_e4m3_to_double(0xff)) && ir_e4m3_from_double(NAN) == 0x7f);
  CHECK(ir_e4m3_from_double(-NAN) == 0xff && ir_e4m3_to_double(0x78) == 256.0);
  CHECK(ir_e5m2_from_double(1.0) == 0x3c && ir_e5m2_from_double(57344) == 0x7b &&
        ir_e5m2_from_double(1e6) == 0x7b);
  CHECK(ir_e5m2_from_double(-INFINITY) == 0xfb && ir_e5m2_to_double(0x7c) == INFINITY);
  CHECK(isnan(ir_e5m2_to_double(0x7d)) && ir_e5m2_from_double(0x1p-16) == 0x01);
  /* a NaN's payload survives a round trip through f16 only when asked for */
  double nan_payload = ir_f16_to_double(0x7e55);
  CHECK(ir_float_encode(IR_F16, nan_payload, IR_FLOAT_NAN_PAYLOAD) == 0x7e55);
  CHECK(ir_float_encode(IR_F16, nan_payload, 0) == 0x7e00);
  CHECK(ir_float_encode(IR_F16, ir_f16_to_double(0xfc01), IR_FLOAT_NAN_PAYLOAD) == 0xfe01); /* quieted */
  CHECK(ir_float_exact(IR_F16, 65504) && !ir_float_exact(IR_F16, 65505) && !ir_float_exact(IR_F16, INFINITY));
  CHECK(ir_float_exact(IR_BF16, ldexp(255.0, 120)) && !ir_float_exact(IR_BF16, ldexp(511.0, 119)));
  CHECK(ir_float_exact(IR_F16, 0x1p-24) && !ir_float_exact(IR_F16, 0x1p-25) && ir_float_exact(IR_F16, -0.0));
}

int main(void) {
  test_known_values();
  for (int i = 0; i < 4; i++) {
    test_every_code(&formats[i]);
    test_random_doubles(&formats[i]);
    test_ties(&formats[i]);
  }
  test_against_f32_and_compiler();
  return test_done("test_elem_float");
}
