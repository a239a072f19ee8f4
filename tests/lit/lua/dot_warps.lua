-- The recipe front end (compiler/lua): k.dot's options table. warps = "rows" becomes the dot's
-- split attribute (the warps split the rows only), next to a precision given in the same table; the
-- layout pass then gives the result a 4 x 1 warp grid (4 warps, 64 rows) where it would pick 2 x 2.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- RUN: %kiln compile %s --target sm_80 --emit ir-opt | FileCheck %s --check-prefix=OPT
-- CHECK: dot({{.*}}) {precision = "ieee", split = "rows"} : tile<64x64xf32>
-- CHECK: dot({{.*}}) : tile<64x64xf32>
-- OPT: dot({{.*}}) {precision = "ieee", split = "rows"} : tile<64x64xf32, mma<[4,1]>>
-- OPT: dot({{.*}}) : tile<64x64xf32, mma<[2,2]>>
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local v = k.view(k.args.h, { 64, 64 })
  local a = k.load(v, { 0, 0 }, { 64, 64 })
  local r = k.dot(a, a, k.full({ 64, 64 }, 0, 'f32'), { precision = 'ieee', warps = 'rows' })
  local s = k.dot(a, a, k.full({ 64, 64 }, 0, 'f32'), {})
  k.store(v, { 0, 0 }, k.cast(r + s, 'f16'))
end)
