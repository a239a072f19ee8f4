#!/usr/bin/env python3
"""fftconv.py - kiln's fused FFT convolution (recipes/fftconv.lua) against a PyTorch FFT
convolution, in the same process, on the same tensors, on one GPU.

    python3 bench/fftconv.py [--kiln build/kiln] [--out bench/results] [--dtypes f16,bf16]
                             [--seqlens 256,1024,...] [--batch 64] [--heads 768] [--set NAME=VALUE]...
    python3 bench/fftconv.py --plan      # what would run: kiln variants, grids, arguments (no GPU)
    python3 bench/fftconv.py --order 3   # recipes/fftconv3.lua (L = N1 N2 N3, a global scratch row)
    python3 bench/fftconv.py --order 4   # recipes/fftconv4.lua (L = N1 N2 N3 N4, N up to 4M)
    python3 bench/fftconv.py --layouts bnh   # u, y as [B, N, H] only (default: both layouts)

The problem (docs/fftconv.md): y = first N of iFFT(FFT(u) FFT(k)) at length 2N for u [B, H, N]
or [B, N, H] (--layouts; the recipes' knob layout = bhn, bnh) (f16 or bf16)
and a filter k [H, N], B = 64, H = 768, N = 256 ... 4M as the device's memory allows.
The filter's spectrum is computed once, outside the timing, on both sides (kiln reads it as kf,
kspec = "given", in the recipe's transposed order: with half = 1, its default there, the twisted
spectrum's first N bins; PyTorch as rfft(k)), as FlashFFTConv does.
`--set kspec=inline` times the recipe's default instead: the spectrum made in the kernel, two batch
entries a program as one complex row (pair; docs/fftconv.md), kiln doing more work than PyTorch.

PyTorch: rfft of u at length 2N in f32 (u cast), product with the spectrum, irfft, first N, cast
back to the input type: one convolution per timed call, casts included. kiln: one launch of the
fused recipe (grid B * H, or B * ceil(H / HB) in layout bnh, with its f32 scratch ws; orders 3 and 4
with their scratch rows in the data's type, one per channel, ceil(H / HB) HB per batch entry in bnh). The order-2 recipe covers N up to 4096, the order-3 one (--order 3) up to
262144 (docs/fftconv.md); longer N are timed for PyTorch only and marked "no kiln variant". kiln's output is checked against PyTorch's
(first 8 rows of each batch entry's channels, max error relative to the larger of the element and
the rms, as kiln run measures it) against the budget of docs/fftconv.md before it is timed.

Results: a markdown table on stdout and in OUT/fftconv-<date>.md: ms for each side and the ratio
PyTorch / kiln (> 1: kiln is faster).
"""
import argparse
import datetime
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from kiln_bench import (KilnError, find_kiln, open_gpu, pack_args, rms_rel_err, run, time_ms, variant)  # noqa: E402

# The budget of docs/fftconv.md: about 7 units of roundoff of the data's type.
TOLERANCE = {"f16": 3.4e-3, "bf16": 2.7e-2}
KILN_MAX_N = {2: 4096, 3: 1 << 18, 4: 1 << 22}  # recipes/fftconv.lua, fftconv3.lua, fftconv4.lua


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default=os.environ.get("KILN"), help="the kiln binary (default: $KILN, build/kiln, ./kiln)")
    ap.add_argument("--order", type=int, default=2, choices=[2, 3, 4], help="fftconv.lua (2), fftconv3.lua (3), fftconv4.lua (4)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--dtypes", default="f16,bf16")
    ap.add_argument("--layouts", default="bhn,bnh", help="u and y as [B, H, N] (bhn) and/or [B, N, H] (bnh)")
    ap.add_argument("--seqlens", default=",".join(str(1 << i) for i in range(8, 23)))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--heads", type=int, default=768)
    ap.add_argument("--set", action="append", default=[], help="kiln knob, e.g. N1=32 (repeatable)")
    ap.add_argument("--target", help="kiln target row (default: from the device)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--plan", action="store_true", help="print the kiln variants and launches; no GPU needed")
    return ap.parse_args()


def ints(text):
    return [int(x) for x in text.split(",") if x]


def split(n, n1=0, half=False):
    """The recipe's split of L = 2N (recipes/lib/fft.lua, fft.split): the squarest, with the larger
    half to N1 where log2(L) is odd and 7 or more; with half = 1 the split of M = N."""
    L = n if half else 2 * n
    lg = L.bit_length() - 1
    if n1 == 0:
        n1 = 1 << (lg // 2 + (1 if lg % 2 == 1 and lg >= 7 else 0))
    return n1, L // n1


def recipe_of(a):
    return os.path.join(ROOT, "recipes", "fftconv.lua" if a.order == 2 else "fftconv%d.lua" % a.order)


def split3(n, n1=0, n2=0, half=False):
    """recipes/fftconv3.lua's split of L = 2N (fft.split3); with half = 1 the split of M = N, the rest
    of log2(M) / 3 to N3, then to N2."""
    L = n if half else 2 * n
    lg = L.bit_length() - 1
    a = lg // 3
    n1 = n1 or 1 << a
    if not n2:
        e = a + 1 if half and lg % 3 == 2 else a
        r = (L // n1).bit_length() - 1
        if e < 4 and r - e > e:  # an N2 below 16 beside a larger N3 takes the larger half
            e = (r + 1) // 2
        n2 = 1 << e
    return n1, n2, L // (n1 * n2)


def split4(n, n1=0, n2=0, n3=0, half=False):
    """recipes/fftconv4.lua's split of L = 2N: 2^floor(log2(L)/4) each, the rest to N4, N3, N2; with
    half = 1 the split of M = N by the same rule."""
    L = n if half else 2 * n
    lg = L.bit_length() - 1
    e = [lg // 4] * 4
    for i in range(lg % 4):
        e[3 - i] += 1
    n1, n2, n3 = n1 or 1 << e[0], n2 or 1 << e[1], n3 or 1 << e[2]
    return n1, n2, n3, L // (n1 * n2 * n3)


def settings_for(a, n, dtype, layout="bhn"):
    s = ["N=%d" % n, "dtype=%s" % dtype]
    if a.order >= 3 and n > 1024:
        s.append("warps=8")  # order 2: the recipe's default (with a given spectrum 2, 4, from N = 4096 8)
    if layout != "bhn":
        s.append("layout=%s" % layout)
    if a.order == 2:
        s.append("kspec=given")
    if (a.order == 2 and n >= 4096) or (a.order == 3 and n >= 1 << 17):
        s.append("tw=dtype")  # the twiddles in the data's type: the tables then fit sm_80
    names = {kv.partition("=")[0] for kv in a.set}
    return [kv for kv in s if kv.partition("=")[0] not in names] + a.set


def knob(settings, name, default):
    for kv in settings:
        k, _, v = kv.partition("=")
        if k == name:
            return v
    return default


def plan(a, kiln, target):
    print("kiln %s, recipe %s, target %s" % (kiln, recipe_of(a), target))
    for lay in a.layouts.split(","):
        for dt in a.dtypes.split(","):
            for n in ints(a.seqlens):
                if n > KILN_MAX_N[a.order]:
                    print("%s %s N=%-8d: PyTorch only (no kiln variant above N = %d)" % (lay, dt, n, KILN_MAX_N[a.order]))
                    continue
                settings = settings_for(a, n, dt, lay)
                try:
                    v = variant(kiln, recipe_of(a), target, settings)
                except KilnError as e:
                    print("%s %s N=%-8d: kiln refuses: %s" % (lay, dt, n, e))
                    continue
                print("%s %s N=%-8d: %s, grid %d x %d threads, %d bytes shared, params %s" % (
                    lay, dt, n, v.name, grid(a, settings, v), v.threads, v.shared, " ".join(p for p, _ in v.params)))


def paired(var):
    """The variant takes two batch entries a program (fftconv.lua's pair: the default with
    kspec = inline, e.g. --set kspec=inline)."""
    return var is not None and var.knob("pair") in ("1", "true")


def rows_per_program(var):
    """Batch entries of a channel a program takes: two where the variant pairs them, `entries` with
    half = 1 (fftconv.lua), else one."""
    if paired(var):
        return 2
    if var is not None and var.knob("half") in ("1", "true"):
        return int(var.knob("entries") or "1")
    return 1


def grid(a, settings, var=None):
    """Programs: one per (batch, channel), or per (batch, HB channels) in layout bnh; per
    rows_per_program batch entries."""
    nb = rows_per_program(var)
    entries = (a.batch + nb - 1) // nb
    if knob(settings, "layout", "bhn") == "bnh":
        hb = int(knob(settings, "HB", "16"))
        return entries * ((a.heads + hb - 1) // hb)
    return entries * a.heads


def spectrum_for_kiln(torch, k, n, split, half=False):
    """kf f32 in the recipe's order, real rows then imaginary. Order 2, split (N1, N2): [H, 2 N1, N2]
    with bin k1 + N1 k2 at [k1, k2]; order 3, (N1, N2, N3): [H, 2 N1 N2, N3] with bin
    k1 + N1 k2 + N1 N2 k3 at [N2 k1 + k2, k3]; order 4 likewise, [H, 2 N1 N2 N3, N4]. half (the
    recipe's half = 1): the twisted spectrum, bin m at frequency m + 1/2 of L = 2N, bins m < N on
    the split of N (docs/fftconv.md)."""
    h = k.shape[0]
    if half:
        import math
        t = torch.arange(n, device=k.device, dtype=torch.float64) * (math.pi / (2 * n))
        f = torch.fft.fft(k.double() * torch.polar(torch.ones_like(t), -t), n=2 * n)[:, :n]
    else:
        f = torch.fft.fft(k.double(), n=2 * n)  # [H, L]
    if len(split) == 2:
        n1, n2 = split
        f = f.reshape(h, n2, n1).transpose(1, 2)  # m = N1 k2 + k1 -> [k1, k2]
    elif len(split) == 3:
        n1, n2, n3 = split
        f = f.reshape(h, n3, n2, n1).permute(0, 3, 2, 1).reshape(h, n1 * n2, n3)
    else:
        n1, n2, n3, n4 = split
        f = f.reshape(h, n4, n3, n2, n1).permute(0, 4, 3, 2, 1).reshape(h, n1 * n2 * n3, n4)
    return torch.cat([f.real, f.imag], dim=1).float().contiguous()


def bench_one(torch, drv, a, kiln, target, dt_name, n, layout="bhn"):
    dt = {"f16": torch.float16, "bf16": torch.bfloat16}[dt_name]
    b, h = a.batch, a.heads
    bnh = layout == "bnh"
    row = {"layout": layout, "dtype": dt_name, "N": n}
    free, _ = torch.cuda.mem_get_info()
    need = b * h * n * (44 if a.order >= 3 or bnh else 36)  # u, y, (ws,) PyTorch's f32 copy, spectra, result
    if need > 0.8 * free:
        row["skip"] = "needs about %.0f GB, %.0f GB free" % (need / 1e9, free / 1e9)
        return row
    u = torch.empty(*((b, n, h) if bnh else (b, h, n)), device="cuda", dtype=dt).uniform_(-1, 1)
    k = torch.empty(h, n, device="cuda", dtype=torch.float32).uniform_(-1, 1) / n ** 0.5
    k_f = torch.fft.rfft(k, n=2 * n)

    def torch_conv():
        if bnh:  # along dim 1, the spectrum as [L/2+1, H]
            return torch.fft.irfft(torch.fft.rfft(u.float(), n=2 * n, dim=1) * k_f.t(), n=2 * n, dim=1)[:, :n].to(dt)
        return torch.fft.irfft(torch.fft.rfft(u.float(), n=2 * n) * k_f, n=2 * n)[..., :n].to(dt)

    y_ref = torch_conv()
    row["torch"] = time_ms(torch, torch_conv, a.warmup, a.reps)
    if n > KILN_MAX_N[a.order]:
        return row
    settings = settings_for(a, n, dt_name, layout)
    try:
        var = variant(kiln, recipe_of(a), target, settings)
    except KilnError as e:
        row["kiln_why"] = str(e)[:100]
        return row
    half = var.knob("half") in ("1", "true")
    if a.order == 2:
        sp = split(n, int(knob(settings, "N1", "0")), half)
    elif a.order == 3:
        sp = split3(n, int(knob(settings, "N1", "0")), int(knob(settings, "N2", "0")), half)
    else:
        sp = split4(n, *(int(knob(settings, x, "0")) for x in ("N1", "N2", "N3")), half=half)
    kf = spectrum_for_kiln(torch, k, n, sp, half)
    y = torch.full_like(u, float("nan"))
    one = torch.zeros(1, device="cuda", dtype=dt)
    nb = rows_per_program(var)  # batch entries a program
    rows_ws = grid(a, settings, var) * int(knob(settings, "HB", "16")) * nb if bnh else b * h  # one per channel
    ws = torch.empty(rows_ws, 4 * n, device="cuda", dtype=dt) if a.order >= 3 else torch.zeros(1, device="cuda")
    if bnh and a.order == 2:  # the programs' scratch rows: [ceil(B / nb) ceil(H / HB) nb HB, N] f32
        ws = torch.empty(rows_ws, n, device="cuda", dtype=torch.float32)
    args, keep = pack_args(var, {"u": u, "k": k, "kf": kf, "w": one, "v": one, "y": y, "ws": ws}, {"B": b, "H": h})
    mod, fn = drv.load(var)
    stream = torch.cuda.current_stream().cuda_stream

    def kiln_launch():
        drv.launch(fn, (grid(a, settings, var), 1, 1), var.threads, var.shared, stream, args)

    kiln_launch()
    torch.cuda.synchronize()
    rows = (slice(None), slice(0, 8)) if bnh else (slice(0, 8),)  # the first 8 channels
    row["err"] = max(rms_rel_err(y[(i,) + rows], y_ref[(i,) + rows].float()) for i in range(0, b, max(1, b // 4)))
    row["ok"] = row["err"] <= TOLERANCE[dt_name]
    row["kiln"] = time_ms(torch, kiln_launch, a.warmup, a.reps)
    drv.unload(mod)
    del keep
    return row


def table(rows):
    head = ["layout", "dtype", "N", "PyTorch ms", "kiln ms", "PyTorch / kiln", "check"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["layout"], r["dtype"], str(r["N"])]
        if "skip" in r:
            cells += ["skipped: " + r["skip"], "", "", ""]
        elif "kiln" not in r:
            cells += ["%.3f" % r["torch"], r.get("kiln_why", "no kiln variant"), "", ""]
        else:
            cells += ["%.3f" % r["torch"], "%.3f" % r["kiln"], "%.2f" % (r["torch"] / r["kiln"]),
                      ("ok " if r["ok"] else "FAIL ") + "%.1e" % r["err"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    a = parse_args()
    kiln = find_kiln(a.kiln)
    g = open_gpu(a, kiln, plan)
    if g is None:
        return 0
    torch, drv, target = g
    rows = []
    for lay in a.layouts.split(","):
        for dt in a.dtypes.split(","):
            for n in ints(a.seqlens):
                rows.append(bench_one(torch, drv, a, kiln, target, dt, n, lay))
                r = rows[-1]
                print("%s %s N=%d: %s" % (lay, dt, n, {x: r[x] for x in r if x not in ("layout", "dtype", "N")}),
                      file=sys.stderr)
                torch.cuda.empty_cache()
    version = run([kiln, "version"]).strip()
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    date = datetime.datetime.now(datetime.timezone.utc)
    text = ("# fftconv (order %d): kiln vs a PyTorch FFT convolution\n\n" % a.order +
            "- device: %s (target %s)\n- date: %s\n- %s, commit %s, torch %s\n- B = %d, H = %d, kiln knobs: %s; "
            "%d warm-up + %d timed calls each\n\n%s\n" % (
                torch.cuda.get_device_name(), target, date.strftime("%Y-%m-%d %H:%M UTC"), version, commit,
                torch.__version__, a.batch, a.heads, " ".join(a.set) or "defaults", a.warmup, a.reps, table(rows)))
    print(text)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "fftconv%s-%s.md" % ("" if a.order == 2 else a.order, date.strftime("%Y-%m-%d")))
    with open(path, "w") as f:
        f.write(text)
    print("wrote " + path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
