//===- ExecContext.cpp - the bmc_rt_* functions generated code calls ------===//

#include "runtime/ExecContext.h"
#include "bmc/abi/kernels.h"
#include "runtime/kernels/kernels_internal.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace bmc {

Arena::~Arena() {
  for (Chunk &c : chunks_) std::free(c.data);
  std::free(planned_);
}

void *Arena::planned(int64_t bytes) {
  size_t n = (size_t(bytes < 0 ? 0 : bytes) + 4095) & ~size_t(4095);
  if (n > plannedSize_) {
    std::free(planned_);
    planned_ = static_cast<uint8_t *>(std::aligned_alloc(4096, std::max<size_t>(n, 4096)));
    if (!planned_) throw std::bad_alloc();
    plannedSize_ = n;
  }
  highWater_ = std::max(highWater_, n);
  return planned_;
}

void *Arena::alloc(int64_t bytes) {
  size_t n = (size_t(bytes < 0 ? 0 : bytes) + 63) & ~size_t(63);
  if (n == 0) n = 64;
  if (chunks_.empty() || used_ + n > chunks_.back().size) {
    size_t size = std::max<size_t>(n, chunks_.empty() ? (1u << 20) : chunks_.back().size * 2);
    uint8_t *p = static_cast<uint8_t *>(std::aligned_alloc(64, size));
    if (!p) throw std::bad_alloc();
    chunks_.push_back({p, size});
    used_ = 0;
  }
  void *r = chunks_.back().data + used_;
  used_ += n;
  inCall_ += n;
  return r;
}

void Arena::reset() {
  highWater_ = std::max(highWater_, inCall_);
  if (chunks_.size() > 1) {
    size_t total = 0;
    for (Chunk &c : chunks_) { total += c.size; std::free(c.data); }
    chunks_.clear();
    uint8_t *p = static_cast<uint8_t *>(std::aligned_alloc(64, total));
    if (!p) throw std::bad_alloc();
    chunks_.push_back({p, total});
  }
  used_ = 0;
  inCall_ = 0;
}

size_t Arena::capacity() const {
  size_t t = 0;
  for (const Chunk &c : chunks_) t += c.size;
  return t;
}

} // namespace bmc

extern "C" {

void *bmc_rt_alloc(bmc_exec_ctx *ctx, int64_t bytes) { return ctx->arena->alloc(bytes); }

void *bmc_rt_arena(bmc_exec_ctx *ctx, int64_t bytes) { return ctx->arena->planned(bytes); }

int64_t bmc_rt_last_token_logits(bmc_exec_ctx *ctx) { return ctx->lastTokenLogits ? 1 : 0; }

void *bmc_rt_output(bmc_exec_ctx *ctx, int64_t index, int64_t elementBytes, int64_t rank, const int64_t *dims) {
  const bmc::TensorInfo &info = ctx->sig->outputs[size_t(index)];
  // The signature's dtype sizes the buffer the code fills: they must agree
  // (a package whose metadata says float16 for code that writes f32 would
  // overflow it).
  if (int64_t(bmc::elementSize(info.dtype)) != elementBytes) {
    { // no std::string alive across the longjmp (as in bmc_rt_fail)
      ctx->error = "output " + std::to_string(index) + " '" + info.name + "': the compiled code writes " +
                   std::to_string(elementBytes) + "-byte elements, the package's signature says " +
                   bmc::dtypeName(info.dtype) + " (" + std::to_string(bmc::elementSize(info.dtype)) + " bytes)";
    }
    std::longjmp(ctx->unwind, 1);
  }
  std::vector<int64_t> shape(dims, dims + rank);
  // Not zeroed: generated code copies a whole value (every element) into each
  // output right after this call (Lowerer::run). A fill would be one more
  // write of the whole buffer, per token for concat mode's `present` outputs.
  bmc::Tensor t = bmc::Tensor::uninitialized(info.dtype, shape);
  (*ctx->outputs)[size_t(index)] = t;
  return t.raw();
}

const void *bmc_rt_weights(bmc_exec_ctx *ctx) { return ctx->weights; }

void *bmc_rt_pool(bmc_exec_ctx *ctx) { return ctx->pool; }

void bmc_rt_fail(bmc_exec_ctx *ctx, const char *message, int64_t a, int64_t b) {
  {
    // longjmp skips destructors: every local with storage must be gone before
    // it (LeakSanitizer found the message leaking once per failed run).
    std::string m = message;
    for (auto [key, v] : {std::pair<const char *, int64_t>{"{0}", a}, {"{1}", b}}) {
      size_t p = m.find(key);
      if (p != std::string::npos) m.replace(p, 3, std::to_string(v));
    }
    ctx->error = std::move(m);
  }
  std::longjmp(ctx->unwind, 1);
}

void bmc_rt_copy4(void *dst, const void *src, int64_t e, int64_t n0, int64_t n1, int64_t n2, int64_t n3, int64_t d0,
                  int64_t d1, int64_t d2, int64_t d3, int64_t s0, int64_t s1, int64_t s2, int64_t s3) {
  auto *D = static_cast<uint8_t *>(dst);
  auto *S = static_cast<const uint8_t *>(src);
  bool runs = d3 == 1 && s3 == 1;
  for (int64_t i0 = 0; i0 < n0; ++i0)
    for (int64_t i1 = 0; i1 < n1; ++i1)
      for (int64_t i2 = 0; i2 < n2; ++i2) {
        uint8_t *dp = D + (i0 * d0 + i1 * d1 + i2 * d2) * e;
        const uint8_t *sp = S + (i0 * s0 + i1 * s1 + i2 * s2) * e;
        if (runs) {
          std::memcpy(dp, sp, size_t(n3 * e));
          continue;
        }
        for (int64_t i3 = 0; i3 < n3; ++i3) std::memcpy(dp + i3 * d3 * e, sp + i3 * s3 * e, size_t(e));
      }
}

void bmc_rt_copy4_to_kv(void *dst, const float *src, int64_t kvType, int64_t ref, int64_t n0, int64_t n1,
                        int64_t n2, int64_t n3, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t s0,
                        int64_t s1, int64_t s2, int64_t s3) {
  const int32_t t = int32_t(kvType);
  const int64_t e = bmc_kv_elem_bytes(t);
  auto *D = static_cast<uint8_t *>(dst);
  auto convert = [&](const float *from, uint8_t *to, int64_t n) {
    if (ref) bmc::kernels::ref::convertToKV(t, from, to, n);
    else bmc_convert_f32_to_kv(t, from, to, n);
  };
  for (int64_t i0 = 0; i0 < n0; ++i0)
    for (int64_t i1 = 0; i1 < n1; ++i1)
      for (int64_t i2 = 0; i2 < n2; ++i2) {
        uint8_t *dp = D + (i0 * d0 + i1 * d1 + i2 * d2) * e;
        const float *sp = src + (i0 * s0 + i1 * s1 + i2 * s2);
        if (d3 == 1 && s3 == 1) {
          convert(sp, dp, n3);
          continue;
        }
        for (int64_t i3 = 0; i3 < n3; ++i3) convert(sp + i3 * s3, dp + i3 * d3 * e, 1);
      }
}

static bmc_attention_args unpackAttention(const int64_t *p) {
  bmc_attention_args a;
  a.batch = p[BMC_ATT_BATCH];
  a.heads = p[BMC_ATT_HEADS];
  a.kv_heads = p[BMC_ATT_KV_HEADS];
  a.q_len = p[BMC_ATT_Q_LEN];
  a.kv_len = p[BMC_ATT_KV_LEN];
  a.kv_padded_len = p[BMC_ATT_KV_PADDED_LEN];
  a.head_dim = p[BMC_ATT_HEAD_DIM];
  a.v_head_dim = p[BMC_ATT_V_HEAD_DIM];
  a.q = reinterpret_cast<const float *>(p[BMC_ATT_Q]);
  a.q_bs = p[BMC_ATT_Q_BS]; a.q_hs = p[BMC_ATT_Q_HS]; a.q_rs = p[BMC_ATT_Q_RS];
  a.k = reinterpret_cast<const void *>(p[BMC_ATT_K]);
  a.k_bs = p[BMC_ATT_K_BS]; a.k_hs = p[BMC_ATT_K_HS]; a.k_rs = p[BMC_ATT_K_RS];
  a.v = reinterpret_cast<const void *>(p[BMC_ATT_V]);
  a.v_bs = p[BMC_ATT_V_BS]; a.v_hs = p[BMC_ATT_V_HS]; a.v_rs = p[BMC_ATT_V_RS];
  a.out = reinterpret_cast<float *>(p[BMC_ATT_OUT]);
  a.o_bs = p[BMC_ATT_O_BS]; a.o_hs = p[BMC_ATT_O_HS]; a.o_rs = p[BMC_ATT_O_RS];
  a.mask = reinterpret_cast<const float *>(p[BMC_ATT_MASK]);
  a.m_bs = p[BMC_ATT_M_BS]; a.m_hs = p[BMC_ATT_M_HS]; a.m_qs = p[BMC_ATT_M_QS]; a.m_ks = p[BMC_ATT_M_KS];
  uint32_t bits = uint32_t(p[BMC_ATT_SCALE_BITS]);
  std::memcpy(&a.scale, &bits, 4);
  a.kv_type = int32_t(p[BMC_ATT_KV_TYPE]);
  bits = uint32_t(p[BMC_ATT_SOFTCAP_BITS]);
  std::memcpy(&a.softcap, &bits, 4);
  a.smooth_softmax = int32_t(p[BMC_ATT_SMOOTH_SOFTMAX]);
  return a;
}

void bmc_rt_attention(bmc_exec_ctx *ctx, const int64_t *p) {
  bmc_attention_args a = unpackAttention(p);
  bmc_attention_f32(ctx->pool, &a);
}

void bmc_rt_attention_ref(bmc_exec_ctx *ctx, const int64_t *p) {
  bmc_attention_args a = unpackAttention(p);
  bmc::kernels::ref::attention(static_cast<bmc::ThreadPool *>(ctx->pool), a);
}


// fptrunc float -> bfloat: LLVM calls this compiler-rt builtin where the CPU
// has no conversion instruction (before AVX512-BF16, e.g. Zen 3); generated
// code (the JIT and packages, whose undefined symbols resolve against the
// loaded libbmc_runtime) finds it here, since libgcc_s before GCC 13 lacks it.
// Round to nearest even, as vcvtneps2bf16; a NaN stays a quiet NaN of its
// sign. The result is built from its bits (a conversion written in C++ would
// compile to a call to this very function).
__bf16 __truncsfbf2(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  uint16_t h = (u & 0x7fffffffu) > 0x7f800000u ? uint16_t((u >> 16) | 0x40u)
                                                : uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  return __builtin_bit_cast(__bf16, h);
}

} // extern "C"
