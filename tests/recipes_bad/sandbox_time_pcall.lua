-- expect: 12: recipe evaluation exceeded 0.2 s
-- flags: --recipe-time 0.2
-- A recipe that catches the time limit error with pcall is stopped all the same.
local kiln = require "kiln"

return kiln.recipe {
  name = "sandbox_time_pcall",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    while true do pcall(function() while true do end end) end
  end,
}
