//===- limits.h - the limits the runtime enforces, with checked arithmetic -*- C++ -*-===//
//
// Every size a user or a package can set (r, the context, the batch, the
// threads) is checked here against a fixed range before any arithmetic uses
// it, and the KV memory it implies is computed with overflow checks. The
// ranges are far above what a CPU decoder needs and far below where int64
// arithmetic on them could overflow: r <= 2^20, context <= 2^24, batch <=
// 4096, so capacity + r and batch x heads x rows stay exact; the KV bytes
// are multiplied with checks and bounded by physical memory (or a maximum
// the caller sets).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_ABI_LIMITS_H
#define BMC_ABI_LIMITS_H

#include "bmc/session.h"
#include "bmc/status.h"

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <string>

namespace bmc::limits {

constexpr int64_t kMaxR = int64_t(1) << 20;          ///< spare KV rows per reallocation
constexpr int64_t kMaxContext = int64_t(1) << 24;    ///< tokens in a session's cache
constexpr int64_t kMaxBatch = 4096;                  ///< sequences decoded together
constexpr int kMaxThreads = 1024;                    ///< kernel threads, any machine
constexpr int kThreadsPerCore = 8;                   ///< and at most this many per hardware thread
constexpr int64_t kMaxHeads = int64_t(1) << 16;      ///< KV heads of one cache
constexpr int64_t kMaxHeadDim = int64_t(1) << 16;    ///< elements per head row
constexpr int64_t kMaxVocab = int64_t(1) << 31;      ///< logits per position
constexpr int64_t kDefaultContext = 4096;            ///< a session's context when the model has no limit

/// a * b * ... into `out`; false if any product overflows int64 or a factor
/// is negative.
bool mulChecked(std::initializer_list<int64_t> factors, int64_t &out);

/// "expected an integer in [lo, hi], found v" for `what`, one line.
std::string outOfRange(const std::string &what, int64_t lo, int64_t hi, int64_t v);

/// Bytes of physical memory (sysconf), or 0 if unknown.
int64_t physicalMemoryBytes();

/// The most kernel threads a model may ask for on this machine:
/// min(kMaxThreads, kThreadsPerCore x hardware threads).
int maxThreads();
/// LoadOptions/CompileOptions::threads (0 = all cores); `what` names the
/// field in the message.
Status checkThreads(int threads, const std::string &what);

/// The decoder interface is one a session can drive without reading or
/// writing out of bounds: the inputs it binds are integer [batch, seq]
/// tensors, logits are f32 [batch, seq, vocab], every cache has positive
/// heads and head_dim that agree with its input (and output) and f32 data,
/// each input is bound once and every input is bound. Shared by the package
/// loader (for every package) and Session::create (for JIT models too).
Status checkDecoderInterface(const ModelSignature &sig);

/// The session's maximum context: opts.maxContext, else the model's
/// positions, else kDefaultContext.
int64_t sessionMaxContext(const SessionOptions &opts, const DecoderInfo &d);

/// Everything Session::create needs checked before it allocates: r in
/// [0, kMaxR], maxContext in [0, kMaxContext] and within the model's
/// positions, maxKVBytes >= 0, the decoder interface, and the KV bytes of
/// `batch` sequences at the maximum context.
Status checkSessionLimits(const SessionOptions &opts, const ModelSignature &sig, int64_t batch);

/// At prefill, when the batch is known: batch in [1, kMaxBatch] and the KV
/// bytes of batch sequences at maxContext rows (batch x caches x heads x
/// head_dim x maxContext x 4, overflow-checked) at most maxKVBytes, or the
/// physical memory when maxKVBytes is 0.
Status checkBatchLimits(const DecoderInfo &d, int64_t maxContext, int64_t batch, int64_t maxKVBytes);

/// temperature finite and >= 0, topK >= 0, topP in [0, 1], maxNewTokens in
/// [0, kMaxContext]: the options of Session::generate.
Status checkGenerateOptions(const GenerateOptions &o);

/// An exception caught at an API boundary as a one-line Status:
/// "<where>: out of memory (...)" for std::bad_alloc, else its what().
Status statusFromException(const std::string &where, const std::exception &e);

} // namespace bmc::limits

#endif
