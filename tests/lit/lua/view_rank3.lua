-- The recipe front end (compiler/lua): a rank-3 view (shape products) and an i1 constant.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: view<3xf32>
-- CHECK-DAG: = mul(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local v = k.view(k.args.x, { 2, 2, 16 })
  local q = k.bitcast(k.const(true, 'i1'), 'i1')
end)
