-- The recipe front end (compiler/lua): k.if_ with values: two branches that yield.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: = if(
-- CHECK-DAG: } else {
-- CHECK-DAG: yield(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local r = k.if_(k.args.n:lt(100), function() return t, 0 end, function() return 0, t end)
  k.store(x, { 0 }, r)
end)
