-- The recipe front end (compiler/lua): k.range with loop-carried tiles and a pipeline depth.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: {stages = 3}
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local s = k.range(0, k.args.n, 16, { t }, function(i, s) return s + 1 end, { stages = 3 })
end)
