-- A warpgroup MMA (sm_90a) whose A operand is computed in registers and reaches the dot through a
-- layout conversion, against a Lua reference: y1 = f16(x) g (x loaded in a blocked layout, converted
-- to the A fragments), y2 = f16(x f) g (the first product by mma.sync on a 2 x 2 warp grid, its
-- result converted to the warpgroup's A). The conversion is lowered where it stands: deferring it to
-- the dot, as mma.sync's direct path does, left A's registers undefined under wgmma (fftconv's
-- order-2 kernel at N = 2048 gave NaN on sm_90a). Any target: elsewhere both products are mma.sync.
local kiln = require "kiln"

return kiln.recipe {
  name = "wgmma_reg_a",
  params = { n = 1 },
  tune = { warps = { default = 4, values = { 4, 8 } } },
  args = {
    kiln.tensor("x", "f16", { 64, 64 }, "in"),
    kiln.tensor("f", "f16", { 64, 64 }, "in"),
    kiln.tensor("g", "f16", { 64, 64 }, "in"),
    kiln.tensor("y1", "f32", { 64, 64 }, "out"),
    kiln.tensor("y2", "f32", { 64, 64 }, "out"),
    kiln.scalar("n", "i32"),
  },
  grid = function(p) return 1 end,
  checks = { {}, { warps = 8 } },
  -- y2's first product is rounded to f16 before the second, as the reference does not: 1e-2
  check = { criterion = "relative", tol = 1e-2 },
  reference = function(t, p, r)
    local function mm(a, b, i, j)
      local s = 0
      for k = 0, 63 do s = s + a(i, k) * b(k, j) end
      return s
    end
    local function x(i, k) return t.x[i * 64 + k + 1] end
    local function f(k, j) return t.f[k * 64 + j + 1] end
    local function g(k, j) return t.g[k * 64 + j + 1] end
    local h = {}
    for i = 0, 63 do
      for j = 0, 63 do h[i * 64 + j] = mm(x, f, i, j) end
    end
    for i = 0, 63 do
      for j = 0, 63 do
        t.y1[i * 64 + j + 1] = mm(x, g, i, j)
        t.y2[i * 64 + j + 1] = mm(function(a, k) return h[a * 64 + k] end, g, i, j)
      end
    end
  end,

  body = function(k, p)
    local sf = k.alloc_shared("f16", { 64, 64 }, { swizzle = 8 })
    local sg = k.alloc_shared("f16", { 64, 64 }, { swizzle = 8 })
    k.copy(k.view(k.args.f, { 64, 64 }), { 0, 0 }, sf)
    k.copy(k.view(k.args.g, { 64, 64 }), { 0, 0 }, sg)
    k.barrier()
    local x = k.load(k.view(k.args.x, { 64, 64 }), { 0, 0 }, { 64, 64 })
    local z = k.full({ 64, 64 }, 0, "f32")
    k.store(k.view(k.args.y1, { 64, 64 }), { 0, 0 }, k.dot(k.cast(k.cast(x, "f32") * 1.0, "f16"), k.load_shared(sg), z))
    local h = k.dot(x, k.load_shared(sf), z, { mma = "mma_sync" })
    k.store(k.view(k.args.y2, { 64, 64 }), { 0, 0 }, k.dot(k.cast(h, "f16"), k.load_shared(sg), z))
  end,
}
