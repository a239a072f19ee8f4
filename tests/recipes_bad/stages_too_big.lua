-- expect: 13: k.range: stages must be a whole number from 1 to 8, got 2147483648
-- A pipeline depth beyond IR_MAX_STAGES (it used to reach the allocator and abort there).
local kiln = require "kiln"

return kiln.recipe {
  name = "stages_too_big",
  params = { n = 64, stages = 2147483648 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local one = k.const(1, "f32")
    k.range(0, k.args.n, 1, {}, function(i)
      k.store(x, { i }, k.load(x, { i }, { 1 }) + one)
    end, { stages = p.stages })
  end,
}
