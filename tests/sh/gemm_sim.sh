#!/bin/sh
# GEMM numerics on the simulator against the double reference (compiler/ref/ref_matmul.c):
#   1. every `checks` entry of recipes/matmul.lua on sm_80 (cp.async copies, the pipeline at stages
#      1..5, ragged M, N and K, f16, bf16, f32, i8 with i32 and f16 outputs, transposed A and B,
#      bias, relu, gelu, alpha);
#   2. fp8 inputs (e4m3, e5m2) on sm_89, the first row with fp8; their products are exact in f32,
#      so the budget is the f16 output's rounding (2e-3), not kiln run's fp8 default;
#   3. sm_75 (no cp.async: plain copies, the same pipeline structure) at a pipelined, ragged shape;
#   4. whole tiles (256^3 at the default 128x128 tile: the store's 16-byte version), f16, bf16 with
#      trans_b, and i8 -> i32 (with python3: its dot's shared requests per mma, B [K,N] read a
#      32-bit word a register); with python3, the simulator's counters of the f16 default: the dot's
#      ldmatrix.x4 at 4 wavefronts per request (no bank conflicts in the mainloop), the epilogue's
#      staging stores at 1 wavefront per request (none there either) and its 16-byte reads at 4, the
#      global store at 16 bytes per lane.
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
run whole-bf16-trans-b -- recipes/matmul.lua --sim --set dtype=bf16 --set out=bf16 --set trans_b=1 --tol 1.6e-2
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
# i8 with B stored [K, N]: the dot reads each operand register with one 32-bit shared load (B's
# bytes transposed across four lanes by two shuffles), 1.5 requests per mma at this tile (4.5 with a
# load per byte of B)
if ! "$KILN" run recipes/matmul.lua --sim --set dtype=i8 --set out=i32 --set K=128 --profile=json > "$tmp"; then
  echo "FAIL whole-i8"; fail=1
elif command -v python3 > /dev/null; then
  python3 - "$tmp" << 'PY' || fail=1
import json, sys
d = [o for o in json.load(open(sys.argv[1]))["ops"] if o["op"].startswith("dot")][0]
got = d["smem_requests"] / d["mma"]
print(("ok   " if got == 1.5 else "FAIL ") + "i8 dot shared requests per mma: %s (want 1.5)" % got)
sys.exit(0 if got == 1.5 else 1)
PY
fi
if ! "$KILN" run recipes/matmul.lua --sim --profile=json > "$tmp"; then
  echo "FAIL whole-f16"; fail=1
elif ! command -v python3 > /dev/null; then
  echo "note: no python3: the default's counters are not checked"
else
  python3 - "$tmp" << 'PY' || fail=1
import json, sys
ops = {o["op"].split(" ")[0]: o for o in json.load(open(sys.argv[1]))["ops"]}
ok = True
def want(what, got, expect):
    global ok
    print(("ok   " if got == expect else "FAIL ") + "%s: %s (want %s)" % (what, got, expect))
    ok = ok and got == expect
d, c, st = ops["dot"], ops["convert_layout"], ops["store"]
want("dot wavefronts per ldmatrix", d["smem_wavefronts"] / d["ldmatrix"], 4.0)
want("epilogue staging store wavefronts per request", c["smem_store_wavefronts"] / c["smem_store_requests"], 1.0)
loads = c["smem_requests"] - c["smem_store_requests"]
want("epilogue staging load wavefronts per request", (c["smem_wavefronts"] - c["smem_store_wavefronts"]) / loads, 4.0)
want("global store bytes per request", st["gmem_bytes"] / st["gmem_requests"], 512.0)
sys.exit(0 if ok else 1)
PY
fi
exit $fail
