//===- runtime/device/DeviceViewCopy.h - a strided view back to the host -*- C++ -*-===//
//
// DeviceProgram's copy back of an output: the elements of a view (rank 4 at
// most, any strides, a slice's negative step too) into a row-major host
// buffer, in as few device copies as the layout allows:
//   - contiguous (after merging the dimensions that lie back to back): one
//     copyToHost straight into the destination;
//   - rows of a contiguous run a fixed positive pitch apart, the pitch at
//     least the run (a batch's last-position logits): one copy2DToHost;
//   - anything else: one copy of the span the view reaches, then gathered on
//     the host by its longest contiguous inner run (one memcpy a run, not one
//     an element).
// copyViewToHostReference is the plain path the fast one is tested against
// (one span copy, then element by element).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_DEVICEVIEWCOPY_H
#define BMC_RUNTIME_DEVICE_DEVICEVIEWCOPY_H

#include "runtime/device/Device.h"
#include "runtime/device/cuda/decode_attention_params.h" // bmc_view4

#include <string>

namespace bmc {
namespace device {

enum class ViewCopyKind { Empty, Contiguous, Rows, Gather };
// How copyViewToHost copies `view` (its last `rank` dimensions).
ViewCopyKind viewCopyKind(const bmc_view4 &view, int rank);

// The elements of `view` (rank `rank`, `eb` bytes each, at view.data) into
// `dst`, row-major. `what` starts the error (an element before the storage).
Status copyViewToHost(Device &device, const bmc_view4 &view, int rank, size_t eb, uint8_t *dst,
                      const std::string &what);
Status copyViewToHostReference(Device &device, const bmc_view4 &view, int rank, size_t eb, uint8_t *dst,
                               const std::string &what);

} // namespace device
} // namespace bmc

#endif
