//===- cuda_section_test.cpp - a package's CUDA section (format 5) --------===//
//
// The section's codec and checks (pkg::decodeCudaSection) on a section
// written here by hand, and Model::load on packages assembled here around it:
// every damage is one line naming the CUDA section and what is wrong, never a
// crash. The expected texts are written out, not produced by the code.
//
//===----------------------------------------------------------------------===//

#include "bmc/abi/entry.h"
#include "bmc/abi/package.h"
#include "runtime/device/CudaDevice.h" // whether a GPU is here

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace bmc {
namespace {

const char *kProgramLine =
    R"(// bmc-program: {"constants":[],"function":"main","inputs":[{"dims":[-1,16],"kind":"tensor","name":"x",)"
    R"("type":"f32","value":"v0"}],"memory":{"alignment":256,"slots":1},"outputs":[{"name":"y","value":"v2"}],)"
    R"("steps":[],"version":1,"weights":[{"dims":[16,24],"name":"W","plain":false,"type":"f32","value":"v1"},)"
    R"({"dims":[24],"name":"b","plain":true,"type":"f16","value":"v3"}]})";

std::string sourceWith(const std::string &programLine) {
  return "// bmc: CUDA C for a test\nextern \"C\" __global__ void k() {}\n" + programLine + "\n";
}

std::string cubin(const std::string &tag) { return std::string("\x7f" "ELF\x02\x01\x01", 7) + tag; }

constexpr uint64_t kWeightBytes = 16 * 24 * 4 + 64 + 24 * 2; // W, then b at the next 64-byte boundary

pkg::CudaSection sampleSection() {
  pkg::CudaSection s;
  s.source = sourceWith(kProgramLine);
  s.functions = {"main"};
  s.binaries = {{"sm_80", cubin("80"), "//\n.version 8.0\n.target sm_80\n.address_size 64\n"},
                {"sm_90", cubin("90"), "//\n.version 8.0\n.target sm_90\n.address_size 64\n"}};
  s.weights = {{"W", "f32", {16, 24}, 0, 16 * 24 * 4}, {"b", "f16", {24}, 16 * 24 * 4 + 64, 48}};
  return s;
}

/// Decodes `s` encoded; "" when it is accepted, else the error.
std::string decodeError(const pkg::CudaSection &s, uint64_t weightBytes = kWeightBytes) {
  std::vector<uint8_t> bytes = pkg::encodeCudaSection(s);
  pkg::CudaSection back;
  std::string err;
  return pkg::decodeCudaSection(bytes.data(), bytes.size(), weightBytes, back, err) ? "" : err;
}

TEST(CudaSection, RoundTrip) {
  pkg::CudaSection s = sampleSection();
  std::vector<uint8_t> bytes = pkg::encodeCudaSection(s);
  pkg::CudaSection back;
  std::string err;
  ASSERT_TRUE(pkg::decodeCudaSection(bytes.data(), bytes.size(), kWeightBytes, back, err)) << err;
  EXPECT_EQ(back.source, s.source);
  EXPECT_EQ(back.functions, s.functions);
  ASSERT_EQ(back.binaries.size(), 2u);
  EXPECT_EQ(back.binaries[1].arch, "sm_90");
  EXPECT_EQ(back.binaries[1].cubin, s.binaries[1].cubin);
  EXPECT_EQ(back.binaries[1].ptx, s.binaries[1].ptx);
  ASSERT_EQ(back.weights.size(), 2u);
  EXPECT_EQ(back.weights[1].name, "b");
  EXPECT_EQ(back.weights[1].type, "f16");
  EXPECT_EQ(back.weights[1].dims, std::vector<int64_t>{24});
  EXPECT_EQ(back.weights[1].offset, 16u * 24 * 4 + 64);
  EXPECT_EQ(back.weights[1].bytes, 48u);
  EXPECT_EQ(pkg::encodeCudaSection(back), bytes); // deterministic
}

TEST(CudaSection, RejectsEveryTruncationAndTrailingBytes) {
  std::vector<uint8_t> bytes = pkg::encodeCudaSection(sampleSection());
  for (size_t n = 0; n < bytes.size(); ++n) {
    pkg::CudaSection back;
    std::string err;
    ASSERT_FALSE(pkg::decodeCudaSection(bytes.data(), n, kWeightBytes, back, err)) << n;
    EXPECT_EQ(err.rfind("CUDA section: ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
  bytes.push_back(0);
  EXPECT_EQ(decodeError(sampleSection(), kWeightBytes).size(), 0u);
  pkg::CudaSection back;
  std::string err;
  EXPECT_FALSE(pkg::decodeCudaSection(bytes.data(), bytes.size(), kWeightBytes, back, err));
  EXPECT_EQ(err, "CUDA section: 1 bytes after the weight table");
}

TEST(CudaSection, RejectsAHugeLength) {
  std::vector<uint8_t> bytes = pkg::encodeCudaSection(sampleSection());
  for (int i = 0; i < 8; ++i) bytes[i] = 0xff; // the source's length
  pkg::CudaSection back;
  std::string err;
  EXPECT_FALSE(pkg::decodeCudaSection(bytes.data(), bytes.size(), kWeightBytes, back, err));
  EXPECT_EQ(err.rfind("CUDA section: the CUDA C source: 18446744073709551615 bytes, ", 0), 0u) << err;
}

TEST(CudaSection, RejectsAWrongArchitectureTable) {
  struct Case {
    const char *what;
    std::function<void(pkg::CudaSection &)> damage;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"none", [](pkg::CudaSection &s) { s.binaries.clear(); },
       "CUDA section: no architecture (expected a cubin for each of sm_80, sm_90)"},
      {"not sm_NN", [](pkg::CudaSection &s) { s.binaries[0].arch = "sm_8x"; },
       "CUDA section: architecture 'sm_8x' (expected sm_NN)"},
      {"compute_", [](pkg::CudaSection &s) { s.binaries[0].arch = "compute_80"; },
       "CUDA section: architecture 'compute_80' (expected sm_NN)"},
      {"twice", [](pkg::CudaSection &s) { s.binaries[1].arch = "sm_80"; },
       "CUDA section: architecture sm_80 after sm_80 (expected each once, ascending)"},
      {"descending", [](pkg::CudaSection &s) { std::swap(s.binaries[0], s.binaries[1]); },
       "CUDA section: architecture sm_80 after sm_90 (expected each once, ascending)"},
      {"cubin not ELF", [](pkg::CudaSection &s) { s.binaries[1].cubin = "\x7f" "EL"; },
       "CUDA section: the cubin for sm_90 is not an ELF image"},
      {"PTX of another target", [](pkg::CudaSection &s) { s.binaries[0].ptx = ".version 8.0\n.target sm_800\n"; },
       "CUDA section: the PTX for sm_80 has no '.target sm_80'"},
      {"control bytes shown escaped", [](pkg::CudaSection &s) { s.binaries[0].arch = std::string("sm\n80", 5); },
       "CUDA section: architecture 'sm\\x0a80' (expected sm_NN)"},
  };
  for (const Case &c : cases) {
    pkg::CudaSection s = sampleSection();
    c.damage(s);
    EXPECT_EQ(decodeError(s), c.error) << c.what;
  }
}

TEST(CudaSection, RejectsBadProgramLines) {
  struct Case {
    const char *what;
    std::function<void(pkg::CudaSection &)> damage;
    std::string error;
  };
  auto replaced = [](std::string s, const std::string &from, const std::string &to) {
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::string line = kProgramLine;
  const std::vector<Case> cases = {
      {"not JSON", [&](pkg::CudaSection &s) { s.source = sourceWith(line.substr(0, line.size() - 1)); },
       "CUDA section: bmc-program line 3: not a JSON object"},
      {"another version", [&](pkg::CudaSection &s) { s.source = sourceWith(replaced(line, "\"version\":1", "\"version\":2")); },
       "CUDA section: bmc-program line 3: version 2, expected 1"},
      {"no steps", [&](pkg::CudaSection &s) { s.source = sourceWith(replaced(line, "\"steps\"", "\"stops\"")); },
       "CUDA section: bmc-program line 3: no 'steps'"},
      {"function not a string", [&](pkg::CudaSection &s) { s.source = sourceWith(replaced(line, "\"main\"", "7")); },
       "CUDA section: bmc-program line 3: 'function' is 7, expected a string"},
      {"no program line", [](pkg::CudaSection &s) { s.source = sourceWith(""); },
       "CUDA section: the CUDA C has no bmc-program line"},
      {"another function", [](pkg::CudaSection &s) { s.functions = {"layer"}; },
       "CUDA section: its bmc-program lines are for 'main', its function table lists 'layer'"},
      {"a weight of no known type",
       [&](pkg::CudaSection &s) { s.source = sourceWith(replaced(line, "\"type\":\"f16\"", "\"type\":\"q4\"")); },
       "CUDA section: bmc-program line 3: weight 'b' of type 'q4' (expected f32, f16, bf16, i32, i64 or i1)"},
  };
  for (const Case &c : cases) {
    pkg::CudaSection s = sampleSection();
    c.damage(s);
    std::string err = decodeError(s);
    EXPECT_EQ(err, c.error) << c.what;
  }
}

TEST(CudaSection, RejectsAWrongWeightTable) {
  struct Case {
    const char *what;
    std::function<void(pkg::CudaSection &)> damage;
    uint64_t weightBytes;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"missing", [](pkg::CudaSection &s) { s.weights.pop_back(); }, kWeightBytes,
       "CUDA section: the programs upload weight 'b', which the weight table lacks"},
      {"extra", [](pkg::CudaSection &s) { s.weights.push_back({"c", "i64", {2}, 2048, 16}); }, 4096,
       "CUDA section: the weight table lists 3 weights, the programs upload 2"},
      {"twice", [](pkg::CudaSection &s) { s.weights[1].name = "W"; }, kWeightBytes,
       "CUDA section: weight 'W' listed twice"},
      {"another type", [](pkg::CudaSection &s) { s.weights[1].type = "bf16"; }, kWeightBytes,
       "CUDA section: weight 'b' is bf16 [24] in the weight table, f16 [24] in the programs"},
      {"other dims", [](pkg::CudaSection &s) { s.weights[1].dims = {4, 6}; }, kWeightBytes,
       "CUDA section: weight 'b' is f16 [4, 6] in the weight table, f16 [24] in the programs"},
      {"bytes not its dims'", [](pkg::CudaSection &s) { s.weights[0].bytes = 1535; }, kWeightBytes,
       "CUDA section: weight 'W': 1535 bytes recorded, its dims [16, 24] of f32 are 1536"},
      {"a product that overflows", [](pkg::CudaSection &s) { s.weights[0].dims = {int64_t(1) << 40, int64_t(1) << 40}; },
       kWeightBytes, "CUDA section: weight 'W' has dims [1099511627776, 1099511627776] (expected sizes >= 0 whose product fits)"},
      {"past the section", [](pkg::CudaSection &) {}, kWeightBytes - 1,
       "CUDA section: weight 'b' at [1600, +48) is not 64-byte aligned inside the weights section of 1647 bytes"},
      {"an offset near 2^64", [](pkg::CudaSection &s) { s.weights[1].offset = ~uint64_t(63); }, kWeightBytes,
       "CUDA section: weight 'b' at [18446744073709551552, +48) is not 64-byte aligned inside the weights section of "
       "1648 bytes"},
      {"misaligned", [](pkg::CudaSection &s) { s.weights[1].offset = 1540; }, kWeightBytes,
       "CUDA section: weight 'b' at [1540, +48) is not 64-byte aligned inside the weights section of 1648 bytes"},
  };
  for (const Case &c : cases) {
    pkg::CudaSection s = sampleSection();
    c.damage(s);
    EXPECT_EQ(decodeError(s, c.weightBytes), c.error) << c.what;
  }
}

TEST(CudaSection, SurvivesRandomCorruption) {
  const std::vector<uint8_t> good = pkg::encodeCudaSection(sampleSection());
  std::mt19937 rng(14);
  int rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> b = good;
    for (int k = 0; k < 1 + iter % 4; ++k) b[rng() % b.size()] ^= uint8_t(1 + rng() % 255);
    pkg::CudaSection back;
    std::string err;
    if (!pkg::decodeCudaSection(b.data(), b.size(), kWeightBytes, back, err)) {
      ++rejected;
      EXPECT_EQ(err.rfind("CUDA section: ", 0), 0u) << err;
      EXPECT_EQ(err.find('\n'), std::string::npos) << err;
    }
  }
  EXPECT_GT(rejected, 0);
}

//===----------------------------------------------------------------------===//
// Model::load on a CUDA package (metadata, no CPU code, the section, weights)
//===----------------------------------------------------------------------===//

struct PackageBytes {
  std::vector<uint8_t> bytes;
  pkg::Header h{};
  void seal() { // the section's checksum, then the file's
    std::memcpy(bytes.data(), &h, sizeof h);
    h.cudaChecksum = pkg::crc32c(0, bytes.data() + h.cudaOffset, h.cudaSize);
    h.checksum = 0;
    std::memcpy(bytes.data(), &h, sizeof h);
    h.checksum = pkg::crc32c(0, bytes.data(), bytes.size());
    std::memcpy(bytes.data(), &h, sizeof h);
  }
  void sealFileOnly() {
    h.checksum = 0;
    std::memcpy(bytes.data(), &h, sizeof h);
    h.checksum = pkg::crc32c(0, bytes.data(), bytes.size());
    std::memcpy(bytes.data(), &h, sizeof h);
  }
};

PackageBytes cudaPackage(const std::vector<uint8_t> &section) {
  pkg::Meta m;
  m.producer = "bmc test";
  m.targetCpu = "none (--target cuda: no CPU code)";
  m.sig.inputs = {TensorInfo{"x", DType::F32, {-1, 16}, {"n", ""}, -1}};
  m.sig.outputs = {TensorInfo{"y", DType::F32, {-1, 24}, {"n", ""}, -1}};
  std::vector<uint8_t> meta = pkg::encodeMeta(m);
  PackageBytes p;
  pkg::Header &h = p.h;
  std::memcpy(h.magic, pkg::kMagic, 8);
  h.formatVersion = pkg::kFormatVersion;
  h.abiVersion = BMC_ABI_VERSION;
  h.metaOffset = pkg::kHeaderSize;
  h.metaSize = meta.size();
  h.codeOffset = h.metaOffset + h.metaSize;
  h.codeSize = 0;
  h.cudaOffset = h.codeOffset;
  h.cudaSize = section.size();
  h.weightsOffset = (h.cudaOffset + h.cudaSize + 4095) / 4096 * 4096;
  h.weightsSize = kWeightBytes;
  h.fileSize = h.weightsOffset + h.weightsSize;
  p.bytes.assign(h.fileSize, 0);
  std::memcpy(p.bytes.data() + h.metaOffset, meta.data(), meta.size());
  std::memcpy(p.bytes.data() + h.cudaOffset, section.data(), section.size());
  for (uint64_t i = 0; i < kWeightBytes; ++i) p.bytes[h.weightsOffset + i] = uint8_t(i * 7);
  p.seal();
  return p;
}

/// Model::load's error for `bytes` written to a file ("" if it loads).
std::string loadError(const std::vector<uint8_t> &bytes, Target device) {
  char path[] = "/tmp/bmc-cuda-section-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), ssize_t(bytes.size()));
  ::close(fd);
  LoadOptions lo;
  lo.threads = 1;
  lo.device = device;
  auto m = Model::load(path, lo);
  std::remove(path);
  if (m) return "";
  const std::string prefix = std::string(path) + ": ";
  std::string msg = m.status().message();
  EXPECT_EQ(msg.rfind(prefix, 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  return msg.substr(std::min(msg.size(), prefix.size()));
}

TEST(CudaPackage, LoadsUpToTheDeviceAndNoFurther) {
  PackageBytes p = cudaPackage(pkg::encodeCudaSection(sampleSection()));
  // Here (no libcuda.so.1, or no GPU) the CUDA device's own error; on a GPU,
  // the sample's own (it is no decoder, and its cubins are no real images):
  // one line, from startDeviceGeneration (runtime/CudaPackage.cpp). A model
  // that runs on a device: tests/unit/device/device_session_test.cpp.
  std::string err = loadError(p.bytes, Target::Cuda);
  EXPECT_EQ(err.rfind("device cuda: ", 0), 0u) << err;
  const bool noDevice = err.find("no libcuda.so.1") != std::string::npos || err.find("no GPU") != std::string::npos ||
                        err.find("CUDA_ERROR_NO_DEVICE") != std::string::npos;
  const bool onGpu = device::CudaDevice::create(0).ok();
  EXPECT_TRUE(noDevice || onGpu) << err;
  EXPECT_EQ(loadError(p.bytes, Target::Cpu),
            "device cpu: the package has no CPU code, only a CUDA section (compiled with --target cuda); load it "
            "with device cuda (bmc-run --device cuda), or recompile it with --target cpu");
}

TEST(CudaPackage, NamesADamagedSection) {
  const std::vector<uint8_t> section = pkg::encodeCudaSection(sampleSection());
  const PackageBytes good = cudaPackage(section);
  { // a byte flipped in the section, the file's checksum made to match: the section's own catches it
    PackageBytes p = good;
    p.bytes[p.h.cudaOffset + section.size() / 2] ^= 0x10;
    p.sealFileOnly();
    EXPECT_EQ(loadError(p.bytes, Target::Cuda), "CUDA section: checksum mismatch: the section is corrupted");
  }
  { // flipped with nothing resealed: still named as the section's
    PackageBytes p = good;
    p.bytes[p.h.cudaOffset + 3] ^= 0x01;
    EXPECT_EQ(loadError(p.bytes, Target::Cuda), "CUDA section: checksum mismatch: the section is corrupted");
  }
  { // the section cut short in the header (both checksums resealed): its decoder says where
    PackageBytes p = good;
    p.h.cudaSize -= 9;
    p.seal();
    std::string err = loadError(p.bytes, Target::Cuda);
    EXPECT_EQ(err.rfind("CUDA section: ", 0), 0u) << err;
  }
  { // a section reaching past the file
    PackageBytes p = good;
    p.h.cudaSize = p.h.fileSize;
    p.sealFileOnly();
    EXPECT_EQ(loadError(p.bytes, Target::Cuda).rfind("corrupted header (CUDA section out of range: offset ", 0), 0u);
  }
  { // overlapping the weights
    PackageBytes p = good;
    p.h.cudaSize = p.h.weightsOffset - p.h.cudaOffset + 1;
    p.sealFileOnly();
    EXPECT_EQ(loadError(p.bytes, Target::Cuda), "corrupted header (sections overlap or are out of order)");
  }
  { // no section but a checksum for one
    PackageBytes p = good;
    p.h.cudaSize = 0;
    p.h.cudaOffset = 0;
    p.sealFileOnly();
    EXPECT_EQ(loadError(p.bytes, Target::Cuda),
              "corrupted header (an empty CUDA section with an offset or a checksum)");
  }
  { // a wrong architecture table, both checksums matching
    pkg::CudaSection s = sampleSection();
    s.binaries[1].arch = "sm_75";
    PackageBytes p = cudaPackage(pkg::encodeCudaSection(s));
    EXPECT_EQ(loadError(p.bytes, Target::Cuda),
              "CUDA section: architecture sm_75 after sm_80 (expected each once, ascending)");
  }
  { // a bad program line
    pkg::CudaSection s = sampleSection();
    s.source = sourceWith("// bmc-program: {\"version\":1}");
    PackageBytes p = cudaPackage(pkg::encodeCudaSection(s));
    EXPECT_EQ(loadError(p.bytes, Target::Cpu), "CUDA section: bmc-program line 3: no 'function'");
  }
}

} // namespace
} // namespace bmc
