//===- runtime/device/Gemm.cpp - GEMM checks and the host loop -------------===//

#include "runtime/device/Gemm.h"

#include "bmc/abi/kernels.h"

#include <vector>

namespace bmc {
namespace device {

const char *gemmTypeName(GemmType t) {
  switch (t) {
  case GemmType::F32:
    return "f32";
  case GemmType::F16:
    return "f16";
  case GemmType::BF16:
    return "bf16";
  }
  return "?";
}

size_t gemmTypeBytes(GemmType t) { return t == GemmType::F32 ? 4 : 2; }

Status checkGemm(const GemmDesc &g, const char *who) {
  auto bad = [&](const std::string &what) {
    return Status::error(std::string(who) + ": gemm: " + what);
  };
  if (g.m < 1 || g.n < 1 || g.k < 1)
    return bad("sizes m " + std::to_string(g.m) + ", n " + std::to_string(g.n) + ", k " +
               std::to_string(g.k) + ": each must be at least 1");
  auto ld = [&](const char *name, int64_t have, int64_t need, const char *why) -> Status {
    if (have < need)
      return bad(std::string(name) + " " + std::to_string(have) + " is less than " + why + " " +
                 std::to_string(need));
    return Status();
  };
  if (Status s = ld("lda", g.lda, g.transA ? g.m : g.k, g.transA ? "m (A is k x m)" : "k (A is m x k)");
      !s)
    return s;
  if (Status s = ld("ldb", g.ldb, g.transB ? g.k : g.n, g.transB ? "k (B is n x k)" : "n (B is k x n)");
      !s)
    return s;
  if (Status s = ld("ldc", g.ldc, g.n, "n (C is m x n)"); !s)
    return s;
  if (g.cType != GemmType::F32 && g.cType != g.abType)
    return bad(std::string("C of type ") + gemmTypeName(g.cType) + " with A and B of type " +
               gemmTypeName(g.abType) + " (C is f32 or A's type)");
  if (!g.a || !g.b || !g.c)
    return bad(std::string("null ") + (!g.a ? "A" : !g.b ? "B" : "C"));
  return Status();
}

namespace {

int kvCode(GemmType t) {
  return t == GemmType::F32 ? BMC_KV_F32 : t == GemmType::F16 ? BMC_KV_F16 : BMC_KV_BF16;
}

// Element (r, c) of the stored matrix at `base` (row stride `ld`), widened.
float load(GemmType t, DevicePtr base, int64_t ld, int64_t r, int64_t c) {
  size_t width = gemmTypeBytes(t);
  const void *p = reinterpret_cast<const unsigned char *>(base) + size_t(r * ld + c) * width;
  float v;
  if (t == GemmType::F32)
    v = *static_cast<const float *>(p);
  else
    bmc_convert_kv_to_f32(kvCode(t), p, &v, 1);
  return v;
}

} // namespace

void hostGemm(const GemmDesc &g) {
  // op(A) and op(B) widened to fp32 once: the loop below is the plain definition.
  std::vector<float> a(size_t(g.m * g.k)), b(size_t(g.k * g.n));
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t p = 0; p < g.k; ++p)
      a[size_t(i * g.k + p)] = g.transA ? load(g.abType, g.a, g.lda, p, i)
                                        : load(g.abType, g.a, g.lda, i, p);
  for (int64_t p = 0; p < g.k; ++p)
    for (int64_t j = 0; j < g.n; ++j)
      b[size_t(p * g.n + j)] = g.transB ? load(g.abType, g.b, g.ldb, j, p)
                                        : load(g.abType, g.b, g.ldb, p, j);
  size_t cw = gemmTypeBytes(g.cType);
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      float acc = 0.0f;
      for (int64_t p = 0; p < g.k; ++p)
        acc += a[size_t(i * g.k + p)] * b[size_t(p * g.n + j)];
      float out = g.alpha * acc;
      if (g.beta != 0.0f)
        out += g.beta * load(g.cType, g.c, g.ldc, i, j);
      void *dst = reinterpret_cast<unsigned char *>(g.c) + size_t(i * g.ldc + j) * cw;
      if (g.cType == GemmType::F32)
        *static_cast<float *>(dst) = out;
      else
        bmc_convert_f32_to_kv(kvCode(g.cType), &out, dst, 1);
    }
}

} // namespace device
} // namespace bmc
