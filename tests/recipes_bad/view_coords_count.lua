-- expect: 12: k.view: a base given as coordinates has 1 to 3 of them, got 4
-- A view's base given as more coordinates than a tensor map has dimensions beyond the view's two.
local kiln = require "kiln"

return kiln.recipe {
  name = "view_coords_count",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local b, c = k.program_id(0), { k.program_id(0), 2, 8 }
    local v = k.view(k.args.x, { 8 }, { 1 }, { c, c, c, c })
    k.store(v, { 0 }, k.load(v, { 0 }, { 8 }))
  end,
}
