#!/bin/sh
# Attention on sm_90a with Q, K and V tiles by TMA and O stored by TMA (attention's `tma` knob: each
# (batch, head) slice's base given as coordinates, so that one rank-4 tensor map per tensor
# addresses every slice: docs/hopper.md, "Attention by TMA"), on the simulator against the double
# reference, and through ptxas and nvdisasm when installed:
#   1. numerics: both layouts, GQA, ragged Sq and Sk (boxes partly and wholly past Sk), causal with
#      several row blocks and key tiles, LSE, padded rows, D = 40, 64, 128, 256, f16, bf16 and e4m3
#      (its P V on mma.sync: V is no wgmma operand, so the ring stays on cp.async), stages 2 and 3,
#      Sq = 1 and Sk = 1; 10 random variants a run;
#   2. what stays on cp.async: sm_80 (no TMA), and K and V with tiles of 32 rows per warp on sm_90a
#      (mma.sync; O is still stored by TMA);
#   3. the errors: strides that are not multiples of 16 bytes name the argument in one line; the
#      tuner's constraint refuses such variants; tma with 1 stage names the recipe line;
#   4. the PTX: rank-4 tensor-map lines for q, k, v and o, rank-4 bulk tensor loads and store, no
#      cp.async or global load; `--emit launch` lists the maps; ptxas accepts it with no spills; with
#      KILN_NVDISASM, UTMALDG.4D, UTMASTG.4D and HGMMA in the SASS.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
R=recipes/attention.lua
t() { # t LABEL SETTINGS...: tma=1 on the simulator, sm_90a
  label=$1; shift
  a=""; for s in "$@"; do a="$a --set $s"; done
  # shellcheck disable=SC2086
  "$KILN" run $R --sim --target sm_90a --set tma=1 $a > "$tmp/out" 2>&1 ||
    { echo "FAIL $label: $(tail -n 1 "$tmp/out")"; fail=1; return; }
  echo "ok   $label: $(sed -n 's/.* sim: \(max rel err .*\)/\1/p' "$tmp/out")"
}
. tests/sh/lib/hopper_cases.sh
attention_cases
t no-release B=1 H=4 Hkv=2 Sq=150 Sk=300 causal=1 lse=1 layout=bshd release=0
t no-release-d128 B=1 H=2 Hkv=1 Sq=20 Sk=200 D=128 release=0
"$KILN" run $R --sim --target sm_90a --set tma=1 --set dtype=e4m3 --set causal=1 --set H=4 --set Hkv=2 \
  --set Sq=37 --set Sk=45 --tol 0.07 > "$tmp/out" 2>&1 || { echo "FAIL e4m3: $(tail -n 1 "$tmp/out")"; fail=1; }
# 10 random variants (tile, warps, stages, type, layout, heads, ragged sizes, strides that are
# multiples of 16 bytes), fresh each run; the seed is printed to repeat one
seed=${KILN_TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "random variants: seed $seed (KILN_TEST_SEED repeats them)"
python3 tests/sh/lib/hopper_variants.py attention "$seed" 10 > "$tmp/variants"
while read -r v; do
  # shellcheck disable=SC2086
  "$KILN" run $R --sim --target sm_90a --set tma=1 $v > "$tmp/out" 2>&1 ||
    { echo "FAIL random variant $v: $(tail -n 1 "$tmp/out")"; fail=1; }
done < "$tmp/variants"

# the key tiles' stages go back to the copies by release mbarriers: a block passes the same barriers
# at any Sk (simulator counters; 16 when measured, 28 before the release at Sk = 1024); with
# release=0 one barrier a key tile stays
bars() { sk=$1; shift; "$KILN" run $R --sim --target sm_90a --set tma=1 --set H=1 --set Sq=128 --set Sk="$sk" "$@" --profile 2>&1 |
  sed -n 's/.* barriers \([0-9]*\),.*/\1/p'; }
b1=$(bars 128); b2=$(bars 1024)
if [ -n "$b1" ] && [ "$b1" = "$b2" ]; then echo "ok   barriers per block at Sk = 128 and 1024: $b1"
else echo "FAIL barriers per block at Sk = 128 and 1024: '$b1' '$b2' (a barrier per key tile?)"; fail=1; fi
b3=$(bars 1024 --set release=0)
if [ -n "$b3" ] && [ -n "$b1" ] && [ "$b3" -eq $((b1 + 6)) ]; then echo "ok   release=0: $b3 barriers at Sk = 1024 (one a key tile)"
else echo "FAIL release=0: '$b3' barriers at Sk = 1024, want $b1 + 6"; fail=1; fi
"$KILN" compile $R --target sm_90a --set tma=1 --emit ir-opt -o "$tmp/a.ir" || fail=1
[ "$(grep -c "mbar_arrive(" "$tmp/a.ir")" = 2 ] || { echo "FAIL no release arrivals in both key loops"; fail=1; }

# 2. what stays on cp.async (the knob changes nothing there)
"$KILN" run $R --sim --target sm_80 --set tma=1 --set Sq=40 --set Sk=70 > "$tmp/out" 2>&1 ||
  { echo "FAIL sm_80: $(tail -n 1 "$tmp/out")"; fail=1; }
"$KILN" compile $R --target sm_90a --set tma=1 --set BLOCK_M=64 --set warps=2 --emit ptx --no-cache -o "$tmp/r.ptx" ||
  fail=1
# (O's store by TMA does not need wgmma: only its map, argument 3)
! grep -q "kiln-tmap param=[0-9]* arg=[12] \|cp.async.bulk.tensor.*shared::cluster.global" "$tmp/r.ptx" ||
  { echo "FAIL K and V by TMA with 32 rows per warp (mma.sync)"; fail=1; }
grep -q "kiln-tmap param=23 arg=3 .* rank=4 " "$tmp/r.ptx" || { echo "FAIL O not stored by TMA with mma.sync"; fail=1; }

# 3. the errors
if "$KILN" run $R --sim --target sm_90a --set tma=1 --set D=20 > "$tmp/out" 2>&1 ||
  ! grep -q "argument 'q' (its TMA boxes need a tensor map): tensor map: stride of dimension 1 is 40 bytes" "$tmp/out" ||
  [ "$(grep -c . "$tmp/out")" != 1 ]; then
  echo "FAIL unaligned rows: $(cat "$tmp/out")"; fail=1
fi
if "$KILN" compile $R --target sm_90a --set tma=1 --set stages=1 --emit ptx -o "$tmp/x.ptx" > "$tmp/out" 2>&1 ||
  ! grep -q "attention.lua:[0-9]*: k.range: tma needs stages >= 2" "$tmp/out"; then
  echo "FAIL tma with 1 stage: $(cat "$tmp/out")"; fail=1
fi
# the tuner's constraint: a head dim of 20 (40-byte rows) is refused before anything compiles
"$KILN" tune $R --target sm_90a --sim --set tma=1 --set D=20 --set Sq=16 --set Sk=16 --set dtype=f16 \
  --space BLOCK_M=64 --space BLOCK_N=32 --space warps=4 --space stages=2 --space causal=0 --space lse=0 --space release=1 --space min_blocks=0 --space ws=0 --space pingpong=0 \
  --db "$tmp/t.db" > "$tmp/out" 2>&1
python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("select status, reason from results").fetchall()
assert r == [("refused", "tma needs strides of q, k, v and o that are multiples of 16 bytes (q has a stride of 40 bytes)")], r' \
  "$tmp/t.db" || { echo "FAIL the tuner's constraint: $(tail -n 3 "$tmp/out")"; fail=1; }

# the knobs that only mean something with tma are refused without it (the tuner's constraints)
"$KILN" tune $R --target sm_90a --sim --set Sq=16 --set Sk=16 --space BLOCK_M=64 --space BLOCK_N=32 \
  --space warps=4 --space stages=2 --space dtype=f16 --space D=64 --space causal=0 --space lse=0 --space tma=0 --space ws=0 --space pingpong=0 \
  --db "$tmp/k.db" > "$tmp/out" 2>&1
python3 -c 'import sqlite3, sys
r = sorted(sqlite3.connect(sys.argv[1]).execute("select variant, status, reason from results").fetchall())
assert len(r) == 6, r
refused = sorted(x[2] for x in r if x[1] == "refused")
assert refused == ["min_blocks = 2 only with tma"] + 3 * ["release = false only with tma"], r
assert [x[0] for x in r if x[1] != "refused"] == [x[0] for x in r if "min_blocks=2" not in x[0] and "release=1" in x[0]], r' \
  "$tmp/k.db" || { echo "FAIL the knobs refused without tma: $(tail -n 3 "$tmp/out")"; fail=1; }

# 4. the PTX and the launch description
"$KILN" compile $R --target sm_90a --set tma=1 --emit ptx --no-cache -o "$tmp/a.ptx" || fail=1
grep -q "^// kiln-tmap param=23 arg=0 type=f16 rank=4 swizzle=128 box=64,8,1,1 dims=64;" "$tmp/a.ptx" ||
  { echo "FAIL no rank-4 tensor-map line for q (8-row boxes: A's row groups)"; fail=1; }
for a in 1 2 3; do
  grep -q "^// kiln-tmap param=2[456] arg=$a type=f16 rank=4 swizzle=128 box=64,128,1,1 dims=64;" "$tmp/a.ptx" ||
    { echo "FAIL no rank-4 tensor-map line for argument $a"; fail=1; }
done
grep -q "cp.async.bulk.tensor.4d.shared::cluster.global" "$tmp/a.ptx" || { echo "FAIL no TMA load"; fail=1; }
grep -q "cp.async.bulk.tensor.4d.global.shared::cta" "$tmp/a.ptx" || { echo "FAIL no TMA store of O"; fail=1; }
! grep -q "cp.async.cg\|cp.async.ca\|ld.global" "$tmp/a.ptx" || { echo "FAIL Q, K or V by cp.async or loads"; fail=1; }
"$KILN" compile $R --target sm_90a --set tma=1 --emit launch -o "$tmp/launch.json" || fail=1
python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))["tensor_maps"]
assert [(x["arg"], x["box"], len(x["dims"]), len(x["strides"])) for x in m] == [(0, [64, 8, 1, 1], 4, 3)] + [(a, [64, 128, 1, 1], 4, 3) for a in (1, 2, 3)], m' \
  "$tmp/launch.json" || { echo "FAIL --emit launch: $(cat "$tmp/launch.json")"; fail=1; }
PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
if [ -n "$PTXAS" ]; then
  for D in 64 128; do
    "$KILN" compile $R --target sm_90a --set tma=1 --set D=$D --emit ptx --no-cache -o "$tmp/d.ptx" || fail=1
    "$PTXAS" -v -arch=sm_90a "$tmp/d.ptx" -o "$tmp/d.o" > "$tmp/v" 2>&1 || { echo "FAIL ptxas: $(cat "$tmp/v")"; fail=1; }
    grep -q " 0 bytes spill stores, 0 bytes spill loads" "$tmp/v" || { echo "FAIL spills D=$D: $(cat "$tmp/v")"; fail=1; }
    echo "sm_90a tma=1 D=$D: $(sed -n 's/.*\(Used [0-9]* registers\).*/\1/p' "$tmp/v" | head -n 1)"
  done
  if [ -n "${KILN_NVDISASM:-}" ] && [ -x "${KILN_NVDISASM:-}" ]; then
    "$KILN" compile $R --target sm_90a --set tma=1 --emit sass --no-cache -o "$tmp/a.sass" || fail=1
    for want in UTMALDG.4D UTMASTG.4D HGMMA.64x128x16.F32; do
      grep -q "$want" "$tmp/a.sass" || { echo "FAIL no $want in the SASS"; fail=1; }
    done
  fi
else
  echo "note: ptxas not installed: no resource check"
fi
# the counts that say what TMA buys (docs/hopper.md, "Attention by TMA"; static, not times): the
# warps that issue no boxes run 3.20 non-MMA instructions per m16n8 unit of work a key tile at D = 64
# with release=0 (3.48 on cp.async), and min_blocks=2 holds 128 registers there without spilling
. tests/sh/lib/budget.sh
if budget_tools; then
  "$KILN" inspect $R --target sm_90a --set tma=1 --set release=0 --set min_blocks=2 --no-cache > "$tmp/insp" 2>&1
  others=$(sed -n 's/.*the other warps: \([0-9.]*\) per m16n8.*/\1/p' "$tmp/insp")
  if [ -n "$others" ] && awk -v n="$others" 'BEGIN { exit !(n <= 3.3) }'; then
    echo "ok   budget of the other warps (D = 64, release=0): $others per m16n8 MMA of work (at most 3.3)"
  else
    echo "FAIL budget of the other warps: '${others}' per m16n8 MMA of work, more than 3.3: $(cat "$tmp/insp")"; fail=1
  fi
  grep -q "^registers: 128 per thread" "$tmp/insp" && grep -q " 0 bytes spill stores" "$tmp/insp" &&
    grep -q "2 blocks per SM" "$tmp/insp" ||
    { echo "FAIL min_blocks=2: not 128 registers, no spill, 2 blocks per SM: $(head -n 7 "$tmp/insp")"; fail=1; }
fi
exit $fail
