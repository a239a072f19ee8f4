"""kiln_pack: call the kernels of a kiln pack on PyTorch tensors.

A thin ctypes layer over libkiln_rt (include/kiln_rt.h): no build step, no compiler. The library is
$KILN_RT_LIB if set, else libkiln_rt.so from the build folder beside this package, else the system's.

    import torch, kiln_pack
    pack = kiln_pack.load("kernels.kpack")
    z = torch.empty_like(x)
    pack.vector_add(x, y, z)                 # n inferred from x's shape; the current stream

Every tensor is checked before anything reaches the driver: its dtype against the kernel's type, its
shape against the pack's launch rules for the sizes, contiguity, and that all tensors are CUDA tensors
on one device. Sizes a tensor dimension names directly are read from the shapes; others are keyword
arguments. Errors are KilnError with the kernel's and the argument's names. The checks use only the
attributes dtype, shape, device, is_contiguous() and data_ptr(), so they run without torch too.
"""
import ctypes
import os

__all__ = ["KilnError", "Pack", "Kernel", "load"]

_TYPES = {"f64": "float64", "f32": "float32", "f16": "float16", "bf16": "bfloat16", "e4m3": "float8_e4m3fn",
          "e5m2": "float8_e5m2", "i1": "bool", "i8": "int8", "u8": "uint8", "i16": "int16", "i32": "int32",
          "u32": "uint32", "i64": "int64"}
_ROLES = {1: "in", 2: "out", 3: "inout"}
_MAXARGS = 32


class KilnError(RuntimeError):
    """A pack that cannot be loaded, a call with wrong arguments, or a failed launch."""


class _Arg(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("is_tensor", ctypes.c_int), ("type", ctypes.c_char_p),
                ("elem_bytes", ctypes.c_int), ("role", ctypes.c_int), ("rank", ctypes.c_int)]


class _Plan(ctypes.Structure):
    _fields_ = [("variant", ctypes.c_int), ("settings", ctypes.c_char_p), ("grid", ctypes.c_int64 * 3),
                ("threads", ctypes.c_int), ("shared_bytes", ctypes.c_int),
                ("dims", (ctypes.c_int64 * 3) * _MAXARGS), ("ival", ctypes.c_int64 * _MAXARGS),
                ("fval", ctypes.c_double * _MAXARGS), ("target", ctypes.c_char_p), ("is_cubin", ctypes.c_int)]


def _library(path=None):
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (path, os.environ.get("KILN_RT_LIB"), os.path.join(here, "..", "..", "build", "libkiln_rt.so"),
                 "libkiln_rt.so.0", "libkiln_rt.so"):
        if cand and (os.sep not in cand or os.path.exists(cand)):
            try:
                lib = ctypes.CDLL(cand)
                break
            except OSError:
                continue
    else:
        raise KilnError("libkiln_rt not found: set KILN_RT_LIB to its path")
    P, I, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    sig = {"kiln_pack_open": (I, [ctypes.c_char_p, ctypes.POINTER(P), ctypes.c_char_p, S]),
           "kiln_pack_close": (None, [P]), "kiln_pack_kernel_count": (I, [P]),
           "kiln_pack_kernel_name": (ctypes.c_char_p, [P, I]), "kiln_pack_size_count": (I, [P, I]),
           "kiln_pack_size_name": (ctypes.c_char_p, [P, I, I]), "kiln_pack_arg_count": (I, [P, I]),
           "kiln_pack_arg_get": (I, [P, I, I, ctypes.POINTER(_Arg)]), "kiln_pack_variant_count": (I, [P, I]),
           "kiln_pack_dim_size": (I, [P, I, I, I, I]),
           "kiln_pack_plan_get": (I, [P, I, ctypes.POINTER(ctypes.c_int64), I, ctypes.POINTER(_Plan),
                                      ctypes.c_char_p, S]),
           "kiln_pack_launch": (I, [P, I, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_uint64), I, I,
                                    P, ctypes.c_char_p, S])}
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def _current_stream(device):
    """The CUDA stream torch would use now on device (None: the default stream, without torch)."""
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.current_stream(device).cuda_stream or None


class Kernel:
    """One kernel of a pack: call it with its tensors in argument order (sizes as keywords)."""

    def __init__(self, pack, index):
        lib, h = pack._lib, pack._h
        self._pack, self._k = pack, index
        self.name = lib.kiln_pack_kernel_name(h, index).decode()
        self.sizes = [lib.kiln_pack_size_name(h, index, i).decode() for i in range(lib.kiln_pack_size_count(h, index))]
        self.args = []
        for i in range(lib.kiln_pack_arg_count(h, index)):
            a = _Arg()
            lib.kiln_pack_arg_get(h, index, i, ctypes.byref(a))
            self.args.append({"index": i, "name": a.name.decode(), "tensor": bool(a.is_tensor),
                              "type": a.type.decode(), "role": _ROLES.get(a.role), "rank": a.rank})
        self.tensors = [a for a in self.args if a["tensor"]]

    def __repr__(self):
        return "<kiln kernel %s(%s; sizes %s)>" % (self.name, ", ".join(a["name"] for a in self.tensors),
                                                     ", ".join(self.sizes))

    def _fail(self, msg):
        raise KilnError("%s: %s" % (self.name, msg))

    def _tensor_like(self, tensors):
        if len(tensors) != len(self.tensors):
            self._fail("takes %d tensors (%s), got %d" % (len(self.tensors),
                                                           ", ".join(a["name"] for a in self.tensors), len(tensors)))
        for t, a in zip(tensors, self.tensors):
            for attr in ("dtype", "shape", "device", "is_contiguous", "data_ptr"):
                if not hasattr(t, attr):
                    self._fail("tensor '%s' is a %s, not a tensor" % (a["name"], type(t).__name__))

    def infer_sizes(self, tensors, given):
        """Sizes from keywords, else from a tensor dimension that is one size (bucket 0's rule)."""
        self._tensor_like(tensors)
        sizes = dict(given)
        unknown = set(sizes) - set(self.sizes)
        if unknown:
            self._fail("unknown size %s (sizes: %s)" % (", ".join(sorted(unknown)), ", ".join(self.sizes)))
        lib, h = self._pack._lib, self._pack._h
        for t, a in zip(tensors, self.tensors):
            for d in range(min(a["rank"], len(t.shape))):
                s = lib.kiln_pack_dim_size(h, self._k, 0, a["index"], d)
                if s >= 0 and self.sizes[s] not in sizes:
                    sizes[self.sizes[s]] = int(t.shape[d])
        missing = [s for s in self.sizes if s not in sizes]
        if missing:
            self._fail("sizes %s are not a tensor dimension: give them as keywords" % ", ".join(missing))
        return [int(sizes[s]) for s in self.sizes]

    def plan(self, sizes):
        """What a launch at these sizes (a list, in self.sizes order) does: bucket, grid, shapes."""
        arr = (ctypes.c_int64 * max(1, len(sizes)))(*sizes)
        p, err = _Plan(), ctypes.create_string_buffer(1024)
        if self._pack._lib.kiln_pack_plan_get(self._pack._h, self._k, arr, 0, ctypes.byref(p), err, 1024):
            raise KilnError(err.value.decode())
        shapes = {a["name"]: tuple(p.dims[a["index"]][d] for d in range(a["rank"])) for a in self.tensors}
        return {"bucket": p.variant, "settings": p.settings.decode(), "grid": tuple(p.grid), "threads": p.threads,
                "shared_bytes": p.shared_bytes, "shapes": shapes}

    def check(self, tensors, sizes):
        """Checks every tensor; returns the device index they share."""
        self._tensor_like(tensors)
        shapes, device = self.plan(sizes)["shapes"], None
        for t, a in zip(tensors, self.tensors):
            where = "tensor '%s'" % a["name"]
            dt = str(t.dtype).replace("torch.", "")
            if dt != _TYPES.get(a["type"], a["type"]):
                self._fail("%s has dtype %s, the kernel takes %s" % (where, dt, _TYPES.get(a["type"], a["type"])))
            if tuple(int(x) for x in t.shape) != shapes[a["name"]]:
                self._fail("%s has shape %s, expected %s for %s" % (
                    where, tuple(int(x) for x in t.shape), shapes[a["name"]],
                    ", ".join("%s=%d" % kv for kv in zip(self.sizes, sizes))))
            if not t.is_contiguous():
                self._fail("%s is not contiguous (call .contiguous())" % where)
            if getattr(t.device, "type", None) != "cuda":
                self._fail("%s is on %s, not on a CUDA device" % (where, t.device))
            idx = t.device.index or 0
            if device is not None and idx != device:
                self._fail("%s is on cuda:%d, the others on cuda:%d" % (where, idx, device))
            device = idx
        return device or 0

    def __call__(self, *tensors, stream=None, **sizes):
        size_list = self.infer_sizes(tensors, sizes)
        device = self.check(tensors, size_list)
        if stream is None:
            stream = _current_stream(device)
        arr = (ctypes.c_int64 * max(1, len(size_list)))(*size_list)
        ptrs = (ctypes.c_uint64 * max(1, len(tensors)))(*[t.data_ptr() for t in tensors])
        err = ctypes.create_string_buffer(2048)
        if self._pack._lib.kiln_pack_launch(self._pack._h, self._k, arr, ptrs, len(tensors), device,
                                            ctypes.c_void_p(stream), err, 2048):
            raise KilnError(err.value.decode())


class Pack:
    """An open pack; its kernels are attributes and items (pack.softmax, pack["softmax"])."""

    def __init__(self, path, lib=None):
        self._lib = _library(lib)
        self._h = ctypes.c_void_p()
        err = ctypes.create_string_buffer(2048)
        if self._lib.kiln_pack_open(os.fsencode(path), ctypes.byref(self._h), err, 2048):
            raise KilnError(err.value.decode())
        self.kernels = {}
        for k in range(self._lib.kiln_pack_kernel_count(self._h)):
            kern = Kernel(self, k)
            self.kernels[kern.name] = kern

    def __getitem__(self, name):
        if name not in self.kernels:
            raise KilnError("no kernel '%s' in the pack (kernels: %s)" % (name, ", ".join(self.kernels)))
        return self.kernels[name]

    def __getattr__(self, name):
        if name.startswith("_") or name == "kernels":
            raise AttributeError(name)
        return self[name]

    def close(self):
        if getattr(self, "_h", None):
            self._lib.kiln_pack_close(self._h)
            self._h = None

    def __del__(self):
        self.close()


def load(path, lib=None):
    """Opens and checks the pack at path."""
    return Pack(path, lib)
