-- expect: 14: op 'dot' (result %6): operand 2 has type tile<16x16xf16>; the accumulator for f32 inputs must be f32
-- An error the verifier finds after the body ran: an f16 accumulator for f32 inputs. It names the
-- recipe line of the op.
local kiln = require "kiln"

return kiln.recipe {
  name = "verify_dot",
  params = { n = 16 },
  args = { kiln.tensor("a", "f32", { "n", "n" }, "in"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local a = k.view(k.args.a, { k.args.n, k.args.n })
    local t = k.load(a, { 0, 0 }, { 16, 16 })
    local c = k.dot(t, t, k.full({ 16, 16 }, 0, "f16"))
  end,
}
