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
for r in recipes/*.lua; do
  "$KILN" run "$r" --check-all || status=1
done
exit $status
