#!/bin/sh
# GEMM numerics on the simulator against the double reference (compiler/ref/ref_matmul.c):
#   1. every `checks` entry of recipes/matmul.lua on sm_80 (cp.async copies, the pipeline at stages
#      1..5, ragged M, N and K, f16, bf16, f32, i8 with i32 and f16 outputs, transposed A and B,
#      bias, relu, gelu, alpha);
#   2. fp8 inputs (e4m3, e5m2) on sm_89, the first row with fp8; their products are exact in f32,
#      so the budget is the f16 output's rounding (2e-3), not kiln run's fp8 default;
#   3. sm_75 (no cp.async: plain copies, the same pipeline structure) at a pipelined, ragged shape.
# kiln run gives fresh random inputs and poisoned outputs and exits non-zero on any element over
# the budget; the simulator stops on a race, a read of a cp.async still in flight, or an access out
# of bounds.
set -u
fail=0
run() { # run LABEL -- kiln run arguments...
  label=$1; shift 2
  "$KILN" run "$@" || { echo "FAIL $label"; fail=1; }
}
run checks -- recipes/matmul.lua --sim --check-all
run e4m3 -- recipes/matmul.lua --sim --target sm_89 --set dtype=e4m3 --set M=70 --set N=45 --set K=99 --tol 2e-3
run e5m2 -- recipes/matmul.lua --sim --target sm_89 --set dtype=e5m2 --set M=33 --set N=64 --set K=64 \
  --set trans_a=1 --set bias=1 --set act=relu --tol 2e-3
run e4m3-bf16-out -- recipes/matmul.lua --sim --target sm_89 --set dtype=e4m3 --set out=bf16 --set M=40 \
  --set N=40 --set K=160 --set stages=4 --tol 1.6e-2
run sm75 -- recipes/matmul.lua --sim --target sm_75 --set M=50 --set N=70 --set K=100 --set stages=3
exit $fail
