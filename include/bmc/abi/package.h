//===- package.h - the .bmcpkg format (shared by writer and loader) -*- C++ -*-===//
//
// Layout (all integers little-endian; see docs/PACKAGE.md):
//   [0, 128)     header: magic "BMCPKG\0\1", format version, ABI version,
//                section offsets and sizes, CRC32C of everything else
//   meta         the signature, decoder interface, target CPU (binary, below)
//   code         a shared object exporting bmc_main (linked by ld.lld);
//                empty in a CUDA package (bmc-compile --target cuda)
//   cuda         optional: the CUDA C with its bmc-program lines, cubins and
//                PTX, the weight table (below); absent in a CPU package
//   weights      the weight blob, 4096-aligned so it can be mmapped
//
//===----------------------------------------------------------------------===//
#ifndef BMC_ABI_PACKAGE_H
#define BMC_ABI_PACKAGE_H

#include "bmc/model.h"
#include "bmc/model_folder.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace bmc::pkg {

constexpr char kMagic[8] = {'B', 'M', 'C', 'P', 'K', 'G', 0, 1};
// 2: the metadata records the weight format (f32, int8, int4).
// 3: the activations of the quantized matmuls (f32, int8), the seqlens_k /
//    total_sequence_length inputs, the KV cache element type (f32, bf16, f16), and an
//    optional embedded tokenizer with generation defaults.
// 4: a static cache's write_indices / nonpad_kv_seqlen inputs.
// 5: an optional CUDA section (offset, size and its own CRC32C in what was
//    reserved; zero in a CPU package, whose bytes are otherwise those of 4).
// 6: a CUDA section's kernels store KV rows outermost ([capacity, batch,
//    heads, head_dim], runtime/device/DeviceKVCache.h); a version-5 CUDA
//    package's cubins would write the old layout unnoticed, so a version-5
//    package with a CUDA section is refused; one without (a CPU package,
//    whose bytes are those of 6 but for this field) still loads.
constexpr uint32_t kFormatVersion = 6;
constexpr uint32_t kOldestCpuFormatVersion = 5;
constexpr size_t kHeaderSize = 128;
constexpr uint64_t kWeightsAlign = 4096;

struct Header {
  char magic[8];
  uint32_t formatVersion;
  uint32_t abiVersion;
  uint64_t fileSize;
  uint64_t metaOffset, metaSize;
  uint64_t codeOffset, codeSize;
  uint64_t weightsOffset, weightsSize;
  uint32_t checksum; // CRC32C of the file with this field zeroed
  uint32_t reserved0;
  uint64_t cudaOffset, cudaSize; // 0, 0: no CUDA section
  uint32_t cudaChecksum;         // CRC32C of the CUDA section alone (0 without one)
  uint32_t reserved1;
  uint8_t reserved[24];
};
static_assert(sizeof(Header) == kHeaderSize, "header layout");

/// CRC32C (Castagnoli), hardware-accelerated where the CPU allows.
uint32_t crc32c(uint32_t crc, const void *data, size_t n);
/// The CRC32C of A followed by B from crc32c(0, A) and crc32c(0, B), |B| = lenB.
uint32_t crc32cCombine(uint32_t crcA, uint32_t crcB, uint64_t lenB);
/// crc32c(crc, data, n), the data cut into up to `threads` parts (none under
/// 32 MB) read by as many threads; with `populate`, each thread first maps
/// its part's pages (MADV_POPULATE_READ, best effort) in a file mapping.
uint32_t crc32cParallel(uint32_t crc, const void *data, size_t n, int threads, bool populate);

struct Meta {
  ModelSignature sig;
  std::string targetCpu;
  std::vector<std::string> cpuFeatures; // needed at run time, e.g. "avx2"
  std::string producer;                 // "bmc <version>"
  std::string source;                   // the ONNX file it came from
  bool hasAssets = false;               // a tokenizer and/or generation defaults follow
  ModelAssets assets;                   // (origin is not stored)
};

std::vector<uint8_t> encodeMeta(const Meta &m);
bool decodeMeta(const uint8_t *data, size_t size, Meta &m, std::string &error);

/// Whether this CPU has `feature` (names as in Meta::cpuFeatures).
bool cpuHas(const std::string &feature);

//===----------------------------------------------------------------------===//
// The CUDA section (format 5; docs/PACKAGE.md "The CUDA section")
//===----------------------------------------------------------------------===//

/// The architectures bmc-compile --target cuda compiles for, in order: a
/// cubin for each, and each one's PTX (the last one's is what the driver
/// compiles for a newer GPU).
inline const std::vector<std::string> &cudaPackageArchs() {
  static const std::vector<std::string> archs = {"sm_80", "sm_90"};
  return archs;
}

struct CudaBinary {
  std::string arch;  ///< "sm_NN"
  std::string cubin; ///< an ELF image for arch
  std::string ptx;   ///< its PTX (".target sm_NN")
};

/// A weight a program uploads by name, and where its bytes are in the
/// package's weights section (the model's layout and type, 64-byte aligned).
struct CudaWeight {
  std::string name;
  std::string type; ///< f32, f16, bf16, i32, i64 or i1 (as the program line says)
  std::vector<int64_t> dims;
  uint64_t offset = 0, bytes = 0;
};

struct CudaSection {
  std::string source;                 ///< the emitted CUDA C with its bmc-program lines
  std::vector<std::string> functions; ///< those lines' functions, in order
  std::vector<CudaBinary> binaries;   ///< one per architecture, ascending
  std::vector<CudaWeight> weights;    ///< every program weight, by name, once
};

std::vector<uint8_t> encodeCudaSection(const CudaSection &s);
/// Decodes and checks a CUDA section against a weights section of
/// `weightsBytes`: every length against what is left, the architecture table
/// (sm_NN names, ascending, each a cubin with an ELF header and its PTX for
/// that target), the program lines (they parse, their functions are the
/// recorded ones) and the weight table (each program weight listed with the
/// program's type and dims, its bytes those of its dims, 64-byte aligned and
/// inside the weights section). One line in `error` naming what is wrong.
bool decodeCudaSection(const uint8_t *data, size_t size, uint64_t weightsBytes, CudaSection &s, std::string &error);

/// The weights every bmc-program line of `source` uploads (offset and bytes
/// unset), each once; a line that does not parse, or one weight given two
/// types or shapes, is an error.
Result<std::vector<CudaWeight>> cudaProgramWeights(const std::string &source);

/// The section for `emitted` (the whole-model CUDA C) without binaries: its
/// functions and weights (offsets unset: the caller places them in the
/// weights). What the package and the JIT share.
Result<CudaSection> cudaSectionOf(const std::string &emitted);

/// bmc-compile --target cuda: cudaSectionOf(emitted) with NVRTC's cubin and
/// PTX for each of cudaPackageArchs(). Without NVRTC, an error saying so.
Result<CudaSection> buildCudaSection(const std::string &emitted);

/// What compileOnnx with Target::Cuda (the JIT) hands the runtime: the
/// section without binaries (cudaSectionOf, the weights placed as in a
/// package's weights section), and the weights themselves, built on request
/// once the device is open and its kernels compiled (a model that cannot run
/// here fails before its weights are laid out).
struct CudaJitParts {
  CudaSection section;
  ModelSignature signature;
  uint64_t weightBytes = 0; ///< the weights' size, as the package's weights section
  /// Fills `blob` (weightBytes, 64-byte aligned) as the package's weights
  /// section would be; false with `error`.
  std::function<bool(uint8_t *blob, std::string &error)> buildWeights;
  int threads = 0; ///< the model's host threads (LoadOptions::threads)
  /// As CompileOptions' (may be empty); NVRTC's outcome ("NVRTC sm_90:
  /// compiled (N s), cached at PATH", "... cache hit PATH") goes to both.
  std::function<void(const std::string &)> progress, remarks;
};

/// The JIT's start on CUDA device 0: its sm_XY from the device, the kernels
/// compiled for it by NVRTC through the cache (cudaJitCacheDir), then the same
/// DeviceModel / DeviceGeneration as a CUDA package. One-line errors: no
/// libcuda, no GPU, no NVRTC, a compile error.
Result<std::shared_ptr<Model>> startCudaJit(CudaJitParts parts);

/// Where the JIT keeps NVRTC's output: $BMC_CUDA_CACHE if set ("off": no
/// cache, the empty string), else $XDG_CACHE_HOME/bmc/nvrtc, else
/// ~/.cache/bmc/nvrtc (the CPU calibration cache's directory).
std::string cudaJitCacheDir();

} // namespace bmc::pkg

#endif
