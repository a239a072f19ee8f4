-- bitpack_w: the offline weight packer of the bit-plane GEMM (recipes/bitgemm.lua, docs/bitgemm.md).
--
-- w [N, K] holds integer weight codes, one output channel per row (an i8 per element; only the low
-- p bits count: code = w & (2^p - 1)). It writes the p bit planes wb [Kw, p*N] in the layout of
-- recipes/lib/bitgemm_enc.lua (bit b of word (kw, j*N + n) is bit j of code [n, b*Kw + kw]) and the
-- sums sb [N] the GEMM's epilogue needs: the sum over K of each column's codes (enc unsigned or
-- bipolar) or of its two's-complement values (enc signed).
--
-- With G > 0 the grouped layout of recipes/lib/bitgemm_enc.lua (each group of G elements packed on
-- its own, for the GEMM's per-group scales); sb stays the sum over the whole row.
--
-- One program per BLOCK_N columns walks the words in steps of BLOCK_KW; each step reads the 32
-- element runs that fill a word's 32 bits (a [BLOCK_KW, 1, BLOCK_N] tile each, from w seen as
-- [K, 1, N]) and writes each plane's [BLOCK_KW, 1, BLOCK_N] words of the output seen as
-- [Kw, p, N], so that neither the loads nor the stores reach another plane's elements.
local kiln = require "kiln"
local enc = require "bitgemm_enc"

return kiln.recipe {
  name = "bitpack_w",
  params = { N = 64, K = 256 },
  tune = {
    p = { default = 4, values = { 1, 2, 3, 4, 5, 6, 7, 8 } },
    enc = { default = "signed", values = { "signed", "unsigned", "bipolar" } },
    BLOCK_N = { default = 64, values = { 16, 32, 64, 128 } },
    BLOCK_KW = { default = 4, values = { 1, 2, 4, 8 } },
    warps = { default = 4, values = { 1, 2, 4 } },
    roundtrip = { false, true },
    G = { default = 0, values = { 0, 128, 256, 512 } },
  },
  args = {
    kiln.tensor("w", "i8", { "N", "K" }, "in"),
    kiln.tensor("wb", "u32", { function(p) return enc.words(p.K) end, function(p) return p.p * p.N end }, "out"),
    kiln.tensor("sb", "i32", { "N" }, "out"),
    -- roundtrip = 1: the codes unpacked again from the planes just written (their values: signed
    -- for enc signed); otherwise one element nobody touches
    kiln.tensor("back", "i32", { function(p) return p.roundtrip and p.N or 1 end,
      function(p) return p.roundtrip and p.K or 1 end }, "inout"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kw", "i32", function(p) return enc.words(p.K) end),
  },
  grid = function(p) return kiln.cdiv(p.N, p.BLOCK_N) end,
  reference = "bitpack_w",
  checks = {
    { N = 1, K = 1 },
    { N = 70, K = 300, p = 3 },
    { N = 33, K = 1000, p = 8, enc = "unsigned", BLOCK_N = 32 },
    { N = 20, K = 65, p = 1, enc = "bipolar", BLOCK_KW = 1 },
    { N = 130, K = 97, p = 5, enc = "bipolar", BLOCK_N = 128, BLOCK_KW = 8 },
    { N = 45, K = 300, p = 3, roundtrip = 1 },
    { N = 20, K = 97, p = 8, enc = "unsigned", roundtrip = 1, BLOCK_N = 16 },
    { N = 33, K = 64, p = 1, enc = "bipolar", roundtrip = 1 },
    { N = 40, K = 650, p = 4, G = 128, roundtrip = 1 },
    { N = 20, K = 300, p = 3, enc = "unsigned", G = 256, BLOCK_KW = 8 },
  },

  body = function(k, p)
    local N, K, Kw = k.args.N, k.args.K, k.args.Kw
    local BN, BW, P = p.BLOCK_N, p.BLOCK_KW, p.p
    enc.check_range("p", P, 1, 8)
    enc.check_group("bitpack_w", p.G, nil, nil, 2)
    local mask = (1 << P) - 1
    local w = k.view(k.args.w, { K, 1, N }, { 1, 1, K })
    local wb = k.view(k.args.wb, { Kw, P, N }, { N * P, N, 1 })
    local col = k.program_id(0) * BN
    local wrow = k.iota({ BW, 1, BN }, 0)
    local sum0 = k.full({ 1, 1, BN }, 0, "i32")
    -- per group (G = 0: the whole row): bit b of word wbase + kk is element gbase + gw*b + kk
    local sum = enc.each_group(k, p.G, K, Kw, { sum0 }, function(gbase, wbase, gw, sum)
      -- the planes seen as ending at the group's last word: a tile's words past it are not stored
      local wbg = k.view(k.args.wb, { wbase + gw, P, N }, { N * P, N, 1 })
      return k.range(0, gw, BW, { sum }, function(kk, sum)
        -- words past the group belong to no column's sum (and are not stored)
        local live = (wrow + kk):lt(gw)
        local words, vals = enc.pack_planes(k, P, { BW, 1, BN }, p.warps, function(b)
          local code = k.where(live, k.cast(k.load(w, { gbase + gw * b + kk, 0, col }, { BW, 1, BN }), "i32") & mask, 0)
          if p.enc ~= "signed" then return code end
          return code, k.where((code & (1 << (P - 1))):ne(0), code - (1 << P), code)
        end)
        for j = 0, P - 1 do k.store(wbg, { wbase + kk, j, col }, words[j]) end
        return sum + vals:sum(0)
      end)
    end)
    k.store(k.view(k.args.sb, { 1, 1, N }), { 0, 0, col }, sum)
    if p.roundtrip then
      -- read back this program's words (all of them are its own) one word row at a time, so that
      -- no tile reaches past the group into another bit's elements
      k.barrier()
      local back = k.view(k.args.back, { K, 1, N }, { 1, 1, K })
      enc.each_group(k, p.G, K, Kw, {}, function(gbase, wbase, gw)
        k.range(0, gw, 1, {}, function(kk)
          local words = {}
          for j = 0, P - 1 do words[j] = k.load(wb, { wbase + kk, j, col }, { 1, 1, BN }) end
          for b = 0, 31 do
            local code = k.full({ 1, 1, BN }, 0, "u32")
            for j = 0, P - 1 do code = code | (((words[j] >> b) & 1) << j) end
            local v = k.cast(code, "i32")
            if p.enc == "signed" then v = k.where((v & (1 << (P - 1))):ne(0), v - (1 << P), v) end
            -- a full group's bits are all its own; the last group's bits past K are not stored
            k.store(back, { gbase + gw * b + kk, 0, col }, v)
          end
        end)
      end)
    end
  end,
}
