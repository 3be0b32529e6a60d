//===- e2e_util.h - shared helpers of the end-to-end tests ------*- C++ -*-===//
//
// Paths of the test data and tools, a small JSON reader, a process runner,
// the onnxruntime oracle (tests/peers/ort_decode.mjs), a cache of compiled
// models (compiling is the slow part: one per test process and options), a
// decode loop that records logits at every step and error assertions.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_TESTS_E2E_E2E_UTIL_H
#define BMC_TESTS_E2E_E2E_UTIL_H

#include "bmc/compiler.h"
#include "bmc/session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bmc::e2e {

//===----------------------------------------------------------------------===//
// Paths (baked in by CMake; each can be overridden by the environment
// variable of the same name, e.g. BMC_E2E_NODE=/opt/node/bin/node).
//===----------------------------------------------------------------------===//

std::string dataDir();        // tests/e2e/data: the committed HF exports and golden.json
std::string modelsDir();      // generated models, written at build time
std::string workDir();        // scratch space of the tests (build folder)
std::string nodePath();       // node, "" if CMake found none
std::string ortDecodeScript(); // tests/peers/ort_decode.mjs
std::string bmcRunPath();
std::string bmcCompilePath();
/// The generated models compared against onnxruntime, e.g. {"gpt2_op17", ...}.
std::vector<std::string> generatedModels();
std::string generatedModelPath(const std::string &name);

//===----------------------------------------------------------------------===//
// Files and processes
//===----------------------------------------------------------------------===//

bool fileExists(const std::string &path);
std::string readFile(const std::string &path);
void writeFile(const std::string &path, const std::string &bytes);
/// mkdir -p; returns the path.
std::string makeDirs(const std::string &path);
/// A fresh (emptied) directory for one test: workDir()/name.
std::string freshDir(const std::string &name);
/// Names of the entries of a directory.
std::vector<std::string> listDir(const std::string &path);

struct ProcessResult {
  int exitCode = -1;  ///< -1 if it did not exit normally
  int signal = 0;     ///< the signal that ended it, 0 if none
  std::string out, err;
  std::string describe() const; ///< for failure messages
};
/// Runs argv[0] (a path) with arguments, without a shell, capturing stdout
/// and stderr.
ProcessResult runProcess(const std::vector<std::string> &argv);

//===----------------------------------------------------------------------===//
// JSON (enough for golden.json and ort_decode's output)
//===----------------------------------------------------------------------===//

struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::map<std::string, Json> obj;

  static bool parse(const std::string &text, Json &out, std::string &error);
  bool has(const std::string &key) const { return kind == Object && obj.count(key); }
  const Json &operator[](const std::string &key) const;
  std::vector<int64_t> ints() const;
};

//===----------------------------------------------------------------------===//
// The onnxruntime oracle
//===----------------------------------------------------------------------===//

struct OrtReference {
  std::vector<int64_t> tokens;                 ///< greedy tokens, tokens[s] picked from step s
  std::map<int, std::vector<float>> logits;    ///< step -> logits of the last position (row 0)
};
/// Runs ort_decode.mjs greedily (batch 1) and reads back the dumped logits.
/// Results are cached per model and prompt within the process. `opt`:
/// onnxruntime's graph optimisation level (all, extended, basic, disabled).
Result<OrtReference> ortReference(const std::string &modelPath, const std::vector<int64_t> &prompt, int steps,
                                  const std::vector<int> &dumpSteps, const std::string &opt = "all");
/// One run of any graph on onnxruntime (tests/peers/ort_run.mjs, beside
/// ort_decode.mjs): `inputs` as NAME=TYPE:DIMS:VALUES (f32 or i64). Returns
/// its JSON: {"outputs": {...}} or {"error": "onnxruntime's first line"}.
Result<Json> ortRun(const std::string &modelPath, const std::vector<std::string> &inputs);

//===----------------------------------------------------------------------===//
// Compiling and decoding
//===----------------------------------------------------------------------===//

std::string describe(const CompileOptions &o);
/// compileOnnx, cached per (path, kv mode, r, padding) within the process.
Result<std::shared_ptr<Model>> compiled(const std::string &onnxPath, const CompileOptions &opts = {});
/// compilePackage into workDir, then Model::load (not cached: a test keeps
/// one package loaded at a time unless it means to test several).
Result<std::shared_ptr<Model>> packaged(const std::string &onnxPath, const CompileOptions &opts = {});

struct Trace {
  std::vector<std::vector<int64_t>> argmax; ///< [row][step]: the greedy choice at each step
  std::vector<Tensor> logits;                ///< [step]: [batch, vocab] logits of the last position
  KVStats stats;
  int64_t r = 0;
  std::string kvMode;
};
/// Prefills `prompts` and decodes `steps` - 1 more tokens; each step feeds
/// the greedy choice, or with `forced` the given tokens ([row][step]),
/// so that logits stay comparable with a reference after a near-tie.
Result<Trace> decode(const std::shared_ptr<Model> &model, const SessionOptions &so,
                     const std::vector<std::vector<int64_t>> &prompts, int steps,
                     const std::vector<std::vector<int64_t>> *forced = nullptr);

/// max |a - b| / max(max |b|, 1e-6) over n elements (b is the reference).
struct LogitDiff {
  double maxAbs = 0, maxRef = 0, rel = 0;
  int64_t worst = -1; ///< index of the largest difference
  std::string describe() const;
};
LogitDiff compareLogits(const float *a, const float *b, int64_t n);

std::string join(const std::vector<int64_t> &v, const char *sep = ",");

/// How far a trace's logits drift from a reference trace's (the same forced
/// token stream), over their common steps, row 0: mean KL(p_ref || p_t) in
/// nats, how many steps agree on the top-1 token, and the largest |logit
/// difference|.
struct Drift {
  double meanKL = 0, maxAbsDiff = 0;
  int top1Agree = 0, steps = 0;
};
Drift driftFrom(const Trace &ref, const Trace &t);

/// Row `row` of the trace's logits within `tol` (relative, compareLogits) of
/// the reference's at each of `steps`: one EXPECT per step. Returns the
/// largest relative difference.
double expectLogitsNear(const Trace &t, const std::map<int, std::vector<float>> &ref, const std::vector<int> &steps,
                        double tol, int64_t row = 0);

//===----------------------------------------------------------------------===//
// Assertions
//===----------------------------------------------------------------------===//

/// An error whose message is one line and contains `part`.
inline ::testing::AssertionResult isError(const Status &s, const std::string &part) {
  if (s.ok()) return ::testing::AssertionFailure() << "succeeded; expected an error containing '" << part << "'";
  const std::string &m = s.message();
  if (m.empty()) return ::testing::AssertionFailure() << "error with an empty message";
  if (m.find('\n') != std::string::npos) return ::testing::AssertionFailure() << "message of several lines:\n" << m;
  if (m.find(part) == std::string::npos)
    return ::testing::AssertionFailure() << "message '" << m << "' does not contain '" << part << "'";
  return ::testing::AssertionSuccess() << m;
}
template <typename T> ::testing::AssertionResult isError(const Result<T> &r, const std::string &part) {
  if (r.ok()) return ::testing::AssertionFailure() << "succeeded; expected an error containing '" << part << "'";
  return isError(r.status(), part);
}

//===----------------------------------------------------------------------===//
// The command-line tools as child processes
//===----------------------------------------------------------------------===//

/// Exit code 1, nothing on stdout, exactly one line on stderr containing `part`.
inline ::testing::AssertionResult failsCleanly(const ProcessResult &r, const std::string &part) {
  if (r.signal) return ::testing::AssertionFailure() << "crashed: " << r.describe();
  if (r.exitCode != 1) return ::testing::AssertionFailure() << "expected exit code 1: " << r.describe();
  if (!r.out.empty()) return ::testing::AssertionFailure() << "printed on stdout: " << r.describe();
  if (r.err.empty() || r.err.back() != '\n' || r.err.find('\n') != r.err.size() - 1)
    return ::testing::AssertionFailure() << "expected one line on stderr: " << r.describe();
  if (r.err.find(part) == std::string::npos)
    return ::testing::AssertionFailure() << "stderr lacks '" << part << "': " << r.describe();
  return ::testing::AssertionSuccess() << r.err;
}

inline std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline ProcessResult bmcRun(std::vector<std::string> args) {
  args.insert(args.begin(), bmcRunPath());
  return runProcess(args);
}
inline ProcessResult bmcCompile(std::vector<std::string> args) {
  args.insert(args.begin(), bmcCompilePath());
  return runProcess(args);
}

} // namespace bmc::e2e

#endif
