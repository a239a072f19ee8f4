-- bitgemm: Y[M, N] = X[M, K] W[K, N] for q-bit activations and p-bit weights (p, q = 1..8) split
-- into bit planes, every pair of planes multiplied on the tensor cores with the 1-bit AND-popcount
-- product (k.dot, precision b1_and) and recombined with shifts (docs/bitgemm.md).
--
-- Inputs are packed planes (recipes/bitpack_act.lua, recipes/bitpack_w.lua; layouts in
-- recipes/lib/bitgemm_enc.lua): xa u32 [q*M, Kw], wb u32 [Kw, p*N]. Each program computes one
-- BLOCK_M x BLOCK_N tile of Y; per step of BLOCK_KW words it copies the q activation planes and the
-- p weight planes of the step into shared memory (each plane read once from global memory: q/8 and
-- p/8 bytes per element) and runs the p*q plane products, accumulated in one i32 tile by Horner's
-- rule over the diagonals s = i + j: R = 2 R + sum_{i+j=s} c P_ij, where c = -1 for a product
-- with exactly one negative top plane (signed), applied as -(dot(a, b, -R)).
--
-- Encodings (enc): "int" (w_signed, a_signed choose two's complement or unsigned for each side;
-- zp subtracts a per-row zero point z[m] from unsigned activations, using the weight sums sb[n]),
-- or "bipolar" (every plane is +-1; the loop computes sum u v on the codes and the epilogue adds the
-- correction 4 uv - 2 (2^p - 1) sa[m] - 2 (2^q - 1) sb[n] + K (2^p - 1)(2^q - 1), where sa and sb
-- are the code sums the packers wrote). out = i32 stores the exact integer (modulo 2^32); f32, f16
-- and bf16 scale it by sx[m] sw[n] (per-token activation scale, per-output-channel weight scale).
-- Rows past M of a tile read the next plane's rows (they only reach rows of Y that are not stored);
-- words past Kw and columns past p*N read zeros.
local kiln = require "kiln"
local enc = require "bitgemm_enc"

local function swizzle(cols) -- u32 columns per row -> 16-byte chunks
  local chunks = cols * 4 // 16
  return chunks >= 2 and math.min(8, chunks) or 0
end

return kiln.recipe {
  name = "bitgemm",
  params = { M = 64, N = 64, K = 256 },
  tune = {
    p = { default = 4, values = { 1, 2, 3, 4, 5, 6, 7, 8 } },
    q = { default = 4, values = { 1, 2, 3, 4, 5, 6, 7, 8 } },
    enc = { default = "int", values = { "int", "bipolar" } },
    w_signed = { true, false },
    a_signed = { false, true },
    zp = { false, true },
    out = { default = "i32", values = { "i32", "f32", "f16", "bf16" } },
    BLOCK_M = { default = 64, values = { 16, 32, 64, 128 } },
    BLOCK_N = { default = 64, values = { 16, 32, 64, 128 } },
    BLOCK_KW = { default = 8, values = { 4, 8, 16 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    stages = { default = 2, values = { 1, 2, 3, 4 } },
  },
  args = {
    kiln.tensor("xa", "u32", { function(p) return p.q * p.M end, function(p) return enc.words(p.K) end }, "in"),
    kiln.tensor("wb", "u32", { function(p) return enc.words(p.K) end, function(p) return p.p * p.N end }, "in"),
    -- sa: activation code sums (bipolar); sb: weight code sums (bipolar) or value sums (zp)
    kiln.tensor("sa", "i32", { "M" }, "in"),
    kiln.tensor("sb", "i32", { "N" }, "in"),
    kiln.tensor("zpa", "i32", { "M" }, "in"),
    kiln.tensor("sx", "f32", { "M" }, "in"),
    kiln.tensor("sw", "f32", { "N" }, "in"),
    kiln.tensor("y", "out", { "M", "N" }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kw", "i32", function(p) return enc.words(p.K) end),
  },
  grid = function(p) return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N) end,
  reference = "bitgemm",
  checks = {
    { M = 1, N = 1, K = 1 },
    { M = 33, N = 40, K = 300, p = 3, q = 5 },
    { M = 33, N = 40, K = 300, p = 3, q = 5, enc = "bipolar" },
    { M = 7, N = 70, K = 520, p = 8, q = 8, a_signed = 1, stages = 3 },
    { M = 16, N = 24, K = 200, p = 1, q = 1, w_signed = 0, BLOCK_M = 16, BLOCK_N = 16, warps = 1 },
    { M = 20, N = 36, K = 100, p = 4, q = 8, zp = 1, out = "f16" },
    { M = 20, N = 36, K = 170, p = 2, q = 6, enc = "bipolar", out = "bf16", BLOCK_KW = 4 },
    { M = 70, N = 20, K = 700, p = 5, q = 2, a_signed = 1, out = "f32", BLOCK_M = 128, warps = 8, stages = 1 },
  },

  body = function(k, p)
    local M, N, K, Kw = k.args.M, k.args.N, k.args.K, k.args.Kw
    local BM, BN, BW = p.BLOCK_M, p.BLOCK_N, p.BLOCK_KW
    local P, Q = p.p, p.q
    enc.check_range("p", P, 1, 8)
    enc.check_range("q", Q, 1, 8)
    local bip = p.enc == "bipolar"
    if p.zp and (bip or p.a_signed) then error("zp applies to unsigned int activations (enc = int, a_signed = 0)", 0) end
    local wenc = bip and "bipolar" or (p.w_signed and "signed" or "unsigned")
    local aenc = bip and "bipolar" or (p.a_signed and "signed" or "unsigned")
    if bip then wenc, aenc = "unsigned", "unsigned" end -- the loop multiplies the codes

    local xa = k.view(k.args.xa, { M * Q, Kw })
    local wb = k.view(k.args.wb, { Kw, N * P })
    local row = k.program_id(0) * BM
    local col = k.program_id(1) * BN
    local sA, sB = {}, {}
    for i = 0, Q - 1 do sA[i] = k.alloc_shared("u32", { BM, BW }, { swizzle = swizzle(BW) }) end
    for j = 0, P - 1 do sB[j] = k.alloc_shared("u32", { BW, BN }, { swizzle = swizzle(BN) }) end

    local acc0 = k.full({ BM, BN }, 0, "i32")
    local acc = k.range(0, Kw, BW, { acc0 }, function(kk, acc)
      for i = 0, Q - 1 do k.copy(xa, { M * i + row, kk }, sA[i]) end
      for j = 0, P - 1 do k.copy(wb, { kk, N * j + col }, sB[j]) end
      k.barrier()
      -- Horner over the diagonals, highest first; the carried accumulator joins at s = 0 (its
      -- weight is 1), so every plane product is one dot whose accumulator is the running sum.
      local R
      for s = P + Q - 2, 0, -1 do
        if R then R = R + R end
        if s == 0 then R = R and (R + acc) or acc end
        for i = math.max(0, s - (P - 1)), math.min(Q - 1, s) do
          local j = s - i
          local neg = enc.plane_coef(aenc, Q, i) * enc.plane_coef(wenc, P, j) < 0
          -- each dot reads its planes itself (one load_shared per use)
          local a, b = k.load_shared(sA[i]), k.load_shared(sB[j])
          local r0 = R or k.full({ BM, BN }, 0, "i32")
          if neg then
            R = -k.dot(a, b, -r0, "b1_and")
          else
            R = k.dot(a, b, r0, "b1_and")
          end
        end
      end
      k.barrier()
      return R
    end, { stages = p.stages })

    local v = acc
    local function col_m(t) return k.load(k.view(t, { M, 1 }), { row, 0 }, { BM, 1 }) end
    local function row_n(t) return k.load(k.view(t, { 1, N }), { 0, col }, { 1, BN }) end
    if bip then
      local pm, qm = (1 << P) - 1, (1 << Q) - 1
      v = v * 4 - col_m(k.args.sa) * (2 * pm) - row_n(k.args.sb) * (2 * qm) + K * (pm * qm)
    elseif p.zp then
      v = v - col_m(k.args.zpa) * row_n(k.args.sb)
    end
    if p.out ~= "i32" then
      v = k.cast(v, "f32") * col_m(k.args.sx) * row_n(k.args.sw)
    end
    k.store(k.view(k.args.y, { M, N }), { row, col }, k.cast(v, p.out))
  end,
}
