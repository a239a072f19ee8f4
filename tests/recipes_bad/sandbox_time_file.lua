-- expect: 5: recipe evaluation exceeded 0.2 s
-- flags: --recipe-time 0.2
-- A recipe that never ends at file level is stopped by the time limit.
local kiln = require "kiln"
while true do end
return kiln.recipe {
  name = "sandbox_time_file",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
