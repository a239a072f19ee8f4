-- The recipe front end (compiler/lua): a view with a base (its element 0 is element 16 of x), so
-- that the load and store offsets and masks are relative to the slice; rank 1 takes 4 operands.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK: [[B:%[0-9]+]] = const() {value = 16} : i32
-- CHECK: view(%x, {{%[0-9a-z]+}}, {{%[0-9a-z]+}}, [[B]]) : view<1xf32>
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local v = k.view(k.args.x, { 8 }, { 1 }, 16)
  k.store(v, { 0 }, k.load(v, { 0 }, { 8 }))
end)
