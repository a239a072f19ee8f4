#!/bin/sh
# pack_cli.sh - `kiln pack` from the command line: every recipe packs for two targets; the same
# command gives the same bytes; the header written beside the pack equals `kiln pack --header` of it
# and compiles; and each usage or input error is one line naming the place, with a non-zero exit.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
expect() { # expect NAME PATTERN -- command...
  name=$1 pat=$2; shift 3
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fail=1; return; fi
  first=$(printf '%s\n' "$out" | head -n 1)
  if ! printf '%s\n' "$first" | grep -qF -- "$pat"; then echo "FAIL $name: got: $out"; fail=1; return; fi
  echo "ok   $name: $first"
}

"$KILN" pack recipes/*.lua --targets sm_80,sm_90a --no-cubin -o "$tmp/all.kpack" --header "$tmp/all.h" ||
  { echo "FAIL: packing every recipe"; exit 1; }
"$KILN" pack recipes/*.lua --targets sm_80,sm_90a --no-cubin -o "$tmp/again.kpack" || exit 1
cmp -s "$tmp/all.kpack" "$tmp/again.kpack" || { echo "FAIL: two runs gave different bytes"; fail=1; }
"$KILN" pack --header "$tmp/again.h" "$tmp/all.kpack" || exit 1
sed 's/ALL_H/AGAIN_H/g' "$tmp/all.h" | cmp -s - "$tmp/again.h" || { echo "FAIL: --header of the pack differs"; fail=1; }
n=$(grep -c '^static inline int kiln_' "$tmp/all.h")
[ "$n" = "$(ls recipes/*.lua | wc -l)" ] || { echo "FAIL: $n launch functions in the header"; fail=1; }
printf '#include "all.h"\nint main(void) { return 0; }\n' > "$tmp/use.c"
cc -std=c11 -Wall -Werror -fsyntax-only -Iinclude -I"$tmp" "$tmp/use.c" || { echo "FAIL: the header does not compile"; fail=1; }
[ $fail = 0 ] && echo "ok   every recipe packed for sm_80 and sm_90a ($(wc -c < "$tmp/all.kpack") bytes, $n kernels), reproducible"

expect no-recipe "kiln pack: no recipe" -- "$KILN" pack --targets sm_80 -o "$tmp/x.kpack"
expect no-output "kiln pack: no output: -o NAME.kpack" -- "$KILN" pack recipes/softmax.lua --targets sm_80
expect unknown-option "kiln pack: unknown option --fast" -- "$KILN" pack recipes/softmax.lua --fast -o "$tmp/x.kpack"
expect missing-value "kiln pack: missing value after --targets" -- "$KILN" pack recipes/softmax.lua -o "$tmp/x.kpack" --targets
expect bad-targets "kiln pack: bad --targets ','" -- "$KILN" pack recipes/softmax.lua --targets , -o "$tmp/x.kpack"
expect unknown-target "unknown target 'sm_70'" -- "$KILN" pack recipes/softmax.lua --targets sm_80,sm_70 -o "$tmp/x.kpack"
expect recipe-error "tests/errors/syntax_error.lua:4:" -- "$KILN" pack tests/errors/syntax_error.lua -o "$tmp/x.kpack"
expect bad-set "--set 'nope=3'" -- "$KILN" pack recipes/softmax.lua --set nope=3 -o "$tmp/x.kpack"
expect header-of-corrupt "$tmp/bad.kpack: not a kiln pack" -- sh -c "echo junk > $tmp/bad.kpack && \"$KILN\" pack --header $tmp/h.h $tmp/bad.kpack"
expect unwritable "cannot write /nonexistent/x.kpack" -- "$KILN" pack recipes/softmax.lua -o /nonexistent/x.kpack
[ -e "$tmp/x.kpack" ] && { echo "FAIL: a failed pack left $tmp/x.kpack"; fail=1; }

# --tuned DB: a small sweep on the simulator, then each bucket takes the knobs of a fastest variant; a
# knob the bucket sets wins and only variants that agree with it are taken (the recipe's constraint
# BLOCK <= 256 * warps holds); a recipe the database has nothing for keeps its defaults
T=tests/tune/vadd_tune.lua
variant_of() { strings "$1" | grep -a "^variant	$2	" | cut -f5; }
if "$KILN" tune $T --set n=2000 --sim --seed 3 --jobs 1 --db "$tmp/t.db" > /dev/null 2>&1; then
  "$KILN" pack $T recipes/softmax.lua --targets sm_80 --no-cubin --shapes vadd_tune:n=2000 --tuned "$tmp/t.db" \
    -o "$tmp/t.kpack" || fail=1
  got=$(variant_of "$tmp/t.kpack" vadd_tune | tr ',' ' ')
  "$KILN" tune report "$tmp/t.db" --json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin)["problems"][0]["ranking"] if r["status"] == "ok"]
best = min(r["time_s"] for r in rows)
sys.exit(0 if any(r["variant"] == sys.argv[1] and r["time_s"] == best for r in rows) else 1)' "$got" &&
    echo "ok   --tuned: vadd_tune n=2000 packed as the fastest variant, $got" ||
    { echo "FAIL --tuned: vadd_tune packed as '$got', not a fastest variant of the database"; fail=1; }
  [ "$(variant_of "$tmp/t.kpack" softmax)" = "$(variant_of "$tmp/all.kpack" softmax)" ] ||
    { echo "FAIL --tuned: softmax (not in the database) did not keep its defaults"; fail=1; }
  "$KILN" pack $T --targets sm_80 --no-cubin --shapes n=2000,warps=1 --tuned "$tmp/t.db" -o "$tmp/t1.kpack" || fail=1
  v=$(variant_of "$tmp/t1.kpack" vadd_tune)
  block=$(echo "$v" | sed -n 's/.*BLOCK=\([0-9]*\).*/\1/p')
  case "$v" in *warps=1*) [ "$block" -le 256 ] && echo "ok   --tuned with warps=1: $v" ||
    { echo "FAIL --tuned with warps=1: $v breaks the constraint"; fail=1; } ;;
  *) echo "FAIL --tuned with warps=1: $v"; fail=1 ;; esac
else
  echo "FAIL: the tuning sweep for --tuned"; fail=1
fi
# Computed defaults that read the target: a one-target pack takes that target's (attention's D = 64
# tile on sm_90a: 128x128, 8 warps); a pack for several targets shares one variant, so its defaults
# see no target (128x64, 4 warps) and its launch rule and images agree for every target.
"$KILN" pack recipes/attention.lua --targets sm_90a --no-cubin -o "$tmp/h.kpack" || fail=1
"$KILN" pack recipes/attention.lua --targets sm_80,sm_90a --no-cubin -o "$tmp/ah.kpack" || fail=1
for f in h ah; do
  v=$(strings "$tmp/$f.kpack" | grep -a "^variant	attention	")
  case "$f:$v" in
  h:*"	256	"*BLOCK_M=128,BLOCK_N=128,*warps=8* | ah:*"	128	"*BLOCK_M=128,BLOCK_N=64,*warps=4*)
    echo "ok   $f.kpack: $(echo "$v" | cut -f2,3)" ;;
  *) echo "FAIL $f.kpack: variant $v"; fail=1 ;;
  esac
done
expect tuned-missing "$tmp/none.db: cannot open it" -- "$KILN" pack recipes/softmax.lua --tuned "$tmp/none.db" -o "$tmp/x.kpack"
expect tuned-foreign "$tmp/bad.kpack: cannot read it" -- "$KILN" pack recipes/softmax.lua --tuned "$tmp/bad.kpack" -o "$tmp/x.kpack"
[ -e "$tmp/x.kpack" ] && { echo "FAIL: a failed pack left $tmp/x.kpack"; fail=1; }
exit $fail
