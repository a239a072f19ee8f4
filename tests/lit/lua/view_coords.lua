-- The recipe front end (compiler/lua): a view's base given as coordinates {index, count, stride}:
-- each index stated to lie in [0, count) (op bounded), times its stride, summed in order.
-- RUN: %kiln compile %s --target sm_80 --emit ir | FileCheck %s
-- CHECK: [[I:%[0-9]+]] = program_id() {axis = 0} : i32
-- CHECK: [[B0:%[0-9]+]] = bounded([[I]], {{%[0-9]+}}) : i32
-- CHECK: [[T0:%[0-9]+]] = mul([[B0]], %n) : i32
-- CHECK: [[B1:%[0-9]+]] = bounded({{%[0-9]+}}, %M) : i32
-- CHECK: [[T1:%[0-9]+]] = mul([[B1]], {{%[0-9]+}}) : i32
-- CHECK: [[S:%[0-9]+]] = add([[T0]], [[T1]]) : i32
-- CHECK: view(%y, {{%[0-9a-z]+}}, {{%[0-9a-z]+}}, {{%[0-9a-z]+}}, {{%[0-9a-z]+}}, [[S]]) : view<2xf32>
return require 'tile_kernel' (function(k, p, x, u, y, h, t)
  local i = k.program_id(0)
  local v = k.view(k.args.y, { 2, 4 }, { 4, 1 }, { { i, 4, k.args.n }, { i + 1, k.args.M, 8 } })
  k.store(v, { 0, 0 }, k.load(v, { 0, 0 }, { 2, 4 }))
end)
