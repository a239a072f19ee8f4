-- expect: 13: k.range: ws needs tma (and release not false): the producer warpgroup issues the ring's TMA copies and the consumers hand the stages back by mbarrier
-- Warp specialisation splits a TMA ring: without tma there is nothing for a producer to issue.
local kiln = require "kiln"

return kiln.recipe {
  name = "ws_without_tma",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local one = k.const(1, "f32")
    k.range(0, k.args.n, 1, {}, function(i)
      k.store(x, { i }, k.load(x, { i }, { 1 }) + one)
    end, { stages = 2, ws = true })
  end,
}
