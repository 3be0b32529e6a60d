//===- runtime/device/DeviceCalibration.cpp - cost constants of a Device ---===//

#include "runtime/device/DeviceCalibration.h"
#include "bmc/cost_model.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>
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

} // namespace device

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
  std::ifstream f(path);
  std::string key;
  int format = 0, fields = 0;
  while (f >> key) {
    if (key == "format") f >> format;
    else if (key == "device") { f.get(); std::getline(f, h.device); ++fields; }
    else if (key == "alloc_seconds") { f >> h.allocSeconds; ++fields; }
    else if (key == "copy_bytes_per_second") { f >> h.copyBytesPerSecond; ++fields; }
    else if (key == "read_bytes_per_second") { f >> h.readBytesPerSecond; ++fields; }
    else if (key == "grow_seconds") { f >> h.growSeconds; ++fields; }
    else if (key == "grow_granularity") { f >> h.growGranularity; ++fields; }
    else break;
  }
  if (format != kDeviceCacheFormat || fields != 6 || !(h.allocSeconds > 0) || !(h.copyBytesPerSecond > 0) ||
      !(h.readBytesPerSecond > 0) || h.growSeconds < 0)
    return false;
  h.maskSecondsPerByte = 1.0 / h.readBytesPerSecond;
  return true;
}

void writeCache(const std::string &path, const HardwareConstants &h) {
  std::string dir = path.substr(0, path.find_last_of('/'));
  ::mkdir(dir.substr(0, dir.find_last_of('/')).c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::ofstream out(tmp);
  out.precision(9);
  out << "format " << kDeviceCacheFormat << "\ndevice " << h.device << "\nalloc_seconds " << h.allocSeconds
      << "\ncopy_bytes_per_second " << h.copyBytesPerSecond << "\nread_bytes_per_second " << h.readBytesPerSecond
      << "\ngrow_seconds " << h.growSeconds << "\ngrow_granularity " << h.growGranularity << "\n";
  out.close();
  if (out) std::rename(tmp.c_str(), path.c_str());
  else std::remove(tmp.c_str());
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
