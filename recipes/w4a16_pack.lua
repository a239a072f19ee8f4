-- w4a16_pack: the offline weight packer of recipes/w4a16.lua. w [K, N] holds b-bit codes (u8; only
-- the low b bits count; the GEMM reads code - 2^(b-1)); wq [Kq, N] gets them in the GEMM's layout:
-- per = floor(32 / b) codes of one column per word, field s of word t * BLOCK_KW + r holding element
-- k = t * BLOCK_KW * per + s * BLOCK_KW + r (BLOCK_KW must be the GEMM's).
--
-- One program per BLOCK_N columns walks the blocks of K; each block is per [BLOCK_KW, BLOCK_N] tiles
-- of codes OR-ed into one tile of words. roundtrip = 1 reads the words back after the walk and
-- unpacks them into `back` [K, N], checked against the codes (unpack(pack(w)) == w).
local kiln = require "kiln"
local enc = require "bitgemm_enc"

local function kq(p)
  enc.check_range("bits", p.bits, 2, 8) -- the shapes use it before the body runs
  local kb = p.BLOCK_KW * (32 // p.bits)
  return (p.K + kb - 1) // kb * p.BLOCK_KW
end

return kiln.recipe {
  name = "w4a16_pack",
  params = { N = 128, K = 512 },
  tune = {
    bits = { default = 4, values = { 2, 3, 4, 5, 6, 7, 8 } },
    BLOCK_KW = { default = 16, values = { 16, 32 } },
    BLOCK_N = { default = 64, values = { 32, 64, 128 } },
    warps = { default = 4, values = { 1, 2, 4 } },
    roundtrip = { false, true },
  },
  args = {
    kiln.tensor("w", "u8", { "K", "N" }, "in"),
    kiln.tensor("wq", "u32", { kq, "N" }, "out"),
    kiln.tensor("back", "i32", { function(p) return p.roundtrip and p.K or 1 end,
      function(p) return p.roundtrip and p.N or 1 end }, "inout"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kq", "i32", kq),
  },
  grid = function(p) return kiln.cdiv(p.N, p.BLOCK_N) end,
  reference = "w4a16_pack",
  checks = {
    { N = 1, K = 1 },
    { N = 70, K = 300, roundtrip = 1 },
    { N = 40, K = 520, bits = 3, roundtrip = 1, BLOCK_N = 32 },
    { N = 136, K = 700, bits = 8, BLOCK_KW = 32, BLOCK_N = 128 },
    { N = 33, K = 200, bits = 2, roundtrip = 1 },
  },

  body = function(k, p)
    enc.check_range("bits", p.bits, 2, 8)
    local N, K, Kq = k.args.N, k.args.K, k.args.Kq
    local BN, BW, B = p.BLOCK_N, p.BLOCK_KW, p.bits
    local per, mask = 32 // B, (1 << B) - 1
    local w = k.view(k.args.w, { K, N })
    local wq = k.view(k.args.wq, { Kq, N })
    local col = k.program_id(0) * BN
    k.range(0, Kq, BW, {}, function(q0)
      local k0 = (q0 / BW) * (BW * per)
      local word = k.full({ BW, BN }, 0, "u32")
      for s = 0, per - 1 do
        local code = k.cast(k.load(w, { k0 + s * BW, col }, { BW, BN }), "u32") & mask
        word = word | (code << (s * B))
      end
      k.store(wq, { q0, col }, word)
    end)
    if p.roundtrip then
      k.barrier()
      local back = k.view(k.args.back, { K, N })
      k.range(0, Kq, BW, {}, function(q0)
        local k0 = (q0 / BW) * (BW * per)
        local word = k.load(wq, { q0, col }, { BW, BN })
        for s = 0, per - 1 do k.store(back, { k0 + s * BW, col }, k.cast((word >> (s * B)) & mask, "i32")) end
      end)
    end
  end,
}
