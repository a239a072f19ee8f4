#!/usr/bin/env python3
"""attention.py - kiln's attention recipe against PyTorch's scaled_dot_product_attention (the
FlashAttention and cuDNN backends), in the same process, on the same tensors, on one GPU.

    python3 bench/attention.py [--kiln build/kiln] [--out bench/results] [--dtype f16|bf16]
                               [--seqlens 512,1024,...] [--hdims 64,128] [--set NAME=VALUE]...
    python3 bench/attention.py --plan      # what would run: kiln variants, grids, arguments (no GPU)

Problems follow FlashAttention-2's benchmark: 16k tokens per batch (batch = 16384 / seqlen) and a
model width of 2048 (heads = 2048 / head_dim), Sq = Sk = seqlen from 512 to 16k, head dim 64 and
128, causal and not, [B, H, S, D] tensors. Work is 4 * Sq * Sk * D flops per (batch, head), halved
when causal; TFLOP/s = work / mean time.

kiln's kernel is compiled by the kiln binary (`kiln compile --emit ptx`), once per variant (sizes
are runtime arguments); the launch facts
(kernel name, threads, dynamic shared memory) come from `kiln compile --emit launch`. The PTX is loaded with the CUDA driver (ctypes) into PyTorch's context and
launched on PyTorch's stream with the tensors' own strides, so that both sides see the same
memory; both are timed with CUDA events after warm-up. kiln's output is checked (first batch entry,
first four heads) against SDPA's math backend in f32 (rms-relative error, as `kiln run` measures it)
before it is timed; a backend that PyTorch cannot run here is reported as skipped.

Results: a markdown table on stdout and in OUT/attention-<date>.md (device, date, kiln version,
commit), ratios kiln / backend (> 1: kiln is faster).
"""
import argparse
import datetime
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from kiln_bench import (KilnError, write_result, fail, find_kiln, open_gpu, pack_args, rms_rel_err, run,  # noqa: E402
                        tflops, time_ms, variant)
# Error budget of the output check (docs/attention.md): f16 and bf16 as kiln run's defaults.
TOLERANCE = {"f16": 2e-3, "bf16": 1.6e-2}




def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default=os.environ.get("KILN"), help="the kiln binary (default: $KILN, build/kiln, ./kiln)")
    ap.add_argument("--recipe", default=os.path.join(ROOT, "recipes", "attention.lua"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--dtype", default="f16", choices=["f16", "bf16"])
    ap.add_argument("--seqlens", default="512,1024,2048,4096,8192,16384")
    ap.add_argument("--hdims", default="64,128")
    ap.add_argument("--causal", default="0,1")
    ap.add_argument("--tokens", type=int, default=16384, help="batch * seqlen")
    ap.add_argument("--width", type=int, default=2048, help="heads * head_dim")
    ap.add_argument("--set", action="append", default=[], help="kiln knob, e.g. BLOCK_M=128 (repeatable)")
    ap.add_argument("--target", help="kiln target row (default: from the device)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--plan", action="store_true", help="print the kiln variants and launches; no GPU needed")
    return ap.parse_args()




def ints(text):
    return [int(x) for x in text.split(",") if x]


def problems(a):
    """(B, H, S, D, causal) in the benchmark's order."""
    out = []
    for d in ints(a.hdims):
        for causal in ints(a.causal):
            for s in ints(a.seqlens):
                out.append((max(1, a.tokens // s), max(1, a.width // d), s, d, causal))
    return out


def flops(b, h, s, d, causal):
    f = 4.0 * s * s * d * b * h
    return f / 2 if causal else f


# ---- kiln: compile, launch facts, arguments ----





def kiln_settings(a, d, causal):
    """The variant's knobs (problem sizes are runtime arguments: one variant serves every size)."""
    return ["D=%d" % d, "causal=%d" % causal, "dtype=%s" % a.dtype] + a.set






def kiln_grid(v, b, h, s):
    bm = int(v.knob("BLOCK_M"))  # as kiln resolved it: its default follows D
    return ((s + bm - 1) // bm, b * h, 1)


def kiln_scalars(b, h, s, d, strides, scale):
    """The recipe's scalar arguments by name; strides: {tensor: (sb, sh, ss)} in elements."""
    vals = {"B": b, "H": h, "Hkv": h, "Sq": s, "Sk": s, "scale": scale}
    for t, st in strides.items():
        for suffix, x in zip(("_sb", "_sh", "_ss"), st):
            vals[t + suffix] = x
    return vals


def plan(a, kiln, target):
    print("kiln %s, recipe %s, target %s" % (kiln, a.recipe, target))
    for (b, h, s, d, causal) in problems(a):
        v = variant(kiln, a.recipe, target, kiln_settings(a, d, causal))
        st = (h * s * d, s * d, d)
        scalars = kiln_scalars(b, h, s, d, {"q": st, "k": st, "v": st, "o": st}, 1 / math.sqrt(d))
        missing = [n for n, t in v.params if not t.startswith("ptr") and n not in scalars]
        if missing:
            fail("the recipe's kernel takes %s, which the benchmark does not know" % ", ".join(missing))
        print("B=%-3d H=%-3d S=%-6d D=%-4d causal=%d: %s, grid %s x %d threads, %d bytes shared, %.3g GFLOP"
              % (b, h, s, d, causal, v.name, kiln_grid(v, b, h, s), v.threads, v.shared,
                 flops(b, h, s, d, causal) / 1e9))


# ---- the CUDA driver, for kiln's kernel inside PyTorch's context ----





# ---- timing and checking on the GPU ----





def math_backend(torch):
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        return sdpa_kernel(SDPBackend.MATH)
    except ImportError:
        import contextlib
        return contextlib.nullcontext()


def sdpa_backends(torch):
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        return []
    out = []
    for label, name in (("flash", "FLASH_ATTENTION"), ("cudnn", "CUDNN_ATTENTION")):
        if hasattr(SDPBackend, name):
            out.append((label, getattr(SDPBackend, name), sdpa_kernel))
    return out


def bench_one(torch, drv, a, kiln, target, prob):
    import torch.nn.functional as F
    b, h, s, d, causal = prob
    dt = {"f16": torch.float16, "bf16": torch.bfloat16}[a.dtype]
    q, k, v = (torch.empty(b, h, s, d, device="cuda", dtype=dt).uniform_(-1, 1) for _ in range(3))
    o = torch.full_like(q, float("nan"))
    lse = torch.empty(b, h, s, device="cuda", dtype=torch.float32)
    var = variant(kiln, a.recipe, target, kiln_settings(a, d, causal))
    if var.knob("lse") != "1":
        lse = torch.empty(1, device="cuda", dtype=torch.float32)
    strides = {n: t.stride()[:3] for n, t in (("q", q), ("k", k), ("v", v), ("o", o))}
    scalars = kiln_scalars(b, h, s, d, strides, 1 / math.sqrt(d))
    args, keep = pack_args(var, {"q": q, "k": k, "v": v, "o": o, "lse": lse}, scalars)
    mod, fn = drv.load(var)
    stream = torch.cuda.current_stream().cuda_stream
    grid = kiln_grid(var, b, h, s)

    def kiln_launch():
        drv.launch(fn, grid, var.threads, var.shared, stream, args)

    row = {"B": b, "H": h, "S": s, "D": d, "causal": causal, "work": flops(b, h, s, d, causal)}
    kiln_launch()
    torch.cuda.synchronize()
    with torch.no_grad(), math_backend(torch):  # first batch entry, first heads, f32
        n = min(h, 4)
        ref = F.scaled_dot_product_attention(q[:1, :n].float(), k[:1, :n].float(), v[:1, :n].float(),
                                             is_causal=bool(causal))
    row["err"] = rms_rel_err(o[:1, :n], ref)
    row["ok"] = row["err"] <= TOLERANCE[a.dtype]
    del ref
    row["kiln"] = time_ms(torch, kiln_launch, a.warmup, a.reps)
    drv.unload(mod)
    del keep
    for label, backend, sdpa_kernel in sdpa_backends(torch):
        try:
            with sdpa_kernel(backend):
                def call():
                    return F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
                call()
                row[label] = time_ms(torch, call, a.warmup, a.reps)
        except RuntimeError as e:
            row[label] = None
            row[label + "_why"] = str(e).splitlines()[0][:80]
    return row




def table(rows, backends):
    head = ["B", "H", "S", "D", "causal", "kiln TFLOP/s", "check"]
    for bk in backends:
        head += [bk + " TFLOP/s", "kiln/" + bk]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        k = tflops(r["work"], r["kiln"])
        cells = [str(r[x]) for x in ("B", "H", "S", "D", "causal")]
        cells += ["%.1f" % k, ("ok " if r["ok"] else "FAIL ") + "%.1e" % r["err"]]
        for bk in backends:
            t = r.get(bk)
            if t is None:
                cells += ["skipped", ""]
            else:
                cells += ["%.1f" % tflops(r["work"], t), "%.2f" % (t / r["kiln"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)




def main():
    a = parse_args()
    kiln = find_kiln(a.kiln)
    g = open_gpu(a, kiln, plan)
    if g is None:
        return 0
    torch, drv, target = g
    device = torch.cuda.get_device_name()
    backends = [label for label, _, _ in sdpa_backends(torch)]
    rows = []
    for prob in problems(a):
        rows.append(bench_one(torch, drv, a, kiln, target, prob))
        r = rows[-1]
        print("B=%d H=%d S=%d D=%d causal=%d: kiln %.3f ms (err %.1e), %s" % (
            r["B"], r["H"], r["S"], r["D"], r["causal"], r["kiln"], r["err"],
            ", ".join("%s %s" % (bk, "%.3f ms" % r[bk] if r.get(bk) else "skipped: " + r.get(bk + "_why", ""))
                      for bk in backends)), file=sys.stderr)
    version = run([kiln, "version"]).strip()
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    date = datetime.datetime.now(datetime.timezone.utc)
    knobs = " ".join(a.set) or "defaults"
    text = ("# attention: kiln vs PyTorch SDPA\n\n"
            "- device: %s (target %s)\n- date: %s\n- %s, commit %s, torch %s\n- dtype %s, kiln knobs: %s; "
            "%d warm-up + %d timed launches each\n\n%s\n" % (
                device, target, date.strftime("%Y-%m-%d %H:%M UTC"), version, commit, torch.__version__,
                a.dtype, knobs, a.warmup, a.reps, table(rows, backends)))
    for bk in backends:
        why = sorted({r[bk + "_why"] for r in rows if r.get(bk + "_why")})
        if why:
            text += "\n%s skipped: %s\n" % (bk, "; ".join(why))
    write_result(text, a.out, "attention", date)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KilnError as e:  # kiln refused a variant: its one-line message
        fail(str(e))
