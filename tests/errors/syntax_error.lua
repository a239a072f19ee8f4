-- A recipe with a syntax error on line 4.
local kiln = require "kiln"
return kiln.recipe {
  name = "broken" ,, 
}
