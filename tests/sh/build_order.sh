#!/bin/sh
# The lowering builds one LLVM instruction at a time (docs/codegen.md, "One instruction at a time"):
# no call or array initialiser in codegen/ takes two arguments that each build instructions (an
# LLVMBuild* call, or a codegen function or device op returning LLVMValueRef), since C leaves their
# order open and a gcc-built and a clang-built kiln then emit kernels in different orders. A static
# scan of the sources; constants (cg_i32, cg_i64, ...) and value lookups (cg_get) do not build.
set -u
python3 - <<'PY'
import glob, re, sys
src = {f: open(f).read() for f in sorted(glob.glob("codegen/*.c") + glob.glob("codegen/*.h"))}
if not src:
    sys.exit("FAIL no codegen sources (run from the source root)")
names = set()
for s in src.values():
    names.update(re.findall(r"^(?:static\s+)?(?:inline\s+)?LLVMValueRef\s+\*?(\w+)\s*\(", s, re.M))
for h in ("codegen/devops.h", "codegen/devops_hopper.h", "codegen/devops_mma.h"):
    names.update(re.findall(r"LLVMValueRef\s*\(\*(\w+)\)", src[h]))
names -= {"cg_i32", "cg_i64", "f32c", "u32c", "i32c", "cint", "i32_const", "cg_get", "cg_sim_site", "cg_tmap_param"}
builds = re.compile(r"\b(LLVMBuild\w+|" + "|".join(sorted(names)) + r")\s*\(")

def args_of(s, i):
    depth, j, start, out = 1, i, i, []
    while depth and j < len(s):
        c = s[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                out.append(s[start:j])
        elif c == "," and depth == 1:
            out.append(s[start:j])
            start = j + 1
        elif c == '"':
            j += 1
            while s[j] != '"':
                j += 2 if s[j] == "\\" else 1
        j += 1
    return out

bad = 0
for f, s in src.items():
    for m in re.finditer(r"(\w+)\s*\(|=\s*\{", s):
        if m.group(1) in ("if", "while", "for", "switch", "return", "sizeof"):
            continue
        n = sum(1 for a in args_of(s, m.end()) if builds.search(a))
        if n >= 2 and not re.match(r"\s*(static|LLVMValueRef|void|int)\b", s[s.rfind("\n", 0, m.start()) + 1:m.start()]):
            print("FAIL %s:%d: %s builds %d of its arguments in an order C leaves open"
                  % (f, s.count("\n", 0, m.start()) + 1, m.group(1) or "an initialiser", n))
            bad = 1
if not bad:
    print("ok   no call or initialiser in codegen/ builds two of its arguments (%d sources)" % len(src))
sys.exit(bad)
PY
