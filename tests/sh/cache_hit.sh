#!/bin/sh
# A second compile of the same variant is a kernel-cache hit with identical PTX; a different variant
# (another --set, another target) is a miss; a corrupt entry is a miss, never trusted; a rebuilt
# compiler (another executable time) misses rather than serve the old build's PTX, and so does another
# LLVM pass pipeline (KILN_LLVM_PASSES). A bad
# KILN_CACHE_MAX_MB fails the compile with a message naming the variable. `-v` gives a compile's steps'
# CPU times, and none for a hit.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export KILN_CACHE_DIR="$tmp/cache"
fail=0
run() {
  "$KILN" compile recipes/softmax.lua --emit ptx -v "$@" 2>"$tmp/err" >"$tmp/ptx.$#"
  sed -n 's/.*kernel cache \([a-z]*\).*/\1/p' "$tmp/err"
}
# -v: a compile that ran gives its steps' CPU times, a hit none
steps() { grep -q 'thread CPU ms: lowering [0-9.]*, LLVM passes [0-9.]*, PTX emission [0-9.]*$' "$tmp/err" && echo yes || echo no; }
check() { [ "$2" = "$3" ] && echo "ok   $1: $2" || { echo "FAIL $1: expected $3, got '$2'"; fail=1; }; }
check first    "$(run --target sm_80)" miss
check first-steps "$(steps)" yes
cp "$tmp/ptx.2" "$tmp/first.ptx"
check second   "$(run --target sm_80)" hit
check second-steps "$(steps)" no
cmp -s "$tmp/ptx.2" "$tmp/first.ptx" || { echo "FAIL: cached PTX differs"; fail=1; }
check other-set "$(run --target sm_80 --set BLOCK=256)" miss
check other-target "$(run --target sm_90a)" miss
for f in "$tmp"/cache/*; do [ -f "$f" ] && printf 'garbage' > "$f"; done
check corrupt  "$(run --target sm_80)" miss
# a rebuilt compiler: the same program with a new modification time
cp "$KILN" "$tmp/kiln-copy"
KILN="$tmp/kiln-copy"
check copy-first "$(run --target sm_75)" miss
check copy-again "$(run --target sm_75)" hit
touch -d '+1 minute' "$tmp/kiln-copy"
check rebuilt "$(run --target sm_75)" miss
# another LLVM pass pipeline (KILN_LLVM_PASSES, docs/compile-speed.md) is another key
check passes-default "$(run --target sm_86)" miss
check passes-kiln "$(KILN_LLVM_PASSES=kiln run --target sm_86)" miss
check passes-kiln-again "$(KILN_LLVM_PASSES=kiln run --target sm_86)" hit
out=$(KILN_CACHE_MAX_MB=lots "$KILN" compile recipes/softmax.lua --emit ptx --target sm_80 2>&1 >/dev/null)
rc=$?
case "$rc:$out" in
  1:*"KILN_CACHE_MAX_MB='lots'"*) echo "ok   bad KILN_CACHE_MAX_MB: $out" ;;
  *) echo "FAIL bad KILN_CACHE_MAX_MB: exit $rc, '$out'"; fail=1 ;;
esac
exit $fail
