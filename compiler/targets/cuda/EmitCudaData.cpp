//===- EmitCudaData.cpp - concat, gather, copy, range -> CUDA C -----------===//
//
// See EmitCudaData.h. As in EmitCudaElementwise.cpp, a view of rank r < 4
// reaches a kernel as a bmc_view4 with 4 - r leading dimensions of size 1, and
// dimensions in the launch lines' errors are those of the bmc_view4. The
// output's index i[0..3] is unflattened once; concat finds the input whose
// window along the axis holds i[axis], gather reads the index at the
// output's index dimensions and the data at the others (a view of rank > 4
// with its statically-1 dimensions removed: foldedDims), copy reads x at
// out's index; range writes start + i * delta from two host scalars.
//
//===----------------------------------------------------------------------===//

#include "compiler/targets/cuda/EmitCudaData.h"
#include "compiler/targets/cuda/EmitCudaUtil.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include "llvm/Support/JSON.h"

using namespace mlir;
using mlir::bmc::cuda::count;
using mlir::bmc::cuda::DataEmitter;
using mlir::bmc::cuda::typeName;

namespace {

// BMC_EW_THREADS (elementwise.cuh).
constexpr int64_t kThreads = 256;

// The element as bytes, or null: the types the CUDA form copies.
const char *storage(Type t) {
  if (t.isF32() || t.isSignlessInteger(32)) return "unsigned int";
  if (t.isF16() || t.isBF16()) return "unsigned short";
  if (t.isSignlessInteger(64)) return "unsigned long long";
  if (t.isSignlessInteger(1)) return "unsigned char";
  return nullptr;
}

std::string str(int64_t i) { return std::to_string(i); }
std::string sizeRef(const std::string &v, int64_t d) { return v + ".size[" + str(d) + "]"; }

// "v.offset + i[a] * bmc_view_stride(v, a) + ..." over view4 dimensions [from, 4),
// index i[d] read from `index[d]`.
std::string offset(const std::string &v, int64_t from, const std::vector<std::string> &index) {
  std::string s = v + ".offset";
  for (int64_t d = from; d < 4; ++d)
    if (index[d] != "0") s += " + " + index[d] + " * bmc_view_stride(" + v + ", " + str(d) + ")";
  return s;
}

const std::string kLoopHead = "  const long long n = bmc_ew_elements(out);\n"
                              "  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;\n"
                              "       e += (long long)gridDim.x * blockDim.x) {\n"
                              "    long long i[4];\n"
                              "    bmc_ew_index(out, e, i);\n";

// The launch set-up gather and gather_nd share: data, indices and out as
// view4s, then the launcher's fault word (an index out of range), and the
// checks that each view's leading dimensions are 1 (dl, il and ol of them:
// 4 less the rank data, indices and out are passed as).
DataEmitter::Config indexedConfig(int64_t dl, int64_t il, int64_t ol) {
  DataEmitter::Config c;
  c.names = {"data", "indices", "out"};
  c.params = "bmc_view4 data, bmc_view4 indices, bmc_view4 out, long long *fault, long long fault_site";
  c.faults = true;
  auto lead = [&](const std::string &v, int64_t n) {
    for (int64_t d = 0; d < n; ++d)
      c.checks.push_back({{sizeRef(v, d)}, "", 1, v + " of size {" + sizeRef(v, d) + "} in dimension " + str(d) +
                                                       ", expected 1"});
  };
  lead("data", dl), lead("indices", il), lead("out", ol);
  return c;
}

namespace json = llvm::json;

} // namespace

int DataEmitter::record(Family &f, Config c) {
  ++f.ops;
  std::string key = c.params + "\n" + c.body;
  for (const Config::Check &k : c.checks) key += llvm::join(k.lhs, "+") + k.cmp + k.rhs + str(k.value) + "\n";
  auto [it, fresh] = f.configs.try_emplace(key, std::move(c), 0);
  if (fresh) f.order.push_back(key);
  ++it->second.second;
  return int(llvm::find(f.order, key) - f.order.begin());
}

LogicalResult DataEmitter::add(bmck::ConcatOp op, std::string &noForm) {
  bmck::ViewType out = op.getResult().getType();
  int64_t rank = out.getRank(), lead = 4 - rank, axis = op.getAxis(), a = lead + axis;
  const char *s = storage(out.getElementType());
  if (rank > 4 && s) return addFolded(op, noForm);
  if (rank > 4 || !s) { // left, by that name (a whole-model compile names it)
    noForm = rank > 4 ? "bmck.concat (rank " + str(rank) + ")" : "bmck.concat (" + typeName(out.getElementType()) + ")";
    return success();
  }
  Config c;
  int64_t n = int64_t(op.getInputs().size());
  std::vector<std::string> idx = {"i[0]", "i[1]", "i[2]", "i[3]"};
  std::vector<std::string> axisSizes;
  for (int64_t k = 0; k < n; ++k) {
    std::string x = "x" + str(k);
    c.names.push_back(x);
    c.params += "bmc_view4 " + x + ", ";
    axisSizes.push_back(sizeRef(x, a));
    for (int64_t d = 0; d < 4; ++d) {
      if (d == a) continue;
      std::string xs = sizeRef(x, d);
      if (d < lead)
        c.checks.push_back({{xs}, "", 1, x + " of size {" + xs + "} in dimension " + str(d) + ", expected 1"});
      else
        c.checks.push_back({{xs}, sizeRef("out", d), 0,
                            x + " of size {" + xs + "} in dimension " + str(d) + ", out of {" + sizeRef("out", d) + "}"});
    }
  }
  for (int64_t d = 0; d < lead; ++d)
    c.checks.push_back({{sizeRef("out", d)}, "", 1,
                        "out of size {" + sizeRef("out", d) + "} in dimension " + str(d) + ", expected 1"});
  std::string sum;
  for (const std::string &t : axisSizes) sum += (sum.empty() ? "{" : " + {") + t + "}";
  c.checks.push_back({axisSizes, sizeRef("out", a), 0,
                      "inputs of " + sum + " along dimension " + str(a) + ", out of {" + sizeRef("out", a) + "}"});
  c.names.push_back("out");
  c.params += "bmc_view4 out";
  std::string body = kLoopHead + "    typedef " + s + " S;\n    const long long o = " + offset("out", lead, idx) +
                     ";\n    long long p = i[" + str(a) + "];\n";
  // The input whose window holds p: p < its size, else p -= its size; the
  // last takes the rest (the launch line checks the sizes sum to out's).
  for (int64_t k = 0; k < n; ++k) {
    std::string x = "x" + str(k), in = k + 1 < n ? "      " : "    ";
    std::string copy = in + "i[" + str(a) + "] = p;\n" + in + "((S *)out.data)[o] = ((const S *)" + x + ".data)[" +
                       offset(x, lead, idx) + "];\n";
    if (k + 1 < n)
      body += "    if (p < " + sizeRef(x, a) + ") {\n" + copy + "      continue;\n    }\n    p -= " + sizeRef(x, a) + ";\n";
    else
      body += copy;
  }
  body += "  }\n";
  c.body = body;
  c.comment = count(int(n), "input") + " of " + typeName(out.getElementType()) + " (rank " + str(rank) +
              ") along axis " + str(axis);
  last_ = record(concat_, std::move(c));
  return success();
}

// A concat of rank > 4 (the GatherND index tuples [batch, 1, 1, N, 1] x k):
// out and each input as held (foldedDims, no dimension kept on purpose: a
// program holds every value of rank > 4 so), each original dimension mapped
// to its place in each view4, a folded one read at index 0 (size 1).
LogicalResult DataEmitter::addFolded(bmck::ConcatOp op, std::string &noForm) {
  bmck::ViewType out = op.getResult().getType();
  int64_t rank = out.getRank(), axis = op.getAxis(), n = int64_t(op.getInputs().size());
  std::vector<int64_t> ok = foldedDims(out);
  std::vector<std::vector<int64_t>> xk;
  for (Value in : op.getInputs()) xk.push_back(foldedDims(cast<bmck::ViewType>(in.getType())));
  bool fits = ok.size() <= 4 && llvm::all_of(xk, [](const std::vector<int64_t> &k) { return k.size() <= 4; });
  if (!fits) {
    noForm = "bmck.concat (rank " + str(rank) + ")";
    return success();
  }
  auto place = [](const std::vector<int64_t> &kept, int64_t d) -> int64_t {
    auto at = llvm::find(kept, d);
    return at == kept.end() ? -1 : 4 - int64_t(kept.size()) + int64_t(at - kept.begin());
  };
  Config c;
  auto lead = [&](const std::string &v, int64_t k) {
    for (int64_t d = 0; d < 4 - k; ++d)
      c.checks.push_back({{sizeRef(v, d)}, "", 1, v + " of size {" + sizeRef(v, d) + "} in dimension " + str(d) +
                                                       ", expected 1"});
  };
  std::vector<std::string> axisSizes;
  for (int64_t k = 0; k < n; ++k) {
    std::string x = "x" + str(k);
    c.names.push_back(x);
    c.params += "bmc_view4 " + x + ", ";
    lead(x, int64_t(xk[k].size()));
    int64_t xa = place(xk[k], axis);
    axisSizes.push_back(xa >= 0 ? sizeRef(x, xa) : "1");
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) continue;
      int64_t xp = place(xk[k], d), op_ = place(ok, d);
      std::string xs = xp >= 0 ? sizeRef(x, xp) : "", os = op_ >= 0 ? sizeRef("out", op_) : "";
      if (xp >= 0 && op_ >= 0)
        c.checks.push_back({{xs}, os, 0, x + " of size {" + xs + "} in dimension " + str(xp) + ", out of {" + os + "}"});
      else if (xp >= 0)
        c.checks.push_back({{xs}, "", 1, x + " of size {" + xs + "} in dimension " + str(xp) + ", expected 1"});
      else if (op_ >= 0)
        c.checks.push_back({{os}, "", 1, "out of size {" + os + "} in dimension " + str(op_) + ", expected 1"});
    }
  }
  lead("out", int64_t(ok.size()));
  int64_t oa = place(ok, axis);
  std::vector<std::string> dynamicAxis;
  int64_t staticAxis = 0;
  std::string sum;
  for (const std::string &t : axisSizes) {
    if (t == "1") ++staticAxis; else dynamicAxis.push_back(t);
    sum += (sum.empty() ? "{" : " + {") + t + "}";
  }
  // The inputs' sizes along the axis sum to out's: all run-time, or all folded (1 each).
  std::string why = "inputs of " + sum + " along dimension " + str(axis) + ", out of {" +
                    (oa >= 0 ? sizeRef("out", oa) : std::string("1")) + "}";
  if (oa >= 0 && staticAxis == 0)
    c.checks.push_back({dynamicAxis, sizeRef("out", oa), 0, why});
  else if (oa >= 0 && dynamicAxis.empty())
    c.checks.push_back({{sizeRef("out", oa)}, "", staticAxis, why});
  else if (!(oa < 0 && dynamicAxis.empty() && staticAxis == 1)) { // a mix: no check to write (left)
    noForm = "bmck.concat (rank " + str(rank) + ")";
    return success();
  }
  c.names.push_back("out");
  c.params += "bmc_view4 out";
  std::string body = kLoopHead + "    typedef " + storage(out.getElementType()) + " S;\n    const long long o = " +
                     offset("out", 0, {"i[0]", "i[1]", "i[2]", "i[3]"}) + ";\n    long long p = " +
                     (oa >= 0 ? "i[" + str(oa) + "]" : std::string("0")) + ";\n";
  for (int64_t k = 0; k < n; ++k) {
    std::string x = "x" + str(k), in = k + 1 < n ? "      " : "    ";
    std::vector<std::string> idx(4, "0");
    for (int64_t d = 0; d < rank; ++d) {
      int64_t xp = place(xk[k], d), op_ = place(ok, d);
      if (xp < 0) continue;
      idx[xp] = d == axis ? "p" : op_ >= 0 ? "i[" + str(op_) + "]" : "0";
    }
    std::string copy = in + "((S *)out.data)[o] = ((const S *)" + x + ".data)[" + offset(x, 0, idx) + "];\n";
    if (k + 1 < n)
      body += "    if (p < " + axisSizes[k] + ") {\n" + copy + "      continue;\n    }\n    p -= " + axisSizes[k] + ";\n";
    else
      body += copy;
  }
  body += "  }\n";
  c.body = body;
  c.comment = count(int(n), "input") + " of " + typeName(out.getElementType()) + " (rank " + str(rank) +
              ") along axis " + str(axis) + ", passed as rank " + str(int64_t(ok.size())) +
              " without their statically-1 dimensions";
  last_ = record(concat_, std::move(c));
  return success();
}

std::vector<int64_t> mlir::bmc::cuda::foldedDims(bmck::ViewType type, int64_t keep) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.getRank() <= 4 || d == keep || type.getShape()[d] != 1) dims.push_back(d);
  return dims;
}

LogicalResult DataEmitter::add(bmck::GatherOp op, std::string &noForm) {
  bmck::ViewType data = op.getData().getType(), ids = op.getIndices().getType(), out = op.getResult().getType();
  int64_t axis = op.getAxis(), dr0 = data.getRank(), ir0 = ids.getRank(), r0 = out.getRank();
  // Each view as passed (a rank > 4 folded: the attention mask's [batch, 1, 1, total, 1] gather).
  std::vector<int64_t> dk = foldedDims(data, axis), ik = foldedDims(ids), ok = foldedDims(out);
  int64_t dr = int64_t(dk.size()), ir = int64_t(ik.size()), r = int64_t(ok.size());
  const char *s = storage(data.getElementType());
  if (dr > 4 || ir > 4 || r > 4 || !s) { // left, by that name (a whole-model compile names it)
    noForm = !s ? "bmck.gather (" + typeName(data.getElementType()) + ")"
                : "bmck.gather (rank " + str(std::max({dr0, ir0, r0})) + ")";
    return success();
  }
  const char *it = ids.getElementType().isSignlessInteger(32) ? "int" : "long long"; // the verifier: i32 or i64
  int64_t dl = 4 - dr, il = 4 - ir, ol = 4 - r;
  // Original dimension d's place in the view4 of `kept` (lead leading 1s), or -1: folded.
  auto place = [](const std::vector<int64_t> &kept, int64_t lead, int64_t d) -> int64_t {
    auto at = llvm::find(kept, d);
    return at == kept.end() ? -1 : lead + int64_t(at - kept.begin());
  };
  int64_t da = place(dk, dl, axis);
  Config c = indexedConfig(dl, il, ol);
  // out's dimension p holds data's (p < axis, p >= axis + ir0) or indices' (the others).
  std::vector<std::string> dataIdx(4, "0"), idIdx(4, "0");
  for (int64_t p = 0; p < r0; ++p) {
    int64_t o = place(ok, ol, p), sp;
    std::string oi = o >= 0 ? "i[" + str(o) + "]" : "0", src;
    if (p < axis || p >= axis + ir0) {
      sp = place(dk, dl, p < axis ? p : p - ir0 + 1), src = "data";
      if (sp >= 0) dataIdx[sp] = oi;
    } else {
      sp = place(ik, il, p - axis), src = "indices";
      if (sp >= 0) idIdx[sp] = oi;
    }
    std::string os = o >= 0 ? sizeRef("out", o) : "", ss = sp >= 0 ? sizeRef(src, sp) : "";
    if (o >= 0 && sp >= 0)
      c.checks.push_back({{os}, ss, 0, "out of size {" + os + "} in dimension " + str(o) + ", expected {" + ss +
                                           "} (dimension " + str(sp) + " of " + src + ")"});
    else if (o >= 0) // the source's dimension, statically 1, folded
      c.checks.push_back({{os}, "", 1, "out of size {" + os + "} in dimension " + str(o) + ", expected 1 (" + src +
                                           "'s dimension there is 1)"});
    else if (sp >= 0) // out's dimension p, statically 1, folded
      c.checks.push_back({{ss}, "", 1, src + " of size {" + ss + "} in dimension " + str(sp) +
                                           ", expected 1 (out's dimension " + str(p) + " is 1)"});
  }
  dataIdx[da] = "k";
  c.body = kLoopHead + "    typedef " + s + " S;\n    long long k = ((const " + it + " *)indices.data)[" +
           offset("indices", il, idIdx) + "];\n    if (k < 0)\n      k += " + sizeRef("data", da) +
           "; // ONNX: negative indices count from the end\n    if (k < 0 || k >= " + sizeRef("data", da) +
           ") {\n      bmc_data_index_fault(fault, fault_site, k, " + sizeRef("data", da) + ");\n      continue;\n    }\n" +
           "    ((S *)out.data)[" + offset("out", ol, {"i[0]", "i[1]", "i[2]", "i[3]"}) + "] = ((const S *)data.data)[" +
           offset("data", dl, dataIdx) + "];\n  }\n";
  auto folded = [&](const char *v, int64_t from, int64_t to) {
    return from == to ? std::string() : std::string(", ") + v + " of rank " + str(from) + " passed as rank " + str(to);
  };
  c.comment = typeName(data.getElementType()) + " data (rank " + str(dr0) + ") at axis " + str(axis) + " by " +
              typeName(ids.getElementType()) + " indices (rank " + str(ir0) + ")" + folded("data", dr0, dr) +
              folded("indices", ir0, ir) + folded("out", r0, r) +
              (dr != dr0 || ir != ir0 || r != r0 ? ", its statically-1 dimensions removed" : "");
  last_ = record(gather_, std::move(c));
  return success();
}

LogicalResult DataEmitter::add(bmck::CopyOp op, std::string &noForm) {
  bmck::ViewType out = op.getResult().getType();
  int64_t rank = out.getRank(), lead = 4 - rank;
  const char *s = storage(out.getElementType());
  if (rank > 4 || !s) { // left, by that name (a whole-model compile names it)
    noForm = rank > 4 ? "bmck.copy (rank " + str(rank) + ")" : "bmck.copy (" + typeName(out.getElementType()) + ")";
    return success();
  }
  Config c;
  c.names = {"x", "out"};
  c.params = "bmc_view4 x, bmc_view4 out";
  for (int64_t d = 0; d < 4; ++d) {
    std::string xs = sizeRef("x", d), os = sizeRef("out", d);
    if (d < lead)
      c.checks.push_back({{xs}, "", 1, "x of size {" + xs + "} in dimension " + str(d) + ", expected 1"});
    c.checks.push_back({{os}, xs, 0, "out of size {" + os + "} in dimension " + str(d) + ", x of {" + xs + "}"});
  }
  std::vector<std::string> idx = {"i[0]", "i[1]", "i[2]", "i[3]"};
  c.body = kLoopHead + "    typedef " + s + " S;\n    ((S *)out.data)[" + offset("out", lead, idx) +
           "] = ((const S *)x.data)[" + offset("x", lead, idx) + "];\n  }\n";
  c.comment = typeName(out.getElementType()) + " (rank " + str(rank) + ") into a new row-major view";
  last_ = record(copy_, std::move(c));
  return success();
}

LogicalResult DataEmitter::add(bmck::RangeOp op, std::string &noForm) {
  bmck::ViewType out = op.getResult().getType();
  Type et = out.getElementType();
  const char *t = et.isSignlessInteger(64) ? "long long" : et.isSignlessInteger(32) ? "int" : nullptr;
  if (!t) { // left, by that name (a whole-model compile names it)
    noForm = "bmck.range (" + typeName(et) + ")";
    return success();
  }
  Config c;
  c.names = {"start", "delta", "out"};
  c.scalars = {"start", "delta"};
  c.params = "long long start, long long delta, bmc_view4 out";
  for (int64_t d = 0; d < 3; ++d)
    c.checks.push_back({{sizeRef("out", d)}, "", 1,
                        "out of size {" + sizeRef("out", d) + "} in dimension " + str(d) + ", expected 1"});
  // The CPU's error (LowerData.cpp), whoever sized out: a delta of 0 has no length.
  c.checks.push_back({{"delta"}, "", 0, "delta must be non-zero", "!="});
  // The CPU's arithmetic: i64, wrapping, then narrowed to the element type.
  c.body = std::string("  const long long n = bmc_ew_elements(out);\n"
                       "  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;\n"
                       "       e += (long long)gridDim.x * blockDim.x) {\n"
                       "    const unsigned long long v = (unsigned long long)start + (unsigned long long)e * "
                       "(unsigned long long)delta;\n    ((") +
           t + " *)out.data)[out.offset + e * bmc_view_stride(out, 3)] = (" + t + ")v;\n  }\n";
  c.comment = typeName(et) + " start + i * delta (start, delta: host scalars; the length: out's)";
  last_ = record(range_, std::move(c));
  return success();
}

LogicalResult DataEmitter::add(bmc::CheckEqualOp op, std::string &noForm) {
  auto x = cast<RankedTensorType>(op.getInput().getType()), e = cast<RankedTensorType>(op.getExpected().getType());
  auto cType = [](Type t) -> const char * {
    return t.isSignlessInteger(64) ? "long long" : t.isSignlessInteger(32) ? "int" : nullptr;
  };
  const char *xt = cType(x.getElementType()), *et = cType(e.getElementType());
  if (!xt || !et || x.getRank() > 4 || e.getRank() > x.getRank()) { // left, by that name
    noForm = "bmc.check_equal (" + typeName(x.getElementType()) + ")";
    return success();
  }
  Config c;
  c.names = {"x", "expected", "out"};
  c.params = "bmc_view4 x, bmc_view4 expected, bmc_view4 out";
  for (int64_t d = 0; d < 4; ++d) {
    if (d < 4 - x.getRank())
      c.checks.push_back({{sizeRef("x", d)}, "", 1, "x of size {" + sizeRef("x", d) + "} in dimension " + str(d) +
                                                       ", expected 1"});
    c.checks.push_back({{sizeRef("expected", d)}, sizeRef("x", d), 0,
                        "expected of size {" + sizeRef("expected", d) + "} in dimension " + str(d) + ", x of {" +
                            sizeRef("x", d) + "} (expected equal or 1)",
                        "bcast"});
  }
  for (int64_t d = 0; d < 3; ++d)
    c.checks.push_back({{sizeRef("out", d)}, "", 1, "out of size {" + sizeRef("out", d) + "} in dimension " + str(d) +
                                                     ", expected 1"});
  c.checks.push_back({{sizeRef("out", 3)}, "", 3, "out (the flag) of {" + sizeRef("out", 3) + "} elements, expected 3"});
  // One thread, in element order: the first mismatch, deterministic (the
  // vectors checked are a batch's lengths); the CPU compares as i64 too.
  c.body = std::string("  if (blockIdx.x != 0 || threadIdx.x != 0)\n    return;\n"
                       "  long long *flag = (long long *)out.data + out.offset;\n"
                       "  const long long n = bmc_ew_elements(x);\n"
                       "  for (long long e = 0; e < n; ++e) {\n"
                       "    long long r = e, xo = x.offset, eo = expected.offset;\n"
                       "    for (int d = 3; d >= 0; --d) {\n"
                       "      const long long i = r % x.size[d];\n"
                       "      r /= x.size[d];\n"
                       "      xo += i * bmc_view_stride(x, d), eo += i * bmc_view_stride(expected, d);\n"
                       "    }\n"
                       "    const long long found = (long long)((const ") +
           xt + " *)x.data)[xo], want = (long long)((const " + et +
           " *)expected.data)[eo];\n"
           "    if (found != want) {\n      flag[0] = 1, flag[1] = found, flag[2] = want;\n      return;\n    }\n  }\n";
  c.comment = typeName(x.getElementType()) + " x against " + typeName(e.getElementType()) +
              " expected (broadcast), the first mismatch into out = [1, found, expected]; one thread";
  last_ = record(check_, std::move(c));
  return success();
}

LogicalResult DataEmitter::add(bmc::ConstantOfShapeOp op, std::string &noForm) {
  auto out = cast<RankedTensorType>(op.getResult().getType());
  int64_t rank = out.getRank(), lead = 4 - rank;
  const char *s = storage(out.getElementType());
  // The value's bytes, as the storage holds them (a bool as 0 / 1).
  std::optional<uint64_t> bits;
  if (auto f = dyn_cast<FloatAttr>(op.getValue()))
    bits = f.getValue().bitcastToAPInt().getZExtValue();
  else if (auto i = dyn_cast<IntegerAttr>(op.getValue()))
    bits = i.getValue().getZExtValue();
  if (rank > 4 || !s || !bits) { // left, by that name (a whole-model compile names it)
    noForm = rank > 4 ? "bmc.constant_of_shape (rank " + str(rank) + ")"
                      : "bmc.constant_of_shape (" + typeName(out.getElementType()) + ")";
    return success();
  }
  Config c;
  c.names = {"out"};
  c.params = "bmc_view4 out";
  for (int64_t d = 0; d < lead; ++d)
    c.checks.push_back({{sizeRef("out", d)}, "", 1,
                        "out of size {" + sizeRef("out", d) + "} in dimension " + str(d) + ", expected 1"});
  std::string hex = llvm::utohexstr(*bits);
  c.body = kLoopHead + "    typedef " + s + " S;\n    ((S *)out.data)[" +
           offset("out", lead, {"i[0]", "i[1]", "i[2]", "i[3]"}) + "] = (S)0x" + hex + "ull;\n  }\n";
  c.comment = typeName(out.getElementType()) + " (rank " + str(rank) + ") filled with bytes 0x" + hex +
              " (the shape: a host vector, out's sizes)";
  last_ = record(fill_, std::move(c));
  return success();
}

LogicalResult DataEmitter::add(bmc::GatherNDOp op, std::string &noForm) {
  auto data = cast<RankedTensorType>(op.getData().getType()), ids = cast<RankedTensorType>(op.getIndices().getType());
  auto out = cast<RankedTensorType>(op.getResult().getType());
  int64_t dr = data.getRank(), ir = ids.getRank(), r = out.getRank(), q = ir ? ids.getShape()[ir - 1] : -1;
  const char *s = storage(data.getElementType());
  // Indices of rank > 4 arrive held without their statically-1 dimensions (a
  // kernel's result: the rank-5 concat of the static cache's index tuples).
  std::vector<int64_t> ik;
  for (int64_t d = 0; d < ir; ++d)
    if (ir <= 4 || ids.getShape()[d] != 1) ik.push_back(d);
  if (op.getBatchDims() != 0 || !s || dr > 4 || ik.size() > 4 || r > 4 || ir < 1 || ShapedType::isDynamic(q) ||
      q > dr) {
    noForm = op.getBatchDims() != 0 ? "bmc.gather_nd (batch_dims " + str(op.getBatchDims()) + ")"
             : !s                   ? "bmc.gather_nd (" + typeName(data.getElementType()) + ")"
                                    : "bmc.gather_nd (rank " + str(std::max({dr, ir, r})) + ")";
    return success();
  }
  const char *it = ids.getElementType().isSignlessInteger(32) ? "int" : "long long"; // the verifier: i32 or i64
  int64_t dl = 4 - dr, il = 4 - int64_t(ik.size()), ol = 4 - r;
  auto placeI = [&](int64_t d) -> int64_t { // indices' dimension d in its view4, or -1: folded (1)
    auto at = llvm::find(ik, d);
    return at == ik.end() ? -1 : il + int64_t(at - ik.begin());
  };
  Config c = indexedConfig(dl, il, ol);
  if (int64_t lp = placeI(ir - 1); lp >= 0) {
    std::string last = sizeRef("indices", lp);
    c.checks.push_back({{last}, "", q, "indices of size {" + last + "} in dimension " + str(lp) + ", expected " +
                                           str(q) + " (the index tuple)"});
  }
  // out = indices.shape[:-1] ++ data.shape[q:]
  std::vector<std::string> idIdx(4, "0"), dataIdx(4, "0");
  for (int64_t p = 0; p < r; ++p) {
    std::string oi = "i[" + str(ol + p) + "]", os = sizeRef("out", ol + p), src, ss;
    int64_t sp;
    if (p < ir - 1) {
      sp = placeI(p), src = "indices";
      if (sp < 0) { // folded: out's dimension there is 1
        c.checks.push_back({{os}, "", 1, "out of size {" + os + "} in dimension " + str(ol + p) +
                                             ", expected 1 (indices' dimension there is 1)"});
        continue;
      }
      idIdx[sp] = oi;
    } else {
      sp = dl + q + (p - (ir - 1)), src = "data", dataIdx[sp] = oi;
    }
    ss = sizeRef(src, sp);
    c.checks.push_back({{os}, ss, 0, "out of size {" + os + "} in dimension " + str(ol + p) + ", expected {" + ss +
                                         "} (dimension " + str(sp) + " of " + src + ")"});
  }
  std::string body = kLoopHead + "    typedef " + s + " S;\n    bool inRange = true;\n";
  for (int64_t j = 0; j < q; ++j) {
    std::vector<std::string> at = idIdx;
    if (int64_t lp = placeI(ir - 1); lp >= 0) at[lp] = str(j); // else q = 1, folded: index 0
    std::string k = "k" + str(j), n = sizeRef("data", dl + j);
    body += "    long long " + k + " = ((const " + it + " *)indices.data)[" + offset("indices", il, at) + "];\n" +
            "    if (" + k + " < 0)\n      " + k + " += " + n + "; // ONNX: negative indices count from the end\n" +
            "    if (" + k + " < 0 || " + k + " >= " + n + ") {\n      bmc_data_index_fault(fault, fault_site, " + k + ", " + n +
            ");\n      inRange = false;\n    }\n";
    dataIdx[dl + j] = k;
  }
  body += "    if (!inRange)\n      continue;\n    ((S *)out.data)[" + offset("out", ol, {"i[0]", "i[1]", "i[2]", "i[3]"}) +
          "] = ((const S *)data.data)[" + offset("data", dl, dataIdx) + "];\n  }\n";
  c.body = body;
  c.comment = typeName(data.getElementType()) + " data (rank " + str(dr) + ") by " +
              typeName(ids.getElementType()) + " index tuples of " + str(q) + " (indices rank " + str(ir) +
              (int64_t(ik.size()) != ir ? ", passed as rank " + str(int64_t(ik.size())) + " without its statically-1 dimensions"
                                        : std::string()) + ")";
  last_ = record(gatherND_, std::move(c));
  return success();
}

std::string DataEmitter::gatherNDSummary() const {
  return str(gatherND_.ops) + " bmc.gather_nd (" + count(int(gatherND_.order.size()), "configuration") + ")";
}

std::string DataEmitter::fillSummary() const {
  return str(fill_.ops) + " bmc.constant_of_shape (" + count(int(fill_.order.size()), "configuration") + ")";
}

std::string DataEmitter::checkSummary() const {
  return str(check_.ops) + " bmc.check_equal (" + count(int(check_.order.size()), "configuration") + ")";
}

std::string DataEmitter::concatSummary() const {
  return str(concat_.ops) + " bmck.concat (" + count(int(concat_.order.size()), "configuration") + ")";
}
std::string DataEmitter::gatherSummary() const {
  return str(gather_.ops) + " bmck.gather (" + count(int(gather_.order.size()), "configuration") + ")";
}
std::string DataEmitter::rangeSummary() const {
  return str(range_.ops) + " bmck.range (" + count(int(range_.order.size()), "configuration") + ")";
}

std::string DataEmitter::copySummary() const {
  return str(copy_.ops) + " bmck.copy (" + count(int(copy_.order.size()), "configuration") + ")";
}

void DataEmitter::write(llvm::raw_ostream &os) const {
  write(os, concat_, "concat", "bmc_concat_");
  write(os, gather_, "gather", "bmc_gather_");
  write(os, copy_, "copy", "bmc_copy_");
  write(os, range_, "range", "bmc_range_");
  write(os, check_, "check_equal", "bmc_check_equal_");
  write(os, fill_, "constant_of_shape", "bmc_constant_of_shape_");
  write(os, gatherND_, "gather_nd", "bmc_gather_nd_");
}

void DataEmitter::write(llvm::raw_ostream &os, const Family &f, const char *op, const char *prefix) const {
  // The families that serve bmc ops (no bmck form of their own).
  const bool bmcOp =
      std::string(op) == "check_equal" || std::string(op) == "constant_of_shape" || std::string(op) == "gather_nd";
  for (auto [i, key] : llvm::enumerate(f.order)) {
    const auto &[c, uses] = f.configs.at(key);
    std::string name = prefix + str(int64_t(i)), what = std::string(op) + " " + str(int64_t(i)) + ": ";
    json::Array params;
    for (const std::string &p : c.names)
      params.push_back(json::Object{{"name", p}, {"kind", llvm::is_contained(c.scalars, p) ? "i64" : "view4"}, {"from", "arg"}});
    if (c.faults) { // the launcher's fault word and the caller's site (data.cuh)
      params.push_back(json::Object{{"name", "fault"}, {"kind", "fault_ptr"}, {"from", "fault"}});
      params.push_back(json::Object{{"name", "fault_site"}, {"kind", "i64"}, {"from", "fault"}});
    }
    json::Array checks;
    for (const Config::Check &k : c.checks) {
      json::Array lhs;
      for (const std::string &t : k.lhs) lhs.push_back(t);
      checks.push_back(json::Object{{"lhs", std::move(lhs)},
                                    {"cmp", k.cmp},
                                    {"rhs", k.rhs.empty() ? json::Array{k.value} : json::Array{k.rhs}},
                                    {"error", what + k.error}});
    }
    json::Array elements; // one term, the product of out's sizes
    elements.push_back(json::Array{"out.size[0]", "out.size[1]", "out.size[2]", "out.size[3]"});
    json::Object plan{{"kind", "elementwise"}, {"elements", std::move(elements)}, {"threads", kThreads}};
    json::Object launch{{"kernel", name}, {"grid", json::Array{"plan.blocks", 1, 1}}, {"block", kThreads},
                        {"shared_bytes", 0}};
    json::Object desc{{"version", 1},
                      {"op", (bmcOp ? std::string("bmc.") : std::string("bmck.")) + op},
                      {"config", int64_t(i)},
                      {"params", std::move(params)},
                      {"checks", std::move(checks)},
                      {"plan", std::move(plan)},
                      {"launches", json::Array{std::move(launch)}}};
    os << "\n// bmc-launch: " << json::Value(std::move(desc)) << "\n"
       << "// " << op << " " << i << ": " << c.comment << " (" << count(uses, "op")
       << (c.scalars.empty() && c.names.size() > 1 ? "), copied as bytes" : ")")
       << ". A thread per element of out, grid-stride; block BMC_EW_THREADS.\n"
       << "extern \"C\" __global__ void __launch_bounds__(BMC_EW_THREADS)\n"
       << name << "(" << c.params << ") {\n"
       << c.body << "}\n";
  }
}
