-- expect: 12: k.load_shared: the block at 12 of 8 elements leaves dim 1 of the buffer smem<16x16xf16> (dims from 0)
-- A block of a shared buffer that runs past the buffer's end.
local kiln = require "kiln"

return kiln.recipe {
  name = "shared_block_outside",
  params = { n = 64 },
  args = { kiln.tensor("x", "f16", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local s = k.alloc_shared("f16", { 16, 16 })
    local t = k.load_shared(s, { at = { 0, 12 }, shape = { 16, 8 } })
    k.store(k.view(k.args.x, { 16, 8 }), { 0, 0 }, t)
  end,
}
