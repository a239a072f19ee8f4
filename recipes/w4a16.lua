-- w4a16: Y[M, N] = X[M, K] W[K, N] with f16/bf16 activations and b-bit integer weights (b = 2..8:
-- W4A16, W8A16, W3A16, ...) in groups of G elements along K, each group with one scale per column:
-- W[k, n] = (code[k, n] - 2^(b-1)) * scale[k / G, n]. The weights are dequantised in registers and
-- multiplied on the f16/bf16 tensor cores (docs/bitgemm.md, "the second strategy").
--
-- Packed weights wq u32 [N, Kq] (recipes/w4a16_pack.lua; a column's words contiguous, like a
-- PyTorch Linear weight): a word holds per = 2 * (16 // b) codes of one column, 16 // b in each
-- 16-bit half. K is cut into blocks of BLOCK_KW * per elements, and a block into per / 2 slabs of
-- 2 * BLOCK_KW; word r of block t holds, in field j of half h (bits 16h + j*b .. 16h + j*b + b - 1),
-- element k = t * BLOCK_KW * per + j * 2 * BLOCK_KW + 2r + h. So one [BLOCK_N, BLOCK_KW] tile of
-- words, read once (b/8 bytes per weight), gives slab j by one shift
-- and one mask of each word: both halves of the result are the two weights (K = 2r, 2r + 1) that one
-- register of the mma's B fragment holds, and k.bitsplit turns the words into the [2 * BLOCK_KW,
-- BLOCK_N] f16 tile without moving a bit (Marlin's pairing, docs/bitgemm.md). Each slab is one k.dot
-- with the matching [BLOCK_M, 2 * BLOCK_KW] slab of X. BLOCK_KW is part of the format (the packer
-- and the GEMM must agree); G must be a multiple of 2 * BLOCK_KW.
-- The word tile and X's [BLOCK_M, BLOCK_KW * per] block go through shared memory, each step's with
-- asynchronous copies the pipeline keeps in flight (X in at most two buffers, one per binary digit
-- of per / 2, as buffer dims are powers of two); each slab of X is a block of its buffer read with
-- ldmatrix (k.load_shared{at, shape}). The compiler reads the words and the scales in the mma
-- operand layouts, so the dequantisation runs in the B fragments' registers with no conversion
-- through shared memory (docs/bitgemm.md, "Registers in the operand layout"). A pair of codes
-- becomes its two 16-bit floats exactly without a conversion instruction: OR-ed into the exponents
-- of 1024 (f16) or 128 (bf16, codes below 128), they are those floats plus the codes, and one
-- subtraction removes both the 1024 and the codes' offset (docs/bitgemm.md).
local kiln = require "kiln"
local enc = require "bitgemm_enc"

-- v / n for a non-negative i32 v: a shift when n is a power of two
local function div(v, n)
  if n & (n - 1) ~= 0 then return v / n end
  local e = 0
  while (1 << e) < n do e = e + 1 end
  return v >> e
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
    kiln.tensor("wq", "u32", { "N", function(p) return (enc.w4a16_rows(p.K, p.bits, p.BLOCK_KW)) end }, "in"),
    kiln.tensor("scale", "dtype", { function(p) return (p.K + p.G - 1) // p.G end, "N" }, "in"),
    kiln.tensor("y", "dtype", { "M", "N" }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kq", "i32", function(p) return (enc.w4a16_rows(p.K, p.bits, p.BLOCK_KW)) end),
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
    local per = enc.w4a16_per(B)
    local KB, SW, nslab = BW * per, 2 * BW, per // 2 -- a block, a slab (K elements), slabs per block
    if p.G % SW ~= 0 then error("G = " .. p.G .. " must be a multiple of 2 * BLOCK_KW = " .. SW, 0) end
    local mask, off = ((1 << B) - 1) * 0x10001, 1 << (B - 1) -- a field in both halves
    local x = k.view(k.args.x, { M, K })
    local wq = k.view(k.args.wq, { N, Kq })
    local sc = k.view(k.args.scale, { (K + (p.G - 1)) / p.G, N })
    local row = k.program_id(0) * BM
    local col = k.program_id(1) * BN
    -- the words as stored, [BN, BW]: read transposed, a warp's 4-byte reads (8 columns, 4 K rows)
    -- fall in 8 different 16-byte chunks of the swizzle, no bank conflict
    local sw = k.alloc_shared("u32", { BN, BW }, { swizzle = math.min(8, BW * 4 // 16) })
    -- X's block: a buffer of n slabs for each binary digit n of nslab, largest first
    local xbufs, slab = {}, {}
    for j = 4, 0, -1 do
      local n = 1 << j
      if nslab & n ~= 0 then
        local buf = k.alloc_shared(p.dtype, { BM, n * SW }, { swizzle = math.min(8, n * SW * 2 // 16) })
        xbufs[#xbufs + 1] = { buf = buf, s0 = #slab }
        for i = 0, n - 1 do slab[#slab + 1] = { buf = buf, at = i * SW } end
      end
    end
    -- Field s of the words (a code in each half) to the [2 * BW, BN] tile of the codes minus off as
    -- 16-bit floats, exactly. OR-ed into the mantissa of 1024 (f16: 10 bits) or 128 (bf16: 7), a
    -- field that sits q bits up is 1024 + code * 2^q: times 2^-q, minus 1024 * 2^-q + off, in one
    -- fma. The words are shifted only to bring a field into the mantissa (4-bit codes: 0 and 4 as
    -- they are, 8 and 12 after one shift by 8), each shift shared by the fields it serves.
    local mbits, magic = 10, 1024
    if p.dtype == "bf16" then mbits, magic = 7, 128 end
    local shift = 0
    local function dequant(words, s)
      if B > mbits then return k.cast(k.bitsplit((words >> (s * B)) & mask, "i16", 0), p.dtype) - off end
      if s * B - shift + B > mbits then shift = s * B end
      local q = s * B - shift
      local bits = (words >> shift) & (mask << q) | (p.dtype == "f16" and 0x64006400 or 0x43004300)
      local h = k.bitsplit(bits, p.dtype, 0)
      if q == 0 then return h - (magic + off) end
      return k.fma(h, 2.0 ^ -q, -(magic * 2.0 ^ -q + off))
    end

    local acc0 = k.full({ BM, BN }, 0, "f32")
    local acc = k.range(0, Kq, BW, { acc0 }, function(kq, acc)
      local k0 = div(kq, BW) * KB -- first element of this block
      -- the scales of each group this block reaches, loaded once
      local scales = {}
      local function scale_of(s)
        local key, g = s, div(k0 + s * SW, p.G)
        if p.G % KB == 0 then
          key, g = 0, div(k0, p.G)
        elseif KB % p.G == 0 then
          key = s * SW // p.G
          g = div(k0, p.G) + key
        end
        scales[key] = scales[key] or k.load(sc, { g, col }, { 1, BN })
        return scales[key]
      end
      k.copy(wq, { col, kq }, sw)
      for _, xb in ipairs(xbufs) do k.copy(x, { row, k0 + xb.s0 * SW }, xb.buf) end
      k.barrier()
      local words = k.load_shared(sw, { trans = true })
      for s = 0, nslab - 1 do
        local w = dequant(words, s) * scale_of(s)
        local xs = k.load_shared(slab[s + 1].buf, { at = { 0, slab[s + 1].at }, shape = { BM, SW } })
        acc = k.dot(xs, w, acc)
      end
      k.barrier()
      return acc
    end, { stages = p.stages })
    k.store(k.view(k.args.y, { M, N }), { row, col }, k.cast(acc, p.dtype))
  end,
}
