-- tuning: what recipes share for the tuner (docs/recipes.md, "Constraints").
local T = {}

-- A tuning constraint made of the checks a recipe's body makes of its settings: check(p) raises the
-- recipe's own error where the variant cannot be built (an FFT split that does not fit the row, a
-- group size the K tile does not divide, an encoding the activations do not take), and the tuner
-- then refuses the variant with that message (without its file and line) instead of compiling it.
-- The body keeps calling the same checks, so `kiln run` and `kiln compile`, which do not consult
-- constraints, still refuse such a variant with its line.
function T.builds(check)
  return function(p)
    local ok, err = pcall(check, p)
    if ok then return true end
    return false, (tostring(err):gsub("^[^:]*:%d+: ", ""))
  end
end

return T
