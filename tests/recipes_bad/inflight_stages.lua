-- expect: 13: k.range: inflight needs stages >= 3 (got 2): the stage a group in flight reads is not refilled
-- A warpgroup MMA group kept in flight reads the stage of the iteration before: two stages cannot hold it.
local kiln = require "kiln"

return kiln.recipe {
  name = "inflight_stages",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local one = k.const(1, "f32")
    k.range(0, k.args.n, 1, {}, function(i)
      k.store(x, { i }, k.load(x, { i }, { 1 }) + one)
    end, { stages = 2, inflight = true })
  end,
}
