-- The recipe front end (compiler/lua): k.maximum and k.minimum, unary minus, division.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: max(
-- CHECK-DAG: min(
-- CHECK-DAG: neg(
-- CHECK-DAG: div(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  k.store(x, { 0 }, k.maximum(t, 0) - k.minimum(t, 1) / -t)
end)
