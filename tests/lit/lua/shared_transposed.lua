-- The recipe front end (compiler/lua): k.load_shared(buf, { trans = true }) reads a rank-2 buffer as
-- its transpose: the tile has the swapped shape and the op carries trans = 1.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK: [[S:%[0-9]+]] = alloc_shared() : smem<8x4xf32>
-- CHECK: load_shared([[S]]) {trans = 1} : tile<4x8xf32>
-- CHECK: load_shared([[S]]) : tile<8x4xf32>
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local s = k.alloc_shared('f32', { 8, 4 })
  k.barrier()
  local a = k.load_shared(s, { trans = true })
  local b = k.load_shared(s, { trans = false })
  k.store(k.view(k.args.x, { 4, 8 }), { 0, 0 }, a + k.load_shared(s, { trans = true }))
  k.store(k.view(k.args.x, { 8, 4 }), { 0, 0 }, b)
end)
