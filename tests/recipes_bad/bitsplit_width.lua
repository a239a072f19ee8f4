-- expect: 11: k.bitsplit: tile<16x16xu32> of u32 does not split into f32 elements (a whole number of two or more)
-- A bitsplit into elements as wide as the operand's.
local kiln = require "kiln"

return kiln.recipe {
  name = "bitsplit_width",
  params = { n = 64 },
  args = { kiln.tensor("w", "u32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local t = k.bitsplit(k.load(k.view(k.args.w, { 16, 16 }), { 0, 0 }, { 16, 16 }), "f32", 0)
    k.store(k.view(k.args.w, { 16, 16 }), { 0, 0 }, k.bitcast(t, "u32"))
  end,
}
