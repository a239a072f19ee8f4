-- fftconv4: the causal FFT convolution of recipes/fftconv.lua with an order-4 decomposition,
-- L = 2N = N1 N2 N3 N4, for rows too long for recipes/fftconv3.lua (N up to 2^22 = 4M). It is
-- fftconv3 with one more level between the outer and the inner ones (docs/fftconv.md, "Order 4"):
-- the transform of length L is F_N1 down the columns of the [N1, M] matrix of the row
-- (M = N2 N3 N4), then along each of its N1 rows a transform of length M, which is F_N2 down the
-- columns of that row read as an [N2, P] matrix (P = N3 N4) and a transform of length P along each
-- of its rows, done as F_N3 on the left and F_N4 on the right of that row read as [N3, N4].
-- u, w, v, y are [B, H, N]; the filter's spectrum kf is given ([H, 2 N1 N2 N3, N4] f32: bin
-- k1 + N1 k2 + N1 N2 k3 + N1 N2 N3 k4 at [(N2 k1 + k2) N3 + k3, k4], real rows then imaginary).
--
-- One program per (batch, channel) row, its intermediate in its own rows of the scratch ws
-- ([B*H, 4N] in the data's type): one pass through global memory between levels each way.
--   1. column blocks [N1/2, CB] of u: C = (F_N1[:, :N1/2] A) .* T1 (T1[k1, m] = w_L^{m k1}) to ws
--   2. for each k1:
--      a. column blocks [N2, CB2] of ws row k1 as [N2, P]: E = (F_N2 C) .* T2 (T2[k2, p] =
--         w_M^{p k2}), over the block
--      b. for each k2: the [N3, N4] block of row (k1, k2): X = ((F_N3 E) .* T3) F_N4 (T3[k3, n4] =
--         w_P^{n4 k3}); Y = X .* K / L; back: W = conj(F_N3) ((Y conj(F_N4)) .* conj(T3)), over
--         the block
--      c. column blocks of row k1 again: conj(F_N2) (W .* conj(T2)), over the block
--   3. column blocks of ws as [N1, M]: y = Re(conj(F_N1)[:N1/2, :] (W .* conj(T1)))
-- The products take f16/bf16 inputs with f32 accumulation. ws is declared as an input: its contents
-- are scratch, not results. u, w, v, y are [B, H, N], or [B, N, H] with layout = "bnh": HB channels
-- per program through the first N elements of their ws rows, as in recipes/fftconv3.lua.
-- half = 1: the row packed as z[n] = u[2n] + i u[2n+1] and one twisted transform of length M = N
-- (as fftconv3's half): the outer tables and T1 twisted, rows k1 and N1 - 1 - k1 of the middle level
-- taken together, and in them the inner blocks (k1, k2) and (N1 - 1 - k1, N2 - 1 - k2), each the
-- other's mirror (fft.inner_pair_half); kf the real filter's twisted spectrum, bins m < N
-- (fftconv4_kspec with half = 1).
local kiln = require "kiln"
local fft = require "fft"
local tuning = require "tuning"

-- N1 .. N4 for L = 2N (fft.split4: N up to 2^22). Not a tail call: errors name the line that asked
-- for the split.
-- half = 1: the split of M = N (the row packed at half the length), L then M.
local function split4(p)
  local L, n1, n2, n3, n4 = fft.split4("fftconv4", p, p.half)
  return L, n1, n2, n3, n4
end

-- IB, the inner blocks per product (fft.inner_blocks), for the split's N2, N3, N4
local function inner_blocks(p, N2, N3, N4)
  local ib = fft.inner_blocks("fftconv4", p, N2, N3, N4, "N2", 128)
  return ib
end

return kiln.recipe {
  name = "fftconv4",
  params = { B = 2, H = 3, N = 512, layout = { "bhn", "bnh" } },
  tune = {
    N1 = { default = 0, values = { 0, 4, 8, 16, 32 } }, -- 0: see split4
    N2 = { default = 0, values = { 0, 4, 8, 16, 32, 64 } },
    N3 = { default = 0, values = { 0, 4, 8, 16, 32, 64 } },
    -- the column blocks of the outer stages ([N1, CB] over [N1, M]) and of the middle ones ([N2, CB]
    -- over [N2, P]); 0: min(columns, 128, 512 / warps)
    CB = { default = 0, values = { 0, 16, 32, 64, 128 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    -- blocks per SM whose registers ptxas must fit (0: ptxas chooses). 4 (128 registers a thread)
    -- with 4 warps up to N = 2048: left to itself ptxas (13.0) takes 96 registers there on sm_86,
    -- sm_89, sm_100a and sm_120a and spills 4 to 12 bytes; bound, it takes 107 to 126 and none.
    -- Longer rows need more than 128 (docs/fftconv.md, "Registers")
    min_blocks = { default = function(p) return (p.warps == 4 and p.N <= 2048) and 4 or 0 end, values = { 0, 2, 4 } },
    dtype = { default = "f16", values = { "f16", "bf16" } },
    gate = { false, true },
    -- the inner twiddles' type in shared memory: f32, or the data's type (half the space)
    tw = { default = "f32", values = { "f32", "dtype" } },
    -- inner blocks per product (half = 0): IB neighbouring [N3, N4] blocks of a k1 as one
    -- [IB N3, N4] tile, as fftconv3's (0: 16 rows a warp, at most 128 elements in the tile and N2
    -- blocks; [32, 8] at the default N spilled 4 bytes on sm_80 and sm_90a under min_blocks = 4,
    -- and [16, 16] at N = 4096 20 bytes on sm_90a)
    IB = fft.ib_knob(),
    -- layout = "bnh": channels per program, positions per transposing tile (0: min(N, 256))
    HB = fft.hb_knob(),
    CN = fft.cn_knob(),
    -- the row packed at half the length (fftconv3's half); the default agrees with fftconv4_kspec's
    half = { default = function(p) return fft.half4_default(p.N) end, values = { false, true } },
  },
  constraints = { tuning.builds(function(p) inner_blocks(p, select(3, split4(p))) end) },
  args = {
    kiln.tensor("u", "dtype", fft.io_dims, "in"),
    kiln.tensor("k", "f32", { "H", "N" }, "in"),
    kiln.tensor("kf", "f32", { "H", function(p)
      local _, n1, n2, n3 = split4(p)
      return 2 * n1 * n2 * n3
    end, function(p) return select(5, split4(p)) end }, "in"),
    kiln.tensor("w", "dtype", { function(p) return p.gate and p.B * p.H * p.N or 1 end }, "in"),
    kiln.tensor("v", "dtype", { function(p) return p.gate and p.B * p.H * p.N or 1 end }, "in"),
    kiln.tensor("y", "dtype", fft.io_dims, "out"),
    kiln.tensor("ws", "dtype", { fft.ws_rows, function(p) return 4 * p.N end }, "in"),
    kiln.scalar("B", "i32"),
    kiln.scalar("H", "i32"),
  },
  grid = fft.grid,
  reference = "fftconv4",
  check = { criterion = "vs_lowp", factor = 2 },
  checks = {
    { B = 1, H = 2, N = 256, half = 1 },
    { B = 2, H = 1, N = 2048, half = 1, gate = 1, dtype = "bf16", N1 = 8, N2 = 4, N3 = 8 },
    { B = 2, H = 3, N = 512, half = 1, layout = "bnh", HB = 4, gate = 1 },
    { B = 1, H = 2, N = 128 },
    { B = 3, H = 1, N = 512, gate = 1 },
    { B = 1, H = 1, N = 1024, dtype = "bf16", N1 = 4, N2 = 8, N3 = 8 },
    { B = 1, H = 1, N = 4096, CB = 16 },
    { B = 2, H = 5, N = 256, layout = "bnh", HB = 4, gate = 1, dtype = "bf16" },
  },

  body = function(k, p)
    local a = k.args
    local half = p.half
    local L, N1, N2, N3, N4 = split4(p)
    local R, M, P, t = N1 // 2, N2 * N3 * N4, N3 * N4, p.dtype
    local function cb(cols) return p.CB == 0 and math.min(cols, 128, 512 // p.warps) or math.min(cols, p.CB) end
    local CB1, CB2 = cb(M), cb(P)
    local ld = k.load_shared
    local put = function(z, shape, ty) return fft.put_shared(k, z, shape, ty) end

    -- (IB > 1: F_N3 and T3 for IB blocks stacked, fft.inner_tables)
    local IB = inner_blocks(p, N2, N3, N4)
    -- the DFT matrices' entries from rows of their values where a thread reads few (fft.dft_rows)
    local specs = { { N2, N2, N2 }, { N4, N4, N4 } }
    if IB == 1 then specs[#specs + 1] = { N3, N3, N3 } end
    if not half then specs[#specs + 1], specs[#specs + 2] = { N1, R, N1 }, { R, N1, N1 } end
    local dr = fft.dft_rows(k, specs, t, p.warps)
    local f1 = put(half and fft.twisted(k, N1, R, 2 * L, M) or fft.dft(k, dr, N1, R, N1), { N1, R }, t)
    local g1 = put(half and fft.twisted(k, R, N1, 2 * L, M, nil, true) or fft.dft(k, dr, R, N1, N1), { R, N1 }, t)
    local f2 = put(fft.dft(k, dr, N2, N2, N2), { N2, N2 }, t)
    local twt = p.tw == "dtype" and t or "f32"
    local f3, t3 = fft.inner_tables(k, IB, N3, N4, P, t, twt, dr)
    local f4 = put(fft.dft(k, dr, N4, N4, N4), { N4, N4 }, t)
    local pair = {}
    if half then pair.wt, pair.xa, pair.xb = fft.half_pair_tables(k, N3, N4, twt) end
    k.barrier()

    -- the program's ws as rows of M (level 1), P (level 2) and N4 (level 3): real parts of the [N1, M]
    -- matrix first, imaginary parts N1 M elements later
    local rows = fft.is_bnh(p) and a.B * ((a.H + (p.HB - 1)) / p.HB) * p.HB or a.B * a.H
    -- (half: rows of 4 N1 M, the transform in the second half, as fftconv3's)
    local wr = half and 4 * N1 or 2 * N1
    local ws1 = k.view(a.ws, { rows * wr, M })
    local ws2 = k.view(a.ws, { rows * wr * N2, P })
    local ws3 = k.view(a.ws, { rows * wr * N2 * N3, N4 })
    local kfv = k.view(a.kf, { a.H * 2 * N1 * N2 * N3, N4 })

    -- the convolution of row bh (channel h); inplace: its input and output in its ws row ("bnh")
    local function conv_row(bh, h, inplace)
      local r1 = bh * wr + (half and 2 * N1 or 0)

      -- 1.
      local outer = { L = L, N1 = N1, M = M, CB = CB1, bh = bh, r1 = r1, ws1 = ws1, t = t, inplace = inplace }
      if half then fft.half_io(k, p, a, outer, bh, inplace, rows) end
      fft.outer_forward(k, p, a, f1, outer)

      local kr = h * (2 * N1 * N2 * N3)
      local z2 = k.full({ N2, CB2 }, 0, "f32")
      local function middle_forward(row2)
        fft.middle_forward(k, { ws2 = ws2, row2 = row2, im = N1 * N2, N2 = N2, P = P, CB = CB2, M = M, f2 = f2, t = t })
      end
      -- 2c. for the row of (k1, n2 = 0) at ws2 row row2
      local function middle_inverse(row2)
        k.range(0, P, CB2, {}, function(j)
          local wr_ = k.cast(k.load(ws2, { row2, j }, { N2, CB2 }), "f32")
          local wi = k.cast(k.load(ws2, { row2 + N1 * N2, j }, { N2, CB2 }), "f32")
          local T2 = fft.table(k, N2, CB2, M, -1, 0, j)
          local zz = fft.cast(k, { re = wr_ * T2.re + wi * T2.im, im = wi * T2.re - wr_ * T2.im }, t)
          local W = {
            re = k.dot(ld(f2.re), zz.re, k.dot(ld(f2.im), zz.im, z2)),
            im = k.dot(ld(f2.re), zz.im, k.dot(ld(f2.im), -zz.re, z2)),
          }
          k.barrier()
          k.store(ws2, { row2, j }, k.cast(W.re, t))
          k.store(ws2, { row2 + N1 * N2, j }, k.cast(W.im, t))
        end)
        k.barrier()
      end
      if half then
        -- rows k1 and N1 - 1 - k1 together; in them the blocks (k1, k2) and (N1 - 1 - k1, N2 - 1 - k2),
        -- block q = k1 + N1 k2 of N1 N2 (fft.inner_pair_half)
        k.range(0, N1 // 2, 1, {}, function(k1)
          local rows2 = { (r1 + k1) * N2, (r1 + (k1 + 1) * -1 + N1) * N2 }
          middle_forward(rows2[1])
          middle_forward(rows2[2])
          k.range(0, N2, 1, {}, function(k2)
            fft.inner_pair_half(k, {
              ws = ws3, im = N1 * N2 * N3, kf = kfv, fa = f3, fb = f4, tw = t3, Na = N3, Nb = N4, L = L, L2 = 2 * L,
              t = t, Q = N1 * N2, wt = pair.wt, xa = pair.xa, xb = pair.xb,
              rows = function(q)
                local q1, q2 = q % N1, q / N1
                local kk = kr + (q1 * N2 + q2) * N3
                return { row = ((r1 + q1) * N2 + q2) * N3, krow = kk, krow_im = kk + N1 * N2 * N3 }
              end,
            }, k1 + k2 * N1)
          end)
          k.barrier()
          middle_inverse(rows2[1])
          middle_inverse(rows2[2])
        end)
        fft.outer_inverse(k, p, a, g1, outer)
        return
      end
      k.range(0, N1, 1, {}, function(k1)
        local row2 = (r1 + k1) * N2 -- the ws2 row of (k1, n2 = 0), real part; imaginary N1 N2 rows later
        -- 2a.
        middle_forward(row2)
        -- 2b.
        -- (blocks k2 .. k2 + IB - 1 at once: their rows of ws and kf follow each other)
        k.range(0, N2, IB, {}, function(k2)
          local row = (row2 + k2) * N3
          local im_off, kk = N1 * N2 * N3, nil
          fft.inner_block(k, {
            ws = ws3, row = row, im = im_off, kf = kfv,
            krow = function() kk = kr + (k1 * N2 + k2) * N3; return kk end,
            krow_im = function() return kk + im_off end,
            fa = f3, fb = f4, tw = t3, Na = IB * N3, Nb = N4, L = L, t = t,
          })
        end)
        k.barrier()
        -- 2c.
        middle_inverse(row2)
      end)

      -- 3.
      fft.outer_inverse(k, p, a, g1, outer)
    end

    fft.each_row(k, a, p, 4 * p.N, t, conv_row)
  end,
}
