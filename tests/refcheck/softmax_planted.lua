-- A softmax with a planted error under the vs_lowp criterion: each output is scaled by 1 + 2^-9
-- (one f16 unit of roundoff in the wrong direction, on every element) before it is rounded to f16.
-- The kernel's abs error is then about 4x that of the f16 reference, so vs_lowp (limit 2x) fails
-- it. SCALE = 1 is the control: the same kernel without the error passes.
local kiln = require "kiln"

local LOG2E = 1.4426950408889634

return kiln.recipe {
  name = "softmax_planted",
  params = { M = 8, N = 100, SCALE = 1 + 2 ^ -9 },
  args = {
    kiln.tensor("x", "f16", { "M", "N" }, "in"),
    kiln.tensor("y", "f16", { "M", "N" }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
  },
  grid = function(p) return p.M end,
  reference = "softmax",
  check = { criterion = "vs_lowp", factor = 2 },

  body = function(k, p)
    local row = k.program_id(0)
    local x = k.view(k.args.x, { k.args.M, k.args.N })
    local y = k.view(k.args.y, { k.args.M, k.args.N })
    local t = k.cast(k.load(x, { row, 0 }, { 1, 128 }, { pad = -math.huge }), "f32") * LOG2E
    local e = k.exp2(t - k.broadcast(t:max(1), { 1, 128 }))
    local inv = k.broadcast(p.SCALE / e:sum(1), { 1, 128 })
    k.store(y, { row, 0 }, k.cast(e * inv, "f16"))
  end,
}
