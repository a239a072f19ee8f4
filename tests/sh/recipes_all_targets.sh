#!/bin/sh
# Every recipe compiles for every target row, and ptxas (when installed) accepts each PTX; a recipe
# whose defaults need a feature a row lacks must be refused with the message listed here instead.
set -u
refusal() { # refusal RECIPE TARGET: the expected first line, or nothing
  case "$1 $2" in
  "recipes/bitgemm.lua sm_75" | "recipes/bitgemm_splitk.lua sm_75")
    echo "op 'dot' needs mma.sync b1 and.popc, which target sm_75 does not have" ;;
  esac
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
targets=$("$KILN" targets)
fail=0; n=0
for r in recipes/*.lua; do
  for t in $targets; do
    n=$((n + 1))
    want=$(refusal "$r" "$t")
    if [ -n "$want" ]; then
      if "$KILN" compile "$r" --target "$t" --emit ptx -o "$tmp/k.ptx" > "$tmp/out" 2>&1; then
        echo "FAIL $r $t: compiled, but the target lacks what it needs"; fail=1
      elif ! grep -qF "$want" "$tmp/out"; then
        echo "FAIL $r $t: refused with '$(head -n 1 "$tmp/out")', expected '$want'"; fail=1
      fi
      continue
    fi
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
