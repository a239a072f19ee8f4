-- expect: 6: recipe used more than 40 MiB
-- flags: --recipe-mem 40
-- An allocation loop is stopped by the memory cap, at the line that allocates.
local kiln = require "kiln"
local t = {}
for i = 1, math.huge do t[i] = { i } end
return kiln.recipe {
  name = "sandbox_mem_loop",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
