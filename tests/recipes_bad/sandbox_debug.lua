-- expect: 5: attempt to index a nil value (global 'debug')
-- flags: 
-- The sandbox: no debug library (debug.setmetatable could dress a table as a kiln object).
local kiln = require "kiln"
debug.setmetatable(kiln.tensor("y", "f32", { 4 }, "in"), nil)
return kiln.recipe {
  name = "sandbox_debug",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
