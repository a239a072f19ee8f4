-- bitgemm_reduce: the second kernel of the split-K bit-plane GEMM (recipes/bitgemm_splitk.lua):
-- y = epilogue(sum over z of part[:, z*N .. z*N + N - 1]), the epilogue of recipes/bitgemm.lua
-- (bipolar correction or zero point, then the scales for float outputs). One program per
-- BLOCK_M x BLOCK_N tile; the sum is i32 (exact modulo 2^32, as in the one-kernel GEMM).
local kiln = require "kiln"
local enc = require "bitgemm_enc"
local loop = require "bitgemm_loop"
local split = require "split_sum"
local tuning = require "tuning"

return kiln.recipe {
  name = "bitgemm_reduce",
  params = { M = 4, N = 64, K = 1024 },
  tune = {
    p = { default = 4, values = { 1, 2, 3, 4, 5, 6, 7, 8 } },
    q = { default = 4, values = { 1, 2, 3, 4, 5, 6, 7, 8 } },
    enc = { default = "int", values = { "int", "bipolar" } },
    w_signed = { true, false },
    a_signed = { false, true },
    zp = { false, true },
    out = { default = "f16", values = { "i32", "f32", "f16", "bf16" } },
    split_k = { default = 4, values = { 2, 4, 8, 16 } },
    BLOCK_M = { default = 16, values = { 16, 32, 64 } },
    BLOCK_N = { default = 64, values = { 16, 32, 64, 128 } },
    warps = { default = 4, values = { 1, 2, 4 } },
  },
  args = {
    kiln.tensor("part", "i32", { "M", function(p) return p.split_k * p.N end }, "in"),
    kiln.tensor("sa", "i32", { "M" }, "in"),
    kiln.tensor("sb", "i32", { "N" }, "in"),
    kiln.tensor("zpa", "i32", { "M" }, "in"),
    kiln.tensor("sx", "f32", { "M" }, "in"),
    kiln.tensor("sw", "f32", { "N" }, "in"),
    kiln.tensor("y", "out", { "M", "N" }, "out"),
    kiln.scalar("M", "i32"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
  },
  constraints = { tuning.builds(function(p) loop.encodings(p) end) }, -- the body's check of the encodings
  grid = function(p)
    -- K enters only the bipolar correction term, not a tensor's shape: checked here (a pack's launch
    -- rule evaluates the grid on symbolic sizes, which are left to the launch)
    if type(p.K) == "number" and not (math.type(p.K) == "integer" and p.K >= 0) then
      error("K = " .. tostring(p.K) .. " must be a whole number >= 0 (the GEMM's inner dimension)", 2)
    end
    return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N)
  end,
  reference = "bitgemm_reduce",
  checks = {
    { M = 1, N = 40, out = "i32" },
    { M = 7, N = 70, p = 2, q = 2, enc = "bipolar", split_k = 8, out = "bf16" },
    { M = 20, N = 24, p = 3, q = 5, zp = 1, split_k = 2, out = "f32" },
    -- the sum as a loop of one chunk a group (recipes/lib/split_sum.lua)
    { M = 9, N = 130, p = 2, q = 3, enc = "bipolar", split_k = 16, BLOCK_M = 32, BLOCK_N = 128, warps = 1, out = "f32" },
  },

  body = function(k, p)
    loop.encodings(p)
    enc.check_range("split_k", p.split_k, 1, 64)
    local M, N = k.args.M, k.args.N
    local row = k.program_id(0) * p.BLOCK_M
    local col = k.program_id(1) * p.BLOCK_N
    -- columns past N of a tile read the next chunk's columns: they reach only columns not stored
    local part = k.view(k.args.part, { M, N * p.split_k })
    local v = split.sum(k, p.split_k, p.BLOCK_M, p.BLOCK_N, p.warps, k.full({ p.BLOCK_M, p.BLOCK_N }, 0, "i32"),
      function(z) return k.load(part, { row, N * z + col }, { p.BLOCK_M, p.BLOCK_N }) end)
    loop.epilogue(k, p, v, row, col)
  end,
}
