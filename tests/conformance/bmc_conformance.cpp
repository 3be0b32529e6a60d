//===- bmc_conformance.cpp - the ONNX backend node tests against bmc -------===//
//
// For every test folder (model.onnx + test_data_set_*/{input,output}_N.pb):
// compile with bmc::compileOnnx, run each data set, and compare with the
// ONNX backend's tolerances (|got - want| <= atol + rtol * |want| with
// rtol 1e-3, atol 1e-7, NaN equals NaN; integers and bools exactly; shape
// and dtype must match). Prints one line per test and a summary.
//
// A test is skipped only for a documented non-goal of bmc (see skipReason):
// an operator bmc does not import, an element type it does not have,
// sequence/optional/map values, training ops; or a narrow, listed rule for a
// semantic variant of a supported op that bmc rejects with a clear error.
//
// Two adaptations, both printed on the test's line:
// - inputs that bmc needs as compile-time constants (Reduce*/Squeeze/
//   Unsqueeze axes, Split sizes, Slice axes; see OnnxTestData.cpp) but that
//   the tests feed as graph inputs become initializers holding the data
//   set's values, as onnx-mlir's backend tests do;
// - known defects of ONNX 1.12's test data are worked around (kDataRules).
//
// Each test runs in a child process (a crash or a hang is that test's
// failure, not the suite's); --jobs runs several at once. Exit status: 0 if
// nothing failed, 1 if something did, 2 for a usage or setup error.
//
// A skip is not a failure, so an operator whose import is lost would only
// turn its tests into skips. --expect-pass FILE is the floor under that: the
// tests FILE names (one per line, '#' comments) must all PASS; one that is
// missing from the data, skipped or failed fails the run, by name. Tests
// that pass without being listed are counted so that the list can grow.
// --no-skips is the floor for suites written only for supported operators
// (make_extra_node_tests.py's): every selected test must pass.
//
// Usage: bmc_conformance [--data DIR] [--jobs N] [--timeout S] [--no-fork]
//                        [--verbose] [--expect-pass FILE] [--no-skips] [PATTERN...]
// PATTERNs are shell globs over test names (test_add*); none: all tests.
//
//===----------------------------------------------------------------------===//

#include "bmc/compiler.h"
#include "tests/conformance/OnnxTestData.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fnmatch.h>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace bmc;
using namespace bmc::conformance;

namespace {

constexpr double kRtol = 1e-3, kAtol = 1e-7; // onnx/backend/test/runner defaults

enum class Verdict { Pass, Fail, Skip };

struct Outcome {
  Verdict verdict = Verdict::Fail;
  std::string detail;  // why it failed or was skipped; stage times when verbose
  double seconds = 0;
};

//===----------------------------------------------------------------------===//
// Skip rules
//===----------------------------------------------------------------------===//

/// Semantic variants of supported ops that bmc rejects at import with a
/// clear error. Each rule names the tests it covers, the import error it
/// expects (so a rule cannot hide any other failure, and goes stale loudly
/// once the variant is implemented) and the reason printed.
struct VariantRule {
  const char *testGlob;
  const char *errorContains;
  const char *reason;
};
const std::vector<VariantRule> kVariantRules = {
    // bmc imports one form of If, Optimum's merged decoder (docs/OPS.md); a
    // data-dependent branch is outside what it compiles.
    {"test_if*", "bmc does not choose a branch of other conditionals",
     "If on a condition other than Optimum's use_cache_branch (docs/OPS.md)"},
};

/// Defects of ONNX 1.12's test data, each worked around as narrowly as
/// possible; the note is printed on the test's line.
struct DataRule {
  enum Kind {
    Bf16WithinUlp, ///< bfloat16 outputs may differ by one unit in the last place
    ShapeFromData, ///< the input's declared shape is replaced by its data's
  };
  const char *testGlob;
  Kind kind;
  const char *input;
  const char *note;
};
const std::vector<DataRule> kDataRules = {
    // Newer ONNX test data, onnxruntime and PyTorch round to nearest even too.
    {"test_cast*_FLOAT_to_BFLOAT16*", DataRule::Bf16WithinUlp, nullptr,
     "expected bfloat16 values are truncated (ONNX 1.12), bmc rounds to nearest even: compared within 1 ulp"},
    {"test_castlike_*BFLOAT16*", DataRule::ShapeFromData, "like",
     "input 'like' is declared [3,4] but stored as [1] (ONNX 1.12): its declared shape is taken from the data"},
};

std::vector<const DataRule *> dataRulesFor(const std::string &test) {
  std::vector<const DataRule *> r;
  for (const DataRule &d : kDataRules)
    if (fnmatch(d.testGlob, test.c_str(), 0) == 0) r.push_back(&d);
  return r;
}

/// Whether `error` is about the non-goal the model scan found.
bool aboutNonGoal(const ModelScan &scan, const std::string &error) {
  for (const std::string &w : scan.nonGoalEvidence)
    if (error.find(w) != std::string::npos) return true;
  return false;
}

/// The skip reason for a test whose compile failed with `error`, or "".
std::string skipReason(const std::string &test, const std::string &error, const ModelScan &scan) {
  // The importer's own words for an operator outside bmc's op set.
  const std::string unsupported = "unsupported operator '";
  if (size_t p = error.find(unsupported); p != std::string::npos) {
    size_t e = error.find('\'', p + unsupported.size());
    return "unsupported operator " + error.substr(p + unsupported.size() - 1, e - p - unsupported.size() + 2);
  }
  if (aboutNonGoal(scan, error)) return scan.nonGoal;
  for (const VariantRule &r : kVariantRules)
    if (fnmatch(r.testGlob, test.c_str(), 0) == 0 && error.find(r.errorContains) != std::string::npos)
      return r.reason;
  return "";
}

//===----------------------------------------------------------------------===//
// Comparison
//===----------------------------------------------------------------------===//

double halfToDouble(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) bits = sign;
    else { // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) { man <<= 1; --exp; }
      bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

double elementAsDouble(const Tensor &t, int64_t i) {
  switch (t.dtype()) {
  case DType::F32: return t.data<float>()[i];
  case DType::F64: return t.data<double>()[i];
  case DType::F16: return halfToDouble(t.data<uint16_t>()[i]);
  case DType::BF16: {
    uint32_t bits = uint32_t(t.data<uint16_t>()[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  default: return 0;
  }
}

std::string integerAt(const Tensor &t, int64_t i) {
  switch (t.dtype()) {
  case DType::U8: return std::to_string(t.data<uint8_t>()[i]);
  case DType::I8: return std::to_string(t.data<int8_t>()[i]);
  case DType::U16: return std::to_string(t.data<uint16_t>()[i]);
  case DType::I16: return std::to_string(t.data<int16_t>()[i]);
  case DType::I32: return std::to_string(t.data<int32_t>()[i]);
  case DType::I64: return std::to_string(t.data<int64_t>()[i]);
  case DType::U32: return std::to_string(t.data<uint32_t>()[i]);
  case DType::U64: return std::to_string(t.data<uint64_t>()[i]);
  case DType::Bool: return t.data<uint8_t>()[i] ? "true" : "false";
  default: return "?";
  }
}

bool isFloat(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16; }

std::string shapeStr(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

/// bfloat16 bits as integers ordered like the values they encode.
int32_t orderedBf16(uint16_t b) { return (b & 0x8000) ? -int32_t(b & 0x7fff) : int32_t(b); }

/// "" if `got` matches `want`, else what differs. `bf16Ulps`: bfloat16
/// elements this many units in the last place apart also match.
std::string compare(const Tensor &got, const Tensor &want, int bf16Ulps = 0) {
  if (got.dtype() != want.dtype())
    return std::string("expected dtype ") + dtypeName(want.dtype()) + ", found " + dtypeName(got.dtype());
  if (got.shape() != want.shape())
    return "expected shape " + shapeStr(want.shape()) + ", found " + shapeStr(got.shape());
  int64_t n = want.numElements(), bad = 0, first = -1;
  double worst = 0;
  if (isFloat(want.dtype())) {
    for (int64_t i = 0; i < n; ++i) {
      double g = elementAsDouble(got, i), w = elementAsDouble(want, i);
      bool ok;
      if (std::isnan(w) || std::isnan(g)) ok = std::isnan(w) && std::isnan(g);
      else if (std::isinf(w) || std::isinf(g)) ok = g == w;
      else ok = std::fabs(g - w) <= kAtol + kRtol * std::fabs(w);
      if (!ok && bf16Ulps && want.dtype() == DType::BF16)
        ok = std::abs(orderedBf16(got.data<uint16_t>()[i]) - orderedBf16(want.data<uint16_t>()[i])) <= bf16Ulps;
      if (!ok) {
        if (first < 0) first = i;
        ++bad;
        if (std::isfinite(g) && std::isfinite(w)) worst = std::max(worst, std::fabs(g - w));
      }
    }
    if (!bad) return "";
    return std::to_string(bad) + " of " + std::to_string(n) + " elements differ (max abs diff " + fmt(worst) +
           "); first at flat index " + std::to_string(first) + ": expected " + fmt(elementAsDouble(want, first)) +
           ", found " + fmt(elementAsDouble(got, first));
  }
  size_t esize = elementSize(want.dtype());
  const auto *g = static_cast<const uint8_t *>(got.raw()), *w = static_cast<const uint8_t *>(want.raw());
  for (int64_t i = 0; i < n; ++i) {
    bool same = want.dtype() == DType::Bool ? (g[i] != 0) == (w[i] != 0)
                                            : std::memcmp(g + i * esize, w + i * esize, esize) == 0;
    if (!same) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  if (!bad) return "";
  return std::to_string(bad) + " of " + std::to_string(n) + " elements differ; first at flat index " +
         std::to_string(first) + ": expected " + integerAt(want, first) + ", found " + integerAt(got, first);
}

//===----------------------------------------------------------------------===//
// One test
//===----------------------------------------------------------------------===//

bool exists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

std::vector<std::string> listDir(const std::string &dir, const char *prefix) {
  std::vector<std::string> r;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (std::strncmp(e->d_name, prefix, std::strlen(prefix)) == 0) r.push_back(e->d_name);
    closedir(d);
  }
  std::sort(r.begin(), r.end());
  return r;
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// ONNX 1.12's test data stores BFLOAT16 tensors as their UINT16 bit
/// patterns (numpy has no bfloat16): read them as what the model declares.
Tensor asDeclared(const Tensor &t, DType declared) {
  if (t.dtype() != DType::U16 || declared != DType::BF16) return t;
  Tensor r(DType::BF16, t.shape());
  if (t.bytes()) std::memcpy(r.raw(), t.raw(), t.bytes());
  return r;
}

bool readSet(const std::string &dir, const char *prefix, std::vector<Tensor> &out, std::string &error,
             bool &badType) {
  for (int i = 0;; ++i) {
    std::string p = dir + "/" + prefix + std::to_string(i) + ".pb";
    if (!exists(p)) return true;
    Tensor t;
    if (!readTensorFile(p, t, error, badType)) return false;
    out.push_back(t);
  }
}

Outcome runTest(const std::string &dir, const std::string &name, bool verbose) {
  auto t0 = std::chrono::steady_clock::now();
  Outcome o;
  auto fail = [&](std::string why) {
    o.verdict = Verdict::Fail;
    o.detail = std::move(why);
    o.seconds = since(t0);
    return o;
  };
  std::string model = dir + "/model.onnx";
  ModelScan scan = scanModel(model);
  if (!scan.ok) return fail(scan.error);
  std::vector<std::string> sets = listDir(dir, "test_data_set_");
  if (sets.empty()) return fail("expected test_data_set_* folders, found none");

  CompileOptions opts;
  opts.kvMode = KVMode::Concat; // the graph's own semantics
  opts.threads = 1;
  std::string stages, stage;
  auto stageStart = std::chrono::steady_clock::now();
  auto endStage = [&]() {
    if (!stage.empty()) stages += (stages.empty() ? "" : ", ") + stage + " " + fmt(std::round(since(stageStart) * 1000)) + " ms";
    stage.clear();
  };
  opts.progress = [&](const std::string &s) {
    endStage();
    stage = s;
    stageStart = std::chrono::steady_clock::now();
  };
  int bf16Ulps = 0;
  std::vector<std::string> shapeFromData, notes;
  for (const DataRule *r : dataRulesFor(name)) {
    if (r->kind == DataRule::Bf16WithinUlp) bf16Ulps = 1;
    else shapeFromData.push_back(r->input);
    notes.push_back(r->note);
  }
  // Inputs that bmc needs as constants are frozen into the model (and data
  // rules may edit it), which is then compiled once per data set.
  bool perSet = !scan.constantInputs.empty() || !shapeFromData.empty();
  std::shared_ptr<Model> compiled;
  auto compile = [&](const std::string &path, std::string &skip) -> std::string {
    auto m = compileOnnx(path, opts);
    endStage();
    if (m) {
      compiled = *m;
      return "";
    }
    std::string err = m.status().message();
    skip = skipReason(name, err, scan);
    return "compile: " + err;
  };
  auto skipped = [&](std::string why) {
    o.verdict = Verdict::Skip;
    o.detail = std::move(why);
    o.seconds = since(t0);
    return o;
  };
  if (!perSet) {
    std::string skip, err = compile(model, skip);
    if (!skip.empty()) return skipped(skip);
    if (!err.empty()) return fail(err);
  }
  double runMs = 0;
  for (const std::string &set : sets) {
    std::string sd = dir + "/" + set, err;
    std::vector<Tensor> inputs, wants;
    bool badType = false;
    if (!readSet(sd, "input_", inputs, err, badType) || !readSet(sd, "output_", wants, err, badType)) {
      // Data of a type the model scan already named a non-goal (STRING...).
      if (badType && aboutNonGoal(scan, err)) return skipped(scan.nonGoal);
      return fail(err);
    }
    if (perSet) {
      const char *tmp = std::getenv("TMPDIR");
      std::string frozen = std::string(tmp && *tmp ? tmp : "/tmp") + "/bmc_conformance_" +
                           std::to_string(getpid()) + "_" + name + ".onnx", skip;
      if (!writeEditedModel(model, scan, inputs, shapeFromData, frozen, err)) return fail(err);
      err = compile(frozen, skip);
      std::remove(frozen.c_str());
      if (!skip.empty()) return skipped(skip);
      if (!err.empty()) return fail(err);
      std::vector<Tensor> rest;
      for (size_t i = 0; i < inputs.size(); ++i)
        if (std::find(scan.constantInputs.begin(), scan.constantInputs.end(), int(i)) == scan.constantInputs.end())
          rest.push_back(inputs[i]);
      inputs = rest;
    }
    const ModelSignature &sig = compiled->signature();
    for (size_t i = 0; i < inputs.size() && i < sig.inputs.size(); ++i)
      inputs[i] = asDeclared(inputs[i], sig.inputs[i].dtype);
    auto runStart = std::chrono::steady_clock::now();
    auto got = compiled->run(inputs);
    runMs += since(runStart) * 1000;
    if (!got) return fail(set + ": run: " + got.status().message());
    if (got->size() != wants.size())
      return fail(set + ": expected " + std::to_string(wants.size()) + " outputs, found " +
                  std::to_string(got->size()));
    for (size_t i = 0; i < wants.size(); ++i) {
      std::string diff = compare((*got)[i], asDeclared(wants[i], (*got)[i].dtype()), bf16Ulps);
      if (!diff.empty()) return fail(set + ": output " + std::to_string(i) + " '" + sig.outputs[i].name + "': " + diff);
    }
  }
  o.verdict = Verdict::Pass;
  o.seconds = since(t0);
  if (!scan.constantInputs.empty()) {
    o.detail = "inputs compiled as constants:";
    for (const std::string &n : scan.constantInputNames) o.detail += " '" + n + "'";
  }
  for (const std::string &n : notes) o.detail += (o.detail.empty() ? "" : "; ") + n;
  if (verbose) o.detail += (o.detail.empty() ? "" : "; ") + stages + ", run " + fmt(std::round(runMs)) + " ms";
  return o;
}

//===----------------------------------------------------------------------===//
// Child processes
//===----------------------------------------------------------------------===//

/// The outcome travels through a pipe as "<verdict char><seconds>\n<detail>".
std::string encode(const Outcome &o) {
  char v = o.verdict == Verdict::Pass ? 'P' : o.verdict == Verdict::Skip ? 'S' : 'F';
  std::string d = o.detail.substr(0, 4000); // well under a pipe buffer: the child never blocks
  for (char &c : d)
    if (c == '\n') c = ' ';
  return std::string(1, v) + fmt(o.seconds) + "\n" + d;
}

Outcome decode(const std::string &s) {
  Outcome o;
  size_t nl = s.find('\n');
  if (s.empty() || nl == std::string::npos) {
    o.detail = "the test process exited without a result";
    return o;
  }
  o.verdict = s[0] == 'P' ? Verdict::Pass : s[0] == 'S' ? Verdict::Skip : Verdict::Fail;
  o.seconds = std::atof(s.substr(1, nl - 1).c_str());
  o.detail = s.substr(nl + 1);
  return o;
}

struct Running {
  pid_t pid;
  int fd;
  size_t index;
  std::chrono::steady_clock::time_point start;
};

std::string drain(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, size_t(n));
  close(fd);
  return s;
}

/// The test names listed in `path` (one per line; blank lines and '#'
/// comments ignored). False with `error` set if it cannot be read.
bool readNameList(const std::string &path, std::vector<std::string> &names, std::string &error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    if (size_t h = line.find('#'); h != std::string::npos) line.erase(h);
    size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
    if (b == std::string::npos) continue;
    line = line.substr(b, e - b + 1);
    if (line.rfind("test_", 0) != 0 || line.find_first_of(" \t") != std::string::npos) {
      error = path + ":" + std::to_string(no) + ": expected a test name (test_...), found '" + line + "'";
      return false;
    }
    names.push_back(line);
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  std::string data = "/usr/share/libonnx-testdata/data/node";
  int jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  int timeout = 120;
  bool fork_ = true, verbose = false;
  std::vector<std::string> patterns;
  std::string expectPassFile;
  bool noSkips = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bmc_conformance: %s expects a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data") data = value();
    else if (a == "--jobs" || a == "-j") jobs = std::max(1, std::atoi(value().c_str()));
    else if (a == "--timeout") timeout = std::max(1, std::atoi(value().c_str()));
    else if (a == "--no-fork") fork_ = false;
    else if (a == "--verbose" || a == "-v") verbose = true;
    else if (a == "--expect-pass") expectPassFile = value();
    else if (a == "--no-skips") noSkips = true;
    else if (a == "--help" || a == "-h") {
      std::printf("usage: bmc_conformance [--data DIR] [--jobs N] [--timeout S] [--no-fork] [--verbose] "
                  "[--expect-pass FILE] [--no-skips] [PATTERN...]\n");
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "bmc_conformance: unknown option '%s'\n", a.c_str());
      return 2;
    } else patterns.push_back(a);
  }

  auto selected = [&](const std::string &t) {
    bool match = patterns.empty();
    for (const std::string &p : patterns) match |= fnmatch(p.c_str(), t.c_str(), 0) == 0;
    return match;
  };
  std::vector<std::string> tests;
  for (const std::string &t : listDir(data, "test_")) {
    if (!exists(data + "/" + t + "/model.onnx")) continue;
    if (selected(t)) tests.push_back(t);
  }
  // The floor: listed tests that this run selects by its patterns.
  std::vector<std::string> expectPass;
  if (!expectPassFile.empty()) {
    std::vector<std::string> listed;
    std::string err;
    if (!readNameList(expectPassFile, listed, err)) {
      std::fprintf(stderr, "bmc_conformance: --expect-pass: %s\n", err.c_str());
      return 2;
    }
    if (listed.empty()) {
      std::fprintf(stderr, "bmc_conformance: --expect-pass: %s lists no tests\n", expectPassFile.c_str());
      return 2;
    }
    for (const std::string &t : listed)
      if (selected(t)) expectPass.push_back(t);
  }
  if (tests.empty()) {
    std::fprintf(stderr, "bmc_conformance: no tests found in %s%s\n", data.c_str(),
                 patterns.empty() ? "" : " matching the patterns");
    return 2;
  }

  auto t0 = std::chrono::steady_clock::now();
  std::vector<Outcome> results(tests.size());
  std::vector<bool> done(tests.size(), false);
  size_t printed = 0;
  int passed = 0, failed = 0, skipped = 0;
  std::map<std::string, int> skipCounts;
  auto printReady = [&]() {
    for (; printed < tests.size() && done[printed]; ++printed) {
      const Outcome &o = results[printed];
      const char *v = o.verdict == Verdict::Pass ? "PASS" : o.verdict == Verdict::Skip ? "SKIP" : "FAIL";
      std::printf("%s %s (%.2f s)%s%s\n", v, tests[printed].c_str(), o.seconds, o.detail.empty() ? "" : ": ",
                  o.detail.c_str());
      std::fflush(stdout);
      if (o.verdict == Verdict::Pass) ++passed;
      else if (o.verdict == Verdict::Skip) ++skipped, ++skipCounts[o.detail];
      else ++failed;
    }
  };

  if (!fork_) {
    for (size_t i = 0; i < tests.size(); ++i) {
      results[i] = runTest(data + "/" + tests[i], tests[i], verbose);
      done[i] = true;
      printReady();
    }
  } else {
    std::vector<Running> running;
    size_t next = 0;
    while (next < tests.size() || !running.empty()) {
      while (next < tests.size() && int(running.size()) < jobs) {
        int fds[2];
        if (pipe(fds) != 0) { std::perror("pipe"); return 2; }
        pid_t pid = fork();
        if (pid < 0) { std::perror("fork"); return 2; }
        if (pid == 0) {
          close(fds[0]);
          alarm(unsigned(timeout));
          std::string r = encode(runTest(data + "/" + tests[next], tests[next], verbose));
          ssize_t w = write(fds[1], r.data(), r.size());
          (void)w;
          _exit(0); // skip static destructors: the parent owns the output
        }
        close(fds[1]);
        running.push_back({pid, fds[0], next, std::chrono::steady_clock::now()});
        ++next;
      }
      int status = 0;
      pid_t pid = waitpid(-1, &status, 0);
      if (pid < 0) { std::perror("waitpid"); return 2; }
      auto it = std::find_if(running.begin(), running.end(), [&](const Running &r) { return r.pid == pid; });
      if (it == running.end()) continue;
      std::string msg = drain(it->fd);
      Outcome o = decode(msg);
      if (WIFSIGNALED(status)) {
        o.verdict = Verdict::Fail;
        o.seconds = since(it->start);
        o.detail = WTERMSIG(status) == SIGALRM ? "timed out after " + std::to_string(timeout) + " s"
                                               : std::string("crashed: ") + strsignal(WTERMSIG(status));
      }
      results[it->index] = o;
      done[it->index] = true;
      running.erase(it);
      printReady();
    }
  }

  std::printf("\nskip reasons:\n");
  std::vector<std::pair<int, std::string>> reasons;
  for (auto &[r, n] : skipCounts) reasons.push_back({n, r});
  std::sort(reasons.begin(), reasons.end(), [](auto &a, auto &b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (auto &[n, r] : reasons) std::printf("  %4d  %s\n", n, r.c_str());
  std::printf("\npassed %d, failed %d, skipped %d (%.1f s)\n", passed, failed, skipped, since(t0));

  int belowFloor = 0;
  if (!expectPassFile.empty()) {
    std::map<std::string, const Outcome *> byName;
    for (size_t i = 0; i < tests.size(); ++i) byName[tests[i]] = &results[i];
    std::set<std::string> listed(expectPass.begin(), expectPass.end());
    for (const std::string &t : expectPass) {
      auto it = byName.find(t);
      std::string why;
      if (it == byName.end()) why = "not found in " + data;
      else if (it->second->verdict == Verdict::Skip) why = "skipped: " + it->second->detail;
      else if (it->second->verdict == Verdict::Fail) why = "failed: " + it->second->detail;
      else continue;
      std::printf("BELOW FLOOR %s: listed in %s as passing, %s\n", t.c_str(), expectPassFile.c_str(), why.c_str());
      ++belowFloor;
    }
    int unlisted = 0;
    for (size_t i = 0; i < tests.size(); ++i) unlisted += results[i].verdict == Verdict::Pass && !listed.count(tests[i]);
    std::printf("floor (%s): %zu listed, %d of them not passing; %d passing tests not listed%s\n",
                expectPassFile.c_str(), expectPass.size(), belowFloor, unlisted,
                unlisted ? " (add them to raise the floor)" : "");
  }
  if (noSkips && skipped)
    std::printf("--no-skips: %d tests skipped (each should pass: these cases exist only for supported "
                "operators)\n", skipped);
  return failed || belowFloor || (noSkips && skipped) ? 1 : 0;
}
