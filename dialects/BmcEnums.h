//===- BmcEnums.h - the bmc dialect's mode enums and their option parsers -*- C++ -*-===//
//
// KVPadding, KVMode and KVType (dialects/BmcEnums.td) and llvm::cl parsers
// for them, so that pass and pipeline options (`padding=mask`,
// `kv-mode=prealloc`) parse into the enum and a bad value is one line naming
// the option, the accepted values and what was found.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_DIALECTS_BMCENUMS_H
#define BMC_DIALECTS_BMCENUMS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/Support/CommandLine.h"

#include <string>

#include "dialects/BmcEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/BmcAttrs.h.inc"

namespace mlir::bmc {

/// "a, b or c": the spellings of an enum generated from BmcEnums.td (its
/// cases are numbered from 0 without gaps).
template <typename E>
std::string enumSpellings() {
  std::string out;
  llvm::SmallVector<llvm::StringRef> names;
  for (uint32_t i = 0;; ++i) {
    llvm::StringRef s = stringifyEnum(static_cast<E>(i));
    if (s.empty()) break;
    names.push_back(s);
  }
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i].str();
  return out;
}

/// Parses an option value with the enum's symbolize function.
template <typename E>
class EnumOptionParser : public llvm::cl::basic_parser<E> {
public:
  using llvm::cl::basic_parser<E>::basic_parser;

  bool parse(llvm::cl::Option &o, llvm::StringRef, llvm::StringRef arg, E &value) {
    if (std::optional<E> e = symbolizeEnum<E>(arg)) {
      value = *e;
      return false;
    }
    return o.error("expected " + enumSpellings<E>() + ", found '" + arg + "'");
  }
  llvm::StringRef getValueName() const override { return "value"; }
  void printOptionDiff(const llvm::cl::Option &o, E value, const llvm::cl::OptionValue<E> &def,
                       size_t globalWidth) const {
    this->printOptionName(o, globalWidth);
    llvm::outs() << "= " << stringifyEnum(value);
    if (def.hasValue()) llvm::outs() << " (default: " << stringifyEnum(def.getValue()) << ")";
    llvm::outs() << "\n";
  }
  /// How MLIR prints a pass option's value (pipeline strings, --dump-pass-pipeline).
  static void print(llvm::raw_ostream &os, E value) { os << stringifyEnum(value); }
};

} // namespace mlir::bmc

namespace llvm::cl {
template <>
class parser<mlir::bmc::KVPadding> : public mlir::bmc::EnumOptionParser<mlir::bmc::KVPadding> {
public:
  using EnumOptionParser::EnumOptionParser;
};
template <>
class parser<mlir::bmc::KVMode> : public mlir::bmc::EnumOptionParser<mlir::bmc::KVMode> {
public:
  using EnumOptionParser::EnumOptionParser;
};
template <>
class parser<mlir::bmc::KVType> : public mlir::bmc::EnumOptionParser<mlir::bmc::KVType> {
public:
  using EnumOptionParser::EnumOptionParser;
};
} // namespace llvm::cl

#endif
