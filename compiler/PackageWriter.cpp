//===- PackageWriter.cpp - object -> shared object -> .bmcpkg --------------===//

#include "compiler/CodeGen.h"
#include "bmc/abi/entry.h"
#include "bmc/abi/package.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/TargetParser/Host.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
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

/// Writes `n` bytes to a new file `path`. The package is written with
/// O_DIRECT where the file system takes it: on this machine kind buffered
/// writes of a large file ran at 144 MB/s (the kernel throttles the page
/// cache's dirty pages) and direct ones at 790 MB/s (dd, 400 MiB), and the
/// package is not read back by this process. `buf` is 4096-aligned and holds
/// `padded` >= n bytes (n rounded up to 4096, zero-filled past n) so direct
/// writes see whole blocks; the file is truncated to n afterwards. File
/// systems that refuse O_DIRECT (tmpfs on older kernels) get buffered writes.
static Status writeWhole(const std::string &path, const uint8_t *buf, size_t n, size_t padded,
                         const std::string &out) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
  bool direct = fd >= 0;
  if (!direct) fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error(out + ": cannot open for writing: " + std::strerror(errno));
  auto fail = [&](const std::string &why) {
    ::close(fd);
    std::remove(path.c_str());
    return Status::error(out + ": " + why);
  };
  constexpr size_t kChunk = size_t(16) << 20;
  size_t want = direct ? padded : n, done = 0;
  while (done < want) {
    ssize_t w = ::write(fd, buf + done, std::min(kChunk, want - done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EINVAL && direct && done == 0) { // O_DIRECT opened but not taken: buffered
      const int flags = ::fcntl(fd, F_GETFL);
      if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) != 0) return fail(std::string("write failed: ") + std::strerror(errno));
      direct = false;
      want = n;
      continue;
    }
    if (w <= 0) return fail(std::string("write failed (disk full?): ") + (w < 0 ? std::strerror(errno) : "no progress"));
    done += size_t(w);
  }
  if (direct && ::ftruncate(fd, off_t(n)) != 0) return fail(std::string("cannot set the file size: ") + std::strerror(errno));
  if (::close(fd) != 0) {
    std::remove(path.c_str());
    return Status::error(out + ": write failed: " + std::strerror(errno));
  }
  return Status();
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
  constexpr size_t kBlock = 4096;
  const size_t padded = (size_t(h.fileSize) + kBlock - 1) / kBlock * kBlock;
  std::unique_ptr<uint8_t, decltype(&std::free)> buf(static_cast<uint8_t *>(std::aligned_alloc(kBlock, padded)),
                                                     &std::free);
  if (!buf) return Status::error(out + ": cannot allocate " + std::to_string(padded) + " bytes for the package");
  std::memset(buf.get(), 0, padded); // gaps and padding are zeros: the same input, the same package
  std::memcpy(buf.get() + h.metaOffset, meta.data(), meta.size());
  std::memcpy(buf.get() + h.codeOffset, image.data(), image.size());
  std::string error;
  if (!plan.buildInto(store, buf.get() + h.weightsOffset, error)) return Status::error(out + ": " + error);
  h.checksum = 0;
  std::memcpy(buf.get(), &h, sizeof h);
  h.checksum = pkg::crc32c(0, buf.get(), size_t(h.fileSize));
  std::memcpy(buf.get(), &h, sizeof h);
  // Write beside the target, then rename: never a partial package.
  std::string tmp = out + ".tmp." + std::to_string(::getpid());
  if (Status s = writeWhole(tmp, buf.get(), size_t(h.fileSize), padded, out); !s.ok()) return s;
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::error(out + ": cannot rename the finished package into place");
  }
  return Status();
}

} // namespace bmc
