//===- CudaPackage.cpp - the CUDA section of a package ---------------------===//
//
// Its codec and checks (bmc/abi/package.h; docs/PACKAGE.md "The CUDA
// section"), the ahead-of-time build bmc-compile --target cuda calls (NVRTC
// lives in the runtime, so the compiler includes no runtime/ header), and the
// load path: the binary for the device, the module, the launcher and the
// model's device part whose sessions run DeviceGeneration (CudaPackage.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/CudaPackage.h"
#include "bmc/abi/names.h"
#include "runtime/DeviceModel.h"
#include "runtime/device/CudaDevice.h"
#include "runtime/device/DeviceProgram.h"
#include "runtime/device/KernelLibrary.h"
#include "runtime/device/Nvrtc.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace bmc {

const char *targetName(Target t) {
  switch (t) {
  case Target::Cpu: return "cpu";
  case Target::Cuda: return "cuda";
  }
  return "?";
}

bool parseTarget(const std::string &name, Target &out) {
  return parseByName<Target>(name, {Target::Cpu, Target::Cuda}, targetName, out);
}

namespace pkg {
namespace {

using json = nlohmann::json;

/// Bytes per element of a program type; 0 for an unknown one.
uint64_t elementBytes(const std::string &t) {
  if (t == "f32" || t == "i32") return 4;
  if (t == "f16" || t == "bf16") return 2;
  if (t == "i64") return 8;
  if (t == "i1") return 1;
  return 0;
}

std::string dimsText(const std::vector<int64_t> &d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

/// At most 64 characters of a name read from a file, control bytes escaped.
std::string shown(const std::string &s) {
  std::string o;
  for (char c : s.substr(0, 64)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned char>(c));
      o += b;
    } else {
      o += c;
    }
  }
  return "'" + o + (s.size() > 64 ? "...'" : "'");
}

struct Put {
  std::vector<uint8_t> out;
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
  }
  void str(const std::string &s) {
    u64(s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
};

/// Every read bounded by what is left; the first failure is kept.
struct Get {
  const uint8_t *p, *end;
  std::string why;
  bool ok() const { return why.empty(); }
  void fail(const std::string &m) {
    if (why.empty()) why = m;
  }
  uint64_t u64(const char *what) {
    if (!ok()) return 0;
    if (end - p < 8) {
      fail(std::string("truncated at ") + what);
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
    p += 8;
    return v;
  }
  uint64_t count(uint64_t max, const char *what) {
    uint64_t n = u64(what);
    if (ok() && n > max) fail(std::string(what) + " " + std::to_string(n) + " out of range [0, " + std::to_string(max) + "]");
    return ok() ? n : 0;
  }
  std::string str(const char *what) {
    uint64_t n = u64(what);
    if (ok() && n > uint64_t(end - p)) fail(std::string(what) + ": " + std::to_string(n) + " bytes, " +
                                            std::to_string(end - p) + " left (truncated)");
    if (!ok()) return {};
    std::string s(reinterpret_cast<const char *>(p), n);
    p += n;
    return s;
  }
};

bool validArch(const std::string &a) {
  if (a.size() < 5 || a.size() > 6 || a.compare(0, 3, "sm_") != 0) return false;
  for (size_t i = 3; i < a.size(); ++i)
    if (a[i] < '0' || a[i] > '9') return false;
  return a[3] != '0';
}

int archNumber(const std::string &a) { return std::stoi(a.substr(3)); }

/// Whether `ptx` declares `.target ARCH` (NVRTC writes ".target sm_NN").
bool ptxTargets(const std::string &ptx, const std::string &arch) {
  const std::string key = ".target " + arch;
  for (size_t at = ptx.find(key); at != std::string::npos; at = ptx.find(key, at + 1)) {
    const size_t after = at + key.size();
    if (after == ptx.size() || !(ptx[after] >= '0' && ptx[after] <= '9')) return true;
  }
  return false;
}

} // namespace

std::vector<uint8_t> encodeCudaSection(const CudaSection &s) {
  Put w;
  w.str(s.source);
  w.u64(s.functions.size());
  for (const std::string &f : s.functions) w.str(f);
  w.u64(s.binaries.size());
  for (const CudaBinary &b : s.binaries) {
    w.str(b.arch);
    w.str(b.cubin);
    w.str(b.ptx);
  }
  w.u64(s.weights.size());
  for (const CudaWeight &x : s.weights) {
    w.str(x.name);
    w.str(x.type);
    w.u64(x.dims.size());
    for (int64_t d : x.dims) w.u64(uint64_t(d));
    w.u64(x.offset);
    w.u64(x.bytes);
  }
  return w.out;
}

Result<std::vector<CudaWeight>> cudaProgramWeights(const std::string &source) try {
  static const char *kTag = "// bmc-program: ";
  std::vector<CudaWeight> out;
  std::map<std::string, size_t> seen;
  std::istringstream in(source);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.rfind(kTag, 0) != 0) continue;
    const std::string where = "bmc-program line " + std::to_string(n);
    json j = json::parse(line.substr(std::strlen(kTag)), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("weights") || !j["weights"].is_array())
      return Status::error(where + ": not a JSON object with a 'weights' list");
    for (const json &e : j["weights"]) {
      CudaWeight w;
      w.name = e.at("name").get<std::string>();
      w.type = e.at("type").get<std::string>();
      for (const json &d : e.at("dims")) w.dims.push_back(d.get<int64_t>());
      if (elementBytes(w.type) == 0)
        return Status::error(where + ": weight " + shown(w.name) + " of type " + shown(w.type) +
                             " (expected f32, f16, bf16, i32, i64 or i1)");
      for (int64_t d : w.dims)
        if (d < 0) return Status::error(where + ": weight " + shown(w.name) + " has dims " + dimsText(w.dims) +
                                        " (a weight's are static)");
      auto it = seen.find(w.name);
      if (it == seen.end()) {
        seen[w.name] = out.size();
        out.push_back(std::move(w));
      } else if (out[it->second].type != w.type || out[it->second].dims != w.dims) {
        return Status::error(where + ": weight " + shown(w.name) + " is " + w.type + " " + dimsText(w.dims) +
                             " here and " + out[it->second].type + " " + dimsText(out[it->second].dims) +
                             " in an earlier program");
      }
    }
  }
  return out;
} catch (const std::exception &e) { // a field of another type: nlohmann's type_error
  return Status::error(std::string("bmc-program line: a weight entry is malformed (") + e.what() + ")");
}

bool decodeCudaSection(const uint8_t *data, size_t size, uint64_t weightsBytes, CudaSection &s, std::string &error) {
  auto failed = [&](const std::string &why) {
    error = "CUDA section: " + why;
    return false;
  };
  Get r{data, data + size};
  s = CudaSection();
  s.source = r.str("the CUDA C source");
  for (uint64_t n = r.count(1 << 16, "function count"), i = 0; i < n; ++i) s.functions.push_back(r.str("a function name"));
  for (uint64_t n = r.count(64, "architecture count"), i = 0; i < n; ++i) {
    CudaBinary b;
    b.arch = r.str("an architecture name");
    b.cubin = r.str("a cubin");
    b.ptx = r.str("a PTX text");
    s.binaries.push_back(std::move(b));
  }
  for (uint64_t n = r.count(1 << 20, "weight count"), i = 0; i < n; ++i) {
    CudaWeight w;
    w.name = r.str("a weight name");
    w.type = r.str("a weight type");
    for (uint64_t rank = r.count(8, "a weight's rank"), d = 0; d < rank; ++d) w.dims.push_back(int64_t(r.u64("a dimension")));
    w.offset = r.u64("a weight offset");
    w.bytes = r.u64("a weight size");
    s.weights.push_back(std::move(w));
  }
  if (!r.ok()) return failed(r.why);
  if (r.p != r.end) return failed(std::to_string(r.end - r.p) + " bytes after the weight table");

  // The architecture table.
  if (s.binaries.empty()) return failed("no architecture (expected a cubin for each of sm_80, sm_90)");
  for (size_t i = 0; i < s.binaries.size(); ++i) {
    const CudaBinary &b = s.binaries[i];
    if (!validArch(b.arch)) return failed("architecture " + shown(b.arch) + " (expected sm_NN)");
    if (i > 0 && archNumber(b.arch) <= archNumber(s.binaries[i - 1].arch))
      return failed("architecture " + b.arch + " after " + s.binaries[i - 1].arch +
                    " (expected each once, ascending)");
    if (b.cubin.size() < 4 || b.cubin.compare(0, 4, "\x7f" "ELF") != 0)
      return failed("the cubin for " + b.arch + " is not an ELF image");
    if (!ptxTargets(b.ptx, b.arch)) return failed("the PTX for " + b.arch + " has no '.target " + b.arch + "'");
  }

  // The program lines: they parse, and name the recorded functions.
  Result<std::vector<std::string>> fns = device::DeviceProgram::functions(s.source); // a Status, never a throw
  if (!fns) return failed(fns.status().message());
  if (fns.value().empty()) return failed("the CUDA C has no bmc-program line");
  if (fns.value() != s.functions) {
    auto list = [](const std::vector<std::string> &v) {
      std::string o;
      for (const std::string &f : v) o += (o.empty() ? "" : ", ") + shown(f);
      return o.empty() ? std::string("none") : o;
    };
    return failed("its bmc-program lines are for " + list(fns.value()) + ", its function table lists " +
                  list(s.functions));
  }

  // The weight table: well formed, inside the weights section, and exactly
  // what the programs upload.
  std::map<std::string, const CudaWeight *> byName;
  for (const CudaWeight &w : s.weights) {
    const std::string what = "weight " + shown(w.name);
    if (w.name.empty()) return failed("a weight without a name");
    if (!byName.emplace(w.name, &w).second) return failed(what + " listed twice");
    const uint64_t elem = elementBytes(w.type);
    if (elem == 0) return failed(what + " of type " + shown(w.type) + " (expected f32, f16, bf16, i32, i64 or i1)");
    uint64_t bytes = elem;
    for (int64_t d : w.dims) {
      if (d < 0 || (d > 0 && bytes > std::numeric_limits<uint64_t>::max() / uint64_t(d)))
        return failed(what + " has dims " + dimsText(w.dims) + " (expected sizes >= 0 whose product fits)");
      bytes *= uint64_t(d);
    }
    if (w.bytes != bytes)
      return failed(what + ": " + std::to_string(w.bytes) + " bytes recorded, its dims " + dimsText(w.dims) + " of " +
                    w.type + " are " + std::to_string(bytes));
    if (w.offset % 64 || w.offset > weightsBytes || w.bytes > weightsBytes - w.offset)
      return failed(what + " at [" + std::to_string(w.offset) + ", +" + std::to_string(w.bytes) +
                    ") is not 64-byte aligned inside the weights section of " + std::to_string(weightsBytes) + " bytes");
  }
  Result<std::vector<CudaWeight>> wanted = cudaProgramWeights(s.source);
  if (!wanted) return failed(wanted.status().message());
  for (const CudaWeight &w : wanted.value()) {
    auto it = byName.find(w.name);
    if (it == byName.end()) return failed("the programs upload weight " + shown(w.name) + ", which the weight table lacks");
    if (it->second->type != w.type || it->second->dims != w.dims)
      return failed("weight " + shown(w.name) + " is " + it->second->type + " " + dimsText(it->second->dims) +
                    " in the weight table, " + w.type + " " + dimsText(w.dims) + " in the programs");
  }
  if (wanted.value().size() != s.weights.size())
    return failed("the weight table lists " + std::to_string(s.weights.size()) + " weights, the programs upload " +
                  std::to_string(wanted.value().size()));
  return true;
}

Result<CudaSection> cudaSectionOf(const std::string &emitted) {
  CudaSection s;
  s.source = emitted;
  auto fns = device::DeviceProgram::functions(emitted);
  if (!fns) return fns.status();
  if (fns.value().empty()) return Status::error("the CUDA C has no bmc-program line (not a whole-model emit)");
  s.functions = std::move(fns.value());
  auto weights = cudaProgramWeights(emitted);
  if (!weights) return weights.status();
  s.weights = std::move(weights.value());
  return s;
}

Result<CudaSection> buildCudaSection(const std::string &emitted) {
  auto section = cudaSectionOf(emitted);
  if (!section) return section.status();
  CudaSection &s = section.value();
  auto nvrtc = device::Nvrtc::load();
  if (!nvrtc)
    return Status::error("--target cuda compiles the kernels ahead of time with NVRTC, which cannot be loaded: " +
                         nvrtc.status().message() + " (install the CUDA toolkit's NVRTC, or set BMC_CUDA_ROOT)");
  const std::string full = device::cudaEmittedKernelSource(emitted);
  for (const std::string &arch : cudaPackageArchs()) {
    device::NvrtcRequest req;
    req.source = full;
    req.name = "bmc_package.cu";
    req.arch = arch;
    auto out = nvrtc.value()->compile(req);
    if (!out) return out.status();
    s.binaries.push_back({arch, std::move(out->cubin), std::move(out->ptx)});
  }
  return section;
}

} // namespace pkg

Result<std::shared_ptr<Model>> loadCudaPackage(CudaPackageParts parts) {
  auto device = device::CudaDevice::create(0);
  if (!device) return Status::error("device cuda: " + device.status().message());
  return startDeviceGeneration(std::move(device.value()), std::move(parts));
}

Result<device::ModuleImage> cudaModuleImage(const pkg::CudaSection &section, int major, int minor,
                                            std::string *chosen) {
  const int want = major * 10 + minor;
  const std::string arch = "sm_" + std::to_string(major) + std::to_string(minor);
  const pkg::CudaBinary *ptx = nullptr;
  std::string have;
  for (const pkg::CudaBinary &b : section.binaries) { // ascending (decodeCudaSection)
    have += (have.empty() ? "" : ", ") + b.arch;
    const int n = std::stoi(b.arch.substr(3));
    if (n == want) {
      device::ModuleImage image;
      image.format = device::ModuleFormat::Cubin;
      image.bytes = b.cubin;
      if (chosen) *chosen = "cubin " + b.arch;
      return image;
    }
    if (n < want) ptx = &b;
  }
  if (!ptx)
    return Status::error("device cuda: the package has cubins and PTX for " + have + ", none for this GPU's " + arch +
                         " or below (recompile with bmc-compile --target cuda for it)");
  device::ModuleImage image;
  image.format = device::ModuleFormat::Ptx;
  image.bytes = ptx->ptx;
  if (chosen) *chosen = "PTX " + ptx->arch + " (compiled for " + arch + " by the driver)";
  return image;
}

Result<std::shared_ptr<Model>> startDeviceGeneration(std::unique_ptr<device::Device> device, CudaPackageParts parts) {
  if (!device) return Status::error("device cuda: no device");
  const device::DeviceProperties &p = device->properties();
  std::string chosen;
  auto image = cudaModuleImage(parts.section, p.computeMajor, p.computeMinor, &chosen);
  if (!image) return image.status();
  return startDeviceGeneration(std::move(device), std::move(parts), image.value(), chosen);
}

std::map<std::string, device::HostTensor> DeviceModel::weightTensors() const {
  std::map<std::string, device::HostTensor> out;
  for (const pkg::CudaWeight &w : weightTable) { // inside the section (decodeCudaSection)
    device::HostTensor &t = out[w.name];
    t.type = w.type;
    t.dims = w.dims;
    t.bytes.assign(weights.get() + w.offset, weights.get() + w.offset + w.bytes);
  }
  return out;
}

Result<std::shared_ptr<Model>> startDeviceGeneration(std::unique_ptr<device::Device> device, CudaPackageParts parts,
                                                     const device::ModuleImage &image, const std::string &binary) {
  if (!device) return Status::error("device cuda: no device");
  auto dm = std::make_shared<DeviceModel>();
  const std::vector<std::string> &fns = parts.section.functions;
  if (fns.size() != 1) {
    std::string list;
    for (const std::string &f : fns) list += (list.empty() ? "" : ", ") + f;
    return Status::error("device cuda: the CUDA section has " + std::to_string(fns.size()) + " programs (" + list +
                         "); a session runs one decoder function");
  }
  auto sig = device::DeviceDecoderSignature::fromModel(parts.signature);
  if (!sig) return Status::error("device cuda: " + sig.status().message());
  auto module = device->loadModule(image);
  if (!module) return Status::error("device cuda: loading the " + binary + ": " + module.status().message());
  dm->device = std::move(device);
  dm->module = module.value();
  dm->binary = binary;
  auto launcher = device::EmittedLauncher::create(*dm->device, dm->module, parts.section.source);
  if (!launcher) return Status::error("device cuda: " + launcher.status().message());
  dm->launcher = std::move(launcher.value());
  dm->source = std::move(parts.section.source);
  dm->function = fns[0];
  dm->weightTable = std::move(parts.section.weights);
  dm->weights = parts.weights;
  dm->weightBytes = parts.weightBytes;
  dm->signature = sig.value();
  // One generation with the model's own KV mode and r, so that a program that
  // does not fit the signature fails at load; the first session whose options
  // match takes it (the weights uploaded once).
  device::DeviceGenerationOptions o = deviceGenerationDefaults(parts.signature.decoder);
  auto gen = device::DeviceGeneration::create(*dm->device, *dm->launcher, dm->source, dm->function,
                                              dm->weightTensors(), dm->signature, o);
  if (!gen) return Status::error("device cuda: " + gen.status().message());
  dm->spare = std::move(gen.value());
  dm->spareOptions = o;
  std::shared_ptr<const uint8_t> weights = parts.weights;
  return Model::fromDevice(std::move(dm), std::move(weights), parts.weightBytes, std::move(parts.signature),
                           parts.options);
}

device::DeviceGenerationOptions deviceGenerationDefaults(const DecoderInfo &d) {
  device::DeviceGenerationOptions o;
  o.kvMode = d.kvMode == "prealloc" || d.kvMode == "concat" ? d.kvMode : "bmc";
  if (d.r > 0) o.r = d.r; // else a session's cost model chooses it (Session::create)
  return o;
}

} // namespace bmc
