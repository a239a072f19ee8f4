-- softmax: y[r, :] = exp(x[r, :] - max(x[r, :])) / sum(exp(x[r, :] - max(x[r, :]))) over [M, N].
--
-- One program per row. The row may be any length: the program walks it in chunks of BLOCK
-- elements, twice. The first walk keeps, for each of the BLOCK lanes, a running maximum m and a
-- running sum s of exp(x - m) (the "online" softmax: when m grows, s is rescaled by exp(m_old -
-- m_new)); the lanes are then combined into the row's maximum and sum. The second walk writes
-- exp(x - max) / sum. exp(x) is computed as exp2(x * log2(e)), which is one instruction on a GPU.
-- Loads past the row's end read -inf, whose exp2 is 0, so ragged rows need no masks. Math is in
-- f32 whatever the tensors' dtype.
local kiln = require "kiln"

local LOG2E = 1.4426950408889634
local LOWEST = -3.0e38 -- finite, so that exp2(m - m_new) is never exp2(-inf - -inf)

return kiln.recipe {
  name = "softmax",
  params = { M = 512, N = 1000 },
  tune = {
    BLOCK = { default = 1024, values = { 128, 256, 512, 1024, 2048 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    dtype = { default = "f32", values = { "f32", "f16" } },
  },
  args = {
    kiln.tensor("x", "dtype", { "M", "N" }, "in"),
    kiln.tensor("y", "dtype", { "M", "N" }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
  },
  grid = function(p) return p.M end,
  reference = "softmax",
  checks = {
    { M = 1, N = 1 },
    { M = 3, N = 1024 },
    { M = 37, N = 781 },
    { M = 5, N = 3000, BLOCK = 256 },
    { M = 4, N = 777, dtype = "f16" },
  },

  body = function(k, p)
    local B = p.BLOCK
    local row = k.program_id(0)
    local x = k.view(k.args.x, { k.args.M, k.args.N })
    local y = k.view(k.args.y, { k.args.M, k.args.N })

    -- First walk: per-lane running max and sum, in base-2 units (t = x * log2(e)).
    local m0 = k.full({ 1, B }, LOWEST, "f32")
    local s0 = k.full({ 1, B }, 0, "f32")
    local m, s = k.range(0, k.args.N, B, { m0, s0 }, function(col, m, s)
      local t = k.cast(k.load(x, { row, col }, { 1, B }, { pad = -math.huge }), "f32") * LOG2E
      local m_new = k.maximum(m, t)
      return m_new, s * k.exp2(m - m_new) + k.exp2(t - m_new)
    end)

    -- Combine the lanes: the row's max, and its sum rescaled to that max ([1, 1] tiles, spread
    -- back over [1, B] once here rather than in every iteration of the second walk).
    local row_max = k.broadcast(m:max(1), { 1, B })
    local row_sum = (s * k.exp2(m - row_max)):sum(1)
    local inv_sum = k.broadcast(1.0 / row_sum, { 1, B })

    -- Second walk: write the normalised exponentials.
    k.range(0, k.args.N, B, {}, function(col)
      local t = k.cast(k.load(x, { row, col }, { 1, B }), "f32") * LOG2E
      k.store(y, { row, col }, k.cast(k.exp2(t - row_max) * inv_sum, p.dtype))
    end)
  end,
}
