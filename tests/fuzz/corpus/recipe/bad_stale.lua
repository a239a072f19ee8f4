-- expect: 14: this value belongs to an earlier kernel build (kept in a global or upvalue?)
-- A value kept across builds in an upvalue: the first build works, the second refuses the value.
local kiln = require "kiln"
local kept

return kiln.recipe {
  name = "stale",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    kept = kept or k.load(x, { 0 }, { 64 })
    k.store(x, { 0 }, kept)
  end,
}
