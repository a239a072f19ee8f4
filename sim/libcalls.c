/*
 * libcalls.c - every function the JIT'd kernel may call, by name: the simulator's entry points and
 * the library calls LLVM emits on its own (memcpy/memset, libm for intrinsics the host CPU has no
 * instruction for, and the half/bfloat conversions of compiler-rt). They are defined in the JIT as
 * absolute addresses, so the kernel links the same in a static kiln as in a shared one.
 *
 * The conversions are ir/elem_float.c's: round to nearest even, subnormals kept, NaNs keep their sign
 * and payload (quieted when narrowed), as compiler-rt's do. On x86-64 LLVM passes and returns half/bfloat in
 * the low 16 bits of an SSE register: they are declared here with float in that place and the bits moved with
 * memcpy (no arithmetic on the carrier).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../ir/elem_float.h"
#include "sim_int.h"

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

float sim_f32_to_f16(float x) { return bits_out(ir_float_encode(IR_F16, x, IR_FLOAT_NAN_PAYLOAD)); }
float sim_f64_to_f16(double x) { return bits_out(ir_float_encode(IR_F16, x, IR_FLOAT_NAN_PAYLOAD)); }
float sim_f16_to_f32(float h) { return (float)ir_float_decode(IR_F16, bits_in(h)); }
double sim_f16_to_f64(float h) { return ir_float_decode(IR_F16, bits_in(h)); }
float sim_f32_to_bf16(float x) { return bits_out(ir_float_encode(IR_BF16, x, IR_FLOAT_NAN_PAYLOAD)); }
float sim_f64_to_bf16(double x) { return bits_out(ir_float_encode(IR_BF16, x, IR_FLOAT_NAN_PAYLOAD)); }

#define SYM(f)                                                                                               \
  { #f, (void *)f }
const sim_symbol sim_symbols[] = {
    SYM(__kiln_sim_thread),
    SYM(__kiln_sim_access),
    SYM(__kiln_sim_barrier),
    SYM(__kiln_sim_barrier_named),
    SYM(__kiln_sim_barrier_named_signal),
    SYM(__kiln_sim_check_bound),
    SYM(__kiln_sim_shfl),
    SYM(__kiln_sim_mathf),
    SYM(__kiln_sim_math),
    SYM(__kiln_sim_loop),
    SYM(__kiln_sim_mma),
    SYM(__kiln_sim_ldmatrix),
    SYM(__kiln_sim_cp_async),
    SYM(__kiln_sim_cp_async_commit),
    SYM(__kiln_sim_cp_async_wait),
    SYM(__kiln_sim_wgmma_fence),
    SYM(__kiln_sim_wgmma),
    SYM(__kiln_sim_wgmma_rs),
    SYM(__kiln_sim_wgmma_commit),
    SYM(__kiln_sim_wgmma_wait),
    SYM(__kiln_sim_tma_load),
    SYM(__kiln_sim_tma_store),
    SYM(__kiln_sim_tma_store_commit),
    SYM(__kiln_sim_tma_store_wait),
    SYM(__kiln_sim_mbar_init),
    SYM(__kiln_sim_mbar_inval),
    SYM(__kiln_sim_mbar_arrive),
    SYM(__kiln_sim_mbar_try_wait),
    SYM(__kiln_sim_fence_proxy_async),
    SYM(__kiln_sim_setmaxnreg),
    SYM(__kiln_sim_elect_sync),
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
