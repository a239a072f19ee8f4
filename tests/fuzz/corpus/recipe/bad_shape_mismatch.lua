-- expect: 12: 'mul': shapes [64x1] and [32x16] do not broadcast (dim 0)
-- Tiles whose shapes do not broadcast.
local kiln = require "kiln"

return kiln.recipe {
  name = "shape_mismatch",
  params = {},
  args = {},
  grid = function(p) return 1 end,
  body = function(k, p)
    local a, b = k.iota({ 64, 1 }, 0), k.iota({ 32, 16 }, 1)
    local c = a * b
  end,
}
