-- The recipe front end (compiler/lua): reductions by k.max and t:min, and the elementwise k.max of two tiles.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: kind = "max"} : tile<1xf32>
-- CHECK-DAG: kind = "min"
-- CHECK-DAG: = max(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local a, b = k.max(t, 0), t:min()
  local c = k.max(t, t)
end)
