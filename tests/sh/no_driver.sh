#!/bin/sh
# no_driver.sh - `kiln run` where no CUDA driver loads: one line says so and names why, the run goes
# to the simulator and still checks every element; plus kiln run's failure and usage-error paths.
set -u
fail=0
R=recipes/vector_add.lua

# check DESCRIPTION STATUS WANT_STATUS PATTERN TEXT: TEXT must match the grep pattern.
check() {
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: exit status $2, want $3"; echo "$5" | sed 's/^/    /'; fail=1
  elif ! echo "$5" | grep -q -- "$4"; then
    echo "FAIL $1: no line matching: $4"; echo "$5" | sed 's/^/    /'; fail=1
  fi
}

# 1. no driver: the message, once, then a simulator result that passes
out=$(KILN_CUDA_LIB=/nonexistent "$KILN" run $R --seed 11 2>&1); st=$?
check "no driver message" $st 0 \
  '^kiln: no GPU (no CUDA driver (/nonexistent: .*No such file.*)): running on the simulator$' "$out"
check "simulator result" $st 0 '^vector_add \[.*\] sm_80 sim: max rel err .* (tol .*) PASS, [0-9.]* [mu]*s$' "$out"
n=$(echo "$out" | grep -c "no GPU")
[ "$n" = 1 ] || { echo "FAIL: the no-GPU line appears $n times"; fail=1; }

# 2. --sim asks for no driver and says nothing about one
out=$(KILN_CUDA_LIB=/nonexistent "$KILN" run $R --sim 2>&1); st=$?
check "--sim" $st 0 ' sim: .* PASS' "$out"
if echo "$out" | grep -q "no GPU"; then echo "FAIL --sim: mentions the driver"; fail=1; fi

# 3. --check-all: every declared check runs and passes
out=$(KILN_CUDA_LIB=/nonexistent "$KILN" run $R --check-all 2>&1); st=$?
check "--check-all" $st 0 ' sim: .* PASS' "$out"
if echo "$out" | grep -q -E "FAIL|ERROR"; then echo "FAIL --check-all:"; echo "$out"; fail=1; fi

# 4. a budget nobody meets: FAIL, exit 1, the first element over it named with the seed
out=$("$KILN" run $R --sim --tol 1e-300 --seed 7 2>&1); st=$?
check "tolerance fail" $st 1 ' sim: max rel err .* (tol 1e-300) FAIL' "$out"
check "tolerance fail detail" $st 1 'elements over tol 1e-300; first .*\[.*\] (element [0-9]*) = .*, reference .* (seed 7)' "$out"

# 5. errors: bad usage exits 2, a recipe problem exits 1, each with its message
out=$("$KILN" run 2>&1); check "no recipe" $? 2 "kiln run: no recipe given" "$out"
out=$("$KILN" run $R --bogus 2>&1); check "unknown option" $? 2 "kiln run: unknown option --bogus" "$out"
out=$("$KILN" run $R --reps x 2>&1); check "bad --reps" $? 2 "kiln run: --reps wants a count, not x" "$out"
out=$("$KILN" run $R --seed 1z 2>&1); check "bad --seed" $? 2 "kiln run: --seed wants an integer, not 1z" "$out"
out=$("$KILN" run $R --tol 0 2>&1); check "bad --tol" $? 2 "kiln run: --tol wants a positive number, not 0" "$out"
out=$("$KILN" run $R --set 2>&1); check "missing value" $? 2 "kiln run: missing value after --set" "$out"
out=$("$KILN" run $R extra.lua 2>&1); check "two recipes" $? 2 "kiln run: unexpected argument extra.lua" "$out"
out=$("$KILN" run $R --sim --target sm_1 2>&1); check "unknown target" $? 2 "kiln run: unknown target 'sm_1'" "$out"
out=$("$KILN" run recipes/no_such_recipe.lua --sim 2>&1); check "missing recipe" $? 1 "no_such_recipe.lua" "$out"
out=$("$KILN" run $R --sim --set NO_SUCH_PARAM=1 2>&1); check "unknown setting" $? 1 "NO_SUCH_PARAM" "$out"

[ $fail = 0 ] && echo "no_driver: ok"
exit $fail
