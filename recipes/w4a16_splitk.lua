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

return kiln.recipe {
  name = "w4a16_splitk",
  params = { M = 4, N = 128, K = 2048 },
  tune = loop.tune({
    split_k = { default = 4, values = { 2, 4, 8, 16 } },
    BLOCK_M = { default = 16, values = { 16, 32, 64 } },
  }),
  args = loop.args(kiln.tensor("part", "f32", { "M", function(p) return p.split_k * p.N end }, "out"),
    { kiln.scalar("CQ", "i32", function(p) return (enc.chunk(loop.rows(p), p.split_k, p.BLOCK_KW)) end) }),
  constraints = loop.constraints(),
  grid = function(p) return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N), p.split_k end,
  reference = "w4a16_splitk",
  -- the partials judged as recipes/w4a16.lua's output (vs_lowp, why there)
  check = { criterion = "vs_lowp", factor = 2 },
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
