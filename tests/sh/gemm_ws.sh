#!/bin/sh
# GEMM on sm_90a with warp specialisation (matmul's `ws` knob on top of `tma`: k.range {ws = true};
# compiler/passes/pipeline.c's warp_split, codegen/lower_control.c, the simulator's named barriers):
#   1. numerics on the simulator against the double reference: the TMA ring's variants (B both
#      ways, rows of 64 to 256 bytes, one and two consumer warpgroups, stages 2 to 5, ragged edges,
#      one k-step, bf16 with an epilogue, e4m3, i8, inflight, 128 x 256 with setmaxnreg) and 16
#      random variants; where the dot is not wgmma (trans_a) or the target has no TMA (sm_80) the
#      knob changes nothing and the kernel still passes;
#   2. the IR: one warp_split, the producer's loop (the elected release wait, the TMA copies), the
#      consumers' loop without copies, release mbarriers counting the consumers only;
#   3. the PTX: 4 more warps (.maxntid), consumer barriers `bar.sync 1, N` and one block barrier (the
#      mbarriers' initialisation), setmaxnreg only where the accumulators need more than the entry's
#      registers (128 x 256 with 8 warps: 56 / 224);
#   4. ptxas: no spills; with nvdisasm the consumers' loop within its budget and no elected block in it;
#   5. a block passes the same barriers at any K (no barrier per k-step).
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
R=recipes/matmul.lua
t() { # t LABEL SETTINGS...: tma=1 ws=1 on the simulator, sm_90a
  label=$1; shift
  a=""; for s in "$@"; do a="$a --set $s"; done
  # shellcheck disable=SC2086
  "$KILN" run $R --sim --target sm_90a --set tma=1 --set ws=1 $a > "$tmp/out" 2>&1 ||
    { echo "FAIL $label: $(tail -n 1 "$tmp/out")"; fail=1; }
}
. tests/sh/lib/hopper_cases.sh
gemm_cases
t setmaxnreg-128x256 BLOCK_N=256 M=136 N=264 K=200
"$KILN" run $R --sim --target sm_80 --set tma=1 --set ws=1 --set M=70 --set N=64 --set K=96 > "$tmp/out" 2>&1 ||
  { echo "FAIL sm_80: $(tail -n 1 "$tmp/out")"; fail=1; }

seed=${KILN_TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "random variants: seed $seed (KILN_TEST_SEED repeats them)"
python3 tests/sh/lib/hopper_variants.py gemm "$seed" 16 --ws > "$tmp/variants"
while read -r v; do
  # shellcheck disable=SC2086
  "$KILN" run $R --sim --target sm_90a --set tma=1 --set ws=1 $v > "$tmp/out" 2>&1 ||
    { echo "FAIL random variant $v: $(tail -n 1 "$tmp/out")"; fail=1; }
done < "$tmp/variants"

# the IR after the passes
"$KILN" compile $R --target sm_90a --set tma=1 --set ws=1 --emit ir-opt -o "$tmp/w.ir" || fail=1
[ "$(grep -c "warp_split()" "$tmp/w.ir")" = 1 ] || { echo "FAIL not one warp_split"; fail=1; }
python3 - "$tmp/w.ir" <<'PY' || fail=1
import sys
lines = open(sys.argv[1]).read().split("\n")
start = next(i for i, l in enumerate(lines) if "warp_split()" in l)
other = next(i for i, l in enumerate(lines) if l.strip() == "} else {" and i > start)
prod, cons = "\n".join(lines[start:other]), "\n".join(lines[other:])
ok = True
for want, where, text in [("{elected = 1}", "producer", prod), ("{tma = 1}", "producer", prod),
                          ("mbar_arrive(", "consumers", cons), ("store_tma(", "consumers", cons)]:
    if want not in text:
        print(f"FAIL no '{want}' in the {where}' region"); ok = False
for unwanted, where, text in [("copy(", "consumers", cons), ("barrier()", "producer", prod),
                              ("tile<", "producer", prod)]:
    if unwanted in text:
        print(f"FAIL '{unwanted}' in the {where}' region"); ok = False
head = "\n".join(lines[:start])
if "{count = 256}" not in head:  # the release mbarriers: the 8 consumer warps' threads
    print("FAIL release mbarriers not counting the 256 consumer threads"); ok = False
sys.exit(0 if ok else 1)
PY

ptx() { # ptx FILE SETTINGS...
  f=$1; shift
  a=""; for s in "$@"; do a="$a --set $s"; done
  # shellcheck disable=SC2086
  "$KILN" compile $R --target sm_90a --set tma=1 --set ws=1 $a --emit ptx --no-cache -o "$tmp/$f" || fail=1
}
ptx d.ptx
ptx n256.ptx BLOCK_N=256
ptx w4.ptx warps=4 BLOCK_M=64
grep -q "^.maxntid 384" "$tmp/d.ptx" || { echo "FAIL 8 consumer warps: not 384 threads"; fail=1; }
grep -q "^.maxntid 256" "$tmp/w4.ptx" || { echo "FAIL 4 consumer warps: not 256 threads"; fail=1; }
grep -q "bar.sync 	1, 256;" "$tmp/d.ptx" || { echo "FAIL no consumer barrier bar.sync 1, 256"; fail=1; }
grep -q "bar.sync 	1, 128;" "$tmp/w4.ptx" || { echo "FAIL no consumer barrier bar.sync 1, 128"; fail=1; }
[ "$(grep -c "bar.sync 	0;" "$tmp/d.ptx")" = 1 ] || { echo "FAIL more than the one block barrier"; fail=1; }
! grep -q setmaxnreg "$tmp/d.ptx" || { echo "FAIL setmaxnreg at the default tile (64 accumulators a thread)"; fail=1; }
grep -q "setmaxnreg.dec.sync.aligned.u32 	56;" "$tmp/n256.ptx" &&
  grep -q "setmaxnreg.inc.sync.aligned.u32 	224;" "$tmp/n256.ptx" &&
  grep -q "^.minnctapersm 1" "$tmp/n256.ptx" || { echo "FAIL 128 x 256: no setmaxnreg 56 / 224 under .minnctapersm 1"; fail=1; }

# setmaxnreg never asks for more than the block's registers at entry (an inc beyond them never
# completes on the GPU): dec x 128 + inc x 32 warps <= entry x threads, entry = the register file
# over .minnctapersm blocks of .maxntid threads, at most 255, a multiple of 8
ptx mb2.ptx min_blocks=2
ptx mb2n256.ptx min_blocks=2 BLOCK_N=256
for f in n256 mb2 mb2n256; do
  python3 - "$tmp/$f.ptx" <<'PY' || { echo "FAIL setmaxnreg budget in $f"; fail=1; }
import re, sys
t = open(sys.argv[1]).read()
threads = int(re.search(r"^\.maxntid (\d+)", t, re.M).group(1))
blocks = int(re.search(r"^\.minnctapersm (\d+)", t, re.M).group(1))
dec = int(re.search(r"setmaxnreg\.dec\.sync\.aligned\.u32\s+(\d+);", t).group(1))
inc = int(re.search(r"setmaxnreg\.inc\.sync\.aligned\.u32\s+(\d+);", t).group(1))
entry = min(255, 65536 // (blocks * threads)) // 8 * 8
ok = dec * 128 + inc * (threads - 128) <= entry * threads and inc > entry
print(("ok  " if ok else "FAIL") + f" setmaxnreg {dec}/{inc} for {threads} threads, {blocks} a SM: entry {entry}")
sys.exit(0 if ok else 1)
PY
done

# no barrier per k-step: the same count at K = 128 and 1024 (simulator counters)
bars() { "$KILN" run $R --sim --target sm_90a --set tma=1 --set ws=1 --set M=128 --set N=128 --set K="$1" --profile 2>&1 |
  sed -n 's/.* barriers \([0-9]*\),.*/\1/p'; }
b1=$(bars 128); b2=$(bars 1024)
if [ -n "$b1" ] && [ "$b1" = "$b2" ]; then echo "ok   barriers per block at K = 128 and 1024: $b1"
else echo "FAIL barriers per block at K = 128 and 1024: '$b1' '$b2'"; fail=1; fi

PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
if [ -n "$PTXAS" ]; then
  for f in d n256 w4; do
    "$PTXAS" -v -arch=sm_90a "$tmp/$f.ptx" -o "$tmp/$f.o" > "$tmp/v" 2>&1 || { echo "FAIL ptxas $f: $(cat "$tmp/v")"; fail=1; }
    grep -q " 0 bytes spill stores, 0 bytes spill loads" "$tmp/v" || { echo "FAIL spills $f: $(cat "$tmp/v")"; fail=1; }
    echo "sm_90a ws=1 $f: $(sed -n 's/.*\(Used [0-9]* registers\).*/\1/p' "$tmp/v" | head -n 1)"
  done
  # where the registers cannot hold the tile, ptxas's cause is the message (not its closing line)
  if "$KILN" inspect $R --target sm_90a --set tma=1 --set ws=1 --set min_blocks=2 > "$tmp/out" 2>&1 ||
    ! grep -q "^ptxas rejected the PTX: ptxas fatal *: (C7602) Insufficient registers (80)" "$tmp/out"; then
    echo "FAIL ws min_blocks=2 at 128 x 128: $(head -n 2 "$tmp/out")"; fail=1
  fi
else
  echo "note: ptxas not installed: no resource check"
fi
# the consumers' loop: 56 instructions a k-step when measured, 0.81 per m16n8 unit of work at the
# default tile (3.53 without ws: 161 of them the elected lane's issue block), 0.41 at 128 x 256
. tests/sh/lib/budget.sh
if budget_tools; then
  budget $R sm_90a 0.9 tma=1 ws=1 M=4096 N=4096 K=4096
  ! grep -q "elected lane" "$tmp/insp" || { echo "FAIL an elected block in the consumers' loop: $(cat "$tmp/insp")"; fail=1; }
  budget $R sm_90a 0.45 tma=1 ws=1 BLOCK_N=256 M=4096 N=4096 K=4096
fi
exit $fail
