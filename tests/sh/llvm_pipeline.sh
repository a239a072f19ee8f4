#!/bin/sh
# The LLVM pipeline a kernel gets (codegen/codegen.c, cg_llvm_passes_for; docs/compile-speed.md):
# default<O3> with three of its eight InstCombine runs (the first, the third and the last), and for a
# kernel with no `dot` with two (the first and the third) and without its SLP vectoriser.
# tests/unit/test_codegen.c checks the texts; this checks that they are in effect, end to end,
# against the PTX each pipeline gives when KILN_LLVM_PASSES names it: the two texts are made here
# from what opt-22 prints for default<O3>, the same way.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ptx() { # RECIPE OUT [KILN_LLVM_PASSES]
  KILN_LLVM_PASSES="${3:-}" "$KILN" compile "recipes/$1.lua" --target sm_90a --no-cache -o "$2" || fail "compile $1"
}
same() { cmp -s "$tmp/$1.ptx" "$tmp/$1.$2.ptx"; }
# the fewer InstCombine runs are in effect: matmul's PTX is not default<O3>'s (shorter)
ptx matmul "$tmp/matmul.ptx"
ptx matmul "$tmp/matmul.o3.ptx" "default<O3>"
same matmul o3 && fail "matmul got default<O3>"
# and without the SLP vectoriser where there is no dot: w4a16_reduce's f32 sums are not paired
ptx w4a16_reduce "$tmp/w4a16_reduce.ptx"
ptx w4a16_reduce "$tmp/w4a16_reduce.o3.ptx" "default<O3>"
same w4a16_reduce o3 && fail "w4a16_reduce (no dot) got default<O3>"
opt=
for o in opt-22 /usr/lib/llvm-22/bin/opt; do command -v "$o" >/dev/null 2>&1 && { opt=$o; break; }; done
if [ -z "$opt" ]; then
  echo "ok   matmul and w4a16_reduce differ from default<O3> (opt-22 not found: the pipelines' PTX not compared)"
  exit 0
fi
echo 'target triple = "nvptx64-nvidia-cuda"' > "$tmp/e.ll"
"$opt" -mtriple=nvptx64-nvidia-cuda -mcpu=sm_80 -passes='default<O3>' -print-pipeline-passes -disable-output \
  "$tmp/e.ll" > "$tmp/o3.txt" || fail "opt-22 does not print default<O3>"
# the InstCombine runs but those KEEP names (a list of run numbers), each with a comma beside it
keep() {
  KEEP=$1 perl -pe 'my %k = map { $_ => 1 } split /,/, $ENV{KEEP}; my $n = 0;
    s/(,?)instcombine<max-iterations=1;no-verify-fixpoint>(,?)/++$n; $k{$n} ? "$1instcombine<max-iterations=1;no-verify-fixpoint>$2" : ($1 ? $2 : "")/ge' \
    "$tmp/o3.txt" || fail "perl"
}
keep 1,3,8 > "$tmp/lean.txt"
keep 1,3 | sed 's/,slp-vectorizer,/,/' > "$tmp/lean_noslp.txt"
grep -q slp-vectorizer "$tmp/lean_noslp.txt" && fail "the SLP vectoriser is still in the no-dot text"
lean=$(cat "$tmp/lean.txt"); noslp=$(cat "$tmp/lean_noslp.txt")
for r in matmul fftconv3 w4a16_reduce; do
  ptx $r "$tmp/$r.ptx"
  ptx $r "$tmp/$r.lean.ptx" "$lean"
  ptx $r "$tmp/$r.noslp.ptx" "$noslp"
done
same matmul lean || fail "matmul (a dot) did not get the pipeline with the SLP vectoriser"
same fftconv3 lean || fail "fftconv3 (a dot) did not get the pipeline with the SLP vectoriser"
same fftconv3 noslp && fail "fftconv3's PTX does not show the SLP vectoriser: pick a kernel where it pairs"
same w4a16_reduce noslp || fail "w4a16_reduce (no dot) did not get the pipeline without the SLP vectoriser"
same w4a16_reduce lean && fail "w4a16_reduce's PTX does not show the SLP vectoriser: pick a kernel where it pairs"
echo "ok   fewer InstCombine runs for every kernel; the SLP vectoriser for fftconv3 (a dot), not for w4a16_reduce"
