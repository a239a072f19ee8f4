#!/bin/sh
# The three user errors of the spine each give ONE line naming the place, and a non-zero exit:
# a recipe syntax error (file:line), an IR type mismatch (file:line + op), an unknown target.
set -u
fail=0
expect() { # expect NAME PATTERN -- command...
  name=$1 pat=$2; shift 3
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fail=1; return; fi
  first=$(printf '%s\n' "$out" | head -n 1)
  if ! printf '%s\n' "$first" | grep -q -- "$pat"; then echo "FAIL $name: got: $out"; fail=1; return; fi
  echo "ok   $name: $first"
}
expect recipe-syntax 'tests/errors/syntax_error.lua:4:' -- \
  "$KILN" compile tests/errors/syntax_error.lua --target sm_80 --emit ir
expect ir-type-mismatch "tests/errors/type_mismatch.ir:5: op 'add'" -- \
  "$KILN" compile tests/errors/type_mismatch.ir --target sm_80 --emit ptx
expect unknown-target "unknown target 'sm_70'" -- \
  "$KILN" compile recipes/vector_add.lua --target sm_70 --emit ptx
expect unknown-emit "unknown --emit 'sass'" -- \
  "$KILN" compile recipes/vector_add.lua --target sm_80 --emit sass
expect missing-recipe "nonexistent.lua" -- \
  "$KILN" compile tests/errors/nonexistent.lua --target sm_80
expect unsupported-feature "which target sm_80 does not have" -- \
  "$KILN" compile tests/errors/fp8_dot.ir --target sm_80 --emit ptx
exit $fail
