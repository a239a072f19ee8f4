#!/bin/sh
# The LLVM pipeline a kernel gets (codegen/codegen.c, cg_llvm_passes_for; docs/compile-speed.md):
# default<O3>, but without its SLP vectoriser for a kernel with no `dot`. Compared with the PTX that
# default<O3> gives (KILN_LLVM_PASSES): the same for a kernel with a dot (matmul) and for a no-dot
# kernel where the vectoriser pairs nothing (bitpack_act), another for one where it pairs (the
# f32 sums of w4a16_reduce), so the choice is in effect and only where it should be.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ptx() { # RECIPE OUT [KILN_LLVM_PASSES]
  KILN_LLVM_PASSES="${3:-}" "$KILN" compile "recipes/$1.lua" --target sm_90a --no-cache -o "$2" || fail "compile $1"
}
for r in matmul bitpack_act w4a16_reduce; do
  ptx $r "$tmp/$r.ptx"
  ptx $r "$tmp/$r.o3.ptx" "default<O3>"
done
cmp -s "$tmp/matmul.ptx" "$tmp/matmul.o3.ptx" || fail "matmul (a dot) did not get default<O3>"
cmp -s "$tmp/bitpack_act.ptx" "$tmp/bitpack_act.o3.ptx" || fail "bitpack_act's PTX changed without the SLP vectoriser"
cmp -s "$tmp/w4a16_reduce.ptx" "$tmp/w4a16_reduce.o3.ptx" && fail "w4a16_reduce (no dot) got default<O3>'s SLP pairs"
echo "ok   default<O3> for a kernel with a dot; without SLP for those without (w4a16_reduce's PTX differs)"
