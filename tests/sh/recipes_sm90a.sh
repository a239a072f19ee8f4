#!/bin/sh
# Every recipe's checks on the simulator for sm_90a, as tests/sh/recipes_sim.sh runs them for sm_80:
# Hopper lowers some products differently (warpgroup MMAs, their register-A form, TMA where a recipe
# asks for it), and a check that passes on sm_80 says nothing of those paths. Before 2026-12-06
# fftconv's checks at N = 4096 gave NaN here (a register A converted for a warpgroup MMA was left
# undefined; tests/kernels/wgmma_reg_a.lua isolates it and runs here too). Fresh random inputs,
# poisoned outputs, every element compared; `kiln run` exits non-zero on any mismatch.
set -u
. tests/sh/lib/check.sh
for r in recipes/*.lua tests/kernels/wgmma_reg_a.lua; do
  out=$("$KILN" run "$r" --sim --check-all --target sm_90a 2>&1); rc=$?
  n=$(printf '%s\n' "$out" | grep -c ' PASS, ')
  if [ $rc -ne 0 ] || [ "$n" -eq 0 ]; then
    bad "$r sm_90a (exit $rc): $(printf '%s\n' "$out" | grep -E 'FAIL|ERROR' | head -3)"
  else
    ok "$r sm_90a: $n checks PASS"
  fi
done
exit $fail
