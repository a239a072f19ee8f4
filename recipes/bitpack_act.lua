-- bitpack_act: the online activation packer of the bit-plane GEMM (recipes/bitgemm.lua,
-- docs/bitgemm.md): x [M, K] (f16 or bf16) quantised per row (per token) to q-bit codes and written
-- as q bit planes xa [q*M, Kw] in the layout of recipes/lib/bitgemm_enc.lua, with per row the scale
-- sx [M], the code sum sa [M] (enc bipolar and unsigned; the sum of the signed values for enc
-- signed) and the zero point zpa [M] (enc unsigned; 0 otherwise).
--
--   signed    symmetric: s = amax / (2^(q-1) - 1), code = round(x / s), two's complement (q >= 2)
--   unsigned  asymmetric: lo = min(x, 0), hi = max(x, 0), s = (hi - lo) / (2^q - 1),
--             z = round(-lo / s), code = clamp(round(x / s) + z, 0, 2^q - 1); x ~ s (code - z)
--   bipolar   s = amax / (2^q - 1), x ~ s (2 code - (2^q - 1)), code = clamp(round((x / s + 2^q - 1) / 2))
--
-- Rounding is half away from zero, each as one fma (x * inv + c, truncated), so that the result
-- does not depend on whether a compiler fuses a multiply and an add. Elements past K read 0 and
-- give code 0 (every bit past K is zero, whatever the encoding).
--
-- With G > 0 the grouped layout of recipes/lib/bitgemm_enc.lua (each group of G elements packed on
-- its own, for the GEMM's per-group scales); the scale and the sums stay per whole row.
--
-- One program per BLOCK_M rows: a first walk over the row finds its range, a second reads each
-- word's 32 element runs (bit b of word kw is element b*Kw + kw) and writes the q planes. Tiles are
-- rank 3 ([1, BLOCK_M, BLOCK_KW], x seen as [1, M, K], the planes as [q, M, Kw]) so that a tile's
-- rows past M never reach the next plane.
local kiln = require "kiln"
local enc = require "bitgemm_enc"
local tuning = require "tuning"

-- The codes' settings, checked by the body (its errors name their lines) and by the tuner first
local function check_codes(p)
  enc.check_range("q", p.q, 1, 8, 3)
  enc.check_group("bitpack_act", p.G, nil, nil, 3)
  if p.enc == "signed" and p.q < 2 then error("enc = signed needs q >= 2 (a 1-bit signed code holds only 0 and -1)", 0) end
end

return kiln.recipe {
  name = "bitpack_act",
  params = { M = 16, K = 256 },
  tune = {
    q = { default = 4, values = { 1, 2, 3, 4, 5, 6, 7, 8 } },
    enc = { default = "signed", values = { "signed", "unsigned", "bipolar" } },
    dtype = { default = "f16", values = { "f16", "bf16" } },
    BLOCK_M = { default = 16, values = { 4, 8, 16, 32 } },
    BLOCK_K = { default = 128, values = { 64, 128, 256, 512 } },
    BLOCK_KW = { default = 4, values = { 1, 2, 4, 8 } },
    warps = { default = 4, values = { 1, 2, 4 } },
    roundtrip = { false, true },
    G = { default = 0, values = { 0, 128, 256, 512 } },
  },
  constraints = { tuning.builds(check_codes) },
  args = {
    kiln.tensor("x", "dtype", { "M", "K" }, "in"),
    kiln.tensor("xa", "u32", { function(p) return p.q * p.M end, function(p) return enc.words(p.K) end }, "out"),
    kiln.tensor("sx", "f32", { "M" }, "out"),
    kiln.tensor("sa", "i32", { "M" }, "out"),
    kiln.tensor("zpa", "i32", { "M" }, "out"),
    -- roundtrip = 1: the codes unpacked again from the planes just written (their values: signed
    -- for enc signed); otherwise one element nobody touches
    kiln.tensor("back", "i32", { function(p) return p.roundtrip and p.M or 1 end,
      function(p) return p.roundtrip and p.K or 1 end }, "inout"),
    kiln.scalar("M", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kw", "i32", function(p) return enc.words(p.K) end),
  },
  grid = function(p) return kiln.cdiv(p.M, p.BLOCK_M) end,
  reference = "bitpack_act",
  checks = {
    { M = 1, K = 1 },
    { M = 7, K = 300, q = 3 },
    { M = 33, K = 1000, q = 8, enc = "unsigned", BLOCK_M = 32, BLOCK_K = 128 },
    { M = 5, K = 70, q = 1, enc = "bipolar", BLOCK_KW = 1 },
    { M = 20, K = 513, q = 5, enc = "bipolar", dtype = "bf16", BLOCK_KW = 8 },
    { M = 16, K = 200, q = 2, enc = "unsigned" },
    { M = 9, K = 300, q = 3, roundtrip = 1 },
    { M = 20, K = 97, q = 8, enc = "unsigned", roundtrip = 1, BLOCK_M = 8 },
    { M = 5, K = 64, q = 6, enc = "bipolar", roundtrip = 1 },
    { M = 9, K = 650, q = 4, G = 128, roundtrip = 1 },
    { M = 7, K = 300, q = 5, enc = "unsigned", G = 256, BLOCK_KW = 8 },
  },

  body = function(k, p)
    local M, K, Kw = k.args.M, k.args.K, k.args.Kw
    local BM, BK, BW, Q = p.BLOCK_M, p.BLOCK_K, p.BLOCK_KW, p.q
    check_codes(p)
    local x = k.view(k.args.x, { 1, M, K }, { 1, K, 1 })
    local xa = k.view(k.args.xa, { Q, M, Kw }, { M * Kw, Kw, 1 })
    local row = k.program_id(0) * BM

    -- the row's range
    local lo0, hi0 = k.full({ 1, BM, 1 }, 0, "f32"), k.full({ 1, BM, 1 }, 0, "f32")
    local lo, hi = k.range(0, K, BK, { lo0, hi0 }, function(kc, lo, hi)
      local t = k.cast(k.load(x, { 0, row, kc }, { 1, BM, BK }), "f32")
      return k.minimum(lo, t:min(2)), k.maximum(hi, t:max(2))
    end)

    local qz = enc.quantizer(k, p.enc, Q, lo, hi)
    local scale, z = qz.scale, qz.z
    local stats = { 1, M, 1 }
    k.store(k.view(k.args.sx, stats), { 0, row, 0 }, scale)
    k.store(k.view(k.args.zpa, stats), { 0, row, 0 }, z)

    local wcol = k.iota({ 1, BM, BW }, 2)
    local sum0 = k.full({ 1, BM, 1 }, 0, "i32")
    -- per group (G = 0: the whole row): bit b of word wbase + kk is element gbase + gw*b + kk
    local sum = enc.each_group(k, p.G, K, Kw, { sum0 }, function(gbase, wbase, gw, sum)
      -- the planes seen as ending at the group's last word: a tile's words past it are not stored
      local xag = k.view(k.args.xa, { Q, M, wbase + gw }, { M * Kw, Kw, 1 })
      return k.range(0, gw, BW, { sum }, function(kk, sum)
        local w = wcol + kk
        local live = w:lt(gw) -- words past the group: not stored, and their codes not summed
        local words, vals = enc.pack_planes(k, Q, { 1, BM, BW }, p.warps, function(b)
          local t = k.cast(k.load(x, { 0, row, gbase + gw * b + kk }, { 1, BM, BW }), "f32")
          return k.where(live & (w + gw * b + gbase):lt(K), qz.code(t), 0)
        end)
        for i = 0, Q - 1 do k.store(xag, { i, row, wbase + kk }, words[i]) end
        return sum + vals:sum(2)
      end)
    end)
    k.store(k.view(k.args.sa, stats), { 0, row, 0 }, sum)
    if p.roundtrip then
      -- read back this program's words one word column at a time (no tile reaches past Kw; a full
      -- group's bits are all its own, the last group's bits past K are not stored)
      k.barrier()
      local back = k.view(k.args.back, { 1, M, K }, { 1, K, 1 })
      enc.each_group(k, p.G, K, Kw, {}, function(gbase, wbase, gw)
        k.range(0, gw, 1, {}, function(kk)
          local words = {}
          for i = 0, Q - 1 do words[i] = k.load(xa, { i, row, wbase + kk }, { 1, BM, 1 }) end
          for b = 0, 31 do
            local code = k.full({ 1, BM, 1 }, 0, "u32")
            for i = 0, Q - 1 do code = code | (((words[i] >> b) & 1) << i) end
            local v = k.cast(code, "i32")
            if p.enc == "signed" then v = k.where((v & (1 << (Q - 1))):ne(0), v - (1 << Q), v) end
            k.store(back, { 0, row, gbase + gw * b + kk }, v)
          end
        end)
      end)
    end
  end,
}
