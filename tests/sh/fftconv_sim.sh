#!/bin/sh
# The long-convolution recipes on the simulator, beyond their `checks` (which recipes_sim.sh runs):
#   1. numerics against the FFTW reference (which itself agrees with the direct O(N^2) sum at
#      N <= 1024, or the reference fails): sm_75's m16n8k8 products, 1 and 8 warps, the most
#      oblong splits (N2 = 4, N1 = 4), every power of two N from 8 to 2048 (4096 is a check);
#      order 3 (recipes/fftconv3.lua) at N = 32 .. 4096, 16384 (a 32 x 32 x 32 split walked in
#      column blocks), and on sm_75; order 4 (recipes/fftconv4.lua) at N = 128 .. 4096 and 16384
#      (8 x 8 x 16 x 32: the structure of N = 4M's 32 x 64 x 64 x 64 at a size the simulator runs); layout = bnh ([B, N, H]) at N = 16 .. 4096 with ragged channel
#      blocks (H not a multiple of HB), gated and not, f16 and bf16, and for orders 3 (N = 32 ..
#      2048) and 4 (N = 128, 1024) the same way;
#   2. the products run on the tensor cores: the simulator's count of mma instructions is at least
#      what the 12 (kspec = given) or 18 products of each program need, ceil(M/16) ceil(N/8)
#      ceil(K/16) each (an FMA-lowered product would count none);
#   2b. layout = bnh reads and writes u, w, v, y in tiles whose lanes run along the channels: the
#      simulator's global sectors per request of each of those accesses is at most 9 for 16
#      channels of f16 (a lane per element would touch a sector each, 32 per request; the [B, H, N]
#      layout's loads of u take 17: the simulator has no 16-byte accesses, docs/profiling.md);
#   3. the reference refuses a recipe without its tensors, orders 3 and 4 (and half = 1) a spectrum of the wrong shape,
#      a kernel k whose shape does not match u's in the layout, and an unknown layout, with one
#      line naming them.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
F=recipes/fftconv.lua
run() { # run LABEL -- kiln run arguments...
  label=$1; shift 2
  "$KILN" run "$@" > "$tmp/out" 2>&1 || { echo "FAIL $label: $(cat "$tmp/out")"; fail=1; return; }
  cat "$tmp/out"
}

# 1.
run sm75 -- $F --sim --target sm_75 --set B=2 --set H=3 --set N=256 --set gate=1
run warps1 -- $F --sim --set B=1 --set H=3 --set N=128 --set warps=1 --set kspec=given
run warps8 -- $F --sim --set B=2 --set H=1 --set N=1024 --set warps=8 --set dtype=bf16
run tall -- $F --sim --set B=1 --set H=2 --set N=256 --set N1=128 --set gate=1
run wide -- $F --sim --set B=1 --set H=2 --set N=256 --set N1=4 --set dtype=bf16
for n in 8 16 32 64 128 256 512 1024 2048; do
  run "N=$n" -- $F --sim --set B=1 --set H=2 --set N=$n --set kspec=given
done
for n in 32 64 128 256 512 1024 2048 4096; do
  run "order 3 N=$n" -- recipes/fftconv3.lua --sim --set B=1 --set H=2 --set N=$n --set gate=$((n / 64 % 2))
done
for n in 128 256 512 1024 2048 4096; do
  run "order 4 N=$n" -- recipes/fftconv4.lua --sim --set B=1 --set H=2 --set N=$n --set gate=$((n / 256 % 2))
done
run "order 4 bf16 ragged" -- recipes/fftconv4.lua --sim --set B=3 --set H=1 --set N=256 --set dtype=bf16 --set N1=8 --set N2=4 --set N3=4
run "order 4 N=16384" -- recipes/fftconv4.lua --sim --set B=1 --set H=1 --set N=16384 --set warps=8 --set dtype=bf16
for n in 32 256 2048; do
  run "order 3 bnh N=$n" -- recipes/fftconv3.lua --sim --set B=2 --set H=5 --set N=$n --set layout=bnh --set HB=4 --set gate=$((n / 256 % 2))
done
run "order 3 bnh bf16 N=1024" -- recipes/fftconv3.lua --sim --set B=1 --set H=3 --set N=1024 --set layout=bnh --set HB=8 --set dtype=bf16 --set CN=64 --set gate=1
for n in 128 1024; do
  run "order 4 bnh N=$n" -- recipes/fftconv4.lua --sim --set B=1 --set H=6 --set N=$n --set layout=bnh --set HB=4 --set gate=$((n / 1024))
done
for n in 16 64 256 1024; do
  run "bnh N=$n" -- $F --sim --set B=2 --set H=5 --set N=$n --set layout=bnh --set HB=4 --set gate=$((n / 64 % 2))
done
run "bnh bf16 N=128" -- $F --sim --set B=1 --set H=9 --set N=128 --set layout=bnh --set HB=8 --set dtype=bf16 --set CN=64
run "bnh N=4096" -- $F --sim --set B=1 --set H=3 --set N=4096 --set layout=bnh --set HB=4 --set tw=dtype --set dtype=bf16 --set gate=1
run "order 3 N=16384" -- recipes/fftconv3.lua --sim --set B=1 --set H=1 --set N=16384
# order 3's half = 1 (the default from N = 1024 to 65536) where it is not the default, and half = 0
# where it is
for n in 64 256; do
  run "order 3 half N=$n" -- recipes/fftconv3.lua --sim --set B=2 --set H=2 --set N=$n --set half=1 --set gate=$((n / 256))
done
run "order 3 half bnh N=128" -- recipes/fftconv3.lua --sim --set B=2 --set H=5 --set N=128 --set half=1 --set layout=bnh --set HB=4 --set gate=1
run "order 3 half=0 N=2048" -- recipes/fftconv3.lua --sim --set B=1 --set H=2 --set N=2048 --set half=0 --set gate=1
run "order 3 half N=8192 8x16x64" -- recipes/fftconv3.lua --sim --set B=1 --set H=1 --set N=8192 --set N1=8 --set N2=16 --set dtype=bf16
# order 4's half = 1 (a knob): rows k1 and N1 - 1 - k1 of the middle level in pairs
for n in 256 1024 4096; do
  run "order 4 half N=$n" -- recipes/fftconv4.lua --sim --set B=1 --set H=2 --set N=$n --set half=1 --set gate=$((n / 1024 % 2))
done
run "order 4 half bnh bf16 N=512" -- recipes/fftconv4.lua --sim --set B=2 --set H=3 --set N=512 --set half=1 --set layout=bnh --set HB=4 --set dtype=bf16 --set gate=1
run "order 3 sm75" -- recipes/fftconv3.lua --sim --target sm_75 --set B=2 --set H=1 --set N=128 --set gate=1
run kspec-oblong -- recipes/fftconv_kspec.lua --sim --set H=2 --set N=256 --set N1=128

# 2. N = 256: L = 512 = 16 x 32, R = 8 data rows
mma_need() { # N1 N2 MODE: per program; single: forward of u and of k (real), inverse; given: forward
  # of u, inverse; pair: forward of k (real), of the two rows (complex), complex inverse; half (a
  # given spectrum, half = 1, on the split of M = N): forward of the packed row (complex), complex inverse
  awk -v n1="$1" -v n2="$2" -v mode="$3" 'function c(a, b) { return int((a + b - 1) / b) }
    function d(m, n, k) { return c(m, 16) * c(n, 8) * c(k, 16) }
    BEGIN { r = n1 / 2; fr = 2 * d(n1, n2, r) + 4 * d(n1, n2, n2); fc = 4 * d(n1, n2, r) + 4 * d(n1, n2, n2)
            ir = 4 * d(n1, n2, n2) + 2 * d(r, n2, n1); ic = 4 * d(n1, n2, n2) + 4 * d(r, n2, n1)
            print mode == "single" ? 2 * fr + ir : mode == "given" ? fr + ir : mode == "half" ? fc + ic : fr + fc + ic }'
}
# B = 2, H = 3: 6 programs, or 3 with two batch entries in each (pair, the default with kspec = inline);
# half (the default with kspec = given) on M = 256 = 16 x 16, at 2 warps (4 would hold each
# [16, 16] product twice); the others on L = 16 x 32 (N1 = 16 set: the default split is 32 x 16)
for v in "single 6 inline 0 0 4" "given 6 given 0 0 4" "pair 3 inline 1 0 4" "half 6 given 0 1 2"; do
  set -- $v
  "$KILN" run $F --sim --profile --set B=2 --set H=3 --set N=256 --set kspec=$3 --set pair=$4 --set half=$5 \
    --set warps=$6 --set N1=16 > "$tmp/p" 2>&1 || { echo "FAIL profile $1: $(cat "$tmp/p")"; fail=1; continue; }
  got=$(sed -n 's/^profile .* mma \([0-9]*\),.*/\1/p' "$tmp/p")
  if [ "$1" = half ]; then need=$(( $(mma_need 16 16 half) * $2 )); else need=$(( $(mma_need 16 32 $1) * $2 )); fi
  eval "mma_$1=${got:-0}"
  if [ -z "$got" ] || [ "$got" -lt "$need" ]; then
    echo "FAIL $1: ${got:-no} mma instructions for $2 programs, the products need $need"; fail=1
  else
    echo "ok   $1: $got mma instructions (the products need $need)"
  fi
done
# pairing: 2 L N1 + 4 L N2 multiply-adds a row instead of 2 L N1 + 8 L N2 (docs/fftconv.md)
if [ "$mma_pair" -gt 0 ] && [ $((mma_pair * 10)) -le $((mma_single * 6)) ]; then
  echo "ok   pair: $mma_pair mma instructions for the 6 rows, unpaired $mma_single"
else echo "FAIL pair: $mma_pair mma instructions for the 6 rows, unpaired $mma_single (want at most 60%)"; fail=1; fi
# half: 2 M N1 + 4 M N2 + ... on the split of M = N, a third of the given spectrum's unpaired
# products at N = 256 (docs/fftconv.md): at most 45% of them (and at least what its products need, above)
if [ "$mma_half" -gt 0 ] && [ $((mma_half * 100)) -le $((mma_given * 45)) ]; then
  echo "ok   half: $mma_half mma instructions for the 6 rows, unpaired with the given spectrum $mma_given"
else echo "FAIL half: $mma_half mma instructions for the 6 rows, unpaired with the given spectrum $mma_given (want at most 45%)"; fail=1; fi

# order 3 with half = 1: one twisted complex transform of length N instead of a real one of 2N, its
# blocks in pairs (fft.inner_pair_half): at N = 2048 (8 x 16 x 16 against 16 x 16 x 16) and 4096
# (16 x 16 x 16 against 16 x 16 x 32) at most 72% of half = 0's mma (66.7% and 71.4% when written)
# order 4 likewise at N = 2048 (4 x 8 x 8 x 8 against 8 x 8 x 8 x 8: 57.9% when written); both with
# one inner block a product (IB = 1, as the pairs take them: half = 0 stacks them by default)
for rn in 3:2048:72 3:4096:72 4:2048:62; do
  o=${rn%%:*}; rest=${rn#*:}; n=${rest%%:*}; pct=${rest#*:}
  for h in 0 1; do
    "$KILN" run recipes/fftconv$o.lua --sim --profile --set B=1 --set H=2 --set N=$n --set half=$h --set IB=1 > "$tmp/o3" 2>&1 ||
      { echo "FAIL order $o N=$n half=$h: $(tail -n 1 "$tmp/o3")"; fail=1; }
    eval "m3_$h=$(sed -n 's/.*, mma \([0-9]*\),.*/\1/p' "$tmp/o3" | head -n 1)"
  done
  if [ "${m3_1:-0}" -gt 0 ] && [ $((m3_1 * 100)) -le $((${m3_0:-0} * pct)) ]; then
    echo "ok   order $o half N=$n: $m3_1 mma instructions, half = 0 $m3_0"
  else echo "FAIL order $o half N=$n: ${m3_1:-none} mma instructions, half = 0 ${m3_0:-none} (want at most $pct%)"; fail=1; fi
done

# entries past B are not computed: B = 1 with 2 or 4 entries a program counts the mma of 1
mma_of() { "$KILN" run $F --sim --profile "$@" 2>/dev/null | sed -n 's/^profile .* mma \([0-9]*\),.*/\1/p'; }
m1=$(mma_of --set B=1 --set H=3 --set kspec=given --set entries=1)
for e in 2 4; do
  me=$(mma_of --set B=1 --set H=3 --set kspec=given --set entries=$e)
  if [ -n "$m1" ] && [ "$me" = "$m1" ]; then echo "ok   entries=$e at B = 1: $me mma, as with 1"
  else echo "FAIL entries=$e at B = 1: ${me:-no} mma, ${m1:-no} with 1 entry"; fail=1; fi
done

# 2a. no bank conflicts in the fused kernel's shared memory (wavefronts over the ideal, the
# simulator's counters: docs/fftconv.md, "Shared memory") wherever its products are matrix
# instructions: the default, both types, gating, twiddles in the data's type,
# 1 and 8 warps, oblong splits and N = 128 .. 4096 (below 128, and with N1 = 8 or N2 = 4, the
# products are too small for the matrix instructions and take the FMA path). At the recipe's own
# problem (B = 2, H = 3, N = 256) 2448 of 9888 wavefronts were conflicts before tiles went to and
# from shared memory in accesses of up to 16 bytes and 4-byte buffers took their own swizzle keys.
conflicts() { # conflicts LABEL -- kiln run arguments... (of recipe $R, default $F; at most $MAXC, default 0)
  label=$1; shift 2
  "$KILN" run ${R:-$F} --sim --profile "$@" > "$tmp/p" 2>&1 || { echo "FAIL profile $label: $(cat "$tmp/p")"; fail=1; return; }
  wf=$(sed -n 's/^profile .* smem [0-9]* requests, \([0-9]*\) wavefronts (\([0-9]*\) conflicts).*/\1 \2/p' "$tmp/p")
  set -- $wf
  if [ $# -ne 2 ] || [ "$2" -gt "${MAXC:-0}" ]; then
    echo "FAIL shared memory, $label: ${wf:-no profile} (wavefronts, conflicts), conflicts over ${MAXC:-0}"; fail=1
  else
    echo "ok   shared memory, $label: $1 wavefronts, $2 conflicts"
  fi
}
conflicts default -- --set B=3 --set H=2 --set N=256
conflicts "unpaired" -- --set B=1 --set H=4 --set N=256 --set pair=0
conflicts "bf16 gate" -- --set B=1 --set H=2 --set N=2048 --set dtype=bf16 --set gate=1
conflicts "tw dtype" -- --set B=1 --set H=1 --set N=4096 --set tw=dtype
conflicts "warps 1" -- --set B=1 --set H=2 --set N=512 --set warps=1
conflicts "warps 8" -- --set B=1 --set H=2 --set N=1024 --set warps=8 --set dtype=bf16
conflicts "tall" -- --set B=1 --set H=2 --set N=1024 --set N1=128
conflicts "wide" -- --set B=1 --set H=2 --set N=1024 --set N1=16
conflicts "N1=32" -- --set B=1 --set H=2 --set N=512 --set N1=32 --set gate=1
for n in 128 512; do conflicts "N=$n" -- --set B=1 --set H=2 --set N=$n; done
# layout "bnh" (its transposing tiles) and a given spectrum: 1024 and 768 conflicts before codegen
# chose each conversion's scratch arrangement by its counted wavefronts (docs/codegen.md)
conflicts "bnh" -- --set B=2 --set H=3 --set N=256 --set layout=bnh
conflicts "given" -- --set B=2 --set H=3 --set N=256 --set kspec=given
conflicts "given bnh" -- --set B=2 --set H=3 --set N=256 --set kspec=given --set layout=bnh
# N1 = 32: the [16, 16] products go to their store's rows inside the channel loop (768 conflicts
# through padded rows, 256 through the swizzled staging in steps of one chunk, none in steps of two)
conflicts "bnh N1=32" -- --set B=2 --set H=3 --set N=256 --set N1=32 --set layout=bnh
# half = 1 (the default with a given spectrum): the spectrum read back reversed (16-byte reads, the
# twisted transform's reversal having no exception), the given spectrum read by each use in its
# layout, and stores to strided views (even and odd samples) in the accumulator's layout
conflicts "half" -- --set B=2 --set H=3 --set N=256 --set half=1 --set warps=2
conflicts "half given bf16 gate" -- --set B=2 --set H=1 --set N=1024 --set kspec=given --set dtype=bf16 --set gate=1
conflicts "half given tw dtype" -- --set B=1 --set H=1 --set N=4096 --set kspec=given --set tw=dtype
conflicts "half given 8 warps" -- --set B=1 --set H=2 --set N=2048 --set kspec=given --set warps=8
conflicts "half given 1 warp" -- --set B=1 --set H=2 --set N=512 --set kspec=given --set warps=1 --set N1=8
# the unpaired kernel's given spectrum through shared memory (192 and 768 conflicts converted)
conflicts "given N=128" -- --set B=2 --set H=3 --set N=128 --set kspec=given
conflicts "given half=0 N=1024" -- --set B=1 --set H=2 --set N=1024 --set kspec=given --set half=0
conflicts "half given 4 entries bnh" -- --set B=4 --set H=6 --set N=256 --set kspec=given --set entries=4 --set layout=bnh --set HB=4
conflicts "half inline 2 entries" -- --set B=2 --set H=3 --set N=1024 --set half=1 --set entries=2
# the small split and orders 3 and 4 (docs/fftconv.md, "Shared memory"; in brackets the figures
# before the small products' staging went wide and conversions' rows were padded, before the
# counted choice of arrangement, and before the small products' predicated 16-byte stores, the
# widening casts of several uses and the 4-byte buffers' keys for mma_b reads)
conflicts "N1=8 (82008, 504, 282)" -- --set B=2 --set H=3 --set N=256 --set N1=8
# the smallest splits: N = 16 (4 x 8: K = 4 staged as rows of 8, each row with its zeros in one
# store; 12 conflicts before) and N = 32 and 64 with half = 1 (8 x 8: the twiddled f32 tile converted
# after its cast to f16, the tables read in their own layout; 156 and 240 before)
for n in 16 32; do conflicts "N=$n" -- --set B=2 --set H=3 --set N=$n; done
conflicts "N=64 half" -- --set B=2 --set H=3 --set N=64 --set half=1
R=recipes/fftconv3.lua conflicts "order 3 (49548, 4812, 2268)" -- --set B=2 --set H=3 --set N=256
# its inner blocks stacked (IB, docs/fftconv.md "Order 3's inner blocks together"): 3486 barriers
# and 3264 mma one block at a time, 240 and 1152 with the 8 blocks as one [64, 8] tile
b=$(sed -n 's/^profile .* barriers \([0-9]*\), mma \([0-9]*\),.*/\1 \2/p' "$tmp/p")
bars=${b%% *} mmas=${b##* }
if [ "${bars:-99999}" -gt 300 ] || [ "${mmas:-99999}" -gt 1300 ]; then echo "FAIL order 3 stacked: ${b:-no profile} (barriers, mma; at most 300, 1300)"; fail=1
else echo "ok   order 3 stacked: $bars barriers, $mmas mma"; fi
# order 3 with half = 1: the pairs' exchange (reversed reads of the f32 buffers), the twiddles read
# by each use in its layout (before: 6688 conflicts at N = 4096 with the twiddles converted)
for n in 256 512; do R=recipes/fftconv3.lua conflicts "order 3 half N=$n" -- --set B=1 --set H=2 --set N=$n --set half=1; done
# order 3's defaults where the old split put N2 = 8 (or 4) beside a larger N3 (fft.split3): 8 x 16 x 8
# at L = 1024 instead of 8 x 8 x 16 (7296 conflicts and 1162 to 1310 barriers at N = 512 and 1024),
# 4 x 8 x 8 at L = 256 (2944 conflicts at N = 128); at most 400 barriers at N = 512 and 1024
for n in 128 512 1024; do
  R=recipes/fftconv3.lua conflicts "order 3 N=$n" -- --set B=1 --set H=2 --set N=$n
  b=$(sed -n 's/^profile .* barriers \([0-9]*\),.*/\1/p' "$tmp/p")
  if [ "$n" -ge 512 ] && [ "${b:-99999}" -gt 400 ]; then echo "FAIL order 3 N=$n: ${b:-no} barriers (at most 400)"; fail=1
  else echo "ok   order 3 N=$n: $b barriers"; fi
done
for n in 1024 2048 4096; do R=recipes/fftconv4.lua conflicts "order 4 half N=$n" -- --set B=1 --set H=2 --set N=$n --set half=1; done
# order 4: the last 12 were the tables' stores at one line of fft.lua, two store_shared ops that
# shared a site (a simulator grouping; one site per op now, docs/profiling.md)
R=recipes/fftconv4.lua conflicts "order 4 (239628, 17676, 6828, 12)" -- --set B=2 --set H=3 --set N=512

# 2a. the reference's FFTW cross-check bounds its error by the row's scale too: with seed 53 the
# gated row 11 has an output of one small term, y[11, 0] = 3.3e-7, that FFTW (exact to the row's
# rounding) misses by 2.6e-16, 8e-10 of itself; the bound on the output's own terms alone failed
"$KILN" run $F --sim --seed 53 --set B=1 --set H=16 --set N=256 --set layout=bnh --set gate=1 > "$tmp/o" 2>&1 ||
  { echo "FAIL the FFTW cross-check at seed 53: $(tail -n 1 "$tmp/o")"; fail=1; }

# 2b. the accesses of u, w, v and y in layout bnh (found by their lines in recipes/lib/fft.lua)
"$KILN" run $F --sim --profile=json --set B=1 --set H=16 --set N=256 --set layout=bnh --set gate=1 \
  2> "$tmp/err" > "$tmp/p" || { echo "FAIL profile bnh: $(cat "$tmp/err")"; fail=1; }
FL=recipes/lib/fft.lua # the transposing tiles (fft.bnh_in, fft.bnh_out)
for t in u w v y; do
  l=$(grep -n -F "chan_view(k, a, p, a.$t)" $FL | head -n 1 | cut -d: -f1)
  got=$(python3 -c 'import json, sys
d = json.loads(open(sys.argv[1]).read())
ops = [o for o in d["ops"] if o["line"] == sys.argv[2] and o["gmem_requests"]]
print(max(o["gmem_sectors"] / o["gmem_requests"] for o in ops) if ops else "none")' "$tmp/p" "$FL:${l:-0}" 2>&1)
  case $got in
    none | *[!0-9.]*) echo "FAIL bnh access of $t ($FL:${l:-?}): $got"; fail=1 ;;
    *) if awk -v g="$got" 'BEGIN { exit !(g <= 9) }'; then echo "ok   bnh access of $t: $got sectors per request"
       else echo "FAIL bnh access of $t: $got sectors per request, over 9"; fail=1; fi ;;
  esac
done

# 3.
cat > "$tmp/bad.lua" <<'LUA'
local kiln = require "kiln"
return kiln.recipe {
  name = "bad", params = { n = 16 },
  args = { kiln.tensor("u", "f32", { "n" }, "in"), kiln.tensor("y", "f32", { "n" }, "out") },
  grid = function(p) return 1 end,
  reference = "fftconv",
  body = function(k, p) k.store(k.view(k.args.y, { 16 }), { 0 }, k.load(k.view(k.args.u, { 16 }), { 0 }, { 16 })) end,
}
LUA
if "$KILN" run "$tmp/bad.lua" --sim > "$tmp/out" 2>&1 || ! grep -q "fftconv: needs tensors u, y \[B, H, N\] (or \[B, N, H\]), k \[H, N\], kf, w, v" "$tmp/out"; then
  echo "FAIL the reference's refusal: $(cat "$tmp/out")"; fail=1
else
  echo "ok   refused: $(cat "$tmp/out")"
fi
cat > "$tmp/bad3.lua" <<'LUA'
local kiln = require "kiln"
return kiln.recipe {
  name = "bad3", params = { N = 32 },
  args = {
    kiln.tensor("u", "f32", { 1, 1, "N" }, "in"), kiln.tensor("k", "f32", { 1, "N" }, "in"),
    kiln.tensor("kf", "f32", { 1, 2, 2 }, "in"), kiln.tensor("w", "f32", { 1 }, "in"),
    kiln.tensor("v", "f32", { 1 }, "in"), kiln.tensor("y", "f32", { 1, 1, "N" }, "out"),
  },
  grid = function(p) return 1 end,
  reference = "fftconv3",
  body = function(k, p) end,
}
LUA
if "$KILN" run "$tmp/bad3.lua" --sim > "$tmp/out" 2>&1 || ! grep -q "fftconv3: needs kf \[H, 2 N1 N2, N3\]" "$tmp/out"; then
  echo "FAIL the order-3 reference's refusal: $(cat "$tmp/out")"; fail=1
else
  echo "ok   refused: $(cat "$tmp/out")"
fi
sed -e 's/name = "bad3", params = { N = 32 }/name = "bad4k", params = { N = 128 }/' -e 's/"fftconv3"/"fftconv4"/' \
  "$tmp/bad3.lua" > "$tmp/bad4k.lua"
if "$KILN" run "$tmp/bad4k.lua" --sim > "$tmp/out" 2>&1 || ! grep -q "fftconv4: needs kf \[H, 2 N1 N2 N3, N4\]" "$tmp/out"; then
  echo "FAIL the order-4 reference's refusal: $(cat "$tmp/out")"; fail=1
else
  echo "ok   refused: $(cat "$tmp/out")"
fi
# half = 1 with a given spectrum: kf on the split of N (an L-split kf is refused, naming it)
cat > "$tmp/badh.lua" <<'LUA'
local kiln = require "kiln"
return kiln.recipe {
  name = "badh", params = { N = 64, kspec = "given", half = 1 },
  args = {
    kiln.tensor("u", "f32", { 1, 1, "N" }, "in"), kiln.tensor("k", "f32", { 1, "N" }, "in"),
    kiln.tensor("kf", "f32", { 1, 16, 16 }, "in"), kiln.tensor("w", "f32", { 1 }, "in"),
    kiln.tensor("v", "f32", { 1 }, "in"), kiln.tensor("y", "f32", { 1, 1, "N" }, "out"),
  },
  grid = function(p) return 1 end,
  reference = "fftconv",
  body = function(k, p) end,
}
LUA
if "$KILN" run "$tmp/badh.lua" --sim > "$tmp/out" 2>&1 ||
   ! grep -q "fftconv: kspec = given with half = 1 needs kf \[H, 2 N1, N2\] (the split of N)" "$tmp/out"; then
  echo "FAIL the half reference's refusal: $(cat "$tmp/out")"; fail=1
else
  echo "ok   refused: $(cat "$tmp/out")"
fi
# the shapes the layouts need, and the layout's name
for c in "bnh 8 4:layout = bnh needs u, y \[B, N, H\] and k \[H, N\]" "bhn 4 8:needs u, y \[B, H, N\] and k \[H, N\]" \
  "bhw 4 8:layout must be bhn or bnh"; do
  set -- ${c%%:*}
  cat > "$tmp/bad4.lua" <<LUA
local kiln = require "kiln"
return kiln.recipe {
  name = "bad4", params = { layout = "$1" },
  args = {
    kiln.tensor("u", "f32", { 1, $2, $3 }, "in"), kiln.tensor("k", "f32", { 4, 4 }, "in"),
    kiln.tensor("kf", "f32", { 1, 1, 1 }, "in"), kiln.tensor("w", "f32", { 1 }, "in"),
    kiln.tensor("v", "f32", { 1 }, "in"), kiln.tensor("y", "f32", { 1, $2, $3 }, "out"),
  },
  grid = function(p) return 1 end,
  reference = "fftconv",
  body = function(k, p) end,
}
LUA
  if "$KILN" run "$tmp/bad4.lua" --sim > "$tmp/out" 2>&1 || ! grep -q "fftconv: ${c#*:}" "$tmp/out"; then
    echo "FAIL the reference's refusal of $1 [1, $2, $3]: $(cat "$tmp/out")"; fail=1
  else
    echo "ok   refused: $(cat "$tmp/out")"
  fi
done
exit $fail
