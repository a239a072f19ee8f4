#!/bin/sh
# load_shared {quad_dim} (docs/ir.md): tests/kernels/quad_dim.lua against its Lua reference on the
# simulator for every check (quad order along either dim, blocked; a swizzled buffer read transposed
# into a dot's B fragments through k.bitsplit; a block at an offset), on sm_75, sm_80 and sm_90a; the
# B fragments' words read four at a time (one 16-byte ld.shared per thread and n8 tile); and the
# packed W4A16 weights in quad order through the packer, the GEMM and split-K on the simulator.
set -u
. tests/sh/lib/check.sh
K=tests/kernels/quad_dim.lua
checks_pass $K 3 sm_75 sm_80 sm_90a
ir=$("$KILN" compile $K --target sm_80 --emit ir-opt 2>&1)
printf '%s\n' "$ir" | grep -q 'load_shared(.*) {trans = 1, quad_dim = 1} : tile<32x64xu32, mma_b<\[1,4\],1>>' ||
  { bad "the words are not read in mma_b"; printf '%s\n' "$ir" | grep load_shared; }
# y2's words (32 x 64 in mma_b): a thread's 8 words of an n8 tile are two 16-byte reads
ptx=$("$KILN" compile $K --target sm_80 --emit ptx 2>&1)
n=$(printf '%s\n' "$ptx" | grep -c 'ld.shared.v4.b32')
[ "$n" -ge 2 ] && ok "16-byte reads of the quad-ordered words: $n" || bad "expected 16-byte ld.shared of words, found $n"
for args in "--set M=7 --set N=40 --set K=300" "--set M=16 --set N=72 --set K=512 --set bits=3 --set G=64" \
  "--set M=33 --set N=24 --set K=1000 --set BLOCK_KW=32 --set bits=2 --set G=128" \
  "--set M=5 --set N=64 --set K=256 --set dtype=bf16 --set bits=8 --set G=32"; do
  # shellcheck disable=SC2086
  expect "w4a16 $args" 0 PASS "$KILN" run recipes/w4a16.lua --sim $args
  # shellcheck disable=SC2086
  expect "w4a16_splitk $args" 0 PASS "$KILN" run recipes/w4a16_splitk.lua --sim $args --set split_k=2
done
expect "w4a16_pack round trip" 0 PASS "$KILN" run recipes/w4a16_pack.lua --sim --set N=37 --set K=333 --set roundtrip=1
expect "w4a16_pack BLOCK_KW=32" 0 PASS "$KILN" run recipes/w4a16_pack.lua --sim --set N=20 --set K=700 --set BLOCK_KW=32 --set bits=5 --set roundtrip=1
exit $fail
