-- The recipe front end (compiler/lua): the bit operators on u32 tiles and k.popc.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: and(
-- CHECK-DAG: or(
-- CHECK-DAG: xor(
-- CHECK-DAG: shl(
-- CHECK-DAG: shr(
-- CHECK-DAG: not(
-- CHECK-DAG: popc(
-- CHECK-DAG: rem(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local w = k.load(u, { 0 }, { 64 })
  k.store(u, { 0 }, ((w & 3) | (w << 2)) ~ (w >> 1) + ~w + k.popc(w) % 7)
end)
