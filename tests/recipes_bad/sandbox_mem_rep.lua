-- expect: 5: recipe used more than 40 MiB
-- flags: --recipe-mem 40
-- One allocation over the cap, from a library function.
local kiln = require "kiln"
local s = string.rep("x", 1 << 30)
return kiln.recipe {
  name = "sandbox_mem_rep",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
