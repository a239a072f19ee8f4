#!/bin/sh
# Every recipe's numerics on the simulator against its C reference, for every shape the recipe lists
# in `checks` (ragged edges, a single partial tile): fresh random inputs, poisoned outputs, every
# element compared. `kiln run` exits non-zero on any mismatch.
set -u
fail=0
for r in recipes/*.lua; do
  "$KILN" run "$r" --sim --check-all || { echo "FAIL $r"; fail=1; }
done
exit $fail
