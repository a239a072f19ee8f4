#!/bin/sh
# kiln tune --slurm for real: a one-node cluster of the test's own (tools/slurm-cluster.sh), a sweep
# of tests/tune/vadd_tune.lua submitted as a 4-task array (one shard and database each) and a
# dependent merge job; the merged database must equal the same sweep run unsharded, row for row.
# The daemons started here are stopped on exit. Skipped (exit 77) where slurm-wlm and munge are not
# installed, this is not root, or the cluster cannot start; .ci/run installs them so that CI runs it.
set -u
tmp=$(mktemp -d)
cluster="$tmp/cluster"
trap 'sh tools/slurm-cluster.sh stop "$cluster" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
out=$(sh tools/slurm-cluster.sh start "$cluster" 2>&1)
rc=$?
if [ $rc != 0 ]; then
  echo "SKIP: no Slurm cluster: $out"
  exit 77
fi
echo "$out"
export SLURM_CONF="$cluster/slurm.conf"
fail=0
R=$(pwd)/tests/tune/vadd_tune.lua
mkdir "$tmp/run"
sub=$(cd "$tmp/run" && "$KILN" tune "$R" --set n=2000 --sim --seed 7 --jobs 1 --prune-model off --check-best all --slurm 4 --db all.db 2>&1) ||
  { echo "FAIL submit: $sub"; exit 1; }
echo "$sub"
array=$(echo "$sub" | sed -n 's/.*array job \([0-9]*\) .*/\1/p')
merge=$(echo "$sub" | sed -n 's/.*merge job \([0-9]*\);.*/\1/p')
i=0
while [ $i -lt 1200 ] && [ -n "$(squeue -h -j "$array,$merge" 2>/dev/null)" ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] || { echo "FAIL: jobs still queued after 120 s"; squeue; fail=1; }
"$KILN" tune $R --set n=2000 --sim --seed 7 --jobs 2 --prune-model off --check-best all --db "$tmp/unsharded.db" >/dev/null 2>&1 || { echo "FAIL unsharded sweep"; fail=1; }
rows() {
  python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
for r in sorted(c.execute("select recipe_hash,variant,problem,device,status,reason,time_s,error from results")):
    print("|".join(map(str, r)))' "$1"
}
if [ -f "$tmp/run/all.db" ]; then
  for s in 0 1 2 3; do
    n=$(rows "$tmp/run/kiln-tune-slurm/shard-$s.db" 2>/dev/null | wc -l)
    [ "$n" -ge 3 ] && echo "ok   shard $s: $n rows" || { echo "FAIL shard $s: $n rows"; fail=1; }
  done
  rows "$tmp/run/all.db" >"$tmp/merged"
  rows "$tmp/unsharded.db" >"$tmp/unsharded"
  if [ "$(wc -l <"$tmp/merged")" = 15 ] && cmp -s "$tmp/merged" "$tmp/unsharded"; then
    echo "ok   merged on Slurm = unsharded (15 rows)"
  else
    echo "FAIL merged differs from unsharded:"; diff "$tmp/unsharded" "$tmp/merged" | head; fail=1
  fi
else
  echo "FAIL: no merged database; the logs:"
  tail -5 "$tmp/run/kiln-tune-slurm/"*.log; fail=1
fi
exit $fail
