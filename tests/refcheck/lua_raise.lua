-- A Lua reference that raises an error: kiln run names this line and the reference.
return require "copy" {
  reference = function(t, p, r)
    error("no reference for n = " .. p.n)
  end,
}
