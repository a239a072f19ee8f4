#!/usr/bin/env python3
"""gemm.py - kiln's matmul recipe against cuBLAS (through PyTorch), in the same process, on the same
tensors, on one GPU.

    python3 bench/gemm.py [--kiln build/kiln] [--out bench/results] [--dtypes f16,bf16,i8,e4m3]
                          [--shapes square,llm] [--set NAME=VALUE]... [--reps N] [--warmup N]
    python3 bench/gemm.py --plan      # what would run: kiln variants, grids, shared memory (no GPU)

Problems: the squares 4096^3 and 8192^3, and the GEMMs of an LLM layer at M = 1, 16, 128 and 2048
tokens with (N, K) = (4096, 4096), (6144, 4096), (14336, 4096) and (4096, 14336). Work is 2 M N K
operations; TFLOP/s = work / mean time (for i8, tera-operations).

Types, each on the targets that have it: f16 and bf16 (C = A B, torch.matmul), i8 with i32 output
(torch._int_mm) and e4m3 with f16 output (torch._scaled_mm with unit scales, sm_89+). A and B are
row-major for kiln; cuBLAS's 8-bit GEMMs want B stored N x K, so they get a transposed copy of the
same B (kiln's trans_b reads such a B too, but through its slow plain copy path: docs/gemm.md). A
baseline that PyTorch cannot run for a shape (cuBLAS's int8 GEMM wants M > 16) is reported as
skipped.

kiln's kernel is compiled by the kiln binary (`kiln compile --emit ptx`), once per variant (sizes
are run-time arguments), and `kiln compile --emit launch` gives its launch facts (kernel name,
threads, dynamic shared memory). The PTX is loaded with the CUDA driver (ctypes) into PyTorch's
context and launched on PyTorch's stream on the same tensors. kiln's output is checked first (the
first 256 rows, against the product in f64 or f32 of the same inputs: exact for i8, else the
rms-relative error of `kiln run`), then both sides are timed with CUDA events after warm-up.

kiln's tiles per problem: 128x128x32, 8 warps, 3 stages for M > 128 (128x64 for i8, whose i32
epilogue would not fit sm_86/sm_89's shared memory at 128x128); 64x128x32, 4 warps for M <= 128;
16x64x128, 4 warps for M <= 16 (BLOCK_K doubled for 8-bit types); --set overrides them.

Results: a markdown table on stdout and in OUT/gemm-<date>.md (device, date, kiln version, commit),
ratios kiln / cuBLAS time (> 1: kiln is faster).
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from kiln_bench import (KilnError, write_result, fail, find_kiln, open_gpu, pack_args, rms_rel_err, run,  # noqa: E402
                        tflops, time_ms, variant)

SQUARES = [4096, 8192]
LLM_M = [1, 16, 128, 2048]
LLM_NK = [(4096, 4096), (6144, 4096), (14336, 4096), (4096, 14336)]
# kiln's dtype, output type and the targets that have the type (sm numbers)
TYPES = {
    "f16": {"out": "f16", "min_sm": 75},
    "bf16": {"out": "bf16", "min_sm": 80},
    "i8": {"out": "i32", "min_sm": 75},
    "e4m3": {"out": "f16", "min_sm": 89},
}
# Error budget of the output check: kiln run's for the output type; e4m3 is provisional (the
# accumulation precision of fp8 mma on the GPU is not documented: docs/tensor-cores.md).
TOLERANCE = {"f16": 2e-3, "bf16": 1.6e-2, "i8": 0.0, "e4m3": 4e-3}
CHECK_ROWS = 256




def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default=os.environ.get("KILN"), help="the kiln binary (default: $KILN, build/kiln, ./kiln)")
    ap.add_argument("--recipe", default=os.path.join(ROOT, "recipes", "matmul.lua"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--dtypes", default="f16,bf16,i8,e4m3")
    ap.add_argument("--shapes", default="square,llm", help="square, llm or both")
    ap.add_argument("--set", action="append", default=[], help="kiln knob for every problem, e.g. stages=4")
    ap.add_argument("--target", help="kiln target row (default: from the device)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--plan", action="store_true", help="print the kiln variants and launches; no GPU needed")
    return ap.parse_args()






def tile_grid(v, m, n):
    """Programs of variant v for an M x N output: one per BLOCK_M x BLOCK_N tile, or with programs = P > 0
    (a persistent grid, recipes/matmul.lua) min(tiles, P) on one axis."""
    bm, bn = int(v.knob("BLOCK_M")), int(v.knob("BLOCK_N"))
    tm, tn = (m + bm - 1) // bm, (n + bn - 1) // bn
    p = int(v.knob("programs") or 0)
    return (min(tm * tn, p), 1, 1) if p > 0 else (tm, tn, 1)


def sm_of(target):
    return int(re.match(r"sm_(\d+)", target).group(1))


def problems(a, target):
    """(dtype, M, N, K) in the benchmark's order, for the types the target has."""
    kinds = a.shapes.split(",")
    shapes = []
    if "square" in kinds:
        shapes += [(s, s, s) for s in SQUARES]
    if "llm" in kinds:
        shapes += [(m, n, k) for m in LLM_M for (n, k) in LLM_NK]
    out = []
    for dt in [d for d in a.dtypes.split(",") if d]:
        if dt not in TYPES:
            fail("unknown dtype '%s' (%s)" % (dt, ", ".join(TYPES)))
        if sm_of(target) < TYPES[dt]["min_sm"]:
            print("%s: not on %s, skipped" % (dt, target), file=sys.stderr)
            continue
        out += [(dt, m, n, k) for (m, n, k) in shapes]
    return out


def tiles(dt, m):
    """kiln's tile knobs for a problem (before --set)."""
    kmul = 2 if dt in ("i8", "e4m3") else 1
    if m <= 16:
        return {"BLOCK_M": 16, "BLOCK_N": 64, "BLOCK_K": 128 * kmul, "warps": 4, "stages": 3}
    if m <= 128:
        return {"BLOCK_M": 64, "BLOCK_N": 128, "BLOCK_K": 32 * kmul, "warps": 4, "stages": 3}
    bn = 64 if dt == "i8" else 128  # an i32 128x128 tile's epilogue needs 64 KiB of scratch: not on sm_86/89
    return {"BLOCK_M": 128, "BLOCK_N": bn, "BLOCK_K": 32 * kmul, "warps": 8, "stages": 3}


def kiln_settings(a, dt, m):
    knobs = tiles(dt, m)
    knobs.update({"dtype": dt, "out": TYPES[dt]["out"]})
    for kv in a.set:
        name, _, value = kv.partition("=")
        knobs[name] = value
    return ["%s=%s" % (k, v) for k, v in sorted(knobs.items())]








def fitting_variant(a, kiln, target, dt, m):
    """The problem's variant; when the target's shared memory cannot hold it, one with fewer stages
    (unless --set fixed them)."""
    settings = kiln_settings(a, dt, m)
    while True:
        try:
            return variant(kiln, a.recipe, target, settings)
        except KilnError as e:
            stages = int(next(kv for kv in settings if kv.startswith("stages=")).split("=")[1])
            if "shared memory" not in str(e) or stages <= 1 or any(kv.startswith("stages=") for kv in a.set):
                raise
            settings = [kv if not kv.startswith("stages=") else "stages=%d" % (stages - 1) for kv in settings]


def baseline_name(dt):
    return {"f16": "torch.matmul", "bf16": "torch.matmul", "i8": "torch._int_mm", "e4m3": "torch._scaled_mm"}[dt]


def plan(a, kiln, target):
    print("kiln %s, recipe %s, target %s" % (kiln, a.recipe, target))
    for (dt, m, n, k) in problems(a, target):
        try:
            v = fitting_variant(a, kiln, target, dt, m)
        except KilnError as e:
            print("%-4s M=%-5d N=%-5d K=%-5d: kiln refuses it: %s" % (dt, m, n, k, e))
            continue
        known = {"M", "N", "K", "alpha"}
        missing = [p for p, t in v.params if not t.startswith("ptr") and p not in known]
        if missing:
            fail("the recipe's kernel takes %s, which the benchmark does not know" % ", ".join(missing))
        print("%-4s M=%-5d N=%-5d K=%-5d: %s %s, grid %s x %d threads, %d bytes shared, %.3g GFLOP; vs %s"
              % (dt, m, n, k, v.name, " ".join(x for x in v.settings if not x.startswith(("dtype", "out"))),
                 tile_grid(v, m, n), v.threads, v.shared, 2.0 * m * n * k / 1e9, baseline_name(dt)))


# ---- tensors, the baseline and the check ----

def make_inputs(torch, dt, m, n, k):
    """A [M, K] and B [K, N], row-major."""
    dev = "cuda"
    if dt == "i8":
        return (torch.randint(-8, 9, (m, k), device=dev, dtype=torch.int8),
                torch.randint(-8, 9, (k, n), device=dev, dtype=torch.int8))
    t = {"f16": torch.float16, "bf16": torch.bfloat16}.get(dt, torch.float32)
    a, b = torch.empty(m, k, device=dev, dtype=t).uniform_(-1, 1), torch.empty(k, n, device=dev, dtype=t).uniform_(-1, 1)
    return (a.to(torch.float8_e4m3fn), b.to(torch.float8_e4m3fn)) if dt == "e4m3" else (a, b)


def baseline(torch, dt, a, b):
    """The call timed against kiln, or raises RuntimeError when PyTorch cannot run it. The 8-bit
    GEMMs take B as the transpose of an N x K row-major tensor: a copy made here, not timed."""
    if dt in ("f16", "bf16"):
        return lambda: torch.matmul(a, b)
    bt = b.t().contiguous().t()
    if dt == "i8":
        return lambda: torch._int_mm(a, bt)
    one = torch.ones((), device="cuda", dtype=torch.float32)
    return lambda: torch._scaled_mm(a, bt, scale_a=one, scale_b=one, out_dtype=torch.float16)


def reference(torch, dt, a, b):
    """The first CHECK_ROWS rows of the product of the same inputs: f64 for i8 (exact), else f32."""
    r = a[:CHECK_ROWS]
    if dt == "i8":
        return r.double() @ b.double()
    return r.float() @ b.float()




def out_dtype(torch, dt):
    return {"f16": torch.float16, "bf16": torch.bfloat16, "i8": torch.int32, "e4m3": torch.float16}[dt]


def bench_one(torch, drv, a, kiln, target, prob):
    dt, m, n, k = prob
    A, B = make_inputs(torch, dt, m, n, k)
    C = torch.full((m, n), -1, device="cuda", dtype=out_dtype(torch, dt))
    if C.is_floating_point():
        C.fill_(float("nan"))
    bias = torch.zeros(1, device="cuda", dtype=C.dtype)
    row = {"dtype": dt, "M": m, "N": n, "K": k, "work": 2.0 * m * n * k, "kiln": None, "ok": False, "err": 0.0}
    try:
        var = fitting_variant(a, kiln, target, dt, m)
    except KilnError as e:  # a variant the target cannot hold (shared memory): reported, not fatal
        row.update(cublas=None, kiln_why=str(e)[:160])
        return row
    args, keep = pack_args(var, {"a": A, "b": B, "c": C, "bias": bias}, {"M": m, "N": n, "K": k, "alpha": 1.0})
    mod, fn = drv.load(var)
    stream = torch.cuda.current_stream().cuda_stream
    grid = tile_grid(var, m, n)

    def kiln_launch():
        drv.launch(fn, grid, var.threads, var.shared, stream, args)

    kiln_launch()
    torch.cuda.synchronize()
    ref = reference(torch, dt, A, B)
    got = C[:CHECK_ROWS]
    row["err"] = (got.double() - ref).abs().max().item() if dt == "i8" else rms_rel_err(got, ref)
    row["ok"] = row["err"] <= TOLERANCE[dt]
    del ref, got
    row["kiln"] = time_ms(torch, kiln_launch, a.warmup, a.reps)
    drv.unload(mod)
    del keep
    try:
        call = baseline(torch, dt, A, B)
        call()
        row["cublas"] = time_ms(torch, call, a.warmup, a.reps)
    except (RuntimeError, AttributeError) as e:
        row["cublas"] = None
        row["why"] = str(e).splitlines()[0][:80]
    return row




def table(rows):
    head = ["dtype", "M", "N", "K", "kiln TFLOP/s", "check", "cuBLAS TFLOP/s", "kiln/cuBLAS"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["dtype"], str(r["M"]), str(r["N"]), str(r["K"])]
        if r["kiln"] is None:
            lines.append("| " + " | ".join(cells + ["error", r.get("kiln_why", ""), "", ""]) + " |")
            continue
        cells += ["%.1f" % tflops(r["work"], r["kiln"]), ("ok " if r["ok"] else "FAIL ") + "%.1e" % r["err"]]
        if r["cublas"] is None:
            cells += ["skipped", ""]
        else:
            cells += ["%.1f" % tflops(r["work"], r["cublas"]), "%.2f" % (r["cublas"] / r["kiln"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    a = parse_args()
    kiln = find_kiln(a.kiln)
    g = open_gpu(a, kiln, plan)
    if g is None:
        return 0
    torch, drv, target = g
    torch.backends.cuda.matmul.allow_tf32 = False  # the f32 reference is f32
    device = torch.cuda.get_device_name()
    rows = []
    for prob in problems(a, target):
        rows.append(bench_one(torch, drv, a, kiln, target, prob))
        r = rows[-1]
        print("%s M=%d N=%d K=%d: kiln %s, cuBLAS %s" % (
            r["dtype"], r["M"], r["N"], r["K"],
            "%.3f ms (err %.1e)" % (r["kiln"], r["err"]) if r["kiln"] else "error: " + r.get("kiln_why", ""),
            "%.3f ms" % r["cublas"] if r["cublas"] else "skipped: " + r.get("why", "")), file=sys.stderr)
        torch.cuda.empty_cache()
    version = run([kiln, "version"]).strip()
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    date = datetime.datetime.now(datetime.timezone.utc)
    knobs = " ".join(a.set) or "per-shape defaults (bench/gemm.py)"
    text = ("# gemm: kiln vs cuBLAS\n\n"
            "- device: %s (target %s)\n- date: %s\n- %s, commit %s, torch %s\n- kiln knobs: %s; "
            "%d warm-up + %d timed launches each\n\n%s\n" % (
                device, target, date.strftime("%Y-%m-%d %H:%M UTC"), version, commit, torch.__version__,
                knobs, a.warmup, a.reps, table(rows)))
    why = sorted({"%s: %s" % (r["dtype"], r["why"]) for r in rows if r.get("why")})
    if why:
        text += "\ncuBLAS skipped: %s\n" % "; ".join(why)
    write_result(text, a.out, "gemm", date)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
