#!/bin/sh
# Every recipe compiles for every target row, and ptxas (when installed) accepts each PTX.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
targets=$("$KILN" targets)
fail=0; n=0
for r in recipes/*.lua; do
  for t in $targets; do
    n=$((n + 1))
    if ! "$KILN" compile "$r" --target "$t" --emit cubin -o "$tmp/k.cubin" --no-cache > "$tmp/out" 2>&1; then
      if grep -q "ptxas not found" "$tmp/out"; then
        "$KILN" compile "$r" --target "$t" --emit ptx -o "$tmp/k.ptx" > "$tmp/out" 2>&1 && continue
      fi
      echo "FAIL $r $t: $(head -n 3 "$tmp/out")"; fail=1
    fi
  done
done
echo "$n recipe x target compiles checked"
exit $fail
