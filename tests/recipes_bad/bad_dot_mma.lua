-- expect: 12: k.dot: mma = 'tcgen05': auto, wgmma or mma_sync
-- Bad option of k.dot: an instruction choice that does not exist.
local kiln = require "kiln"

return kiln.recipe {
  name = "bad_dot_mma",
  params = { M = 16, N = 16 },
  args = { kiln.tensor("x", "f16", { "M", "N" }, "inout"), kiln.scalar("M", "i32"), kiln.scalar("N", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local a = k.load(k.view(k.args.x, { k.args.M, k.args.N }), { 0, 0 }, { 16, 16 })
    local c = k.dot(a, a, k.full({ 16, 16 }, 0, "f32"), { mma = "tcgen05" })
  end,
}
