//===- Session.cpp - prefill, step, generate; KV caches and the BMC policy -===//

#include "bmc/session.h"
#include "bmc/cost_model.h"
#include "bmc/abi/entry.h"
#include "runtime/DeviceModel.h"
#include "runtime/KVMemory.h"
#include "runtime/device/DeviceCalibration.h"
#include "bmc/abi/kernels.h"
#include "bmc/abi/limits.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace bmc {

/// One layer's keys or values.
struct Session::Cache {
  int64_t heads = 0, headDim = 0;
  int64_t elemBytes = 4; // of the in-place buffer: 4 (f32) or 2 (bf16, f16)
  // concat mode: the present tensor of the last step, fed back as past.
  Tensor past;
  // in-place modes: [batch, heads, capacity, head_dim], rows < valid used.
  uint8_t *data = nullptr;
  size_t reserved = 0; // bytes actually mapped for `data`
  int64_t capacity = 0;
  size_t budget = 0; // bytes of the process KV budget held (the capacity's)
  bmc_kv_ref ref{};
  ~Cache() { release(); }
  void release() {
    freeKV(data, reserved);
    returnKVBudget(budget);
    data = nullptr;
    reserved = 0;
    capacity = 0;
    budget = 0;
  }
  int64_t rowBytes(int64_t batch) const { return batch * heads * headDim * elemBytes; }
};

/// A device model's generation: the package's decoder program on the device
/// (runtime/device/DeviceGeneration), one row per prompt.
struct Session::OnDevice {
  std::unique_ptr<device::DeviceGeneration> gen;
};

Session::~Session() = default;

int64_t Session::vocab() const { return dec_ ? dec_->vocab : 0; }

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<Model> model, const SessionOptions &opts) try {
  if (!model) return Status::error("Session: no model");
  const DecoderInfo &d = model->signature().decoder;
  if (!d.valid)
    return Status::error("Session: the model is not a decoder with a KV cache (expected token ids feeding an "
                         "embedding, logits [batch, seq, vocab] and past/present KV pairs)");
  if (Status st = limits::checkSessionLimits(opts, model->signature(), 1); !st.ok()) return st;
  std::unique_ptr<Session> s(new Session());
  s->maxKVBytes_ = opts.maxKVBytes;
  s->model_ = model;
  s->dec_ = &model->signature().decoder;
  std::string mode = opts.kvMode.empty() ? d.kvMode : opts.kvMode;
  if (mode != "concat" && mode != "prealloc" && mode != "bmc")
    return Status::error("Session: expected kv mode concat, prealloc or bmc, found '" + mode + "'");
  if (mode == "concat" && d.inplaceKV)
    return Status::error("Session: kv mode concat needs a model compiled with --kv concat; this one was compiled "
                         "with in-place KV caches (" + d.kvMode + ")");
  if (mode != "concat" && !d.inplaceKV)
    return Status::error("Session: kv mode " + mode + " needs a model compiled with in-place KV caches; this one "
                         "keeps the graph's Concat (compiled with --kv concat)");
  s->mode_ = mode;
  s->keepAllLogits_ = opts.keepAllLogits;
  s->maxContext_ = opts.maxContext > 0 ? opts.maxContext : (d.maxPositions > 0 ? d.maxPositions : 4096);
  if (d.maxPositions > 0 && s->maxContext_ > d.maxPositions)
    return Status::error("Session: max context " + std::to_string(s->maxContext_) + " exceeds the model's " +
                         std::to_string(d.maxPositions) + " positions");
  // r: given, compiled in, or chosen by the cost model at each growth.
  s->fixedR_ = opts.r > 0 ? opts.r : d.r;
  if (DeviceModel *dm = model->deviceModel()) {
    // On the device: r given, compiled in, or the device's cost model's at
    // each growth (session.h).
    device::DeviceGenerationOptions o;
    o.kvMode = mode;
    o.maxContext = s->maxContext_;
    if (mode == "bmc" && s->fixedR_ <= 0) {
      if (!dm->costConstants) {
        auto hw = deviceCostConstants(*dm->device);
        if (!hw) return Status::error("Session: " + hw.status().message());
        dm->costConstants = hw.value();
      }
      s->cost_ = std::make_unique<KVCostModel>();
      KVCostModel &m = *s->cost_;
      m.hw = *dm->costConstants;
      m.caches = int64_t(d.caches.size());
      m.weightBytes = d.weightBytesPerToken > 0 ? d.weightBytesPerToken : int64_t(model->weightBytes());
      m.mask = d.kvPadding == "mask";
      // Each growth's r for the cache about to grow: its row (all blocks) and
      // the path it grows by (docs/COST_MODEL.md "On a device").
      o.chooseR = [&m](int64_t needed, const device::DeviceKVCache &c) {
        m.rowBytes = c.rowStride();
        m.growInPlace = c.growable();
        return m.bestR(needed);
      };
    } else {
      if (s->fixedR_ <= 0) s->fixedR_ = o.r;
      o.r = s->fixedR_;
      s->r_ = mode == "bmc" ? s->fixedR_ : 0;
    }
    s->dev_ = std::make_unique<OnDevice>();
    if (dm->spare && dm->spareOptions.kvMode == o.kvMode &&
        (o.kvMode != "bmc" || o.chooseR || dm->spareOptions.r == o.r) && dm->spare->maxContext() == o.maxContext) {
      s->dev_->gen = std::move(dm->spare); // created at load with these options (r aside when chosen)
      s->dev_->gen->setChooseR(o.chooseR);
    } else {
      dm->spare.reset(); // its device memory (weights, caches) freed before this one takes its own
      auto g = device::DeviceGeneration::create(*dm->device, *dm->launcher, dm->source, dm->function,
                                                dm->weightTensors(), dm->signature, o);
      if (!g) return Status::error("Session: " + g.status().message());
      s->dev_->gen = std::move(g.value());
    }
    return s;
  }
  if (mode == "bmc" && s->fixedR_ <= 0) {
    s->cost_ = std::make_unique<KVCostModel>(s->costModel());
  }
  for (const DecoderInfo::KV &kv : d.caches) {
    auto c = std::make_unique<Cache>();
    c->heads = kv.heads;
    c->headDim = kv.headDim;
    // The KV type, in place or concat (a 16-bit graph's concat caches are 16-bit
    // tensors); checkDecoderInterface made every cache input agree with it.
    c->elemBytes = d.kvType == "f32" ? 4 : 2;
    s->caches_.push_back(std::move(c));
  }
  return s;
} catch (const std::exception &e) {
  return limits::statusFromException("Session", e);
}

KVCostModel Session::costModel() const {
  KVCostModel m;
  m.hw = calibrate(model_->pool());
  m.caches = int64_t(dec_->caches.size());
  m.weightBytes = dec_->weightBytesPerToken > 0 ? dec_->weightBytesPerToken : int64_t(model_->weightBytes());
  m.mask = dec_->kvPadding == "mask";
  if (!caches_.empty()) m.rowBytes = caches_[0]->rowBytes(std::max<int64_t>(batch_, 1));
  return m;
}

Result<KVCostModel> Session::deviceSpeculativeCostModel() {
  DeviceModel *dm = model_->deviceModel();
  const DecoderInfo &d = *dec_;
  if (!dm->costConstants) {
    auto hw = deviceCostConstants(*dm->device);
    if (!hw) return Status::error("speculative decoding: " + hw.status().message());
    dm->costConstants = hw.value();
  }
  if (!dm->passCosts) {
    // Passes of up to 8 tokens after a made-up context: 32 tokens, or what the context leaves.
    constexpr int64_t kRows = HardwareConstants::kPassRows[3];
    if (maxContext_ < kRows + 1)
      return Status::error("speculative decoding: the cost model's choice of k on a device times passes of up to " +
                           std::to_string(kRows) + " tokens after at least one: expected a maximum context of at "
                           "least " + std::to_string(kRows + 1) + " tokens, found " + std::to_string(maxContext_));
    auto p = device::measurePassCosts(*dev_->gen, std::min<int64_t>(32, maxContext_ - kRows));
    length_ = dev_->gen->length();
    if (!p) return Status::error("speculative decoding: timing the verification passes on the device: " + p.status().message());
    dm->passCosts = p.value();
  }
  // The model as the r of a device session sees it (batch 1: speculative decoding's).
  KVCostModel m;
  m.hw = *dm->costConstants;
  m.caches = int64_t(d.caches.size());
  m.weightBytes = d.weightBytesPerToken > 0 ? d.weightBytesPerToken : int64_t(model_->weightBytes());
  m.mask = d.kvPadding == "mask";
  if (!d.caches.empty()) m.rowBytes = d.caches[0].heads * d.caches[0].headDim * (d.kvType == "f32" ? 4 : 2);
  m.growInPlace = dev_->gen->caches() > 0 && dev_->gen->cache(0).growable();
  return withDevicePassCosts(m, *dm->passCosts);
}

Status Session::ensureCapacity(int64_t needed) {
  if (mode_ == "concat") return Status();
  for (auto &c : caches_) {
    if (needed <= c->capacity) continue;
    // BMC: room for this step and r - 1 more tokens, so one reallocation
    // (and one copy of the valid rows) every r tokens; prealloc: the whole
    // context at once.
    int64_t cap;
    if (mode_ == "prealloc") {
      cap = std::max(maxContext_, needed);
    } else {
      if (cost_) cost_->rowBytes = c->rowBytes(batch_);
      r_ = cost_ ? cost_->bestR(needed) : fixedR_;
      // Never beyond the maximum context: rows past it cannot be used, and a
      // capacity above the reservation would map and copy the cache afresh.
      cap = std::min(needed + r_ - 1, std::max(maxContext_, needed));
    }
    int64_t rb = c->rowBytes(1) / c->heads; // one row of one head
    int64_t blocks = batch_ * c->heads;      // [batch, heads] blocks of `capacity` rows
    size_t bytes = size_t(blocks * cap) * size_t(rb);
    if (bytes > c->budget && !takeKVBudget(bytes - c->budget))
      return Status::error("KV cache: growing to " + std::to_string(cap) + " rows needs " +
                           std::to_string(bytes - c->budget) + " more bytes, beyond the process limit of " +
                           std::to_string(processKVLimit()) + " bytes (bmc::setProcessKVLimit, BMC_MAX_KV_BYTES); "
                           "the session keeps its " + std::to_string(length_) + " tokens");
    if (bytes > c->budget) c->budget = bytes;
    int64_t valid = length_;
    if (c->data && bytes <= c->reserved) {
      // Regrow inside the reservation: move each block to its new stride,
      // the last first (a block's new place overlaps only the old places of
      // later blocks, already moved). Same one copy of the valid rows, but no
      // new mapping and no page faults except for the rows the cache grows by.
      if (valid > 0)
        for (int64_t i = blocks - 1; i >= 1; --i)
          std::memmove(c->data + i * cap * rb, c->data + i * c->capacity * rb, size_t(valid * rb));
      stats_.bytesCopied += valid * c->rowBytes(batch_);
      c->capacity = cap;
      ++stats_.reallocations;
      continue;
    }
    // A new buffer. In bmc mode the address range reserved for it is twice the
    // capacity (at most the context limit), so that the next growths regrow in
    // place. Pages beyond the capacity are never touched: they cost address
    // space, not memory (the resident KV memory stays valid + r rows).
    int64_t reserveRows = mode_ == "bmc" ? std::max(cap, std::min(2 * cap, maxContext_)) : cap;
    size_t reserveBytes = size_t(blocks * reserveRows) * size_t(rb), reserved = 0;
    uint8_t *n = static_cast<uint8_t *>(allocKV(reserveBytes, reserved));
    if (!n) return Status::error("Session: out of memory growing the KV cache to " + std::to_string(cap) + " rows");
    if (c->data && valid > 0) {
      for (int64_t i = 0; i < blocks; ++i)
        std::memcpy(n + i * cap * rb, c->data + i * c->capacity * rb, size_t(valid * rb));
      stats_.bytesCopied += valid * c->rowBytes(batch_);
    }
    freeKV(c->data, c->reserved);
    c->data = n;
    c->reserved = reserved;
    c->capacity = cap;
    ++stats_.reallocations;
  }
  return Status();
}

Status Session::run(const std::vector<int64_t> &tokens, int64_t seq, bool allLogits) {
  const ModelSignature &sig = model_->signature();
  int64_t total = length_ + seq;
  if (total > maxContext_)
    return Status::error("sequence of " + std::to_string(total) + " tokens exceeds the maximum context of " +
                         std::to_string(maxContext_));
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= dec_->vocab)
      return Status::error("token id " + std::to_string(tokens[i]) + " at position " + std::to_string(i % seq) +
                           " is outside the vocabulary [0, " + std::to_string(dec_->vocab) + ")");
  if (Status s = ensureCapacity(total); !s.ok()) return s;

  std::vector<Tensor> owned(sig.inputs.size());
  std::vector<bmc_tensor_ref> refs(sig.inputs.size());
  std::vector<void *> io(sig.inputs.size(), nullptr);
  auto bind = [&](int index, Tensor t) {
    if (t.dtype() != sig.inputs[index].dtype) {
      // Exporters use int64; accept int32 graphs too.
      Tensor c(sig.inputs[index].dtype, t.shape());
      for (int64_t i = 0; i < t.numElements(); ++i) c.data<int32_t>()[i] = int32_t(t.data<int64_t>()[i]);
      t = c;
    }
    owned[index] = t;
    refs[index].data = owned[index].raw();
    for (int64_t d = 0; d < t.rank(); ++d) refs[index].dims[d] = t.shape()[d];
    io[index] = &refs[index];
  };
  bind(dec_->inputIds, Tensor::fromVector<int64_t>(DType::I64, {batch_, seq}, tokens));
  if (dec_->attentionMask >= 0)
    bind(dec_->attentionMask, Tensor::fromVector<int64_t>(DType::I64, {batch_, total}, std::vector<int64_t>(batch_ * total, 1)));
  if (dec_->positionIds >= 0) {
    std::vector<int64_t> pos(batch_ * seq);
    for (int64_t b = 0; b < batch_; ++b)
      for (int64_t i = 0; i < seq; ++i) pos[b * seq + i] = length_ + i;
    bind(dec_->positionIds, Tensor::fromVector<int64_t>(DType::I64, {batch_, seq}, pos));
  }
  if (dec_->seqlensK >= 0)
    bind(dec_->seqlensK, Tensor::fromVector<int64_t>(DType::I64, {batch_}, std::vector<int64_t>(batch_, total - 1)));
  if (dec_->writeIndices >= 0)
    bind(dec_->writeIndices, Tensor::fromVector<int64_t>(DType::I64, {batch_}, std::vector<int64_t>(batch_, length_)));
  if (dec_->nonpadKvSeqlen >= 0)
    bind(dec_->nonpadKvSeqlen, Tensor::fromVector<int64_t>(DType::I64, {batch_}, std::vector<int64_t>(batch_, total)));
  if (dec_->totalSequenceLength >= 0) {
    const TensorInfo &t = sig.inputs[size_t(dec_->totalSequenceLength)];
    bind(dec_->totalSequenceLength,
         Tensor::fromVector<int64_t>(DType::I64, t.shape.empty() ? std::vector<int64_t>{} : std::vector<int64_t>{1},
                                     {total}));
  }
  for (size_t k = 0; k < caches_.size(); ++k) {
    Cache &c = *caches_[k];
    int in = dec_->caches[k].pastInput;
    if (mode_ == "concat") {
      if (c.past.rank() == 0) c.past = Tensor(sig.inputs[size_t(in)].dtype, {batch_, c.heads, 0, c.headDim}); // f32, or a 16-bit graph's type
      owned[in] = c.past;
      refs[in].data = c.past.raw();
      for (int64_t d = 0; d < 4; ++d) refs[in].dims[d] = c.past.shape()[d];
      io[in] = &refs[in];
    } else {
      c.ref = bmc_kv_ref{c.data, batch_, c.capacity, length_};
      io[in] = &c.ref;
    }
  }
  std::vector<Tensor> outputs;
  if (Status s = model_->invoke(io.data(), outputs, /*lastTokenLogits=*/!allLogits); !s.ok()) return s;
  allLogits_ = outputs[dec_->logits];
  if (allLogits_.dtype() != DType::F32) {
    // A fully 16-bit graph's logits (f16 / bf16 at the graph's output,
    // docs/QUANTIZATION.md): sampled and verified in f32, widened exactly.
    Tensor wide(DType::F32, allLogits_.shape());
    // The KV caches' widening (F16C where the CPU has it, else the reference loop): exact either way.
    bmc_convert_kv_to_f32(allLogits_.dtype() == DType::BF16 ? BMC_KV_BF16 : BMC_KV_F16, allLogits_.raw(),
                          wide.data<float>(), wide.numElements());
    allLogits_ = wide;
  }
  int64_t V = dec_->vocab;
  int64_t rows = allLogits_.rank() == 3 ? allLogits_.shape()[1] : 1; // seq, or 1 for the last token only
  logits_ = Tensor(DType::F32, {batch_, V});
  for (int64_t b = 0; b < batch_; ++b)
    std::memcpy(logits_.data<float>() + b * V, allLogits_.data<float>() + ((b * rows) + rows - 1) * V, V * sizeof(float));
  stats_.bytesAllocated = stats_.bytesUsed = 0;
  for (size_t k = 0; k < caches_.size(); ++k) {
    Cache &c = *caches_[k];
    if (mode_ == "concat") {
      c.past = outputs[dec_->caches[k].presentOutput];
      ++stats_.reallocations;
      stats_.bytesCopied += c.past.bytes();
      stats_.bytesAllocated += c.past.bytes();
    } else {
      stats_.bytesAllocated += c.capacity * c.rowBytes(batch_);
    }
    stats_.bytesUsed += total * c.rowBytes(batch_);
  }
  stats_.peakBytesAllocated = std::max(stats_.peakBytesAllocated, stats_.bytesAllocated);
  length_ = total;
  return Status();
}

Status Session::runOnDevice(const std::vector<std::vector<int64_t>> &rows, DeviceRun kind) {
  device::DeviceGeneration &g = *dev_->gen;
  // Every position's logits for extend and with keepAllLogits (a step's are its last position's).
  const bool all = kind == DeviceRun::Extend || (keepAllLogits_ && kind == DeviceRun::Prefill);
  std::vector<int64_t> tokens; // a step: one per row
  if (kind == DeviceRun::Step)
    for (const auto &r : rows) tokens.push_back(r[0]);
  auto r = kind == DeviceRun::Prefill ? g.prefillRows(rows, all)
           : kind == DeviceRun::Step  ? g.stepRows(tokens)
                                      : g.extend(rows[0], all);
  length_ = g.length(); // a failed prefill leaves none, a failed step or extend the tokens before it
  if (!r) return r.status();
  const int64_t B = g.batch(), V = int64_t(r->logits.size()) / B;
  if (V != dec_->vocab)
    return Status::error("device generation: " + std::to_string(V) + " logits, expected the model's vocabulary of " +
                         std::to_string(dec_->vocab));
  logits_ = Tensor(DType::F32, {B, V});
  std::memcpy(logits_.data<float>(), r->logits.data(), size_t(B * V) * sizeof(float));
  // Every position's logits when asked (extend, keepAllLogits), else the last one's, as on the CPU.
  const std::vector<float> &src = all ? r->allLogits : r->logits;
  allLogits_ = Tensor(DType::F32, {B, int64_t(src.size()) / (B * V), V});
  std::memcpy(allLogits_.data<float>(), src.data(), src.size() * sizeof(float));
  if (mode_ == "bmc") r_ = g.lastR();
  deviceKVStats();
  return Status();
}

void Session::deviceKVStats() {
  const device::DeviceGeneration &g = *dev_->gen;
  stats_.bytesAllocated = stats_.bytesUsed = stats_.reallocations = stats_.bytesCopied = 0;
  if (const device::DeviceConcatCaches *cc = g.concatCaches()) { // a new buffer per run, as on the CPU
    stats_.bytesAllocated = cc->stats().bytesPooled; // live and pooled: the device memory they hold
    stats_.bytesUsed = cc->stats().bytesLive;
    stats_.reallocations = cc->stats().concats;
    stats_.bytesCopied = cc->stats().bytesCopied;
  }
  for (size_t i = 0; i < g.caches(); ++i) {
    const device::DeviceKVCache &c = g.cache(i);
    const int64_t rowBytes = c.rowBytes() * c.blocks(); // one token, all heads
    stats_.bytesAllocated += c.capacity() * rowBytes;
    stats_.bytesUsed += length_ * rowBytes;
    stats_.reallocations += c.stats().growths;
    stats_.bytesCopied += c.stats().bytesCopied;
  }
  stats_.peakBytesAllocated = std::max(stats_.peakBytesAllocated, stats_.bytesAllocated);
}

Status Session::prefill(const std::vector<std::vector<int64_t>> &prompts) try {
  if (prompts.empty() || prompts[0].empty()) return Status::error("prefill: expected at least one non-empty prompt");
  for (const auto &p : prompts)
    if (p.size() != prompts[0].size())
      return Status::error("prefill: expected prompts of equal length, found " + std::to_string(prompts[0].size()) +
                           " and " + std::to_string(p.size()) + " tokens");
  if (Status s = limits::checkBatchLimits(*dec_, maxContext_, int64_t(prompts.size()), maxKVBytes_); !s.ok()) return s;
  if (dev_) { // the same rules: one row per prompt, all of one length
    batch_ = int64_t(prompts.size());
    length_ = 0;
    stats_ = KVStats();
    return runOnDevice(prompts, DeviceRun::Prefill);
  }
  int64_t n = int64_t(prompts[0].size());
  if (n > maxContext_)
    return Status::error("prompt of " + std::to_string(n) + " tokens is longer than the model allows (" +
                         std::to_string(maxContext_) + ")");
  batch_ = int64_t(prompts.size());
  length_ = 0;
  for (auto &c : caches_) {
    c->past = Tensor();
    c->release();
  }
  stats_ = KVStats();
  std::vector<int64_t> flat;
  for (const auto &p : prompts) flat.insert(flat.end(), p.begin(), p.end());
  return run(flat, n, keepAllLogits_);
} catch (const std::exception &e) {
  return limits::statusFromException("prefill", e);
}

Status Session::step(const std::vector<int64_t> &tokens) try {
  if (batch_ == 0) return Status::error("step: call prefill first");
  if (int64_t(tokens.size()) != batch_)
    return Status::error("step: expected " + std::to_string(batch_) + " tokens (one per sequence), found " +
                         std::to_string(tokens.size()));
  if (dev_) {
    std::vector<std::vector<int64_t>> rows;
    for (int64_t t : tokens) rows.push_back({t});
    return runOnDevice(rows, DeviceRun::Step);
  }
  return run(tokens, 1, keepAllLogits_);
} catch (const std::exception &e) {
  return limits::statusFromException("step", e);
}

Status Session::extend(const std::vector<std::vector<int64_t>> &tokens) {
  if (batch_ == 0) return Status::error("extend: call prefill first");
  if (int64_t(tokens.size()) != batch_)
    return Status::error("extend: expected tokens for " + std::to_string(batch_) + " sequences, found " +
                         std::to_string(tokens.size()));
  size_t k = tokens[0].size();
  if (k == 0) return Status::error("extend: expected at least one token per sequence");
  for (const auto &t : tokens)
    if (t.size() != k)
      return Status::error("extend: expected the same number of tokens for every sequence, found " +
                           std::to_string(k) + " and " + std::to_string(t.size()));
  std::vector<int64_t> flat;
  for (const auto &t : tokens) flat.insert(flat.end(), t.begin(), t.end());
  if (dev_) return runOnDevice(tokens, DeviceRun::Extend); // batch 1 (DeviceGeneration::extend's check)
  return run(flat, int64_t(k), /*allLogits=*/true);
}

Status Session::truncate(int64_t length) {
  if (batch_ == 0) return Status::error("truncate: call prefill first");
  if (length < 0 || length > length_)
    return Status::error("truncate: expected a length in [0, " + std::to_string(length_) + "], found " +
                         std::to_string(length));
  if (length == length_) return Status();
  if (dev_) {
    // The device's rows past `length` are spare again (DeviceGeneration::truncate).
    // concat: cropped into new buffers (a copy).
    if (Status s = dev_->gen->truncate(length); !s.ok()) return s;
    length_ = length;
    deviceKVStats();
    return Status();
  }
  if (mode_ == "concat") {
    // The exported graph's cache is a tensor of exactly `valid` rows: crop it
    // into a new one (the copy Hugging Face's DynamicCache.crop makes too).
    for (auto &c : caches_) {
      Tensor cropped(c->past.dtype(), {batch_, c->heads, length, c->headDim});
      size_t rowBytes = size_t(c->headDim) * elementSize(c->past.dtype());
      for (int64_t i = 0; i < batch_ * c->heads; ++i)
        std::memcpy(cropped.data<char>() + size_t(i * length) * rowBytes, c->past.data<char>() + size_t(i * length_) * rowBytes,
                    size_t(length) * rowBytes);
      c->past = cropped;
      ++stats_.reallocations;
      stats_.bytesCopied += cropped.bytes();
    }
  }
  // bmc / prealloc: rows >= length are spare rows again; the next pass
  // overwrites them in place, and attention never reads them as valid.
  length_ = length;
  stats_.bytesAllocated = stats_.bytesUsed = 0;
  for (auto &c : caches_) {
    stats_.bytesAllocated += mode_ == "concat" ? c->past.bytes() : c->capacity * c->rowBytes(batch_);
    stats_.bytesUsed += length_ * c->rowBytes(batch_);
  }
  return Status();
}

const char *GenerateStats::name(Stop s) {
  switch (s) {
  case Stop::MaxNewTokens: return "max_new_tokens";
  case Stop::StopToken: return "stop_token";
  case Stop::ContextFull: return "context_full";
  case Stop::Callback: return "callback";
  case Stop::Error: return "error";
  }
  return "?";
}

Result<std::vector<std::vector<int64_t>>>
Session::generate(const std::vector<std::vector<int64_t>> &prompts, const GenerateOptions &o,
                  const std::function<bool(int64_t, const std::vector<int64_t> &)> &onToken) {
  genStats_ = GenerateStats();
  if (Status s = limits::checkGenerateOptions(o); !s.ok()) return s;
  if (o.speculative.drafter) {
    if (prompts.size() != 1)
      return Status::error("speculative decoding: expected batch 1, found " + std::to_string(prompts.size()) +
                           " sequences (sequences in one batch share one valid length, so each cannot accept its "
                           "own number of draft tokens)");
    auto r = generateSpeculative(prompts[0], o, onToken);
    if (!r.ok() && !generated_.empty() && !generated_[0].empty()) genStats_.stop = GenerateStats::Stop::Error;
    return r;
  }
  generated_.clear();
  if (Status s = prefill(prompts); !s.ok()) return s;
  std::vector<std::vector<int64_t>> &gen = generated_;
  gen.assign(static_cast<size_t>(batch_), {});
  std::vector<bool> done(static_cast<size_t>(batch_), false);
  uint64_t rng = o.seed;
  for (int64_t stepNo = 0; stepNo < o.maxNewTokens; ++stepNo) {
    std::vector<int64_t> next = sampleTokens(logits_, o, rng);
    bool all = true;
    for (int64_t b = 0; b < batch_; ++b) {
      if (!done[b]) gen[b].push_back(next[b]);
      if (std::find(o.stopTokens.begin(), o.stopTokens.end(), next[b]) != o.stopTokens.end()) done[b] = true;
      all = all && done[b];
    }
    genStats_.emitted = int64_t(gen[0].size());
    if (onToken && !onToken(stepNo, next)) { genStats_.stop = GenerateStats::Stop::Callback; break; }
    if (all) { genStats_.stop = GenerateStats::Stop::StopToken; break; }
    if (stepNo + 1 == o.maxNewTokens) break;
    if (length_ >= maxContext_) { genStats_.stop = GenerateStats::Stop::ContextFull; break; }
    if (Status s = step(next); !s.ok()) {
      genStats_.stop = GenerateStats::Stop::Error; // the tokens so far stay in generated()
      return Status::error(s.message() + " (after " + std::to_string(gen[0].size()) + " generated tokens)");
    }
    ++genStats_.targetPasses;
  }
  return gen;
}

} // namespace bmc
