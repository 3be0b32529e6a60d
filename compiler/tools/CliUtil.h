//===- CliUtil.h - tiny argument parsing for the bmc tools ------*- C++ -*-===//
#ifndef BMC_COMPILER_TOOLS_CLIUTIL_H
#define BMC_COMPILER_TOOLS_CLIUTIL_H

#include "bmc/compiler.h"
#include "bmc/model.h"
#include "bmc/model_folder.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <new>
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

/// `path` compiled just in time with `co` (an .onnx file or a model folder)
/// or loaded with co.threads (a package); exits with the one-line error otherwise,
/// which names the file: "<path>: <why>" (the path put in front where the
/// loader's message lacks it), or with `role` (a model other than the tool's
/// main one, e.g. "bmc-run: draft model") "<role> '<path>': <why>", so that the
/// error says which of the two files failed.
inline std::shared_ptr<Model> openModel(const std::string &path, const CompileOptions &co,
                                        const std::string &role = "") {
  Result<std::shared_ptr<Model>> res = [&] {
    if (endsWith(path, ".onnx") || ModelFolder::isFolder(path)) return compileOnnx(path, co);
    LoadOptions lo;
    lo.threads = co.threads;
    lo.device = co.target;
    return Model::load(path, lo);
  }();
  if (res) return res.value();
  std::string why = res.status().message();
  const std::string own = path + ": ";
  if (!role.empty()) {
    if (why.compare(0, own.size(), own) == 0) why.erase(0, own.size()); // the role names the path
    die(role + " '" + path + "': " + why);
  }
  die(why.find(path) == std::string::npos ? own + why : why);
}

/// A base-10 int64: no leading blanks, no trailing garbage, no overflow
/// (strtoll saturates silently; errno tells).
inline bool parseInteger(const std::string &s, int64_t &out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char *end = nullptr;
  long long x = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || *end) return false;
  out = x;
  return true;
}

/// Comma-separated base-10 int64s, each in [lo, hi]; false on anything else.
inline bool parseIntegers(const std::string &s, int64_t lo, int64_t hi, std::vector<int64_t> &out) {
  out.clear();
  size_t p = 0;
  while (p <= s.size()) {
    size_t q = s.find(',', p);
    int64_t x;
    if (!parseInteger(s.substr(p, q == std::string::npos ? std::string::npos : q - p), x) || x < lo || x > hi)
      return false;
    out.push_back(x);
    if (q == std::string::npos) break;
    p = q + 1;
  }
  return true;
}

/// A finite double: nan, inf and overflow (which strtod turns into inf) are
/// refused, since no option of the tools means anything with them.
inline bool parseReal(const std::string &s, double &out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char *end = nullptr;
  double x = std::strtod(s.c_str(), &end);
  if (*end || !std::isfinite(x) || (errno == ERANGE && std::fabs(x) > 1.0)) return false;
  out = x;
  return true;
}

/// " in [lo, hi]", " >= lo" when hi is unbounded, "" when neither is bounded.
inline std::string range(int64_t lo, int64_t hi) {
  if (hi == std::numeric_limits<int64_t>::max())
    return lo == std::numeric_limits<int64_t>::min() ? "" : " >= " + std::to_string(lo);
  return " in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}
inline std::string range(double lo, double hi) {
  auto num = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return std::string(b);
  };
  if (std::isinf(hi)) return " >= " + num(lo);
  return " in [" + num(lo) + ", " + num(hi) + "]";
}

/// A user's value for a one-line message: bare if it looks like a number or
/// a word, else quoted with control characters escaped.
inline std::string shown(const std::string &v) {
  bool plain = !v.empty();
  for (unsigned char c : v) plain = plain && (std::isalnum(c) || c == '-' || c == '+' || c == '.');
  if (plain) return v;
  std::string o = "'";
  for (unsigned char c : v) {
    if (c >= 0x20 && c != 0x7f) {
      o += char(c);
      continue;
    }
    char b[8];
    std::snprintf(b, sizeof b, "\\x%02x", c);
    o += b;
  }
  return o + "'";
}

inline std::string toolName(const char *argv0) {
  std::string t = argv0 ? argv0 : "bmc";
  size_t s = t.find_last_of('/');
  return s == std::string::npos ? t : t.substr(s + 1);
}

/// Runs a tool's body so that an exception escaping it (std::bad_alloc,
/// std::system_error from thread creation, ...) ends the tool with one line
/// and exit code 1, not an abort.
inline int guardedMain(int argc, char **argv, int (*body)(int, char **)) {
  try {
    return body(argc, argv);
  } catch (const std::bad_alloc &) {
    die(toolName(argv[0]) + ": out of memory");
  } catch (const std::exception &e) {
    die(toolName(argv[0]) + ": " + e.what());
  }
}

/// Options are `--name value` or `--name=value`; anything unknown is an error.
class Args {
public:
  Args(int argc, char **argv, const char *usage) : usage_(usage) {
    tool_ = toolName(argv[0]);
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
  /// An integer option in [lo, hi]; garbage, overflow and values outside the
  /// range end the tool with one line naming the flag, the range and the value.
  int64_t integer(const std::string &name, int64_t dflt, int64_t lo, int64_t hi) {
    return integerOpt(name, lo, hi).value_or(dflt);
  }
  /// The same, nullopt when the option is absent.
  std::optional<int64_t> integerOpt(const std::string &name, int64_t lo, int64_t hi) {
    auto v = value(name);
    if (!v) return std::nullopt;
    int64_t x;
    if (!parseInteger(*v, x) || x < lo || x > hi)
      fail(name + ": expected an integer" + range(lo, hi) + ", found " + shown(*v));
    return x;
  }
  /// A finite real option in [lo, hi] (hi may be infinity: no upper bound);
  /// nan and inf are refused.
  double real(const std::string &name, double dflt, double lo, double hi) {
    return realOpt(name, lo, hi).value_or(dflt);
  }
  /// The same, nullopt when the option is absent.
  std::optional<double> realOpt(const std::string &name, double lo, double hi) {
    auto v = value(name);
    if (!v) return std::nullopt;
    double x;
    if (!parseReal(*v, x) || x < lo || x > hi)
      fail(name + ": expected a finite number" + range(lo, hi) + ", found " + shown(*v));
    return x;
  }
  /// Comma-separated integers, each in [lo, hi].
  std::vector<int64_t> ints(const std::string &name, std::vector<int64_t> dflt, int64_t lo, int64_t hi) {
    auto v = value(name);
    if (!v) return dflt;
    std::vector<int64_t> r;
    if (!parseIntegers(*v, lo, hi, r))
      fail(name + ": expected comma-separated integers" + range(lo, hi) + ", found " + shown(*v));
    return r;
  }
  /// Ends the tool with "<tool>: <msg>".
  [[noreturn]] void fail(const std::string &msg) const { die(tool_ + ": " + msg); }
  const std::string &tool() const { return tool_; }
  /// Fails on anything not consumed.
  void finish() {
    for (size_t i = 0; i < args_.size(); ++i)
      if (!used_[i]) die(tool_ + ": unknown argument " + shown(args_[i]) + " (see --help)");
  }

private:
  bool isFlag(const std::string &a) const {
    return a == "--json" || a == "--quiet" || a == "--reference-kernels" || a == "--verbose" || a == "--remarks" ||
           a == "--ignore-eos";
  }
  const char *usage_;
  std::string tool_;
  std::vector<std::string> args_;
  std::vector<bool> used_;
  std::vector<std::string> flags_;
};

} // namespace bmc::cli

#endif
