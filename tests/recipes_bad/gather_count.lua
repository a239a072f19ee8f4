-- expect: 12: k.gather_shared: the buffer smem<16x16xf32> needs 2 index tiles (one per dim), got 1
-- k.gather_shared takes one index tile per dim of the buffer.
local kiln = require "kiln"

return kiln.recipe {
  name = "gather_count",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local s = k.alloc_shared("f32", { 16, 16 })
    k.store_shared(s, k.cast(k.gather_shared(s, k.iota({ 16, 16 }, 0)), "f32"))
  end,
}
