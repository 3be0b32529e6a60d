//===- KVMemory.h - memory for KV cache buffers (internal) -------*- C++ -*-===//
//
// KV buffers are reallocated as a cache grows; a fresh buffer's first touch
// costs a page fault per 4 KB page, which in a VM made copying into it ten
// times slower than the copy itself (1.7 vs 19 GB/s measured). Large
// buffers therefore get 2 MB transparent huge pages. The cost model
// calibrates through this same allocator. Sessions reserve more than they use
// and regrow inside the reservation (runtime/Session.cpp); untouched pages of
// a reservation are not resident.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_KVMEMORY_H
#define BMC_RUNTIME_KVMEMORY_H

#include <cstddef>

namespace bmc {

/// At least `bytes` of 64-byte-aligned memory (not zeroed); null on failure.
void *allocKV(size_t bytes, size_t &reserved);
void freeKV(void *p, size_t reserved);

/// The process-wide KV budget (bmc::setProcessKVLimit): bytes of KV rows that
/// sessions hold (their capacity, not the address space they reserve).
/// Taking fails, changing nothing, when the limit would be exceeded.
bool takeKVBudget(size_t bytes);
void returnKVBudget(size_t bytes);

} // namespace bmc

#endif
