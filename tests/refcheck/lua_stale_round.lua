-- r.round kept past the call it was given to and called while the next variant builds: an error,
-- never a read of the finished call's state.
local saved
return require "copy" {
  checks = { { n = 5 }, { n = 6 } },
  reference = function(t, p, r)
    saved = r.round
    for i = 1, p.n do t.z[i] = t.x[i] end
  end,
  body = function(k, p)
    if saved then saved(1) end
    local x = k.view(k.args.x, { k.args.n })
    local z = k.view(k.args.z, { k.args.n })
    k.store(z, { 0 }, k.load(x, { 0 }, { 64 }))
  end,
}
