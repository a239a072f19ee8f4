-- expect: 13: 'const' makes tile<65536x65536x65536xf32>: 281474976710656 elements, more than a program of 4 warps holds in a tile (131072: 1024 per thread)
-- A tile of 2^48 elements (its 32-bit count wrapped to 0: an empty kernel that "passed"). A tile
-- holds at most 1024 elements per thread of its program (docs/ir.md, "Limits").
local kiln = require "kiln"

return kiln.recipe {
  name = "tile_too_big",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n", "n", "n" }, "out"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n, k.args.n, k.args.n })
    local t = k.full({ 1 << 16, 1 << 16, 1 << 16 }, 1, "f32")
    k.store(x, { 0, 0, 0 }, t)
  end,
}
