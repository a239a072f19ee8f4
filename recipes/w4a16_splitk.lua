-- w4a16_splitk: the W4A16 GEMM (recipes/w4a16.lua: its packed layout and main loop,
-- recipes/lib/w4a16_loop.lua) with K cut into split_k chunks, for small M, where one program per
-- output tile leaves most of the GPU idle (N = 4096 at BLOCK_N = 64: 64 programs for 132 SMs).
-- Program (i, j, z) runs the loop over the word rows z*CQ .. (z+1)*CQ - 1 (CQ = ceil(Kq / split_k)
-- rounded up to BLOCK_KW: whole blocks, so a group of scales is never cut) and stores its f32 partial
-- sum in part [M, split_k*N], columns z*N ..; recipes/w4a16_reduce.lua adds the partials and rounds
-- them to the output type. The view it stores through ends at column (z+1)*N, so a tile's columns
-- past N never reach the next chunk.
local kiln = require "kiln"
local enc = require "bitgemm_enc"
local loop = require "w4a16_loop"

local function rows(p) return (enc.w4a16_rows(p.K, p.bits, p.BLOCK_KW)) end

local function chunk_rows(p)
  local per = (rows(p) + p.split_k - 1) // p.split_k
  return (per + p.BLOCK_KW - 1) // p.BLOCK_KW * p.BLOCK_KW
end

return kiln.recipe {
  name = "w4a16_splitk",
  params = { M = 4, N = 128, K = 2048 },
  tune = {
    bits = { default = 4, values = { 2, 3, 4, 5, 6, 7, 8 } },
    G = { default = 128, values = { 32, 64, 128 } },
    dtype = { default = "f16", values = { "f16", "bf16" } },
    split_k = { default = 4, values = { 2, 4, 8, 16 } },
    BLOCK_M = { default = 16, values = { 16, 32, 64 } },
    BLOCK_N = { default = 64, values = { 32, 64, 128, 256 } },
    BLOCK_KW = { default = 16, values = { 16, 32 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    stages = { default = 2, values = { 1, 2, 3, 4 } },
  },
  args = {
    kiln.tensor("x", "dtype", { "M", "K" }, "in"),
    kiln.tensor("wq", "u32", { "N", rows }, "in"),
    kiln.tensor("scale", "dtype", { function(p) return (p.K + p.G - 1) // p.G end, "N" }, "in"),
    kiln.tensor("part", "f32", { "M", function(p) return p.split_k * p.N end }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kq", "i32", rows),
    kiln.scalar("CQ", "i32", chunk_rows),
  },
  grid = function(p) return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N), p.split_k end,
  reference = "w4a16_splitk",
  checks = {
    { M = 1, N = 40, K = 2000 },
    { M = 7, N = 70, K = 1500, G = 32, split_k = 8, dtype = "bf16" },
    { M = 16, N = 24, K = 700, bits = 3, G = 64, split_k = 16, BLOCK_N = 32 },
    { M = 5, N = 64, K = 300, bits = 8, G = 32, split_k = 2, stages = 1 },
  },

  body = function(k, p)
    enc.check_range("split_k", p.split_k, 1, 64)
    local Kq, CQ = k.args.Kq, k.args.CQ
    local z = k.program_id(2)
    local lo = k.minimum(z * CQ, Kq)
    local hi = k.minimum(lo + CQ, Kq)
    local acc, row, col = loop.gemm(k, p, lo, hi)
    local part = k.view(k.args.part, { k.args.M, (z + 1) * k.args.N }, { k.args.N * p.split_k, 1 })
    k.store(part, { row, z * k.args.N + col }, acc)
  end,
}
