#!/bin/sh
# `kiln run --sim` on a recipe whose loop never ends (step 0, no device op in the body) stops with the
# watchdog's one-line report naming the loop's recipe line, instead of hanging (`timeout` guards the
# test itself); a bad KILN_SIM_* value is an error naming the variable, the value and the range.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
cat > "$tmp/spin.lua" <<'LUA'
local kiln = require "kiln"
return kiln.recipe {
  name = "spin",
  params = { n = 256 },
  args = {
    kiln.tensor("x", "f32", { "n" }, "in"),
    kiln.tensor("z", "f32", { "n" }, "out"),
    kiln.scalar("n", "i32"),
  },
  grid = function(p) return 1 end,
  reference = "vector_add",
  body = function(k, p)
    local x = k.view(k.args.x, { k.args.n })
    local z = k.view(k.args.z, { k.args.n })
    local a = k.load(x, { 0 }, { 64 })
    local r = k.range(0, 2147483647, 1, { a }, function(i, acc) return acc + acc end)
    k.store(z, { 0 }, r)
  end,
}
LUA
check() { # check NAME WANT -- command...  (value names in the output read %N)
  name=$1 want=$2; shift 3
  out=$("$@" 2>&1); rc=$?
  out=$(printf '%s' "$out" | sed 's/%[0-9A-Za-z_.]*/%N/g')
  if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then echo "FAIL $name: exit $rc: $out"; fail=1
  elif [ "$out" != "$want" ]; then printf 'FAIL %s:\n  got  %s\n  want %s\n' "$name" "$out" "$want"; fail=1
  else echo "ok   $name"; fi
}
check watchdog "spin [n=256] sm_80 sim: ERROR: sim: watchdog in kernel spin, block (0,0,0): thread 0 is still running after 100000 steps (loop iterations and device ops), at 'for %N ($tmp/spin.lua:16)'; KILN_SIM_MAX_OPS sets the limit" -- \
  env KILN_SIM_MAX_OPS=100000 timeout 120 "$KILN" run "$tmp/spin.lua" --sim
check timeout "spin [n=256] sm_80 sim: ERROR: sim: timeout in kernel spin, block (0,0,0): the launch ran past its 1-second limit (KILN_SIM_TIMEOUT sets it); thread 0 was at 'for %N ($tmp/spin.lua:16)'" -- \
  env KILN_SIM_TIMEOUT=1 KILN_SIM_MAX_OPS=0 timeout 120 "$KILN" run "$tmp/spin.lua" --sim
check bad-env "vector_add [n=98432] sm_80 sim: ERROR: sim: KILN_SIM_STACK_KB='-5' is invalid: it must be an integer from 4 to 1048576 (KiB of fiber stack per simulated thread)" -- \
  env KILN_SIM_STACK_KB=-5 "$KILN" run recipes/vector_add.lua --sim
exit $fail
