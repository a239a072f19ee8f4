#!/bin/sh
# Blocks of shared buffers (load_shared {at = [...]}, docs/ir.md): tests/kernels/shared_block.lua
# against its Lua reference on the simulator for every check, on targets with and without cp.async,
# and the PTX reads the chunk-aligned blocks of A and B with ldmatrix (one .trans-less x4 per
# 16x16 block of each of A and B in each warp).
set -u
. tests/sh/lib/check.sh
K=tests/kernels/shared_block.lua
checks_pass $K 3 sm_75 sm_80 sm_90a
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
"$KILN" compile $K --target sm_80 --set warps=1 --emit ptx -o "$tmp/s.ptx" || fail=1
n=$(grep -c 'ldmatrix.sync.aligned.m8n8.x4.shared.b16' "$tmp/s.ptx")
echo "ldmatrix.x4 in the PTX: $n"
# a16, b16, a48, b48: one x4 each (the misaligned blocks a4, b4 are read an element at a time)
[ "$n" = 4 ] || { echo "FAIL expected 4 ldmatrix.x4 (the chunk-aligned blocks), got $n"; fail=1; }
exit $fail
