// Internal to DeviceProgram*.cpp: the parsed bmc-program line and the
// helpers reading it (runtime/device/DeviceProgram.h has the interface).
#ifndef BMC_RUNTIME_DEVICE_DEVICEPROGRAMDESC_H
#define BMC_RUNTIME_DEVICE_DEVICEPROGRAMDESC_H

#include "bmc/status.h"

#include <nlohmann/json.hpp>

#include <cstdint>
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

// Bytes of an element type ("f32", "f16", "bf16", "i32", "i64"); 0 otherwise.
int64_t programTypeBytes(const std::string &t);
// "[1, 2, ?, 27]" (-1: ?).
std::string programDimsText(const std::vector<int64_t> &d);
std::vector<int64_t> programDims(const json &a);

} // namespace device
} // namespace bmc

#endif
