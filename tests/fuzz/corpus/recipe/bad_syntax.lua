-- expect: 7: unexpected symbol near ','
-- A syntax error: a doubled comma in the recipe table.
local kiln = require "kiln"

return kiln.recipe {
  name = "syntax",
  params = { n = 4 },,
  args = { kiln.tensor("x", "f32", { "n" }, "out") },
  grid = function(p) return 1 end,
  body = function(k, p) end,
}
