-- expect: 5: attempt to call a nil value (global 'dofile')
-- flags: 
-- The sandbox: no dofile or loadfile: a recipe reads no file but its lib/ modules.
local kiln = require "kiln"
dofile("/etc/passwd")
return kiln.recipe {
  name = "sandbox_dofile",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
