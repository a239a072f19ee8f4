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
expect bad-llvm-passes "LLVM optimisation failed (pass pipeline from KILN_LLVM_PASSES): unknown pass name 'bogus'" -- \
  env KILN_LLVM_PASSES=bogus "$KILN" compile recipes/vector_add.lua --target sm_80 --emit ptx --no-cache
expect unknown-emit "unknown --emit 'asm'" -- \
  "$KILN" compile recipes/vector_add.lua --target sm_80 --emit asm
expect missing-recipe "nonexistent.lua" -- \
  "$KILN" compile tests/errors/nonexistent.lua --target sm_80
expect unsupported-feature "which target sm_80 does not have" -- \
  "$KILN" compile tests/errors/fp8_dot.ir --target sm_80 --emit ptx
expect opt-missing-file "cannot read tests/errors/nonexistent.ir: No such file or directory" -- \
  "$KILN" opt tests/errors/nonexistent.ir
expect opt-directory "cannot read tests/errors: Is a directory" -- \
  "$KILN" opt tests/errors
expect compile-missing-ir "cannot read tests/errors/nonexistent.ir: No such file or directory" -- \
  "$KILN" compile tests/errors/nonexistent.ir --target sm_80
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/dir.ir"
expect compile-directory-ir "cannot read $tmp/dir.ir: Is a directory" -- \
  "$KILN" compile "$tmp/dir.ir" --target sm_80
expect set-on-ir "kiln compile: --set applies to recipes, not to IR files" -- \
  "$KILN" compile tests/sim/vector_add.ir --set BLOCK=128
expect compile-unknown-option "kiln compile: unknown option --frobnicate" -- \
  "$KILN" compile recipes/vector_add.lua --frobnicate
expect compile-missing-value "kiln compile: missing value after --emit" -- \
  "$KILN" compile recipes/vector_add.lua --emit
expect compile-two-inputs "kiln compile: unexpected argument recipes/softmax.lua" -- \
  "$KILN" compile recipes/vector_add.lua recipes/softmax.lua
expect compile-no-input "kiln compile: no input" -- "$KILN" compile --target sm_80
expect flag-with-value "kiln run: unknown option --sim=1" -- "$KILN" run recipes/vector_add.lua --sim=1
sets=$(i=0; while [ $i -le 64 ]; do printf ' --set n=%d' $((i + 1)); i=$((i + 1)); done)
expect too-many-sets "kiln compile: too many --set (at most 64): n=65" -- "$KILN" compile recipes/vector_add.lua $sets
expect cannot-write "kiln compile: cannot write /nonexistent/k.ptx" -- \
  "$KILN" compile recipes/vector_add.lua --target sm_80 -o /nonexistent/k.ptx

# --set trims spaces around the name and the value: all four spellings build the same kernel.
want=$("$KILN" compile recipes/vector_add.lua --emit ir --set BLOCK=128) || { echo "FAIL set: BLOCK=128"; fail=1; }
for s in "BLOCK= 128" "BLOCK=128 " " BLOCK = 128" "--set=BLOCK=128"; do
  case $s in --set=*) got=$("$KILN" compile recipes/vector_add.lua --emit ir "$s") ;;
  *) got=$("$KILN" compile recipes/vector_add.lua --emit ir --set "$s") ;; esac
  if [ $? -ne 0 ] || [ "$got" != "$want" ]; then echo "FAIL set '$s': not the kernel of BLOCK=128"; fail=1
  else echo "ok   set '$s'"; fi
done
dflt=$("$KILN" compile recipes/vector_add.lua --emit ir)
[ "$dflt" != "$want" ] || { echo "FAIL set: BLOCK=128 builds the default kernel"; fail=1; }
exit $fail
