// The CUDA emitter's kernels (bmc-opt --bmc-emit-cuda on emitted_kernels.mlir,
// generated at build time) compiled as host C++ against cuda_emulation.h and
// run on random inputs with odd sizes and strides against the CPU kernels:
// bmck.kv_append against bmc_convert_f32_to_kv (the rounding of the CPU's
// append), bmck.attention against bmc_attention_f32 (q rows 1 and 5, KV
// views with spare rows holding NaN, broadcast and per-head masks with -inf,
// GQA, softcap, smooth softmax). What the emulation checks and does not:
// cuda_emulation.h.
#include "cuda_emulation.h"

#define BMC_NO_LIBRARY_KERNELS 1 // as cudaEmittedKernelSource: the emitted entry points only
#include "runtime/device/cuda/decode_attention_params.h"
#include "runtime/device/cuda/common.cuh"
#include "runtime/device/cuda/kv_append.cuh"
#include "runtime/device/cuda/decode_attention.cuh"
#include "tests/unit/device/emitted_kernels.cu" // in the build tree

#include "bmc/abi/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using bmc::device::Dim3;
using bmc::device::HostLaunch;

// Every block of the grid, one after another (as CpuDevice::launch does).
template <typename... A>
void launch(void (*kernel)(A...), Dim3 grid, unsigned threads, void **args) {
  HostLaunch l{grid, {threads, 1, 1}, {}};
  for (uint32_t z = 0; z < grid.z; ++z)
    for (uint32_t y = 0; y < grid.y; ++y)
      for (uint32_t x = 0; x < grid.x; ++x) {
        l.blockIdx = {x, y, z};
        bmc_emu::emulate(kernel, l, args);
      }
}

std::vector<float> randomFloats(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

bmc_view4 view(const void *data, long long offset, std::vector<long long> size, std::vector<long long> stride) {
  bmc_view4 v;
  v.data = data;
  v.offset = offset;
  for (int i = 0; i < 4; ++i)
    v.size[i] = size[i], v.stride[i] = stride[i];
  return v;
}

// kv_append: rows [batch 2, heads 3, seq 3, 37] read through a transposed view
// ([batch, seq, heads, d] storage, offset 5) into a cache of capacity 11 with
// 4 valid rows; the other rows keep their bytes.
template <typename Kernel>
void checkAppend(Kernel kernel, int kvType, size_t width) {
  const long long batch = 2, heads = 3, seq = 3, d = 37, capacity = 11, valid = 4, offset = 5;
  std::vector<float> storage = randomFloats(offset + batch * seq * heads * d, 7, -70000.0f, 70000.0f);
  storage[offset + 1] = 1e-6f; // an fp16 subnormal
  storage[offset + 2] = 65519.0f, storage[offset + 3] = 65520.0f; // fp16: the largest finite, then inf
  bmc_view4 rows = view(storage.data(), offset, {batch, heads, seq, d}, {seq * heads * d, d, heads * d, 1});
  std::vector<unsigned char> cache(batch * heads * capacity * d * width, 0xab);
  std::vector<unsigned char> want = cache;
  for (long long b = 0; b < batch; ++b)
    for (long long h = 0; h < heads; ++h)
      for (long long s = 0; s < seq; ++s) {
        const float *src = storage.data() + offset + b * seq * heads * d + s * heads * d + h * d;
        bmc_convert_f32_to_kv(kvType, src, want.data() + ((b * heads + h) * capacity + valid + s) * d * width, d);
      }
  bmc_kv_buffer buf{cache.data(), batch, capacity, valid};
  void *args[] = {&buf, &rows};
  launch(kernel, {unsigned(seq), unsigned(heads), unsigned(batch)}, 64, args);
  for (size_t i = 0; i < cache.size(); ++i)
    ASSERT_EQ(cache[i], want[i]) << "kv type " << kvType << ", byte " << i;
}

TEST(CudaEmitted, KVAppendMatchesTheCpuConversion) {
  checkAppend(bmc_kv_append_0, BMC_KV_F32, 4);
  checkAppend(bmc_kv_append_1, BMC_KV_F16, 2);
  checkAppend(bmc_kv_append_2, BMC_KV_BF16, 2);
}

struct Case {
  int index;          // emitted attention kernel
  int kvType;
  int heads, kvHeads, d;
  bool maskPadding;   // rows past kv_len read and masked (padded = rows)
  int mask;           // 0: none, 1: [b, 1, s, t] broadcast, 2: [b, heads, s, t]
  float scale, softcap;
  int smooth;
};

void checkAttention(const Case &c, int batch, int seqQ, int kvLen, unsigned seed) {
  const int spare = 7, rows = kvLen + spare, d = c.d, width = c.kvType == BMC_KV_F32 ? 4 : 2;
  const long long kRs = d + 2, kHs = rows * kRs, kBs = c.kvHeads * kHs; // padded rows: odd strides
  const long long qSs = d + 1, qHs = seqQ * qSs, qBs = c.heads * qHs;
  const long long oSs = d + 3, oHs = seqQ * oSs, oBs = c.heads * oHs;
  std::vector<float> q = randomFloats(batch * qBs + 3, seed), kf = randomFloats(batch * kBs, seed + 1);
  for (long long i = 0; i < batch * kBs; ++i)
    if ((i % kHs) / kRs >= kvLen)
      kf[i] = std::numeric_limits<float>::quiet_NaN(); // spare rows: any read shows
  std::vector<unsigned char> kv(kf.size() * width);
  bmc_convert_f32_to_kv(c.kvType, kf.data(), kv.data(), (int64_t)kf.size());
  const int mh = c.mask == 2 ? c.heads : 1;
  std::vector<float> mask = randomFloats(size_t(batch) * mh * seqQ * kvLen, seed + 2, -2.0f, 1.0f);
  for (size_t i = 0; i < mask.size(); ++i)
    if (i % 5 == 1)
      mask[i] = -INFINITY;
  if (c.mask) // one query row masked everywhere: uniform weights on both sides
    for (int t = 0; t < kvLen; ++t)
      mask[size_t(seqQ - 1) * kvLen + t] = -INFINITY;
  const long long mSs = kvLen, mHs = seqQ * mSs, mBs = mh * mHs;

  std::vector<float> got(batch * oBs, 0.0f), want(batch * oBs, 0.0f);
  bmc_attention_args a = {};
  a.batch = batch, a.heads = c.heads, a.kv_heads = c.kvHeads, a.q_len = seqQ, a.kv_len = kvLen;
  a.kv_padded_len = c.maskPadding ? rows : kvLen, a.head_dim = d, a.v_head_dim = d;
  a.q = q.data() + 3, a.q_bs = qBs, a.q_hs = qHs, a.q_rs = qSs;
  a.k = kv.data(), a.k_bs = kBs, a.k_hs = kHs, a.k_rs = kRs;
  a.v = kv.data(), a.v_bs = kBs, a.v_hs = kHs, a.v_rs = kRs;
  a.out = want.data(), a.o_bs = oBs, a.o_hs = oHs, a.o_rs = oSs;
  a.mask = c.mask ? mask.data() : nullptr;
  a.m_bs = mBs, a.m_hs = c.mask == 2 ? mHs : 0, a.m_qs = mSs, a.m_ks = 1;
  a.scale = c.scale, a.kv_type = c.kvType, a.softcap = c.softcap, a.smooth_softmax = c.smooth;
  bmc_attention_f32(nullptr, &a);

  bmc_view4 qv = view(q.data(), 3, {batch, c.heads, seqQ, d}, {qBs, qHs, qSs, 1});
  bmc_view4 kv4 = view(kv.data(), 0, {batch, c.kvHeads, kvLen, d}, {kBs, kHs, kRs, 1});
  bmc_view4 mv = view(mask.data(), 0, {batch, mh, seqQ, kvLen}, {mBs, c.mask == 2 ? mHs : 123, mSs, 1});
  bmc_view4 ov = view(got.data(), 0, {batch, c.heads, seqQ, d}, {oBs, oHs, oSs, 1});
  long long padded = rows;
  int rowsPerSplit = 32, splits = ((c.maskPadding ? rows : kvLen) + rowsPerSplit - 1) / rowsPerSplit;
  std::vector<float> partialOut(size_t(batch) * seqQ * c.heads * splits * d), partialLse(size_t(batch) * seqQ * c.heads * splits);
  float *po = partialOut.data(), *pl = partialLse.data();
  std::vector<void *> args = {&qv, &kv4, &kv4};
  if (c.mask)
    args.push_back(&mv);
  if (c.maskPadding)
    args.push_back(&padded);
  for (void *p : {(void *)&ov, (void *)&po, (void *)&pl, (void *)&rowsPerSplit, (void *)&splits})
    args.push_back(p);
  Dim3 split{unsigned(splits), unsigned(c.kvHeads), unsigned(batch * seqQ)}, combine{unsigned(c.heads), unsigned(batch * seqQ), 1};
  switch (c.index) {
  case 0:
    launch(bmc_attention_0_split, split, BMC_ATTN_THREADS, args.data());
    launch(bmc_attention_0_combine, combine, BMC_ATTN_THREADS, args.data());
    break;
  case 1:
    launch(bmc_attention_1_split, split, BMC_ATTN_THREADS, args.data());
    launch(bmc_attention_1_combine, combine, BMC_ATTN_THREADS, args.data());
    break;
  case 2:
    launch(bmc_attention_2_split, split, BMC_ATTN_THREADS, args.data());
    launch(bmc_attention_2_combine, combine, BMC_ATTN_THREADS, args.data());
    break;
  }
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < c.heads; ++h)
      for (int s = 0; s < seqQ; ++s)
        for (int i = 0; i < d; ++i) {
          long long at = b * oBs + h * oHs + s * oSs + i;
          ASSERT_NEAR(got[at], want[at], 2e-5) << "attention " << c.index << " seq " << seqQ << " kv_len " << kvLen
                                               << " b " << b << " h " << h << " s " << s << " i " << i;
        }
}

TEST(CudaEmitted, AttentionMatchesTheCpuKernel) {
  const Case cases[] = {
      {0, BMC_KV_F32, 4, 4, 37, false, 0, 0.164f, 0.0f, 0},
      {1, BMC_KV_BF16, 6, 2, 37, true, 1, 0.3f, 0.0f, 0},
      {2, BMC_KV_F16, 4, 2, 24, false, 2, 0.2f, 5.0f, 1},
  };
  unsigned seed = 100;
  for (const Case &c : cases)
    for (int seqQ : {1, 5})
      for (int kvLen : {1, 45}) {
        checkAttention(c, 2, seqQ, kvLen, seed += 3);
        if (HasFatalFailure())
          return;
      }
}

} // namespace
