// Fused attention, AVX2/FMA intrinsics, flash-attention style.
//
// Work unit: a tile of query rows that share one KV head (the query heads of a
// GQA group times a few query positions) against a range of KV rows. The tile
// walks the range in blocks of ~128 KB of K (512 rows at head_dim 64): scores
// for the block (K read once from memory, again from L2 for the other rows of
// the tile), an online softmax update (running max m, running sum l, rescaled
// accumulator O), then O += P * V for the block. Nothing larger than a tile x
// block of scores is ever materialised. Decode tiles of several heads (GQA)
// run in attention_group_avx2.cpp instead, every K and V row once per group.
//
// Decode is a stream of K and V from DRAM, and the hardware prefetcher is what
// reaches the bandwidth: the first touch of every block goes forward through
// memory, row after row, and the blocks are long, so K and V form two long
// sequential runs rather than many short interleaved ones (measured: 64-row
// blocks and column-chunked walks lose 20-50% of the bandwidth; software
// prefetching made it worse on Zen 3). With few tiles and a long KV, the range
// is split across threads and the partial (m, l, O) are merged at the end.
//
// Prefill with a mask: a table says which [q tile x 32 kv rows] blocks the
// mask removes entirely (every value <= -FLT_MAX, e.g. the upper triangle of a
// causal mask); tiles skip them. Skipped entries would have scored exactly
// -FLT_MAX (for |scale * q.k| < 1e31), i.e. weight exactly 0 unless the whole
// row scores -FLT_MAX; such rows get the uniform average of V they are owed
// (with smooth softmax, 0). A soft cap bounds the scaled scores by |softcap|,
// so it keeps this true. Scores are clamped at -FLT_MAX after the mask is
// added (scoreBlock), so a row masked with -inf gets that uniform average
// too, not the NaN a standalone Softmax over -inf gives (LowerNorm.cpp).
//
// A bf16/fp16 cache (kv_type): decode tiles read K and V in that type and
// widen each vector in registers as they load it (attention_kv_load.h), so
// the stream from memory is half as many bytes; prefill tiles widen blocks
// into fp32 scratch first (runWidened, readsNarrowDirectly says why).
#include "attention_avx2.h"
#include "attention_kv_load.h"
#include "kernels_internal.h"
#include "simd_avx2.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <xbyak/xbyak_util.h>

namespace bmc {
namespace kernels {
namespace avx2 {
namespace attn {
Scratch &threadScratch() {
  thread_local Scratch scratch;
  return scratch;
}
} // namespace attn

namespace {

using attn::kMaxTileRows;
using attn::Tile;
constexpr int64_t kBlockBytes = 128 << 10; // of K per block
constexpr int64_t kMinSplitRows = 256;
constexpr int64_t kSkipRows = 32; // kv rows per mask-skip block (multiple of 8)

struct Geometry {
  int64_t group;       // query heads per kv head
  int64_t headsPerTile, posPerTile, rows; // rows = headsPerTile * posPerTile
  int64_t headTiles, posTiles, tilesPerGroup, tiles;
  int64_t visit;       // kv rows whose scores are computed
  int64_t block;       // kv rows per block (multiple of 8), the S row stride
  int64_t splits;      // kv ranges per tile
  bool verify;         // few positions: one group-kernel tile per kv head
};

Geometry plan(const bmc_attention_args &a, int threads) {
  Geometry g{};
  g.group = a.heads / a.kv_heads;
  // Speculative verification (q_len = k + 1 <= 16): every query row of a kv
  // head in one tile, so K and V are read once for all of them (tiles of 16
  // rows read them once per 16 / group positions: x2 at GQA 4, q_len 5).
  g.verify = a.q_len > 1 && a.q_len <= attn::kMaxVerifyLen && g.group * a.q_len <= attn::kMaxGroupTileRows;
  g.posPerTile = g.verify ? a.q_len : std::max<int64_t>(1, std::min(a.q_len, kMaxTileRows / g.group));
  g.headsPerTile = g.verify ? g.group : std::min(g.group, kMaxTileRows / g.posPerTile);
  g.rows = g.headsPerTile * g.posPerTile;
  g.headTiles = (g.group + g.headsPerTile - 1) / g.headsPerTile;
  g.posTiles = (a.q_len + g.posPerTile - 1) / g.posPerTile;
  g.tilesPerGroup = g.headTiles * g.posTiles;
  g.tiles = a.batch * a.kv_heads * g.tilesPerGroup;
  g.visit = a.kv_padded_len > a.kv_len ? a.kv_padded_len : a.kv_len;
  const int64_t rowBytes = 4 * std::max<int64_t>(1, std::max(a.head_dim, a.v_head_dim));
  g.block = std::max<int64_t>(64, std::min<int64_t>(2048, kBlockBytes / rowBytes)) / 8 * 8;
  g.block = std::max<int64_t>(8, std::min(g.block, (g.visit + 7) / 8 * 8));
  // Split the kv range when there are too few tiles to balance the threads.
  g.splits = 1;
  if (threads > 1 && g.tiles % threads != 0 && g.tiles < 4 * threads) {
    const int64_t maxSplits = std::max<int64_t>(1, g.visit / kMinSplitRows);
    int64_t s = 2;
    while (s < maxSplits && (g.tiles * s) % threads != 0 && g.tiles * s < 4 * threads)
      ++s;
    g.splits = std::min(s, maxSplits);
  }
  return g;
}

Tile tileAt(const bmc_attention_args &a, const Geometry &g, int64_t t) {
  Tile tile{};
  const int64_t grp = t / g.tilesPerGroup, inGroup = t % g.tilesPerGroup;
  tile.b = grp / a.kv_heads;
  tile.kvh = grp % a.kv_heads;
  const int64_t ht = inGroup / g.posTiles, pt = inGroup % g.posTiles;
  tile.h0 = tile.kvh * g.group + ht * g.headsPerTile;
  tile.nh = std::min(g.headsPerTile, g.group - ht * g.headsPerTile);
  tile.i0 = pt * g.posPerTile;
  tile.nq = std::min(g.posPerTile, a.q_len - tile.i0);
  return tile;
}

// Within a block, the rows of a tile take turns on sub-blocks of ~16 KB of K
// (or V), which then serve rows 1.. from L1 instead of L2 (GQA decode,
// prefill); the first row still walks memory front to back.
int64_t subBlockRows(int64_t dim) {
  return std::max<int64_t>(8, (16384 / (4 * std::max<int64_t>(dim, 1))) / 8 * 8);
}

// simd::dot8 over a K of element type KT (fp32: simd::dot8 itself): each
// K vector widened in registers as it is loaded.
template <int DV, bool TAIL, int KT>
BMC_KV_INLINE __m256 rowDotKv(const __m256 *qv, const kv::Elem<KT> *kr, int64_t tailN, __m256i tail) {
  constexpr int kAcc = DV < 4 ? DV : 4;
  __m256 acc[kAcc];
  for (int c = 0; c < DV; ++c) {
    const __m256 kx = (TAIL && c == DV - 1) ? kv::loadPart<KT>(kr + 8 * c, tailN, tail) : kv::load8<KT>(kr + 8 * c);
    acc[c % kAcc] = c < kAcc ? _mm256_mul_ps(qv[c], kx) : _mm256_fmadd_ps(qv[c], kx, acc[c % kAcc]);
  }
  for (int c = 1; c < kAcc; ++c)
    acc[0] = _mm256_add_ps(acc[0], acc[c]);
  return acc[0];
}

template <int DV, bool TAIL, int KT>
BMC_KV_INLINE __m256 dot8RegsKv(const float *q, const kv::Elem<KT> *k, int64_t krs, int64_t n, int64_t dim) {
  const int64_t tailN = dim - 8 * (DV - 1);
  const __m256i tail = simd::laneMask(tailN);
  __m256 qv[DV];
  for (int c = 0; c < DV; ++c)
    qv[c] = (TAIL && c == DV - 1) ? _mm256_maskload_ps(q + 8 * c, tail) : _mm256_loadu_ps(q + 8 * c);
  __m256 r[8];
  for (int i = 0; i < 8; ++i)
    r[i] = rowDotKv<DV, TAIL, KT>(qv, k + std::min<int64_t>(i, n - 1) * krs, tailN, tail);
  return simd::reduce8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

template <int KT>
BMC_KV_INLINE __m256 dot8AnyKv(const float *q, const kv::Elem<KT> *k, int64_t krs, int64_t n, int64_t dim) {
  const int64_t full = dim / 8 * 8;
  const __m256i tail = simd::laneMask(dim - full);
  __m256 r[8];
  for (int i = 0; i < 8; ++i) {
    const kv::Elem<KT> *kr = k + std::min<int64_t>(i, n - 1) * krs;
    __m256 a0 = _mm256_setzero_ps();
    for (int64_t d = 0; d < full; d += 8)
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), kv::load8<KT>(kr + d), a0);
    if (full < dim)
      a0 = _mm256_fmadd_ps(_mm256_maskload_ps(q + full, tail), kv::loadPart<KT>(kr + full, dim - full, tail), a0);
    r[i] = a0;
  }
  return simd::reduce8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

template <int KT>
BMC_KV_INLINE __m256 dot8Kv(const float *q, const kv::Elem<KT> *k, int64_t krs, int64_t n, int64_t dim) {
  if constexpr (KT == BMC_KV_F32) {
    return simd::dot8(q, k, krs, n, dim);
  } else {
#define BMC_DOT8_CASE(dv)                                                                                         \
  case dv:                                                                                                        \
    return dim % 8 ? dot8RegsKv<dv, true, KT>(q, k, krs, n, dim) : dot8RegsKv<dv, false, KT>(q, k, krs, n, dim);
    switch ((dim + 7) / 8) {
      BMC_DOT8_CASE(1)
      BMC_DOT8_CASE(2)
      BMC_DOT8_CASE(3)
      BMC_DOT8_CASE(4)
      BMC_DOT8_CASE(5)
      BMC_DOT8_CASE(6)
      BMC_DOT8_CASE(7)
      BMC_DOT8_CASE(8)
    default: return dot8AnyKv<KT>(q, k, krs, n, dim);
    }
#undef BMC_DOT8_CASE
  }
}

// S[r][0..n) for kv rows [j0, j0+n): scale, soft cap, mask, clamp at -FLT_MAX, and -inf
// for rows at or past kv_len (spare rows, whose scores are still computed).
// Lanes past n (up to the next multiple of 8) are -inf as well.
template <int KT>
BMC_KV_TARGET void scoreBlock(const bmc_attention_args &a, const Tile &t,
                              int64_t j0, int64_t n, float *S, int64_t ldS) {
  const kv::Elem<KT> *k = kv::keys<KT>(a) + t.b * a.k_bs + t.kvh * a.k_hs + j0 * a.k_rs;
  const int64_t limit = std::min(a.kv_len, j0 + n); // first invalid row
  const __m256 scale = _mm256_set1_ps(a.scale);
  const __m256 lowest = _mm256_set1_ps(-FLT_MAX);
  const __m256 negInf = _mm256_set1_ps(-INFINITY);
  const bool capped = a.softcap > 0.0f;
  const __m256 cap = _mm256_set1_ps(a.softcap), invCap = _mm256_set1_ps(capped ? 1.0f / a.softcap : 0.0f);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int64_t sub = subBlockRows(a.head_dim);
  for (int64_t jSub = 0; jSub < n; jSub += sub)
  for (int64_t r = 0; r < t.rows(); ++r) {
    const int64_t h = t.head(r), i = t.pos(r);
    const float *q = a.q + t.b * a.q_bs + h * a.q_hs + i * a.q_rs;
    const float *mrow = a.mask ? a.mask + t.b * a.m_bs + h * a.m_hs + i * a.m_qs : nullptr;
    float *srow = S + r * ldS;
    for (int64_t jj = jSub; jj < std::min(n, jSub + sub); jj += 8) {
      __m256 s = _mm256_mul_ps(dot8Kv<KT>(q, k + jj * a.k_rs, a.k_rs, n - jj, a.head_dim), scale);
      if (capped)
        s = simd::softcap(s, cap, invCap);
      const int64_t validLanes = std::max<int64_t>(0, std::min<int64_t>(8, limit - (j0 + jj)));
      const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(validLanes)), lane);
      if (mrow && validLanes > 0) {
        const float *mp = mrow + (j0 + jj) * a.m_ks;
        __m256 mv;
        if (a.m_ks == 1) {
          mv = validLanes == 8 ? _mm256_loadu_ps(mp) : _mm256_maskload_ps(mp, valid);
        } else if (a.m_ks == 0) {
          mv = _mm256_set1_ps(*mp);
        } else {
          alignas(32) float tmp[8] = {};
          for (int64_t l = 0; l < validLanes; ++l)
            tmp[l] = mp[l * a.m_ks];
          mv = _mm256_load_ps(tmp);
        }
        s = _mm256_add_ps(s, mv);
      }
      s = _mm256_max_ps(lowest, s); // NaN stays NaN
      s = _mm256_blendv_ps(negInf, s, _mm256_castsi256_ps(valid));
      _mm256_storeu_ps(srow + jj, s);
    }
  }
}

// Online softmax update of one row: p = exp(S - m_new) in place; O *= corr.
BMC_AVX2 void softmaxUpdate(float *srow, int64_t n, float &m, float &l,
                            float *orow, int64_t vdim) {
  const int64_t n8 = (n + 7) / 8 * 8;
  // max_ps returns its second operand when either is NaN: NaN scores are
  // skipped here and reach l (hence out) through exp() below.
  __m256 mx = _mm256_set1_ps(-INFINITY);
  for (int64_t jj = 0; jj < n8; jj += 8)
    mx = _mm256_max_ps(_mm256_loadu_ps(srow + jj), mx);
  const float blockMax = simd::hmax(mx);
  const float mNew = std::max(m, blockMax);
  if (mNew == -INFINITY) { // nothing valid so far: all weights are zero
    for (int64_t jj = 0; jj < n8; ++jj)
      srow[jj] = 0.0f;
    return;
  }
  const __m256 mv = _mm256_set1_ps(mNew);
  __m256 sum = _mm256_setzero_ps();
  for (int64_t jj = 0; jj < n8; jj += 8) {
    __m256 p = simd::exp(_mm256_sub_ps(_mm256_loadu_ps(srow + jj), mv));
    _mm256_storeu_ps(srow + jj, p);
    sum = _mm256_add_ps(sum, p);
  }
  const float corr = m == -INFINITY ? 0.0f : std::exp(m - mNew);
  if (corr != 1.0f)
    simd::scaleRow(orow, vdim, corr);
  l = l * corr + simd::hsum(sum);
  m = mNew;
}

// O[r][d0 .. d0+8*NV) += sum_j P[r][j] * V[j][..] for RB rows; the last
// vector is masked when MASKED.
template <int RB, int NV, bool MASKED, int KT>
BMC_KV_TARGET void pvChunk(const float *P, int64_t ldP, float *O, int64_t ldo, const kv::Elem<KT> *V,
                           int64_t vrs, int64_t n, int64_t tailN, __m256i tail) {
  __m256 acc[RB][NV];
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < NV; ++c)
      acc[r][c] = (MASKED && c == NV - 1) ? _mm256_maskload_ps(O + r * ldo + 8 * c, tail)
                                          : _mm256_loadu_ps(O + r * ldo + 8 * c);
  for (int64_t j = 0; j < n; ++j) {
    const kv::Elem<KT> *vr = V + j * vrs;
    __m256 vv[NV];
    for (int c = 0; c < NV; ++c)
      vv[c] = (MASKED && c == NV - 1) ? kv::loadPart<KT>(vr + 8 * c, tailN, tail) : kv::load8<KT>(vr + 8 * c);
    for (int r = 0; r < RB; ++r) {
      __m256 p = _mm256_broadcast_ss(P + r * ldP + j);
      for (int c = 0; c < NV; ++c)
        acc[r][c] = _mm256_fmadd_ps(p, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < NV; ++c) {
      if (MASKED && c == NV - 1)
        _mm256_maskstore_ps(O + r * ldo + 8 * c, tail, acc[r][c]);
      else
        _mm256_storeu_ps(O + r * ldo + 8 * c, acc[r][c]);
    }
}

template <int RB, int KT>
BMC_KV_TARGET void pvRows(const float *P, int64_t ldP, float *O, int64_t vdim, const kv::Elem<KT> *V, int64_t vrs,
                          int64_t n) {
  int64_t d = 0;
  const __m256i none = _mm256_setzero_si256();
  for (; d + 32 <= vdim; d += 32)
    pvChunk<RB, 4, false, KT>(P, ldP, O + d, vdim, V + d, vrs, n, 0, none);
  for (; d + 8 <= vdim; d += 8)
    pvChunk<RB, 1, false, KT>(P, ldP, O + d, vdim, V + d, vrs, n, 0, none);
  if (d < vdim)
    pvChunk<RB, 1, true, KT>(P, ldP, O + d, vdim, V + d, vrs, n, vdim - d, simd::laneMask(vdim - d));
}

// O[0:vdim] += sum_j P[j] * V[j][:] for one row, V rows walked front to
// back in full (registers hold the whole output row, NV vectors; the last one
// is masked only when TAIL).
template <int NV, bool TAIL, int KT>
BMC_KV_TARGET void pvRowInRegs(const float *P, float *O, int64_t vdim, const kv::Elem<KT> *V, int64_t vrs,
                               int64_t n) {
  const int64_t tailN = vdim - 8 * (NV - 1);
  const __m256i tail = simd::laneMask(tailN);
  __m256 acc[NV];
  for (int c = 0; c < NV - 1; ++c)
    acc[c] = _mm256_loadu_ps(O + 8 * c);
  acc[NV - 1] = TAIL ? _mm256_maskload_ps(O + 8 * (NV - 1), tail) : _mm256_loadu_ps(O + 8 * (NV - 1));
  for (int64_t j = 0; j < n; ++j) {
    const kv::Elem<KT> *vr = V + j * vrs;
    const __m256 p = _mm256_broadcast_ss(P + j);
    for (int c = 0; c < NV - 1; ++c)
      acc[c] = _mm256_fmadd_ps(p, kv::load8<KT>(vr + 8 * c), acc[c]);
    const __m256 last = TAIL ? kv::loadPart<KT>(vr + 8 * (NV - 1), tailN, tail) : kv::load8<KT>(vr + 8 * (NV - 1));
    acc[NV - 1] = _mm256_fmadd_ps(p, last, acc[NV - 1]);
  }
  for (int c = 0; c < NV - 1; ++c)
    _mm256_storeu_ps(O + 8 * c, acc[c]);
  if (TAIL)
    _mm256_maskstore_ps(O + 8 * (NV - 1), tail, acc[NV - 1]);
  else
    _mm256_storeu_ps(O + 8 * (NV - 1), acc[NV - 1]);
}

// Same for rows wider than 64: the output row stays in L1 instead.
template <int KT>
BMC_KV_TARGET void pvRowInMemory(const float *P, float *O, int64_t vdim, const kv::Elem<KT> *V, int64_t vrs,
                                 int64_t n) {
  const int64_t full = vdim / 8 * 8;
  const __m256i tail = simd::laneMask(vdim - full);
  for (int64_t j = 0; j < n; ++j) {
    const kv::Elem<KT> *vr = V + j * vrs;
    const __m256 p = _mm256_broadcast_ss(P + j);
    for (int64_t d = 0; d < full; d += 8)
      _mm256_storeu_ps(O + d, _mm256_fmadd_ps(p, kv::load8<KT>(vr + d), _mm256_loadu_ps(O + d)));
    if (full < vdim)
      _mm256_maskstore_ps(O + full, tail,
                          _mm256_fmadd_ps(p, kv::loadPart<KT>(vr + full, vdim - full, tail),
                                          _mm256_maskload_ps(O + full, tail)));
  }
}

template <int KT>
BMC_KV_TARGET void pvFirstRow(const float *P, float *O, int64_t vdim, const kv::Elem<KT> *V, int64_t vrs,
                              int64_t n) {
#define BMC_PV_CASE(nv)                                                        \
  case nv:                                                                     \
    if (vdim % 8)                                                              \
      pvRowInRegs<nv, true, KT>(P, O, vdim, V, vrs, n);                        \
    else                                                                       \
      pvRowInRegs<nv, false, KT>(P, O, vdim, V, vrs, n);                       \
    break;
  switch ((vdim + 7) / 8) {
    BMC_PV_CASE(1)
    BMC_PV_CASE(2)
    BMC_PV_CASE(3)
    BMC_PV_CASE(4)
    BMC_PV_CASE(5)
    BMC_PV_CASE(6)
    BMC_PV_CASE(7)
    BMC_PV_CASE(8)
  default: pvRowInMemory<KT>(P, O, vdim, V, vrs, n); break;
  }
#undef BMC_PV_CASE
}

// O += P * V[j0 .. j0+n) for all rows of the tile. The first row streams V
// in memory order (from DRAM in decode: the hardware prefetcher follows a
// forward walk, not the column-chunked walk of the blocked version); the
// other rows find the block in L1 and use 3-row register blocking.
template <int KT>
BMC_KV_TARGET void pvBlock(const bmc_attention_args &a, const Tile &t, int64_t j0, int64_t n, const float *S,
                           int64_t ldS, float *O) {
  const kv::Elem<KT> *v = kv::values<KT>(a) + t.b * a.v_bs + t.kvh * a.v_hs + j0 * a.v_rs;
  const int64_t vdim = a.v_head_dim, rows = t.rows();
  if (rows == 1) {
    pvFirstRow<KT>(S, O, vdim, v, a.v_rs, n);
    return;
  }
  const int64_t sub = subBlockRows(vdim);
  for (int64_t j = 0; j < n; j += sub) {
    const int64_t m = std::min(sub, n - j);
    const kv::Elem<KT> *vj = v + j * a.v_rs;
    pvFirstRow<KT>(S + j, O, vdim, vj, a.v_rs, m);
    int64_t r = 1;
    for (; r + 3 <= rows; r += 3)
      pvRows<3, KT>(S + r * ldS + j, ldS, O + r * vdim, vdim, vj, a.v_rs, m);
    if (rows - r == 2)
      pvRows<2, KT>(S + r * ldS + j, ldS, O + r * vdim, vdim, vj, a.v_rs, m);
    else if (rows - r == 1)
      pvRows<1, KT>(S + r * ldS + j, ldS, O + r * vdim, vdim, vj, a.v_rs, m);
  }
}

// Which [q tile x kSkipRows kv rows] blocks of the mask are entirely <= -FLT_MAX,
// per (batch, head) of the mask (one entry when it broadcasts over them).
// Built once per call, for prefill (q_len > 1) with a mask; a NaN in the mask
// counts as unmasked.
struct MaskSkip {
  std::vector<uint8_t> bits; // [mb][mh][posTiles][kvTiles], 1 = skip
  int64_t mh = 0, posTiles = 0, kvTiles = 0;
  bool active() const { return !bits.empty(); }
  bool skip(const bmc_attention_args &a, const Tile &t, int64_t posTile, int64_t kt) const {
    const int64_t b = a.m_bs ? t.b : 0;
    const int64_t hEnd = a.m_hs ? t.h0 + t.nh : 1;
    for (int64_t h = a.m_hs ? t.h0 : 0; h < hEnd; ++h)
      if (!bits[size_t(((b * mh + h) * posTiles + posTile) * kvTiles + kt)])
        return false;
    return true;
  }
};

// True when mask[i][j] <= -FLT_MAX for j in [j0, j1), i.e. nothing there can
// carry weight (NaN compares unordered: not masked).
BMC_AVX2 bool maskedRun(const float *row, int64_t ks, int64_t j0, int64_t j1) {
  int64_t j = j0;
  if (ks == 1) {
    const __m256 lowest = _mm256_set1_ps(-FLT_MAX);
    for (; j + 8 <= j1; j += 8)
      if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(row + j), lowest, _CMP_NLE_UQ)))
        return false;
  }
  for (; j < j1; ++j)
    if (!(row[j * ks] <= -FLT_MAX))
      return false;
  return true;
}

MaskSkip buildMaskSkip(ThreadPool *pool, const bmc_attention_args &a, const Geometry &g) {
  MaskSkip ms;
  if (!a.mask || a.q_len <= 1 || a.kv_len <= 0 || g.verify)
    return ms;
  const int64_t mb = a.m_bs ? a.batch : 1;
  ms.mh = a.m_hs ? a.heads : 1;
  ms.posTiles = g.posTiles;
  ms.kvTiles = (g.visit + kSkipRows - 1) / kSkipRows;
  ms.bits.assign(size_t(mb * ms.mh * ms.posTiles * ms.kvTiles), 0);
  parallelFor(pool, mb * ms.mh * ms.posTiles, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      const int64_t pt = e % ms.posTiles, h = (e / ms.posTiles) % ms.mh, b = e / (ms.posTiles * ms.mh);
      const int64_t i0 = pt * g.posPerTile, i1 = std::min(a.q_len, i0 + g.posPerTile);
      for (int64_t kt = 0; kt < ms.kvTiles; ++kt) {
        const int64_t j0 = kt * kSkipRows, j1 = std::min(a.kv_len, j0 + kSkipRows);
        bool masked = true; // blocks of spare rows only are skipped too
        for (int64_t i = i0; masked && i < i1; ++i)
          masked = maskedRun(a.mask + b * a.m_bs + h * a.m_hs + i * a.m_qs, a.m_ks, j0, j1);
        ms.bits[size_t(e * ms.kvTiles + kt)] = masked;
      }
    }
  });
  return ms;
}

// Runs a tile over kv rows [jBegin, jEnd); leaves (m, l, O) per row. Blocks
// are runs of kv rows that the mask-skip table does not remove. K and V of
// element type KT, widened in registers as they are loaded.
template <int KT>
BMC_KV_TARGET void runTile(const bmc_attention_args &a, const Geometry &g, const MaskSkip &ms, const Tile &t,
                           int64_t jBegin, int64_t jEnd, float *m, float *l, float *O) {
  attn::Scratch &scr = attn::threadScratch();
  const int64_t rows = t.rows(), vdim = a.v_head_dim;
  for (int64_t r = 0; r < rows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }
  std::fill(O, O + rows * vdim, 0.0f);
  float *S = scr.s.data();
  const int64_t posTile = t.i0 / g.posPerTile;
  auto skipped = [&](int64_t j) { return ms.active() && ms.skip(a, t, posTile, j / kSkipRows); };
  auto nextSkipBoundary = [](int64_t j) { return (j / kSkipRows + 1) * kSkipRows; };
  for (int64_t j0 = jBegin; j0 < jEnd;) {
    if (skipped(j0)) {
      j0 = std::min(jEnd, nextSkipBoundary(j0));
      continue;
    }
    int64_t j1 = std::min(jEnd, j0 + g.block);
    if (ms.active()) // stop at the first skipped block
      for (int64_t j = nextSkipBoundary(j0); j < j1; j = nextSkipBoundary(j))
        if (skipped(j)) {
          j1 = j;
          break;
        }
    const int64_t n = j1 - j0;
    scoreBlock<KT>(a, t, j0, n, S, g.block);
    for (int64_t r = 0; r < rows; ++r)
      softmaxUpdate(S + r * g.block, n, m[r], l[r], O + r * vdim, vdim);
    const int64_t nValid = std::min(a.kv_len, j1) - j0; // V's spare rows are never read
    if (nValid > 0)
      pvBlock<KT>(a, t, j0, nValid, S, g.block, O);
    j0 = j1;
  }
}

// out row of tile row r from (m, l, O). With skipped blocks, a row whose
// computed scores are all -FLT_MAX (or that computed nothing) is owed uniform
// weights over all kv_len rows, the skipped ones included: the mean of V.
// Smooth softmax adds the implicit zero logit here, exp(0 - m) to l (in
// double; it makes out 0 for such rows, which then owe nothing: skipped
// entries have weight exactly 0 there).
void writeOut(const bmc_attention_args &a, const MaskSkip &ms, const Tile &t, int64_t r,
              const float *orow, float m, float l) {
  float *out = a.out + t.b * a.o_bs + t.head(r) * a.o_hs + t.pos(r) * a.o_rs;
  if (a.smooth_softmax) {
    const double denom = double(l) + std::exp(-double(m)); // m = -inf (nothing computed): inf, out 0
    for (int64_t d = 0; d < a.v_head_dim; ++d)
      out[d] = std::isnan(denom) ? NAN : float(double(orow[d]) / denom);
    return;
  }
  if (ms.active() && a.kv_len > 0 && m <= -FLT_MAX && !std::isnan(l)) {
    const void *v = kvAdvance(a.kv_type, a.v, t.b * a.v_bs + t.kvh * a.v_hs);
    std::fill(out, out + a.v_head_dim, 0.0f);
    for (int64_t j = 0; j < a.kv_len; ++j)
      for (int64_t d = 0; d < a.v_head_dim; ++d)
        out[d] += kvElement(a.kv_type, v, j * a.v_rs + d);
    for (int64_t d = 0; d < a.v_head_dim; ++d)
      out[d] /= float(a.kv_len);
    return;
  }
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  for (int64_t d = 0; d < a.v_head_dim; ++d)
    out[d] = l > 0.0f ? orow[d] * inv : (std::isnan(l) ? NAN : 0.0f);
}

// A bf16/fp16 cache where readsNarrowDirectly() says no (generic tiles of
// several rows): tile t over kv rows [j0, j1) in blocks of
// BMC_KV_CONVERT_ROWS rows, each widened into fp32 scratch (K, and V up to
// kv_len: V's spare rows are never read) and run by `range` on fp32 arguments
// that address the scratch at the block's absolute row numbers (mask, spare
// rows and the mask-skip table keep their meaning); the blocks' online-softmax
// states (m, l, O) are merged as the kv splits are.
template <class Range>
void runWidened(const bmc_attention_args &a, const Tile &t, int64_t j0, int64_t j1, float *m, float *l, float *O,
                Range &&range) {
  attn::Scratch &scr = attn::threadScratch();
  const int64_t C = BMC_KV_CONVERT_ROWS, D = a.head_dim, Dv = a.v_head_dim, rows = t.rows();
  scr.reserve(scr.kv, C * (D + Dv));
  scr.reserve(scr.oc, rows * Dv);
  float *kb = scr.kv.data(), *vb = kb + C * D, *Oc = scr.oc.data();
  float mc[attn::kMaxGroupTileRows], lc[attn::kMaxGroupTileRows];
  for (int64_t r = 0; r < rows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }
  std::fill(O, O + rows * Dv, 0.0f);
  const bool f16c = f16cSupported();
  auto widen = [&](const void *base, int64_t off, float *dst, int64_t n) {
    const void *src = kvAdvance(a.kv_type, base, off);
    if (f16c) convertFromKV(a.kv_type, src, dst, n);
    else ref::convertFromKV(a.kv_type, src, dst, n);
  };
  // Row j of the block at kb + (j - c0) * D: the base pointer is formed as an
  // integer (it lies before the scratch; only rows >= c0 are addressed).
  auto rebase = [](const float *p, int64_t rowsBefore, int64_t dim) {
    return reinterpret_cast<const float *>(reinterpret_cast<uintptr_t>(p) - uintptr_t(rowsBefore * dim) * 4);
  };
  for (int64_t c0 = j0; c0 < j1; c0 += C) {
    const int64_t c1 = std::min(j1, c0 + C), vEnd = std::min(c1, a.kv_len);
    for (int64_t j = c0; j < c1; ++j)
      widen(a.k, t.b * a.k_bs + t.kvh * a.k_hs + j * a.k_rs, kb + (j - c0) * D, D);
    for (int64_t j = c0; j < vEnd; ++j)
      widen(a.v, t.b * a.v_bs + t.kvh * a.v_hs + j * a.v_rs, vb + (j - c0) * Dv, Dv);
    bmc_attention_args f = a;
    f.kv_type = BMC_KV_F32;
    f.k = rebase(kb, c0, D);
    f.k_bs = f.k_hs = 0;
    f.k_rs = D;
    f.v = rebase(vb, c0, Dv);
    f.v_bs = f.v_hs = 0;
    f.v_rs = Dv;
    range(f, c0, c1, mc, lc, Oc);
    for (int64_t r = 0; r < rows; ++r) {
      if (mc[r] == -INFINITY && !std::isnan(lc[r]))
        continue; // nothing computed in this block
      const float mNew = std::max(m[r], mc[r]);
      const float wOld = m[r] == -INFINITY ? 0.0f : std::exp(m[r] - mNew), wNew = std::exp(mc[r] - mNew);
      l[r] = l[r] * wOld + lc[r] * wNew;
      for (int64_t d = 0; d < Dv; ++d)
        O[r * Dv + d] = O[r * Dv + d] * wOld + Oc[r * Dv + d] * wNew;
      m[r] = mNew;
    }
  }
}

// Whether tile t of a bf16/fp16 call reads K and V in their own type,
// widening in registers: the group tiles (GQA decode, verification) and
// one-row tiles (MHA decode), where every K/V element feeds the FMAs of all
// its query rows once and the stream from memory is the cost. Generic tiles
// of several rows (prefill) use runWidened: there each row rereads the block
// from L1, so widening in registers would repeat the conversion per row,
// while the scratch widens each element once for a compute-bound tile. fp16
// without F16C (the kernels above are compiled with it) uses runWidened with
// the plain C conversions.
bool readsNarrowDirectly(const bmc_attention_args &a, bool group, const Tile &t) {
  if (a.kv_type == BMC_KV_F16 && !f16cSupported())
    return false;
  return group || t.rows() == 1;
}

} // namespace

namespace {
// wide: tiles of at least avx512::attn::minTileRows() rows run in the AVX-512 group kernel.
void run(ThreadPool *pool, const bmc_attention_args &a, bool wide) {
  if (a.batch <= 0 || a.heads <= 0 || a.kv_heads <= 0 || a.q_len <= 0 ||
      a.v_head_dim <= 0 || a.heads % a.kv_heads != 0)
    return;
  const int threads = pool ? pool->numThreads() : 1;
  const Geometry g = plan(a, threads);
  const int64_t vdim = a.v_head_dim, rowStride = vdim + 2;
  const int64_t units = g.tiles * g.splits;
  const MaskSkip ms = buildMaskSkip(pool, a, g);
  const int64_t groupBlock = attn::groupBlockRows(a);

  // Partial results (m, l, O) per unit and row, only when the kv range is split.
  std::vector<float> partial;
  if (g.splits > 1)
    partial.resize(size_t(units * g.rows * rowStride));

  parallelFor(pool, units, [&](int64_t u0, int64_t u1) {
    attn::Scratch &scr = attn::threadScratch();
    scr.reserve(scr.s, g.rows * g.block);
    scr.reserve(scr.o, g.rows * vdim);
    float m[attn::kMaxGroupTileRows], l[attn::kMaxGroupTileRows];
    for (int64_t u = u0; u < u1; ++u) {
      const Tile t = tileAt(a, g, u / g.splits);
      const int64_t s = u % g.splits;
      const int64_t rows8 = (g.visit + 7) / 8; // split on 8-row boundaries
      const int64_t j0 = 8 * (rows8 * s / g.splits);
      const int64_t j1 = std::min(g.visit, 8 * (rows8 * (s + 1) / g.splits));
      float *O = scr.o.data();
      // Several heads at one position (GQA decode), or the rows of a few
      // positions (verification): each K/V row once for all of them.
      const bool group = (g.verify || (t.nq == 1 && t.nh > 1)) && !ms.active();
      auto range = [&](const bmc_attention_args &f, int64_t jb, int64_t je, float *mr, float *lr, float *Or) {
        if (group && wide && t.rows() >= avx512::attn::minTileRows())
          avx512::attn::runGroupTile(f, t, jb, je, mr, lr, Or);
        else if (group)
          attn::runGroupTile(f, t, groupBlock, jb, je, mr, lr, Or, wide);
        else if (f.kv_type == BMC_KV_BF16)
          runTile<BMC_KV_BF16>(f, g, ms, t, jb, je, mr, lr, Or);
        else if (f.kv_type == BMC_KV_F16)
          runTile<BMC_KV_F16>(f, g, ms, t, jb, je, mr, lr, Or);
        else
          runTile<BMC_KV_F32>(f, g, ms, t, jb, je, mr, lr, Or);
      };
      if (a.kv_type == BMC_KV_F32 || readsNarrowDirectly(a, group, t))
        range(a, j0, j1, m, l, O);
      else
        runWidened(a, t, j0, j1, m, l, O, range);
      for (int64_t r = 0; r < t.rows(); ++r) {
        if (g.splits == 1) {
          writeOut(a, ms, t, r, O + r * vdim, m[r], l[r]);
        } else {
          float *dst = partial.data() + (u * g.rows + r) * rowStride;
          dst[0] = m[r];
          dst[1] = l[r];
          std::copy(O + r * vdim, O + (r + 1) * vdim, dst + 2);
        }
      }
    }
  });
  if (g.splits == 1)
    return;

  // Merge the splits of each tile: rescale to the common max and sum.
  std::vector<float> acc(static_cast<size_t>(vdim));
  for (int64_t tIdx = 0; tIdx < g.tiles; ++tIdx) {
    const Tile t = tileAt(a, g, tIdx);
    for (int64_t r = 0; r < t.rows(); ++r) {
      auto part = [&](int64_t s) {
        return partial.data() + ((tIdx * g.splits + s) * g.rows + r) * rowStride;
      };
      float mMax = -INFINITY;
      for (int64_t s = 0; s < g.splits; ++s)
        mMax = std::max(mMax, part(s)[0]);
      std::fill(acc.begin(), acc.end(), 0.0f);
      float lSum = 0.0f;
      if (mMax != -INFINITY) {
        for (int64_t s = 0; s < g.splits; ++s) {
          const float *p = part(s);
          if (p[0] == -INFINITY)
            continue;
          const float w = std::exp(p[0] - mMax);
          lSum += w * p[1];
          for (int64_t d = 0; d < vdim; ++d)
            acc[size_t(d)] += w * p[2 + d];
        }
      }
      writeOut(a, ms, t, r, acc.data(), mMax, lSum);
    }
  }
}

} // namespace

void attention(ThreadPool *pool, const bmc_attention_args &a) { run(pool, a, false); }

} // namespace avx2

namespace avx512 {
bool cpuSupported() {
  static const bool ok = [] {
    Xbyak::util::Cpu cpu; // tAVX512F includes the OS check of the zmm state
    return avx2::cpuSupported() && cpu.has(Xbyak::util::Cpu::tAVX512F);
  }();
  return ok;
}

void attention(ThreadPool *pool, const bmc_attention_args &a) {
  if (!cpuSupported())
    throw std::runtime_error("bmc: AVX-512F attention on a CPU without it");
  avx2::run(pool, a, true);
}
} // namespace avx512
} // namespace kernels
} // namespace bmc
