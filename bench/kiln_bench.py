"""kiln_bench.py - what the GPU benchmarks share (bench/attention.py, bench/gemm.py): finding the kiln
binary, compiling a variant to PTX with its launch facts (`kiln compile --emit ptx|launch`), the CUDA
driver through ctypes inside PyTorch's context, argument packing, event timing, the error measure,
TFLOP/s, and the target row of a device.
"""
import ctypes
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the bundle or the source tree


def fail(msg):
    sys.exit(os.path.basename(sys.argv[0]) + ": " + msg)


def find_kiln(given):
    for path in [given, os.path.join(ROOT, "build", "kiln"), os.path.join(ROOT, "kiln")]:
        if path and os.access(path, os.X_OK):
            return path
    fail("no kiln binary (build it, or pass --kiln)")


def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        fail("%s: %s" % (" ".join(cmd), p.stderr.strip() or p.stdout.strip()))
    return p.stdout


class KilnError(Exception):
    """kiln refused a variant (its one-line message)."""


def kiln_out(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise KilnError((p.stderr.strip() or p.stdout.strip()).splitlines()[-1])
    return p.stdout


class Variant:
    """One compiled kiln variant: PTX, kernel name, threads, dynamic shared bytes, parameter list."""

    def __init__(self, kiln, recipe, target, settings):
        self.settings = settings
        sets = []
        for kv in settings:
            sets += ["--set", kv]
        ir = kiln_out([kiln, "compile", recipe, "--target", target, "--emit", "ir"] + sets)
        header = ir.splitlines()[0]
        self.params = re.findall(r"%(\w+): (ptr<\w+>|\w+)", header[: header.index(")")])
        self.warps = int(re.search(r"warps = (\d+)", header).group(1)) if "warps =" in header else 4
        base = [kiln, "compile", recipe, "--target", target] + sets
        self.ptx = kiln_out(base + ["--emit", "ptx"]).encode()
        facts = json.loads(kiln_out(base + ["--emit", "launch"]))
        self.name, self.threads, self.shared = facts["kernel"], facts["threads"], facts["shared_bytes"]
        self.resolved = facts.get("settings", {})  # every parameter as kiln built the kernel
        self.tmaps = facts.get("tensor_maps", [])  # parameters after the arguments (docs/hopper.md)

    def knob(self, name):
        """The value of a setting of this variant (a string): as kiln resolved it (a default computed
        from the other settings included), else as given; None if the recipe has no such parameter."""
        if name in self.resolved:
            return self.resolved[name]
        for kv in self.settings:
            k, _, v = kv.partition("=")
            if k == name:
                return v
        return None


_variants = {}


def variant(kiln, recipe, target, settings):
    key = (recipe, target, tuple(settings))
    if key not in _variants:
        _variants[key] = Variant(kiln, recipe, target, settings)
    return _variants[key]


class Driver:
    MAX_DYNAMIC_SHARED = 8  # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES

    def __init__(self):
        self.cu = ctypes.CDLL("libcuda.so.1")
        self.check(self.cu.cuInit(0), "cuInit")

    def check(self, rc, what):
        if rc != 0:
            s = ctypes.c_char_p()
            self.cu.cuGetErrorString(rc, ctypes.byref(s))
            fail("%s failed: %s (%d)" % (what, s.value.decode() if s.value else "?", rc))

    def load(self, v):
        mod, fn = ctypes.c_void_p(), ctypes.c_void_p()
        self.check(self.cu.cuModuleLoadData(ctypes.byref(mod), ctypes.c_char_p(v.ptx + b"\0")), "cuModuleLoadData")
        self.check(self.cu.cuModuleGetFunction(ctypes.byref(fn), mod, v.name.encode()), "cuModuleGetFunction")
        if v.shared > 48 * 1024:
            self.check(self.cu.cuFuncSetAttribute(fn, self.MAX_DYNAMIC_SHARED, ctypes.c_int(v.shared)),
                       "cuFuncSetAttribute")
        return mod, fn

    def unload(self, mod):
        self.check(self.cu.cuModuleUnload(mod), "cuModuleUnload")

    def launch(self, fn, grid, threads, shared, stream, args):
        self.check(self.cu.cuLaunchKernel(fn, ctypes.c_uint(grid[0]), ctypes.c_uint(grid[1]), ctypes.c_uint(grid[2]),
                                          ctypes.c_uint(threads), ctypes.c_uint(1), ctypes.c_uint(1),
                                          ctypes.c_uint(shared), ctypes.c_void_p(stream), args, None),
                   "cuLaunchKernel")


def postfix(expr, args):
    """A launch expression (docs/packs.md, "Expressions": integers, $i for argument i, + - * / % cdiv min,
    space-separated, postfix) for the arguments' integer values."""
    st = []
    for t in expr.split():
        if t in ("+", "-", "*", "/", "%", "cdiv", "min"):
            b, a = st.pop(), st.pop()
            st.append({"+": a + b, "-": a - b, "*": a * b, "/": a // b, "%": a % b, "cdiv": -(-a // b),
                       "min": min(a, b)}[t])
        else:
            st.append(int(args[int(t[1:])]) if t.startswith("$") else int(t))
    if len(st) != 1:
        fail("launch expression %r leaves %d values" % (expr, len(st)))
    return st[0]


TMAP_TYPES = {"u8": 0, "i32": 3, "f16": 6, "f32": 7, "bf16": 9}  # CUtensorMapDataType
TMAP_SWIZZLE = {0: 0, 32: 1, 64: 2, 128: 3}


def tensor_maps(v, tensors, scalars):
    """The 128-byte tensor maps v's kernel takes after its arguments (`--emit launch`'s tensor_maps),
    encoded by the driver (no interleave, L2 promotion 128 B, zero fill, as the runtime does)."""
    if not v.tmaps:
        return []
    cu = ctypes.CDLL("libcuda.so.1")
    names = [n for n, _ in v.params]
    args = [0 if ty.startswith("ptr") else scalars[n] for n, ty in v.params]
    maps = []
    for m in v.tmaps:
        rank = len(m["dims"])
        dims = (ctypes.c_uint64 * rank)(*[postfix(e, args) for e in m["dims"]])
        strides = (ctypes.c_uint64 * max(1, rank - 1))(*[postfix(e, args) for e in m["strides"]])
        box = (ctypes.c_uint32 * rank)(*m["box"])
        one = (ctypes.c_uint32 * rank)(*([1] * rank))
        raw = (ctypes.c_uint8 * (128 + 64))()  # 64-byte aligned inside
        addr = ctypes.addressof(raw) + (-ctypes.addressof(raw)) % 64
        rc = cu.cuTensorMapEncodeTiled(ctypes.c_void_p(addr), ctypes.c_int(TMAP_TYPES[m["type"]]),
                                       ctypes.c_uint32(rank), ctypes.c_void_p(tensors[names[m["arg"]]].data_ptr()),
                                       dims, strides, box, one, ctypes.c_int(0),
                                       ctypes.c_int(TMAP_SWIZZLE[m["swizzle"]]), ctypes.c_int(2), ctypes.c_int(0))
        if rc != 0:
            fail("cuTensorMapEncodeTiled failed (%d) for %s's map %s" % (rc, names[m["arg"]], m))
        maps.append((raw, addr))
    return maps


def pack_args(v, tensors, scalars):
    """kernelParams for cuLaunchKernel: one pointer per parameter, in the kernel's order, then one per
    tensor map the kernel takes (TMA copies and stores)."""
    ctype = {"i32": ctypes.c_int32, "i64": ctypes.c_int64, "f32": ctypes.c_float}
    vals = []
    for name, ty in v.params:
        if ty.startswith("ptr"):
            vals.append(ctypes.c_uint64(tensors[name].data_ptr()))
        elif ty in ctype:
            vals.append(ctype[ty](scalars[name]))
        else:
            fail("parameter %s has type %s, which the benchmark cannot pass" % (name, ty))
    maps = tensor_maps(v, tensors, scalars)
    ptrs = [ctypes.cast(ctypes.pointer(x), ctypes.c_void_p) for x in vals] + [ctypes.c_void_p(a) for _, a in maps]
    arr = (ctypes.c_void_p * len(ptrs))(*ptrs)
    return arr, (vals, maps)  # keep vals and the maps alive as long as arr


def time_ms(torch, fn, warmup, reps):
    for _ in range(warmup):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / reps


def rms_rel_err(got, ref):
    """max |got - ref| / max(|ref|, rms(ref)), as kiln run measures an output."""
    got, ref = got.double(), ref.double()
    floor = max(ref.pow(2).mean().sqrt().item(), 1e-30)
    return ((got - ref).abs() / ref.abs().clamp(min=floor)).max().item()


def tflops(work, ms):
    return work / (ms * 1e-3) / 1e12 if ms else None


def write_result(text, out, name, date):
    """Prints a result table and writes it to OUT/NAME-DATE.md."""
    print(text)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "%s-%s.md" % (name, date.strftime("%Y%m%d-%H%M%S")))
    with open(path, "w") as f:
        f.write(text)
    print("written to " + path, file=sys.stderr)


def open_gpu(a, kiln, plan):
    """--plan: plan(a, kiln, target) without a GPU, and None. Otherwise PyTorch's CUDA context made
    current, and (torch, Driver(), the target row: --target or the device's)."""
    if a.plan:
        plan(a, kiln, a.target or "sm_90a")
        return None
    try:
        import torch
    except ImportError:
        fail("needs PyTorch (pip install torch); --plan runs without it")
    if not torch.cuda.is_available():
        fail("no CUDA device visible to PyTorch")
    torch.cuda.init()
    torch.empty(1, device="cuda")  # PyTorch's primary context is now current
    return torch, Driver(), a.target or target_of(torch.cuda.get_device_capability())


def target_of(cap):
    """kiln's target row for compute capability (major, minor): its own row, else the nearest lower
    row without the arch-specific suffix (as kiln run picks it)."""
    sm = cap[0] * 10 + cap[1]
    exact = {75: "sm_75", 80: "sm_80", 86: "sm_86", 89: "sm_89", 90: "sm_90a", 100: "sm_100a", 120: "sm_120a"}
    if sm in exact:
        return exact[sm]
    lower = [x for x in (75, 80, 86, 89) if x <= sm]
    if not lower:
        fail("compute capability %d.%d is older than kiln's oldest target (sm_75)" % cap)
    return "sm_%d" % lower[-1]
