-- expect: 11: k.copy: tma must be true, false, 0 or 1, got 3
-- The copy's TMA option is a flag.
local kiln = require "kiln"

return kiln.recipe {
  name = "copy_tma_flag",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    k.copy(k.view(k.args.x, { k.args.n }), { 0 }, k.alloc_shared("f32", { 64 }), { tma = 3 })
  end,
}
