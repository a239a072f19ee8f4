#!/bin/sh
# run.sh BUILD SECONDS - runs each libFuzzer target of the sanitizer build for SECONDS, all at once.
#
# The seed corpora are copied into BUILD/fuzz/<target>/corpus, which keeps what each run learns for
# the next one; the repository's files are never written. IR seeds: tests/fuzz/corpus/ir/ (one
# kernel each, split from the lit tests). Recipe seeds: the recipes themselves, the bad recipes and
# the front end's lit recipes (recipes/, tests/recipes_bad/, tests/lit/lua/), as they are today. A crash,
# sanitizer report, leak, hang (a single input over -timeout seconds) or memory blow-up
# (-rss_limit_mb) fails the run: the reproducer is saved as BUILD/fuzz/<target>/crash-* (or
# timeout-*, oom-*, leak-*) and the end of the target's log is printed. Reproduce with
#     BUILD/fuzz_<target> BUILD/fuzz/<target>/crash-...
set -u
build=${1:?usage: run.sh BUILD SECONDS}
seconds=${2:?usage: run.sh BUILD SECONDS}
src=$(cd "$(dirname "$0")" && pwd)
# target, largest input (bytes): IR seeds are one kernel each; the largest recipe is about 10 KiB
# packs: the seeds are up to about 110 KiB
targets="ir:4096 recipe:12288 pack:131072"
pids=""
for t in $targets; do
  name=${t%%:*} max_len=${t#*:}
  work="$build/fuzz/$name"
  mkdir -p "$work/corpus"
  if [ "$name" = recipe ]; then
    # a seed's name says where it came from (lit/x.lua), so that two files called x.lua both go in
    for d in recipes tests/recipes_bad tests/lit/lua; do
      for f in "$src/../../$d"/*.lua; do cp "$f" "$work/corpus/$(basename "$d")-$(basename "$f")"; done
    done
  elif [ "$name" = pack ]; then
    r="$src/../../recipes"
    "$build/kiln" pack "$r/vector_add.lua" --targets sm_80,sm_90a --shapes n=10,BLOCK=128 --shapes n=100000 \
      --no-cubin -o "$work/corpus/vector_add.kpack" &&
      "$build/kiln" pack "$r/softmax.lua" "$r/attention.lua" --targets sm_80 --no-cubin -o "$work/corpus/two.kpack" ||
      { echo "fuzz_pack: cannot make the seed packs"; exit 1; }
  else
    cp "$src/corpus/$name"/* "$work/corpus/"
  fi
  "$build/fuzz_$name" "$work/corpus" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -rss_limit_mb=2048 -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$work/" \
    >"$work/log" 2>&1 &
  pids="$pids $!:$name"
done
fail=0
for p in $pids; do
  pid=${p%%:*} name=${p#*:}
  if wait "$pid"; then
    echo "fuzz_$name: ok, $(grep -o 'stat::number_of_executed_units: [0-9]*' "$build/fuzz/$name/log" | sed 's/.*: //') inputs in ${seconds}s"
  else
    echo "fuzz_$name: FAILED; the end of $build/fuzz/$name/log:"
    tail -n 60 "$build/fuzz/$name/log"
    ls "$build/fuzz/$name/" | grep -E '^(crash|timeout|oom|leak|slow-unit)-' | sed "s|^|  reproducer: $build/fuzz/$name/|"
    fail=1
  fi
done
exit $fail
