-- The recipe the reference error tests share: z = x over n elements of type `elem` (f32 unless
-- given; one program), with the reference (and any other field) each test gives.
local kiln = require "kiln"

return function(fields)
  local elem = fields.elem or "f32"
  fields.elem = nil
  local decl = {
    name = "copy",
    params = { n = 37 },
    args = {
      kiln.tensor("x", elem, { "n" }, "in"),
      kiln.tensor("z", elem, { "n" }, "out"),
      kiln.scalar("n", "i32"),
    },
    grid = function(p) return 1 end,
    body = function(k, p)
      local x = k.view(k.args.x, { k.args.n })
      local z = k.view(k.args.z, { k.args.n })
      k.store(z, { 0 }, k.load(x, { 0 }, { 64 }))
    end,
  }
  for key, v in pairs(fields) do decl[key] = v end
  return kiln.recipe(decl)
end
