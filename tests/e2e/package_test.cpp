//===- package_test.cpp - packages: damaged files, several loaded at once -===//
//
// Model::load must reject any damaged or foreign file with a one-line
// message naming it. A program may hold several models loaded from packages
// at once (e.g. a server with two models, or one model compiled for two KV
// modes); each must run its own code.
//
//===----------------------------------------------------------------------===//

#include "compiler/CodeGen.h"
#include "bmc/abi/entry.h"
#include "bmc/abi/package.h"
#include "tests/e2e/bad_packages.h"
#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

namespace bmc::e2e {
namespace {

const std::vector<int64_t> kPrompt = {11, 42, 7, 300};

std::string gpt2() { return generatedModelPath("gpt2_op17"); }

/// Prefill logits of kPrompt through a session in the model's own mode.
Result<Tensor> prefillLogits(const std::shared_ptr<Model> &m) {
  auto s = Session::create(m);
  if (!s) return s.status();
  if (Status st = s.value()->prefill({kPrompt}); !st.ok()) return st;
  return s.value()->logits().clone();
}

/// Loads each package alone (released before the next) and returns its logits.
Result<Tensor> aloneLogits(const std::string &path) {
  auto m = Model::load(path);
  if (!m) return m.status();
  return prefillLogits(m.value());
}

/// Loads `first` and keeps it while loading `second`; runs both and compares
/// them with what each gives when loaded alone. Exits 0 when both agree (run
/// in a child process: running the wrong code can corrupt memory).
[[noreturn]] void runBothLoaded(const std::string &first, const std::string &second) {
  auto want1 = aloneLogits(first), want2 = aloneLogits(second);
  if (!want1.ok() || !want2.ok()) std::exit(2);
  auto m1 = Model::load(first);
  auto m2 = Model::load(second);
  if (!m1.ok() || !m2.ok()) std::exit(3);
  auto got1 = prefillLogits(m1.value()), got2 = prefillLogits(m2.value());
  if (!got1.ok()) std::fprintf(stderr, "%s: %s\n", first.c_str(), got1.status().message().c_str());
  if (!got2.ok()) std::fprintf(stderr, "%s: %s\n", second.c_str(), got2.status().message().c_str());
  if (!got1.ok() || !got2.ok()) std::exit(1);
  int64_t V = want1.value().shape()[1];
  double d1 = compareLogits(got1.value().data<float>(), want1.value().data<float>(), V).rel;
  double d2 = compareLogits(got2.value().data<float>(), want2.value().data<float>(), V).rel;
  std::fprintf(stderr, "relative differences from the packages loaded alone: %g, %g\n", d1, d2);
  std::exit(d1 == 0 && d2 == 0 ? 0 : 1);
}

bool inDeathTestChild() { return !GTEST_FLAG_GET(internal_run_death_test).empty(); }

/// bmc-compile streams the package through a write window (at least 16 MB)
/// instead of building it in one buffer. The reference is that buffer, built
/// plainly: header, metadata, code, zeros, WeightPlan::build's blob, CRC32C
/// over it all with the checksum field zeroed. Weights of odd sizes, larger
/// than the window and straddling its flushes, packed matrices and constants
/// (with their alignment gaps) must come out byte for byte.
TEST(Packages, StreamedWriteIsTheWholeBufferLayout) {
  std::mt19937 rng(11);
  WeightStore store;
  std::vector<std::shared_ptr<std::vector<uint8_t>>> owned;
  auto addWeight = [&](const std::string &name, std::vector<int64_t> dims, size_t bytes) {
    auto buf = std::make_shared<std::vector<uint8_t>>(bytes);
    for (uint8_t &b : *buf) b = uint8_t(rng() >> 24);
    if (!dims.empty()) // finite floats for the packed matrix
      for (size_t i = 0; i + 4 <= bytes; i += 4) {
        float f = float(int(rng() % 2001) - 1000) / 512.f;
        std::memcpy(buf->data() + i, &f, 4);
      }
    Weight w;
    w.name = name;
    w.dtype = 1;
    w.dims = std::move(dims);
    w.data = buf->data();
    w.bytes = bytes;
    w.keepAlive = buf;
    store.add(std::move(w));
  };
  WeightPlan plan;
  const size_t rawSizes[] = {5u << 20, (17u << 20) + 3, 9u << 20, 1, (23u << 20) + 4093, 777};
  for (size_t i = 0; i < std::size(rawSizes); ++i) {
    const std::string name = "raw" + std::to_string(i);
    addWeight(name, {}, rawSizes[i]);
    plan.request(name, WeightEntry::Raw, int64_t(rawSizes[i]));
    if (i == 2) {
      addWeight("packed", {37, 129}, 37 * 129 * 4);
      plan.request("packed", WeightEntry::PackedB, 0, 37, 129);
      const char c[] = "a constant";
      plan.constant(c, 7);
    }
  }
  std::vector<uint8_t> meta(5000);
  for (uint8_t &b : meta) b = uint8_t(rng());
  std::string image(70001, '\0');
  for (char &c : image) c = char(rng());

  const std::string out = workDir() + "/streamed.bmcpkg";
  Status st = writePackageFile(out, meta, image, plan, store);
  ASSERT_TRUE(st.ok()) << st.message();
  std::ifstream in(out, std::ios::binary);
  std::vector<uint8_t> got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(out.c_str());

  pkg::Header h{};
  std::memcpy(h.magic, pkg::kMagic, 8);
  h.formatVersion = pkg::kFormatVersion;
  h.abiVersion = BMC_ABI_VERSION;
  h.metaOffset = pkg::kHeaderSize;
  h.metaSize = meta.size();
  h.codeOffset = h.metaOffset + h.metaSize;
  h.codeSize = image.size();
  h.weightsOffset = (h.codeOffset + h.codeSize + pkg::kWeightsAlign - 1) / pkg::kWeightsAlign * pkg::kWeightsAlign;
  h.weightsSize = uint64_t(plan.totalBytes());
  h.fileSize = h.weightsOffset + h.weightsSize;
  std::vector<uint8_t> want(h.fileSize, 0);
  std::memcpy(want.data() + h.metaOffset, meta.data(), meta.size());
  std::memcpy(want.data() + h.codeOffset, image.data(), image.size());
  std::vector<uint8_t> blob;
  std::string error;
  ASSERT_TRUE(plan.build(store, blob, error)) << error;
  std::memcpy(want.data() + h.weightsOffset, blob.data(), blob.size());
  std::memcpy(want.data(), &h, sizeof h);
  h.checksum = pkg::crc32c(0, want.data(), want.size());
  std::memcpy(want.data(), &h, sizeof h);

  ASSERT_GT(h.weightsSize, uint64_t(48) << 20) << "the weights must span several write windows";
  ASSERT_EQ(got.size(), want.size());
  size_t firstDiff = 0;
  while (firstDiff < got.size() && got[firstDiff] == want[firstDiff]) ++firstDiff;
  EXPECT_EQ(firstDiff, got.size()) << "first difference at byte " << firstDiff;
}

/// CompileOptions::packThreads: the JIT packs on the threads asked for (its
/// progress line says how many; by default no more than CompileOptions::
/// threads), and the blob is byte for byte the same for any count and the
/// same as a package's weights (written by one thread, entry after entry).
TEST(Packages, JitPackThreadsChangeNoWeightByte) {
  const std::string onnx = generatedModelPath("llama_op17");
  auto jit = [&](int threads, int packThreads, const std::string &expectLine) -> std::shared_ptr<Model> {
    CompileOptions co;
    co.threads = threads;
    co.packThreads = packThreads;
    std::vector<std::string> stages;
    co.progress = [&](const std::string &s) { stages.push_back(s); };
    auto m = compileOnnx(onnx, co);
    EXPECT_TRUE(m.ok()) << m.status().message();
    if (!m.ok()) return nullptr;
    bool said = false;
    for (const std::string &s : stages) said |= s.rfind(expectLine, 0) == 0;
    EXPECT_TRUE(said) << "no progress line starting with '" << expectLine << "'";
    return m.value();
  };
  auto one = jit(0, 1, "pack weights on 1 thread ");
  auto three = jit(0, 3, "pack weights on 3 threads ");
  auto byDefault = jit(1, 0, "pack weights on 1 thread "); // follows threads = 1
  const std::string pkgPath = workDir() + "/pack_threads.bmcpkg";
  Status st = compilePackage(onnx, pkgPath);
  ASSERT_TRUE(st.ok()) << st.message();
  auto pkg = Model::load(pkgPath);
  std::remove(pkgPath.c_str());
  ASSERT_TRUE(pkg.ok()) << pkg.status().message();
  ASSERT_TRUE(one && three && byDefault);
  const size_t n = one->weightBytes();
  ASSERT_GT(n, size_t(0));
  const std::pair<const char *, const Model *> others[] = {
      {"packThreads 3", three.get()}, {"threads 1, packThreads 0", byDefault.get()}, {"the package", pkg.value().get()}};
  for (const auto &[what, m] : others) {
    ASSERT_EQ(m->weightBytes(), n) << what;
    size_t firstDiff = 0;
    while (firstDiff < n && m->weightData()[firstDiff] == one->weightData()[firstDiff]) ++firstDiff;
    EXPECT_EQ(firstDiff, n) << what << ": first difference from packThreads 1 at byte " << firstDiff << " of " << n;
  }
  CompileOptions bad;
  bad.packThreads = 65;
  EXPECT_TRUE(isError(compileOnnx(onnx, bad), "packThreads"));
}

TEST(Packages, SeveralLoadedAtOnceRunTheirOwnCode) {
  const std::string onnx = gpt2();
  const std::string dir = workDir() + "/packages_several";
  const std::string inplace = dir + "/inplace.bmcpkg", concat = dir + "/concat.bmcpkg";
  if (!inDeathTestChild()) { // the children re-run this test: they reuse the packages
    freshDir("packages_several");
    CompileOptions concatOpts;
    concatOpts.kvMode = KVMode::Concat;
    ASSERT_TRUE(compilePackage(onnx, inplace).ok());
    ASSERT_TRUE(compilePackage(onnx, concat, concatOpts).ok());
    // Loaded one at a time, each gives what the JIT gives.
    auto jitInplace = compiled(onnx), jitConcat = compiled(onnx, concatOpts);
    ASSERT_TRUE(jitInplace.ok() && jitConcat.ok());
    for (auto [path, jit] : {std::pair{inplace, jitInplace.value()}, std::pair{concat, jitConcat.value()}}) {
      auto got = aloneLogits(path), want = prefillLogits(jit);
      ASSERT_TRUE(got.ok()) << path << ": " << got.status().message();
      ASSERT_TRUE(want.ok()) << want.status().message();
      EXPECT_EQ(compareLogits(got.value().data<float>(), want.value().data<float>(), want.value().shape()[1]).maxAbs, 0)
          << path;
    }
  }
  // Both loaded at once, in either order.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(runBothLoaded(inplace, concat), ::testing::ExitedWithCode(0), "") << "in-place package loaded first";
  EXPECT_EXIT(runBothLoaded(concat, inplace), ::testing::ExitedWithCode(0), "") << "concat package loaded first";
}

TEST(Packages, SamePackageLoadedTwice) {
  const std::string onnx = generatedModelPath("llama_op17");
  const std::string dir = freshDir("packages_twice");
  ASSERT_TRUE(compilePackage(onnx, dir + "/m.bmcpkg").ok());
  auto a = Model::load(dir + "/m.bmcpkg"), b = Model::load(dir + "/m.bmcpkg");
  ASSERT_TRUE(a.ok() && b.ok());
  auto la = prefillLogits(a.value()), lb = prefillLogits(b.value());
  ASSERT_TRUE(la.ok() && lb.ok());
  EXPECT_EQ(compareLogits(la.value().data<float>(), lb.value().data<float>(), la.value().shape()[1]).maxAbs, 0.0);
  a = Status::error("released");
  auto again = prefillLogits(b.value()); // the other still runs
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(compareLogits(again.value().data<float>(), lb.value().data<float>(), lb.value().shape()[1]).maxAbs, 0.0);
}

//===----------------------------------------------------------------------===//
// Model::load
//===----------------------------------------------------------------------===//

class LoadErrors : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir = new std::string(freshDir("api_load"));
    goodPath = new std::string(*dir + "/good.bmcpkg");
    compileStatus = new Status(compilePackage(gpt2(), *goodPath));
  }
  static void TearDownTestSuite() {
    delete dir;
    delete goodPath;
    delete compileStatus;
  }
  void SetUp() override { ASSERT_TRUE(compileStatus->ok()) << compileStatus->message(); }
  static std::string *dir, *goodPath;
  static Status *compileStatus;
};
std::string *LoadErrors::dir, *LoadErrors::goodPath;
Status *LoadErrors::compileStatus;

TEST_F(LoadErrors, GoodPackageAndItsRewrittenCopyLoad) {
  auto m = Model::load(*goodPath);
  ASSERT_TRUE(m.ok()) << m.status().message();
  // The control for the damaged variants: the same package with its
  // metadata re-encoded and its sections moved still loads and runs.
  std::string bytes = readFile(*goodPath);
  pkg::Header h = headerOf(bytes);
  pkg::Meta meta;
  std::string err;
  ASSERT_TRUE(pkg::decodeMeta(reinterpret_cast<const uint8_t *>(bytes.data()) + h.metaOffset, h.metaSize, meta, err));
  writeFile(*dir + "/rewritten.bmcpkg", withMeta(bytes, meta));
  auto r = Model::load(*dir + "/rewritten.bmcpkg");
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto s = Session::create(r.value());
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s.value()->prefill({{1, 2, 3}}).ok());
}

/// float16 logits are a fully 16-bit graph's, so a package whose metadata says
/// so loads; if its code writes f32 logits (the metadata damaged), the run
/// fails in one line naming the output (bmc_rt_output checks the element
/// size) instead of filling a buffer sized at half.
TEST_F(LoadErrors, OutputTypeDisagreeingWithTheCode) {
  std::string bytes = readFile(*goodPath);
  pkg::Header h = headerOf(bytes);
  pkg::Meta meta;
  std::string err;
  ASSERT_TRUE(pkg::decodeMeta(reinterpret_cast<const uint8_t *>(bytes.data()) + h.metaOffset, h.metaSize, meta, err));
  ASSERT_EQ(meta.sig.outputs[size_t(meta.sig.decoder.logits)].dtype, DType::F32);
  meta.sig.outputs[size_t(meta.sig.decoder.logits)].dtype = DType::F16;
  writeFile(*dir + "/logits_f16.bmcpkg", withMeta(bytes, meta));
  auto r = Model::load(*dir + "/logits_f16.bmcpkg");
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto s = Session::create(r.value());
  ASSERT_TRUE(s.ok()) << s.status().message();
  Status st = s.value()->prefill({{1, 2, 3}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'logits': the compiled code writes 4-byte elements, the package's signature says f16 "
                              "(2 bytes)"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
}

TEST_F(LoadErrors, DamagedPackages) {
  for (const BadPackage &b : writeBadPackages(*goodPath, *dir)) {
    SCOPED_TRACE(b.name);
    auto m = Model::load(b.path);
    EXPECT_TRUE(isError(m, b.expected));
    EXPECT_TRUE(isError(m, b.path)) << "the message names the file";
  }
}

TEST_F(LoadErrors, NotAFile) {
  EXPECT_TRUE(isError(Model::load(*dir + "/missing.bmcpkg"), "missing.bmcpkg"));
  EXPECT_TRUE(isError(Model::load(*dir), "expected a regular file, found a directory"));
}

TEST_F(LoadErrors, PackageKeepsTheSignature) {
  auto pkgModel = Model::load(*goodPath);
  auto jit = compiled(gpt2());
  ASSERT_TRUE(pkgModel.ok() && jit.ok());
  const ModelSignature &a = pkgModel.value()->signature(), &b = jit.value()->signature();
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    EXPECT_EQ(a.inputs[i].name, b.inputs[i].name);
    EXPECT_EQ(a.inputs[i].dtype, b.inputs[i].dtype);
    EXPECT_EQ(a.inputs[i].shape, b.inputs[i].shape);
    EXPECT_EQ(a.inputs[i].dimNames, b.inputs[i].dimNames);
    EXPECT_EQ(a.inputs[i].kvSlot, b.inputs[i].kvSlot);
  }
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  EXPECT_EQ(a.decoder.vocab, b.decoder.vocab);
  EXPECT_EQ(a.decoder.maxPositions, b.decoder.maxPositions);
  EXPECT_EQ(a.decoder.caches.size(), b.decoder.caches.size());
  EXPECT_EQ(a.decoder.kvStatus, b.decoder.kvStatus);
  EXPECT_EQ(pkgModel.value()->weightBytes(), jit.value()->weightBytes());
  // Same code generator, same weights: the same logits.
  auto sa = Session::create(pkgModel.value()), sb = Session::create(jit.value());
  ASSERT_TRUE(sa.value()->prefill({{3, 1, 4, 1, 5}}).ok());
  ASSERT_TRUE(sb.value()->prefill({{3, 1, 4, 1, 5}}).ok());
  EXPECT_LE(compareLogits(sa.value()->logits().data<float>(), sb.value()->logits().data<float>(), b.decoder.vocab).rel,
            1e-6);
}

} // namespace
} // namespace bmc::e2e
