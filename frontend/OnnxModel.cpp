//===- OnnxModel.cpp - mmap + protobuf wire scan ---------------------------===//
//
// Protobuf's parser copies every bytes field, so parsing a 1 GB model the
// plain way costs 1 GB of copies. Instead we walk the wire format once,
// cut TensorProto.raw_data out of graph.initializer entries (remembering
// where those bytes are in the mapped file) and parse only the remainder.
//
//===----------------------------------------------------------------------===//

#include "frontend/OnnxModel.h"
#include "bmc/abi/open_file.h"

#include <onnx/onnx_pb.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bmc {

//===----------------------------------------------------------------------===//
// MappedFile
//===----------------------------------------------------------------------===//

std::shared_ptr<MappedFile> MappedFile::open(const std::string &path, std::string &error) {
  size_t size = 0;
  int fd = openRegularFile(path, size, error); // FIFOs and devices refused without blocking
  if (fd < 0) return nullptr;
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = size;
  if (f->size_ > 0) {
    void *p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      error = std::string("cannot map: ") + std::strerror(errno);
      ::close(fd);
      return nullptr;
    }
    f->data_ = static_cast<const uint8_t *>(p);
  }
  ::close(fd);
  return f;
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t *>(data_), size_);
}

size_t dtypeSize(int32_t t) {
  switch (t) {
  case 1: case 6: case 12: return 4;
  case 2: case 3: case 9: return 1;
  case 4: case 5: case 10: case 16: return 2;
  case 7: case 11: case 13: return 8;
  default: return 0;
  }
}

const char *dtypeName(int32_t t) {
  switch (t) {
  case 1: return "FLOAT"; case 2: return "UINT8"; case 3: return "INT8";
  case 4: return "UINT16"; case 5: return "INT16"; case 6: return "INT32";
  case 7: return "INT64"; case 8: return "STRING"; case 9: return "BOOL";
  case 10: return "FLOAT16"; case 11: return "DOUBLE"; case 12: return "UINT32";
  case 13: return "UINT64"; case 14: return "COMPLEX64"; case 15: return "COMPLEX128";
  case 16: return "BFLOAT16"; case 17: return "FLOAT8E4M3FN"; case 18: return "FLOAT8E4M3FNUZ";
  case 19: return "FLOAT8E5M2"; case 20: return "FLOAT8E5M2FNUZ"; case 21: return "UINT4"; case 22: return "INT4";
  case 23: return "FLOAT4E2M1";
  default: return "UNDEFINED";
  }
}

//===----------------------------------------------------------------------===//
// Wire-format scan
//===----------------------------------------------------------------------===//

namespace {

struct Scanner {
  const uint8_t *base;
  const uint8_t *end;
  std::string error;
  std::vector<std::pair<const uint8_t *, size_t>> raw;

  bool fail(const uint8_t *at, const std::string &what, const std::string &tail = "") {
    if (error.empty())
      error = what + " at byte " + std::to_string(at - base) + tail;
    return false;
  }

  bool varint(const uint8_t *&p, const uint8_t *lim, uint64_t &v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= lim) return fail(p, "a truncated varint");
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return fail(p, "a malformed varint");
  }

  static void putVarint(std::string &out, uint64_t v) {
    while (v >= 0x80) {
      out.push_back(char(v | 0x80));
      v >>= 7;
    }
    out.push_back(char(v));
  }

  /// Reads one field header and its extent; returns the payload range for
  /// length-delimited fields.
  bool field(const uint8_t *&p, const uint8_t *lim, uint32_t &num, uint32_t &wire,
             const uint8_t *&payload, uint64_t &len) {
    uint64_t tag;
    if (!varint(p, lim, tag)) return false;
    num = uint32_t(tag >> 3);
    wire = uint32_t(tag & 7);
    if (num == 0) return fail(p, "field number 0");
    switch (wire) {
    case 0: { uint64_t v; return varint(p, lim, v); }
    case 1: if (lim - p < 8) return fail(p, "a truncated 64-bit field"); p += 8; return true;
    case 5: if (lim - p < 4) return fail(p, "a truncated 32-bit field"); p += 4; return true;
    case 2:
      if (!varint(p, lim, len)) return false;
      if (len > uint64_t(lim - p))
        return fail(p, "a field of " + std::to_string(len) + " bytes",
                    " with " + std::to_string(lim - p) + " left (a truncated file?)");
      payload = p;
      p += len;
      return true;
    default:
      return fail(p, "wire type " + std::to_string(wire), ", which ONNX does not use");
    }
  }

  /// Copies a message, letting `onField` rewrite chosen length-delimited fields.
  template <typename F>
  bool message(const uint8_t *p, const uint8_t *lim, std::string &out, F onField) {
    while (p < lim) {
      const uint8_t *start = p, *payload = nullptr;
      uint32_t num, wire;
      uint64_t len = 0;
      if (!field(p, lim, num, wire, payload, len)) return false;
      std::string replaced;
      int r = wire == 2 ? onField(num, payload, len, replaced) : 0;
      if (r < 0) return false;
      if (r == 0) {
        out.append(reinterpret_cast<const char *>(start), p - start);
      } else if (r == 1) {
        putVarint(out, (uint64_t(num) << 3) | 2);
        putVarint(out, replaced.size());
        out += replaced;
      } // r == 2: drop the field
    }
    return true;
  }

  bool tensor(const uint8_t *p, const uint8_t *lim, std::string &out) {
    std::pair<const uint8_t *, size_t> rawRange{nullptr, 0};
    bool ok = message(p, lim, out, [&](uint32_t num, const uint8_t *payload, uint64_t len,
                                       std::string &) -> int {
      if (num != 9) return 0; // TensorProto.raw_data
      rawRange = {payload, size_t(len)};
      return 2;
    });
    raw.push_back(rawRange);
    return ok;
  }

  bool graph(const uint8_t *p, const uint8_t *lim, std::string &out) {
    return message(p, lim, out, [&](uint32_t num, const uint8_t *payload, uint64_t len,
                                    std::string &rep) -> int {
      if (num != 5) return 0; // GraphProto.initializer
      return tensor(payload, payload + len, rep) ? 1 : -1;
    });
  }

  bool model(std::string &out) {
    bool sawGraph = false;
    bool ok = message(base, end, out, [&](uint32_t num, const uint8_t *payload, uint64_t len,
                                          std::string &rep) -> int {
      if (num != 7) return 0; // ModelProto.graph
      if (sawGraph) return 0; // protobuf merges repeated messages; rare, keep as is
      sawGraph = true;
      return graph(payload, payload + len, rep) ? 1 : -1;
    });
    return ok;
  }
};

} // namespace

OnnxModel::~OnnxModel() = default;

std::unique_ptr<OnnxModel> loadOnnxModel(const std::string &path, std::string &error) {
  std::string why;
  auto file = MappedFile::open(path, why);
  if (!file) {
    error = path + ": " + why;
    return nullptr;
  }
  if (file->size() == 0) {
    error = path + ": not an ONNX model: expected a protobuf ModelProto, found an empty file";
    return nullptr;
  }
  Scanner scan{file->data(), file->data() + file->size(), {}, {}};
  std::string stripped;
  stripped.reserve(1 << 16);
  if (!scan.model(stripped)) {
    error = path + ": not an ONNX model: expected a protobuf ModelProto, found " + scan.error;
    return nullptr;
  }
  auto model = std::make_unique<OnnxModel>();
  model->path = path;
  model->file = file;
  model->proto = std::make_unique<onnx::ModelProto>();
  if (!model->proto->ParseFromString(stripped)) {
    error = path + ": not an ONNX model: expected a protobuf ModelProto, found bytes that do not "
                   "parse as one";
    return nullptr;
  }
  const onnx::ModelProto &m = *model->proto;
  if (!m.has_graph() || m.ir_version() <= 0) {
    error = path + ": not an ONNX model: expected a ModelProto with ir_version and a graph, found " +
            (m.has_graph() ? "no ir_version" : "no graph");
    return nullptr;
  }
  if (scan.raw.size() != size_t(m.graph().initializer_size())) {
    error = path + ": not an ONNX model: initializer count mismatch after scanning";
    return nullptr;
  }
  model->rawData = std::move(scan.raw);
  return model;
}

//===----------------------------------------------------------------------===//
// Initializer resolution
//===----------------------------------------------------------------------===//

namespace {

template <typename Src, typename Dst>
std::shared_ptr<uint8_t[]> convert(const Src &src, size_t n) {
  std::shared_ptr<uint8_t[]> buf(new uint8_t[n * sizeof(Dst) + 1]);
  Dst *d = reinterpret_cast<Dst *>(buf.get());
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<Dst>(src.Get(int(i)));
  return buf;
}

std::string dirOf(const std::string &path) {
  size_t s = path.find_last_of('/');
  return s == std::string::npos ? std::string(".") : path.substr(0, s);
}

} // namespace

bool resolveInitializer(const OnnxModel &model, int index, Weight &out, std::string &error) {
  return resolveTensorProto(model, model.proto->graph().initializer(index), model.rawData[index],
                            out, error);
}

bool resolveTensorProto(const OnnxModel &model, const onnx::TensorProto &t,
                        std::pair<const uint8_t *, size_t> rawRange, Weight &out,
                        std::string &error) {
  out.name = t.name();
  out.dtype = t.data_type();
  out.dims.assign(t.dims().begin(), t.dims().end());
  for (int64_t d : out.dims)
    if (d < 0) {
      error = "initializer '" + t.name() + "': expected non-negative dimensions, found " +
              std::to_string(d);
      return false;
    }
  const bool nibbles = out.dtype == 21 || out.dtype == 22; // UINT4 / INT4: two per byte, low nibble first
  size_t esize = nibbles ? 1 : dtypeSize(out.dtype);
  if (esize == 0) {
    error = "initializer '" + t.name() + "': expected a numeric data type, found " +
            dtypeName(out.dtype);
    return false;
  }
  size_t n = size_t(out.numElements());
  size_t want = nibbles ? (n + 1) / 2 : n * esize;

  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0, length = want;
    bool haveLength = false;
    for (const auto &kv : t.external_data()) {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::strtoull(kv.value().c_str(), nullptr, 10);
      else if (kv.key() == "length") { length = std::strtoull(kv.value().c_str(), nullptr, 10); haveLength = true; }
    }
    if (location.empty() || location[0] == '/' || location.find("..") != std::string::npos) {
      error = "initializer '" + t.name() + "': expected an external data location inside the "
              "model's folder, found '" + location + "'";
      return false;
    }
    std::string full = dirOf(model.path) + "/" + location, why;
    auto f = MappedFile::open(full, why);
    if (!f) {
      error = "initializer '" + t.name() + "': external data file '" + location + "': " + why;
      return false;
    }
    if ((haveLength && length != want) || offset > f->size() || want > f->size() - offset) {
      error = "initializer '" + t.name() + "': expected " + std::to_string(want) +
              " bytes at offset " + std::to_string(offset) + " of '" + location + "', found a file of " +
              std::to_string(f->size()) + " bytes";
      return false;
    }
    out.data = f->data() + offset;
    out.bytes = want;
    out.keepAlive = f;
    out.fileMapped = true;
    return true;
  }

  auto [raw, rawLen] = rawRange;
  if (!raw && t.has_raw_data()) {
    // Raw bytes that protobuf parsed (Constant node attributes): small, copy.
    std::shared_ptr<uint8_t[]> copy(new uint8_t[t.raw_data().size() + 1]);
    std::memcpy(copy.get(), t.raw_data().data(), t.raw_data().size());
    if (t.raw_data().size() != want) {
      error = "tensor '" + t.name() + "': expected " + std::to_string(want) +
              " bytes of raw data, found " + std::to_string(t.raw_data().size());
      return false;
    }
    out.data = copy.get();
    out.bytes = want;
    out.keepAlive = std::shared_ptr<const void>(copy, copy.get());
    return true;
  }
  if (raw) {
    if (rawLen != want) {
      error = "initializer '" + t.name() + "': expected " + std::to_string(want) +
              " bytes of raw data for " + std::to_string(n) + " " + dtypeName(out.dtype) +
              " elements, found " + std::to_string(rawLen);
      return false;
    }
    out.data = raw;
    out.bytes = want;
    out.keepAlive = model.file;
    out.fileMapped = true;
    return true;
  }

  // Typed repeated fields (small tensors written without raw_data).
  if (nibbles) {
    error = "initializer '" + t.name() + "': expected " + dtypeName(out.dtype) + " data as raw_data (packed two per "
            "byte), found it in a typed field";
    return false;
  }
  std::shared_ptr<uint8_t[]> buf;
  size_t have = 0;
  switch (out.dtype) {
  case 1: have = t.float_data_size(); buf = convert<decltype(t.float_data()), float>(t.float_data(), std::min(n, have)); break;
  case 11: have = t.double_data_size(); buf = convert<decltype(t.double_data()), double>(t.double_data(), std::min(n, have)); break;
  case 7: have = t.int64_data_size(); buf = convert<decltype(t.int64_data()), int64_t>(t.int64_data(), std::min(n, have)); break;
  case 13: have = t.uint64_data_size(); buf = convert<decltype(t.uint64_data()), uint64_t>(t.uint64_data(), std::min(n, have)); break;
  case 12: have = t.uint64_data_size(); buf = convert<decltype(t.uint64_data()), uint32_t>(t.uint64_data(), std::min(n, have)); break;
  case 6: have = t.int32_data_size(); buf = convert<decltype(t.int32_data()), int32_t>(t.int32_data(), std::min(n, have)); break;
  case 5: have = t.int32_data_size(); buf = convert<decltype(t.int32_data()), int16_t>(t.int32_data(), std::min(n, have)); break;
  case 4: case 10: case 16: have = t.int32_data_size(); buf = convert<decltype(t.int32_data()), uint16_t>(t.int32_data(), std::min(n, have)); break;
  case 3: have = t.int32_data_size(); buf = convert<decltype(t.int32_data()), int8_t>(t.int32_data(), std::min(n, have)); break;
  case 2: case 9: have = t.int32_data_size(); buf = convert<decltype(t.int32_data()), uint8_t>(t.int32_data(), std::min(n, have)); break;
  }
  if (have != n) {
    error = "initializer '" + t.name() + "': expected " + std::to_string(n) + " " +
            dtypeName(out.dtype) + " elements, found " + std::to_string(have);
    return false;
  }
  out.data = buf.get();
  out.bytes = want;
  out.keepAlive = std::shared_ptr<const void>(buf, buf.get());
  return true;
}

} // namespace bmc
