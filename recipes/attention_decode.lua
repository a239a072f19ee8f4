-- attention_decode: the first half of flash-decoding, attention for a few queries (Sq = 1..a few)
-- over a long key sequence, split across programs along the keys. recipes/attention_decode_combine.lua
-- is the second half; run both (tests/sh/attention_sim.sh does).
--
-- Q is [B, H, Sq, D], K and V [B, Hkv, Sk, D] (strides as scalar arguments, head dim contiguous, as
-- in recipes/attention.lua). The keys are cut into SPLITS chunks of `chunk` keys (a multiple of
-- BLOCK_N); program (s, i * nhb + hb, b * Hkv + hk) attends query position i of the query heads
-- hk * G + hb * BLOCK_M ... (G = H / Hkv, nhb = cdiv(G, BLOCK_M)) to the keys of chunk s. The rows of
-- its tiles are the query heads that share kv head hk (grouped-query attention packed into the
-- rows, so that each K and V tile is read once for the whole group), not query positions.
--
-- Each program writes its chunk's normalised output and log-sum-exp (natural log) to the
-- workspace tensors o_part [B, H, SPLITS, Sq, D] and lse_part [B, H, SPLITS, Sq] (f32). A chunk that
-- sees no key (past Sk, or above the causal diagonal) writes 0 and -inf; the combine gives it
-- weight 0. Causal attention is aligned to the bottom right: query i sees keys j <= i + Sk - Sq,
-- the same bound for every row of a program, so only the last key tile of a chunk needs a mask.
-- The online softmax is the one of recipes/attention.lua (exp2 domain, f32 accumulation, P rounded
-- to the input type before P V).
local kiln = require "kiln"

local LOG2E = 1.4426950408889634
local LN2 = 0.6931471805599453
local LOWEST = -3.0e38

local layout = require "attention_layout"
local pow2_at_least, dims, stride_args = layout.pow2_at_least, layout.dims, layout.stride_args

local q_sb, q_sh, q_ss = stride_args("q", "H", "Sq", 1)
local k_sb, k_sh, k_ss = stride_args("k", "Hkv", "Sk", 2)
local v_sb, v_sh, v_ss = stride_args("v", "Hkv", "Sk", 3)

-- Keys per split: Sk cut into SPLITS parts, rounded up to whole key tiles.
local function chunk(p) return kiln.cdiv(kiln.cdiv(p.Sk, p.SPLITS), p.BLOCK_N) * p.BLOCK_N end

return kiln.recipe {
  name = "attention_decode",
  params = { B = 1, H = 8, Hkv = 2, Sq = 1, Sk = 300, layout = { "bhsd", "bshd" }, spad = 0, scale = "auto" },
  tune = {
    SPLITS = { default = 4, values = { 1, 2, 4, 8, 16, 32 } },
    BLOCK_M = { default = 16, values = { 4, 8, 16, 32 } },
    BLOCK_N = { default = 32, values = { 16, 32, 64, 128 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    stages = { default = 1, values = { 1, 2, 3 } },
    dtype = { default = "f16", values = { "f16", "bf16", "e4m3" } },
    D = { default = 64, values = { 64, 128, 256 } },
    causal = { false, true },
  },
  args = {
    kiln.tensor("q", "dtype", dims("H", "Sq", 1), "in"),
    kiln.tensor("k", "dtype", dims("Hkv", "Sk", 2), "in"),
    kiln.tensor("v", "dtype", dims("Hkv", "Sk", 3), "in"),
    kiln.tensor("o_part", "f32", { function(p) return p.B * p.H * p.SPLITS end, "Sq", "D" }, "out"),
    kiln.tensor("lse_part", "f32", { function(p) return p.B * p.H end, "SPLITS", "Sq" }, "out"),
    kiln.scalar("B", "i32"), kiln.scalar("H", "i32"), kiln.scalar("Hkv", "i32"),
    kiln.scalar("Sq", "i32"), kiln.scalar("Sk", "i32"),
    kiln.scalar("chunk", "i32", chunk),
    layout.scale_arg(),
    q_sb, q_sh, q_ss, k_sb, k_sh, k_ss, v_sb, v_sh, v_ss,
  },
  grid = function(p)
    layout.check_shape(p)
    return p.SPLITS, p.Sq * kiln.cdiv(p.H // p.Hkv, p.BLOCK_M), p.B * p.Hkv
  end,
  reference = "attention_decode",
  check = { criterion = "vs_lowp", factor = 2 }, -- FlashAttention's criterion (docs/attention.md)
  checks = {
    -- one query, GQA 8:2, a split past Sk (empty), a ragged last tile
    { B = 2, H = 8, Hkv = 2, Sq = 1, Sk = 300, BLOCK_N = 64 },
    { B = 1, H = 4, Hkv = 4, Sq = 1, Sk = 150, SPLITS = 2, BLOCK_N = 64 },
    { B = 1, H = 4, Hkv = 1, Sq = 1, Sk = 1, SPLITS = 2 },
    -- more query heads per group than rows per program; several queries, causal
    { B = 1, H = 8, Hkv = 1, Sq = 3, Sk = 200, BLOCK_M = 4, BLOCK_N = 32, causal = 1, layout = "bshd" },
    -- 8 rows a program (an MMA fragment's 16 rows repeat them), the last program's rows past the
    -- group (G = 12: heads 8 .. 11 stored there, rows 12 .. 15 not)
    { B = 1, H = 12, Hkv = 1, Sq = 2, Sk = 90, BLOCK_M = 8, BLOCK_N = 16, causal = 1 },
    { B = 1, H = 4, Hkv = 2, Sq = 5, Sk = 130, SPLITS = 8, BLOCK_N = 16, causal = 1, spad = 8 },
    -- Sq > Sk, causal: the first queries see no key in any split
    { B = 1, H = 2, Hkv = 1, Sq = 4, Sk = 2, SPLITS = 2, BLOCK_N = 16, causal = 1 },
    -- each D and dtype
    { B = 1, H = 4, Hkv = 2, Sq = 2, Sk = 100, D = 128, SPLITS = 2, BLOCK_N = 32, causal = 1 },
    { B = 1, H = 2, Hkv = 1, Sq = 1, Sk = 70, D = 256, BLOCK_M = 4, BLOCK_N = 16, SPLITS = 2 },
    { B = 1, H = 8, Hkv = 2, Sq = 1, Sk = 300, dtype = "bf16" },
    { B = 1, H = 4, Hkv = 2, Sq = 2, Sk = 100, D = 128, dtype = "bf16", BLOCK_N = 64, causal = 1 },
    -- K and V pipelined (several tiles per split, a ragged causal end); one warp: the rows split
    { B = 1, H = 8, Hkv = 2, Sq = 2, Sk = 230, SPLITS = 2, BLOCK_N = 16, stages = 2, causal = 1 },
    { B = 1, H = 4, Hkv = 1, Sq = 1, Sk = 150, SPLITS = 2, BLOCK_N = 16, stages = 3, warps = 1, D = 256 },
  },

  body = function(k, p)
    layout.check_shape(p)
    local a = k.args
    local BM, BN, D = p.BLOCK_M, p.BLOCK_N, p.D
    local DT = pow2_at_least(D)
    -- The tiles' rows: BLOCK_M heads. Below 16 (one MMA fragment) the products still run on the
    -- tensor cores, each instruction's rows repeating the tile's (docs/tensor-cores.md); the softmax
    -- works on the BLOCK_M rows only (docs/attention.md).
    -- P V runs on P rounded to the input type (f16, bf16); for e4m3 inputs P stays f16 and V is
    -- widened to f16 (exactly): P in e4m3 (3 mantissa bits) would alone spend the error budget.
    local pv_type = p.dtype == "e4m3" and "f16" or p.dtype

    -- Which split, query position, heads; where their slices start.
    local split = k.program_id(0)
    local G = a.H / a.Hkv
    local nhb = (G + (BM - 1)) / BM
    local i, h0 = k.program_id(1) / nhb, (k.program_id(1) % nhb) * BM
    local b, hk = k.program_id(2) / a.Hkv, k.program_id(2) % a.Hkv
    local q_base = b * a.q_sb + hk * G * a.q_sh + i * a.q_ss
    local k_base = b * a.k_sb + hk * a.k_sh
    local v_base = b * a.v_sb + hk * a.v_sh
    -- rows: the G query heads of kv head hk, h0 the first of this program
    local qv = k.view(a.q, { G, D }, { a.q_sh, 1 }, q_base)
    local kv = k.view(a.k, { a.Sk, D }, { a.k_ss, 1 }, k_base)
    local vv = k.view(a.v, { a.Sk, D }, { a.v_ss, 1 }, v_base)
    local qk_scale = a.scale * LOG2E

    -- Q, K and V through XOR-swizzled buffers read with ldmatrix, as in recipes/attention.lua
    -- (layout.stage_q): Q once, K transposed, V as it is.
    local buffer, sq, q = layout.stage_q(k, p, DT, BM, qv, h0)
    local rows_only = BM >= 16 * p.warps and { warps = "rows" } or nil

    -- This program's keys: [lo, kend); every row has the same bound.
    local lo = split * a.chunk
    local kend = k.minimum(a.Sk, lo + a.chunk)
    if p.causal then kend = k.minimum(kend, i + a.Sk - a.Sq + 1) end
    local full = lo + (k.maximum(kend - lo, 0) / BN) * BN

    local function step(n0, m, l, acc, sk, sv, masked)
      k.copy(kv, { n0, 0 }, sk)
      k.copy(vv, { n0, 0 }, sv)
      k.barrier()
      local kt = k.load_shared(sk, { trans = true })
      local s = k.dot(q or k.load_shared(sq), kt, k.full({ BM, BN }, 0, "f32"), rows_only)
      if masked then s = k.where((k.iota({ 1, BN }, 1) + n0):lt(kend), s, -math.huge) end
      -- m in the exp2 domain; the scale (> 0) in the FFMA that subtracts it (recipes/attention.lua)
      local m_new = k.maximum(m, s:max(1) * qk_scale)
      local alpha = k.exp2(m - m_new)
      local pr = k.exp2(k.fma(s, qk_scale, -m_new))
      local o = k.dot(k.cast(pr, pv_type), k.cast(k.load_shared(sv), pv_type), acc * alpha, rows_only)
      k.barrier()
      return m_new, k.fma(l, alpha, pr:sum(1)), o
    end

    local m = k.full({ BM, BN }, LOWEST, "f32"):max(1)
    local l = k.full({ BM, BN }, 0, "f32"):sum(1)
    local acc = k.full({ BM, DT }, 0, "f32")
    -- Each loop has its own K and V buffers (so that each can be pipelined); they share the bytes.
    -- The masked loop is the chunk's last key tile: `short`, one version of its body.
    for _, r in ipairs { { lo, full, false }, { full, kend, true } } do
      local sk, sv = buffer(BN), buffer(BN)
      m, l, acc = k.range(r[1], r[2], BN, { m, l, acc }, function(n0, m, l, acc)
        return step(n0, m, l, acc, sk, sv, r[3])
      end, { stages = p.stages, short = r[3] })
      k.barrier()
    end

    -- o_part [B, H, SPLITS, Sq, D] and lse_part [B, H, SPLITS, Sq], contiguous: a row (one head) of
    -- this program is SPLITS * Sq * D elements (SPLITS * Sq for lse_part) after the previous one.
    -- The f32 partials are divided (one rounding, not two): with a single key the maximum's P is
    -- exp2 of the FFMA's rounding residue, 1 - 2^-24 or so in l but 1 in P's f16 copy; a reciprocal
    -- and a product would put that off by 2 units in the last place.
    local seen = l:gt(0)
    local part = ((b * a.H + hk * G) * p.SPLITS + split) * a.Sq + i
    local ov = k.view(a.o_part, { G, D }, { p.SPLITS * a.Sq * D, 1 }, part * D)
    k.store(ov, { h0, 0 }, k.where(seen, acc / k.where(seen, l, 1.0), 0.0))
    local lv = k.view(a.lse_part, { G, 1 }, { p.SPLITS * a.Sq, 1 }, part)
    k.store(lv, { h0, 0 }, k.where(seen, (m + k.log2(l)) * LN2, -math.huge))
  end,
}
