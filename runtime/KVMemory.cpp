//===- KVMemory.cpp --------------------------------------------------------===//

#include "runtime/KVMemory.h"
#include "bmc/session.h"

#include <atomic>

#include <cstdint>
#include <cstdlib>
#include <sys/mman.h>

namespace bmc {

static constexpr size_t kHuge = size_t(2) << 20;

void *allocKV(size_t bytes, size_t &reserved) {
  if (bytes < kHuge) {
    reserved = (bytes + 63) & ~size_t(63);
    return std::aligned_alloc(64, reserved ? reserved : 64);
  }
  reserved = (bytes + kHuge - 1) & ~(kHuge - 1);
  // Over-map by one huge page so the buffer can start on a 2 MB boundary.
  size_t span = reserved + kHuge;
  void *m = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  uintptr_t a = (reinterpret_cast<uintptr_t>(m) + kHuge - 1) & ~(kHuge - 1);
  size_t head = a - reinterpret_cast<uintptr_t>(m);
  if (head) munmap(m, head);
  size_t tail = span - head - reserved;
  if (tail) munmap(reinterpret_cast<void *>(a + reserved), tail);
  madvise(reinterpret_cast<void *>(a), reserved, MADV_HUGEPAGE);
  return reinterpret_cast<void *>(a);
}

void freeKV(void *p, size_t reserved) {
  if (!p) return;
  if (reserved < kHuge) std::free(p);
  else munmap(p, reserved);
}

static std::atomic<int64_t> kvBytesHeld{0};
static std::atomic<int64_t> kvLimit{-1}; // -1: not read from BMC_MAX_KV_BYTES yet

int64_t processKVLimit() {
  int64_t l = kvLimit.load();
  if (l >= 0) return l;
  const char *e = std::getenv("BMC_MAX_KV_BYTES");
  char *end = nullptr;
  long long v = e && *e ? std::strtoll(e, &end, 10) : 0;
  l = e && *e && end && !*end && v > 0 ? v : 0;
  int64_t expected = -1;
  kvLimit.compare_exchange_strong(expected, l);
  return kvLimit.load();
}

void setProcessKVLimit(int64_t bytes) { kvLimit.store(bytes > 0 ? bytes : 0); }
int64_t processKVBytes() { return kvBytesHeld.load(); }

bool takeKVBudget(size_t bytes) {
  int64_t limit = processKVLimit(), b = int64_t(bytes);
  int64_t held = kvBytesHeld.load();
  do {
    if (limit > 0 && held + b > limit) return false;
  } while (!kvBytesHeld.compare_exchange_weak(held, held + b));
  return true;
}

void returnKVBudget(size_t bytes) { kvBytesHeld.fetch_sub(int64_t(bytes)); }

} // namespace bmc
