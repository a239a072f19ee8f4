-- expect: 13: k.range: release must be true, false, 0 or 1, got 2
-- The release option (keep the body's barrier or not, with tma) is a flag.
local kiln = require "kiln"

return kiln.recipe {
  name = "release_flag",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local one = k.const(1, "f32")
    k.range(0, k.args.n, 1, {}, function(i)
      k.store(x, { i }, k.load(x, { i }, { 1 }) + one)
    end, { stages = 2, tma = true, release = 2 })
  end,
}
