//===- errors_test.cpp - bad input through the API ------------------------===//
//
// What a user can get wrong at run time must come back as a Status with a
// one-line message, never a crash: files that are not models, unsupported
// operators, inputs of the wrong shape or
// dtype, run-time shape errors of data ops (a squeezed dimension not 1, a negative
// Expand size from data: refused by onnxruntime too), token ids outside the vocabulary, prompts longer than the model's
// context, sessions used out of order. After an error the model and the
// session keep working. (Damaged packages: package_test.cpp.)
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

namespace bmc::e2e {
namespace {

std::string gpt2() { return generatedModelPath("gpt2_op17"); }
std::string gpt2Pos16() { return modelsDir() + "/gpt2_pos16.onnx"; }
std::string small(const std::string &name) { return modelsDir() + "/" + name + ".onnx"; }

Tensor i64(std::vector<int64_t> shape, std::vector<int64_t> v) {
  return Tensor::fromVector<int64_t>(DType::I64, std::move(shape), v);
}

//===----------------------------------------------------------------------===//
// Compiling
//===----------------------------------------------------------------------===//

TEST(CompileErrors, MissingFile) {
  EXPECT_TRUE(isError(compileOnnx(workDir() + "/no/such/model.onnx"), "model.onnx"));
}

TEST(CompileErrors, NotAnOnnxFile) {
  std::string dir = freshDir("api_not_onnx");
  writeFile(dir + "/text.onnx", "this is not a protobuf\n");
  writeFile(dir + "/empty.onnx", "");
  std::string junk(4096, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = char(i * 131 + 7);
  writeFile(dir + "/junk.onnx", junk);
  for (const char *f : {"text.onnx", "empty.onnx", "junk.onnx"}) {
    SCOPED_TRACE(f);
    EXPECT_TRUE(isError(compileOnnx(dir + "/" + f), f));
    EXPECT_TRUE(isError(compilePackage(dir + "/" + f, dir + "/out.bmcpkg"), f));
    EXPECT_EQ(listDir(dir), (std::vector<std::string>{"empty.onnx", "junk.onnx", "text.onnx"})) << "left a file behind";
  }
}

TEST(CompileErrors, UnsupportedOperatorNamesTheNode) {
  // Diagnostics have the form `file: node 'name' (OpType, opset N): expected ..., found ...`.
  auto r = compileOnnx(small("unsupported_op"));
  EXPECT_TRUE(isError(r, "node 'the_determinant' (Det, opset 17)"));
  EXPECT_TRUE(isError(r, "unsupported_op.onnx"));
  std::string dir = freshDir("api_unsupported");
  EXPECT_TRUE(isError(compilePackage(small("unsupported_op"), dir + "/out.bmcpkg"), "Det"));
  EXPECT_TRUE(listDir(dir).empty()) << "compilePackage left " << ::testing::PrintToString(listDir(dir));
}

TEST(CompileErrors, UnknownDomainNamesTheNodeOnce) {
  auto r = compileOnnx(small("custom_domain"));
  EXPECT_TRUE(isError(r, "node 'frob' (Frobnicate"));
  EXPECT_TRUE(isError(r, "com.example"));
  if (!r.ok()) {
    // The file name starts the message, once.
    const std::string &m = r.status().message();
    size_t first = m.find("custom_domain.onnx");
    ASSERT_NE(first, std::string::npos) << m;
    EXPECT_EQ(m.find("custom_domain.onnx", first + 1), std::string::npos) << "file named twice: " << m;
  }
}

TEST(CompileErrors, PackageIntoAMissingDirectory) {
  std::string out = workDir() + "/no_such_dir/sub/m.bmcpkg";
  EXPECT_TRUE(isError(compilePackage(small("matmul_add"), out), "m.bmcpkg"));
  EXPECT_FALSE(fileExists(out));
}

//===----------------------------------------------------------------------===//
// Model::run
//===----------------------------------------------------------------------===//

TEST(RunErrors, StaticShapesAndDtypes) {
  auto m = compiled(small("matmul_add"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  const Model &model = *m.value();
  EXPECT_FALSE(model.signature().decoder.valid);

  // The good case: y = x @ W + b with W = arange(12)/10 as [3, 4], b = [1, -1, 0.5, 0].
  Tensor x = Tensor::fromVector<float>(DType::F32, {2, 3}, std::vector<float>{1, 2, 3, -1, 0, 2});
  auto y = model.run({x});
  ASSERT_TRUE(y.ok()) << y.status().message();
  ASSERT_EQ(y.value()[0].shape(), (std::vector<int64_t>{2, 4}));
  const float want[8] = {4.2f, 2.8f, 4.9f, 5.0f, 2.6f, 0.7f, 2.3f, 1.9f};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(y.value()[0].data<float>()[i], want[i], 1e-5) << i;

  EXPECT_TRUE(isError(model.run({}), "expected 1 inputs, found 0"));
  EXPECT_TRUE(isError(model.run({x, x}), "expected 1 inputs, found 2"));
  EXPECT_TRUE(isError(model.run({Tensor(DType::I64, {2, 3})}), "dtype"));
  EXPECT_TRUE(isError(model.run({Tensor(DType::F64, {2, 3})}), "f32"));
  EXPECT_TRUE(isError(model.run({Tensor(DType::F32, {6})}), "rank"));
  EXPECT_TRUE(isError(model.run({Tensor(DType::F32, {1, 2, 3})}), "rank"));
  EXPECT_TRUE(isError(model.run({Tensor(DType::F32, {3, 3})}), "dimension 0"));
  EXPECT_TRUE(isError(model.run({Tensor(DType::F32, {2, 4})}), "dimension 1"));
  EXPECT_TRUE(isError(model.run({Tensor(DType::F32, {2, 0})}), "dimension 1"));
  // Still fine afterwards.
  auto again = model.run({x});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value()[0].data<float>()[7], y.value()[0].data<float>()[7]);
}

TEST(RunErrors, NamedDimensionsMustAgree) {
  auto m = compiled(small("add_named"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  Tensor a(DType::F32, {2, 4}), b(DType::F32, {3, 4});
  EXPECT_TRUE(isError(m.value()->run({a, b}), "'n'"));
  auto ok = m.value()->run({a, Tensor(DType::F32, {2, 4})});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok.value()[0].shape(), (std::vector<int64_t>{2, 4}));
}

/// Squeeze of a dimension the graph leaves dynamic: the run checks it is 1,
/// and the message says what it found, then what it expected (as the device
/// program's, DeviceProgramView.cpp). Size 1 runs, the data unchanged.
TEST(RunErrors, SqueezedDimensionMustBeOne) {
  auto m = compiled(small("squeeze_dynamic"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::vector<float> v(24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.5f - 3;
  auto r = m.value()->run({Tensor::fromVector<float>(DType::F32, {2, 3, 4}, v)});
  EXPECT_TRUE(isError(r, "Squeeze: squeezed dimension 1 is 3, expected 1"));
  v.resize(8);
  auto ok = m.value()->run({Tensor::fromVector<float>(DType::F32, {2, 1, 4}, v)});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  ASSERT_EQ(ok.value()[0].shape(), (std::vector<int64_t>{2, 4}));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(ok.value()[0].data<float>()[i], v[i]) << i;
}

/// Expand with its shape read from input data: a negative size is refused at
/// run time with one line, as onnxruntime refuses it (both asked, on the same
/// inputs); one that does not broadcast too; good shapes give onnxruntime's
/// values (a 0 size included: an empty result).
TEST(RunErrors, ExpandShapeFromData) {
  auto m = compiled(small("expand_from_data"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  Tensor x = Tensor::fromVector<float>(DType::F32, {1, 3}, std::vector<float>{1.5f, -2, 4});
  struct Case {
    std::vector<int64_t> shape;
    std::string error; // bmc's; empty: runs
  };
  const Case cases[] = {{{-2, 3}, "Expand: shape element 0: expected a non-negative size, found -2"},
                        {{-1, 1}, "Expand: shape element 0: expected a non-negative size, found -1"},
                        {{2, -3}, "Expand: shape element 1: expected a non-negative size, found -3"},
                        {{2, 4}, "Expand: input dimension 3 does not broadcast to 4 (dimension 1)"},
                        {{2, 3}, ""},
                        {{3, 1}, ""},
                        {{0, 3}, ""}};
  for (const Case &c : cases) {
    std::string text = std::to_string(c.shape[0]) + "," + std::to_string(c.shape[1]);
    SCOPED_TRACE("shape " + text);
    auto ort = ortRun(small("expand_from_data"), {"x=f32:1,3:1.5,-2,4", "shape=i64:2:" + text});
    ASSERT_TRUE(ort.ok()) << ort.status().message();
    auto r = m.value()->run({x, i64({2}, c.shape)});
    if (!c.error.empty()) {
      EXPECT_TRUE(ort.value().has("error")) << "onnxruntime ran it";
      EXPECT_TRUE(isError(r, c.error));
      continue;
    }
    ASSERT_TRUE(ort.value().has("outputs")) << ort.value()["error"].str;
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Json &y = ort.value()["outputs"]["y"];
    ASSERT_EQ(r.value()[0].shape(), y["dims"].ints());
    ASSERT_EQ(size_t(r.value()[0].numElements()), y["data"].arr.size());
    for (size_t i = 0; i < y["data"].arr.size(); ++i) EXPECT_EQ(r.value()[0].data<float>()[i], y["data"].arr[i].num) << i;
  }
}

/// Fused attention reads sequence b of k and v for query sequence b: batches
/// the graph names apart ('bq', 'bk') are checked when they are known, at run
/// time, in one line (MatMul would broadcast a k of batch 1; the fused op
/// refuses it rather than read past k). Equal batches run, and agree with the
/// plain (reference) code generation.
TEST(RunErrors, AttentionBatchesMustAgree) {
  auto m = compiled(small("attention_batches"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  ProcessResult ir = bmcCompile({small("attention_batches"), "--emit", "mlir", "--quiet"});
  ASSERT_EQ(ir.exitCode, 0) << ir.describe();
  ASSERT_NE(ir.out.find("bmck.attention"), std::string::npos) << "not fused: the test would not reach the check";
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  auto rand = [&](std::vector<int64_t> shape) {
    Tensor t(DType::F32, shape);
    for (int64_t i = 0; i < t.numElements(); ++i) t.data<float>()[i] = nd(rng);
    return t;
  };
  for (int64_t bk : {3, 1}) {
    auto r = m.value()->run({rand({2, 2, 3, 8}), rand({bk, 2, 5, 8}), rand({bk, 2, 5, 8})});
    EXPECT_TRUE(isError(r, "Attention: the key's batch is " + std::to_string(bk) + ", expected 2 (the query's)")) << bk;
  }
  Tensor q = rand({2, 2, 3, 8}), k = rand({2, 2, 5, 8}), v = rand({2, 2, 5, 8});
  auto ok = m.value()->run({q, k, v});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  // softmax(q k^T / sqrt(8)) v in double, from the definition.
  const float *qd = q.data<float>(), *kd = k.data<float>(), *vd = v.data<float>(), *od = ok.value()[0].data<float>();
  for (int64_t bh = 0; bh < 4; ++bh)
    for (int64_t i = 0; i < 3; ++i) {
      double s[5], mx = -1e300, sum = 0;
      for (int64_t j = 0; j < 5; ++j) {
        s[j] = 0;
        for (int64_t d = 0; d < 8; ++d) s[j] += double(qd[(bh * 3 + i) * 8 + d]) * kd[(bh * 5 + j) * 8 + d];
        s[j] /= std::sqrt(8.0);
        mx = std::max(mx, s[j]);
      }
      for (double &x : s) sum += (x = std::exp(x - mx));
      for (int64_t d = 0; d < 8; ++d) {
        double o = 0;
        for (int64_t j = 0; j < 5; ++j) o += s[j] / sum * vd[(bh * 5 + j) * 8 + d];
        EXPECT_NEAR(od[(bh * 3 + i) * 8 + d], o, 1e-5) << bh << " " << i << " " << d;
      }
    }
}

TEST(RunErrors, KvCacheInputsNeedASession) {
  auto m = compiled(gpt2()); // in-place KV caches
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::vector<Tensor> in;
  for (const TensorInfo &t : m.value()->signature().inputs) {
    std::vector<int64_t> shape;
    for (int64_t d : t.shape) shape.push_back(d < 0 ? 1 : d);
    in.push_back(Tensor(t.dtype, shape));
  }
  EXPECT_TRUE(isError(m.value()->run(in), "Session"));
}

/// The decoder compiled with --kv concat has plain tensor inputs: Model::run
/// takes the whole HF interface and must check what the graph cannot.
class DecoderRun : public ::testing::Test {
protected:
  void SetUp() override {
    CompileOptions co;
    co.kvMode = KVMode::Concat;
    auto m = compiled(gpt2(), co);
    ASSERT_TRUE(m.ok()) << m.status().message();
    model = m.value();
    const ModelSignature &sig = model->signature();
    vocab = sig.decoder.vocab;
    ASSERT_GT(vocab, 0);
    for (const TensorInfo &t : sig.inputs) names.push_back(t.name);
  }
  /// Inputs for a prefill of `ids` ([batch][seq]) with an empty past.
  std::vector<Tensor> inputs(const std::vector<std::vector<int64_t>> &ids) const {
    int64_t B = int64_t(ids.size()), S = int64_t(ids[0].size());
    std::vector<Tensor> in;
    for (const TensorInfo &t : model->signature().inputs) {
      if (t.name == "input_ids") {
        std::vector<int64_t> flat;
        for (auto &row : ids) flat.insert(flat.end(), row.begin(), row.end());
        in.push_back(i64({B, S}, flat));
      } else if (t.name == "attention_mask") {
        in.push_back(i64({B, S}, std::vector<int64_t>(size_t(B * S), 1)));
      } else if (t.name == "position_ids") {
        std::vector<int64_t> pos;
        for (int64_t b = 0; b < B; ++b)
          for (int64_t s = 0; s < S; ++s) pos.push_back(s);
        in.push_back(i64({B, S}, pos));
      } else { // past_key_values.*: [batch, heads, 0, head_dim]
        in.push_back(Tensor(DType::F32, {B, t.shape[1], 0, t.shape[3]}));
      }
    }
    return in;
  }
  int index(const std::string &name) const {
    return int(std::find(names.begin(), names.end(), name) - names.begin());
  }
  std::shared_ptr<Model> model;
  int64_t vocab = 0;
  std::vector<std::string> names;
};

TEST_F(DecoderRun, AgreesWithASession) {
  std::vector<int64_t> prompt = {11, 42, 7, 300, 5, 99};
  auto out = model->run(inputs({prompt}));
  ASSERT_TRUE(out.ok()) << out.status().message();
  SessionOptions so;
  so.keepAllLogits = true;
  auto s = Session::create(model, so);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.value()->prefill({prompt}).ok());
  const Tensor &logits = out.value()[size_t(model->signature().decoder.logits)];
  ASSERT_EQ(logits.shape(), s.value()->allLogits().shape());
  LogitDiff d = compareLogits(logits.data<float>(), s.value()->allLogits().data<float>(), logits.numElements());
  EXPECT_EQ(d.maxAbs, 0.0) << d.describe();
}

TEST_F(DecoderRun, WrongDtypeRankOrStaticDim) {
  int ids = index("input_ids"), past = index("past_key_values.0.key");
  ASSERT_LT(past, int(names.size()));
  auto in = inputs({{1, 2, 3}});
  in[size_t(ids)] = Tensor(DType::F32, {1, 3});
  EXPECT_TRUE(isError(model->run(in), "input_ids"));
  in = inputs({{1, 2, 3}});
  in[size_t(ids)] = Tensor(DType::I32, {1, 3});
  EXPECT_TRUE(isError(model->run(in), "dtype"));
  in = inputs({{1, 2, 3}});
  in[size_t(ids)] = i64({3}, {1, 2, 3});
  EXPECT_TRUE(isError(model->run(in), "rank"));
  in = inputs({{1, 2, 3}});
  const TensorInfo &pk = model->signature().inputs[size_t(past)];
  in[size_t(past)] = Tensor(DType::F32, {1, pk.shape[1] + 1, 0, pk.shape[3]});
  EXPECT_TRUE(isError(model->run(in), "past_key_values.0.key"));
}

TEST_F(DecoderRun, BatchMismatchBetweenInputs) {
  auto in = inputs({{1, 2, 3}});
  in[size_t(index("position_ids"))] = i64({2, 3}, {0, 1, 2, 0, 1, 2});
  EXPECT_TRUE(isError(model->run(in), "batch"));
}

TEST_F(DecoderRun, TokenIdsOutsideTheVocabulary) {
  EXPECT_TRUE(isError(model->run(inputs({{1, vocab, 3}})), "out of range"));
  EXPECT_TRUE(isError(model->run(inputs({{1, vocab + 1000000, 3}})), "out of range"));
  EXPECT_TRUE(isError(model->run(inputs({{1, -vocab - 1, 3}})), "out of range"));
  EXPECT_TRUE(isError(model->run(inputs({{1, 2, 3}, {4, 5, std::numeric_limits<int64_t>::min()}})), "out of range"));
  // ONNX Gather takes negative indices from the end: -1 is the last token.
  auto neg = model->run(inputs({{1, -1}}));
  auto last = model->run(inputs({{1, vocab - 1}}));
  ASSERT_TRUE(neg.ok()) << neg.status().message();
  ASSERT_TRUE(last.ok()) << last.status().message();
  int li = model->signature().decoder.logits;
  EXPECT_EQ(compareLogits(neg.value()[size_t(li)].data<float>(), last.value()[size_t(li)].data<float>(),
                          last.value()[size_t(li)].numElements()).maxAbs, 0.0);
}

TEST_F(DecoderRun, AttentionMaskOfTheWrongLength) {
  // What onnxruntime does with these very graphs (checked by hand): a mask
  // shorter than past + seq fails in both styles; a longer one is cut to
  // past + seq by the TorchScript style's Slice, and read at key positions
  // below past + seq by the dynamo style's GatherND (transformers'
  // attention_mask[batch_idx, kv_idx]), which fails on a shorter one.
  int li = model->signature().decoder.logits;
  auto in = inputs({{1, 2, 3}});
  auto want = model->run(in);
  ASSERT_TRUE(want.ok()) << want.status().message();
  in[size_t(index("attention_mask"))] = i64({1, 2}, {1, 1});
  EXPECT_FALSE(model->run(in).ok()) << "mask of 2 for 3 positions (opset 17)";
  in[size_t(index("attention_mask"))] = i64({1, 5}, {1, 1, 1, 1, 1});
  auto longer = model->run(in);
  ASSERT_TRUE(longer.ok()) << longer.status().message();
  EXPECT_EQ(compareLogits(longer.value()[size_t(li)].data<float>(), want.value()[size_t(li)].data<float>(),
                          want.value()[size_t(li)].numElements()).maxAbs, 0.0);

  CompileOptions co;
  co.kvMode = KVMode::Concat;
  auto dynamo = compiled(generatedModelPath("gpt2_op18"), co);
  ASSERT_TRUE(dynamo.ok()) << dynamo.status().message();
  model = dynamo.value();
  in = inputs({{1, 2, 3}});
  auto want18 = model->run(in);
  ASSERT_TRUE(want18.ok()) << want18.status().message();
  in[size_t(index("attention_mask"))] = i64({1, 2}, {1, 1});
  EXPECT_TRUE(isError(model->run(in), "GatherND: index 2 is out of range for a dimension of 2"))
      << "mask of 2 for 3 positions (opset 18)";
  in[size_t(index("attention_mask"))] = i64({1, 5}, {1, 1, 1, 1, 1});
  auto longer18 = model->run(in);
  ASSERT_TRUE(longer18.ok()) << longer18.status().message();
  size_t li18 = size_t(model->signature().decoder.logits);
  EXPECT_EQ(compareLogits(longer18.value()[li18].data<float>(), want18.value()[li18].data<float>(),
                          want18.value()[li18].numElements()).maxAbs, 0.0);
}

TEST_F(DecoderRun, PositionBeyondTheLearnedTable) {
  CompileOptions co;
  co.kvMode = KVMode::Concat;
  auto m = compiled(gpt2Pos16(), co);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->signature().decoder.maxPositions, 16);
  model = m.value();
  auto in = inputs({{1, 2, 3}});
  in[size_t(index("position_ids"))] = i64({1, 3}, {14, 15, 16});
  EXPECT_TRUE(isError(model->run(in), "out of range"));
  in[size_t(index("position_ids"))] = i64({1, 3}, {13, 14, 15});
  EXPECT_TRUE(model->run(in).ok());
}

TEST_F(DecoderRun, KeepsWorkingAfterErrors) {
  auto good = model->run(inputs({{5, 6, 7, 8}}));
  ASSERT_TRUE(good.ok());
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(model->run(inputs({{5, vocab + i, 7, 8}})).ok());
    auto again = model->run(inputs({{5, 6, 7, 8}}));
    ASSERT_TRUE(again.ok());
    int li = model->signature().decoder.logits;
    ASSERT_EQ(compareLogits(again.value()[size_t(li)].data<float>(), good.value()[size_t(li)].data<float>(),
                            good.value()[size_t(li)].numElements()).maxAbs, 0.0) << "run " << i;
  }
}

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

TEST(SessionErrors, NotADecoder) {
  auto m = compiled(small("matmul_add"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE(isError(Session::create(m.value()), "not a decoder"));
  EXPECT_TRUE(isError(Session::create(nullptr), "no model"));
}

TEST(SessionErrors, KvModeMustMatchTheCompiledModel) {
  CompileOptions concat;
  concat.kvMode = KVMode::Concat;
  auto inplace = compiled(gpt2()), graph = compiled(gpt2(), concat);
  ASSERT_TRUE(inplace.ok() && graph.ok());
  SessionOptions so;
  so.kvMode = "concat";
  EXPECT_TRUE(isError(Session::create(inplace.value(), so), "concat"));
  so.kvMode = "prealloc";
  EXPECT_TRUE(isError(Session::create(graph.value(), so), "in-place"));
  so.kvMode = "bmc";
  EXPECT_TRUE(isError(Session::create(graph.value(), so), "in-place"));
  so.kvMode = "paged";
  EXPECT_TRUE(isError(Session::create(inplace.value(), so), "paged"));
}

TEST(SessionErrors, UsedOutOfOrder) {
  auto m = compiled(gpt2());
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto s = Session::create(m.value());
  ASSERT_TRUE(s.ok());
  Session &ses = *s.value();
  EXPECT_TRUE(isError(ses.step({1}), "prefill"));
  EXPECT_TRUE(isError(ses.prefill({}), "prompt"));
  EXPECT_TRUE(isError(ses.prefill({{}}), "prompt"));
  EXPECT_TRUE(isError(ses.prefill({{1, 2, 3}, {1, 2}}), "equal length"));
  ASSERT_TRUE(ses.prefill({{1, 2, 3}, {4, 5, 6}}).ok());
  EXPECT_TRUE(isError(ses.step({1}), "expected 2 tokens"));
  EXPECT_TRUE(isError(ses.step({1, 2, 3}), "expected 2 tokens"));
  EXPECT_TRUE(ses.step({7, 8}).ok());
  EXPECT_EQ(ses.length(), 4);
}

TEST(SessionErrors, TokenIdsOutsideTheVocabulary) {
  auto m = compiled(gpt2());
  ASSERT_TRUE(m.ok()) << m.status().message();
  const int64_t V = m.value()->signature().decoder.vocab;
  auto s = Session::create(m.value());
  ASSERT_TRUE(s.ok());
  Session &ses = *s.value();
  EXPECT_TRUE(isError(ses.prefill({{1, V, 3}}), "outside the vocabulary"));
  EXPECT_TRUE(isError(ses.prefill({{-1, 2, 3}}), "outside the vocabulary"));
  ASSERT_TRUE(ses.prefill({{1, 2, 3}}).ok());
  Tensor before = ses.logits().clone();
  EXPECT_TRUE(isError(ses.step({V + 5}), "outside the vocabulary"));
  EXPECT_EQ(ses.length(), 3) << "a rejected step must not advance the session";
  EXPECT_EQ(compareLogits(ses.logits().data<float>(), before.data<float>(), V).maxAbs, 0.0);
  // Continuing gives what a session without the bad step gives.
  ASSERT_TRUE(ses.step({9}).ok());
  auto clean = Session::create(m.value());
  ASSERT_TRUE(clean.value()->prefill({{1, 2, 3}}).ok());
  ASSERT_TRUE(clean.value()->step({9}).ok());
  EXPECT_EQ(compareLogits(ses.logits().data<float>(), clean.value()->logits().data<float>(), V).maxAbs, 0.0);
  // generate() reports the error of its prefill.
  GenerateOptions go;
  EXPECT_TRUE(isError(ses.generate({{V}}, go), "outside the vocabulary"));
}

TEST(SessionErrors, PromptLongerThanTheContext) {
  auto m = compiled(gpt2Pos16());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->signature().decoder.maxPositions, 16);
  auto s = Session::create(m.value());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value()->maxContext(), 16);
  std::vector<int64_t> p17(17), p16(16);
  for (int i = 0; i < 17; ++i) p17[size_t(i)] = i + 1;
  for (int i = 0; i < 16; ++i) p16[size_t(i)] = i + 1;
  EXPECT_TRUE(isError(s.value()->prefill({p17}), "17"));
  ASSERT_TRUE(s.value()->prefill({p16}).ok());
  EXPECT_TRUE(isError(s.value()->step({1}), "maximum context"));
  EXPECT_EQ(s.value()->length(), 16);

  SessionOptions so;
  so.maxContext = 32; // more than the 16 learned positions
  EXPECT_TRUE(isError(Session::create(m.value(), so), "16"));
  so.maxContext = 8;
  auto s8 = Session::create(m.value(), so);
  ASSERT_TRUE(s8.ok()) << s8.status().message();
  EXPECT_TRUE(isError(s8.value()->prefill({std::vector<int64_t>(9, 1)}), "9"));
}

TEST(SessionErrors, ContextLimitInEveryKvMode) {
  CompileOptions concat;
  concat.kvMode = KVMode::Concat;
  for (std::string mode : {"bmc", "prealloc", "concat"}) {
    SCOPED_TRACE(mode);
    auto m = mode == "concat" ? compiled(gpt2Pos16(), concat) : compiled(gpt2Pos16());
    ASSERT_TRUE(m.ok()) << m.status().message();
    SessionOptions so;
    so.kvMode = mode;
    so.r = 3;
    auto s = Session::create(m.value(), so);
    ASSERT_TRUE(s.ok()) << s.status().message();
    // generate() stops at the context: 10 prompt tokens leave room for 7 new ones.
    GenerateOptions go;
    go.maxNewTokens = 50;
    auto out = s.value()->generate({{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, go);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out.value()[0].size(), 7u);
    EXPECT_EQ(s.value()->length(), 16);
    EXPECT_TRUE(isError(s.value()->step({1}), "maximum context"));
  }
}

TEST(SessionErrors, StopTokensEndGeneration) {
  auto m = compiled(gpt2());
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto s = Session::create(m.value());
  GenerateOptions go;
  go.maxNewTokens = 20;
  auto free = s.value()->generate({{11, 42, 7}}, go);
  ASSERT_TRUE(free.ok());
  const std::vector<int64_t> &all = free.value()[0];
  go.stopTokens = {all[4]};
  auto stopped = s.value()->generate({{11, 42, 7}}, go);
  ASSERT_TRUE(stopped.ok());
  auto first = std::find(all.begin(), all.end(), all[4]); // the stop token may come earlier too
  EXPECT_EQ(stopped.value()[0], std::vector<int64_t>(all.begin(), first + 1));
  // The callback can stop generation too.
  go.stopTokens.clear();
  int calls = 0;
  auto cut = s.value()->generate({{11, 42, 7}}, go, [&](int64_t, const std::vector<int64_t> &) { return ++calls < 3; });
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut.value()[0].size(), 3u);
}

TEST(SessionSampling, SeededGenerationIsReproducible) {
  auto m = compiled(gpt2());
  ASSERT_TRUE(m.ok()) << m.status().message();
  const int64_t V = m.value()->signature().decoder.vocab;
  auto run = [&](uint64_t seed) {
    auto s = Session::create(m.value());
    GenerateOptions go;
    go.maxNewTokens = 24;
    go.temperature = 0.9f;
    go.topK = 40;
    go.topP = 0.95f;
    go.seed = seed;
    auto out = s.value()->generate({{11, 42, 7}, {11, 42, 7}}, go);
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? out.value() : std::vector<std::vector<int64_t>>{};
  };
  auto a = run(7), b = run(7), c = run(8);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a[0], a[1]) << "rows draw different random numbers";
  for (const auto &row : a)
    for (int64_t t : row) EXPECT_TRUE(t >= 0 && t < V) << t;
}

TEST(SessionThreads, SessionsShareAModel) {
  auto m = compiled(gpt2());
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto greedy = [&](std::vector<int64_t> prompt) {
    auto s = Session::create(m.value());
    GenerateOptions go;
    go.maxNewTokens = 32;
    auto out = s.value()->generate({prompt}, go);
    return out.ok() ? out.value()[0] : std::vector<int64_t>{};
  };
  std::vector<std::vector<int64_t>> prompts = {{1, 2, 3}, {40, 50}, {7, 7, 7, 7}, {300}};
  std::vector<std::vector<int64_t>> alone, together(prompts.size());
  for (auto &p : prompts) alone.push_back(greedy(p));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) threads.emplace_back([&, i] { together[i] = greedy(prompts[i]); });
  for (auto &t : threads) t.join();
  EXPECT_EQ(together, alone);
  for (auto &a : alone) EXPECT_EQ(a.size(), 32u);
}

} // namespace
} // namespace bmc::e2e
