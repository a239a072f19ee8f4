#!/bin/sh
# GEMM on sm_90a through wgmma (compiler/passes/wgmma_plan.c, codegen/lower_dot_wgmma.c), on the
# simulator against the double reference, and through ptxas and nvdisasm when installed:
#   1. every `checks` entry of recipes/matmul.lua on sm_90a (those the wgmma pass takes run wgmma,
#      the rest mma.sync);
#   2. mma=wgmma (an error where wgmma is not taken) over the layouts: B stored K x N (MN-major,
#      128-byte panels) and N x K (K-major), rows of 32, 64, 128 and 256 bytes, one and two
#      warpgroups, N from 32 to 256, bf16, stages 1 to 4, ragged M, N and K, an epilogue; e4m3,
#      e5m2 and i8 (k32, B stored N x K) with f16, i32 and f16-with-gelu outputs;
#   3. the knob's other side (mma=mma_sync) and the refusals of mma=wgmma, each one line; one
#      wgmma group in flight across k-steps (inflight=1) over stages 3 to 5, ragged shapes, bf16 and
#      i8, sm_80 (where it changes nothing), and its refusal with 2 stages;
#   4. ptxas: the sm_90a default and inflight=1 compile with no spills (inflight: wait_group 1 in the
#      PTX, no serialisation note from ptxas; with min_blocks=2, .minnctapersm 2 and at most 128
#      registers); with KILN_NVDISASM, the default's SASS has HGMMA.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
R=recipes/matmul.lua
run() { # run LABEL -- kiln run arguments...
  label=$1; shift 2
  "$KILN" run "$@" || { echo "FAIL $label"; fail=1; }
}
w() { # w LABEL SETTINGS...: mma=wgmma on the simulator
  label=$1; shift
  a=""; for s in "$@"; do a="$a --set $s"; done
  # shellcheck disable=SC2086
  run "$label" -- $R --sim --target sm_90a --set mma=wgmma $a
}
run checks -- $R --sim --target sm_90a --check-all
w default M=130 N=150 K=70
w kmajor-b trans_b=1 M=136 N=72 K=64 stages=2
w bk64 BLOCK_K=64 M=129 N=100 K=200 stages=4
w bk128-panels BLOCK_K=128 M=70 N=130 K=300 stages=2
w one-warpgroup-n256 BLOCK_M=64 BLOCK_N=256 warps=4 M=64 N=300 K=48 stages=1
w n32 BLOCK_N=32 M=100 N=70 K=33
w n64-bk16 BLOCK_N=64 BLOCK_K=16 M=77 N=45 K=100
w bf16 dtype=bf16 out=bf16 M=65 N=140 K=80 trans_b=1 BLOCK_K=64
w epilogue bias=1 act=gelu alpha=0.75 out=f32 M=70 N=66 K=90
# 8-bit inputs (k32; B stored N x K: wgmma reads 8-bit operands K-major only)
run e4m3 -- $R --sim --target sm_90a --set mma=wgmma --set dtype=e4m3 --set trans_b=1 --set M=70 --set N=45 \
  --set K=99 --tol 2e-3
run e5m2-bk64 -- $R --sim --target sm_90a --set mma=wgmma --set dtype=e5m2 --set trans_b=1 --set BLOCK_K=64 \
  --set M=130 --set N=64 --set K=200 --set bias=1 --set act=relu --tol 2e-3
w i8 dtype=i8 out=i32 trans_b=1 M=40 N=72 K=99
w i8-bk128 dtype=i8 out=i32 trans_b=1 BLOCK_K=128 M=129 N=80 K=300 bias=1 act=relu stages=2
w i8-f16-out dtype=i8 out=f16 alpha=0.5 act=gelu trans_b=1 M=33 N=64 K=96
run mma_sync -- $R --sim --target sm_90a --set mma=mma_sync --set M=100 --set N=70 --set K=33
# one wgmma group in flight across k-steps (inflight=1: the pipeline refills a stage two iterations
# after reading it; the simulator reports a write into the operands of a group not yet waited for)
w inflight inflight=1 M=130 N=150 K=333
w inflight-4 inflight=1 stages=4 trans_b=1 M=200 N=64 K=500
w inflight-bk32-5 inflight=1 BLOCK_K=32 stages=5 M=64 N=256 K=70
w inflight-one-step inflight=1 M=64 N=64 K=16
w inflight-bf16 inflight=1 dtype=bf16 out=bf16 M=65 N=140 K=80 bias=1 act=gelu
w inflight-i8 inflight=1 dtype=i8 out=i32 trans_b=1 M=40 N=72 K=290
run inflight-sm80 -- $R --sim --target sm_80 --set inflight=1 --set M=70 --set N=66 --set K=90
if "$KILN" compile $R --target sm_90a --set inflight=1 --set stages=2 --emit ptx -o "$tmp/x.ptx" > "$tmp/out" 2>&1 ||
  ! grep -q "matmul.lua:[0-9]*: k.range: inflight needs stages >= 3" "$tmp/out"; then
  echo "FAIL inflight with 2 stages: $(cat "$tmp/out")"; fail=1
fi

refused() { # refused MESSAGE SETTINGS...: mma=wgmma fails with one line containing MESSAGE
  msg=$1; shift
  a=""; for s in "$@"; do a="$a --set $s"; done
  # shellcheck disable=SC2086
  if "$KILN" compile $R --target sm_90a --set mma=wgmma $a --emit ptx -o "$tmp/x.ptx" > "$tmp/out" 2>&1; then
    echo "FAIL mma=wgmma $*: accepted"; fail=1
  elif ! grep -q "matmul.lua:[0-9]*: op 'dot' with mma = \"wgmma\": .*$msg" "$tmp/out"; then
    echo "FAIL mma=wgmma $*: $(cat "$tmp/out")"; fail=1
  fi
}
refused "A is read transposed" trans_a=1
refused "B is read as stored, N-major, which wgmma has for 16-bit inputs only" dtype=e4m3
refused "f32 x f32 -> f32" dtype=f32 out=f32
refused "32 rows for 8 warps" BLOCK_M=32
if "$KILN" compile $R --target sm_80 --set mma=wgmma --emit ptx -o "$tmp/x.ptx" > "$tmp/out" 2>&1 ||
  ! grep -q "target sm_80 has no wgmma" "$tmp/out"; then
  echo "FAIL mma=wgmma on sm_80: $(cat "$tmp/out")"; fail=1
fi

PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
if [ -n "$PTXAS" ]; then
  "$KILN" compile $R --target sm_90a --emit ptx --no-cache -o "$tmp/g.ptx" || fail=1
  grep -q "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16" "$tmp/g.ptx" || { echo "FAIL no wgmma in the PTX"; fail=1; }
  "$PTXAS" -v -arch=sm_90a "$tmp/g.ptx" -o "$tmp/g.o" > "$tmp/v" 2>&1 || { echo "FAIL ptxas: $(cat "$tmp/v")"; fail=1; }
  grep -q " 0 bytes spill stores, 0 bytes spill loads" "$tmp/v" || { echo "FAIL spills: $(cat "$tmp/v")"; fail=1; }
  echo "sm_90a default: $(sed -n 's/.*\(Used [0-9]* registers\).*/\1/p' "$tmp/v" | head -n 1)"
  "$KILN" compile $R --target sm_90a --set inflight=1 --emit ptx --no-cache -o "$tmp/i.ptx" || fail=1
  grep -q "wgmma.wait_group.sync.aligned[[:space:]]*1;" "$tmp/i.ptx" || { echo "FAIL inflight: no wait_group 1"; fail=1; }
  "$PTXAS" -v -arch=sm_90a "$tmp/i.ptx" -o "$tmp/i.o" > "$tmp/v" 2>&1 || { echo "FAIL ptxas: $(cat "$tmp/v")"; fail=1; }
  grep -q " 0 bytes spill stores, 0 bytes spill loads" "$tmp/v" || { echo "FAIL inflight spills: $(cat "$tmp/v")"; fail=1; }
  ! grep -qi "serializ" "$tmp/v" || { echo "FAIL inflight: ptxas serialises the wgmmas: $(cat "$tmp/v")"; fail=1; }
  # min_blocks=2 (.minnctapersm 2): within 128 registers, two 256-thread blocks an SM, no spills
  ! grep -q "minnctapersm" "$tmp/g.ptx" || { echo "FAIL the default has a .minnctapersm"; fail=1; }
  "$KILN" compile $R --target sm_90a --set inflight=1 --set min_blocks=2 --emit ptx --no-cache -o "$tmp/m.ptx" || fail=1
  grep -q "^.minnctapersm 2" "$tmp/m.ptx" || { echo "FAIL min_blocks=2: no .minnctapersm 2"; fail=1; }
  "$PTXAS" -v -arch=sm_90a "$tmp/m.ptx" -o "$tmp/m.o" > "$tmp/v" 2>&1 || { echo "FAIL ptxas: $(cat "$tmp/v")"; fail=1; }
  regs=$(sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' "$tmp/v" | head -n 1)
  if [ "${regs:-999}" -gt 128 ] || ! grep -q " 0 bytes spill stores, 0 bytes spill loads" "$tmp/v"; then
    echo "FAIL inflight min_blocks=2: $(cat "$tmp/v")"; fail=1
  fi
  if [ -n "${KILN_NVDISASM:-}" ] && [ -x "${KILN_NVDISASM:-}" ]; then
    "$KILN" compile $R --target sm_90a --emit sass --no-cache -o "$tmp/g.sass" || fail=1
    grep -q "HGMMA.64x128x16.F32" "$tmp/g.sass" || { echo "FAIL no HGMMA in the SASS"; fail=1; }
  fi
else
  echo "note: ptxas not installed: no resource check"
fi
exit $fail
