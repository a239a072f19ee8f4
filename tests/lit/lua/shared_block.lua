-- The recipe front end (compiler/lua): k.load_shared(buf, { at = {...}, shape = {...} }) reads a block
-- of the buffer (buffer coordinates, before trans); at alone reads to the buffer's end, shape alone
-- starts at element 0.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK: [[S:%[0-9]+]] = alloc_shared() : smem<8x16xf32>
-- CHECK: load_shared([[S]]) {at = [2, 4]} : tile<4x8xf32>
-- CHECK: load_shared([[S]]) {trans = 1, at = [4, 8]} : tile<8x4xf32>
-- CHECK: load_shared([[S]]) {at = [0, 12]} : tile<8x4xf32>
-- CHECK: load_shared([[S]]) {at = [0, 0]} : tile<8x4xf32>
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local s = k.alloc_shared('f32', { 8, 16 })
  k.barrier()
  local a = k.load_shared(s, { at = { 2, 4 }, shape = { 4, 8 } })
  local b = k.load_shared(s, { at = { 4, 8 }, shape = { 4, 8 }, trans = true })
  local c = k.load_shared(s, { at = { 0, 12 } })
  local d = k.load_shared(s, { shape = { 8, 4 } })
  k.store(k.view(k.args.x, { 4, 8 }), { 0, 0 }, a)
  k.store(k.view(k.args.x, { 8, 4 }), { 0, 0 }, b + c + d)
end)
