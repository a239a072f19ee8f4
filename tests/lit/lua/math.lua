-- The recipe front end (compiler/lua): fma and the math functions.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: fma(
-- CHECK-DAG: rsqrt(
-- CHECK-DAG: sqrt(
-- CHECK-DAG: abs(
-- CHECK-DAG: log(
-- CHECK-DAG: exp(
-- CHECK-DAG: log2(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  k.store(x, { 0 }, k.fma(t, t, k.rsqrt(k.sqrt(k.abs(t))) + k.log(k.exp(t)) + k.log2(t)))
end)
