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
# A test that dies at once, for every test alike, is most often a missing compiler (a build still
# linking it, or another build folder's path): say so instead of failing in silence.
if [ -n "${KILN:-}" ] && [ ! -x "$KILN" ]; then
  echo "scratch.sh: the compiler \$KILN=$KILN is not an executable file (is the build complete?)" >&2
  exit 1
fi
exec "$@"
