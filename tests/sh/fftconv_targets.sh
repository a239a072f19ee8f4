#!/bin/sh
# The long-convolution recipes (recipes/fftconv.lua, fftconv3.lua, fftconv4.lua and the spectrum
# recipes fftconv_kspec.lua, fftconv3_kspec.lua, fftconv4_kspec.lua) on every target row:
#   1. ptxas accepts (kiln compile --emit cubin) the defaults, the given-spectrum, gated, bf16 and
#      (with the spectrum recipe where the convolution fits: sm_75 N = 1024, sm_86 2048, sm_80 4096)
#      [B, N, H] (layout = bnh, orders 2 and 3) variants on every target that holds their types, N = 2048 (sm_80 up) and N = 4096 (sm_90a);
#      order 3 at N = 65536 (sm_80, sm_90a) and 262144 (sm_90a), order 4 at N = 4M (sm_80,
#      sm_90a; also layout = bnh), 512K (sm_86) and 512 (sm_75); the order-3 and order-4 spectra at
#      their defaults everywhere and at their consumers' longest N (2^18, 4M; 8 warps) on sm_80 and
#      sm_90a; without ptxas the PTX is still emitted;
#   2. what cannot be built is refused with one line naming the reason: bf16 on sm_75, N = 4096
#      with f32 twiddles over sm_80's shared memory, N = 4096 on sm_86's 100 KiB, N = 2048 on
#      sm_75's 64 KiB, a length that is
#      not a power of two, a split N1 the recipes cannot tile (the spectrum recipes too, naming
#      their own line);
#   3. ptxas -v reports no spills for every recipe's defaults on sm_80 .. sm_120a (also order 2 at
#      N = 2048, order 4 at 2048, order 2's layout = bnh at N = 16 .. 1024, and order 2 at N = 4096
#      with a given spectrum on sm_90a and sm_100a); on sm_80 and sm_90a also layout = bnh at N = 256
#      and 2048, the spectrum recipes (orders 3 and 4 also at N = 65536 and 4M with 8 warps), and
#      order 3 at N = 256, 2048 with 8 warps and 65536, and order 4 at N = 4M with 8 warps; orders
#      3 and 4 with layout = bnh at the defaults, 65536 and 4M);
#   4. the DFT products are matrix instructions: mma.sync in the PTX on sm_80 and sm_90a;
#   5. bench/fftconv.py --plan builds every variant the GPU benchmark would run (orders 2, 3, 4), on
#      sm_80 and sm_90a.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
[ -n "$PTXAS" ] || echo "note: ptxas not installed: PTX only, no spill report"
F=recipes/fftconv.lua
F3=recipes/fftconv3.lua
F4=recipes/fftconv4.lua
K3=recipes/fftconv3_kspec.lua
K4=recipes/fftconv4_kspec.lua

compile() { # compile RECIPE TARGET SETTINGS...
  r=$1 t=$2; shift 2
  sets=""; for s in "$@"; do sets="$sets --set $s"; done
  n=$((n + 1))
  emit=ptx; [ -n "$PTXAS" ] && emit=cubin
  # shellcheck disable=SC2086
  "$KILN" compile "$r" --target "$t" $sets --emit $emit -o "$tmp/k.$emit" > "$tmp/out" 2>&1 && return
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

# Spilled bytes (stores + loads) allowed: none, but for order 3 with layout = bnh and the gate on
# sm_90a, where ptxas holds the kernel at 128 registers (4 blocks an SM) and keeps four values
# computed before the channel loop in local memory across it (among them a 64-bit offset that the
# gate's load and the output's store share): stored once before the loop, loaded once after, 16
# bytes each way, since small tiles are spread over the threads (docs/codegen.md, the layout pass).
# A rule that kept at least 4 bytes a thread in small tiles gave 158 registers (3 blocks), no spill.
spill_limit() {
  case "$*" in
  "$F3 sm_90a layout=bnh gate=1") echo 32 ;;
  *) echo 0 ;;
  esac
}

no_spills() { # no_spills RECIPE TARGET SETTINGS...
  lim=$(spill_limit "$@")
  r=$1 t=$2; shift 2
  sets=""; for s in "$@"; do sets="$sets --set $s"; done
  # shellcheck disable=SC2086
  if ! "$KILN" compile "$r" --target "$t" $sets --emit ptx -o "$tmp/s.ptx" > "$tmp/out" 2>&1 ||
    ! "$PTXAS" -v -arch="$t" "$tmp/s.ptx" -o "$tmp/s.o" > "$tmp/v" 2>&1; then
    echo "FAIL spills $r $t $*: $(head -n 3 "$tmp/out" "$tmp/v")"; fail=1; return
  fi
  b=$(sed -n 's/.* \([0-9]*\) bytes spill stores, \([0-9]*\) bytes spill loads.*/\1 \2/p' "$tmp/v" |
    awk '{ s += $1 + $2 } END { if (NR) print s }')
  [ -n "$b" ] && [ "$b" -le "$lim" ] || { echo "FAIL spills $r $t $*: ${b:-no report} bytes (at most $lim)"; fail=1; }
}

# 1. every target
for t in sm_75 sm_80 sm_86 sm_89 sm_90a sm_100a sm_120a; do
  compile $F "$t"
  compile $F "$t" kspec=given gate=1
  [ "$t" = sm_75 ] || compile $F "$t" N=2048 kspec=given warps=8
  compile recipes/fftconv_kspec.lua "$t"
  compile $K3 "$t"
  compile $K4 "$t"
  compile $F3 "$t"
  compile $F3 "$t" N=2048 warps=8 gate=1
  [ "$t" = sm_75 ] || compile $F "$t" dtype=bf16 gate=1
  compile $F "$t" layout=bnh gate=1
  [ "$t" = sm_75 ] || compile $F3 "$t" dtype=bf16 N1=4 N2=8
  compile $F3 "$t" layout=bnh gate=1
  # order 3 with half = 1, its default from N = 1024 to 65536, and its spectrum recipe
  compile $F3 "$t" N=4096
  compile $K3 "$t" N=4096
  compile $F3 "$t" N=256 half=1 layout=bnh gate=1
  compile $F4 "$t" N=2048 half=1
  compile $K4 "$t" N=2048 half=1
done
compile $F sm_90a N=4096 tw=dtype kspec=given warps=8
compile $F sm_90a N=4096 tw=dtype warps=8
compile $F sm_80 N=4096 tw=dtype
# the spectrum recipe wherever the convolution that reads its spectrum fits (its twiddles made in
# registers: with them in shared memory it did not fit these three)
compile $F sm_75 N=1024 kspec=given
compile recipes/fftconv_kspec.lua sm_75 N=1024
compile $F sm_86 N=2048 kspec=given warps=8
compile recipes/fftconv_kspec.lua sm_86 N=2048
compile $F sm_80 N=4096 kspec=given tw=dtype warps=8
compile recipes/fftconv_kspec.lua sm_80 N=4096
for t in sm_80 sm_90a; do compile $F3 "$t" N=65536 warps=8; done
compile $F3 sm_90a N=262144 warps=8
compile $F3 sm_80 N=262144 warps=8 tw=dtype
compile $F3 sm_75 N=4096 warps=8
# half = 1 at the longest rows: the pairs' f32 exchange buffers and W beside the tables (sm_80 at
# 2^17 with tw = dtype; refused there with f32 twiddles, below)
compile $F3 sm_90a N=262144 warps=8 half=1
compile $F3 sm_80 N=131072 warps=8 half=1 tw=dtype
compile $F4 sm_90a N=4194304 warps=8 half=1
compile $F4 sm_80 N=4194304 warps=8 half=1 tw=dtype
for t in sm_80 sm_90a; do compile $F4 "$t" N=4194304 warps=8; compile $F4 "$t" N=4194304 warps=8 layout=bnh; done
compile $F4 sm_86 N=524288 warps=8 tw=dtype
compile $F4 sm_75 N=512
for t in sm_80 sm_90a; do compile $K3 "$t" N=262144 warps=8; compile $K4 "$t" N=4194304 warps=8; done
echo "$n fftconv compiles checked"

# 2. refusals, one line each
refuse "fft.lua:[0-9]*: op 'dot' needs bf16, which target sm_75 does not have" $F sm_75 dtype=bf16
refuse "shared memory: buffer .* does not fit: kernel @fftconv needs [0-9]* bytes, target sm_80 allows" $F sm_80 N=4096
refuse "shared memory: buffer .* does not fit: kernel @fftconv needs [0-9]* bytes, target sm_86 allows" $F sm_86 N=4096 tw=dtype
refuse "shared memory: buffer .* does not fit: kernel @fftconv needs [0-9]* bytes, target sm_75 allows 65536" $F sm_75 N=2048 kspec=given warps=8
refuse "fftconv.lua:[0-9]*: fftconv: N = 100 is not a power of two" $F sm_80 N=100
refuse "fftconv.lua:[0-9]*: fftconv: N1 = 2 must be a power of two from 4 to L/4 = 128" $F sm_80 N1=2
refuse "fftconv.lua:[0-9]*: fftconv: N1 = 256 must be a power of two from 4 to L/4 = 128" $F sm_80 N1=256
refuse "fftconv_kspec.lua:[0-9]*: fftconv_kspec: N = 48 is not a power of two" recipes/fftconv_kspec.lua sm_80 N=48
refuse "shared memory: buffer .* does not fit: kernel @fftconv3 needs [0-9]* bytes, target sm_75 allows 65536" $F3 sm_75 N=65536 warps=8
refuse "kernel 'fftconv3' needs [0-9]* bytes of shared memory per block.*target sm_80 allows" $F3 sm_80 N=262144 warps=8
refuse "fftconv3.lua:[0-9]*: fftconv3: N = 16 must be a power of two from 32 to 262144" $F3 sm_80 N=16
refuse "shared memory: buffer .* does not fit: kernel @fftconv3 needs [0-9]* bytes, target sm_80 allows" $F3 sm_80 N=131072 warps=8 half=1
refuse "fftconv3.lua:[0-9]*: fftconv3: N = 524288 must be a power of two from 32 to 262144" $F3 sm_80 N=524288
refuse "fftconv3.lua:[0-9]*: fftconv3: IB = 8 does not divide N1 = 4" $F3 sm_80 N=64 IB=8
refuse "fftconv3.lua:[0-9]*: fftconv3: IB = 2 needs half = 0 (the half-length row pairs its blocks)" $F3 sm_80 N=1024 IB=2
refuse "fftconv4.lua:[0-9]*: fftconv4: IB = 8 does not divide N2 = 4" $F4 sm_80 IB=8
refuse "fftconv4.lua:[0-9]*: fftconv4: N = 64 must be a power of two from 128 to 4194304" $F4 sm_80 N=64
refuse "fftconv4.lua:[0-9]*: fftconv4: N = 8388608 must be a power of two from 128 to 4194304" $F4 sm_80 N=8388608
refuse "fftconv4.lua:[0-9]*: fftconv4: N1 = 16, N2 = 16, N3 = 8: each a power of two, 4 or more, with N4 = L/(N1 N2 N3) >= 4 (L = 1024)" $F4 sm_80 N=512 N1=16 N2=16 N3=8
refuse "fftconv3.lua:[0-9]*: fftconv3: N1 = 16, N2 = 16: each a power of two, 4 or more, with N3 = L/(N1 N2) >= 4 (L = 512)" $F3 sm_80 N1=16 N2=16
refuse "fftconv3_kspec.lua:[0-9]*: fftconv3_kspec: N = 524288 must be a power of two from 32 to 262144" $K3 sm_80 N=524288
refuse "fftconv3_kspec.lua:[0-9]*: fftconv3_kspec: N = 48 must be a power of two from 32 to 262144" $K3 sm_80 N=48
refuse "fftconv3_kspec.lua:[0-9]*: fftconv3_kspec: N1 = 16, N2 = 16: each a power of two, 4 or more, with N3 = L/(N1 N2) >= 4 (L = 512)" $K3 sm_80 N1=16 N2=16
refuse "fftconv4_kspec.lua:[0-9]*: fftconv4_kspec: N = 64 must be a power of two from 128 to 4194304" $K4 sm_80 N=64
refuse "fftconv4_kspec.lua:[0-9]*: fftconv4_kspec: N1 = 16, N2 = 16, N3 = 8: each a power of two, 4 or more, with N4 = L/(N1 N2 N3) >= 4 (L = 1024)" $K4 sm_80 N=512 N1=16 N2=16 N3=8

# 3. no spills at the defaults
if [ -n "$PTXAS" ]; then
  for t in sm_80 sm_90a; do
    no_spills $F "$t"
    no_spills $F "$t" kspec=given dtype=bf16 gate=1
    no_spills $F "$t" N=2048 kspec=given warps=8
    no_spills $F "$t" layout=bnh gate=1
    no_spills $F "$t" N=2048 layout=bnh warps=8
    no_spills recipes/fftconv_kspec.lua "$t"
    no_spills $K3 "$t"
    no_spills $K4 "$t"
    no_spills $K3 "$t" N=65536 warps=8
    no_spills $K4 "$t" N=4194304 warps=8
    no_spills $F3 "$t"
    no_spills $F3 "$t" N=2048 warps=8
    no_spills $F3 "$t" N=65536 warps=8
    no_spills $F3 "$t" N=4096
    no_spills $K3 "$t" N=4096
    no_spills $F4 "$t" N=4194304 warps=8
    no_spills $F3 "$t" layout=bnh gate=1
    no_spills $F3 "$t" N=65536 warps=8 layout=bnh
    no_spills $F4 "$t" N=4194304 warps=8 layout=bnh
  done
  # every recipe's defaults on every target from sm_80 (ptxas's own register choice, 56 to 96,
  # spilled in fftconv4 and layout = bnh: their min_blocks defaults), the longer rows' defaults
  # where they fit (warps 8: inline spectrum from N = 2048, given at 4096), bnh's lengths
  for t in sm_80 sm_86 sm_89 sm_90a sm_100a sm_120a; do
    for r in $F $F3 $F4 recipes/fftconv_kspec.lua $K3 $K4; do no_spills $r "$t"; done
    no_spills $F4 "$t" N=2048
    no_spills $F "$t" N=2048
    for nn in 16 64 512 1024; do no_spills $F "$t" N=$nn layout=bnh kspec=given; done
    no_spills $F "$t" N=512 layout=bnh
  done
  no_spills $F sm_90a N=4096 kspec=given
  no_spills $F sm_100a N=4096 kspec=given
fi

# 4. matrix instructions in the PTX
for t in sm_80 sm_90a; do
  for r in $F $F3 $F4; do
    "$KILN" compile $r --target "$t" --emit ptx -o "$tmp/m.ptx" > "$tmp/out" 2>&1 || { echo "FAIL ptx $r $t"; fail=1; continue; }
    m=$(grep -c "mma.sync.aligned.m16n8k16" "$tmp/m.ptx")
    [ "$m" -gt 0 ] || { echo "FAIL $r $t: no m16n8k16 mma.sync in the PTX"; fail=1; }
    echo "ok   $r $t: $m mma.sync in the PTX"
  done
done

# 5.
for t in sm_80 sm_90a; do
  for o in 2 3 4; do
    if ! python3 bench/fftconv.py --plan --order $o --kiln "$KILN" --target $t > "$tmp/plan" 2>&1 ||
      grep -q "refuses" "$tmp/plan"; then
      echo "FAIL bench/fftconv.py --plan --order $o --target $t: $(grep -v ": fftconv[34]*, grid" "$tmp/plan" | head -n 5)"
      fail=1
    else
      echo "ok   bench/fftconv.py --plan --order $o --target $t: $(grep -c ": fftconv[34]*, grid" "$tmp/plan") launches"
    fi
  done
done
exit $fail
