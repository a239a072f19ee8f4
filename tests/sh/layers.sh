#!/bin/sh
# layers.sh - no #include crosses a layer upward (docs/architecture.md). Every quoted include in the
# source folders is resolved against the including file's folder (or the source root) and its layer
# must be in the including layer's list below. A new folder must be added here to be allowed anything.
set -u
cd "${KILN_SRC:-.}" || exit 1

# LAYER: the layers its files may include (itself always).
allowed() {
  case "$1" in
  ir) echo "ir" ;;
  target) echo "ir" ;;
  compiler/passes) echo "ir target" ;;
  compiler/lua) echo "ir target" ;;
  codegen) echo "ir target compiler/passes" ;;
  sim) echo "ir target compiler/passes codegen" ;;
  runtime) echo "" ;;
  include) echo "" ;;
  compiler/ref) echo "ir target compiler/lua include" ;;
  compiler/api) echo "ir target compiler/passes compiler/lua codegen sim runtime compiler/ref include" ;;
  compiler) echo "include" ;;
  *) echo "?" ;;
  esac
}

# The layer of a path relative to the source root: the longest listed folder that holds it.
layer_of() {
  for l in compiler/passes compiler/lua compiler/ref compiler/api ir target codegen sim \
    runtime include; do
    case "$1" in "$l"/*) echo "$l"; return ;; esac
  done
  echo "${1%/*}"
}

fail=0
n=0
for f in $(find ir target codegen sim runtime include compiler -name '*.[ch]' -o -name '*.def' 2>/dev/null | sort); do
  from=$(layer_of "$f")
  ok=$(allowed "$from")
  if [ "$ok" = "?" ]; then
    echo "FAIL $f: folder '$from' is not in the layer list of tests/sh/layers.sh"; fail=1; continue
  fi
  dir=${f%/*}
  for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
    n=$((n + 1))
    if [ -e "$dir/$inc" ]; then
      p=$(realpath -m --relative-to=. "$dir/$inc")
    elif [ -e "$inc" ]; then
      p=$inc
    else
      echo "FAIL $f: include \"$inc\" not found"; fail=1; continue
    fi
    to=$(layer_of "$p")
    [ "$to" = "$from" ] && continue
    # runtime/ implements the pack loader's public header and may include that one file of include/.
    [ "$from" = runtime ] && [ "$p" = include/kiln_rt.h ] && continue
    case " $ok " in
    *" $to "*) ;;
    *) echo "FAIL $f includes $p: layer '$from' may not include '$to' (allowed: ${ok:-none})"; fail=1 ;;
    esac
  done
done
[ "$n" -gt 50 ] || { echo "FAIL only $n includes seen: is the source root right?"; fail=1; }
[ $fail = 0 ] && echo "PASS layers: $n includes, none upward"
exit $fail
