//===- Model.cpp - running compiled code -----------------------------------===//

#include "bmc/model.h"
#include "runtime/DeviceModel.h"
#include "runtime/ExecContext.h"
#include "bmc/abi/kernels.h"
#include "runtime/kernels/thread_pool.h"

#include <map>
#include <thread>

namespace bmc {

CodeImage::~CodeImage() = default;
Model::~Model() = default;

static std::shared_ptr<ThreadPool> makePool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  return std::make_shared<ThreadPool>(threads);
}

std::shared_ptr<Model> Model::fromParts(std::shared_ptr<CodeImage> code, std::shared_ptr<const uint8_t> weights,
                                        size_t weightBytes, ModelSignature sig, const LoadOptions &opts) {
  std::shared_ptr<Model> m(new Model());
  m->code_ = std::move(code);
  m->weights_ = std::move(weights);
  m->weightBytes_ = weightBytes;
  m->sig_ = std::move(sig);
  m->pool_ = makePool(opts.threads);
  m->entry_ = m->code_->entry();
  m->codeDesc_ = m->code_->describe();
  return m;
}

std::shared_ptr<Model> Model::fromDevice(std::shared_ptr<DeviceModel> device, std::shared_ptr<const uint8_t> weights,
                                         size_t weightBytes, ModelSignature sig, const LoadOptions &opts) {
  std::shared_ptr<Model> m(new Model());
  m->device_ = std::move(device); // not null (startDeviceGeneration)
  m->weights_ = std::move(weights);
  m->weightBytes_ = weightBytes;
  m->sig_ = std::move(sig);
  m->pool_ = makePool(opts.threads); // sampling and the host side of sessions
  m->codeDesc_ = "device " + m->device_->device->properties().name + ": " + m->device_->binary;
  return m;
}

Status Model::invoke(void **io, std::vector<Tensor> &outputs, bool lastTokenLogits) const {
  if (!entry_)
    return Status::error("Model: this model runs on a device (loaded with device cuda): run it through a bmc::Session");
  thread_local Arena arena;
  arena.reset();
  bmc_exec_ctx ctx;
  ctx.weights = weights_.get();
  ctx.pool = pool_.get();
  ctx.arena = &arena;
  ctx.sig = &sig_;
  outputs.assign(sig_.outputs.size(), Tensor());
  ctx.outputs = &outputs;
  ctx.lastTokenLogits = lastTokenLogits;
  auto entry = reinterpret_cast<bmc_entry_fn>(entry_);
  // bmc_rt_fail unwinds here; generated code holds no resources to release.
  if (setjmp(ctx.unwind) != 0) return Status::error(ctx.error);
  entry(&ctx, io);
  return Status();
}

Result<std::vector<Tensor>> Model::run(const std::vector<Tensor> &inputs, const RunOptions &) const {
  if (device_)
    return Status::error("Model::run: this model was loaded for device cuda, whose programs run through a "
                         "bmc::Session only (prefill / step / generate)");
  if (inputs.size() != sig_.inputs.size())
    return Status::error("expected " + std::to_string(sig_.inputs.size()) + " inputs, found " +
                         std::to_string(inputs.size()));
  std::vector<bmc_tensor_ref> refs(inputs.size());
  std::vector<void *> io(inputs.size());
  std::map<std::string, std::pair<int64_t, std::string>> named;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorInfo &info = sig_.inputs[i];
    const Tensor &t = inputs[i];
    std::string where = "input " + std::to_string(i) + " '" + info.name + "'";
    if (info.kvSlot >= 0)
      return Status::error(where + " is a KV cache managed by the runtime: use a bmc::Session");
    if (t.dtype() != info.dtype)
      return Status::error(where + ": expected dtype " + dtypeName(info.dtype) + ", found " + dtypeName(t.dtype()));
    if (t.rank() != int64_t(info.shape.size()))
      return Status::error(where + ": expected rank " + std::to_string(info.shape.size()) + ", found " +
                           std::to_string(t.rank()) + " (" + t.describe() + ")");
    if (t.rank() > BMC_MAX_RANK) return Status::error(where + ": rank above 8 is not supported");
    for (int64_t d = 0; d < t.rank(); ++d) {
      int64_t want = info.shape[size_t(d)], got = t.shape()[size_t(d)];
      if (got < 0) return Status::error(where + ": negative dimension " + std::to_string(got));
      if (want >= 0 && want != got)
        return Status::error(where + ": expected dimension " + std::to_string(d) + " = " + std::to_string(want) +
                             ", found " + std::to_string(got));
      const std::string &dn = d < int64_t(info.dimNames.size()) ? info.dimNames[size_t(d)] : std::string();
      if (want < 0 && !dn.empty()) {
        auto [it, inserted] = named.try_emplace(dn, got, info.name);
        if (!inserted && it->second.first != got)
          return Status::error(where + ": dimension '" + dn + "' = " + std::to_string(got) + ", but input '" +
                               it->second.second + "' has it = " + std::to_string(it->second.first));
      }
      refs[i].dims[d] = got;
    }
    refs[i].data = const_cast<void *>(t.raw());
    io[i] = &refs[i];
  }
  std::vector<Tensor> outputs;
  Status s = invoke(io.data(), outputs);
  if (!s.ok()) return s;
  return outputs;
}

std::string kernelIsa() { return bmc_kernels_isa(); }

} // namespace bmc
