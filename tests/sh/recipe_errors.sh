#!/bin/sh
# Broken recipes (tests/recipes_bad/*.lua) make `kiln compile --emit ir` exit non-zero with ONE line
# on stderr: "FILE:LINE: message", as each file's first line ("-- expect: LINE: message") says; a
# second line "-- flags: ..." gives more options (a short time limit, a small memory cap).
# Unknown or malformed --set names are refused the same way, naming the name and the parameters.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check NAME WANT -- command...
  name=$1 want=$2; shift 3
  "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?
  got=$(cat "$tmp/err"); lines=$(wc -l < "$tmp/err")
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fail=1
  elif [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines lines on stderr: $got"; fail=1
  elif [ "$got" != "$want" ]; then printf 'FAIL %s:\n  got  %s\n  want %s\n' "$name" "$got" "$want"; fail=1
  else echo "ok   $name: $got"; fi
}
n=0
for f in tests/recipes_bad/*.lua; do
  case $f in */stale.lua) continue ;; esac # fails on a second build only: tests/unit/test_recipes.c
  exp=$(head -n 1 "$f"); exp=${exp#-- expect: }
  line=${exp%%: *}; msg=${exp#*: }
  if [ "$line" = "-" ]; then want="$f: $msg"; else want="$f:$line: $msg"; fi
  flags=$(sed -n '2s/^-- flags: //p' "$f")
  # shellcheck disable=SC2086 # flags are words
  check "$(basename "$f" .lua)" "$want" -- "$KILN" compile "$f" --target sm_80 --emit ir $flags
  n=$((n + 1))
done
[ $n -ge 10 ] || { echo "FAIL only $n broken recipes found (run from the source root)"; fail=1; }
check unknown-set "recipes/softmax.lua: unknown parameter 'Q' (parameters: M, N, BLOCK, dtype, warps)" -- \
  "$KILN" compile recipes/softmax.lua --target sm_80 --emit ir --set Q=1
check set-without-value "recipes/softmax.lua: setting 'M' is not NAME=VALUE (parameters: M, N, BLOCK, dtype, warps)" -- \
  "$KILN" compile recipes/softmax.lua --target sm_80 --emit ir --set M
check bad-knob-value "recipes/matmul.lua: parameter 'dtype' is one of f16, bf16, e4m3, e5m2, i8, f32; got 'f64'" -- \
  "$KILN" compile recipes/matmul.lua --target sm_80 --emit ir --set dtype=f64
check bad-size "recipes/vector_add.lua: parameter 'n' is a whole number, got 'many'" -- \
  "$KILN" compile recipes/vector_add.lua --target sm_80 --emit ir --set n=many
check bad-warps "recipes/vector_add.lua:8: warps = 3: must be a power of two from 1 to 32" -- \
  "$KILN" compile recipes/vector_add.lua --target sm_80 --emit ir --set warps=3
# Values checked when a kernel is launched (`kiln run`): scalar arguments against their type's range,
# grid sizes against CUDA's limits; each named with the recipe line that declares it.
check_run() { # check_run NAME WANT -- command...: non-zero exit, WANT in the output
  name=$1 want=$2; shift 3
  "$@" > "$tmp/out" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fail=1
  elif ! grep -qF -- "$want" "$tmp/out"; then printf 'FAIL %s:\n  got  %s\n  want %s\n' "$name" "$(cat "$tmp/out")" "$want"; fail=1
  else echo "ok   $name: $want"; fi
}
check_run scalar-i32-range "recipes/vector_add.lua:19: scalar 'n' = 3000000000 is outside i32's range -2147483648..2147483647" -- \
  "$KILN" run recipes/vector_add.lua --sim --set n=3000000000
M_ALPHA=$(grep -n 'kiln.scalar("alpha"' recipes/matmul.lua | cut -d: -f1)
M_GRID=$(grep -n "^  grid = function" recipes/matmul.lua | cut -d: -f1)
check_run scalar-f32-range "recipes/matmul.lua:$M_ALPHA: scalar 'alpha' = 1e+39 is outside f32's finite range" -- \
  "$KILN" run recipes/matmul.lua --sim --set alpha=1e39
cat > "$tmp/h16.lua" <<'LUA'
local kiln = require "kiln"
return kiln.recipe {
  name = "h16", params = { n = 64, s = 0.5 },
  args = { kiln.tensor("x", "f16", { "n" }, "inout"), kiln.scalar("s", "f16", function(p) return p.s end),
           kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  reference = "vector_add",
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    k.store(x, { 0 }, k.load(x, { 0 }, { 64 }) * k.args.s)
  end,
}
LUA
check_run scalar-f16-range "$tmp/h16.lua:4: scalar 's' = 1e+06 is outside f16's finite range" -- \
  "$KILN" run "$tmp/h16.lua" --sim --set s=1e6
check_run grid-axis1-range "recipes/matmul.lua:$M_GRID: grid(p) gives 65536 programs on axis 1: need a whole number from 1 to 65535" -- \
  "$KILN" run recipes/matmul.lua --sim --set M=16 --set K=16 --set N=4194304 --set BLOCK_N=64
# attention's lines, found (the recipe changes): its key loop, and its shape checks in grid and body
A_RANGE=$(grep -n "m, l, acc = k.range(" recipes/attention.lua | cut -d: -f1)
A_GRID=$(grep -n "layout.check_shape(p)" recipes/attention.lua | sed -n 1p | cut -d: -f1)
A_BODY=$(grep -n "layout.check_shape(p)" recipes/attention.lua | sed -n 2p | cut -d: -f1)
check stages-range "recipes/attention.lua:$A_RANGE: k.range: stages must be a whole number from 1 to 8, got 2147483648" -- \
  "$KILN" compile recipes/attention.lua --target sm_80 --emit ir --set stages=2147483648
# Attention's shape: Hkv must divide H (else the last query heads would read past K and V) and D >= 1;
# refused when compiled and when launched, naming the recipe's line.
check attention-heads "recipes/attention.lua:$A_BODY: H = 6 must be a multiple of Hkv = 4 (both at least 1: query head h reads kv head h / (H / Hkv))" -- \
  "$KILN" compile recipes/attention.lua --target sm_80 --emit ir --set H=6 --set Hkv=4
check decode-head-dim "recipes/attention_decode.lua:90: head dim D = 0 must be at least 1" -- \
  "$KILN" compile recipes/attention_decode.lua --target sm_80 --emit ir --set D=0
check_run attention-no-kv-heads "recipes/attention.lua:$A_GRID: H = 2 must be a multiple of Hkv = 0" -- \
  "$KILN" run recipes/attention.lua --sim --set Hkv=0
check_run decode-heads "recipes/attention_decode.lua:61: H = 5 must be a multiple of Hkv = 3" -- \
  "$KILN" run recipes/attention_decode.lua --sim --set H=5 --set Hkv=3
check_run combine-no-splits "recipes/attention_decode_combine.lua:51: SPLITS = 0 must be at least 1" -- \
  "$KILN" run recipes/attention_decode_combine.lua --sim --set SPLITS=0
# Sizes the tensor shapes need before a body runs: the bit width of the weight codes, K of the GEMMs.
W_ROWS=$(grep -n "^function W.rows(p)" recipes/lib/w4a16_loop.lua | cut -d: -f1)
WP_KQ=$(grep -n "^local function kq(p)" recipes/w4a16_pack.lua | cut -d: -f1)
check_run w4a16-bits "recipes/lib/w4a16_loop.lua:$W_ROWS: bits = 0 is out of range 2..8" -- \
  "$KILN" run recipes/w4a16.lua --sim --set bits=0
check_run w4a16-pack-bits "recipes/w4a16_pack.lua:$WP_KQ: bits = 33 is out of range 2..8" -- \
  "$KILN" run recipes/w4a16_pack.lua --sim --set bits=33
B_K=$(grep -n "enc.check_k(p)" recipes/bitgemm.lua | head -n 1 | cut -d: -f1)
BS_K=$(grep -n "enc.check_k(p)" recipes/bitgemm_splitk.lua | head -n 1 | cut -d: -f1)
check_run bitgemm-k "recipes/bitgemm.lua:$B_K: K = 0 must be at least 1" -- \
  "$KILN" run recipes/bitgemm.lua --sim --set K=0
check_run bitgemm-reduce-k "recipes/bitgemm_reduce.lua:$(grep -n "must be a whole number >= 0" recipes/bitgemm_reduce.lua | cut -d: -f1): K = -1 must be a whole number >= 0 (the GEMM's inner dimension)" -- \
  "$KILN" run recipes/bitgemm_reduce.lua --sim --set K=-1
check_run bitgemm-splitk-k "recipes/bitgemm_splitk.lua:$BS_K: K = 0 must be at least 1" -- \
  "$KILN" run recipes/bitgemm_splitk.lua --sim --set K=0
F_PAIR=$(grep -n "error(\"pair = 1 needs kspec = inline" recipes/fftconv.lua | cut -d: -f1)
F_HALF=$(grep -n "error(\"pair = 1 and half = 1 exclude" recipes/fftconv.lua | cut -d: -f1)
F_SPLIT=$(grep -n "local L, N1, N2 = split(p)" recipes/fftconv.lua | cut -d: -f1)
check_run fftconv-pair-given "recipes/fftconv.lua:$F_PAIR: pair = 1 needs kspec = inline: a given spectrum need not be a real filter's" -- \
  "$KILN" run recipes/fftconv.lua --sim --set kspec=given --set pair=1
check_run fftconv-pair-half "recipes/fftconv.lua:$F_HALF: pair = 1 and half = 1 exclude each other (each packs the real input into a complex row)" -- \
  "$KILN" run recipes/fftconv.lua --sim --set pair=1 --set half=1
F_ENTRIES=$(grep -n 'error("entries = "' recipes/fftconv.lua | cut -d: -f1)
check_run fftconv-entries "recipes/fftconv.lua:$F_ENTRIES: entries = 2 needs half = 1 (pair = 1 takes two entries)" -- \
  "$KILN" run recipes/fftconv.lua --sim --set kspec=given --set half=0 --set entries=2
# half = 1 splits M = N, not L = 2N: N = 8 leaves no split of 4 x 4 or more
check_run fftconv-half-split "recipes/fftconv.lua:$F_SPLIT: fftconv: N1 = 2 must be a power of two from 4 to M/4 = N/4 = 2 (half = 1 splits M = N)" -- \
  "$KILN" run recipes/fftconv.lua --sim --set N=8 --set half=1
check_run fftconv-half-n1 "recipes/fftconv.lua:$F_SPLIT: fftconv: N1 = 128 must be a power of two from 4 to M/4 = N/4 = 64 (half = 1 splits M = N)" -- \
  "$KILN" run recipes/fftconv.lua --sim --set N=256 --set N1=128 --set half=1
# the spectrum recipes of orders 3 and 4 refuse what their convolutions refuse, naming their own line
K3_SPLIT=$(grep -n "local _, n1, n2 = split3(p)" recipes/fftconv3_kspec.lua | cut -d: -f1)
F3_SPLIT=$(grep -n "local _, n1, n2 = split3(p)" recipes/fftconv3.lua | cut -d: -f1)
check_run fftconv3-kspec-split "recipes/fftconv3_kspec.lua:$K3_SPLIT: fftconv3_kspec: N1 = 16, N2 = 16: each a power of two, 4 or more, with N3 = L/(N1 N2) >= 4 (L = 512)" -- \
  "$KILN" run recipes/fftconv3_kspec.lua --sim --set N1=16 --set N2=16
F4_SPLIT=$(grep -n "local _, n1, n2, n3 = split4(p)" recipes/fftconv4.lua | cut -d: -f1)
check_run fftconv4-half-n "recipes/fftconv4.lua:$F4_SPLIT: fftconv4: N = 128 must be a power of two from 256 to 4194304 with half = 1" -- \
  "$KILN" run recipes/fftconv4.lua --sim --set N=128 --set half=1
# order 3 with half = 1 splits M = N: N from 64, and N3 = M/(N1 N2) >= 4, in both recipes
check_run fftconv3-half-n "recipes/fftconv3.lua:$F3_SPLIT: fftconv3: N = 32 must be a power of two from 64 to 262144 with half = 1" -- \
  "$KILN" run recipes/fftconv3.lua --sim --set N=32 --set half=1
check_run fftconv3-half-split "recipes/fftconv3.lua:$F3_SPLIT: fftconv3: N1 = 32, N2 = 16: each a power of two, 4 or more, with N3 = M/(N1 N2) >= 4 (M = N = 1024, half = 1)" -- \
  "$KILN" run recipes/fftconv3.lua --sim --set N=1024 --set N1=32 --set N2=16
check_run fftconv3-kspec-half-split "recipes/fftconv3_kspec.lua:$K3_SPLIT: fftconv3_kspec: N1 = 32, N2 = 16: each a power of two, 4 or more, with N3 = M/(N1 N2) >= 4 (M = N = 1024, half = 1)" -- \
  "$KILN" run recipes/fftconv3_kspec.lua --sim --set N=1024 --set N1=32 --set N2=16
K4_SPLIT=$(grep -n "local _, n1, n2, n3 = split4(p)" recipes/fftconv4_kspec.lua | cut -d: -f1)
check_run fftconv4-kspec-n "recipes/fftconv4_kspec.lua:$K4_SPLIT: fftconv4_kspec: N = 8388608 must be a power of two from 128 to 4194304" -- \
  "$KILN" run recipes/fftconv4_kspec.lua --sim --set N=8388608
# Functions a recipe takes from a module (grid, a computed default, a constraint) are named by the
# module's file and line, not the recipe's: fftconv3's grid is recipes/lib/fft.lua's M.grid.
FFT_GRID=$(grep -n "^function M.grid(p, nb)" recipes/lib/fft.lua | cut -d: -f1)
check_run grid-in-module "recipes/lib/fft.lua:$FFT_GRID: grid(p) gives 0 programs on axis 0: need a whole number from 1 to 2147483647" -- \
  "$KILN" run recipes/fftconv3.lua --sim --set B=0
mkdir -p "$tmp/mod/lib"
cat > "$tmp/mod/lib/modfns.lua" <<'LUA'
local M = {}
function M.grid(p) return p.n // 64 end
function M.odd(p)
  return p.n == 192 and { 1 } or 1
end
function M.fits(p) return p.n ~= 320 end
return M
LUA
cat > "$tmp/mod/modfns.lua" <<'LUA'
local kiln = require "kiln"
local m = require "modfns"
return kiln.recipe {
  name = "modfns", params = { n = 64 },
  tune = { odd = { default = m.odd, values = { 1, 2 } } },
  constraints = { m.fits },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = m.grid,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local i = k.program_id(0) * 64
    k.store(x, { i }, k.load(x, { i }, { 64 }) * 2.0)
  end,
}
LUA
check_run grid-in-module-tmp "$tmp/mod/lib/modfns.lua:2: grid(p) gives 0 programs on axis 0: need a whole number from 1 to 2147483647" -- \
  "$KILN" run "$tmp/mod/modfns.lua" --sim --no-check --set n=32
check computed-default-in-module "$tmp/mod/lib/modfns.lua:3: the default of knob 'odd' gives table: TABLE, not a number, a string or a boolean" -- \
  sh -c "\"$KILN\" compile \"$tmp/mod/modfns.lua\" --target sm_80 --emit ir --set n=192 2>&1 >/dev/null | sed 's/table: 0x[0-9a-f]*/table: TABLE/' >&2; exit 1"
"$KILN" tune "$tmp/mod/modfns.lua" --sim --set n=320 --db "$tmp/mod.db" > /dev/null 2>&1
why=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select reason from results").fetchone()[0])' "$tmp/mod.db" 2>&1)
if [ "$why" = "$tmp/mod/lib/modfns.lua:6: constraints[1] refuses it" ]; then echo "ok   constraint-in-module: $why"
else printf 'FAIL constraint-in-module:\n  got  %s\n' "$why"; fail=1; fi
exit $fail
