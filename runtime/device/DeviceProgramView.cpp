// DeviceProgram: a view step's op evaluated on the host (see
// DeviceProgramDesc.h). The same arithmetic and checks as the CPU's lowering
// of these bmck ops (compiler/lowering/LowerData.cpp): ONNX Slice's clamping,
// Split's sizes summing to the dimension, Squeeze's size-1 axes, Expand's
// numpy broadcast, Transpose's permutation, Reshape's 0 and -1 entries and
// element count, Flatten's axis; the result is a new offset, sizes and
// strides of the same storage. A reshape or flatten reinterprets its input's
// elements in row-major order, so that input must be row-major here: where
// the CPU copies a strided input itself, a program has the compiler's
// bmck.copy in front, and an input still strided is an error, never read
// with the wrong strides.
#include "runtime/device/DeviceProgramDesc.h"

#include <algorithm>
#include <numeric>

namespace bmc {
namespace device {

namespace {

struct Dims {
  long long offset = 0;
  std::vector<long long> size, stride;
  int rank() const { return int(size.size()); }
};

template <typename T> std::string listText(const std::vector<T> &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// The product of `sizes`, or false when it overflows 64 bits.
template <typename T> bool product(const std::vector<T> &sizes, size_t begin, size_t end, int64_t &p) {
  p = 1;
  for (size_t i = begin; i < end; ++i)
    if (__builtin_mul_overflow(p, int64_t(sizes[i]), &p))
      return false;
  return true;
}

// Row-major from its offset: each stride the product of the sizes after it
// (a dimension of size 1 may have any stride; a view without elements is).
bool isRowMajor(const Dims &d) {
  if (std::count(d.size.begin(), d.size.end(), 0))
    return true;
  long long expect = 1;
  for (int i = d.rank() - 1; i >= 0; --i) {
    if (d.size[i] == 1)
      continue;
    if (d.stride[i] != expect)
      return false;
    expect *= d.size[i];
  }
  return true;
}

// `sizes` as a row-major view at `offset`.
void rowMajorView(long long offset, const std::vector<int64_t> &sizes, Dims &r) {
  r.offset = offset, r.size.assign(sizes.begin(), sizes.end()), r.stride.assign(sizes.size(), 1);
  for (int i = int(sizes.size()) - 2; i >= 0; --i)
    r.stride[i] = r.stride[i + 1] * r.size[i + 1];
}

Status needRowMajor(const char *op, const Dims &in) {
  if (isRowMajor(in))
    return Status();
  return Status::error(std::string(op) + ": input of sizes " + listText(in.size) + " and strides " +
                       listText(in.stride) + " is not row-major (a bmck.copy must make it contiguous first)");
}

Status slice(const json &step, const Dims &in, Dims &r, const ProgramShapeLookup &shape) {
  std::vector<int64_t> axes = programDims(step["axes"]);
  std::vector<int64_t> bounds[3];
  const char *names[3] = {"starts", "ends", "steps"};
  for (int b = 0; b < 3; ++b) {
    auto v = shape(step[names[b]].get<std::string>());
    if (!v)
      return v.status();
    if (v->size() != axes.size())
      return Status::error(std::string("Slice: ") + names[b] + " " + listText(*v) + " has " +
                           std::to_string(v->size()) + " entries, expected one per axis (" +
                           std::to_string(axes.size()) + ")");
    bounds[b] = std::move(*v);
  }
  r = in;
  for (size_t k = 0; k < axes.size(); ++k) {
    int64_t axis = axes[k];
    if (axis < 0 || axis >= in.rank())
      return Status::error("Slice: axis " + std::to_string(axis) + " of a view of rank " + std::to_string(in.rank()));
    int64_t dim = in.size[axis], start = bounds[0][k], end = bounds[1][k], step = bounds[2][k];
    if (step == 0)
      return Status::error("Slice: step must be non-zero (axis " + std::to_string(axis) + ")");
    // ONNX: negative indices count from the end; then clamped to [0, dim]
    // for positive steps, [-1, dim - 1] for negative ones.
    if (start < 0)
      start += dim;
    if (end < 0)
      end += dim;
    if (step > 0) {
      start = std::min(std::max<int64_t>(start, 0), dim);
      end = std::min(std::max<int64_t>(end, 0), dim);
    } else {
      start = std::min(std::max<int64_t>(start, 0), dim - 1);
      end = std::min(std::max<int64_t>(end, -1), dim - 1);
    }
    int64_t len = std::max<int64_t>(0, (end - start + (step > 0 ? step - 1 : step + 1)) / step); // ceil
    r.offset += start * in.stride[axis];
    r.size[axis] = len;
    r.stride[axis] = in.stride[axis] * step;
  }
  return Status();
}

Status split(const json &step, const Dims &in, Dims &r) {
  int64_t axis = step["axis"], index = step["index"];
  std::vector<int64_t> sizes = programDims(step["sizes"]);
  if (axis < 0 || axis >= in.rank() || index < 0 || index >= int64_t(sizes.size()))
    return Status::error("Split: piece " + std::to_string(index) + " of " + std::to_string(sizes.size()) +
                         " along axis " + std::to_string(axis) + " of a view of rank " + std::to_string(in.rank()));
  int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t(0));
  if (total != in.size[axis])
    return Status::error("Split: sizes " + listText(sizes) + " sum to " + std::to_string(total) + ", dimension " +
                         std::to_string(axis) + " is " + std::to_string(in.size[axis]));
  int64_t before = std::accumulate(sizes.begin(), sizes.begin() + index, int64_t(0));
  r = in;
  r.offset += before * in.stride[axis];
  r.size[axis] = sizes[index];
  return Status();
}

Status squeeze(const json &step, const Dims &in, Dims &r) {
  std::vector<int64_t> axes = programDims(step["axes"]);
  r.offset = in.offset, r.size.clear(), r.stride.clear();
  for (int64_t a : axes)
    if (a < 0 || a >= in.rank())
      return Status::error("Squeeze: axis " + std::to_string(a) + " of a view of rank " + std::to_string(in.rank()));
  for (int i = 0; i < in.rank(); ++i) {
    if (std::count(axes.begin(), axes.end(), i)) {
      if (in.size[i] != 1)
        return Status::error("Squeeze: squeezed dimension " + std::to_string(i) + " is " + std::to_string(in.size[i]) +
                             ", expected 1");
      continue;
    }
    r.size.push_back(in.size[i]), r.stride.push_back(in.stride[i]);
  }
  return Status();
}

Status unsqueeze(const json &step, const Dims &in, Dims &r) {
  std::vector<int64_t> axes = programDims(step["axes"]);
  int rank = in.rank() + int(axes.size());
  r.offset = in.offset, r.size.clear(), r.stride.clear();
  for (int64_t a : axes)
    if (a < 0 || a >= rank)
      return Status::error("Unsqueeze: axis " + std::to_string(a) + " of a result of rank " + std::to_string(rank));
  for (int i = 0, j = 0; i < rank; ++i) {
    if (std::count(axes.begin(), axes.end(), i))
      r.size.push_back(1), r.stride.push_back(0);
    else
      r.size.push_back(in.size[j]), r.stride.push_back(in.stride[j]), ++j;
  }
  return Status();
}

Status expand(const json &step, const Dims &in, Dims &r, const ProgramShapeLookup &shape) {
  auto target = shape(step["shape"].get<std::string>());
  if (!target)
    return target.status();
  int n = int(target->size()), rank = std::max(n, in.rank());
  r.offset = in.offset, r.size.assign(rank, 1), r.stride.assign(rank, 0);
  for (int i = 0; i < rank; ++i) {
    int k = i - (rank - n), j = i - (rank - in.rank());
    int64_t t = k >= 0 ? (*target)[k] : 1;
    if (t < 0)
      return Status::error("Expand: shape " + listText(*target) + " has a negative size at " + std::to_string(k));
    if (j < 0) { // a new leading dimension: repeated
      r.size[i] = t;
      continue;
    }
    int64_t d = in.size[j], size = t == 1 ? d : t; // numpy: the larger, where the smaller is 1
    if (d != size && d != 1)
      return Status::error("Expand: input dimension " + std::to_string(d) + " does not broadcast to " +
                           std::to_string(size) + " (dimension " + std::to_string(i) + ")");
    r.size[i] = size;
    r.stride[i] = d == size ? in.stride[j] : 0;
  }
  return Status();
}

Status transpose(const json &step, const Dims &in, Dims &r) {
  std::vector<int64_t> perm = programDims(step["perm"]);
  std::vector<bool> seen(size_t(in.rank()), false);
  bool ok = int(perm.size()) == in.rank();
  for (int64_t p : perm) {
    ok = ok && p >= 0 && p < in.rank() && !seen[size_t(p)];
    if (ok)
      seen[size_t(p)] = true;
  }
  if (!ok)
    return Status::error("Transpose: perm " + listText(perm) + " is not a permutation of [0, " +
                         std::to_string(in.rank()) + ")");
  r.offset = in.offset, r.size.clear(), r.stride.clear();
  for (int64_t p : perm)
    r.size.push_back(in.size[size_t(p)]), r.stride.push_back(in.stride[size_t(p)]);
  return Status();
}

// ONNX Reshape as the CPU's reshapeSizes: a size the result type knows is
// that number; another is the shape's entry, 0 copying the input's size
// there (unless allowzero), one -1 inferred from the element count.
Status reshape(const json &step, const Dims &in, Dims &r, const ProgramShapeLookup &shape) {
  auto target = shape(step["shape"].get<std::string>());
  if (!target)
    return target.status();
  std::vector<int64_t> dims = programDims(step["dims"]);
  bool allowzero = step.value("allowzero", false);
  if (target->size() != dims.size())
    return Status::error("Reshape: shape " + listText(*target) + " has " + std::to_string(target->size()) +
                         " entries, the result's rank is " + std::to_string(dims.size()));
  int64_t total = 0;
  if (!product(in.size, 0, in.size.size(), total))
    return Status::error("Reshape: the input's element count overflows 64 bits");
  std::vector<int64_t> sizes(dims.size());
  int64_t known = 1, inferred = 0;
  int infer = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t e = dims[i] >= 0 ? dims[i] : (*target)[i];
    if (dims[i] < 0 && !allowzero && e == 0 && i < in.size.size())
      e = in.size[i];
    if (dims[i] < 0 && e == -1) {
      infer = int(i), ++inferred;
    } else if (__builtin_mul_overflow(known, e, &known)) {
      return Status::error("Reshape: shape " + listText(*target) + " overflows 64 bits");
    }
    sizes[i] = e;
  }
  if (inferred > 1)
    return Status::error("Reshape: expected at most one -1 in the shape, found " + std::to_string(inferred));
  if (inferred == 1) {
    if (known == 0)
      return Status::error("Reshape: cannot infer a -1 dimension when the other dimensions multiply to 0");
    sizes[size_t(infer)] = total / known;
  }
  int64_t count = 0;
  if (!product(sizes, 0, sizes.size(), count))
    return Status::error("Reshape: shape " + listText(*target) + " overflows 64 bits");
  if (count != total)
    return Status::error("Reshape: the target shape has " + std::to_string(count) + " elements, expected " +
                         std::to_string(total) + " (the input's)"); // the CPU's words (LowerData.cpp)
  for (size_t i = 0; i < sizes.size(); ++i) // [-2, 0] counts 0 elements too; the CPU accepts it
    if (sizes[i] < 0)
      return Status::error("Reshape: shape " + listText(*target) + " has a negative size at " + std::to_string(i));
  if (Status st = needRowMajor("Reshape", in); !st)
    return st;
  rowMajorView(in.offset, sizes, r);
  return Status();
}

Status flatten(const json &step, const Dims &in, Dims &r) {
  int64_t axis = step["axis"];
  if (axis < 0 || axis > in.rank())
    return Status::error("Flatten: axis " + std::to_string(axis) + " of a view of rank " + std::to_string(in.rank()));
  int64_t outer = 0, inner = 0;
  if (!product(in.size, 0, size_t(axis), outer) || !product(in.size, size_t(axis), in.size.size(), inner))
    return Status::error("Flatten: the input's element count overflows 64 bits");
  if (Status st = needRowMajor("Flatten", in); !st)
    return st;
  rowMajorView(in.offset, {outer, inner}, r);
  return Status();
}

// A kernel result of rank > 4 is held without its statically-1 dimensions
// (the writer's `held`: the dimensions kept, of the type's `in_dims`); a
// reshape or flatten of it sees its full rank again, those dimensions 1.
Status unfold(const json &step, const Dims &held, Dims &full) {
  std::vector<int64_t> kept = programDims(step["held"]), dims = programDims(step["in_dims"]);
  if (int(kept.size()) != held.rank())
    return Status::error("an input held at rank " + std::to_string(held.rank()) + ", the step keeps " +
                         std::to_string(kept.size()) + " dimensions of " + programDimsText(dims));
  full.offset = held.offset, full.size.assign(dims.size(), 1), full.stride.assign(dims.size(), 0);
  for (size_t j = 0; j < kept.size(); ++j) {
    if (kept[j] < 0 || kept[j] >= int64_t(dims.size()) || (j && kept[j] <= kept[j - 1]))
      return Status::error("held dimensions " + listText(kept) + " of " + programDimsText(dims));
    full.size[size_t(kept[j])] = held.size[j], full.stride[size_t(kept[j])] = held.stride[j];
  }
  for (size_t i = 0; i < dims.size(); ++i)
    if (!std::count(kept.begin(), kept.end(), int64_t(i)) && dims[i] != 1)
      return Status::error("dimension " + std::to_string(i) + " of " + programDimsText(dims) +
                           " is folded away, but not statically 1");
  return Status();
}

} // namespace

Status programViewOp(const json &step, const bmc_view4 &in, int inRank, const ProgramShapeLookup &shape,
                     bmc_view4 &out, int &outRank) {
  Dims a, r;
  a.offset = in.offset;
  for (int i = 4 - inRank; i < 4; ++i)
    a.size.push_back(in.size[i]), a.stride.push_back(in.stride[i]);
  std::string op = step["op"];
  Status st;
  if (step.contains("held")) { // an input of rank > 4, held folded: unfolded to its type's rank first
    Dims full;
    if (!(st = unfold(step, a, full)))
      return st;
    a = std::move(full);
  }
  if (op == "slice")
    st = slice(step, a, r, shape);
  else if (op == "split")
    st = split(step, a, r);
  else if (op == "squeeze")
    st = squeeze(step, a, r);
  else if (op == "unsqueeze")
    st = unsqueeze(step, a, r);
  else if (op == "expand")
    st = expand(step, a, r, shape);
  else if (op == "transpose")
    st = transpose(step, a, r);
  else if (op == "reshape")
    st = reshape(step, a, r, shape);
  else if (op == "flatten")
    st = flatten(step, a, r);
  else
    return Status::error("unknown view op '" + op + "'");
  if (!st)
    return st;
  std::vector<int64_t> dims = programDims(step["dims"]);
  if (int(dims.size()) != r.rank())
    return Status::error("a view of rank " + std::to_string(r.rank()) + ", its type's is " +
                         std::to_string(dims.size()));
  for (int i = 0; i < r.rank(); ++i)
    if (dims[i] >= 0 && r.size[i] != dims[i])
      return Status::error("dimension " + std::to_string(i) + " of the view is " + std::to_string(r.size[i]) +
                           ", its type says " + std::to_string(dims[i]));
  if (step.contains("held_out")) { // a result of rank > 4 held without its statically-1 dimensions
    std::vector<int64_t> kept = programDims(step["held_out"]);
    Dims folded;
    folded.offset = r.offset;
    for (int64_t d : kept) {
      if (d < 0 || d >= r.rank())
        return Status::error("held dimensions " + listText(kept) + " of a view of rank " + std::to_string(r.rank()));
      folded.size.push_back(r.size[size_t(d)]), folded.stride.push_back(r.stride[size_t(d)]);
    }
    r = std::move(folded); // the others are statically 1 (checked above against the type)
  }
  if (r.rank() > 4)
    return Status::error("a view of rank " + std::to_string(r.rank()) + " (4 at most)");
  out = in;
  out.offset = r.offset;
  outRank = r.rank();
  for (int i = 0; i < 4; ++i) {
    int d = i - (4 - outRank);
    out.size[i] = d >= 0 ? r.size[d] : 1;
    out.stride[i] = d >= 0 ? r.stride[d] : 0;
  }
  return Status();
}

} // namespace device
} // namespace bmc
