#!/bin/sh
# `kiln compile --emit launch` gives valid JSON with the facts a host program needs (kernel, threads,
# shared bytes, grid, arguments in order); `--emit llvm` works on a cache hit (the cache keeps only PTX).
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export KILN_CACHE_DIR="$tmp/cache"
"$KILN" compile recipes/softmax.lua --target sm_80 --set M=37 --set N=781 --emit launch > "$tmp/l.json" || exit 1
python3 - "$tmp/l.json" <<'PY' || exit 1
import json, sys
j = json.load(open(sys.argv[1]))
assert j["kernel"] == "softmax" and j["target"] == "sm_80", j
assert j["threads"] % 32 == 0 and j["threads"] > 0 and j["shared_bytes"] >= 0, j
assert j["grid"] == [37, 1, 1], j["grid"]
names = [a["name"] for a in j["args"]]
assert names == ["x", "y", "M", "N"], names
assert j["args"][0]["shape"] == [37, 781] and j["args"][1]["role"] == "out", j["args"]
assert j["args"][3]["value"] == 781, j["args"][3]
print("ok   launch json:", j["kernel"], j["grid"], j["threads"], "threads")
PY
"$KILN" compile recipes/softmax.lua --target sm_80 --emit ptx > /dev/null || exit 1
"$KILN" compile recipes/softmax.lua --target sm_80 --emit ptx -v 2>&1 >/dev/null | grep -q hit || { echo "FAIL: no cache hit"; exit 1; }
"$KILN" compile recipes/softmax.lua --target sm_80 --emit llvm | grep -q "define" || { echo "FAIL: --emit llvm after a cache hit"; exit 1; }
echo "ok   --emit llvm with a warm cache"
