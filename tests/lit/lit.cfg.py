# lit configuration for kiln's text-in, text-out tests (IR, passes, recipes to IR/PTX).
#
# Parameters (the CMake `lit` test passes all three):
#   kiln         path to the kiln executable            -> %kiln
#   filecheck    path to FileCheck                      -> FileCheck
#   source_root  the repository root                    -> %src
# Optional: ptxas is looked up on PATH and in /usr/local/cuda/bin; when found, the `ptxas` feature
# is set (REQUIRES: ptxas) and %ptxas names it.
import os
import shutil

import lit.formats

config.name = "kiln"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".ir", ".lua", ".test"]
config.excludes = ["Inputs", "lib", "lit.cfg.py"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))


def param(name, default=None):
    value = lit_config.params.get(name, default)
    if value is None:
        lit_config.fatal("missing --param %s=... (run the suite through ctest, or pass it)" % name)
    return value


kiln = os.path.abspath(param("kiln"))
filecheck = param("filecheck", shutil.which("FileCheck") or "/usr/lib/llvm-22/bin/FileCheck")
source_root = os.path.abspath(param("source_root", os.path.join(config.test_source_root, "..", "..")))

# Outputs (%t) go next to the kiln binary, never into the source tree.
config.test_exec_root = os.path.join(os.path.dirname(kiln), "lit-out")

# FileCheck's directory also holds `not` and `count`.
path = os.pathsep.join([os.path.dirname(filecheck), config.environment.get("PATH", os.environ.get("PATH", ""))])
config.environment["PATH"] = path
for var in ("KILN_CACHE_DIR", "HOME", "TMPDIR"):
    if var in os.environ:
        config.environment[var] = os.environ[var]

config.substitutions.append(("%kiln", kiln))
config.substitutions.append(("%src", source_root))
config.substitutions.append((r"(?<![\w/.-])FileCheck(?![\w.-])", filecheck))

ptxas = shutil.which("ptxas", path=path) or (
    "/usr/local/cuda/bin/ptxas" if os.access("/usr/local/cuda/bin/ptxas", os.X_OK) else None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
