//===- PackageWriter.cpp - object -> shared object -> .bmcpkg --------------===//

#include "compiler/CodeGen.h"
#include "runtime/Abi.h"
#include "runtime/Package.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/TargetParser/Host.h"

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace bmc {

static std::string tempPath(const std::string &stem, const std::string &ext) {
  llvm::SmallString<128> p;
  llvm::sys::fs::createTemporaryFile(stem, ext, p);
  return std::string(p);
}

bool linkSharedObject(const std::vector<std::string> &objects, std::string &image, std::string &error) {
  std::vector<std::string> objs;
  std::string so = tempPath("bmc-code", "so");
  auto cleanup = [&] {
    for (const std::string &o : objs) std::remove(o.c_str());
    std::remove(so.c_str());
  };
  for (const std::string &object : objects) {
    objs.push_back(tempPath("bmc-code", "o"));
    std::ofstream f(objs.back(), std::ios::binary);
    f.write(object.data(), std::streamsize(object.size()));
    if (!f) {
      error = "cannot write a temporary object file " + objs.back();
      cleanup();
      return false;
    }
  }
  std::string lld = BMC_LLD_PATH;
  if (!llvm::sys::fs::can_execute(lld)) {
    cleanup();
    error = "the linker " + lld + " is missing (install lld-19): it turns generated code into a package image";
    return false;
  }
  std::string msg;
  llvm::SmallVector<llvm::StringRef> args{lld, "-shared", "--hash-style=gnu", "-o", so};
  for (const std::string &o : objs) args.push_back(o);
  int rc = llvm::sys::ExecuteAndWait(lld, args, std::nullopt, {}, 0, 0, &msg);
  if (rc != 0) {
    cleanup();
    error = "linking the code image failed (" + lld + " exit " + std::to_string(rc) + ") " + msg;
    return false;
  }
  std::ifstream in(so, std::ios::binary);
  image.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  cleanup();
  if (image.empty()) {
    error = "linking produced an empty code image";
    return false;
  }
  return true;
}

std::vector<std::string> requiredCpuFeatures() {
  // Code is generated for the host CPU; record what it may use that older
  // CPUs lack, so loading elsewhere fails with a clear message.
  std::vector<std::string> r;
  llvm::StringMap<bool> f = llvm::sys::getHostCPUFeatures();
  for (const char *name : {"avx", "avx2", "fma", "f16c", "bmi2", "avx512f"})
    if (f.lookup(name)) r.push_back(name);
  return r;
}

Status writePackageFile(const std::string &out, const std::vector<uint8_t> &meta, const std::string &image,
                        const WeightPlan &plan, const WeightStore &store) {
  pkg::Header h{};
  std::memcpy(h.magic, pkg::kMagic, 8);
  h.formatVersion = pkg::kFormatVersion;
  h.abiVersion = BMC_ABI_VERSION;
  h.metaOffset = pkg::kHeaderSize;
  h.metaSize = meta.size();
  h.codeOffset = h.metaOffset + h.metaSize;
  h.codeSize = image.size();
  h.weightsOffset = (h.codeOffset + h.codeSize + pkg::kWeightsAlign - 1) / pkg::kWeightsAlign * pkg::kWeightsAlign;
  h.weightsSize = uint64_t(plan.totalBytes());
  h.fileSize = h.weightsOffset + h.weightsSize;
  std::vector<uint8_t> buf(size_t(h.fileSize), 0);
  std::memcpy(buf.data() + h.metaOffset, meta.data(), meta.size());
  std::memcpy(buf.data() + h.codeOffset, image.data(), image.size());
  std::string error;
  if (!plan.buildInto(store, buf.data() + h.weightsOffset, error)) return Status::error(out + ": " + error);
  h.checksum = 0;
  std::memcpy(buf.data(), &h, sizeof h);
  h.checksum = pkg::crc32c(0, buf.data(), buf.size());
  std::memcpy(buf.data(), &h, sizeof h);
  // Write beside the target, then rename: never a partial package.
  std::string tmp = out + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::error(out + ": cannot open for writing");
    f.write(reinterpret_cast<const char *>(buf.data()), std::streamsize(buf.size()));
    f.close();
    if (!f) {
      std::remove(tmp.c_str());
      return Status::error(out + ": write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::error(out + ": cannot rename the finished package into place");
  }
  return Status();
}

} // namespace bmc
