-- expect: 12: k.gather_shared: index 2 is tile<8x16xi32> but index 1 is tile<16x16xi32> (the indices have one shape)
-- The index tiles of k.gather_shared have one shape.
local kiln = require "kiln"

return kiln.recipe {
  name = "gather_index_shape",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local s = k.alloc_shared("f32", { 16, 16 })
    k.store_shared(s, k.gather_shared(s, k.iota({ 16, 16 }, 0), k.iota({ 8, 16 }, 1)))
  end,
}
