-- expect: 5: attempt to load a binary chunk (mode is 't')
-- flags: 
-- The sandbox: load takes text chunks only, whatever mode is asked.
local kiln = require "kiln"
assert(load("\27Lua\84\0", "bytes", "b"))
return kiln.recipe {
  name = "sandbox_load_binary",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
