-- scale: y[M, N] = s * x[M, N], checked against a C reference built as a shared object beside this
-- file (scale_ref.c; the build makes scale_ref.so here: docs/recipes.md, "References").
--
-- One program per row, walking the row in chunks of BLOCK.
local kiln = require "kiln"

return kiln.recipe {
  name = "scale",
  params = { M = 7, N = 300, s = -1.75 },
  tune = {
    BLOCK = { default = 128, values = { 64, 128, 256 } },
    dtype = { default = "f32", values = { "f32", "bf16" } },
  },
  args = {
    kiln.tensor("x", "dtype", { "M", "N" }, "in"),
    kiln.tensor("y", "dtype", { "M", "N" }, "out"),
    kiln.scalar("s", "f32"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
  },
  grid = function(p) return p.M end,
  reference = { c = "scale_ref.so", symbol = "scale_ref" },
  checks = { { M = 1, N = 1 }, { M = 3, N = 129, BLOCK = 64 }, { M = 5, N = 200, dtype = "bf16" } },

  body = function(k, p)
    local row = k.program_id(0)
    local x = k.view(k.args.x, { k.args.M, k.args.N })
    local y = k.view(k.args.y, { k.args.M, k.args.N })
    k.range(0, k.args.N, p.BLOCK, {}, function(col)
      local v = k.cast(k.load(x, { row, col }, { 1, p.BLOCK }), "f32")
      k.store(y, { row, col }, k.cast(v * k.broadcast(k.args.s, { 1, p.BLOCK }), p.dtype))
    end)
  end,
}
