//===- CliUtil.h - tiny argument parsing for the bmc tools ------*- C++ -*-===//
#ifndef BMC_COMPILER_TOOLS_CLIUTIL_H
#define BMC_COMPILER_TOOLS_CLIUTIL_H

#include "bmc/compiler.h"
#include "bmc/model.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace bmc::cli {

#ifdef BMC_CLI_DIE_THROWS
/// Fuzz builds only (tests/fuzz/fuzz_cli_args.cpp): die() throws this instead
/// of ending the process, so that the fuzzer goes on to the next input.
struct Exit {
  int code;
  std::string message;
};
#endif

[[noreturn]] inline void die(const std::string &msg) {
#ifdef BMC_CLI_DIE_THROWS
  throw Exit{1, msg};
#endif
  std::fprintf(stderr, "%s\n", msg.c_str());
  std::exit(1);
}

inline bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The KV mode named by --kv (already checked to be bmc, prealloc or concat).
inline KVMode kvModeOf(const std::string &name) {
  return name == "concat" ? KVMode::Concat : name == "prealloc" ? KVMode::Prealloc : KVMode::BMC;
}

/// `path` compiled just in time with `co` (an .onnx file) or loaded with
/// co.threads (a package); exits with the one-line error otherwise.
inline std::shared_ptr<Model> openModel(const std::string &path, const CompileOptions &co) {
  Result<std::shared_ptr<Model>> res = [&] {
    if (endsWith(path, ".onnx")) return compileOnnx(path, co);
    LoadOptions lo;
    lo.threads = co.threads;
    return Model::load(path, lo);
  }();
  if (!res) die(res.status().message());
  return res.value();
}

/// Options are `--name value` or `--name=value`; anything unknown is an error.
class Args {
public:
  Args(int argc, char **argv, const char *usage) : usage_(usage) {
    tool_ = argv[0];
    size_t s = tool_.find_last_of('/');
    if (s != std::string::npos) tool_ = tool_.substr(s + 1);
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        std::fputs(usage, stdout);
        std::exit(0);
      }
      args_.push_back(a);
    }
    used_.assign(args_.size(), false);
  }

  std::string positional(const char *what) {
    for (size_t i = 0; i < args_.size(); ++i) {
      if (used_[i]) continue;
      if (args_[i].rfind("-", 0) == 0) {
        // Skip an option and its value.
        if (args_[i].find('=') == std::string::npos && !isFlag(args_[i])) ++i;
        continue;
      }
      used_[i] = true;
      return args_[i];
    }
    die(tool_ + ": missing " + what + " (see --help)");
  }
  void declareFlag(const std::string &name) { flags_.push_back(name); }
  bool flag(const std::string &name) {
    for (size_t i = 0; i < args_.size(); ++i)
      if (!used_[i] && args_[i] == name) { used_[i] = true; return true; }
    return false;
  }
  std::optional<std::string> value(const std::string &name) {
    for (size_t i = 0; i < args_.size(); ++i) {
      if (used_[i]) continue;
      if (args_[i] == name) {
        if (i + 1 >= args_.size()) die(tool_ + ": " + name + " needs a value");
        used_[i] = used_[i + 1] = true;
        return args_[i + 1];
      }
      if (args_[i].rfind(name + "=", 0) == 0) {
        used_[i] = true;
        return args_[i].substr(name.size() + 1);
      }
    }
    return std::nullopt;
  }
  std::string str(const std::string &name, const std::string &dflt) { return value(name).value_or(dflt); }
  int64_t integer(const std::string &name, int64_t dflt) {
    auto v = value(name);
    if (!v) return dflt;
    char *end = nullptr;
    long long x = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end) die(tool_ + ": " + name + ": expected an integer, found '" + *v + "'");
    return x;
  }
  double real(const std::string &name, double dflt) {
    auto v = value(name);
    if (!v) return dflt;
    char *end = nullptr;
    double x = std::strtod(v->c_str(), &end);
    if (v->empty() || *end) die(tool_ + ": " + name + ": expected a number, found '" + *v + "'");
    return x;
  }
  std::vector<int64_t> ints(const std::string &name, std::vector<int64_t> dflt) {
    auto v = value(name);
    if (!v) return dflt;
    std::vector<int64_t> r;
    size_t p = 0;
    while (p <= v->size()) {
      size_t q = v->find(',', p);
      std::string item = v->substr(p, q == std::string::npos ? std::string::npos : q - p);
      char *end = nullptr;
      long long x = std::strtoll(item.c_str(), &end, 10);
      if (item.empty() || *end) die(tool_ + ": " + name + ": expected comma-separated integers, found '" + *v + "'");
      r.push_back(x);
      if (q == std::string::npos) break;
      p = q + 1;
    }
    return r;
  }
  /// Fails on anything not consumed.
  void finish() {
    for (size_t i = 0; i < args_.size(); ++i)
      if (!used_[i]) die(tool_ + ": unknown argument '" + args_[i] + "' (see --help)");
  }

private:
  bool isFlag(const std::string &a) const {
    return a == "--json" || a == "--quiet" || a == "--reference-kernels" || a == "--verbose" || a == "--remarks";
  }
  const char *usage_;
  std::string tool_;
  std::vector<std::string> args_;
  std::vector<bool> used_;
  std::vector<std::string> flags_;
};

} // namespace bmc::cli

#endif
