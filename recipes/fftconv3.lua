-- fftconv3: the causal FFT convolution of recipes/fftconv.lua with an order-3 decomposition,
-- L = 2N = N1 N2 N3 (docs/fftconv.md, "A worked example"): the transform of length L is F_N1 down
-- the columns of the [N1, N2 N3] matrix of the row, then a transform of length M = N2 N3 along each
-- of its N1 rows, itself done as F_N2 on the left and F_N3 on the right of that row read as an
-- [N2, N3] matrix. u, w, v, y are [B, H, N] (layout = "bhn") or [B, N, H] (layout = "bnh", below);
-- the filter's spectrum kf is given ([H, 2 N1 N2, N3]
-- f32: bin k1 + N1 k2 + N1 N2 k3 at [N2 k1 + k2, k3], real rows then imaginary rows).
--
-- The outer stages walk the [N1, M] matrix in column blocks of CB, so the row's length is bounded
-- by the scratch and the inner [N2, N3] blocks, not by a program's tiles: N up to 2^18 (L = 64 x 64
-- x 128), with one pass through global memory between the levels each way.
--
-- One program per (batch, channel) row. Reading a row of the [N1, M] matrix as an [N2, N3] matrix
-- is a reshape, which tiles in registers and shared memory do not have; global memory has it
-- through views. So the program keeps the row's intermediate in ws ([B*H, 2L] in the data's type,
-- a scratch tensor the caller provides, read and written only by the program that owns the row):
--   1. for each column block: B = F_N1[:, :N1/2] A, C = B .* T1 (T1[k1, n'] = w_L^{n' k1}, made in
--      f32 per block), stored to ws as [N1, M]
--   2. for each k1: the ws block [N2, N3] of row k1: D = F_N2 C_k1, E = D .* T2 (T2[k2, n3] =
--      w_M^{n3 k2}), X = E F_N3; Y = X .* K / L; back: Z = (Y conj(F_N3)) .* conj(T2),
--      W = conj(F_N2) Z, stored over the block
--   3. for each column block of ws as [N1, M]: y = Re(conj(F_N1)[:N1/2, :] (W .* conj(T1)))
-- half = 1 (the default from N = 1024 to 65536): the row packed as z[n] = u[2n] + i u[2n+1], one
-- twisted transform of length M = N on the split of M (fft.twisted outer tables, T1 twisted), the
-- inner blocks k1 and N1 - 1 - k1 taken together, each the other's mirror (fft.inner_pair_half), and
-- kf the real filter's twisted spectrum, bins m < N (fftconv3_kspec with half = 1; docs/fftconv.md,
-- "Order 3 at half the length").
-- The products take f16/bf16 inputs with f32 accumulation, as in fftconv. ws is declared as an
-- input: its contents are scratch, not results (kiln run fills it and does not compare it).
--
-- Layout "bnh": a program takes HB neighbouring channels of one batch entry (grid B ceil(H/HB)),
-- moves them into the first N elements of its HB ws rows in tiles whose lanes run along the
-- channels (fft.bnh_in), transforms each row there in place (the outer stages read the input from,
-- and write y to, the row's own ws), and moves the rows back to y times v (fft.bnh_out). y is
-- rounded to the data's type in ws before v multiplies it (in "bhn" v multiplies the f32 result).
local kiln = require "kiln"
local fft = require "fft"
local tuning = require "tuning"

-- N1, N2, N3 for L = 2N (fft.split3: N up to 2^18, L = 64 x 64 x 128, whose [N2, N3] blocks still
-- fit a program's tiles; a longer row needs a fourth level). Not a tail call: errors name the line
-- that asked for the split.
-- half = 1: the split of M = N (the row packed at half the length), L then M.
local function split3(p)
  local L, n1, n2, n3 = fft.split3("fftconv3", p, p.half)
  return L, n1, n2, n3
end

-- IB, the inner blocks per product (fft.inner_blocks), for the split's N1, N2, N3
local function inner_blocks(p, N1, N2, N3)
  local ib = fft.inner_blocks("fftconv3", p, N1, N2, N3, "N1", 512)
  return ib
end

return kiln.recipe {
  name = "fftconv3",
  params = { B = 2, H = 3, N = 256, layout = { "bhn", "bnh" } },
  tune = {
    N1 = { default = 0, values = { 0, 4, 8, 16, 32 } }, -- 0: 2^floor(log2(L)/3)
    N2 = { default = 0, values = { 0, 4, 8, 16, 32, 64 } },
    -- the column block of the outer stages: [N1, CB] tiles walk the [N1, N2 N3] matrix (0: min(M,
    -- 128, 512 / warps): with 8 warps, 128 columns made ptxas spill at N = 2048)
    CB = { default = 0, values = { 0, 16, 32, 64, 128, 256 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    dtype = { default = "f16", values = { "f16", "bf16" } },
    gate = { false, true },
    -- the inner twiddles' type in shared memory: f32, or the data's type (half the space: N = 2^18
    -- then fits sm_80's shared memory)
    tw = { default = "f32", values = { "f32", "dtype" } },
    -- layout = "bnh": channels per program, positions per transposing tile (0: min(N, 256))
    HB = fft.hb_knob(),
    CN = fft.cn_knob(),
    -- the row packed as a complex row of half the length (fft.half_spectrum, as fftconv's half):
    -- one twisted transform of length M = N on the split of M, kf the real filter's twisted
    -- spectrum (fftconv3_kspec with half = 1; the two recipes' defaults agree: fft.half3_default)
    half = { default = function(p) return fft.half3_default(p.N) end, values = { false, true } },
    -- inner blocks per product (half = 0): IB neighbouring [N2, N3] blocks as one [IB N2, N3] tile,
    -- their left products one block-diagonal product (0: as many as make 16 rows a warp, at most
    -- 512 elements in the tile and N1 blocks; docs/fftconv.md, "Order 3's inner blocks together")
    IB = fft.ib_knob(),
  },
  constraints = { tuning.builds(function(p) inner_blocks(p, select(2, split3(p))) end) },
  args = {
    kiln.tensor("u", "dtype", fft.io_dims, "in"),
    kiln.tensor("k", "f32", { "H", "N" }, "in"),
    kiln.tensor("kf", "f32", { "H", function(p)
      local _, n1, n2 = split3(p)
      return 2 * n1 * n2
    end, function(p) return select(4, split3(p)) end }, "in"),
    kiln.tensor("w", "dtype", { function(p) return p.gate and p.B * p.H * p.N or 1 end }, "in"),
    kiln.tensor("v", "dtype", { function(p) return p.gate and p.B * p.H * p.N or 1 end }, "in"),
    kiln.tensor("y", "dtype", fft.io_dims, "out"),
    kiln.tensor("ws", "dtype", { fft.ws_rows, function(p) return 4 * p.N end }, "in"),
    kiln.scalar("B", "i32"),
    kiln.scalar("H", "i32"),
  },
  grid = fft.grid,
  reference = "fftconv3",
  check = { criterion = "vs_lowp", factor = 2 },
  checks = {
    { B = 1, H = 1, N = 32 },
    { B = 3, H = 5, N = 64 },
    { B = 2, H = 1, N = 512, gate = 1 },
    { B = 1, H = 3, N = 256, dtype = "bf16", N1 = 4, N2 = 8 },
    { B = 1, H = 2, N = 2048, dtype = "bf16", gate = 1 },
    { B = 1, H = 1, N = 4096 },
    { B = 2, H = 1, N = 256, CB = 16, gate = 1 },
    { B = 1, H = 2, N = 1024, tw = "dtype", dtype = "bf16", N1 = 8, CB = 32 },
    { B = 2, H = 5, N = 64, layout = "bnh", HB = 4, gate = 1 },
    { B = 1, H = 9, N = 512, layout = "bnh", HB = 8, dtype = "bf16", CN = 128 },
    { B = 2, H = 3, N = 64, half = 1 },
    { B = 1, H = 2, N = 2048, half = 1, gate = 1, dtype = "bf16" },
    { B = 2, H = 1, N = 512, half = 1, N1 = 4, N2 = 8, CB = 16 },
    { B = 1, H = 1, N = 4096, half = 1, tw = "dtype" },
    { B = 2, H = 5, N = 256, half = 1, layout = "bnh", HB = 4, gate = 1 },
    -- inner blocks per product: one at a time, two (16 rows), and stacked in "bnh"
    { B = 1, H = 2, N = 256, IB = 1, gate = 1 },
    { B = 3, H = 1, N = 128, IB = 2, dtype = "bf16" },
    { B = 2, H = 3, N = 512, IB = 2, warps = 2, layout = "bnh", HB = 2 },
  },

  body = function(k, p)
    local a = k.args
    local half = p.half
    local L, N1, N2, N3 = split3(p)
    local R, M, t = N1 // 2, N2 * N3, p.dtype
    local CB = p.CB == 0 and math.min(M, 128, 512 // p.warps) or math.min(M, p.CB)
    local ld = k.load_shared
    local put = function(z, shape, ty) return fft.put_shared(k, z, shape, ty) end

    -- the tables: level 1 (F_N1 halves), level 2 (F_N2, T2 in f32, F_N3)
    -- (half: twisted, fft.twisted, and the pairs' W and exchange buffers, fft.half_pair_tables)
    -- (IB > 1: F_N2 and T2 for IB blocks stacked, fft.inner_tables)
    local IB = inner_blocks(p, N1, N2, N3)
    -- the DFT matrices' entries from rows of their values where a thread reads few (fft.dft_rows)
    local specs = { { N3, N3, N3 } }
    if IB == 1 then specs[#specs + 1] = { N2, N2, N2 } end
    if not half then specs[#specs + 1], specs[#specs + 2] = { N1, R, N1 }, { R, N1, N1 } end
    local dr = fft.dft_rows(k, specs, t, p.warps)
    local f1 = put(half and fft.twisted(k, N1, R, 2 * L, M) or fft.dft(k, dr, N1, R, N1), { N1, R }, t)
    local g1 = put(half and fft.twisted(k, R, N1, 2 * L, M, nil, true) or fft.dft(k, dr, R, N1, N1), { R, N1 }, t)
    local twt = p.tw == "dtype" and t or "f32"
    local f2, t2 = fft.inner_tables(k, IB, N2, N3, M, t, twt, dr)
    local f3 = put(fft.dft(k, dr, N3, N3, N3), { N3, N3 }, t)
    local pair = {}
    if half then pair.wt, pair.xa, pair.xb = fft.half_pair_tables(k, N2, N3, twt) end
    k.barrier()

    -- ws rows of M (level 1) and of N3 (level 2); row bh's start at bh * 2 N1 resp. bh * 2 N1 N2
    -- (half: rows of 4 N1 resp. 4 N1 N2: the transform takes the second half of the ws row of 4N, so
    -- that in "bnh" the even and odd samples in its first N elements are not overwritten before read)
    local rows = fft.is_bnh(p) and a.B * ((a.H + (p.HB - 1)) / p.HB) * p.HB or a.B * a.H
    local wr = half and 4 * N1 or 2 * N1
    local ws1 = k.view(a.ws, { rows * wr, M })
    local ws2 = k.view(a.ws, { rows * wr * N2, N3 })
    local kfv = k.view(a.kf, { a.H * 2 * N1 * N2, N3 })

    -- the convolution of row bh (channel h); inplace: its input and output in its ws row ("bnh")
    local function conv_row(bh, h, inplace)
      local r1 = bh * wr + (half and 2 * N1 or 0)
      local r2 = r1 * N2
      -- 1. column blocks of CB: B = F_N1[:, :N1/2] A[:, j:j+CB], times the twiddles of those columns
      -- (made here in f32: the whole T1 is as large as the row)
      local outer = { L = L, N1 = N1, M = M, CB = CB, bh = bh, r1 = r1, ws1 = ws1, t = t, inplace = inplace }
      if half then fft.half_io(k, p, a, outer, bh, inplace, rows) end
      fft.outer_forward(k, p, a, f1, outer)

      -- 2.
      local kr = h * (2 * N1 * N2)
      if half then
        -- blocks k1 and N1 - 1 - k1 together: each one's mirror is the other, reversed
        k.range(0, N1 // 2, 1, {}, function(k1)
          fft.inner_pair_half(k, {
            ws = ws2, im = N1 * N2, kf = kfv, fa = f2, fb = f3, tw = t2, Na = N2, Nb = N3, L = L, L2 = 2 * L,
            t = t, Q = N1, wt = pair.wt, xa = pair.xa, xb = pair.xb,
            rows = function(kk) return { row = r2 + kk * N2, krow = kr + kk * N2, krow_im = kr + N1 * N2 + kk * N2 } end,
          }, k1)
        end)
        k.barrier()
        fft.outer_inverse(k, p, a, g1, outer)
        return
      end
      -- blocks k1 .. k1 + IB - 1 at once: their rows of ws and kf follow each other
      k.range(0, N1, IB, {}, function(k1)
        local row = r2 + k1 * N2
        fft.inner_block(k, {
          ws = ws2, row = row, im = N1 * N2, kf = kfv,
          krow = function() return kr + k1 * N2 end,
          krow_im = function() return kr + N1 * N2 + k1 * N2 end,
          fa = f2, fb = f3, tw = t2, Na = IB * N2, Nb = N3, L = L, t = t,
        })
      end)
      k.barrier()

      -- 3. column blocks again: y[:, j:j+CB] = Re(conj(F_N1)[:N1/2, :] (W .* conj(T1)))
      fft.outer_inverse(k, p, a, g1, outer)
    end

    fft.each_row(k, a, p, 4 * p.N, t, conv_row)
  end,
}
