//===- KVMemory.cpp --------------------------------------------------------===//

#include "runtime/KVMemory.h"

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

} // namespace bmc
