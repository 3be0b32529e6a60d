// Internal to DeviceProgram*.cpp: the parsed bmc-program line and the
// helpers reading it (runtime/device/DeviceProgram.h has the interface).
#ifndef BMC_RUNTIME_DEVICE_DEVICEPROGRAMDESC_H
#define BMC_RUNTIME_DEVICE_DEVICEPROGRAMDESC_H

#include "bmc/status.h"
#include "runtime/device/cuda/decode_attention_params.h" // bmc_view4

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bmc {
namespace device {

using json = nlohmann::json;

struct ProgramDesc {
  std::string function;
  json inputs, outputs, weights, constants, steps;
  int64_t slots = 0, alignment = 256;
};

// Bytes of an element type ("f32", "f16", "bf16", "i32", "i64", "i1": a
// byte); 0 otherwise.
int64_t programTypeBytes(const std::string &t);
// "[1, 2, ?, 27]" (-1: ?).
std::string programDimsText(const std::vector<int64_t> &d);
std::vector<int64_t> programDims(const json &a);

// A shape vector's elements by value id (a `shape` step's), or an error.
using ProgramShapeLookup = std::function<Result<std::vector<int64_t>>(const std::string &id)>;

// A view step's op (slice, split, squeeze, unsqueeze, expand, transpose,
// reshape, flatten) on the view `in` of rank `inRank`: the result's offset,
// sizes and strides (the same storage), with the CPU lowering's checks
// (LowerData.cpp) and the result type's static `dims`; errors are one line,
// without the step's name (DeviceProgramView.cpp). A reshape or flatten
// needs `in` row-major (else an error: the compiler's bmck.copy belongs in
// front); with `held` its `in` is a kernel result of rank > 4 held at those
// dimensions of `in_dims` (the others statically 1), read at its full rank.
Status programViewOp(const json &step, const bmc_view4 &in, int inRank, const ProgramShapeLookup &shape,
                     bmc_view4 &out, int &outRank);

} // namespace device
} // namespace bmc

#endif
