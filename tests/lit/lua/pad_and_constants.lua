-- The recipe front end (compiler/lua): a load pad and a u32 constant beyond i32.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: {pad = 7}
-- CHECK-DAG: value = 4294967295
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local w = k.load(u, { 0 }, { 64 }, { pad = 7 }) + 4294967295
  local c = k.cast(3, 'f16')
end)
