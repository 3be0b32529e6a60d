//===- CompileOptions.cpp - the compile options' names, printed and parsed -===//
//
// The names bmc-compile's flags, package metadata and messages use for the
// weight and activation formats, KV types, paddings and modes
// (bmc/compiler.h); split from Compiler.cpp, the driver, unchanged. Each
// parser accepts exactly the names its printer writes (parseByName,
// bmc/abi/names.h).
//
//===----------------------------------------------------------------------===//

#include "bmc/compiler.h"
#include "bmc/abi/names.h"

#include <string>

namespace bmc {

const char *weightFormatName(WeightFormat f) {
  switch (f) {
  case WeightFormat::F32: return "f32";
  case WeightFormat::Int8: return "int8";
  case WeightFormat::Int4: return "int4";
  case WeightFormat::BF16: return "bf16";
  case WeightFormat::F16: return "f16";
  }
  return "?";
}

bool parseWeightFormat(const std::string &name, WeightFormat &out) {
  return parseByName<WeightFormat>(
      name, {WeightFormat::F32, WeightFormat::Int8, WeightFormat::Int4, WeightFormat::BF16, WeightFormat::F16},
      weightFormatName, out);
}

const char *activationFormatName(ActivationFormat f) {
  switch (f) {
  case ActivationFormat::F32: return "f32";
  case ActivationFormat::Int8: return "int8";
  }
  return "?";
}

const char *kvTypeName(KVType t) {
  switch (t) {
  case KVType::F32: return "f32";
  case KVType::BF16: return "bf16";
  case KVType::F16: return "f16";
  case KVType::Auto: return "auto";
  }
  return "?";
}

bool parseActivationFormat(const std::string &name, ActivationFormat &out) {
  return parseByName<ActivationFormat>(name, {ActivationFormat::F32, ActivationFormat::Int8}, activationFormatName, out);
}

bool parseKVType(const std::string &name, KVType &out) {
  return parseByName<KVType>(name, {KVType::F32, KVType::BF16, KVType::F16, KVType::Auto}, kvTypeName, out);
}

const char *kvPaddingName(KVPadding p) {
  switch (p) {
  case KVPadding::Skip: return "skip";
  case KVPadding::Mask: return "mask";
  }
  return "?";
}

bool parseKVPadding(const std::string &name, KVPadding &out) {
  return parseByName<KVPadding>(name, {KVPadding::Skip, KVPadding::Mask}, kvPaddingName, out);
}

const char *kvModeName(KVMode m) {
  switch (m) {
  case KVMode::Concat: return "concat";
  case KVMode::Prealloc: return "prealloc";
  case KVMode::BMC: return "bmc";
  }
  return "?";
}

} // namespace bmc
