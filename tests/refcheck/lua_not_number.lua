-- A Lua reference that writes a string into an output: it counts as unwritten.
return require "copy" {
  reference = function(t, p, r)
    for i = 1, p.n do t.z[i] = t.x[i] end
    t.z[3] = "x"
  end,
}
