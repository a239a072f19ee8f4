-- matmul: C[M, N] = act(alpha * A[M, K] B[K, N] + bias[N]), the GEMM recipe and its tuning space.
--
-- Each program computes one BLOCK_M x BLOCK_N tile of C (with programs = P > 0, tiles q, q + P, ...:
-- a persistent grid of min(tiles, P) programs). A tile walks K in steps of BLOCK_K: the
-- BLOCK_M x BLOCK_K tile of A and the BLOCK_K x BLOCK_N tile of B are copied into swizzled shared
-- buffers (cp.async where the target has it), a barrier makes them visible, and k.dot accumulates
-- their product in f32 (i32 for i8 inputs). With stages = S >= 2 the pipeline pass keeps the copies
-- of S-1 further steps in flight while one step computes (docs/gemm.md). Tiles that hang over the
-- edges of A and B read zeros, which add nothing, and the store writes only the part of the tile
-- inside C, so any M, N, K work.
--
-- The space: tile shape, warps, stages; dtype f16, bf16 (sm_80+), e4m3 and e5m2 (sm_89+), f32, or
-- i8 with i32 accumulation; A and B row-major or column-major (trans_a, trans_b: A stored K x M, B
-- stored N x K as a PyTorch Linear weight, copied as stored and read back transposed); an epilogue of alpha (float outputs), a bias vector,
-- relu or tanh-GELU, and the output type `out`. A type the target lacks is refused by codegen at
-- the k.dot line.
local kiln = require "kiln"
local tuning = require "tuning"

local LOG2E = 1.4426950408889634
local GELU_C = 0.7978845608028654 -- sqrt(2 / pi)
local GROUP_M = 8 -- tile rows per group of a persistent grid

local ELEM_BYTES = { f16 = 2, bf16 = 2, f32 = 4, e4m3 = 1, e5m2 = 1, i8 = 1 }

-- The XOR swizzle of a buffer with `cols` elements per row: one 16-byte chunk per bank group of a
-- 128-byte line, so that 16-byte copies and 8-row ldmatrix reads are free of bank conflicts.
local function swizzle(cols, dtype)
  local chunks = cols * ELEM_BYTES[dtype] // 16
  return chunks >= 2 and math.min(8, chunks) or 0
end

-- gelu(x) = x/2 (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): no cancellation
-- near 0, and exp2 going to infinity for very negative x gives -0.
-- The output's rules (the body checks them; the tuner refuses a variant that breaks them first)
local function check_out(p)
  if p.out == "i32" and p.dtype ~= "i8" then error("out = i32 needs integer inputs (dtype = i8)", 0) end
  if p.out == "i32" and (p.alpha ~= "none" or p.act == "gelu") then
    error("alpha and gelu apply to float outputs; out = i32 takes act none or relu and no alpha", 0)
  end
end

local function gelu(k, x)
  local u = (x + x * x * x * 0.044715) * GELU_C
  return x / (k.exp2(u * (-2 * LOG2E)) + 1)
end

return kiln.recipe {
  name = "matmul",
  params = { M = 256, N = 256, K = 256, alpha = "none", mma = "auto" }, -- mma: auto|wgmma|mma_sync, docs/hopper.md
  tune = {
    BLOCK_M = { default = 128, values = { 16, 32, 64, 128, 256 } },
    BLOCK_N = { default = 128, values = { 16, 32, 64, 128, 256 } },
    -- 64 for 16-bit inputs on sm_80 and later where the stages fit the target's shared memory (t:
    -- the target; nil when none is known): a k-step of twice the products spreads the step's
    -- barrier, waits and copy addressing over twice the work (docs/gemm.md, docs/hopper.md); 32
    -- elsewhere (8-bit and f32 inputs, sm_75)
    BLOCK_K = { default = function(p, t)
      local bytes = math.max(p.stages, 1) * (p.BLOCK_M + p.BLOCK_N) * 64 * 2
      return t and t.sm >= 80 and (p.dtype == "f16" or p.dtype == "bf16") and bytes <= t.smem and 64 or 32
    end, values = { 8, 16, 32, 64, 128 } },
    warps = { default = 8, values = { 1, 2, 4, 8 } },
    stages = { default = 3, values = { 1, 2, 3, 4, 5 } },
    dtype = { default = "f16", values = { "f16", "bf16", "e4m3", "e5m2", "i8", "f32" } },
    out = { default = "f16", values = { "f16", "bf16", "f32", "i32" } },
    trans_a = { false, true },
    trans_b = { false, true },
    bias = { false, true },
    act = { default = "none", values = { "none", "relu", "gelu" } },
    inflight = { false, true }, -- sm_90a: one wgmma group kept in flight across k-steps (docs/hopper.md)
    min_blocks = { default = 0, values = { 0, 2 } }, -- blocks per SM the registers must allow (0: any)
    -- sm_90a: the ring's copies as TMA boxes completing on mbarriers where the dot is wgmma, and C
    -- stored through shared memory by TMA boxes (docs/hopper.md); rows of a, b and c must be
    -- multiples of 16 bytes; elsewhere cp.async and plain stores as before
    tma = { false, true },
    -- with tma: a producer warpgroup (4 more warps) issues the ring's TMA boxes, the `warps` warps only
    -- consume (warp specialisation, docs/hopper.md); with 8 warps setmaxnreg moves registers to them
    ws = { false, true },
    -- 0: a program per tile of C; P > 0: a persistent grid of min(tiles, P) programs, program q
    -- computing tiles q, q + P, q + 2P, ... in groups of GROUP_M tile rows (docs/gemm.md). Set P to
    -- the device's SM count (132 on an H100 SXM or an H200); with ws the producer fills the ring with
    -- the next tile's operands while the consumers store this one's (docs/hopper.md)
    programs = { default = 0, values = { 0, 132 } },
  },
  args = {
    -- trans_a = 1: A is stored K x M (column-major A); trans_b = 1: B is stored N x K.
    kiln.tensor("a", "dtype", {
      function(p) return p.trans_a and p.K or p.M end,
      function(p) return p.trans_a and p.M or p.K end,
    }, "in"),
    kiln.tensor("b", "dtype", {
      function(p) return p.trans_b and p.N or p.K end,
      function(p) return p.trans_b and p.K or p.N end,
    }, "in"),
    kiln.tensor("c", "out", { "M", "N" }, "out"),
    -- Read only with bias = 1; otherwise one element nobody touches.
    kiln.tensor("bias", "out", { function(p) return p.bias and p.N or 1 end }, "in"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    -- alpha = "none" or a number (a whole-number default would make --set alpha=0.5 an error)
    kiln.scalar("alpha", "f32", function(p)
      if p.alpha == "none" then return 1 end
      if type(p.alpha) ~= "number" then error("alpha is a number or 'none', got '" .. p.alpha .. "'", 0) end
      return p.alpha
    end),
  },
  grid = function(p)
    local tm, tn = kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N)
    if p.programs ~= 0 then return kiln.min(tm * tn, p.programs) end
    return tm, tn
  end,
  reference = "matmul",
  -- The tuner skips tiles whose accumulator needs more than 128 32-bit elements per thread: every
  -- such variant measured at M=N=K=512 on sm_80 spilled or did not fit (docs/tuning.md).
  constraints = {
    function(p)
      return p.BLOCK_M * p.BLOCK_N <= 128 * 32 * p.warps, "accumulator over 128 elements per thread: ptxas spills"
    end,
    tuning.builds(check_out),
    function(p) return not p.inflight or p.stages >= 3, "inflight needs stages >= 3" end,
    function(p) return not p.tma or p.stages >= 2, "tma needs stages >= 2" end,
    function(p) return not p.ws or p.tma, "ws needs tma" end,
    function(p) return p.programs >= 0, "programs is 0 (a program per tile) or a program count" end,
    function(p)
      local eb = ELEM_BYTES[p.dtype]
      local ra = (p.trans_a and p.M or p.K) * eb
      local rb = (p.trans_b and p.K or p.N) * eb
      local rc = p.N * ({ f16 = 2, bf16 = 2, f32 = 4, i32 = 4 })[p.out]
      return not p.tma or (ra % 16 == 0 and rb % 16 == 0 and rc % 16 == 0),
        "tma needs rows of a, b and c that are multiples of 16 bytes (a row: " .. ra .. ", b row: " .. rb
          .. ", c row: " .. rc .. " bytes)"
    end,
  },
  -- Small ragged shapes over the space (one per line: tests/sh/gemm_resources.sh reads them).
  checks = {
    { M = 1, N = 1, K = 1 },
    { M = 64, N = 64, K = 32 },
    { M = 100, N = 70, K = 33, stages = 1 },
    { M = 77, N = 45, K = 100, stages = 2 },
    { M = 50, N = 90, K = 130, stages = 4 },
    { M = 33, N = 20, K = 7 },
    { M = 30, N = 30, K = 50, BLOCK_M = 16, BLOCK_N = 16, BLOCK_K = 16, warps = 1, stages = 5 },
    { M = 130, N = 40, K = 70, BLOCK_M = 128, BLOCK_N = 32, warps = 8, bias = 1, act = "relu" },
    { M = 65, N = 33, K = 40, dtype = "bf16", out = "bf16", BLOCK_M = 32, BLOCK_N = 32, BLOCK_K = 16 },
    { M = 45, N = 38, K = 70, trans_a = 1 },
    { M = 45, N = 38, K = 70, trans_b = 1, stages = 2 },
    { M = 136, N = 72, K = 64, trans_b = 1 },
    { M = 40, N = 50, K = 66, trans_a = 1, trans_b = 1, dtype = "bf16", out = "bf16" },
    { M = 70, N = 66, K = 90, bias = 1, act = "gelu", alpha = 0.75, out = "f32" },
    { M = 17, N = 130, K = 65, dtype = "f32", out = "f32", BLOCK_K = 16 },
    { M = 40, N = 72, K = 99, dtype = "i8", out = "i32" },
    { M = 40, N = 72, K = 128, dtype = "i8", out = "i32", bias = 1, act = "relu", BLOCK_K = 64 },
    { M = 33, N = 64, K = 96, dtype = "i8", out = "f16", alpha = 0.5, act = "gelu", trans_b = 1 },
  },

  body = function(k, p)
    local M, N, K = k.args.M, k.args.N, k.args.K
    local BM, BN, BK = p.BLOCK_M, p.BLOCK_N, p.BLOCK_K
    local int = p.dtype == "i8"
    check_out(p)
    -- A transposed operand is copied as stored (rows of contiguous elements: cp.async chunks) into a
    -- buffer of the stored shape, and read back transposed (ldmatrix without .trans for B).
    local a = p.trans_a and k.view(k.args.a, { K, M }) or k.view(k.args.a, { M, K })
    local b = p.trans_b and k.view(k.args.b, { N, K }) or k.view(k.args.b, { K, N })
    local c = k.view(k.args.c, { M, N })

    local function buffer(rows, cols)
      return k.alloc_shared(p.dtype, { rows, cols }, { swizzle = swizzle(cols, p.dtype) })
    end
    local sa = p.trans_a and buffer(BK, BM) or buffer(BM, BK)
    local sb = p.trans_b and buffer(BN, BK) or buffer(BK, BN)
    -- one BLOCK_M x BLOCK_N tile of C at (row, col)
    local function tile(row, col)
      local acc0 = k.full({ BM, BN }, 0, int and "i32" or "f32")
      local acc = k.range(0, K, BK, { acc0 }, function(kk, acc)
        k.copy(a, p.trans_a and { kk, row } or { row, kk }, sa)
        k.copy(b, p.trans_b and { col, kk } or { kk, col }, sb)
        k.barrier()
        local ta = k.load_shared(sa, { trans = p.trans_a })
        local tb = k.load_shared(sb, { trans = p.trans_b })
        local r = k.dot(ta, tb, acc, { mma = p.mma })
        k.barrier()
        return r
      end, { stages = p.stages, inflight = p.inflight, tma = p.tma, ws = p.ws })

      -- the epilogue, in i32 for integer outputs and in f32 otherwise
      local v = acc
      if p.out ~= "i32" then v = k.cast(acc, "f32") end
      if p.alpha ~= "none" then v = v * k.args.alpha end
      if p.bias then
        local bias = k.load(k.view(k.args.bias, { 1, N }), { 0, col }, { 1, BN })
        v = v + k.cast(bias, k.dtype(v))
      end
      if p.act == "relu" then
        v = k.maximum(v, 0)
      elseif p.act == "gelu" then
        v = gelu(k, v)
      end
      k.store(c, { row, col }, k.cast(v, p.out), { tma = p.tma })
    end

    if p.programs == 0 then
      tile(k.program_id(0) * BM, k.program_id(1) * BN)
    else
      -- persistent: tiles in groups of GROUP_M tile rows, column by column within a group, so that
      -- the programs running at once share rows of A and columns of B in L2
      local tm, tn = (M + (BM - 1)) / BM, (N + (BN - 1)) / BN
      local per_group = tn * GROUP_M
      k.range(k.program_id(0), tm * tn, k.num_programs(0), {}, function(t)
        local first = (t / per_group) * GROUP_M
        local rows = k.min(tm - first, GROUP_M)
        local r = t - (t / per_group) * per_group
        tile((first + r - (r / rows) * rows) * BM, (r / rows) * BN)
        return
      end)
    end
  end,
}
