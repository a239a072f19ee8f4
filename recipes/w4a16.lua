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
-- The word tile and X's [BLOCK_M, BLOCK_KW * per] block go through shared memory, each step's with
-- asynchronous copies the pipeline keeps in flight (X in at most two buffers, one per binary digit
-- of per, as buffer dims are powers of two); each slab of X is a block of its buffer read with
-- ldmatrix (k.load_shared{at, shape}). The compiler reads the words and the scales in the mma
-- operand layouts, so the dequantisation runs in the B fragments' registers with no conversion
-- through shared memory (docs/bitgemm.md, "Registers in the operand layout"). A code becomes its
-- 16-bit float exactly without a conversion instruction: OR-ed into the exponent of 1024 (f16) or
-- 128 (bf16, codes below 128), it is that float plus the code, and one subtraction removes both the
-- 1024 and the code's offset (docs/bitgemm.md, "Dequantising without conversions").
local kiln = require "kiln"
local enc = require "bitgemm_enc"

-- v / n for a non-negative i32 v: a shift when n is a power of two
local function div(v, n)
  if n & (n - 1) ~= 0 then return v / n end
  local e = 0
  while (1 << e) < n do e = e + 1 end
  return v >> e
end

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
    { M = 3, N = 48, K = 250, bits = 5, G = 32, dtype = "bf16" },
    { M = 18, N = 64, K = 456, bits = 6, G = 64, BLOCK_M = 32, stages = 3 },
    { M = 12, N = 40, K = 129, bits = 7, G = 32, dtype = "bf16", BLOCK_N = 32 },
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
    -- X's block: a buffer of n slabs for each binary digit n of per, largest first
    local xbufs, slab = {}, {}
    for j = 4, 0, -1 do
      local n = 1 << j
      if per & n ~= 0 then
        local buf = k.alloc_shared(p.dtype, { BM, n * BW }, { swizzle = math.min(8, n * BW * 2 // 16) })
        xbufs[#xbufs + 1] = { buf = buf, s0 = #slab }
        for i = 0, n - 1 do slab[#slab + 1] = { buf = buf, at = i * BW } end
      end
    end
    -- A code (u32, below 2^B) minus off, as a 16-bit float, exactly
    local function dequant(code)
      if p.dtype == "f16" then return k.bitcast(k.cast(code | 0x6400, "i16"), "f16") - (1024 + off) end
      if B <= 7 then return k.bitcast(k.cast(code | 0x4300, "i16"), "bf16") - (128 + off) end
      return k.cast(k.cast(code, "i32") - off, p.dtype)
    end

    local acc0 = k.full({ BM, BN }, 0, "f32")
    local acc = k.range(0, Kq, BW, { acc0 }, function(kq, acc)
      local k0 = div(kq, BW) * KB -- first element of this block
      -- the scales of each group this block reaches, loaded once
      local scales = {}
      local function scale_of(s)
        local key, g = s, div(k0 + s * BW, p.G)
        if p.G % KB == 0 then
          key, g = 0, div(k0, p.G)
        elseif KB % p.G == 0 then
          key = s * BW // p.G
          g = div(k0, p.G) + key
        end
        scales[key] = scales[key] or k.load(sc, { g, col }, { 1, BN })
        return scales[key]
      end
      k.copy(wq, { kq, col }, sw)
      for _, xb in ipairs(xbufs) do k.copy(x, { row, k0 + xb.s0 * BW }, xb.buf) end
      k.barrier()
      local words = k.load_shared(sw)
      for s = 0, per - 1 do
        local w = dequant((words >> (s * B)) & mask) * scale_of(s)
        local xs = k.load_shared(slab[s + 1].buf, { at = { 0, slab[s + 1].at }, shape = { BM, BW } })
        acc = k.dot(xs, w, acc)
      end
      k.barrier()
      return acc
    end, { stages = p.stages })
    k.store(k.view(k.args.y, { M, N }), { row, col }, k.cast(acc, p.dtype))
  end,
}
