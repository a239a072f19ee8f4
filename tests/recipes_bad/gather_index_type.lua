-- expect: 12: k.gather_shared: index 2 is tile<16x16xf32>; the indices are i32 tiles
-- The indices of k.gather_shared are i32 tiles.
local kiln = require "kiln"

return kiln.recipe {
  name = "gather_index_type",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local s = k.alloc_shared("f32", { 16, 16 })
    k.store_shared(s, k.gather_shared(s, k.iota({ 16, 16 }, 0), k.full({ 16, 16 }, 1.0, "f32")))
  end,
}
