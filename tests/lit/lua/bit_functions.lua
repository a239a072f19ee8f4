-- The recipe front end (compiler/lua): k.band, k.bor, k.bxor, k.shl, k.shr, k.bnot.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: and(
-- CHECK-DAG: or(
-- CHECK-DAG: xor(
-- CHECK-DAG: shl(
-- CHECK-DAG: shr(
-- CHECK-DAG: not(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local w = k.load(u, { 0 }, { 64 })
  local q = k.band(w, 1) + k.bor(w, 2) + k.bxor(w, 3) + k.shl(w, 4) + k.shr(w, 5) + k.bnot(w)
end)
