# shellcheck shell=sh
# Sourced by tests/sh/gemm_tma.sh, gemm_ws.sh, attention_tma.sh and attention_ws.sh: the fixed
# simulator cases of the sm_90a TMA paths, each a call of the sourcing script's own `t LABEL
# SETTINGS...` (which adds tma=1, and ws=1 for the ws scripts).
#   gemm_cases       B both ways, A's permuted 8-row groups, rows of 64 to 256 bytes, one and two
#                    warpgroups, stages 2 to 5, ragged M and N (boxes partly and wholly outside the
#                    tensor), K not a multiple of the step, one step, bf16 with an epilogue, e4m3,
#                    i8, inflight; trans_a (mma.sync: the knobs change nothing there)
#   attention_cases  both layouts, GQA, ragged Sq and Sk, causal with several row blocks and key
#                    tiles, LSE, padded rows, D = 40, 64, 128, 256, bf16, stages 2 and 3, Sq = 1, Sk = 1
gemm_cases() {
  t default M=130 N=152 K=72
  t kmajor-b trans_b=1 M=136 N=72 K=64 stages=2
  t wholly-outside M=20 N=56 K=136 BLOCK_K=128 stages=2
  t bk32-5 BLOCK_K=32 stages=5 M=100 N=40 K=136
  t one-step M=64 N=64 K=8
  t one-warpgroup-n256 BLOCK_M=64 BLOCK_N=256 warps=4 M=64 N=264 K=48 stages=2
  t bf16-epilogue dtype=bf16 out=bf16 M=65 N=136 K=80 bias=1 act=gelu alpha=0.5
  t e4m3 dtype=e4m3 trans_b=1 out=f32 M=70 N=48 K=96
  t i8 dtype=i8 out=i32 trans_b=1 M=40 N=72 K=160 bias=1 act=relu
  t inflight inflight=1 stages=4 M=130 N=64 K=336
  t trans_a-mma-sync trans_a=1 M=48 N=40 K=64
}

attention_cases() {
  t default B=2 H=4 Hkv=2 Sq=37 Sk=45
  t bshd-causal-lse B=1 H=4 Hkv=2 Sq=37 Sk=45 causal=1 lse=1 layout=bshd
  t blocks-tiles B=1 H=2 Hkv=1 Sq=150 Sk=300 causal=1 lse=1
  t d128 B=1 H=2 Hkv=1 Sq=20 Sk=200 D=128 causal=1 lse=1
  t d128-bf16-bshd-pad B=2 H=2 Hkv=1 Sq=20 Sk=70 D=128 dtype=bf16 layout=bshd spad=8
  t d256 B=1 H=1 Hkv=1 Sq=70 Sk=100 D=256 BLOCK_M=64 BLOCK_N=32 warps=4 stages=2 causal=1
  t d40-pad B=1 H=2 Hkv=2 Sq=21 Sk=90 D=40 spad=8 BLOCK_M=64 BLOCK_N=32 warps=4 stages=2 lse=1
  t stages3 B=1 H=2 Hkv=1 Sq=64 Sk=300 BLOCK_M=64 BLOCK_N=64 warps=4 stages=3 causal=1
  t sq1 B=1 H=4 Hkv=1 Sq=1 Sk=70 causal=1 lse=1
  t sk1 B=1 H=2 Hkv=1 Sq=19 Sk=1 causal=1 lse=1
}
