//===- e2e_util.cpp - shared helpers of the end-to-end tests --------------===//

#include "tests/e2e/e2e_util.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bmc::e2e {

//===----------------------------------------------------------------------===//
// Paths
//===----------------------------------------------------------------------===//

static std::string setting(const char *env, const char *builtIn) {
  const char *v = std::getenv(env);
  return v && *v ? v : builtIn;
}

std::string dataDir() { return setting("BMC_E2E_DATA_DIR", BMC_E2E_DATA_DIR); }
std::string modelsDir() { return setting("BMC_E2E_MODELS_DIR", BMC_E2E_MODELS_DIR); }
std::string workDir() { return setting("BMC_E2E_WORK_DIR", BMC_E2E_WORK_DIR); }
std::string nodePath() { return setting("BMC_E2E_NODE", BMC_E2E_NODE); }
std::string ortDecodeScript() { return setting("BMC_E2E_ORT_DECODE", BMC_E2E_ORT_DECODE); }
std::string bmcRunPath() { return setting("BMC_E2E_BMC_RUN", BMC_E2E_BMC_RUN); }
std::string bmcCompilePath() { return setting("BMC_E2E_BMC_COMPILE", BMC_E2E_BMC_COMPILE); }

std::vector<std::string> generatedModels() {
  std::vector<std::string> out;
  std::stringstream ss(BMC_E2E_GENERATED);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string generatedModelPath(const std::string &name) { return modelsDir() + "/" + name + ".onnx"; }

//===----------------------------------------------------------------------===//
// Files and processes
//===----------------------------------------------------------------------===//

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string readFile(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string makeDirs(const std::string &path) {
  for (size_t p = 1; p <= path.size(); ++p)
    if (p == path.size() || path[p] == '/') ::mkdir(path.substr(0, p).c_str(), 0755);
  return path;
}

std::vector<std::string> listDir(const std::string &path) {
  std::vector<std::string> names;
  if (DIR *d = ::opendir(path.c_str())) {
    while (dirent *e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

static void removeTree(const std::string &path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    for (const std::string &n : listDir(path)) removeTree(path + "/" + n);
    ::rmdir(path.c_str());
  } else {
    ::unlink(path.c_str());
  }
}

std::string freshDir(const std::string &name) {
  std::string d = workDir() + "/" + name;
  removeTree(d);
  return makeDirs(d);
}

std::string ProcessResult::describe() const {
  std::string s = signal ? "killed by signal " + std::to_string(signal) : "exit code " + std::to_string(exitCode);
  return s + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err;
}

ProcessResult runProcess(const std::vector<std::string> &argv) {
  ProcessResult r;
  char outPath[] = "/tmp/bmc_e2e_outXXXXXX", errPath[] = "/tmp/bmc_e2e_errXXXXXX";
  int outFd = ::mkstemp(outPath), errFd = ::mkstemp(errPath);
  if (outFd < 0 || errFd < 0) {
    r.err = std::string("mkstemp: ") + std::strerror(errno);
    return r;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(outFd, 1);
    ::dup2(errFd, 2);
    int nul = ::open("/dev/null", O_RDONLY);
    if (nul >= 0) ::dup2(nul, 0);
    std::vector<char *> args;
    for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "cannot execute %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (pid > 0 && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(outFd);
  ::close(errFd);
  r.out = readFile(outPath);
  r.err = readFile(errPath);
  ::unlink(outPath);
  ::unlink(errPath);
  if (pid < 0) {
    r.err = std::string("fork: ") + std::strerror(errno);
  } else if (WIFEXITED(status)) {
    r.exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  return r;
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

namespace {
struct JsonParser {
  const std::string &s;
  size_t p = 0;
  std::string error;

  void ws() {
    while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
  }
  bool fail(const std::string &what) {
    if (error.empty()) error = "JSON: " + what + " at offset " + std::to_string(p);
    return false;
  }
  bool literal(const char *word) {
    size_t n = std::strlen(word);
    if (s.compare(p, n, word) != 0) return fail(std::string("expected ") + word);
    p += n;
    return true;
  }
  bool string(std::string &out) {
    if (s[p] != '"') return fail("expected a string");
    for (++p; p < s.size() && s[p] != '"'; ++p) {
      if (s[p] == '\\') {
        if (++p >= s.size()) break;
        char c = s[p];
        out += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'u' ? '?' : c;
        if (c == 'u') p += 4;
      } else {
        out += s[p];
      }
    }
    if (p >= s.size()) return fail("unterminated string");
    ++p;
    return true;
  }
  bool value(Json &v) {
    ws();
    if (p >= s.size()) return fail("unexpected end");
    char c = s[p];
    if (c == '{') {
      v.kind = Json::Object;
      ++p;
      ws();
      if (s[p] == '}') return ++p, true;
      for (;;) {
        ws();
        std::string key;
        if (!string(key)) return false;
        ws();
        if (s[p++] != ':') return fail("expected ':'");
        if (!value(v.obj[key])) return false;
        ws();
        if (s[p] == ',') { ++p; continue; }
        if (s[p] == '}') return ++p, true;
        return fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = Json::Array;
      ++p;
      ws();
      if (s[p] == ']') return ++p, true;
      for (;;) {
        v.arr.emplace_back();
        if (!value(v.arr.back())) return false;
        ws();
        if (s[p] == ',') { ++p; continue; }
        if (s[p] == ']') return ++p, true;
        return fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Json::String;
      return string(v.str);
    }
    if (c == 't' || c == 'f') {
      v.kind = Json::Bool;
      v.b = c == 't';
      return literal(v.b ? "true" : "false");
    }
    if (c == 'n') return literal("null");
    char *end = nullptr;
    v.num = std::strtod(s.c_str() + p, &end);
    if (end == s.c_str() + p) return fail("unexpected character");
    v.kind = Json::Number;
    p = size_t(end - s.c_str());
    return true;
  }
};
} // namespace

bool Json::parse(const std::string &text, Json &out, std::string &error) {
  JsonParser jp{text};
  out = Json();
  if (!jp.value(out)) {
    error = jp.error;
    return false;
  }
  jp.ws();
  if (jp.p != text.size()) {
    error = "JSON: trailing characters at offset " + std::to_string(jp.p);
    return false;
  }
  return true;
}

const Json &Json::operator[](const std::string &key) const {
  static const Json null;
  auto it = obj.find(key);
  return it == obj.end() ? null : it->second;
}

std::vector<int64_t> Json::ints() const {
  std::vector<int64_t> v;
  for (const Json &e : arr) v.push_back(int64_t(e.num));
  return v;
}

//===----------------------------------------------------------------------===//
// The onnxruntime oracle
//===----------------------------------------------------------------------===//

std::string join(const std::vector<int64_t> &v, const char *sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
  return s;
}

static std::string baseName(const std::string &path) {
  size_t s = path.find_last_of('/');
  std::string b = s == std::string::npos ? path : path.substr(s + 1);
  size_t dot = b.rfind('.');
  return dot == std::string::npos ? b : b.substr(0, dot);
}

Result<Json> ortRun(const std::string &modelPath, const std::vector<std::string> &inputs) {
  std::string node = nodePath();
  if (node.empty() || node.find("NOTFOUND") != std::string::npos || !fileExists(node))
    return Status::error("node (Node.js) not found: onnxruntime is this test's peer (tests/peers/setup.sh)");
  std::string decode = ortDecodeScript();
  std::vector<std::string> argv = {node, decode.substr(0, decode.find_last_of('/') + 1) + "ort_run.mjs", modelPath};
  argv.insert(argv.end(), inputs.begin(), inputs.end());
  ProcessResult pr = runProcess(argv);
  if (pr.exitCode != 0) return Status::error("ort_run.mjs failed on " + modelPath + ": " + pr.describe());
  Json out;
  std::string err;
  if (!Json::parse(pr.out, out, err)) return Status::error("ort_run.mjs output: " + err + ": " + pr.out);
  return out;
}

Result<OrtReference> ortReference(const std::string &modelPath, const std::vector<int64_t> &prompt, int steps,
                                  const std::vector<int> &dumpSteps, const std::string &opt) {
  static std::mutex mu;
  static std::map<std::string, OrtReference> cache;
  std::string key = modelPath + "|" + join(prompt) + "|" + std::to_string(steps);
  for (int s : dumpSteps) key += "," + std::to_string(s);
  key += "|" + opt;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;

  const std::string hint = " (onnxruntime is the reference of this test: install Node.js >= 18 and run "
                           "tests/peers/setup.sh, or `ctest -R e2e.ort_setup`)";
  std::string node = nodePath();
  if (node.empty() || node.find("NOTFOUND") != std::string::npos)
    return Status::error("node (Node.js) was not found when CMake configured the tests" + hint);
  if (!fileExists(node)) return Status::error("node not found at " + node + hint);
  std::string dumpList;
  for (int s : dumpSteps) dumpList += (dumpList.empty() ? "" : ",") + std::to_string(s);
  std::string tag = std::to_string(std::hash<std::string>()(key) % 1000000);
  std::string dir = freshDir("ort/" + baseName(modelPath) + "_" + tag);
  ProcessResult pr = runProcess({node, ortDecodeScript(), modelPath, "--prompt", join(prompt), "--steps",
                                 std::to_string(steps), "--dump-logits", dir, "--dump-steps", dumpList, "--opt", opt});
  if (pr.exitCode != 0)
    return Status::error("onnxruntime (ort_decode.mjs) failed on " + modelPath + hint + ": " + pr.describe());
  Json out, index;
  std::string err;
  if (!Json::parse(pr.out, out, err)) return Status::error("ort_decode.mjs output: " + err + ": " + pr.out);
  if (!Json::parse(readFile(dir + "/index.json"), index, err)) return Status::error(dir + "/index.json: " + err);
  OrtReference ref;
  ref.tokens = out["tokens"].ints();
  if (int(ref.tokens.size()) != steps)
    return Status::error("ort_decode.mjs returned " + std::to_string(ref.tokens.size()) + " tokens, expected " +
                         std::to_string(steps));
  for (const Json &s : index["steps"].arr) {
    std::string bytes = readFile(dir + "/" + s["file"].str);
    std::vector<float> v(bytes.size() / sizeof(float));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
    if (v.empty()) return Status::error("empty logits dump " + s["file"].str);
    ref.logits[int(s["step"].num)] = std::move(v);
  }
  for (int s : dumpSteps)
    if (!ref.logits.count(s)) return Status::error("ort_decode.mjs wrote no logits for step " + std::to_string(s));
  cache[key] = ref;
  return ref;
}

//===----------------------------------------------------------------------===//
// Compiling and decoding
//===----------------------------------------------------------------------===//

std::string describe(const CompileOptions &o) {
  return std::string(kvModeName(o.kvMode)) + "_" + kvPaddingName(o.kvPadding) + "_r" + std::to_string(o.r) +
         (o.referenceKernels ? "_ref" : "") + "_O" + std::to_string(o.optLevel) +
         "_seg" + std::to_string(o.segmentOps) + (o.outlineLayers ? "" : "_nolayers") + "_cg" +
         std::to_string(o.codegenThreads) + "_" + weightFormatName(o.weights) + "_kv" + kvTypeName(o.kvType) +
         (o.activations == ActivationFormat::F32 ? "" : std::string("_act") + activationFormatName(o.activations));
}

namespace {
std::mutex cacheMu;
std::map<std::string, std::shared_ptr<Model>> modelCache;
} // namespace

Result<std::shared_ptr<Model>> compiled(const std::string &onnxPath, const CompileOptions &opts) {
  std::string key = "jit|" + onnxPath + "|" + describe(opts);
  std::lock_guard<std::mutex> lock(cacheMu);
  if (auto it = modelCache.find(key); it != modelCache.end()) return it->second;
  auto m = compileOnnx(onnxPath, opts);
  if (!m) return m.status();
  modelCache[key] = m.value();
  return m;
}

Result<std::shared_ptr<Model>> packaged(const std::string &onnxPath, const CompileOptions &opts) {
  std::string pkgPath = makeDirs(workDir() + "/packages") + "/" + baseName(onnxPath) + "_" + describe(opts) + ".bmcpkg";
  ::unlink(pkgPath.c_str());
  if (Status s = compilePackage(onnxPath, pkgPath, opts); !s.ok()) return s;
  return Model::load(pkgPath);
}

static int64_t argmaxOf(const float *v, int64_t n) { return std::max_element(v, v + n) - v; }

Result<Trace> decode(const std::shared_ptr<Model> &model, const SessionOptions &so,
                     const std::vector<std::vector<int64_t>> &prompts, int steps,
                     const std::vector<std::vector<int64_t>> *forced) {
  auto sr = Session::create(model, so);
  if (!sr) return sr.status();
  Session &s = *sr.value();
  Trace t;
  t.argmax.resize(prompts.size());
  if (Status st = s.prefill(prompts); !st.ok()) return Status::error("prefill: " + st.message());
  int64_t V = s.vocab();
  for (int step = 0; step < steps; ++step) {
    const Tensor &l = s.logits();
    if (l.rank() != 2 || l.shape()[0] != int64_t(prompts.size()) || l.shape()[1] != V)
      return Status::error("logits " + l.describe() + ", expected [" + std::to_string(prompts.size()) + "," +
                           std::to_string(V) + "]");
    t.logits.push_back(l.clone());
    std::vector<int64_t> next;
    for (size_t b = 0; b < prompts.size(); ++b) {
      t.argmax[b].push_back(argmaxOf(l.data<float>() + b * V, V));
      next.push_back(forced ? (*forced)[b][size_t(step)] : t.argmax[b].back());
    }
    if (step + 1 == steps) break;
    if (Status st = s.step(next); !st.ok())
      return Status::error("step " + std::to_string(step + 1) + ": " + st.message());
  }
  t.stats = s.kvStats();
  t.r = s.r();
  t.kvMode = s.kvMode();
  return t;
}

LogitDiff compareLogits(const float *a, const float *b, int64_t n) {
  LogitDiff d;
  for (int64_t i = 0; i < n; ++i) {
    double diff = std::fabs(double(a[i]) - double(b[i]));
    if (!(diff <= d.maxAbs)) { // NaN counts as the worst
      d.maxAbs = std::isnan(diff) ? INFINITY : diff;
      d.worst = i;
    }
    d.maxRef = std::max(d.maxRef, std::fabs(double(b[i])));
  }
  d.rel = d.maxAbs / std::max(d.maxRef, 1e-6);
  return d;
}

Drift driftFrom(const Trace &ref, const Trace &t) {
  Drift d;
  d.steps = int(std::min(ref.logits.size(), t.logits.size()));
  if (d.steps == 0) return d;
  const int64_t V = ref.logits[0].shape()[1];
  double kl = 0;
  for (int step = 0; step < d.steps; ++step) {
    const float *x = ref.logits[size_t(step)].data<float>(), *y = t.logits[size_t(step)].data<float>();
    const double mx = *std::max_element(x, x + V), my = *std::max_element(y, y + V);
    double zx = 0, zy = 0;
    for (int64_t v = 0; v < V; ++v) {
      zx += std::exp(x[v] - mx);
      zy += std::exp(y[v] - my);
      d.maxAbsDiff = std::max(d.maxAbsDiff, double(std::fabs(x[v] - y[v])));
    }
    for (int64_t v = 0; v < V; ++v) {
      const double lp = x[v] - mx - std::log(zx), lq = y[v] - my - std::log(zy);
      kl += std::exp(lp) * (lp - lq);
    }
    d.top1Agree += std::max_element(x, x + V) - x == std::max_element(y, y + V) - y;
  }
  d.meanKL = kl / d.steps;
  return d;
}

double expectLogitsNear(const Trace &t, const std::map<int, std::vector<float>> &ref, const std::vector<int> &steps,
                        double tol, int64_t row) {
  const int64_t V = t.logits.at(0).shape()[1];
  double worst = 0;
  for (int step : steps) {
    const std::vector<float> &want = ref.at(step);
    if (int64_t(want.size()) != V) {
      ADD_FAILURE() << "step " << step << ": vocabulary size " << V << ", reference " << want.size();
      continue;
    }
    LogitDiff d = compareLogits(t.logits.at(size_t(step)).data<float>() + row * V, want.data(), V);
    EXPECT_LE(d.rel, tol) << "row " << row << " step " << step << ": " << d.describe();
    worst = std::max(worst, d.rel);
  }
  return worst;
}

std::string LogitDiff::describe() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "max |a-b| = %.3g at index %lld, max |ref| = %.3g, relative %.3g", maxAbs,
                (long long)worst, maxRef, rel);
  return buf;
}

} // namespace bmc::e2e
