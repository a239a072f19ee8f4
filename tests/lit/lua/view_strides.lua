-- The recipe front end (compiler/lua): a view with explicit strides.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: view(%x, 
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local v = k.view(k.args.x, { 4, 16 }, { 16, 1 })
  k.store(v, { 0, 0 }, k.load(v, { 0, 0 }, { 4, 16 }))
end)
