-- expect: 13: k.range: the step must be at least 1 (loops count up), got 0
-- A loop whose step is the number 0: refused where the recipe builds it.
local kiln = require "kiln"

return kiln.recipe {
  name = "step_zero_number",
  params = { n = 64, STEP = 0 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local one = k.const(1, "f32")
    k.range(0, k.args.n, p.STEP, {}, function(i)
      k.store(x, { i }, k.load(x, { i }, { 1 }) + one)
    end)
  end,
}
