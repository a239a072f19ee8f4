-- The recipe front end (compiler/lua): k.dtype, k.shape and k.rank (asserted in the recipe).
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: load(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  assert(k.dtype(t) == 'f32' and k.shape(t)[1] == 64 and k.rank(t) == 1 and k.rank(k.args.n) == 0)
  assert(tostring(t) == 'kiln value: tile<64xf32>' and k.target.name == 'sm_80' and k.target.sm == 80)
  assert(k.cast(t, 'f32') == t and #k.shape(x) == 0 and p.dtype == 'f32' and p.n == 64)
  local names = {}
  for name, v in pairs(p) do names[#names + 1] = name .. '=' .. v end
  table.sort(names)
  assert(table.concat(names, ' ') == 'BLOCK=64 M=8 N=8 dtype=f32 n=64')
end)
