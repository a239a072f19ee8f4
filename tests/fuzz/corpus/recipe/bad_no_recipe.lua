-- expect: -: the file must return kiln.recipe{...}
-- A file that declares nothing.
local kiln = require "kiln"
local unused = kiln.cdiv(10, 3)
