#!/usr/bin/python3
"""Writes the fuzzers' seed corpora (build time; nothing here is committed).

  make_seeds.py OUT_DIR MODELGEN BMC_COMPILE [EXTRA_ONNX_DIR...]

  OUT_DIR/onnx_import/   micro decoders of every family, opsets 17 and 18 (1 layer, hidden 16),
                         plus every .onnx up to 64 KB in the EXTRA dirs (the e2e error and op models)
  OUT_DIR/package_load/  the llama and gpt2 micro decoders compiled by bmc-compile in each KV
                         mode, and "slim" copies with the code and weights sections cut out (the
                         fuzz build never loads code, and the metadata is what the fuzzer is after)
                         and a --target cuda package of a MatMul + Softmax graph (its CUDA section:
                         CUDA C with program lines, cubins, PTX, the weight table), when NVRTC is here
  OUT_DIR/cli_args/      bmc-run argument lists, NUL-separated

Needs Debian's python3-onnx (run with /usr/bin/python3).
"""
import glob
import os
import shutil
import struct
import subprocess
import sys

FAMILIES = ["gpt2", "llama", "mistral", "qwen2", "gptneox", "phi3", "opt"]
HEADER = struct.Struct("<8sIIQQQQQQQIIQQII24s")  # bmc/abi/package.h: pkg::Header (format 5)
MATMUL_SOFTMAX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lit", "package",
                              "make_matmul_softmax.py")


def micro_model(modelgen, family, opset, path):
    kv_heads = "2" if family in ("gpt2", "gptneox", "opt") else "1"
    subprocess.run([sys.executable, modelgen, "-q", "--preset", "tiny", "--family", family, "--opset", str(opset),
                    "--layers", "1", "--hidden", "16", "--heads", "2", "--kv-heads", kv_heads, "--inter", "32",
                    "--vocab", "32", "--max-pos", "64", "-o", path], check=True)


def slim(package, path):
    data = open(package, "rb").read()
    f = list(HEADER.unpack_from(data))
    meta_off, meta_size = f[4], f[5]
    meta = data[meta_off:meta_off + meta_size]
    # Sections: meta right after the header, code empty, weights empty at the next 4096 boundary.
    f[4], f[5] = HEADER.size, len(meta)
    f[6], f[7] = HEADER.size + len(meta), 0
    f[8], f[9] = (HEADER.size + len(meta) + 4095) // 4096 * 4096, 0
    f[3] = f[8]
    out = bytearray(f[3])
    HEADER.pack_into(out, 0, *f)
    out[HEADER.size:HEADER.size + len(meta)] = meta
    open(path, "wb").write(out)


def main(out, modelgen, bmc_compile, extra_dirs):
    onnx_dir, pkg_dir, cli_dir = (os.path.join(out, d) for d in ("onnx_import", "package_load", "cli_args"))
    for d in (onnx_dir, pkg_dir, cli_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for family in FAMILIES:
        for opset in (17, 18):
            micro_model(modelgen, family, opset, os.path.join(onnx_dir, f"{family}_op{opset}.onnx"))
    for d in extra_dirs:
        for f in sorted(glob.glob(os.path.join(d, "*.onnx"))):
            if os.path.getsize(f) > 65536:
                continue  # the e2e decoders are mostly weights: the micro models above cover their graphs
            shutil.copy(f, os.path.join(onnx_dir, "extra_" + os.path.basename(f)))

    for family in ("llama", "gpt2"):
        for kv in ("bmc", "prealloc", "concat"):
            pkg = os.path.join(pkg_dir, f"{family}_{kv}.bmcpkg")
            subprocess.run([bmc_compile, os.path.join(onnx_dir, f"{family}_op17.onnx"), "--kv", kv, "-o", pkg],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            slim(pkg, os.path.join(pkg_dir, f"{family}_{kv}_slim.bmcpkg"))
    # The CUDA section's decoder (runtime/CudaPackage.cpp): a whole --target cuda package (its
    # weights are 1.5 KB; the section is what the fuzzer is after). Without NVRTC, said and skipped.
    onnx = os.path.join(pkg_dir, "matmul_softmax.onnx")
    subprocess.run([sys.executable, MATMUL_SOFTMAX, onnx], check=True)
    done = subprocess.run([bmc_compile, onnx, "--target", "cuda", "--quiet", "-o",
                           os.path.join(pkg_dir, "matmul_softmax_cuda.bmcpkg")],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        print("make_seeds.py: no --target cuda seed: " + done.stderr.strip(), file=sys.stderr)
    os.remove(onnx)

    cli = [
        ["m.bmcpkg"],
        ["m.onnx", "--prompt", "1,2,3", "--max-new-tokens", "8", "--json"],
        ["m.bmcpkg", "--kv=prealloc", "--r", "16", "--kv-padding", "mask", "--threads=2", "--quiet"],
        ["m.bmcpkg", "--temperature", "0.7", "--top-k", "40", "--top-p=0.9", "--seed", "7", "--stop", "2,3"],
        ["m.bmcpkg", "--batch", "4", "--max-context", "128"],
        ["m.bmcpkg", "--r", "x"],
        ["--prompt", "1,,2", "m.bmcpkg"],
        ["m.bmcpkg", "--unknown"],
        ["m.bmcpkg", "--r"],
    ]
    for i, args in enumerate(cli):
        open(os.path.join(cli_dir, f"args{i}"), "wb").write(b"\0".join(a.encode() for a in args))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
