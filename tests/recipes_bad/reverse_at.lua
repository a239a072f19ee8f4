-- expect: 12: k.load_shared: reverse reads the whole buffer as it is stored: no trans, at or shape with it
-- k.load_shared's reverse reads the whole buffer.
local kiln = require "kiln"

return kiln.recipe {
  name = "reverse_at",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local s = k.alloc_shared("f32", { 16, 16 })
    k.store_shared(s, k.load_shared(s, { reverse = true, at = { 0, 0 }, shape = { 16, 16 } }))
  end,
}
