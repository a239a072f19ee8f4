#!/bin/sh
# kiln tune on the FFT family's order-4 recipe (docs/tuning.md), without a GPU:
#   - its space (17 280 000 variants at the defaults) is over what a sweep may walk whole: without a
#     budget the sweep is refused with how to sample it; with --strategy random --budget N it is
#     sampled, no array the size of the space made: N variants compiled, and the variants the
#     recipe's constraints refuse on the way (a split that does not fit the row: tuning.builds) written
#     with the reason and not counted; a second run with the same seed finds those done and goes on
#     in the same order;
#   - a space the constraints refuse whole ends after 100 x the budget's refusals, and says so;
#   - the check runs where the recipe builds the variant: its sizes are brought down to 64 for the
#     simulator, where fftconv4 needs N >= 128 (256 with half = 1), so the check's cap grows until the
#     variant builds: the defaults and a CB choice both pass (they were refused before).
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/sh/lib/check.sh
R=recipes/fftconv4.lua
seed=${KILN_TEST_SEED:-$(date +%s)}
echo "seed $seed (KILN_TEST_SEED repeats it)"
rows() { python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
for r in sorted(c.execute("select variant,status,reason from results")): print("|".join(map(str, r)))' "$1"; }
# rows the constraints refused: their reason is the recipe's message, with no file:line before it
constrained() { rows "$1" | grep -c '|refused|fftconv4: '; }

expect "whole space refused" 2 "sample it with --strategy random --budget N" \
  "$KILN" tune $R --sim --db "$tmp/a.db"

sample() { "$KILN" tune $R --sim --strategy random --seed "$seed" --budget 3 --jobs 2 --db "$tmp/b.db"; }
sample >"$tmp/b.out" 2>&1
rc=$?
n=$(rows "$tmp/b.db" | wc -l) c=$(constrained "$tmp/b.db")
if { [ $rc -eq 0 ] || [ $rc -eq 1 ]; } && [ $((n - c)) -eq 3 ] && grep -q '17280000 variants in the space' "$tmp/b.out"; then
  ok "random sample of 17280000 variants: 3 compiled, $c refused by the constraints (exit $rc)"
else
  bad "random sample: exit $rc, $n rows, $c refused by the constraints: $(tail -3 "$tmp/b.out")"
fi
rows "$tmp/b.db" > "$tmp/b.rows"
sample >"$tmp/b2.out" 2>&1
rows "$tmp/b.db" > "$tmp/b2.rows"
n2=$(wc -l < "$tmp/b2.rows") c2=$(constrained "$tmp/b.db")
if grep -q "$n already in" "$tmp/b2.out" && [ $((n2 - c2)) -eq 6 ] && [ -z "$(comm -23 "$tmp/b.rows" "$tmp/b2.rows")" ]; then
  ok "the same seed resumes the same order: $n found done, 3 more compiled"
else
  bad "resume: $n2 rows, $c2 refused by the constraints: $(tail -3 "$tmp/b2.out")"
fi

# N1 = N2 = 32 never fits N = 512: every variant refused by the constraints
"$KILN" tune $R --sim --budget 1 --space N1=32 --space N2=32 --db "$tmp/d.db" >"$tmp/d.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'stopped after 100 variants refused by the recipe' "$tmp/d.out" &&
   [ "$(rows "$tmp/d.db" | wc -l)" -eq 100 ] && [ "$(constrained "$tmp/d.db")" -eq 100 ]; then
  ok "a space the constraints refuse: stopped after 100 refusals"
else
  bad "refused space: exit $rc, $(rows "$tmp/d.db" | wc -l) rows: $(tail -3 "$tmp/d.out")"
fi

pins="--set N1=0 --set N2=0 --set N3=0 --set warps=4 --set min_blocks=4 --set dtype=f16 --set gate=0 --set tw=f32
      --set IB=0 --set HB=16 --set CN=0 --set half=0"
"$KILN" tune $R --sim --seed "$seed" --jobs 2 $pins --space CB=0,64 --db "$tmp/c.db" >"$tmp/c.out" 2>&1
rc=$?
got=$(rows "$tmp/c.db" | cut -d'|' -f2 | sort | uniq -c | tr -s ' ')
if [ $rc -eq 0 ] && [ "$got" = " 2 ok" ]; then
  ok "the defaults checked at a size they build at: 2 ok"
else
  bad "check sizes: exit $rc, rows '$got': $(tail -3 "$tmp/c.out")"
fi
exit $fail
