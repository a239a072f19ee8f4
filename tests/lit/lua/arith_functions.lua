-- The recipe front end (compiler/lua): k.add, k.sub, k.mul, k.div, k.rem, k.neg.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: add(
-- CHECK-DAG: sub(
-- CHECK-DAG: mul(
-- CHECK-DAG: div(
-- CHECK-DAG: rem(
-- CHECK-DAG: neg(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  k.store(x, { 0 }, k.add(t, 1) - k.sub(t, 1) * k.mul(t, 2) / k.div(t, 3) + k.neg(k.rem(t, 4)))
end)
