//===- bmc/status.h - errors as values ---------------------------*- C++ -*-===//
//
// Every public call that can fail returns a Status or a Result<T>; messages
// are one line and say what was expected and what was found.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_STATUS_H
#define BMC_STATUS_H

#include <optional>
#include <string>
#include <utility>

namespace bmc {

class Status {
public:
  Status() = default;
  static Status error(std::string message) { return Status(std::move(message)); }
  bool ok() const { return !message_.has_value(); }
  explicit operator bool() const { return ok(); }
  const std::string &message() const {
    static const std::string none;
    return message_ ? *message_ : none;
  }

private:
  explicit Status(std::string m) : message_(std::move(m)) {}
  std::optional<std::string> message_;
};

template <typename T> class Result {
public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) {}
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status &status() const { return status_; }
  T &value() { return *value_; }
  const T &value() const { return *value_; }
  T *operator->() { return &*value_; }
  T &operator*() { return *value_; }

private:
  std::optional<T> value_;
  Status status_;
};

} // namespace bmc

#endif
