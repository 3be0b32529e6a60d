//===- PackageWriter.cpp - object -> shared object -> .bmcpkg --------------===//

#include "compiler/CodeGen.h"
#include "bmc/abi/entry.h"
#include "bmc/abi/package.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
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

namespace {
/// Writes a new file front to back through one block-aligned window, so that
/// a package never needs a buffer of its own size: sections are appended or
/// filled in place (`reserve`), whole blocks leave as the window fills, and
/// their CRC32C is taken on the way out. The file is written with O_DIRECT
/// where the file system takes it: on this machine kind buffered writes of a
/// large file ran at 144 MB/s (the kernel throttles the page cache's dirty
/// pages) and direct ones at 790 MB/s (dd, 400 MiB), and the package is not
/// read back by this process. File systems that refuse O_DIRECT (tmpfs on
/// older kernels) get buffered writes. Gaps between what is written are zeros.
class StreamWriter {
public:
  static constexpr size_t kBlock = 4096;

  StreamWriter(std::string path, std::string shown) : path_(std::move(path)), shown_(std::move(shown)) {}
  ~StreamWriter() {
    if (fd_ >= 0) {
      ::close(fd_);
      std::remove(path_.c_str());
    }
  }
  /// A window of at least `largest` contiguous bytes (the largest reserve).
  Status open(size_t largest) {
    cap_ = (largest + 3 * kBlock - 1) / kBlock * kBlock;
    cap_ = std::max(cap_, size_t(16) << 20);
    buf_.reset(static_cast<uint8_t *>(std::aligned_alloc(kBlock, cap_)));
    if (!buf_) return Status::error(shown_ + ": cannot allocate " + std::to_string(cap_) + " bytes to write the package");
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
    direct_ = fd_ >= 0;
    if (!direct_) fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::error(shown_ + ": cannot open for writing: " + std::strerror(errno));
    return Status();
  }
  /// `n` bytes at file offset `at` (>= everything written so far), zeros
  /// before them: where the caller fills them. Null with `st` set on failure.
  uint8_t *reserve(uint64_t at, size_t n, Status &st) {
    if (at < end_ || n > cap_ - 2 * kBlock) {
      st = Status::error(shown_ + ": internal: package sections out of order or larger than the write window");
      return nullptr;
    }
    while (at + n - base_ > cap_) { // zeros up to `at` (or the window's end), whole blocks out
      const uint64_t zerosTo = std::min<uint64_t>(at, base_ + cap_);
      std::memset(buf_.get() + (end_ - base_), 0, size_t(zerosTo - end_));
      end_ = zerosTo;
      st = flush(false);
      if (!st.ok()) return nullptr;
    }
    std::memset(buf_.get() + (end_ - base_), 0, size_t(at - end_));
    end_ = at + n;
    return buf_.get() + (at - base_);
  }
  Status append(uint64_t at, const void *data, size_t n) {
    const auto *p = static_cast<const uint8_t *>(data);
    const size_t piece = cap_ - 2 * kBlock;
    Status st;
    for (size_t done = 0; done < n; done += std::min(piece, n - done)) {
      uint8_t *d = reserve(at + done, std::min(piece, n - done), st);
      if (!d) return st;
      std::memcpy(d, p + done, std::min(piece, n - done));
    }
    return Status();
  }
  /// Writes what is left, the checksummed header (whose checksum field reads
  /// zero in what was written) and closes the file; `size` is the file size.
  Status finish(uint64_t size, pkg::Header h) {
    if (end_ != size) return Status::error(shown_ + ": internal: the package is " + std::to_string(end_) +
                                           " bytes, its header says " + std::to_string(size));
    if (Status st = flush(true); !st.ok()) return st;
    h.checksum = crc_;
    std::memcpy(first_, &h, sizeof h);
    // The first block again, with the checksum (a whole block for O_DIRECT;
    // zeros past the end of a file shorter than a block are truncated below).
    if (Status st = writeAt(first_, direct_ ? kBlock : std::min<size_t>(kBlock, size_t(size)), 0); !st.ok()) return st;
    if (::ftruncate(fd_, off_t(size)) != 0) // drops the last block's padding
      return fail(std::string("cannot set the file size: ") + std::strerror(errno));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      std::remove(path_.c_str());
      return Status::error(shown_ + ": write failed: " + std::strerror(errno));
    }
    return Status();
  }

private:
  std::string path_, shown_;
  std::unique_ptr<uint8_t, decltype(&std::free)> buf_{nullptr, &std::free};
  size_t cap_ = 0;
  int fd_ = -1;
  bool direct_ = false;
  uint64_t base_ = 0, end_ = 0; // the window holds file bytes [base_, end_)
  uint32_t crc_ = 0;
  alignas(4096) uint8_t first_[kBlock] = {};

  Status fail(const std::string &why) {
    ::close(fd_);
    fd_ = -1;
    std::remove(path_.c_str());
    return Status::error(shown_ + ": " + why);
  }
  /// Whole blocks out of the window (all of it, zero-padded to a block, when
  /// `last`); a partial block stays, moved to the window's start.
  Status flush(bool last) {
    size_t have = size_t(end_ - base_), out = last ? have : have / kBlock * kBlock;
    if (out == 0) return Status();
    crc_ = pkg::crc32c(crc_, buf_.get(), out);
    if (base_ == 0) std::memcpy(first_, buf_.get(), std::min(kBlock, out));
    size_t padded = (out + kBlock - 1) / kBlock * kBlock;
    std::memset(buf_.get() + out, 0, padded - out);
    if (Status st = writeAt(buf_.get(), direct_ ? padded : out, base_); !st.ok()) return st;
    std::memmove(buf_.get(), buf_.get() + out, have - out);
    base_ += out;
    return Status();
  }
  Status writeAt(const uint8_t *p, size_t n, uint64_t at) {
    constexpr size_t kChunk = size_t(16) << 20;
    for (size_t done = 0; done < n;) {
      ssize_t w = ::pwrite(fd_, p + done, std::min(kChunk, n - done), off_t(at + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EINVAL && direct_) { // O_DIRECT opened but not taken: buffered
        const int flags = ::fcntl(fd_, F_GETFL);
        if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0)
          return fail(std::string("write failed: ") + std::strerror(errno));
        direct_ = false;
        continue;
      }
      if (w <= 0) return fail(std::string("write failed (disk full?): ") + (w < 0 ? std::strerror(errno) : "no progress"));
      done += size_t(w);
    }
    return Status();
  }
};
} // namespace

Status writePackageFile(const std::string &out, const std::vector<uint8_t> &meta, const std::string &image,
                        const WeightPlan &plan, const WeightStore &store, const std::vector<uint8_t> &cuda) {
  pkg::Header h{};
  std::memcpy(h.magic, pkg::kMagic, 8);
  h.formatVersion = pkg::kFormatVersion;
  h.abiVersion = BMC_ABI_VERSION;
  h.metaOffset = pkg::kHeaderSize;
  h.metaSize = meta.size();
  h.codeOffset = h.metaOffset + h.metaSize;
  h.codeSize = image.size();
  // A CUDA package's section follows the (empty) code; a CPU package has
  // none, and its header's CUDA fields stay zero.
  uint64_t beforeWeights = h.codeOffset + h.codeSize;
  if (!cuda.empty()) {
    h.cudaOffset = beforeWeights;
    h.cudaSize = cuda.size();
    h.cudaChecksum = pkg::crc32c(0, cuda.data(), cuda.size());
    beforeWeights += h.cudaSize;
  }
  h.weightsOffset = (beforeWeights + pkg::kWeightsAlign - 1) / pkg::kWeightsAlign * pkg::kWeightsAlign;
  h.weightsSize = uint64_t(plan.totalBytes());
  h.fileSize = h.weightsOffset + h.weightsSize;
  // Streamed: each weight is packed into the write window and leaves with
  // it, so peak memory is the largest weight, not the package (the source
  // pages are dropped as they are packed, WeightPlan::fill).
  size_t largest = 0;
  for (const WeightEntry &e : plan.entries()) largest = std::max(largest, size_t(e.bytes));
  // Write beside the target, then rename: never a partial package.
  std::string tmp = out + ".tmp." + std::to_string(::getpid());
  StreamWriter w(tmp, out);
  if (Status s = w.open(largest); !s.ok()) return s;
  h.checksum = 0; // CRC32C of the file with this field zeroed, written last
  if (Status s = w.append(0, &h, sizeof h); !s.ok()) return s;
  if (Status s = w.append(h.metaOffset, meta.data(), meta.size()); !s.ok()) return s;
  if (Status s = w.append(h.codeOffset, image.data(), image.size()); !s.ok()) return s;
  if (!cuda.empty())
    if (Status s = w.append(h.cudaOffset, cuda.data(), cuda.size()); !s.ok()) return s;
  std::string error;
  for (const WeightEntry &e : plan.entries()) { // in offset order (WeightPlan::place)
    Status st;
    uint8_t *dst = w.reserve(h.weightsOffset + uint64_t(e.offset), size_t(e.bytes), st);
    if (!dst) return st;
    if (!WeightPlan::fill(store, e, dst, error)) return Status::error(out + ": " + error);
  }
  Status st;
  if (!w.reserve(h.fileSize, 0, st)) return st; // zeros up to the end (the blob's alignment)
  if (Status s = w.finish(h.fileSize, h); !s.ok()) return s;
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::error(out + ": cannot rename the finished package into place");
  }
  return Status();
}

} // namespace bmc
