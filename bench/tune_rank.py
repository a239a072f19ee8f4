#!/usr/bin/env python3
"""tune_rank.py - how well the roofline model ranks the variants the GPU ranks (docs/tuning.md).

For each case (matmul and attention, two shapes each) it runs `kiln tune` twice into one database:
on the GPU (device events, the median of --reps launches) and with --sim (the model's time, labelled
`model`); then, over the variants that are ok in both, the Spearman rank correlation of the model's
times with the measured ones, and whether the model's winner is the GPU's. It writes under OUT:
tune.db (every row), tune_summary.txt (kiln tune report, then one line per case with the
correlation), tune_front.svg (kiln tune report --plot). Needs a GPU; standard library only.

  python3 bench/tune_rank.py [--kiln build/kiln] [--out bench/results] [--budget 24] [--jobs N] [--target sm_90a]
"""
import argparse
import os
import sqlite3
import subprocess
import sys

MM_PINNED = ["dtype=f16", "out=f16", "trans_a=0", "trans_b=0", "bias=0", "act=none"]
MM_SPACE = ["BLOCK_M=64,128", "BLOCK_N=64,128,256", "BLOCK_K=32,64", "warps=4,8", "stages=2,3,4"]
AT_PINNED = ["dtype=f16", "D=64", "causal=0", "lse=0", "layout=bhsd"]
AT_SPACE = ["BLOCK_M=64,128", "BLOCK_N=32,64,128", "warps=4,8", "stages=1,2"]
CASES = [
    ("recipes/matmul.lua", ["M=1024", "N=1024", "K=1024"] + MM_PINNED, MM_SPACE),
    ("recipes/matmul.lua", ["M=4096", "N=4096", "K=4096"] + MM_PINNED, MM_SPACE),
    ("recipes/attention.lua", ["B=4", "H=16", "Hkv=16", "Sq=1024", "Sk=1024"] + AT_PINNED, AT_SPACE),
    ("recipes/attention.lua", ["B=1", "H=16", "Hkv=16", "Sq=4096", "Sk=4096"] + AT_PINNED, AT_SPACE),
]


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):  # ties share their mean rank
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va > 0 and vb > 0 else float("nan")


def tune(kiln, recipe, sets, space, db, extra):
    cmd = [kiln, "tune", recipe, "--db", db, "--seed", "1"] + extra
    for s in sets:
        cmd += ["--set", s]
    for s in space:
        cmd += ["--space", s]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def compare(db, recipe, problem):
    c = sqlite3.connect(db)
    rows = c.execute(
        "SELECT variant, time_source, time_s FROM results WHERE recipe = ? AND problem = ? AND status = 'ok'",
        (recipe, problem),
    ).fetchall()
    gpu = {v: t for v, s, t in rows if s == "gpu"}
    model = {v: t for v, s, t in rows if s == "model"}
    both = sorted(set(gpu) & set(model))
    if len(both) < 2:
        return len(both), float("nan"), False
    rho = spearman([model[v] for v in both], [gpu[v] for v in both])
    same_winner = min(both, key=lambda v: model[v]) == min(both, key=lambda v: gpu[v])
    return len(both), rho, same_winner


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", default="build/kiln")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--budget", default="24")
    ap.add_argument("--jobs", default=str(os.cpu_count() or 1))
    ap.add_argument("--target", default="sm_90a", help="the GPU's target row: the model ranks for the same one")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    db = os.path.join(a.out, "tune.db")
    lines = []
    for recipe, sets, space in CASES:
        common = ["--jobs", a.jobs, "--budget", a.budget, "--strategy", "random", "--target", a.target]
        tune(a.kiln, recipe, sets, space, db, common + ["--reps", "50", "--flush-l2"])
        # every variant ranked by the model (no pruning), to compare with every timed one
        tune(a.kiln, recipe, sets, space, db, common + ["--sim", "--prune-model", "off", "--check-best", "all"])
        name = os.path.basename(recipe)[:-4]
        problem = sqlite3.connect(db).execute(
            "SELECT problem FROM results WHERE recipe = ? ORDER BY measured_at DESC LIMIT 1", (name,)
        ).fetchone()[0]
        n, rho, same = compare(db, name, problem)
        lines.append(f"{name} [{problem}]: {n} variants ok on both, Spearman rho {rho:.3f}, "
                     f"model's winner {'is' if same else 'is not'} the GPU's")
        print(lines[-1], flush=True)
    rep = subprocess.run([a.kiln, "tune", "report", db, "--plot", os.path.join(a.out, "tune_front.svg")],
                         check=True, capture_output=True, text=True).stdout
    with open(os.path.join(a.out, "tune_summary.txt"), "w") as f:
        f.write(rep + "\nmodel against GPU (Spearman rank correlation of the times):\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
