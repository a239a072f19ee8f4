/*
 * elem_float.c - the narrow float element types to and from double. Contracts in elem_float.h.
 *
 * The four types share one encoder and one decoder over a small format description (exponent bits,
 * mantissa bits, how the top exponent is used, what overflow does), so f16, bf16, e4m3 and e5m2 are
 * four rows of a table rather than four hand-written converters.
 */
#include "elem_float.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int ebits, mbits;
  int ieee_top;      /* 1: top exponent is inf/NaN (IEEE); 0: only all-ones mantissa there is NaN (e4m3) */
  int saturate;      /* overflow gives the largest finite value instead of infinity */
  unsigned max_bits; /* magnitude bits of the largest finite value */
  unsigned nan_bits; /* magnitude bits of the canonical NaN */
} fmt;

static const fmt F16 = {5, 10, 1, 0, 0x7bff, 0x7e00};
static const fmt BF16 = {8, 7, 1, 0, 0x7f7f, 0x7fc0};
static const fmt E4M3 = {4, 3, 0, 1, 0x7e, 0x7f};
static const fmt E5M2 = {5, 2, 1, 1, 0x7b, 0x7f};

static const fmt *fmt_of(ir_elem e) {
  switch (e) {
  case IR_F16: return &F16;
  case IR_BF16: return &BF16;
  case IR_E4M3: return &E4M3;
  case IR_E5M2: return &E5M2;
  default: abort(); /* not a narrow float: a caller's bug */
  }
}

/* Rounds |v| (finite, > 0) to the format: magnitude bits, possibly above max_bits (overflow). */
static unsigned encode_mag(const fmt *f, double a) {
  int bias = (1 << (f->ebits - 1)) - 1, emin = 1 - bias;
  int e;
  frexp(a, &e);
  e -= 1; /* a = 1.x * 2^e */
  if (e > bias + 1) return f->max_bits + 1;
  if (e < emin) return (unsigned)nearbyint(ldexp(a, f->mbits - emin)); /* subnormal; may carry into normal */
  double q = nearbyint(ldexp(a, f->mbits - e));                        /* in [2^m, 2^(m+1)] */
  return (unsigned)((e + bias) << f->mbits) + (unsigned)q - (1u << f->mbits); /* a carry bumps the exponent */
}

/* A quiet NaN keeping the top mbits of v's payload (IEEE-top formats only). */
static unsigned nan_payload(const fmt *f, double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  unsigned mmask = (1u << f->mbits) - 1;
  return (((1u << f->ebits) - 1) << f->mbits) | (1u << (f->mbits - 1)) |
         ((unsigned)(u >> (52 - f->mbits)) & mmask);
}

uint32_t ir_float_encode(ir_elem e, double v, unsigned flags) {
  const fmt *f = fmt_of(e);
  unsigned sign = signbit(v) ? 1u << (f->ebits + f->mbits) : 0;
  double a = fabs(v);
  if (isnan(v))
    return sign | ((flags & IR_FLOAT_NAN_PAYLOAD) && !f->saturate ? nan_payload(f, v) : f->nan_bits);
  unsigned inf = ((1u << f->ebits) - 1) << f->mbits;
  unsigned over = f->saturate ? f->max_bits : inf;
  if (isinf(a)) return sign | over;
  if (a == 0) return sign;
  unsigned m = encode_mag(f, a);
  return sign | (m > f->max_bits ? over : m);
}

double ir_float_decode(ir_elem e, uint32_t b) {
  const fmt *f = fmt_of(e);
  int bias = (1 << (f->ebits - 1)) - 1;
  unsigned mmask = (1u << f->mbits) - 1, emax = (1u << f->ebits) - 1;
  unsigned m = b & mmask, x = (b >> f->mbits) & emax, neg = (b >> (f->ebits + f->mbits)) & 1;
  double s = neg ? -1.0 : 1.0;
  if (x == emax && (f->ieee_top ? m != 0 : m == mmask)) { /* NaN: sign and payload kept */
    uint64_t u = ((uint64_t)neg << 63) | (UINT64_C(0x7ff) << 52) | ((uint64_t)m << (52 - f->mbits));
    double r;
    memcpy(&r, &u, sizeof r);
    return r;
  }
  if (f->ieee_top && x == emax) return s * INFINITY;
  if (x == 0) return s * ldexp((double)m, 1 - bias - f->mbits);
  return s * ldexp((double)(m | (1u << f->mbits)), (int)x - bias - f->mbits);
}

int ir_float_exact(ir_elem e, double v) {
  return isfinite(v) && ir_float_decode(e, ir_float_encode(e, v, 0)) == v;
}

uint16_t ir_f16_from_double(double v) { return (uint16_t)ir_float_encode(IR_F16, v, 0); }
double ir_f16_to_double(uint16_t b) { return ir_float_decode(IR_F16, b); }
uint16_t ir_bf16_from_double(double v) { return (uint16_t)ir_float_encode(IR_BF16, v, 0); }
double ir_bf16_to_double(uint16_t b) { return ir_float_decode(IR_BF16, b); }
uint8_t ir_e4m3_from_double(double v) { return (uint8_t)ir_float_encode(IR_E4M3, v, 0); }
double ir_e4m3_to_double(uint8_t b) { return ir_float_decode(IR_E4M3, b); }
uint8_t ir_e5m2_from_double(double v) { return (uint8_t)ir_float_encode(IR_E5M2, v, 0); }
double ir_e5m2_to_double(uint8_t b) { return ir_float_decode(IR_E5M2, b); }
