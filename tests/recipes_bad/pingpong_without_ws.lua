-- expect: 13: k.range: pingpong needs ws: the consumer warpgroups of a warp-specialised loop take turns
-- Ping-pong orders the consumer warpgroups of a warp-specialised loop: without ws there are none.
local kiln = require "kiln"

return kiln.recipe {
  name = "pingpong_without_ws",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local one = k.const(1, "f32")
    k.range(0, k.args.n, 1, {}, function(i)
      k.store(x, { i }, k.load(x, { i }, { 1 }) + one)
    end, { stages = 2, tma = true, pingpong = true })
  end,
}
