-- expect: 5: attempt to index a nil value (global 'package')
-- flags: 
-- The sandbox: no package library, so no C library can be loaded.
local kiln = require "kiln"
package.loadlib("libc.so.6", "system")
return kiln.recipe {
  name = "sandbox_loadlib",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
