/*
 * elem_float.h - the narrow float element types (f16, bf16, e4m3, e5m2) to and from double: the one
 * implementation that the host harness, the simulator and constant folding all use.
 *
 * Encoding rounds to nearest, ties to even, in one step from the double (never through f32; an f32
 * widens to double exactly, so from f32 it is one rounding as well). Subnormals are kept. Overflow,
 * and infinity, go:
 *   f16, bf16:  to infinity, as IEEE does;
 *   e4m3 (OCP "FN": bias 7, no infinity, S.1111.111 is NaN, max 448) and e5m2 (bias 15, max 57344):
 *               to the largest finite value of the sign, as PTX's cvt.rn.satfinite and codegen's fp8
 *               conversions do. kiln has no non-saturating fp8 conversion.
 * NaN becomes the type's canonical quiet NaN with the sign kept (magnitude f16 0x7e00, bf16 0x7fc0,
 * e4m3 and e5m2 0x7f); with IR_FLOAT_NAN_PAYLOAD an f16 or bf16 NaN instead keeps the top payload bits
 * of the double and sets the quiet bit, as compiler-rt's __truncsfhf2 family does.
 *
 * Decoding is exact: every code's value as a double; a NaN code gives a NaN of the same sign whose
 * payload is the code's mantissa bits at the top of the double's.
 */
#ifndef KILN_ELEM_FLOAT_H
#define KILN_ELEM_FLOAT_H

#include <stdint.h>

#include "ir.h"

enum {
  IR_FLOAT_NAN_PAYLOAD = 1, /* f16/bf16: a NaN keeps its payload (quieted) instead of the canonical NaN */
};

/* e is IR_F16, IR_BF16, IR_E4M3 or IR_E5M2 (anything else aborts); the bits are the low 16 or 8. */
uint32_t ir_float_encode(ir_elem e, double v, unsigned flags);
double ir_float_decode(ir_elem e, uint32_t bits);
/* 1 if v is finite and e holds it exactly (v == decode(encode(v))). */
int ir_float_exact(ir_elem e, double v);

uint16_t ir_f16_from_double(double v);
double ir_f16_to_double(uint16_t b);
uint16_t ir_bf16_from_double(double v);
double ir_bf16_to_double(uint16_t b);
uint8_t ir_e4m3_from_double(double v);
double ir_e4m3_to_double(uint8_t b);
uint8_t ir_e5m2_from_double(double v);
double ir_e5m2_to_double(uint8_t b);

#endif
