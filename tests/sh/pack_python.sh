#!/bin/sh
# pack_python.sh - python/kiln_pack (ctypes over libkiln_rt) without torch: stand-in tensors carry
# dtype, shape, device, is_contiguous() and data_ptr(); the fake CUDA driver (kiln_fake_cuda) runs the
# launches, adding 1 to the int that the first tensor's address points at, so that a launch that
# reached the driver with the right pointer shows. Sizes inferred from shapes, keywords, plans at
# fresh random sizes against the recipe's rule, and every check's error.
set -u
if [ "${KILN_SANITIZED:-0}" = 1 ]; then # the sanitizers' runtime is in no such program
  echo "skip: a sanitizer build: this test loads kiln's libraries into python"; exit 77
fi
: "${KILN_BUILD:?KILN_BUILD must name the build directory}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$KILN" pack recipes/vector_add.lua recipes/softmax.lua --targets sm_80,sm_90a --no-cubin \
  --shapes vector_add:n=1000,BLOCK=256 --shapes vector_add:n=1000000 -o "$tmp/k.kpack" || exit 1
printf 'KILNPACK\001\000\000\000junk' > "$tmp/bad.kpack"
KILN_RT_LIB="$KILN_BUILD/libkiln_rt.so" KILN_CUDA_LIB="$KILN_BUILD/libkiln_fake_cuda.so" FAKE_CUDA_TOUCH_PARAM0=1 \
  PYTHONPATH=python python3 - "$tmp" <<'PY'
import ctypes, random, sys
import kiln_pack

tmp = sys.argv[1]
seed = random.randrange(1 << 30)
rng = random.Random(seed)

class Dev:
    def __init__(self, type, index): self.type, self.index = type, index
    def __str__(self): return "%s:%s" % (self.type, self.index)

class T:
    """A stand-in tensor over host memory (the fake driver's device memory is host memory)."""
    def __init__(self, shape, dtype="torch.float32", device=("cuda", 0), contiguous=True):
        self.shape, self.dtype, self.device, self._c = tuple(shape), dtype, Dev(*device), contiguous
        self.buf = (ctypes.c_int * 4)()
    def is_contiguous(self): return self._c
    def data_ptr(self): return ctypes.addressof(self.buf)

def expect_error(want, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except kiln_pack.KilnError as e:
        assert want in str(e), (want, str(e), seed)
        return
    raise AssertionError("no error, expected: " + want)

pack = kiln_pack.load(tmp + "/k.kpack")
assert sorted(pack.kernels) == ["softmax", "vector_add"], pack.kernels
va, sm = pack.vector_add, pack["softmax"]
assert va.sizes == ["n"] and [a["name"] for a in va.tensors] == ["x", "y", "z"], va
for _ in range(20):
    n = rng.randrange(1, 1 << 22)
    x, y, z = T([n]), T([n]), T([n])
    before = x.buf[0]
    va(x, y, z)
    assert x.buf[0] == before + 1, "the launch reached the driver with x's address"
    p = va.plan([n])
    block = 256 if p["bucket"] == 0 else 1024
    assert p["settings"] == "BLOCK=%d,warps=4" % block and p["grid"] == ((n + block - 1) // block, 1, 1), (n, p)
    assert p["shapes"] == {"x": (n,), "y": (n,), "z": (n,)}, p
M, N = rng.randrange(1, 300), rng.randrange(1, 3000)
x, y = T([M, N]), T([M, N])
sm(x, y)
assert x.buf[0] == 1 and sm.plan([M, N])["grid"] == (M, 1, 1)
sm(x, y, M=M, N=N)
expect_error("tensor 'y' has shape (%d, %d), expected (%d, %d) for M=%d, N=%d" % (M, N + 1, M, N, M, N),
             sm, x, T([M, N + 1]))
expect_error("tensor 'x' has dtype float16, the kernel takes float32", sm, T([M, N], "torch.float16"), y)
expect_error("tensor 'y' is not contiguous", sm, x, T([M, N], contiguous=False))
expect_error("tensor 'x' is on cpu:None, not on a CUDA device", sm, T([M, N], device=("cpu", None)), y)
expect_error("tensor 'y' is on cuda:1, the others on cuda:0", sm, x, T([M, N], device=("cuda", 1)))
expect_error("takes 2 tensors (x, y), got 3", sm, x, y, y)
expect_error("unknown size K", sm, x, y, K=3)
expect_error("tensor 'x' is a int, not a tensor", sm, 3, y)
expect_error("no kernel 'gemm' in the pack", lambda: pack.gemm)
expect_error("size n = -5 is negative", va.plan, [-5])
expect_error(tmp + "/bad.kpack: ", kiln_pack.load, tmp + "/bad.kpack")
expect_error(tmp + "/none.kpack: cannot open", kiln_pack.load, tmp + "/none.kpack")
pack.close()
print("ok   kiln_pack: 20 launches, plans at random sizes, every check's error (seed %d)" % seed)
PY
