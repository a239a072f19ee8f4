#!/bin/sh
# References outside kiln's tree (docs/recipes.md, "References"): the examples' Lua reference
# (examples/saxpy) and C reference in a shared object built beside its recipe (examples/scale_c)
# pass `kiln run --check-all` on the simulator, also when run from the recipe's own folder; and
# every way a reference can go wrong (tests/refcheck/*.lua) gives one line naming the recipe and the
# reference, and exit status 1.
set -u
fail=0
passes() { # passes NAME -- kiln run arguments...: every result line PASS, exit 0
  name=$1; shift 2
  out=$("$KILN" run "$@" 2>&1); rc=$?
  if [ $rc -ne 0 ] || ! printf '%s\n' "$out" | grep -q ' PASS, ' || printf '%s\n' "$out" | grep -qv ' PASS, '; then
    echo "FAIL $name (exit $rc): $out"; fail=1; return
  fi
  echo "ok   $name: $(printf '%s\n' "$out" | wc -l) variants PASS"
}
fails() { # fails NAME PATTERN -- kiln run arguments...: exit 1 and a line matching PATTERN
  name=$1 pat=$2; shift 3
  out=$("$KILN" run "$@" 2>&1); rc=$?
  if [ $rc -ne 1 ]; then echo "FAIL $name: exit $rc: $out"; fail=1; return; fi
  if ! printf '%s\n' "$out" | grep -q -- "$pat"; then echo "FAIL $name: got: $out"; fail=1; return; fi
  echo "ok   $name: $(printf '%s\n' "$out" | grep -- "$pat" | head -n 1)"
}
[ -f examples/scale_c/scale_ref.so ] || { echo "FAIL: examples/scale_c/scale_ref.so not built (target example_scale_ref)"; exit 1; }

passes saxpy-lua-reference -- examples/saxpy/saxpy.lua --sim --check-all
passes saxpy-defaults -- examples/saxpy/saxpy.lua --sim
passes scale-c-reference -- examples/scale_c/scale.lua --sim --check-all
out=$(cd examples/scale_c && "$KILN" run scale.lua --sim 2>&1) && printf '%s\n' "$out" | grep -q ' PASS, ' ||
  { echo "FAIL scale-from-its-folder: $out"; fail=1; }
passes lua-control -- tests/refcheck/lua_ok.lua --sim

R=tests/refcheck
fails lua-raises "^copy \[n=37\] sm_80 sim: ERROR: $R/lua_raise.lua:4: no reference for n = 37 (in the Lua reference ($R/lua_raise.lua:3))$" -- \
  $R/lua_raise.lua --sim
fails lua-unwritten "ERROR: $R/lua_unwritten.lua: Lua reference ($R/lua_unwritten.lua:3) left z\[7\] (element 7) unset (NaN)$" -- \
  $R/lua_unwritten.lua --sim
fails lua-not-a-number "ERROR: $R/lua_not_number.lua: Lua reference ($R/lua_not_number.lua:3) left z\[2\] (element 2) unset" -- \
  $R/lua_not_number.lua --sim
fails lua-stale-round "ERROR: $R/lua_stale_round.lua:11: round: used outside the reference call it was given to" -- \
  $R/lua_stale_round.lua --sim --check-all
fails c-missing-so "ERROR: $R/missing_so.lua: C reference 'copy_ref' in $R/no_such_ref.so: cannot load it ($R/no_such_ref.so: cannot open shared object file" -- \
  $R/missing_so.lua --sim
fails c-missing-symbol "ERROR: $R/missing_symbol.lua: C reference 'no_such_symbol' in $R/../../examples/scale_c/scale_ref.so: no such symbol in the shared object$" -- \
  $R/missing_symbol.lua --sim
fails c-refuses "ERROR: $R/c_refuses.lua: C reference 'scale_ref' in $R/../../examples/scale_c/scale_ref.so failed: no tensor argument 'y'$" -- \
  $R/c_refuses.lua --sim
fails lua-raises-in-low-precision "ERROR: $R/lua_raise_lowp.lua:4: no f32 version (in the Lua reference ($R/lua_raise_lowp.lua:3))$" -- \
  $R/lua_raise_lowp.lua --sim
fails builtin-refuses "ERROR: $R/builtin_refuses.lua: reference 'softmax' failed$" -- $R/builtin_refuses.lua --sim
fails unknown-builtin "ERROR: $R/unknown_builtin.lua: unknown reference 'no_such_reference' (the built-in references are in compiler/ref)$" -- \
  $R/unknown_builtin.lua --sim
fails no-reference "ERROR: $R/no_reference.lua: the recipe declares no reference$" -- $R/no_reference.lua --sim
fails vs-lowp-exact-only "ERROR: $R/exact_only_vs_lowp.lua: check.criterion 'vs_lowp' needs a low-precision reference, and the reference 'vector_add' computes only exactly" -- \
  $R/exact_only_vs_lowp.lua --sim
fails vs-lowp-integer "ERROR: $R/integer_vs_lowp.lua: check.criterion 'vs_lowp' needs a low-precision reference, but the kernel has no float tensor narrower than f64" -- \
  $R/integer_vs_lowp.lua --sim
exit $fail
