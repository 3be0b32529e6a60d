//===- WeightPlan.h - the weight blob of a compiled model -------*- C++ -*-===//
//
// Code generation asks for each weight in the layout it needs (raw bytes,
// or packed for the matmul microkernels) and for small constants; the plan
// assigns 64-byte-aligned offsets in one blob, which the compiler then fills
// from the weight store. No MLIR types here.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_WEIGHTPLAN_H
#define BMC_COMPILER_WEIGHTPLAN_H

#include "frontend/WeightStore.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bmc {

struct WeightEntry {
  enum Kind {
    Raw, PackedB, PackedBTransposed, PackedQ8, PackedQ8Transposed, PackedQ4, PackedQ4Transposed,
    // The same quantized weights in the dot layouts of the int8-activation kernels (kernels.h).
    PackedQ8Dot, PackedQ8DotTransposed, PackedQ4Dot, PackedQ4DotTransposed,
    // bf16 / fp16 panels (bmc_pack_w16), from fp32 (rounded) or 16-bit (copied) weights.
    PackedBF16, PackedBF16Transposed, PackedF16, PackedF16Transposed, Constant
  };
  /// 8 or 4 for the quantized kinds, else 0.
  static int quantBits(Kind k) {
    return k == PackedQ8 || k == PackedQ8Transposed || k == PackedQ8Dot || k == PackedQ8DotTransposed   ? 8
           : k == PackedQ4 || k == PackedQ4Transposed || k == PackedQ4Dot || k == PackedQ4DotTransposed ? 4
                                                                                                            : 0;
  }
  /// BMC_KV_BF16 / BMC_KV_F16 for the 16-bit kinds, else 0.
  static int w16Type(Kind k) {
    return k == PackedBF16 || k == PackedBF16Transposed ? 1 : k == PackedF16 || k == PackedF16Transposed ? 2 : 0;
  }
  static bool transposed(Kind k) {
    return k == PackedBTransposed || k == PackedQ8Transposed || k == PackedQ4Transposed || k == PackedQ8DotTransposed ||
           k == PackedQ4DotTransposed || k == PackedBF16Transposed || k == PackedF16Transposed;
  }
  static bool dotLayout(Kind k) {
    return k == PackedQ8Dot || k == PackedQ8DotTransposed || k == PackedQ4Dot || k == PackedQ4DotTransposed;
  }
  Kind kind = Raw;
  std::string name;            // weight name (Raw/Packed) or "" for constants
  int64_t k = 0, n = 0;        // for packed: B is [k, n] (or [n, k] transposed)
  int64_t offset = 0, bytes = 0;
  std::vector<uint8_t> data;   // constants only
};

class WeightPlan {
public:
  /// Offset of weight `name` in the given layout; `bytes` is its size.
  int64_t request(const std::string &name, WeightEntry::Kind kind, int64_t bytes, int64_t k = 0,
                  int64_t n = 0);
  /// Offset of a copy of `data` (deduplicated).
  int64_t constant(const void *data, size_t bytes);
  int64_t totalBytes() const { return total_; }
  const std::vector<WeightEntry> &entries() const { return entries_; }

  /// Fills the blob: raw copies, packed matrices, constants. On failure
  /// returns false and sets `error`.
  bool build(const WeightStore &store, std::vector<uint8_t> &blob, std::string &error) const;
  /// Same, into caller-provided memory of totalBytes() (its alignment gaps
  /// zeroed: the same bytes for any `threads`), the entries spread over
  /// `threads` threads (largest first onto the least loaded).
  bool buildInto(const WeightStore &store, uint8_t *blob, std::string &error, int threads = 1) const;
  /// One entry's bytes into `dst` (e.bytes of them), for writers that stream
  /// the blob (compiler/PackageWriter.cpp). A file-mapped source weight's
  /// pages are dropped once it is packed.
  static bool fill(const WeightStore &store, const WeightEntry &e, uint8_t *dst, std::string &error);

private:
  std::vector<WeightEntry> entries_;
  std::map<std::tuple<std::string, int, int64_t, int64_t>, size_t> index_;
  std::map<std::vector<uint8_t>, size_t> constIndex_;
  int64_t total_ = 0;
  int64_t place(int64_t bytes);
};

} // namespace bmc

#endif
