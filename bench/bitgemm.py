#!/usr/bin/env python3
"""bitgemm.py - kiln's low-bit GEMMs (docs/bitgemm.md) against cuBLAS f16 (torch.matmul) and cuBLASLt
int8 (torch._int_mm), in the same process, on one GPU.

    python3 bench/bitgemm.py [--kiln build/kiln] [--out bench/results] [--kinds W1A1,W2A2,W4A4,W3A5,W4A4g,W4A4f,W4A16]
                             [--ms 1,4,16,64,256,4096] [--nk llama] [--set NAME=VALUE]... [--reps N]
    python3 bench/bitgemm.py --plan   # the kiln variants, grids and the rate kernels' PTX (no GPU;
                                      # ptxas checks the rate kernels when it is installed)

First, the GPU's mma rates in isolation: one kernel per instruction (b1 AND-popcount m16n8k256, s8
m16n8k32, f16 m16n8k16), eight independent accumulator chains per warp in registers, no memory in
the loop (hand-written PTX, its .version/.target taken from kiln's own PTX for the row). Every GEMM
row is then reported against the b1 rate: "b1 util" is the plane products' work (p q 2 M N K bit
operations) over the time, divided by the measured b1 rate.

Problems: M = 1, 4, 16, 64, 256, 4096 tokens with (N, K) from Llama layers: 4096x4096, 14336x4096,
4096x14336, 28672x8192. Kinds:
  WpAq  recipes/bitgemm.lua (enc int, signed weights and activations, f16 out with per-token and
        per-channel scales) on random planes; M <= 16 uses bitgemm_splitk + bitgemm_reduce when the
        output tiles alone would not fill the GPU. The activation packer (bitpack_act) is timed
        on its own, and the sum is reported too.
  W4A16, W8A16, W3A16  recipes/w4a16.lua (group 128) on random packed words and f16 activations.
Baselines on the same M, N, K: torch.matmul (f16 x f16 -> f16) and torch._int_mm (int8 -> int32;
cuBLASLt wants M > 16, so smaller M is reported as skipped).

Every kiln output is checked first (the first rows and columns, against a product of the decoded
inputs in f64), then both sides are timed with CUDA events after warm-up. Results: a markdown table
on stdout and in OUT/bitgemm-<date>.md; ratios are baseline time / kiln time (> 1: kiln is faster).
Goals (the issue's): W4A16 >= 3.5x cuBLAS f16 at M <= 16; W1A1 and W2A2 >= 1.5x cuBLASLt int8 where
the b1 rate allows it. The table says which rows meet them; nothing is asserted.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from kiln_bench import (KilnError, write_result, fail, find_kiln, open_gpu, pack_args, run, time_ms, variant)  # noqa: E402

MS = [1, 4, 16, 64, 256, 4096]
LLAMA_NK = [(4096, 4096), (14336, 4096), (4096, 14336), (28672, 8192)]
KINDS = {  # name: (recipe, settings)
    "W1A1": ("bitgemm", {"p": 1, "q": 1}),
    "W2A2": ("bitgemm", {"p": 2, "q": 2}),
    "W4A4": ("bitgemm", {"p": 4, "q": 4}),
    "W3A5": ("bitgemm", {"p": 3, "q": 5}),
    "W4A4g": ("bitgemm", {"p": 4, "q": 4, "G": 128, "BLOCK_KW": 4}),  # per-group weight scales
    "W4A4f": ("bitgemm", {"p": 4, "q": 4, "act": "f16"}),  # the activation packer fused into the GEMM
    "W4A16": ("w4a16", {"bits": 4}),
    "W8A16": ("w4a16", {"bits": 8}),
    "W3A16": ("w4a16", {"bits": 3}),
}
CHECK_ROWS, CHECK_COLS = 64, 512
SMS_GUESS = 132  # for --plan's split-K choice; the run uses the device's count

# ---- the rate kernels: hand-written PTX, eight independent mma chains per warp ----

RATE_INSTR = {  # name: (mma, A regs, B regs, C regs, C type, operations per instruction)
    "b1": ("mma.sync.aligned.m16n8k256.row.col.s32.b1.b1.s32.and.popc", 4, 2, 4, "b32", 16 * 8 * 256 * 2),
    "s8": ("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32", 4, 2, 4, "b32", 16 * 8 * 32 * 2),
    "f16": ("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", 4, 2, 4, "f32", 16 * 8 * 16 * 2),
}
CHAINS = 8


def rate_ptx(header, name):
    """A kernel `rate_NAME(out, iters)`: iters x CHAINS mma per warp, the accumulators summed and
    stored once per thread (so that nothing is dead)."""
    mma, na, nb, nc, ct, _ = RATE_INSTR[name]
    lines = [header, ".visible .entry rate_%s(.param .u64 out, .param .u32 iters)" % name, "{",
             "  .reg .pred %p;", "  .reg .b32 %a<8>;", "  .reg .b32 %i, %n, %me, %s, %t, %nt;",
             "  .reg .%s %%c<%d>;" % (ct, CHAINS * nc), "  .reg .u64 %o, %off;",
             "  mov.u32 %me, %tid.x;"]
    for r in range(max(na, nb) + 2):
        lines.append("  add.u32 %%a%d, %%me, %d;" % (r, 0x9E37 * (r + 1)))
    zero = "0f00000000" if ct == "f32" else "0"
    for c in range(CHAINS * nc):
        lines.append("  mov.%s %%c%d, %s;" % (ct, c, zero))
    lines += ["  ld.param.u32 %n, [iters];", "  mov.u32 %i, 0;", "LOOP:"]
    for ch in range(CHAINS):
        cs = ", ".join("%%c%d" % (ch * nc + j) for j in range(nc))
        a = ", ".join("%%a%d" % ((j + ch) % 8) for j in range(na))
        b = ", ".join("%%a%d" % ((j + ch + 3) % 8) for j in range(nb))
        lines.append("  %s {%s}, {%s}, {%s}, {%s};" % (mma, cs, a, b, cs))
    lines += ["  add.u32 %i, %i, 1;", "  setp.lt.u32 %p, %i, %n;", "  @%p bra LOOP;", "  mov.u32 %s, 0;"]
    for c in range(CHAINS * nc):
        if ct == "f32":
            lines.append("  cvt.rzi.s32.f32 %%t, %%c%d;" % c)
            lines.append("  add.u32 %s, %s, %t;")
        else:
            lines.append("  add.u32 %%s, %%s, %%c%d;" % c)
    lines += ["  ld.param.u64 %o, [out];", "  mov.u32 %t, %ctaid.x;", "  mov.u32 %nt, %ntid.x;", "  mad.lo.u32 %t, %t, %nt, %me;",
              "  mul.wide.u32 %off, %t, 4;", "  add.u64 %o, %o, %off;", "  st.global.u32 [%o], %s;", "  ret;", "}"]
    return "\n".join(lines) + "\n"


def ptx_header(kiln, target):
    """The .version/.target/.address_size lines kiln's own PTX uses for the row."""
    ptx = kiln_ptx(kiln, target)
    head = [ln for ln in ptx.splitlines() if ln.startswith((".version", ".target", ".address_size"))]
    return "\n".join(head) + "\n"


def kiln_ptx(kiln, target):
    return run([kiln, "compile", os.path.join(ROOT, "recipes", "bitgemm.lua"), "--target", target, "--emit", "ptx"])


class RawVariant:
    def __init__(self, name, ptx):
        self.name, self.ptx, self.shared = name, ptx.encode(), 0


def measure_rates(torch, drv, header, sms):
    """Operations per second of each instruction, all SMs busy (8 warps per SM x 4 blocks)."""
    rates = {}
    threads, blocks, iters = 256, sms * 4, 4096
    out = torch.empty(blocks * threads, device="cuda", dtype=torch.int32)
    stream = torch.cuda.current_stream().cuda_stream
    import ctypes
    for name in RATE_INSTR:
        v = RawVariant("rate_" + name, rate_ptx(header, name))
        mod, fn = drv.load(v)
        vals = [ctypes.c_uint64(out.data_ptr()), ctypes.c_uint32(iters)]
        args = (ctypes.c_void_p * 2)(*[ctypes.cast(ctypes.pointer(x), ctypes.c_void_p) for x in vals])

        def go():
            drv.launch(fn, (blocks, 1, 1), threads, 0, stream, args)

        ms = time_ms(torch, go, 3, 10)
        drv.unload(mod)
        n_mma = blocks * (threads // 32) * iters * CHAINS
        rates[name] = n_mma * RATE_INSTR[name][5] / (ms * 1e-3)
    return rates


# ---- the kiln variants ----

def words(k):
    return (k + 31) // 32


def pow2_floor(x):
    """The largest power of two at most x (x >= 1)."""
    return 1 << (x.bit_length() - 1)


def settings_for(a, kind, m, n, k, sms):
    """(recipe, settings, split_k): the kiln variant of a problem."""
    recipe, base = KINDS[kind]
    s = dict(base)
    split = 1
    if recipe == "bitgemm":
        s.update({"enc": "int", "w_signed": 1, "a_signed": 1, "out": "f16"})
        one_kernel = "G" in s or "act" in s  # the split-K kernels have neither
        if m <= 16:
            s.update({"BLOCK_M": 16, "BLOCK_N": 64, "warps": 4, "stages": 3})
            tiles = (n + 63) // 64
            if tiles < 2 * sms and not one_kernel:
                split = pow2_floor(min(16, max(2, (2 * sms + tiles - 1) // tiles)))  # a declared split_k value
                while split > 1 and words(k) // split < 8:
                    split //= 2
        elif m <= 128:
            s.update({"BLOCK_M": 64, "BLOCK_N": 64, "warps": 4, "stages": 3})
        else:
            s.update({"BLOCK_M": 128, "BLOCK_N": 64, "warps": 8, "stages": 2})
    else:
        s.update({"G": 128, "dtype": "f16"})
        if m <= 16:
            s.update({"BLOCK_M": 16, "BLOCK_N": 64, "warps": 4, "stages": 3})
            tiles = (n + 63) // 64
            if tiles < 2 * sms:  # w4a16_splitk + w4a16_reduce: enough programs for every SM
                rows = (k + 16 * 2 * (16 // int(s["bits"])) - 1) // (16 * 2 * (16 // int(s["bits"]))) * 16
                split = pow2_floor(min(16, max(2, (2 * sms + tiles - 1) // tiles)))  # a declared split_k value
                while split > 1 and rows // split < 32:  # at least two steps of 16 word rows a chunk
                    split //= 2
        elif m <= 128:
            s.update({"BLOCK_M": 64, "BLOCK_N": 128, "warps": 4, "stages": 3})
        else:
            s.update({"BLOCK_M": 128, "BLOCK_N": 128, "warps": 8, "stages": 3})
    for kv in a.set:
        name, _, value = kv.partition("=")
        s[name] = value
    if split > 1:
        s["split_k"] = split
    return recipe, s, split


def as_list(s, drop=()):
    return ["%s=%s" % (k, v) for k, v in sorted(s.items()) if k not in drop]


def problems(a):
    ms = [int(x) for x in a.ms.split(",") if x]
    return [(kind, m, n, k) for kind in a.kinds.split(",") if kind for (n, k) in LLAMA_NK for m in ms]


def variants_of(a, kiln, target, kind, m, n, k, sms):
    """[(role, Variant, grid)] for a problem: the GEMM (one or two kernels) and the activation packer."""
    if kind not in KINDS:
        fail("unknown kind '%s' (%s)" % (kind, ", ".join(KINDS)))
    recipe, s, split = settings_for(a, kind, m, n, k, sms)
    rp = lambda r: os.path.join(ROOT, "recipes", r + ".lua")  # noqa: E731
    cdiv = lambda x, y: (x + y - 1) // y  # noqa: E731
    out = []
    if recipe == "w4a16" and split > 1:
        v1 = variant(kiln, rp("w4a16_splitk"), target, as_list(s))
        out.append(("gemm", v1, (cdiv(m, int(s["BLOCK_M"])), cdiv(n, int(s["BLOCK_N"])), split)))
        red = {x: y for x, y in s.items() if x in ("dtype", "split_k")}
        v2 = variant(kiln, rp("w4a16_reduce"), target, as_list(red))
        out.append(("reduce", v2, (cdiv(m, 16), cdiv(n, 64), 1)))
    elif recipe == "bitgemm" and split > 1:
        loop = {x: y for x, y in s.items() if x not in ("out",)}
        v1 = variant(kiln, rp("bitgemm_splitk"), target, as_list(loop))
        out.append(("gemm", v1, (cdiv(m, int(s["BLOCK_M"])), cdiv(n, int(s["BLOCK_N"])), split)))
        red = {x: y for x, y in s.items() if x in ("p", "q", "enc", "w_signed", "a_signed", "out", "split_k")}
        v2 = variant(kiln, rp("bitgemm_reduce"), target, as_list(red))
        out.append(("reduce", v2, (cdiv(m, 16), cdiv(n, 64), 1)))
    else:
        v = variant(kiln, rp(recipe), target, as_list({x: y for x, y in s.items() if x != "split_k"}))
        out.append(("gemm", v, (cdiv(m, int(s["BLOCK_M"])), cdiv(n, int(s["BLOCK_N"])), 1)))
    if recipe == "bitgemm":
        # act = f16: the GEMM quantises x itself; the packer (the same quantiser) only gives the
        # check its codes ("refpack", not timed)
        pk = variant(kiln, rp("bitpack_act"), target, ["q=%s" % s["q"], "enc=" + ("signed" if int(s["q"]) > 1 else "bipolar")] +
                     (["G=%s" % s["G"]] if "G" in s else []))
        out.append(("pack" if s.get("act", "packed") == "packed" else "refpack", pk, (cdiv(m, 16), 1, 1)))
    return out


def plan(a, kiln, target):
    print("kiln %s, target %s" % (kiln, target))
    header = ptx_header(kiln, target)
    ptxas = next((p for p in [os.environ.get("PTXAS"), "/usr/local/cuda/bin/ptxas"] if p and os.access(p, os.X_OK)),
                 None)
    for name in RATE_INSTR:
        ptx = rate_ptx(header, name)
        verdict = "ptxas not installed"
        if ptxas:
            with tempfile.TemporaryDirectory() as d:
                src = os.path.join(d, "r.ptx")
                with open(src, "w") as f:
                    f.write(ptx)
                p = subprocess.run([ptxas, "-arch=" + target, src, "-o", os.path.join(d, "r.o")],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                if p.returncode != 0:
                    fail("ptxas refuses the %s rate kernel: %s" % (name, p.stdout.strip()))
                verdict = "ptxas accepts it"
        print("rate kernel %-4s: %d mma per warp per iteration, %s" % (name, CHAINS, verdict))
    for (kind, m, n, k) in problems(a):
        try:
            vs = variants_of(a, kiln, target, kind, m, n, k, SMS_GUESS)
        except KilnError as e:
            print("%-6s M=%-5d N=%-5d K=%-5d: kiln refuses it: %s" % (kind, m, n, k, e))
            continue
        print("%-6s M=%-5d N=%-5d K=%-5d: %s" % (kind, m, n, k, "; ".join(
            "%s %s [%s] grid %s, %d threads, %d bytes shared" % (role, v.name, " ".join(v.settings), g, v.threads,
                                                                 v.shared) for role, v, g in vs)))


# ---- tensors, checks, timing ----

def fused(vs):
    return any(x == "act=f16" for x in vs[0][1].settings)


def group_of(vs):
    return next((int(x.split("=")[1]) for x in vs[0][1].settings if x.startswith("G=")), 0)


def decode_planes(torch, planes, nplanes, rows, kw, k, signed):
    """planes int32 [nplanes, rows, kw] -> values [rows, k] (int64): bit b of word w is element b*kw + w."""
    shifts = torch.arange(32, device=planes.device, dtype=torch.int64)
    bits = (planes.long().unsqueeze(-1) >> shifts) & 1            # [np, rows, kw, 32]
    bits = bits.permute(0, 1, 3, 2).reshape(nplanes, rows, 32 * kw)[:, :, :k]
    code = sum(bits[i] << i for i in range(nplanes))
    if signed:
        code = torch.where(code >= (1 << (nplanes - 1)), code - (1 << nplanes), code)
    return code


def bench_bitgemm(torch, drv, vs, kind, m, n, k, p, q):
    kw = words(k)
    i32 = torch.int32
    xa = torch.randint(-2**31, 2**31 - 1, (q * m, kw), device="cuda", dtype=i32)
    wb = torch.randint(-2**31, 2**31 - 1, (kw, p * n), device="cuda", dtype=i32)
    if k % 32:  # bits past K must be zero (the packers guarantee it); the Llama K are whole words
        fail("K = %d is not a multiple of 32" % k)
    sa = torch.zeros(m, device="cuda", dtype=i32)
    sb = torch.zeros(n, device="cuda", dtype=i32)
    zpa = torch.zeros(m, device="cuda", dtype=i32)
    sx = torch.empty(m, device="cuda").uniform_(0.5, 1) / (k ** 0.5 * (1 << (q - 1)) * (1 << (p - 1)))
    G = group_of(vs)
    ng = (k + G - 1) // G if G else 1
    sw = torch.empty(ng * n, device="cuda").uniform_(0.5, 1)
    y = torch.full((m, n), float("nan"), device="cuda", dtype=torch.float16)
    split = next((int(x.split("=")[1]) for x in vs[0][1].settings if x.startswith("split_k=")), 1)
    part = torch.empty(m, split * n, device="cuda", dtype=i32) if split > 1 else None
    x16 = torch.empty(m, k, device="cuda", dtype=torch.float16).uniform_(-1, 1)
    xa2 = torch.empty(q * m, kw, device="cuda", dtype=i32)
    sx2, sa2, zp2 = torch.empty(m, device="cuda"), torch.empty(m, device="cuda", dtype=i32), torch.empty(
        m, device="cuda", dtype=i32)
    back = torch.empty(1, 1, device="cuda", dtype=i32)
    one = torch.zeros(1, 1, device="cuda", dtype=i32)
    stream = torch.cuda.current_stream().cuda_stream
    scal = {"M": m, "N": n, "K": k, "Kw": kw}
    launches, packs, refpacks = [], [], []
    for role, v, grid in vs:
        if role in ("pack", "refpack"):
            t = {"x": x16, "xa": xa2, "sx": sx2, "sa": sa2, "zpa": zp2, "back": back}
        else:
            t = {"xa": one if fused(vs) else xa, "x": x16 if fused(vs) else one.half(), "wb": wb, "sa": sa, "sb": sb,
                 "zpa": zpa, "sx": sx, "sw": sw, "y": y, "part": part}
        sc = dict(scal)
        if role == "gemm" and split > 1:
            bw = int(next(x for x in v.settings if x.startswith("BLOCK_KW=")).split("=")[1])
            sc["CW"] = ((kw + split - 1) // split + bw - 1) // bw * bw
        args, keep = pack_args(v, t, sc)
        mod, fn = drv.load(v)
        {"pack": packs, "refpack": refpacks}.get(role, launches).append((fn, grid, v, args, keep, mod))

    def gemm():
        for fn, grid, v, args, _, _ in launches:
            drv.launch(fn, grid, v.threads, v.shared, stream, args)

    def pack():
        for fn, grid, v, args, _, _ in packs:
            drv.launch(fn, grid, v.threads, v.shared, stream, args)

    gemm()
    torch.cuda.synchronize()
    r, c = min(m, CHECK_ROWS), min(n, CHECK_COLS)
    if fused(vs):  # the same codes and scales as the kernel's prologue (the same quantiser)
        for fn, grid, v, args, _, _ in refpacks:
            drv.launch(fn, grid, v.threads, v.shared, stream, args)
        torch.cuda.synchronize()
        xa, sx = xa2, sx2
    xv = decode_planes(torch, xa.view(q, m, kw)[:, :r], q, r, kw, k, True).double()
    wv = decode_planes(torch, wb.view(kw, p, n)[:, :, :c].permute(1, 2, 0).contiguous(), p, c, kw, k, True).double()
    if G:  # group g is the words g*G/32 ..: element b*kw + w of the plain decoding sits in word w
        grp = (torch.arange(k, device="cuda") % kw) // (G // 32)
        ref = sum((xv * (grp == g)) @ wv.t() * sw.view(ng, n)[g, :c].double().view(1, c) for g in range(ng))
        ref = ref * sx[:r].double().view(r, 1)
    else:
        ref = (xv @ wv.t()) * sx[:r].double().view(r, 1) * sw[:c].double().view(1, c)
    got = y[:r, :c].double()
    err = ((got - ref).abs() / ref.abs().clamp(min=ref.pow(2).mean().sqrt().item())).max().item()
    row = {"err": err, "ok": err <= 2e-3}
    row["kiln"] = time_ms(torch, gemm, 5, 30)
    row["pack"] = time_ms(torch, pack, 5, 30)
    for _, _, _, _, _, mod in launches + packs + refpacks:
        drv.unload(mod)
    return row


def bench_w4a16(torch, drv, vs, kind, m, n, k, bits):
    role, v, grid = vs[0]
    split = next((int(x.split("=")[1]) for x in v.settings if x.startswith("split_k=")), 1)
    bkw = int(next(x for x in v.settings if x.startswith("BLOCK_KW=")).split("=")[1]) if any(
        x.startswith("BLOCK_KW=") for x in v.settings) else 16
    g = 128
    half = 16 // bits  # codes per 16-bit half of a word (recipes/w4a16.lua's layout)
    per = 2 * half
    kb = bkw * per
    kq = (k + kb - 1) // kb * bkw
    x = torch.empty(m, k, device="cuda", dtype=torch.float16).uniform_(-1, 1)
    wq = torch.randint(-2**31, 2**31 - 1, (n, kq), device="cuda", dtype=torch.int32)  # [N, Kq]
    sc = (torch.empty((k + g - 1) // g, n, device="cuda").uniform_(0.5, 1) / (k ** 0.5 * (1 << (bits - 1)))).half()
    y = torch.full((m, n), float("nan"), device="cuda", dtype=torch.float16)
    part = torch.empty(m, split * n, device="cuda", dtype=torch.float32) if split > 1 else None
    cq = ((kq + split - 1) // split + bkw - 1) // bkw * bkw
    launches = []
    for _, vv, gg in vs:
        a, kp = pack_args(vv, {"x": x, "wq": wq, "scale": sc, "y": y, "part": part},
                          {"M": m, "N": n, "K": k, "Kq": kq, "CQ": cq})
        md, f = drv.load(vv)
        launches.append((f, gg, vv, a, kp, md))
    stream = torch.cuda.current_stream().cuda_stream

    def gemm():
        for f, gg, vv, a, _, _ in launches:
            drv.launch(f, gg, vv.threads, vv.shared, stream, a)

    gemm()
    torch.cuda.synchronize()
    r, c = min(m, CHECK_ROWS), min(n, CHECK_COLS)
    words_ = wq[:c, :].t().contiguous().long() & 0xFFFFFFFF  # [kq, c]
    t = kq // bkw
    # field j of half h of word t * bkw + r: element t * kb + j * 2 * bkw + 2r + h
    shifts = (torch.arange(half, device="cuda").view(half, 1) * bits + torch.tensor([0, 16], device="cuda"))
    fields = (words_.view(t, bkw, 1, 1, c) >> shifts.view(1, 1, half, 2, 1)) & ((1 << bits) - 1)  # [t, r, j, h, c]
    codes = fields.permute(0, 2, 1, 3, 4).reshape(t * kb, c)[:k] - (1 << (bits - 1))
    w = (codes.double() * sc[:, :c].double().repeat_interleave(g, 0)[:k]).half().double()
    ref = x[:r].double() @ w
    got = y[:r, :c].double()
    err = ((got - ref).abs() / ref.abs().clamp(min=ref.pow(2).mean().sqrt().item())).max().item()
    row = {"err": err, "ok": err <= 2e-3, "kiln": time_ms(torch, gemm, 5, 30), "pack": None}
    for _, _, _, _, _, md in launches:
        drv.unload(md)
    del launches
    return row


def baselines(torch, m, n, k):
    """(cuBLAS f16 ms, cuBLASLt int8 ms or None, why)."""
    a = torch.empty(m, k, device="cuda", dtype=torch.float16).uniform_(-1, 1)
    b = torch.empty(k, n, device="cuda", dtype=torch.float16).uniform_(-1, 1)
    f16 = time_ms(torch, lambda: torch.matmul(a, b), 5, 30)
    a8 = torch.randint(-8, 9, (m, k), device="cuda", dtype=torch.int8)
    b8 = torch.randint(-8, 9, (n, k), device="cuda", dtype=torch.int8).t()
    try:
        torch._int_mm(a8, b8)
        i8, why = time_ms(torch, lambda: torch._int_mm(a8, b8), 5, 30), ""
    except RuntimeError as e:
        i8, why = None, str(e).splitlines()[0][:80]
    return f16, i8, why


def bits_of(kind):
    pq = re.match(r"W(\d+)A(\d+)", kind)  # W4A4g, W4A4f: the suffix names a variant, not a width
    return int(pq.group(1)), int(pq.group(2))


def table(rows, rates):
    head = ["kind", "M", "N", "K", "kiln ms", "check", "+pack ms", "b1 util", "vs cuBLAS f16", "vs cuBLASLt i8",
            "goal"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        p, q = bits_of(r["kind"])
        cells = [r["kind"], str(r["M"]), str(r["N"]), str(r["K"])]
        if r.get("kiln") is None:
            lines.append("| " + " | ".join(cells + ["error", r.get("why", "")] + [""] * 5) + " |")
            continue
        util = ""
        if q < 16:
            util = "%.2f" % (p * q * 2.0 * r["M"] * r["N"] * r["K"] / (r["kiln"] * 1e-3) / rates["b1"])
        vf = r["f16"] / r["kiln"]
        vi = r["i8"] / r["kiln"] if r["i8"] else None
        goal = ""
        if q == 16 and p == 4 and r["M"] <= 16:
            goal = "W4A16 >= 3.5x f16: " + ("met" if vf >= 3.5 else "not met")
        if q < 16 and p == q and p <= 2 and vi is not None:
            goal = "W%dA%d >= 1.5x i8: " % (p, q) + ("met" if vi >= 1.5 else "not met")
        cells += ["%.4f" % r["kiln"], ("ok " if r["ok"] else "FAIL ") + "%.1e" % r["err"],
                  "%.4f" % (r["kiln"] + r["pack"]) if r["pack"] else "", util, "%.2f" % vf,
                  "%.2f" % vi if vi else "skipped", goal]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default=os.environ.get("KILN"), help="the kiln binary (default: $KILN, build/kiln, ./kiln)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--kinds", default="W1A1,W2A2,W4A4,W3A5,W4A4g,W4A4f,W4A16,W8A16,W3A16")
    ap.add_argument("--ms", default=",".join(str(m) for m in MS))
    ap.add_argument("--set", action="append", default=[], help="kiln knob for every problem, e.g. stages=4")
    ap.add_argument("--target", help="kiln target row (default: from the device)")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--plan", action="store_true", help="print the kiln variants and check the rate kernels; no GPU")
    return ap.parse_args()


def main():
    a = parse_args()
    kiln = find_kiln(a.kiln)
    g = open_gpu(a, kiln, plan)
    if g is None:
        return 0
    torch, drv, target = g
    if int(re.match(r"sm_(\d+)", target).group(1)) < 80:
        fail("the b1 mma needs sm_80 or newer; this device is %s" % target)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rates = measure_rates(torch, drv, ptx_header(kiln, target), sms)
    print("mma rates (TOPS): " + ", ".join("%s %.0f" % (k, v / 1e12) for k, v in rates.items()), file=sys.stderr)
    rows, base = [], {}
    for (kind, m, n, k) in problems(a):
        row = {"kind": kind, "M": m, "N": n, "K": k}
        try:
            vs = variants_of(a, kiln, target, kind, m, n, k, sms)
        except KilnError as e:
            row.update(kiln=None, why=str(e)[:120])
            rows.append(row)
            continue
        p, q = bits_of(kind)
        row.update(bench_bitgemm(torch, drv, vs, kind, m, n, k, p, q) if q < 16 else
                   bench_w4a16(torch, drv, vs, kind, m, n, k, p))
        if (m, n, k) not in base:
            base[(m, n, k)] = baselines(torch, m, n, k)
        row["f16"], row["i8"], row["i8_why"] = base[(m, n, k)]
        rows.append(row)
        print("%s M=%d N=%d K=%d: kiln %.4f ms (err %.1e), cuBLAS f16 %.4f ms" % (
            kind, m, n, k, row["kiln"], row["err"], row["f16"]), file=sys.stderr)
        torch.cuda.empty_cache()
    version = run([kiln, "version"]).strip()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout.strip() or "unknown"
    date = datetime.datetime.now(datetime.timezone.utc)
    text = ("# bitgemm: kiln's low-bit GEMMs vs cuBLAS\n\n- device: %s (target %s, %d SMs)\n- date: %s\n"
            "- %s, commit %s, torch %s\n- mma rates measured in isolation (TOPS): %s\n"
            "- ratios: baseline time / kiln time; b1 util: p q 2 M N K / time / the b1 rate\n\n%s\n" % (
                torch.cuda.get_device_name(), target, sms, date.strftime("%Y-%m-%d %H:%M UTC"), version, commit,
                torch.__version__, ", ".join("%s %.0f" % (k, v / 1e12) for k, v in rates.items()), table(rows, rates)))
    why = sorted({r["i8_why"] for r in rows if r.get("i8_why")})
    if why:
        text += "\ncuBLASLt int8 skipped: %s\n" % "; ".join(why)
    write_result(text, a.out, "bitgemm", date)
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
