-- w4a16: Y[M, N] = X[M, K] W[K, N] with f16/bf16 activations and b-bit integer weights (b = 2..8:
-- W4A16, W8A16, W3A16, ...) in groups of G elements along K, each group with one scale per column:
-- W[k, n] = (code[k, n] - 2^(b-1)) * scale[k / G, n]. The weights are dequantised in registers and
-- multiplied on the f16/bf16 tensor cores (docs/bitgemm.md, "the second strategy").
--
-- Packed weights wq u32 [N, Kq] (recipes/w4a16_pack.lua; a column's words contiguous, like a
-- PyTorch Linear weight): a word holds per = 2 * (16 // b) codes of one column, 16 // b in each
-- 16-bit half. K is cut into blocks of BLOCK_KW * per elements, and a block into per / 2 slabs of
-- 2 * BLOCK_KW; word r of block t holds, in field j of half h (bits 16h + j*b .. 16h + j*b + b - 1),
-- element k = t * BLOCK_KW * per + j * 2 * BLOCK_KW + 2r + h. So one [BLOCK_N, BLOCK_KW] tile of
-- words, read once (b/8 bytes per weight), gives slab j by one shift
-- and one mask of each word: both halves of the result are the two weights (K = 2r, 2r + 1) that one
-- register of the mma's B fragment holds, and k.bitsplit turns the words into the [2 * BLOCK_KW,
-- BLOCK_N] f16 tile without moving a bit (Marlin's pairing, docs/bitgemm.md). Each slab is one k.dot
-- with the matching [BLOCK_M, 2 * BLOCK_KW] slab of X. BLOCK_KW is part of the format (the packer
-- and the GEMM must agree); G must be a multiple of 2 * BLOCK_KW.
-- The word tile and X's [BLOCK_M, BLOCK_KW * per] block go through shared memory, each step's with
-- asynchronous copies the pipeline keeps in flight (X in at most two buffers, one per binary digit
-- of per / 2, as buffer dims are powers of two); each slab of X is a block of its buffer read with
-- ldmatrix (k.load_shared{at, shape}). The compiler reads the words and the scales in the mma
-- operand layouts, so the dequantisation runs in the B fragments' registers with no conversion
-- through shared memory (docs/bitgemm.md, "Registers in the operand layout"). A pair of codes
-- becomes its two 16-bit floats exactly without a conversion instruction: OR-ed into the exponents
-- of 1024 (f16) or 128 (bf16, codes below 128), they are those floats plus the codes, and one
-- subtraction removes both the 1024 and the codes' offset (docs/bitgemm.md).
local kiln = require "kiln"
local loop = require "w4a16_loop"


return kiln.recipe {
  name = "w4a16",
  params = { M = 16, N = 128, K = 512 },
  tune = loop.tune(),
  args = loop.args(kiln.tensor("y", "dtype", { "M", "N" }, "out")),
  constraints = loop.constraints(),
  grid = function(p) return kiln.cdiv(p.M, p.BLOCK_M), kiln.cdiv(p.N, p.BLOCK_N) end,
  reference = "w4a16",
  -- the kernel must be about as accurate as the same GEMM with each dequantised (scaled) weight
  -- rounded to the input type, as it computes (docs/runtime.md, "The criterion vs_lowp"): an output
  -- that cancels carries its terms' rounding, which the relative measure misjudged (K = 210, M = 7,
  -- N = 57 at 64 x 64 tiles on one warp: 2.7e-3 against 2e-3, the low-precision GEMM's own error)
  check = { criterion = "vs_lowp", factor = 2 },
  checks = {
    { M = 1, N = 1, K = 1 },
    { M = 7, N = 70, K = 300, G = 32 },
    { M = 16, N = 96, K = 520, G = 64, stages = 3 },
    { M = 33, N = 64, K = 256, G = 128, BLOCK_M = 32, BLOCK_N = 32 },
    { M = 5, N = 40, K = 200, bits = 8, G = 32, dtype = "bf16" },
    { M = 9, N = 72, K = 333, bits = 3, G = 64, stages = 1 },
    { M = 3, N = 48, K = 250, bits = 5, G = 32, dtype = "bf16" },
    { M = 18, N = 64, K = 456, bits = 6, G = 64, BLOCK_M = 32, stages = 3 },
    { M = 12, N = 40, K = 129, bits = 7, G = 32, dtype = "bf16", BLOCK_N = 32 },
    { M = 20, N = 136, K = 700, bits = 2, G = 128, BLOCK_KW = 32, BLOCK_N = 128, warps = 8 },
  },

  body = function(k, p)
    local acc, row, col = loop.gemm(k, p, 0, k.args.Kq)
    k.store(k.view(k.args.y, { k.args.M, k.args.N }), { row, col }, k.cast(acc, p.dtype))
  end,
}
