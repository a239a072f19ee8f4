"""Replace torch.nn.functional.scaled_dot_product_attention with kiln's attention from a pack.

    python3 examples/pack_torch/sdpa.py [--kiln build/kiln] [--targets sm_80,sm_90a]

1. Packs recipes/attention.lua twice (causal off and on; head size 64, f16, the bhsd layout) with
   `kiln pack`, into a temporary folder: the only step that needs the compiler.
2. Loads both packs with python/kiln_pack (ctypes over libkiln_rt: set KILN_RT_LIB, or build/ holds it).
3. kiln_sdpa takes the calls the packs cover (CUDA f16 tensors of shape (B, H, S, 64), no mask, no
   dropout, the default scale; causal only for Sq == Sk, where PyTorch's top-left mask and kiln's
   bottom-right one agree) and hands every other call to PyTorch's own function.
4. Patches torch.nn.functional.scaled_dot_product_attention, runs random problems through the patched
   function and PyTorch's own, checks every element, and exits non-zero on a mismatch.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import kiln_pack  # noqa: E402

HEAD = 64
torch_sdpa = F.scaled_dot_product_attention


def build_packs(kiln, targets, folder):
    packs = {}
    for causal in (0, 1):
        path = os.path.join(folder, "attention_causal%d.kpack" % causal)
        subprocess.run([kiln, "pack", "recipes/attention.lua", "--targets", targets, "--set",
                        "attention:causal=%d,D=%d,dtype=f16,layout=bhsd" % (causal, HEAD), "-o", path], check=True)
        packs[causal] = kiln_pack.load(path)["attention"]
    return packs


def make_sdpa(packs):
    def kiln_sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kw):
        B, H, Sq, D = query.shape if query.dim() == 4 else (0, 0, 0, 0)
        Hkv, Sk = (key.shape[1], key.shape[2]) if key.dim() == 4 else (0, 0)
        covered = (query.is_cuda and query.dtype == torch.float16 and key.dtype == value.dtype == torch.float16
                   and query.dim() == key.dim() == value.dim() == 4 and D == HEAD and attn_mask is None
                   and dropout_p == 0.0 and (scale is None or scale == 1 / math.sqrt(D)) and Hkv > 0
                   and H % Hkv == 0 and (Hkv == H or kw.get("enable_gqa", False))
                   and (not is_causal or Sq == Sk) and Sq > 0 and Sk > 0)
        if not covered:
            return torch_sdpa(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                              scale=scale, **kw)
        kern = packs[1 if is_causal else 0]
        q = query.contiguous().view(B * H, Sq, D)
        k = key.contiguous().view(B * Hkv, Sk, D)
        v = value.contiguous().view(B * Hkv, Sk, D)
        o = torch.full_like(q, float("nan"))  # poison: an element the kernel does not write stays NaN
        sizes = dict(B=B, H=H, Hkv=Hkv, Sq=Sq, Sk=Sk)
        lse = torch.empty(kern.plan([sizes[s] for s in kern.sizes])["shapes"]["lse"], dtype=torch.float32,
                          device=q.device)
        kern(q, k, v, o, lse, B=B, H=H, Hkv=Hkv)
        return o.view(B, H, Sq, D)
    return kiln_sdpa


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", default="build/kiln")
    ap.add_argument("--targets", default="sm_80,sm_90a")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as folder:
        packs = build_packs(a.kiln, a.targets, folder)
        F.scaled_dot_product_attention = make_sdpa(packs)
        worst, failed = 0.0, 0
        for B, H, Hkv, Sq, Sk, causal in [(1, 2, 2, 80, 72, False), (2, 8, 8, 1024, 1024, True),
                                          (4, 16, 16, 333, 777, False), (1, 4, 4, 257, 257, True),
                                          (2, 8, 2, 128, 300, False)]:
            q = torch.randn(B, H, Sq, HEAD, device="cuda", dtype=torch.float16)
            k = torch.randn(B, Hkv, Sk, HEAD, device="cuda", dtype=torch.float16)
            v = torch.randn(B, Hkv, Sk, HEAD, device="cuda", dtype=torch.float16)
            got = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=Hkv != H)
            torch.cuda.synchronize()
            ref32 = torch_sdpa(q.float(), k.float(), v.float(), is_causal=causal, enable_gqa=Hkv != H)
            ref16 = torch_sdpa(q, k, v, is_causal=causal, enable_gqa=Hkv != H)
            err = (got.float() - ref32).abs().max().item()
            err16 = (ref16.float() - ref32).abs().max().item()
            ok = bool(torch.isfinite(got).all()) and err <= 2 * err16 + 1e-3
            worst = max(worst, err / max(err16, 1e-6))
            failed += not ok
            print("%s B=%d H=%d Hkv=%d Sq=%d Sk=%d causal=%d: kiln max abs err %.3g, PyTorch f16 %.3g" % (
                "ok  " if ok else "FAIL", B, H, Hkv, Sq, Sk, causal, err, err16))
        F.scaled_dot_product_attention = torch_sdpa
    print("%s: worst kiln/PyTorch-f16 error ratio %.2f (seed %d)" % ("FAIL" if failed else "PASS", worst, seed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
