//===- Quant.cpp - import DequantizeLinear (QDQ weight quantization) -------===//
//
// Weight-only quantized graphs in the QDQ form: DequantizeLinear(x, x_scale
// [, x_zero_point]) of a constant, feeding a MatMul. onnxruntime's weight-only
// quantizer writes this with quant_format=QDQ (matmul_nbits_quantizer: INT4
// or UINT4 codes [K, N], scales [ceil(K / block_size), N], axis 0, opset 21),
// and its static/dynamic quantizers with per_channel write INT8 / UINT8 [K, N]
// with per-column scales (axis 1). y = (x - x_zero_point) * x_scale, with the
// scale (and zero point) per tensor, per slice of `axis`, or per block of
// `block_size` elements along `axis` (opset 21).
//
// Where every consumer of y is a MatMul reading it as B and the form fits
// bmc's int4 / int8 layouts (one scale per 32 rows of K and column: per
// tensor, per column, or blocks of K whose size is a multiple of 32; 8-bit
// zero point 0 for INT8 / 128 for UINT8), the codes are repacked as they are,
// not requantized, and the matmul streams them (QuantPack.h), as for
// MatMulNBits. Any other DequantizeLinear of a constant (an embedding table
// read by Gather, per-row scales, other zero points) is computed here once,
// by the definition, into an fp32 weight: the same values, fp32 bytes.
// DequantizeLinear of a value computed at run time (activation QDQ, as static
// quantization writes it around every op) is refused.
//
//===----------------------------------------------------------------------===//

#include "frontend/ImportContext.h"
#include "frontend/ops/QuantPack.h"

#include <cstring>

using namespace mlir;

namespace bmc {

const uint8_t *constantBytes(NodeImporter &n, int i, size_t &bytes) {
  Value v = n.in(i);
  if (const Weight *w = n.graph.weightOf(v)) {
    bytes = w->bytes;
    return w->data;
  }
  if (auto c = v.getDefiningOp<arith::ConstantOp>())
    if (auto d = dyn_cast<DenseElementsAttr>(c.getValue())) {
      // A splat stores one element; the callers index every element.
      if (d.isSplat()) return nullptr;
      bytes = d.getRawData().size();
      return reinterpret_cast<const uint8_t *>(d.getRawData().data());
    }
  return nullptr;
}

namespace {

/// The quantized element types DequantizeLinear reads here.
struct CodeType {
  int bits = 0;        // 4 or 8
  bool isSigned = false;
  const char *name = "";
};

std::optional<CodeType> codeType(Type t) {
  auto it = dyn_cast<IntegerType>(t);
  if (!it) return std::nullopt;
  if (it.getWidth() == 8) return CodeType{8, !it.isUnsigned(), it.isUnsigned() ? "UINT8" : "INT8"};
  if (it.getWidth() == 4) return CodeType{4, !it.isUnsigned(), it.isUnsigned() ? "UINT4" : "INT4"};
  return std::nullopt;
}

/// Element i of a packed code tensor, as a signed integer value.
int codeAt(const uint8_t *p, const CodeType &t, int64_t i) {
  if (t.bits == 8) return t.isSigned ? int(int8_t(p[i])) : int(p[i]);
  const int nib = (p[i / 2] >> (i % 2 ? 4 : 0)) & 15; // low nibble first
  return t.isSigned ? (nib ^ 8) - 8 : nib;
}

LogicalResult dequantizeLinear(NodeImporter &n) {
  const bool blocked = n.opset >= 21, outType = n.opset >= 23;
  if (failed(n.expectInputs(2, 3)) || failed(n.expectOutputs(1, 1)))
    return failure();
  if (failed(outType ? n.onlyAttrs({"axis", "block_size", "output_dtype"})
                     : blocked ? n.onlyAttrs({"axis", "block_size"}) : n.onlyAttrs({"axis"})))
    return failure();
  auto axisAttr = n.attrInt("axis", 1), blockAttr = n.attrInt("block_size", 0);
  auto outDtype = n.attrInt("output_dtype", 0);
  if (failed(axisAttr) || failed(blockAttr) || failed(outDtype)) return failure();
  if (*outDtype != 0 && *outDtype != 1)
    return n.error("attribute 'output_dtype': expected 0 or 1 (FLOAT; bmc computes in fp32), found " +
                   std::to_string(*outDtype));
  auto xt = n.type(0), st = n.type(1);
  auto ct = codeType(xt.getElementType());
  if (!ct)
    return n.error("input 0 (x): expected INT8, UINT8, INT4 or UINT4 codes (weight-only quantization), found " +
                   llvm::formatv("{0}", xt.getElementType()).str());
  if (!xt.hasStaticShape()) return n.error("input 0 (x): expected a static shape");
  size_t xBytes = 0, sBytes = 0, zBytes = 0;
  const uint8_t *X = constantBytes(n, 0, xBytes);
  if (!X)
    return n.error("input 0 (x): expected a constant (weight-only quantization); DequantizeLinear of a value "
                   "computed at run time (activation QDQ) is not supported");
  const int64_t count = xt.getNumElements();
  if (xBytes != size_t(ct->bits == 8 ? count : (count + 1) / 2))
    return n.error("input 0 (x): expected " + std::to_string(ct->bits == 8 ? count : (count + 1) / 2) +
                   " bytes of codes, found " + std::to_string(xBytes));
  const uint8_t *S = constantBytes(n, 1, sBytes);
  if (!st.getElementType().isF32())
    return n.error("input 1 (x_scale): expected float32 scales, found " +
                   llvm::formatv("{0}", st.getElementType()).str());
  float splatScale = 0;
  if (!S) { // a splat constant: one scale
    auto c = n.in(1).getDefiningOp<arith::ConstantOp>();
    auto d = c ? dyn_cast<DenseElementsAttr>(c.getValue()) : DenseElementsAttr();
    if (!d || !d.isSplat()) return n.error("input 1 (x_scale): expected a constant");
    splatScale = d.getSplatValue<float>();
  } else if (sBytes != size_t(4 * st.getNumElements())) {
    return n.error("input 1 (x_scale): malformed constant");
  }
  const int64_t rank = xt.getRank();
  // Which scale element serves element i of x: per tensor, per axis, or blocked.
  enum class Gran { Tensor, Axis, Block } gran;
  int64_t axis = 0, bs = *blockAttr;
  if (st.getRank() == 0 || (st.getRank() == 1 && st.getDimSize(0) == 1 && bs == 0)) {
    gran = Gran::Tensor;
  } else {
    auto a = n.normAxis(*axisAttr, rank, "attribute 'axis'");
    if (failed(a)) return failure();
    axis = *a;
    if (bs == 0) {
      if (st.getRank() != 1 || st.getDimSize(0) != xt.getDimSize(axis))
        return n.error("input 1 (x_scale): expected a scalar or " + std::to_string(xt.getDimSize(axis)) +
                       " scales (per slice of axis " + std::to_string(axis) + "), found shape " +
                       llvm::formatv("{0:$[x]}", llvm::make_range(st.getShape().begin(), st.getShape().end())).str());
      gran = Gran::Axis;
    } else {
      if (bs < 1) return n.error("attribute 'block_size': expected >= 1, found " + std::to_string(bs));
      bool ok = st.getRank() == rank;
      for (int64_t d = 0; ok && d < rank; ++d)
        ok = st.getDimSize(d) == (d == axis ? (xt.getDimSize(d) + bs - 1) / bs : xt.getDimSize(d));
      if (!ok)
        return n.error("input 1 (x_scale): expected the shape of x with axis " + std::to_string(axis) +
                       " divided into blocks of " + std::to_string(bs));
      gran = Gran::Block;
    }
  }
  // The zero point has x's type (checked), so x's CodeType reads it too.
  const bool hasZero = n.has(2);
  const uint8_t *Z = nullptr;
  int splatZero = 0;
  if (hasZero) {
    auto zType = codeType(n.type(2).getElementType());
    if (!zType || zType->bits != ct->bits || zType->isSigned != ct->isSigned)
      return n.error(std::string("input 2 (x_zero_point): expected the type of x (") + ct->name + ")");
    if (n.type(2).getShape() != st.getShape())
      return n.error("input 2 (x_zero_point): expected the shape of x_scale");
    Z = constantBytes(n, 2, zBytes);
    if (!Z) { // a splat constant: one zero point
      auto c = n.in(2).getDefiningOp<arith::ConstantOp>();
      auto d = c ? dyn_cast<DenseElementsAttr>(c.getValue()) : DenseElementsAttr();
      if (!d || !d.isSplat()) return n.error("input 2 (x_zero_point): expected a constant");
      APInt v = d.getSplatValue<APInt>();
      splatZero = int(ct->isSigned ? v.getSExtValue() : int64_t(v.getZExtValue()));
    }
  }
  // Scale / zero point index of element i (row-major over x's shape).
  SmallVector<int64_t> strides(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d) strides[d] = strides[d + 1] * xt.getDimSize(d + 1);
  auto paramIndex = [&](int64_t i) -> int64_t {
    if (gran == Gran::Tensor) return 0;
    const int64_t coord = (i / strides[axis]) % xt.getDimSize(axis);
    if (gran == Gran::Axis) return coord;
    const int64_t inner = strides[axis], outer = i / (strides[axis] * xt.getDimSize(axis));
    const int64_t nbAxis = (xt.getDimSize(axis) + bs - 1) / bs;
    return (outer * nbAxis + coord / bs) * inner + i % inner;
  };
  auto scaleAt = [&](int64_t j) {
    if (!S) return splatScale;
    float s;
    std::memcpy(&s, S + 4 * j, 4);
    return s;
  };
  auto zeroAt = [&](int64_t j) -> int { return !hasZero ? 0 : Z ? codeAt(Z, *ct, j) : splatZero; };

  // Every consumer a MatMul reading y as B (input 1), and y no graph output?
  const std::string &y = n.node.output(0);
  const auto &g = n.graph.model.proto->graph();
  bool onlyMatMulB = true, used = false;
  for (const auto &node : g.node())
    for (int k = 0; k < node.input_size(); ++k)
      if (node.input(k) == y) {
        used = true;
        onlyMatMulB &= node.op_type() == "MatMul" && (node.domain().empty() || node.domain() == "ai.onnx") && k == 1;
      }
  for (const auto &o : g.output()) onlyMatMulB &= o.name() != y;
  // Fits bmc's layouts: one scale per 32 rows of K (axis 0) and column.
  bool fits = used && onlyMatMulB && rank == 2 &&
              (gran == Gran::Tensor || (gran == Gran::Axis && axis == 1) ||
               (gran == Gran::Block && axis == 0 && bs % 32 == 0));
  const int64_t K = rank == 2 ? xt.getDimSize(0) : 0, N = rank == 2 ? xt.getDimSize(1) : 0;
  if (fits && ct->bits == 8) // bmc's int8 layout is symmetric: zero point 0 (INT8) / 128 (UINT8) everywhere
    for (int64_t j = 0, e = gran == Gran::Tensor ? 1 : st.getNumElements(); fits && j < e; ++j)
      fits = zeroAt(j) == (ct->isSigned ? 0 : 128);
  if (fits && K > 0 && N > 0) {
    // Unsigned codes: INT4 q in [-8, 7] becomes q + 8 with zero point z + 8; INT8 q becomes q + 128.
    const int offset = ct->isSigned ? 1 << (ct->bits - 1) : 0;
    auto param = [&](int64_t kb, int64_t col) { return paramIndex(std::min(kb * 32, K - 1) * N + col); };
    auto weight = importQuantizedMatrix(
        n, n.node.input(0), ct->bits, K, N,
        [&](int64_t row, int64_t col) { return codeAt(X, *ct, row * N + col) + offset; },
        [&](int64_t kb, int64_t col) { return scaleAt(param(kb, col)); },
        [&](int64_t kb, int64_t col) { return zeroAt(param(kb, col)) + offset; });
    return n.setOutput(weight);
  }
  // Otherwise: the values themselves, once, in fp32.
  auto buf = std::make_shared<std::vector<float>>(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = paramIndex(i);
    (*buf)[size_t(i)] = float(codeAt(X, *ct, i) - zeroAt(j)) * scaleAt(j);
  }
  Weight w;
  w.name = n.node.input(0) + ".bmc_dequantized";
  w.dtype = 1;
  w.dims.assign(xt.getShape().begin(), xt.getShape().end());
  w.data = reinterpret_cast<const uint8_t *>(buf->data());
  w.bytes = buf->size() * sizeof(float);
  w.keepAlive = buf;
  std::string why;
  auto v = n.graph.importTensor(std::move(w), n.loc, why);
  if (failed(v)) return n.error(why);
  return n.setOutput(*v);
}

} // namespace

void registerQuantOps(OpTable &t) { t["DequantizeLinear"] = dequantizeLinear; }

} // namespace bmc
