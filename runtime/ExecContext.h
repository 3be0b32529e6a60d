//===- ExecContext.h - state of one call into compiled code (internal) ----===//
#ifndef BMC_RUNTIME_EXECCONTEXT_H
#define BMC_RUNTIME_EXECCONTEXT_H

#include "bmc/model.h"
#include "bmc/abi/entry.h"

#include <csetjmp>
#include <cstdint>
#include <string>
#include <vector>

namespace bmc {

/// Bump allocator for one call's intermediates. Chunks used in a call are
/// merged into one on reset, so steady-state calls allocate nothing.
class Arena {
public:
  ~Arena();
  void *alloc(int64_t bytes);
  /// The statically planned region: at least `bytes`, reused across calls.
  void *planned(int64_t bytes);
  void reset();
  size_t capacity() const;
  size_t highWater() const { return highWater_; }

private:
  struct Chunk { uint8_t *data; size_t size; };
  std::vector<Chunk> chunks_;
  uint8_t *planned_ = nullptr;
  size_t plannedSize_ = 0;
  size_t used_ = 0, inCall_ = 0, highWater_ = 0;
};

} // namespace bmc

struct bmc_exec_ctx {
  const uint8_t *weights = nullptr;
  void *pool = nullptr;
  bmc::Arena *arena = nullptr;
  const bmc::ModelSignature *sig = nullptr;
  std::vector<bmc::Tensor> *outputs = nullptr;
  bool lastTokenLogits = false;
  std::jmp_buf unwind;
  std::string error;
};

#endif
