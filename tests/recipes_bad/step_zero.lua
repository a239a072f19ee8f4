-- expect: 14: op 'for': operand 2 (the step) is 0; a loop counts up by a step of at least 1
-- A loop whose step is a zero constant value: the verifier, run after the body, refuses it at the
-- recipe line of the k.range (it would never end).
local kiln = require "kiln"

return kiln.recipe {
  name = "step_zero",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local step = k.const(0, "i32")
    k.range(0, k.args.n, step, {}, function(i)
      k.store(x, { i }, k.load(x, { i }, { 1 }) + 1)
    end)
  end,
}
