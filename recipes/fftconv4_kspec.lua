-- fftconv4_kspec: the spectrum of the long-convolution kernel for recipes/fftconv4.lua, computed
-- once and passed to it as kf, as recipes/fftconv_kspec.lua does for the order-2 recipe.
-- kf[h] = FFT of k[h] zero-padded to L = 2N = N1 N2 N3 N4 in fftconv4's layout:
-- [2 N1 N2 N3, N4] f32, bin k1 + N1 k2 + N1 N2 k3 + N1 N2 N3 k4 at [(N2 k1 + k2) N3 + k3, k4], real
-- rows then imaginary rows (docs/fftconv.md).
--
-- One program per channel: grid H. fftconv4's forward stages (F_N1 in column blocks of the
-- [N1, M] matrix; per row k1, F_N2 in column blocks of it as [N2, P]; per (k1, k2) the [N3, N4]
-- block: F_N3, twiddles, F_N4) in f32 (the FMA lowering of dot: it runs once per filter), with
-- kf[h] itself as the scratch row (fft.spectrum). N, N1, N2 and N3 must be those of the fftconv4
-- call that reads kf: the split is fftconv4's own (fft.split4), defaults included.
local kiln = require "kiln"
local fft = require "fft"
local tuning = require "tuning"

local function split4(p)
  local L, n1, n2, n3, n4 = fft.split4("fftconv4_kspec", p, p.half) -- not a tail call: errors name this line
  return L, n1, n2, n3, n4
end

return kiln.recipe {
  name = "fftconv4_kspec",
  params = { H = 3, N = 512 },
  tune = {
    N1 = { default = 0, values = { 0, 4, 8, 16, 32 } }, -- 0: as fftconv4 (fft.split4)
    N2 = { default = 0, values = { 0, 4, 8, 16, 32, 64 } },
    N3 = { default = 0, values = { 0, 4, 8, 16, 32, 64 } },
    -- the column blocks of the outer ([N1, CB] over [N1, M]) and middle ([N2, CB] over [N2, P])
    -- stages; 0: min(columns, 128, 512 / warps)
    CB = { default = 0, values = { 0, 16, 32, 64, 128 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    -- the real filter's twisted spectrum, bins 0 .. N-1 on the split of M = N, for fftconv4 with
    -- half = 1 (fft.spectrum); the default agrees with fftconv4's
    half = { default = function(p) return fft.half4_default(p.N) end, values = { false, true } },
  },
  constraints = { tuning.builds(split4) },
  args = {
    kiln.tensor("k", "f32", { "H", "N" }, "in"),
    kiln.tensor("kf", "f32", { "H", function(p)
      local _, n1, n2, n3 = split4(p)
      return 2 * n1 * n2 * n3
    end, function(p) return select(5, split4(p)) end }, "out"),
    kiln.scalar("H", "i32"),
  },
  grid = function(p) return p.H end,
  reference = "fftconv4_kspec",
  checks = {
    { H = 2, N = 256, half = 1 },
    { H = 3, N = 2048, half = 1, N1 = 8, N2 = 4, N3 = 8 },
    { H = 1, N = 128 },
    { H = 5, N = 512, N1 = 8, N2 = 4, N3 = 4 },
    { H = 2, N = 1024, N1 = 4, N2 = 8, N3 = 8, CB = 16 },
    { H = 1, N = 4096, warps = 8 },
    { H = 1, N = 4096, N1 = 4, N2 = 4, N3 = 4 }, -- N4 = 128: F_N4 made per column block
  },

  body = function(k, p)
    local _, N1, N2, N3, N4 = split4(p)
    fft.spectrum(k, p, { N1, N2, N3, N4 }, function(cols)
      return p.CB == 0 and math.min(cols, 128, 512 // p.warps) or math.min(cols, p.CB)
    end, p.half)
  end,
}
