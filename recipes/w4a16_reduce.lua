-- w4a16_reduce: the second kernel of the split-K W4A16 GEMM (recipes/w4a16_splitk.lua): y = the sum
-- over z of part[:, z*N .. z*N + N - 1] (f32), rounded to dtype. One program per BLOCK_M x BLOCK_N
-- tile.
local kiln = require "kiln"
local enc = require "bitgemm_enc"
local split = require "split_sum"

return kiln.recipe {
  name = "w4a16_reduce",
  params = { M = 4, N = 128 },
  tune = {
    dtype = { default = "f16", values = { "f16", "bf16" } },
    split_k = { default = 4, values = { 2, 4, 8, 16 } },
    BLOCK_M = { default = 16, values = { 16, 32, 64 } },
    BLOCK_N = { default = 64, values = { 32, 64, 128 } },
    warps = { default = 4, values = { 1, 2, 4 } },
  },
  args = {
    kiln.tensor("part", "f32", { "M", function(p) return p.split_k * p.N end }, "in"),
    kiln.tensor("y", "dtype", { "M", "N" }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
  },
  grid = function(p) return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N) end,
  reference = "w4a16_reduce",
  checks = {
    { M = 1, N = 40 },
    { M = 7, N = 70, split_k = 8, dtype = "bf16" },
    { M = 33, N = 130, split_k = 2, BLOCK_M = 32, BLOCK_N = 128 },
    -- the sum as a loop (recipes/lib/split_sum.lua): groups of one chunk, then of two
    { M = 33, N = 130, split_k = 16, BLOCK_M = 32, BLOCK_N = 128, warps = 1 },
    { M = 5, N = 200, split_k = 8, BLOCK_M = 64, BLOCK_N = 128, dtype = "bf16" },
  },

  body = function(k, p)
    enc.check_range("split_k", p.split_k, 1, 64)
    local M, N = k.args.M, k.args.N
    local row = k.program_id(0) * p.BLOCK_M
    local col = k.program_id(1) * p.BLOCK_N
    local acc = split.sum(k, p.split_k, p.BLOCK_M, p.BLOCK_N, p.warps, k.full({ p.BLOCK_M, p.BLOCK_N }, 0, "f32"),
      function(z)
        -- chunk z's columns end at (z+1)*N: a tile's columns past N read zeros, not chunk z+1
        local pz = k.view(k.args.part, { M, (z + 1) * N }, { N * p.split_k, 1 })
        return k.load(pz, { row, z * N + col }, { p.BLOCK_M, p.BLOCK_N })
      end)
    k.store(k.view(k.args.y, { M, N }), { row, col }, k.cast(acc, p.dtype))
  end,
}
