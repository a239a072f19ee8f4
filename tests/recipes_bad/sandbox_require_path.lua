-- expect: 4: module '..lib.x' not found (recipes find only kiln and the modules in lib/ beside them)
-- require takes module names (names separated by dots), never a path out of lib/.
local kiln = require "kiln"
local x = require "..lib.x"
return kiln.recipe { name = "x" }
