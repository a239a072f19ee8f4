-- The kernel the front-end lit tests share: its parameters, knobs and arguments, the views x and u
-- (1-D) and y and h (2-D) over them, and t, a 64-element tile of x. A test passes the rest of the body:
--   return require 'tile_kernel' (function(k, p, x, u, y, h, t) ... end)
local kiln = require 'kiln'
return function(rest)
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
      rest(k, p, x, u, y, h, t)
    end,
  }
end
