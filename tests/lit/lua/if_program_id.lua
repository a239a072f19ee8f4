-- The recipe front end (compiler/lua): k.if_ without values, on program ids.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: num_programs() {axis = 1}
-- CHECK-DAG: if(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  k.if_(k.program_id(1):eq(k.num_programs(1)), function() k.store(x, { 0 }, t) end)
end)
