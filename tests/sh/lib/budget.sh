# shellcheck shell=sh disable=SC2154,SC2034  # $tmp and fail belong to the sourcing script
# Sourced by tests/sh/*.sh (`. tests/sh/lib/budget.sh`, after $KILN, $tmp and fail are set): the
# instruction budget of a kernel's MMA loop, a static count (`kiln inspect`: non-MMA SASS
# instructions per MMA, or per m16n8 MMA of work where the loop has warpgroup MMAs), never a time.
# It needs ptxas and nvdisasm (KILN_NVDISASM, or bench/.venv's from `make vs-triton`); without them
# `budget_tools` says so and returns 1.
#   budget_tools                      finds nvdisasm and ptxas; 1 (with a note) when one is missing
#   budget RECIPE TARGET MAX SETTINGS...
#                                     ok when the count is at most MAX
budget_tools() {
  if [ -z "${KILN_NVDISASM:-}" ]; then
    for d in bench/.venv/lib/python3*/site-packages/nvidia/cu*/bin/nvdisasm; do [ -x "$d" ] && KILN_NVDISASM=$d; done
  fi
  p=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
  if [ -z "$p" ] || [ -z "${KILN_NVDISASM:-}" ] || [ ! -x "$KILN_NVDISASM" ]; then
    echo "note: no ptxas or nvdisasm (KILN_NVDISASM, bench/.venv): the MMA loop's instruction budget is not checked"
    return 1
  fi
  export KILN_NVDISASM
}

budget() {
  r=$1 t=$2 max=$3; shift 3
  sets=""; for s in "$@"; do sets="$sets --set $s"; done
  # shellcheck disable=SC2086
  "$KILN" inspect "$r" --target "$t" $sets --no-cache > "$tmp/insp" 2>&1
  # per m16n8 MMA of work where the loop has warpgroup MMAs (an HGMMA .64xN counts N/8), else per MMA
  n=$(sed -n 's/.*non-MMA instructions per m16n8 MMA of work: \([0-9.]*\).*/\1/p' "$tmp/insp")
  [ -n "$n" ] || n=$(sed -n 's/.*non-MMA instructions per MMA: \([0-9.]*\).*/\1/p' "$tmp/insp")
  if [ -z "$n" ]; then echo "FAIL inspect $r $t $*: no MMA loop count: $(head -n 3 "$tmp/insp")"; fail=1; return; fi
  if awk -v n="$n" -v m="$max" 'BEGIN { exit !(n <= m) }'; then
    echo "ok   budget $r $t $*: $n non-MMA instructions per MMA (at most $max)"
  else
    echo "FAIL budget $r $t $*: $n non-MMA instructions per MMA, more than $max"; fail=1
  fi
}
