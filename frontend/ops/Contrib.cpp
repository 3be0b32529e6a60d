//===- Contrib.cpp - import com.microsoft contrib ops ----------------------===//
//
// onnxruntime's contrib operators (docs/ContribOperators.md of onnxruntime),
// as onnxruntime-genai's model builder and onnxruntime's quantizers write
// them: MatMulNBits, weight-only block-quantized matmul, and the norms of
// onnxruntime-genai's model builder (SimplifiedLayerNormalization, in the
// default domain as onnxruntime registers it, SkipSimplifiedLayerNormalization,
// SkipLayerNormalization), mapped onto bmc.rms_norm / bmc.layer_norm. The
// attention ops are in ContribAttention.cpp.
//
// MatMulNBits(A, B, scales [, zero_points, g_idx, bias]) with attributes K,
// N, bits, block_size, accuracy_level: B is uint8 [N, ceil(K / block_size),
// block_size * bits / 8] (codes of column n, k-th row at byte k * bits / 8 of
// its block, 4-bit codes low nibble first), scales [N * blocks], zero points
// (uint8, 4-bit ones two per byte) default to 2^(bits - 1); the weight is
// w[k][n] = (code - zero) * scale. The codes are repacked, not requantized,
// into bmc's int4 / int8 layouts (bmc/abi/kernels.h: 32 rows of K
// per scale), so a block_size that is a multiple of 32 maps exactly: each
// 32-row sub-block carries its block's scale and zero point. The matmul then
// reads the packed codes (bmc_matmul_q4_f32 / _q8_f32) with fp32 arithmetic:
// accuracy_level (onnxruntime's licence to quantize A) is accepted and
// ignored, i.e. bmc computes what accuracy_level 0 specifies, unless the
// compilation asks for int8 activations (CompileOptions::activations; then
// the codes are rewritten into the dot layouts and A is quantized per 32).
//
//===----------------------------------------------------------------------===//

#include "frontend/ImportContext.h"
#include "frontend/ops/QuantPack.h"
#include "bmc/abi/kernels.h"

#include <cstring>

using namespace mlir;

namespace bmc {

namespace {

LogicalResult matMulNBits(NodeImporter &n) {
  if (failed(n.expectInputs(3, 6)) || failed(n.onlyAttrs({"K", "N", "bits", "block_size", "accuracy_level"})))
    return failure();
  auto K = n.attrInt("K", std::nullopt), N = n.attrInt("N", std::nullopt);
  auto bits = n.attrInt("bits", 4), block = n.attrInt("block_size", std::nullopt);
  auto acc = n.attrInt("accuracy_level", 0);
  if (failed(K) || failed(N) || failed(bits) || failed(block) || failed(acc)) return failure();
  if (*K <= 0 || *N <= 0 || *K > (int64_t(1) << 24) || *N > (int64_t(1) << 24))
    return n.error("attributes 'K' and 'N': expected sizes in [1, 16777216], found K = " + std::to_string(*K) +
                   ", N = " + std::to_string(*N));
  if (*bits != 4 && *bits != 8)
    return n.error("attribute 'bits': expected 4 or 8 (bmc's int4 / int8 formats), found " + std::to_string(*bits));
  if (*block < 32 || *block % BMC_Q8_BLOCK != 0 || (*block & (*block - 1)) != 0)
    return n.error("attribute 'block_size': expected a power of two >= 32 (bmc's formats hold one scale per 32 rows "
                   "of K), found " + std::to_string(*block));
  if (n.has(4)) return n.error("input 4 (g_idx): act-order quantization with a row permutation is not supported");
  const int64_t k = *K, nn = *N, bs = *block, nb = (k + bs - 1) / bs, blob = bs * *bits / 8;
  auto at = n.type(0);
  if (!at.getElementType().isF32() || at.getRank() < 1 || (!at.isDynamicDim(at.getRank() - 1) &&
                                                           at.getDimSize(at.getRank() - 1) != k))
    return n.error("input 0 (A): expected a float tensor whose last dimension is K = " + std::to_string(k));
  // B, scales and zero points are constants of the exact sizes.
  size_t bBytes = 0, sBytes = 0, zBytes = 0;
  const uint8_t *B = constantBytes(n, 1, bBytes), *S = constantBytes(n, 2, sBytes);
  auto bt = n.type(1), st = n.type(2);
  if (!B || !bt.getElementType().isUnsignedInteger(8) || bt.getNumElements() != nn * nb * blob ||
      bBytes != size_t(nn * nb * blob))
    return n.error("input 1 (B): expected a constant uint8 tensor [N, ceil(K / block_size), block_size * bits / 8] = [" +
                   std::to_string(nn) + ", " + std::to_string(nb) + ", " + std::to_string(blob) + "]");
  if (!S || !st.getElementType().isF32() || st.getNumElements() != nn * nb || sBytes != size_t(4 * nn * nb))
    return n.error("input 2 (scales): expected a constant float tensor of N * ceil(K / block_size) = " +
                   std::to_string(nn * nb) + " elements");
  const uint8_t *Z = nullptr;
  const int64_t zPerCol = *bits == 4 ? (nb + 1) / 2 : nb;
  if (n.has(3)) {
    auto zt = n.type(3);
    Z = constantBytes(n, 3, zBytes);
    if (!Z || !zt.getElementType().isUnsignedInteger(8) || zBytes != size_t(nn * zPerCol))
      return n.error("input 3 (zero_points): expected a constant uint8 tensor of " + std::to_string(nn * zPerCol) +
                     " bytes (float zero points are not supported)");
  }
  auto zero = [&](int64_t col, int64_t b) -> int {
    if (!Z) return *bits == 4 ? 8 : 128;
    if (*bits == 8) return Z[col * zPerCol + b];
    uint8_t byte = Z[col * zPerCol + b / 2];
    return b % 2 ? byte >> 4 : byte & 15;
  };
  auto code = [&](int64_t row, int64_t col) -> int {
    const uint8_t *p = B + (col * nb + row / bs) * blob;
    if (*bits == 8) return p[row % bs];
    uint8_t byte = p[(row % bs) / 2];
    return row % 2 ? byte >> 4 : byte & 15;
  };
  auto scaleOf = [&](int64_t kb, int64_t col) {
    float scale;
    std::memcpy(&scale, S + 4 * (col * nb + kb * 32 / bs), 4);
    return scale;
  };
  if (*bits == 8)
    for (int64_t col = 0; col < nn; ++col)
      for (int64_t b = 0; b < nb; ++b)
        if (int z = zero(col, b); z != 128)
          return n.error("input 3 (zero_points): 8-bit zero points other than 128 are not supported (column " +
                         std::to_string(col) + " has " + std::to_string(z) + ")");
  auto weight = importQuantizedMatrix(
      n, n.node.input(1), int(*bits), k, nn, code, scaleOf, [&](int64_t kb, int64_t col) { return zero(col, kb * 32 / bs); });
  if (failed(weight)) return failure();
  auto mm = n.make<mlir::bmc::MatMulOp>({n.in(0), *weight});
  if (failed(mm) || !n.has(5)) return n.setOutput(mm);
  return n.setOutput(n.make<mlir::bmc::AddOp>({*mm, n.in(5)}));
}

/// Fails unless output `i` (a training statistic bmc does not compute) is unused.
LogicalResult unusedOutput(NodeImporter &n, int i, const char *name) {
  if (i < n.node.output_size() && !n.node.output(i).empty())
    return n.error(std::string("output ") + std::to_string(i) + " (" + name +
                   "): expected it unused (bmc does not compute training statistics), found '" + n.node.output(i) +
                   "'");
  return success();
}

/// Normalises over the last axis: rms_norm(x, gamma) or layer_norm(x, gamma, beta).
FailureOr<Value> lastAxisNorm(NodeImporter &n, Value x, Value gamma, Value beta, bool simplified, float eps) {
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  if (rank < 1) return n.report("input 0: expected rank >= 1, found a scalar"), failure();
  if (simplified)
    return n.make<mlir::bmc::RMSNormOp>({x, gamma}, {n.named("epsilon", n.b.getF32FloatAttr(eps))});
  SmallVector<Value> ops{x, gamma};
  if (beta) ops.push_back(beta);
  return n.make<mlir::bmc::LayerNormOp>(
      ops, {n.named("axis", n.b.getI64IntegerAttr(rank - 1)), n.named("epsilon", n.b.getF32FloatAttr(eps))});
}

/// SimplifiedLayerNormalization(X, scale): X / sqrt(mean(X^2) + epsilon) * scale
/// over the axes from `axis` on; bmc supports the last axis (what the builder writes).
LogicalResult simplifiedLayerNorm(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.expectOutputs(1, 2)) ||
      failed(n.onlyAttrs({"axis", "epsilon", "stash_type"})) || failed(unusedOutput(n, 1, "inv_std_var")))
    return failure();
  auto axis = n.attrInt("axis", -1), stash = n.attrInt("stash_type", 1);
  auto eps = n.attrFloat("epsilon", 1e-5f);
  if (failed(axis) || failed(eps) || failed(stash)) return failure();
  int64_t rank = n.type(0).getRank();
  auto a = n.normAxis(*axis, rank, "attribute 'axis'");
  if (failed(a)) return failure();
  if (*a != rank - 1)
    return n.error("attribute 'axis': expected the last axis (" + std::to_string(rank - 1) + " or -1), found " +
                   std::to_string(*axis));
  if (*stash != 1) return n.error("attribute 'stash_type': expected 1 (float), found " + std::to_string(*stash));
  if (!n.type(0).getElementType().isF32()) return n.error("input 0 (X): expected float32");
  return n.setOutput(lastAxisNorm(n, n.in(0), n.in(1), Value(), true, *eps));
}

/// Skip[Simplified]LayerNormalization(input, skip, gamma[, beta], [bias]):
/// s = input + skip (+ bias); output = norm(s); output 3 (input_skip_bias_sum)
/// is s, the residual the builder threads to the next layer.
LogicalResult skipNorm(NodeImporter &n, bool simplified) {
  const int biasIdx = simplified ? 3 : 4;
  if (failed(n.expectInputs(3, biasIdx + 1)) || failed(n.expectOutputs(1, 4)) || failed(n.onlyAttrs({"epsilon"})) ||
      failed(unusedOutput(n, 1, "mean")) || failed(unusedOutput(n, 2, "inv_std_var")))
    return failure();
  auto eps = n.attrFloat("epsilon", 1e-12f); // onnxruntime's kDefaultSkipLayerNormEpsilon
  if (failed(eps)) return failure();
  auto xt = n.type(0);
  if (!xt.getElementType().isF32()) return n.error("input 0 (input): expected float32");
  if (xt.getRank() != 2 && xt.getRank() != 3)
    return n.error("input 0 (input): expected rank 2 or 3 ([batch, seq, hidden] or [tokens, hidden]), found rank " +
                   std::to_string(xt.getRank()));
  auto sum = n.make<mlir::bmc::AddOp>({n.in(0), n.in(1)});
  if (failed(sum)) return failure();
  Value s = *sum;
  if (n.has(biasIdx)) {
    auto sb = n.make<mlir::bmc::AddOp>({s, n.in(biasIdx)});
    if (failed(sb)) return failure();
    s = *sb;
  }
  auto y = lastAxisNorm(n, s, n.in(2), !simplified && n.has(3) ? n.in(3) : Value(), simplified, *eps);
  if (failed(y)) return failure();
  SmallVector<Value> outs{*y, *y, *y, s}; // outputs 1 and 2 are checked unused above
  return n.setOutputs(ValueRange(outs).take_front(std::min(4, n.node.output_size())));
}

} // namespace

void registerContribOps(OpTable &t) {
  t["MatMulNBits"] = matMulNBits;
  t["SkipSimplifiedLayerNormalization"] = [](NodeImporter &n) { return skipNorm(n, true); };
  t["SkipLayerNormalization"] = [](NodeImporter &n) { return skipNorm(n, false); };
  t["SimplifiedLayerNormalization"] = simplifiedLayerNorm;
  registerContribAttentionOps(t);
}

void registerOrtDefaultDomainOps(OpTable &t) { t["SimplifiedLayerNormalization"] = simplifiedLayerNorm; }

} // namespace bmc
