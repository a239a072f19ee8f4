-- fftconv3_kspec: the spectrum of the long-convolution kernel for recipes/fftconv3.lua, computed
-- once and passed to it as kf, as recipes/fftconv_kspec.lua does for the order-2 recipe.
-- kf[h] = FFT of k[h] zero-padded to L = 2N = N1 N2 N3 in fftconv3's layout: [2 N1 N2, N3] f32,
-- bin k1 + N1 k2 + N1 N2 k3 at [N2 k1 + k2, k3], real rows then imaginary rows (docs/fftconv.md).
--
-- One program per channel: grid H. fftconv3's forward stages (F_N1 down the columns of the
-- [N1, N2 N3] matrix in column blocks, then per row k1 the [N2, N3] block: F_N2, twiddles, F_N3)
-- in f32 (the FMA lowering of dot: it runs once per filter, not per input), with kf[h] itself as the
-- scratch row (fft.spectrum). N, N1 and N2 must be those of the fftconv3 call that reads kf: the
-- split is fftconv3's own (fft.split3), defaults included. half = 1 (fftconv3's with half = 1, the
-- default from N = 1024 to 65536): the twisted spectrum's bins 0 .. N-1 on the split of N.
local kiln = require "kiln"
local fft = require "fft"
local tuning = require "tuning"

local function split3(p)
  local L, n1, n2, n3 = fft.split3("fftconv3_kspec", p, p.half) -- not a tail call: errors name this line
  return L, n1, n2, n3
end

return kiln.recipe {
  name = "fftconv3_kspec",
  params = { H = 3, N = 256 },
  tune = {
    N1 = { default = 0, values = { 0, 4, 8, 16, 32 } }, -- 0: 2^floor(log2(L)/3), as fftconv3
    N2 = { default = 0, values = { 0, 4, 8, 16, 32, 64 } },
    -- the column block of the outer stage (0: min(N2 N3, 128, 512 / warps))
    CB = { default = 0, values = { 0, 16, 32, 64, 128 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    -- the real filter's twisted spectrum, bins 0 .. N-1 on the split of M = N, for fftconv3 with
    -- half = 1 (fft.spectrum); the default agrees with fftconv3's
    half = { default = function(p) return fft.half3_default(p.N) end, values = { false, true } },
  },
  constraints = { tuning.builds(split3) },
  args = {
    kiln.tensor("k", "f32", { "H", "N" }, "in"),
    kiln.tensor("kf", "f32", { "H", function(p)
      local _, n1, n2 = split3(p)
      return 2 * n1 * n2
    end, function(p) return select(4, split3(p)) end }, "out"),
    kiln.scalar("H", "i32"),
  },
  grid = function(p) return p.H end,
  reference = "fftconv3_kspec",
  checks = {
    { H = 1, N = 32 },
    { H = 5, N = 128, N1 = 4, N2 = 8 },
    { H = 2, N = 1024, CB = 32 },
    { H = 3, N = 2048, N1 = 8, N2 = 16, warps = 8 },
    { H = 2, N = 1024, N1 = 4, N2 = 4 }, -- N3 = 128: F_N3 made per column block
    { H = 3, N = 64, half = 1 },
    { H = 2, N = 2048, half = 1, N1 = 8, N2 = 16 },
    { H = 1, N = 1024, half = 1, N1 = 4, N2 = 4, CB = 32 }, -- N3 = 64
    { H = 2, N = 2048, half = 1, N1 = 4, N2 = 4 }, -- N3 = 128: F_N3 made per column block
  },

  body = function(k, p)
    local _, N1, N2, N3 = split3(p)
    fft.spectrum(k, p, { N1, N2, N3 }, function(cols)
      return p.CB == 0 and math.min(cols, 128, 512 // p.warps) or math.min(cols, p.CB)
    end, p.half)
  end,
}
