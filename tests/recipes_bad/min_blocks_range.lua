-- expect: 5: min_blocks = 40: must be a whole number from 0 (no bound) to 32
-- A min_blocks knob beyond what .minnctapersm can say (an SM holds at most 32 blocks).
local kiln = require "kiln"

return kiln.recipe {
  name = "min_blocks_range",
  params = { n = 64 },
  tune = { min_blocks = { default = 40, values = { 40 } } },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    k.store(x, { 0 }, k.load(x, { 0 }, { 64 }))
  end,
}
