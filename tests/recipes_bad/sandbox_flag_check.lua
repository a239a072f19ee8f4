-- expect: 6: checks[1]: parameter 'causal' is a flag (0, 1, true or false); got '2'
-- A flag takes 0, 1, true or false, in checks as in --set.
local kiln = require "kiln"
local NOT_A_FLAG = 2

return kiln.recipe {
  name = "sandbox_flag_check",
  params = { n = 64 },
  tune = { causal = { false, true } },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p) end,
  checks = { { causal = NOT_A_FLAG } },
}
