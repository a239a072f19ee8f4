#!/bin/sh
# The attention recipes on every target row:
#   1. ptxas accepts (kiln compile --emit cubin) the default variant of every head dim and every
#      dtype the target holds (bf16 needs sm_80+, e4m3 sm_89+), plus a causal, LSE-writing variant;
#      the flash-decoding pair at the smallest and largest head dim; without ptxas, the PTX is
#      still emitted.
#   2. What a target cannot hold is refused with one line naming the reason: bf16 on sm_75, e4m3
#      below sm_89, D=256 with 128x128 tiles on sm_75's 64 KiB of shared memory.
#   3. ptxas -v reports no spills for the default variant of every D and dtype on sm_80 and sm_90a,
#      and for attention's on sm_86, sm_89, sm_100a and sm_120a.
#   4. The defaults split the warps along the query rows only (both dots carry split = "rows" in
#      every D), and the simulator's counters of the key loop, taken as the difference between two
#      problems that differ only by whole key tiles (no masked tile): at most 2 barriers per key
#      tile, every shared-memory read an ldmatrix.x4 without bank conflicts (4 wavefronts per
#      request), no shared-memory store (P stays in registers; K and V arrive by cp.async).
#   5. The key loop's instruction budget (`kiln inspect`), where ptxas and nvdisasm are at hand.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
[ -n "$PTXAS" ] || echo "note: ptxas not installed: PTX only, no spill report"

compile() { # compile RECIPE TARGET SETTINGS...
  r=$1 t=$2; shift 2
  sets=""; for s in "$@"; do sets="$sets --set $s"; done
  n=$((n + 1))
  if [ -n "$PTXAS" ]; then
    # shellcheck disable=SC2086
    "$KILN" compile "$r" --target "$t" $sets --emit cubin -o "$tmp/k.cubin" > "$tmp/out" 2>&1 && return
  else
    # shellcheck disable=SC2086
    "$KILN" compile "$r" --target "$t" $sets --emit ptx -o "$tmp/k.ptx" > "$tmp/out" 2>&1 && return
  fi
  echo "FAIL $r $t $*: $(head -n 3 "$tmp/out")"; fail=1
}

refuse() { # refuse PATTERN RECIPE TARGET SETTINGS...
  pat=$1 r=$2 t=$3; shift 3
  sets=""; for s in "$@"; do sets="$sets --set $s"; done
  # shellcheck disable=SC2086
  if "$KILN" compile "$r" --target "$t" $sets --emit ptx -o "$tmp/k.ptx" > "$tmp/out" 2>&1; then
    echo "FAIL $r $t $*: compiled, should be refused"; fail=1; return
  fi
  if [ "$(wc -l < "$tmp/out")" -ne 1 ] || ! grep -q -- "$pat" "$tmp/out"; then
    echo "FAIL $r $t $*: want one line matching '$pat', got: $(cat "$tmp/out")"; fail=1; return
  fi
  echo "ok   refused $t $*: $(cat "$tmp/out")"
}

# Spill bytes (stores + loads) of a variant as ptxas -v reports them; empty on failure.
spills() { # spills RECIPE TARGET SETTINGS...
  r=$1 t=$2; shift 2
  sets=""; for s in "$@"; do sets="$sets --set $s"; done
  # shellcheck disable=SC2086
  "$KILN" compile "$r" --target "$t" $sets --emit ptx -o "$tmp/s.ptx" > "$tmp/out" 2>&1 || return
  "$PTXAS" -v -arch="$t" "$tmp/s.ptx" -o "$tmp/s.o" > "$tmp/v" 2>&1 || return
  sed -n 's/.* \([0-9]*\) bytes spill stores, \([0-9]*\) bytes spill loads.*/\1 \2/p' "$tmp/v" |
    awk '{ s += $1 + $2 } END { if (NR) print s }'
}

no_spills() { # no_spills RECIPE TARGET SETTINGS...
  b=$(spills "$@")
  if [ "$b" != 0 ]; then echo "FAIL spills $*: ${b:-ptxas failed} bytes: $(head -n 3 "$tmp/out" "$tmp/v")"; fail=1; fi
}

# 1. every target, every D, every dtype it holds
for t in sm_75 sm_80 sm_86 sm_89 sm_90a sm_100a sm_120a; do
  dtypes=f16
  case $t in sm_75) ;; sm_80|sm_86) dtypes="f16 bf16" ;; *) dtypes="f16 bf16 e4m3" ;; esac
  for dt in $dtypes; do
    for D in 64 128 256; do compile recipes/attention.lua "$t" "D=$D" "dtype=$dt"; done
    for D in 64 256; do
      compile recipes/attention_decode.lua "$t" "D=$D" "dtype=$dt"
      compile recipes/attention_decode_combine.lua "$t" "D=$D" "dtype=$dt"
    done
  done
  compile recipes/attention.lua "$t" D=128 causal=1 lse=1
done
echo "$n attention compiles checked"

# 2. refusals, one line each
refuse "attention.lua:[0-9]*: op 'dot' needs bf16, which target sm_75 does not have" \
  recipes/attention.lua sm_75 dtype=bf16
refuse "attention_decode.lua:[0-9]*: op 'dot' needs bf16, which target sm_75 does not have" \
  recipes/attention_decode.lua sm_75 dtype=bf16
refuse "attention.lua:[0-9]*: op 'dot' needs fp8 conversions, which target sm_86 does not have" \
  recipes/attention.lua sm_86 dtype=e4m3
refuse "needs [0-9]* bytes.*target sm_75 allows 65536" \
  recipes/attention.lua sm_75 D=256 BLOCK_M=128 BLOCK_N=128

# 3. no spills at the defaults on sm_80 and sm_90a
if [ -n "$PTXAS" ]; then
  for t in sm_80 sm_90a; do
    for dt in f16 bf16; do
      for D in 64 128 256; do
        no_spills recipes/attention.lua "$t" "D=$D" "dtype=$dt"
        no_spills recipes/attention_decode.lua "$t" "D=$D" "dtype=$dt"
        no_spills recipes/attention_decode_combine.lua "$t" "D=$D" "dtype=$dt"
      done
    done
    no_spills recipes/attention.lua "$t" D=128 causal=1 lse=1
  done
  # attention's defaults on the other targets (ptxas's register choice differs by target: min_blocks
  # defaults to 1 from sm_100, where it spilled 56 bytes at D = 64); e4m3 where its fp8 casts are
  # paired cvts, but not on sm_100a, which spills 8 to 80 bytes there (docs/attention.md)
  for t in sm_86 sm_89 sm_100a sm_120a; do
    case $t in sm_86|sm_100a) dtypes="f16 bf16" ;; *) dtypes="f16 bf16 e4m3" ;; esac
    for dt in $dtypes; do
      for D in 64 128 256; do no_spills recipes/attention.lua "$t" "D=$D" "dtype=$dt"; done
    done
    no_spills recipes/attention.lua "$t" D=64 causal=1
  done
fi
# 4. row split in the defaults; the key loop's counters on the simulator
for D in 64 128 256; do
  got=$("$KILN" compile recipes/attention.lua --target sm_80 --set D=$D --emit ir --no-cache 2>&1 | grep -c 'split = "rows"')
  [ "$got" = 4 ] && echo "ok   D=$D defaults: 4 dots with split = rows" ||
    { echo "FAIL D=$D defaults: $got dots with split = \"rows\", want 4 (2 per key loop)"; fail=1; }
done
# The counters of one run as "barriers smem_requests smem_wavefronts smem_store_requests ldmatrix".
counters() { # counters SETTINGS...
  sets=""; for s in "$@"; do sets="$sets --set $s"; done
  # shellcheck disable=SC2086
  "$KILN" run recipes/attention.lua --sim --profile=json $sets 2> "$tmp/err" | sed 's/"ops".*//' > "$tmp/j"
  for key in barriers smem_requests smem_wavefronts smem_store_requests ldmatrix; do
    sed -n "s/.*\"$key\": \([0-9]*\),.*/\1/p" "$tmp/j"
  done | tr '\n' ' '
}
for D in 64 128; do
  for dt in f16 bf16; do
    # one block of 128 query rows; 2 and 4 key tiles of 64 (the defaults' BLOCK_M and BLOCK_N at
    # D <= 128; 4 warps at D=64, 8 at D=128; 2 stages)
    a=$(counters D=$D dtype=$dt H=1 Sq=128 Sk=128) b=$(counters D=$D dtype=$dt H=1 Sq=128 Sk=256)
    # shellcheck disable=SC2086
    set -- $a $b
    if [ $# -ne 10 ]; then echo "FAIL D=$D $dt counters: '$a' '$b' $(head -n 2 "$tmp/err")"; fail=1; continue; fi
    bar=$((${6} - ${1})) req=$((${7} - ${2})) wf=$((${8} - ${3})) st=$((${9} - ${4})) ldm=$((${10} - ${5}))
    msg="D=$D $dt, 2 key tiles: barriers $bar, shared reads $req ($ldm ldmatrix), wavefronts $wf, shared stores $st"
    if [ $bar -le 4 ] && [ $req -eq $ldm ] && [ $wf -eq $((4 * req)) ] && [ $st -eq 0 ] && [ $ldm -gt 0 ]; then
      echo "ok   $msg"
    else echo "FAIL $msg (want <= 4 barriers, only ldmatrix.x4 at 4 wavefronts each, no stores)"; fail=1; fi
  done
done
# 5. the key loop's instruction budget (non-MMA SASS per MMA, a static count) where ptxas and
# nvdisasm are at hand: measured with ptxas 13.0 (docs/attention.md) at the defaults, 3.88 for D=64
# (128x64, 4 warps, 2 stages; Triton's forward on the same tile: 3.89), 2.84 for D=128 (128x64, 8
# warps, 2 stages; Triton 2.95) and 3.00 for D=256 (64x32) on sm_80; on sm_90a, per m16n8 MMA of work
# (both products are wgmma there, P from registers: an HGMMA.64x64x16 counts 8), 3.49 for D=64 (its
# default tile there: 128x128, 8 warps; Triton's forward on the same tile 3.60; 4.16 with sm_80's
# 128x64 on mma.sync), 2.62 for D=128 (Triton 2.92; 3.15 with mma.sync only) and 2.95 for D=256; 5.88 and 3.70 for the former defaults (64x32 at D=64 and
# D=128, 32 MMA per warp per key tile against the softmax of 16 scores a thread). The limits leave
# ptxas's register allocation a little room and catch a lost fold or a doubled copy.
. tests/sh/lib/budget.sh
if budget_tools; then
  budget recipes/attention.lua sm_80 3.95 D=64 Sq=4096 Sk=4096
  budget recipes/attention.lua sm_80 3.0 D=128 Sq=4096 Sk=4096
  budget recipes/attention.lua sm_80 3.1 D=256 Sq=4096 Sk=4096
  budget recipes/attention.lua sm_90a 3.55 D=64 Sq=4096 Sk=4096
  budget recipes/attention.lua sm_90a 2.75 D=128 Sq=4096 Sk=4096
  budget recipes/attention.lua sm_90a 3.05 D=256 Sq=4096 Sk=4096
  budget recipes/attention.lua sm_80 6.1 D=64 BLOCK_M=64 BLOCK_N=32 stages=1
fi
exit $fail
