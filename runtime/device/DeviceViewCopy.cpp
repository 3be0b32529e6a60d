//===- runtime/device/DeviceViewCopy.cpp - a strided view back to the host -===//

#include "runtime/device/DeviceViewCopy.h"

#include <cstring>
#include <vector>

namespace bmc {
namespace device {

namespace {

struct Dim {
  int64_t size, stride;
};

// The view's dimensions of size above 1, innermost first, each merged into
// the one inside it when they lie back to back (stride = inner size * inner
// stride): a contiguous view becomes one dimension of stride 1.
std::vector<Dim> merged(const bmc_view4 &view, int rank) {
  std::vector<Dim> dims;
  for (int i = 3; i >= 4 - rank; --i) {
    if (view.size[i] == 1)
      continue;
    if (!dims.empty() && view.stride[i] == dims.back().size * dims.back().stride)
      dims.back().size *= view.size[i];
    else
      dims.push_back({view.size[i], view.stride[i]});
  }
  return dims;
}

int64_t elements(const bmc_view4 &view, int rank) {
  int64_t count = 1;
  for (int i = 4 - rank; i < 4; ++i)
    count *= view.size[i];
  return count;
}

// The span the view reaches, [first, last] in elements from view.data; an
// element before the storage is an error.
Status span(const bmc_view4 &view, int rank, const std::string &what, int64_t &first, int64_t &last) {
  first = last = view.offset;
  for (int i = 4 - rank; i < 4; ++i)
    if (view.size[i] > 0)
      (view.stride[i] < 0 ? first : last) += (view.size[i] - 1) * view.stride[i];
  if (first < 0)
    return Status::error(what + " reaches element " + std::to_string(first) + ", before its storage");
  return Status();
}

DevicePtr at(const bmc_view4 &view, int64_t element, size_t eb) {
  return reinterpret_cast<DevicePtr>(view.data) + DevicePtr(element) * eb;
}

// The set-up both copies share: the view's element count, and when it is not
// 0 the span it reaches (an error when that starts before the storage).
struct Extent {
  int64_t count = 0, first = 0, last = 0;
};
Status extent(const bmc_view4 &view, int rank, const std::string &what, Extent &e) {
  e.count = elements(view, rank);
  return e.count == 0 ? Status() : span(view, rank, what, e.first, e.last);
}

// The span [e.first, e.last] copied to the host in one piece: staged[i * eb]
// is element e.first + i.
Status stage(Device &device, const bmc_view4 &view, const Extent &e, size_t eb, std::vector<uint8_t> &staged) {
  staged.resize(size_t(e.last - e.first + 1) * eb);
  return device.copyToHost(staged.data(), at(view, e.first, eb), staged.size());
}

} // namespace

ViewCopyKind viewCopyKind(const bmc_view4 &view, int rank) {
  if (elements(view, rank) == 0)
    return ViewCopyKind::Empty;
  std::vector<Dim> d = merged(view, rank);
  if (d.empty() || (d.size() == 1 && d[0].stride == 1))
    return ViewCopyKind::Contiguous;
  if (d.size() == 2 && d[0].stride == 1 && d[1].stride >= d[0].size)
    return ViewCopyKind::Rows;
  return ViewCopyKind::Gather;
}

Status copyViewToHost(Device &device, const bmc_view4 &view, int rank, size_t eb, uint8_t *dst,
                      const std::string &what) {
  Extent e;
  if (Status st = extent(view, rank, what, e); !st || e.count == 0)
    return st;
  const int64_t count = e.count;
  std::vector<Dim> d = merged(view, rank);
  switch (viewCopyKind(view, rank)) {
  case ViewCopyKind::Empty:
    return Status();
  case ViewCopyKind::Contiguous:
    return device.copyToHost(dst, at(view, view.offset, eb), size_t(count) * eb);
  case ViewCopyKind::Rows:
    return device.copy2DToHost(dst, size_t(d[0].size) * eb, at(view, view.offset, eb), size_t(d[1].stride) * eb,
                               size_t(d[0].size) * eb, size_t(d[1].size));
  case ViewCopyKind::Gather:
    break;
  }
  std::vector<uint8_t> staged;
  if (Status st = stage(device, view, e, eb, staged); !st)
    return st;
  // By the innermost merged dimension's run when it is contiguous, else by element.
  const bool unit = d[0].stride == 1;
  const int64_t run = unit ? d[0].size : 1;
  const size_t outer = unit ? 1 : 0; // the first dimension walked by index
  for (int64_t r = 0; r < count / run; ++r) {
    int64_t from = view.offset - e.first, rest = r;
    for (size_t i = outer; i < d.size(); ++i)
      from += (rest % d[i].size) * d[i].stride, rest /= d[i].size;
    std::memcpy(dst + size_t(r * run) * eb, staged.data() + size_t(from) * eb, size_t(run) * eb);
  }
  return Status();
}

Status copyViewToHostReference(Device &device, const bmc_view4 &view, int rank, size_t eb, uint8_t *dst,
                               const std::string &what) {
  Extent e;
  if (Status st = extent(view, rank, what, e); !st || e.count == 0)
    return st;
  std::vector<uint8_t> staged;
  if (Status st = stage(device, view, e, eb, staged); !st)
    return st;
  for (int64_t flat = 0; flat < e.count; ++flat) {
    int64_t from = view.offset - e.first, rest = flat;
    for (int i = 3; i >= 4 - rank; --i)
      from += (rest % view.size[i]) * view.stride[i], rest /= view.size[i];
    std::memcpy(dst + flat * eb, staged.data() + from * eb, eb);
  }
  return Status();
}

} // namespace device
} // namespace bmc
