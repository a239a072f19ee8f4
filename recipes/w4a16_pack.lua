-- w4a16_pack: the offline weight packer of recipes/w4a16.lua. w [K, N] holds b-bit codes (u8; only
-- the low b bits count; the GEMM reads code - 2^(b-1)); wq [N, Kq] gets them in the GEMM's layout:
-- per = 2 * (16 // b) codes of one column per word, 16 // b in each 16-bit half; field j of half h of
-- word t * BLOCK_KW + r holds element k = t * BLOCK_KW * per + j * 2 * BLOCK_KW + 2r + h (BLOCK_KW
-- must be the GEMM's): the two halves of a word are the weights K = 2r and 2r + 1 of a slab. Each
-- 16 words of a column are stored as a 4 x 4 transpose: word 16g + 4a + b at 16g + 4b + a, so that
-- the four words one thread of the GEMM reads for its B fragments (K rows t, t + 4, t + 8, t + 12
-- of a 16-word group) lie side by side, one 16-byte read (Marlin's offline shuffle).
--
-- One program per BLOCK_N columns walks the blocks of K; each slab's codes are read as two
-- [BLOCK_KW, BLOCK_N] tiles, the even and the odd rows (views with a row stride of 2N), and OR-ed
-- into the tile of words. A word's per / 2 slabs go in groups of as many as put at most
-- split_sum.PER_GROUP loaded codes in a thread (recipes/lib/split_sum.lua): a group unrolled, several
-- groups a k.range loop (a thread of BLOCK_KW=32 BLOCK_N=128 warps=2 holds 64 codes of a tile, 640
-- of a word at bits = 3, all unrolled before). roundtrip = 1 reads the words back after the walk and
-- unpacks them into `back` [K, N] in the same groups, checked against the codes
-- (unpack(pack(w)) == w).
local kiln = require "kiln"
local enc = require "bitgemm_enc"
local split = require "split_sum"

local function kq(p) return (enc.w4a16_rows(p.K, p.bits, p.BLOCK_KW)) end

return kiln.recipe {
  name = "w4a16_pack",
  params = { N = 128, K = 512 },
  tune = {
    bits = { default = 4, values = { 2, 3, 4, 5, 6, 7, 8 } },
    BLOCK_KW = { default = 16, values = { 16, 32 } },
    BLOCK_N = { default = 64, values = { 32, 64, 128 } },
    warps = { default = 4, values = { 1, 2, 4 } },
    roundtrip = { false, true },
  },
  args = {
    kiln.tensor("w", "u8", { "K", "N" }, "in"),
    kiln.tensor("wq", "u32", { "N", kq }, "out"),
    kiln.tensor("back", "i32", { function(p) return p.roundtrip and p.K or 1 end,
      function(p) return p.roundtrip and p.N or 1 end }, "inout"),
    kiln.scalar("N", "i32"),
    kiln.scalar("K", "i32"),
    kiln.scalar("Kq", "i32", kq),
  },
  grid = function(p) return kiln.cdiv(p.N, p.BLOCK_N) end,
  reference = "w4a16_pack",
  checks = {
    { N = 1, K = 1 },
    { N = 70, K = 300, roundtrip = 1 },
    { N = 40, K = 520, bits = 3, roundtrip = 1, BLOCK_N = 32 },
    { N = 136, K = 700, bits = 8, BLOCK_KW = 32, BLOCK_N = 128 },
    { N = 33, K = 200, bits = 2, roundtrip = 1 },
    { N = 24, K = 131, bits = 5, roundtrip = 1, BLOCK_KW = 32, BLOCK_N = 32 },
    { N = 40, K = 77, bits = 6, roundtrip = 1 },
    { N = 9, K = 250, bits = 7, roundtrip = 1, warps = 1 },
    -- slabs in groups (split_sum.group): one slab a group, a loop of 5; two a group, a loop of 2
    { N = 136, K = 700, bits = 3, roundtrip = 1, BLOCK_KW = 32, BLOCK_N = 128, warps = 2 },
    { N = 70, K = 300, bits = 4, roundtrip = 1, BLOCK_N = 64, warps = 1 },
  },

  body = function(k, p)
    enc.check_range("bits", p.bits, 2, 8)
    local N, K, Kq = k.args.N, k.args.K, k.args.Kq
    local BN, BW, B = p.BLOCK_N, p.BLOCK_KW, p.bits
    local per, mask = enc.w4a16_per(B), (1 << B) - 1
    local wq = k.view(k.args.wq, { Kq, N }, { 1, Kq }) -- [N, Kq] in memory, seen as [Kq, N]
    local col = k.program_id(0) * BN
    -- rows 2i + h of an [K, N] tensor as an [ceil((K - h) / 2), N] view
    local function rows(arg, h)
      if h == 0 then return k.view(arg, { (K + 1) / 2, N }, { N * 2, 1 }) end
      return k.view(arg, { K / 2, N }, { N * 2, 1 }, N)
    end
    local w = { rows(k.args.w, 0), rows(k.args.w, 1) }
    -- each 16 words of a column as a 4 x 4 transpose (word 4a + b at 4b + a): the tile goes through
    -- shared memory, read back with quad_dim (the permutation is its own inverse)
    local quad = k.alloc_shared("u32", { BW, BN })
    local function quads(tile)
      k.store_shared(quad, tile)
      k.barrier()
      local t = k.load_shared(quad, { quad_dim = 0 })
      k.barrier()
      return t
    end
    -- the slabs j0 .. j0 + g - 1 of a word (j0 the number 0 when one group is the whole word, else
    -- the loop's i32 value): slab j's field of half h at bit 16 h + j B
    local slabs = per // 2
    local g = split.group(slabs, 2 * split.per_thread(BW * BN, p.warps))
    local function groups(body, inits) return split.groups(k, slabs, g, inits, body) end
    k.range(0, Kq, BW, {}, function(q0)
      local r0 = (q0 / BW) * (BW * per // 2) -- the block's first element, halved
      local word = groups(function(j0, word)
        for jj = 0, g - 1 do
          for h = 0, 1 do
            local code = k.cast(k.load(w[h + 1], { r0 + (j0 + jj) * BW, col }, { BW, BN }), "u32") & mask
            local at = 16 * h + jj * B
            -- in the loop, each code shifted into the word at once (a shift by a register costs what
            -- one by a constant does; a group's own tile of words beside the word would be a third
            -- more registers a thread)
            word = word | (code << (type(j0) == "number" and at or k.cast(j0 * B + at, "u32")))
          end
        end
        return word
      end, { k.full({ BW, BN }, 0, "u32") })
      k.store(wq, { q0, col }, quads(word))
    end)
    if p.roundtrip then
      k.barrier()
      local back = { rows(k.args.back, 0), rows(k.args.back, 1) }
      k.range(0, Kq, BW, {}, function(q0)
        local r0 = (q0 / BW) * (BW * per // 2)
        local word = quads(k.load(wq, { q0, col }, { BW, BN }))
        groups(function(j0)
          for jj = 0, g - 1 do
            for h = 0, 1 do
              local at = 16 * h + jj * B
              local field = word >> (type(j0) == "number" and at or k.cast(j0 * B + at, "u32"))
              k.store(back[h + 1], { r0 + (j0 + jj) * BW, col }, k.cast(field & mask, "i32"))
            end
          end
        end, {})
      end)
    end
  end,
}
