#!/bin/sh
# `kiln compile --emit ir` prints IR that `kiln opt` reads back and prints to identical text.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
for r in recipes/*.lua; do
  for t in sm_75 sm_90a; do
    "$KILN" compile "$r" --target $t --emit ir > "$tmp/a.ir" || { echo "FAIL compile $r"; fail=1; continue; }
    "$KILN" opt "$tmp/a.ir" > "$tmp/b.ir" || { echo "FAIL opt $r"; fail=1; continue; }
    cmp -s "$tmp/a.ir" "$tmp/b.ir" || { echo "FAIL $r $t: round trip differs"; diff "$tmp/a.ir" "$tmp/b.ir" | head; fail=1; }
  done
done
exit $fail
