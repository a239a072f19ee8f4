-- vector_add: z = x + y over n f32 elements.
--
-- One program handles BLOCK consecutive elements; the grid covers n with cdiv(n, BLOCK) programs.
-- The last program's tile runs past n: its load reads 0 there and its store skips those elements,
-- because the views know their length.
local kiln = require "kiln"

return kiln.recipe {
  name = "vector_add",
  params = { n = 98432 },
  tune = {
    BLOCK = { default = 1024, values = { 128, 256, 512, 1024, 2048, 4096 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
  },
  args = {
    kiln.tensor("x", "f32", { "n" }, "in"),
    kiln.tensor("y", "f32", { "n" }, "in"),
    kiln.tensor("z", "f32", { "n" }, "out"),
    kiln.scalar("n", "i32"),
  },
  grid = function(p) return kiln.cdiv(p.n, p.BLOCK) end,
  reference = "vector_add",
  checks = { { n = 1 }, { n = 1000 }, { n = 1024 }, { n = 1025 }, { n = 5000, BLOCK = 128 } },

  body = function(k, p)
    local start = k.program_id(0) * p.BLOCK
    local x = k.view(k.args.x, { k.args.n })
    local y = k.view(k.args.y, { k.args.n })
    local z = k.view(k.args.z, { k.args.n })
    local a = k.load(x, { start }, { p.BLOCK })
    local b = k.load(y, { start }, { p.BLOCK })
    k.store(z, { start }, a + b)
  end,
}
