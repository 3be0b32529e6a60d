//===- Utf8.cpp - UTF-8 validation and lossy decoding ----------------------===//
#include "runtime/tokenizer/Utf8.h"

namespace bmc::utf8 {

Scan scanAt(std::string_view s, size_t i, size_t &len) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) { len = 1; return Scan::Valid; }
  size_t need;                       // continuation bytes after the lead
  unsigned char lo = 0x80, hi = 0xBF; // range of the first continuation byte
  if (c >= 0xC2 && c <= 0xDF) need = 1;
  else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;        // overlong
    if (c == 0xED) hi = 0x9F;        // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;        // overlong
    if (c == 0xF4) hi = 0x8F;        // above U+10FFFF
  } else { len = 1; return Scan::Invalid; }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) { len = k; return Scan::Incomplete; }
    unsigned char x = b(i + k);
    bool ok = k == 1 ? (x >= lo && x <= hi) : (x >= 0x80 && x <= 0xBF);
    // The offending byte is not part of the invalid subsequence: it starts the next one.
    if (!ok) { len = k; return Scan::Invalid; }
  }
  len = need + 1;
  return Scan::Valid;
}

size_t firstInvalid(std::string_view s) {
  size_t i = 0, len = 0;
  while (i < s.size()) {
    if (scanAt(s, i, len) != Scan::Valid) return i;
    i += len;
  }
  return std::string_view::npos;
}

size_t appendLossy(std::string_view s, bool final, std::string &out) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  size_t i = 0, len = 0;
  while (i < s.size()) {
    Scan r = scanAt(s, i, len);
    if (r == Scan::Valid) {
      out.append(s.substr(i, len));
    } else if (r == Scan::Invalid || final) {
      out.append(kReplacement);
    } else {
      return i; // incomplete: wait for more bytes
    }
    i += len;
  }
  return i;
}

} // namespace bmc::utf8
