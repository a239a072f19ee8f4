-- expect: 5: attempt to call a nil value (field 'exit')
-- flags: 
-- The sandbox: a recipe cannot end kiln (os.exit(0) would fake a success).
local kiln = require "kiln"
os.exit(0)
return kiln.recipe {
  name = "sandbox_os_exit",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
