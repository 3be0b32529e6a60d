//===- EmitCudaProgram.cpp - a kernel-level function as a host program ----===//
//
// The program is data, not code: the runtime (DeviceProgram) walks its steps
// in order, evaluating host scalars and view expressions and launching each
// kernel op through EmittedLauncher with its parameters bound by name. The
// memory plan is the target-independent one of passes/PlanMemory.h (the
// bmc-plan-memory pass's): a slot of one arena per kernel result; here each
// result's sizes are written as products of run-time dims, and a slot's size
// at run time is the largest of its values'. The CPU emitter keeps its own
// plan (compiler/lowering/MemoryPlan.cpp) for now.
//
//===----------------------------------------------------------------------===//

#include "compiler/targets/cuda/EmitCudaProgram.h"
#include "compiler/targets/cuda/EmitCuda.h" // describeLocation
#include "compiler/targets/cuda/EmitCudaData.h" // foldedDims
#include "compiler/targets/cuda/EmitCudaUtil.h"

#include "dialects/BmcDialect.h"
#include "dialects/KernelDialect.h"
#include "passes/PlanMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
namespace json = llvm::json;

namespace {

// A product reading `use` as its right operand, naming a weight.
bool isNamedWeightOperand(OpOperand &use) {
  Operation *user = use.getOwner();
  if (auto mm = dyn_cast<bmck::MatMulOp>(user)) return mm.getWeight() && use.getOperandNumber() == 1;
  if (auto gm = dyn_cast<bmck::GemmOp>(user)) return gm.getWeight() && use.getOperandNumber() == 1;
  return false;
}

// A to_view read only as products' named weights: no value of its own.
bool isWeightOnlyView(Operation *op) {
  auto tv = dyn_cast<bmck::ToViewOp>(op);
  return tv && !tv->use_empty() && llvm::all_of(tv->getUses(), isNamedWeightOperand);
}

// A use the host reads as a shape vector: a slice's starts / ends / steps,
// an expand's or a reshape's shape, a range's start, limit and delta (0-D:
// one element each).
bool isShapeOperand(OpOperand &use) {
  Operation *user = use.getOwner();
  if (isa<bmc::CheckEqualOp>(user)) return mlir::bmc::cuda::isHostCheck(user);
  if (isa<bmck::SliceOp>(user)) return use.getOperandNumber() >= 1;
  if (isa<bmck::ExpandOp, bmck::ReshapeOp>(user)) return use.getOperandNumber() == 1;
  if (isa<bmck::RangeOp>(user)) return true;
  if (isa<bmc::ConstantOfShapeOp>(user)) return true; // its fill kernel's out is sized by it
  return false;
}

// A value the host holds as a shape vector (isHostCheck).
bool isHostShapeVector(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (!t || t.getRank() > 1 || !t.hasStaticShape() || !t.getElementType().isSignlessInteger()) return false;
  Operation *d = v.getDefiningOp();
  if (!d) return false;
  if (isa<tensor::FromElementsOp>(d)) return true;
  if (auto c = dyn_cast<arith::ConstantOp>(d)) return isa<DenseIntElementsAttr>(c.getValue());
  return isa<bmc::CheckEqualOp>(d) && mlir::bmc::cuda::isHostCheck(d);
}

// A use a kernel reads as data: the seam to a view (a kernel op reads that).
// A device check's operands are read by its kernel too.
bool isKernelRead(OpOperand &use) {
  Operation *user = use.getOwner();
  return isa<bmck::ToViewOp>(user) || (isa<bmc::CheckEqualOp>(user) && !mlir::bmc::cuda::isHostCheck(user));
}

} // namespace

namespace {

// A chain of bmc.cast / bmc.transpose above a bmc.weight (upwards only).
bool isWeightChain(Operation *op) {
  while (op && isa<bmc::CastOp, bmc::TransposeOp>(op) && op->getNumOperands() == 1)
    op = op->getOperand(0).getDefiningOp();
  return op && isa<bmc::WeightOp>(op);
}

// Every use (downwards only) a to_view read only as products' named weights,
// or another Cast / Transpose whose uses are.
bool feedsOnlyNamedWeights(Operation *op) {
  if (op->use_empty()) return false;
  for (Operation *user : op->getUsers())
    if (!isWeightOnlyView(user) && !(isa<bmc::CastOp, bmc::TransposeOp>(user) && feedsOnlyNamedWeights(user)))
      return false;
  return true;
}

} // namespace

bool mlir::bmc::cuda::isProgramData(Operation *op) {
  if (isa<bmc::WeightOp>(op)) return true;
  if (auto c = dyn_cast<arith::ConstantOp>(op)) return isa<RankedTensorType>(c.getType());
  return isa<bmc::CastOp, bmc::TransposeOp>(op) && isWeightChain(op) && feedsOnlyNamedWeights(op);
}

namespace {

class ProgramWriter {
public:
  ProgramWriter(func::FuncOp f, const mlir::bmc::cuda::LaunchIndex &launches) : func_(f), launches_(launches) {}

  LogicalResult run(llvm::raw_ostream &os) {
    Block &body = func_.getBody().front();
    plan_ = mlir::bmc::planKernelMemory(body); // passes/PlanMemory.h: the bmc-plan-memory pass's plan
    json::Array inputs, outputs, weights, constants, steps;
    for (BlockArgument a : body.getArguments()) {
      std::string name = argName(a.getArgNumber());
      json::Object in{{"name", name}, {"value", id(a)}};
      Type t = a.getType();
      if (auto tt = dyn_cast<RankedTensorType>(t)) {
        std::string ty = elementName(tt.getElementType());
        if (ty.empty())
          return func_.emitError() << "CUDA program: input '" << name << "' of " << t
                                   << ": expected f32, f16, bf16, i32, i64 or i1 elements";
        in["kind"] = "tensor", in["type"] = ty, in["dims"] = dims(tt.getShape());
      } else if (auto kv = dyn_cast<bmc::KVCacheType>(t)) {
        in["kind"] = "kv_cache", in["type"] = elementName(kv.getElementType()), in["heads"] = kv.getHeads(),
        in["head_dim"] = kv.getHeadDim();
      } else if (t.isIndex() || t.isSignlessInteger(64)) {
        in["kind"] = "index";
      } else {
        return func_.emitError() << "CUDA program: input '" << name << "' of " << t << " has no device form";
      }
      inputs.push_back(std::move(in));
    }
    for (Operation &op : body) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
          if (!isa<RankedTensorType, bmck::ViewType>(v.getType()))
            return ret.emitError() << "CUDA program: result " << i << " of " << v.getType() << " is not a tensor";
          outputs.push_back(json::Object{{"name", resultName(i)}, {"value", id(v)}});
        }
        continue;
      }
      if (failed(step(op, weights, constants, steps))) return failure();
    }
    json::Object program{{"version", 1},
                         {"function", func_.getSymName().str()},
                         {"inputs", std::move(inputs)},
                         {"outputs", std::move(outputs)},
                         {"weights", std::move(weights)},
                         {"constants", std::move(constants)},
                         {"steps", std::move(steps)},
                         {"memory", json::Object{{"slots", int64_t(plan_.slots)}, {"alignment", 256}}}};
    os << "// bmc-program: " << json::Value(std::move(program)) << "\n";
    return success();
  }

private:
  std::string id(Value v) {
    auto [it, fresh] = ids_.try_emplace(v, "");
    if (fresh) it->second = "v" + std::to_string(ids_.size() - 1);
    return it->second;
  }
  std::string argName(unsigned i) {
    if (auto n = func_.getArgAttrOfType<StringAttr>(i, "bmc.name")) return n.str();
    return "arg" + std::to_string(i);
  }
  std::string resultName(unsigned i) {
    if (auto n = func_.getResultAttrOfType<StringAttr>(i, "bmc.name")) return n.str();
    return "result" + std::to_string(i);
  }
  static std::string elementName(Type t) {
    if (t.isF32() || t.isF16() || t.isBF16()) return mlir::bmc::cuda::typeName(t);
    if (t.isSignlessInteger(32)) return "i32";
    if (t.isSignlessInteger(64)) return "i64";
    if (t.isInteger(1)) return "i1"; // stored as bytes, 0 or 1 (as elementwise.cuh stores bools)
    return "";
  }
  static json::Array dims(ArrayRef<int64_t> shape) {
    json::Array a;
    for (int64_t d : shape) a.push_back(ShapedType::isDynamic(d) ? int64_t(-1) : d);
    return a;
  }
  static ArrayRef<int64_t> shapeOf(Value v) {
    if (auto vt = dyn_cast<bmck::ViewType>(v.getType())) return vt.getShape();
    return cast<RankedTensorType>(v.getType()).getShape();
  }
  // The only element of a 0-D shape vector as a size reference: "vK[0]".
  std::string element(Value v) { return id(v) + "[0]"; }
  // A range's length, a host scalar of its own (no IR value): "vK.length".
  std::string rangeLengthId(Operation *range) { return id(range->getResult(0)) + ".length"; }
  // Dimension d of v as a size: its static size, or "vK.size[d]".
  json::Value dim(Value v, int64_t d) {
    int64_t s = shapeOf(v)[d];
    if (!ShapedType::isDynamic(s)) return s;
    // A value of rank > 4 is held without its statically-1 dimensions: d's place there.
    if (shapeOf(v).size() > 4) {
      std::vector<int64_t> kept = keptDims(shapeOf(v));
      d = llvm::find(kept, d) - kept.begin();
    }
    return json::Array{id(v) + ".size[" + std::to_string(d) + "]"};
  }
  // foldedDims of a shape (a view's or a tensor's): all for rank <= 4, else those not statically 1.
  static std::vector<int64_t> keptDims(ArrayRef<int64_t> shape) {
    std::vector<int64_t> kept;
    for (int64_t d = 0; d < int64_t(shape.size()); ++d)
      if (shape.size() <= 4 || shape[d] != 1) kept.push_back(d);
    return kept;
  }
  // The result's sizes, from the operands (the op's type-inference rule).
  LogicalResult resultSizes(Operation *op, json::Array &out) {
    Value r = op->getResult(0);
    if (auto f = dyn_cast<bmc::ConstantOfShapeOp>(op)) { // the host shape vector's elements (rank <= 4)
      ArrayRef<int64_t> shape = shapeOf(r);
      if (!isHostShapeVector(f.getShape()))
        return fail(*op, "a shape that is not a host shape vector (a tensor.from_elements of host scalars or an "
                         "integer constant): its size would depend on device data");
      for (int64_t i = 0; i < int64_t(shape.size()); ++i)
        out.push_back(ShapedType::isDynamic(shape[i]) ? json::Value(json::Array{id(f.getShape()) + "[" + std::to_string(i) + "]"})
                                                      : json::Value(shape[i]));
      return success();
    }
    if (auto g = dyn_cast<bmc::GatherNDOp>(op)) { // indices.shape[:-1] ++ data.shape[q:] (rank <= 4, batch_dims 0)
      Value data = g.getData(), ids = g.getIndices();
      int64_t ir = shapeOf(ids).size(), q = shapeOf(ids)[ir - 1];
      for (int64_t i = 0; i + 1 < ir; ++i) out.push_back(dim(ids, i));
      for (int64_t i = q; i < int64_t(shapeOf(data).size()); ++i) out.push_back(dim(data, i));
      return success();
    }
    auto rt = cast<bmck::ViewType>(r.getType());
    int64_t rank = rt.getRank();
    std::vector<json::Value> s;
    auto same = [&](Value v) {
      for (int64_t i = 0; i < rank; ++i) s.push_back(dim(v, i));
    };
    if (auto n = dyn_cast<bmck::NormOp>(op))
      same(n.getInput());
    else if (auto cp = dyn_cast<bmck::CopyOp>(op))
      same(cp.getInput());
    else if (auto sm = dyn_cast<bmck::SoftmaxOp>(op))
      same(sm.getInput());
    else if (auto a = dyn_cast<bmck::AttentionOp>(op))
      same(a.getQ());
    else if (auto g = dyn_cast<bmck::GemmOp>(op)) {
      s.push_back(dim(g.getA(), g.getTransA() ? 1 : 0));
      s.push_back(dim(g.getB(), g.getTransB() ? 0 : 1));
    } else if (auto m = dyn_cast<bmck::MatMulOp>(op)) {
      Value a = m.getLhs(), b = m.getRhs();
      int64_t ra = shapeOf(a).size(), rb = shapeOf(b).size();
      int64_t na = std::max<int64_t>(ra - 2, 0), nb = std::max<int64_t>(rb - 2, 0), n = std::max(na, nb);
      for (int64_t j = 0; j < n; ++j) { // numpy's right-aligned batch broadcast
        int64_t ia = j - (n - na), ib = j - (n - nb);
        bool hasA = ia >= 0, hasB = ib >= 0;
        bool aOne = hasA && shapeOf(a)[ia] == 1, bOne = hasB && shapeOf(b)[ib] == 1;
        if (hasA && (!hasB || bOne))
          s.push_back(dim(a, ia));
        else if (hasB && (!hasA || aOne))
          s.push_back(dim(b, ib));
        else
          s.push_back(dim(a, ia)); // equal (the launch line checks)
      }
      if (ra >= 2) s.push_back(dim(a, ra - 2));
      if (rb >= 2) s.push_back(dim(b, rb - 1));
    } else if (auto e = dyn_cast<bmck::ElementwiseOp>(op)) {
      // numpy's right-aligned broadcast of the leaves: a leaf whose dimension is not
      // statically 1 gives it (the launch line checks the others against out).
      for (int64_t i = 0; i < rank; ++i) {
        json::Value d = int64_t(1);
        for (Value in : e.getInputs()) {
          int64_t j = i - (rank - int64_t(shapeOf(in).size()));
          if (j >= 0 && shapeOf(in)[j] != 1) {
            d = dim(in, j);
            break;
          }
        }
        s.push_back(std::move(d));
      }
    } else if (auto red = dyn_cast<bmck::ReduceOp>(op)) {
      Value x = red.getInput();
      int64_t rx = shapeOf(x).size();
      for (int64_t i = 0; i < rx; ++i) {
        bool reduced = red.getAxes().empty() || llvm::is_contained(red.getAxes(), i);
        if (!reduced) s.push_back(dim(x, i));
        else if (red.getKeepdims()) s.push_back(int64_t(1));
      }
    } else if (auto c = dyn_cast<bmck::ConcatOp>(op)) {
      Value x0 = c.getInputs()[0];
      int64_t axis = c.getAxis();
      for (int64_t i = 0; i < rank; ++i) {
        if (i != axis) {
          s.push_back(dim(x0, i)); // the launch line checks the other inputs agree
          continue;
        }
        json::Array sum; // a sum of the inputs' sizes along the axis
        for (Value in : c.getInputs()) {
          int64_t n = shapeOf(in)[axis];
          if (ShapedType::isDynamic(n)) sum.push_back(id(in) + ".size[" + std::to_string(axis) + "]");
          else sum.push_back(n);
        }
        s.push_back(std::move(sum));
      }
    } else if (auto g = dyn_cast<bmck::GatherOp>(op)) {
      Value data = g.getData(), ids = g.getIndices();
      int64_t axis = g.getAxis(), dr = shapeOf(data).size();
      for (int64_t i = 0; i < axis; ++i) s.push_back(dim(data, i));
      for (int64_t i = 0; i < int64_t(shapeOf(ids).size()); ++i) s.push_back(dim(ids, i));
      for (int64_t i = axis + 1; i < dr; ++i) s.push_back(dim(data, i));
    } else if (isa<bmck::RangeOp>(op)) {
      s.push_back(json::Array{rangeLengthId(op)}); // its range_length step's (step())
    } else {
      return op->emitError() << "CUDA program: no size rule for the result of '" << op->getName() << "'";
    }
    if (int64_t(s.size()) != rank)
      return op->emitError() << "CUDA program: " << s.size() << " result sizes derived, the result has rank " << rank;
    // A result of rank > 4 is held as its kernel writes it (EmitCudaData.h, foldedDims).
    for (int64_t i : mlir::bmc::cuda::foldedDims(rt)) // a static result dimension is that number
      out.push_back(rt.isDynamicDim(i) ? std::move(s[i]) : json::Value(rt.getShape()[i]));
    return success();
  }

  // Each kernel parameter bound to a value, by the names of the op's
  // bmc-launch line. A family added to the emitter adds its row here.
  LogicalResult bind(Operation *op, json::Object &args) {
    auto view = [&](const char *name, Value v) {
      if (v) args[name] = id(v);
    };
    auto rhs = [&](Value b, std::optional<StringRef> weight) {
      if (weight)
        args["w"] = json::Object{{"weight", weight->str()}};
      else
        view("b", b);
    };
    if (auto a = dyn_cast<bmck::KVAppendOp>(op))
      view("cache", a.getCache()), view("rows", a.getRows());
    else if (auto a = dyn_cast<bmck::AttentionOp>(op)) {
      view("q", a.getQ()), view("k", a.getK()), view("v", a.getV()), view("mask", a.getMask());
      if (a.getPadded() && a.getPadding() == bmc::KVPadding::Mask) view("padded", a.getPadded());
      view("out", a.getResult());
    } else if (auto m = dyn_cast<bmck::MatMulOp>(op)) {
      view("a", m.getLhs()), rhs(m.getRhs(), m.getWeight()), view("out", m.getResult());
    } else if (auto g = dyn_cast<bmck::GemmOp>(op)) {
      view("a", g.getA()), rhs(g.getB(), g.getWeight()), view("c", g.getC()), view("out", g.getResult());
    } else if (auto n = dyn_cast<bmck::NormOp>(op)) {
      view("x", n.getInput()), view("scale", n.getScale()), view("bias", n.getBias()), view("out", n.getResult());
    } else if (auto s = dyn_cast<bmck::SoftmaxOp>(op)) {
      view("x", s.getInput()), view("out", s.getResult());
    } else if (auto e = dyn_cast<bmck::ElementwiseOp>(op)) {
      for (auto [k, in] : llvm::enumerate(e.getInputs())) args["x" + std::to_string(k)] = id(in);
      view("out", e.getResult());
    } else if (auto r = dyn_cast<bmck::ReduceOp>(op)) {
      view("x", r.getInput()), view("out", r.getResult());
    } else if (auto c = dyn_cast<bmck::ConcatOp>(op)) {
      for (auto [k, in] : llvm::enumerate(c.getInputs())) args["x" + std::to_string(k)] = id(in);
      view("out", c.getResult());
    } else if (auto g = dyn_cast<bmck::GatherOp>(op)) {
      view("data", g.getData()), view("indices", g.getIndices()), view("out", g.getResult());
    } else if (auto cp = dyn_cast<bmck::CopyOp>(op)) {
      view("x", cp.getInput()), view("out", cp.getResult());
    } else if (auto g = dyn_cast<bmc::GatherNDOp>(op)) {
      view("data", g.getData()), view("indices", g.getIndices()), view("out", g.getResult());
    } else if (auto f = dyn_cast<bmc::ConstantOfShapeOp>(op)) { // its value: a constant of the kernel
      view("out", f.getResult());
    } else if (auto r = dyn_cast<bmck::RangeOp>(op)) { // start and delta: host integers (0-D shape vectors)
      args["start"] = json::Object{{"integer", element(r.getStart())}};
      args["delta"] = json::Object{{"integer", element(r.getDelta())}};
      view("out", r.getResult());
    } else {
      return op->emitError() << "CUDA program: no parameter binding for '" << op->getName() << "'";
    }
    return success();
  }

  LogicalResult scalar(Operation &op, json::Object &s) {
    auto binary = [&](const char *name) {
      s["op"] = name, s["lhs"] = id(op.getOperand(0)), s["rhs"] = id(op.getOperand(1));
      return success();
    };
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      auto i = dyn_cast<IntegerAttr>(c.getValue());
      if (!i) return op.emitError() << "CUDA program: a scalar constant of " << c.getType() << " (integers only)";
      s["op"] = "const", s["const"] = i.getInt();
      return success();
    }
    if (auto d = dyn_cast<tensor::DimOp>(op)) {
      std::optional<int64_t> index = d.getConstantIndex();
      if (!index) return op.emitError() << "CUDA program: tensor.dim of a run-time dimension index";
      s["op"] = "dim", s["of"] = id(d.getSource()), s["dim"] = *index;
      return success();
    }
    if (auto k = dyn_cast<bmc::KVCapacityOp>(op)) {
      s["op"] = "kv_capacity", s["cache"] = id(k.getCache());
      return success();
    }
    if (isa<arith::IndexCastOp>(op)) {
      s["op"] = "copy", s["of"] = id(op.getOperand(0));
      return success();
    }
    if (isa<arith::AddIOp>(op)) return binary("add");
    if (isa<arith::SubIOp>(op)) return binary("sub");
    if (isa<arith::MulIOp>(op)) return binary("mul");
    if (isa<arith::DivSIOp, arith::DivUIOp>(op)) return binary("div");
    if (isa<arith::MaxSIOp>(op)) return binary("max");
    if (isa<arith::MinSIOp>(op)) return binary("min");
    return fail(op, "a host scalar op a program does not evaluate");
  }

  // A view op: the host computes its offset, sizes and strides from its
  // input's and its shape vectors (DeviceProgram; the CPU's LowerData.cpp).
  // One step per result (a split's k-th piece by `index`); `dims` are the
  // result type's (-1: run time), checked at run time. A reshape or flatten
  // reads only its input's element count in row-major order, so it may read
  // a kernel result of rank > 4 as that kernel's slot holds it (`held`).
  LogicalResult viewStep(Operation &op, json::Array &steps) {
    Value in = op.getOperand(0);
    int64_t inRank = shapeOf(in).size();
    std::optional<std::vector<int64_t>> held;
    if (inRank > 4) held = heldDims(in);
    for (auto [k, r] : llvm::enumerate(op.getResults())) {
      int64_t rank = cast<bmck::ViewType>(r.getType()).getRank();
      std::vector<int64_t> outKept = keptDims(shapeOf(r)); // held_out: a rank > 4 folded as a kernel's result
      if (outKept.size() > 4 || (inRank > 4 && !held)) {
        std::string why = "a view of rank " + std::to_string(std::max(rank, inRank)) +
                          " (a program's views have rank 4 at most, as the kernels' bmc_view4";
        if (inRank > 4 && !held)
          why += "; one of a higher rank is read only as a kernel's or a view's result, held without its statically-1 dimensions";
        else
          why += "; one of a higher rank is held without its statically-1 dimensions, here more than 4";
        why += ")";
        return fail(op, why.c_str());
      }
      json::Object s{{"value", id(r)}, {"kind", "view"}, {"of", id(in)}, {"dims", dims(shapeOf(r))}};
      if (auto sl = dyn_cast<bmck::SliceOp>(op)) {
        s["op"] = "slice", s["axes"] = json::Array(sl.getAxes());
        s["starts"] = id(sl.getStarts()), s["ends"] = id(sl.getEnds()), s["steps"] = id(sl.getSteps());
      } else if (auto sp = dyn_cast<bmck::SplitOp>(op)) {
        s["op"] = "split", s["axis"] = sp.getAxis(), s["sizes"] = json::Array(sp.getSizes()), s["index"] = int64_t(k);
      } else if (auto sq = dyn_cast<bmck::SqueezeOp>(op)) {
        s["op"] = "squeeze", s["axes"] = json::Array(sq.getAxes());
      } else if (auto u = dyn_cast<bmck::UnsqueezeOp>(op)) {
        s["op"] = "unsqueeze", s["axes"] = json::Array(u.getAxes());
      } else if (auto x = dyn_cast<bmck::ExpandOp>(op)) {
        s["op"] = "expand", s["shape"] = id(x.getShape());
      } else if (auto t = dyn_cast<bmck::TransposeOp>(op)) {
        s["op"] = "transpose", s["perm"] = json::Array(t.getPerm());
      } else if (auto rs = dyn_cast<bmck::ReshapeOp>(op)) {
        s["op"] = "reshape", s["shape"] = id(rs.getShape()), s["allowzero"] = rs.getAllowzero();
      } else if (auto f = dyn_cast<bmck::FlattenOp>(op)) {
        s["op"] = "flatten", s["axis"] = f.getAxis();
      } else {
        return fail(op, "a view op a program does not evaluate");
      }
      if (held) s["held"] = json::Array(*held), s["in_dims"] = dims(shapeOf(in));
      if (rank > 4) s["held_out"] = json::Array(outKept);
      if (std::string loc = mlir::bmc::cuda::describeLocation(op.getLoc()); !loc.empty()) s["at"] = loc;
      steps.push_back(std::move(s));
    }
    return success();
  }

  // The dimensions a value of rank > 4 is held at: a kernel's result
  // (through seams) is written at foldedDims of its type, as resultSizes
  // sizes its slot, and a view op's result is folded the same way
  // (`held_out`); anything else (an input, a weight) has no such form (nullopt).
  std::optional<std::vector<int64_t>> heldDims(Value v) {
    while (Operation *d = v.getDefiningOp()) {
      if (!isa<bmck::ToViewOp, bmck::ToTensorOp>(d)) break;
      v = d->getOperand(0);
    }
    Operation *d = v.getDefiningOp();
    if (!d || (!launches_.count(d) && !bmck::isStorageView(d)) || isa<bmck::KVAppendOp>(d)) return std::nullopt;
    std::vector<int64_t> kept = keptDims(shapeOf(v));
    if (kept.size() > 4) return std::nullopt;
    return kept;
  }

  LogicalResult fail(Operation &op, const char *why) {
    std::string where;
    if (std::string loc = mlir::bmc::cuda::describeLocation(op.getLoc()); !loc.empty()) where = " at " + loc;
    return op.emitError() << "CUDA program @" << func_.getSymName() << ": '" << op.getName() << "'" << where << ": "
                          << why;
  }

  LogicalResult step(Operation &op, json::Array &weights, json::Array &constants, json::Array &steps) {
    if (auto w = dyn_cast<bmc::WeightOp>(op)) {
      auto t = cast<RankedTensorType>(w.getType());
      // Plain: some to_view reads it as a view (uploaded as is); else only
      // products read it, by name, from their own device copy.
      bool plain =
          llvm::any_of(op.getUsers(), [](Operation *u) { return isa<bmck::ToViewOp>(u) && !isWeightOnlyView(u); });
      std::string ty = elementName(t.getElementType());
      if (ty.empty()) return fail(op, "a weight of an element type a program does not upload");
      weights.push_back(json::Object{{"name", w.getName().str()},
                                     {"value", id(w.getResult())},
                                     {"type", ty},
                                     {"dims", dims(t.getShape())},
                                     {"plain", plain}});
      return success();
    }
    if (mlir::bmc::cuda::isProgramData(&op) && isa<bmc::CastOp, bmc::TransposeOp>(op)) return success();
    if (auto c = dyn_cast<arith::ConstantOp>(op); c && isa<RankedTensorType>(c.getType())) {
      auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
      auto t = cast<RankedTensorType>(c.getType());
      if (llvm::any_of(op.getUses(), isShapeOperand)) { // its elements, on the host
        auto ints = dyn_cast<DenseIntElementsAttr>(c.getValue());
        if (!ints || t.getRank() > 1)
          return fail(op, "a shape vector constant that is not a 0-D or 1-D integer tensor");
        json::Array elements;
        for (const APInt &x : ints.getValues<APInt>()) elements.push_back(x.getSExtValue());
        steps.push_back(json::Object{{"value", id(c.getResult())}, {"kind", "shape"}, {"elements", std::move(elements)}});
        if (llvm::all_of(op.getUses(), isShapeOperand)) return success(); // not uploaded
      }
      std::string ty = elementName(t.getElementType());
      if (!dense || ty.empty() || !t.hasStaticShape())
        return fail(op, "a constant a program does not upload (dense f32/f16/bf16/i32/i64/i1, static shape)");
      std::vector<char> raw(dense.getRawData().begin(), dense.getRawData().end());
      if (t.getElementType().isInteger(1)) { // one byte per bool (MLIR packs them as bits)
        raw.clear();
        for (bool b : dense.getValues<bool>()) {
          raw.push_back(char(b));
          if (dense.isSplat()) break;
        }
      }
      std::string hex;
      static const char *digits = "0123456789abcdef";
      for (char ch : raw) hex += digits[(uint8_t(ch) >> 4) & 15], hex += digits[uint8_t(ch) & 15];
      constants.push_back(json::Object{{"value", id(c.getResult())},
                                       {"type", ty},
                                       {"dims", dims(t.getShape())},
                                       {"splat", dense.isSplat()},
                                       {"hex", std::move(hex)}});
      return success();
    }
    if (isWeightOnlyView(&op)) return success(); // bound by the product's weight name
    if (auto fe = dyn_cast<tensor::FromElementsOp>(op)) {
      RankedTensorType t = fe.getType();
      auto held = [](OpOperand &u) { return isShapeOperand(u) || isKernelRead(u); };
      if (t.getRank() > 1 || !llvm::all_of(op.getUses(), held))
        return fail(op, "a shape vector read other than as a view's bounds or shape, a range's start, limit or delta, "
                        "or a kernel's data (0-D or 1-D)");
      json::Array elements;
      for (Value e : fe.getElements()) elements.push_back(id(e)); // host scalars, defined before
      json::Object s{{"value", id(fe.getResult())}, {"kind", "shape"}, {"elements", std::move(elements)}};
      if (llvm::any_of(op.getUses(), isKernelRead)) { // built on the host, uploaded before the kernels read it
        std::string ty = elementName(t.getElementType());
        if (ty != "i64" && ty != "i32")
          return fail(op, "a shape vector a kernel reads, of elements other than i32 or i64 (no device form)");
        s["upload"] = json::Object{{"type", ty}, {"dims", dims(t.getShape())}};
      }
      steps.push_back(std::move(s));
      return success();
    }
    if (auto ce = dyn_cast<bmc::CheckEqualOp>(op); ce && mlir::bmc::cuda::isHostCheck(&op)) {
      // Decided by the host when it builds the shape vectors, before any
      // launch: a shape vector with the input's elements and a `check` of
      // each against expected (broadcast), failing with the CPU's message.
      auto held = [](OpOperand &u) { return isShapeOperand(u) || isKernelRead(u); };
      if (!llvm::all_of(op.getUses(), held))
        return fail(op, "a host check's result read other than as a view's bounds or shape, a range's operand, "
                        "another check or a kernel's data");
      auto t = cast<RankedTensorType>(ce.getType()), et = cast<RankedTensorType>(ce.getExpected().getType());
      int64_t n = t.getRank() ? t.getShape()[0] : 1, m = et.getRank() ? et.getShape()[0] : 1;
      if (m != n && m != 1) return fail(op, "an expected value that does not broadcast to the input");
      json::Array elements, expected;
      for (int64_t i = 0; i < n; ++i) {
        elements.push_back(id(ce.getInput()) + "[" + std::to_string(i) + "]");
        expected.push_back(id(ce.getExpected()) + "[" + std::to_string(m == 1 ? 0 : i) + "]");
      }
      json::Object check{{"expected", std::move(expected)}, {"message", ce.getMessage().str()}};
      if (std::string loc = mlir::bmc::cuda::describeLocation(op.getLoc()); !loc.empty()) check["at"] = loc;
      json::Object s{{"value", id(ce.getResult())},
                     {"kind", "shape"},
                     {"elements", std::move(elements)},
                     {"check", std::move(check)}};
      if (llvm::any_of(op.getUses(), isKernelRead)) {
        std::string ty = elementName(t.getElementType());
        if (ty != "i64" && ty != "i32")
          return fail(op, "a checked shape vector a kernel reads, of elements other than i32 or i64 (no device form)");
        s["upload"] = json::Object{{"type", ty}, {"dims", dims(t.getShape())}};
      }
      steps.push_back(std::move(s));
      return success();
    }
    if (bmck::isStorageView(&op)) return viewStep(op, steps);
    if (isa<bmck::ToViewOp, bmck::ToTensorOp>(op)) {
      steps.push_back(json::Object{{"value", id(op.getResult(0))}, {"kind", "view"}, {"of", id(op.getOperand(0))}});
      return success();
    }
    if (auto rows = dyn_cast<bmck::KVRowsOp>(op)) {
      steps.push_back(json::Object{{"value", id(rows.getRows())}, {"kind", "kv_rows"}, {"cache", id(rows.getCache())}});
      return success();
    }
    if (auto ce = dyn_cast<bmc::CheckEqualOp>(op); ce && launches_.count(&op)) {
      // A device check: its flag [0, 0, 0] built and uploaded by the host each
      // run (a shape step), the kernel setting [1, found, expected] at the
      // first mismatch, the runtime reading it back after the launches; the
      // result is the input's storage (a view).
      std::string flag = id(ce.getResult()) + ".flag";
      steps.push_back(json::Object{{"value", flag},
                                   {"kind", "shape"},
                                   {"elements", json::Array{0, 0, 0}},
                                   {"upload", json::Object{{"type", "i64"}, {"dims", json::Array{3}}}}});
      json::Object s{{"value", id(ce.getResult()) + ".check"},
                     {"kind", "launch"},
                     {"op", "bmc.check_equal"},
                     {"config", launches_.find(&op)->second.second},
                     {"args", json::Object{{"x", id(ce.getInput())}, {"expected", id(ce.getExpected())}, {"out", flag}}},
                     {"result", json::Object{{"check", flag}, {"message", ce.getMessage().str()}}}};
      if (std::string loc = mlir::bmc::cuda::describeLocation(op.getLoc()); !loc.empty()) s["at"] = loc;
      steps.push_back(std::move(s));
      steps.push_back(json::Object{{"value", id(ce.getResult())}, {"kind", "view"}, {"of", id(ce.getInput())}});
      return success();
    }
    if (auto it = launches_.find(&op); it != launches_.end()) {
      if (auto r = dyn_cast<bmck::RangeOp>(op)) {
        for (Value v : op.getOperands()) // shape steps (step()): a tensor the host holds
          if (!v.getDefiningOp<tensor::FromElementsOp>() && !v.getDefiningOp<arith::ConstantOp>())
            return fail(op, "a start, limit or delta that is not a host shape vector (a tensor.from_elements of host "
                            "scalars or an integer constant): its length would depend on device data");
        // Its length, ONNX's max(ceil((limit - start) / delta), 0) with a
        // delta of 0 refused, on the host: the result's size (resultSizes).
        json::Object len{{"value", rangeLengthId(&op)},
                         {"kind", "scalar"},
                         {"op", "range_length"},
                         {"start", element(r.getStart())},
                         {"limit", element(r.getLimit())},
                         {"delta", element(r.getDelta())}};
        if (std::string loc = mlir::bmc::cuda::describeLocation(op.getLoc()); !loc.empty()) len["at"] = loc;
        steps.push_back(std::move(len));
      }
      json::Object args;
      if (failed(bind(&op, args))) return failure();
      json::Object s{{"value", id(op.getResult(0))},
                     {"kind", "launch"},
                     {"op", it->second.first},
                     {"config", it->second.second},
                     {"args", std::move(args)}};
      if (auto a = dyn_cast<bmck::KVAppendOp>(op)) {
        // The cache's valid rows after the append (the runtime counts them).
        s["result"] =
            json::Object{{"kv_rows", id(a.getCache())}, {"appended", json::Array{id(a.getRows()) + ".size[2]"}}};
      } else {
        json::Array sizes;
        if (failed(resultSizes(&op, sizes))) return failure();
        Value r = op.getResult(0);
        Type et = isa<bmck::ViewType>(r.getType()) ? cast<bmck::ViewType>(r.getType()).getElementType()
                                                   : getElementTypeOrSelf(r.getType()); // a bmc op's tensor
        std::string ty = elementName(et);
        if (ty.empty())
          return op.emitError() << "CUDA program: a kernel result of " << et
                                << " has no slot type (f32, f16, bf16, i32, i64, i1)";
        auto slot = plan_.slot.find(r);
        if (slot == plan_.slot.end()) return fail(op, "a kernel result the memory plan has no slot for");
        s["result"] = json::Object{{"slot", slot->second}, {"type", ty}, {"sizes", std::move(sizes)}};
      }
      // The gather's indices range, [-size, size) along its axis: the runtime
      // checks it on the host where the indices are host data (a fed input such
      // as input_ids), before any launch, instead of the kernel's fault word. Data of
      // rank over 4 is held folded (foldedDims), its axis renumbered: not recorded.
      auto g = dyn_cast<bmck::GatherOp>(op);
      if (g && cast<bmck::ViewType>(g.getData().getType()).getRank() <= 4)
        s["index_bound"] = json::Object{
            {"indices", id(g.getIndices())},
            {"size", id(g.getData()) + ".size[" + std::to_string(g.getAxis()) + "]"}};
      if (std::string loc = mlir::bmc::cuda::describeLocation(op.getLoc()); !loc.empty()) s["at"] = loc;
      steps.push_back(std::move(s));
      return success();
    }
    if (op.getNumResults() == 1 &&
        (op.getResult(0).getType().isIndex() || op.getResult(0).getType().isSignlessInteger(64))) {
      json::Object s{{"value", id(op.getResult(0))}, {"kind", "scalar"}};
      if (failed(scalar(op, s))) return failure();
      steps.push_back(std::move(s));
      return success();
    }
    return fail(op, "no CUDA form and no place in a program (host scalar or shape vector, view, weight or constant)");
  }

  func::FuncOp func_;
  const mlir::bmc::cuda::LaunchIndex &launches_;
  llvm::DenseMap<Value, std::string> ids_;
  mlir::bmc::KernelMemoryPlan plan_;
};

} // namespace

bool mlir::bmc::cuda::isHostCheck(Operation *op) {
  auto ce = dyn_cast<bmc::CheckEqualOp>(op);
  return ce && isHostShapeVector(ce.getInput()) && isHostShapeVector(ce.getExpected());
}

LogicalResult mlir::bmc::cuda::writeProgram(func::FuncOp func, const LaunchIndex &launches, llvm::raw_ostream &os) {
  if (!func.getBody().hasOneBlock()) return func.emitError() << "CUDA program: a function of one block expected";
  std::string text;
  llvm::raw_string_ostream s(text);
  if (failed(ProgramWriter(func, launches).run(s))) return failure();
  os << text;
  return success();
}
