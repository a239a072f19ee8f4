#!/bin/sh
# make-bundle.sh OUTDIR - the device bundle: a static, stripped kiln (LLVM, Lua, libffi, SQLite,
# zlib and zstd linked in; only libc and libm shared), the recipes, check-gpu and the GPU benchmarks
# (bench/*.py), in one directory to copy to a GPU machine that has nothing but the CUDA driver. (The
# compile-speed benchmark is a CPU benchmark and stays out: a second static LLVM would double the
# bundle.)
#
#   sh tools/make-bundle.sh dist/kiln-bundle
#
# Environment: KILN_BUNDLE_BUILD  the separate build directory (default: build-bundle)
#              JOBS               parallel build jobs (default: 2)
# The bundle must stay under 60 MiB and `ldd kiln` must list no LLVM, Lua or libffi library
# (tests/sh/bundle.sh checks both).
set -eu
OUT=${1:?usage: make-bundle.sh OUTDIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${KILN_BUNDLE_BUILD:-$SRC/build-bundle}
JOBS=${JOBS:-2}
LIMIT_MIB=60

echo "make-bundle: static build in $BUILD"
mkdir -p "$BUILD"
cmake -S "$SRC" -B "$BUILD" -DKILN_STATIC=ON -DCMAKE_BUILD_TYPE=Release > "$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log"; exit 1; }
rm -f "$BUILD/configure.log"
cmake --build "$BUILD" -j"$JOBS" --target kiln

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$BUILD/kiln" "$OUT/kiln"
strip "$OUT/kiln"
cp -R "$SRC/recipes" "$OUT/recipes"

cp "$SRC/tools/check-gpu" "$OUT/check-gpu"
mkdir -p "$OUT/bench"
cp "$SRC"/bench/*.py "$OUT/bench/" # GPU benchmarks (kiln against cuBLAS, SDPA), run by check-gpu
chmod +x "$OUT/check-gpu" "$OUT/kiln"

commit=$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git -C "$SRC" diff --quiet HEAD -- 2>/dev/null || commit="$commit+local"
{
  echo "kiln_version=$("$OUT/kiln" version | sed 's/^kiln //')"
  echo "commit=$commit"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host=$(uname -sm)"
} > "$OUT/BUILD_INFO"

size=$(du -sk "$OUT" | cut -f1)
echo "make-bundle: $OUT: $((size / 1024)) MiB (limit $LIMIT_MIB MiB)"
if [ "$size" -gt $((LIMIT_MIB * 1024)) ]; then
  echo "make-bundle: the bundle is over $LIMIT_MIB MiB" >&2
  exit 1
fi
