-- Blocks of shared buffers (k.load_shared{at, shape}) in every way the compiler reads them, checked
-- against a Lua reference: mma A operands from a swizzled buffer (ldmatrix) at chunk-aligned columns
-- and at a column 8 bytes into a chunk (read an element at a time), B operands read transposed from
-- [N, K] buffers, 8-bit A operands from word-aligned columns, and a block read into an ordinary
-- layout. The buffers are filled by copies from the inputs; rows/columns of the blocks start away
-- from 0 so that a dropped offset reads the wrong elements.
local kiln = require "kiln"

local function at(t, cols, i, j) return t[i * cols + j + 1] end

return kiln.recipe {
  name = "shared_block",
  params = { n = 1 },
  tune = { warps = { default = 2, values = { 1, 2, 4 } }, swizzle = { default = 8, values = { 0, 8 } } },
  args = {
    kiln.tensor("a", "f16", { 16, 64 }, "in"),
    kiln.tensor("b", "f16", { 16, 64 }, "in"), -- B stored as [N, K]
    kiln.tensor("a8", "i8", { 16, 64 }, "in"),
    kiln.tensor("b8", "i8", { 32, 16 }, "in"),
    kiln.tensor("y1", "f32", { 16, 16 }, "out"),
    kiln.tensor("y2", "f32", { 16, 16 }, "out"),
    kiln.tensor("y3", "f16", { 8, 8 }, "out"),
    kiln.tensor("y4", "i32", { 16, 16 }, "out"),
    kiln.scalar("n", "i32"),
  },
  grid = function(p) return 1 end,
  checks = { {}, { warps = 1 }, { warps = 4, swizzle = 0 } },
  check = { criterion = "relative", tol = 1e-3 },
  reference = function(t, p, r)
    local function prod(k0, kn) -- sum over k in [k0, k0 + kn) of a[i, k] b[j, k]
      local y = {}
      for i = 0, 15 do
        for j = 0, 15 do
          local s = 0
          for k = k0, k0 + kn - 1 do s = s + at(t.a, 64, i, k) * at(t.b, 64, j, k) end
          y[i * 16 + j + 1] = s
        end
      end
      return y
    end
    local p16, p48, p4 = prod(16, 16), prod(48, 16), prod(4, 16)
    for e = 1, 256 do
      t.y1[e] = p16[e] + p48[e]
      t.y2[e] = p4[e]
    end
    for i = 0, 7 do
      for j = 0, 7 do t.y3[i * 8 + j + 1] = r.round(2 * at(t.a, 64, 3 + i, 5 + j)) end
    end
    for i = 0, 15 do
      for j = 0, 15 do
        local s = 0
        for k = 0, 31 do s = s + at(t.a8, 64, i, 4 + k) * at(t.b8, 16, k, j) end
        t.y4[i * 16 + j + 1] = s
      end
    end
  end,

  body = function(k, p)
    local sw = p.swizzle > 0 and { swizzle = p.swizzle } or nil
    local va, vb = k.view(k.args.a, { 16, 64 }), k.view(k.args.b, { 16, 64 })
    local sa, sb = k.alloc_shared("f16", { 16, 64 }, sw), k.alloc_shared("f16", { 16, 64 }, sw)
    local s8 = k.alloc_shared("i8", { 16, 64 })
    k.copy(va, { 0, 0 }, sa)
    k.copy(vb, { 0, 0 }, sb)
    k.copy(k.view(k.args.a8, { 16, 64 }), { 0, 0 }, s8)
    k.barrier()
    local function ab(c0)
      return k.load_shared(sa, { at = { 0, c0 }, shape = { 16, 16 } }),
          k.load_shared(sb, { at = { 0, c0 }, shape = { 16, 16 }, trans = true })
    end
    local zero = k.full({ 16, 16 }, 0, "f32")
    local a16, b16 = ab(16)
    local a48, b48 = ab(48)
    local a4, b4 = ab(4)
    k.store(k.view(k.args.y1, { 16, 16 }), { 0, 0 }, k.dot(a48, b48, k.dot(a16, b16, zero)))
    k.store(k.view(k.args.y2, { 16, 16 }), { 0, 0 }, k.dot(a4, b4, zero))
    k.store(k.view(k.args.y3, { 8, 8 }), { 0, 0 }, k.load_shared(sa, { at = { 3, 5 }, shape = { 8, 8 } }) * 2)
    local x8 = k.load_shared(s8, { at = { 0, 4 }, shape = { 16, 32 } })
    local w8 = k.load(k.view(k.args.b8, { 32, 16 }), { 0, 0 }, { 32, 16 })
    k.store(k.view(k.args.y4, { 16, 16 }), { 0, 0 }, k.dot(x8, w8, k.full({ 16, 16 }, 0, "i32")))
  end,
}
