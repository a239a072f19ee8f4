#!/bin/sh
# `kiln run --check-all` with --set (compiler/api/run.c, settings_for; docs/runtime.md): each check
# entry's own values go on top of the settings, the rest stay as set. softmax's five checks give
# sizes, one of them BLOCK = 256 as well: with --set BLOCK=2048 --set warps=2 every check runs on 2
# warps, four with BLOCK = 2048 and that one with 256.
set -u
fail() { echo "FAIL: $*"; exit 1; }
out=$("$KILN" run recipes/softmax.lua --sim --check-all --set BLOCK=2048 --set warps=2 2>&1) || fail "kiln run: $out"
n=$(printf '%s\n' "$out" | grep -c '^softmax \[.*PASS')
[ "$n" -eq 5 ] || fail "expected 5 passing checks, got $n: $out"
[ "$(printf '%s\n' "$out" | grep -c 'warps=2\]')" -eq 5 ] || fail "a check did not run on 2 warps: $out"
[ "$(printf '%s\n' "$out" | grep -c 'BLOCK=2048')" -eq 4 ] || fail "the set BLOCK did not reach four checks: $out"
printf '%s\n' "$out" | grep -q '^softmax \[M=5 N=3000 BLOCK=256 warps=2\]' || fail "the entry's own BLOCK = 256 lost: $out"
echo "ok   --check-all keeps --set under each entry's own values (5 checks, warps=2)"
