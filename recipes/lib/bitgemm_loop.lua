-- bitgemm_loop: the plane-product main loop and the epilogue of the bit-plane GEMM, shared by
-- recipes/bitgemm.lua (one program per output tile, all of K) and recipes/bitgemm_splitk.lua with
-- recipes/bitgemm_reduce.lua (K cut into chunks, partial sums reduced by a second kernel).
local enc = require "bitgemm_enc"

local M = {}

local function swizzle(cols) -- u32 columns per row -> 16-byte chunks
  local chunks = cols * 4 // 16
  return chunks >= 2 and math.min(8, chunks) or 0
end

-- A knob that only some of the family's recipes have (G, act, order): its value, or def where the
-- recipe has no such knob.
local function opt(p, name, def)
  local ok, v = pcall(function() return p[name] end)
  if ok and v ~= nil then return v end
  return def
end
M.opt = opt

-- The knobs every variant shares, checked (the recipe's body calls this first, so that an error
-- names its line); returns the encodings the loop multiplies. no_zp: a variant without the zp knob.
function M.encodings(p, no_zp)
  enc.check_range("p", p.p, 1, 8, 3)
  enc.check_range("q", p.q, 1, 8, 3)
  local bip = p.enc == "bipolar"
  if not no_zp and p.zp and (bip or p.a_signed) then error("zp applies to unsigned int activations (enc = int, a_signed = 0)", 2) end
  if opt(p, "act", "packed") ~= "packed" and not bip and not p.a_signed and not p.zp then
    error("act = " .. p.act .. " with unsigned activations needs zp = 1 (the fused quantiser is asymmetric)", 2)
  end
  if bip then return "unsigned", "unsigned" end -- the loop multiplies the codes
  return p.w_signed and "signed" or "unsigned", p.a_signed and "signed" or "unsigned"
end

-- The plane products of one step (sA[i], sB[j] hold the step's planes) added to the i32 tile acc,
-- in the order the knob `order` names:
--   diag     Horner's rule over the diagonals s = i + j, highest first: R = 2 R + sum_{i+j=s} c P_ij;
--            the carried acc joins at s = 0, so every product is one dot accumulating into the
--            running sum and only p + q - 2 doublings are added (the default);
--   w_outer  for each weight plane j (highest first) the activation planes by Horner's rule into a
--            second tile A_j = sum_i c_i 2^i P_ij, then R = 2 R + d_j A_j: each weight plane's
--            fragments are read once per step and reused by the q products;
--   a_outer  the same with the roles swapped (each activation plane read once, reused p times).
-- c = -1 for a product with exactly one negative top plane (signed), applied as -(dot(a, b, -R)).
local function step_products(k, p, wenc, aenc, sA, sB, acc)
  local P, Q = p.p, p.q
  local function zero() return k.full({ p.BLOCK_M, p.BLOCK_N }, 0, "i32") end
  local function mac(a, b, r, neg) -- r + (neg and -1 or 1) * a.b
    if neg then return -k.dot(a, b, -r, "b1_and") end
    return k.dot(a, b, r, "b1_and")
  end
  local order = opt(p, "order", "diag")
  if order == "diag" then
    local R
    for s = P + Q - 2, 0, -1 do
      if R then R = R + R end
      if s == 0 then R = R and (R + acc) or acc end
      for i = math.max(0, s - (P - 1)), math.min(Q - 1, s) do
        local j = s - i
        local neg = enc.plane_coef(aenc, Q, i) * enc.plane_coef(wenc, P, j) < 0
        -- each dot reads its planes itself (one load_shared per use)
        R = mac(k.load_shared(sA[i]), k.load_shared(sB[j]), R or zero(), neg)
      end
    end
    return R
  end
  if order ~= "w_outer" and order ~= "a_outer" then
    error("order = " .. tostring(order) .. " is not one of diag, w_outer, a_outer", 0)
  end
  -- outer planes o (count NO, encoding oenc), inner planes n (count NI, encoding ienc)
  local w_out = order == "w_outer"
  local NO, NI = w_out and P or Q, w_out and Q or P
  local oenc, ienc = w_out and wenc or aenc, w_out and aenc or wenc
  local R
  for o = NO - 1, 0, -1 do
    local ov = w_out and k.load_shared(sB[o]) or k.load_shared(sA[o])
    local A
    for n = NI - 1, 0, -1 do
      if A then A = A + A end
      local nv = w_out and k.load_shared(sA[n]) or k.load_shared(sB[n])
      local a, b = w_out and nv or ov, w_out and ov or nv
      A = mac(a, b, A or zero(), enc.plane_coef(ienc, NI, n) < 0)
    end
    if R then R = R + R end
    if enc.plane_coef(oenc, NO, o) < 0 then
      R = R and (R - A) or -A
    else
      R = R and (R + A) or A
    end
  end
  return R + acc
end

-- The group knob G of the GEMM checked against its K tile (32 BLOCK_KW elements) and the
-- encodings it supports; returns G (0: no groups).
function M.check_group(p, recipe)
  local G = opt(p, "G", 0)
  enc.check_group(recipe, G, 32 * p.BLOCK_KW, "32 * BLOCK_KW", 3)
  if G > 0 then
    if p.enc ~= "int" or p.zp then
      error(recipe .. ": G > 0 (per-group scales) needs enc = int without zp (the bipolar correction and the zero point use whole-row sums)", 2)
    end
    if p.out == "i32" then error(recipe .. ": G > 0 (per-group scales) needs a float out (f32, f16, bf16), not i32", 2) end
  end
  return G
end

-- Sum over the words lo .. hi - 1 (a multiple of BLOCK_KW apart, or hi = Kw) of the plane products
-- of the tile (row, col): an i32 [BLOCK_M, BLOCK_N] tile. Per step the q activation planes and the
-- p weight planes are copied to shared memory once each and multiplied pairwise (step_products).
-- With G > 0 (per-group weight scales, sw [groups, N]) it returns instead the f32 tile
-- sum_g sw[g, n] I_g, where I_g is the exact i32 product over group g (words g*G/32 ..): the i32
-- sum is scaled and added to the f32 tile at each group's last step and restarts from 0.
-- With act ~= "packed" the activations are x [M, K] (f16/bf16), quantised in the kernel (the
-- quantiser of recipes/bitpack_act.lua, per row) and packed into the shared planes per step; the
-- second result is then the rows' {sx, zpa, sa} for the epilogue (nil otherwise).
function M.mainloop(k, p, row, col, lo, hi, no_zp)
  local wenc, aenc = M.encodings(p, no_zp)
  local Mv, N, Kw = k.args.M, k.args.N, k.args.Kw
  local BM, BN, BW, P, Q = p.BLOCK_M, p.BLOCK_N, p.BLOCK_KW, p.p, p.q
  local G = opt(p, "G", 0)
  -- rows past M of a tile read the next plane's rows: they reach only rows of Y that are not stored
  local xa = k.view(k.args.xa, { Mv * Q, Kw })
  local wb = k.view(k.args.wb, { Kw, N * P })
  local sA, sB = {}, {}
  for i = 0, Q - 1 do sA[i] = k.alloc_shared("u32", { BM, BW }, { swizzle = swizzle(BW) }) end
  for j = 0, P - 1 do sB[j] = k.alloc_shared("u32", { BW, BN }, { swizzle = swizzle(BN) }) end
  local K = k.args.K
  local fused = opt(p, "act", "packed") ~= "packed"
  local qz, x, wcol
  if fused then
    -- the activation packer fused into the prologue: the rows' range first (x read once more
    -- below, mostly from L1/L2), then per step the planes quantised in registers and stored
    x = k.view(k.args.x, { Mv, K })
    local BK = 32 * BW
    local lo0, hi0 = k.full({ BM, 1 }, 0, "f32"), k.full({ BM, 1 }, 0, "f32")
    local rlo, rhi = k.range(0, K, BK, { lo0, hi0 }, function(kc, rlo, rhi)
      local t = k.cast(k.load(x, { row, kc }, { BM, BK }), "f32")
      return k.minimum(rlo, t:min(1)), k.maximum(rhi, t:max(1))
    end)
    local qenc = p.enc == "bipolar" and "bipolar" or (p.a_signed and "signed" or "unsigned")
    qz = enc.quantizer(k, qenc, Q, rlo, rhi)
    wcol = k.iota({ BM, BW }, 1)
  end
  -- the planes of step kk (fused: and the sum of the step's codes, [BM, 1])
  local function load_step(kk, asum)
    if not fused then
      for i = 0, Q - 1 do k.copy(xa, { Mv * i + row, kk }, sA[i]) end
      for j = 0, P - 1 do k.copy(wb, { kk, N * j + col }, sB[j]) end
      k.barrier()
      return asum
    end
    for j = 0, P - 1 do k.copy(wb, { kk, N * j + col }, sB[j]) end
    -- the step's words lie in one group (G a multiple of the step): bit b of its word wl is
    -- element gbase + gw*b + wl (recipes/lib/bitgemm_enc.lua)
    local gbase, wl, gw = k.const(0, "i32"), kk, Kw
    if G > 0 then
      local g = kk / (G // 32)
      gbase, wl = g * G, kk - g * (G // 32)
      gw = k.minimum(k.const(G // 32, "i32"), Kw - g * (G // 32))
    end
    local w = wcol + wl
    local live = w:lt(gw) -- words past the group (past Kw) stay zero
    local words, vals = enc.pack_planes(k, Q, { BM, BW }, p.warps, function(b)
      local t = k.cast(k.load(x, { row, gbase + gw * b + wl }, { BM, BW }), "f32")
      return k.where(live & (w + gw * b + gbase):lt(K), qz.code(t), 0)
    end)
    for i = 0, Q - 1 do k.store_shared(sA[i], words[i]) end
    k.barrier()
    return asum + vals:sum(1)
  end
  local acc0 = k.full({ BM, BN }, 0, "i32")
  local asum0 = k.full({ BM, 1 }, 0, "i32")
  local function stats(asum)
    if not fused then return nil end
    return { sx = qz.scale, zpa = qz.z, sa = asum }
  end
  -- the code sums are carried only when the prologue is fused
  local function carried(...) if fused then return ... end return (select(1, ...)) end
  if G == 0 then
    local inits = fused and { acc0, asum0 } or { acc0 }
    local acc, asum = k.range(lo, hi, BW, inits, function(kk, acc, asum)
      asum = load_step(kk, asum)
      local R = step_products(k, p, wenc, aenc, sA, sB, acc)
      k.barrier()
      return carried(R, asum)
    end, { stages = p.stages })
    return acc, stats(asum)
  end
  local Gw = G // 32
  local sw = k.view(k.args.sw, { (K + (G - 1)) / G, N })
  local function flush(R, accf, kk)
    local scale = k.load(sw, { kk / Gw, col }, { 1, BN })
    return k.fma(k.cast(R, "f32"), scale, accf)
  end
  local inits = { acc0, k.full({ BM, BN }, 0, "f32") }
  if fused then inits[3] = asum0 end
  local _, accf, asum = k.range(lo, hi, BW, inits, function(kk, acc, accf, asum)
    asum = load_step(kk, asum)
    local R = step_products(k, p, wenc, aenc, sA, sB, acc)
    k.barrier()
    local function out(a, b)
      if fused then return a, b, asum end
      return a, b
    end
    if Gw == BW then return out(k.full({ BM, BN }, 0, "i32"), flush(R, accf, kk)) end -- every step ends a group
    local last = ((kk + BW) % Gw):eq(0) | (kk + BW):ge(hi)
    return out(k.if_(last, function() return k.full({ BM, BN }, 0, "i32"), flush(R, accf, kk) end,
      function() return R, accf end))
  end, { stages = p.stages })
  return accf, stats(asum)
end

-- The epilogue on the i32 sum v of tile (row, col): bipolar correction or zero point, then the
-- scales for float outputs; stores to y. With G > 0, v is the f32 tile of group-scaled sums and
-- only the per-token scale sx is left. act: the fused prologue's per-row sx, zpa, sa ([BM, 1]
-- tiles) instead of the tensors.
function M.epilogue(k, p, v, row, col, act)
  local Mv, N, K = k.args.M, k.args.N, k.args.K
  local BM, BN, P, Q = p.BLOCK_M, p.BLOCK_N, p.p, p.q
  local function col_m(t)
    if act then -- fused activations: the prologue's per-row values
      if t == k.args.sa then return act.sa end
      if t == k.args.zpa then return act.zpa end
      return act.sx
    end
    return k.load(k.view(t, { Mv, 1 }), { row, 0 }, { BM, 1 })
  end
  local function row_n(t) return k.load(k.view(t, { 1, N }), { 0, col }, { 1, BN }) end
  if p.enc == "bipolar" then
    local pm, qm = (1 << P) - 1, (1 << Q) - 1
    v = v * 4 - col_m(k.args.sa) * (2 * pm) - row_n(k.args.sb) * (2 * qm) + K * (pm * qm)
  elseif p.zp then
    v = v - col_m(k.args.zpa) * row_n(k.args.sb)
  end
  if opt(p, "G", 0) > 0 then
    v = v * col_m(k.args.sx)
  elseif p.out ~= "i32" then
    v = k.cast(v, "f32") * col_m(k.args.sx) * row_n(k.args.sw)
  end
  k.store(k.view(k.args.y, { Mv, N }), { row, col }, k.cast(v, p.out))
end

return M
