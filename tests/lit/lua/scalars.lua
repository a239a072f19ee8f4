-- The recipe front end (compiler/lua): scalar arithmetic on arguments, splat and cast.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: mul(%n, 
-- CHECK-DAG: splat(
-- CHECK-DAG: cast(%n) : f32
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
    local s = k.args.n * 2 + 1
    k.store(x, { s }, t * k.cast(k.args.n, 'f32'))
  end,
}
