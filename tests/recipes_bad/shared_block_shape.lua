-- expect: 12: k.load_shared: shape[2] must be a whole number >= 1
-- A block with an empty dim.
local kiln = require "kiln"

return kiln.recipe {
  name = "shared_block_shape",
  params = { n = 64 },
  args = { kiln.tensor("x", "f16", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local s = k.alloc_shared("f16", { 16, 16 })
    local t = k.load_shared(s, { shape = { 16, 0 } })
    k.store(k.view(k.args.x, { 16, 16 }), { 0, 0 }, t)
  end,
}
