//===- runtime/device/KernelLibrary.cpp - the CUDA C kernel library -------===//

#include "runtime/device/KernelLibrary.h"

#include "runtime/device/EmittedLauncher.h"

#include <algorithm>

namespace bmc {
namespace device {

namespace {

// {file name, contents} of runtime/device/cuda/*, generated at configure time.
struct EmbeddedFile {
  const char *name;
  const char *text;
};
const EmbeddedFile kEmbedded[] = {
#include "runtime/device/CudaSources.inc"
};

std::string embedded(const std::string &name) {
  for (const EmbeddedFile &f : kEmbedded)
    if (name == f.name)
      return f.text;
  return "#error \"kernel source " + name + " was not embedded\"\n";
}

CudaKernelFamily family(std::string name, std::string file, std::vector<std::string> kernels) {
  std::string source = embedded("decode_attention_params.h") + embedded("common.cuh") + embedded(file);
  return CudaKernelFamily{std::move(name), std::move(kernels), std::move(source)};
}

} // namespace

const std::vector<CudaKernelFamily> &cudaKernelFamilies() {
  static const std::vector<CudaKernelFamily> families = {
      family("gemv", "gemv.cuh", {"bmc_gemv_f32", "bmc_gemv_f16", "bmc_gemv_bf16", "bmc_gemv_splitk_reduce"}),
      family("norm", "norm.cuh", {"bmc_rms_norm", "bmc_layer_norm"}),
      family("rope", "rope.cuh", {"bmc_rope_halves", "bmc_rope_interleaved"}),
      family("elementwise", "elementwise.cuh", {"bmc_silu_mul", "bmc_add"}),
      family("decode_attention", "decode_attention.cuh",
             {"bmc_decode_attention_split_f32", "bmc_decode_attention_split_f16",
              "bmc_decode_attention_split_bf16", "bmc_decode_attention_combine"}),
  };
  return families;
}

std::string cudaEmittedKernelSource(const std::string &emitted) {
  return "#define BMC_NO_LIBRARY_KERNELS 1\n" + embedded("decode_attention_params.h") + embedded("common.cuh") +
         embedded("kv_append.cuh") + embedded("decode_attention.cuh") + embedded("gemv.cuh") + embedded("matmul.cuh") +
         embedded("norm.cuh") + embedded("elementwise.cuh") + embedded("data.cuh") + emitted;
}

const char *elementTypeName(ElementType t) {
  switch (t) {
  case ElementType::F32:
    return "f32";
  case ElementType::F16:
    return "f16";
  case ElementType::BF16:
    return "bf16";
  }
  return "?";
}

Result<std::unique_ptr<CudaKernels>> CudaKernels::create(Device &device, std::string arch,
                                                         std::string cacheDir) {
  const DeviceProperties &props = device.properties();
  if (props.kind != "cuda")
    return Status::error("cuda kernels: device '" + props.name + "' is not a CUDA device");
  if (arch.empty())
    arch = "sm_" + std::to_string(props.computeMajor) + std::to_string(props.computeMinor);
  auto nvrtc = Nvrtc::load();
  if (!nvrtc)
    return nvrtc.status();
  std::vector<ModuleHandle> modules;
  for (const CudaKernelFamily &f : cudaKernelFamilies()) {
    NvrtcRequest req;
    req.source = f.source;
    req.name = f.name + ".cu";
    req.arch = arch;
    req.cacheDir = cacheDir;
    auto out = nvrtc.value()->compile(req);
    if (!out)
      return out.status();
    ModuleImage image;
    image.format = ModuleFormat::Cubin;
    image.bytes = std::move(out->cubin);
    auto module = device.loadModule(image);
    if (!module)
      return module.status();
    modules.push_back(module.value());
  }
  auto k = fromModules(device, modules);
  if (k)
    k.value()->arch_ = arch;
  return k;
}

Result<std::unique_ptr<CudaKernels>> CudaKernels::fromModules(Device &device,
                                                              const std::vector<ModuleHandle> &modules) {
  const auto &families = cudaKernelFamilies();
  if (modules.size() != families.size())
    return Status::error("cuda kernels: " + std::to_string(modules.size()) + " modules for " +
                         std::to_string(families.size()) + " kernel families");
  std::unique_ptr<CudaKernels> k(new CudaKernels(device));
  k->arch_ = device.properties().kind;
  for (size_t i = 0; i < families.size(); ++i)
    for (const std::string &name : families[i].kernels) {
      auto handle = device.findKernel(modules[i], name);
      if (!handle)
        return handle.status();
      k->kernels_[name] = handle.value();
    }
  return k;
}

Result<KernelHandle> CudaKernels::kernel(const std::string &name) const {
  auto it = kernels_.find(name);
  if (it == kernels_.end())
    return Status::error("cuda kernels: no kernel '" + name + "'");
  return it->second;
}

namespace {

uint32_t ceilDiv(int64_t a, int64_t b) { return uint32_t((a + b - 1) / b); }

Status positive(const char *call, const char *what, int64_t v) {
  if (v > 0)
    return Status();
  return Status::error(std::string("cuda kernels: ") + call + ": " + what + " = " +
                       std::to_string(v) + ", expected > 0");
}

} // namespace

// Launch shapes; the constants match the kernels' #defines.
constexpr int kGemvWarps = 4, kGemvRows = 2, kNormThreads = 256, kAttnThreads = 128;

int CudaKernels::gemvSplits(int n, int k) const {
  // The emitted products' rule (EmittedLauncher.h), for one row.
  return int(planMatMulSplits(1, n, k, kGemvWarps * kGemvRows, device_.properties().multiprocessors));
}

Status CudaKernels::gemv(ElementType w, DevicePtr weights, int64_t ldw, DevicePtr x, DevicePtr y,
                         int n, int k, int splits, DevicePtr workspace) {
  for (Status s : {positive("gemv", "n", n), positive("gemv", "k", k), positive("gemv", "splits", splits)})
    if (!s)
      return s;
  if (ldw < k)
    return Status::error("cuda kernels: gemv: ldw " + std::to_string(ldw) + " < k " +
                         std::to_string(k));
  if (splits > 1 && !workspace)
    return Status::error("cuda kernels: gemv: " + std::to_string(splits) +
                         " splits need a workspace of splits * n floats");
  auto kern = kernel(std::string("bmc_gemv_") + elementTypeName(w));
  if (!kern)
    return kern.status();
  // Chunks rounded to 8 elements keep every split's 128-bit loads aligned.
  int chunk = int((int64_t(k) + splits - 1) / splits);
  chunk = (chunk + 7) / 8 * 8;
  splits = int(ceilDiv(k, chunk));
  DevicePtr out = splits > 1 ? workspace : y;
  void *args[] = {&weights, &ldw, &x, &out, &n, &k, &chunk};
  LaunchConfig c;
  c.grid = {ceilDiv(n, kGemvWarps * kGemvRows), uint32_t(splits), 1};
  c.block = {uint32_t(kGemvWarps * 32), 1, 1};
  if (Status s = device_.launch(kern.value(), c, args); !s || splits == 1)
    return s;
  auto reduce = kernel("bmc_gemv_splitk_reduce");
  if (!reduce)
    return reduce.status();
  void *rargs[] = {&workspace, &y, &n, &splits};
  LaunchConfig rc;
  rc.grid = {std::min<uint32_t>(ceilDiv(n, 256), 4096), 1, 1};
  rc.block = {256, 1, 1};
  return device_.launch(reduce.value(), rc, rargs);
}

Status CudaKernels::rmsNorm(DevicePtr x, int64_t ldx, DevicePtr gamma, DevicePtr out, int64_t ldo,
                            int rows, int n, float eps) {
  for (Status s : {positive("rmsNorm", "rows", rows), positive("rmsNorm", "n", n)})
    if (!s)
      return s;
  auto kern = kernel("bmc_rms_norm");
  if (!kern)
    return kern.status();
  void *args[] = {&x, &ldx, &gamma, &out, &ldo, &n, &eps};
  LaunchConfig c;
  c.grid = {uint32_t(rows), 1, 1};
  c.block = {uint32_t(kNormThreads), 1, 1};
  return device_.launch(kern.value(), c, args);
}

Status CudaKernels::layerNorm(DevicePtr x, int64_t ldx, DevicePtr gamma, DevicePtr beta,
                              DevicePtr out, int64_t ldo, int rows, int n, float eps) {
  for (Status s : {positive("layerNorm", "rows", rows), positive("layerNorm", "n", n)})
    if (!s)
      return s;
  auto kern = kernel("bmc_layer_norm");
  if (!kern)
    return kern.status();
  void *args[] = {&x, &ldx, &gamma, &beta, &out, &ldo, &n, &eps};
  LaunchConfig c;
  c.grid = {uint32_t(rows), 1, 1};
  c.block = {uint32_t(kNormThreads), 1, 1};
  return device_.launch(kern.value(), c, args);
}

Status CudaKernels::rope(bool interleaved, DevicePtr x, int64_t tokenStride, int64_t headStride,
                         int tokens, int heads, int headDim, int rotDim, DevicePtr positions,
                         DevicePtr cosTable, DevicePtr sinTable, int maxPos, DevicePtr badPosition) {
  for (Status s : {positive("rope", "tokens", tokens), positive("rope", "heads", heads),
                   positive("rope", "rot_dim", rotDim), positive("rope", "max_pos", maxPos)})
    if (!s)
      return s;
  if (rotDim % 2 || rotDim > headDim)
    return Status::error("cuda kernels: rope: rot_dim " + std::to_string(rotDim) +
                         ", expected even and <= head_dim " + std::to_string(headDim));
  auto kern = kernel(interleaved ? "bmc_rope_interleaved" : "bmc_rope_halves");
  if (!kern)
    return kern.status();
  void *args[] = {&x, &tokenStride, &headStride, &heads, &rotDim, &positions,
                  &cosTable, &sinTable, &maxPos, &badPosition};
  LaunchConfig c;
  c.grid = {uint32_t(tokens), 1, 1};
  c.block = {128, 1, 1};
  return device_.launch(kern.value(), c, args);
}

namespace {
LaunchConfig elementwiseShape(int64_t n, int multiprocessors) {
  LaunchConfig c;
  int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((n / 4 + 255) / 256,
                                                           8 * std::max(1, multiprocessors)));
  c.grid = {uint32_t(blocks), 1, 1};
  c.block = {256, 1, 1};
  return c;
}
} // namespace

Status CudaKernels::siluMul(DevicePtr a, DevicePtr b, DevicePtr out, int64_t n) {
  if (Status s = positive("siluMul", "n", n); !s)
    return s;
  auto kern = kernel("bmc_silu_mul");
  if (!kern)
    return kern.status();
  long long count = n;
  void *args[] = {&a, &b, &out, &count};
  return device_.launch(kern.value(), elementwiseShape(n, device_.properties().multiprocessors), args);
}

Status CudaKernels::add(DevicePtr a, DevicePtr b, DevicePtr out, int64_t n) {
  if (Status s = positive("add", "n", n); !s)
    return s;
  auto kern = kernel("bmc_add");
  if (!kern)
    return kern.status();
  long long count = n;
  void *args[] = {&a, &b, &out, &count};
  return device_.launch(kern.value(), elementwiseShape(n, device_.properties().multiprocessors), args);
}

void CudaKernels::planDecodeAttention(bmc_decode_attention_params &p, int multiprocessors) {
  int64_t blocks = int64_t(std::max(1, p.batch)) * std::max(1, p.seq) * std::max(1, p.kv_heads);
  int64_t rows = p.rows_per_split, splits = p.splits;
  planAttentionSplits(blocks, std::max(0, p.kv_rows), BMC_ATTN_MAX_ROWS_PER_SPLIT, multiprocessors, rows, splits);
  p.rows_per_split = int(rows), p.splits = int(splits);
}

Status CudaKernels::decodeAttention(ElementType kv, bmc_decode_attention_params &p) {
  for (Status s : {positive("decodeAttention", "batch", p.batch),
                   positive("decodeAttention", "heads", p.heads),
                   positive("decodeAttention", "kv_heads", p.kv_heads),
                   positive("decodeAttention", "head_dim", p.head_dim),
                   p.seq < 0 ? positive("decodeAttention", "seq", p.seq) : Status()})
    if (!s)
      return s;
  if (p.heads % p.kv_heads || p.heads / p.kv_heads > BMC_ATTN_MAX_GROUP)
    return Status::error("cuda kernels: decodeAttention: heads " + std::to_string(p.heads) +
                         " / kv_heads " + std::to_string(p.kv_heads) +
                         ": expected a whole group of at most " +
                         std::to_string(BMC_ATTN_MAX_GROUP));
  if (p.head_dim > BMC_ATTN_MAX_HEAD_DIM)
    return Status::error("cuda kernels: decodeAttention: head_dim " + std::to_string(p.head_dim) +
                         " > " + std::to_string(BMC_ATTN_MAX_HEAD_DIM));
  if (p.kv_len < 0 || p.kv_rows < p.kv_len)
    return Status::error("cuda kernels: decodeAttention: kv_len " + std::to_string(p.kv_len) +
                         ", kv_rows " + std::to_string(p.kv_rows) +
                         ": expected 0 <= kv_len <= kv_rows");
  planDecodeAttention(p, device_.properties().multiprocessors);
  if (p.rows_per_split > BMC_ATTN_MAX_ROWS_PER_SPLIT ||
      int64_t(p.splits) * p.rows_per_split < p.kv_rows)
    return Status::error("cuda kernels: decodeAttention: " + std::to_string(p.splits) + " splits of " +
                         std::to_string(p.rows_per_split) + " rows do not cover " +
                         std::to_string(p.kv_rows) + " rows (at most " +
                         std::to_string(BMC_ATTN_MAX_ROWS_PER_SPLIT) + " per split)");
  auto split = kernel(std::string("bmc_decode_attention_split_") + elementTypeName(kv));
  auto combine = kernel("bmc_decode_attention_combine");
  if (!split)
    return split.status();
  if (!combine)
    return combine.status();
  void *args[] = {&p};
  LaunchConfig c;
  uint32_t rows = uint32_t(p.batch) * uint32_t(std::max(1, p.seq)); // query rows
  c.grid = {uint32_t(p.splits), uint32_t(p.kv_heads), rows};
  c.block = {uint32_t(kAttnThreads), 1, 1};
  if (Status s = device_.launch(split.value(), c, args); !s)
    return s;
  LaunchConfig cc;
  cc.grid = {uint32_t(p.heads), rows, 1};
  cc.block = {uint32_t(kAttnThreads), 1, 1};
  return device_.launch(combine.value(), cc, args);
}

} // namespace device
} // namespace bmc
