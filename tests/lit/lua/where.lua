-- The recipe front end (compiler/lua): k.where: a comparison and a select.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: cmp(
-- CHECK-DAG: pred = "lt"
-- CHECK-DAG: select(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  k.store(x, { 0 }, k.where(t:lt(0), 0, t))
end)
