//===- runtime/device/EmittedLauncher.cpp - launching emitted kernels -----===//

#include "runtime/device/EmittedLauncher.h"
#include "runtime/device/Gemm.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bmc {
namespace device {

namespace {

using json = nlohmann::json;

constexpr const char *kMarker = "// bmc-launch: ";

// A size: a sum of products of factors (a constant or a reference).
struct Factor {
  std::string ref; // empty: the constant
  int64_t value = 0;
};
using Product = std::vector<Factor>;
using Expr = std::vector<Product>;

struct Param {
  // kind: view4, kv_buffer, i64, i32, f32_ptr, weight, fault_ptr; from: arg, plan, scratch, fault (the
  // launcher's fault word `fault` and the caller's optional `fault_site`: data.cuh)
  std::string name, kind, from;
};
struct Check {
  Expr lhs, rhs;
  std::string cmp, error;
};
struct Launch {
  std::string kernel;
  Expr grid[3];
  uint32_t block = 0, sharedBytes = 0;
  KernelHandle handle;
};

// Thrown while parsing only (caught in create()).
struct DescError {
  std::string what;
};

Factor factor(const json &j) {
  if (j.is_number_integer())
    return Factor{"", j.get<int64_t>()};
  if (j.is_string() && !j.get<std::string>().empty())
    return Factor{j.get<std::string>(), 0};
  throw DescError{"a size term is " + j.dump() + ", expected an integer or a reference"};
}

Expr expr(const json &j) {
  if (!j.is_array() || j.empty())
    throw DescError{"a size is " + j.dump() + ", expected a non-empty list of terms"};
  Expr e;
  for (const json &t : j) {
    Product p;
    if (t.is_array()) {
      if (t.empty())
        throw DescError{"an empty product in " + j.dump()};
      for (const json &f : t)
        p.push_back(factor(f));
    } else {
      p.push_back(factor(t));
    }
    e.push_back(std::move(p));
  }
  return e;
}

const json &field(const json &o, const char *name) {
  if (!o.is_object() || !o.contains(name))
    throw DescError{std::string("no '") + name + "' in " + o.dump().substr(0, 80)};
  return o.at(name);
}

std::string str(const json &o, const char *name) {
  const json &f = field(o, name);
  if (!f.is_string())
    throw DescError{std::string("'") + name + "' is " + f.dump() + ", expected a string"};
  return f.get<std::string>();
}

int64_t integer(const json &o, const char *name) {
  const json &f = field(o, name);
  if (!f.is_number_integer())
    throw DescError{std::string("'") + name + "' is " + f.dump() + ", expected an integer"};
  return f.get<int64_t>();
}

} // namespace

struct EmittedLaunchDesc {
  std::string op;
  int config = 0;
  std::vector<Param> params;
  std::vector<Check> checks;
  bool hasPlan = false;
  std::string planKind; // attention_splits, matmul, elementwise
  Expr planKvRows, planBlocks;
  // elementwise: the output's elements and the threads of a block (plan.blocks).
  Expr planElements;
  int64_t elementThreads = 0;
  int64_t maxRowsPerSplit = 0;
  // matmul: the product's rows (all batches, for the GEMV), rows per batch, n, k.
  Expr planRows, planM, planN, planK;
  int64_t gemvMaxRows = 0, gemvRowsPerBlock = 0, tile = 0, epilogueThreads = 0;
  // The device GEMM's form of the product: prefill "device_gemm" (else the
  // emitter's note why not), element types, alpha, and the view dimensions
  // (b0, b1, rows, columns; -1 none) of a, b (none for a weight) and out.
  bool prefillGemm = false;
  std::string prefillNote;
  GemmType gemmA = GemmType::F32, gemmB = GemmType::F32, gemmOut = GemmType::F32;
  float alpha = 1.0f;
  int dimsA[4] = {-1, -1, -1, -1}, dimsB[4] = {-1, -1, -1, -1}, dimsOut[4] = {-1, -1, -1, -1};
  bool hasWeight = false;
  EmittedWeight weight;
  std::vector<std::pair<std::string, Expr>> scratch; // name, floats
  std::vector<Launch> launches;
};

namespace {

std::unique_ptr<EmittedLaunchDesc> parseDesc(const json &j) {
  auto d = std::make_unique<EmittedLaunchDesc>();
  if (integer(j, "version") != 1)
    throw DescError{"version " + field(j, "version").dump() + ", expected 1"};
  d->op = str(j, "op");
  d->config = int(integer(j, "config"));
  for (const json &p : field(j, "params")) {
    Param q{str(p, "name"), str(p, "kind"), str(p, "from")};
    static const char *kinds[] = {"view4", "kv_buffer", "i64", "i32", "f32_ptr", "weight", "fault_ptr"};
    if (std::none_of(std::begin(kinds), std::end(kinds), [&](const char *k) { return q.kind == k; }))
      throw DescError{"parameter '" + q.name + "' of kind '" + q.kind + "'"};
    bool fromOk = (q.from == "arg" && q.kind != "f32_ptr" && q.kind != "fault_ptr") ||
                  (q.from == "plan" && q.kind == "i32") || (q.from == "scratch" && q.kind == "f32_ptr") ||
                  (q.from == "fault" && ((q.name == "fault" && q.kind == "fault_ptr") ||
                                         (q.name == "fault_site" && q.kind == "i64")));
    if (!fromOk)
      throw DescError{"parameter '" + q.name + "' of kind '" + q.kind + "' from '" + q.from + "'"};
    d->params.push_back(std::move(q));
  }
  for (const json &c : field(j, "checks")) {
    Check k{expr(field(c, "lhs")), expr(field(c, "rhs")), str(c, "cmp"), str(c, "error")};
    if (k.cmp != "==" && k.cmp != "!=" && k.cmp != "<=" && k.cmp != "bcast")
      throw DescError{"a check compares with '" + k.cmp + "'"};
    d->checks.push_back(std::move(k));
  }
  if (j.contains("plan")) {
    const json &p = j.at("plan");
    d->planKind = str(p, "kind");
    d->hasPlan = true;
    if (d->planKind == "attention_splits") {
      d->planKvRows = expr(field(p, "kv_rows"));
      d->planBlocks = expr(field(p, "blocks"));
      d->maxRowsPerSplit = integer(p, "max_rows_per_split");
      if (d->maxRowsPerSplit < 32)
        throw DescError{"max_rows_per_split " + std::to_string(d->maxRowsPerSplit) + " < 32"};
    } else if (d->planKind == "matmul") {
      d->planRows = expr(field(p, "rows")), d->planM = expr(field(p, "m"));
      d->planN = expr(field(p, "n")), d->planK = expr(field(p, "k"));
      d->gemvMaxRows = integer(p, "gemv_max_rows"), d->gemvRowsPerBlock = integer(p, "gemv_rows_per_block");
      d->tile = integer(p, "tile"), d->epilogueThreads = integer(p, "epilogue_threads");
      if (d->gemvMaxRows < 0 || d->gemvRowsPerBlock < 1 || d->tile < 1 || d->epilogueThreads < 1)
        throw DescError{"matmul plan: gemv_max_rows " + std::to_string(d->gemvMaxRows) + ", gemv_rows_per_block " +
                        std::to_string(d->gemvRowsPerBlock) + ", tile " + std::to_string(d->tile) +
                        ", epilogue_threads " + std::to_string(d->epilogueThreads)};
      std::string prefill = str(p, "prefill");
      if (prefill != "device_gemm" && prefill != "tiled")
        throw DescError{"matmul plan: prefill '" + prefill + "', expected device_gemm or tiled"};
      d->prefillGemm = prefill == "device_gemm";
      if (!d->prefillGemm)
        d->prefillNote = p.contains("prefill_note") ? str(p, "prefill_note") : "the emitter's plan says tiled";
      if (d->prefillGemm) {
        const json &g = field(p, "gemm");
        auto type = [&](const char *name) {
          std::string t = str(g, name);
          if (t != "f32" && t != "f16" && t != "bf16")
            throw DescError{std::string("matmul plan: gemm ") + name + " of type '" + t + "'"};
          return t == "f32" ? GemmType::F32 : t == "f16" ? GemmType::F16 : GemmType::BF16;
        };
        d->gemmA = type("a"), d->gemmB = type("b"), d->gemmOut = type("out");
        const json &alpha = field(g, "alpha");
        if (!alpha.is_number())
          throw DescError{"matmul plan: gemm alpha " + alpha.dump()};
        d->alpha = alpha.get<float>();
        auto dims = [&](const char *name, int *out) {
          const json &a = field(g, name);
          if (!a.is_array() || a.size() != 4)
            throw DescError{std::string("matmul plan: gemm ") + name + " " + a.dump() + ", expected 4 dimensions"};
          for (int i = 0; i < 4; ++i) {
            if (!a[i].is_number_integer() || a[i].get<int>() < -1 || a[i].get<int>() > 3)
              throw DescError{std::string("matmul plan: gemm ") + name + " " + a.dump()};
            out[i] = a[i].get<int>();
          }
        };
        dims("a_dims", d->dimsA), dims("b_dims", d->dimsB), dims("out_dims", d->dimsOut);
      }
    } else if (d->planKind == "elementwise") {
      d->planElements = expr(field(p, "elements"));
      d->elementThreads = integer(p, "threads");
      if (d->elementThreads < 1 || d->elementThreads > 1024)
        throw DescError{"elementwise plan: threads " + std::to_string(d->elementThreads)};
    } else {
      throw DescError{"plan '" + d->planKind + "'"};
    }
  }
  if (j.contains("weight")) {
    const json &w = j.at("weight");
    d->hasWeight = true;
    d->weight.storage = str(w, "storage");
    d->weight.n = integer(w, "n"), d->weight.k = integer(w, "k");
    auto isType = [](const std::string &t) { return t == "f32" || t == "f16" || t == "bf16"; };
    if (!isType(d->weight.storage) || str(w, "layout") != "n_k" || d->weight.n < 1 || d->weight.k < 1)
      throw DescError{"weight of storage '" + d->weight.storage + "', layout '" + str(w, "layout") + "', n " +
                      std::to_string(d->weight.n) + ", k " + std::to_string(d->weight.k)};
    for (const json &src : field(w, "sources")) {
      const json &t = field(src, "transpose");
      if (!t.is_boolean() || !isType(str(src, "type")))
        throw DescError{"weight source " + src.dump().substr(0, 80)};
      d->weight.sources.push_back(EmittedWeight::Source{str(src, "name"), str(src, "type"), t.get<bool>()});
    }
  }
  if (j.contains("scratch"))
    for (const json &s : j.at("scratch"))
      d->scratch.emplace_back(str(s, "name"), expr(field(s, "floats")));
  for (const Param &p : d->params) {
    bool planned = p.from == "plan" && (d->planKind == "matmul" ? p.name == "splits" || p.name == "k_chunk"
                                                                : p.name == "rows_per_split" || p.name == "splits");
    if (p.from == "plan" && (!d->hasPlan || !planned))
      throw DescError{"parameter '" + p.name + "' from a plan there is not"};
    if (p.from == "scratch" && std::none_of(d->scratch.begin(), d->scratch.end(),
                                            [&](const auto &s) { return s.first == p.name; }))
      throw DescError{"scratch parameter '" + p.name + "' without a size"};
  }
  for (const json &l : field(j, "launches")) {
    Launch k;
    k.kernel = str(l, "kernel");
    const json &grid = field(l, "grid");
    if (!grid.is_array() || grid.size() != 3)
      throw DescError{"kernel " + k.kernel + ": grid " + grid.dump() + ", expected 3 dimensions"};
    for (int i = 0; i < 3; ++i)
      k.grid[i] = expr(json::array({grid[i]}));
    int64_t block = integer(l, "block"), shared = integer(l, "shared_bytes");
    if (block < 1 || block > 1024 || shared < 0 || shared > (1 << 20))
      throw DescError{"kernel " + k.kernel + ": block " + std::to_string(block) + ", shared bytes " +
                      std::to_string(shared)};
    k.block = uint32_t(block), k.sharedBytes = uint32_t(shared);
    d->launches.push_back(std::move(k));
  }
  if (d->launches.empty())
    throw DescError{"no launches"};
  return d;
}

// The run-time values a description's references name.
class Env {
public:
  Env(const EmittedLaunchDesc &d, const LaunchArgs &args) : d_(d), args_(args) {}
  std::map<std::string, int64_t> plan; // "splits", "rows_per_split", ... once planned

  bool lookup(const std::string &ref, int64_t &out, std::string &error) const {
    if (ref.rfind("plan.", 0) == 0) {
      auto it = plan.find(ref.substr(5));
      if (!d_.hasPlan || it == plan.end())
        return error = "'" + ref + "' is no value of the plan", false;
      return out = it->second, true;
    }
    size_t dot = ref.find('.');
    std::string name = ref.substr(0, dot);
    auto it = args_.find(name);
    if (it == args_.end())
      return error = "'" + ref + "' names no argument", false;
    const LaunchValue &v = it->second;
    if (dot == std::string::npos) {
      if (v.kind != LaunchValue::Kind::Int)
        return error = "'" + ref + "' is not an integer argument", false;
      return out = v.value, true;
    }
    std::string f = ref.substr(dot + 1);
    if (v.kind == LaunchValue::Kind::KVBuffer) {
      if (f == "batch")
        return out = v.kv.batch, true;
      if (f == "capacity")
        return out = v.kv.capacity, true;
      if (f == "valid")
        return out = v.kv.valid, true;
    } else if (v.kind == LaunchValue::Kind::View) {
      if (f == "offset")
        return out = v.view.offset, true;
      for (int i = 0; i < 4; ++i) {
        if (f == "size[" + std::to_string(i) + "]")
          return out = v.view.size[i], true;
        if (f == "stride[" + std::to_string(i) + "]")
          return out = v.view.stride[i], true;
      }
    }
    return error = "'" + ref + "' names no field of argument '" + name + "'", false;
  }

  bool eval(const Expr &e, int64_t &out, std::string &error) const {
    int64_t sum = 0;
    for (const Product &p : e) {
      int64_t prod = 1;
      for (const Factor &f : p) {
        int64_t v = f.value;
        if (!f.ref.empty() && !lookup(f.ref, v, error))
          return false;
        if (__builtin_mul_overflow(prod, v, &prod))
          return error = "a size overflows 64 bits", false;
      }
      if (__builtin_add_overflow(sum, prod, &sum))
        return error = "a size overflows 64 bits", false;
    }
    out = sum;
    return true;
  }

  // The check's error text with each {ref} replaced by its value.
  std::string format(const std::string &text) const {
    std::string s;
    for (size_t i = 0; i < text.size(); ++i) {
      size_t close = text[i] == '{' ? text.find('}', i) : std::string::npos;
      int64_t v;
      std::string ignored;
      if (close != std::string::npos && lookup(text.substr(i + 1, close - i - 1), v, ignored)) {
        s += std::to_string(v);
        i = close;
      } else {
        s += text[i];
      }
    }
    return s;
  }

private:
  const EmittedLaunchDesc &d_;
  const LaunchArgs &args_;
};

} // namespace

int64_t planMatMulSplits(int64_t rows, int64_t n, int64_t k, int64_t rowsPerBlock, int multiprocessors) {
  int64_t blocks = std::max<int64_t>(1, (n + rowsPerBlock - 1) / rowsPerBlock * std::max<int64_t>(1, rows));
  int64_t want = 2 * std::max(1, multiprocessors);
  if (blocks >= want || k < 2048)
    return 1;
  return std::max<int64_t>(1, std::min(want / blocks, k / 1024));
}

void planAttentionSplits(int64_t blocks, int64_t kvRows, int64_t maxRowsPerSplit, int multiprocessors,
                         int64_t &rowsPerSplit, int64_t &splits) {
  if (rowsPerSplit <= 0) {
    int64_t wantSplits = std::max<int64_t>(1, 2 * std::max(1, multiprocessors) / std::max<int64_t>(1, blocks));
    int64_t rows = (std::max<int64_t>(1, kvRows) + wantSplits - 1) / wantSplits;
    rows = (rows + 31) / 32 * 32;
    rowsPerSplit = std::clamp<int64_t>(rows, 32, maxRowsPerSplit);
  }
  if (splits <= 0)
    splits = std::max<int64_t>(1, (kvRows + rowsPerSplit - 1) / rowsPerSplit);
}

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A product's plan: the GEMV (split-K, then the epilogue) for a configuration
// that has one and at most gemv_max_rows rows, else the tiled kernel; the
// grid sizes of the path not taken are 0 (no launch).
Status planMatMul(const EmittedLaunchDesc &d, const LaunchArgs &args, int multiprocessors, Env &env) {
  int64_t rows, m, n, k;
  std::string error;
  if (!env.eval(d.planRows, rows, error) || !env.eval(d.planM, m, error) || !env.eval(d.planN, n, error) ||
      !env.eval(d.planK, k, error))
    return Status::error(error);
  bool gemv = d.gemvMaxRows > 0 && rows >= 1 && rows <= d.gemvMaxRows;
  int64_t splits = 1, chunk = k;
  if (auto it = args.find("splits"); it != args.end()) {
    int64_t s = it->second.value;
    if (it->second.kind != LaunchValue::Kind::Int || s < 1 || s > std::max<int64_t>(1, k))
      return Status::error("splits " + std::to_string(s) + ", expected 1.." + std::to_string(std::max<int64_t>(1, k)));
    if (s > 1 && !gemv) // never ignored: the tiled path has no split-K
      return Status::error("splits " + std::to_string(s) + " asked, but " + std::to_string(rows) +
                           " rows take the tiled kernel (no split-K; the GEMV takes 1.." +
                           std::to_string(d.gemvMaxRows) + " rows" + (d.gemvMaxRows ? "" : ": none here") + ")");
    splits = s;
  } else if (gemv) {
    splits = planMatMulSplits(rows, n, k, d.gemvRowsPerBlock, multiprocessors);
  }
  if (gemv) { // chunks of a multiple of 8 keep every split's 128-bit loads aligned
    chunk = std::max<int64_t>(8, ceilDiv(ceilDiv(k, splits), 8) * 8);
    splits = std::max<int64_t>(1, ceilDiv(k, chunk));
    if (splits > 65535)
      return Status::error(std::to_string(splits) + " splits > 65535");
  } else {
    splits = 1;
  }
  env.plan["splits"] = splits, env.plan["k_chunk"] = gemv ? chunk : 0;
  env.plan["gemv_rows"] = gemv ? rows : 0;
  env.plan["gemv_blocks"] = gemv ? ceilDiv(n, d.gemvRowsPerBlock) : 0;
  env.plan["epilogue_blocks"] = gemv ? ceilDiv(n, d.epilogueThreads) : 0;
  env.plan["tiles_n"] = gemv ? 0 : ceilDiv(n, d.tile);
  env.plan["tiles_m"] = gemv ? 0 : ceilDiv(m, d.tile);
  return Status();
}

} // namespace

EmittedLauncher::EmittedLauncher(Device &device) : device_(device) {}

EmittedLauncher::~EmittedLauncher() {
  for (auto &[name, s] : scratch_)
    if (s.ptr)
      (void)device_.free(s.ptr);
  if (faultWord_)
    (void)device_.free(faultWord_);
}

bool EmittedLauncher::reportsFaults(const std::string &op, int config) const {
  for (const auto &d : descs_)
    if (d->op == op && d->config == config)
      return std::any_of(d->params.begin(), d->params.end(), [](const Param &p) { return p.from == "fault"; });
  return false;
}

Result<bool> EmittedLauncher::takeFault(LaunchFault &fault) {
  if (!faultWord_)
    return false; // no kernel that records one has been launched
  int64_t word[kFaultWords] = {};
  if (Status s = device_.copyToHost(word, faultWord_, sizeof word); !s)
    return Status::error("reading the kernels' fault word: " + s.message());
  if (!word[0])
    return false;
  fault = LaunchFault{word[1], word[2], word[3]};
  const int64_t zero[kFaultWords] = {};
  if (Status s = device_.copyToDevice(faultWord_, zero, sizeof zero); !s)
    return Status::error("clearing the kernels' fault word: " + s.message());
  return true;
}

namespace {

// Every bmc-launch line of `source`, parsed; an error names the first bad line.
Result<std::vector<std::unique_ptr<EmittedLaunchDesc>>> parseAll(const std::string &source) {
  std::vector<std::unique_ptr<EmittedLaunchDesc>> descs;
  size_t pos = 0;
  int lineNo = 1;
  while (pos < source.size()) {
    size_t end = source.find('\n', pos);
    if (end == std::string::npos)
      end = source.size();
    std::string line = source.substr(pos, end - pos);
    if (line.rfind(kMarker, 0) == 0) {
      std::string where = "bmc-launch line " + std::to_string(lineNo) + ": ";
      try {
        auto d = parseDesc(json::parse(line.substr(std::string(kMarker).size())));
        for (const auto &other : descs)
          if (other->op == d->op && other->config == d->config)
            return Status::error(where + d->op + " " + std::to_string(d->config) + " described twice");
        descs.push_back(std::move(d));
      } catch (const DescError &e) {
        return Status::error(where + e.what);
      } catch (const json::exception &e) {
        return Status::error(where + "bad JSON: " + e.what());
      }
    }
    pos = end + 1;
    ++lineNo;
  }
  if (descs.empty())
    return Status::error("emitted CUDA source: no bmc-launch lines (not the CUDA emitter's output?)");
  return descs;
}

} // namespace

Result<std::vector<std::string>> EmittedLauncher::kernelNames(const std::string &source) {
  auto descs = parseAll(source);
  if (!descs)
    return descs.status();
  std::vector<std::string> names;
  for (const auto &d : descs.value())
    for (const Launch &k : d->launches)
      names.push_back(k.kernel);
  return names;
}

Result<std::unique_ptr<EmittedLauncher>> EmittedLauncher::create(Device &device, ModuleHandle module,
                                                                 const std::string &source,
                                                                 EmittedLauncherOptions options) {
  auto descs = parseAll(source);
  if (!descs)
    return descs.status();
  std::unique_ptr<EmittedLauncher> l(new EmittedLauncher(device));
  l->noticeFn_ = std::move(options.notice);
  l->prefill_ = options.prefill;
  if (l->prefill_ == PrefillPath::Default) {
    const char *env = std::getenv("BMC_DEVICE_PREFILL");
    std::string v = env ? env : "";
    if (!v.empty() && v != "gemm" && v != "tiled")
      return Status::error("BMC_DEVICE_PREFILL='" + v + "', expected gemm or tiled");
    l->prefill_ = v == "tiled" ? PrefillPath::Tiled : PrefillPath::DeviceGemm;
  }
  // Open the device GEMM now (outside any capture) when a product may use it.
  if (l->prefill_ == PrefillPath::DeviceGemm &&
      std::any_of(descs.value().begin(), descs.value().end(), [](const auto &d) { return d->prefillGemm; }))
    if (Status s = device.openGemm(); !s)
      return Status::error("emitted launcher: the device GEMM for many product rows: " + s.message() +
                           " (BMC_DEVICE_PREFILL=tiled runs the emitted tiled kernels instead)");
  for (auto &d : descs.value()) {
    for (Launch &k : d->launches) {
      auto h = device.findKernel(module, k.kernel);
      if (!h)
        return Status::error(d->op + " " + std::to_string(d->config) + ": " + h.status().message());
      k.handle = h.value();
    }
    l->descs_.push_back(std::move(d));
  }
  return l;
}

int EmittedLauncher::configurations(const std::string &op) const {
  return int(std::count_if(descs_.begin(), descs_.end(), [&](const auto &d) { return d->op == op; }));
}

const EmittedWeight *EmittedLauncher::weight(const std::string &op, int config) const {
  for (const auto &d : descs_)
    if (d->op == op && d->config == config)
      return d->hasWeight ? &d->weight : nullptr;
  return nullptr;
}

Status EmittedLauncher::scratch(const std::string &name, int64_t floats, DevicePtr &out) {
  Scratch &s = scratch_[name];
  size_t bytes = size_t(std::max<int64_t>(1, floats)) * sizeof(float);
  if (s.bytes < bytes) {
    if (s.ptr) {
      if (Status st = device_.synchronize(); !st) // earlier launches may still read it
        return st;
      if (Status st = device_.free(s.ptr); !st)
        return st;
      s = Scratch{};
    }
    auto p = device_.allocate(bytes);
    if (!p)
      return p.status();
    s.ptr = p.value(), s.bytes = bytes;
    ++scratchGeneration_;
  }
  out = s.ptr;
  return Status();
}

namespace {

// One argument's value, where argv points.
struct ArgSlot {
  bmc_view4 view;
  bmc_kv_buffer kv;
  long long i64;
  int i32;
  void *ptr;
};

template <typename T> std::string bytesOf(const T &v) { return std::string(reinterpret_cast<const char *>(&v), sizeof v); }

// A matrix operand: rows x cols, element (r, c) at r * sr + c * sc.
struct Mat {
  int64_t rows, cols, sr, sc;
};
// As GemmDesc stores it: rows contiguous (ld = the row stride), or its
// transpose (columns contiguous); false when neither is.
bool gemmLayout(const Mat &x, bool &trans, int64_t &ld) {
  if ((x.cols == 1 || x.sc == 1) && (x.rows == 1 || x.sr >= x.cols))
    return trans = false, ld = x.rows == 1 ? x.cols : x.sr, true;
  if ((x.rows == 1 || x.sr == 1) && (x.cols == 1 || x.sc >= x.rows))
    return trans = true, ld = x.cols == 1 ? x.rows : x.sc, true;
  return false;
}

int64_t viewSize(const bmc_view4 &v, int dim) { return dim < 0 ? 1 : v.size[dim]; }
// A dimension of size 1 (or none) is never stepped: stride 0.
int64_t viewStride(const bmc_view4 &v, int dim) { return dim < 0 || v.size[dim] == 1 ? 0 : v.stride[dim]; }
DevicePtr viewBase(const bmc_view4 &v) { return DevicePtr(uintptr_t(v.data)); }

// The product as Device::gemm calls (a loop over the batches, or one GEMM
// when the batches stack into rows), or why it does not map.
std::string gemmsFor(const EmittedLaunchDesc &d, const LaunchArgs &args, std::vector<GemmDesc> &out) {
  out.clear();
  const bmc_view4 &a = args.at("a").view, &o = args.at("out").view;
  const bmc_view4 *b = d.hasWeight ? nullptr : &args.at("b").view;
  int64_t m = viewSize(a, d.dimsA[2]), k = viewSize(a, d.dimsA[3]);
  int64_t n = b ? viewSize(*b, d.dimsB[3]) : d.weight.n;
  int64_t batch0 = viewSize(o, d.dimsOut[0]), batch1 = viewSize(o, d.dimsOut[1]);
  if (m == 0 || n == 0 || batch0 == 0 || batch1 == 0)
    return ""; // no outputs: nothing to run
  if (k == 0)
    return "K is 0 (the device GEMM takes K >= 1)";
  if (d.gemmA != d.gemmB)
    return std::string(gemmTypeName(d.gemmA)) + " x " + gemmTypeName(d.gemmB) + ": one type for A and B";
  GemmDesc g;
  g.m = m, g.n = n, g.k = k, g.abType = d.gemmA, g.cType = d.gemmOut, g.alpha = d.alpha, g.beta = 0.0f;
  Mat ma{m, k, viewStride(a, d.dimsA[2]), viewStride(a, d.dimsA[3])};
  if (!gemmLayout(ma, g.transA, g.lda))
    return "a's rows and columns are both strided (" + std::to_string(ma.sr) + ", " + std::to_string(ma.sc) + ")";
  Mat mb{};
  if (b) {
    mb = Mat{k, n, viewStride(*b, d.dimsB[2]), viewStride(*b, d.dimsB[3])};
    if (!gemmLayout(mb, g.transB, g.ldb))
      return "b's rows and columns are both strided (" + std::to_string(mb.sr) + ", " + std::to_string(mb.sc) + ")";
  } else {
    g.transB = true, g.ldb = d.weight.k; // the device's [N, K] copy
  }
  Mat mo{m, n, viewStride(o, d.dimsOut[2]), viewStride(o, d.dimsOut[3])};
  bool outTrans;
  if (!gemmLayout(mo, outTrans, g.ldc) || outTrans)
    return "out's columns are not contiguous (stride " + std::to_string(mo.sc) + ")";
  size_t ea = gemmTypeBytes(d.gemmA), eo = gemmTypeBytes(d.gemmOut);
  int64_t aStride[2] = {viewStride(a, d.dimsA[0]), viewStride(a, d.dimsA[1])};
  int64_t bStride[2] = {b ? viewStride(*b, d.dimsB[0]) : 0, b ? viewStride(*b, d.dimsB[1]) : 0};
  int64_t oStride[2] = {viewStride(o, d.dimsOut[0]), viewStride(o, d.dimsOut[1])};
  DevicePtr wBase = b ? viewBase(*b) + DevicePtr(b->offset) * ea : DevicePtr(uintptr_t(args.at("w").weight));
  // Batches that stack into rows (b the same for all, a and out rows evenly
  // spaced across them): one GEMM of batch0 x batch1 x m rows.
  auto stacks = [&](const int64_t *bs, int64_t rowStride, bool trans) {
    if (trans)
      return false;
    int64_t r = m > 1 ? rowStride : batch1 > 1 ? bs[1] : bs[0];
    return (batch1 == 1 || bs[1] == m * r) && (batch0 == 1 || bs[0] == batch1 * m * r);
  };
  if (batch0 * batch1 > 1 && bStride[0] == 0 && bStride[1] == 0 && stacks(aStride, g.lda, g.transA) &&
      stacks(oStride, g.ldc, false)) {
    auto rowStride = [&](const int64_t *bs, int64_t ld) { return m > 1 ? ld : batch1 > 1 ? bs[1] : bs[0]; };
    int64_t lda = rowStride(aStride, g.lda), ldc = rowStride(oStride, g.ldc);
    if (lda >= k && ldc >= n) {
      g.m = batch0 * batch1 * m, g.lda = lda, g.ldc = ldc;
      g.a = viewBase(a) + DevicePtr(a.offset) * ea, g.b = wBase, g.c = viewBase(o) + DevicePtr(o.offset) * eo;
      out.push_back(g);
      return "";
    }
  }
  for (int64_t i0 = 0; i0 < batch0; ++i0)
    for (int64_t i1 = 0; i1 < batch1; ++i1) {
      GemmDesc x = g;
      x.a = viewBase(a) + DevicePtr(a.offset + i0 * aStride[0] + i1 * aStride[1]) * ea;
      x.b = wBase + DevicePtr(i0 * bStride[0] + i1 * bStride[1]) * ea;
      x.c = viewBase(o) + DevicePtr(o.offset + i0 * oStride[0] + i1 * oStride[1]) * eo;
      out.push_back(x);
    }
  return "";
}

} // namespace

struct EmittedLauncher::Prepared {
  const EmittedLaunchDesc *desc = nullptr;
  std::string who;               // "launch bmck.matmul 0: "
  std::vector<ArgSlot> slots;    // sized once: argv points into it
  std::vector<void *> argv;
  std::string argBytes;          // the arguments' bytes in order (a graph update compares them)
  std::vector<size_t> launchIndex; // the desc's launches to run (zero grids left out)
  std::vector<LaunchConfig> configs;
  std::vector<GemmDesc> gemms;   // the device GEMM path (no kernels then)
  LaunchRecord record;
  Prepared() = default;
  Prepared(const Prepared &) = delete;
  Prepared &operator=(const Prepared &) = delete;
  Prepared(Prepared &&) = default; // the slots' buffer moves with it: argv stays valid
  Prepared &operator=(Prepared &&) = default;
};

Status EmittedLauncher::prepare(const std::string &op, int config, const LaunchArgs &args, Prepared &out,
                                bool checkOnly) {
  out = Prepared{};
  const EmittedLaunchDesc *d = nullptr;
  for (const auto &x : descs_)
    if (x->op == op && x->config == config)
      d = x.get();
  std::string who = "launch " + op + " " + std::to_string(config) + ": ";
  if (!d)
    return Status::error(who + "no such configuration in the emitted source (" +
                         std::to_string(configurations(op)) + " of " + op + ")");
  // The arguments: every "arg" parameter given with its kind, nothing unknown.
  for (const auto &arg : args) {
    const std::string &name = arg.first;
    auto p = std::find_if(d->params.begin(), d->params.end(), [&](const Param &q) { return q.name == name; });
    const char *overridable = d->planKind == "matmul" ? "splits" : "rows_per_split";
    if (p == d->params.end() || p->from == "scratch" || (p->from == "plan" && p->name != overridable) ||
        (p->from == "fault" && p->name != "fault_site"))
      return Status::error(who + "argument '" + name + "' is no parameter the caller sets");
    if (p->from == "fault" && arg.second.kind != LaunchValue::Kind::Int)
      return Status::error(who + "argument '" + name + "' is not an i64");
  }
  for (const Param &p : d->params) {
    if (p.from != "arg")
      continue;
    auto it = args.find(p.name);
    if (it == args.end())
      return Status::error(who + "argument '" + p.name + "' (" + p.kind + ") missing");
    LaunchValue::Kind want = p.kind == "view4"       ? LaunchValue::Kind::View
                             : p.kind == "kv_buffer" ? LaunchValue::Kind::KVBuffer
                             : p.kind == "weight"    ? LaunchValue::Kind::Weight
                                                     : LaunchValue::Kind::Int;
    if (it->second.kind != want)
      return Status::error(who + "argument '" + p.name + "' is not a " + p.kind);
    const LaunchValue &v = it->second;
    if (want == LaunchValue::Kind::View) {
      if (!v.view.data || v.view.offset < 0)
        return Status::error(who + "view '" + p.name + "': null data or offset " + std::to_string(v.view.offset));
      for (int i = 0; i < 4; ++i)
        if (v.view.size[i] < 0 || v.view.size[i] > INT_MAX)
          return Status::error(who + "view '" + p.name + "': size " + std::to_string(v.view.size[i]) +
                               " in dimension " + std::to_string(i));
    }
    if (want == LaunchValue::Kind::KVBuffer &&
        (!v.kv.data || v.kv.batch < 0 || v.kv.valid < 0 || v.kv.capacity < 0 || v.kv.capacity > INT_MAX))
      return Status::error(who + "KV buffer '" + p.name + "': null data or batch " + std::to_string(v.kv.batch) +
                           ", capacity " + std::to_string(v.kv.capacity) + ", valid " + std::to_string(v.kv.valid));
    if (want == LaunchValue::Kind::Weight && !v.weight)
      return Status::error(who + "weight '" + p.name + "': null");
    if (p.kind == "i32" && (v.value < INT_MIN || v.value > INT_MAX))
      return Status::error(who + "argument '" + p.name + "' = " + std::to_string(v.value) + " is not a 32-bit int");
  }
  Env env(*d, args);
  std::string error;
  for (const Check &c : d->checks) {
    int64_t a, b;
    if (!env.eval(c.lhs, a, error) || !env.eval(c.rhs, b, error))
      return Status::error(who + error);
    bool ok = c.cmp == "==" ? a == b : c.cmp == "!=" ? a != b : c.cmp == "<=" ? a <= b : (a == b || a == 1);
    if (!ok)
      return Status::error(who + env.format(c.error));
  }
  if (d->hasPlan && d->planKind == "matmul") {
    if (Status s = planMatMul(*d, args, device_.properties().multiprocessors, env); !s)
      return Status::error(who + s.message());
    if (env.plan.at("gemv_rows") > 0) {
      out.record.path = "gemv";
    } else {
      // Many rows: the device GEMM where asked, planned and mapped, else tiled.
      std::string why = prefill_ == PrefillPath::Tiled ? "asked (the tiled path was chosen)"
                        : !d->prefillGemm             ? d->prefillNote
                                                      : gemmsFor(*d, args, out.gemms);
      if (why.empty()) {
        out.record.path = "device_gemm";
        env.plan["tiles_n"] = 0, env.plan["tiles_m"] = 0;
      } else {
        out.record.path = "tiled", out.record.tiledWhy = why, out.gemms.clear();
        if (prefill_ == PrefillPath::DeviceGemm && !checkOnly) // given when it launches
          notice(op + " " + std::to_string(config) + ": many rows take the tiled kernel, not the device GEMM: " + why);
      }
    }
  } else if (d->hasPlan && d->planKind == "elementwise") {
    // A grid-stride loop: a thread per element up to 32 blocks per multiprocessor.
    int64_t elements;
    if (!env.eval(d->planElements, elements, error))
      return Status::error(who + error);
    int64_t cap = int64_t(std::max(1, device_.properties().multiprocessors)) * 32;
    env.plan["blocks"] = std::min(cap, ceilDiv(elements, d->elementThreads));
  } else if (d->hasPlan) {
    int64_t kvRows, blocks, rowsPerSplit = 0, splits = 0;
    if (!env.eval(d->planKvRows, kvRows, error) || !env.eval(d->planBlocks, blocks, error))
      return Status::error(who + error);
    if (auto it = args.find("rows_per_split"); it != args.end()) {
      int64_t r = it->second.value;
      if (it->second.kind != LaunchValue::Kind::Int || r < 1 || r > d->maxRowsPerSplit)
        return Status::error(who + "rows_per_split " + std::to_string(r) + ", expected 1.." +
                             std::to_string(d->maxRowsPerSplit));
      rowsPerSplit = r;
    }
    planAttentionSplits(blocks, kvRows, d->maxRowsPerSplit, device_.properties().multiprocessors, rowsPerSplit,
                        splits);
    if (splits > 65535)
      return Status::error(who + std::to_string(splits) + " splits > 65535");
    env.plan["rows_per_split"] = rowsPerSplit, env.plan["splits"] = splits;
  }
  // Every grid before any launch: a bad size launches nothing.
  std::vector<LaunchConfig> configs;
  for (const Launch &k : d->launches) {
    LaunchConfig c;
    int64_t g[3];
    for (int i = 0; i < 3; ++i)
      if (!env.eval(k.grid[i], g[i], error))
        return Status::error(who + k.kernel + ": " + error);
    const int64_t limit[3] = {INT_MAX, 65535, 65535};
    for (int i = 0; i < 3; ++i)
      if (g[i] < 0 || g[i] > limit[i])
        return Status::error(who + k.kernel + ": grid (" + std::to_string(g[0]) + ", " + std::to_string(g[1]) + ", " +
                             std::to_string(g[2]) + ") outside the device's limits");
    c.grid = {uint32_t(g[0]), uint32_t(g[1]), uint32_t(g[2])};
    c.block = {k.block, 1, 1};
    c.sharedBytes = k.sharedBytes;
    configs.push_back(c);
  }
  if (checkOnly) // every refusal is above; below, only scratch (device memory) and the slots
    return Status();
  // The fault word, once (zeroed; its address fixed, so graphs keep it).
  if (!faultWord_ && std::any_of(d->params.begin(), d->params.end(), [](const Param &p) { return p.from == "fault"; })) {
    auto w = device_.allocate(kFaultWords * sizeof(int64_t));
    if (!w)
      return Status::error(who + "the fault word: " + w.status().message());
    const int64_t zero[kFaultWords] = {};
    if (Status s = device_.copyToDevice(w.value(), zero, sizeof zero); !s) {
      (void)device_.free(w.value());
      return Status::error(who + "the fault word: " + s.message());
    }
    faultWord_ = w.value();
  }
  // Scratch, then the argument slots in the parameters' order.
  std::map<std::string, DevicePtr> scratchPtrs;
  for (const auto &[name, sizeExpr] : d->scratch) {
    int64_t floats;
    if (!env.eval(sizeExpr, floats, error))
      return Status::error(who + "scratch '" + name + "': " + error);
    if (floats < 0 || floats > (int64_t(1) << 40))
      return Status::error(who + "scratch '" + name + "' of " + std::to_string(floats) + " floats");
    if (Status s = scratch(name, floats, scratchPtrs[name]); !s)
      return Status::error(who + "scratch '" + name + "': " + s.message());
  }
  out.desc = d;
  out.who = who;
  out.slots.resize(d->params.size());
  for (size_t i = 0; i < d->params.size(); ++i) {
    const Param &p = d->params[i];
    ArgSlot &s = out.slots[i];
    if (p.kind == "view4")
      s.view = args.at(p.name).view, out.argv.push_back(&s.view), out.argBytes.append(bytesOf(s.view));
    else if (p.kind == "kv_buffer")
      s.kv = args.at(p.name).kv, out.argv.push_back(&s.kv), out.argBytes.append(bytesOf(s.kv));
    else if (p.kind == "i64" && p.from == "fault") // the caller's site, else -1
      s.i64 = args.count(p.name) ? args.at(p.name).value : -1, out.argv.push_back(&s.i64),
      out.argBytes.append(bytesOf(s.i64));
    else if (p.kind == "i64")
      s.i64 = args.at(p.name).value, out.argv.push_back(&s.i64), out.argBytes.append(bytesOf(s.i64));
    else if (p.kind == "fault_ptr")
      s.ptr = reinterpret_cast<void *>(uintptr_t(faultWord_)), out.argv.push_back(&s.ptr),
      out.argBytes.append(bytesOf(s.ptr));
    else if (p.kind == "i32")
      s.i32 = int(p.from == "plan" ? env.plan.at(p.name) : args.at(p.name).value), out.argv.push_back(&s.i32),
      out.argBytes.append(bytesOf(s.i32));
    else if (p.kind == "weight")
      s.ptr = const_cast<void *>(args.at(p.name).weight), out.argv.push_back(&s.ptr), out.argBytes.append(bytesOf(s.ptr));
    else // f32_ptr: a device address passed as a pointer
      s.ptr = reinterpret_cast<void *>(uintptr_t(scratchPtrs.at(p.name))), out.argv.push_back(&s.ptr),
      out.argBytes.append(bytesOf(s.ptr));
  }
  auto planned = [&](const char *name) { return env.plan.count(name) ? env.plan.at(name) : 0; };
  out.record.rowsPerSplit = planned("rows_per_split"), out.record.splits = planned("splits");
  out.record.kChunk = planned("k_chunk");
  out.record.gemms = int64_t(out.gemms.size());
  if (out.record.path == "device_gemm")
    return Status(); // the GEMMs replace the kernels
  for (size_t i = 0; i < d->launches.size(); ++i) {
    const LaunchConfig &c = configs[i];
    if (uint64_t(c.grid.x) * c.grid.y * c.grid.z == 0)
      continue; // nothing to do (no new rows, no query rows)
    out.launchIndex.push_back(i), out.configs.push_back(c);
    out.record.kernels.push_back(d->launches[i].kernel), out.record.configs.push_back(c);
  }
  return Status();
}

Status EmittedLauncher::enqueue(const Prepared &p) {
  for (const GemmDesc &g : p.gemms)
    if (Status s = device_.gemm(g); !s)
      return Status::error(p.who + s.message());
  for (size_t i = 0; i < p.launchIndex.size(); ++i) {
    const Launch &k = p.desc->launches[p.launchIndex[i]];
    if (Status s = device_.launch(k.handle, p.configs[i], const_cast<void **>(p.argv.data())); !s)
      return Status::error(p.who + k.kernel + ": " + s.message());
  }
  return Status();
}

void EmittedLauncher::notice(const std::string &text) {
  if (std::find(notices_.begin(), notices_.end(), text) != notices_.end())
    return;
  notices_.push_back(text);
  if (noticeFn_)
    noticeFn_(text);
  else
    std::fprintf(stderr, "bmc: note: %s\n", text.c_str());
}

Status EmittedLauncher::check(const std::string &op, int config, const LaunchArgs &args) {
  Prepared p;
  return prepare(op, config, args, p, /*checkOnly=*/true);
}

Status EmittedLauncher::launch(const std::string &op, int config, const LaunchArgs &args, LaunchRecord *record) {
  Prepared p;
  if (Status s = prepare(op, config, args, p); !s)
    return s;
  if (record)
    *record = p.record;
  if (Status s = enqueue(p); !s)
    return s;
  if (!p.record.path.empty())
    ++pathCounts_[p.record.path];
  return Status();
}

namespace {

bool sameConfig(const LaunchConfig &a, const LaunchConfig &b) {
  return a.grid.x == b.grid.x && a.grid.y == b.grid.y && a.grid.z == b.grid.z && a.block.x == b.block.x &&
         a.block.y == b.block.y && a.block.z == b.block.z && a.sharedBytes == b.sharedBytes;
}

bool sameGemm(const GemmDesc &a, const GemmDesc &b) {
  return a.m == b.m && a.n == b.n && a.k == b.k && a.transA == b.transA && a.transB == b.transB &&
         a.abType == b.abType && a.cType == b.cType && a.a == b.a && a.b == b.b && a.c == b.c && a.lda == b.lda &&
         a.ldb == b.ldb && a.ldc == b.ldc && a.alpha == b.alpha && a.beta == b.beta;
}

std::string nodeName(const EmittedStepGraph::Node &n) {
  if (n.gemm)
    return "a GEMM " + std::to_string(n.desc.m) + " x " + std::to_string(n.desc.n) + " x " + std::to_string(n.desc.k);
  return n.name;
}

} // namespace

Result<StepReport> EmittedLauncher::runStep(EmittedStepGraph &step, const std::vector<StepCall> &calls) {
  // Plan every call first; a scratch buffer that moved while later calls
  // planned invalidates the addresses earlier ones took: plan once more
  // (nothing grows the second time).
  std::vector<Prepared> prepared(calls.size());
  for (int pass = 0; pass < 2; ++pass) {
    uint64_t generation = scratchGeneration_;
    for (size_t i = 0; i < calls.size(); ++i)
      if (Status s = prepare(calls[i].op, calls[i].config, calls[i].args, prepared[i]); !s)
        return s;
    if (generation == scratchGeneration_)
      break;
  }
  std::vector<EmittedStepGraph::Node> nodes;
  std::vector<std::pair<size_t, size_t>> origin; // a launch node's (call, launch)
  for (size_t i = 0; i < prepared.size(); ++i) {
    const Prepared &p = prepared[i];
    for (const GemmDesc &g : p.gemms) {
      EmittedStepGraph::Node n;
      n.gemm = true, n.desc = g;
      nodes.push_back(n), origin.emplace_back(i, 0);
    }
    for (size_t j = 0; j < p.launchIndex.size(); ++j) {
      EmittedStepGraph::Node n;
      const Launch &k = p.desc->launches[p.launchIndex[j]];
      n.kernel = k.handle, n.name = k.kernel, n.config = p.configs[j], n.args = p.argBytes;
      nodes.push_back(n), origin.emplace_back(i, j);
    }
  }
  StepReport report;
  // Can the recorded graph take these values in place?
  if (!step.valid) {
    report.why = "the first step";
  } else if (nodes.size() != step.nodes.size()) {
    report.why = std::to_string(nodes.size()) + " launches and GEMMs, the graph has " + std::to_string(step.nodes.size());
  } else {
    for (size_t i = 0; i < nodes.size() && report.why.empty(); ++i) {
      const auto &a = nodes[i], &b = step.nodes[i];
      bool same = a.gemm == b.gemm && (a.gemm ? sameGemm(a.desc, b.desc)
                                              : a.kernel.module == b.kernel.module && a.kernel.index == b.kernel.index);
      if (!same)
        report.why = "node " + std::to_string(i) + " is " + nodeName(a) + ", the graph's " + nodeName(b);
    }
  }
  if (report.why.empty()) {
    size_t launchNo = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].gemm)
        continue;
      if (!sameConfig(nodes[i].config, step.nodes[i].config) || nodes[i].args != step.nodes[i].args) {
        const Prepared &p = prepared[origin[i].first];
        if (Status s = device_.updateLaunch(step.graph, launchNo, nodes[i].config, const_cast<void **>(p.argv.data()));
            !s)
          return Status::error(p.who + nodes[i].name + ": " + s.message());
        step.nodes[i] = nodes[i];
        ++report.updated;
      }
      ++launchNo;
    }
  } else {
    if (step.valid) {
      step.valid = false;
      if (Status s = device_.destroyGraph(step.graph); !s)
        return s;
    }
    if (Status s = device_.beginCapture(); !s)
      return s;
    for (const Prepared &p : prepared)
      if (Status s = enqueue(p); !s) {
        if (auto g = device_.endCapture(); g)
          (void)device_.destroyGraph(g.value());
        return s;
      }
    auto g = device_.endCapture();
    if (!g)
      return g.status();
    step.graph = g.value(), step.valid = true, step.nodes = nodes;
    report.captured = true;
  }
  if (Status s = device_.replay(step.graph); !s)
    return s;
  for (const auto &n : nodes)
    ++(n.gemm ? report.gemms : report.launches);
  for (const Prepared &p : prepared) {
    if (!p.record.path.empty())
      ++pathCounts_[p.record.path];
    report.records.push_back(p.record);
  }
  return report;
}

} // namespace device
} // namespace bmc
