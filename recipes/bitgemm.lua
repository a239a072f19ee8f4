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
local loop = require "bitgemm_loop"
local tuning = require "tuning"

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
    G = { default = 0, values = { 0, 128, 256, 512 } },
    order = { default = "diag", values = { "diag", "w_outer", "a_outer" } },
    act = { default = "packed", values = { "packed", "f16" } },
    dtype = { default = "f16", values = { "f16", "bf16" } },
    BLOCK_M = { default = 64, values = { 16, 32, 64, 128 } },
    BLOCK_N = { default = 64, values = { 16, 32, 64, 128 } },
    BLOCK_KW = { default = 8, values = { 4, 8, 16 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    stages = { default = 2, values = { 1, 2, 3, 4 } },
  },
  args = {
    -- xa: packed activation planes (act = packed); x: the activations themselves (act = f16, of
    -- type dtype), quantised in the kernel. The one not used is a single element.
    kiln.tensor("xa", "u32", { function(p) return p.act == "packed" and p.q * p.M or 1 end,
      function(p) return p.act == "packed" and enc.words(p.K) or 1 end }, "in"),
    kiln.tensor("x", "dtype", { function(p) return p.act == "packed" and 1 or p.M end,
      function(p) return p.act == "packed" and 1 or p.K end }, "in"),
    kiln.tensor("wb", "u32", { function(p) return enc.words(p.K) end, function(p) return p.p * p.N end }, "in"),
    -- sa: activation code sums (bipolar); sb: weight code sums (bipolar) or value sums (zp)
    kiln.tensor("sa", "i32", { "M" }, "in"),
    kiln.tensor("sb", "i32", { "N" }, "in"),
    kiln.tensor("zpa", "i32", { "M" }, "in"),
    kiln.tensor("sx", "f32", { "M" }, "in"),
    -- sw: per-channel weight scales [N], or with G > 0 per-group ones [groups, N] (flat)
    kiln.tensor("sw", "f32", { function(p) return enc.groups(p.K, p.G) * p.N end }, "in"),
    kiln.tensor("y", "out", { "M", "N" }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kw", "i32", function(p) return enc.words(p.K) end),
  },
  -- the i32 accumulator (and with groups the f32 sum beside it) within the registers
  -- and the body's checks of the encodings and the group size
  constraints = {
    function(p) return enc.acc_fits(p.BLOCK_M, p.BLOCK_N, p.warps, (p.G > 0 and 2 or 1)) end,
    tuning.builds(function(p) loop.encodings(p); loop.check_group(p, "bitgemm") end),
  },
  grid = function(p)
    enc.check_k(p)
    return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N)
  end,
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
    { M = 19, N = 40, K = 600, p = 4, q = 4, a_signed = 1, out = "f32", G = 128, BLOCK_KW = 4 },
    { M = 9, N = 36, K = 1100, p = 3, q = 5, out = "f16", G = 512, BLOCK_M = 16, BLOCK_N = 32 },
    { M = 20, N = 24, K = 300, p = 3, q = 2, w_signed = 0, a_signed = 1, order = "w_outer" },
    { M = 20, N = 24, K = 300, p = 2, q = 3, a_signed = 1, order = "a_outer", out = "bf16" },
    { M = 20, N = 40, K = 700, p = 3, q = 5, a_signed = 1, act = "f16", out = "f32" },
    { M = 9, N = 24, K = 300, p = 2, q = 3, zp = 1, act = "f16", dtype = "bf16", out = "f16", BLOCK_M = 16 },
    { M = 9, N = 24, K = 650, p = 4, q = 4, enc = "bipolar", act = "f16", out = "f32", BLOCK_KW = 4 },
    { M = 19, N = 40, K = 600, p = 4, q = 4, a_signed = 1, act = "f16", out = "f32", G = 128, BLOCK_KW = 4 },
  },

  body = function(k, p)
    loop.encodings(p)
    loop.check_group(p, "bitgemm")
    local row = k.program_id(0) * p.BLOCK_M
    local col = k.program_id(1) * p.BLOCK_N
    local acc, act = loop.mainloop(k, p, row, col, 0, k.args.Kw)
    loop.epilogue(k, p, acc, row, col, act)
  end,
}
