-- w4a16_loop: the main loop of the W4A16 GEMM (recipes/w4a16.lua, whose header describes the packed
-- layout and the loop; recipes/w4a16_splitk.lua runs it on a part of K), shared by the recipes.
local kiln = require "kiln"
local enc = require "bitgemm_enc"
local tuning = require "tuning"

local W = {}

-- Rows of packed words for the problem (the Kq scalar and wq's second dim).
function W.rows(p) return (enc.w4a16_rows(p.K, p.bits, p.BLOCK_KW)) end

-- The knobs the loop reads, with a recipe's own (or other values) from `extra`.
function W.tune(extra)
  local t = {
    bits = { default = 4, values = { 2, 3, 4, 5, 6, 7, 8 } },
    G = { default = 128, values = { 32, 64, 128 } },
    dtype = { default = "f16", values = { "f16", "bf16" } },
    BLOCK_M = { default = 16, values = { 16, 32, 64, 128 } },
    BLOCK_N = { default = 64, values = { 32, 64, 128, 256 } },
    BLOCK_KW = { default = 16, values = { 16, 32 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    stages = { default = 2, values = { 1, 2, 3, 4 } },
    -- blocks per SM whose registers ptxas must fit (0: ptxas chooses; docs/bitgemm.md). 4 (128
    -- registers a thread) for 4 warps with at most 16 accumulators a thread (the defaults): left to
    -- itself ptxas (13.0) takes 72 to 96 registers there, runs more instructions a step and spills
    -- in w4a16_splitk on sm_86/sm_89; larger tiles need more than 128
    min_blocks = { default = function(p)
      return (p.warps == 4 and p.BLOCK_M * p.BLOCK_N <= 16 * 32 * p.warps) and 4 or 0
    end, values = { 0, 4, 6 } },
  }
  for name, knob in pairs(extra or {}) do t[name] = knob end
  return t
end

-- The constraints of a recipe that runs the loop: its f32 accumulator within the registers
-- (enc.acc_fits).
function W.constraints()
  return {
    function(p) return enc.acc_fits(p.BLOCK_M, p.BLOCK_N, p.warps, 1, p.min_blocks) end,
    tuning.builds(W.check_group), -- the kernel's own check of the group size
  }
end

-- The group size G against the slab of 2 BLOCK_KW words' K elements a step scales at once (W.gemm
-- checks it; the error names the recipe's line that called W.gemm)
function W.check_group(p)
  local SW = 2 * p.BLOCK_KW
  if p.G % SW ~= 0 then error("G = " .. p.G .. " must be a multiple of 2 * BLOCK_KW = " .. SW, 3) end
end

-- The arguments: x, wq and scale, then `out` (the recipe's output tensor), then the scalars M, N, K,
-- Kq and the recipe's own (`more`).
function W.args(out, more)
  local a = {
    kiln.tensor("x", "dtype", { "M", "K" }, "in"),
    kiln.tensor("wq", "u32", { "N", W.rows }, "in"),
    kiln.tensor("scale", "dtype", { function(p) return (p.K + p.G - 1) // p.G end, "N" }, "in"),
    out,
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kq", "i32", W.rows),
  }
  for _, x in ipairs(more or {}) do a[#a + 1] = x end
  return a
end

-- v / n for a non-negative i32 v: a shift when n is a power of two
local function div(v, n)
  if n & (n - 1) ~= 0 then return v / n end
  local e = 0
  while (1 << e) < n do e = e + 1 end
  return v >> e
end

-- The program's [BLOCK_M, BLOCK_N] tile of X W over the packed word rows lo .. hi - 1 (i32, multiples
-- of BLOCK_KW; hi may pass Kq), in f32, with the tile's first row and column.
function W.gemm(k, p, lo, hi)
  enc.check_range("bits", p.bits, 2, 8, 3) -- the error names the recipe's line
  local M, N, K, Kq = k.args.M, k.args.N, k.args.K, k.args.Kq
  local BM, BN, BW, B = p.BLOCK_M, p.BLOCK_N, p.BLOCK_KW, p.bits
  local per = enc.w4a16_per(B)
  local KB, SW, nslab = BW * per, 2 * BW, per // 2 -- a block, a slab (K elements), slabs per block
  W.check_group(p)
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
  local function shift_of(s) -- the shift field s is read after: the last field that needed one
    local sh = 0
    for j = 0, s do
      if j * B - sh + B > mbits then sh = j * B end
    end
    return sh
  end
  local function dequant(words, s)
    if B > mbits then return k.cast(k.bitsplit((words >> (s * B)) & mask, "i16", 0), p.dtype) - off end
    local shift = shift_of(s)
    local q = s * B - shift
    local bits = (words >> shift) & (mask << q) | (p.dtype == "f16" and 0x64006400 or 0x43004300)
    local h = k.bitsplit(bits, p.dtype, 0)
    if q == 0 then return h - (magic + off) end
    return k.fma(h, 2.0 ^ -q, -(magic * 2.0 ^ -q + off))
  end

  -- Slab s's scale: key_of(s, k0) gives the group's key within a block (slabs of one key share a
  -- scale) and, for the block at element k0, the group's row of `scale`.
  local function key_of(s, k0)
    if p.G % KB == 0 then return 0, k0 and div(k0, p.G) end
    if KB % p.G == 0 then
      local key = s * SW // p.G
      return key, k0 and div(k0, p.G) + key
    end
    return s, k0 and div(k0 + s * SW, p.G)
  end
  -- A group of one slab scales its weights (one multiply per pair of weights); a group of several
  -- multiplies its unscaled weights into a product of its own, and its scale multiplies that
  -- product once (one FMA per accumulator element instead of a multiply per pair of weights in each
  -- slab, and the scale applied in f32). Such a group's row of scales comes through shared memory
  -- with the block's other copies and is read in the accumulator's layout. The product holds as
  -- many registers as the tile's accumulator, so it is taken only where that is at most 64 a thread
  -- (the defaults: 8); a thread with more (one warp on 64 x 128: 256) keeps the per-weight scale,
  -- which costs no register (doubled, it spilled 85 KB instead of 34 KB on sm_90a and took four
  -- times as long to compile).
  local product_ok = BM * BN // (32 * p.warps) <= 64
  local groups, ssc = {}, {}
  do
    local s = 0
    while s < nslab do
      local e = s
      while e + 1 < nslab and key_of(e + 1) == key_of(s) do e = e + 1 end
      local product = e > s and product_ok
      groups[#groups + 1] = { s = s, e = e, product = product }
      if product then ssc[s] = k.alloc_shared(p.dtype, { 1, BN }) end
      s = e + 1
    end
  end

  local acc0 = k.full({ BM, BN }, 0, "f32")
  local acc = k.range(lo, hi, BW, { acc0 }, function(kq, acc)
    local k0 = div(kq, BW) * KB -- first element of this block
    local scales = {} -- the rows of groups scaled per weight, each loaded once
    local function scale_of(s)
      local key, g = key_of(s, k0)
      scales[key] = scales[key] or k.load(sc, { g, col }, { 1, BN })
      return scales[key]
    end
    k.copy(wq, { col, kq }, sw)
    for _, xb in ipairs(xbufs) do k.copy(x, { row, k0 + xb.s0 * SW }, xb.buf) end
    for _, gr in ipairs(groups) do
      if gr.product then k.copy(sc, { select(2, key_of(gr.s, k0)), col }, ssc[gr.s]) end
    end
    k.barrier()
    -- each 16 words of a column stored as a 4 x 4 transpose (w4a16_pack): the four words a
    -- thread's B fragments take (K rows t, t + 4, t + 8, t + 12) are one 16-byte read
    local words = k.load_shared(sw, { trans = true, quad_dim = 1 })
    local function xslab(s)
      return k.load_shared(slab[s + 1].buf, { at = { 0, slab[s + 1].at }, shape = { BM, SW } })
    end
    for _, gr in ipairs(groups) do
      if not gr.product then
        for j = gr.s, gr.e do acc = k.dot(xslab(j), dequant(words, j) * scale_of(j), acc) end
      else
        local part = k.full({ BM, BN }, 0, "f32")
        for j = gr.s, gr.e do part = k.dot(xslab(j), dequant(words, j), part) end
        acc = k.fma(part, k.cast(k.load_shared(ssc[gr.s]), "f32"), acc)
      end
    end
    k.barrier()
    return acc
  end, { stages = p.stages })
  return acc, row, col
end

return W
