-- w4a16: Y[M, N] = X[M, K] W[K, N] with f16/bf16 activations and b-bit integer weights (b = 2..8:
-- W4A16, W8A16, W3A16, ...) in groups of G elements along K, each group with one scale per column:
-- W[k, n] = (code[k, n] - 2^(b-1)) * scale[k / G, n]. The weights are dequantised in registers and
-- multiplied on the f16/bf16 tensor cores (docs/bitgemm.md, "the second strategy").
--
-- Packed weights wq u32 [Kq, N] (recipes/w4a16_pack.lua): a word holds per = floor(32 / b) codes
-- of one column. K is cut into blocks of BLOCK_KW * per elements; word r of block t holds, in its
-- field s (bits s*b .. s*b + b - 1), element k = t * BLOCK_KW * per + s * BLOCK_KW + r. So one
-- [BLOCK_KW, BLOCK_N] tile of words, read once (b/8 bytes per weight), unpacks into per tiles of
-- BLOCK_KW consecutive K each, and each is one k.dot with the matching [BLOCK_M, BLOCK_KW] slab of X:
-- a shift, a mask, a subtraction, a conversion and a multiplication per weight, no shuffle.
-- BLOCK_KW is part of the format (the packer and the GEMM must agree); G must be a multiple of it.
-- The word tile goes through shared memory with one (asynchronous, pipelined) copy per step; the
-- per slabs of X are loaded straight into registers (at small M they are a few KiB that stay in
-- L2): one copy op per slab would put per + 1 copy groups in flight per stage, more than the
-- pipeline's async_wait can count (8). The compiler reads the words, the scales and the slabs of X
-- in the mma operand layouts, so the dequantisation runs in the B fragments' registers with no
-- conversion through shared memory (docs/bitgemm.md, "Registers in the operand layout").
local kiln = require "kiln"
local enc = require "bitgemm_enc"

-- Codes per 32-bit word; bits is checked here too, as the tensor shapes use it before the body runs.
local function per_word(bits)
  enc.check_range("bits", bits, 2, 8, 3)
  return 32 // bits
end

return kiln.recipe {
  name = "w4a16",
  params = { M = 16, N = 128, K = 512 },
  tune = {
    bits = { default = 4, values = { 2, 3, 4, 5, 6, 7, 8 } },
    G = { default = 128, values = { 32, 64, 128 } },
    dtype = { default = "f16", values = { "f16", "bf16" } },
    BLOCK_M = { default = 16, values = { 16, 32, 64, 128 } },
    BLOCK_N = { default = 64, values = { 32, 64, 128, 256 } },
    BLOCK_KW = { default = 16, values = { 16, 32 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    stages = { default = 2, values = { 1, 2, 3, 4 } },
  },
  args = {
    kiln.tensor("x", "dtype", { "M", "K" }, "in"),
    kiln.tensor("wq", "u32", { function(p)
      local kb = p.BLOCK_KW * per_word(p.bits)
      return (p.K + kb - 1) // kb * p.BLOCK_KW
    end, "N" }, "in"),
    kiln.tensor("scale", "dtype", { function(p) return (p.K + p.G - 1) // p.G end, "N" }, "in"),
    kiln.tensor("y", "dtype", { "M", "N" }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kq", "i32", function(p)
      local kb = p.BLOCK_KW * per_word(p.bits)
      return (p.K + kb - 1) // kb * p.BLOCK_KW
    end),
  },
  grid = function(p) return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N) end,
  reference = "w4a16",
  checks = {
    { M = 1, N = 1, K = 1 },
    { M = 7, N = 70, K = 300, G = 32 },
    { M = 16, N = 96, K = 520, G = 64, stages = 3 },
    { M = 33, N = 64, K = 256, G = 128, BLOCK_M = 32, BLOCK_N = 32 },
    { M = 5, N = 40, K = 200, bits = 8, G = 32, dtype = "bf16" },
    { M = 9, N = 72, K = 333, bits = 3, G = 64, stages = 1 },
    { M = 20, N = 136, K = 700, bits = 2, G = 128, BLOCK_KW = 32, BLOCK_N = 128, warps = 8 },
  },

  body = function(k, p)
    enc.check_range("bits", p.bits, 2, 8)
    local M, N, K, Kq = k.args.M, k.args.N, k.args.K, k.args.Kq
    local BM, BN, BW, B = p.BLOCK_M, p.BLOCK_N, p.BLOCK_KW, p.bits
    local per = per_word(B)
    local KB = BW * per
    if p.G % BW ~= 0 then error("G = " .. p.G .. " must be a multiple of BLOCK_KW = " .. BW, 0) end
    local mask, off = (1 << B) - 1, 1 << (B - 1)
    local x = k.view(k.args.x, { M, K })
    local wq = k.view(k.args.wq, { Kq, N })
    local sc = k.view(k.args.scale, { (K + (p.G - 1)) / p.G, N })
    local row = k.program_id(0) * BM
    local col = k.program_id(1) * BN
    local sw = k.alloc_shared("u32", { BW, BN }, { swizzle = math.min(8, BN * 4 // 16) })

    local acc0 = k.full({ BM, BN }, 0, "f32")
    local acc = k.range(0, Kq, BW, { acc0 }, function(kq, acc)
      local k0 = (kq / BW) * KB -- first element of this block
      k.copy(wq, { kq, col }, sw)
      k.barrier()
      local words = k.load_shared(sw)
      for s = 0, per - 1 do
        local code = k.cast((words >> (s * B)) & mask, "i32") - off
        local scale = k.load(sc, { (k0 + s * BW) / p.G, col }, { 1, BN })
        local w = k.cast(code, p.dtype) * scale
        acc = k.dot(k.load(x, { row, k0 + s * BW }, { BM, BW }), w, acc)
      end
      k.barrier()
      return acc
    end, { stages = p.stages })
    k.store(k.view(k.args.y, { M, N }), { row, col }, k.cast(acc, p.dtype))
  end,
}
