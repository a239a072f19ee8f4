-- matmul: C[M, N] = A[M, K] B[K, N], row-major, inputs f32, f16 or bf16, output in the input dtype.
--
-- Each program computes one BLOCK_M x BLOCK_N tile of C. It walks K in steps of BLOCK_K, loading
-- a BLOCK_M x BLOCK_K tile of A and a BLOCK_K x BLOCK_N tile of B and accumulating their product
-- into an f32 accumulator with k.dot, then rounds the accumulator to dtype and stores it. Tiles
-- that hang over the edges of A and B read zeros (which add nothing to the product), and the store
-- writes only the part of the tile inside C, so any M, N, K work. k.dot is lowered to FMA for now,
-- so the default tiles are small. bf16 needs sm_80 or newer: on sm_75 codegen refuses the k.dot line.
local kiln = require "kiln"

return kiln.recipe {
  name = "matmul",
  params = { M = 512, N = 512, K = 512 },
  tune = {
    BLOCK_M = { default = 64, values = { 16, 32, 64, 128 } },
    BLOCK_N = { default = 64, values = { 16, 32, 64, 128 } },
    BLOCK_K = { default = 16, values = { 8, 16, 32, 64 } },
    warps = { default = 4, values = { 1, 2, 4, 8 } },
    dtype = { default = "f32", values = { "f32", "f16", "bf16" } },
  },
  args = {
    kiln.tensor("a", "dtype", { "M", "K" }, "in"),
    kiln.tensor("b", "dtype", { "K", "N" }, "in"),
    kiln.tensor("c", "dtype", { "M", "N" }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
  },
  grid = function(p) return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N) end,
  reference = "matmul",
  checks = {
    { M = 1, N = 1, K = 1 },
    { M = 64, N = 64, K = 16 },
    { M = 100, N = 70, K = 33 },
    { M = 17, N = 130, K = 65, dtype = "f16" },
    { M = 65, N = 33, K = 40, dtype = "bf16", BLOCK_M = 32, BLOCK_N = 32, BLOCK_K = 8 },
  },

  body = function(k, p)
    local M, N, K = k.args.M, k.args.N, k.args.K
    local a = k.view(k.args.a, { M, K })
    local b = k.view(k.args.b, { K, N })
    local c = k.view(k.args.c, { M, N })
    local row = k.program_id(0) * p.BLOCK_M
    local col = k.program_id(1) * p.BLOCK_N

    local acc = k.range(0, K, p.BLOCK_K, { k.full({ p.BLOCK_M, p.BLOCK_N }, 0, "f32") }, function(kk, acc)
      local at = k.load(a, { row, kk }, { p.BLOCK_M, p.BLOCK_K })
      local bt = k.load(b, { kk, col }, { p.BLOCK_K, p.BLOCK_N })
      return k.dot(at, bt, acc)
    end)
    k.store(c, { row, col }, k.cast(acc, p.dtype))
  end,
}
