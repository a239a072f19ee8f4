-- expect: 6: bad argument #2 to 'setmetatable' (nil or table expected, got boolean)
-- flags: 
-- kiln's metatables are locked: a table cannot be dressed as a kiln argument.
local kiln = require "kiln"
local mt = getmetatable(kiln.tensor("y", "f32", { 4 }, "in"))
local fake = setmetatable({ name = "y" }, mt)
return kiln.recipe {
  name = "sandbox_forge",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
