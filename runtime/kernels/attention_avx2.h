// Internals shared by the AVX2 attention files: a tile of query rows that
// share one kv head, its online-softmax state, and per-thread scratch.
// attention_avx2.cpp plans the work and runs generic tiles (prefill, MHA
// decode); attention_group_avx2.cpp runs the query heads of a GQA group at
// one position against each K and V row once (decode).
#ifndef BMC_RUNTIME_KERNELS_ATTENTION_AVX2_H
#define BMC_RUNTIME_KERNELS_ATTENTION_AVX2_H

#include "bmc/abi/kernels.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bmc {
namespace kernels {
namespace avx2 {
namespace attn {

constexpr int64_t kMaxTileRows = 16;

// Verification (q_len = k + 1 small): one tile holds every query row of a kv
// head, group x q_len <= kMaxGroupTileRows, and runs through the group kernel.
constexpr int64_t kMaxGroupTileRows = 64;
constexpr int64_t kMaxVerifyLen = 16;

// Row r of a tile is query head head(r) at position pos(r).
struct Tile {
  int64_t b, kvh, h0, i0, nh, nq; // heads [h0, h0+nh), positions [i0, i0+nq)
  int64_t rows() const { return nh * nq; }
  int64_t head(int64_t r) const { return h0 + r / nq; }
  int64_t pos(int64_t r) const { return i0 + r % nq; }
};

// Per-thread scratch, reused across calls (grown, never shrunk).
struct Scratch {
  std::vector<float> s, o, q;
  std::vector<float> kv, oc; // widened K/V block; one block's (m, l, O) (runWidened: bf16/fp16 prefill)
  void reserve(std::vector<float> &v, int64_t n) {
    if (int64_t(v.size()) < n)
      v.resize(std::size_t(n));
  }
};
Scratch &threadScratch();

// Kv rows per group-tile block: the S buffer holds block * 8 floats per set
// of up to 8 heads.
int64_t groupBlockRows(const bmc_attention_args &a);

// The rows of tile t (t.rows() in [2, kMaxGroupTileRows]: heads x positions)
// against kv rows [jBegin, jEnd), in blocks of `block` rows, each K and V row
// read once for all of them: leaves m, l (per tile row) and the unnormalised
// O (t.rows() rows of v_head_dim). Computes every row the mask removes (no
// skipping). K and V of any kv_type, widened in registers. `wide`: the CPU
// has AVX-512F, and the score and P*V loops may use zmm when head_dim and
// v_head_dim are multiples of 16 (the softmax and everything else as without).
void runGroupTile(const bmc_attention_args &a, const Tile &t, int64_t block,
                  int64_t jBegin, int64_t jEnd, float *m, float *l, float *O, bool wide);

// The group kernel's tuning: how far ahead it software-prefetches each of its
// K / V streams (bytes; 0: none) and into which cache level, and for which KV
// types it uses its zmm loops where `wide` allows them. One process-wide
// setting, read at the start of every tile; bench_kernels changes it between
// calls to compare variants interleaved (never while a call runs).
struct GroupSettings {
  enum Zmm { Never, Narrow, Always }; // Narrow: bf16 / fp16 caches only
  int64_t bytes;
  bool l1; // prefetcht0 (L1) instead of prefetcht1 (L2)
  Zmm zmm;
};
GroupSettings &groupSettings();

} // namespace attn
} // namespace avx2

namespace avx512 {
namespace attn {
// The fewest tile rows for which the AVX-512 group kernel beats the AVX2 one
// (query rows are its vector lanes: 4 rows of GQA decode would use a quarter).
int64_t minTileRows();
// Same contract as avx2::attn::runGroupTile (rows in [2, kMaxGroupTileRows]);
// needs AVX-512F (attention_group_avx512.cpp).
void runGroupTile(const bmc_attention_args &a, const avx2::attn::Tile &t, int64_t jBegin, int64_t jEnd, float *m,
                  float *l, float *O);
} // namespace attn
} // namespace avx512
} // namespace kernels
} // namespace bmc

#endif // BMC_RUNTIME_KERNELS_ATTENTION_AVX2_H
