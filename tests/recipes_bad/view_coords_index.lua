-- expect: 12: k.view: a base coordinate's index must be an i32 or i64 scalar, got tile<1xf32>
-- A view's base coordinate whose index is not an integer.
local kiln = require "kiln"

return kiln.recipe {
  name = "view_coords_index",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local s = k.load(k.view(k.args.x, { k.args.n }), { 0 }, { 1 }):sum(0)
    local v = k.view(k.args.x, { 8 }, { 1 }, { { s, 4, 16 } })
    k.store(v, { 0 }, k.load(v, { 0 }, { 8 }))
  end,
}
