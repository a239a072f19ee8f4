#!/bin/sh
# scratch.sh DIR COMMAND [ARG...] - runs one test with scratch space of its own, so that tests run in
# parallel (ctest -j) share no folder: DIR is emptied, then COMMAND runs with TMPDIR=DIR/tmp and
# KILN_CACHE_DIR=DIR/cache (the kernel cache). CMake gives every test its own DIR, named after the
# test; what a failed test left there stays until it runs again.
set -eu
dir=${1:?usage: scratch.sh DIR COMMAND [ARG...]}
shift
rm -rf "$dir"
mkdir -p "$dir/tmp" "$dir/cache"
TMPDIR="$dir/tmp" KILN_CACHE_DIR="$dir/cache"
export TMPDIR KILN_CACHE_DIR
exec "$@"
