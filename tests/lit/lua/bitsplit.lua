-- The recipe front end (compiler/lua): k.bitsplit(tile, E, axis) splits each element into
-- width / width(E) elements of E along axis (axes from 0): the dim grows by that factor.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK: bitsplit({{.*}}) {axis = 0} : tile<16x8xf16>
-- CHECK: bitsplit({{.*}}) {axis = 1} : tile<8x32xu8>
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local w = k.load(k.view(k.args.u, { 8, 8 }), { 0, 0 }, { 8, 8 })
  k.store(h, { 0, 0 }, k.bitsplit(w, 'f16', 0))
  k.store(k.view(k.args.u, { 8, 32 }), { 0, 0 }, k.cast(k.bitsplit(w, 'u8', 1), 'u32'))
end)
