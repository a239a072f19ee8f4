-- expect: 12: unknown parameter 'BLOKC' (parameters: n, BLOCK)
-- A misspelt parameter in the body.
local kiln = require "kiln"

return kiln.recipe {
  name = "unknown_param",
  params = { n = 64 },
  tune = { BLOCK = { 64, 128 } },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local t = k.full({ p.BLOKC }, 1, "f32")
  end,
}
