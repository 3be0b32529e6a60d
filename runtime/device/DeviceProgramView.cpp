// DeviceProgram: a view step's op evaluated on the host (see
// DeviceProgramDesc.h). The same arithmetic and checks as the CPU's lowering
// of these bmck ops (compiler/lowering/LowerData.cpp): ONNX Slice's clamping,
// Split's sizes summing to the dimension, Squeeze's size-1 axes, Expand's
// numpy broadcast; the result is a new offset, sizes and strides of the same
// storage.
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

std::string listText(const std::vector<int64_t> &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
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

} // namespace

Status programViewOp(const json &step, const bmc_view4 &in, int inRank, const ProgramShapeLookup &shape,
                     bmc_view4 &out, int &outRank) {
  Dims a, r;
  a.offset = in.offset;
  for (int i = 4 - inRank; i < 4; ++i)
    a.size.push_back(in.size[i]), a.stride.push_back(in.stride[i]);
  std::string op = step["op"];
  Status st;
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
  else
    return Status::error("unknown view op '" + op + "'");
  if (!st)
    return st;
  std::vector<int64_t> dims = programDims(step["dims"]);
  if (int(dims.size()) != r.rank())
    return Status::error("a view of rank " + std::to_string(r.rank()) + ", its type's is " +
                         std::to_string(dims.size()));
  if (r.rank() > 4)
    return Status::error("a view of rank " + std::to_string(r.rank()) + " (4 at most)");
  for (int i = 0; i < r.rank(); ++i)
    if (dims[i] >= 0 && r.size[i] != dims[i])
      return Status::error("dimension " + std::to_string(i) + " of the view is " + std::to_string(r.size[i]) +
                           ", its type says " + std::to_string(dims[i]));
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
