//===- QuantPack.h - repack quantized matrices into bmc's layouts -*- C++ -*-===//
//
// Both quantized forms bmc imports, com.microsoft MatMulNBits (Contrib.cpp)
// and DequantizeLinear -> MatMul (Quant.cpp), arrive as codes, scales and
// zero points in the exporter's order. This repacks them, code for code (no
// requantization), into bmc's int4 / int8 layouts (bmc/abi/kernels.h:
// panels of 16 columns, blocks of 32 rows of K, one scale per block and
// column) and returns a bmc.weight the matmul lowering reads as packed codes.
// The caller has checked the form fits: one scale (and zero point) per
// 32-row block and column, and for 8 bits a zero point of 128.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_FRONTEND_OPS_QUANTPACK_H
#define BMC_FRONTEND_OPS_QUANTPACK_H

#include "frontend/ImportContext.h"
#include "bmc/abi/kernels.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace bmc {

/// `code(row, col)`: the unsigned code (0..15 or 0..255) of w[row][col];
/// `scale(block, col)` and `zero(block, col)`: those of the 32-row block
/// `block` (zero is 0..15 for 4 bits and must be 128 for 8 bits).
/// w[k][n] = (code - zero) * scale.
template <typename Code, typename Scale, typename Zero>
mlir::FailureOr<mlir::Value> importQuantizedMatrix(NodeImporter &n, const std::string &name, int bits, int64_t K,
                                                   int64_t N, Code code, Scale scale, Zero zero) {
  const int64_t panels = (N + 15) / 16, nb32 = (K + 31) / 32;
  const int64_t blockBytes = bits == 4 ? BMC_Q4_BLOCK_BYTES : BMC_Q8_BLOCK_BYTES;
  auto buf = std::make_shared<std::vector<uint8_t>>(size_t(panels * nb32 * blockBytes), 0);
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t kb = 0; kb < nb32; ++kb) {
      uint8_t *dst = buf->data() + (p * nb32 + kb) * blockBytes;
      for (int64_t j = 0; j < 16; ++j) {
        const int64_t col = 16 * p + j;
        if (col >= N) { // padding: scale 0, codes at the zero point
          if (bits == 4) dst[BMC_Q4_ZEROS_OFFSET + j] = 8;
          for (int64_t r = 0; r < 32 && bits == 4; ++r)
            dst[BMC_Q4_CODES_OFFSET + (r / 2) * 16 + j] |= uint8_t(r % 2 ? 8 << 4 : 8);
          continue;
        }
        const float s = scale(kb, col);
        std::memcpy(dst + 4 * j, &s, 4);
        const int z = zero(kb, col);
        if (bits == 4) dst[BMC_Q4_ZEROS_OFFSET + j] = uint8_t(z);
        for (int64_t r = 0; r < 32; ++r) {
          const int64_t row = kb * 32 + r;
          const int c = row < K ? code(row, col) : z; // rows past K: at the zero point (weight 0)
          if (bits == 4)
            dst[BMC_Q4_CODES_OFFSET + (r / 2) * 16 + j] |= uint8_t(r % 2 ? c << 4 : c);
          else
            dst[BMC_Q8_CODES_OFFSET + r * 16 + j] = uint8_t(int8_t(c - 128));
        }
      }
    }
  Weight w;
  w.name = name + ".bmc_int" + std::to_string(bits);
  w.dtype = 1; // FLOAT: the logical [K, N] matrix
  w.dims = {K, N};
  w.data = buf->data();
  w.bytes = buf->size();
  w.keepAlive = buf;
  w.quantBits = bits;
  if (n.graph.weights.find(w.name) == nullptr) n.graph.weights.add(w);
  auto wt = mlir::RankedTensorType::get({K, N}, n.b.getF32Type());
  auto weightOp = n.b.create<mlir::bmc::WeightOp>(n.loc, wt, n.b.getStringAttr(w.name));
  weightOp->setAttr("bmc.quant_bits", n.b.getI64IntegerAttr(bits));
  return weightOp.getResult();
}

/// The bytes of a constant input (a bmc.weight or an inlined arith.constant), or null.
const uint8_t *constantBytes(NodeImporter &n, int i, size_t &bytes);

} // namespace bmc

#endif
