-- vadd_tune: vector_add with a constraint, for the tuner's tests (tests/sh/tune_*.sh): z = x + y.
local kiln = require "kiln"

return kiln.recipe {
  name = "vadd_tune",
  params = { n = 3000 },
  tune = {
    BLOCK = { default = 256, values = { 64, 128, 256, 512, 1024 } },
    warps = { default = 2, values = { 1, 2, 4 } },
  },
  -- At most 8 elements per thread; at least one.
  constraints = {
    function(p) return p.BLOCK <= 8 * 32 * p.warps, "BLOCK over 8 elements per thread" end,
    function(p) return p.BLOCK >= 32 * p.warps end,
  },
  args = {
    kiln.tensor("x", "f32", { "n" }, "in"),
    kiln.tensor("y", "f32", { "n" }, "in"),
    kiln.tensor("z", "f32", { "n" }, "out"),
    kiln.scalar("n", "i32"),
  },
  grid = function(p) return kiln.cdiv(p.n, p.BLOCK) end,
  reference = "vector_add",
  body = function(k, p)
    local start = k.program_id(0) * p.BLOCK
    local x = k.view(k.args.x, { k.args.n })
    local y = k.view(k.args.y, { k.args.n })
    local z = k.view(k.args.z, { k.args.n })
    k.store(z, { start }, k.load(x, { start }, { p.BLOCK }) + k.load(y, { start }, { p.BLOCK }))
  end,
}
