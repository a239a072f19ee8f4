-- expect: 16: a value made inside the k.range body at line 12 is used outside it (return it from the body)
-- A value made in a loop body used after the loop.
local kiln = require "kiln"

return kiln.recipe {
  name = "escape",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x, last = k.view(k.args.x, { k.args.n }), nil
    k.range(0, k.args.n, 64, {}, function(i)
      last = k.load(x, { i }, { 64 })
    end)
    -- `last` belongs to the loop body: it must be carried out as a loop result.
    k.store(x, { 0 }, last)
  end,
}
