#!/usr/bin/env python3
"""Random sm_90a variants for the TMA and warp-specialised tests (tests/sh/gemm_tma.sh, gemm_ws.sh,
attention_tma.sh, attention_ws.sh): one line of `--set NAME=VALUE` arguments per variant.

    hopper_variants.py gemm|attention SEED COUNT [--ws]

gemm: tile, warps (one or two warpgroups), stages, type, B's layout, inflight, ragged M and rows of
16-byte multiples, an epilogue now and then; with --ws also 128 x 256-wide tiles and wider N.
attention: head dim, tile, warps, stages, type, layout, heads, ragged Sq and Sk, causal, LSE,
padded rows, and release (not with --ws, which needs it)."""
import random
import sys


def gemm(r, ws):
    eb = dict(f16=2, bf16=2, i8=1, e4m3=1)
    warps = r.choice([4, 8])
    dt = r.choice(["f16", "bf16", "f16", "i8", "e4m3"])
    st = r.choice([2, 3, 4])
    al = 16 // eb[dt]
    n_max = 300 if ws else 200
    s = dict(BLOCK_M=16 * warps, BLOCK_N=r.choice([32, 64, 128, 256] if ws else [32, 64, 128]), warps=warps,
             stages=st, dtype=dt, BLOCK_K=r.choice([16, 32, 64]) if eb[dt] == 2 else r.choice([32, 64]),
             M=r.randint(1, 200), N=al * r.randint(1, n_max // al), K=al * r.randint(1, 300 // al),
             inflight=r.choice([0, 1]) if st >= 3 else 0, trans_b=1 if eb[dt] == 1 else r.choice([0, 1]))
    s["out"] = {"i8": r.choice(["i32", "f16"]), "bf16": "bf16", "f16": r.choice(["f16", "f32"]), "e4m3": "f32"}[dt]
    if s["out"] != "i32" and r.random() < 0.3:
        s["bias"], s["act"] = 1, r.choice(["relu", "gelu"])
    return s, " --tol 2e-3" if dt == "e4m3" else ""


def attention(r, ws):
    D = r.choice([40, 64, 64, 128, 256])
    dt = r.choice(["f16", "bf16"])
    if D == 256:
        s = dict(BLOCK_M=64, BLOCK_N=r.choice([16, 32]), warps=4)
    else:
        w = r.choice([4, 8])
        s = dict(BLOCK_M=16 * w, BLOCK_N=r.choice([32, 64, 128]) if D <= 64 else r.choice([32, 64]), warps=w)
    hkv = r.choice([1, 2])
    s.update(D=D, dtype=dt, stages=r.choice([2, 3]), layout=r.choice(["bhsd", "bshd"]), B=r.randint(1, 2),
             Hkv=hkv, H=hkv * r.choice([1, 2]), Sq=r.randint(1, 150), Sk=r.randint(1, 250),
             causal=r.choice([0, 1]), lse=r.choice([0, 1]), spad=r.choice([0, 8]))
    if not ws:
        s["release"] = r.choice([0, 1])
    return s, ""


def main():
    kind, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ws = "--ws" in sys.argv[4:]
    r = random.Random(seed)
    for _ in range(count):
        s, extra = (gemm if kind == "gemm" else attention)(r, ws)
        print(" ".join(f"--set {k}={v}" for k, v in s.items()) + extra)


main()
