-- attention_layout.lua - what the attention recipes share: Q, K, V, O as rank-3 allocations in the
-- layouts bhsd ([B*heads, seq, D + pad]) and bshd ([B, seq, heads*D + pad]), their element strides
-- {batch, head, seq} as scalar arguments, and the power-of-two tile width of a head dim.
-- Recipes load it with `local layout = require "attention_layout"` (recipes/lib/ is on the path).
local kiln = require "kiln"

local M = {}

-- The smallest power of two >= n (tile dims are powers of two; a head dim like 40 is masked).
function M.pow2_at_least(n)
  local t = 1
  while t < n do t = t * 2 end
  return t
end

-- The XOR swizzle (in 16-byte chunks) of a shared buffer whose rows hold `cols` elements of
-- `dtype`: one chunk per bank group, up to 8, so that ldmatrix rows land on distinct banks.
local ELEM_BYTES = { f16 = 2, bf16 = 2, e4m3 = 1, e5m2 = 1, f32 = 4 }
function M.swizzle(cols, dtype)
  local chunks = cols * assert(ELEM_BYTES[dtype], dtype) // 16
  return chunks >= 2 and math.min(8, chunks) or 0
end

-- Element strides {batch, head, seq} of a tensor with `heads` heads and `seq` rows per head, in the
-- recipe's layout, each row padded by `pad` elements.
function M.strides(p, heads, seq, pad)
  if p.layout == "bhsd" then
    local row = p.D + pad
    return { heads * seq * row, seq * row, row }
  end
  local row = heads * p.D + pad
  return { seq * row, p.D, row }
end

-- The tensor's dims as kiln run allocates it (row-major, rank 3), for parameter names `heads` and
-- `seq`, rows padded by pad * spad elements.
function M.dims(heads, seq, pad)
  return {
    function(p) return p.layout == "bhsd" and p.B * p[heads] or p.B end,
    seq,
    function(p) return (p.layout == "bhsd" and p.D or p[heads] * p.D) + pad * p.spad end,
  }
end

-- The three stride arguments T_sb, T_sh, T_ss of tensor T.
function M.stride_args(t, heads, seq, pad)
  local function arg(suffix, which)
    return kiln.scalar(t .. suffix, "i32", function(p) return M.strides(p, p[heads], p[seq], pad * p.spad)[which] end)
  end
  return arg("_sb", 1), arg("_sh", 2), arg("_ss", 3)
end

-- Q, K and V tiles are copied as stored (rows of DT elements: cp.async chunks where the target has
-- them) into XOR-swizzled buffers and read with ldmatrix. Returns the buffer maker (rows -> a
-- [rows, DT] buffer), Q's buffer sq with the rows from row0 of qv copied in, and Q's fragments
-- loaded once (q) - except for DT > 128 on sm_80 and newer (96 KB of shared memory or more): there
-- they would spill next to the accumulator, q is nil and each tile reads them from sq (ldmatrix).
-- Where q is loaded, a barrier follows, so that sq's bytes can go to the K and V buffers.
-- tma (a flag; nil: false): Q by TMA boxes where the pipeline pass can (k.copy {tma}).
function M.stage_q(k, p, DT, BM, qv, row0, tma)
  local function buffer(rows)
    return k.alloc_shared(p.dtype, { rows, DT }, { swizzle = M.swizzle(DT, p.dtype) })
  end
  local sq = buffer(BM)
  -- tma (attention.lua's knob): Q by TMA boxes too where the target has TMA and Q's buffer is a
  -- warpgroup-MMA operand (docs/hopper.md, "Attention by TMA")
  k.copy(qv, { row0, 0 }, sq, { tma = tma or false })
  k.barrier()
  local wgmma = k.target and k.target.wgmma and BM == 16 * p.warps
  local q_in_smem = (DT > 128 or wgmma) and (k.target == nil or k.target.sm >= 80)
  local q = not q_in_smem and k.load_shared(sq) or nil
  if q then k.barrier() end
  return buffer, sq, q
end

-- The problem's shape, checked before a launch (the recipes' grid functions call it): query head h
-- reads kv head h / (H / Hkv), so Hkv must divide H (else heads past the last group would read past
-- K and V), and the head dim D must be at least 1. Sizes that are not numbers (a pack's launch rule
-- evaluates the grid on symbolic sizes) are left to the launch.
function M.check_shape(p)
  local function whole(x) return math.type(x) == "integer" end
  local H, Hkv = p.H, p.Hkv
  local grouped = whole(H) and whole(Hkv) and Hkv >= 1 and H >= Hkv and H % Hkv == 0
  if type(H) == "number" and type(Hkv) == "number" and not grouped then
    error(string.format("H = %s must be a multiple of Hkv = %s (both at least 1: query head h reads kv head "
      .. "h / (H / Hkv))", tostring(H), tostring(Hkv)), 2)
  end
  if not (whole(p.D) and p.D >= 1) then error("head dim D = " .. tostring(p.D) .. " must be at least 1", 2) end
end

-- The f32 scalar argument `scale`: parameter scale = "auto" gives 1/sqrt(D), else a positive number.
-- Positive, because the recipes take the row maximum of the unscaled scores and scale it.
function M.scale_arg()
  return kiln.scalar("scale", "f32", function(p)
    if p.scale == "auto" then return 1 / math.sqrt(p.D) end
    if type(p.scale) ~= "number" or p.scale <= 0 then
      error("scale is a positive number or 'auto', got '" .. tostring(p.scale) .. "'", 0)
    end
    return p.scale
  end)
end

return M
