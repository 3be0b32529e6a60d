//===- CompileOptions.cpp - the compile options' names, printed and parsed -===//
//
// The names bmc-compile's flags, package metadata and messages use for the
// weight and activation formats, KV types, paddings and modes
// (bmc/compiler.h); split from Compiler.cpp, the driver, unchanged.
//
//===----------------------------------------------------------------------===//

#include "bmc/compiler.h"

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
  for (WeightFormat f : {WeightFormat::F32, WeightFormat::Int8, WeightFormat::Int4, WeightFormat::BF16, WeightFormat::F16})
    if (name == weightFormatName(f)) {
      out = f;
      return true;
    }
  return false;
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
  for (ActivationFormat f : {ActivationFormat::F32, ActivationFormat::Int8})
    if (name == activationFormatName(f)) {
      out = f;
      return true;
    }
  return false;
}

bool parseKVType(const std::string &name, KVType &out) {
  for (KVType t : {KVType::F32, KVType::BF16, KVType::F16, KVType::Auto})
    if (name == kvTypeName(t)) {
      out = t;
      return true;
    }
  return false;
}

const char *kvPaddingName(KVPadding p) {
  switch (p) {
  case KVPadding::Skip: return "skip";
  case KVPadding::Mask: return "mask";
  }
  return "?";
}

bool parseKVPadding(const std::string &name, KVPadding &out) {
  for (KVPadding p : {KVPadding::Skip, KVPadding::Mask})
    if (name == kvPaddingName(p)) {
      out = p;
      return true;
    }
  return false;
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
