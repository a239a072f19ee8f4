#!/bin/sh
# scratch.sh DIR COMMAND [ARG...] - runs one test with scratch space of its own, so that tests run in
# parallel (ctest -j) share no folder: COMMAND runs with TMPDIR=DIR/tmp, emptied first, and
# KILN_CACHE_DIR=DIR/cache, the test's own kernel cache. The cache stays between runs (its keys name
# the compiler build, so a rebuilt kiln never gets an old entry); what a failed test left in tmp stays
# until it runs again. CMake gives every test its own DIR, named after the test.
set -eu
dir=${1:?usage: scratch.sh DIR COMMAND [ARG...]}
shift
rm -rf "$dir/tmp"
mkdir -p "$dir/tmp" "$dir/cache"
TMPDIR="$dir/tmp" KILN_CACHE_DIR="$dir/cache"
export TMPDIR KILN_CACHE_DIR
exec "$@"
