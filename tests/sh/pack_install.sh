#!/bin/sh
# pack_install.sh - the installed kiln, used from outside the tree: `cmake --install` into a fresh
# prefix, then examples/pack_c built against it twice, with pkg-config (libkiln_rt shared) and with
# CMake's find_package(kiln) (libkiln_rt static), and run on a pack through the fake CUDA driver; a
# program linked with `pkg-config kiln` (libkiln) prints the version. Skipped (77) without pkg-config
# or cmake.
set -u
if [ "${KILN_SANITIZED:-0}" = 1 ]; then # the sanitizers' runtime is in no such program
  echo "skip: a sanitizer build: this test builds a program outside kiln against the installed libraries"; exit 77
fi
: "${KILN_BUILD:?KILN_BUILD must name the build directory}"
for tool in pkg-config cmake cc; do
  command -v $tool > /dev/null || { echo "pack_install: skipped: no $tool"; exit 77; }
done
fake="$KILN_BUILD/libkiln_fake_cuda.so"
[ -f "$fake" ] || { echo "FAIL: no fake driver at $fake"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
fail=0

cmake --install "$KILN_BUILD" --prefix "$prefix" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
for f in bin/kiln include/kiln.h include/kiln_rt.h lib/libkiln_rt.a lib/libkiln_rt.so lib/libkiln.so \
  lib/pkgconfig/kiln.pc lib/pkgconfig/kiln-rt.pc lib/cmake/kiln/kilnConfig.cmake; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed"; fail=1; }
done
# The loader stands alone: no LLVM, Lua or libffi behind libkiln_rt.
if ldd "$prefix/lib/libkiln_rt.so" | grep -Ei 'llvm|lua|ffi'; then echo "FAIL: libkiln_rt.so needs the above"; fail=1; fi

"$prefix/bin/kiln" pack recipes/vector_add.lua recipes/softmax.lua --targets sm_80,sm_90a \
  --shapes vector_add:n=1000,BLOCK=256 --shapes vector_add:n=1000000 -o "$tmp/kernels.kpack" \
  --header "$tmp/kernels.h" || exit 1
mkdir "$tmp/src" && cp examples/pack_c/main.c examples/pack_c/CMakeLists.txt "$tmp/kernels.h" "$tmp/src/"

# check NAME BINARY: bucket choice, grid and a launch through the fake driver; a truncated pack refused.
check() {
  out=$(KILN_CUDA_LIB="$fake" "$2" "$tmp/kernels.kpack" 5000 0x1000 0x2000 0x3000 2>&1)
  case "$out" in
  *"bucket 0 (BLOCK=256,warps=4), grid 20 x 1 x 1, 128 threads"*launched*) echo "ok   $1: $out" | head -1 ;;
  *) echo "FAIL $1: $out"; fail=1 ;;
  esac
  out=$(KILN_CUDA_LIB="$fake" "$2" "$tmp/kernels.kpack" 900000 0x1000 0x2000 0x3000 2>&1)
  case "$out" in *"bucket 1 (BLOCK=1024,warps=4), grid 879 x 1 x 1"*) ;; *) echo "FAIL $1: $out"; fail=1 ;; esac
  head -c 1000 "$tmp/kernels.kpack" > "$tmp/short.kpack"
  out=$(KILN_CUDA_LIB="$fake" "$2" "$tmp/short.kpack" 10 1 2 3 2>&1) && { echo "FAIL $1: a truncated pack ran"; fail=1; }
  case "$out" in *"$tmp/short.kpack: "*truncated*) ;; *) echo "FAIL $1: truncated pack: $out"; fail=1 ;; esac
}

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -o "$tmp/demo_pc" "$tmp/src/main.c" -I"$tmp/src" $(pkg-config --cflags --libs kiln-rt) -Wl,-rpath,"$prefix/lib" \
  || { echo "FAIL: pkg-config build"; exit 1; }
check pkg-config "$tmp/demo_pc"

cmake -S "$tmp/src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cmake.log" 2>&1 &&
  cmake --build "$tmp/cmake-build" > "$tmp/cmake-build.log" 2>&1 || { cat "$tmp"/cmake*.log; exit 1; }
check find_package "$tmp/cmake-build/pack_demo"

printf '#include <kiln.h>\n#include <stdio.h>\nint main(void) { printf("kiln %%s\\n", kiln_version()); return 0; }\n' \
  > "$tmp/version.c"
cc -o "$tmp/version" "$tmp/version.c" $(pkg-config --cflags --libs kiln) -Wl,-rpath,"$prefix/lib" &&
  [ "$("$tmp/version")" = "kiln $("$prefix/bin/kiln" version | cut -d' ' -f2)" ] ||
  { echo "FAIL: a program linked with pkg-config kiln"; fail=1; }
[ $fail = 0 ] && echo "ok   installed kiln used from outside the tree"
exit $fail
