//===- runtime/device/DeviceCalibration.cpp - cost constants of a Device ---===//

#include "runtime/device/DeviceCalibration.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace bmc {
namespace device {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

Result<DeviceCostConstants> calibrateDevice(Device &d, size_t bufferBytes, int rounds) {
  if (bufferBytes == 0 || rounds < 1)
    return Status::error("calibrateDevice: " + std::to_string(bufferBytes) + " bytes, " +
                         std::to_string(rounds) + " rounds (expected more than 0 bytes, 1 round or more)");
  DeviceCostConstants c;
  c.bufferBytes = bufferBytes;
  if (Status s = d.synchronize(); !s)
    return s;

  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    auto t0 = Clock::now();
    auto p = d.allocate(bufferBytes);
    if (!p)
      return p.status();
    if (Status s = d.free(p.value()); !s)
      return s;
    samples.push_back(since(t0));
  }
  c.allocSeconds = median(samples);

  auto src = d.allocate(bufferBytes);
  if (!src)
    return src.status();
  std::vector<unsigned char> ones(bufferBytes, 1);
  Status status = d.copyToDevice(src.value(), ones.data(), bufferBytes);
  samples.clear();
  for (int i = 0; i < rounds && status; ++i) {
    auto dst = d.allocate(bufferBytes);
    if (!dst) {
      status = dst.status();
      break;
    }
    auto t0 = Clock::now();
    status = d.copyOnDevice(dst.value(), src.value(), bufferBytes); // complete on return
    samples.push_back(since(t0));
    if (Status s = d.free(dst.value()); status && !s)
      status = s;
  }
  if (Status s = d.free(src.value()); status && !s)
    status = s;
  if (!status)
    return status;
  c.copyBytesPerSecond = double(bufferBytes) / std::max(median(samples), 1e-12);

  if (d.properties().growableBuffers) {
    samples.clear();
    for (int i = 0; i < rounds; ++i) {
      // A fresh reservation per round: the first granule, then the second (timed).
      auto g = d.reserveGrowable(bufferBytes);
      if (!g)
        return g.status();
      GrowableBuffer &buf = *g.value();
      c.growGranularity = buf.granularity();
      if (Status s = buf.grow(1); !s)
        return s;
      if (buf.committedBytes() >= buf.reservedBytes())
        break; // the buffer is one granule: nothing more to grow
      auto t0 = Clock::now();
      if (Status s = buf.grow(buf.committedBytes() + 1); !s)
        return s;
      samples.push_back(since(t0));
    }
    if (!samples.empty())
      c.growSeconds = median(samples);
  }
  return c;
}

} // namespace device
} // namespace bmc
