-- The recipe front end (compiler/lua): k.iota along an axis, broadcast by +.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: iota() {axis = 1} : tile<8x4xi32>
-- CHECK-DAG: broadcast(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local z = k.iota({ 8, 4 }, 1) + k.iota({ 8, 1 }, 0)
end)
