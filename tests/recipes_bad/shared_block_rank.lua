-- expect: 12: k.load_shared: at is a list of 2 whole numbers (one per dim of the buffer)
-- A block's offsets that do not name every dim of the buffer.
local kiln = require "kiln"

return kiln.recipe {
  name = "shared_block_rank",
  params = { n = 64 },
  args = { kiln.tensor("x", "f16", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local s = k.alloc_shared("f16", { 16, 16 })
    local t = k.load_shared(s, { at = { 8 }, shape = { 8, 16 } })
    k.store(k.view(k.args.x, { 8, 16 }), { 0, 0 }, t)
  end,
}
