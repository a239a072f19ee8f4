-- attention: O = softmax(scale * Q K^T) V, fused, never materialising the score matrix
-- (FlashAttention-2's forward pass). Q and O are [B, H, Sq, D]; K and V are [B, Hkv, Sk, D] with
-- Hkv dividing H (grouped-query attention: query head h reads kv head h / (H / Hkv)). Optionally
-- the row log-sum-exp LSE [B, H, Sq] (natural log) is written too (knob lse).
--
-- One program per BLOCK_M query rows of one (batch, head): grid (cdiv(Sq, BLOCK_M), B * H). The
-- program keeps its Q tile in registers and walks the keys in tiles of BLOCK_N, carrying the
-- running row maximum m, the running row sum l and the output accumulator acc [BLOCK_M, D] through
-- the loop (the online softmax). Scores are taken in the exp2 domain: s = (Q K^T) * scale * log2(e),
-- p = exp2(s - m); when m grows, l and acc are rescaled by exp2(m_old - m_new). P is rounded to the
-- input type before P V, as FlashAttention does; both products accumulate in f32.
--
-- Causal attention is aligned to the bottom right (query i sees keys j <= i + Sk - Sq). Key tiles
-- entirely above the diagonal are never visited (the loop ends at a bound computed from the program
-- id); the walk is split in two loops: tiles every row sees whole run without masks, then the
-- diagonal tiles and the ragged end of Sk run with a mask (iota, compare, where -inf). A row that
-- sees no key at all (Sq > Sk, causal) keeps l = 0 and gets O = 0 and LSE = -inf: m starts at a
-- finite lowest value so that exp2(s - m) is exp2(-inf) = 0, never exp2(-inf + inf).
--
-- Memory: every tensor is addressed through element strides passed as scalar arguments (batch,
-- head and sequence strides; the head dim must be contiguous, as in FlashAttention). Each view is
-- one (batch, head) slice [rows, D] (k.view's base: the slice's first element), so that the rows
-- are bounded by the sequence length and the columns by D, a constant. Q, K and V tiles are
-- copied as stored into swizzled shared buffers (cp.async where the target has it; `stages` keeps
-- the next key tiles in flight) and read with ldmatrix: Q once into registers (D > 128: in every
-- tile), K as its transpose. Both products split the warps along the query rows only
-- (k.dot's warps = "rows"), so that row maxima and sums stay in a warp and P goes from the scores'
-- registers straight to the second product: two barriers per key tile. Problem
-- parameters `layout` (bhsd or bshd) and `spad` (extra elements at the end of each row of Q, K, V)
-- set the strides kiln run allocates and passes; a caller may pass any strides.
--
-- D is static (a knob): 64, 128, 256, or any other size, padded in registers to the next power
-- of two (the padding columns read 0 and are never stored). The problem's defaults are sized for the
-- simulator; benchmarks pass their sizes with --set. The tile knobs default to what suits the head
-- dim and the target (docs/attention.md, "Default tiles"): 128x64 with 4 warps up to D = 64 (128x128
-- with 8 warps on targets with warpgroup MMAs: 16 rows a warp, both products on wgmma) and 8 warps up
-- to D = 128 (32 and 16 rows a warp), 64x32 with 4 warps above; 2 stages (the next key tile in
-- flight) up to D = 128.
local kiln = require "kiln"

local LOG2E = 1.4426950408889634
local LN2 = 0.6931471805599453
local LOWEST = -3.0e38 -- finite start for the row maximum: exp2(LOWEST - LOWEST) = 1, not NaN

local layout = require "attention_layout"
local pow2_at_least, dims, stride_args = layout.pow2_at_least, layout.dims, layout.stride_args

-- A knob's default for D up to 64, up to 128, and above (D padded to a power of two); hopper64, when
-- given, up to D = 64 on targets with warpgroup MMAs (t: the target, nil when none is known).
local function by_head_dim(upto64, upto128, above, hopper64)
  return function(p, t)
    local d = pow2_at_least(p.D)
    if d <= 64 and hopper64 and t and t.wgmma then return hopper64 end
    return d <= 64 and upto64 or d <= 128 and upto128 or above
  end
end

-- Rows of Q, K and V are padded by 1, 2 and 3 times spad elements (O by none): distinct strides,
-- so that a kernel using one tensor's stride for another's fails its check.
local q_sb, q_sh, q_ss = stride_args("q", "H", "Sq", 1)
local k_sb, k_sh, k_ss = stride_args("k", "Hkv", "Sk", 2)
local v_sb, v_sh, v_ss = stride_args("v", "Hkv", "Sk", 3)
local o_sb, o_sh, o_ss = stride_args("o", "H", "Sq", 0)

return kiln.recipe {
  name = "attention",
  params = { B = 1, H = 2, Hkv = 1, Sq = 80, Sk = 72, layout = { "bhsd", "bshd" }, spad = 0, scale = "auto" },
  tune = {
    BLOCK_M = { default = by_head_dim(128, 128, 64), values = { 16, 32, 64, 128 } },
    BLOCK_N = { default = by_head_dim(64, 64, 32, 128), values = { 16, 32, 64, 128 } },
    warps = { default = by_head_dim(4, 8, 4, 8), values = { 2, 4, 8, 16 } },
    stages = { default = by_head_dim(2, 2, 1), values = { 1, 2, 3 } },
    dtype = { default = "f16", values = { "f16", "bf16", "e4m3" } },
    D = { default = 64, values = { 64, 128, 256 } },
    causal = { false, true },
    lse = { false, true },
    -- sm_90a: K and V tiles as TMA boxes into the ring, completing on mbarriers, where both products
    -- are wgmma (rank-4 tensor maps over [B, heads, S, D]: docs/hopper.md); elsewhere cp.async as before
    tma = { false, true },
    -- with tma: the stages go back to the copies by release mbarriers, no block barrier per key
    -- tile (false: the barrier stays; fewer registers, measured here: docs/hopper.md)
    release = { default = true, values = { true, false } },
    -- with tma and release: a producer warpgroup (4 more warps) issues the unmasked key loop's K and V
    -- boxes, the `warps` warps only consume (warp specialisation, docs/hopper.md)
    ws = { false, true },
    -- with ws and 8 warps: the two consumer warpgroups take turns at their warpgroup MMAs, so that
    -- one's softmax runs while the other's products do (ping-pong, docs/hopper.md)
    pingpong = { false, true },
    -- blocks per SM the registers must allow (0: ptxas chooses; the kernel's .minnctapersm). 1 from
    -- sm_100: there ptxas's own choice spilled at the defaults (D = 64: 56 bytes on sm_100a, causal 40
    -- on sm_120a), with the bound none did (docs/attention.md, "Registers")
    min_blocks = { default = function(p, t) return t and t.sm >= 100 and 1 or 0 end, values = { 0, 1, 2 } },
  },
  args = {
    kiln.tensor("q", "dtype", dims("H", "Sq", 1), "in"),
    kiln.tensor("k", "dtype", dims("Hkv", "Sk", 2), "in"),
    kiln.tensor("v", "dtype", dims("Hkv", "Sk", 3), "in"),
    kiln.tensor("o", "dtype", dims("H", "Sq", 0), "out"),
    -- Written only with lse=1 (a flag); with lse=0 it is one untouched element.
    kiln.tensor("lse", "f32", {
      function(p) return p.lse and p.B or 1 end,
      function(p) return p.lse and p.H or 1 end,
      function(p) return p.lse and p.Sq or 1 end,
    }, "inout"),
    kiln.scalar("B", "i32"), kiln.scalar("H", "i32"), kiln.scalar("Hkv", "i32"),
    kiln.scalar("Sq", "i32"), kiln.scalar("Sk", "i32"),
    layout.scale_arg(),
    q_sb, q_sh, q_ss, k_sb, k_sh, k_ss, v_sb, v_sh, v_ss, o_sb, o_sh, o_ss,
  },
  grid = function(p)
    layout.check_shape(p)
    return kiln.cdiv(p.Sq, p.BLOCK_M), p.B * p.H
  end,
  -- The tuner's rules for the TMA path: a ring (stages >= 2), and strides of Q, K, V and O that are
  -- multiples of 16 bytes, as tensor maps want them.
  constraints = {
    function(p) return not p.tma or p.stages >= 2, "tma needs stages >= 2" end,
    function(p) return p.tma or p.release, "release = false only with tma" end,
    function(p) return not p.ws or (p.tma and p.release), "ws needs tma and release" end,
    function(p) return not p.pingpong or (p.ws and p.warps == 8), "pingpong needs ws and warps = 8" end,
    -- the cp.async path takes 190-210 registers at D = 64 and 128: two blocks of 256 threads
    -- would spill; with tma 128 fit (docs/hopper.md)
    function(p) return p.tma or p.min_blocks < 2, "min_blocks = 2 only with tma" end,
    function(p)
      if not p.tma then return true end
      local eb = ({ f16 = 2, bf16 = 2, e4m3 = 1 })[p.dtype]
      -- every tensor's (Q, K and V are read, O written, by TMA): heads, rows, padding by tensor
      for _, t in ipairs { { "q", p.H, p.Sq, 1 }, { "k", p.Hkv, p.Sk, 2 }, { "v", p.Hkv, p.Sk, 3 }, { "o", p.H, p.Sq, 0 } } do
        for _, s in ipairs(layout.strides(p, t[2], t[3], t[4] * p.spad)) do
          if (s * eb) % 16 ~= 0 then
            return false, string.format("tma needs strides of q, k, v and o that are multiples of 16 bytes "
              .. "(%s has a stride of %d bytes)", t[1], s * eb)
          end
        end
      end
      return true
    end,
  },
  reference = "attention",
  check = { criterion = "vs_lowp", factor = 2 }, -- FlashAttention's criterion (docs/attention.md)
  checks = {
    -- Every check that does not set the tiles runs the defaults for its D (128x64, 2 stages: 4
    -- warps at D=64, 8 at D=128; 64x32 at D=256); the rest pin smaller tiles, which the simulator
    -- runs faster and which cover the loops with more tiles per problem.
    -- ragged Sq and Sk, GQA 4:2, both layouts, padded rows
    { B = 2, H = 4, Hkv = 2, Sq = 37, Sk = 45 },
    { B = 1, H = 4, Hkv = 2, Sq = 37, Sk = 45, causal = 1, lse = 1, layout = "bshd" },
    { B = 2, H = 2, Hkv = 2, Sq = 50, Sk = 29, causal = 1, lse = 1, spad = 8, BLOCK_M = 64, BLOCK_N = 32, stages = 1 },
    { B = 2, H = 4, Hkv = 2, Sq = 20, Sk = 37, layout = "bshd", spad = 8, BLOCK_M = 64, BLOCK_N = 32, stages = 1 },
    -- several row blocks and key tiles at the default tiles: whole tiles, the diagonal, a ragged end
    { B = 1, H = 2, Hkv = 1, Sq = 150, Sk = 200, causal = 1, lse = 1 },
    -- Sq = 1, Sk = 1, Sq > Sk with fully masked rows, Sq < Sk
    { B = 1, H = 4, Hkv = 1, Sq = 1, Sk = 70, causal = 1, lse = 1 },
    { B = 1, H = 4, Hkv = 1, Sq = 1, Sk = 70, causal = 0, BLOCK_M = 64, BLOCK_N = 32, stages = 1 },
    { B = 1, H = 2, Hkv = 1, Sq = 19, Sk = 1, causal = 0, lse = 1, BLOCK_M = 64, BLOCK_N = 32, stages = 1 },
    { B = 1, H = 2, Hkv = 1, Sq = 19, Sk = 1, causal = 1, lse = 1 },
    { B = 1, H = 1, Hkv = 1, Sq = 100, Sk = 33, causal = 1, lse = 1, BLOCK_M = 32, BLOCK_N = 16 },
    { B = 1, H = 1, Hkv = 1, Sq = 33, Sk = 100, causal = 1, lse = 1, BLOCK_M = 16, BLOCK_N = 16 },
    { B = 1, H = 1, Hkv = 1, Sq = 40, Sk = 41, causal = 1, BLOCK_M = 16, BLOCK_N = 16 },
    -- each D and dtype
    { B = 1, H = 2, Hkv = 1, Sq = 20, Sk = 40, D = 128, causal = 1, lse = 1 },
    { B = 1, H = 1, Hkv = 1, Sq = 17, Sk = 23, D = 256, BLOCK_M = 16, BLOCK_N = 16, lse = 1 },
    { B = 1, H = 1, Hkv = 1, Sq = 70, Sk = 40, D = 256, causal = 1 },
    { B = 1, H = 4, Hkv = 2, Sq = 37, Sk = 45, dtype = "bf16", causal = 1, lse = 1, BLOCK_M = 64, BLOCK_N = 32 },
    { B = 1, H = 2, Hkv = 1, Sq = 20, Sk = 40, D = 128, dtype = "bf16", layout = "bshd" },
    { B = 1, H = 1, Hkv = 1, Sq = 17, Sk = 23, D = 256, dtype = "bf16", BLOCK_M = 16, BLOCK_N = 16,
      causal = 1 },
    -- a head dim that is not a power of two, a given scale, fewer warps (more elements per thread)
    { B = 1, H = 2, Hkv = 2, Sq = 21, Sk = 30, D = 40, scale = 0.3, lse = 1, warps = 2, BLOCK_M = 64, BLOCK_N = 32 },
    { B = 1, H = 2, Hkv = 1, Sq = 45, Sk = 37, causal = 1, BLOCK_M = 64, BLOCK_N = 32, stages = 1 },
    -- K and V pipelined (the copies of the next tiles in flight), ragged and causal; warps that
    -- split the rows only (BLOCK_M >= 16 warps), f16 and bf16 (e4m3: tests/sh/attention_sim.sh)
    { B = 1, H = 2, Hkv = 1, Sq = 45, Sk = 70, causal = 1, lse = 1, stages = 2, BLOCK_N = 16, warps = 4 },
    { B = 1, H = 2, Hkv = 2, Sq = 33, Sk = 90, D = 128, stages = 3, BLOCK_M = 32, BLOCK_N = 16, warps = 2 },
    { B = 1, H = 4, Hkv = 2, Sq = 37, Sk = 45, dtype = "bf16", causal = 1, lse = 1, BLOCK_M = 64, BLOCK_N = 32,
      stages = 2 },
  },

  body = function(k, p)
    layout.check_shape(p)
    local a = k.args
    local BM, BN, D = p.BLOCK_M, p.BLOCK_N, p.D
    local DT = pow2_at_least(D)
    local opts = { stages = p.stages, tma = p.tma, release = p.release, ws = p.ws, pingpong = p.pingpong }
    -- P V runs on P rounded to the input type (f16, bf16); for e4m3 inputs P stays f16 and V is
    -- widened to f16 (exactly): P in e4m3 (3 mantissa bits) would alone spend the error budget.
    local pv_type = p.dtype == "e4m3" and "f16" or p.dtype

    -- Which rows, which heads, where their slices start.
    local m0 = k.program_id(0) * BM
    local bh = k.program_id(1)
    local b, h = bh / a.H, bh % a.H
    local hk = h / (a.H / a.Hkv)
    -- Each slice's first element as coordinates of the whole tensor [B, heads, S, D] (b < B, head <
    -- heads), so that TMA can address the slice with one tensor map for the kernel.
    local q_base = { { b, a.B, a.q_sb }, { h, a.H, a.q_sh } }
    local k_base = { { b, a.B, a.k_sb }, { hk, a.Hkv, a.k_sh } }
    local v_base = { { b, a.B, a.v_sb }, { hk, a.Hkv, a.v_sh } }
    local o_base = { { b, a.B, a.o_sb }, { h, a.H, a.o_sh } }
    local qv = k.view(a.q, { a.Sq, D }, { a.q_ss, 1 }, q_base)
    local kv = k.view(a.k, { a.Sk, D }, { a.k_ss, 1 }, k_base)
    local vv = k.view(a.v, { a.Sk, D }, { a.v_ss, 1 }, v_base)
    local ov = k.view(a.o, { a.Sq, D }, { a.o_ss, 1 }, o_base)

    local qk_scale = a.scale * LOG2E
    local diag = a.Sk - a.Sq -- query i sees keys j <= i + diag
    local rows = k.iota({ BM, 1 }, 0) + m0
    -- Q, K and V through XOR-swizzled buffers read with ldmatrix (layout.stage_q): Q once, before
    -- the loops (or from sq in each tile for D > 128); K transposed (ldmatrix without .trans), V as
    -- it is (with .trans). Each loop has its own K and V buffers so that it can be pipelined
    -- (`stages`); the two loops run one after the other and share the memory.
    local buffer, sq, q = layout.stage_q(k, p, DT, BM, qv, m0, p.tma)

    -- Where every warp gets 16 rows or more, the warps split the query rows only (FlashAttention-2's
    -- order): row maxima and sums stay in each warp, and P goes from the scores' registers to the
    -- second product. Otherwise the products take the compiler's warp grid.
    local rows_only = BM >= 16 * p.warps and { warps = "rows" } or nil

    -- One key tile: scores in the exp2 domain, masked when asked, then the online softmax update.
    local function step(n0, m, l, acc, sk, sv, masked)
      k.copy(kv, { n0, 0 }, sk)
      k.copy(vv, { n0, 0 }, sv)
      k.barrier()
      local kt = k.load_shared(sk, { trans = true })
      local s = k.dot(q or k.load_shared(sq), kt, k.full({ BM, BN }, 0, "f32"), rows_only)
      if masked then
        local cols = k.iota({ 1, BN }, 1) + n0
        s = k.where(cols:lt(a.Sk), s, -math.huge)
        if p.causal then s = k.where(cols:le(rows + diag), s, -math.huge) end
      end
      -- m is in the exp2 domain; the scale (> 0) goes on the row maximum, and on each score in the
      -- same FFMA that subtracts the maximum: exp2(s * scale * log2 e - m).
      local m_new = k.maximum(m, s:max(1) * qk_scale)
      local alpha = k.exp2(m - m_new)
      local pr = k.exp2(k.fma(s, qk_scale, -m_new))
      local o = k.dot(k.cast(pr, pv_type), k.cast(k.load_shared(sv), pv_type), acc * alpha, rows_only)
      local l_new = k.fma(l, alpha, pr:sum(1))
      -- the tile's last op: with tma, where nothing else in the body writes shared memory, the
      -- pipeline pass releases the stages by mbarrier instead (docs/hopper.md)
      k.barrier()
      return m_new, l_new, o
    end

    -- Key tiles [0, full) are seen whole by every row of the block; [full, hi) need the mask.
    local whole = (a.Sk / BN) * BN
    local full, hi = whole, a.Sk
    if p.causal then
      full = k.minimum(whole, (k.maximum(m0 + diag + 1, 0) / BN) * BN)
      hi = k.minimum(a.Sk, m0 + BM + diag)
    end
    -- The row state starts as reductions of [BM, BN] tiles, so that it has the layout the scores'
    -- reductions give it in the loop.
    local m = k.full({ BM, BN }, LOWEST, "f32"):max(1)
    local l = k.full({ BM, BN }, 0, "f32"):sum(1)
    local acc = k.full({ BM, DT }, 0, "f32")
    for _, r in ipairs { { 0, full, false }, { full, hi, true } } do
      local sk, sv = buffer(BN), buffer(BN)
      m, l, acc = k.range(r[1], r[2], BN, { m, l, acc }, function(n0, m, l, acc)
        return step(n0, m, l, acc, sk, sv, r[3])
      end, opts)
      k.barrier() -- every warp is done with this loop's buffers before the next loop reuses the bytes
    end

    -- Normalise; a row that saw no key has l = 0 and acc = 0: it gets 0, not 0/0.
    local seen = l:gt(0)
    local inv_l = k.where(seen, 1.0 / k.where(seen, l, 1.0), 0.0)
    k.store(ov, { m0, 0 }, k.cast(acc * inv_l, p.dtype), { tma = p.tma })
    if p.lse then
      local lse_base = bh * a.Sq -- LSE is [B, H, Sq], contiguous
      local lv = k.view(a.lse, { a.Sq, 1 }, { 1, 1 }, lse_base)
      k.store(lv, { m0, 0 }, k.where(seen, (m + k.log2(l)) * LN2, -math.huge))
    end
  end,
}
