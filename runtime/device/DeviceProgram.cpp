// DeviceProgram: running a bmc-program line (compiler/targets/cuda/
// EmitCudaProgram.cpp) on a Device through EmittedLauncher: inputs bound, a
// plan walk for the arena's size, a launch walk, outputs copied back. Parsing
// and uploads: DeviceProgramLoad.cpp. See DeviceProgram.h.
#include "runtime/device/DeviceProgram.h"
#include "runtime/device/DeviceProgramDesc.h"
#include "runtime/device/DeviceViewCopy.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace bmc {
namespace device {

// One run's values by id.
struct DeviceProgram::Run {
  struct Val {
    enum Kind { None, View, KV, Scalar } kind = None;
    bmc_view4 view = {};
    int rank = 0;
    std::string type;
    int64_t scalar = 0;
    int cache = -1; // KV: index into caches
    // A shape vector's elements (a `shape` step's), evaluated on the host;
    // a constant that is one keeps its View too.
    bool hasElements = false;
    std::vector<int64_t> elements;
    // A tensor input fed from the host, and views of it that keep every
    // element (plain, reshape, flatten, squeeze, unsqueeze, transpose; not a
    // slice, split or expand): its bytes, for index_bound.
    const HostTensor *host = nullptr;
    std::string hostName;
  };
  std::map<std::string, Val> vals;
  struct Cache {
    bmc_kv_buffer buf;
    int64_t heads, headDim;
    std::string type, name;
    bmc_kv_buffer *caller;
  };
  std::vector<Cache> caches;
  std::vector<int64_t> slotBytes, slotOffset;
  // The launch walk's launches, collected in order (and where each is, for
  // its error): all checked before the first one runs.
  std::vector<StepCall> calls;
  std::vector<std::string> callWhere;
  // Kept outputs (ProgramKept): their launches' value ids -> output names,
  // and the buffers the launch walk took for them (by output name).
  std::map<std::string, std::string> keptIds;
  std::map<std::string, DevicePtr> keptBuffers;
  ProgramKept *kept = nullptr;
  // The device checks (bmc.check_equal of device data) of the launch walk:
  // the flag's value id, the message, where; read back after the launches.
  struct Check {
    std::string flag, message, where;
    size_t call = 0; // its launch's index in calls
  };
  std::vector<Check> checks;
  const std::map<std::string, CopyBack> *copyBack = nullptr; // ProgramInputs::copyBack

  // A size expression: a number, or a sum of terms (a number, a reference
  // "vK.size[d]" / "vK", or a list of terms multiplied).
  Result<int64_t> eval(const json &e) const {
    if (e.is_number_integer())
      return e.get<int64_t>();
    if (e.is_string())
      return ref(e.get<std::string>());
    if (!e.is_array())
      return Status::error("a size expression " + e.dump() + " is neither a number nor a sum");
    int64_t sum = 0;
    for (const json &t : e) {
      int64_t v = 1;
      if (t.is_array()) {
        for (const json &f : t) {
          Result<int64_t> x = f.is_string()           ? ref(f.get<std::string>())
                              : f.is_number_integer() ? Result<int64_t>(f.get<int64_t>())
                                                      : Result<int64_t>(Status::error("bad factor " + f.dump()));
          if (!x)
            return x;
          v *= *x;
        }
      } else {
        Result<int64_t> x = t.is_string()           ? ref(t.get<std::string>())
                            : t.is_number_integer() ? Result<int64_t>(t.get<int64_t>())
                                                    : Result<int64_t>(Status::error("bad term " + t.dump()));
        if (!x)
          return x;
        v = *x;
      }
      sum += v;
    }
    return sum;
  }
  // The number in "[N]" at `open` (a '[') when it ends `r`: decimal digits only; -1 otherwise.
  static int64_t bracketIndex(const std::string &r, size_t open) {
    if (open >= r.size() || r[open] != '[' || r.back() != ']' || r.size() - open < 3 || r.size() - open > 20)
      return -1;
    int64_t i = 0;
    for (size_t k = open + 1; k + 1 < r.size(); ++k) {
      if (r[k] < '0' || r[k] > '9')
        return -1;
      i = i * 10 + (r[k] - '0');
    }
    return i;
  }
  Result<int64_t> ref(const std::string &r) const {
    if (size_t open = r.find('['); open != std::string::npos && r.find(".size[") == std::string::npos) {
      // "vK[i]": element i of a shape vector (a `shape` step's, host integers).
      std::string id = r.substr(0, open);
      auto it = vals.find(id);
      if (it == vals.end())
        return Status::error("'" + r + "' refers to " + id + ", not defined before");
      int64_t i = bracketIndex(r, open);
      if (i < 0)
        return Status::error("'" + r + "': expected an element index, vK[N] with N a number");
      if (!it->second.hasElements || size_t(i) >= it->second.elements.size())
        return Status::error("'" + r + "': " + id + " is not a shape vector with an element " + std::to_string(i));
      return it->second.elements[size_t(i)];
    }
    size_t dot = r.find(".size[");
    std::string id = dot == std::string::npos ? r : r.substr(0, dot);
    auto it = vals.find(id);
    if (it == vals.end())
      return Status::error("'" + r + "' refers to " + id + ", not defined before");
    const Val &v = it->second;
    if (dot == std::string::npos) {
      if (v.kind != Val::Scalar)
        return Status::error("'" + r + "' is not a scalar");
      return v.scalar;
    }
    int64_t d = bracketIndex(r, dot + 5);
    if (d < 0)
      return Status::error("'" + r + "': expected a dimension index, vK.size[N] with N a number");
    if (v.kind != Val::View || d >= v.rank)
      return Status::error("'" + r + "': " + id + " has no dimension " + std::to_string(d));
    return v.view.size[4 - v.rank + d];
  }
};

namespace {

// A contiguous row-major view of `dims` (rank 4 at most: inputs are refused
// by bindInputs, weights and constants by create(), results are folded by
// the emitter, walk checks) at `data`.
bmc_view4 contiguous(DevicePtr data, const std::vector<int64_t> &dims) {
  assert(dims.size() <= 4 && "a rank above 4 is refused before it is viewed");
  bmc_view4 v = {};
  v.data = reinterpret_cast<const void *>(data);
  int rank = int(dims.size());
  long long stride = 1;
  for (int i = 3; i >= 0; --i) {
    int d = i - (4 - rank);
    v.size[i] = d >= 0 ? dims[d] : 1;
    v.stride[i] = stride;
    stride *= v.size[i];
  }
  return v;
}

// A KV cache's valid rows: [batch, heads, valid, head_dim] with the buffer's strides.
bmc_view4 kvRows(const DeviceProgram::Run::Cache &c) {
  bmc_view4 v = {};
  v.data = c.buf.data;
  v.size[0] = c.buf.batch, v.size[1] = c.heads, v.size[2] = c.buf.valid, v.size[3] = c.headDim;
  // Rows outermost (bmc_kv_buffer): a row of every [batch, head], then the next row.
  v.stride[3] = 1, v.stride[1] = c.headDim, v.stride[0] = c.heads * c.headDim;
  v.stride[2] = c.buf.batch * c.heads * c.headDim;
  return v;
}

// A tensor input's type and dims against the program line's (-1: any);
// `count` its elements.
Status checkTensorInput(const std::string &at, const std::string &name, const std::string &type,
                        const std::vector<int64_t> &want, const std::string &givenType,
                        const std::vector<int64_t> &dims, int64_t &count) {
  if (givenType != type)
    return Status::error(at + "input '" + name + "' of " + givenType + ", expected " + type);
  if (dims.size() != want.size())
    return Status::error(at + "input '" + name + "' of rank " + std::to_string(dims.size()) + " " +
                         programDimsText(dims) + ", expected rank " + std::to_string(want.size()) + " " +
                         programDimsText(want));
  count = 1;
  for (size_t d = 0; d < want.size(); ++d) {
    if ((want[d] >= 0 && dims[d] != want[d]) || dims[d] < 0)
      return Status::error(at + "input '" + name + "' of dims " + programDimsText(dims) + ", expected " +
                           programDimsText(want) + " (dimension " + std::to_string(d) + ")");
    count *= dims[d];
  }
  if (dims.size() > 4) // a bmc_view4 would drop the leading dimensions
    return Status::error(at + "input '" + name + "' of rank " + std::to_string(dims.size()) + " " +
                         programDimsText(dims) + ": a program's views have rank 4 at most");
  return Status();
}

} // namespace

Status DeviceProgram::bindInputs(Run &run, ProgramInputs &in, bool upload) {
  const std::string at = "program @" + desc_->function + ": ";
  std::map<std::string, bool> known;
  for (const json &i : desc_->inputs) {
    std::string name = i["name"], kind = i["kind"], id = i["value"];
    known[name] = true;
    Run::Val v;
    if (kind == "tensor") {
      std::vector<int64_t> want = programDims(i["dims"]);
      std::string type = i["type"];
      auto it = in.tensors.find(name);
      auto dev = in.onDevice.find(name);
      if (it == in.tensors.end() && dev == in.onDevice.end())
        return Status::error(at + "input '" + name + "' (" + type + " " + programDimsText(want) + ") not given");
      if (it != in.tensors.end() && dev != in.onDevice.end())
        return Status::error(at + "input '" + name + "' given both on the host and on the device");
      const bool onDevice = dev != in.onDevice.end();
      const std::string &givenType = onDevice ? dev->second.type : it->second.type;
      const std::vector<int64_t> &dims = onDevice ? dev->second.dims : it->second.dims;
      int64_t count = 0;
      if (Status st = checkTensorInput(at, name, type, want, givenType, dims, count); !st)
        return st;
      if (onDevice) {
        if (!dev->second.data)
          return Status::error(at + "input '" + name + "' on the device has no data");
        v.kind = Run::Val::View, v.view = contiguous(dev->second.data, dims), v.rank = int(dims.size()), v.type = type;
        run.vals[id] = v;
        continue;
      }
      const HostTensor &t = it->second;
      if (int64_t(t.bytes.size()) != count * programTypeBytes(type))
        return Status::error(at + "input '" + name + "': " + std::to_string(t.bytes.size()) + " bytes for " + type +
                             " " + programDimsText(t.dims));
      DevicePtr at = 0; // the plan walk needs sizes only
      if (upload) {
        if (!inputBuffers_.count(name) || inputBytes_[name] < t.bytes.size()) { // grown, never shrunk
          if (inputBuffers_.count(name))
            device_.free(inputBuffers_[name]);
          auto ptr = device_.allocate(std::max<size_t>(t.bytes.size(), 1));
          if (!ptr)
            return ptr.status();
          inputBuffers_[name] = *ptr, inputBytes_[name] = t.bytes.size();
        }
        Status st = device_.copyToDevice(inputBuffers_[name], t.bytes.data(), t.bytes.size());
        if (!st)
          return st;
        at = inputBuffers_[name];
      }
      v.kind = Run::Val::View, v.view = contiguous(at, t.dims), v.rank = int(t.dims.size()), v.type = type;
      v.host = &t, v.hostName = name;
    } else if (kind == "kv_cache") {
      auto it = in.caches.find(name);
      if (it == in.caches.end() || !it->second)
        return Status::error(at + "KV cache '" + name + "' not given");
      const bmc_kv_buffer &b = *it->second;
      if (!b.data || b.batch < 1 || b.capacity < 0 || b.valid < 0 || b.valid > b.capacity)
        return Status::error(at + "KV cache '" + name + "': batch " + std::to_string(b.batch) + ", valid " +
                             std::to_string(b.valid) + " of capacity " + std::to_string(b.capacity) +
                             (b.data ? "" : ", no data") + ": not a cache buffer");
      run.caches.push_back({b, i["heads"].get<int64_t>(), i["head_dim"].get<int64_t>(), i["type"], name, it->second});
      v.kind = Run::Val::KV, v.cache = int(run.caches.size()) - 1;
    } else if (kind == "index") {
      auto it = in.scalars.find(name);
      if (it == in.scalars.end())
        return Status::error(at + "scalar input '" + name + "' not given");
      v.kind = Run::Val::Scalar, v.scalar = it->second;
    } else {
      return Status::error(at + "input '" + name + "' of unknown kind '" + kind + "'");
    }
    run.vals[id] = v;
  }
  for (auto &[n, t] : in.onDevice)
    if (!known.count(n))
      return Status::error(at + "'" + n + "' is not an input of @" + desc_->function);
  for (auto &[n, t] : in.tensors)
    if (!known.count(n))
      return Status::error(at + "'" + n + "' is not an input of @" + desc_->function);
  for (auto &[n, c] : in.caches)
    if (!known.count(n))
      return Status::error(at + "'" + n + "' is not an input of @" + desc_->function);
  for (const json &w : desc_->weights)
    if (w.value("plain", false)) {
      Run::Val v;
      v.kind = Run::Val::View, v.type = w["type"], v.rank = int(w["dims"].size());
      v.view = contiguous(uploads_.at(w["value"]), programDims(w["dims"]));
      run.vals[w["value"]] = v;
    }
  for (const json &c : desc_->constants) {
    Run::Val v;
    v.kind = Run::Val::View, v.type = c["type"], v.rank = int(c["dims"].size());
    v.view = contiguous(uploads_.at(c["value"]), programDims(c["dims"]));
    run.vals[c["value"]] = v;
  }
  return Status();
}

Status DeviceProgram::uploadShape(Run &run, const std::string &id, const std::string &type,
                                  const std::vector<int64_t> &dims, const std::vector<int64_t> &elements, bool launch) {
  int64_t count = 1;
  for (int64_t d : dims)
    count *= d;
  if (count != int64_t(elements.size()) || (type != "i64" && type != "i32") || !shapeUploadOffset_.count(id))
    return Status::error("an upload of " + std::to_string(elements.size()) + " elements as " + type + " " +
                         programDimsText(dims) + " (i32 or i64, one element per host value)");
  DevicePtr at = launch ? shapeUploads_ + DevicePtr(shapeUploadOffset_.at(id)) : 0;
  if (launch) { // the CPU's narrowing for i32 (the low 32 bits)
    std::vector<uint8_t> bytes(elements.size() * size_t(programTypeBytes(type)));
    for (size_t i = 0; i < elements.size(); ++i) {
      if (type == "i64")
        std::memcpy(bytes.data() + 8 * i, &elements[i], 8);
      else {
        int32_t x = int32_t(uint32_t(uint64_t(elements[i])));
        std::memcpy(bytes.data() + 4 * i, &x, 4);
      }
    }
    if (!bytes.empty())
      if (Status st = device_.copyToDevice(at, bytes.data(), bytes.size()); !st)
        return st;
  }
  Run::Val &v = run.vals[id];
  v.kind = Run::Val::View, v.type = type, v.rank = int(dims.size()), v.view = contiguous(at, dims);
  return Status();
}

// The steps in order. Without `launch` (the plan walk), only sizes: each
// slot's largest value, appends counted on copies of the caches; with it,
// the values at their arena offsets and the launches, collected (run.calls),
// not made: runChecked checks them all, then launches.
Status DeviceProgram::walk(Run &run, bool launch) {
  const std::string fn = "program @" + desc_->function;
  int index = 0;
  for (const json &s : desc_->steps) {
    std::string id = s["value"], kind = s["kind"];
    std::string where = fn + " step " + std::to_string(index++);
    if (kind == "launch")
      where += " (" + s["op"].get<std::string>() + " " + std::to_string(s["config"].get<int>()) +
               (s.contains("at") ? " at " + s["at"].get<std::string>() : std::string()) + ")";
    else if (kind == "view" && s.contains("op"))
      where += " (bmck." + s["op"].get<std::string>() +
               (s.contains("at") ? " at " + s["at"].get<std::string>() : std::string()) + ")";
    else if (kind == "shape" && s.contains("check"))
      where += std::string(" (check_equal") +
               (s["check"].contains("at") ? " at " + s["check"]["at"].get<std::string>() : std::string()) + ")";
    else if (kind == "scalar" && s.contains("at"))
      where += " (" + s["op"].get<std::string>() + " at " + s["at"].get<std::string>() + ")";
    auto get = [&](const std::string &ref) -> Result<Run::Val *> {
      auto it = run.vals.find(ref);
      if (it == run.vals.end())
        return Status::error(where + ": " + ref + " is not defined before");
      return &it->second;
    };
    Run::Val v;
    if (kind == "view") {
      auto of = get(s["of"]);
      if (!of)
        return of.status();
      v = **of;
      if (s.contains("op")) { // a new offset, sizes and strides of the same storage
        if (v.kind != Run::Val::View)
          return Status::error(where + ": " + s["of"].get<std::string>() + " is not a view");
        ProgramShapeLookup shape = [&](const std::string &ref) -> Result<std::vector<int64_t>> {
          auto it = run.vals.find(ref);
          if (it == run.vals.end() || !it->second.hasElements)
            return Status::error(ref + " is not a shape vector defined before");
          return it->second.elements;
        };
        int rank = 0;
        Status st = programViewOp(s, (*of)->view, (*of)->rank, shape, v.view, rank);
        if (!st)
          return Status::error(where + ": " + st.message());
        v.rank = rank, v.hasElements = false, v.elements.clear();
        const std::string op = s["op"];
        if (op != "reshape" && op != "flatten" && op != "squeeze" && op != "unsqueeze" && op != "transpose")
          v.host = nullptr; // a slice, split or expand (possibly to nothing) may read other elements than all
      }
    } else if (kind == "shape") { // host scalars (or a constant's numbers) as a vector
      std::vector<int64_t> elements;
      for (const json &e : s["elements"]) {
        auto x = run.eval(e);
        if (!x)
          return Status::error(where + ": " + x.status().message());
        elements.push_back(*x);
      }
      if (s.contains("check")) { // a host check_equal: every element against expected, before any launch
        const json &c = s["check"];
        if (!c["expected"].is_array() || c["expected"].size() != elements.size())
          return Status::error(where + ": a check with " + std::to_string(c["expected"].size()) +
                               " expected elements for " + std::to_string(elements.size()));
        for (size_t i = 0; i < elements.size(); ++i) {
          auto want = run.eval(c["expected"][i]);
          if (!want)
            return Status::error(where + ": " + want.status().message());
          if (elements[i] != *want) // the CPU's words (LowerIndex.cpp): message, found, expected
            return Status::error(where + ": " + c["message"].get<std::string>() + ": found " +
                                 std::to_string(elements[i]) + ", expected " + std::to_string(*want));
        }
      }
      Run::Val &shape = run.vals[id]; // a constant uploaded as well stays a view
      if (s.contains("upload")) { // a kernel reads it too: its bytes in the program's upload buffer
        Status st = uploadShape(run, id, s["upload"]["type"], programDims(s["upload"]["dims"]), elements, launch);
        if (!st)
          return Status::error(where + ": " + st.message());
      }
      shape.hasElements = true, shape.elements = std::move(elements);
      continue;
    } else if (kind == "kv_rows") {
      auto c = get(s["cache"]);
      if (!c)
        return c.status();
      if ((*c)->kind != Run::Val::KV)
        return Status::error(where + ": " + s["cache"].get<std::string>() + " is not a cache");
      v.kind = Run::Val::View, v.rank = 4, v.type = run.caches[(*c)->cache].type,
      v.view = kvRows(run.caches[(*c)->cache]);
    } else if (kind == "scalar") {
      std::string op = s["op"];
      v.kind = Run::Val::Scalar;
      if (op == "const")
        v.scalar = s["const"];
      else if (op == "range_length") { // ONNX Range's max(ceil((limit - start) / delta), 0)
        auto start = run.eval(s["start"]), limit = run.eval(s["limit"]), delta = run.eval(s["delta"]);
        for (auto *x : {&start, &limit, &delta})
          if (!*x)
            return Status::error(where + ": " + x->status().message());
        if (*delta == 0)
          return Status::error(where + ": delta must be non-zero (start " + std::to_string(*start) + ", limit " +
                               std::to_string(*limit) + ")");
        // Exact in 128 bits: limit - start cannot overflow there.
        __int128 span = __int128(*limit) - *start, d = *delta;
        __int128 n = (span + (d > 0 ? d - 1 : d + 1)) / d; // a ceil division (truncating, then adjusted)
        if (n < 0)
          n = 0;
        if (n > INT64_MAX)
          return Status::error(where + ": a range of more than 2^63 elements");
        v.scalar = int64_t(n);
      } else if (op == "kv_capacity") {
        auto c = get(s["cache"]);
        if (!c)
          return c.status();
        v.scalar = run.caches[(*c)->cache].buf.capacity;
      } else if (op == "dim") {
        auto r = run.eval(s["of"].get<std::string>() + ".size[" + std::to_string(s["dim"].get<int>()) + "]");
        if (!r)
          return Status::error(where + ": " + r.status().message());
        v.scalar = *r;
      } else if (op == "copy") {
        auto r = run.eval(s["of"]);
        if (!r)
          return Status::error(where + ": " + r.status().message());
        v.scalar = *r;
      } else {
        auto l = run.eval(s["lhs"]), r = run.eval(s["rhs"]);
        if (!l || !r)
          return Status::error(where + ": " + (!l ? l : r).status().message());
        if (op == "add")
          v.scalar = *l + *r;
        else if (op == "sub")
          v.scalar = *l - *r;
        else if (op == "mul")
          v.scalar = *l * *r;
        else if (op == "max")
          v.scalar = std::max(*l, *r);
        else if (op == "min")
          v.scalar = std::min(*l, *r);
        else if (op == "div") {
          if (*r == 0)
            return Status::error(where + ": division by zero");
          v.scalar = *l / *r;
        } else
          return Status::error(where + ": unknown scalar op '" + op + "'");
      }
    } else if (kind == "launch") {
      const json &result = s["result"];
      if (result.contains("slot")) { // the result's place in the arena
        int64_t slot = result["slot"];
        std::string type = result["type"];
        std::vector<int64_t> dims;
        int64_t bytes = programTypeBytes(type);
        for (const json &e : result["sizes"]) {
          auto d = run.eval(e);
          if (!d)
            return Status::error(where + ": " + d.status().message());
          if (*d < 0)
            return Status::error(where + ": a result size of " + std::to_string(*d));
          dims.push_back(*d), bytes *= *d;
        }
        if (dims.size() > 4) // the emitter folds a higher rank (foldedDims)
          return Status::error(where + ": a result of rank " + std::to_string(dims.size()) +
                               ": a program's views have rank 4 at most");
        if (slot < 0 || slot >= desc_->slots)
          return Status::error(where + ": slot " + std::to_string(slot) + " of " + std::to_string(desc_->slots));
        DevicePtr place = 0;
        if (auto k = run.keptIds.find(id); k != run.keptIds.end()) { // a kept output: its own buffer, not the arena
          if (launch) {
            auto b = run.kept->allocate(size_t(std::max<int64_t>(bytes, 1)));
            if (!b)
              return Status::error(where + ": kept output '" + k->second + "' of " + std::to_string(bytes) +
                                   " bytes: " + b.status().message());
            run.keptBuffers[k->second] = place = *b;
          }
        } else if (!launch) {
          run.slotBytes[slot] = std::max(run.slotBytes[slot], bytes);
        } else {
          place = arena_ + DevicePtr(run.slotOffset[slot]);
        }
        v.kind = Run::Val::View, v.type = type, v.rank = int(dims.size());
        v.view = contiguous(place, dims);
        run.vals[id] = v; // the launch's own "out"
      }
      bool hostChecked = false; // every index checked here: the kernel's fault word cannot be set
      if (s.contains("index_bound")) { // indices that are host data: each in [-size, size), before any launch
        auto ids = get(s["index_bound"]["indices"]);
        if (!ids)
          return ids.status();
        if (const HostTensor *t = (*ids)->host; t && (t->type == "i64" || t->type == "i32")) {
          hostChecked = true;
          auto size = run.eval(s["index_bound"]["size"]);
          if (!size)
            return Status::error(where + ": " + size.status().message());
          const size_t width = t->type == "i64" ? 8 : 4, count = t->bytes.size() / width;
          for (size_t e = 0; e < count; ++e) {
            int64_t k;
            if (width == 8)
              std::memcpy(&k, t->bytes.data() + e * 8, 8);
            else {
              int32_t x;
              std::memcpy(&x, t->bytes.data() + e * 4, 4);
              k = x;
            }
            if (k < -*size || k >= *size) // ONNX: negative indices count from the end
              return Status::error(where + ": input '" + (*ids)->hostName + "' holds index " + std::to_string(k) +
                                   " at element " + std::to_string(e) + ", outside [-" + std::to_string(*size) +
                                   ", " + std::to_string(*size) + ") of the gathered dimension");
          }
        }
      }
      LaunchArgs args;
      for (auto &[param, bound] : s["args"].items()) {
        if (bound.is_object() && bound.contains("integer")) { // a host integer (a size expression)
          auto x = run.eval(bound["integer"]);
          if (!x)
            return Status::error(where + ": parameter " + param + ": " + x.status().message());
          args[param] = LaunchValue::integer(*x);
          continue;
        }
        if (bound.is_object()) {
          std::string key = s["op"].get<std::string>() + "/" + std::to_string(s["config"].get<int>()) + "/" +
                            bound.value("weight", "");
          args[param] = LaunchValue::ofWeight(reinterpret_cast<const void *>(productWeights_.at(key)));
          continue;
        }
        auto a = get(bound.get<std::string>());
        if (!a)
          return a.status();
        const Run::Val &x = **a;
        if (x.kind == Run::Val::View)
          args[param] = LaunchValue::of(x.view);
        else if (x.kind == Run::Val::KV)
          args[param] = LaunchValue::of(run.caches[x.cache].buf);
        else if (x.kind == Run::Val::Scalar)
          args[param] = LaunchValue::integer(x.scalar);
        else
          return Status::error(where + ": parameter " + param + " bound to " + bound.get<std::string>() +
                               ", which has no value");
      }
      // A gather whose indices the host did not check: its fault names this
      // call, and the run reads the fault word back (launchAndCopyBack).
      if (launch && !hostChecked && launcher_.reportsFaults(s["op"].get<std::string>(), s["config"].get<int>()))
        args["fault_site"] = LaunchValue::integer(int64_t(run.calls.size()));
      if (launch)
        run.calls.push_back(StepCall{s["op"], s["config"], args}), run.callWhere.push_back(where);
      if (launch && result.contains("check")) // a device check: its flag read back after the run
        run.checks.push_back({result["check"], result["message"], where, run.calls.size() - 1});
      if (result.contains("kv_rows")) { // an append: the cache's rows, valid advanced
        auto c = get(result["kv_rows"]);
        if (!c)
          return c.status();
        auto rows = run.eval(result["appended"]);
        if (!rows)
          return Status::error(where + ": " + rows.status().message());
        Run::Cache &cache = run.caches[(*c)->cache];
        if (!launch && cache.buf.valid + *rows > cache.buf.capacity) // the launch line's check, before anything runs
          return Status::error(where + ": KV cache '" + cache.name + "': " + std::to_string(cache.buf.valid) +
                               " valid + " + std::to_string(*rows) + " new rows > capacity " +
                               std::to_string(cache.buf.capacity) + " (the caller grows the cache before the run)");
        cache.buf.valid += *rows;
        v.kind = Run::Val::View, v.rank = 4, v.type = cache.type, v.view = kvRows(cache);
      }
      if (!result.contains("slot"))
        run.vals[id] = v;
      continue;
    } else {
      return Status::error(where + ": unknown step kind '" + kind + "'");
    }
    run.vals[id] = v;
  }
  return Status();
}

Result<std::vector<HostTensor>> DeviceProgram::run(ProgramInputs &inputs, EmittedStepGraph *graph, StepReport *report,
                                                   ProgramKept *kept) {
  try {
    return runChecked(inputs, graph, report, kept);
  } catch (const json::exception &e) {
    return Status::error("program @" + desc_->function + ": malformed bmc-program line: " + e.what());
  }
}

Result<std::map<std::string, std::string>> DeviceProgram::keptResults(const ProgramKept &kept) const {
  const std::string fn = "program @" + desc_->function;
  if (!kept.allocate || !kept.release)
    return Status::error(fn + ": kept outputs need an allocate and a release");
  std::map<std::string, const json *> steps; // value id -> its step
  for (const json &s : desc_->steps)
    steps[s["value"]] = &s;
  std::map<std::string, std::string> ids;
  for (const std::string &name : kept.names) {
    const json *out = nullptr;
    for (const json &o : desc_->outputs)
      if (o["name"] == name)
        out = &o;
    if (!out)
      return Status::error(fn + ": no output '" + name + "' to keep on the device");
    std::string id = (*out)["value"];
    auto s = steps.find(id);
    while (s != steps.end() && (*s->second)["kind"] == "view" && !s->second->contains("op"))
      s = steps.find((*s->second)["of"].get<std::string>()); // the same storage
    if (s == steps.end() || (*s->second)["kind"] != "launch" || !(*s->second)["result"].contains("slot") ||
        (*s->second)["result"].contains("kv_rows"))
      return Status::error(fn + ": output '" + name + "' is not a kernel's own result (an input, a weight or a " +
                           "strided view), so it cannot be kept on the device");
    if (!ids.emplace((*s->second)["value"].get<std::string>(), name).second)
      return Status::error(fn + ": outputs '" + ids[(*s->second)["value"]] + "' and '" + name +
                           "' are the same result; only one can be kept");
  }
  return ids;
}

Result<std::vector<HostTensor>> DeviceProgram::runChecked(ProgramInputs &inputs, EmittedStepGraph *graph,
                                                          StepReport *report, ProgramKept *kept) {
  const std::string fn = "program @" + desc_->function;
  lastLaunches_.clear(), lastOutputDims_.clear(); // none when a check refuses the run
  std::map<std::string, std::string> keptIds;
  if (kept) {
    auto k = keptResults(*kept);
    if (!k)
      return k.status();
    keptIds = std::move(k.value());
  }
  for (const auto &[name, cut] : inputs.copyBack) {
    if (std::find(outputNames_.begin(), outputNames_.end(), name) == outputNames_.end())
      return Status::error(fn + ": copy back of '" + name + "': no such output");
    if (kept && std::find(kept->names.begin(), kept->names.end(), name) != kept->names.end())
      return Status::error(fn + ": copy back of '" + name + "': the output is kept on the device");
  }
  // Plan: sizes only, on copies of the caches.
  Run plan;
  plan.slotBytes.assign(size_t(desc_->slots), 0);
  plan.keptIds = keptIds, plan.kept = kept;
  Status st = bindInputs(plan, inputs, false);
  if (!st)
    return st;
  st = walk(plan, false);
  if (!st)
    return st;
  for (const json &o : desc_->outputs) { // the ranks are known now, before anything runs
    auto cut = inputs.copyBack.find(o["name"]);
    const Run::Val &v = plan.vals.at(o["value"]);
    if (cut != inputs.copyBack.end() && cut->second == CopyBack::LastOfAxis1 && v.kind == Run::Val::View &&
        v.rank < 2)
      return Status::error(fn + ": copy back of '" + cut->first + "': the last index of axis 1 of a rank " +
                           std::to_string(v.rank) + " output");
  }
  Run run;
  run.slotOffset.assign(size_t(desc_->slots), 0);
  run.keptIds = std::move(keptIds), run.kept = kept, run.copyBack = &inputs.copyBack;
  size_t total = 0, align = size_t(std::max<int64_t>(desc_->alignment, 1));
  for (int64_t s = 0; s < desc_->slots; ++s) {
    run.slotOffset[s] = int64_t(total);
    total += (size_t(plan.slotBytes[s]) + align - 1) / align * align;
  }
  if (total > arenaBytes_) { // grown when the dims grow, never shrunk
    if (arena_)
      device_.free(arena_), arena_ = 0, arenaBytes_ = 0;
    auto ptr = device_.allocate(total);
    if (!ptr)
      return Status::error(fn + ": arena of " + std::to_string(total) + " bytes: " + ptr.status().message());
    arena_ = *ptr, arenaBytes_ = total;
  }
  st = bindInputs(run, inputs, true);
  if (!st)
    return st;
  // From here the run may hold kept buffers: a failure gives them back.
  auto r = [&]() -> Result<std::vector<HostTensor>> {
    if (Status w = walk(run, true); !w)
      return w;
    return launchAndCopyBack(run, graph, report, kept);
  }();
  if (!r)
    for (auto &[name, ptr] : run.keptBuffers)
      kept->release(ptr);
  return r;
}

Result<std::vector<HostTensor>> DeviceProgram::launchAndCopyBack(Run &run, EmittedStepGraph *graph,
                                                                 StepReport *report, ProgramKept *kept) {
  const std::string fn = "program @" + desc_->function;
  // Every launch's checks before the first launch (the plan walk's values
  // have no addresses yet): a run refused here has written nothing, no
  // appended row in a cache's spare rows.
  for (size_t i = 0; i < run.calls.size(); ++i)
    if (Status c = launcher_.check(run.calls[i].op, run.calls[i].config, run.calls[i].args); !c)
      return Status::error(run.callWhere[i] + ": " + c.message());
  auto name = [](const StepCall &c) { return c.op + " " + std::to_string(c.config); };
  // A run that fails after some launches: a fault its kernels recorded is
  // cleared, so that the next run does not report it as its own.
  auto dropFault = [&] {
    LaunchFault ignored;
    if (device_.synchronize())
      (void)launcher_.takeFault(ignored);
  };
  if (graph) { // the launches as one device graph: captured, or updated in place, then replayed
    auto r = launcher_.runStep(*graph, run.calls);
    if (!r) {
      dropFault();
      return Status::error(fn + " (as a graph): " + r.status().message());
    }
    if (report)
      *report = std::move(r.value());
    for (const StepCall &c : run.calls)
      lastLaunches_.push_back(name(c));
  } else {
    for (size_t i = 0; i < run.calls.size(); ++i) {
      const StepCall &c = run.calls[i];
      if (Status l = launcher_.launch(c.op, c.config, c.args); !l) { // scratch or the device's own error
        dropFault();
        return Status::error(run.callWhere[i] + ": " + l.message());
      }
      lastLaunches_.push_back(name(c));
    }
  }
  Status st = device_.synchronize();
  if (!st)
    return st;
  // A gather index out of range computed on the device (data.cuh): the first
  // one a kernel recorded, read back and cleared (one 32-byte copy, only for
  // runs that launched such a kernel), fails the run in the CPU's words,
  // unless a device check of an earlier step failed (below, in step order).
  LaunchFault fault;
  bool faulted = false;
  if (std::any_of(run.calls.begin(), run.calls.end(), [](const StepCall &c) { return c.args.count("fault_site"); })) {
    auto t = launcher_.takeFault(fault);
    if (!t)
      return Status::error(fn + ": " + t.status().message());
    faulted = t.value();
  }
  const size_t faultCall = faulted && fault.site >= 0 && size_t(fault.site) < run.calls.size() ? size_t(fault.site)
                                                                                              : run.calls.size();
  auto faultError = [&] {
    const bool nd = faultCall < run.calls.size() && run.calls[faultCall].op == "bmc.gather_nd";
    return Status::error((faultCall < run.calls.size() ? run.callWhere[faultCall] : fn) + ": " +
                         (nd ? "GatherND" : "Gather") + ": index " + std::to_string(fault.index) +
                         " is out of range for a dimension of " + std::to_string(fault.size));
  };
  // The device checks, in step order: a flag the kernel set ([1, found,
  // expected]; zeroed by its shape step each run, graph or not) fails the run
  // in the CPU's words, no output returned and no cache's valid advanced.
  for (const Run::Check &c : run.checks) {
    if (faulted && faultCall < c.call)
      return faultError();
    const Run::Val &f = run.vals.at(c.flag);
    int64_t flag[3] = {0, 0, 0};
    st = device_.copyToHost(flag, reinterpret_cast<DevicePtr>(f.view.data) + DevicePtr(f.view.offset) * 8, sizeof flag);
    if (!st)
      return st;
    if (flag[0])
      return Status::error(c.where + ": " + c.message + ": found " + std::to_string(flag[1]) + ", expected " +
                           std::to_string(flag[2]));
  }
  if (faulted)
    return faultError();
  std::vector<HostTensor> outs;
  std::vector<std::vector<int64_t>> wholeDims;
  std::map<std::string, DeviceTensor> keptTensors;
  for (const json &o : desc_->outputs) {
    const std::string oname = o["name"];
    const Run::Val &v = run.vals.at(o["value"]);
    if (v.kind != Run::Val::View)
      return Status::error(fn + ": output '" + oname + "' is not a tensor");
    const int lead = 4 - v.rank; // the view's first dimension
    wholeDims.emplace_back(v.view.size + lead, v.view.size + 4);
    bmc_view4 view = v.view;
    auto cut = run.copyBack->find(oname);
    const bool last = cut != run.copyBack->end() && cut->second == CopyBack::LastOfAxis1;
    if (last && view.size[lead + 1] > 0) // index size - 1 of axis 1 (rank >= 2: checked before the launches)
      view.offset += (view.size[lead + 1] - 1) * view.stride[lead + 1], view.size[lead + 1] = 1;
    HostTensor t;
    t.type = v.type;
    t.dims.assign(view.size + lead, view.size + 4);
    if (auto k = run.keptBuffers.find(oname); k != run.keptBuffers.end()) { // stays on the device
      keptTensors[k->first] = DeviceTensor{k->second, t.type, t.dims};
      outs.push_back(std::move(t));
      continue;
    }
    const size_t eb = size_t(programTypeBytes(v.type));
    int64_t count = 1;
    for (int64_t d : t.dims)
      count *= d;
    t.bytes.resize(size_t(count) * eb);
    // One call (DeviceViewCopy.h): contiguous, one copy; a cut's rows a
    // whole axis 1 apart, one 2-D copy. A cut gathered otherwise copies per
    // index of axis 0 (one span would copy nearly all of axis 1 again).
    const bool perIndex = last && viewCopyKind(view, v.rank) == ViewCopyKind::Gather;
    const int64_t pieces = perIndex ? view.size[lead] : 1;
    bmc_view4 piece = view;
    if (perIndex)
      piece.size[lead] = 1;
    for (int64_t p = 0; p < pieces && count > 0; ++p) {
      piece.offset = view.offset + p * view.stride[lead];
      st = copyViewToHost(device_, piece, v.rank, eb, t.bytes.data() + size_t(p * (count / pieces)) * eb,
                          fn + ": output '" + oname + "'");
      if (!st)
        return st;
    }
    outs.push_back(std::move(t));
  }
  for (Run::Cache &c : run.caches)
    c.caller->valid = c.buf.valid; // the rows appended, now valid
  if (kept)
    kept->tensors = std::move(keptTensors);
  lastOutputDims_ = std::move(wholeDims);
  return outs;
}

} // namespace device
} // namespace bmc
