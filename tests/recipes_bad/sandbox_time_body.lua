-- expect: 12: recipe evaluation exceeded 0.2 s
-- flags: --recipe-time 0.2
-- A body that never ends.
local kiln = require "kiln"

return kiln.recipe {
  name = "sandbox_time_body",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    while true do end
  end,
}
