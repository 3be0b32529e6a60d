// DeviceProgram: parsing a bmc-program line and uploading what it names once
// (weights, a product's weight in its device layout, constants). Running it:
// DeviceProgram.cpp.
#include "runtime/device/CudaWeights.h"
#include "runtime/device/DeviceProgram.h"
#include "runtime/device/DeviceProgramDesc.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace bmc {
namespace device {

int64_t programTypeBytes(const std::string &t) {
  if (t == "f32" || t == "i32")
    return 4;
  if (t == "f16" || t == "bf16")
    return 2;
  if (t == "i64")
    return 8;
  if (t == "i1") // bools as bytes, 0 or 1 (elementwise.cuh)
    return 1;
  return 0;
}

std::string programDimsText(const std::vector<int64_t> &d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i)
    s += (i ? ", " : "") + (d[i] < 0 ? std::string("?") : std::to_string(d[i]));
  return s + "]";
}

std::vector<int64_t> programDims(const json &a) {
  std::vector<int64_t> d;
  for (const json &x : a)
    d.push_back(x.get<int64_t>());
  return d;
}

namespace {

const char *kTag = "// bmc-program: ";

// Every bmc-program line of the source, parsed.
Result<std::vector<json>> programLines(const std::string &source) {
  std::vector<json> out;
  std::istringstream in(source);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.rfind(kTag, 0) != 0)
      continue;
    json j = json::parse(line.substr(std::strlen(kTag)), nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Status::error("bmc-program line " + std::to_string(n) + ": not a JSON object");
    if (!j.contains("version") || j["version"] != 1)
      return Status::error("bmc-program line " + std::to_string(n) + ": version " +
                           (j.contains("version") ? j["version"].dump() : std::string("missing")) + ", expected 1");
    for (const char *key : {"function", "inputs", "outputs", "weights", "constants", "steps", "memory"})
      if (!j.contains(key))
        return Status::error("bmc-program line " + std::to_string(n) + ": no '" + key + "'");
    if (!j["function"].is_string()) // functions() and create() read it as a name
      return Status::error("bmc-program line " + std::to_string(n) + ": 'function' is " + j["function"].dump() +
                           ", expected a string");
    out.push_back(std::move(j));
  }
  return out;
}

} // namespace

Result<std::vector<std::string>> DeviceProgram::functions(const std::string &emittedSource) {
  auto lines = programLines(emittedSource);
  if (!lines)
    return lines.status();
  std::vector<std::string> names;
  for (const json &j : *lines)
    names.push_back(j["function"].get<std::string>());
  return names;
}

DeviceProgram::DeviceProgram(Device &device, EmittedLauncher &launcher) : device_(device), launcher_(launcher) {}

DeviceProgram::~DeviceProgram() {
  for (auto &[id, p] : uploads_)
    device_.free(p);
  for (auto &[id, p] : productWeights_)
    device_.free(p);
  for (auto &[id, p] : inputBuffers_)
    device_.free(p);
  if (arena_)
    device_.free(arena_);
  if (shapeUploads_)
    device_.free(shapeUploads_);
}

size_t DeviceProgram::slots() const { return size_t(desc_->slots); }

Result<std::unique_ptr<DeviceProgram>> DeviceProgram::create(Device &device, EmittedLauncher &launcher,
                                                             const std::string &emittedSource,
                                                             const std::string &function,
                                                             const std::map<std::string, HostTensor> &weights) {
  try {
    return createChecked(device, launcher, emittedSource, function, weights);
  } catch (const json::exception &e) { // a field missing or of another type
    return Status::error("program @" + function + ": malformed bmc-program line: " + e.what());
  }
}

Result<std::unique_ptr<DeviceProgram>> DeviceProgram::createChecked(Device &device, EmittedLauncher &launcher,
                                                                    const std::string &emittedSource,
                                                                    const std::string &function,
                                                                    const std::map<std::string, HostTensor> &weights) {
  auto lines = programLines(emittedSource);
  if (!lines)
    return lines.status();
  std::unique_ptr<DeviceProgram> p(new DeviceProgram(device, launcher));
  for (json &j : *lines)
    if (j["function"] == function) {
      p->desc_ = std::make_unique<ProgramDesc>();
      ProgramDesc &d = *p->desc_;
      d.function = function, d.inputs = j["inputs"], d.outputs = j["outputs"], d.weights = j["weights"];
      d.constants = j["constants"], d.steps = j["steps"];
      d.slots = j["memory"].value("slots", int64_t(0)), d.alignment = j["memory"].value("alignment", int64_t(256));
    }
  if (!p->desc_)
    return Status::error("program @" + function + ": no bmc-program line for this function");
  const std::string at = "program @" + function + ": ";
  for (const json &o : p->desc_->outputs)
    p->outputNames_.push_back(o["name"].get<std::string>());
  for (const json &i : p->desc_->inputs) {
    ProgramInput in;
    in.name = i["name"], in.kind = i["kind"];
    if (in.kind != "index")
      in.type = i["type"];
    if (in.kind == "tensor")
      in.dims = programDims(i["dims"]);
    if (in.kind == "kv_cache")
      in.heads = i["heads"], in.headDim = i["head_dim"];
    p->inputs_.push_back(std::move(in));
  }

  // Weights: every one the program names must be given, of its type and dims.
  std::map<std::string, const json *> byName;
  for (const json &w : p->desc_->weights) {
    std::string name = w["name"], type = w["type"];
    std::vector<int64_t> dims = programDims(w["dims"]);
    byName[name] = &w;
    auto it = weights.find(name);
    if (it == weights.end())
      return Status::error(at + "weight '" + name + "' (" + type + " " + programDimsText(dims) +
                           ") missing: not among the " + std::to_string(weights.size()) + " weights given");
    if (it->second.type != type || it->second.dims != dims)
      return Status::error(at + "weight '" + name + "' given as " + it->second.type + " " +
                           programDimsText(it->second.dims) + ", expected " + type + " " + programDimsText(dims));
    int64_t count = 1;
    for (int64_t x : dims)
      count *= x;
    if (int64_t(it->second.bytes.size()) != count * programTypeBytes(type))
      return Status::error(at + "weight '" + name + "': " + std::to_string(it->second.bytes.size()) +
                           " bytes, expected " + std::to_string(count * programTypeBytes(type)));
    if (w.value("plain", false)) { // read as a view: uploaded as is
      if (dims.size() > 4) // a bmc_view4 would drop the leading dimensions
        return Status::error(at + "weight '" + name + "' of rank " + std::to_string(dims.size()) + " " +
                             programDimsText(dims) + ": a program's views have rank 4 at most");
      auto ptr = device.allocate(it->second.bytes.size());
      if (!ptr)
        return ptr.status();
      p->uploads_[w["value"]] = *ptr;
      Status st = device.copyToDevice(*ptr, it->second.bytes.data(), it->second.bytes.size());
      if (!st)
        return st;
    }
  }
  // A product's weight: its device layout, as the configuration's bmc-launch line describes it.
  for (const json &s : p->desc_->steps) {
    if (s["kind"] != "launch")
      continue;
    for (auto &[param, bound] : s["args"].items()) {
      if (!bound.is_object() || !bound.contains("weight")) // a value id, or a host integer
        continue;
      std::string name = bound.value("weight", ""), op = s["op"];
      int config = s["config"];
      std::string key = op + "/" + std::to_string(config) + "/" + name;
      if (p->productWeights_.count(key))
        continue;
      const EmittedWeight *ew = launcher.weight(op, config);
      const EmittedWeight::Source *src = nullptr;
      if (ew)
        for (const auto &x : ew->sources)
          if (x.name == name)
            src = &x;
      if (!src)
        return Status::error(at + op + " " + std::to_string(config) + ": its bmc-launch line has no weight '" + name +
                             "' (parameter " + param + ")");
      auto given = weights.find(name);
      if (given == weights.end() || !byName.count(name))
        return Status::error(at + "weight '" + name + "' (read by " + op + " " + std::to_string(config) + ") missing");
      ElementType own, storage;
      if (!parseElementType(src->type, own) || !parseElementType(ew->storage, storage) ||
          given->second.type != src->type)
        return Status::error(at + "weight '" + name + "' of " + given->second.type + ", " + op + " " +
                             std::to_string(config) + " reads " + src->type + " stored as " + ew->storage);
      const std::vector<int64_t> &dims = given->second.dims;
      if (dims.size() != 2)
        return Status::error(at + "weight '" + name + "' of rank " + std::to_string(dims.size()) +
                             ", a product's is 2-D");
      std::vector<uint8_t> layout;
      Status st = cudaMatMulWeight(given->second.bytes.data(), own, dims[0], dims[1], src->transpose, storage, layout);
      if (!st)
        return Status::error(at + "weight '" + name + "': " + st.message());
      auto ptr = device.allocate(layout.size());
      if (!ptr)
        return ptr.status();
      p->productWeights_[key] = *ptr;
      st = device.copyToDevice(*ptr, layout.data(), layout.size());
      if (!st)
        return st;
    }
  }
  // The shape vectors a kernel reads: one buffer, a place each (static sizes),
  // written per run at their steps (DeviceProgram::uploadShape).
  size_t uploadBytes = 0, align = size_t(std::max<int64_t>(p->desc_->alignment, 8));
  for (const json &s : p->desc_->steps) {
    if (s["kind"] != "shape" || !s.contains("upload"))
      continue;
    int64_t count = 1;
    for (int64_t x : programDims(s["upload"]["dims"]))
      count *= x;
    int64_t eb = programTypeBytes(s["upload"]["type"]);
    if (count < 0 || (eb != 4 && eb != 8))
      return Status::error(at + "shape vector " + s["value"].get<std::string>() + " uploaded as " +
                           s["upload"]["type"].get<std::string>() + " " +
                           programDimsText(programDims(s["upload"]["dims"])) + " (i32 or i64 expected)");
    p->shapeUploadOffset_[s["value"]] = uploadBytes;
    uploadBytes += (size_t(count * eb) + align - 1) / align * align;
  }
  if (uploadBytes) {
    auto ptr = device.allocate(uploadBytes);
    if (!ptr)
      return ptr.status();
    p->shapeUploads_ = *ptr;
  }
  for (const json &c : p->desc_->constants) {
    std::string type = c["type"], hex = c["hex"];
    std::vector<int64_t> dims = programDims(c["dims"]);
    if (dims.size() > 4) // a bmc_view4 would drop the leading dimensions
      return Status::error(at + "constant " + c["value"].get<std::string>() + " of rank " +
                           std::to_string(dims.size()) + " " + type + " " + programDimsText(dims) +
                           ": a program's views have rank 4 at most");
    int64_t count = 1;
    for (int64_t x : dims)
      count *= x;
    std::vector<uint8_t> raw(hex.size() / 2);
    for (size_t i = 0; i < raw.size(); ++i)
      raw[i] = uint8_t(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    size_t eb = size_t(programTypeBytes(type));
    std::vector<uint8_t> bytes(size_t(count) * eb);
    if (c.value("splat", false) ? raw.size() != eb : raw.size() != bytes.size())
      return Status::error(at + "constant " + c["value"].get<std::string>() + ": " + std::to_string(raw.size()) +
                           " bytes of data for " + type + " " + programDimsText(dims));
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(bytes.data() + i * eb, raw.data() + (c.value("splat", false) ? 0 : i * eb), eb);
    auto ptr = device.allocate(std::max<size_t>(bytes.size(), 1));
    if (!ptr)
      return ptr.status();
    p->uploads_[c["value"]] = *ptr;
    Status st = device.copyToDevice(*ptr, bytes.data(), bytes.size());
    if (!st)
      return st;
  }
  return p;
}

} // namespace device
} // namespace bmc
