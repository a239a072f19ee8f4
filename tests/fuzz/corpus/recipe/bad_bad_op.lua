-- expect: 12: k.load: 1 offsets for a rank-2 view
-- Bad op use: one offset for a rank-2 view.
local kiln = require "kiln"

return kiln.recipe {
  name = "bad_op",
  params = { M = 8, N = 8 },
  args = { kiln.tensor("x", "f32", { "M", "N" }, "inout"), kiln.scalar("M", "i32"), kiln.scalar("N", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.M, k.args.N })
    local t = k.load(x, { 0 }, { 8, 8 })
  end,
}
