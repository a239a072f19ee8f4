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
    elif grep -q "which target $t does not have" "$tmp/out"; then
      result="refused: $(head -n 1 "$tmp/out" | sed 's/.*: op /op /')" # a feature the row lacks (b1 mma on sm_75)
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
echo
echo "== the bit-plane GEMM (docs/bitgemm.md): W3A5 and W4A16 at a decode shape =="
demo_run() { # demo_run LABEL RECIPE SETTINGS...
  label=$1 r=$2; shift 2
  sets=""; for s in "$@"; do sets="$sets --set $s"; done
  # shellcheck disable=SC2086
  "$KILN" run "$r" $sets > "$tmp/run" 2> "$tmp/err" || status=1
  printf '%-8s %s\n' "$label" "$(tail -n 1 "$tmp/run")"
}
demo_run W3A5 recipes/bitgemm.lua M=16 N=512 K=2048 p=3 q=5 out=f16 BLOCK_M=16
demo_run W3A5-bip recipes/bitgemm.lua M=16 N=512 K=2048 p=3 q=5 enc=bipolar out=f32 BLOCK_M=16
demo_run W4A16 recipes/w4a16.lua M=16 N=512 K=2048 G=128
demo_run W3A16 recipes/w4a16.lua M=4 N=512 K=2048 bits=3 G=64
[ $status -eq 0 ] && echo "demo: all passed" || echo "demo: FAILURES above"
exit $status
