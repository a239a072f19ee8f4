"""vs_triton.py - kiln and Triton side by side on one CPU machine, no GPU needed.

The same kernels, with the same tiles, compiled by both for sm_80 and sm_90a:
  GEMM f16, M = N = K = 4096, tiles 128x128x32, 4 and 8 warps, 3 and 4 stages, and 128x128x64 with
  8 warps and 3 stages (the default on sm_90a);
  attention forward f16, B = 1, H = 16, S = 4096, D = 64 and 128, BLOCK_M = 128, BLOCK_N = 64 (and
  128 with 8 warps at D = 64, its default on sm_90a), causal and not.
For each: compile time to PTX and to cubin (kiln's command line with its kernel cache bypassed, as a user
runs it, process start included, the kernel specialised on the arguments' alignment (--specialize) as
Triton's is on their divisibility by 16; Triton in-process after a warm-up, its cache bypassed), registers,
spills and shared memory (ptxas -v: CUDA's for kiln, Triton's own for its PTX), the SASS MMA loop (kiln
inspect on both cubins: non-MMA instructions per MMA), and for kiln the simulator's counters at a small
shape and the roofline model's estimate at the full one (a model, not a measurement).

    make vs-triton            # sets up bench/.venv (triton, nvidia-cuda-nvdisasm), writes the table
    bench/.venv/bin/python bench/vs_triton.py [--kiln build/kiln] [--out FILE.md] [--reps N] [--quick]

The Triton kernels below are written here in the structure of Triton's tutorials (a K loop of tl.dot;
FlashAttention-2's online softmax with the causal diagonal split off), with configs pinned to kiln's.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

import triton  # noqa: E402
import triton.language as tl  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402


# ---- the Triton kernels ----

@triton.jit
def gemm_kernel(a, b, c, M, N, K, s_am, s_ak, s_bk, s_bn, s_cm, s_cn,
                BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, GROUP: tl.constexpr):
    pid = tl.program_id(0)
    nm = tl.cdiv(M, BM)
    nn = tl.cdiv(N, BN)
    per_group = GROUP * nn
    first = (pid // per_group) * GROUP
    rows = min(nm - first, GROUP)
    pm = first + (pid % per_group) % rows
    pn = (pid % per_group) // rows
    rm = pm * BM + tl.arange(0, BM)
    rn = pn * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    pa = a + rm[:, None] * s_am + rk[None, :] * s_ak
    pb = b + rk[:, None] * s_bk + rn[None, :] * s_bn
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BK)):
        x = tl.load(pa, mask=rk[None, :] < K - k * BK, other=0.0)
        y = tl.load(pb, mask=rk[:, None] < K - k * BK, other=0.0)
        acc = tl.dot(x, y, acc)
        pa += BK * s_ak
        pb += BK * s_bk
    pc = c + rm[:, None] * s_cm + rn[None, :] * s_cn
    tl.store(pc, acc.to(tl.float16), mask=(rm[:, None] < M) & (rn[None, :] < N))


@triton.jit
def _attn_tile(acc, l_i, m_i, q, kp, vp, s_kn, s_vn, lo, hi, offs_m, offs_n,
               qk_scale, MASK: tl.constexpr, BN: tl.constexpr):
    kp = kp + lo * s_kn
    vp = vp + lo * s_vn
    for start in range(lo, hi, BN):
        k = tl.load(kp)
        qk = tl.dot(q, k)
        if MASK:
            qk = tl.where(offs_m[:, None] >= (start + offs_n)[None, :], qk, float("-inf"))
        m_ij = tl.maximum(m_i, tl.max(qk, 1) * qk_scale)
        p = tl.math.exp2(qk * qk_scale - m_ij[:, None])
        alpha = tl.math.exp2(m_i - m_ij)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None]
        v = tl.load(vp)
        acc = tl.dot(p.to(tl.float16), v, acc)
        m_i = m_ij
        kp += BN * s_kn
        vp += BN * s_vn
    return acc, l_i, m_i


@triton.jit
def attn_kernel(Q, K, V, O, sm_scale, s_qh, s_qm, s_kh, s_kn, s_vh, s_vn, s_oh, s_om, S,
                D: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, CAUSAL: tl.constexpr):
    start_m = tl.program_id(0)
    hz = tl.program_id(1)
    offs_m = start_m * BM + tl.arange(0, BM)
    offs_n = tl.arange(0, BN)
    offs_d = tl.arange(0, D)
    q = tl.load(Q + hz * s_qh + offs_m[:, None] * s_qm + offs_d[None, :])
    kp = K + hz * s_kh + offs_d[:, None] + offs_n[None, :] * s_kn  # K^T: [D, BN]
    vp = V + hz * s_vh + offs_n[:, None] * s_vn + offs_d[None, :]
    m_i = tl.zeros([BM], dtype=tl.float32) - float("inf")
    l_i = tl.zeros([BM], dtype=tl.float32)
    acc = tl.zeros([BM, D], dtype=tl.float32)
    qk_scale = sm_scale * 1.44269504
    if CAUSAL:
        acc, l_i, m_i = _attn_tile(acc, l_i, m_i, q, kp, vp, s_kn, s_vn, 0, start_m * BM, offs_m, offs_n,
                                   qk_scale, False, BN)
        acc, l_i, m_i = _attn_tile(acc, l_i, m_i, q, kp, vp, s_kn, s_vn, start_m * BM, (start_m + 1) * BM,
                                   offs_m, offs_n, qk_scale, True, BN)
    else:
        acc, l_i, m_i = _attn_tile(acc, l_i, m_i, q, kp, vp, s_kn, s_vn, 0, S, offs_m, offs_n, qk_scale,
                                   False, BN)
    acc = acc / l_i[:, None]
    tl.store(O + hz * s_oh + offs_m[:, None] * s_om + offs_d[None, :], acc.to(tl.float16))


# What Triton's launcher would specialise for these problems (all pointers 16-byte aligned, every size
# and stride a multiple of 16, unit strides constants), given explicitly since nothing is launched.
D16 = [["tt.divisibility", 16]]

GEMM_SIG = {"a": "*fp16", "b": "*fp16", "c": "*fp16", "M": "i32", "N": "i32", "K": "i32", "s_am": "i32",
            "s_ak": "i32", "s_bk": "i32", "s_bn": "i32", "s_cm": "i32", "s_cn": "i32", "BM": "constexpr",
            "BN": "constexpr", "BK": "constexpr", "GROUP": "constexpr"}
ATTN_SIG = {"Q": "*fp16", "K": "*fp16", "V": "*fp16", "O": "*fp16", "sm_scale": "fp32", "s_qh": "i32",
            "s_qm": "i32", "s_kh": "i32", "s_kn": "i32", "s_vh": "i32", "s_vn": "i32", "s_oh": "i32",
            "s_om": "i32", "S": "i32", "D": "constexpr", "BM": "constexpr", "BN": "constexpr",
            "CAUSAL": "constexpr"}


# ---- the variants ----

def variants(quick):
    out = []
    # BLOCK_K = 64 with 8 warps and 3 stages: matmul's default on sm_90a (32 elsewhere)
    for bk, warps, stages in ((32, 4, 3), (32, 4, 4), (32, 8, 3), (32, 8, 4), (64, 8, 3)):
        out.append({
            "name": "gemm 4096^3 128x128x%d w%d s%d" % (bk, warps, stages),
            "recipe": "recipes/matmul.lua",
            "sets": {"M": 4096, "N": 4096, "K": 4096, "BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": bk,
                     "warps": warps, "stages": stages},
            "small": {"M": 256, "N": 256, "K": 256},
            "triton": (gemm_kernel, GEMM_SIG, {"BM": 128, "BN": 128, "BK": bk, "GROUP": 8, "s_ak": 1, "s_bn": 1,
                                               "s_cn": 1},
                       ["a", "b", "c", "M", "N", "K", "s_am", "s_bk", "s_cm"], warps, stages),
        })
    # the defaults' tiles: 128x64 with 4 warps at D = 64 and 8 at D = 128; 128x128 with 8 warps is
    # D = 64's default on sm_90a (both products on wgmma there)
    for d, bn, warps in ((64, 64, 4), (64, 128, 8), (128, 64, 8)):
        for causal in (False, True):
            out.append({
                "name": "attention D=%d 128x%d w%d%s" % (d, bn, warps, " causal" if causal else ""),
                "recipe": "recipes/attention.lua",
                "sets": {"B": 1, "H": 16, "Hkv": 16, "Sq": 4096, "Sk": 4096, "D": d, "BLOCK_M": 128,
                         "BLOCK_N": bn, "warps": warps, "stages": 2, "causal": "true" if causal else "false"},
                "small": {"H": 1, "Hkv": 1, "Sq": 256, "Sk": 256},
                "triton": (attn_kernel, ATTN_SIG, {"D": d, "BM": 128, "BN": bn, "CAUSAL": causal},
                           ["Q", "K", "V", "O", "s_qh", "s_qm", "s_kh", "s_kn", "s_vh", "s_vn", "s_oh", "s_om", "S"],
                           warps, 2),
            })
    if quick:
        out = [out[0], out[-1]]
    return out


# ---- tools ----

class Refused(Exception):
    """A compiler refused a variant: its row says why and the table goes on."""


def run(cmd, env=None, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if check and p.returncode != 0:
        raise Refused("%s: %s" % (os.path.basename(cmd[0]), (p.stderr or p.stdout).strip().splitlines()[-1][:300]))
    return p


def timed(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times)


def triton_tool(name):
    base = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", name)
    return base if os.access(base, os.X_OK) else shutil.which(name)


def nvdisasm():
    import glob
    hits = glob.glob(os.path.join(sys.prefix, "lib", "python3*", "site-packages", "nvidia", "cu*", "bin", "nvdisasm"))
    return hits[0] if hits else None


def tool_version(path):
    if not path:
        return "none"
    out = run([path, "--version"], check=False).stdout
    m = re.search(r"release ([0-9.]+), (V[0-9.]+)", out)
    return m.group(2) if m else out.strip().splitlines()[-1] if out.strip() else "?"


def ptxas_report(ptxas, ptx_path, arch, cubin_path):
    p = run([ptxas, "-v", "-arch=" + arch, ptx_path, "-o", cubin_path])
    text = p.stderr + p.stdout
    regs = re.search(r"Used (\d+) registers", text)
    spill_st = re.search(r"(\d+) bytes spill stores", text)
    spill_ld = re.search(r"(\d+) bytes spill loads", text)
    smem = re.search(r"(\d+) bytes smem", text)
    return {"regs": int(regs.group(1)) if regs else None,
            "spills": (int(spill_st.group(1)) if spill_st else 0) + (int(spill_ld.group(1)) if spill_ld else 0),
            "static_smem": int(smem.group(1)) if smem else 0}


def per_work(text):
    """kiln inspect's non-MMA count per m16n8 MMA of work where the loop has warpgroup MMAs (an HGMMA
    .64xN counts N/8), else per MMA: a figure that compares mma.sync loops with wgmma loops."""
    m = re.search(r"non-MMA instructions per m16n8 MMA of work: ([0-9.]+)", text)
    return m or re.search(r"non-MMA instructions per MMA: ([0-9.]+)", text)


def sass_loop(kiln, cubin, env):
    p = run([kiln, "inspect", cubin], env=env, check=False)
    nm = per_work(p.stdout)
    mma = re.search(r"instructions per iteration: mma (\d+)", p.stdout)
    return (float(nm.group(1)) if nm else None), (int(mma.group(1)) if mma else None)


def mma_kind(cubin, env):
    dis = env.get("KILN_NVDISASM")
    if not dis:
        return "?"
    text = run([dis, "-c", cubin], check=False).stdout
    m = re.search(r"\b(HGMMA\.[0-9A-Za-z.]+|HMMA\.[0-9A-Za-z.]+)", text)
    return m.group(1) if m else "none"


# ---- kiln ----

def kiln_sets(d):
    out = []
    for k, v in d.items():
        out += ["--set", "%s=%s" % (k, v)]
    return out


def kiln_side(kiln, v, arch, reps, env, tmp):
    sets = kiln_sets(v["sets"])
    ptx = os.path.join(tmp, "kiln.ptx")
    cubin = os.path.join(tmp, "kiln.cubin")
    # --specialize: kiln's kernel for these sizes' alignment, as Triton's below is specialised on
    # the arguments' divisibility by 16 (D16)
    base = [kiln, "compile", v["recipe"], "--target", arch, "--no-cache", "--specialize"] + sets
    steps = []  # -v: each compile's steps in thread CPU ms (lowering, LLVM passes, PTX emission)

    def to_ptx():
        err = run(base + ["--emit", "ptx", "-v", "-o", ptx], env=env).stderr
        m = re.search(r"lowering ([0-9.]+), LLVM passes ([0-9.]+), PTX emission ([0-9.]+)", err)
        if m:
            steps.append([float(x) for x in m.groups()])

    t_ptx = timed(to_ptx, reps)
    t_cubin = timed(lambda: run(base + ["--emit", "cubin", "-o", cubin], env=env), reps)
    ins = run([kiln, "inspect", v["recipe"], "--target", arch, "--model", "--specialize"] + sets, env=env).stdout
    g = lambda pat, conv=int: (lambda m: conv(m.group(1)) if m else None)(re.search(pat, ins))
    res = {
        "t_ptx": t_ptx, "t_cubin": t_cubin,
        "steps": [statistics.median(col) for col in zip(*steps)] if steps else None,
        "regs": g(r"registers: (\d+) per thread"),
        "spills": (g(r"(\d+) bytes spill stores") or 0) + (g(r"(\d+) bytes spill loads") or 0),
        "smem": g(r"= (\d+) bytes per block"),
        "nm": (lambda m: float(m.group(1)) if m else None)(per_work(ins)),
        "model_us": g(r"estimate: ([0-9.]+) us", float),
        "bound": g(r"us, ([a-zA-Z ]+)-bound", str),
        "model_tflops": g(r"([0-9.]+) tensor TFLOP/s", float),
    }
    res["mma_kind"] = mma_kind(cubin, env)
    small = dict(v["sets"])
    small.update(v["small"])
    p = run([kiln, "run", v["recipe"], "--sim", "--target", arch, "--no-check", "--profile=json"] + kiln_sets(small),
            env=env)
    prof = json.loads(p.stdout.strip().splitlines()[-1])
    req = prof["smem_requests"] or 1
    res["wf_per_req"] = prof["smem_wavefronts"] / req
    res["conflicts"] = prof["smem_conflicts"]  # wavefronts over the conflict-free ideal
    res["conflict_share"] = res["conflicts"] / (prof["smem_wavefronts"] or 1)
    return res


# ---- Triton ----

def triton_compile(spec, arch_cc, cache):
    fn, sig, consts, div16, warps, stages = spec
    os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(dir=cache)  # a fresh cache: a real compile
    sig = {k: ("constexpr" if k in consts else v) for k, v in sig.items()}
    attrs = {(fn.arg_names.index(n),): D16 for n in div16}
    src = ASTSource(fn=fn, signature=sig, constexprs=consts, attrs=attrs)
    return triton.compile(src, target=GPUTarget("cuda", arch_cc, 32), options={"num_warps": warps, "num_stages": stages})


def triton_side(v, arch, reps, env, kiln, tmp):
    cc = {"sm_80": 80, "sm_90a": 90}[arch]
    cache = os.path.join(tmp, "triton-cache")
    os.makedirs(cache, exist_ok=True)
    triton_compile(v["triton"], cc, cache)  # warm-up: imports, the backend, LLVM
    k = None
    stages = []  # each compile's stages (Triton's own compilation listener: wall time, microseconds)

    def listener(times=None, **_):
        if times is not None:
            stages.append(dict(times.lowering_stages, source=times.ir_initialization))

    def once():
        nonlocal k
        k = triton_compile(v["triton"], cc, cache)

    triton.knobs.compilation.listener = listener
    try:
        t_cubin = timed(once, reps)
    finally:
        triton.knobs.compilation.listener = None
    ptx = os.path.join(tmp, "triton.ptx")
    cubin = os.path.join(tmp, "triton.cubin")
    with open(ptx, "w") as f:
        f.write(k.asm["ptx"])
    with open(cubin, "wb") as f:
        f.write(k.asm["cubin"])
    ptxas = triton_tool("ptxas" if cc < 90 else "ptxas-blackwell")  # the one Triton runs for this target
    arch_flag = "sm_90a" if cc == 90 else "sm_80"
    t_ptxas = timed(lambda: run([ptxas, "-arch=" + arch_flag, ptx, "-o", os.path.join(tmp, "t2.cubin")]), reps)
    rep = ptxas_report(ptxas, ptx, arch_flag, os.path.join(tmp, "t3.cubin"))
    nm, _ = sass_loop(kiln, cubin, env)
    return {
        "t_cubin": t_cubin,
        "t_ptx": (t_cubin[0] - t_ptxas[0],),  # the median compile less the median ptxas run on its PTX
        "regs": rep["regs"], "spills": rep["spills"],
        "smem": rep["static_smem"] + k.metadata.shared,
        "nm": nm, "mma_kind": mma_kind(cubin, env),
        "stages": {n: statistics.median(st.get(n, 0) for st in stages) / 1e3 for n in TRITON_STAGES} if stages else None,
    }


# ---- the table ----

# Triton's steps as its compilation listener names them: the kernel's source to MLIR, the Triton and
# TritonGPU passes, the lowering to LLVM IR with LLVM's optimisation (llir), NVPTX code generation (ptx)
TRITON_STAGES = ("source", "ttir", "ttgir", "llir", "ptx")


def fmt_ms(t):
    return "%.0f" % (t * 1e3)


def fmt(x, f="%s"):
    return "–" if x is None else f % x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "kiln"))
    ap.add_argument("--out", default=None, help="the markdown file (default: stdout only)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one GEMM and one attention variant")
    ap.add_argument("--targets", default="sm_80,sm_90a")
    a = ap.parse_args()
    if not os.access(a.kiln, os.X_OK):
        sys.exit("vs_triton: no kiln binary at %s (build it, or pass --kiln)" % a.kiln)
    env = dict(os.environ)
    dis = nvdisasm()
    if dis:
        env["KILN_NVDISASM"] = dis
    tmp = tempfile.mkdtemp(prefix="vs-triton-")
    lines = []
    commit = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False).stdout.strip() or "?"
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], check=False).stdout.strip()
    cpu = "?"
    if os.path.exists("/proc/cpuinfo"):
        m = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
        cpu = m.group(1) if m else "?"
    kiln_ptxas = shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas"
    lines.append("# kiln vs Triton, compiled side by side (no GPU)\n")
    lines.append("- machine: %s, %d cores, %s" % (cpu, os.cpu_count(), platform.platform()))
    lines.append("- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    lines.append("- kiln: commit %s%s; ptxas %s" % (commit, " (with local changes)" if dirty else "",
                                                     tool_version(kiln_ptxas)))
    lines.append("- Triton %s; its ptxas %s (sm_80), %s (sm_90a); nvdisasm %s" % (
        triton.__version__, tool_version(triton_tool("ptxas")), tool_version(triton_tool("ptxas-blackwell")),
        tool_version(dis)))
    lines.append("- command: `%s`" % " ".join(["bench/vs_triton.py"] + sys.argv[1:]))
    lines.append("")
    lines.append("Compile times are the median of %d runs, in ms: kiln's command line with the kernel cache "
                 "bypassed (process start included), Triton in-process after a warm-up with a fresh cache "
                 "(to PTX: its whole compile less the median time of its ptxas on the same PTX). `nm/mma` is "
                 "non-MMA SASS instructions per MMA in the MMA loop (static count, `kiln inspect`); where the "
                 "loop has warpgroup MMAs it is per m16n8 MMA of work (an HGMMA .64xN counts N/8, a warp's "
                 "share of it), so mma.sync and wgmma loops compare. The sim columns are kiln's simulator counters at a small shape with the same "
                 "tiles (shared wavefronts per request; the share of wavefronts that are bank conflicts). The "
                 "model column is kiln's roofline estimate at the full shape on the row's reference part "
                 "(docs/profiling.md): a model, not a measurement." % a.reps)
    steps_rows = []
    for arch in a.targets.split(","):
        lines.append("")
        lines.append("## %s\n" % arch)
        lines.append("| kernel | PTX ms kiln / Triton (x) | cubin ms kiln / Triton (x) | regs kiln / Triton | spills | "
                     "smem KiB kiln / Triton | MMA kiln / Triton | nm/mma kiln / Triton | sim wf/req, conflicts | "
                     "model (kiln) |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for v in variants(a.quick):
            print("vs_triton: %s %s" % (arch, v["name"]), file=sys.stderr, flush=True)
            try:
                k = kiln_side(a.kiln, v, arch, a.reps, env, tmp)
            except Refused as e:
                lines.append("| %s | kiln refused it: %s | | | | | | | | |" % (v["name"], str(e).replace("|", "/")))
                continue
            try:
                t = triton_side(v, arch, a.reps, env, a.kiln, tmp)
            except Exception as e:  # noqa: BLE001 - Triton's own errors, whatever their class
                lines.append("| %s | Triton failed: %s | | | | | | | | |" % (v["name"], str(e).replace("|", "/")[:300]))
                continue
            if k["steps"] and t["stages"]:
                ts = t["stages"]
                steps_rows.append("| %s %s | %s | %s | %.1f | %.1f (%.0fx) |" % (
                    arch, v["name"], " / ".join("%.1f" % x for x in k["steps"]),
                    " / ".join("%.1f" % ts[n] for n in TRITON_STAGES), ts["llir"] + ts["ptx"],
                    ts["ptx"], t["t_ptx"][0] * 1e3 / ts["ptx"] if ts["ptx"] else 0))
            lines.append("| %s | %s / %s (%.1fx) | %s / %s (%.1fx) | %s / %s | %s / %s | %.1f / %.1f | %s / %s | %s / %s | "
                         "%.2f, %.0f%% | %s us, %s-bound, %s TF/s |" % (
                             v["name"], fmt_ms(k["t_ptx"][0]), fmt_ms(t["t_ptx"][0]), t["t_ptx"][0] / k["t_ptx"][0],
                             fmt_ms(k["t_cubin"][0]), fmt_ms(t["t_cubin"][0]), t["t_cubin"][0] / k["t_cubin"][0],
                             fmt(k["regs"]), fmt(t["regs"]), fmt(k["spills"]), fmt(t["spills"]),
                             (k["smem"] or 0) / 1024, (t["smem"] or 0) / 1024, k["mma_kind"], t["mma_kind"],
                             fmt(k["nm"], "%.2f"), fmt(t["nm"], "%.2f"), k["wf_per_req"], 100 * k["conflict_share"],
                             fmt(k["model_us"], "%.0f"), k["bound"], fmt(k["model_tflops"], "%.0f")))
    if steps_rows:
        lines.append("")
        lines.append("## Where the compile time goes\n")
        lines.append("kiln's steps in thread CPU ms (`kiln compile -v`: its lowering to LLVM IR, LLVM's passes, NVPTX "
                     "code generation), Triton's stages in wall ms (its compilation listener: the source to MLIR, "
                     "ttir, ttgir, llir = the lowering to LLVM IR with LLVM's optimisation, ptx = NVPTX code "
                     "generation), medians of the runs above. Both hand the kernel to the same LLVM NVPTX code "
                     "generation, whose time follows the kernel's size: the last column is Triton's whole compile "
                     "to PTX over its own ptx stage, the most any compiler that emits this kernel through LLVM's "
                     "NVPTX backend could be ahead of Triton if its code generation cost what Triton's does "
                     "and everything else cost nothing.\n")
        lines.append("| kernel | kiln: lowering / LLVM passes / PTX emission | Triton: source / ttir / ttgir / llir / ptx "
                     "| Triton in LLVM (llir + ptx) | Triton's ptx stage (Triton to PTX over it) |")
        lines.append("|---|---|---|---|---|")
        lines += steps_rows
    shutil.rmtree(tmp, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
        print("vs_triton: wrote %s" % a.out, file=sys.stderr)


if __name__ == "__main__":
    main()
