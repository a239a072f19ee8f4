-- expect: 12: attempt to index a nil value (global 'io')
-- flags: 
-- The sandbox: no io library, in the body as at file level.
local kiln = require "kiln"

return kiln.recipe {
  name = "sandbox_io_open",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    local f = io.open("/etc/passwd")
  end,
}
