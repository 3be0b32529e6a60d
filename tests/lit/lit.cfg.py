# -*- Python -*-
# The bmc lit suite. Run through ctest (`ctest -R lit`), `ninja check-lit`, or
#   /usr/lib/llvm-19/build/utils/lit/lit.py -sv <build>/tests/lit
# Substitutions: bmc-opt, bmc-import, bmc-compile, FileCheck, not, count (tools),
#   %python   Debian's python3 (has the onnx module the generators need)
#   %modelgen the decoder generator, tests/models/bmc_modelgen.py, under %python
#   %models   tests/models (committed: available in CI)
#   %hf       the real exports (tests/e2e/data, committed)
# Features: hf-models (those exports present), nvrtc (the CUDA toolkit's NVRTC, BMC_HAVE_CUDA)

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import FindTool, ToolSubst

config.name = "bmc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.bmc_obj_root, "tests", "lit")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]

# Tools found by bare name (e.g. `not` at the start of a RUN line) come from
# the build and from LLVM's tools, before anything else on PATH.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.bmc_tools_dir, append_path=True)
# Deterministic Python (hash seeds) and no bytecode in the source tree.
llvm_config.with_environment("PYTHONHASHSEED", "0")
llvm_config.with_environment("PYTHONDONTWRITEBYTECODE", "1")

models = os.path.join(config.bmc_src_root, "tests", "models")
config.substitutions.append(("%python", '"%s"' % config.bmc_python))
config.substitutions.append(
    ("%modelgen", '"%s" "%s"' % (config.bmc_python, os.path.join(models, "bmc_modelgen.py"))))
config.substitutions.append(("%models", models))
config.substitutions.append(("%hf", config.hf_models_dir))

if os.path.isfile(os.path.join(config.hf_models_dir, "llama_s.onnx")):
    config.available_features.add("hf-models")
# The CUDA toolkit with NVRTC was found at configure time (BMC_HAVE_CUDA):
# bmc-compile --target cuda can compile its kernels ahead of time.
if config.bmc_have_cuda == "ON":
    config.available_features.add("nvrtc")

llvm_config.add_tool_substitutions(
    [
        ToolSubst("FileCheck", unresolved="fatal"),
        ToolSubst(r"\| \bcount\b", command=FindTool("count"), verbatim=True, unresolved="fatal"),
        ToolSubst(r"\| \bnot\b", command=FindTool("not"), verbatim=True, unresolved="fatal"),
    ],
    [config.llvm_tools_dir],
)
llvm_config.add_tool_substitutions(
    [ToolSubst("bmc-opt", unresolved="fatal"), ToolSubst("bmc-import", unresolved="fatal"),
     ToolSubst("bmc-compile", unresolved="fatal")],
    [config.bmc_tools_dir],
)
