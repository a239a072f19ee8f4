-- load_shared {quad_dim = q} (docs/ir.md): a buffer whose dim q holds each block of 16 as a 4 x 4
-- transpose, index c at P(c) = (c & ~15) | (c & 3) << 2 | (c >> 2) & 3, read back in logical order,
-- against a Lua reference, in the ways the compiler lowers it:
--   y0: along dim 0 of an unswizzled [32, 16] buffer (w4a16_pack's case), blocked layout;
--   y1: along the last dim, blocked, no trans;
--   y2: the words of a swizzled [64, 32] buffer read transposed along its last dim straight into a
--       dot's B fragments through k.bitsplit (w4a16's case: one 16-byte read for four words);
--   y3: a block of that buffer (at = {16, 16}, quad_dim on the last dim), transposed, blocked;
--   y4: the whole swizzled buffer transposed into a blocked tile (no dot).
-- The f16 halves are masked into [1, 2) (0x3c00 | 10 random mantissa bits) so every value is finite.
local kiln = require "kiln"

local function P(c) return (c & ~15) | ((c & 3) << 2) | ((c >> 2) & 3) end
local function half(bits) return 1 + (bits & 0x3ff) / 1024 end

return kiln.recipe {
  name = "quad_dim",
  params = { n = 1 },
  tune = { warps = { default = 4, values = { 1, 2, 4 } } },
  args = {
    kiln.tensor("w", "u32", { 32, 16 }, "in"),
    kiln.tensor("v", "u32", { 64, 32 }, "in"),
    kiln.tensor("x", "f16", { 16, 64 }, "in"),
    kiln.tensor("y0", "u32", { 32, 16 }, "out"),
    kiln.tensor("y1", "u32", { 32, 16 }, "out"),
    kiln.tensor("y2", "f32", { 16, 64 }, "out"),
    kiln.tensor("y3", "u32", { 16, 32 }, "out"),
    kiln.tensor("y4", "u32", { 32, 64 }, "out"),
    kiln.scalar("n", "i32"),
  },
  grid = function(p) return 1 end,
  checks = { {}, { warps = 1 }, { warps = 2 } },
  check = { criterion = "relative", tol = 1e-3 },
  reference = function(t, p, r)
    local function w(i, c) return math.tointeger(t.w[i * 16 + c + 1]) end
    local function v(i, c) return math.tointeger(t.v[i * 32 + c + 1]) end
    for i = 0, 31 do
      for c = 0, 15 do
        t.y0[i * 16 + c + 1] = w(P(i), c)
        t.y1[i * 16 + c + 1] = w(i, P(c))
      end
    end
    -- the logical words [32, 64]: word (k, n) = v(n, P(k)); B [64, 64] f16: (2k + h, n) half h
    local function b(kk, n) return half(v(n, P(kk // 2)) >> (16 * (kk % 2))) end
    for i = 0, 15 do
      for n = 0, 63 do
        local s = 0
        for kk = 0, 63 do s = s + t.x[i * 64 + kk + 1] * b(kk, n) end
        t.y2[i * 64 + n + 1] = s
      end
    end
    for i = 0, 15 do
      for c = 0, 31 do t.y3[i * 32 + c + 1] = v(16 + c, P(16 + i)) end
    end
    for i = 0, 31 do
      for c = 0, 63 do t.y4[i * 64 + c + 1] = v(c, P(i)) end
    end
  end,

  body = function(k, p)
    local s = k.alloc_shared("u32", { 32, 16 })
    k.store_shared(s, k.load(k.view(k.args.w, { 32, 16 }), { 0, 0 }, { 32, 16 }))
    local sv = k.alloc_shared("u32", { 64, 32 }, { swizzle = 8 })
    k.copy(k.view(k.args.v, { 64, 32 }), { 0, 0 }, sv)
    k.barrier()
    k.store(k.view(k.args.y0, { 32, 16 }), { 0, 0 }, k.load_shared(s, { quad_dim = 0 }))
    k.store(k.view(k.args.y1, { 32, 16 }), { 0, 0 }, k.load_shared(s, { quad_dim = 1 }))
    local x = k.load(k.view(k.args.x, { 16, 64 }), { 0, 0 }, { 16, 64 })
    local words = k.load_shared(sv, { trans = true, quad_dim = 1 })
    local bf = k.bitsplit(words & 0x03ff03ff | 0x3c003c00, "f16", 0)
    k.store(k.view(k.args.y2, { 16, 64 }), { 0, 0 }, k.dot(x, bf, k.full({ 16, 64 }, 0, "f32")))
    local blk = k.load_shared(sv, { trans = true, quad_dim = 1, at = { 16, 16 }, shape = { 32, 16 } })
    k.store(k.view(k.args.y3, { 16, 32 }), { 0, 0 }, blk)
    k.store(k.view(k.args.y4, { 32, 64 }), { 0, 0 }, k.load_shared(sv, { trans = true, quad_dim = 1 }))
  end,
}
