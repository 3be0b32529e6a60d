//===- runtime/device/DeviceGeneration.cpp - tokens from a DeviceProgram --===//

#include "runtime/device/DeviceGeneration.h"
#include "runtime/device/DeviceProgramDesc.h" // programDimsText

#include <algorithm>
#include <cstring>

namespace bmc {
namespace device {

Result<DeviceDecoderSignature> DeviceDecoderSignature::fromModel(const ModelSignature &sig) {
  const DecoderInfo &d = sig.decoder;
  if (!d.valid)
    return Status::error("device generation: the model is not a decoder with a KV cache");
  auto in = [&](int i) { return i >= 0 && size_t(i) < sig.inputs.size() ? sig.inputs[size_t(i)].name : std::string(); };
  DeviceDecoderSignature s;
  s.seqlensK = in(d.seqlensK), s.totalSequenceLength = in(d.totalSequenceLength);
  s.writeIndices = in(d.writeIndices), s.nonpadKvSeqlen = in(d.nonpadKvSeqlen);
  s.inputIds = in(d.inputIds), s.attentionMask = in(d.attentionMask), s.positionIds = in(d.positionIds);
  if (d.logits < 0 || size_t(d.logits) >= sig.outputs.size())
    return Status::error("device generation: the model has no logits output");
  s.logits = sig.outputs[size_t(d.logits)].name;
  for (const DecoderInfo::KV &c : d.caches) {
    Cache k;
    k.past = in(c.pastInput);
    if (c.presentOutput >= 0 && size_t(c.presentOutput) < sig.outputs.size())
      k.present = sig.outputs[size_t(c.presentOutput)].name;
    s.caches.push_back(k);
  }
  s.vocab = d.vocab, s.maxPositions = d.maxPositions;
  return s;
}

Result<std::unique_ptr<DeviceGeneration>> DeviceGeneration::create(Device &device, EmittedLauncher &launcher,
                                                                   const std::string &emittedSource,
                                                                   const std::string &function,
                                                                   const std::map<std::string, HostTensor> &weights,
                                                                   const DeviceDecoderSignature &sig,
                                                                   const DeviceGenerationOptions &opts) {
  const std::string at = "device generation @" + function + ": ";
  if (opts.kvMode != "bmc" && opts.kvMode != "prealloc" && opts.kvMode != "concat")
    return Status::error(at + "kv mode '" + opts.kvMode + "' (expected bmc, prealloc or concat)");
  if (opts.kvMode == "bmc" && opts.r < 1)
    return Status::error(at + "r " + std::to_string(opts.r) + " spare rows (expected at least 1)");
  std::unique_ptr<DeviceGeneration> g(new DeviceGeneration(device));
  g->at_ = at;
  g->sig_ = sig, g->opts_ = opts, g->lastR_ = opts.r;
  g->maxContext_ = opts.maxContext > 0 ? opts.maxContext : sig.maxPositions > 0 ? sig.maxPositions : 4096;
  if (sig.maxPositions > 0 && g->maxContext_ > sig.maxPositions)
    return Status::error(at + "max context " + std::to_string(g->maxContext_) + " exceeds the model's " +
                         std::to_string(sig.maxPositions) + " positions");
  auto p = DeviceProgram::create(device, launcher, emittedSource, function, weights);
  if (!p)
    return p.status();
  g->program_ = std::move(p.value());

  // Every input of the function fed, and every input named a tensor of the function.
  std::map<std::string, const ProgramInput *> inputs;
  for (const ProgramInput &i : g->program_->inputs())
    inputs[i.name] = &i;
  std::map<std::string, bool> fed;
  // The function's tensor input `name`, or an error naming its role.
  auto tensorInput = [&](const std::string &name, const char *role) -> Result<const ProgramInput *> {
    auto it = inputs.find(name);
    if (it == inputs.end() || it->second->kind != "tensor")
      return Status::error(at + role + " '" + name + "' is not a tensor input of the function");
    return it->second;
  };
  auto tensor = [&](const std::string &name, const char *role, std::string &type) -> Status {
    if (name.empty())
      return Status();
    auto in = tensorInput(name, role);
    if (!in)
      return in.status();
    const ProgramInput &i = *in.value();
    if ((i.type != "i64" && i.type != "i32") || i.dims.size() != 2)
      return Status::error(at + role + " '" + name + "' of " + i.type + " rank " + std::to_string(i.dims.size()) +
                           ", expected i64 or i32 [batch, length]");
    fed[name] = true, type = i.type;
    return Status();
  };
  if (sig.inputIds.empty())
    return Status::error(at + "the signature names no input_ids");
  // The lengths: one element per row, total_sequence_length also a scalar.
  auto length = [&](const std::string &name, const char *role, bool scalarOk, std::string &type,
                    bool *scalar) -> Status {
    if (name.empty())
      return Status();
    auto in = tensorInput(name, role);
    if (!in)
      return in.status();
    const ProgramInput &i = *in.value();
    bool one = i.dims.size() == 1 && (i.dims[0] == 1 || i.dims[0] == -1);
    if ((i.type != "i64" && i.type != "i32") || !(one || (scalarOk && i.dims.empty())))
      return Status::error(at + role + " '" + name + "' of " + i.type + " " + programDimsText(i.dims) +
                           ", expected i64 or i32 " + (scalarOk ? "[] or [1]" : "[batch]"));
    fed[name] = true, type = i.type;
    if (scalar)
      *scalar = i.dims.empty();
    return Status();
  };
  for (Status st : {tensor(sig.inputIds, "input_ids", g->idsType_),
                    tensor(sig.attentionMask, "attention_mask", g->maskType_),
                    tensor(sig.positionIds, "position_ids", g->positionsType_),
                    length(sig.seqlensK, "seqlens_k", false, g->seqlensType_, nullptr),
                    length(sig.totalSequenceLength, "total_sequence_length", true, g->totalType_, &g->totalScalar_),
                    length(sig.writeIndices, "write_indices", false, g->writeType_, nullptr),
                    length(sig.nonpadKvSeqlen, "nonpad_kv_seqlen", false, g->nonpadType_, nullptr)})
    if (!st)
      return st;
  if (opts.kvMode == "concat") {
    if (Status st = g->createConcatCaches(inputs, fed); !st)
      return st;
  }
  for (const DeviceDecoderSignature::Cache &c : opts.kvMode == "concat" ? std::vector<DeviceDecoderSignature::Cache>()
                                                                         : sig.caches) {
    if (!c.present.empty())
      return Status::error(at + "cache '" + c.past + "' is returned as '" + c.present +
                           "' (a model compiled with --kv concat): kv mode " + opts.kvMode +
                           " needs in-place caches");
    auto it = inputs.find(c.past);
    if (it == inputs.end() || it->second->kind != "kv_cache")
      return Status::error(at + "cache '" + c.past + "' is not a KV cache input of the function");
    const ProgramInput &i = *it->second;
    DeviceKVOptions o;
    o.batch = 1, o.heads = i.heads, o.headDim = i.headDim, o.elemBytes = i.type == "f32" ? 4 : 2;
    o.maxRows = g->maxContext_, o.prealloc = opts.kvMode == "prealloc", o.r = opts.r, o.useGrowable = opts.useGrowable;
    auto kv = DeviceKVCache::create(device, o);
    if (!kv)
      return Status::error(at + "cache '" + c.past + "': " + kv.status().message());
    g->caches_.push_back({c.past, std::move(kv.value()), o});
    fed[c.past] = true;
  }
  for (const ProgramInput &i : g->program_->inputs())
    if (!fed.count(i.name))
      return Status::error(at + (i.kind == "kv_cache" ? "KV cache" : i.kind) + " input '" + i.name +
                           "' is not in the decoder signature (nothing would feed it)");
  const std::vector<std::string> &outs = g->program_->outputNames();
  auto lo = std::find(outs.begin(), outs.end(), sig.logits);
  if (lo == outs.end())
    return Status::error(at + "no output '" + sig.logits + "' (the logits)");
  g->logitsOutput_ = size_t(lo - outs.begin());
  return g;
}

Status DeviceGeneration::createConcatCaches(const std::map<std::string, const ProgramInput *> &inputs,
                                            std::map<std::string, bool> &fed) {
  std::vector<DeviceConcatCaches::Spec> specs;
  const std::vector<std::string> &outs = program_->outputNames();
  for (const DeviceDecoderSignature::Cache &c : sig_.caches) {
    if (c.present.empty())
      return Status::error(at_ + "cache '" + c.past + "' is in place (a model compiled with --kv bmc or " +
                           "prealloc): kv mode concat needs the graph's past and present tensors");
    auto it = inputs.find(c.past);
    if (it == inputs.end() || it->second->kind != "tensor")
      return Status::error(at_ + "cache '" + c.past + "' is not a tensor input of the function");
    const ProgramInput &i = *it->second;
    if (i.dims.size() != 4 || i.dims[1] < 1 || i.dims[3] < 1)
      return Status::error(at_ + "cache '" + c.past + "' of dims " + programDimsText(i.dims) +
                           ", expected [batch, heads, length, head_dim] with static heads and head_dim");
    if (std::find(outs.begin(), outs.end(), c.present) == outs.end())
      return Status::error(at_ + "cache '" + c.past + "': no output '" + c.present + "' (its present)");
    specs.push_back({c.past, c.present, i.type, i.dims[1], i.dims[3]});
    fed[c.past] = true;
  }
  auto cc = DeviceConcatCaches::create(device_, std::move(specs));
  if (!cc)
    return Status::error(at_ + cc.status().message());
  concat_ = std::move(cc.value());
  return Status();
}

DeviceGeneration::~DeviceGeneration() {
  for (auto &[tokens, graph] : graphs_)
    if (graph.valid)
      (void)device_.destroyGraph(graph.graph);
}

namespace {

HostTensor integers(const std::string &type, std::vector<int64_t> dims, const std::vector<int64_t> &v) {
  HostTensor t;
  t.type = type, t.dims = std::move(dims);
  if (type == "i64") {
    t.bytes.resize(v.size() * 8);
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  } else {
    std::vector<int32_t> n(v.begin(), v.end());
    t.bytes.resize(n.size() * 4);
    std::memcpy(t.bytes.data(), n.data(), t.bytes.size());
  }
  return t;
}

} // namespace

Status DeviceGeneration::setBatch(int64_t batch) {
  if (batch == batch_)
    return Status();
  for (Cache &c : caches_) {
    c.kv.reset(); // its memory freed before the new one takes its own
    c.options.batch = batch;
    auto kv = DeviceKVCache::create(device_, c.options);
    if (!kv) {
      batch_ = 0; // some caches are gone: the next prefill makes them all again
      return Status::error(at_ + "cache '" + c.name + "' for a batch of " + std::to_string(batch) + ": " +
                           kv.status().message());
    }
    c.kv = std::move(kv.value());
  }
  batch_ = batch;
  return Status();
}

Result<DeviceGenerationStep> DeviceGeneration::run(const std::vector<int64_t> &tokens, bool graphed,
                                                   bool allLogits) {
  const int64_t batch = batch_, seq = int64_t(tokens.size()) / batch, total = length_ + seq;
  if (total > maxContext_)
    return Status::error(at_ + "sequence of " + std::to_string(total) +
                         " tokens exceeds the maximum context of " + std::to_string(maxContext_));
  if (sig_.vocab > 0)
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] < 0 || tokens[i] >= sig_.vocab)
        return Status::error(at_ + "token id " + std::to_string(tokens[i]) + " at position " +
                             std::to_string(length_ + int64_t(i) % seq) +
                             (batch > 1 ? " of row " + std::to_string(int64_t(i) / seq) : std::string()) +
                             " is outside the vocabulary [0, " + std::to_string(sig_.vocab) + ")");
  // Grow before the run (the program never grows a cache); valid rows kept.
  for (Cache &c : caches_) {
    if (opts_.kvMode == "bmc" && total > c.kv->capacity()) {
      if (opts_.chooseR)
        if (Status st = c.kv->setR(opts_.chooseR(total, *c.kv)); !st)
          return Status::error(at_ + "KV cache '" + c.name + "': chooseR gave " + st.message());
      lastR_ = c.kv->r();
    }
    if (Status st = c.kv->ensureCapacity(total, length_); !st)
      return Status::error(at_ + "KV cache '" + c.name + "': " + st.message() + "; the generation keeps its " +
                           std::to_string(length_) + " tokens");
  }
  ProgramInputs in;
  in.tensors[sig_.inputIds] = integers(idsType_, {batch, seq}, tokens);
  if (!sig_.attentionMask.empty())
    in.tensors[sig_.attentionMask] =
        integers(maskType_, {batch, total}, std::vector<int64_t>(size_t(batch * total), 1));
  if (!sig_.positionIds.empty()) {
    std::vector<int64_t> pos(static_cast<size_t>(batch * seq));
    for (int64_t i = 0; i < batch * seq; ++i)
      pos[size_t(i)] = length_ + i % seq;
    in.tensors[sig_.positionIds] = integers(positionsType_, {batch, seq}, pos);
  }
  // The lengths, as Session::run binds them (one per row; total_sequence_length one for all).
  if (!sig_.seqlensK.empty())
    in.tensors[sig_.seqlensK] = integers(seqlensType_, {batch}, std::vector<int64_t>(size_t(batch), total - 1));
  if (!sig_.totalSequenceLength.empty())
    in.tensors[sig_.totalSequenceLength] =
        integers(totalType_, totalScalar_ ? std::vector<int64_t>{} : std::vector<int64_t>{1}, {total});
  if (!sig_.writeIndices.empty())
    in.tensors[sig_.writeIndices] = integers(writeType_, {batch}, std::vector<int64_t>(size_t(batch), length_));
  if (!sig_.nonpadKvSeqlen.empty())
    in.tensors[sig_.nonpadKvSeqlen] = integers(nonpadType_, {batch}, std::vector<int64_t>(size_t(batch), total));
  if (!allLogits) // each row's last position only: vocab floats a row come back, not seq * vocab
    in.copyBack[sig_.logits] = CopyBack::LastOfAxis1;
  ProgramKept kept;
  if (concat_)
    concat_->bind(in, kept, batch);
  std::vector<bmc_kv_buffer> bufs(caches_.size());
  for (size_t k = 0; k < caches_.size(); ++k) {
    bufs[k] = bmc_kv_buffer{reinterpret_cast<void *>(caches_[k].kv->data()), batch, caches_[k].kv->capacity(),
                            length_};
    in.caches[caches_[k].name] = &bufs[k];
  }
  DeviceGenerationStep out;
  // One graph per token count: a count's launches (product paths, GEMM
  // sizes) differ from another's, so sharing one would re-capture it.
  EmittedStepGraph *graph = graphed ? &graphs_[seq] : nullptr;
  auto r = program_->run(in, graph, graphed ? &out.graph : nullptr, concat_ ? &kept : nullptr);
  if (!r)
    return r.status();
  if (concat_) // the presents become the pasts (checked: one row per token)
    if (Status st = concat_->commit(kept, batch, total); !st)
      return Status::error(at_ + st.message());
  for (size_t k = 0; k < caches_.size(); ++k)
    if (bufs[k].valid != total) // a function that appends other than one row per token
      return Status::error(at_ + "KV cache '" + caches_[k].name + "' holds " +
                           std::to_string(bufs[k].valid) + " rows after the run, expected " + std::to_string(total));
  const HostTensor &logits = (*r)[logitsOutput_];
  const std::vector<int64_t> &dims = program_->lastOutputDims()[logitsOutput_]; // whole, before the cut
  if (logits.type != "f32" || dims.size() != 3 || dims[0] != batch || dims[1] != seq || dims[2] < 1)
    return Status::error(at_ + "output '" + sig_.logits + "' of " + logits.type + " " + programDimsText(dims) +
                         ", expected f32 [" + std::to_string(batch) + ", " + std::to_string(seq) + ", vocab]");
  const int64_t vocab = dims[2], rows = allLogits ? seq : 1; // positions copied back per row
  out.logits.resize(size_t(batch * vocab));
  for (int64_t b = 0; b < batch; ++b) { // each row's last position
    float *row = out.logits.data() + b * vocab;
    std::memcpy(row, logits.bytes.data() + size_t((b * rows + rows - 1) * vocab) * 4, size_t(vocab) * 4);
    out.tokens.push_back(std::max_element(row, row + vocab) - row);
  }
  out.token = out.tokens[0];
  if (allLogits) {
    out.allLogits.resize(size_t(batch * seq * vocab));
    std::memcpy(out.allLogits.data(), logits.bytes.data(), out.allLogits.size() * 4);
  }
  length_ = total;
  return out;
}

Result<DeviceGenerationStep> DeviceGeneration::prefill(const std::vector<int64_t> &prompt, bool allLogits) {
  return prefillRows({prompt}, allLogits);
}

Result<DeviceGenerationStep> DeviceGeneration::step(int64_t token) { return stepRows({token}); }

Result<DeviceGenerationStep> DeviceGeneration::prefillRows(const std::vector<std::vector<int64_t>> &prompts,
                                                           bool allLogits) {
  if (prompts.empty() || prompts[0].empty())
    return Status::error(at_ + "prefill: expected a non-empty prompt");
  for (const std::vector<int64_t> &p : prompts)
    if (p.size() != prompts[0].size())
      return Status::error(at_ + "prefill: expected prompts of equal length, found " +
                           std::to_string(prompts[0].size()) + " and " + std::to_string(p.size()) + " tokens");
  if (int64_t(prompts[0].size()) > maxContext_)
    return Status::error(at_ + "prefill: prompt of " + std::to_string(prompts[0].size()) +
                         " tokens is longer than the maximum context of " + std::to_string(maxContext_));
  length_ = 0; // the caches' rows are spare again (a failed prefill leaves none valid)
  if (concat_)
    concat_->clear();
  if (Status st = setBatch(int64_t(prompts.size())); !st)
    return st;
  std::vector<int64_t> flat;
  for (const std::vector<int64_t> &p : prompts)
    flat.insert(flat.end(), p.begin(), p.end());
  return run(flat, false, allLogits);
}

Result<DeviceGenerationStep> DeviceGeneration::stepRows(const std::vector<int64_t> &tokens) {
  if (length_ == 0)
    return Status::error(at_ + "step: call prefill first");
  if (int64_t(tokens.size()) != batch_)
    return Status::error(at_ + "step: expected " + std::to_string(batch_) + " tokens (one per row), found " +
                         std::to_string(tokens.size()));
  return run(tokens, opts_.graphDecode);
}

Result<DeviceGenerationStep> DeviceGeneration::extend(const std::vector<int64_t> &tokens, bool allLogits) {
  if (length_ == 0)
    return Status::error(at_ + "extend: call prefill first");
  if (tokens.empty())
    return Status::error(at_ + "extend: expected at least one token");
  if (batch_ != 1)
    return Status::error(at_ + "extend: batch 1 only (speculative verification), this generation has a batch of " +
                         std::to_string(batch_));
  const bool graphed = opts_.graphDecode && int64_t(tokens.size()) <= opts_.maxGraphedTokens;
  return run(tokens, graphed, allLogits);
}

Status DeviceGeneration::truncate(int64_t length) {
  if (length < 0 || length > length_)
    return Status::error(at_ + "truncate: expected a length in [0, " + std::to_string(length_) +
                         "], found " + std::to_string(length));
  if (concat_)
    if (Status st = concat_->crop(length); !st)
      return Status::error(at_ + "truncate: " + st.message());
  length_ = length;
  return Status();
}

} // namespace device
} // namespace bmc
