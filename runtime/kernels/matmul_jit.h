// Shared by the Xbyak matmul files (AVX2 and AVX-512): the call parameters
// every generated matmul microkernel reads, and the driver for one
// [rows x 16 columns] tile whose last panel may be partial.
#ifndef BMC_RUNTIME_KERNELS_MATMUL_JIT_H
#define BMC_RUNTIME_KERNELS_MATMUL_JIT_H

#include "kernels_internal.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bmc {
namespace kernels {
namespace jit {

enum StoreMode : int64_t {
  kStore = 0,      // C = acc
  kAccumulate = 1, // C += acc
  kStoreBias = 2,  // C = acc + bias
};

// Arguments of every matmul microkernel.
struct MatmulCallParams {
  const float *a;    // A[row 0][k0], rows lda bytes apart
  const float *b;    // packed panel at k0: 16 floats per k
  float *c;          // C[row 0][col 0] of the tile, rows ldc bytes apart
  const float *bias; // 16 floats (kStoreBias)
  int64_t k;         // number of k steps
  int64_t lda;       // bytes
  int64_t ldc;       // bytes
  int64_t mode;      // StoreMode
};
using MatmulKernelFn = void (*)(const MatmulCallParams *);

// Most rows of one microkernel call (the 512-bit GEMV); bounds the tile
// buffer of a partial panel.
constexpr int kMaxTileRows = 12;

// Runs one mr x 16 tile; a partial last panel goes through a 16-wide buffer
// so that the kernel never reads or writes past column N.
inline void runTile(MatmulKernelFn fn, int mr, int64_t cols, MatmulCallParams prm) {
  if (cols == kPanel) {
    fn(&prm);
    return;
  }
  alignas(64) float tile[kMaxTileRows * kPanel];
  alignas(64) float bias[kPanel] = {};
  float *c = prm.c;
  const int64_t ldcElems = prm.ldc / int64_t(sizeof(float));
  if (prm.mode == kAccumulate)
    for (int r = 0; r < mr; ++r)
      std::memcpy(tile + r * kPanel, c + r * ldcElems, size_t(cols) * sizeof(float));
  if (prm.mode == kStoreBias) {
    std::memcpy(bias, prm.bias, size_t(cols) * sizeof(float));
    prm.bias = bias;
  }
  prm.c = tile;
  prm.ldc = kPanel * sizeof(float);
  fn(&prm);
  for (int r = 0; r < mr; ++r)
    std::memcpy(c + r * ldcElems, tile + r * kPanel, size_t(cols) * sizeof(float));
}

} // namespace jit
} // namespace kernels
} // namespace bmc

#endif // BMC_RUNTIME_KERNELS_MATMUL_JIT_H
