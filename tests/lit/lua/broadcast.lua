-- The recipe front end (compiler/lua): k.broadcast of a scalar and of a 1xN tile.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: splat(
-- CHECK-DAG: broadcast(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local b = k.broadcast(k.const(2, 'f32'), { 4, 4 }) + k.broadcast(k.full({ 1, 4 }, 1, 'f32'), { 4, 4 })
end)
