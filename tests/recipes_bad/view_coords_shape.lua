-- expect: 12: k.view: base coordinate 2 is not a table {index, count, stride}
-- A view's base given as coordinates, one of which is not {index, count, stride}.
local kiln = require "kiln"

return kiln.recipe {
  name = "view_coords_shape",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local b = k.program_id(0)
    local v = k.view(k.args.x, { 8 }, { 1 }, { { b, 4, 16 }, { b, 4 } })
    k.store(v, { 0 }, k.load(v, { 0 }, { 8 }))
  end,
}
