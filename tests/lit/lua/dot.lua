-- The recipe front end (compiler/lua): k.dot on f16 tiles with an f32 accumulator.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: precision = "ieee"
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local a = k.load(h, { 0, 0 }, { 16, 16 })
  k.store(h, { 0, 0 }, k.cast(k.dot(a, a, k.full({ 16, 16 }, 0, 'f32'), 'ieee'), 'f16'))
end)
