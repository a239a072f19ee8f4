-- dump_recipe.lua - a recipe that needs --unsafe-recipe: it reads the environment, reads a file and
-- writes one. It compiles the recipe named by KILN_DUMP_SRC into Lua bytecode at KILN_DUMP_OUT
-- (tests/sh/recipe_sandbox.sh makes its binary chunk so, with no binary in the tree), then declares
-- a small kernel of its own.
local kiln = require "kiln"

local src, out = os.getenv("KILN_DUMP_SRC"), os.getenv("KILN_DUMP_OUT")
if src and out then
  local f = assert(io.open(out, "wb"))
  f:write(string.dump(assert(loadfile(src))))
  f:close()
end

return kiln.recipe {
  name = "dump_recipe",
  params = { n = 64 },
  args = { kiln.tensor("x", "f32", { "n" }, "inout"), kiln.scalar("n", "i32") },
  grid = function(p) return 1 end,
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    k.store(x, { 0 }, k.load(x, { 0 }, { 64 }) + 1)
  end,
}
