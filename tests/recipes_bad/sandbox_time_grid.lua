-- expect: 10: recipe evaluation exceeded 0.2 s
-- flags: --recipe-time 0.2 --emit launch
-- A grid function that never ends (kiln compile --emit launch asks for the grid).
local kiln = require "kiln"

return kiln.recipe {
  name = "sandbox_time_grid",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p) while true do end return 1 end,
  body = function(k, p)
    
  end,
}
