//===- OnnxTestData.cpp - TensorProto files and model scans ----------------===//

#include "tests/conformance/OnnxTestData.h"

#include <onnx/onnx_pb.h>

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

  void note(const std::string &r) {
    if (reason.empty()) reason = r;
  }
  void type(const onnx::TypeProto &t) {
    if (t.has_sequence_type() || t.has_optional_type() || t.has_map_type() || t.has_sparse_tensor_type())
      note("sequence/optional/map types");
    else if (t.has_tensor_type() && !supportedType(t.tensor_type().elem_type()))
      note(std::string("unsupported dtype ") + onnxTypeName(t.tensor_type().elem_type()));
  }
  void tensor(const onnx::TensorProto &t) {
    if (!supportedType(t.data_type())) note(std::string("unsupported dtype ") + onnxTypeName(t.data_type()));
  }
  void graph(const onnx::GraphProto &g) {
    for (const auto &v : g.input()) type(v.type());
    for (const auto &v : g.output()) type(v.type());
    for (const auto &v : g.value_info()) type(v.type());
    for (const auto &t : g.initializer()) tensor(t);
    if (g.sparse_initializer_size()) note("sequence/optional/map types");
    for (const auto &n : g.node()) {
      if (n.domain() == "ai.onnx.preview.training")
        note("training op '" + n.op_type() + "' (domain ai.onnx.preview.training)");
      for (const auto &a : n.attribute()) {
        if (a.has_t()) tensor(a.t());
        if (a.has_g()) graph(a.g());
        for (const auto &sg : a.graphs()) graph(sg);
        if (a.type() == onnx::AttributeProto::STRING && (n.op_type() == "Constant"))
          note("unsupported dtype STRING");
        if (a.has_sparse_tensor()) note("sequence/optional/map types");
        // Cast's target type (the input side is covered by value types).
        if (a.name() == "to" && a.type() == onnx::AttributeProto::INT && !supportedType(int32_t(a.i())))
          note(std::string("unsupported dtype ") + onnxTypeName(int32_t(a.i())));
      }
    }
  }
};
} // namespace

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
    std::vector<std::string> inits;
    for (const auto &t : m.graph().initializer()) inits.push_back(t.name());
    for (const auto &v : m.graph().input())
      if (std::find(inits.begin(), inits.end(), v.name()) == inits.end()) ++s.numInputs;
    s.numOutputs = m.graph().output_size();
    s.ok = true;
  } catch (const std::exception &e) {
    s.error = path + ": " + e.what();
  }
  return s;
}

} // namespace bmc::conformance
