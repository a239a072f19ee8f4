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
# A computed default may read the target (its second argument): attention at D = 64 takes 128x128
# tiles with 8 warps where the target has warpgroup MMAs, 128x64 with 4 warps elsewhere; the grid
# and the threads follow the tile the kernel was built with.
for t in sm_80 sm_90a; do
  "$KILN" compile recipes/attention.lua --target $t --set Sq=1000 --emit launch > "$tmp/t_$t.json" || exit 1
done
python3 - "$tmp" <<'PY' || exit 1
import json, sys
d = sys.argv[1]
a, h = (json.load(open("%s/t_%s.json" % (d, t))) for t in ("sm_80", "sm_90a"))
s = a["settings"]; assert (s["BLOCK_M"], s["BLOCK_N"], s["warps"]) == ("128", "64", "4"), s
assert a["threads"] == 128 and a["grid"][0] == 8, (a["threads"], a["grid"])
s = h["settings"]; assert (s["BLOCK_M"], s["BLOCK_N"], s["warps"]) == ("128", "128", "8"), s
assert h["threads"] == 256 and h["grid"][0] == 8, (h["threads"], h["grid"])
print("ok   launch settings follow the target: sm_80 128x64 4 warps, sm_90a 128x128 8 warps")
PY
