-- expect: 12: k.store: tma must be true, false, 0 or 1, got 2
-- The store's TMA option is a flag.
local kiln = require "kiln"

return kiln.recipe {
  name = "store_tma_flag",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    k.store(x, { 0 }, k.load(x, { 0 }, { 16 }), { tma = 2 })
  end,
}
