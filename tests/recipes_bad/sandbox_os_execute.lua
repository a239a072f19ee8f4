-- expect: 5: attempt to call a nil value (field 'execute')
-- flags: 
-- The sandbox: os keeps only clock and time; no process can be started.
local kiln = require "kiln"
os.execute("touch /tmp/kiln_sandbox_pwned")
return kiln.recipe {
  name = "sandbox_os_execute",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32", function(p)  return p.n end) },
  grid = function(p)  return 1 end,
  body = function(k, p)
    
  end,
}
