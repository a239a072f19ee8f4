-- attention_decode_combine: the second half of flash-decoding (recipes/attention_decode.lua):
-- merges the SPLITS partial results of each query row into O [B, H, Sq, D] and LSE [B, H, Sq].
--
-- Split s of row (b, h, i) left a normalised output o_s (o_part [B, H, SPLITS, Sq, D], f32) and the
-- log-sum-exp lse_s of its keys (lse_part [B, H, SPLITS, Sq], natural log; -inf for a split that saw
-- no key). Then LSE = log(sum_s exp(lse_s)) and O = sum_s exp(lse_s - LSE) o_s. One program per
-- (i, b * H + h): it walks the splits in tiles of BLOCK_S with the online softmax's rescaling (in
-- the exp2 domain), so SPLITS is a runtime argument with no upper bound. A row whose splits all saw
-- nothing gets O = 0 and LSE = -inf. O is written through strides as in recipes/attention.lua.
local kiln = require "kiln"

local LOG2E = 1.4426950408889634
local LN2 = 0.6931471805599453
local LOWEST = -3.0e38

local pow2_at_least = require("attention_layout").pow2_at_least

-- O's element strides {batch, head, seq} and allocated dims, as in recipes/attention.lua.
local function strides(p)
  if p.layout == "bhsd" then return { p.H * p.Sq * p.D, p.Sq * p.D, p.D } end
  return { p.Sq * p.H * p.D, p.D, p.H * p.D }
end

local function o_stride(name, which)
  return kiln.scalar(name, "i32", function(p) return strides(p)[which] end)
end

return kiln.recipe {
  name = "attention_decode_combine",
  params = { B = 1, H = 8, Sq = 1, SPLITS = 4, layout = { "bhsd", "bshd" } },
  tune = {
    BLOCK_S = { default = 8, values = { 2, 4, 8, 16, 32 } },
    warps = { default = 1, values = { 1, 2, 4 } },
    dtype = { default = "f16", values = { "f16", "bf16", "e4m3" } },
    D = { default = 64, values = { 64, 128, 256 } },
  },
  args = {
    kiln.tensor("o_part", "f32", { function(p) return p.B * p.H * p.SPLITS end, "Sq", "D" }, "in"),
    kiln.tensor("lse_part", "f32", { function(p) return p.B * p.H end, "SPLITS", "Sq" }, "in"),
    kiln.tensor("o", "dtype", {
      function(p) return p.layout == "bhsd" and p.B * p.H or p.B end,
      "Sq",
      function(p) return p.layout == "bhsd" and p.D or p.H * p.D end,
    }, "out"),
    kiln.tensor("lse", "f32", { "B", "H", "Sq" }, "out"),
    kiln.scalar("B", "i32"), kiln.scalar("H", "i32"), kiln.scalar("Sq", "i32"), kiln.scalar("SPLITS", "i32"),
    o_stride("o_sb", 1), o_stride("o_sh", 2), o_stride("o_ss", 3),
  },
  grid = function(p)
    if type(p.SPLITS) == "number" and (math.type(p.SPLITS) ~= "integer" or p.SPLITS < 1) then
      error("SPLITS = " .. tostring(p.SPLITS) .. " must be at least 1 (the key splits to merge)", 2)
    end
    return p.Sq, p.B * p.H
  end,
  reference = "attention_decode_combine",
  check = { criterion = "vs_lowp", factor = 2 }, -- FlashAttention's criterion (docs/attention.md)
  checks = {
    { B = 2, H = 8, Sq = 1, SPLITS = 4 },
    { B = 1, H = 4, Sq = 3, SPLITS = 13, BLOCK_S = 4, layout = "bshd" },
    { B = 1, H = 2, Sq = 2, SPLITS = 1 },
    { B = 1, H = 2, Sq = 2, SPLITS = 40, BLOCK_S = 32, D = 128, dtype = "bf16", warps = 2 },
    { B = 1, H = 2, Sq = 1, SPLITS = 5, D = 256, layout = "bshd" },
  },

  body = function(k, p)
    local a = k.args
    local BS, D = p.BLOCK_S, p.D
    local DT = pow2_at_least(D)
    local i, bh = k.program_id(0), k.program_id(1)
    local b, h = bh / a.H, bh % a.H

    -- Split s of this row: lse_part at row_lse + s * Sq, o_part at (row_lse + s * Sq) * D.
    local row_lse = bh * a.SPLITS * a.Sq + i
    local lv = k.view(a.lse_part, { a.SPLITS, 1 }, { a.Sq, 1 }, row_lse)
    local ov = k.view(a.o_part, { a.SPLITS, D }, { a.Sq * D, 1 }, row_lse * D)

    local m0 = k.full({ BS, 1 }, LOWEST, "f32"):max(0)
    local l0 = k.full({ BS, 1 }, 0, "f32"):sum(0)
    local acc0 = k.full({ BS, DT }, 0, "f32"):sum(0)
    local m, l, acc = k.range(0, a.SPLITS, BS, { m0, l0, acc0 }, function(s, m, l, acc)
      local lse = k.load(lv, { s, 0 }, { BS, 1 }, { pad = -math.huge }) * LOG2E
      local m_new = k.maximum(m, lse:max(0))
      local alpha = k.exp2(m - m_new)
      local w = k.exp2(lse - m_new) -- 0 for a split that saw nothing, and for the padding
      local o = k.load(ov, { s, 0 }, { BS, DT })
      return m_new, l * alpha + w:sum(0), acc * alpha + (o * w):sum(0)
    end)

    local seen = l:gt(0)
    local inv_l = k.where(seen, 1.0 / k.where(seen, l, 1.0), 0.0)
    local o_base = b * a.o_sb + h * a.o_sh
    k.store(k.view(a.o, { a.Sq, D }, { a.o_ss, 1 }, o_base), { i, 0 }, k.cast(acc * inv_l, p.dtype))
    local lse_base = bh * a.Sq
    k.store(k.view(a.lse, { a.Sq, 1 }, { 1, 1 }, lse_base), { i, 0 },
      k.where(seen, (m + k.log2(l)) * LN2, -math.huge))
  end,
}
