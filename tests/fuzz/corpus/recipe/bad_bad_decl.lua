-- expect: 8: dim 'K' is not a parameter of the recipe
-- A declaration error: a tensor dim that names no parameter (reported at the kiln.tensor line).
local kiln = require "kiln"

return kiln.recipe {
  name = "bad_decl",
  params = { M = 8, N = 8 },
  args = { kiln.tensor("x", "f32", { "M", "K" }, "in") },
  grid = function(p) return 1 end,
  body = function(k, p) end,
}
