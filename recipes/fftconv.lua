-- fftconv: the causal long convolution y = v * ((u * w) conv k), first N outputs, computed as
-- y = iFFT(FFT(u w) FFT(k)) at length L = 2N (zero-padded, so the circular convolution is the
-- linear one), with every FFT done as dense DFT matrix products on the tensor cores (the Monarch
-- decomposition, docs/fftconv.md). u, w, v, y are [B, H, N] (layout = "bhn") or [B, N, H] (layout
-- = "bnh"); k is [H, N]; v and w are optional (knob gate).
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
-- half = 1: the row packed as a complex row of half the length, z[n] = u[2n] + i u[2n+1] (strided
-- views: no data moves), one complex transform of length M = N = N1 N2 whose spectrum gives both
-- halves of the real row's (fft.half_spectrum: a read at reversed bins through shared memory), and
-- one complex inverse of length M whose real and imaginary parts are y's even and odd samples
-- (fft.half_inverse); the transforms are twisted (odd frequencies: bin m at m + 1/2), so that the
-- reversed read has no exception. A given spectrum then comes as a real filter's twisted spectrum,
-- bins 0 .. M-1 (fftconv_kspec with half = 1).
--
-- N is a power of two from 16 up (the tile shapes depend on it); N1 (the rows, a knob) defaults
-- to fft.split's: the squarest split of L, N1 = 2 N2 where log2(L) is odd (and N2 >= 8).
--
-- Layout "bnh": a channel's sequence is strided by H, so a program takes HB neighbouring channels of
-- one batch (grid B * ceil(H / HB)) and moves them through its own rows of the scratch ws
-- ([B ceil(H/HB) HB, N] f32, read and written only by that program): [1, HB, CN] tiles whose lanes
-- run along the channels (coalesced) go to ws rows (coalesced, the compiler converting the layout in
-- between), each of the HB rows is then transformed as in "bhn" with its result written back over
-- its ws row, and the rows go out to y the same way. w multiplies on the way in, v on the way out,
-- both in f32 as in "bhn", so the two layouts give the same numbers. The tables are made once per
-- program and serve all HB channels.
local kiln = require "kiln"
local fft = require "fft"
local tuning = require "tuning"

local function split(p)
  local n1, n2 = fft.split("fftconv", p.N, p.N1, p.half)
  return 2 * p.N, n1, n2
end

-- kf [H, 2 N1, N2] with kspec = "given" (rows 0..N1-1 the real parts, N1..2N1-1 the imaginary);
-- otherwise one element nobody touches.
local function given(p) return p.kspec == "given" end
-- batch entries of a channel per program: two with pair, entries with half
local function rows_per_program(p) return p.pair and 2 or (p.half and p.entries or 1) end
-- half as set explicitly, or nil (pair's and entries' defaults follow it). A computed default may
-- not read another computed default, and half's is one: reading it unset raises, which means "not
-- set".
local function half_set(p)
  local ok, h = pcall(function() return p.half end)
  if ok then return h end
end
-- half where it is not set: its default
local function half_on(p)
  local h = half_set(p)
  if h == nil then return p.kspec == "given" and fft.half_default(p.N, p.N1) end
  return h
end
local bnh = fft.is_bnh
-- warps' default (below)
local function warps_default(p)
  if p.kspec == "given" then return p.N <= 256 and 2 or (p.N <= 2048 and 4 or 8) end
  return p.N <= 1024 and 4 or 8
end
local kf_dims = {
  function(p) return given(p) and p.H or 1 end,
  function(p) return given(p) and 2 * select(2, split(p)) or 1 end,
  function(p) return given(p) and select(3, split(p)) or 1 end,
}

return kiln.recipe {
  name = "fftconv",
  params = { B = 2, H = 3, N = 256, kspec = { "inline", "given" }, layout = { "bhn", "bnh" } },
  tune = {
    N1 = { default = 0, values = { 0, 8, 16, 32, 64, 128 } }, -- 0: fft.split's
    -- 2 with a given spectrum up to N = 256: its products are [16, 16] (half = 1: M = 16 x 16) or
    -- [16, 32] tiles, which 4 warps would hold twice (the simulator: 2904 shared-memory wavefronts
    -- and 192 mma for 6 rows at N = 256 instead of 5088 and 384; docs/fftconv.md). 8 where 4 make
    -- ptxas spill: from N = 2048 with the spectrum computed inline (80 to 132 bytes on sm_80, sm_86,
    -- sm_89, sm_100a, sm_120a), at N = 4096 with a given one (112 bytes on sm_90a)
    warps = { default = warps_default, values = { 1, 2, 4, 8 } },
    -- blocks per SM whose registers ptxas must fit (0: ptxas chooses). 1 (no bound but the 255 a
    -- thread) with layout = "bnh": left to itself ptxas (13.0) takes 56 to 96 registers there and
    -- spills 4 to 36 bytes at N = 16 .. 2048 on every target; asked for one block, it takes 92 to
    -- 168 and none (a bound of 4 blocks, 128 registers at 4 warps, spills 116 to 236 bytes at N
    -- = 1024 and 2048). 1 from N = 1024 too: the inline spectrum spilled 8 bytes at 168 registers
    -- on sm_86 and sm_89 there (192 and none with the bound; shared memory holds 2 blocks anyway)
    min_blocks = { default = function(p) return (bnh(p) or p.N >= 1024) and 1 or 0 end, values = { 0, 1, 2, 4 } },
    dtype = { default = "f16", values = { "f16", "bf16" } },
    gate = { false, true },
    -- kspec = "inline": two batch entries of a channel as one complex row (fft.forward_pair): one
    -- transform, filter spectrum and inverse for two rows ("bnh": each program's HB channels of two
    -- entries). Not with a given spectrum, which need not be a real filter's (the real part of the
    -- inverse would mix the two rows)
    pair = { default = function(p) return p.kspec == "inline" and not half_set(p) end, values = { false, true } },
    -- one row as a complex row of half the length (fft.half_spectrum): a transform of length N
    -- instead of 2N per row, with a given spectrum too (a real filter's twisted spectrum,
    -- fftconv_kspec with half = 1). The default with kspec = "given" (where pair is not allowed);
    -- with "inline", pair stays the default (half takes 38% fewer mma at N = 4096 but 19% more
    -- shared-memory wavefronts and more barriers: docs/fftconv.md)
    half = { default = function(p) return half_on(p) end, values = { false, true } },
    -- half = 1: rows (batch entries) of one channel per program, sharing its filter spectrum and
    -- the tables: the given spectrum (8 N bytes a channel, twice u's and y's together) is read
    -- once for them (2 by default with half: 43008 global bytes touched for 12 rows at N = 256
    -- instead of 55296, 5400 shared wavefronts instead of 5808, docs/fftconv.md)
    entries = { default = function(p) return half_on(p) and 2 or 1 end, values = { 1, 2, 4 } },
    -- the twiddles' type in shared memory: f32, or the data's type (half the space: N = 4096 then
    -- fits in sm_80's and sm_90a's shared memory)
    tw = { default = "f32", values = { "f32", "dtype" } },
    -- layout = "bnh": channels per program (HB f16 of one position are HB * 2 contiguous bytes)
    HB = fft.hb_knob(),
    -- layout = "bnh": positions per transposing tile ([1, HB, CN]; 0: min(N, 256))
    CN = fft.cn_knob(),
  },
  args = {
    kiln.tensor("u", "dtype", fft.io_dims, "in"),
    kiln.tensor("k", "f32", { "H", "N" }, "in"),
    kiln.tensor("kf", "f32", kf_dims, "in"),
    -- Read only with gate = 1; otherwise one element nobody touches.
    kiln.tensor("w", "dtype", { function(p) return p.gate and p.B * p.H * p.N or 1 end }, "in"),
    kiln.tensor("v", "dtype", { function(p) return p.gate and p.B * p.H * p.N or 1 end }, "in"),
    kiln.tensor("y", "dtype", fft.io_dims, "out"),
    -- layout = "bnh": the programs' scratch rows (contents are scratch, not results); otherwise one
    -- element nobody touches
    kiln.tensor("ws", "f32", { function(p) return bnh(p) and fft.ws_rows(p, rows_per_program(p)) or 1 end,
      function(p) return bnh(p) and p.N or 1 end }, "in"),
    kiln.scalar("B", "i32"),
    kiln.scalar("H", "i32"),
  },
  constraints = {
    tuning.builds(split),
    function(p) return not p.pair or p.kspec == "inline", "pair = 1 needs kspec = inline: a given spectrum need not be a real filter's" end,
    function(p) return not (p.pair and p.half), "pair = 1 and half = 1 exclude each other (each packs the real input into a complex row)" end,
    function(p) return p.half or p.entries == 1, "entries > 1 needs half = 1 (pair = 1 takes two entries)" end,
  },
  grid = function(p) return fft.grid(p, rows_per_program(p)) end,
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
    { B = 2, H = 5, N = 64, layout = "bnh", HB = 4 },
    { B = 1, H = 20, N = 512, layout = "bnh", gate = 1, dtype = "bf16", CN = 128 },
    { B = 2, H = 3, N = 256, layout = "bnh", kspec = "given", HB = 8 },
    { B = 3, H = 2, N = 64, half = 1 },
    { B = 2, H = 3, N = 16, half = 1, kspec = "given" },
    { B = 2, H = 3, N = 512, half = 1, kspec = "given", dtype = "bf16", gate = 1, N1 = 8 },
    { B = 2, H = 5, N = 128, half = 1, layout = "bnh", HB = 4, gate = 1 },
    { B = 3, H = 2, N = 256, kspec = "given", entries = 4 },
    { B = 3, H = 5, N = 256, kspec = "given", layout = "bnh", HB = 4, entries = 2, dtype = "bf16" },
    { B = 3, H = 1, N = 256, half = 1, entries = 1, gate = 1 },
  },

  body = function(k, p)
    local a = k.args
    local L, N1, N2 = split(p)
    local R = N1 // 2 -- rows of A that hold data
    local t = p.dtype

    -- the tables, made once per program
    local tabs = fft.shared_tables(k, N1, N2, t, p.tw == "dtype" and t or "f32", false, p.half, false, p.warps)
    -- forward transform of a real [R, N2] block: { re, im } [N1, N2] in f32, bin k1 + N1 k2 at [k1, k2]
    local function forward(x) return fft.forward_real(k, tabs, x, t) end

    -- y (f32 [G, N2], rows R and up not part of it) of the row x ([R, N2], the data's type) in
    -- channel h; with x complex (two rows: fft.forward_pair), y is complex too
    local G = fft.out_rows(N1)
    local function conv_row(x, h)
      local X = forward(x)
      local Y
      if p.kspec == "given" then
        local kfv = k.view(a.kf, { a.H * 2 * N1, N2 })
        local K = { re = k.load(kfv, { h * (2 * N1), 0 }, { N1, N2 }), im = k.load(kfv, { h * (2 * N1) + N1, 0 }, { N1, N2 }) }
        if p.N <= 1024 then
          -- through two f32 buffers, read by each use in X's layout: no conversion through scratch
          -- (at N = 128 and 1024 those conflicted: 192 and 768 wavefronts). From N = 2048 their
          -- 32 KiB and more would not fit beside the tables on sm_86 (sm_80 at 4096): converted.
          Y = fft.mul_shared(k, X, fft.in_shared(k, K))
        else
          Y = fft.mul(k, X, K)
        end
      else
        Y = fft.mul(k, X, forward(k.load(k.view(a.k, { a.H * R, N2 }), { h * R, 0 }, { R, N2 })))
      end
      Y = { re = Y.re * (1.0 / L), im = Y.im * (1.0 / L) }
      return fft.inverse_real(k, tabs, Y, t, type(x) == "table")
    end

    if p.pair and p.kspec ~= "inline" then
      error("pair = 1 needs kspec = inline: a given spectrum need not be a real filter's", 0)
    end
    if p.pair and p.half then
      error("pair = 1 and half = 1 exclude each other (each packs the real input into a complex row)", 0)
    end
    if p.entries > 1 and not p.half then
      error("entries = " .. p.entries .. " needs half = 1 (pair = 1 takes two entries)", 0)
    end
    if p.half then
      tabs = fft.half_tables(k, tabs, N1, N2, p.tw == "dtype" and t or "f32")
      local E = p.entries
      -- channel h's filter spectrum, made once for the program's E rows of the channel: a function
      -- mul(X) -> { lo, hi } = X .* K (the given spectrum, or with E > 1 the inline one, through
      -- shared memory: read by each use, no registers held across the rows)
      local function spectrum(h)
        if p.kspec == "given" then
          local kfv = k.view(a.kf, { a.H * 2 * N1, N2 })
          return fft.half_given(k, k.load(kfv, { h * (2 * N1), 0 }, { N1, N2 }), k.load(kfv, { h * (2 * N1) + N1, 0 }, { N1, N2 }))
        end
        local function kv(odd) return k.view(a.k, { a.H * R, N2 }, { 2 * N2, 2 }, odd and 1 or 0) end
        local kz = { re = k.load(kv(false), { h * R, 0 }, { R, N2 }), im = k.load(kv(true), { h * R, 0 }, { R, N2 }) }
        local K = fft.half_spectrum(k, tabs, fft.forward_real(k, tabs, kz, t))
        if E == 1 then return function(X) return { lo = fft.mul(k, X.lo, K.lo), hi = fft.mul(k, X.hi, K.hi) } end end
        local lo = fft.put_shared(k, K.lo, { N1, N2 }, "f32")
        local hi = fft.in_shared(k, K.hi) -- its barrier serves both
        return function(X) return { lo = fft.mul_shared(k, X.lo, lo), hi = fft.mul_shared(k, X.hi, hi) } end
      end
      -- even and odd samples (f16/bf16 [R, N2]) of one row, times the spectrum by mul: y's even and
      -- odd samples (f32 [G, N2], rows R and up not part of it)
      local function conv_half(xe, xo, mul)
        local Y = mul(fft.half_spectrum(k, tabs, fft.forward_real(k, tabs, { re = xe, im = xo }, t)))
        local function scaled(z) return { re = z.re * (1.0 / L), im = z.im * (1.0 / L) } end
        local y = fft.half_inverse(k, tabs, { lo = scaled(Y.lo), hi = scaled(Y.hi) }, t)
        return y.re, y.im
      end
      -- fn(e) for each of the program's E rows whose batch entry b0 + e lies before B (a loop when
      -- E > 1, its bound the same for the whole block, each pass ending with a barrier: every thread
      -- has read the shared buffers before the next row stores into them). Entries past B are not
      -- computed at all (B = 1 with 2 entries: one row's work, not two).
      local function each_entry(b0, fn)
        if E == 1 then return fn(0) end
        k.range(0, k.minimum(a.B - b0, E), 1, {}, function(e)
          fn(e)
          k.barrier()
        end)
      end
      if not bnh(p) then
        -- batch entries E j .. E j + E - 1 of channel h (rows bh0 + e H of [B*H, N]), those before B
        local pid = k.program_id(0)
        local h = pid % a.H
        local bh0 = (pid / a.H) * (E * a.H) + h
        local mul = spectrum(h)
        each_entry((pid / a.H) * E, function(e)
          local bh = bh0 + e * a.H
          local last = (bh + 1) * R
          -- even (odd) samples of row bh of a [B*H, N] tensor as rows of N2: bh * R .. (bh + 1) R - 1
          local function half_view(ptr, odd) return k.view(ptr, { last, N2 }, { 2 * N2, 2 }, odd and 1 or 0) end
          local xs = {}
          for i, odd in ipairs({ false, true }) do
            xs[i] = k.load(half_view(a.u, odd), { bh * R, 0 }, { R, N2 })
            if p.gate then xs[i] = xs[i] * k.load(half_view(a.w, odd), { bh * R, 0 }, { R, N2 }) end
          end
          local ys = { conv_half(xs[1], xs[2], mul) }
          for i, odd in ipairs({ false, true }) do
            if p.gate then ys[i] = ys[i] * k.cast(k.load(half_view(a.v, odd), { bh * R, 0 }, { G, N2 }), "f32") end
            k.store(half_view(a.y, odd), { bh * R, 0 }, k.cast(ys[i], t))
          end
        end)
        return
      end
      -- layout "bnh": program pid takes channels h0 .. h0 + HB - 1 of batch entries b .. b + E - 1
      -- through ws rows pid * E * HB + s * HB + c
      local o = fft.bnh_block(k, a, p, p.N, "f32", E)
      fft.bnh_in(k, p, a, o)
      k.range(0, p.HB, 1, {}, function(c)
        local mul = spectrum(o.h0 + c)
        each_entry(o.b, function(s)
          local row = (o.pid * (E * p.HB) + s * p.HB + c) * R
          local function wv(odd) return k.view(a.ws, { row + R, N2 }, { 2 * N2, 2 }, odd and 1 or 0) end
          local ye, yo = conv_half(k.cast(k.load(wv(false), { row, 0 }, { R, N2 }), t),
            k.cast(k.load(wv(true), { row, 0 }, { R, N2 }), t), mul)
          k.barrier() -- every thread has read the row before any overwrites it
          k.store(wv(false), { row, 0 }, ye)
          k.store(wv(true), { row, 0 }, yo)
        end)
      end)
      fft.bnh_out(k, p, a, o)
      return
    end

    -- two rows x0, x1 (f32 [R, N2]) of channel h: their y's (f32 [G, N2]) through one complex row
    local function conv_pair(x0, x1, h)
      local z, r0, r1 = fft.forward_pair(k, x0, x1)
      local y = conv_row(z, h)
      return y.re * k.broadcast(r0, { G, N2 }), y.im * k.broadcast(r1, { G, N2 })
    end
    if p.pair and not bnh(p) then
      -- batch entries 2j and 2j + 1 of channel h (rows bh0 and bh1 = bh0 + H of [B*H, N]); past the
      -- last entry, row 1's view ends before it: it reads zeros and writes nothing
      local pid = k.program_id(0)
      local h = pid % a.H
      local bh0 = (pid / a.H) * (2 * a.H) + h
      local bh1 = bh0 + a.H
      local ends = { (bh0 + 1) * R, k.minimum((bh1 + 1) * R, a.B * a.H * R) }
      local rows = { bh0 * R, bh1 * R }
      local xs = {}
      for i = 1, 2 do
        local x = k.load(k.view(a.u, { ends[i], N2 }), { rows[i], 0 }, { R, N2 })
        if p.gate then x = x * k.load(k.view(a.w, { ends[i], N2 }), { rows[i], 0 }, { R, N2 }) end
        xs[i] = k.cast(x, "f32")
      end
      local ys = { conv_pair(xs[1], xs[2], h) }
      for i = 1, 2 do
        local yv = k.view(a.y, { ends[i], N2 })
        if p.gate then ys[i] = ys[i] * k.cast(k.load(k.view(a.v, { ends[i], N2 }), { rows[i], 0 }, { G, N2 }), "f32") end
        k.store(yv, { rows[i], 0 }, k.cast(ys[i], t))
      end
      return
    end

    if not bnh(p) then
      local bh = k.program_id(0)
      -- a [B*H, N] tensor as rows of N2: channel bh's rows start at bh * R and end before (bh + 1) R
      -- (the view's end, so that y's G rows write only the R of the channel)
      local function rows_view(ptr) return k.view(ptr, { (bh + 1) * R, N2 }) end
      local x = k.load(rows_view(a.u), { bh * R, 0 }, { R, N2 })
      if p.gate then x = x * k.load(rows_view(a.w), { bh * R, 0 }, { R, N2 }) end
      local y = conv_row(x, bh % a.H)
      if p.gate then y = y * k.cast(k.load(rows_view(a.v), { bh * R, 0 }, { G, N2 }), "f32") end
      k.store(rows_view(a.y), { bh * R, 0 }, k.cast(y, t))
      return
    end

    -- layout "bnh": program pid takes channels h0 .. h0 + HB - 1 of batch b (and b + 1, paired)
    -- through ws rows pid * nb * HB + s * HB + c
    local nb = p.pair and 2 or 1
    local o = fft.bnh_block(k, a, p, p.N, "f32", nb)
    fft.bnh_in(k, p, a, o)
    if p.pair then
      k.range(0, p.HB, 1, {}, function(c)
        local row0 = (o.pid * (2 * p.HB) + c) * R
        local row1 = row0 + p.HB * R
        local ws0, ws1 = k.view(a.ws, { row0 + R, N2 }), k.view(a.ws, { row1 + R, N2 }) -- each ending with its row
        local y0, y1 = conv_pair(k.load(ws0, { row0, 0 }, { R, N2 }), k.load(ws1, { row1, 0 }, { R, N2 }), o.h0 + c)
        k.barrier() -- every thread has read the rows before any overwrites them
        k.store(ws0, { row0, 0 }, y0)
        k.store(ws1, { row1, 0 }, y1)
      end)
      fft.bnh_out(k, p, a, o)
      return
    end
    k.range(0, p.HB, 1, {}, function(c)
      local row = (o.pid * p.HB + c) * R
      local wsr = k.view(a.ws, { row + R, N2 }) -- ending with the row (y's G rows write only its R)
      local y = conv_row(k.cast(k.load(wsr, { row, 0 }, { R, N2 }), t), o.h0 + c)
      k.barrier() -- every thread has read the row before any overwrites it
      k.store(wsr, { row, 0 }, y)
    end)
    fft.bnh_out(k, p, a, o)
  end,
}
