-- bitgemm_splitk: the bit-plane GEMM (recipes/bitgemm.lua) with K cut into split_k chunks, for small
-- M where one program per output tile leaves most of the GPU idle. Program (i, j, z) runs the plane
-- loop (recipes/lib/bitgemm_loop.lua) over the words z*CW .. (z+1)*CW - 1 (CW = ceil(Kw / split_k)
-- rounded up to BLOCK_KW, so no step reaches into the next chunk) and stores its exact i32 partial
-- sum in part [M, split_k*N], columns z*N ..; recipes/bitgemm_reduce.lua adds the partials and runs
-- the epilogue. The view it stores through ends at column (z+1)*N, so a tile's columns past N never
-- reach the next chunk.
local kiln = require "kiln"
local enc = require "bitgemm_enc"
local loop = require "bitgemm_loop"
local tuning = require "tuning"

local function chunk_words(p) return (enc.chunk(enc.words(p.K), p.split_k, p.BLOCK_KW)) end

return kiln.recipe {
  name = "bitgemm_splitk",
  params = { M = 4, N = 64, K = 1024 },
  tune = {
    p = { default = 4, values = { 1, 2, 3, 4, 5, 6, 7, 8 } },
    q = { default = 4, values = { 1, 2, 3, 4, 5, 6, 7, 8 } },
    enc = { default = "int", values = { "int", "bipolar" } },
    w_signed = { true, false },
    a_signed = { false, true },
    split_k = { default = 4, values = { 2, 4, 8, 16 } },
    order = { default = "diag", values = { "diag", "w_outer", "a_outer" } },
    BLOCK_M = { default = 16, values = { 16, 32, 64 } },
    BLOCK_N = { default = 64, values = { 16, 32, 64, 128 } },
    BLOCK_KW = { default = 8, values = { 4, 8, 16 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    stages = { default = 2, values = { 1, 2, 3, 4 } },
  },
  args = {
    kiln.tensor("xa", "u32", { function(p) return p.q * p.M end, function(p) return enc.words(p.K) end }, "in"),
    kiln.tensor("wb", "u32", { function(p) return enc.words(p.K) end, function(p) return p.p * p.N end }, "in"),
    kiln.tensor("part", "i32", { "M", function(p) return p.split_k * p.N end }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("Kw", "i32", function(p) return enc.words(p.K) end),
    kiln.scalar("CW", "i32", chunk_words),
  },
  -- the i32 accumulator within the registers
  constraints = {
    function(p) return enc.acc_fits(p.BLOCK_M, p.BLOCK_N, p.warps, 1) end,
    tuning.builds(function(p) loop.encodings(p, true) end), -- the body's check of the encodings
  },
  grid = function(p)
    enc.check_k(p)
    return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N), p.split_k
  end,
  reference = "bitgemm_splitk",
  checks = {
    { M = 1, N = 40, K = 2000, p = 3, q = 5 },
    { M = 7, N = 70, K = 1500, p = 2, q = 2, enc = "bipolar", split_k = 8 },
    { M = 16, N = 24, K = 300, p = 8, q = 8, a_signed = 1, split_k = 16, BLOCK_N = 32 },
    { M = 5, N = 40, K = 1200, p = 3, q = 4, a_signed = 1, order = "w_outer" },
  },

  body = function(k, p)
    loop.encodings(p, true)
    enc.check_range("split_k", p.split_k, 1, 64)
    local M, N, Kw, CW = k.args.M, k.args.N, k.args.Kw, k.args.CW
    local row = k.program_id(0) * p.BLOCK_M
    local col = k.program_id(1) * p.BLOCK_N
    local z = k.program_id(2)
    local lo = k.minimum(z * CW, Kw)
    local hi = k.minimum(lo + CW, Kw)
    local acc = loop.mainloop(k, p, row, col, lo, hi, true)
    local part = k.view(k.args.part, { M, (z + 1) * N }, { N * p.split_k, 1 })
    k.store(part, { row, z * N + col }, acc)
  end,
}
