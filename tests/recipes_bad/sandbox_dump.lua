-- expect: 5: attempt to call a nil value (field 'dump')
-- flags: 
-- The sandbox: no string.dump, so no bytecode to load.
local kiln = require "kiln"
local f = load(string.dump(function() return 1 end))
return kiln.recipe {
  name = "sandbox_dump",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
