#!/bin/sh
# codegen_quality.sh - the code-quality counts that a compile-speed change must not make worse
# (docs/compile-speed.md): registers, spill bytes, SASS instructions and non-MMA instructions per MMA
# of the MMA loop, from `kiln inspect`, for the two large variants the compile-speed work watches.
#
#   bench/codegen_quality.sh [KILN] [TARGET]     (default build/kiln, sm_90a; needs ptxas and nvdisasm:
#                                                  KILN_NVDISASM names it when it is not on PATH)
KILN=${1:-build/kiln}
TARGET=${2:-sm_90a}
row() {
  name=$1
  shift
  out=$("$KILN" inspect "$@" --target "$TARGET" --no-cache 2>&1) || { echo "| $name | inspect failed: $out |"; return; }
  regs=$(echo "$out" | sed -n 's/^registers: \([0-9]*\).*/\1/p')
  spill=$(echo "$out" | sed -n 's/.* \([0-9]*\) bytes spill stores, \([0-9]*\) bytes spill loads.*/\1+\2/p')
  sass=$(echo "$out" | sed -n 's/^sass.*: \([0-9]*\) instructions.*/\1/p')
  loop=$(echo "$out" | sed -n 's/.*: \([0-9]*\) instructions per iteration.*/\1/p' | head -1)
  nm=$(echo "$out" | sed -n 's/.*non-MMA instructions per MMA: \([0-9.]*\).*/\1/p' | head -1)
  echo "| $name | $regs | $spill | $sass | $loop | $nm |"
}
echo "| variant ($TARGET) | registers | spill bytes (st+ld) | SASS instructions | MMA loop instructions | non-MMA per MMA |"
echo "|---|---|---|---|---|---|"
row "matmul 128x128x32 w8" recipes/matmul.lua --set BLOCK_M=128 --set BLOCK_N=128 --set warps=8
row "matmul 128x128x32 w4" recipes/matmul.lua --set BLOCK_M=128 --set BLOCK_N=128 --set warps=4
row "attention D=128 128x64 w8" recipes/attention.lua --set D=128 --set BLOCK_M=128 --set BLOCK_N=64 --set warps=8
row "attention D=64 128x64 w4" recipes/attention.lua --set D=64 --set BLOCK_M=128 --set BLOCK_N=64 --set warps=4
