#!/bin/sh
# The recipe sandbox through the command line (docs/recipes.md, "What a recipe can reach"):
#   - os.exit(0) in a recipe makes `kiln compile` and `kiln run` fail with the recipe's line, never
#     exit 0 with no output;
#   - a precompiled (binary) recipe is refused; --unsafe-recipe loads it, and lets a recipe read the
#     environment and files (tests/recipes_unsafe/dump_recipe.lua makes the binary chunk that way);
#   - the limit options take positive numbers and say so otherwise.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check NAME WANT_RC WANT_STDERR -- command...   (WANT_STDERR: exact first line, or '' for any)
  name=$1 want_rc=$2 want=$3; shift 4
  "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?
  got=$(head -n 1 "$tmp/err")
  if [ "$want_rc" = 0 ] && [ $rc -ne 0 ]; then echo "FAIL $name: exit $rc: $got"; fail=1
  elif [ "$want_rc" != 0 ] && [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fail=1
  elif [ -n "$want" ] && [ "$got" != "$want" ]; then printf 'FAIL %s:\n  got  %s\n  want %s\n' "$name" "$got" "$want"; fail=1
  else echo "ok   $name"; fi
}
exit_recipe=tests/recipes_bad/sandbox_os_exit.lua
exit_msg="$exit_recipe:5: attempt to call a nil value (field 'exit')"
check compile-os-exit 1 "$exit_msg" -- "$KILN" compile "$exit_recipe" --target sm_80
check run-os-exit 1 "$exit_msg" -- "$KILN" run "$exit_recipe" --sim
[ -s "$tmp/out" ] && { echo "FAIL run-os-exit: wrote to stdout"; fail=1; }

# the opt-out: the generator reads the environment and writes a binary chunk of vector_add
gen=tests/recipes_unsafe/dump_recipe.lua bin="$tmp/vector_add_bin.lua"
check generator-refused 1 "$gen:7: attempt to call a nil value (field 'getenv')" -- "$KILN" compile "$gen" --emit ir
KILN_DUMP_SRC=recipes/vector_add.lua KILN_DUMP_OUT="$bin" \
  check generator-unsafe 0 "" -- "$KILN" compile "$gen" --emit ir --unsafe-recipe
[ -s "$bin" ] || { echo "FAIL generator-unsafe: no $bin"; fail=1; }
check binary-refused 1 "$bin: binary (precompiled) chunks are not accepted" -- "$KILN" compile "$bin" --emit ir
check binary-run-refused 1 "$bin: binary (precompiled) chunks are not accepted" -- "$KILN" run "$bin" --sim
check binary-unsafe 0 "" -- "$KILN" compile "$bin" --emit ir --unsafe-recipe

# limits as options, --opt=value too
check time-option 1 "tests/recipes_bad/sandbox_time_body.lua:12: recipe evaluation exceeded 0.3 s" -- \
  "$KILN" compile tests/recipes_bad/sandbox_time_body.lua --emit ir --recipe-time=0.3
check run-time-option 1 "" -- "$KILN" run tests/recipes_bad/sandbox_time_body.lua --sim --recipe-time 0.3
grep -q "ERROR: tests/recipes_bad/sandbox_time_body.lua:12: recipe evaluation exceeded 0.3 s" "$tmp/out" ||
  { echo "FAIL run-time-option: $(cat "$tmp/out")"; fail=1; }
check mem-option 1 "tests/recipes_bad/sandbox_mem_rep.lua:5: recipe used more than 48 MiB" -- \
  "$KILN" compile tests/recipes_bad/sandbox_mem_rep.lua --emit ir --recipe-mem 48
check bad-time 1 "kiln compile: --recipe-time needs a positive number, got 'soon'" -- \
  "$KILN" compile recipes/vector_add.lua --recipe-time soon
check bad-mem 1 "kiln run: --recipe-mem needs a positive number, got '-5'" -- \
  "$KILN" run recipes/vector_add.lua --sim --recipe-mem -5
check missing-time 1 "kiln compile: --recipe-time needs a positive number, got ''" -- \
  "$KILN" compile recipes/vector_add.lua --recipe-time

# knob values that change meaning are refused, naming the knob, the value and the allowed values
check causal-2 1 "recipes/attention.lua: parameter 'causal' is a flag (0, 1, true or false); got '2'" -- \
  "$KILN" compile recipes/attention.lua --emit ir --set causal=2
check lse-7 1 "recipes/attention.lua: parameter 'lse' is a flag (0, 1, true or false); got '7'" -- \
  "$KILN" run recipes/attention.lua --sim --set lse=7
check layout-xyz 1 "recipes/attention.lua: parameter 'layout' is one of bhsd, bshd; got 'xyz'" -- \
  "$KILN" compile recipes/attention.lua --emit ir --set layout=xyz
# the attention recipes take the row maximum of the unscaled scores: a scale must be positive
for r in attention attention_decode; do
  out=$("$KILN" run recipes/$r.lua --sim --set scale=-0.5 2>&1) && { echo "FAIL scale-negative-$r: exit 0"; fail=1; }
  printf '%s\n' "$out" | grep -q "ERROR: recipes/lib/attention_layout.lua:[0-9]*: scale is a positive number or 'auto', got '-0.5'$" &&
    echo "ok   scale-negative-$r" || { echo "FAIL scale-negative-$r: $out"; fail=1; }
done
check trans-a-yes 1 "recipes/matmul.lua: parameter 'trans_a' is a flag (0, 1, true or false); got 'yes'" -- \
  "$KILN" compile recipes/matmul.lua --emit ir --set trans_a=yes
check spaces 0 "" -- "$KILN" compile recipes/attention.lua --emit ir --set "BLOCK_M= 32" --set "causal = true "
exit $fail
