#!/bin/sh
# demo.sh KILN - the main job: compile every recipe for every target (ptxas validates each PTX when
# installed), then run every recipe against its C reference on the GPU, or on the simulator when
# there is none, and print both tables.
set -u
KILN=${1:-build/kiln}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
targets=$("$KILN" targets)
status=0

echo "== compile: every recipe for every target =="
printf '%-12s %-8s %-10s %s\n' recipe target ms result
for r in recipes/*.lua; do
  name=$(basename "$r" .lua)
  for t in $targets; do
    start=$(date +%s%N)
    if "$KILN" compile "$r" --target "$t" --emit cubin -o "$tmp/k.cubin" --no-cache > "$tmp/out" 2>&1; then
      result="validated by ptxas"
    elif grep -q "ptxas not found" "$tmp/out" &&
         "$KILN" compile "$r" --target "$t" --emit ptx -o "$tmp/k.ptx" --no-cache > "$tmp/out" 2>&1; then
      result="PTX (ptxas not installed)"
    else
      result="FAILED: $(head -n 1 "$tmp/out")"; status=1
    fi
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    printf '%-12s %-8s %-10s %s\n' "$name" "$t" "$ms" "$result"
  done
done

echo
echo "== run: every recipe against its C reference (GPU if present, else the simulator) =="
printf '%-17s %-8s %-5s %-12s %-9s %-6s %s\n' recipe target where "max rel err" tol result settings
for r in recipes/*.lua; do
  "$KILN" run "$r" --check-all > "$tmp/run" 2> "$tmp/err" || status=1
  [ -n "${said_where:-}" ] || { grep -m1 "no GPU" "$tmp/err" >&2 && said_where=1; }
  # "NAME [SETTINGS] TARGET WHERE: max rel err E (tol T) RESULT, TIME" -> one table row
  sed -n 's/^\([^ ]*\) \[\(.*\)\] \([^ ]*\) \([a-z]*\): max rel err \([^ ]*\) (tol \([^)]*\))[^A-Z]* \([A-Z]*\).*/\1|\3|\4|\5|\6|\7|\2/p' "$tmp/run" |
    awk -F'|' '{ printf "%-17s %-8s %-5s %-12s %-9s %-6s %s\n", $1, $2, $3, $4, $5, $6, $7 }'
  grep -v "max rel err" "$tmp/run" | sed 's/^/    /'
  grep -v "no GPU" "$tmp/err" | sed 's/^/    /'
done
[ $status -eq 0 ] && echo "demo: all passed" || echo "demo: FAILURES above"
exit $status
