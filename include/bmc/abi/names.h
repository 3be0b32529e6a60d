//===- names.h - an enum's value parsed from the name it prints as -*- C++ -*-===//
//
// The one loop behind the option parsers: parseWeightFormat,
// parseActivationFormat, parseKVType, parseKVPadding (compiler/
// CompileOptions.cpp) and parseTarget (runtime/CudaPackage.cpp). A name is
// accepted exactly when some value prints as it, so the parser and the
// printer cannot disagree. Header-only, no MLIR: both sides include it.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_ABI_NAMES_H
#define BMC_ABI_NAMES_H

#include <initializer_list>
#include <string>

namespace bmc {

/// Sets `out` to the value of `all` that `nameOf` prints as `name` and
/// returns true; false (and `out` unchanged) when none does.
template <typename E>
bool parseByName(const std::string &name, std::initializer_list<E> all, const char *(*nameOf)(E), E &out) {
  for (E e : all)
    if (name == nameOf(e)) {
      out = e;
      return true;
    }
  return false;
}

} // namespace bmc

#endif // BMC_ABI_NAMES_H
