#!/bin/sh
# k.bitsplit (docs/ir.md): tests/kernels/bitsplit.lua against its Lua reference on the simulator for
# every check (f16 pairs from u32 words into a dot's B operand from shared and from global memory;
# bytes and 16-bit halves along either axis), on sm_75, sm_80 and sm_90a; and the words read from
# shared memory straight into the B fragments (one 32-bit ld.shared per register, no conversion).
set -u
. tests/sh/lib/check.sh
K=tests/kernels/bitsplit.lua
checks_pass $K 3 sm_75 sm_80 sm_90a
ir=$("$KILN" compile $K --target sm_80 --emit ir-opt 2>&1)
printf '%s\n' "$ir" | grep -q 'load_shared(.*) : tile<16x64xu32, mma_b<\[1,4\],1>>' ||
  { echo "FAIL the words are not read in mma_b with one word per register:"; printf '%s\n' "$ir" | grep load_shared; fail=1; }
exit $fail
