//===- runtime/device/Nvrtc.cpp - CUDA C to cubin/PTX at run time ---------===//

#include "runtime/device/Nvrtc.h"
#include "bmc/abi/package.h"
#include "runtime/device/DynamicLibrary.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

namespace bmc {
namespace device {

using nvrtcProgram = struct _nvrtcProgram *;

struct Nvrtc::Api {
  int (*nvrtcVersion)(int *major, int *minor);
  const char *(*nvrtcGetErrorString)(int result);
  int (*nvrtcCreateProgram)(nvrtcProgram *prog, const char *src, const char *name, int numHeaders,
                            const char *const *headers, const char *const *includeNames);
  int (*nvrtcCompileProgram)(nvrtcProgram prog, int numOptions, const char *const *options);
  int (*nvrtcGetProgramLogSize)(nvrtcProgram prog, size_t *size);
  int (*nvrtcGetProgramLog)(nvrtcProgram prog, char *log);
  int (*nvrtcGetCUBINSize)(nvrtcProgram prog, size_t *size);
  int (*nvrtcGetCUBIN)(nvrtcProgram prog, char *cubin);
  int (*nvrtcGetPTXSize)(nvrtcProgram prog, size_t *size);
  int (*nvrtcGetPTX)(nvrtcProgram prog, char *ptx);
  int (*nvrtcDestroyProgram)(nvrtcProgram *prog);
};

namespace {

// Every name in a folder before the next folder: the first folder holding
// any libnvrtc wins.
std::vector<std::string> candidatePaths() {
  std::vector<std::string> paths;
  for (const std::string &dir : cudaLibraryDirs())
    for (const char *name : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"})
      paths.push_back(libraryPathIn(dir, name));
  return paths;
}

// Two FNV-1a 64 streams with different seeds: a cache key, not a security check.
struct Hash128 {
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  void add(const std::string &s) {
    for (unsigned char c : s) {
      a = (a ^ c) * 0x100000001b3ull;
      b = (b ^ c) * 0x100000001b3ull;
    }
    // A separator, so that ("ab","c") and ("a","bc") differ.
    a = (a ^ 0xff) * 0x100000001b3ull;
    b = (b ^ 0xfe) * 0x100000001b3ull;
  }
  std::string hex() const {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
    return buf;
  }
};

// The first line of the log that mentions an error (or the first line).
std::string firstErrorLine(const std::string &log) {
  std::istringstream in(log);
  std::string line, first;
  while (std::getline(in, line)) {
    if (first.empty() && !line.empty())
      first = line;
    if (line.find("error") != std::string::npos)
      return line;
  }
  return first.empty() ? "(empty log)" : first;
}

// Cache entry: magic, key, three sizes, cubin, ptx, log, then the CRC32C of
// everything before it. Format 1 (no checksum) reads as another format:
// compiled again and rewritten.
constexpr char kMagic[8] = {'B', 'M', 'C', 'N', 'V', 'R', '2', '\n'};

std::string encodeEntry(const std::string &key, const NvrtcOutput &out) {
  std::string e(kMagic, sizeof kMagic);
  e += key;
  for (uint64_t n : {uint64_t(out.cubin.size()), uint64_t(out.ptx.size()), uint64_t(out.log.size())})
    e.append(reinterpret_cast<const char *>(&n), sizeof n);
  e += out.cubin + out.ptx + out.log;
  const uint32_t crc = pkg::crc32c(0, e.data(), e.size());
  e.append(reinterpret_cast<const char *>(&crc), sizeof crc);
  return e;
}

// Empty when `e` is a good entry for `key` (its fields in `out`), else why not.
std::string decodeEntry(const std::string &e, const std::string &key, NvrtcOutput &out) {
  const size_t head = sizeof kMagic + key.size() + 3 * sizeof(uint64_t);
  if (e.size() < sizeof kMagic || e.compare(0, sizeof kMagic, kMagic, sizeof kMagic) != 0)
    return "is not a bmc NVRTC cache entry of this format";
  if (e.size() < head + sizeof(uint32_t))
    return "is truncated (" + std::to_string(e.size()) + " bytes)";
  if (e.compare(sizeof kMagic, key.size(), key) != 0)
    return "holds another key (" + e.substr(sizeof kMagic, key.size()) + ")";
  uint64_t n[3];
  std::memcpy(n, e.data() + sizeof kMagic + key.size(), sizeof n);
  const size_t body = e.size() - head - sizeof(uint32_t);
  if (n[0] > body || n[1] > body || n[2] > body || n[0] + n[1] + n[2] != body)
    return "is truncated or has wrong sizes (" + std::to_string(e.size()) + " bytes)";
  uint32_t crc;
  std::memcpy(&crc, e.data() + e.size() - sizeof crc, sizeof crc);
  if (crc != pkg::crc32c(0, e.data(), e.size() - sizeof crc))
    return "fails its checksum";
  out.cubin = e.substr(head, n[0]);
  out.ptx = e.substr(head + n[0], n[1]);
  out.log = e.substr(head + n[0] + n[1], n[2]);
  return "";
}

bool readFile(const std::string &path, std::string &data) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  data = ss.str();
  return !in.bad();
}

// mkdir -p: the cache directory's parents may not exist yet (~/.cache).
Status makeDirectories(const std::string &dir) {
  for (size_t at = dir.find('/', 1);; at = dir.find('/', at + 1)) {
    const std::string part = dir.substr(0, at);
    if (!part.empty() && mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::error("cannot create " + part + ": " + std::strerror(errno));
    if (at == std::string::npos)
      return Status();
  }
}

Status writeFileAtomically(const std::string &path, const std::string &data) {
  // Unique per process and call: two threads writing the same entry never share a temporary.
  static std::atomic<uint64_t> sequence{0};
  std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(sequence.fetch_add(1));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), std::streamsize(data.size()));
    if (!out) {
      std::remove(tmp.c_str());
      return Status::error("cannot write " + tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    return Status::error("cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
  }
  return Status();
}

std::atomic<uint64_t> gCompilations{0};

// The options every compile gets, before the request's own (part of the cache key).
std::vector<std::string> builtInOptions(const std::string &arch) {
  std::vector<std::string> options = {"--gpu-architecture=" + arch, "--std=c++17"};
  // ptxas's per-kernel report (registers, spills) in the program log; NVRTC 13
  // takes this spelling and "-Xptxas -v" alike.
  if (arch.rfind("sm_", 0) == 0)
    options.push_back("--ptxas-options=-v");
  return options;
}

Result<const Nvrtc *> loadOnce() {
  using Api = Nvrtc::Api;
  auto opened = openFirst(candidatePaths());
  if (!opened)
    return Status::error("no libnvrtc found (" + opened.status().message() + ")");
  void *lib = opened->handle;
  const std::string &path = opened->path;
  static Api api;
  std::string missing;
  bindSymbol(lib, api.nvrtcVersion, "nvrtcVersion", missing);
  bindSymbol(lib, api.nvrtcGetErrorString, "nvrtcGetErrorString", missing);
  bindSymbol(lib, api.nvrtcCreateProgram, "nvrtcCreateProgram", missing);
  bindSymbol(lib, api.nvrtcCompileProgram, "nvrtcCompileProgram", missing);
  bindSymbol(lib, api.nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", missing);
  bindSymbol(lib, api.nvrtcGetProgramLog, "nvrtcGetProgramLog", missing);
  bindSymbol(lib, api.nvrtcGetCUBINSize, "nvrtcGetCUBINSize", missing);
  bindSymbol(lib, api.nvrtcGetCUBIN, "nvrtcGetCUBIN", missing);
  bindSymbol(lib, api.nvrtcGetPTXSize, "nvrtcGetPTXSize", missing);
  bindSymbol(lib, api.nvrtcGetPTX, "nvrtcGetPTX", missing);
  bindSymbol(lib, api.nvrtcDestroyProgram, "nvrtcDestroyProgram", missing);
  if (!missing.empty()) {
    dlclose(lib);
    return Status::error(path + " lacks " + missing);
  }
  static Nvrtc nvrtc(&api, path);
  return static_cast<const Nvrtc *>(&nvrtc);
}

} // namespace

Result<const Nvrtc *> Nvrtc::load() {
  static Result<const Nvrtc *> loaded = [] {
    auto r = loadOnce();
    if (r) {
      Nvrtc &n = const_cast<Nvrtc &>(*r.value());
      if (n.api_->nvrtcVersion(&n.major_, &n.minor_) != 0)
        return Result<const Nvrtc *>(Status::error("nvrtc: nvrtcVersion failed (" + n.path_ + ")"));
    }
    return r;
  }();
  return loaded;
}

uint64_t Nvrtc::compilations() { return gCompilations.load(); }

std::string nvrtcCacheKey(int major, int minor, const NvrtcRequest &request) {
  Hash128 h;
  h.add(std::to_string(major) + "." + std::to_string(minor));
  h.add(request.arch);
  for (const std::string &o : builtInOptions(request.arch))
    h.add(o);
  for (const std::string &o : request.options)
    h.add(o);
  h.add(request.source);
  return h.hex();
}

Result<NvrtcOutput> Nvrtc::compileUncached(const NvrtcRequest &req) const {
  const Api &a = *api_;
  bool cubin = req.arch.rfind("sm_", 0) == 0;
  if (!cubin && req.arch.rfind("compute_", 0) != 0)
    return Status::error("nvrtc: arch '" + req.arch + "': expected sm_XX or compute_XX");
  std::vector<std::string> options = builtInOptions(req.arch);
  options.insert(options.end(), req.options.begin(), req.options.end());
  std::vector<const char *> argv;
  for (const std::string &o : options)
    argv.push_back(o.c_str());

  gCompilations.fetch_add(1);
  nvrtcProgram prog = nullptr;
  int r = a.nvrtcCreateProgram(&prog, req.source.c_str(), req.name.c_str(), 0, nullptr, nullptr);
  if (r != 0)
    return Status::error(std::string("nvrtc: nvrtcCreateProgram(") + req.name +
                         "): " + a.nvrtcGetErrorString(r));
  struct Destroy {
    const Api &a;
    nvrtcProgram &p;
    ~Destroy() { a.nvrtcDestroyProgram(&p); }
  } destroy{a, prog};

  int compiled = a.nvrtcCompileProgram(prog, int(argv.size()), argv.data());
  NvrtcOutput out;
  size_t n = 0;
  if (a.nvrtcGetProgramLogSize(prog, &n) == 0 && n > 1) {
    out.log.resize(n);
    a.nvrtcGetProgramLog(prog, &out.log[0]);
    out.log.resize(n - 1); // the terminating NUL
  }
  if (compiled != 0)
    return Status::error("nvrtc: compiling " + req.name + " for " + req.arch + ": " +
                         a.nvrtcGetErrorString(compiled) + ": " + firstErrorLine(out.log));
  if (cubin) {
    if ((r = a.nvrtcGetCUBINSize(prog, &n)) != 0 || n == 0)
      return Status::error("nvrtc: nvrtcGetCUBINSize(" + req.name + ", " + req.arch + "): " +
                           (r ? a.nvrtcGetErrorString(r) : "empty"));
    out.cubin.resize(n);
    a.nvrtcGetCUBIN(prog, &out.cubin[0]);
  }
  if ((r = a.nvrtcGetPTXSize(prog, &n)) != 0 || n == 0)
    return Status::error("nvrtc: nvrtcGetPTXSize(" + req.name + ", " + req.arch + "): " +
                         (r ? a.nvrtcGetErrorString(r) : "empty"));
  out.ptx.resize(n);
  a.nvrtcGetPTX(prog, &out.ptx[0]);
  while (!out.ptx.empty() && out.ptx.back() == '\0')
    out.ptx.pop_back();
  return out;
}

Result<NvrtcOutput> Nvrtc::compile(const NvrtcRequest &req) const {
  std::string key, path, note;
  if (!req.cacheDir.empty()) {
    key = nvrtcCacheKey(major_, minor_, req);
    path = req.cacheDir + "/" + key + "." + req.arch + ".bmcnvrtc";
    std::string entry;
    if (readFile(path, entry)) {
      NvrtcOutput out;
      std::string why = decodeEntry(entry, key, out);
      auto info = why.empty() ? parsePtxasInfo(out.log) : Result<std::vector<PtxasInfo>>(Status::error(why));
      if (info) {
        out.fromCache = true;
        out.cachePath = path;
        out.kernels = std::move(info.value());
        return out;
      }
      note = "cache entry " + path + " " + (why.empty() ? "has a bad ptxas report" : why) + ": recompiled";
    }
  }
  auto out = compileUncached(req);
  if (!out)
    return out;
  auto info = parsePtxasInfo(out->log);
  if (!info)
    return info.status();
  out->kernels = std::move(info.value());
  if (!path.empty()) {
    // A cache that cannot be written costs the next run a compile, nothing more.
    Status s = makeDirectories(req.cacheDir);
    if (s.ok())
      s = writeFileAtomically(path, encodeEntry(key, out.value()));
    if (s.ok())
      out->cachePath = path;
    else
      note += (note.empty() ? "" : "; ") + std::string("not cached: ") + s.message();
  }
  out->cacheNote = note;
  return out;
}

Result<std::vector<PtxasInfo>> parsePtxasInfo(const std::string &log) {
  static const std::regex entry(R"(Compiling entry function '([^']+)' for '([^']+)')");
  static const std::regex props(R"(Function properties for (\S+))");
  static const std::regex frame(
      R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex used(R"(Used (\d+) registers)");
  static const std::regex smem(R"((\d+) bytes smem)");
  std::vector<PtxasInfo> out;
  std::string propsFor; // the function the next stack-frame line belongs to
  std::istringstream in(log);
  std::string line;
  int lineNo = 0;
  std::smatch m;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.rfind("ptxas", 0) != 0)
      continue;
    if (std::regex_search(line, m, entry)) {
      out.push_back(PtxasInfo{m[1], m[2]});
    } else if (std::regex_search(line, m, props)) {
      propsFor = m[1];
    } else if (std::regex_search(line, m, frame)) {
      if (propsFor.empty())
        return Status::error("ptxas log line " + std::to_string(lineNo) +
                             ": a stack frame line before any 'Function properties'");
      // Properties of an entry function, or of a called device function (kept out).
      for (PtxasInfo &k : out)
        if (k.function == propsFor && k.stackFrameBytes < 0) {
          k.stackFrameBytes = std::stoll(m[1]);
          k.spillStoreBytes = std::stoll(m[2]);
          k.spillLoadBytes = std::stoll(m[3]);
        }
      propsFor.clear();
    } else if (std::regex_search(line, m, used)) {
      if (out.empty())
        return Status::error("ptxas log line " + std::to_string(lineNo) +
                             ": 'Used N registers' before any entry function");
      out.back().registers = std::stoi(m[1]);
      if (std::regex_search(line, m, smem))
        out.back().sharedBytes = std::stoll(m[1]);
    }
  }
  for (const PtxasInfo &k : out)
    if (k.registers < 0 || k.stackFrameBytes < 0)
      return Status::error("ptxas log: no register or spill report for '" + k.function + "'");
  return out;
}

} // namespace device
} // namespace bmc
