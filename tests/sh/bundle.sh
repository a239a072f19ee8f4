#!/bin/sh
# bundle.sh - the device bundle builds (tools/make-bundle.sh, static link), fits in 60 MiB, its kiln
# needs no LLVM, Lua or libffi shared library, and it runs a recipe on the simulator from inside the
# bundle. Slow (a static LLVM link): KILN_SKIP_BUNDLE_TEST=1 skips it.
set -u
if [ "${KILN_SKIP_BUNDLE_TEST:-0}" = 1 ]; then
  echo "bundle: skipped (KILN_SKIP_BUNDLE_TEST=1)"
  exit 0
fi
: "${KILN_BUILD:?KILN_BUILD must name the build directory}"
# The static build stays between runs (it is slow); the bundle, its results and cache are this run's.
BUNDLE_BUILD="$KILN_BUILD/bundle-test/build"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/kiln-bundle"
fail=0

if ! KILN_BUNDLE_BUILD="$BUNDLE_BUILD" JOBS=2 sh tools/make-bundle.sh "$OUT" > "$WORK/make.log" 2>&1; then
  echo "FAIL: make-bundle.sh:"; tail -n 30 "$WORK/make.log"; exit 1
fi

# 1. size: 60 MiB at most
kib=$(du -sk "$OUT" | cut -f1)
echo "bundle: $kib KiB"
[ "$kib" -le $((60 * 1024)) ] || { echo "FAIL: the bundle is $kib KiB, over 60 MiB"; fail=1; }

# 2. contents
for f in kiln check-gpu BUILD_INFO recipes/vector_add.lua; do
  [ -e "$OUT/$f" ] || { echo "FAIL: the bundle lacks $f"; fail=1; }
done
[ -x "$OUT/check-gpu" ] || { echo "FAIL: check-gpu is not executable"; fail=1; }
grep -q '^commit=' "$OUT/BUILD_INFO" || { echo "FAIL: BUILD_INFO has no commit"; fail=1; }

# 3. no LLVM, Lua or libffi shared library (ldd lists what the loader would bring in)
deps=$(ldd "$OUT/kiln" 2>&1)
if echo "$deps" | grep -i -E "llvm|lua|ffi"; then echo "FAIL: kiln links the libraries above dynamically"; fail=1; fi
if echo "$deps" | grep -q "not found"; then echo "FAIL: ldd: $deps"; fail=1; fi
if readelf -S "$OUT/kiln" | grep -q '\.symtab'; then echo "FAIL: kiln is not stripped"; fail=1; fi

# 4. it works from the bundle: version, and a recipe on the simulator (no driver)
"$OUT/kiln" version | grep -q "^kiln " || { echo "FAIL: kiln version"; fail=1; }
out=$(cd "$OUT" && KILN_CUDA_LIB=/nonexistent KILN_CACHE_DIR="$WORK/cache" ./kiln run recipes/vector_add.lua 2>&1)
echo "$out" | grep -q " sim: .* PASS" || { echo "FAIL: the bundled kiln does not run vector_add:"; echo "$out"; fail=1; }

# 5. check-gpu refuses to run without a GPU and says why
out=$(cd "$OUT" && KILN_CUDA_LIB=/nonexistent ./check-gpu "$WORK/results-no-gpu" 2>&1); st=$?
[ $st != 0 ] && echo "$out" | grep -q "no GPU" || { echo "FAIL: check-gpu without a GPU: status $st"; echo "$out"; fail=1; }

# 6. check-gpu on a fake driver whose kernels do nothing: every check fails, and results.md says so
#    with the device, the commit and one row per check
fake="$KILN_BUILD/libkiln_fake_cuda.so"
if [ ! -f "$fake" ]; then echo "FAIL: $fake is not built"; fail=1; else
  out=$(cd "$OUT" && KILN_CUDA_LIB="$fake" KILN_BENCH_REPS=3 ./check-gpu "$WORK/results" 2>&1); st=$?
  md="$WORK/results/results.md"
  [ $st != 0 ] || { echo "FAIL: check-gpu passed kernels that never ran"; fail=1; }
  for want in "| device | Fake H100" "| commit | $(sed -n 's/^commit=//p' "$OUT/BUILD_INFO") |" \
              "| vector_add \[n=1025\] | sm_90a | inf | 1e-05 | FAIL | 500.0 us |" "Result: FAILURES"; do
    grep -q -- "$want" "$md" 2>/dev/null || { echo "FAIL: results.md lacks: $want"; fail=1; }
  done
fi

[ $fail = 0 ] && echo "bundle: ok"
exit $fail
