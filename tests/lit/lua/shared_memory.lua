-- The recipe front end (compiler/lua): shared memory: a swizzled buffer, a padded copy, a barrier, loads and stores.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: alloc_shared() {swizzle = 2} : smem<64xf32>
-- CHECK-DAG: copy(
-- CHECK-DAG: {pad = 1.0}
-- CHECK-DAG: barrier()
-- CHECK-DAG: load_shared(
-- CHECK-DAG: store_shared(
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local s = k.alloc_shared('f32', { 64 }, { swizzle = 2 })
  k.copy(x, { 0 }, s, { pad = 1 })
  k.barrier()
  k.store_shared(s, k.load_shared(s) * 2)
end)
