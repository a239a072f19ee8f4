#!/bin/sh
# The pruning sweep (docs/tuning.md, "Pruning") without a GPU:
#   - the whole tile space of recipes/matmul.lua at M=N=K=512 (BLOCK_M x BLOCK_N x BLOCK_K x warps x
#     stages: 2500 variants) on the simulator with the model: every variant has exactly one row with a
#     final status; the constraints' and the shared-memory plan's refusals and the model's pruning are
#     written with their reasons; exactly --check-best variants are ok, each checked (an error), and
#     the winner is one of them; no timing is asserted (the sweep's time is in docs/tuning.md);
#   - resume: a smaller pruning sweep killed with kill -9 at a random point and started again ends
#     with every variant once and final, keeps every final row from before the kill unchanged, and
#     measures only the rest;
#   - bad --prune-model and --check-best values are usage errors naming the option.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/sh/lib/check.sh
seed=${KILN_TEST_SEED:-$(date +%s)}
echo "seed $seed (KILN_TEST_SEED repeats it)"
P="--set dtype=f16 --set out=f16 --set trans_a=0 --set trans_b=0 --set bias=0 --set act=none --set inflight=0 --set min_blocks=0 --set tma=0 --set ws=0 --set programs=0"

# ---- the whole tile space at 512 ----
"$KILN" tune recipes/matmul.lua --set M=512 --set N=512 --set K=512 $P --sim --jobs 2 --db "$tmp/m.db" \
  --json >"$tmp/m.json" 2>"$tmp/m.err" || bad "sweep: $(tail -3 "$tmp/m.err")"
grep "counted" "$tmp/m.err"
python3 -c 'import json,sqlite3,sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute("select variant, status, reason, time_s, time_source, error from results").fetchall()
final = {"ok", "refused", "spilled", "wrong", "timeout", "pruned"}
assert len(rows) == 2500 and len({r[0] for r in rows}) == 2500, len(rows)
assert all(r[1] in final for r in rows), sorted({r[1] for r in rows})
by = lambda s: [r for r in rows if r[1] == s]
assert all(r[2] for r in rows if r[1] != "ok"), "a row that is not ok without a reason"
assert len([r for r in by("refused") if r[2] == "accumulator over 128 elements per thread: ptxas spills"]) == 500
assert any("shared memory" in r[2] for r in by("refused")), "no shared-memory refusal"
pruned = by("pruned")
assert pruned and all(r[2].startswith(("model: ", "not checked: ")) for r in pruned), pruned[:3]
assert any(r[2].startswith("model: at least") for r in pruned), "nothing pruned before compiling"
ok = by("ok")
assert len(ok) == 4 and all(r[5] is not None and r[5] >= 0 and r[4] == "model" and r[3] > 0 for r in ok), ok
best = min(r[3] for r in ok)
assert all(r[3] is None or r[3] >= best for r in pruned if r[2].startswith("not checked")), "an unchecked variant beats the winner"
d = json.load(open(sys.argv[2]))["problems"][0]
top = d["ranking"][0]
assert d["variants"] == 2500 and top["status"] == "ok" and abs(top["time_s"] - best) <= 1e-5 * best, top
print("statuses", {s: len(by(s)) for s in sorted(final)})' "$tmp/m.db" "$tmp/m.json" &&
  ok "matmul 512: 2500 variants, one final row each, reasons, 4 checked ok, the winner checked" ||
  bad "matmul 512 sweep"
grep -q "kiln tune: 2500 variants in the space, 2500 in this shard: 0 already in $tmp/m.db, 2500 measured" \
  "$tmp/m.err" && ok "summary line" || bad "summary: $(grep 'variants in the space' "$tmp/m.err")"

# ---- resume after kill -9 (the pruning sweep's steps write pending rows) ----
final() { # DB: every final row but measured_at
  python3 -c 'import sqlite3,sys
for r in sorted(sqlite3.connect(sys.argv[1]).execute("select variant,status,reason,time_s,error,measured_at from results where status != \"pending\"")):
    print("|".join(map(str, r)))' "$1"
}
S="--set M=128 --set N=128 --set K=128 $P --space BLOCK_M=32,64,128 --space BLOCK_N=32,64 --space BLOCK_K=32,64 --space warps=2,4 --space stages=2,3"
for round in 1 2 3; do # early (counting), middle, late (compiling, checking)
  db="$tmp/k$round.db"
  delay=$(python3 -c "import random; random.seed($seed + $round); print(round(random.uniform(*[(0.05, 0.5), (0.5, 2), (2, 6)][$round - 1]), 2))")
  setsid "$KILN" tune recipes/matmul.lua $S --sim --jobs 2 --check-best 2 --db "$db" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  : >"$tmp/before"
  [ -f "$db" ] && final "$db" >"$tmp/before"
  before=$(wc -l <"$tmp/before")
  pending=0
  [ -f "$db" ] && pending=$(python3 -c 'import sqlite3,sys
print(sqlite3.connect(sys.argv[1]).execute("select count(*) from results where status = \"pending\"").fetchone()[0])' "$db")
  "$KILN" tune recipes/matmul.lua $S --sim --jobs 2 --check-best 2 --db "$db" >/dev/null 2>"$tmp/resume.err"
  measured=$(sed -n 's/.*, \([0-9]*\) measured (.*/\1/p' "$tmp/resume.err")
  final "$db" >"$tmp/after"
  lost=$(comm -23 "$tmp/before" "$tmp/after" | wc -l)
  total=$(wc -l <"$tmp/after")
  oks=$(grep -c '|ok|' "$tmp/after")
  if [ "$total" = 48 ] && [ "$lost" = 0 ] && [ "$measured" = $((48 - before)) ] && [ "$oks" = 2 ]; then
    ok "kill -9 after ${delay}s: $before final rows kept ($pending pending), $measured measured on resume, 2 ok"
  else
    bad "kill -9 after ${delay}s: $before before, $total after, $lost changed, $measured measured, $oks ok"
  fi
done

# ---- bad knob values ----
expect "--prune-model 0.5" 2 "--prune-model wants a factor of at least 1 or off, not '0.5'" \
  "$KILN" tune recipes/matmul.lua --sim --prune-model 0.5 --db "$tmp/x.db"
expect "--check-best 0" 2 "--check-best wants a whole number from 1, not '0'" \
  "$KILN" tune recipes/matmul.lua --sim --check-best 0 --db "$tmp/x.db"
exit $fail
