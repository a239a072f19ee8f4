#!/bin/sh
# The bit-plane GEMM family through ptxas:
#   1. the defaults of recipes/bitgemm*.lua, w4a16.lua and the packers on sm_80, sm_86, sm_89,
#      sm_90a, sm_100a, sm_120a: ptxas -v accepts each, no spills (the register report is printed);
#      bitgemm also at W1A1, W2A2 and W8A8 and W4A16 at W8 and W3, with split tiles for small M;
#      W4A16 with min_blocks=6 within 85 registers;
#   2. the plane loop's PTX holds the b1 AND-popcount mma (mma.sync ... m16n8k256 ... b1 ... and.popc),
#      p*q products per instruction tile per step, and W4A16's f16 mma;
#   3. bitgemm on sm_75 is refused with one line naming the op and the target;
#   4. bench/bitgemm.py --plan builds the variants the GPU benchmark runs (on sm_80 and sm_90a) and
#      ptxas accepts its hand-written mma rate kernels (when python3 is installed);
#   5. the recipes' own errors (knobs out of range, zp on a signed or bipolar side, G not a multiple
#      of BLOCK_KW (w4a16) or of the K tile (bitgemm, the packers), groups with bipolar, zp or i32,
#      act = f16 on unsigned activations without zp, a 1-bit signed activation) name the recipe line.
# The new knobs (order, G, act) get their own ptxas runs and b1 mma counts.
# Without ptxas the PTX is still emitted and checked (the spill report is skipped).
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
[ -n "$PTXAS" ] || echo "note: ptxas not installed: PTX only, no resource report"
sets_of() { for s in "$@"; do printf ' --set %s' "$s"; done; }

check() { # check RECIPE TARGET SETTINGS...: compiles, ptxas -v accepts it, no spills
  r=$1 t=$2; shift 2
  # shellcheck disable=SC2046
  if ! "$KILN" compile "recipes/$r" --target "$t" $(sets_of "$@") --emit ptx --no-cache -o "$tmp/k.ptx" > "$tmp/out" 2>&1; then
    echo "FAIL $r $t $*: $(head -n 3 "$tmp/out")"; fail=1; return
  fi
  [ -n "$PTXAS" ] || return 0
  if ! "$PTXAS" -v -arch="$t" "$tmp/k.ptx" -o "$tmp/k.o" > "$tmp/out" 2>&1; then
    echo "FAIL ptxas $r $t $*: $(head -n 3 "$tmp/out")"; fail=1; return
  fi
  regs=$(sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' "$tmp/out" | head -n 1)
  spill=$(sed -n 's/.* \([0-9]*\) bytes spill stores, \([0-9]*\) bytes spill loads.*/\1 \2/p' "$tmp/out" |
    awk '{ s += $1 + $2 } END { print s + 0 }')
  echo "$r $t $*: $regs registers, $spill bytes spilled"
  [ "$spill" = 0 ] || { echo "FAIL spills $r $t $*"; fail=1; }
}

for t in sm_80 sm_86 sm_89 sm_90a sm_100a sm_120a; do
  for r in bitgemm.lua bitgemm_splitk.lua bitgemm_reduce.lua w4a16.lua w4a16_splitk.lua w4a16_reduce.lua bitpack_w.lua bitpack_act.lua w4a16_pack.lua; do check "$r" "$t"; done
done
for t in sm_80 sm_90a; do
  check bitgemm.lua "$t" p=1 q=1 w_signed=0
  check bitgemm.lua "$t" p=2 q=2 enc=bipolar out=f16
  check bitgemm.lua "$t" p=8 q=8 a_signed=1 out=bf16 BLOCK_M=16 BLOCK_N=64 warps=2
  check bitgemm.lua "$t" p=3 q=5 zp=1 out=f16 BLOCK_M=16
  check bitgemm.lua "$t" order=a_outer
  check bitgemm.lua "$t" order=w_outer BLOCK_M=32
  check bitgemm.lua "$t" a_signed=1 out=f16 G=256
  check bitgemm.lua "$t" a_signed=1 out=f16 act=f16
  check bitgemm.lua "$t" a_signed=1 out=f16 act=f16 BLOCK_M=16 G=256
  check bitpack_act.lua "$t" G=128
  check bitpack_w.lua "$t" G=128
  check w4a16.lua "$t" bits=8 G=32
  check w4a16.lua "$t" bits=3 G=64 dtype=bf16
  check w4a16.lua "$t" BLOCK_M=64 BLOCK_N=128 warps=8
  # min_blocks=6 (.minnctapersm 6): six 128-thread blocks an SM, within 85 registers, no spills
  check w4a16.lua "$t" min_blocks=6
  if [ -n "$PTXAS" ] && [ "${regs:-999}" -gt 85 ]; then echo "FAIL w4a16 min_blocks=6 $t: $regs registers"; fail=1; fi
done

# the plane loop's instructions: p*q = 12 plane products on 2x2 warps of 32x32 (8 instruction tiles)
"$KILN" compile recipes/bitgemm.lua --target sm_80 --set p=3 --set q=4 --emit ptx -o "$tmp/b.ptx" || fail=1
n=$(grep -c 'mma.sync.aligned.m16n8k256.row.col.s32.b1.b1.s32.and.popc' "$tmp/b.ptx")
echo "bitgemm p=3 q=4: $n b1 mma in the PTX"
# 16 copies per K step, 3 stages: 32 copy groups in flight (async_wait names up to 255; it once aborted)
"$KILN" compile recipes/bitgemm.lua --target sm_80 --set p=8 --set q=8 --set stages=3 --emit ptx -o "$tmp/b8.ptx" ||
  { echo "FAIL bitgemm p=8 q=8 stages=3 does not compile"; fail=1; }
# the K loop comes in two versions (codegen/lower_control.c: aligned copies, or each copy's own test)
[ "$n" = 192 ] || { echo "FAIL expected 192 b1 and.popc mma (12 plane products x 8 tiles, in both versions of the K loop), got $n"; fail=1; }
# every plane loop order and the fused activation prologue keep the p*q products per tile
for v in order=w_outer order=a_outer "act=f16 a_signed=1"; do
  # shellcheck disable=SC2046
  "$KILN" compile recipes/bitgemm.lua --target sm_80 --set p=3 --set q=4 $(sets_of $v) --emit ptx -o "$tmp/o.ptx" || fail=1
  n=$(grep -c 'mma.sync.aligned.m16n8k256.row.col.s32.b1.b1.s32.and.popc' "$tmp/o.ptx")
  echo "bitgemm p=3 q=4 $v: $n b1 mma in the PTX"
  [ "$n" -ge 96 ] && [ $((n % 96)) = 0 ] || { echo "FAIL $v: expected a multiple of 96 b1 mma (12 plane products x 8 tiles per K loop version), got $n"; fail=1; }
done
"$KILN" compile recipes/w4a16.lua --target sm_80 --emit ptx -o "$tmp/w.ptx" || fail=1
grep -q 'mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32' "$tmp/w.ptx" || { echo "FAIL no f16 mma in w4a16"; fail=1; }
# the dequantisation: each field's mask and the exponent in one lop3 per word (32 a thread a step),
# X's slabs by ldmatrix, no integer-to-float conversion
n=$(grep -c 'lop3.b32.*0xea' "$tmp/w.ptx")
[ "$n" -ge 32 ] || { echo "FAIL w4a16: expected the mask and exponent as lop3 (0xea), found $n"; fail=1; }
grep -q 'ldmatrix.sync.aligned.m8n8.x4.shared.b16' "$tmp/w.ptx" || { echo "FAIL w4a16: X's slabs not read by ldmatrix"; fail=1; }
! grep -q 'cvt.rn.f16.s32\|cvt.rn.f16.u32' "$tmp/w.ptx" || { echo "FAIL w4a16: an integer-to-f16 conversion is left"; fail=1; }
# a group of G = 128 spans the default's block of 128: its scale multiplies the f32 product once
# (fma.rn.f32), not each pair of weights (mul.rn.f16x2)
! grep -q 'mul.rn.f16x2' "$tmp/w.ptx" || { echo "FAIL w4a16: the default scales its weights, not its product"; fail=1; }
grep -q 'fma.rn.f32' "$tmp/w.ptx" || { echo "FAIL w4a16: no f32 fma of the group's scale"; fail=1; }
# the words in quad order (w4a16_pack): a thread's four words of a 16-word group in one 16-byte
# ld.shared, two a k-step of the default (16 words: 64 columns over 4 warps, 2 n8 tiles a warp)
n=$(grep -c 'ld.shared.v4.b32' "$tmp/w.ptx")
[ "$n" -ge 2 ] || { echo "FAIL w4a16: expected the words by 16-byte ld.shared (v4.b32), found $n"; fail=1; }
. tests/sh/lib/budget.sh
if budget_tools; then
  budget recipes/w4a16.lua sm_80 11.5
  budget recipes/w4a16.lua sm_90a 11.8
  budget recipes/w4a16.lua sm_80 5.3 BLOCK_M=64 BLOCK_N=128 warps=8
fi

if command -v python3 > /dev/null; then
  for t in sm_80 sm_90a; do
    python3 bench/bitgemm.py --plan --kiln "$KILN" --target $t --ms 1,16,256 > "$tmp/plan" 2>&1 ||
      { echo "FAIL bench/bitgemm.py --plan --target $t: $(tail -n 3 "$tmp/plan")"; fail=1; }
    grep -q "kiln refuses" "$tmp/plan" && { echo "FAIL bench plan $t: $(grep -m1 'kiln refuses' "$tmp/plan")"; fail=1; }
    echo "bench/bitgemm.py --plan --target $t: $(grep -c '^W' "$tmp/plan") problems planned"
  done
fi

expect_error() { # expect_error MESSAGE -- kiln compile arguments
  msg=$1; shift 2
  if "$KILN" compile "$@" --emit ptx -o "$tmp/x.ptx" > "$tmp/out" 2>&1; then
    echo "FAIL accepted: $*"; fail=1
  elif ! grep -qF "$msg" "$tmp/out"; then
    echo "FAIL $*: got '$(head -n 1 "$tmp/out")', expected '$msg'"; fail=1
  fi
}
expect_error "op 'dot' needs mma.sync b1 and.popc, which target sm_75 does not have" -- recipes/bitgemm.lua --target sm_75
expect_error "op 'dot' needs mma.sync b1 and.popc, which target sm_75 does not have" -- recipes/bitgemm_splitk.lua --target sm_75
expect_error "split_k = 0 is out of range 1..64" -- recipes/bitgemm_splitk.lua --target sm_80 --set split_k=0
# the body's line that checks the encodings (the constraints call the same check: not that line)
R_ENC=$(grep -n "^    loop.encodings(p)$" recipes/bitgemm_reduce.lua | head -n 1 | cut -d: -f1)
expect_error "recipes/bitgemm_reduce.lua:$R_ENC: zp applies to unsigned int activations" -- recipes/bitgemm_reduce.lua --target sm_80 --set zp=1 --set enc=bipolar
B_ENC=$(grep -n "^    loop.encodings(p)$" recipes/bitgemm.lua | head -n 1 | cut -d: -f1)
B_GRP=$(grep -n "^    loop.check_group(p, \"bitgemm\")$" recipes/bitgemm.lua | head -n 1 | cut -d: -f1)
expect_error "recipes/bitgemm.lua:$B_ENC: p = 9 is out of range 1..8" -- recipes/bitgemm.lua --target sm_80 --set p=9
expect_error "recipes/bitgemm.lua:$B_ENC: q = 0 is out of range 1..8" -- recipes/bitgemm.lua --target sm_80 --set q=0
expect_error "zp applies to unsigned int activations" -- recipes/bitgemm.lua --target sm_80 --set zp=1 --set a_signed=1
expect_error "zp applies to unsigned int activations" -- recipes/bitgemm.lua --target sm_80 --set zp=1 --set enc=bipolar
expect_error "recipes/bitgemm.lua:$B_GRP: bitgemm: G = 128 is not a multiple of the K tile (32 * BLOCK_KW: 256 elements)" -- recipes/bitgemm.lua --target sm_80 --set G=128 --set out=f16
expect_error "bitgemm: G = 100 must be 0 (no groups) or a positive multiple of 32" -- recipes/bitgemm.lua --target sm_80 --set G=100 --set out=f16
expect_error "bitgemm: G > 0 (per-group scales) needs enc = int without zp" -- recipes/bitgemm.lua --target sm_80 --set G=256 --set out=f16 --set enc=bipolar
expect_error "bitgemm: G > 0 (per-group scales) needs enc = int without zp" -- recipes/bitgemm.lua --target sm_80 --set G=256 --set out=f16 --set zp=1
expect_error "bitgemm: G > 0 (per-group scales) needs a float out" -- recipes/bitgemm.lua --target sm_80 --set G=256
expect_error "recipes/bitpack_w.lua:62: bitpack_w: G = 16 must be 0" -- recipes/bitpack_w.lua --target sm_80 --set G=16
A_CODES=$(grep -n "^    check_codes(p)$" recipes/bitpack_act.lua | head -n 1 | cut -d: -f1)
expect_error "recipes/bitpack_act.lua:$A_CODES: bitpack_act: G = 33 must be 0" -- recipes/bitpack_act.lua --target sm_80 --set G=33
expect_error "recipes/bitgemm.lua:$B_ENC: act = f16 with unsigned activations needs zp = 1" -- recipes/bitgemm.lua --target sm_80 --set act=f16
expect_error "p = 0 is out of range 1..8" -- recipes/bitpack_w.lua --target sm_80 --set p=0
expect_error "q = 9 is out of range 1..8" -- recipes/bitpack_act.lua --target sm_80 --set q=9
expect_error "enc = signed needs q >= 2" -- recipes/bitpack_act.lua --target sm_80 --set q=1
W_GEMM=$(grep -n "local acc, row, col = loop.gemm(k, p, 0, k.args.Kq)" recipes/w4a16.lua | cut -d: -f1)
expect_error "recipes/w4a16.lua:$W_GEMM: bits = 1 is out of range 2..8" -- recipes/w4a16.lua --target sm_80 --set bits=1
expect_error "G = 40 must be a multiple of 2 * BLOCK_KW = 32" -- recipes/w4a16.lua --target sm_80 --set G=40
expect_error "G = 32 must be a multiple of 2 * BLOCK_KW = 64" -- recipes/w4a16.lua --target sm_80 --set G=32 --set BLOCK_KW=32
expect_error "bits = 9 is out of range 2..8" -- recipes/w4a16_pack.lua --target sm_80 --set bits=9
exit $fail
