-- fftconv: the causal long convolution y = v * ((u * w) conv k), first N outputs, computed as
-- y = iFFT(FFT(u w) FFT(k)) at length L = 2N (zero-padded, so the circular convolution is the
-- linear one), with every FFT done as dense DFT matrix products on the tensor cores (the Monarch
-- decomposition, docs/fftconv.md). u, w, v, y are [B, H, N]; k is [H, N]; v and w are optional
-- (knob gate).
--
-- One program per (batch, channel) row: grid B * H. L = N1 N2 and the row is read as the matrix
-- A[n1, n2] = u[N2 n1 + n2] (a view: no data moves), whose rows n1 >= N1/2 are the zero padding:
--   forward   X = (F_N1[:, :N1/2] A) .* T  then  X = X F_N2     (X[k1, k2] is bin k1 + N1 k2)
--   product   Y = X .* K / L                (K: the same transform of the kernel row)
--   inverse   Z = (Y conj(F_N2)) .* conj(T)  then  y = Re(conj(F_N1)[:N1/2, :] Z)
-- T[k1, n2] = exp(-2 pi i n2 k1 / L) are the twiddles. The spectrum stays in its [k1, k2] order
-- (the transposes of the textbook algorithm cancel between the forward and inverse transforms), the
-- matrix products take f16 or bf16 inputs (the data's type) with f32 accumulation, and the DFT and
-- twiddle tiles are computed in f32 in the kernel (recipes/lib/fft.lua). With kspec = "given" the
-- kernel's spectrum comes in as kf [H, 2, N1, N2] f32 (re, im) from recipes/fftconv_kspec.lua
-- instead of being computed in every program.
--
-- N is a power of two from 16 up (the tile shapes depend on it); N1 (the rows, a knob) defaults
-- to the squarest split of L with N1 <= N2.
local kiln = require "kiln"
local fft = require "fft"

local function split(p)
  local n1, n2 = fft.split("fftconv", p.N, p.N1)
  return 2 * p.N, n1, n2
end

-- kf [H, 2 N1, N2] with kspec = "given" (rows 0..N1-1 the real parts, N1..2N1-1 the imaginary);
-- otherwise one element nobody touches.
local function given(p) return p.kspec == "given" end
local kf_dims = {
  function(p) return given(p) and p.H or 1 end,
  function(p) return given(p) and 2 * select(2, split(p)) or 1 end,
  function(p) return given(p) and select(3, split(p)) or 1 end,
}

return kiln.recipe {
  name = "fftconv",
  params = { B = 2, H = 3, N = 256, kspec = { "inline", "given" } },
  tune = {
    N1 = { default = 0, values = { 0, 8, 16, 32, 64, 128 } }, -- 0: the squarest split
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    dtype = { default = "f16", values = { "f16", "bf16" } },
    gate = { false, true },
    -- the twiddles' type in shared memory: f32, or the data's type (half the space: N = 4096 then
    -- fits in sm_80's and sm_90a's shared memory)
    tw = { default = "f32", values = { "f32", "dtype" } },
  },
  args = {
    kiln.tensor("u", "dtype", { "B", "H", "N" }, "in"),
    kiln.tensor("k", "f32", { "H", "N" }, "in"),
    kiln.tensor("kf", "f32", kf_dims, "in"),
    -- Read only with gate = 1; otherwise one element nobody touches.
    kiln.tensor("w", "dtype", { function(p) return p.gate and p.B * p.H * p.N or 1 end }, "in"),
    kiln.tensor("v", "dtype", { function(p) return p.gate and p.B * p.H * p.N or 1 end }, "in"),
    kiln.tensor("y", "dtype", { "B", "H", "N" }, "out"),
    kiln.scalar("B", "i32"),
    kiln.scalar("H", "i32"),
  },
  grid = function(p) return p.B * p.H end,
  reference = "fftconv",
  check = { criterion = "vs_lowp", factor = 2 }, -- against the plain FFT convolution in the data's type (docs/fftconv.md)
  checks = {
    { B = 1, H = 1, N = 16 },
    { B = 3, H = 5, N = 64 },
    { B = 2, H = 3, N = 128, N1 = 8 },
    { B = 1, H = 3, N = 512, gate = 1 },
    { B = 2, H = 1, N = 1024, dtype = "bf16" },
    { B = 1, H = 2, N = 256, dtype = "bf16", gate = 1, N1 = 32 },
    { B = 1, H = 1, N = 4096, tw = "dtype" },
    { B = 2, H = 3, N = 128, kspec = "given" },
    { B = 3, H = 1, N = 512, kspec = "given", dtype = "bf16", gate = 1, N1 = 16 },
  },

  body = function(k, p)
    local a = k.args
    local L, N1, N2 = split(p)
    local R = N1 // 2 -- rows of A that hold data
    local t = p.dtype
    local bh = k.program_id(0)
    local h = bh % a.H

    -- a [B*H, N] tensor as rows of N2: channel bh's rows start at bh * R
    local function rows_view(ptr, nrows) return k.view(ptr, { nrows, N2 }) end
    local uv = rows_view(a.u, a.B * a.H * R)
    local yv = rows_view(a.y, a.B * a.H * R)

    -- forward transform of a real [R, N2] block: { re, im } [N1, N2] in f32, bin k1 + N1 k2 at [k1, k2]
    local tabs = fft.shared_tables(k, N1, N2, t, p.tw == "dtype" and t or "f32")
    local function forward(x) return fft.forward_real(k, tabs, x, t) end

    local x = k.load(uv, { bh * R, 0 }, { R, N2 })
    if p.gate then
      x = x * k.load(rows_view(a.w, a.B * a.H * R), { bh * R, 0 }, { R, N2 })
    end
    local X = forward(x)

    local K
    if p.kspec == "given" then
      local kfv = k.view(a.kf, { a.H * 2 * N1, N2 })
      K = { re = k.load(kfv, { h * (2 * N1), 0 }, { N1, N2 }), im = k.load(kfv, { h * (2 * N1) + N1, 0 }, { N1, N2 }) }
    else
      local kv = rows_view(a.k, a.H * R)
      K = forward(k.load(kv, { h * R, 0 }, { R, N2 }))
    end

    local Y = fft.mul(k, X, K)
    Y = { re = Y.re * (1.0 / L), im = Y.im * (1.0 / L) }

    local y = fft.inverse_real(k, tabs, Y, t)
    if p.gate then
      y = y * k.cast(k.load(rows_view(a.v, a.B * a.H * R), { bh * R, 0 }, { R, N2 }), "f32")
    end
    k.store(yv, { bh * R, 0 }, k.cast(y, t))
  end,
}
