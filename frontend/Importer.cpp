//===- Importer.cpp - ONNX graph -> func.func @main in the bmc dialect -----===//

#include "frontend/ImportContext.h"
#include "frontend/MergedDecoder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <set>

using namespace mlir;

namespace bmc {

void loadImporterDialects(MLIRContext &ctx) {
  ctx.loadDialect<mlir::bmc::BmcDialect, func::FuncDialect, arith::ArithDialect, tensor::TensorDialect>();
}

Type onnxElementType(MLIRContext *ctx, int32_t dtype) {
  Builder b(ctx);
  switch (dtype) {
  case 1: return b.getF32Type();
  case 2: return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case 3: return b.getIntegerType(8);
  case 4: return IntegerType::get(ctx, 16, IntegerType::Unsigned);
  case 5: return b.getIntegerType(16);
  case 6: return b.getI32Type();
  case 7: return b.getI64Type();
  case 9: return b.getI1Type();
  case 10: return b.getF16Type();
  case 11: return b.getF64Type();
  case 12: return IntegerType::get(ctx, 32, IntegerType::Unsigned);
  case 13: return IntegerType::get(ctx, 64, IntegerType::Unsigned);
  case 16: return b.getBF16Type();
  case 21: return IntegerType::get(ctx, 4, IntegerType::Unsigned); // UINT4: only DequantizeLinear reads it
  case 22: return IntegerType::get(ctx, 4, IntegerType::Signed);   // INT4
  default: return {};
  }
}

std::string escapeControl(const std::string &s, bool isName) {
  std::string o;
  o.reserve(s.size());
  for (unsigned char c : s) {
    if (c == '\\' && isName) o += "\\\\";
    else if (c == '\n') o += "\\n";
    else if (c == '\r') o += "\\r";
    else if (c == '\t') o += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      o += "\\x";
      o += hex[c >> 4];
      o += hex[c & 15];
    } else {
      o += char(c);
    }
  }
  return o;
}

//===----------------------------------------------------------------------===//
// NodeImporter
//===----------------------------------------------------------------------===//

static Location nodeLocation(GraphImporter &g, const onnx::NodeProto &n, int index, int64_t opset) {
  std::string name = n.name().empty() ? "#" + std::to_string(index) : n.name();
  Location file = FileLineColLoc::get(&g.ctx, g.fileName, 0, 0);
  Location op = NameLoc::get(StringAttr::get(&g.ctx, n.op_type() + ", opset " + std::to_string(opset)), file);
  return NameLoc::get(StringAttr::get(&g.ctx, name), op);
}

NodeImporter::NodeImporter(GraphImporter &g, const onnx::NodeProto &n, int index, int64_t opset)
    : node(n), graph(g), opset(opset), loc(nodeLocation(g, n, index, opset)), b(g.builder),
      ctx(&g.ctx), index_(index) {}

std::string NodeImporter::describe() const {
  std::string name = node.name().empty() ? "#" + std::to_string(index_) : escapeControl(node.name(), true);
  // Ops of other domains carry that domain's version, so say whose it is.
  std::string domain = node.domain().empty() || node.domain() == "ai.onnx" ? "" : node.domain() + " ";
  return graph.path + ": node '" + name + "' (" + escapeControl(node.op_type(), true) + ", " + escapeControl(domain, true) + "opset " +
         std::to_string(opset) + ")";
}

LogicalResult NodeImporter::error(const Twine &msg) {
  if (graph.error.empty()) graph.error = describe() + ": " + msg.str();
  return failure();
}

Value NodeImporter::in(int i) const {
  if (!has(i)) return {};
  return graph.values.lookup(node.input(i));
}

RankedTensorType NodeImporter::type(int i) const {
  Value v = in(i);
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}

LogicalResult NodeImporter::expectInputs(int lo, int hi) {
  int n = node.input_size();
  if (n < lo || (hi >= 0 && n > hi)) {
    std::string range = hi < 0 ? "at least " + std::to_string(lo)
                        : lo == hi ? std::to_string(lo)
                                   : std::to_string(lo) + " to " + std::to_string(hi);
    return error("expected " + range + " inputs, found " + std::to_string(n));
  }
  for (int i = 0; i < lo; ++i)
    if (!has(i)) return error("expected input " + std::to_string(i) + " to be present, found an empty name");
  return success();
}

LogicalResult NodeImporter::expectOutputs(int lo, int hi) {
  int n = node.output_size();
  if (n < lo || (hi >= 0 && n > hi))
    return error("expected " + std::to_string(lo) + (hi == lo ? "" : (hi < 0 ? "+" : "-" + std::to_string(hi))) +
                 " outputs, found " + std::to_string(n));
  return success();
}

std::optional<SmallVector<int64_t>> NodeImporter::constInts(int i) const {
  Value v = in(i);
  if (!v) return std::nullopt;
  DenseIntElementsAttr attr;
  if (matchPattern(v, m_Constant(&attr))) {
    SmallVector<int64_t> r;
    for (const APInt &x : attr.getValues<APInt>()) r.push_back(x.getSExtValue());
    return r;
  }
  if (const Weight *w = graph.weightOf(v)) {
    // The bytes may sit unaligned in the mapped file: memcpy, not a typed load.
    auto read = [&](auto element) {
      SmallVector<int64_t> r;
      for (int64_t k = 0; k < w->numElements(); ++k) {
        std::memcpy(&element, w->data + size_t(k) * sizeof element, sizeof element);
        r.push_back(int64_t(element));
      }
      return r;
    };
    if (w->dtype == 7) return read(int64_t(0));
    if (w->dtype == 6) return read(int32_t(0));
    return std::nullopt;
  }
  return std::nullopt;
}

const onnx::AttributeProto *NodeImporter::attr(const std::string &name) const {
  for (const auto &a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

static const char *attrTypeName(int t) {
  switch (t) {
  case onnx::AttributeProto::FLOAT: return "FLOAT";
  case onnx::AttributeProto::INT: return "INT";
  case onnx::AttributeProto::STRING: return "STRING";
  case onnx::AttributeProto::TENSOR: return "TENSOR";
  case onnx::AttributeProto::GRAPH: return "GRAPH";
  case onnx::AttributeProto::FLOATS: return "FLOATS";
  case onnx::AttributeProto::INTS: return "INTS";
  case onnx::AttributeProto::STRINGS: return "STRINGS";
  default: return "an unsupported kind";
  }
}

FailureOr<int64_t> NodeImporter::attrInt(const std::string &name, std::optional<int64_t> dflt) {
  const auto *a = attr(name);
  if (!a) {
    if (dflt) return *dflt;
    report("expected attribute '" + name + "', found none");
    return failure();
  }
  if (a->type() != onnx::AttributeProto::INT) {
    report("attribute '" + name + "': expected INT, found " + attrTypeName(a->type()));
    return failure();
  }
  return a->i();
}

FailureOr<float> NodeImporter::attrFloat(const std::string &name, float dflt) {
  const auto *a = attr(name);
  if (!a) return dflt;
  if (a->type() != onnx::AttributeProto::FLOAT) {
    report("attribute '" + name + "': expected FLOAT, found " + attrTypeName(a->type()));
    return failure();
  }
  return a->f();
}

FailureOr<std::string> NodeImporter::attrString(const std::string &name, const std::string &dflt) {
  const auto *a = attr(name);
  if (!a) return dflt;
  if (a->type() != onnx::AttributeProto::STRING) {
    report("attribute '" + name + "': expected STRING, found " + attrTypeName(a->type()));
    return failure();
  }
  return a->s();
}

FailureOr<std::optional<SmallVector<int64_t>>> NodeImporter::attrInts(const std::string &name) {
  const auto *a = attr(name);
  if (!a) return std::optional<SmallVector<int64_t>>();
  if (a->type() != onnx::AttributeProto::INTS) {
    report("attribute '" + name + "': expected INTS, found " + attrTypeName(a->type()));
    return failure();
  }
  return std::optional<SmallVector<int64_t>>(SmallVector<int64_t>(a->ints().begin(), a->ints().end()));
}

LogicalResult NodeImporter::onlyAttrs(std::initializer_list<const char *> known) {
  for (const auto &a : node.attribute()) {
    bool ok = false;
    for (const char *k : known) ok |= a.name() == k;
    if (!ok) {
      std::string list;
      for (const char *k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return error((list.empty() ? std::string("expected no attributes")
                                 : "expected attributes among (" + list + ")") +
                   ", found unknown attribute '" + a.name() + "'");
    }
  }
  return success();
}

FailureOr<int64_t> NodeImporter::normAxis(int64_t axis, int64_t rank, const char *what, bool extra) {
  int64_t r = extra ? rank + 1 : rank;
  int64_t lo = -std::max<int64_t>(r, 1), hi = std::max<int64_t>(r, 1) - 1;
  if (axis < lo || axis > hi) {
    report(std::string(what) + ": expected a value in [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "] (" + (extra ? "output rank " + std::to_string(r) : "rank " + std::to_string(rank)) +
           "), found " + std::to_string(axis));
    return failure();
  }
  return axis < 0 ? axis + r : axis;
}

FailureOr<SmallVector<int64_t>> NodeImporter::normAxes(ArrayRef<int64_t> axes, int64_t rank,
                                                       const char *what, bool extra) {
  SmallVector<int64_t> r;
  for (int64_t a : axes) {
    auto n = normAxis(a, rank, what, extra);
    if (failed(n)) return failure();
    if (llvm::is_contained(r, *n)) {
      report(std::string(what) + ": expected distinct axes, found " + std::to_string(a) + " twice");
      return failure();
    }
    r.push_back(*n);
  }
  return r;
}

/// An op verifier's message in the importer's words: "'bmc.where' op operand
/// #0 must be X, but got 'T'" -> "expected operand #0 to be X, found 'T'".
static std::string verifierMessage(StringRef msg) {
  if (msg.starts_with("'")) {
    size_t op = msg.find("' op ");
    if (op != StringRef::npos) msg = msg.drop_front(op + 5);
  }
  size_t must = msg.find(" must be "), got = msg.rfind(", but got ");
  if (must == StringRef::npos || got == StringRef::npos || got < must) return msg.str();
  return ("expected " + msg.take_front(must) + " to be " +
          msg.slice(must + 9, got) + ", found " + msg.drop_front(got + 10)).str();
}

FailureOr<Operation *> NodeImporter::create(StringRef opName, ValueRange operands,
                                            ArrayRef<NamedAttribute> attrs, unsigned numResults) {
  for (auto [i, v] : llvm::enumerate(operands))
    if (!v) {
      report("internal: operand " + std::to_string(i) + " of " + opName.str() + " is missing");
      return failure();
    }
  OperationState st(loc, opName);
  st.addOperands(operands);
  st.addAttributes(attrs);
  st.addTypes(SmallVector<Type>(numResults, NoneType::get(ctx)));
  Operation *op = b.create(st);
  auto iface = dyn_cast<InferTypeOpInterface>(op);
  SmallVector<Type> types;
  std::string diag;
  LogicalResult inferred = failure();
  {
    ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
      if (diag.empty()) diag = d.str();
      return success();
    });
    inferred = iface ? iface.inferReturnTypes(ctx, loc, op->getOperands(), op->getAttrDictionary(),
                                              op->getPropertiesStorage(), op->getRegions(), types)
                     : failure();
  }
  if (failed(inferred) || types.size() != numResults) {
    op->erase();
    // Messages from inference start with the op name ("bmc.matmul: ...").
    size_t colon = diag.find(": ");
    report(colon == std::string::npos ? (diag.empty() ? "cannot infer the result type" : diag)
                                     : diag.substr(colon + 2));
    return failure();
  }
  for (unsigned i = 0; i < numResults; ++i) op->getResult(i).setType(types[i]);
  // Operand constraints (e.g. an i1 condition) are checked by the op's
  // verifier, not by type inference: run it here so that the error names
  // this node instead of surfacing in the final module verification.
  diag.clear();
  LogicalResult verified = failure();
  {
    ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
      if (diag.empty()) diag = d.str();
      return success();
    });
    verified = mlir::verify(op, /*verifyRecursively=*/false);
  }
  if (failed(verified)) {
    op->erase();
    report(verifierMessage(diag));
    return failure();
  }
  return op;
}

Value NodeImporter::constI64(ArrayRef<int64_t> values, bool scalar) {
  auto t = RankedTensorType::get(scalar ? ArrayRef<int64_t>{} : ArrayRef<int64_t>{(int64_t)values.size()},
                                 b.getI64Type());
  return b.create<arith::ConstantOp>(loc, DenseIntElementsAttr::get(t, values));
}

Value NodeImporter::constScalar(Type et, double value) {
  auto t = RankedTensorType::get({}, et);
  TypedAttr a = isa<FloatType>(et) ? TypedAttr(b.getFloatAttr(et, value))
                                   : TypedAttr(b.getIntegerAttr(et, (int64_t)value));
  return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(t, a));
}

LogicalResult NodeImporter::setOutputs(ValueRange values) {
  // Optional outputs that the graph leaves unnamed need no value.
  for (int i = (int)values.size(); i < node.output_size(); ++i)
    if (!node.output(i).empty())
      return error("expected at most " + std::to_string(values.size()) + " outputs in use, found output " +
                   std::to_string(i) + " ('" + node.output(i) + "')");
  for (int i = 0; i < node.output_size(); ++i) {
    const std::string &name = node.output(i);
    if (name.empty()) continue;
    if (graph.values.count(name))
      return error("output '" + name + "' is already defined (ONNX values are assigned once)");
    graph.values[name] = values[i];
  }
  return success();
}

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

GraphImporter::GraphImporter(MLIRContext &ctx, const OnnxModel &model, const ImportOptions &opts,
                             WeightStore &weights)
    : ctx(ctx), model(model), opts(opts), weights(weights), builder(&ctx) {
  size_t s = model.path.find_last_of('/');
  fileName = s == std::string::npos ? model.path : model.path.substr(s + 1);
  path = model.path;
}

const Weight *GraphImporter::weightOf(Value v) const {
  if (auto w = v.getDefiningOp<mlir::bmc::WeightOp>()) return weights.find(w.getName().str());
  return nullptr;
}

FailureOr<Value> GraphImporter::importTensor(Weight w, Location loc, std::string &why) {
  Type et = onnxElementType(&ctx, w.dtype);
  if (!et) {
    why = std::string("expected a numeric tensor, found ") + dtypeName(w.dtype);
    return failure();
  }
  auto type = RankedTensorType::get(w.dims, et);
  int64_t n = w.numElements();
  bool isInt = !isa<FloatType>(et);
  if (n <= opts.inlineElementLimit || (isInt && n <= opts.inlineIntElementLimit)) {
    DenseElementsAttr attr;
    if (et.isInteger(1)) {
      SmallVector<bool> bits(n);
      for (int64_t i = 0; i < n; ++i) bits[i] = w.data[i] != 0;
      attr = DenseElementsAttr::get(type, bits);
    } else if (isa<IntegerType>(et) && !cast<IntegerType>(et).isSignless()) {
      // arith.constant wants signless integers; the signedness lives in the
      // tensor type of a bmc.weight instead.
      goto asWeight;
    } else {
      bool splat = false;
      ArrayRef<char> raw(reinterpret_cast<const char *>(w.data), w.bytes);
      if (!DenseElementsAttr::isValidRawBuffer(type, raw, splat)) {
        why = "invalid raw data for " + std::to_string(n) + " elements";
        return failure();
      }
      attr = DenseElementsAttr::getFromRawBuffer(type, raw);
    }
    return builder.create<arith::ConstantOp>(loc, attr).getResult();
  }
asWeight:
  std::string name = w.name;
  weights.add(std::move(w));
  return builder.create<mlir::bmc::WeightOp>(loc, type, builder.getStringAttr(name)).getResult();
}

static OpTable &opTable() {
  static OpTable table = [] {
    OpTable t;
    registerElementwiseOps(t);
    registerShapeOps(t);
    registerTensorOps(t);
    registerNNOps(t);
    registerAttentionOps(t);
    registerQuantOps(t);
    registerOrtDefaultDomainOps(t);
    return t;
  }();
  return table;
}

static OpTable &contribTable() {
  static OpTable table = [] {
    OpTable t;
    registerContribOps(t);
    return t;
  }();
  return table;
}

bool GraphImporter::run(ModuleOp module, std::string &err) {
  const onnx::GraphProto &g = model.proto->graph();
  auto fail = [&](const std::string &msg) {
    err = error.empty() ? path + ": " + msg : error;
    return false;
  };

  int64_t opset = -1;
  std::map<std::string, int64_t> domains;
  for (const auto &o : model.proto->opset_import()) {
    domains[o.domain()] = o.version();
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  }
  if (opset < 0) return fail("expected an opset_import for the default ONNX domain, found none");
  // Old opsets are accepted: an op whose signature changed since rejects
  // the attributes or inputs of its old form with its own diagnostic.
  // Opsets 22-24 changed the ops bmc supports only by new element types
  // (which import refuses by type) and new attributes (refused by name);
  // 23 added Attention.
  if (opset < 1 || opset > 24)
    return fail("expected an ONNX opset between 1 and 24, found " + std::to_string(opset));

  Location fileLoc = FileLineColLoc::get(&ctx, fileName, 0, 0);
  builder.setInsertionPointToEnd(module.getBody());
  auto func = builder.create<func::FuncOp>(fileLoc, "main", builder.getFunctionType({}, {}));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);

  std::set<std::string> initNames;
  for (const auto &t : g.initializer()) initNames.insert(t.name());

  // Graph inputs.
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  for (const auto &vi : g.input()) {
    if (initNames.count(vi.name())) continue; // IR < 4: initializers listed as inputs
    std::string where = "graph input '" + vi.name() + "'";
    if (!vi.type().has_tensor_type())
      return fail(where + ": expected a tensor type, found " +
                  (vi.type().has_sequence_type()        ? "a sequence"
                   : vi.type().has_map_type()           ? "a map"
                   : vi.type().has_optional_type()      ? "an optional"
                   : vi.type().has_sparse_tensor_type() ? "a sparse tensor"
                                                        : "no type"));
    const auto &tt = vi.type().tensor_type();
    Type et = onnxElementType(&ctx, tt.elem_type());
    if (!et)
      return fail(where + ": expected a numeric element type (FLOAT, FLOAT16, DOUBLE, INT8..INT64, "
                  "UINT8..UINT64, BOOL), found " + dtypeName(tt.elem_type()));
    if (!tt.has_shape())
      return fail(where + ": expected a ranked tensor (a shape), found an unranked one");
    SmallVector<int64_t> dims;
    SmallVector<Attribute> dimNames;
    for (const auto &d : tt.shape().dim()) {
      if (d.has_dim_value() && d.dim_value() >= 0) dims.push_back(d.dim_value());
      else dims.push_back(ShapedType::kDynamic);
      dimNames.push_back(builder.getStringAttr(d.has_dim_param() ? d.dim_param() : ""));
    }
    auto type = RankedTensorType::get(dims, et);
    argTypes.push_back(type);
    argAttrs.push_back(builder.getDictionaryAttr(
        {builder.getNamedAttr("bmc.name", builder.getStringAttr(vi.name())),
         builder.getNamedAttr("bmc.dims", builder.getArrayAttr(dimNames))}));
    if (values.count(vi.name())) return fail(where + ": defined twice");
    values[vi.name()] = entry->addArgument(type, fileLoc);
  }

  // Initializers.
  for (int i = 0; i < g.initializer_size(); ++i) {
    Weight w;
    std::string why;
    if (!resolveInitializer(model, i, w, why)) return fail(why);
    std::string name = w.name;
    Location loc = NameLoc::get(builder.getStringAttr(name), fileLoc);
    auto v = importTensor(std::move(w), loc, why);
    if (failed(v)) return fail("initializer '" + name + "': " + why);
    values[name] = *v;
  }

  // Nodes, in order (ONNX graphs are topologically sorted).
  OpTable &table = opTable();
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto &n = g.node(i);
    int64_t nodeOpset = opset;
    const bool contrib = n.domain() == "com.microsoft";
    if (!n.domain().empty() && n.domain() != "ai.onnx" && !contrib) {
      NodeImporter ni(*this, n, i, domains.count(n.domain()) ? domains[n.domain()] : 0);
      ni.report("expected an operator of the default ONNX domain or com.microsoft, found domain '" + n.domain() +
                "', which bmc does not support");
      return fail("");
    }
    if (contrib) nodeOpset = domains.count(n.domain()) ? domains[n.domain()] : 1;
    NodeImporter ni(*this, n, i, nodeOpset);
    for (int k = 0; k < n.input_size(); ++k)
      if (!n.input(k).empty() && !values.count(n.input(k))) {
        ni.report("expected input '" + n.input(k) + "' to be a graph input, an initializer or an "
                 "earlier node's output, found nothing of that name (missing initializer?)");
        return fail("");
      }
    // 4-bit codes (INT4 / UINT4 initializers) have one reader: DequantizeLinear.
    if (n.op_type() != "DequantizeLinear" || contrib)
      for (int k = 0; k < n.input_size(); ++k)
        if (!n.input(k).empty())
          if (auto t = dyn_cast<RankedTensorType>(values[n.input(k)].getType());
              t && t.getElementType().isInteger(4)) {
            ni.report("input " + std::to_string(k) + " ('" + n.input(k) +
                      "'): expected a 4-bit tensor (INT4 / UINT4) to be read only by DequantizeLinear, found it "
                      "read by " + n.op_type());
            return fail("");
          }
    OpTable &ops = contrib ? contribTable() : table;
    auto it = ops.find(n.op_type());
    if (it == ops.end()) {
      ni.report("expected an operator bmc supports, found unsupported operator '" + n.op_type() + "'" +
                (contrib ? " of domain com.microsoft (docs/OPS.md lists the contrib ops bmc imports)" : ""));
      return fail("");
    }
    if (failed(it->second(ni))) {
      if (error.empty()) ni.report("import failed");
      return fail("");
    }
  }

  // Outputs.
  SmallVector<Value> results;
  SmallVector<DictionaryAttr> resAttrs;
  for (const auto &vi : g.output()) {
    Value v = values.lookup(vi.name());
    if (!v) return fail("graph output '" + vi.name() + "': expected a value of that name, found none");
    results.push_back(v);
    resAttrs.push_back(builder.getDictionaryAttr(
        {builder.getNamedAttr("bmc.name", builder.getStringAttr(vi.name()))}));
  }
  builder.create<func::ReturnOp>(fileLoc, results);
  // Argument types as the ops left them (attention ops refine a cache's symbolic heads/head size).
  func.setFunctionType(builder.getFunctionType(entry->getArgumentTypes(), ValueRange(results).getTypes()));
  for (auto &[index, role] : argRoles) {
    NamedAttrList attrs(argAttrs[index]);
    attrs.set("bmc.role", builder.getStringAttr(role));
    argAttrs[index] = attrs.getDictionary(&ctx);
  }
  func.setAllArgAttrs(argAttrs);
  func.setAllResultAttrs(resAttrs);
  module->setAttr("bmc.source", builder.getStringAttr(fileName));
  module->setAttr("bmc.opset", builder.getI64IntegerAttr(opset));
  if (maxPositions > 0) module->setAttr("bmc.max_positions", builder.getI64IntegerAttr(maxPositions));

  std::string diag;
  {
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      if (!diag.empty()) return success();
      // Node locations are NameLoc(node, NameLoc("Op, opset N", file)).
      auto node = dyn_cast<NameLoc>(d.getLocation());
      auto op = node ? dyn_cast<NameLoc>(node.getChildLoc()) : NameLoc();
      if (op)
        diag = path + ": node '" + escapeControl(node.getName().str(), true) + "' (" + op.getName().str() + "): " +
               verifierMessage(d.str());
      else
        diag = path + ": the imported IR does not verify: " + d.str();
      return success();
    });
    if (failed(verify(module))) {
      err = diag;
      return false;
    }
  }
  return true;
}

bool importOnnxFile(MLIRContext &ctx, const std::string &path, const ImportOptions &opts,
                    ImportedModel &out, std::string &error) {
  loadImporterDialects(ctx);
  std::unique_ptr<OnnxModel> model;
  try {
    model = loadOnnxModel(path, error);
  } catch (const std::exception &e) {
    error = path + ": not an ONNX model: " + e.what();
  }
  // Names from the file end up in messages: keep each one line.
  if (!model) {
    error = escapeControl(error);
    return false;
  }
  // Optimum's merged decoder: its If becomes the with-past branch's nodes.
  std::vector<std::string> notes;
  bool resolved = false;
  try {
    resolved = resolveMergedDecoder(*model, notes, error);
  } catch (const std::exception &e) {
    error = path + ": import failed: " + e.what();
  }
  if (!resolved) {
    error = escapeControl(error);
    return false;
  }
  auto weights = std::make_shared<WeightStore>();
  OpBuilder b(&ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  GraphImporter gi(ctx, *model, opts, *weights);
  bool ok = false;
  try {
    ok = gi.run(*module, error);
  } catch (const std::exception &e) {
    error = gi.path + ": import failed: " + e.what();
    ok = false;
  }
  if (!ok) {
    error = escapeControl(error);
    return false;
  }
  out.module = std::move(module);
  out.weights = weights;
  out.notes = std::move(notes);
  return true;
}

} // namespace bmc
