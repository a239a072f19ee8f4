-- expect: 15: 'add' mixes f32 and f16: convert one with k.cast
-- Mixed element types: an f32 tile plus an f16 tile, with no k.cast.
local kiln = require "kiln"

return kiln.recipe {
  name = "type_mismatch",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "in"), kiln.tensor("h", "f16", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local h = k.view(k.args.h, { k.args.n })
    local a = k.load(x, { 0 }, { 64 })
    local b = k.load(h, { 0 }, { 64 })
    k.store(h, { 0 }, a + b)
  end,
}
