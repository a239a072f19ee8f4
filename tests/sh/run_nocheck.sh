#!/bin/sh
# `kiln run --no-check` (what benchmarks use) runs the kernel, skips the reference and prints the time
# and the launch facts; a checked run of the same variant still compares every element.
set -u
out=$("$KILN" run recipes/vector_add.lua --sim --no-check --set n=3000 2>/dev/null)
echo "$out"
echo "$out" | grep -q "per launch (grid 3,1,1, [0-9]* threads, [0-9]* B shared; not checked)" || { echo "FAIL: $out"; exit 1; }
echo "$out" | grep -q "max rel err" && { echo "FAIL: --no-check compared"; exit 1; }
"$KILN" run recipes/vector_add.lua --sim --set n=3000 2>/dev/null | grep -q "PASS" || { echo "FAIL: checked run"; exit 1; }
