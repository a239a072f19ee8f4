#!/bin/sh
# `kiln run --sim --profile[=json]` (docs/profiling.md): the table after the result line; JSON on stdout
# that parses and has every counter, totals and per op (result lines on stderr), one object per variant
# under --check-all; the usage errors: a bad value, the profile without --sim, `--profile json`.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

# the table: result line, totals line, no more (vector_add has no shared memory: no worst-ops table)
"$KILN" run recipes/vector_add.lua --sim --set n=1000 --profile >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 2 ] && head -1 "$tmp/out" | grep -q "sim: max rel err .* PASS" &&
   sed -n 2p "$tmp/out" | grep -q "^profile vector_add \[n=1000\]: smem 0 requests, 0 wavefronts (0 conflicts); gmem [0-9]* requests, [0-9]* sectors, 12000 B (12000 B unique); barriers 0, mma 0, ldmatrix 0, cp.async 0 B, tma 0 B, shuffles 0$"
then ok table; else bad "table (exit $rc): $(cat "$tmp/out" "$tmp/err")"; fi

# the table of a kernel with shared memory: its two loops (one row of 64 programs each: one iteration per
# block), the worst-ops header and at most five rows
"$KILN" run recipes/softmax.lua --sim --profile --set M=64 --set N=100 >"$tmp/out" 2>"$tmp/err"; rc=$?
rows=$(sed -n '6,$p' "$tmp/out" | wc -l)
if [ $rc -eq 0 ] && sed -n 3p "$tmp/out" | grep -q "^  loop at recipes/softmax.lua:[0-9]* (for %[0-9]*): 1 iterations per block$" &&
   sed -n 4p "$tmp/out" | grep -q "^  loop at recipes/softmax.lua:[0-9]* (for[ %0-9]*): 1 iterations per block$" &&
   sed -n 5p "$tmp/out" | grep -q "^  op  *line  *requests  *wavefronts  *conflicts  *wf/req$" &&
   [ "$rows" -ge 1 ] && [ "$rows" -le 5 ]; then ok table-ops; else bad "table-ops (exit $rc): $(cat "$tmp/out" "$tmp/err")"; fi

# JSON: stdout is the JSON alone, the result line goes to stderr
keys="smem_requests smem_wavefronts gmem_requests gmem_sectors gmem_bytes gmem_unique_bytes barriers mma ldmatrix cp_async_bytes shuffles"
"$KILN" run recipes/vector_add.lua --sim --set n=1000 --profile=json >"$tmp/json" 2>"$tmp/err"; rc=$?
if [ $rc -eq 0 ] && python3 -m json.tool "$tmp/json" >/dev/null && grep -q "PASS" "$tmp/err" &&
   python3 - "$tmp/json" $keys <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
keys = sys.argv[2:]
assert all(k in d for k in keys), "totals"
assert d["variant"] == "vector_add [n=1000]" and d["gmem_unique_bytes"] == 12000
assert d["ops"] and all(set(keys) - {"gmem_unique_bytes"} <= set(o) and "op" in o and "line" in o for o in d["ops"])
assert all(o["line"].startswith("recipes/vector_add.lua:") for o in d["ops"])
for k in set(keys) - {"gmem_unique_bytes"}:
    assert sum(o[k] for o in d["ops"]) == d[k], k
PY
then ok json; else bad "json (exit $rc): $(cat "$tmp/json" "$tmp/err")"; fi

# --check-all: one JSON object per line, one per variant
"$KILN" run recipes/vector_add.lua --sim --check-all --profile=json >"$tmp/json" 2>"$tmp/err"; rc=$?
n=$(grep -c "PASS" "$tmp/err")
if [ $rc -eq 0 ] && [ "$n" -ge 2 ] && [ "$(wc -l <"$tmp/json")" -eq "$n" ] &&
   python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/json"
then ok check-all; else bad "check-all (exit $rc): $(cat "$tmp/json" "$tmp/err")"; fi

check() { # check NAME WANT-FIRST-LINE -- command...: exit 2 and the message
  name=$1 want=$2; shift 3
  out=$("$@" 2>&1); rc=$?
  first=$(printf '%s\n' "$out" | head -1)
  if [ $rc -eq 2 ] && [ "$first" = "$want" ]; then ok "$name"; else printf 'FAIL %s: exit %s\n  got  %s\n  want %s\n' "$name" $rc "$first" "$want"; fail=1; fi
}
check bad-value "kiln run: --profile wants no value, 'table' or 'json', not xml" -- "$KILN" run recipes/vector_add.lua --sim --profile=xml
check no-sim "kiln run: recipes/vector_add.lua: the profile counts what the simulator runs: it needs --sim" -- "$KILN" run recipes/vector_add.lua --profile
check separate-value "kiln run: unexpected argument json" -- "$KILN" run recipes/vector_add.lua --sim --profile json
# one site per op: fftconv4's tables are stored by five put_shared calls at one line of fft.lua (store_complex), each
# op its own site (the second and later "store_shared #N"), so that the simulator never joins one op's
# lanes to another's request (docs/profiling.md); the line's stores are conflict-free
"$KILN" run recipes/fftconv4.lua --sim --set B=1 --set H=1 --set N=512 --profile=json >"$tmp/json" 2>"$tmp/err"; rc=$?
PUT=$(grep -n "k.store_shared(bufs.re, k.cast(z.re, ty))" recipes/lib/fft.lua | cut -d: -f1)
if [ $rc -eq 0 ] && python3 - "$tmp/json" "recipes/lib/fft.lua:$PUT" <<'PY'
import json, sys
ops = json.load(open(sys.argv[1]))["ops"]
at = [o for o in ops if o["line"] == sys.argv[2] and o["op"].startswith("store_shared")]
names = sorted(o["op"] for o in at)
assert names == ["store_shared"] + ["store_shared #%d" % k for k in range(2, len(names) + 1)] and len(names) >= 5, names
assert all(o["smem_wavefronts"] == o["smem_ideal_wavefronts"] for o in at), at
PY
then ok one-site-per-op; else bad "one-site-per-op (exit $rc): $(cat "$tmp/err")"; fi

exit $fail
