//===- Utf8.h - UTF-8 validation and lossy decoding --------------*- C++ -*-===//
//
// Token bytes are arbitrary: a byte-level BPE token may hold half a character.
// Decoding replaces invalid bytes by U+FFFD with the WHATWG rule (one
// replacement per maximal invalid subsequence), which is what TextDecoder and
// Rust's String::from_utf8_lossy do, so bmc's text equals the references'.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_TOKENIZER_UTF8_H
#define BMC_RUNTIME_TOKENIZER_UTF8_H

#include <cstddef>
#include <string>
#include <string_view>

namespace bmc::utf8 {

enum class Scan { Valid, Invalid, Incomplete };
// Classifies the bytes at s[i]: a Valid character of `len` bytes; an Invalid
// maximal subsequence of `len` bytes (one U+FFFD); or an Incomplete but so far
// valid prefix of `len` bytes that runs to the end of `s`.
Scan scanAt(std::string_view s, size_t i, size_t &len);

// Byte offset of the first invalid byte, or npos when `s` is valid UTF-8.
size_t firstInvalid(std::string_view s);

// Appends the lossy decoding of s[0, n) to `out` where n is the longest
// prefix that cannot change with more input: an incomplete character at the
// end is left out unless `final`. Returns n.
size_t appendLossy(std::string_view s, bool final, std::string &out);

} // namespace bmc::utf8

#endif
