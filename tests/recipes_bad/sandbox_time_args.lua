-- expect: 9: recipe evaluation exceeded 0.2 s
-- flags: --recipe-time 0.2 --emit launch
-- An argument function that never ends (kiln compile --emit launch asks for the arguments).
local kiln = require "kiln"
return kiln.recipe {
  name = "sandbox_time_args",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)
    while true do end
  end) },
  grid = function(p) return 1 end,
  body = function(k, p) end,
}
