#!/bin/sh
# The GEMM recipe through ptxas:
#   1. ptxas -v on the default configuration of each dtype, on sm_80 and sm_90a: no spills; the
#      register and spill report of each is printed (and of the tiles bench/gemm.py runs, as notes);
#   2. every variant in recipes/matmul.lua's `checks` list (read from the recipe, one entry per line)
#      compiles and ptxas accepts it on every target row that has its types (bf16 needs sm_80+, fp8
#      sm_89+), plus fp8 variants of the defaults on the fp8 rows;
#   3. bf16 on sm_75 and e4m3 on sm_86 are refused with one line naming the op and the target;
#   4. bench/gemm.py --plan builds every variant the GPU benchmark would run, on each target row
#      (when python3 is installed);
#   5. the instruction budget of the MMA loop (`kiln inspect`: non-MMA SASS instructions per MMA, a
#      static count) for the default f16 tile (BLOCK_K = 64) and BLOCK_K = 32, and for trans_b, on
#      sm_80 and sm_90a (mma.sync and
#      wgmma, per MMA instruction of each), when a SASS
#      disassembler is found (KILN_NVDISASM, or nvidia-cuda-nvdisasm in bench/.venv); skipped with
#      a note otherwise.
# Without ptxas the PTX is still emitted for every variant (and the spill report is skipped).
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
R=recipes/matmul.lua
PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
[ -n "$PTXAS" ] || echo "note: ptxas not installed: PTX only, no resource report"

sets_of() { for s in "$@"; do printf ' --set %s' "$s"; done; }

# ptxas -v of one variant: "REGS SPILL_BYTES", empty on failure (the message in $tmp/out).
resources() { # resources TARGET SETTINGS...
  t=$1; shift
  # shellcheck disable=SC2046
  "$KILN" compile $R --target "$t" $(sets_of "$@") --emit ptx --no-cache -o "$tmp/r.ptx" > "$tmp/out" 2>&1 || return
  "$PTXAS" -v -arch="$t" "$tmp/r.ptx" -o "$tmp/r.o" > "$tmp/out" 2>&1 || return
  regs=$(sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' "$tmp/out" | head -n 1)
  spill=$(sed -n 's/.* \([0-9]*\) bytes spill stores, \([0-9]*\) bytes spill loads.*/\1 \2/p' "$tmp/out" |
    awk '{ s += $1 + $2 } END { print s + 0 }')
  echo "$regs $spill"
}

report() { # report KIND TARGET SETTINGS...  (KIND: check = no spills allowed, note = print only)
  kind=$1 t=$2; shift 2
  r=$(resources "$t" "$@")
  if [ -z "$r" ]; then echo "FAIL ptxas -v $t $*: $(head -n 3 "$tmp/out")"; fail=1; return; fi
  set -- "$@"; regs=${r% *} spill=${r#* }
  echo "$kind $t $*: $regs registers, $spill bytes spilled"
  if [ "$kind" = check ] && [ "$spill" != 0 ]; then echo "FAIL spills $t $*"; fail=1; fi
}

has() { # has TARGET DTYPE: the row holds the type
  case $2 in
  bf16) [ "$1" != sm_75 ] ;;
  e4m3|e5m2) case $1 in sm_75|sm_80|sm_86) false ;; *) true ;; esac ;;
  *) true ;;
  esac
}

compile() { # compile TARGET SETTINGS...
  t=$1; shift
  emit=ptx; [ -n "$PTXAS" ] && emit=cubin
  # shellcheck disable=SC2046
  "$KILN" compile $R --target "$t" $(sets_of "$@") --emit $emit --no-cache -o "$tmp/k.$emit" > "$tmp/out" 2>&1 && return
  echo "FAIL $t $*: $(head -n 3 "$tmp/out")"; fail=1
}

# 1. resources of the defaults (and of the bench's tiles, as notes)
if [ -n "$PTXAS" ]; then
  for t in sm_80 sm_90a; do
    report check "$t" dtype=f16 out=f16
    report check "$t" dtype=bf16 out=bf16
    report check "$t" dtype=i8 out=i32
    [ $t = sm_90a ] && report check "$t" dtype=e4m3 out=f16
    report check "$t" dtype=f16 out=f16 bias=1 act=gelu alpha=0.5
    report note "$t" dtype=f16 out=f16 BLOCK_M=128 BLOCK_N=128 BLOCK_K=32 warps=8 stages=3
    report note "$t" dtype=f16 out=f16 BLOCK_M=128 BLOCK_N=256 BLOCK_K=32 warps=8 stages=3
  done
fi

# 2. every check on every row that has its types
checks=$(sed -n '/^  checks = {/,/^  },/p' $R | sed -n 's/^ *{ *\(.*[^ ]\) *},.*$/\1/p' | sed 's/ //g; s/"//g; s/,/ /g')
nchecks=$(echo "$checks" | grep -c .)
[ "$nchecks" -ge 10 ] || { echo "FAIL read only $nchecks checks from $R"; fail=1; }
for t in $("$KILN" targets); do
  echo "$checks" | while read -r c; do
    dt=$(echo "$c" | sed -n 's/.*dtype=\([a-z0-9]*\).*/\1/p')
    # shellcheck disable=SC2086
    has "$t" "${dt:-f16}" && compile "$t" $c
    echo "$fail" > "$tmp/fail"
  done
  [ "$(cat "$tmp/fail" 2>/dev/null)" = 1 ] && fail=1
  for dt in e4m3 e5m2; do has "$t" $dt && compile "$t" dtype=$dt out=f16; done
done
echo "$nchecks checks compiled for every target that has their types"

# 3. refusals, one line each
refuse() { # refuse PATTERN TARGET SETTINGS...
  pat=$1 t=$2; shift 2
  # shellcheck disable=SC2046
  if "$KILN" compile $R --target "$t" $(sets_of "$@") --emit ptx -o "$tmp/k.ptx" > "$tmp/out" 2>&1; then
    echo "FAIL $t $*: compiled, should be refused"; fail=1; return
  fi
  if [ "$(wc -l < "$tmp/out")" -ne 1 ] || ! grep -q -- "$pat" "$tmp/out"; then
    echo "FAIL $t $*: want one line matching '$pat', got: $(cat "$tmp/out")"; fail=1; return
  fi
  echo "ok   refused $t $*: $(cat "$tmp/out")"
}
refuse "matmul.lua:[0-9]*: op 'dot' needs bf16, which target sm_75 does not have" sm_75 dtype=bf16 out=bf16
refuse "matmul.lua:[0-9]*: op 'dot' needs .*, which target sm_86 does not have" sm_86 dtype=e4m3
refuse "matmul.lua:[0-9]*: out = i32 needs integer inputs" sm_80 out=i32

# 4. the benchmark's plan
if command -v python3 > /dev/null; then
  for t in sm_75 sm_80 sm_86 sm_89 sm_90a; do
    if ! python3 bench/gemm.py --plan --kiln "$KILN" --target $t > "$tmp/plan" 2>&1 || grep -q "refuses" "$tmp/plan"; then
      echo "FAIL bench/gemm.py --plan --target $t:"; grep -v "^[a-z0-9]* *M=.*: matmul" "$tmp/plan" | head -n 5; fail=1
    else
      echo "ok   bench/gemm.py --plan --target $t: $(grep -c ": matmul" "$tmp/plan") launches"
    fi
  done
fi
# 5. non-MMA instructions per MMA in the MMA loop: at most the budget (a count, never a time)
. tests/sh/lib/budget.sh
if budget_tools; then
  # mma.sync: measured with ptxas 13.0 (docs/gemm.md) at the default BLOCK_K = 64 0.81 and 0.94
  # (trans_b) on sm_80 and sm_90a; with BLOCK_K = 32 1.81 and 1.78 on sm_80, 1.84 and 1.78 on sm_90a;
  # sm_90a's default is wgmma (docs/hopper.md), so its mma.sync path is asked for
  budget $R sm_80 1.0
  budget $R sm_80 1.1 trans_b=1
  budget $R sm_80 2.0 BLOCK_K=32
  budget $R sm_80 2.0 BLOCK_K=32 trans_b=1
  # 8-bit B stored [K, N]: a 32-bit load, two shuffles and two prmt a register (7.81 and 8.12 when
  # measured; 10.12 and 10.31 with a shared load per byte)
  budget $R sm_80 8.5 dtype=i8 out=i32
  budget $R sm_89 8.5 dtype=e4m3 out=f32
  budget $R sm_90a 1.0 mma=mma_sync
  budget $R sm_90a 1.1 mma=mma_sync trans_b=1
  budget $R sm_90a 2.0 mma=mma_sync BLOCK_K=32
  # wgmma: one HGMMA.64x128x16 does the work of 16 HMMA.16816 (the budget is per m16n8 MMA of
  # work, budget.sh); measured at the sm_90a default BLOCK_K = 64 1.33 and 1.28 (trans_b); 1.88
  # with BLOCK_K = 32 (2.00 before the warp index from lane 0, 2.06 and 2.12 before the
  # descriptors' one add a step, 2.31 before the one-add start)
  budget $R sm_90a 1.45
  budget $R sm_90a 1.4 trans_b=1
  budget $R sm_90a 2.0 BLOCK_K=32
fi
exit $fail
