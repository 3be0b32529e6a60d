//===- OnnxTestData.cpp - TensorProto files and model scans ----------------===//

#include "tests/conformance/OnnxTestData.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace bmc::conformance {

static const char *onnxTypeName(int32_t t) {
  switch (t) {
  case 0: return "UNDEFINED"; case 1: return "FLOAT"; case 2: return "UINT8"; case 3: return "INT8";
  case 4: return "UINT16"; case 5: return "INT16"; case 6: return "INT32"; case 7: return "INT64";
  case 8: return "STRING"; case 9: return "BOOL"; case 10: return "FLOAT16"; case 11: return "DOUBLE";
  case 12: return "UINT32"; case 13: return "UINT64"; case 14: return "COMPLEX64";
  case 15: return "COMPLEX128"; case 16: return "BFLOAT16";
  default: return "a newer ONNX type";
  }
}

/// Element types bmc::Tensor (and bmc) can hold: DType is numbered as ONNX.
static bool supportedType(int32_t t) {
  return (t >= 1 && t <= 7) || (t >= 9 && t <= 13) || t == 16;
}

static bool readFile(const std::string &path, std::string &bytes, std::string &error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = path + ": cannot open";
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  bytes = ss.str();
  return true;
}

/// Copies the typed (non-raw) field of `t` into `dst`, element by element.
template <typename Dst, typename Src>
static bool copyTyped(const Src &src, Dst *dst, int64_t n, const std::string &where, std::string &error) {
  if (int64_t(src.size()) != n) {
    error = where + ": expected " + std::to_string(n) + " elements, found " + std::to_string(src.size());
    return false;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = Dst(src[int(i)]);
  return true;
}

bool readTensorFile(const std::string &path, Tensor &out, std::string &error, bool &unsupportedDtype) {
  unsupportedDtype = false;
  try {
    std::string bytes;
    if (!readFile(path, bytes, error)) return false;
    onnx::TensorProto t;
    if (!t.ParseFromString(bytes)) {
      error = path + ": expected a serialized TensorProto, found bytes that do not parse";
      return false;
    }
    if (!supportedType(t.data_type())) {
      unsupportedDtype = true;
      error = path + ": unsupported dtype " + onnxTypeName(t.data_type());
      return false;
    }
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      error = path + ": expected inline data, found external data";
      return false;
    }
    std::vector<int64_t> shape(t.dims().begin(), t.dims().end());
    DType dt = DType(t.data_type());
    Tensor r(dt, shape);
    int64_t n = r.numElements();
    size_t want = r.bytes();
    if (t.has_raw_data()) {
      if (t.raw_data().size() != want) {
        error = path + ": expected " + std::to_string(want) + " bytes of raw data, found " +
                std::to_string(t.raw_data().size());
        return false;
      }
      if (want) std::memcpy(r.raw(), t.raw_data().data(), want);
      out = r;
      return true;
    }
    bool ok = true;
    switch (dt) {
    case DType::F32: ok = copyTyped(t.float_data(), r.data<float>(), n, path, error); break;
    case DType::F64: ok = copyTyped(t.double_data(), r.data<double>(), n, path, error); break;
    case DType::I64: ok = copyTyped(t.int64_data(), r.data<int64_t>(), n, path, error); break;
    case DType::U32: ok = copyTyped(t.uint64_data(), r.data<uint32_t>(), n, path, error); break;
    case DType::U64: ok = copyTyped(t.uint64_data(), r.data<uint64_t>(), n, path, error); break;
    case DType::I32: ok = copyTyped(t.int32_data(), r.data<int32_t>(), n, path, error); break;
    case DType::I16: ok = copyTyped(t.int32_data(), r.data<int16_t>(), n, path, error); break;
    case DType::U16: ok = copyTyped(t.int32_data(), r.data<uint16_t>(), n, path, error); break;
    case DType::I8: ok = copyTyped(t.int32_data(), r.data<int8_t>(), n, path, error); break;
    case DType::U8: ok = copyTyped(t.int32_data(), r.data<uint8_t>(), n, path, error); break;
    case DType::Bool: ok = copyTyped(t.int32_data(), r.data<uint8_t>(), n, path, error); break;
    // int32_data holds the 16-bit patterns of FLOAT16 and BFLOAT16.
    case DType::F16: case DType::BF16: ok = copyTyped(t.int32_data(), r.data<uint16_t>(), n, path, error); break;
    }
    if (!ok) return false;
    out = r;
    return true;
  } catch (const std::exception &e) {
    error = path + ": " + e.what();
    return false;
  }
}

namespace {
/// Finds the first non-goal feature of a graph.
struct Scanner {
  std::string reason;
  std::vector<std::string> evidence;

  void note(const std::string &r, std::vector<std::string> words) {
    if (!reason.empty()) return;
    reason = r;
    evidence = std::move(words);
  }
  void sequences() { note("sequence/optional/map types", {"sequence", "optional", "map", "sparse"}); }
  void dtype(int32_t t) { note(std::string("unsupported dtype ") + onnxTypeName(t), {onnxTypeName(t)}); }
  void type(const onnx::TypeProto &t) {
    if (t.has_sequence_type() || t.has_optional_type() || t.has_map_type() || t.has_sparse_tensor_type())
      sequences();
    else if (t.has_tensor_type() && !supportedType(t.tensor_type().elem_type()))
      dtype(t.tensor_type().elem_type());
  }
  void tensor(const onnx::TensorProto &t) {
    if (!supportedType(t.data_type())) dtype(t.data_type());
  }
  void graph(const onnx::GraphProto &g) {
    for (const auto &v : g.input()) type(v.type());
    for (const auto &v : g.output()) type(v.type());
    for (const auto &v : g.value_info()) type(v.type());
    for (const auto &t : g.initializer()) tensor(t);
    if (g.sparse_initializer_size()) sequences();
    for (const auto &n : g.node()) {
      // Training graphs import only that domain (bmc finds no default-domain opset).
      if (n.domain() == "ai.onnx.preview.training")
        note("training op '" + n.op_type() + "' (domain ai.onnx.preview.training)",
             {"ai.onnx.preview.training", "opset_import for the default ONNX domain"});
      // Dropout that may drop (a training_mode input): bmc compiles inference.
      if (n.op_type() == "Dropout" && n.input_size() > 2 && !n.input(2).empty())
        note("training-mode op 'Dropout'", {"training_mode"});
      for (const auto &a : n.attribute()) {
        if (a.has_t()) tensor(a.t());
        if (a.has_g()) graph(a.g());
        for (const auto &sg : a.graphs()) graph(sg);
        if (a.type() == onnx::AttributeProto::STRING && (n.op_type() == "Constant")) dtype(8);
        if (a.has_sparse_tensor()) sequences();
        // Cast's target type (the input side is covered by value types).
        if (a.name() == "to" && a.type() == onnx::AttributeProto::INT && !supportedType(int32_t(a.i())))
          dtype(int32_t(a.i()));
      }
    }
  }
};
} // namespace

/// Operands that bmc's importer requires to be compile-time constants, as
/// real exports have them (initializers or Constant nodes): they decide the
/// result's rank or which dimensions change. The backend tests feed them as
/// graph inputs; onnx-mlir's backend tests freeze the same inputs into
/// initializers, and so do we, keeping every other input a run-time value.
struct ConstantOperand {
  const char *opType;
  int index;
  int sinceOpset; // the operand exists from this opset on
};
const ConstantOperand kConstantOperands[] = {
    {"ReduceSum", 1, 13},  {"ReduceMean", 1, 18}, {"ReduceMax", 1, 18}, {"ReduceMin", 1, 18},
    {"ReduceProd", 1, 18}, {"Squeeze", 1, 13},    {"Unsqueeze", 1, 13}, {"Split", 1, 13},
    {"Slice", 3, 10},      {"CumSum", 1, 11},
    // Weight-only quantization (QDQ): the codes, scales and zero points are
    // initializers in quantized exports; bmc refuses a run-time DequantizeLinear.
    {"DequantizeLinear", 0, 10}, {"DequantizeLinear", 1, 10}, {"DequantizeLinear", 2, 10},
};

static void findConstantInputs(const onnx::ModelProto &m, ModelScan &s) {
  int64_t opset = 0;
  for (const auto &o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  std::vector<std::string> inputs; // graph inputs that are not initializers, in order
  for (const auto &v : m.graph().input()) {
    bool init = false;
    for (const auto &t : m.graph().initializer()) init |= t.name() == v.name();
    if (!init) inputs.push_back(v.name());
  }
  for (const auto &n : m.graph().node())
    for (const ConstantOperand &c : kConstantOperands) {
      if (n.op_type() != c.opType || opset < c.sinceOpset || n.input_size() <= c.index) continue;
      auto it = std::find(inputs.begin(), inputs.end(), n.input(c.index));
      int k = int(it - inputs.begin());
      if (it != inputs.end() && std::find(s.constantInputs.begin(), s.constantInputs.end(), k) == s.constantInputs.end()) {
        s.constantInputs.push_back(k);
        s.constantInputNames.push_back(*it);
      }
    }
}

bool writeEditedModel(const std::string &modelPath, const ModelScan &scan, const std::vector<Tensor> &inputs,
                      const std::vector<std::string> &shapeFromData, const std::string &outPath,
                      std::string &error) {
  try {
    std::string bytes;
    if (!readFile(modelPath, bytes, error)) return false;
    onnx::ModelProto m;
    if (!m.ParseFromString(bytes)) {
      error = modelPath + ": expected a serialized ModelProto, found bytes that do not parse";
      return false;
    }
    onnx::GraphProto *g = m.mutable_graph();
    for (size_t j = 0; j < scan.constantInputs.size(); ++j) {
      size_t k = size_t(scan.constantInputs[j]);
      if (k >= inputs.size()) {
        error = "expected a value for input '" + scan.constantInputNames[j] + "' in the data set, found none";
        return false;
      }
      const Tensor &t = inputs[k];
      onnx::TensorProto *init = g->add_initializer();
      init->set_name(scan.constantInputNames[j]);
      init->set_data_type(int32_t(t.dtype()));
      for (int64_t d : t.shape()) init->add_dims(d);
      init->set_raw_data(std::string(static_cast<const char *>(t.raw()), t.bytes()));
    }
    // Drop the frozen names from the graph inputs (IR 4+: initializers need not be inputs).
    auto *ins = g->mutable_input();
    for (int i = ins->size() - 1; i >= 0; --i)
      if (std::find(scan.constantInputNames.begin(), scan.constantInputNames.end(), ins->Get(i).name()) !=
          scan.constantInputNames.end())
        ins->DeleteSubrange(i, 1);
    // Declared shapes that the test data contradicts (see bmc_conformance's kDataRules).
    int k = 0;
    for (int i = 0; i < ins->size(); ++i) {
      onnx::ValueInfoProto *v = ins->Mutable(i);
      bool init = false;
      for (const auto &t : g->initializer()) init |= t.name() == v->name();
      if (init) continue;
      // Inputs are numbered as in the data set, frozen ones included.
      while (std::find(scan.constantInputs.begin(), scan.constantInputs.end(), k) != scan.constantInputs.end()) ++k;
      if (std::find(shapeFromData.begin(), shapeFromData.end(), v->name()) != shapeFromData.end() &&
          size_t(k) < inputs.size() && v->type().has_tensor_type()) {
        auto *shape = v->mutable_type()->mutable_tensor_type()->mutable_shape();
        shape->clear_dim();
        for (int64_t d : inputs[size_t(k)].shape()) shape->add_dim()->set_dim_value(d);
      }
      ++k;
    }
    if (m.ir_version() < 4) m.set_ir_version(4);
    std::ofstream f(outPath, std::ios::binary | std::ios::trunc);
    if (!f || !m.SerializeToOstream(&f)) {
      error = outPath + ": cannot write the model with constant inputs";
      return false;
    }
    return true;
  } catch (const std::exception &e) {
    error = modelPath + ": " + e.what();
    return false;
  }
}

ModelScan scanModel(const std::string &path) {
  ModelScan s;
  try {
    std::string bytes;
    if (!readFile(path, bytes, s.error)) return s;
    onnx::ModelProto m;
    if (!m.ParseFromString(bytes)) {
      s.error = path + ": expected a serialized ModelProto, found bytes that do not parse";
      return s;
    }
    Scanner sc;
    sc.graph(m.graph());
    s.nonGoal = sc.reason;
    s.nonGoalEvidence = sc.evidence;
    std::vector<std::string> inits;
    for (const auto &t : m.graph().initializer()) inits.push_back(t.name());
    for (const auto &v : m.graph().input())
      if (std::find(inits.begin(), inits.end(), v.name()) == inits.end()) ++s.numInputs;
    s.numOutputs = m.graph().output_size();
    findConstantInputs(m, s);
    s.ok = true;
  } catch (const std::exception &e) {
    s.error = path + ": " + e.what();
  }
  return s;
}

} // namespace bmc::conformance
