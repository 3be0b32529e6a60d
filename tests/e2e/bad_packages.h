//===- bad_packages.h - damaged .bmcpkg files for the error tests -*- C++ -*-===//
//
// Each variant starts from a good package and breaks one thing. Where the
// damage would otherwise only show as a checksum mismatch, the checksum is
// recomputed, so that the check meant to catch it is the one exercised.
// Uses the format's own header (runtime/Package.h) to find the fields.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_TESTS_E2E_BAD_PACKAGES_H
#define BMC_TESTS_E2E_BAD_PACKAGES_H

#include "runtime/Package.h"
#include "tests/e2e/e2e_util.h"

#include <cstring>
#include <string>
#include <vector>

namespace bmc::e2e {

struct BadPackage {
  std::string name;     ///< short id, also the file stem
  std::string path;     ///< written by writeBadPackages
  std::string expected; ///< a piece of the error message
};

inline pkg::Header headerOf(const std::string &bytes) {
  pkg::Header h;
  std::memcpy(&h, bytes.data(), sizeof h);
  return h;
}

/// Writes `h` into the file and recomputes the checksum over the whole file.
inline void resealPackage(std::string &bytes, pkg::Header h) {
  h.checksum = 0;
  std::memcpy(bytes.data(), &h, sizeof h);
  h.checksum = pkg::crc32c(0, bytes.data(), bytes.size());
  std::memcpy(bytes.data(), &h, sizeof h);
}

/// The package again with its metadata replaced (sections moved, resealed).
inline std::string withMeta(const std::string &good, const pkg::Meta &meta) {
  pkg::Header h = headerOf(good);
  std::vector<uint8_t> m = pkg::encodeMeta(meta);
  std::string code = good.substr(h.codeOffset, h.codeSize), weights = good.substr(h.weightsOffset, h.weightsSize);
  h.metaOffset = pkg::kHeaderSize;
  h.metaSize = m.size();
  h.codeOffset = h.metaOffset + h.metaSize;
  h.weightsOffset = (h.codeOffset + h.codeSize + pkg::kWeightsAlign - 1) / pkg::kWeightsAlign * pkg::kWeightsAlign;
  h.fileSize = h.weightsOffset + h.weightsSize;
  std::string out(h.fileSize, '\0');
  std::memcpy(out.data() + h.metaOffset, m.data(), m.size());
  std::memcpy(out.data() + h.codeOffset, code.data(), code.size());
  std::memcpy(out.data() + h.weightsOffset, weights.data(), weights.size());
  resealPackage(out, h);
  return out;
}

/// Writes the damaged variants of the package `goodPath` into `dir`.
inline std::vector<BadPackage> writeBadPackages(const std::string &goodPath, const std::string &dir) {
  const std::string good = readFile(goodPath);
  const pkg::Header h = headerOf(good);
  std::vector<BadPackage> out;
  auto add = [&](const std::string &name, const std::string &bytes, const std::string &expected) {
    std::string p = dir + "/" + name + ".bmcpkg";
    writeFile(p, bytes);
    out.push_back({name, p, expected});
  };
  add("empty", "", "shorter than the header");
  add("header_only", good.substr(0, 100), "shorter than the header");
  add("truncated", good.substr(0, good.size() / 2), "truncated");
  add("appended", good + std::string(16, 'x'), "appended");
  {
    std::string b = good;
    b[h.weightsOffset + h.weightsSize / 2] ^= 0x10;
    add("bit_flip_in_weights", b, "checksum");
  }
  {
    std::string b = good;
    b[h.codeOffset + h.codeSize / 3] ^= 0x01;
    add("bit_flip_in_code", b, "checksum");
  }
  {
    std::string b = good;
    std::memcpy(b.data(), "NOTAPKG!", 8);
    add("bad_magic", b, "magic");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.formatVersion = pkg::kFormatVersion + 1;
    resealPackage(b, v);
    add("format_version_next", b, "format version");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.formatVersion = 0;
    resealPackage(b, v);
    add("format_version_0", b, "format version");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.abiVersion += 7;
    resealPackage(b, v);
    add("abi_version", b, "ABI version");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.codeOffset = good.size() - 10; // code runs past the end of the file
    resealPackage(b, v);
    add("section_out_of_range", b, "out of range");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.metaSize = ~uint64_t(0) - 64; // offset + size overflows
    resealPackage(b, v);
    add("section_size_overflow", b, "out of range");
  }
  {
    std::string b = good;
    b[h.metaOffset + 7] = 0x40; // the first string claims 2^62 bytes
    resealPackage(b, h);
    add("metadata_corrupted", b, "metadata");
  }
  {
    std::string b = good;
    std::memcpy(b.data() + h.codeOffset, "\x7f" "FLX", 4); // not an ELF image any more
    resealPackage(b, h);
    add("code_not_elf", b, "code image");
  }
  {
    pkg::Meta meta;
    std::string err;
    if (pkg::decodeMeta(reinterpret_cast<const uint8_t *>(good.data()) + h.metaOffset, h.metaSize, meta, err)) {
      meta.cpuFeatures.push_back("no-such-cpu-feature");
      add("cpu_lacks_feature", withMeta(good, meta), "no-such-cpu-feature");
    }
  }
  add("onnx_file", readFile(dataDir() + "/gpt2_s.onnx"), "not a bmc package");
  return out;
}

} // namespace bmc::e2e

#endif
