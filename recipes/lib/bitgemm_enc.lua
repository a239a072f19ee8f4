-- bitgemm_enc: the encodings of the bit-plane GEMM and the packed layouts its recipes share
-- (docs/bitgemm.md).
--
-- A b-bit code u = sum_i 2^i u_i is split into b planes of bits u_i. What the code means:
--   unsigned  v = u                               (0 .. 2^b - 1)
--   signed    v = u - 2^b u_(b-1)                 (two's complement: the top plane counts negative)
--   bipolar   v = 2u - (2^b - 1) = sum_i 2^i s_i  (s_i = 2 u_i - 1 in {-1, +1}: odd values)
--
-- Bit layout: K is split into Kw = ceil(K / 32) words; bit b of word w holds element k = b * Kw + w
-- (bits past K are zero). The same order for weights and activations, so a dot product over the
-- words is the dot product over K; each of the 32 bits of a word comes from a contiguous run of K
-- when the packers read it.
--   activation planes: u32 [q, M, Kw]   (plane i is rows i*M .. i*M + M - 1 of a [q*M, Kw] array)
--   weight planes:     u32 [Kw, p, N]   (the [BKw, BN] tile of plane j is what the mma B operand reads)
--
-- Grouped layout (knob G > 0, per-group scales along K; G a multiple of 32): each group of G
-- elements is packed on its own in the same order, into its own words: Gw = G / 32 words per group,
-- group g in words g*Gw .. g*Gw + gw - 1 with gw = words(min(G, K - g*G)) (the last group may be
-- shorter), bit b of its word w holding element g*G + b*gw + w. G = 0 is the whole row as one
-- group (the plain layout above); either way Kw = words(K).
local split = require "split_sum"

local M = {}

M.ENCODINGS = { "unsigned", "signed", "bipolar" }

-- The coefficient of plane i of a b-bit code in the value (bipolar: of the +-1 plane).
function M.plane_coef(enc, b, i)
  if enc == "signed" and i == b - 1 then return -(1 << i) end
  return 1 << i
end

-- A knob that must be a whole number in lo..hi (knob values are the tuner's space, not a limit).
-- The error names the caller's line (level 2; more to name a caller further up).
function M.check_range(name, v, lo, hi, level)
  if type(v) ~= "number" or v ~= math.floor(v) or v < lo or v > hi then
    error(name .. " = " .. tostring(v) .. " is out of range " .. lo .. ".." .. hi, level or 2)
  end
end

-- The GEMMs' reduction length, checked where a launch is planned (their grid functions): K = 0 would
-- leave no plane words to read (the references refuse it too).
function M.check_k(p)
  if type(p.K) ~= "number" then return end -- symbolic (a pack's launch rule)
  if math.type(p.K) ~= "integer" or p.K < 1 then error("K = " .. tostring(p.K) .. " must be at least 1", 2) end
end

-- Words of packed bits for K elements.
function M.words(K) return (K + 31) // 32 end

-- The activation quantiser of recipes/bitpack_act.lua (and of the GEMM's fused prologue) for rows
-- whose range is lo = min(x, 0), hi = max(x, 0) (f32 tiles with one column, any rank):
--   signed    symmetric: s = amax / (2^(q-1) - 1), code = round(x / s), two's complement (q >= 2)
--   unsigned  asymmetric: s = (hi - lo) / (2^q - 1), z = round(-lo / s),
--             code = clamp(round(x / s) + z, 0, 2^q - 1); x ~ s (code - z)
--   bipolar   s = amax / (2^q - 1), code = clamp(round((x / s + 2^q - 1) / 2)); x ~ s (2 code - (2^q - 1))
-- Every rounding is half away from zero as one fma then a truncation. Returns {scale, z (i32), code}
-- where code(t) maps an f32 tile (of the rows' shape, broadcast along the last dim) to its i32 codes
-- (signed values for signed).
function M.quantizer(k, enc, q, lo, hi)
  local qm = (1 << q) - 1
  local amax = k.maximum(hi, -lo)
  local range, top
  if enc == "signed" then
    range, top = amax, (1 << (q - 1)) - 1
  elseif enc == "unsigned" then
    range, top = hi - lo, qm
  else
    range, top = amax, qm
  end
  local shape = k.shape(lo)
  local inv = k.where(range:gt(0), k.full(shape, top, "f32") / range, 0)
  local z = k.full(shape, 0, "i32")
  if enc == "unsigned" then z = k.minimum(k.maximum(k.cast(k.fma(-lo, inv, 0.5), "i32"), 0), qm) end
  local zf = k.cast(z, "f32") + 0.5 -- exact: z is a small whole number
  local half_inv = inv * 0.5
  local c_bip = k.full(shape, 1 << (q - 1), "f32")
  local function code(t)
    if enc == "signed" then
      local r = k.where(t:ge(0), k.fma(t, inv, 0.5), k.fma(t, inv, -0.5))
      return k.minimum(k.maximum(k.cast(r, "i32"), -top - 1), top)
    elseif enc == "unsigned" then
      return k.minimum(k.maximum(k.cast(k.fma(t, inv, zf), "i32"), 0), qm)
    end
    return k.minimum(k.maximum(k.cast(k.fma(t, half_inv, c_bip), "i32"), 0), qm)
  end
  return { scale = range / top, z = z, code = code }
end

-- The q bit planes of one tile of words: bit b (0..31) of each word is the code code(b) of the
-- word's b-th element, bit i of that code going to plane i. code(b) returns the i32 codes of
-- position b (zero where nothing is packed) in a tile of `shape`, and optionally the values to sum
-- in their place (a signed code's value; the codes themselves when not given); b is a number, or
-- b0 + j with b0 an i32 value. Returns the u32 planes (planes[0] .. planes[q - 1]) and the sum.
-- A position's loads do not depend on the others', so they can all be in flight at once, but a
-- thread holds only so many values: the positions go in groups of at most PLANE_GROUP loaded
-- elements a thread (a warp's share of `shape` over `warps` warps; 32 positions at once when a
-- thread holds one element), a group unrolled, several groups a k.range loop. Fully unrolled at
-- four elements a thread, the bit-plane GEMM's fused activation quantiser (recipes/lib/
-- bitgemm_loop.lua) spilled beside its accumulators (sm_80: 255 registers, 192 bytes).
M.PLANE_GROUP = 32

function M.pack_planes(k, q, shape, warps, code)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  local g = split.group(32, split.per_thread(n, warps), M.PLANE_GROUP)
  local function group(b0, vals, ...)
    local acc = {}
    for i = 1, q do acc[i] = k.full(shape, 0, "u32") end
    for j = 0, g - 1 do
      local c, v = code(b0 + j)
      vals = vals + (v or c)
      local u = k.cast(c & ((1 << q) - 1), "u32")
      for i = 1, q do acc[i] = acc[i] | (((u >> (i - 1)) & 1) << j) end
    end
    local planes = { ... }
    for i = 1, q do planes[i] = g == 32 and acc[i] or planes[i] | (acc[i] << k.cast(b0, "u32")) end
    return vals, table.unpack(planes, 1, q)
  end
  local inits = { k.full(shape, 0, "i32") }
  for i = 1, q do inits[i + 1] = k.full(shape, 0, "u32") end
  local res = { split.groups(k, 32, g, inits, group) }
  local planes = {}
  for i = 0, q - 1 do planes[i] = res[i + 2] end
  return planes, res[1]
end

-- A tuning constraint (docs/recipes.md, "Constraints") of the GEMMs: a variant whose accumulators
-- (a BM x BN tile over `warps` warps, `words` 32-bit registers an element) take half or more of
-- the registers a thread may have is refused, as ptxas spills it: 255, or what `min_blocks` blocks
-- of the kernel leave of an SM's 65,536 (the sample of docs/compile-speed.md, sm_90a: every
-- w4a16 and w4a16_splitk variant at 128 or more accumulator registers a thread of 255 spilled but
-- one, from 0.9 to 73 KB, and so did bitgemm's and bitgemm_splitk's).
function M.acc_fits(bm, bn, warps, words, min_blocks)
  local regs = bm * bn // (32 * warps) * words
  local cap = 255
  if (min_blocks or 0) > 0 then cap = math.min(cap, 65536 // (min_blocks * 32 * warps)) end
  return 2 * regs < cap, "accumulators of " .. regs .. " registers a thread of " .. cap .. ": ptxas spills"
end

-- Groups of G elements along K (G = 0: one group).
function M.groups(K, G) return G > 0 and (K + G - 1) // G or 1 end

-- The knob G of a packer or GEMM checked (0, or a positive multiple of 32; mult, when given, is the
-- K tile in elements G must be a multiple of, named by tile_knob). The error names the recipe.
function M.check_group(recipe, G, mult, tile_knob, level)
  if type(G) ~= "number" or G ~= math.floor(G) or G < 0 or G % 32 ~= 0 then
    error(recipe .. ": G = " .. tostring(G) .. " must be 0 (no groups) or a positive multiple of 32", level or 2)
  end
  if G > 0 and mult and G % mult ~= 0 then
    error(recipe .. ": G = " .. G .. " is not a multiple of the K tile (" .. tile_knob .. ": " .. mult .. " elements)",
      level or 2)
  end
end

-- Calls fn(gbase, wbase, gw, carried...) once per group of the packed layout (K elements, Kw words):
-- gbase is the group's first element, wbase its first word, gw its word count (scalars); returns
-- the carried values. G = 0: once, with (0, 0, Kw), no loop.
function M.each_group(k, G, K, Kw, inits, fn)
  if G == 0 then return fn(k.const(0, "i32"), k.const(0, "i32"), Kw, table.unpack(inits)) end
  local Gw = G // 32
  return k.range(0, (K + (G - 1)) / G, 1, inits, function(g, ...)
    return fn(g * G, g * Gw, k.minimum(k.const(Gw, "i32"), Kw - g * Gw), ...)
  end)
end

-- A split-K chunk: ceil(total / split) rounded up to a multiple of mult (whole steps of the loop).
function M.chunk(total, split, mult)
  local per = (total + split - 1) // split
  return (per + mult - 1) // mult * mult
end

-- W4A16's packed layout (recipes/w4a16.lua, w4a16_pack.lua): codes of b bits per u32 word, 16 // b
-- in each 16-bit half (a half's pair of weights is one f16 register of the mma's B fragment). bits is
-- checked here too (the tensor shapes use it before the bodies run); the error names the caller's line.
function M.w4a16_per(bits)
  M.check_range("bits", bits, 2, 8, 3)
  return 2 * (16 // bits)
end

-- Rows of packed words for K elements with word tiles of bkw rows (blocks of bkw * per elements).
function M.w4a16_rows(K, bits, bkw)
  M.check_range("bits", bits, 2, 8, 3)
  local kb = bkw * 2 * (16 // bits)
  return (K + kb - 1) // kb * bkw
end

return M
