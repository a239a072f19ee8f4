#!/bin/sh
# Attention on sm_90a with ping-pong (attention's `pingpong` knob on top of `ws`: the two consumer
# warpgroups of 8 warps take turns at their warpgroup MMAs, named barriers 2 and 3; docs/hopper.md,
# "Ping-pong"), on the simulator against the double reference, and through ptxas:
#   1. numerics: the TMA path's cases (tests/sh/lib/hopper_cases.sh: 8-warp ones take turns, the
#      4-warp ones have one consumer warpgroup and none), and 8 random ws variants with 8 warps;
#   2. the turns run: the simulator's barrier count grows by one release a turn of each warpgroup
#      (one a dot and key tile) and one for the last, at two key lengths;
#   3. the IR: `pingpong = 1` on the warp_split with 8 warps, none with 4;
#   4. the PTX: warpgroup 1's first arrive and warpgroup 0's last wait on barrier 2, a turn's wait and
#      arrive on run-time ids around each of the 4 warpgroup-MMA dots (both loops' two products);
#      ptxas without spills at D = 64 and 128;
#   5. the error: pingpong without ws, named by the recipe's k.range line.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
R=recipes/attention.lua
t() { # t LABEL SETTINGS...: tma=1 ws=1 pingpong=1 on the simulator, sm_90a
  label=$1; shift
  a=""; for s in "$@"; do a="$a --set $s"; done
  # shellcheck disable=SC2086
  "$KILN" run $R --sim --target sm_90a --set tma=1 --set ws=1 --set pingpong=1 $a > "$tmp/out" 2>&1 ||
    { echo "FAIL $label: $(tail -n 1 "$tmp/out")"; fail=1; return; }
  echo "ok   $label: $(sed -n 's/.* sim: \(max rel err .*\)/\1/p' "$tmp/out")"
}
. tests/sh/lib/hopper_cases.sh
attention_cases
seed=${KILN_TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "random variants: seed $seed (KILN_TEST_SEED repeats them)"
python3 tests/sh/lib/hopper_variants.py attention "$seed" 24 --ws | grep -- "--set warps=8 " | head -n 8 > "$tmp/variants"
while read -r v; do
  # shellcheck disable=SC2086
  "$KILN" run $R --sim --target sm_90a --set tma=1 --set ws=1 --set pingpong=1 $v > "$tmp/out" 2>&1 ||
    { echo "FAIL random variant $v: $(tail -n 1 "$tmp/out")"; fail=1; }
done < "$tmp/variants"
[ -s "$tmp/variants" ] || { echo "FAIL no 8-warp random variant"; fail=1; }

# 2. the turns, counted: D = 64 takes 128 x 128 tiles, two dots a key tile
bars() { "$KILN" run $R --sim --target sm_90a --set tma=1 --set ws=1 --set pingpong="$1" --set B=1 --set H=1 \
  --set Hkv=1 --set Sq=128 --set Sk="$2" --profile 2>&1 | sed -n 's/.* barriers \([0-9]*\),.*/\1/p'; }
for sk in 512 1024; do
  b0=$(bars 0 $sk); b1=$(bars 1 $sk); tiles=$((sk / 128))
  if [ -n "$b0" ] && [ -n "$b1" ] && [ "$b1" = $((b0 + 4 * tiles + 1)) ]; then
    echo "ok   barriers at Sk = $sk: $b0 -> $b1 (2 turns x 2 dots x $tiles key tiles + 1)"
  else
    echo "FAIL barriers at Sk = $sk: '$b0' -> '$b1', want + $((4 * tiles + 1))"; fail=1
  fi
done

# 3. the IR
"$KILN" compile $R --target sm_90a --set tma=1 --set ws=1 --set pingpong=1 --emit ir-opt -o "$tmp/a.ir" || fail=1
grep -q "warp_split() {pingpong = 1}" "$tmp/a.ir" || { echo "FAIL no warp_split {pingpong = 1}: $(grep warp_split "$tmp/a.ir")"; fail=1; }
"$KILN" compile $R --target sm_90a --set tma=1 --set ws=1 --set pingpong=1 --set BLOCK_M=64 --set warps=4 --emit ir-opt -o "$tmp/w4.ir" || fail=1
grep -q "warp_split() {$" "$tmp/w4.ir" ||
  { echo "FAIL 4 warps: $(grep warp_split "$tmp/w4.ir")"; fail=1; }

# 4. the PTX
PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
for D in 64 128; do
  "$KILN" compile $R --target sm_90a --set tma=1 --set ws=1 --set pingpong=1 --set D=$D --emit ptx --no-cache \
    -o "$tmp/d$D.ptx" || fail=1
  python3 - "$tmp/d$D.ptx" $D <<'PY' || fail=1
import re, sys
t = open(sys.argv[1]).read()
ok = True
def count(pat):
    return len(re.findall(pat, t, re.M))
for pat, want, what in [(r"^\s*bar\.arrive\s+2, 256;", 1, "warpgroup 1's first arrive at 2"),
                        (r"^\s*bar\.sync\s+2, 256;", 1, "warpgroup 0's last wait at 2"),
                        (r"^\s*bar\.sync\s+%r\d+, 256;", 4, "turn waits (4 dots)"),
                        (r"^\s*bar\.arrive\s+%r\d+, 256;", 4, "turn arrives (4 dots)"),
                        (r"^\s*wgmma\.commit_group", 4, "wgmma groups")]:
    n = count(pat)
    if n != want:
        print(f"FAIL D = {sys.argv[2]}: {n} {what}, want {want}"); ok = False
sys.exit(0 if ok else 1)
PY
  if [ -n "$PTXAS" ]; then
    "$PTXAS" -v -arch=sm_90a "$tmp/d$D.ptx" -o "$tmp/d.o" > "$tmp/v" 2>&1 || { echo "FAIL ptxas D = $D: $(cat "$tmp/v")"; fail=1; }
    grep -q " 0 bytes spill stores, 0 bytes spill loads" "$tmp/v" || { echo "FAIL spills D = $D: $(cat "$tmp/v")"; fail=1; }
    echo "sm_90a pingpong D = $D: $(sed -n 's/.*\(Used [0-9]* registers\).*/\1/p' "$tmp/v" | head -n 1)"
  fi
done
[ -n "$PTXAS" ] || echo "note: ptxas not installed: no resource check"

# 5. pingpong without ws: the k.range line
line=$(grep -n "m, l, acc = k.range(r\[1\], r\[2\], BN" $R | cut -d: -f1)
"$KILN" compile $R --target sm_90a --set tma=1 --set pingpong=1 --emit ir > "$tmp/out" 2>&1 &&
  { echo "FAIL pingpong without ws compiled"; fail=1; }
grep -q "recipes/attention.lua:$line: k.range: pingpong needs ws" "$tmp/out" ||
  { echo "FAIL pingpong without ws: $(tail -n 1 "$tmp/out")"; fail=1; }
exit $fail
