-- The recipe front end (compiler/lua): scalar arithmetic on arguments, splat and cast.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: mul(%n, 
-- CHECK-DAG: splat(
-- CHECK-DAG: cast(%n) : f32
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local s = k.args.n * 2 + 1
  k.store(x, { s }, t * k.cast(k.args.n, 'f32'))
end)
