#!/bin/sh
# The persistent GEMM (matmul's `programs` knob: a grid of min(tiles, programs) programs, each looping
# over tiles q, q + P, ...; compiler/passes/pipeline.c keeps the TMA ring and its mbarriers alive
# across the tile loop where it splits the kernel at it):
#   1. numerics on the simulator against the double reference, with few programs so that each runs
#      several tiles: the sm_90a cases of the TMA ring (tests/sh/lib/hopper_cases.sh) with ws = 1,
#      with ws = 0 (the ring rebuilt per tile), on cp.async (sm_80, sm_90a without tma) and mma.sync,
#      a program count above the tile count, and 8 random ws variants;
#   2. the IR with ws: one warp_split; the producer runs its own tile loop around its k-loop, both
#      carrying the ring's count; the mbarriers are initialised once, before the split; the
#      consumers' epilogue stores by TMA from a buffer of its own after a barrier;
#   3. the launch rules: the grid traced for a pack is min(tiles, programs) (`min`), and a program
#      count below 1 is refused with the grid rule's line;
#   4. ptxas: no spills at the default tile with ws; with nvdisasm the consumers' k-loop within its
#      budget (the stages picked by turn, not rotated through the tile loop).
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
R=recipes/matmul.lua
BASE="--set tma=1 --set ws=1"
TARGET=sm_90a
t() { # t LABEL SETTINGS...: on the simulator with $BASE on $TARGET, 2 programs (3 where set)
  label=$1; shift
  a="--set programs=2"; for s in "$@"; do a="$a --set $s"; done
  # shellcheck disable=SC2086
  "$KILN" run $R --sim --target $TARGET $BASE $a > "$tmp/out" 2>&1 ||
    { echo "FAIL $label ($TARGET$BASE): $(tail -n 1 "$tmp/out")"; fail=1; }
}
. tests/sh/lib/hopper_cases.sh
gemm_cases
t three-programs programs=3 M=300 N=264 K=200 BLOCK_M=64 BLOCK_N=64 warps=4 BLOCK_K=32
t inflight-tiles programs=3 inflight=1 stages=3 M=300 N=264 K=200 BLOCK_M=64 BLOCK_N=64 warps=4
t more-programs-than-tiles programs=7 M=130 N=64 K=80
BASE="--set tma=1 --set ws=0"
gemm_cases
BASE="--set tma=0"
t cp-async M=300 N=264 K=200 BLOCK_M=64 BLOCK_N=64 warps=4 BLOCK_K=32 stages=3
t cp-async-epilogue dtype=bf16 out=f32 M=65 N=136 K=80 bias=1 act=relu
TARGET=sm_80
t sm80 M=300 N=264 K=200 BLOCK_M=64 BLOCK_N=64 warps=4 BLOCK_K=32 stages=4
t sm80-i8 dtype=i8 out=i32 M=90 N=72 K=160 BLOCK_M=32 BLOCK_N=32 warps=2
TARGET=sm_75
t sm75 M=100 N=70 K=33 BLOCK_M=32 BLOCK_N=32 warps=2 stages=1

seed=${KILN_TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "random variants: seed $seed (KILN_TEST_SEED repeats them)"
python3 tests/sh/lib/hopper_variants.py gemm "$seed" 8 --ws > "$tmp/variants"
n=0
while read -r v; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  if ! "$KILN" run $R --sim --target sm_90a --set tma=1 --set ws=1 --set programs=$((n % 3 + 1)) $v > "$tmp/out" 2>&1; then
    # C's staging buffer cannot reuse the ring's bytes across tiles: a ring that filled the shared
    # memory alone is refused, in one line naming the buffer (the tuner records such a variant)
    if grep -q "shared memory: buffer .* does not fit: kernel @matmul needs" "$tmp/out"; then
      echo "ok   random variant programs=$((n % 3 + 1)) $v: refused: $(grep -o "shared memory: buffer .*" "$tmp/out" | head -n 1)"
    else
      echo "FAIL random variant programs=$((n % 3 + 1)) $v: $(tail -n 1 "$tmp/out")"; fail=1
    fi
  fi
done < "$tmp/variants"

# the IR after the passes
"$KILN" compile $R --target sm_90a --set tma=1 --set ws=1 --set programs=132 --emit ir-opt -o "$tmp/p.ir" || fail=1
python3 - "$tmp/p.ir" <<'PY' || fail=1
import sys
lines = open(sys.argv[1]).read().split("\n")
ok = True
def check(cond, what):
    global ok
    if not cond:
        print("FAIL " + what); ok = False
starts = [i for i, l in enumerate(lines) if "warp_split()" in l]
check(len(starts) == 1, f"{len(starts)} warp_splits, want 1")
start = starts[0]
other = next(i for i, l in enumerate(lines) if l.strip() == "} else {" and i > start)
head, prod, cons = lines[:start], lines[start:other], lines[other:]
depth = lambda part: sum(1 for l in part if " = for(" in l or l.strip().startswith("for("))
check(depth(prod) == 2, f"the producer holds {depth(prod)} loops, want its tile loop and its k-loop")
check(depth(cons) == 2, f"the consumers hold {depth(cons)} loops, want the tile loop and the k-loop")
check(sum("mbar_init(" in l for l in head) >= 6 and not any("mbar_init(" in l for l in prod + cons),
      "the mbarriers are not initialised once before the split")
check(any("{elected = 1}" in l for l in prod) and any("{tma = 1}" in l for l in prod),
      "no elected release wait and TMA copies in the producer")
check(not any("copy(" in l for l in cons), "copies in the consumers")
st = next((i for i, l in enumerate(cons) if "store_shared(" in l), None)
check(st is not None and "barrier()" in cons[st - 1] and any("store_tma(" in l for l in cons[st:]),
      "the epilogue is not barrier(), store_shared, store_tma in the tile loop")
check(sum("mbar_inval(" in l for l in cons) >= 6, "no invalidation after the tile loop")
sys.exit(0 if ok else 1)
PY

# the launch rules of a pack: min(tiles, programs)
"$KILN" pack $R --targets sm_90a --set tma=1 --set ws=1 --set programs=132 --no-cubin -o "$tmp/p.kpack" > "$tmp/out" 2>&1 ||
  { echo "FAIL pack: $(tail -n 3 "$tmp/out")"; fail=1; }
if [ -f "$tmp/p.kpack" ]; then
  grep -a "^grid" "$tmp/p.kpack" | head -n 1 > "$tmp/grid"
  grep -q "	\$[0-9] 128 cdiv \$[0-9] 128 cdiv \* 132 min	1	1$" "$tmp/grid" ||
    { echo "FAIL pack grid: '$(cat "$tmp/grid")'"; fail=1; }
fi
# a program count below 1: the grid rule refuses it, naming its line
line=$(grep -n "^  grid = function(p)" $R | cut -d: -f1)
"$KILN" run $R --sim --target sm_90a --set programs=-1 > "$tmp/out" 2>&1 && { echo "FAIL programs=-1 ran"; fail=1; }
grep -q "recipes/matmul.lua:$line: grid(p) gives -1 programs on axis 0" "$tmp/out" ||
  { echo "FAIL programs=-1: $(tail -n 1 "$tmp/out")"; fail=1; }

PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
if [ -n "$PTXAS" ]; then
  for s in "" "BLOCK_N=256"; do
    a="--set programs=132"; [ -n "$s" ] && a="$a --set $s"
    # shellcheck disable=SC2086
    "$KILN" compile $R --target sm_90a --set tma=1 --set ws=1 $a --emit ptx --no-cache -o "$tmp/p.ptx" || fail=1
    "$PTXAS" -v -arch=sm_90a "$tmp/p.ptx" -o "$tmp/p.o" > "$tmp/v" 2>&1 || { echo "FAIL ptxas $s: $(cat "$tmp/v")"; fail=1; }
    grep -q " 0 bytes spill stores, 0 bytes spill loads" "$tmp/v" || { echo "FAIL spills $s: $(cat "$tmp/v")"; fail=1; }
    echo "sm_90a ws=1 programs=132 $s: $(sed -n 's/.*\(Used [0-9]* registers\).*/\1/p' "$tmp/v" | head -n 1)"
  done
else
  echo "note: ptxas not installed: no resource check"
fi
# the consumers' k-loop picks its stages by turn (codegen/lower_control.c, rotation_period): 0.75
# non-MMA instructions per m16n8 unit at the default tile (0.91 with the stages rotated through the
# tile loop's phis too; 0.81 without programs), 0.38 at 128 x 256
. tests/sh/lib/budget.sh
if budget_tools; then
  budget $R sm_90a 0.8 tma=1 ws=1 programs=132 M=4096 N=4096 K=4096
  budget $R sm_90a 0.4 tma=1 ws=1 programs=132 BLOCK_N=256 M=4096 N=4096 K=4096
fi
exit $fail
