//===- package.h - the .bmcpkg format (shared by writer and loader) -*- C++ -*-===//
//
// Layout (all integers little-endian; see docs/PACKAGE.md):
//   [0, 128)     header: magic "BMCPKG\0\1", format version, ABI version,
//                section offsets and sizes, CRC32C of everything else
//   meta         the signature, decoder interface, target CPU (binary, below)
//   code         a shared object exporting bmc_main (linked by ld.lld)
//   weights      the packed weight blob, 4096-aligned so it can be mmapped
//
//===----------------------------------------------------------------------===//
#ifndef BMC_ABI_PACKAGE_H
#define BMC_ABI_PACKAGE_H

#include "bmc/model.h"
#include "bmc/model_folder.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace bmc::pkg {

constexpr char kMagic[8] = {'B', 'M', 'C', 'P', 'K', 'G', 0, 1};
// 2: the metadata records the weight format (f32, int8, int4).
// 3: the activations of the quantized matmuls (f32, int8), the seqlens_k /
//    total_sequence_length inputs, the KV cache element type (f32, bf16, f16), and an
//    optional embedded tokenizer with generation defaults.
// 4: a static cache's write_indices / nonpad_kv_seqlen inputs.
constexpr uint32_t kFormatVersion = 4;
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
  uint8_t reserved[48];
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

} // namespace bmc::pkg

#endif
