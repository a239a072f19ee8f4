#!/bin/sh
# kiln tune from the command line (docs/tuning.md), on tests/tune/vadd_tune.lua without a GPU:
#   - a sweep writes one row per variant; the report's JSON parses; the SVG parses as XML and holds
#     one circle per measured (ok, timed) variant;
#   - resume: a sweep killed with kill -9 at random points and started again ends with every
#     variant once, keeps every row finished before the kill unchanged, and measures only the rest;
#   - shard + merge: three shards merged equal the unsharded sweep, row for row; merging again
#     changes nothing; two sweeps writing one database at once give the same rows;
#   - pruning: the compiler's refusal and ptxas's spills recorded with their reasons, matmul's
#     constraint; a worker past --timeout written as timeout; precision: the error against the
#     unrounded inputs orders f32 < f16 < bf16 < e4m3 and --accuracy marks e4m3;
#   - kiln run --tuned takes the nearest measured problem; the GPU path through the fake driver;
#   - errors: a foreign or corrupt database named with why, bad --shard/--budget/--space, --tuned
#     with nothing measured for the recipe, a sweep whose every variant is refused (exit 1); --slurm N --dry-run writes the array and merge scripts.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/sh/lib/check.sh
R=tests/tune/vadd_tune.lua
seed=${KILN_TEST_SEED:-$(date +%s)}
echo "seed $seed (KILN_TEST_SEED repeats it)"
# without model pruning (every variant compiled and checked: shards then equal the unsharded sweep);
# the pruning sweep is tests/sh/tune_prune.sh's
NOPRUNE="--prune-model off --check-best all"
sweep() { "$KILN" tune $R --set n=2000 --sim --seed 7 --jobs 2 $NOPRUNE "$@"; }
# rows DB: every row's measured fields but measured_at, sorted (python's sqlite3: no sqlite3 CLI needed)
rows() {
  python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
for r in sorted(c.execute("select recipe_hash,variant,problem,device,status,reason,time_s,error,registers from results")):
    print("|".join(map(str, r)))' "$1"
}
stamps() {
  python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
for r in sorted(c.execute("select variant,measured_at,time_s from results")): print("|".join(map(str, r)))' "$1"
}

# ---- a sweep, the report, the plot ----
sweep --db "$tmp/a.db" --json --plot "$tmp/a.svg" >"$tmp/a.json" 2>"$tmp/a.err" || bad "sweep: $(cat "$tmp/a.err")"
n=$(rows "$tmp/a.db" | wc -l)
[ "$n" = 15 ] && ok "sweep: 15 rows" || bad "sweep: $n rows, want 15"
python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
p = d["problems"][0]
assert p["recipe"] == "vadd_tune" and p["problem"] == "n=2000" and p["variants"] == 15, p
assert all(e["source"] == "model" and e["time_s"] > 0 for e in p["ranking"]), p["ranking"]' "$tmp/a.json" &&
  ok "report JSON" || bad "report JSON: $(cat "$tmp/a.json")"
grep -q "kiln tune: 15/15 measured" "$tmp/a.err" && ok "progress lines" || bad "progress: $(cat "$tmp/a.err")"
python3 -c 'import sqlite3,sys,xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1])
circles = [e for e in t.iter("{http://www.w3.org/2000/svg}circle") if e.get("class") == "variant"]
c = sqlite3.connect(sys.argv[2])
n = c.execute("select count(*) from results where status = \"ok\" and time_s > 0").fetchone()[0]
assert len(circles) == n == 11, (len(circles), n)' "$tmp/a.svg" "$tmp/a.db" && ok "SVG: one circle per measured variant" ||
  bad "SVG"

# ---- pruning reasons: the compiler's refusal; ptxas's spills where ptxas is installed ----
"$KILN" tune recipes/vector_add.lua --set n=1000 --sim --space BLOCK=128,65536 --space warps=1 --db "$tmp/p.db" >/dev/null 2>&1
got=$(python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("select count(*) from results where variant = \"BLOCK=65536 warps=1\" and status = \"refused\" and reason like \"recipes/vector_add.lua:%more than a program of 1 warps holds in a tile%\"").fetchone()[0])' "$tmp/p.db")
[ "$got" = 1 ] && ok "refused by the compiler, its message kept" || bad "compiler refusal: $got"
# a sweep whose every variant is refused fails, saying so (the rows are still written)
"$KILN" tune recipes/vector_add.lua --set n=1000 --sim --space BLOCK=65536 --space warps=1 --db "$tmp/r.db" \
  >/dev/null 2>"$tmp/r.err"
rc=$?
if [ $rc = 1 ] && grep -q "kiln tune: no variant passed: 1 measured, 1 refused" "$tmp/r.err"; then
  ok "all refused: exit 1, $(grep 'no variant' "$tmp/r.err")"
else bad "all refused: rc $rc, $(cat "$tmp/r.err")"; fi
if command -v ptxas >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/ptxas ]; then
  "$KILN" tune recipes/vector_add.lua --set n=1000 --sim --space BLOCK=16384 --space warps=1 --db "$tmp/p.db" \
    >/dev/null 2>&1
  got=$(python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("select count(*) from results where variant = \"BLOCK=16384 warps=1\" and status = \"spilled\" and reason like \"ptxas spills %\" and spill_bytes > 0 and registers > 0").fetchone()[0])' "$tmp/p.db")
  [ "$got" = 1 ] && ok "spilled: ptxas's report kept" || bad "spilled: $got"
else
  echo "ok   (no ptxas: the spill check is not run)"
fi
"$KILN" tune recipes/matmul.lua --set M=64 --set N=64 --set K=64 --set dtype=f16 --set out=f16 --set trans_a=0 --set inflight=0 --set min_blocks=0 --set tma=0 --set ws=0 --set programs=0 \
  --set trans_b=0 --set bias=0 --set act=none --set BLOCK_K=32 --set stages=2 --set warps=1 --space BLOCK_M=256 \
  --space BLOCK_N=32 --sim --db "$tmp/p.db" >/dev/null 2>&1
got=$(python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("select count(*) from results where recipe = \"matmul\" and status = \"refused\" and reason = \"accumulator over 128 elements per thread: ptxas spills\"").fetchone()[0])' "$tmp/p.db")
[ "$got" = 1 ] && ok "matmul's constraint refuses a 256x32 tile on one warp" || bad "matmul constraint: $got"
# the GEMM families' accumulators within the registers (recipes/lib/bitgemm_enc.lua, acc_fits): half
# or more of what a thread may have (255, or what min_blocks leaves) is refused, the count named;
# each space is the knobs left free beside the tile (every variant of it refused, none compiled)
nref=0
refused() { # refused RECIPE REASON SETTINGS...: every variant of the space left is refused so
  r=$1 why=$2; shift 2
  nref=$((nref + 1))
  # shellcheck disable=SC2046
  "$KILN" tune "recipes/$r.lua" $(for s in "$@"; do printf ' --set %s' "$s"; done) --sim --db "$tmp/r$nref.db" >/dev/null 2>&1
  got=$(python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
n = c.execute("select count(*) from results").fetchone()[0]
m = c.execute("select count(*) from results where recipe = ? and status = \"refused\" and reason = ?", (sys.argv[2], sys.argv[3])).fetchone()[0]
print("all" if n > 0 and m == n else "%d of %d" % (m, n))' "$tmp/r$nref.db" "$r" "$why")
  [ "$got" = all ] && ok "$r refuses $*: $why" || bad "$r $*: $got refused with '$why'"
}
refused w4a16 "accumulators of 256 registers a thread of 255: ptxas spills" BLOCK_M=64 BLOCK_N=128 warps=1 min_blocks=0
refused w4a16 "accumulators of 64 registers a thread of 128: ptxas spills" BLOCK_M=64 BLOCK_N=128 warps=4 min_blocks=4
refused w4a16_splitk "accumulators of 128 registers a thread of 255: ptxas spills" BLOCK_M=64 BLOCK_N=128 warps=2 min_blocks=0
refused bitgemm "accumulators of 128 registers a thread of 255: ptxas spills" BLOCK_M=64 BLOCK_N=64 warps=2 G=128 \
  p=4 q=4 enc=int w_signed=1 a_signed=0 zp=0 out=f32 order=diag act=packed dtype=f16 BLOCK_KW=8
refused bitgemm_splitk "accumulators of 256 registers a thread of 255: ptxas spills" BLOCK_M=64 BLOCK_N=128 warps=1 \
  p=4 q=4 enc=int w_signed=1 a_signed=0 split_k=4 order=diag BLOCK_KW=8

# ---- precision as a dimension: the error against the unrounded inputs orders the types ----
"$KILN" tune recipes/matmul.lua --set M=64 --set N=64 --set K=64 --set out=f32 --set trans_a=0 --set trans_b=0 --set inflight=0 --set min_blocks=0 --set tma=0 --set ws=0 --set programs=0 \
  --set bias=0 --set act=none --set BLOCK_M=32 --set BLOCK_N=32 --set BLOCK_K=32 --set stages=2 --set warps=4 \
  --space dtype=f32,f16,bf16,e4m3 --target sm_89 --sim --accuracy 0.01 $NOPRUNE --db "$tmp/acc.db" >/dev/null 2>&1
python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
e = {v.split("dtype=")[1].split()[0]: (err, w) for v, err, w in c.execute("select variant, error, within_accuracy from results where status = \"ok\"")}
assert e["f32"][0] < e["f16"][0] < e["bf16"][0] < e["e4m3"][0], e
assert e["e4m3"][1] == 0 and e["f16"][1] == 1 and e["e4m3"][0] > 0.01, e' "$tmp/acc.db" &&
  ok "precision: error f32 < f16 < bf16 < e4m3, e4m3 marked over --accuracy" || bad "precision errors"

# ---- a worker past --timeout is killed and its row written as timeout ----
sweep --timeout 0.001 --db "$tmp/t.db" >/dev/null 2>&1
got=$(python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("select count(*) from results where status = \"timeout\" and reason = \"still measuring after 0.001 s\"").fetchone()[0],
      c.execute("select count(*) from results").fetchone()[0])' "$tmp/t.db")
case "$got" in
  "0 "*|*" "[!1]*) bad "timeout: $got (timeout rows, rows)" ;;
  *" 15") ok "timeout: $got (timeout rows, rows)" ;;
  *) bad "timeout: $got" ;;
esac

# ---- resume after kill -9 at random points ----
for round in 1 2 3; do
  db="$tmp/k$round.db"
  delay=$(python3 -c "import random; random.seed($seed + $round); print(round(random.uniform(0.05, 0.8), 2))")
  setsid "$KILN" tune $R --set n=2000 --sim --seed 7 --jobs 1 $NOPRUNE --db "$db" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  before=0
  [ -f "$db" ] && stamps "$db" >"$tmp/before" && before=$(wc -l <"$tmp/before")
  [ -f "$db" ] || : >"$tmp/before"
  sweep --db "$db" >/dev/null 2>"$tmp/resume.err"
  measured=$(sed -n 's/.*, \([0-9]*\) measured (.*/\1/p' "$tmp/resume.err")
  stamps "$db" >"$tmp/after"
  lost=$(comm -23 "$tmp/before" "$tmp/after" | wc -l)
  total=$(wc -l <"$tmp/after")
  if [ "$total" = 15 ] && [ "$lost" = 0 ] && [ "$measured" = $((15 - before)) ]; then
    ok "kill -9 after ${delay}s: $before rows kept, $measured measured on resume"
  else
    bad "kill -9 after ${delay}s: $before before, $total after, $lost changed, $measured measured"
  fi
done

# ---- shard + merge equals unsharded ----
for i in 0 1 2; do sweep --shard $i/3 --db "$tmp/s$i.db" >/dev/null 2>&1 || bad "shard $i/3"; done
"$KILN" tune merge "$tmp/s0.db" "$tmp/s1.db" "$tmp/s2.db" -o "$tmp/all.db" || bad "merge"
rows "$tmp/a.db" >"$tmp/unsharded"
rows "$tmp/all.db" >"$tmp/merged"
cmp -s "$tmp/unsharded" "$tmp/merged" && ok "3 shards merged = unsharded" ||
  bad "merged differs: $(diff "$tmp/unsharded" "$tmp/merged" | head -5)"
stamps "$tmp/all.db" >"$tmp/m1"
"$KILN" tune merge "$tmp/s0.db" "$tmp/s1.db" "$tmp/s2.db" -o "$tmp/all.db" && stamps "$tmp/all.db" >"$tmp/m2"
cmp -s "$tmp/m1" "$tmp/m2" && ok "merge again: unchanged" || bad "merge again changed the result"
s0=$(rows "$tmp/s0.db" | wc -l) s1=$(rows "$tmp/s1.db" | wc -l) s2=$(rows "$tmp/s2.db" | wc -l)
[ "$s0:$s1:$s2" = 5:5:5 ] && ok "shards 5:5:5" || bad "shards $s0:$s1:$s2"

# ---- concurrent writers: two sweeps (two shards) into one database at once ----
sweep --shard 0/2 --db "$tmp/c.db" >/dev/null 2>&1 &
p0=$!
sweep --shard 1/2 --db "$tmp/c.db" >/dev/null 2>&1 &
p1=$!
wait $p0; r0=$?
wait $p1; r1=$?
rows "$tmp/c.db" >"$tmp/concurrent"
[ "$r0:$r1" = 0:0 ] && cmp -s "$tmp/unsharded" "$tmp/concurrent" && ok "two sweeps writing one database = unsharded" ||
  bad "concurrent: exit $r0 $r1, $(diff "$tmp/unsharded" "$tmp/concurrent" | head -3)"

# ---- kiln run --tuned ----
out=$("$KILN" run $R --set n=2100 --sim --tuned "$tmp/a.db" 2>&1)
case "$out" in
  *"tuned: "*"nearest measured problem [n=2000]"*PASS*) ok "run --tuned (nearest problem)" ;;
  *) bad "run --tuned: $out" ;;
esac

# ---- errors ----
printf 'not a database at all, just some text that goes on for a while....' >"$tmp/junk.db"
expect "junk database" 1 "$tmp/junk.db: cannot read it: file is not a database" sweep --db "$tmp/junk.db"
python3 -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("create table t(x)")' "$tmp/other.db"
expect "foreign database" 1 "$tmp/other.db: not a kiln tuning database (it has no meta table)" sweep --db "$tmp/other.db"
expect "report foreign" 1 "$tmp/other.db: not a kiln tuning database" "$KILN" tune report "$tmp/other.db"
expect "merge junk" 1 "$tmp/junk.db: cannot read it" "$KILN" tune merge "$tmp/a.db" "$tmp/junk.db" -o "$tmp/m.db"
expect "merge no -o" 2 "needs inputs and -o OUT" "$KILN" tune merge "$tmp/a.db"
expect "bad shard" 2 "--shard wants I/N with 0 <= I < N, not '3/3'" sweep --shard 3/3 --db "$tmp/x.db"
expect "bad budget" 2 "--budget wants a count of variants or a time" sweep --budget 5x --db "$tmp/x.db"
expect "bad space" 2 "--space: tests/tune/vadd_tune.lua: parameter 'warps' is a whole number, got 'seven'" sweep --space warps=1,seven --db "$tmp/x.db"
expect "tuned, nothing" 1 "$tmp/a.db: no measured variant of softmax" "$KILN" run recipes/softmax.lua --sim --tuned "$tmp/a.db"
expect "partition alone" 2 "go with --slurm N" sweep --partition p --db "$tmp/x.db"

# ---- the GPU path, through the fake CUDA driver (tests/unit/test_runtime.c): it runs no kernel ----
fake="${KILN_BUILD:-build}/libkiln_fake_cuda.so"
if [ -f "$fake" ]; then
  KILN_CUDA_LIB="$fake" "$KILN" tune $R --set n=2000 --jobs 2 --reps 5 --flush-l2 --db "$tmp/g.db" >/dev/null 2>&1
  KILN_CUDA_LIB="$fake" "$KILN" tune $R --set n=1000 --jobs 2 --reps 5 --no-check --db "$tmp/g.db" >/dev/null 2>&1
  got=$(python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
q = lambda w: c.execute("select count(*) from results where device = \"Fake H100 sm_90a\" and " + w).fetchone()[0]
print(q("problem = \"n=2000\" and status = \"wrong\" and reason like \"z: %\""),
      q("problem = \"n=1000\" and status = \"ok\" and time_source = \"gpu\" and time_s > 0 and spread_s >= 0"))' "$tmp/g.db")
  [ "$got" = "11 11" ] && ok "fake GPU: unwritten outputs are wrong; timed rows labelled gpu" || bad "fake GPU: $got"
else
  bad "no fake driver at $fake"
fi

# ---- Slurm scripts ----
out=$(cd "$tmp" && "$KILN" tune "$OLDPWD/$R" --set n=2000 --sim --slurm 4 --partition debug --db sw.db --dry-run 2>&1)
case "$out" in
  *"#SBATCH --array=0-3"*"#SBATCH --partition=debug"*"--shard \"\$SLURM_ARRAY_TASK_ID/4\""*"tune merge"*"shard-3.db"*"sw.db"*)
    ok "--slurm --dry-run" ;;
  *) bad "--slurm --dry-run: $out" ;;
esac
exit $fail
