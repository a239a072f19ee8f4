#!/bin/sh
# occupancy_calc.sh - tests/inspect/occupancy_calc.txt is what CUDA's occupancy calculator says:
# rebuilds tests/inspect/occupancy_calc.cpp against cuda_occupancy.h where it and a C++ compiler are
# installed and compares its output with the committed file (which tests/unit/test_inspect.c checks
# kiln_occupancy_get against). Skipped, said, without them.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
hdr=
for d in /usr/local/cuda/include /usr/local/cuda-*/include /usr/local/include /usr/include; do
  [ -f "$d/cuda_occupancy.h" ] && { hdr=$d; break; }
done
CXX=$(command -v c++ || command -v g++ || command -v clang++ || true)
if [ -z "$hdr" ] || [ -z "$CXX" ]; then
  echo "skip: cuda_occupancy.h or a C++ compiler not installed (header: '${hdr}', compiler: '${CXX}')"
  exit 0
fi
if ! "$CXX" -std=c++17 -I"$hdr" tests/inspect/occupancy_calc.cpp -o "$tmp/occ" 2> "$tmp/err"; then
  echo "FAIL cannot build occupancy_calc.cpp against $hdr/cuda_occupancy.h:"; head -n 5 "$tmp/err"; exit 1
fi
"$tmp/occ" > "$tmp/out" || { echo "FAIL occupancy_calc exited $?"; exit 1; }
if ! cmp -s "$tmp/out" tests/inspect/occupancy_calc.txt; then
  echo "FAIL $hdr/cuda_occupancy.h disagrees with tests/inspect/occupancy_calc.txt:"
  diff "$tmp/out" tests/inspect/occupancy_calc.txt | head -n 10
  exit 1
fi
echo "ok   $(wc -l < "$tmp/out") cases: $hdr/cuda_occupancy.h agrees with tests/inspect/occupancy_calc.txt"
