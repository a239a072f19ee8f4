-- expect: 13: attempt to call a nil value (field 'lod')
-- A runtime error in the body: a misspelt op.
local kiln = require "kiln"

return kiln.recipe {
  name = "runtime",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local t = k.load(x, { 0 }, { 64 })
    k.store(x, { 0 }, k.lod(x, { 0 }, { 64 }) + t)
  end,
}
