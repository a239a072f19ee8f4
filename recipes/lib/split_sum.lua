-- split_sum: the sum over the split_k chunks of a split-K GEMM's partial results, shared by the
-- reduction kernels (recipes/bitgemm_reduce.lua, recipes/w4a16_reduce.lua).
--
-- The chunks are added in order, acc = ((init + c0) + c1) + ..., so a float sum rounds as a loop
-- over z would. How the code is shaped: a thread's loads of one chunk do not depend on the
-- running sum, so they can all be in flight at once; but a thread can only hold so many loaded
-- values (the register file), so unrolling past that buys no more loads in flight, only more code
-- to compile (bitgemm_reduce BLOCK_M=32 BLOCK_N=128 split_k=16 warps=1 was 2,048 loads a thread in
-- a row: docs/compile-speed.md). The chunks are therefore added in groups of `group` chunks (the
-- largest divisor of split_k whose loads fit PER_GROUP elements a thread): one group is unrolled,
-- and the groups are a k.range loop when there are several.
local M = {}

-- Elements a thread loads in one group at most (a register each, beside the running sum's).
M.PER_GROUP = 128

-- The number of chunks one group adds: the largest divisor of n with at most `budget` (PER_GROUP
-- when not given) loaded elements a thread (1 when one chunk alone is more). Also the bit-plane
-- packers' groups of positions (recipes/lib/bitgemm_enc.lua, pack_planes).
function M.group(n, per_thread, budget)
  for g = n, 2, -1 do
    if n % g == 0 and g * per_thread <= (budget or M.PER_GROUP) then return g end
  end
  return 1
end

-- A thread's elements of a tile of `elems` elements spread over `warps` warps (at least 1).
function M.per_thread(elems, warps) return math.max(1, elems // (32 * warps)) end

-- n items in groups of g (a divisor of n): body(i0, carried...) does items i0 .. i0 + g - 1 and
-- returns the carried values; i0 is the number 0 when one group is all n (unrolled, once), else the
-- i32 value of a k.range loop over the groups. Returns what the last group returns.
function M.groups(k, n, g, inits, body)
  if g == n then return body(0, table.unpack(inits)) end
  return k.range(0, n, g, inits, body)
end

-- init + load(0) + ... + load(n - 1) for a [BM, BN] tile spread over `warps` warps. load(z) gets
-- the chunk's index as a number (unrolled) or as an i32 value (in the loop) and returns a tile of
-- init's shape and type.
function M.sum(k, n, bm, bn, warps, init, load)
  local g = M.group(n, M.per_thread(bm * bn, warps))
  return M.groups(k, n, g, { init }, function(z0, acc)
    for j = 0, g - 1 do acc = acc + load(z0 + j) end
    return acc
  end)
end

return M
