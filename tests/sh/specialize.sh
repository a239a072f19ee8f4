#!/bin/sh
# Kernels specialised on their arguments' alignment (`kiln compile --specialize`, what `kiln run` and
# `kiln tune` compile; docs/codegen.md, "Copies"): the launch JSON names the arguments the kernel
# takes to be aligned (every tensor, the integers that are multiples of 16, 8 or 4 at the settings, by
# the promise each gives: "aligned", "aligned8", "aligned4"), a copying
# loop whose alignment that proves has one version and no fallback, the kernel cache keeps the two
# kernels apart, the simulator runs specialised kernels at aligned and unaligned sizes, and an IR file
# cannot be specialised (it states its mask itself).
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export KILN_CACHE_DIR="$tmp/cache"
fail() { echo "FAIL: $*"; exit 1; }

# the mask follows the sizes: M = 100 and K = 33 are not multiples of 16, N = 64 is; the launch JSON
# names what the code relies on: B's rows (b, its row stride N), not A's (a row of K = 33 elements)
"$KILN" compile recipes/matmul.lua --target sm_80 --set M=100 --set N=64 --set K=33 --specialize \
  --emit launch > "$tmp/s.json" || fail "compile --specialize --emit launch"
"$KILN" compile recipes/matmul.lua --target sm_80 --set M=100 --set N=64 --set K=33 \
  --emit launch > "$tmp/g.json" || fail "compile --emit launch"
python3 - "$tmp" <<'PY' || exit 1
import json, sys
d = sys.argv[1]
s, g = (json.load(open(d + "/%s.json" % n)) for n in ("s", "g"))
assert s["aligned"] == ["b", "N"], s["aligned"]
assert s["aligned8"] == [] and s["aligned4"] == [], s  # M = 100 is a multiple of 4 no proof reads
assert g["aligned"] == [] and g["aligned8"] == [] and g["aligned4"] == [], g
print("ok   launch json: aligned", s["aligned"], "specialised, [] general")
PY

# weaker promises: K = 40 (a multiple of 8) makes f16 rows of 80 bytes, multiples of 16: A's rows
# are proven through K's `aligned8` promise; K = 36 in f32 (144-byte rows) through `aligned4`
"$KILN" compile recipes/matmul.lua --target sm_80 --set K=40 --specialize --emit launch > "$tmp/k8.json" ||
  fail "compile K=40 --specialize --emit launch"
"$KILN" compile recipes/matmul.lua --target sm_80 --set K=36 --set dtype=f32 --specialize --emit launch \
  > "$tmp/k4.json" || fail "compile K=36 f32 --specialize --emit launch"
python3 - "$tmp" <<'PY' || exit 1
import json, sys
d = sys.argv[1]
k8, k4 = (json.load(open(d + "/%s.json" % n)) for n in ("k8", "k4"))
assert (k8["aligned"], k8["aligned8"], k8["aligned4"]) == (["a", "b", "N"], ["K"], []), k8
assert (k4["aligned"], k4["aligned8"], k4["aligned4"]) == (["a", "b", "N"], [], ["K"]), k4
print("ok   launch json: K = 40 f16 in aligned8, K = 36 f32 in aligned4")
PY

# matmul's defaults (M = N = K = 256): the mainloop in one version, no run-time test, on every
# cp.async target; the general kernel keeps both versions
for t in sm_80 sm_90a; do
  "$KILN" compile recipes/matmul.lua --target $t --emit llvm --specialize -o "$tmp/s.ll" || fail "llvm $t"
  "$KILN" compile recipes/matmul.lua --target $t --emit llvm -o "$tmp/g.ll" || fail "llvm general $t"
  grep -q "for.any" "$tmp/s.ll" && fail "$t: the specialised kernel keeps the unaligned loop version"
  grep -q "copy.narrow" "$tmp/s.ll" && fail "$t: the specialised kernel keeps a copy's fallback"
  grep -q "for.any" "$tmp/g.ll" || fail "$t: the general kernel lost its unaligned loop version"
  "$KILN" compile recipes/matmul.lua --target $t --specialize -o "$tmp/s.ptx" || fail "ptx $t"
  "$KILN" compile recipes/matmul.lua --target $t -o "$tmp/g.ptx" || fail "ptx general $t"
  ns=$(wc -l < "$tmp/s.ptx"); ng=$(wc -l < "$tmp/g.ptx")
  [ "$ns" -lt "$ng" ] || fail "$t: specialised PTX $ns lines, general $ng"
  echo "ok   $t matmul defaults: one loop version specialised ($ns PTX lines, general $ng)"
done
# K = 36 in f16 (72-byte rows: a multiple of 4 proves 8 bytes, not 16): A's rows are not proven
# aligned, both versions stay; K = 40 (a multiple of 8): one version
"$KILN" compile recipes/matmul.lua --target sm_80 --set K=36 --emit llvm --specialize -o "$tmp/k.ll" ||
  fail "llvm K=36"
grep -q "for.any" "$tmp/k.ll" || fail "K = 36: a loop version was dropped without proof"
"$KILN" compile recipes/matmul.lua --target sm_80 --set K=40 --emit llvm --specialize -o "$tmp/k.ll" ||
  fail "llvm K=40"
grep -q "for.any" "$tmp/k.ll" && fail "K = 40: the multiple of 8 proved nothing"
echo "ok   K = 36: the unaligned version stays; K = 40: one version"

# bitgemm's defaults: Kw = 8 words (32-byte rows), a multiple of 8: its copies are proven (they were
# not with the multiple-of-16 promise alone)
"$KILN" compile recipes/bitgemm.lua --target sm_90a --emit llvm --specialize -o "$tmp/b.ll" || fail "llvm bitgemm"
grep -q "for.any" "$tmp/b.ll" && fail "bitgemm: Kw = 8 did not prove the rows aligned"
echo "ok   bitgemm's defaults: one loop version (Kw = 8 through aligned8)"

# the cache (a fresh one): the general kernel, then the specialised one, is a miss and different PTX
export KILN_CACHE_DIR="$tmp/cache2"
"$KILN" compile recipes/matmul.lua --target sm_80 -v -o "$tmp/m1.ptx" 2> "$tmp/v1" || fail "matmul"
"$KILN" compile recipes/matmul.lua --target sm_80 --specialize -v -o "$tmp/m2.ptx" 2> "$tmp/v2" ||
  fail "matmul --specialize"
grep -q miss "$tmp/v2" || fail "the specialised kernel came from the general one's cache entry: $(cat "$tmp/v2")"
cmp -s "$tmp/m1.ptx" "$tmp/m2.ptx" && fail "the specialised and general PTX are the same"
"$KILN" compile recipes/matmul.lua --target sm_80 --specialize -v -o "$tmp/m3.ptx" 2> "$tmp/v3" ||
  fail "matmul --specialize again"
grep -q hit "$tmp/v3" && cmp -s "$tmp/m2.ptx" "$tmp/m3.ptx" || fail "the specialised kernel is not cached"
echo "ok   the cache keeps the general and the specialised kernel apart"

# the simulator runs specialised kernels (its checks catch a misaligned access) at sizes that are
# multiples of 16 and at sizes that are not
"$KILN" run recipes/matmul.lua --sim --set M=64 --set N=48 --set K=96 --set BLOCK_M=32 --set BLOCK_N=32 \
  --set BLOCK_K=32 --set warps=2 > "$tmp/r1" 2>&1 || { cat "$tmp/r1"; fail "run aligned sizes"; }
"$KILN" run recipes/matmul.lua --sim --set M=50 --set N=40 --set K=72 --set BLOCK_M=32 --set BLOCK_N=32 \
  --set BLOCK_K=32 --set warps=2 > "$tmp/r2" 2>&1 || { cat "$tmp/r2"; fail "run unaligned sizes"; }
"$KILN" run recipes/matmul.lua --sim --set M=50 --set N=44 --set K=36 --set BLOCK_M=32 --set BLOCK_N=32 \
  --set BLOCK_K=32 --set warps=2 > "$tmp/r3" 2>&1 || { cat "$tmp/r3"; fail "run sizes that are multiples of 4"; }
"$KILN" run recipes/matmul.lua --sim --set M=50 --set N=44 --set K=36 --set BLOCK_M=32 --set BLOCK_N=32 \
  --set BLOCK_K=32 --set warps=2 --set dtype=f32 > "$tmp/r4" 2>&1 || { cat "$tmp/r4"; fail "run f32 multiples of 4"; }
for f in r1 r2 r3 r4; do grep -q PASS "$tmp/$f" || fail "no PASS line in $f: $(cat "$tmp/$f")"; done
echo "ok   the simulator passes specialised kernels at M,N,K = 64,48,96, 50,40,72 and 50,44,36 (f16, f32)"

# a pack carries the specialised images after an `aligned` line naming what they rely on, for the
# bucket whose sizes prove something (M = N = K = 256), none for one whose sizes prove nothing
"$KILN" pack recipes/matmul.lua --targets sm_80,sm_90a --no-cubin --shapes matmul:M=256,N=256,K=256 \
  --shapes matmul:M=100,N=70,K=33 -o "$tmp/m.kpack" || fail "kiln pack"
python3 - "$tmp/m.kpack" <<'PY' || exit 1
import struct, sys
d = open(sys.argv[1], "rb").read()
assert struct.unpack("<I", d[8:12])[0] == 2, "format 2"
off, size = struct.unpack("<QQ", d[32:48])
variants = d[off:off + size].decode().split("variant\t")[1:]
assert len(variants) == 2, len(variants)
a, b = ([l.split("\t") for l in v.splitlines()] for v in variants)
lines = [l[0] for l in a]
i = lines.index("aligned")
assert a[i][1:] == ["a", "b", "N", "K"], a[i]
assert lines[i + 1:] == ["image", "image", "end"], lines[i:]
assert [l[1] for l in a[i + 1:i + 3]] == ["sm_80", "sm_90a"], a[i + 1:i + 3]
assert "aligned" not in [l[0] for l in b], b
print("ok   pack: aligned a b N K with sm_80 and sm_90a images at 256^3, none at 100x70x33")
PY

# ptxas -v on the specialised defaults of the recipes whose copies it changes: no spill, but for
# attention on sm_100a and sm_120a, where the defaults sit at 255 registers and ptxas keeps a few
# values live across the first key loop in local memory (stored before it, loaded after it; the
# general kernel has none): at most 32 bytes each way there (docs/attention.md); and bitgemm on
# sm_80, where ptxas fits the specialised kernel in 128 registers (4 blocks an SM; the general one
# takes 234, 2 blocks) with one value kept across the MMA loop the same way: at most 8 bytes
# (docs/bitgemm.md)
PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
if [ -n "$PTXAS" ]; then
  for t in sm_80 sm_90a sm_100a sm_120a; do
    for r in attention attention_decode matmul w4a16 w4a16_splitk bitgemm bitgemm_splitk; do
      "$KILN" compile recipes/$r.lua --target $t --specialize -o "$tmp/s.ptx" || fail "$r $t"
      "$PTXAS" -v -arch=$t "$tmp/s.ptx" -o "$tmp/s.cubin" > "$tmp/v" 2>&1 || fail "ptxas $r $t: $(cat "$tmp/v")"
      st=$(sed -n 's/.* \([0-9]*\) bytes spill stores.*/\1/p' "$tmp/v" | sort -n | tail -1)
      ld=$(sed -n 's/.* \([0-9]*\) bytes spill loads.*/\1/p' "$tmp/v" | sort -n | tail -1)
      lim=0
      case "$r $t" in "attention sm_100a" | "attention sm_120a") lim=32 ;; "bitgemm sm_80") lim=8 ;; esac
      [ "${st:-0}" -le $lim ] && [ "${ld:-0}" -le $lim ] || fail "$r $t specialised spills $st + $ld bytes (at most $lim)"
    done
  done
  echo "ok   ptxas: the specialised defaults spill nothing (attention on sm_100a, sm_120a: at most 32 bytes; bitgemm sm_80: 8)"
else
  echo "note: ptxas not installed: no spill report"
fi

# an IR file states its mask; --specialize refuses it (usage error, exit 2)
"$KILN" compile tests/lit/codegen/copy-versions.ir --target sm_80 --specialize -o "$tmp/x.ptx" 2> "$tmp/e"
rc=$?
[ $rc -eq 2 ] || fail "--specialize on an IR file: exit $rc"
grep -q "copy-versions.ir: specialize needs a recipe" "$tmp/e" || fail "message: $(cat "$tmp/e")"
[ -e "$tmp/x.ptx" ] && fail "an output was written"
echo "ok   --specialize on an IR file: refused, naming the file"
exit 0
