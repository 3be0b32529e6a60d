// Packing of a constant right-hand side into the panel layout of kernels.h.
// The layout is part of the compiled-package format: it must not depend on the
// ISA of the machine that packs or the one that runs.
#include "kernels_internal.h"

#include <algorithm>
#include <cstring>

namespace bmc {
namespace kernels {

// B often comes straight from a mapped ONNX file, where raw_data has no
// alignment: elements are read with memcpy from byte addresses (one plain load
// on x86, and no undefined behaviour, which UBSan reported for float loads).
static inline float loadAt(const unsigned char *base, int64_t index) {
  float v;
  std::memcpy(&v, base + index * int64_t(sizeof(float)), sizeof v);
  return v;
}

void packPanels(const void *Bv, int64_t K, int64_t N, int64_t rs, int64_t cs,
                int64_t p0, int64_t p1, float *out) {
  const unsigned char *B = static_cast<const unsigned char *>(Bv);
  for (int64_t p = p0; p < p1; ++p) {
    float *panel = out + (p - p0) * K * kPanel;
    const int64_t n0 = p * kPanel;
    const int64_t cols = std::min<int64_t>(kPanel, N - n0);
    if (cs == 1 || rs != 1) { // row-major source: copy 16-wide row pieces
      for (int64_t k = 0; k < K; ++k) {
        const int64_t src = k * rs + n0 * cs;
        float *dst = panel + k * kPanel;
        for (int64_t j = 0; j < cols; ++j)
          dst[j] = loadAt(B, src + j * cs);
        for (int64_t j = cols; j < kPanel; ++j)
          dst[j] = 0.0f;
      }
    } else { // transposed source (rs == 1): read each column contiguously
      for (int64_t j = 0; j < kPanel; ++j) {
        if (j < cols) {
          const int64_t src = (n0 + j) * cs;
          for (int64_t k = 0; k < K; ++k)
            panel[k * kPanel + j] = loadAt(B, src + k);
        } else {
          for (int64_t k = 0; k < K; ++k)
            panel[k * kPanel + j] = 0.0f;
        }
      }
    }
  }
}

} // namespace kernels
} // namespace bmc
