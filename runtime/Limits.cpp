//===- Limits.cpp - range checks and overflow-checked sizes ----------------===//

#include "bmc/abi/limits.h"

#include <cmath>
#include <cstdio>
#include <new>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace bmc::limits {

bool mulChecked(std::initializer_list<int64_t> factors, int64_t &out) {
  int64_t p = 1;
  for (int64_t f : factors)
    if (f < 0 || __builtin_mul_overflow(p, f, &p)) return false;
  out = p;
  return true;
}

std::string outOfRange(const std::string &what, int64_t lo, int64_t hi, int64_t v) {
  return what + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], found " +
         std::to_string(v);
}

int64_t physicalMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  int64_t bytes;
  if (pages <= 0 || page <= 0 || !mulChecked({pages, page}, bytes)) return 0;
  return bytes;
}

int maxThreads() {
  unsigned hw = std::thread::hardware_concurrency();
  int64_t perCore = int64_t(hw == 0 ? 1 : hw) * kThreadsPerCore;
  return int(std::min<int64_t>(kMaxThreads, perCore));
}

Status checkThreads(int threads, const std::string &what) {
  int hi = maxThreads();
  if (threads < 0 || threads > hi)
    return Status::error(outOfRange(what, 0, hi, threads) + " (0 = all cores; at most " +
                         std::to_string(kThreadsPerCore) + " per hardware thread, " + std::to_string(kMaxThreads) +
                         " in all)");
  return Status();
}

/// "3 'name'", control characters in the name escaped: a package's names
/// must not break a one-line message.
static std::string quoted(const TensorInfo &t, size_t i) {
  std::string s = std::to_string(i) + " '";
  for (unsigned char c : t.name) {
    if (c >= 0x20 && c != 0x7f) {
      s += char(c);
      continue;
    }
    char b[8];
    std::snprintf(b, sizeof b, "\\x%02x", c);
    s += b;
  }
  return s + "'";
}

Status checkDecoderInterface(const ModelSignature &sig) {
  const DecoderInfo &d = sig.decoder;
  if (!d.valid) return Status(); // sessions refuse it; Model::run does not read it
  auto bad = [](const std::string &m) { return Status::error("decoder interface: " + m); };
  const size_t nIn = sig.inputs.size(), nOut = sig.outputs.size();
  std::vector<int> bound(nIn, 0);

  // Token ids, mask and positions: the session writes int64 (or int32) [batch, seq].
  auto intInput = [&](int idx, const char *role, bool required) -> Status {
    if (idx < 0) return required ? bad(std::string("no ") + role + " input") : Status();
    if (size_t(idx) >= nIn) return bad(std::string(role) + " input index " + std::to_string(idx) + " out of range");
    const TensorInfo &t = sig.inputs[size_t(idx)];
    std::string where = std::string(role) + " input " + quoted(t, size_t(idx));
    if (t.dtype != DType::I64 && t.dtype != DType::I32)
      return bad(where + ": expected dtype int64 or int32, found " + dtypeName(t.dtype));
    if (t.shape.size() != 2) return bad(where + ": expected rank 2, found " + std::to_string(t.shape.size()));
    if (t.kvSlot != -1) return bad(where + ": expected a tensor input, found a KV cache");
    if (bound[size_t(idx)]++) return bad(where + ": bound twice");
    return Status();
  };
  if (Status s = intInput(d.inputIds, "token ids", true); !s.ok()) return s;
  if (Status s = intInput(d.attentionMask, "attention mask", false); !s.ok()) return s;
  if (Status s = intInput(d.positionIds, "position ids", false); !s.ok()) return s;
  // GroupQueryAttention's lengths: int32 (or int64) [batch] and a scalar (or one element).
  // A static cache's write_indices and nonpad_kv_seqlen: int64 (or int32) [batch].
  for (auto [idx, role, rank] : {std::tuple<int, const char *, size_t>{d.seqlensK, "seqlens_k", 1},
                                 {d.totalSequenceLength, "total_sequence_length", 0},
                                 {d.writeIndices, "write_indices", 1},
                                 {d.nonpadKvSeqlen, "nonpad_kv_seqlen", 1}}) {
    if (idx < 0) continue;
    if (size_t(idx) >= nIn) return bad(std::string(role) + " input index " + std::to_string(idx) + " out of range");
    const TensorInfo &t = sig.inputs[size_t(idx)];
    std::string where = std::string(role) + " input " + quoted(t, size_t(idx));
    if (t.dtype != DType::I64 && t.dtype != DType::I32)
      return bad(where + ": expected dtype int32 or int64, found " + dtypeName(t.dtype));
    bool scalarOk = rank == 0 && t.shape.size() == 1 && t.shape[0] == 1;
    if (t.shape.size() != rank && !scalarOk)
      return bad(where + ": expected rank " + std::to_string(rank) + ", found " + std::to_string(t.shape.size()));
    if (t.kvSlot != -1) return bad(where + ": expected a tensor input, found a KV cache");
    if (bound[size_t(idx)]++) return bad(where + ": bound twice");
  }

  // Logits: the session copies vocab floats per sequence out of them.
  if (d.vocab < 1 || d.vocab > kMaxVocab) return bad(outOfRange("vocab", 1, kMaxVocab, d.vocab));
  if (d.logits < 0 || size_t(d.logits) >= nOut)
    return bad("logits output index " + std::to_string(d.logits) + " out of range");
  const TensorInfo &lg = sig.outputs[size_t(d.logits)];
  // float16 / bfloat16: a fully 16-bit graph's; the session widens them to f32 for sampling.
  if (lg.dtype != DType::F32 && lg.dtype != DType::F16 && lg.dtype != DType::BF16)
    return bad("logits output " + quoted(lg, size_t(d.logits)) + ": expected dtype float32, float16 or bfloat16, found " +
               dtypeName(lg.dtype));
  if (lg.shape.size() != 3 || lg.shape[2] != d.vocab)
    return bad("logits output " + quoted(lg, size_t(d.logits)) + ": expected shape [batch, seq, " +
               std::to_string(d.vocab) + "] (the vocab), found rank " + std::to_string(lg.shape.size()) +
               (lg.shape.size() == 3 ? " with last dimension " + std::to_string(lg.shape[2]) : ""));

  // KV caches: f32 [batch, heads, rows, head_dim] with the heads and head_dim recorded.
  if (d.caches.empty()) return bad("no KV caches");
  if (d.kvType != "f32" && d.kvType != "bf16" && d.kvType != "f16")
    return bad("KV type: expected f32, bf16 or f16, found '" + d.kvType + "'");
  std::vector<int> presentUsed(nOut, 0);
  presentUsed[size_t(d.logits)] = 1;
  for (size_t k = 0; k < d.caches.size(); ++k) {
    const DecoderInfo::KV &c = d.caches[k];
    std::string ck = "cache " + std::to_string(k);
    if (c.heads < 1 || c.heads > kMaxHeads) return bad(outOfRange(ck + " heads", 1, kMaxHeads, c.heads));
    if (c.headDim < 1 || c.headDim > kMaxHeadDim) return bad(outOfRange(ck + " head_dim", 1, kMaxHeadDim, c.headDim));
    if (c.pastInput < 0 || size_t(c.pastInput) >= nIn)
      return bad(ck + ": past input index " + std::to_string(c.pastInput) + " out of range");
    const TensorInfo &t = sig.inputs[size_t(c.pastInput)];
    std::string where = ck + ": past input " + quoted(t, size_t(c.pastInput));
    if (bound[size_t(c.pastInput)]++) return bad(where + ": bound twice");
    // DecoderInfo::kvType is the caches' element type in every mode: an in-place
    // cache's input carries the buffer's, a concat cache is a tensor of the
    // graph's type (f32, or a 16-bit graph's f16 / bf16).
    const DType want = d.kvType == "f32" ? DType::F32 : d.kvType == "bf16" ? DType::BF16 : DType::F16;
    if (t.dtype != want)
      return bad(where + ": expected dtype " + dtypeName(want) + " (KV type " + d.kvType + "), found " +
                 dtypeName(t.dtype));
    if (t.shape.size() != 4) return bad(where + ": expected rank 4, found " + std::to_string(t.shape.size()));
    auto agrees = [&](int64_t dim, int64_t want) { return dim == want || (!d.inplaceKV && dim == -1); };
    if (!agrees(t.shape[1], c.heads) || !agrees(t.shape[3], c.headDim))
      return bad(where + ": expected [batch, " + std::to_string(c.heads) + ", rows, " + std::to_string(c.headDim) +
                 "], found dimensions " + std::to_string(t.shape[1]) + " and " + std::to_string(t.shape[3]));
    if (d.inplaceKV) {
      if (t.kvSlot != c.pastInput) return bad(where + ": expected a KV cache input (in-place caches)");
      if (c.presentOutput != -1) return bad(ck + ": expected no present output (in-place caches)");
      continue;
    }
    if (t.kvSlot != -1) return bad(where + ": expected a tensor input (concat caches)");
    if (c.presentOutput < 0 || size_t(c.presentOutput) >= nOut)
      return bad(ck + ": present output index " + std::to_string(c.presentOutput) + " out of range");
    const TensorInfo &o = sig.outputs[size_t(c.presentOutput)];
    if (presentUsed[size_t(c.presentOutput)]++)
      return bad(ck + ": present output " + quoted(o, size_t(c.presentOutput)) + " used twice");
    if (o.dtype != t.dtype || o.shape.size() != 4)
      return bad(ck + ": present output " + quoted(o, size_t(c.presentOutput)) + ": expected " + dtypeName(t.dtype) +
                 " (the past input's) of rank 4");
  }
  for (size_t i = 0; i < nIn; ++i) {
    if (!bound[i])
      return bad("input " + quoted(sig.inputs[i], i) +
                 " is none of token ids, mask, positions or a KV cache: a session cannot feed it");
    if (sig.inputs[i].kvSlot >= 0 && !d.inplaceKV)
      return bad("input " + quoted(sig.inputs[i], i) + " is a KV cache slot, but the caches are not in place");
  }

  if (d.maxPositions < 0) return bad("max positions " + std::to_string(d.maxPositions) + " is negative");
  if (d.r < 0 || d.r > kMaxR) return bad(outOfRange("r", 0, kMaxR, d.r));
  if (d.inplaceKV ? d.kvMode != "bmc" && d.kvMode != "prealloc" : d.kvMode != "concat")
    return bad("kv mode '" + d.kvMode + "' does not match " + (d.inplaceKV ? "in-place caches" : "concat caches"));
  if (d.kvPadding != "skip" && d.kvPadding != "mask") return bad("kv padding: expected skip or mask, found '" + d.kvPadding + "'");
  if (d.weightBytesPerToken < 0) return bad("weight bytes per token " + std::to_string(d.weightBytesPerToken) + " is negative");
  return Status();
}

int64_t sessionMaxContext(const SessionOptions &opts, const DecoderInfo &d) {
  return opts.maxContext > 0 ? opts.maxContext : (d.maxPositions > 0 ? d.maxPositions : kDefaultContext);
}

Status checkSessionLimits(const SessionOptions &opts, const ModelSignature &sig, int64_t batch) {
  const DecoderInfo &d = sig.decoder;
  auto bad = [](const std::string &m) { return Status::error("Session: " + m); };
  if (opts.r < 0 || opts.r > kMaxR) return bad(outOfRange("r", 0, kMaxR, opts.r) + " (0 = the model's or the cost model's)");
  if (opts.maxContext < 0 || opts.maxContext > kMaxContext)
    return bad(outOfRange("max context", 0, kMaxContext, opts.maxContext) + " (0 = the model's)");
  if (opts.maxKVBytes < 0)
    return bad("max KV bytes: expected 0 (physical memory) or a positive count, found " +
               std::to_string(opts.maxKVBytes));
  if (Status s = checkDecoderInterface(sig); !s.ok()) return bad(s.message());
  int64_t ctx = sessionMaxContext(opts, d);
  if (d.maxPositions > 0 && ctx > d.maxPositions)
    return bad("max context " + std::to_string(ctx) + " exceeds the model's " + std::to_string(d.maxPositions) + " positions");
  if (ctx > kMaxContext)
    return bad("max context " + std::to_string(ctx) + " (the model's positions) is above the limit of " +
               std::to_string(kMaxContext) + ": set SessionOptions::maxContext");
  return checkBatchLimits(d, ctx, batch, opts.maxKVBytes);
}

Status checkBatchLimits(const DecoderInfo &d, int64_t maxContext, int64_t batch, int64_t maxKVBytes) {
  if (batch < 1 || batch > kMaxBatch) return Status::error(outOfRange("batch", 1, kMaxBatch, batch));
  int64_t perRow = 0; // one token of one sequence, all caches
  const int64_t elemBytes = d.kvType == "f32" ? 4 : 2;
  for (const DecoderInfo::KV &c : d.caches) {
    int64_t b;
    if (!mulChecked({c.heads, c.headDim, elemBytes}, b) || __builtin_add_overflow(perRow, b, &perRow))
      return Status::error("KV cache size overflows: heads " + std::to_string(c.heads) + " x head_dim " +
                           std::to_string(c.headDim));
  }
  int64_t bytes = 0;
  bool fits = mulChecked({batch, maxContext, perRow}, bytes);
  int64_t limit = maxKVBytes > 0 ? maxKVBytes : physicalMemoryBytes();
  if (fits && (limit == 0 || bytes <= limit)) return Status();
  char need[32];
  std::snprintf(need, sizeof need, "%.3g", double(batch) * double(maxContext) * double(perRow));
  return Status::error("the KV caches of " + std::to_string(batch) + (batch == 1 ? " sequence" : " sequences") +
                       " at the maximum context of " +
                       std::to_string(maxContext) + " tokens need " + need + " bytes, more than the " +
                       (maxKVBytes > 0 ? "maximum of " + std::to_string(maxKVBytes) + " bytes set"
                                       : std::to_string(limit) + " bytes of physical memory") +
                       ": lower the batch or the maximum context");
}

Status checkGenerateOptions(const GenerateOptions &o) {
  if (!std::isfinite(o.temperature) || o.temperature < 0)
    return Status::error("generate: temperature: expected a finite number >= 0, found " + std::to_string(o.temperature));
  if (o.topK < 0) return Status::error("generate: top-k: expected an integer >= 0, found " + std::to_string(o.topK));
  if (!(o.topP >= 0 && o.topP <= 1)) // also refuses nan
    return Status::error("generate: top-p: expected a number in [0, 1], found " + std::to_string(o.topP));
  if (o.maxNewTokens < 0 || o.maxNewTokens > kMaxContext)
    return Status::error("generate: " + outOfRange("max new tokens", 0, kMaxContext, o.maxNewTokens));
  return Status();
}

Status statusFromException(const std::string &where, const std::exception &e) {
  if (dynamic_cast<const std::bad_alloc *>(&e)) return Status::error(where + ": out of memory");
  return Status::error(where + ": " + e.what());
}

} // namespace bmc::limits
