//===- serve/StopText.h - stop strings over streamed text -------*- C++ -*-===//
//
// OpenAI's `stop`: generation ends before the first occurrence of any stop
// string, and the stop string itself is not returned. Streamed text must not
// show a stop string's beginning that later turns out to be one, so push()
// holds back the longest tail of the text that could still start a stop
// string and releases it once it cannot.
//
// Thread safety: one stream per object, one thread at a time.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_SERVE_STOPTEXT_H
#define BMC_SERVE_STOPTEXT_H

#include <string>
#include <vector>

namespace bmc::serve {

class StopText {
public:
  explicit StopText(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  /// Appends `piece`; returns the text that is now safe to show. After a
  /// match, stopped() is true and later pushes return nothing.
  std::string push(const std::string &piece) {
    if (stopped_) return {};
    held_ += piece;
    size_t first = std::string::npos;
    for (const std::string &s : stops_) {
      if (s.empty()) continue;
      size_t at = held_.find(s);
      if (at < first) first = at;
    }
    if (first != std::string::npos) {
      stopped_ = true;
      std::string out = held_.substr(0, first);
      held_.clear();
      return out;
    }
    size_t keep = 0; // longest suffix of held_ that is a proper prefix of a stop string
    for (const std::string &s : stops_)
      for (size_t k = std::min(s.size() - (s.empty() ? 0 : 1), held_.size()); k > keep; --k)
        if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
          keep = k;
          break;
        }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
  }
  /// The held-back tail at the end of generation (no stop string followed).
  std::string finish() {
    std::string out = stopped_ ? std::string() : held_;
    held_.clear();
    return out;
  }
  bool stopped() const { return stopped_; }

private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

} // namespace bmc::serve

#endif
