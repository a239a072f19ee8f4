-- fftconv_kspec: the spectrum of the long-convolution kernel, computed once and passed to
-- recipes/fftconv.lua (kspec = "given"), as FlashFFTConv does. kf[h] = FFT of k[h] zero-padded to
-- L = 2N, in the fused recipe's order: an [N1, N2] matrix whose [k1, k2] entry is bin k1 + N1 k2,
-- real parts in rows 0..N1-1 of kf[h] and imaginary parts in rows N1..2N1-1 (docs/fftconv.md).
--
-- One program per channel: grid H. The same Monarch products as the fused recipe, but in f32 (the
-- FMA lowering of dot; it runs once per kernel, not per input), so the spectrum carries f32 error
-- only. N and N1 must match the fftconv call that reads kf.
--
-- half = 1: for fftconv with half = 1, the twisted spectrum (bin m at frequency m + 1/2, X[m] =
-- sum_n k[n] exp(-2 pi i n (m + 1/2) / L)) on the split of M = N, bins m < M at [k1, k2]
-- (m = k1 + N1 k2), the rest being their conjugates (fft.half_given); the row packed as
-- z[n] = k[2n] + i k[2n+1] and transformed at length M (fft.half_spectrum), as the convolution does.
local kiln = require "kiln"
local fft = require "fft"
local tuning = require "tuning"

local function split(p)
  local n1, n2 = fft.split("fftconv_kspec", p.N, p.N1, p.half) -- not a tail call: errors name this line
  return n1, n2
end

return kiln.recipe {
  name = "fftconv_kspec",
  params = { H = 3, N = 256 },
  tune = {
    N1 = { default = 0, values = { 0, 8, 16, 32, 64, 128 } }, -- 0: fft.split's
    -- 2: at 4 warps ptxas gives the half = 1 spectrum at N = 256 255 registers and 32 bytes of spills
    -- on sm_80 (80 registers at 2; half = 0 takes 96); it runs once per filter
    warps = { default = 2, values = { 1, 2, 4, 8 } },
    -- the twisted spectrum, for fftconv with half = 1 (its default with kspec = "given"): the
    -- default here too, so that the two recipes' defaults agree
    half = { default = function(p) return fft.half_default(p.N, p.N1) end, values = { false, true } },
  },
  constraints = { tuning.builds(split) },
  args = {
    kiln.tensor("k", "f32", { "H", "N" }, "in"),
    kiln.tensor("kf", "f32", { "H", function(p) return 2 * select(1, split(p)) end,
      function(p) return select(2, split(p)) end }, "out"),
    kiln.scalar("H", "i32"),
  },
  grid = function(p) return p.H end,
  reference = "fftconv_kspec",
  checks = {
    { H = 1, N = 16 },
    { H = 5, N = 128, N1 = 8 },
    { H = 2, N = 1024 },
    { H = 3, N = 16, half = 1 },
    { H = 2, N = 512, N1 = 8, half = 1 },
  },

  body = function(k, p)
    local N1, N2 = split(p)
    local R = N1 // 2
    local h = k.program_id(0)
    local kf = k.view(k.args.kf, { k.args.H * 2 * N1, N2 })
    if p.half then
      -- the twiddles made where they are used: the tables in shared memory would not fit sm_75 at
      -- N = 1024, sm_86 at 2048 or sm_80 at 4096, where the convolution that reads kf does
      local tabs = fft.half_tables(k, fft.shared_tables(k, N1, N2, "f32", "f32", true, true, true), N1, N2, "f32", true)
      local function kv(odd) return k.view(k.args.k, { k.args.H * R, N2 }, { 2 * N2, 2 }, odd and 1 or 0) end
      local z = { re = k.load(kv(false), { h * R, 0 }, { R, N2 }), im = k.load(kv(true), { h * R, 0 }, { R, N2 }) }
      local X = fft.half_spectrum(k, tabs, fft.forward_real(k, tabs, z, "f32"))
      k.store(kf, { h * (2 * N1), 0 }, X.lo.re)
      k.store(kf, { h * (2 * N1) + N1, 0 }, X.lo.im)
      return
    end
    local x = k.load(k.view(k.args.k, { k.args.H * R, N2 }), { h * R, 0 }, { R, N2 })
    local X = fft.forward_real(k, fft.shared_tables(k, N1, N2, "f32", "f32", true), x, "f32")
    k.store(kf, { h * (2 * N1), 0 }, X.re)
    k.store(kf, { h * (2 * N1) + N1, 0 }, X.im)
  end,
}
