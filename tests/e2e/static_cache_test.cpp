//===- static_cache_test.cpp - opset 24's static cache, without onnxruntime ===//
//
// The --static-cache models of tests/models/bmc_modelgen.py (their logits and
// tokens against onnxruntime are the Generated tests):
//   - every KV cache (TensorScatter into a fixed-size buffer) is rewritten in
//     place by the BMC pass, write_indices and nonpad_kv_seqlen are found by
//     their role and fed by the session, and the buffer size bounds the context;
//   - the import's assumptions are checked at run time: a write position other
//     than the cache length, or a nonpad_kv_seqlen other than that plus the new
//     tokens, fails with the check's one-line message, no output.
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

namespace bmc::e2e {
namespace {

const char *const kModels[] = {"llama_static_op24", "gpt2_static_op24"};

TEST(StaticCache, CachesRewrittenAndLengthsFed) {
  for (const char *name : kModels) {
    SCOPED_TRACE(name);
    auto m = compiled(generatedModelPath(name));
    ASSERT_TRUE(m.ok()) << m.status().message();
    const ModelSignature &sig = m.value()->signature();
    const DecoderInfo &d = sig.decoder;
    EXPECT_TRUE(d.valid);
    EXPECT_TRUE(d.inplaceKV);
    EXPECT_EQ(d.kvMode, "bmc");
    ASSERT_EQ(d.kvStatus.size(), 4u) << "2 layers x key/value: " << ::testing::PrintToString(d.kvStatus);
    for (const std::string &s : d.kvStatus) EXPECT_NE(s.find(": in place"), std::string::npos) << s;
    ASSERT_GE(d.writeIndices, 0);
    ASSERT_GE(d.nonpadKvSeqlen, 0);
    EXPECT_EQ(sig.inputs[size_t(d.writeIndices)].name, "write_indices");
    EXPECT_EQ(sig.inputs[size_t(d.nonpadKvSeqlen)].name, "nonpad_kv_seqlen");
    EXPECT_EQ(d.maxPositions, 512) << "the buffers' 512 rows (gpt2's position table has 1024)";
    auto s = Session::create(m.value());
    ASSERT_TRUE(s.ok()) << s.status().message();
    GenerateOptions go;
    go.maxNewTokens = 4;
    auto out = s.value()->generate({{11, 42, 7}}, go);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out.value()[0].size(), 4u);
    // 513 tokens do not fit the 512 rows.
    Status tooLong = s.value()->prefill({std::vector<int64_t>(513, 5)});
    ASSERT_FALSE(tooLong.ok());
    EXPECT_NE(tooLong.message().find("prompt of 513 tokens is longer than the model allows (512)"), std::string::npos)
        << tooLong.message();
    EXPECT_TRUE(s.value()->prefill({std::vector<int64_t>(512, 5)}).ok());
  }
}

/// llama_static_op24 with its Concat kept (Model::run takes the caches as
/// inputs, their valid rows): one new token after `past` rows, batch 1.
Result<std::vector<Tensor>> runStep(int64_t past, int64_t writeIndex, int64_t nonpad) {
  CompileOptions concat;
  concat.kvMode = KVMode::Concat;
  auto m = compiled(generatedModelPath("llama_static_op24"), concat);
  if (!m.ok()) return m.status();
  std::vector<Tensor> in;
  for (const TensorInfo &t : m.value()->signature().inputs) {
    if (t.name == "input_ids")
      in.push_back(Tensor::fromVector<int64_t>(DType::I64, {1, 1}, {5}));
    else if (t.name == "attention_mask")
      in.push_back(Tensor::fromVector<int64_t>(DType::I64, {1, past + 1}, std::vector<int64_t>(size_t(past + 1), 1)));
    else if (t.name == "position_ids")
      in.push_back(Tensor::fromVector<int64_t>(DType::I64, {1, 1}, {past}));
    else if (t.name == "write_indices")
      in.push_back(Tensor::fromVector<int64_t>(DType::I64, {1}, {writeIndex}));
    else if (t.name == "nonpad_kv_seqlen")
      in.push_back(Tensor::fromVector<int64_t>(DType::I64, {1}, {nonpad}));
    else
      in.push_back(Tensor(DType::F32, {1, 2, past, 16}));
  }
  return m.value()->run(in);
}

TEST(StaticCache, LengthsCheckedAtRunTime) {
  auto ok = runStep(5, 5, 6);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  // Writing anywhere but after the valid rows (a shared max-length buffer's position, say).
  auto elsewhere = runStep(5, 3, 6);
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_NE(elsewhere.status().message().find(
                "write_indices must equal the KV cache's current length in every batch row (bmc appends after the "
                "valid rows; other write positions are not supported): found 3, expected 5"),
            std::string::npos)
      << elsewhere.status().message();
  EXPECT_EQ(elsewhere.status().message().find('\n'), std::string::npos) << "one line";
  auto shortLength = runStep(5, 5, 4);
  ASSERT_FALSE(shortLength.ok());
  EXPECT_NE(shortLength.status().message().find(
                "nonpad_kv_seqlen must equal the KV cache length (write_indices + the new tokens) in every batch "
                "row (padded batches are not supported): found 4, expected 6"),
            std::string::npos)
      << shortLength.status().message();
}

} // namespace
} // namespace bmc::e2e
