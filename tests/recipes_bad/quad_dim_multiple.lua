-- expect: 12: k.load_shared: quad_dim = 1 needs dim 1 of the buffer to be a multiple of 16 (it is 8)
-- k.load_shared's quad_dim names a dim of the buffer, a multiple of 16, not with reverse.
local kiln = require "kiln"

return kiln.recipe {
  name = "quad_dim_multiple",
  params = { n = 64 },
  args = { kiln.tensor("x", "u32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local s = k.alloc_shared("u32", { 16, 8 })
    k.store_shared(s, k.load_shared(s, { quad_dim = 1 }))
  end,
}
