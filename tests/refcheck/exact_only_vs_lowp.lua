-- The vs_lowp criterion with a reference that computes only exactly (the built-in vector_add):
-- refused, naming the reference.
local kiln = require "kiln"

return kiln.recipe {
  name = "add",
  params = { n = 37 },
  args = {
    kiln.tensor("x", "f16", { "n" }, "in"),
    kiln.tensor("y", "f16", { "n" }, "in"),
    kiln.tensor("z", "f16", { "n" }, "out"),
    kiln.scalar("n", "i32"),
  },
  grid = function(p) return 1 end,
  reference = "vector_add",
  check = { criterion = "vs_lowp" },
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local y = k.view(k.args.y, { k.args.n })
    local z = k.view(k.args.z, { k.args.n })
    k.store(z, { 0 }, k.load(x, { 0 }, { 64 }) + k.load(y, { 0 }, { 64 }))
  end,
}
