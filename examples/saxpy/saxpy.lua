-- saxpy: z = a * x + y over n elements, checked against a reference written in Lua.
--
-- A recipe outside kiln's tree cannot add a C reference to compiler/ref/, so it gives its reference
-- as a Lua function (docs/recipes.md, "References"). kiln run calls it twice per check: exactly
-- (r.precision == "f64", r.round is the identity) and in low precision (r.precision is the kernel's
-- narrowest float type, here dtype; r.round(v) rounds v to it), then compares the kernel with both.
local kiln = require "kiln"

return kiln.recipe {
  name = "saxpy",
  params = { n = 5000, a = 2.5 },
  tune = {
    BLOCK = { default = 256, values = { 128, 256, 512, 1024 } },
    dtype = { default = "f32", values = { "f32", "f16" } },
  },
  args = {
    kiln.tensor("x", "dtype", { "n" }, "in"),
    kiln.tensor("y", "dtype", { "n" }, "in"),
    kiln.tensor("z", "dtype", { "n" }, "out"),
    kiln.scalar("a", "f32"),
    kiln.scalar("n", "i32"),
  },
  grid = function(p) return kiln.cdiv(p.n, p.BLOCK) end,

  -- t.x, t.y: the inputs as the kernel read them (flat lists, 1-based); t.z: the output to fill
  -- (every element: one left unset fails the check); t.a, t.n: the scalars; p: the settings.
  reference = function(t, p, r)
    for i = 1, t.n do
      t.z[i] = r.round(t.a * t.x[i]) + t.y[i]
    end
  end,
  checks = { { n = 1 }, { n = 1000, BLOCK = 128 }, { n = 777, dtype = "f16" } },

  body = function(k, p)
    local start = k.program_id(0) * p.BLOCK
    local x = k.view(k.args.x, { k.args.n })
    local y = k.view(k.args.y, { k.args.n })
    local z = k.view(k.args.z, { k.args.n })
    local xs = k.cast(k.load(x, { start }, { p.BLOCK }), "f32")
    local ys = k.cast(k.load(y, { start }, { p.BLOCK }), "f32")
    k.store(z, { start }, k.cast(k.fma(xs, k.broadcast(k.args.a, { p.BLOCK }), ys), p.dtype))
  end,
}
