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
# "settings": every parameter as the kernel was built, knob defaults computed from the others
# resolved (attention's tiles follow D) and knobs set by hand kept.
for D in 128 256; do
  "$KILN" compile recipes/attention.lua --target sm_80 --set D=$D --set 'scale=0.5' --emit launch > "$tmp/a$D.json" || exit 1
done
"$KILN" compile recipes/attention.lua --target sm_80 --set D=128 --set BLOCK_M=64 --emit launch > "$tmp/pin.json" || exit 1
python3 - "$tmp" <<'PY' || exit 1
import json, sys
d = sys.argv[1]
a, b, c = (json.load(open("%s/%s.json" % (d, n)))["settings"] for n in ("a128", "a256", "pin"))
assert (a["D"], a["BLOCK_M"], a["BLOCK_N"], a["warps"], a["stages"], a["scale"]) == ("128", "128", "64", "8", "2", "0.5"), a
assert (b["BLOCK_M"], b["BLOCK_N"], b["warps"], b["stages"]) == ("64", "32", "4", "1"), b
assert (c["BLOCK_M"], c["warps"]) == ("64", "8"), c
assert json.load(open(d + "/a128.json"))["threads"] == 256
print("ok   launch settings: computed knob defaults resolved, a pinned knob kept")
PY
"$KILN" compile recipes/softmax.lua --target sm_80 --emit ptx > /dev/null || exit 1
"$KILN" compile recipes/softmax.lua --target sm_80 --emit ptx -v 2>&1 >/dev/null | grep -q hit || { echo "FAIL: no cache hit"; exit 1; }
"$KILN" compile recipes/softmax.lua --target sm_80 --emit llvm | grep -q "define" || { echo "FAIL: --emit llvm after a cache hit"; exit 1; }
echo "ok   --emit llvm with a warm cache"
