-- bitgemm_loop: the plane-product main loop and the epilogue of the bit-plane GEMM, shared by
-- recipes/bitgemm.lua (one program per output tile, all of K) and recipes/bitgemm_splitk.lua with
-- recipes/bitgemm_reduce.lua (K cut into chunks, partial sums reduced by a second kernel).
local enc = require "bitgemm_enc"

local M = {}

local function swizzle(cols) -- u32 columns per row -> 16-byte chunks
  local chunks = cols * 4 // 16
  return chunks >= 2 and math.min(8, chunks) or 0
end

-- The knobs every variant shares, checked (the recipe's body calls this first, so that an error
-- names its line); returns the encodings the loop multiplies. no_zp: a variant without the zp knob.
function M.encodings(p, no_zp)
  enc.check_range("p", p.p, 1, 8, 3)
  enc.check_range("q", p.q, 1, 8, 3)
  local bip = p.enc == "bipolar"
  if not no_zp and p.zp and (bip or p.a_signed) then error("zp applies to unsigned int activations (enc = int, a_signed = 0)", 2) end
  if bip then return "unsigned", "unsigned" end -- the loop multiplies the codes
  return p.w_signed and "signed" or "unsigned", p.a_signed and "signed" or "unsigned"
end

-- sum over the words lo .. hi - 1 (a multiple of BLOCK_KW apart, or hi = Kw) of the plane products
-- of the tile (row, col): an i32 [BLOCK_M, BLOCK_N] tile. Per step the q activation planes and the
-- p weight planes are copied to shared memory once each and multiplied pairwise, accumulated by
-- Horner's rule over the diagonals s = i + j (R = 2 R + sum_{i+j=s} c P_ij; c = -1 for a product
-- with exactly one negative top plane, applied as -(dot(a, b, -R))). The carried accumulator joins
-- at s = 0, so each product is one dot accumulating into the running sum.
function M.mainloop(k, p, row, col, lo, hi, no_zp)
  local wenc, aenc = M.encodings(p, no_zp)
  local Mv, N, Kw = k.args.M, k.args.N, k.args.Kw
  local BM, BN, BW, P, Q = p.BLOCK_M, p.BLOCK_N, p.BLOCK_KW, p.p, p.q
  -- rows past M of a tile read the next plane's rows: they reach only rows of Y that are not stored
  local xa = k.view(k.args.xa, { Mv * Q, Kw })
  local wb = k.view(k.args.wb, { Kw, N * P })
  local sA, sB = {}, {}
  for i = 0, Q - 1 do sA[i] = k.alloc_shared("u32", { BM, BW }, { swizzle = swizzle(BW) }) end
  for j = 0, P - 1 do sB[j] = k.alloc_shared("u32", { BW, BN }, { swizzle = swizzle(BN) }) end
  local acc0 = k.full({ BM, BN }, 0, "i32")
  return k.range(lo, hi, BW, { acc0 }, function(kk, acc)
    for i = 0, Q - 1 do k.copy(xa, { Mv * i + row, kk }, sA[i]) end
    for j = 0, P - 1 do k.copy(wb, { kk, N * j + col }, sB[j]) end
    k.barrier()
    local R
    for s = P + Q - 2, 0, -1 do
      if R then R = R + R end
      if s == 0 then R = R and (R + acc) or acc end
      for i = math.max(0, s - (P - 1)), math.min(Q - 1, s) do
        local j = s - i
        local neg = enc.plane_coef(aenc, Q, i) * enc.plane_coef(wenc, P, j) < 0
        -- each dot reads its planes itself (one load_shared per use)
        local a, b = k.load_shared(sA[i]), k.load_shared(sB[j])
        local r0 = R or k.full({ BM, BN }, 0, "i32")
        if neg then
          R = -k.dot(a, b, -r0, "b1_and")
        else
          R = k.dot(a, b, r0, "b1_and")
        end
      end
    end
    k.barrier()
    return R
  end, { stages = p.stages })
end

-- The epilogue on the i32 sum v of tile (row, col): bipolar correction or zero point, then the
-- scales for float outputs; stores to y.
function M.epilogue(k, p, v, row, col)
  local Mv, N, K = k.args.M, k.args.N, k.args.K
  local BM, BN, P, Q = p.BLOCK_M, p.BLOCK_N, p.p, p.q
  local function col_m(t) return k.load(k.view(t, { Mv, 1 }), { row, 0 }, { BM, 1 }) end
  local function row_n(t) return k.load(k.view(t, { 1, N }), { 0, col }, { 1, BN }) end
  if p.enc == "bipolar" then
    local pm, qm = (1 << P) - 1, (1 << Q) - 1
    v = v * 4 - col_m(k.args.sa) * (2 * pm) - row_n(k.args.sb) * (2 * qm) + K * (pm * qm)
  elseif p.zp then
    v = v - col_m(k.args.zpa) * row_n(k.args.sb)
  end
  if p.out ~= "i32" then v = k.cast(v, "f32") * col_m(k.args.sx) * row_n(k.args.sw) end
  k.store(k.view(k.args.y, { Mv, N }), { row, col }, k.cast(v, p.out))
end

return M
