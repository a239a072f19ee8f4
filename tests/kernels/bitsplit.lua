-- k.bitsplit (docs/ir.md) in the ways the compiler lowers it, against a Lua reference: u32 words
-- split into f16 pairs along K that feed a dot's B operand (read from shared memory straight into
-- the operand's registers: the layout pass's want through the split), the same words from global
-- memory, and plain blocked splits along either axis into bytes and 16-bit halves stored as they are.
-- The f16 halves are masked into [1, 2) (0x3c00 | 10 random mantissa bits) so that every value is
-- finite.
local kiln = require "kiln"

local function half(bits) -- the f16 with these 16 bits, for 0x3c00 | m
  return 1 + (bits & 0x3ff) / 1024
end

return kiln.recipe {
  name = "bitsplit",
  params = { n = 1 },
  tune = { warps = { default = 4, values = { 1, 2, 4 } } },
  args = {
    kiln.tensor("w", "u32", { 16, 64 }, "in"),
    kiln.tensor("x", "f16", { 16, 32 }, "in"),
    kiln.tensor("y1", "f32", { 16, 64 }, "out"),
    kiln.tensor("y2", "f32", { 16, 64 }, "out"),
    kiln.tensor("b8", "u8", { 8, 64 }, "out"),
    kiln.tensor("h16", "i16", { 16, 16 }, "out"),
    kiln.scalar("n", "i32"),
  },
  grid = function(p) return 1 end,
  checks = { {}, { warps = 1 }, { warps = 2 } },
  check = { criterion = "relative", tol = 1e-3 },
  reference = function(t, p, r)
    local function word(i, c) return math.tointeger(t.w[i * 64 + c + 1]) end
    -- B [32, 64]: element (2i + h, c) is half h of word (i, c), masked into [1, 2)
    local function b(k, c) return half(word(k // 2, c) >> (16 * (k % 2))) end
    for i = 0, 15 do
      for c = 0, 63 do
        local s = 0
        for k = 0, 31 do s = s + t.x[i * 32 + k + 1] * b(k, c) end
        t.y1[i * 64 + c + 1] = s
        t.y2[i * 64 + c + 1] = s
      end
    end
    for i = 0, 7 do
      for c = 0, 63 do t.b8[i * 64 + c + 1] = (word(i, c // 4) >> (8 * (c % 4))) & 0xff end
    end
    for k = 0, 15 do
      for c = 0, 15 do
        local v = (word(k // 2, c) >> (16 * (k % 2))) & 0xffff
        t.h16[k * 16 + c + 1] = v >= 0x8000 and v - 0x10000 or v
      end
    end
  end,

  body = function(k, p)
    local vw = k.view(k.args.w, { 16, 64 })
    local sw = k.alloc_shared("u32", { 16, 64 }, { swizzle = 8 })
    k.copy(vw, { 0, 0 }, sw)
    k.barrier()
    local x = k.load(k.view(k.args.x, { 16, 32 }), { 0, 0 }, { 16, 32 })
    local zero = k.full({ 16, 64 }, 0, "f32")
    local function pairs_of(words) return k.bitsplit(words & 0x03ff03ff | 0x3c003c00, "f16", 0) end
    k.store(k.view(k.args.y1, { 16, 64 }), { 0, 0 }, k.dot(x, pairs_of(k.load_shared(sw)), zero))
    k.store(k.view(k.args.y2, { 16, 64 }), { 0, 0 }, k.dot(x, pairs_of(k.load(vw, { 0, 0 }, { 16, 64 })), zero))
    k.store(k.view(k.args.b8, { 8, 64 }), { 0, 0 }, k.bitsplit(k.load(vw, { 0, 0 }, { 8, 16 }), "u8", 1))
    k.store(k.view(k.args.h16, { 16, 16 }), { 0, 0 }, k.bitsplit(k.load(vw, { 0, 0 }, { 8, 16 }), "i16", 0))
  end,
}
