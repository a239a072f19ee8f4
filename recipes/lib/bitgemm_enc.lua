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

-- Words of packed bits for K elements.
function M.words(K) return (K + 31) // 32 end

return M
