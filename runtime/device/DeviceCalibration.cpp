//===- runtime/device/DeviceCalibration.cpp - cost constants of a Device ---===//

#include "runtime/device/DeviceCalibration.h"
#include "bmc/cost_model.h"
#include "runtime/KeyValueFile.h"
#include "runtime/device/DeviceGeneration.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
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

  // BW: a copy of a buffer beyond the last cache (the first copy untimed),
  // reps bounded by the device's synchronize().
  {
    // At most 256 MiB: a GPU's L2 is tens of MB; a VM's reported L3 can be
    // hundreds, whose 4x would take seconds and gigabytes on the CPU device.
    const size_t probe = std::min(std::max<size_t>(size_t(4 * d.properties().lastCacheBytes), size_t(64) << 20),
                                  size_t(256) << 20);
    auto a = d.allocate(probe);
    if (!a)
      return a.status();
    auto b = d.allocate(probe);
    if (!b) {
      (void)d.free(a.value());
      return b.status();
    }
    Status st = d.copyOnDevice(b.value(), a.value(), probe);
    if (st)
      st = d.synchronize();
    samples.clear();
    for (int i = 0; i < rounds && st; ++i) {
      auto t0 = Clock::now();
      st = d.copyOnDevice(b.value(), a.value(), probe);
      if (st)
        st = d.synchronize();
      samples.push_back(since(t0));
    }
    (void)d.free(b.value());
    (void)d.free(a.value());
    if (!st)
      return st;
    c.readProbeBytes = probe;
    c.readBytesPerSecond = 2.0 * double(probe) / std::max(median(samples), 1e-12);
  }

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

Result<DevicePassCosts> measurePassCosts(DeviceGeneration &g, int64_t context, int rounds) {
  constexpr int64_t kMaxRows = HardwareConstants::kPassRows[3];
  if (context < 1 || rounds < 1 || context + kMaxRows > g.maxContext())
    return Status::error("measurePassCosts: context " + std::to_string(context) + ", " + std::to_string(rounds) +
                         " rounds, maximum context " + std::to_string(g.maxContext()) +
                         " (expected a context of 1 or more with room for " + std::to_string(kMaxRows) +
                         " more tokens, 1 round or more)");
  DevicePassCosts c;
  c.context = context;
  if (auto p = g.prefill(std::vector<int64_t>(size_t(context), 0)); !p)
    return p.status();
  // One pass over `rows` tokens after `context`, rolled back; its seconds.
  auto pass = [&](int64_t rows) -> Result<double> {
    auto t0 = Clock::now();
    auto r = g.extend(std::vector<int64_t>(size_t(rows), 0), /*allLogits=*/true);
    double t = since(t0);
    if (!r)
      return r.status();
    if (Status s = g.truncate(context); !s)
      return s;
    return t;
  };
  std::vector<double> ones;
  for (int i = -1; i < 4; ++i) {
    const int64_t rows = i < 0 ? 1 : HardwareConstants::kPassRows[i];
    if (auto w = pass(rows); !w) // untimed: the first run of a token count captures its graph
      return w.status();
    if (i < 0)
      continue;
    std::vector<double> extra;
    for (int j = 0; j < rounds; ++j) {
      auto t = pass(rows);
      if (!t)
        return t.status();
      auto t1 = pass(1);
      if (!t1)
        return t1.status();
      ones.push_back(t1.value());
      extra.push_back(t.value() - t1.value());
    }
    c.passSeconds[i] = std::max(0.0, median(extra)); // t(rows) - t(1) for now
  }
  c.stepSeconds = median(ones);
  for (double &t : c.passSeconds)
    t += c.stepSeconds;
  return c;
}

} // namespace device

KVCostModel withDevicePassCosts(KVCostModel m, const device::DevicePassCosts &p) {
  const double bytes = double(m.weightBytes) + double(p.context) * double(m.caches) * double(m.rowBytes);
  const double streamed = m.hw.readBytesPerSecond > 0 ? bytes / m.hw.readBytesPerSecond : 0;
  m.stepOverheadSeconds = std::max(0.0, p.stepSeconds - streamed);
  double prev = 0;
  for (int i = 0; i < 4; ++i) {
    prev = std::max(prev, bytes > 0 ? (p.passSeconds[i] - p.stepSeconds) / bytes : 0.0);
    m.hw.passExtraSecondsPerByte[i] = prev;
  }
  return m;
}

namespace {

// The disk cache's format; a file of another format is measured again.
constexpr int kDeviceCacheFormat = 1;

std::string deviceCachePath(const device::DeviceProperties &p) {
  std::string key = p.name + "-" + p.driver;
  for (char &ch : key)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-')
      ch = '_';
  const char *x = std::getenv("XDG_CACHE_HOME");
  const char *home = std::getenv("HOME");
  std::string base = x && *x ? x : home ? std::string(home) + "/.cache" : "/tmp";
  return base + "/bmc/device-" + key;
}

std::string deviceLabel(const device::DeviceProperties &p) {
  return p.driver.empty() ? p.name : p.name + ", " + p.driver;
}

HardwareConstants fromDevice(const device::DeviceCostConstants &c, const device::DeviceProperties &p) {
  HardwareConstants h;
  h.allocSeconds = c.allocSeconds;
  h.copyBytesPerSecond = c.copyBytesPerSecond;
  h.readBytesPerSecond = c.readBytesPerSecond;
  h.maskSecondsPerByte = 1.0 / c.readBytesPerSecond;
  h.growSeconds = c.growSeconds;
  h.growGranularity = int64_t(c.growGranularity);
  h.device = deviceLabel(p);
  return h;
}

bool readCache(const std::string &path, HardwareConstants &h) {
  KeyValueFile f = KeyValueFile::read(path);
  int format = 0;
  if (!f.integer("format", format) || format != kDeviceCacheFormat || !f.text("device", h.device) ||
      !f.number("alloc_seconds", h.allocSeconds) || !f.number("copy_bytes_per_second", h.copyBytesPerSecond) ||
      !f.number("read_bytes_per_second", h.readBytesPerSecond) || !f.number("grow_seconds", h.growSeconds) ||
      !f.integer("grow_granularity", h.growGranularity))
    return false;
  if (!(h.allocSeconds > 0) || !(h.copyBytesPerSecond > 0) || !(h.readBytesPerSecond > 0) || h.growSeconds < 0)
    return false;
  h.maskSecondsPerByte = 1.0 / h.readBytesPerSecond;
  return true;
}

void writeCache(const std::string &path, const HardwareConstants &h) {
  std::ostringstream out;
  out.precision(9);
  out << "format " << kDeviceCacheFormat << "\ndevice " << h.device << "\nalloc_seconds " << h.allocSeconds
      << "\ncopy_bytes_per_second " << h.copyBytesPerSecond << "\nread_bytes_per_second " << h.readBytesPerSecond
      << "\ngrow_seconds " << h.growSeconds << "\ngrow_granularity " << h.growGranularity << "\n";
  KeyValueFile::write(path, out.str());
}

} // namespace

Result<HardwareConstants> deviceCostConstants(device::Device &dev, bool useCache) {
  static std::mutex mu;
  static std::map<std::string, HardwareConstants> measured; // by name and driver, this process
  std::lock_guard<std::mutex> lock(mu);
  const device::DeviceProperties &p = dev.properties();
  const std::string key = p.kind + "|" + p.name + "|" + p.driver;
  if (useCache) {
    auto it = measured.find(key);
    if (it != measured.end()) return it->second;
  }
  const bool onDisk = p.kind == "cuda";
  const std::string path = onDisk ? deviceCachePath(p) : std::string();
  HardwareConstants h;
  if (useCache && onDisk && readCache(path, h) && h.device == deviceLabel(p)) {
    h.fromCache = true;
  } else {
    auto c = device::calibrateDevice(dev);
    if (!c) return Status::error("device cost model: calibrating " + p.name + ": " + c.status().message());
    h = fromDevice(c.value(), p);
    if (!useCache) return h; // measured without touching either cache
    if (onDisk) writeCache(path, h);
  }
  measured[key] = h;
  return h;
}

} // namespace bmc
