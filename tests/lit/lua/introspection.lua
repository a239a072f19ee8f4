-- The recipe front end (compiler/lua): k.dtype, k.shape and k.rank (asserted in the recipe).
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: load(
local kiln = require 'kiln'
return kiln.recipe {
  name = 't', params = { n = 64, M = 8, N = 8 },
  tune = { BLOCK = { 64, 128 }, dtype = { 'f32', 'f16' } },
  args = { kiln.tensor('x', 'f32', { 'n' }, 'inout'), kiln.tensor('y', 'dtype', { 'M', 'N' }, 'inout'),
           kiln.tensor('u', 'u32', { 'n' }, 'inout'), kiln.tensor('h', 'f16', { 'M', 'N' }, 'inout'),
           kiln.scalar('n', 'i32'), kiln.scalar('M', 'i32'), kiln.scalar('N', 'i32') },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x, u = k.view(k.args.x, { k.args.n }), k.view(k.args.u, { k.args.n })
    local y, h = k.view(k.args.y, { k.args.M, k.args.N }), k.view(k.args.h, { k.args.M, k.args.N })
    local t = k.load(x, { 0 }, { 64 })
    assert(k.dtype(t) == 'f32' and k.shape(t)[1] == 64 and k.rank(t) == 1 and k.rank(k.args.n) == 0)
    assert(tostring(t) == 'kiln value: tile<64xf32>' and k.target.name == 'sm_80' and k.target.sm == 80)
    assert(k.cast(t, 'f32') == t and #k.shape(x) == 0 and p.dtype == 'f32' and p.n == 64)
    local names = {}
    for name, v in pairs(p) do names[#names + 1] = name .. '=' .. v end
    table.sort(names)
    assert(table.concat(names, ' ') == 'BLOCK=64 M=8 N=8 dtype=f32 n=64')
  end,
}
