-- expect: 12: BLOCK must divide n
-- A recipe's own error(), raised without a position: the position of the raising line is added.
local kiln = require "kiln"

return kiln.recipe {
  name = "raise",
  params = { n = 100 },
  tune = { BLOCK = { 64 } },
  args = {},
  grid = function(p) return 1 end,
  body = function(k, p)
    if p.n % p.BLOCK ~= 0 then error("BLOCK must divide n", 0) end
  end,
}
