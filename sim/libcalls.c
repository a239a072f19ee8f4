/*
 * libcalls.c - every function the JIT'd kernel may call, by name: the simulator's entry points and
 * the library calls LLVM emits on its own (memcpy/memset, libm for intrinsics the host CPU has no
 * instruction for, and the half/bfloat conversions of compiler-rt). They are defined in the JIT as
 * absolute addresses, so the kernel links the same in a static kiln as in a shared one.
 *
 * The conversions round to nearest even, keep NaNs quiet and signed, and handle subnormals. On x86-64
 * LLVM passes and returns half/bfloat in the low 16 bits of an SSE register: they are declared here
 * with float in that place and the bits moved with memcpy (no arithmetic on the carrier).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sim_int.h"

/* x rounded to a float format with `ebits` exponent and `mbits` mantissa bits; returns its bits. */
static uint32_t narrow(double x, int ebits, int mbits) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  uint32_t sign = (uint32_t)(u >> 63) << (ebits + mbits), emask = ((1u << ebits) - 1) << mbits;
  if (isnan(x))
    return sign | emask | (1u << (mbits - 1)) | (uint32_t)((u >> (52 - mbits)) & ((1u << mbits) - 1));
  double a = fabs(x);
  if (a == 0) return sign;
  if (isinf(a)) return sign | emask;
  int bias = (1 << (ebits - 1)) - 1, e;
  frexp(a, &e);
  e -= 1; /* a = 1.m * 2^e */
  if (e < 1 - bias) e = 1 - bias;
  double m = nearbyint(ldexp(a, mbits - e)); /* units of the last place at exponent e, rounded even */
  if (m >= ldexp(1.0, mbits + 1)) m /= 2, e++;
  if (m < ldexp(1.0, mbits)) return sign | (uint32_t)m; /* subnormal */
  if (e + bias >= (1 << ebits) - 1) return sign | emask;
  return sign | (uint32_t)(e + bias) << mbits | ((uint32_t)m - (1u << mbits));
}

/* e4m3 (OCP "fn": bias 7, no infinities, S.1111.111 is NaN, largest 448) rounded to nearest even and
 * saturated to +-448 as PTX's cvt.rn.satfinite does. */
static uint32_t narrow_e4m3(double x) {
  if (isnan(x)) return 0x7f;
  uint32_t sign = signbit(x) ? 0x80 : 0;
  double a = fabs(x);
  if (a == 0) return sign;
  int e;
  frexp(a, &e);
  e -= 1;
  if (e < -6) e = -6;
  double r = ldexp(nearbyint(ldexp(a, 3 - e)), e - 3); /* a rounded to 3 mantissa bits */
  if (r > 448) return sign | 0x7e;
  if (r < 0x1p-6) return sign | (uint32_t)ldexp(r, 9); /* subnormal: units of 2^-9 */
  frexp(r, &e);
  e -= 1;
  return sign | (uint32_t)(e + 7) << 3 | ((uint32_t)ldexp(r, 3 - e) - 8);
}

uint32_t sim_small_float_bits(double x, ir_elem e) {
  switch (e) {
  case IR_F16: return narrow(x, 5, 10);
  case IR_BF16: return narrow(x, 8, 7);
  case IR_E5M2: return narrow(x, 5, 2);
  case IR_E4M3: return narrow_e4m3(x);
  default: return 0;
  }
}

/* The value of small-float bits h (exact in double). */
static double widen(uint32_t h, int ebits, int mbits) {
  int bias = (1 << (ebits - 1)) - 1;
  uint32_t e = (h >> mbits) & ((1u << ebits) - 1), m = h & ((1u << mbits) - 1);
  double s = (h >> (ebits + mbits)) & 1 ? -1.0 : 1.0;
  if (e == (1u << ebits) - 1) return m ? s * NAN : s * INFINITY;
  if (e == 0) return s * ldexp(m, 1 - bias - mbits);
  return s * ldexp(m + ldexp(1.0, mbits), (int)e - bias - mbits);
}

static float bits_out(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static uint32_t bits_in(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b & 0xffff;
}

float sim_f32_to_f16(float x) { return bits_out(narrow(x, 5, 10)); }
float sim_f64_to_f16(double x) { return bits_out(narrow(x, 5, 10)); }
float sim_f16_to_f32(float h) { return (float)widen(bits_in(h), 5, 10); }
double sim_f16_to_f64(float h) { return widen(bits_in(h), 5, 10); }
float sim_f32_to_bf16(float x) { return bits_out(narrow(x, 8, 7)); }
float sim_f64_to_bf16(double x) { return bits_out(narrow(x, 8, 7)); }

#define SYM(f)                                                                                               \
  { #f, (void *)f }
const sim_symbol sim_symbols[] = {
    SYM(__kiln_sim_thread),
    SYM(__kiln_sim_access),
    SYM(__kiln_sim_barrier),
    SYM(__kiln_sim_shfl),
    SYM(__kiln_sim_mathf),
    SYM(__kiln_sim_math),
    SYM(__kiln_sim_loop),
    SYM(__kiln_sim_mma),
    SYM(__kiln_sim_ldmatrix),
    SYM(__kiln_sim_cp_async),
    SYM(__kiln_sim_cp_async_commit),
    SYM(__kiln_sim_cp_async_wait),
    SYM(memcpy),
    SYM(memmove),
    SYM(memset),
    SYM(fmaf),
    SYM(fma),
    SYM(expf),
    SYM(exp),
    SYM(exp2f),
    SYM(exp2),
    SYM(logf),
    SYM(log),
    SYM(log2f),
    SYM(log2),
    SYM(sqrtf),
    SYM(sqrt),
    SYM(powf),
    SYM(pow),
    SYM(fminf),
    SYM(fmin),
    SYM(fmaxf),
    SYM(fmax),
    SYM(floorf),
    SYM(floor),
    SYM(ceilf),
    SYM(ceil),
    SYM(truncf),
    SYM(trunc),
    SYM(roundf),
    SYM(round),
    SYM(rintf),
    SYM(rint),
    SYM(nearbyintf),
    SYM(nearbyint),
    SYM(fmodf),
    SYM(fmod),
    SYM(ldexpf),
    SYM(ldexp),
    SYM(sinf),
    SYM(sin),
    SYM(cosf),
    SYM(cos),
    SYM(tanhf),
    SYM(tanh),
#if defined(__x86_64__)
    {"__truncsfhf2", (void *)sim_f32_to_f16},
    {"__gnu_f2h_ieee", (void *)sim_f32_to_f16},
    {"__truncdfhf2", (void *)sim_f64_to_f16},
    {"__extendhfsf2", (void *)sim_f16_to_f32},
    {"__gnu_h2f_ieee", (void *)sim_f16_to_f32},
    {"__extendhfdf2", (void *)sim_f16_to_f64},
    {"__truncsfbf2", (void *)sim_f32_to_bf16},
    {"__truncdfbf2", (void *)sim_f64_to_bf16},
#endif
};
const int sim_nsymbols = (int)(sizeof sim_symbols / sizeof sim_symbols[0]);
