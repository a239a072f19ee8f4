-- expect: 13: recipe used more than 40 MiB (a kernel of 163841 ops)
-- flags: --recipe-mem 40
-- A body that builds ops forever: the kernel IR counts against the memory cap.
local kiln = require "kiln"

return kiln.recipe {
  name = "sandbox_mem_ops",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    local t = k.full({ 64 }, 0, "f32")
    while true do t = t + 1 end
  end,
}
