-- The vs_lowp criterion on a kernel with no float tensor: there is no low precision to compute in.
return require "copy" {
  elem = "i32",
  check = { criterion = "vs_lowp" },
  reference = function(t, p, r)
    for i = 1, p.n do t.z[i] = t.x[i] end
  end,
}
