//===- KeyValueFile.h - the calibration caches' `key value` files -*- C++ -*-===//
//
// The cost model's disk caches (runtime/CostModel.cpp for the CPU,
// runtime/device/DeviceCalibration.cpp for a device) are small text files of
// `key value` lines; this reads and writes them for both. Not thread-safe
// for one file: the callers hold a lock around a read or a write.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_KEYVALUEFILE_H
#define BMC_RUNTIME_KEYVALUEFILE_H

#include <cstdint>
#include <map>
#include <string>

namespace bmc {

class KeyValueFile {
public:
  /// The file at `path`; a missing or unreadable one has no fields.
  static KeyValueFile read(const std::string &path);
  /// `text` as a file's contents. A line is a key (no white space), one
  /// space, and its value, which runs to the line's end (so a CPU's name keeps
  /// its spaces). Blank lines are passed over. Parsing stops at the first line
  /// that is not `key value` or repeats a key: the fields after it are
  /// missing, so a damaged cache lacks fields and is measured again.
  static KeyValueFile parse(const std::string &text);

  /// The value of `key` into `out`; false (and `out` untouched) when the key
  /// is missing or, for the numbers, its value is not wholly one.
  bool text(const std::string &key, std::string &out) const;
  bool number(const std::string &key, double &out) const;
  bool integer(const std::string &key, int64_t &out) const;
  bool integer(const std::string &key, int &out) const;
  /// How many fields were read.
  size_t size() const { return fields_.size(); }

  /// Writes `text` to `path` through a temporary file renamed over it, so
  /// that a reader never sees half a file; makes the path's folder and its
  /// parent first. False (and nothing left behind) when it could not.
  static bool write(const std::string &path, const std::string &text);

private:
  std::map<std::string, std::string> fields_;
};

} // namespace bmc

#endif
