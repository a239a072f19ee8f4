-- The recipe front end (compiler/lua): comparison methods combined with the bit operators.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK-DAG: pred = "le"
-- CHECK-DAG: pred = "ne"
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local c = t:le(1) & t:gt(0) | t:ge(2) ~ t:eq(3) ~ t:ne(4)
end)
