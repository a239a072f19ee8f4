-- The recipe front end (compiler/lua): k.add, k.sub, k.mul, k.div, k.rem, k.neg.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: add(
-- CHECK-DAG: sub(
-- CHECK-DAG: mul(
-- CHECK-DAG: div(
-- CHECK-DAG: rem(
-- CHECK-DAG: neg(
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
    k.store(x, { 0 }, k.add(t, 1) - k.sub(t, 1) * k.mul(t, 2) / k.div(t, 3) + k.neg(k.rem(t, 4)))
  end,
}
