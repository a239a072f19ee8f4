-- fft: complex values as pairs of real tiles, and the DFT and twiddle tiles of the Monarch FFT
-- (recipes/fftconv.lua, docs/fftconv.md).
--
-- A complex tile is a Lua table { re, im } of two f32 (or f16/bf16) tiles of one shape. The
-- constant tiles are computed in the kernel, in f32, from iota: the entry for exponent m of an
-- L-point transform is exp(sign 2 pi i m / L). m is reduced modulo L exactly in integers (L is a
-- power of two), split into its quarter turn q and the remainder r < L/4, so that the polynomials
-- only ever see angles in [0, pi/2); the quarter turn is applied by swapping and negating.
local M = {}

local TWO_PI = 2 * math.pi
local BYTES = { f16 = 2, bf16 = 2, f32 = 4 } -- the tables' element types

local function log2_exact(n)
  local l = 0
  while (1 << l) < n do l = l + 1 end
  if (1 << l) ~= n then error("fft: " .. n .. " is not a power of two", 0) end
  return l
end
M.log2_exact = log2_exact

-- cos(t) and sin(t) for t in [0, pi/2), Taylor series to t^12 and t^13 in Horner form: the first
-- omitted terms are below 5e-9 at pi/2, under one unit of f32 roundoff.
local function cos_sin_quarter(k, t)
  local t2 = t * t
  local c, s = k.full(k.shape(t), 1.0 / 479001600, "f32"), k.full(k.shape(t), 1.0 / 6227020800, "f32")
  local cc = { 1 / 3628800, 1 / 40320, 1 / 720, 1 / 24, 1 / 2, 1 }
  local sc = { 1 / 39916800, 1 / 362880, 1 / 5040, 1 / 120, 1 / 6, 1 }
  for i = 1, #cc do
    local sg = (i % 2 == 1) and -1 or 1
    c = k.fma(c, t2, sg * cc[i]) -- alternating signs: -t^10/10! ... +1 after the last step
    s = k.fma(s, t2, sg * sc[i])
  end
  return c, s * t
end

-- exp(sign 2 pi i m / L) for an i32 tile m (any integers; reduced modulo L): { re, im } in f32.
function M.cis(k, m, L, sign)
  local shape = k.shape(m)
  if L < 4 then error("fft.cis: length " .. L .. " below 4", 0) end
  local lq = log2_exact(L) - 2
  local mm = m & (L - 1)
  local q = mm >> lq
  local r = mm & ((1 << lq) - 1)
  local c, s = cos_sin_quarter(k, k.cast(r, "f32") * (TWO_PI / L))
  -- angle + q quarter turns: q = 1: (-s, c), q = 2: (-c, -s), q = 3: (s, -c)
  local odd = (q & 1):eq(1)
  local hi = (q & 2):eq(2)
  local re = k.where(odd, -s, c)
  local im = k.where(odd, c, s)
  re = k.where(hi, -re, re)
  im = k.where(hi, -im, im)
  if sign < 0 then im = -im end
  local _ = shape
  return { re = re, im = im }
end

-- The [rows, cols] tile exp(sign 2 pi i (r0 + i)(c0 + j) / L), i, j the tile coordinates: a DFT
-- matrix (L = its size) or a block of twiddles (L the whole transform's length).
function M.table(k, rows, cols, L, sign, r0, c0)
  local i = k.iota({ rows, 1 }, 0) + (r0 or 0)
  local j = k.iota({ 1, cols }, 1) + (c0 or 0)
  return M.cis(k, k.broadcast(i, { rows, cols }) * k.broadcast(j, { rows, cols }), L, sign)
end

-- The DFT matrices' entries, made once and read by index. F_n[i, j] = exp(-2 pi i ij / n) takes only
-- n values: for each n the row of them (exp(-2 pi i m / n), m = 0 .. n-1) is computed in f32
-- (M.cis) and stored in the tables' type as a [1, n] complex buffer, with one barrier after all of
-- them, and M.dft gathers a table's entries from its row (`gather_shared`, index i j mod n): a
-- product and two shared reads an entry instead of M.cis's polynomials for each, compiled per
-- thread element, and the same bits (cis of i j mod n, rounded once). Only for a row of at most
-- 128 bytes (64 16-bit or 32 32-bit entries): one line of the banks, whose reads never conflict
-- (F_128's row of 256 bytes gave fftconv N = 4096 1024 conflicts); and only where a thread reads at
-- most GATHER_MAX entries of the table: LLVM's memory-dependence queries over more reads in one
-- block cost more than the polynomials (fftconv N1 = 8, [64, 64] F_64, executed instructions of
-- the whole compile: -32% at 4 warps, 32 entries a thread; +3% at 2 warps, 64; +43% at 1, 128).
M.GATHER_MAX = 32
local function gathered(rows, cols, n, ty, warps)
  return warps and n * BYTES[ty] <= 128 and rows * cols <= M.GATHER_MAX * 32 * warps
end

-- The rows for the tables `specs` ({ rows, cols, n } each, F_n[:rows, :cols]) made by M.dft in a
-- kernel of `warps` warps (nil: none gathered), in type ty; returns them for M.dft.
function M.dft_rows(k, specs, ty, warps)
  local dr = { warps = warps, ty = ty }
  for _, sp in ipairs(specs) do
    local n = sp[3]
    if gathered(sp[1], sp[2], n, ty, warps) and not dr[n] then -- one row: no swizzle
      local bufs = { re = k.alloc_shared(ty, { 1, n }), im = k.alloc_shared(ty, { 1, n }) }
      dr[n] = M.store_complex(k, bufs, M.cis(k, k.iota({ 1, n }, 1), n, -1), ty)
      dr.any = true
    end
  end
  if dr.any then k.barrier() end
  return dr
end

-- The [rows, cols] block of F_n at (r0, c0) (M.table's DFT matrix, L = n): gathered from the row of
-- M.dft_rows (in its type) where it made one for this table, else M.table's (f32).
function M.dft(k, dr, rows, cols, n, r0, c0)
  local row = dr[n]
  if not (row and gathered(rows, cols, n, dr.ty, dr.warps)) then return M.table(k, rows, cols, n, -1, r0, c0) end
  local i = k.broadcast(k.iota({ rows, 1 }, 0) + (r0 or 0), { rows, cols })
  local m = i * k.broadcast(k.iota({ 1, cols }, 1) + (c0 or 0), { rows, cols })
  return { re = k.gather_shared(row.re, m, m), im = k.gather_shared(row.im, m, m) }
end

-- The inner blocks per product of the multi-pass recipes (their knob IB; 0: as many as make 16
-- rows a warp, with at most max_elems elements in the stacked tile and at most `count`, the blocks
-- of the loop): blocks of [n, nb] each, `who` the recipe and `index` the name of count for the
-- errors, which name the caller's line. half = 1 pairs its blocks: 1.
function M.inner_blocks(who, p, count, n, nb, index, max_elems)
  if p.half then
    if p.IB > 1 then error(who .. ": IB = " .. p.IB .. " needs half = 0 (the half-length row pairs its blocks)", 2) end
    return 1
  end
  local b = p.IB == 0 and math.max(1, math.min(count, math.min(16 * p.warps, max_elems // nb) // n)) or p.IB
  if count % b ~= 0 then error(who .. ": IB = " .. b .. " does not divide " .. index .. " = " .. count, 2) end
  return b
end

-- The knob IB of the multi-pass recipes (M.inner_blocks).
function M.ib_knob() return { default = 0, values = { 0, 1, 2, 4, 8 } } end

-- b blocks of the inner level stacked along the rows, for products of b n rows (M.inner_block):
-- the block-diagonal I_b (x) F_n [b n, b n] (each block's left product; the zeros make the blocks
-- independent) and the twiddles T[i mod n, j] = exp(-2 pi i (i mod n) j / L) [b n, cols], both
-- { re, im } f32 tiles.
local function stacked_tables(k, b, n, cols, L)
  local function rows(w) return k.broadcast(k.iota({ b * n, 1 }, 0), { b * n, w }) end
  local function cols_of(w) return k.broadcast(k.iota({ 1, w }, 1), { b * n, w }) end
  local r, c = rows(b * n), cols_of(b * n)
  local f = M.cis(k, (r & (n - 1)) * (c & (n - 1)), n, -1)
  local same = (r - (r & (n - 1))):eq(c - (c & (n - 1)))
  local fd = { re = k.where(same, f.re, 0.0), im = k.where(same, f.im, 0.0) }
  return fd, M.cis(k, (rows(cols) & (n - 1)) * cols_of(cols), L, -1)
end

-- The inner level's left DFT matrix and twiddles in shared memory for b blocks of [n, cols] a
-- product (M.inner_blocks): F_n [n, n] and T [n, cols] (T[i, j] = exp(-2 pi i i j / L)) for one,
-- stacked_tables' for more; F in type t, T in twt. dr: the rows of M.dft_rows (with n's), if made.
function M.inner_tables(k, b, n, cols, L, t, twt, dr)
  if b == 1 then
    local f = dr and M.dft(k, dr, n, n, n) or M.table(k, n, n, n, -1)
    return M.put_shared(k, f, { n, n }, t), M.put_shared(k, M.table(k, n, cols, L, -1), { n, cols }, twt)
  end
  local fd, ts = stacked_tables(k, b, n, cols, L)
  return M.put_shared(k, fd, { b * n, b * n }, t), M.put_shared(k, ts, { b * n, cols }, twt)
end

-- The twisted transforms' tables (M.half_spectrum): the [rows, cols] tile
-- exp(-2 pi i (2 i + 1) (c0 + j) step / L2), i, j the tile coordinates, L2 twice the length of the
-- transform; transposed: exp(-2 pi i (2 j + 1) i step / L2) (the inverse's left product, c0 unused).
function M.twisted(k, rows, cols, L2, step, c0, transposed)
  local r = k.broadcast(k.iota({ rows, 1 }, 0), { rows, cols })
  local j = k.iota({ 1, cols }, 1)
  if c0 then j = j + c0 end
  local c = k.broadcast(j, { rows, cols })
  if transposed then r, c = c, r end
  return M.cis(k, (r * 2 + 1) * (c * step), L2, -1)
end

function M.cast(k, z, t) return { re = k.cast(z.re, t), im = k.cast(z.im, t) } end
function M.conj(k, z) return { re = z.re, im = -z.im } end

-- Elementwise product of complex tiles (in their type).
function M.mul(k, a, b)
  return { re = a.re * b.re - a.im * b.im, im = a.re * b.im + a.im * b.re }
end

-- a .* w for a complex tile a and a complex table w in shared memory ({ re = smem, im = smem }),
-- in f32: every use of the table is its own load_shared, so that each is read straight into a's
-- layout (the layout pass gives a load_shared with one use its user's accumulator layout) instead
-- of being converted through scratch shared memory. conj = true: a .* conj(w). opts: the loads'
-- options (k.load_shared's; { reverse = true }: w with both dims reversed). w may also be
-- { make = f }, f() the table made in f32 registers at each use (no shared memory), or
-- { table = w', scale = c }: w' times the complex [1, 1] f32 tile c, applied as (a .* w') c.
function M.mul_shared(k, a, w, conj, opts)
  if w.make then -- a table made in registers where it is used (M.shared_tables' inline)
    local t = w.make()
    return M.mul(k, a, conj and M.conj(k, t) or t)
  end
  if w.scale then
    local shape, c = k.shape(a.re), conj and M.conj(k, w.scale) or w.scale
    return M.mul(k, M.mul_shared(k, a, w.table, conj, opts), { re = k.broadcast(c.re, shape), im = k.broadcast(c.im, shape) })
  end
  local function ld(b) return k.cast(k.load_shared(b, opts), "f32") end
  if conj then
    return { re = a.re * ld(w.re) + a.im * ld(w.im), im = a.im * ld(w.re) - a.re * ld(w.im) }
  end
  return { re = a.re * ld(w.re) - a.im * ld(w.im), im = a.re * ld(w.im) + a.im * ld(w.re) }
end

-- a . b for complex a [M, K] and b [K, N] in the input type t (f16, bf16): four products on the
-- tensor cores, accumulated in f32. b may be real (b.im == nil): two products.
function M.dot(k, a, b, t)
  local rows, cols = k.shape(a.re)[1], k.shape(b.re)[2]
  local zero = k.full({ rows, cols }, 0, "f32")
  local ar, br = k.cast(a.re, t), k.cast(b.re, t)
  if a.im == nil then
    return { re = k.dot(ar, br, zero), im = k.dot(ar, k.cast(b.im, t), zero) }
  end
  local ai = k.cast(a.im, t)
  if b.im == nil then
    return { re = k.dot(ar, br, zero), im = k.dot(ai, br, zero) }
  end
  local bi = k.cast(b.im, t)
  return {
    re = k.dot(ar, br, k.dot(-ai, bi, zero)),
    im = k.dot(ar, bi, k.dot(ai, br, zero)),
  }
end

-- A complex tile stored in two shared buffers of type ty (the XOR swizzle of docs/gemm.md on the
-- 16-byte chunks of a row, against bank conflicts): { re = smem, im = smem }.
-- re_only: store z.re only ({ re = smem }).
-- alloc_complex: the two buffers alone ({ re = smem, im = smem }, re only with re_only), for a caller
-- that stores into them more than once (store_complex; a barrier between one use's reads and the
-- next stores).
function M.alloc_complex(k, shape, ty, re_only)
  local chunks = shape[2] * BYTES[ty] // 16
  local sw = chunks >= 2 and { swizzle = math.min(8, chunks) } or nil
  return { re = k.alloc_shared(ty, shape, sw), im = not re_only and k.alloc_shared(ty, shape, sw) or nil }
end

function M.store_complex(k, bufs, z, ty)
  k.store_shared(bufs.re, k.cast(z.re, ty))
  if bufs.im then k.store_shared(bufs.im, k.cast(z.im, ty)) end
  return bufs
end

function M.put_shared(k, z, shape, ty, re_only)
  return M.store_complex(k, M.alloc_complex(k, shape, ty, re_only), z, ty)
end

-- A complex f32 tile z in two buffers of its own (put_shared), visible to every thread (a barrier
-- after the stores): for reads in other threads' layouts (M.mul_shared, reversed reads). A caller
-- that repeats this in a loop has a barrier between the reads and the next stores.
function M.in_shared(k, z)
  local zs = M.put_shared(k, z, k.shape(z.re), "f32")
  k.barrier()
  return zs
end

-- The constant tiles of a transform of length L = N1 N2, computed once per program in f32 and kept
-- in shared memory, so that the matrix products read them as operands straight from there
-- (ldmatrix) and they hold no registers between uses. DFT matrices in the product type t, twiddles
-- in tw_type (f32, or t to halve their space). Each table is { re = smem, im = smem }.
--   f1 = F_N1[:, :N1/2] [N1, N1/2]   (the forward left product; rows n1 >= N1/2 of the data are 0)
--   tw = T [N1, N2], T[k1, n2] = exp(-2 pi i n2 k1 / L)
--   f2 = F_N2 [N2, N2]
--   g1 = F_N1[:G, :] [G, N1]         (the inverse left product; only the first N outputs, rows
--                                     N1/2 and up, are kept; G = M.out_rows(N1); not made when
--                                     forward_only)
--   twist: the twisted transform of M.half_spectrum (bin m is frequency m + 1/2 of length L = N1 N2,
--          the input and output twisted by w_2L^n, n = N2 n1 + n2): F_N1's columns (f1) and rows
--          (g1) take w_2L^(N2 n1), T's columns w_2L^(n2): exponents N2 n1 (2 k1 + 1) and
--          n2 (2 k1 + 1) of w_2L
--   inline: the twiddles T made in registers at each use ({ make = ... }, M.mul_shared) instead of
--           stored: less shared memory for a caller that runs once (the spectrum recipe)
--   warps: the kernel's; given, the DFT matrices' entries are gathered from rows of their values
--          where a thread reads few of them (M.dft_rows), else computed each
function M.shared_tables(k, N1, N2, t, tw_type, forward_only, twist, inline, warps)
  local R, L = N1 // 2, N1 * N2
  local function put(z, shape, ty) return M.put_shared(k, z, shape, ty) end
  local function odd(rows, cols, step, transposed) return M.twisted(k, rows, cols, 2 * L, step, nil, transposed) end
  local function tw() return twist and odd(N1, N2, 1) or M.table(k, N1, N2, L, -1) end
  local G = M.out_rows(N1)
  local specs = { { N2, N2, N2 } }
  if not twist then
    specs[2] = { N1, R, N1 }
    if not forward_only then specs[3] = { G, N1, N1 } end
  end
  local dr = M.dft_rows(k, specs, t, warps)
  local s = {
    f1 = put(twist and odd(N1, R, N2) or M.dft(k, dr, N1, R, N1), { N1, R }, t),
    tw = inline and { make = tw } or put(tw(), { N1, N2 }, tw_type or "f32"),
    f2 = put(M.dft(k, dr, N2, N2, N2), { N2, N2 }, t),
  }
  if not forward_only then
    s.g1 = put(twist and odd(G, N1, N2, true) or M.dft(k, dr, G, N1, N1), { G, N1 }, t)
  end
  k.barrier()
  return s
end

-- The forward transform of a real [N1/2, N2] block x (the data x[N2 n1 + n2] at [n1, n2], the rest
-- of the length zero) with tables s in product type t: { re, im } [N1, N2] in f32, bin k1 + N1 k2
-- at [k1, k2]. Every table operand is its own load_shared, read by its product directly. x may
-- also be complex ({ re, im }, two rows transformed at once: M.forward_pair): the first product
-- then takes four products instead of two.
function M.forward_real(k, s, x, t)
  local ld = k.load_shared
  local z = type(x) == "table" and M.cast(k, x, t) or { re = k.cast(x, t) }
  local rows, cols = k.shape(ld(s.f1.re))[1], k.shape(z.re)[2]
  local zero = k.full({ rows, cols }, 0, "f32")
  if t ~= "f32" then
    -- through swizzled buffers of their own, so that the products read them with conflict-free
    -- ldmatrix (a register operand would be staged by each dot through unswizzled scratch). A caller
    -- that transforms in a loop has a barrier between the reads and the next iteration's store.
    local zs = M.put_shared(k, { re = z.re, im = z.im or z.re }, k.shape(z.re), t, z.im == nil)
    k.barrier()
    z = { re = ld(zs.re), im = zs.im and ld(zs.im) }
  end
  local b
  if z.im then
    b = {
      -- the table operands as loaded (a negated one would be staged through scratch): the sign
      -- goes on the accumulator
      re = k.dot(ld(s.f1.re), z.re, -k.dot(ld(s.f1.im), z.im, zero)),
      im = k.dot(ld(s.f1.re), z.im, k.dot(ld(s.f1.im), z.re, zero)),
    }
  else
    b = { re = k.dot(ld(s.f1.re), z.re, zero), im = k.dot(ld(s.f1.im), z.re, zero) }
  end
  local c = M.cast(k, M.mul_shared(k, b, s.tw), t)
  return {
    re = k.dot(c.re, ld(s.f2.re), k.dot(-c.im, ld(s.f2.im), zero)),
    im = k.dot(c.re, ld(s.f2.im), k.dot(c.im, ld(s.f2.re), zero)),
  }
end

-- The rows of the inverse's last product: the N1/2 rows of y, or 16 when that is fewer (the rows of
-- a matrix instruction: a product of fewer rows would be computed with FMAs, converting its
-- operands through shared memory). The rows from N1/2 on are not part of y: the caller stores only
-- the first N1/2.
function M.out_rows(N1) return math.max(N1 // 2, 16) end

-- The inverse of forward_real without the 1/L (fold it into Y) and keeping the first half of the
-- rows: Re(iDFT(Y)) as [M.out_rows(N1), N2] f32, y[N2 n1 + n2] at [n1, n2] for n1 < N1/2.
--   Z = (Y conj(F_N2)) .* conj(T),  y = Re(conj(F_N1)[:N1/2, :] Z) = g1.re Z.re + g1.im Z.im
-- complex = true: the whole iDFT(Y) as { re, im } (two rows at once: M.forward_pair), the imaginary
-- part g1.re Z.im - g1.im Z.re.
function M.inverse_real(k, s, Y, t, complex)
  local ld = k.load_shared
  local yt = M.cast(k, Y, t)
  local shape = k.shape(Y.re)
  local zero = k.full(shape, 0, "f32")
  local d = {
    re = k.dot(yt.re, ld(s.f2.re), k.dot(yt.im, ld(s.f2.im), zero)),
    im = k.dot(yt.im, ld(s.f2.re), k.dot(-yt.re, ld(s.f2.im), zero)),
  }
  local z = M.cast(k, M.mul_shared(k, d, s.tw, true), t)
  local out = k.full({ M.out_rows(shape[1]), shape[2] }, 0, "f32")
  local re = k.dot(ld(s.g1.re), z.re, k.dot(ld(s.g1.im), z.im, out))
  if not complex then return re end
  return { re = re, im = k.dot(ld(s.g1.re), z.im, -k.dot(ld(s.g1.im), z.re, out)) }
end

-- Two real rows x0, x1 ([N1/2, N2] f32) of one channel as one complex row x0 s0 + i x1 s1: the
-- convolution is linear and the kernel real, so the real part of the result is row 0's and the
-- imaginary part row 1's, for one transform, product and inverse instead of two. s0 and s1 are
-- powers of two that bring each row's L2 norm into [1, 2) (exact: no bit of the data changes), so
-- that neither row's rounding errors scale with the other's size, and the transforms' f16
-- intermediates stay far from overflow whatever the data's scale. Returns the complex row (f32) and
-- the [1, 1] f32 factors 1/s0, 1/s1 that undo the scaling on the way out.
function M.forward_pair(k, x0, x1)
  local function scale(x)
    -- ss's biased exponent e (0 for zero); s = 2^-floor((e - 127) / 2) and 1/s, as bits
    local e = k.band(k.shr(k.bitcast((x * x):sum(1):sum(0), "i32"), 23), 255)
    local h = k.shr(e + 1, 1) -- floor((e - 127) / 2) + 64, from 0 to 128
    local shape = k.shape(x)
    return x * k.broadcast(k.bitcast(k.shl(191 - h, 23), "f32"), shape), k.bitcast(k.shl(h + 63, 23), "f32")
  end
  local z0, r0 = scale(x0)
  local z1, r1 = scale(x1)
  return { re = z0, im = z1 }, r0, r1
end

-- Whether half = 1 is the default (fftconv with a given spectrum, and fftconv_kspec, whose
-- defaults must agree): from N = 256 (M = 16 x 16, where the products are matrix instructions; the
-- smaller splits' products take the FMA path, with bank conflicts) and with an N1 (0: M.split's)
-- that can split M = N. half = 1 can be set from N = 16.
function M.half_default(N, n1)
  return N >= 256 and (N & (N - 1)) == 0 and (n1 == 0 or (n1 >= 4 and n1 <= N // 4))
end

-- The split L = N1 N2 of the zero-padded length L = 2N when n1 is 0: the squarest, and where
-- log2(L) is odd the larger half to N1 (N1 = 2 N2) while N2 stays 8 or more (docs/fftconv.md,
-- "Default split": fewer shared-memory wavefronts, barriers and mma than N1 = N2 / 2); else N1 = n1.
-- Refuses what the recipes cannot tile, naming the recipe (who) and the setting.
-- half: split M = N instead (the row packed as a complex row of half the length: M.half_spectrum).
-- compiler/ref/ref_fftconv.c (split_n1) and bench/fftconv.py (split) make the same choice.
function M.split(who, N, n1, half)
  local L = half and N or 2 * N
  if N < 2 or (N & (N - 1)) ~= 0 then error(who .. ": N = " .. N .. " is not a power of two", 3) end
  local lg = log2_exact(L)
  if n1 == 0 then n1 = (lg % 2 == 1 and lg >= 7) and 1 << (lg // 2 + 1) or 1 << (lg // 2) end
  if n1 < 4 or (n1 & (n1 - 1)) ~= 0 or L % n1 ~= 0 or L // n1 < 4 then
    error(who .. ": N1 = " .. n1 .. " must be a power of two from 4 to " .. (half and "M/4 = N/4 = " or "L/4 = ") ..
      (L // 4) .. (half and " (half = 1 splits M = N)" or ""), 3)
  end
  return n1, L // n1
end

-- Real input packed as a complex row of half the length (FlashFFTConv's form), on the odd
-- frequencies. A real row x of length L = 2M is z[n] = x[2n] + i x[2n+1] (n < M). The transforms
-- here are twisted: bin m is frequency m + 1/2, X[m] = sum_n x[n] w_L^(n (m + 1/2)) (w_L =
-- exp(-2 pi i / L)), which turns the circular convolution into the negacyclic one; with the zero
-- padding to L >= 2N - 1 neither wraps, so both are the linear convolution. The twist w_L^(n/2) on
-- the input (and its inverse on the output) folds into the tables (M.shared_tables with twist):
-- F_N1's columns and T's columns, for n = N2 n1 + n2 (and F_N1's rows of the inverse). Then Z, the
-- twisted length-M transform of z (bin m = k1 + N1 k2 at [k1, k2], as forward_real gives it),
-- holds both halves' transforms: with R[m] = Z[M - 1 - m],
--   E[m] = (Z[m] + conj R[m]) / 2,  O[m] = (Z[m] - conj R[m]) / 2i   (the even and odd samples')
--   X[m] = E[m] + W[m] O[m],  X[m + M] = E[m] - W[m] O[m],  W[m] = w_L^((2m + 1) / 2)
-- and M - 1 - m is (N1 - 1 - k1) + N1 (N2 - 1 - k2): R is Z with both dims reversed, read back
-- from shared memory (load_shared {reverse}) with no exception for any bin (the untwisted
-- transform's -m mod M has one: row k1 = 0). A real filter's twisted spectrum is Hermitian as
-- K[L - 1 - m] = conj K[m], so bins 0 .. M-1 determine it: K[m + M] = conj K[M - 1 - m].
-- half_tables adds W (f32 in shared memory, read in the spectrum's layout) to s.
-- inline: W made in registers at each use instead (M.mul_shared's { make = ... }).
function M.half_tables(k, s, N1, N2, ty, inline)
  local function wh()
    local m = k.broadcast(k.iota({ N1, 1 }, 0), { N1, N2 }) + k.broadcast(k.iota({ 1, N2 }, 1), { N1, N2 }) * N1
    return M.cis(k, m * 2 + 1, 4 * N1 * N2, -1)
  end
  s.wh = inline and { make = wh } or M.put_shared(k, wh(), { N1, N2 }, ty or "f32")
  return s
end

-- The complex [N1, N2] f32 tile z with both dims reversed (z[M - 1 - m]), through two f32 buffers of
-- its own; fn receives the reader: rd("re") and rd("im") each a load of its own (one use each, read
-- in its user's layout).
local function with_reversed(k, z, fn)
  local zs = M.in_shared(k, z)
  return fn(function(part) return k.load_shared(zs[part], { reverse = true }) end)
end

-- The spectrum of a real row of length L = 2M from Z, the twisted length-M transform of its even
-- samples plus i times its odd ones: { lo = X[m], hi = X[m + M] } for m = k1 + N1 k2 at [k1, k2],
-- in f32 (twisted: bin m is frequency m + 1/2).
-- half_split is its arithmetic: Z at bin m, rd(part) a fresh read of Z's part at M - 1 - m, w the
-- table W (M.mul_shared's: shared, or { make = ... }).
local function half_split(k, Z, rd, w)
  local e = { re = (Z.re + rd("re")) * 0.5, im = (Z.im - rd("im")) * 0.5 }
  local o = M.mul_shared(k, { re = (Z.im + rd("im")) * 0.5, im = (rd("re") - Z.re) * 0.5 }, w)
  return { lo = { re = e.re + o.re, im = e.im + o.im }, hi = { re = e.re - o.re, im = e.im - o.im } }
end

function M.half_spectrum(k, s, Z)
  return with_reversed(k, Z, function(rd) return half_split(k, Z, rd, s.wh) end)
end

-- The inverse for a half-packed row: Y = { lo, hi } the twisted spectrum of a real result (bins m
-- and m + M, the 1/L folded in). The result's even samples are the twisted inverse of lo + hi, its
-- odd samples that of (lo - hi) conj(W), both real: one complex inverse of length M (tables with the
-- twist) gives the even samples in its real part and the odd in its imaginary part,
-- { re = y[2n], im = y[2n+1] } as [G, N2] f32 (n = N2 n1 + n2 at [n1, n2], rows n1 < N1/2 of y).
-- half_join is its first step: the complex spectrum (lo + hi) + i (lo - hi) conj(W) whose inverse
-- is the row's even samples plus i times its odd ones.
local function half_join(k, Y, w)
  local d = M.mul_shared(k, { re = Y.lo.re - Y.hi.re, im = Y.lo.im - Y.hi.im }, w, true)
  return { re = Y.lo.re + Y.hi.re - d.im, im = Y.lo.im + Y.hi.im + d.re }
end

function M.half_inverse(k, s, Y, t)
  return M.inverse_real(k, s, half_join(k, Y, s.wh), t, true)
end

-- A real filter's given twisted spectrum (fftconv_kspec with half = 1: bins 0 .. M-1 at [k1, k2],
-- real parts re, imaginary parts im, f32 tiles) into two f32 buffers; returns mul(X) for
-- M.half_spectrum's X: { lo = X.lo K[m], hi = X.hi K[m + M] } with K[m + M] = conj K[M - 1 - m],
-- K read by each use in its user's layout (M.mul_shared), reversed for hi.
function M.half_given(k, re, im)
  local ks = M.in_shared(k, { re = re, im = im })
  return function(X) return { lo = M.mul_shared(k, X.lo, ks), hi = M.mul_shared(k, X.hi, ks, true, { reverse = true }) } end
end

-- Whether half = 1 is the default of fftconv3 and fftconv3_kspec (whose defaults must agree): from
-- N = 1024 (smaller splits' inner blocks take the FMA path either way, and ptxas spilled 4 to 12
-- bytes at N = 256 and 512 on sm_90a and sm_100a) to 65536 (beyond, the pairs' exchange buffers and
-- W do not fit beside f32 tables on sm_80; docs/fftconv.md, "Order 3 at half the length").
function M.half3_default(N) return N >= 1024 and N <= 65536 end

-- The same for fftconv4 and fftconv4_kspec.
function M.half4_default(N) return false end

-- The split L = 2N = N1 N2 N3 of recipes/fftconv3.lua and its spectrum recipe: N1, N2 given (> 0)
-- or 2^floor(log2(L)/3) each, N3 the rest; N a power of two from 32 to 2^18 (L = 64 x 64 x 128:
-- the inner [N2, N3] blocks still fit a program's tiles). Returns L, N1, N2, N3; refuses, naming
-- who and the line that called the recipe's own wrapper (level 3, as M.split).
-- half: the split of M = N (the row packed at half the length, M.half_spectrum), N from 64 (M = 4 x
-- 4 x 4), the rest of log2(M) / 3 going to N3 and then to N2 (not to N3 alone); returns M, N1, N2, N3.
M.MAX_N3 = 1 << 18
function M.split3(who, p, half)
  local L, lo = half and p.N or 2 * p.N, half and 64 or 32
  if p.N < lo or p.N > M.MAX_N3 or (p.N & (p.N - 1)) ~= 0 then
    error(who .. ": N = " .. p.N .. " must be a power of two from " .. lo .. " to " .. M.MAX_N3 ..
      (half and " with half = 1" or ""), 3)
  end
  local lg = log2_exact(L)
  local a = lg // 3
  local n1, n2 = p.N1, p.N2
  if n1 == 0 then n1 = 1 << a end
  -- half: the rest of log2(M) / 3 to N3, then N2 (M = 2048: 8 x 16 x 16, whose inner products are
  -- matrix instructions, where 8 x 8 x 32 would make F_N2's [8, 32] products FMAs). An N2 below 16
  -- beside a larger N3 takes the larger half of the inner block instead (L = 1024: 8 x 16 x 8, not
  -- 8 x 8 x 16; L = 256: 4 x 8 x 8): an inner block [N2, N3] with N2 < 16 runs F_N2's products
  -- through padded scratch (N = 512 on the simulator: 35452 shared wavefronts, 7296 conflicts and
  -- 1162 barriers at 8 x 8 x 16; 8284, 0 and 234 at 8 x 16 x 8; docs/fftconv.md)
  if n2 == 0 then
    local e = half and lg % 3 == 2 and a + 1 or a
    local r = 0
    while (1 << r) < L // n1 do r = r + 1 end -- n1 a power of two (else refused below)
    if (1 << e) < 16 and r - e > e then e = (r + 1) // 2 end
    n2 = 1 << e
  end
  local ok = n1 >= 4 and n2 >= 4 and (n1 & (n1 - 1)) == 0 and (n2 & (n2 - 1)) == 0 and L % (n1 * n2) == 0
  if not ok or L // (n1 * n2) < 4 then
    error(who .. ": N1 = " .. n1 .. ", N2 = " .. n2 .. ": each a power of two, 4 or more, with N3 = " ..
      (half and "M/(N1 N2) >= 4 (M = N = " .. L .. ", half = 1)" or "L/(N1 N2) >= 4 (L = " .. L .. ")"), 3)
  end
  return L, n1, n2, L // (n1 * n2)
end

-- The split L = 2N = N1 N2 N3 N4 of recipes/fftconv4.lua and its spectrum recipe: N1, N2, N3 given
-- (> 0) or 2^floor(log2(L)/4) each with the rest to N4, N3, N2 in turn; N a power of two from 128
-- to 2^22. Returns L, N1, N2, N3, N4; refuses as M.split3. half: the split of M = N by the same
-- rule, N from 256 (M = 4 x 4 x 4 x 4); returns M, N1 .. N4.
M.MAX_N4 = 1 << 22
function M.split4(who, p, half)
  local L, lo = half and p.N or 2 * p.N, half and 256 or 128
  if p.N < lo or p.N > M.MAX_N4 or (p.N & (p.N - 1)) ~= 0 then
    error(who .. ": N = " .. p.N .. " must be a power of two from " .. lo .. " to " .. M.MAX_N4 ..
      (half and " with half = 1" or ""), 3)
  end
  local lg = log2_exact(L)
  local e = { lg // 4, lg // 4, lg // 4, lg // 4 }
  for i = 1, lg % 4 do e[5 - i] = e[5 - i] + 1 end
  local n = { p.N1, p.N2, p.N3 }
  for i = 1, 3 do if n[i] == 0 then n[i] = 1 << e[i] end end
  local ok, prod = true, 1
  for i = 1, 3 do
    ok = ok and n[i] >= 4 and (n[i] & (n[i] - 1)) == 0
    prod = prod * n[i]
  end
  if not ok or L % prod ~= 0 or L // prod < 4 then
    error(who .. ": N1 = " .. n[1] .. ", N2 = " .. n[2] .. ", N3 = " .. n[3] ..
      ": each a power of two, 4 or more, with N4 = " ..
      (half and "M/(N1 N2 N3) >= 4 (M = N = " .. L .. ", half = 1)" or "L/(N1 N2 N3) >= 4 (L = " .. L .. ")"), 3)
  end
  return L, n[1], n[2], n[3], L // prod
end

-- The outer level of the multi-pass recipes (fftconv3, fftconv4), in column blocks of CB over the
-- program's [N1, M] matrix (row bh * R of u's [B*H*R, M] view, R = N1 / 2 real rows: the real input
-- zero-padded to length L = 2 N1 M):
--   outer_forward: ws1 = (F_N1[:, :R] A) .* T1, real parts at rows r1, imaginary at r1 + N1;
--   outer_inverse: y = Re(conj(F_N1)[:R, :] (ws1 .* conj(T1))), gated by v when p.gate.
-- f1 and g1 are F_N1's halves in shared memory (put_shared), o = { L, N1, M, CB, bh, r1, ws1, t }.
-- o.src, o.src_row (outer_forward): read the input from rows src_row .. of the view src ([rows, M],
-- R rows a row of the data) instead of u's, ungated (the spectrum recipes' k; p is not read).
-- With o.inplace (layout "bnh"), the row's (gated) input is already in ws1's first R rows at r1 and
-- the output goes there too (M.bnh_in, M.bnh_out): a barrier between each block's reads and its
-- stores over them, and v multiplies later, on the way out.
-- o.half (M.half_spectrum's packing, the twisted transform of length L = N1 M of the complex row
-- z[n] = x[2n] + i x[2n+1]): f1 and g1 are the twisted tables (M.twisted), T1 is twisted too, and
-- the input and output are complex: o.input(j) gives z's column block j ({ re, im } [R, CB], gated),
-- o.output(j, y) stores y's ({ re = even samples, im = odd samples } f32 [R, CB]).
function M.outer_forward(k, p, a, f1, o)
  local R, ld = o.N1 // 2, k.load_shared
  local rows = o.src or (o.inplace and o.ws1 or k.view(a.u, { a.B * a.H * R, o.M }))
  local wrows = not o.src and p.gate and not o.inplace and k.view(a.w, { a.B * a.H * R, o.M }) or nil
  local row = o.src_row or (o.inplace and o.r1 or o.bh * R)
  k.range(0, o.M, o.CB, {}, function(j)
    local zero1 = k.full({ o.N1, o.CB }, 0, "f32")
    local b
    if o.half then
      local x = o.input(j)
      b = { -- the table operands as loaded, the sign on the accumulator (M.forward_real)
        re = k.dot(ld(f1.re), x.re, -k.dot(ld(f1.im), x.im, zero1)),
        im = k.dot(ld(f1.re), x.im, k.dot(ld(f1.im), x.re, zero1)),
      }
    else
      local x = k.load(rows, { row, j }, { R, o.CB })
      if wrows then x = x * k.load(wrows, { row, j }, { R, o.CB }) end
      b = { re = k.dot(ld(f1.re), x, zero1), im = k.dot(ld(f1.im), x, zero1) }
    end
    local c = M.cast(k, M.mul(k, b, M.outer_twiddles(k, o, j)), o.t)
    if o.inplace then k.barrier() end
    k.store(o.ws1, { o.r1, j }, c.re)
    k.store(o.ws1, { o.r1 + o.N1, j }, c.im)
  end)
  k.barrier()
end

-- T1's column block j ([N1, CB] f32): w_L^(n k1), or twisted (o.half) w_2L^(n (2 k1 + 1))
function M.outer_twiddles(k, o, j)
  if o.half then return M.twisted(k, o.N1, o.CB, 2 * o.L, 1, j) end
  return M.table(k, o.N1, o.CB, o.L, -1, 0, j)
end

-- The half-packed row's input and output for the multi-pass recipes' outer stages (o.half with
-- o.input and o.output, above): the even and odd samples of row bh of u (times w) and y (times v),
-- or in place (layout "bnh", fft.each_row) of the program's ws row, whose first N elements hold
-- them (the transform then keeps to the ws row's second half: o.r1 past 2 N1 rows of M). rows: the
-- ws rows of all programs.
function M.half_io(k, p, a, o, bh, inplace, rows)
  local R, M_, CB, t = o.N1 // 2, o.M, o.CB, o.t
  local function samples(ptr, nrows, odd) return k.view(ptr, { nrows, M_ }, { 2 * M_, 2 }, odd and 1 or 0) end
  local src, srow, nr = a.u, bh * R, a.B * a.H * R
  if inplace then src, srow, nr = a.ws, bh * (2 * o.N1), rows * (2 * o.N1) end
  local gate = p.gate and not inplace
  local parts = { { "re", false }, { "im", true } }
  o.half, o.inplace = true, false
  o.input = function(j)
    local x = {}
    for _, po in ipairs(parts) do
      local part, odd = po[1], po[2]
      x[part] = k.load(samples(src, nr, odd), { srow, j }, { R, CB })
      if gate then x[part] = x[part] * k.load(samples(a.w, nr, odd), { srow, j }, { R, CB }) end
    end
    return x
  end
  o.output = function(j, y)
    for _, po in ipairs(parts) do
      local part, odd = po[1], po[2]
      local v = y[part]
      if gate then v = v * k.cast(k.load(samples(a.v, nr, odd), { srow, j }, { R, CB }), "f32") end
      k.store(samples(inplace and a.ws or a.y, nr, odd), { srow, j }, k.cast(v, t))
    end
  end
  return o
end

function M.outer_inverse(k, p, a, g1, o)
  local R, ld = o.N1 // 2, k.load_shared
  local yv = o.inplace and o.ws1 or k.view(a.y, { a.B * a.H * R, o.M })
  local vrows = p.gate and not o.inplace and k.view(a.v, { a.B * a.H * R, o.M }) or nil
  local row = o.inplace and o.r1 or o.bh * R
  k.range(0, o.M, o.CB, {}, function(j)
    local wr = k.cast(k.load(o.ws1, { o.r1, j }, { o.N1, o.CB }), "f32")
    local wi = k.cast(k.load(o.ws1, { o.r1 + o.N1, j }, { o.N1, o.CB }), "f32")
    local T1 = M.outer_twiddles(k, o, j)
    local zz = M.cast(k, { re = wr * T1.re + wi * T1.im, im = wi * T1.re - wr * T1.im }, o.t)
    local zero = k.full({ R, o.CB }, 0, "f32")
    if o.half then
      return o.output(j, { -- conj(g1) zz
        re = k.dot(ld(g1.re), zz.re, k.dot(ld(g1.im), zz.im, zero)),
        im = k.dot(ld(g1.re), zz.im, -k.dot(ld(g1.im), zz.re, zero)),
      })
    end
    local y = k.dot(ld(g1.re), zz.re, k.dot(ld(g1.im), zz.im, zero))
    if vrows then y = y * k.cast(k.load(vrows, { row, j }, { R, o.CB }), "f32") end
    if o.inplace then k.barrier() end
    k.store(yv, { row, j }, k.cast(y, o.t))
  end)
end

-- The middle level of the order-4 transform (recipes/fftconv4.lua, step 2a), in place: the row of
-- length P = N2 Pn read as [N2, Pn] at rows row2 of the view ws2 (imaginary parts im rows later),
-- in column blocks of CB: E = (F_N2 C) .* T2 (T2[k2, q] = w_M^{q k2}, made per block in f32), over
-- the block, in the type t. f2 is F_N2 in shared memory (put_shared).
-- o = { ws2, row2, im, N2, P, CB, M, f2, t }
function M.middle_forward(k, o)
  local ld = k.load_shared
  local z2 = k.full({ o.N2, o.CB }, 0, "f32")
  k.range(0, o.P, o.CB, {}, function(j)
    local c = { re = k.load(o.ws2, { o.row2, j }, { o.N2, o.CB }), im = k.load(o.ws2, { o.row2 + o.im, j }, { o.N2, o.CB }) }
    local d = {
      re = k.dot(ld(o.f2.re), c.re, k.dot(ld(o.f2.im), -c.im, z2)),
      im = k.dot(ld(o.f2.re), c.im, k.dot(ld(o.f2.im), c.re, z2)),
    }
    local e = M.cast(k, M.mul(k, d, M.table(k, o.N2, o.CB, o.M, -1, 0, j)), o.t)
    k.barrier() -- every thread has read the block before any overwrites it
    k.store(o.ws2, { o.row2, j }, e.re)
    k.store(o.ws2, { o.row2 + o.im, j }, e.im)
  end)
  k.barrier()
end

-- The recipes' declarations for the two layouts: u, w, v, y as [B, H, N] ("bhn") or [B, N, H]
-- ("bnh", knobs HB and CN: channels per program, positions per transposing tile), one program per
-- row or per HB channels of nb batch entries (nb: 1, or 2 where a recipe pairs rows; default 1), and
-- the rows of the scratch ws (one per channel; in "bnh" ceil(H / HB) HB per batch entry, B rounded up
-- to a multiple of nb).
function M.is_bnh(p) return p.layout == "bnh" end
local function blocks(p) return (p.H + p.HB - 1) // p.HB end
M.io_dims = {
  "B",
  function(p) return M.is_bnh(p) and p.N or p.H end,
  function(p) return M.is_bnh(p) and p.H or p.N end,
}
local function entries(p, nb) return (p.B + (nb or 1) - 1) // (nb or 1) end
function M.grid(p, nb) return M.is_bnh(p) and entries(p, nb) * blocks(p) or entries(p, nb) * p.H end
function M.ws_rows(p, nb) return M.is_bnh(p) and entries(p, nb) * (nb or 1) * blocks(p) * p.HB or p.B * p.H end
function M.hb_knob() return { default = 16, values = { 4, 8, 16, 32 } } end
function M.cn_knob() return { default = 0, values = { 0, 64, 128, 256, 512 } } end

-- The rows of the program (multi-pass recipes): conv_row(bh, h, inplace) for its one row bh
-- (channel h) in "bhn"; in "bnh" for each of its HB channels' ws rows, moved in before (in place:
-- the input in the row's first N elements of ws, of `cols` elements of type ty) and out after.
function M.each_row(k, a, p, cols, ty, conv_row)
  if not M.is_bnh(p) then
    local bh = k.program_id(0)
    conv_row(bh, bh % a.H, false)
    return
  end
  local o = M.bnh_block(k, a, p, cols, ty)
  M.bnh_in(k, p, a, o)
  k.range(0, p.HB, 1, {}, function(c) conv_row(o.pid * p.HB + c, o.h0 + c, true) end)
  M.bnh_out(k, p, a, o)
end

-- Layout "bnh" ([B, N, H]): a program takes HB neighbouring channels h0 .. h0 + HB - 1 of o.nb batch
-- entries b .. b + nb - 1 through its nb HB rows of a scratch, the view ws3 [programs, nb HB, cols]
-- (row s HB + c of program pid: entry b + s's channel h0 + c, its first N elements at columns
-- 0 .. N-1). bnh_in moves u (times w) there in [1, HB, CN] tiles whose lanes run along the channels
-- (coalesced reads; the compiler converts the layout for the row-wise stores), bnh_out moves the rows
-- back to y, times v in f32. Channels past H and entries past B read zeros and are not stored. o
-- comes from bnh_block.
local function chan_view(k, a, p, ptr) return k.view(ptr, { a.B, a.H, p.N }, { p.N * a.H, 1, a.H }) end

function M.bnh_in(k, p, a, o)
  k.range(0, p.N, o.CN, {}, function(j)
    for s = 0, o.nb - 1 do
      local x = k.load(chan_view(k, a, p, a.u), { o.b + s, o.h0, j }, { 1, o.HB, o.CN })
      if p.gate then x = x * k.load(chan_view(k, a, p, a.w), { o.b + s, o.h0, j }, { 1, o.HB, o.CN }) end
      k.store(o.ws3, { o.pid, s * o.HB, j }, k.cast(x, o.ty))
    end
  end)
  k.barrier()
end

function M.bnh_out(k, p, a, o)
  k.barrier()
  k.range(0, p.N, o.CN, {}, function(j)
    for s = 0, o.nb - 1 do
      local y = k.cast(k.load(o.ws3, { o.pid, s * o.HB, j }, { 1, o.HB, o.CN }), "f32")
      if p.gate then
        y = y * k.cast(k.load(chan_view(k, a, p, a.v), { o.b + s, o.h0, j }, { 1, o.HB, o.CN }), "f32")
      end
      k.store(chan_view(k, a, p, a.y), { o.b + s, o.h0, j }, k.cast(y, p.dtype))
    end
  end)
end

-- The program's channel block in layout "bnh" (knobs HB, CN: channels per program, positions per
-- tile, 0: min(N, 256)) for nb batch entries a program (default 1): the o of bnh_in and bnh_out, with
-- pid, its first batch entry b and first channel h0 (ceil(H / HB) programs per nb entries), and ws3,
-- the [ceil(B/nb) ceil(H/HB), nb HB, cols] view of the scratch ws (rows of `cols` elements of type ty).
function M.bnh_block(k, a, p, cols, ty, nb)
  local pid, HB = k.program_id(0), p.HB
  nb = nb or 1
  local blk = (a.H + (HB - 1)) / HB
  return {
    pid = pid, b = (pid / blk) * nb, h0 = (pid % blk) * HB, HB = HB, ty = ty, nb = nb,
    CN = p.CN == 0 and math.min(p.N, 256) or math.min(p.N, p.CN),
    ws3 = k.view(a.ws, { ((a.B + (nb - 1)) / nb) * blk, nb * HB, cols }),
  }
end

-- The forward half of inner_block: the block at rows o.row of o.ws ([Na, Nb], imaginary parts o.im
-- rows later) transformed, X = ((F_a B) .* T) F_b in f32, bin a + Na b at [a, b]; the products'
-- inputs in o.t. The twiddles T from o.tw in shared memory, or (o.tw nil) made here in f32 from
-- iota. The spectrum recipes store X over the block (M.spectrum). inner_twiddled is its first half,
-- (F_a B) .* T in o.t.
function M.inner_twiddled(k, o)
  local ld, fa = k.load_shared, o.fa
  local cb = { re = k.load(o.ws, { o.row, 0 }, { o.Na, o.Nb }), im = k.load(o.ws, { o.row + o.im, 0 }, { o.Na, o.Nb }) }
  local z = k.full({ o.Na, o.Nb }, 0, "f32")
  local d = {
    re = k.dot(ld(fa.re), cb.re, k.dot(ld(fa.im), -cb.im, z)),
    im = k.dot(ld(fa.re), cb.im, k.dot(ld(fa.im), cb.re, z)),
  }
  -- each use of a twiddle in shared memory its own load, read in d's layout (M.mul_shared)
  return M.cast(k, o.tw and M.mul_shared(k, d, o.tw) or M.mul(k, d, M.table(k, o.Na, o.Nb, o.Na * o.Nb, -1)), o.t)
end

function M.inner_forward(k, o)
  local ld, fb = k.load_shared, o.fb
  local e = M.inner_twiddled(k, o)
  local z = k.full({ o.Na, o.Nb }, 0, "f32")
  return {
    re = k.dot(e.re, ld(fb.re), k.dot(-e.im, ld(fb.im), z)),
    im = k.dot(e.re, ld(fb.im), k.dot(e.im, ld(fb.re), z)),
  }
end

-- The inverse half of inner_block: the block's spectrum Y (f32, the 1/L folded in) back to
-- conj(F_a) ((Y conj(F_b)) .* conj(T)), f32 (the caller stores it).
function M.inner_inverse(k, o, Y)
  local ld, t = k.load_shared, o.t
  local fa, fb = o.fa, o.fb
  local z = k.full({ o.Na, o.Nb }, 0, "f32")
  local yt = M.cast(k, Y, t)
  local D = {
    re = k.dot(yt.re, ld(fb.re), k.dot(yt.im, ld(fb.im), z)),
    im = k.dot(yt.im, ld(fb.re), k.dot(-yt.re, ld(fb.im), z)),
  }
  local zt = M.cast(k, M.mul_shared(k, D, o.tw, true), t) -- D .* conj(T)
  return { -- conj(F_a) Z
    re = k.dot(ld(fa.re), zt.re, k.dot(ld(fa.im), zt.im, z)),
    im = k.dot(ld(fa.re), zt.im, k.dot(ld(fa.im), -zt.re, z)),
  }
end

-- The innermost level of the multi-pass recipes, one [Na, Nb] block in place in ws: X = F_a B .* T
-- F_b (B the block at rows `row` of ws, imaginary parts `im` rows later), times the kernel's
-- spectrum (kf's rows krow() and krow_im(), functions so that the index math comes where the
-- loads are), scaled by 1 / L, then back:
-- conj(F_a) ((conj(F_b)-product) .* conj(T)). fa, fb, tw in shared memory (put_shared); the
-- products accumulate in f32 and are rounded to t between them. A barrier before the store: every
-- thread has read the block before any overwrites it.
-- o = { ws, row, im, kf, krow, krow_im, fa, fb, tw, Na, Nb, L, t }
function M.inner_block(k, o)
  local X = M.inner_forward(k, o)
  local K = { re = k.load(o.kf, { o.krow(), 0 }, { o.Na, o.Nb }), im = k.load(o.kf, { o.krow_im(), 0 }, { o.Na, o.Nb }) }
  local Y = M.mul(k, X, K)
  local W = M.inner_inverse(k, o, { re = Y.re * (1.0 / o.L), im = Y.im * (1.0 / o.L) })
  k.barrier()
  k.store(o.ws, { o.row, 0 }, k.cast(W.re, o.t))
  k.store(o.ws, { o.row + o.im, 0 }, k.cast(W.im, o.t))
end

-- The pair's first part, shared with the spectrum recipe (M.spectrum): blocks k1 and Q - 1 - k1,
-- transformed by xs(kk) (-> { re, im } f32 [Na, Nb]), split into { lo, hi } each (half_split
-- through o.xa, o.xb); returns the splits and a maker of their W.
local function half_pair_split(k, o, k1, xs)
  local blocks = { k1, (k1 + 1) * -1 + o.Q }
  local x, bufs, S = {}, { o.xa, o.xb }, {}
  local function rev(buf) return function(part) return k.load_shared(buf[part], { reverse = true }) end end
  local function w(i) return { table = o.wt, scale = M.cis(k, k.iota({ 1, 1 }, 0) + (blocks[i] * 2 + 1), 4 * o.L, -1) } end
  for i = 1, 2 do
    x[i] = xs(blocks[i])
    M.store_complex(k, bufs[i], x[i], "f32")
  end
  k.barrier()
  for i = 1, 2 do S[i] = half_split(k, x[i], rev(bufs[3 - i]), w(i)) end
  return S, w
end

-- Wt = w_2(Na Nb)^(a + Na b) [Na, Nb] in shared memory (type ty) and the pair's two f32 exchange
-- buffers: the o.wt, o.xa, o.xb of inner_pair_half.
function M.half_pair_tables(k, Na, Nb, ty)
  local m = k.broadcast(k.iota({ Na, 1 }, 0), { Na, Nb }) + k.broadcast(k.iota({ 1, Nb }, 1), { Na, Nb }) * Na
  local wt = M.put_shared(k, M.cis(k, m, 2 * Na * Nb, -1), { Na, Nb }, ty)
  return wt, M.alloc_complex(k, { Na, Nb }, "f32"), M.alloc_complex(k, { Na, Nb }, "f32")
end

-- The half-packed row's inner level (fftconv3 with half = 1): the twisted transform of length
-- L = N1 Na Nb (M.half_spectrum) has bin m = k1 + N1 (a + Na b) in block k1 at [a, b], and the
-- mirror L - 1 - m is block N1 - 1 - k1 with both dims reversed, so blocks k1 and N1 - 1 - k1 are
-- taken together: both transformed (inner_forward), each read reversed by the other through the
-- f32 buffers o.xa, o.xb (alloc_complex [Na, Nb]), split into the real row's spectrum at m and
-- m + L (half_split) with W[m] = w_4L^(2 m + 1) = w_4L^(2 k1 + 1) Wt[a, b], Wt = w_2(Na Nb)^(a + Na b)
-- (o.wt in shared memory), multiplied by the real filter's spectrum (bins m < L of kf at the blocks'
-- rows, the mirror's conj K[L - 1 - m] read reversed through the same buffers), joined back
-- (half_join) and inverted (inner_inverse), both stored over their blocks. o as inner_block's, with
-- rows(kk) -> { row, krow, krow_im } for block kk, k1 the first block's index, o.L2 the real row's
-- length 2L (the scale 1 / L2). Order 4 (fftconv4): the blocks are those of (k1, k2), bins
-- k1 + N1 k2 + N1 N2 (a + Na b), numbered k1 + N1 k2 of o.Q = N1 N2 (order 3: o.Q = N1); the mirror of block q is Q - 1 - q.
function M.inner_pair_half(k, o, k1)
  local rows, bufs = {}, { o.xa, o.xb }
  local S, w = half_pair_split(k, o, k1, function(kk)
    local r = o.rows(kk)
    rows[#rows + 1] = r
    return M.inner_forward(k, { ws = o.ws, row = r.row, im = o.im, fa = o.fa, fb = o.fb, tw = o.tw, Na = o.Na, Nb = o.Nb, t = o.t })
  end)
  k.barrier() -- every thread has read the buffers before the spectrum goes there
  for i = 1, 2 do
    local K = { re = k.load(o.kf, { rows[i].krow, 0 }, { o.Na, o.Nb }), im = k.load(o.kf, { rows[i].krow_im, 0 }, { o.Na, o.Nb }) }
    M.store_complex(k, bufs[i], K, "f32")
  end
  k.barrier()
  local out = {}
  for i = 1, 2 do
    local function scaled(z) return { re = z.re * (1.0 / o.L2), im = z.im * (1.0 / o.L2) } end
    local Y = {
      lo = scaled(M.mul_shared(k, S[i].lo, bufs[i])),
      hi = scaled(M.mul_shared(k, S[i].hi, bufs[3 - i], true, { reverse = true })),
    }
    out[i] = M.inner_inverse(k, o, half_join(k, Y, w(i)))
  end
  k.barrier() -- every thread has read the blocks and the buffers before any overwrites them
  for i = 1, 2 do
    k.store(o.ws, { rows[i].row, 0 }, k.cast(out[i].re, o.t))
    k.store(o.ws, { rows[i].row + o.im, 0 }, k.cast(out[i].im, o.t))
  end
end

-- The filter's spectrum in the layout of the order-3 or order-4 convolution (recipes/fftconv3.lua,
-- fftconv4.lua), for recipes/fftconv3_kspec.lua and fftconv4_kspec.lua: one program per channel h
-- (grid H), k[h] zero-padded to L = 2N transformed by the consumer's own stages in f32 (dot's FMA
-- path: it runs once per filter), in place in kf[h] ([2 L / Nlast, Nlast], real rows then
-- imaginary rows), which serves as the scratch row:
--   1. column blocks of [N1/2, CB] of k[h] as [N1/2, M]: C = (F_N1[:, :N1/2] A) .* T1 to kf[h] as
--      [2 N1, M] (fft.outer_forward);
--   2. for each k1: order 4: the row as [N2, P], E = (F_N2 C) .* T2 over it (fft.middle_forward),
--      then for each k2 the [N3, N4] block; order 3: the [N2, N3] block of row k1:
--      X = ((F_a B) .* T) F_b over it (fft.inner_forward).
-- Bin k1 + N1 k2 + N1 N2 k3 (+ N1 N2 N3 k4) then sits where the consumer reads it: the [Na, Nb]
-- blocks are in the order the consumer walks them. n = { N1, N2, N3 } or { N1, N2, N3, N4 } (its
-- split, fft.split3 or fft.split4); cb(cols): the column block of a level of cols columns. The DFT
-- tables are in shared memory in f32 (F_b only up to 64 x 64); the twiddles are made per use from
-- iota, as the outer ones are in the consumers (f32 tables of all four would not fit: N = 2^18 is
-- 64 x 64 x 128).
--
-- half: the real filter's twisted spectrum, bins m < N of the twisted transform of length 2N
-- (M.half_spectrum), for fftconv3 and fftconv4 with half = 1: n the split of N, k[h] read as the
-- complex row k[2n] + i k[2n+1] transformed at length N (twisted outer stage), then each pair of
-- blocks (k1 and N1 - 1 - k1; order 4: (k1, k2) and (N1 - 1 - k1, N2 - 1 - k2)) split
-- (half_pair_split) and the bins m < N kept, over the blocks.
function M.spectrum(k, p, n, cb, half)
  local a, L, N1, R = k.args, half and p.N or 2 * p.N, n[1], n[1] // 2
  local order, ML = #n, L // N1
  local Na, Nb = n[order - 1], n[order]
  local function dft(m) return M.put_shared(k, M.table(k, m, m, m, -1), { m, m }, "f32") end
  local f1 = M.put_shared(k, half and M.twisted(k, N1, R, 2 * L, ML) or M.table(k, N1, R, N1, -1), { N1, R }, "f32")
  local f2 = order == 4 and dft(n[2]) or nil
  local fa = dft(Na)
  -- F_b up to 64 x 64 in shared memory; beyond (N3 = 128: order 3 from N = 2^16 on, where F_N3 alone
  -- would take 128 KiB) made per block of BB columns from iota for the last product
  local BB = 32
  local fb = Nb <= 64 and dft(Nb) or nil
  local pair = {}
  if half then pair.wt, pair.xa, pair.xb = M.half_pair_tables(k, Na, Nb, "f32") end
  k.barrier()

  local h = k.program_id(0)
  local r1 = h * (2 * N1)
  local function kview(odd) return k.view(a.k, { a.H * R, ML }, { 2 * ML, 2 }, odd and 1 or 0) end
  M.outer_forward(k, p, a, f1, {
    L = L, N1 = N1, M = ML, CB = cb(ML), r1 = r1, t = "f32", half = half,
    ws1 = k.view(a.kf, { a.H * 2 * N1, ML }), src = k.view(a.k, { a.H * R, ML }), src_row = h * R,
    input = function(j)
      return { re = k.load(kview(false), { h * R, j }, { R, cb(ML) }), im = k.load(kview(true), { h * R, j }, { R, cb(ML) }) }
    end,
  })
  local ws = k.view(a.kf, { a.H * 2 * (L // Nb), Nb })
  local function inner(row)
    local o = { ws = ws, row = row, im = L // Nb, fa = fa, fb = fb, Na = Na, Nb = Nb, t = "f32" }
    if fb then
      local X = M.inner_forward(k, o)
      k.barrier() -- every thread has read the block before any overwrites it
      k.store(ws, { row, 0 }, X.re)
      k.store(ws, { row + L // Nb, 0 }, X.im)
      return
    end
    local e = M.inner_twiddled(k, o)
    k.barrier()
    local z = k.full({ Na, BB }, 0, "f32")
    k.range(0, Nb, BB, {}, function(j)
      local F = M.table(k, Nb, BB, Nb, -1, 0, j) -- F_b[:, j:j+BB]
      k.store(ws, { row, j }, k.dot(e.re, F.re, k.dot(-e.im, F.im, z)))
      k.store(ws, { row + L // Nb, j }, k.dot(e.re, F.im, k.dot(e.im, F.re, z)))
    end)
  end
  k.range(0, N1, 1, {}, function(k1)
    if order == 3 then
      inner((r1 + k1) * n[2])
      return
    end
    local N2, P = n[2], n[3] * n[4]
    local row2 = (r1 + k1) * N2
    M.middle_forward(k, {
      ws2 = k.view(a.kf, { a.H * 2 * N1 * N2, P }), row2 = row2, im = N1 * N2, N2 = N2, P = P, CB = cb(P),
      M = ML, f2 = f2, t = "f32",
    })
    k.range(0, N2, 1, {}, function(k2) inner((row2 + k2) * n[3]) end)
  end)
  if not half then return end
  -- each pair of blocks (order 3: block k1 of N1; order 4: q = k1 + N1 k2 of Q = N1 N2, its mirror
  -- Q - 1 - q): the bins m < N of the real filter's spectrum over them
  k.barrier()
  local Q = order == 3 and N1 or N1 * n[2]
  pair.Q, pair.L, pair.Na, pair.Nb = Q, L, Na, Nb
  local function row(q)
    if order == 3 then return (r1 + q) * n[2] end
    return ((r1 + q % N1) * n[2] + q / N1) * n[3]
  end
  local function mirror(q)
    local rows = {}
    local S = half_pair_split(k, pair, q, function(kk)
      rows[#rows + 1] = row(kk)
      return { re = k.load(ws, { row(kk), 0 }, { Na, Nb }), im = k.load(ws, { row(kk) + L // Nb, 0 }, { Na, Nb }) }
    end)
    k.barrier() -- every thread has read the blocks and the buffers before any overwrites them
    for i = 1, 2 do
      k.store(ws, { rows[i], 0 }, S[i].lo.re)
      k.store(ws, { rows[i] + L // Nb, 0 }, S[i].lo.im)
    end
  end
  k.range(0, N1 // 2, 1, {}, function(k1)
    if order == 3 then return mirror(k1) end
    k.range(0, n[2], 1, {}, function(k2) mirror(k1 + k2 * N1) end)
  end)
end

return M
