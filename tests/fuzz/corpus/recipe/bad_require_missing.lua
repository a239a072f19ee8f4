-- expect: 4: module 'socket' not found (recipes find only kiln and the modules in lib/ beside them)
-- A recipe that requires a module outside its lib/ folder (a system Lua module, a C module).
local kiln = require "kiln"
local socket = require "socket"
return kiln.recipe { name = "x" }
