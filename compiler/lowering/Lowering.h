//===- Lowering.h - bmc tensors -> loops, kernel calls, LLVM ----*- C++ -*-===//
//
// Lowers `func.func @main` on bmc tensors into
//     llvm-compatible `func.func @bmc_main(%ctx: !llvm.ptr, %io: !llvm.ptr) -> i32`
// built from scf loops, arith/math scalars, llvm.getelementptr/load/store and
// calls into the runtime (bmc/abi/entry.h) and its kernels.
//
// Every tensor value becomes a Buf: a base pointer, an element offset, and
// i64 sizes and strides, so that transposes, slices, splits, broadcasts and
// views of a KV cache cost nothing. Scalars (dims, shape arithmetic) are i64.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_LOWERING_H
#define BMC_COMPILER_LOWERING_H

#include "compiler/WeightPlan.h"
#include "dialects/BmcDialect.h"
#include "dialects/KernelDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

#include <functional>
#include <map>

namespace bmc {

struct LoweringOptions {
  /// Use the plain reference kernels' semantics only (loops in generated
  /// code) instead of calling the optimised kernels: for testing.
  bool referenceOnly = false;
  /// 8 or 4: matmuls with constant 2-D fp32 weights read them quantized to
  /// that many bits (bmc_matmul_q8_f32 / _q4_f32; their reference kernels
  /// when referenceOnly). 0: fp32.
  int quantBits = 0;
  /// BMC_KV_BF16 / BMC_KV_F16: matmuls with constant 2-D fp32 weights read
  /// them rounded to that 16-bit type (bmc_matmul_bf16_f32 / _f16_f32). 0:
  /// per quantBits. Weights that are 16-bit in the model (a Cast of a
  /// FLOAT16 / BFLOAT16 initializer) keep their type whatever this says.
  int weight16 = 0;
  /// Quantized matmuls (quantBits, or MatMulNBits weights) quantize their
  /// activations to int8 and run integer dot products (bmc_matmul_q8_a8 /
  /// _q4_a8 on the dot layouts).
  bool int8Activations = false;
  /// The decoder's logits output, if any: when the runtime asks for the
  /// last token's logits only (bmc_rt_last_token_logits), the matmul that
  /// produces them runs on the last position of each sequence.
  int logitsOutput = -1;
};

namespace lowering {

using namespace mlir;

struct Buf {
  Value ptr;                   // !llvm.ptr to element 0 of the underlying storage
  Value offset;                // i64 element offset of the view's origin
  SmallVector<Value, 4> sizes; // i64
  SmallVector<Value, 4> strides;
  Type elem;                   // storage element type (signless)
  bool isUnsigned = false;
  bool contiguous = false;     // row-major dense from `offset`, statically known
  int allocId = -1;            // the arena allocation it views (memory planning)
  int64_t rank() const { return sizes.size(); }
};

class Lowerer {
public:
  Lowerer(ModuleOp module, func::FuncOp src, WeightPlan &plan, const LoweringOptions &opts);
  /// Builds @bmc_main and erases `src`. Errors are emitted at op locations.
  LogicalResult run();

  // --- infrastructure (Lowerer.cpp) -------------------------------------
  ModuleOp module;
  func::FuncOp src;
  WeightPlan &plan;
  const LoweringOptions &opts;
  OpBuilder b;
  Location loc;
  Value ctx, io, pool, weightsBase;
  DenseMap<Value, Buf> bufs;
  /// Where weights and constants are materialised (after the inputs are
  /// read, before any op's code); null outside run().
  Operation *prologueEnd = nullptr;
  /// The decoder layer (bmc-mark-layers) of the op being lowered, -1 for
  /// none, and where its code begins.
  int64_t curLayer = -1;
  Operation *layerOpStart = nullptr;
  /// Views of values from outside a layer, as that layer's code sees them:
  /// their dynamic offset, sizes and strides copied once per layer, so that
  /// no layer's code folds on one value standing for two of them (layer 0's
  /// input shares the graph inputs' size values, layer 1's does not) and
  /// every layer's code comes out alike (outlineLayers).
  std::map<std::pair<int64_t, const void *>, Buf> layerBufs; // node-based: references stay valid
  DenseMap<Value, Value> scalars;
  Type i64, i32, i1, f32, ptrTy;

  Value c(int64_t v);
  Value cst(Type t, double v);
  Value add(Value a, Value x);
  Value sub(Value a, Value x);
  Value mul(Value a, Value x);
  Value sdiv(Value a, Value x);
  Value smax(Value a, Value x);
  Value smin(Value a, Value x);
  Value eq(Value a, Value x);
  Value select(Value c, Value a, Value x);
  std::optional<int64_t> constOf(Value v);

  Value str(StringRef s);
  func::CallOp call(StringRef name, TypeRange results, ValueRange args);
  /// Emits `if (!ok) bmc_rt_fail(msg, a, b)`.
  void check(Value ok, StringRef msg, Value a = {}, Value x = {});
  /// `found` == `expected` (skipped when they are one value or equal
  /// constants), else fails with `format`, whose {0} is the value found and
  /// {1} the one expected.
  void checkFound(Value found, Value expected, StringRef format);
  /// checkFound with the operands the other way round (the comparison and
  /// bmc_rt_fail's arguments in this order); {0} in `format` is still the
  /// value found and {1} the one expected.
  void checkExpected(Value expected, Value found, StringRef format);

  Buf alloc(Type elem, bool isUnsigned, ArrayRef<Value> sizes);
  /// The buffer an op computes `result` into: if @main returns `result`, the
  /// runtime's output buffer itself (written once, not into the arena and
  /// then copied out: concat mode's `present` is the whole cache); else
  /// alloc(). The op must write every element of it.
  Buf allocResult(Value result, Type elem, bool isUnsigned, ArrayRef<Value> sizes);
  /// Returned values already in their output buffer, with that output's index.
  DenseMap<Value, int64_t> directOutputs;
  /// Calls bmc_rt_output for output `index` of shape `sizes`; its data pointer.
  Value outputBuffer(int64_t index, Type elem, ArrayRef<Value> sizes);
  Buf fromPointer(Value ptr, Type elem, bool isUnsigned, ArrayRef<Value> sizes);
  static SmallVector<Value, 4> rowMajorStrides(Lowerer &l, ArrayRef<Value> sizes);
  Value numElements(ArrayRef<Value> sizes);
  Value elemPtr(const Buf &buf, ArrayRef<Value> ivs);
  Value viewPtr(const Buf &buf); // pointer to the view's origin
  Value load(const Buf &buf, ArrayRef<Value> ivs);   // widened to the compute type
  void store(Value v, const Buf &buf, ArrayRef<Value> ivs);
  Type computeType(Type storage);
  void loops(ArrayRef<Value> ubs, const std::function<void(ArrayRef<Value>)> &body);
  Value forLoop(Value ub, Value init, const std::function<Value(Value iv, Value acc)> &body);
  void copy(const Buf &from, const Buf &to);
  Buf contiguous(const Buf &buf);
  Buf broadcastView(const Buf &buf, ArrayRef<Value> outSizes);
  Buf reshapeView(const Buf &buf, ArrayRef<Value> sizes);
  /// Sizes of a broadcast of several operands (with run-time checks).
  SmallVector<Value, 4> broadcastSizes(ArrayRef<Buf> operands, RankedTensorType result, StringRef what);

  Buf &buf(Value tensor);
  Buf &sourceBuf(Value tensor); // buf() without the per-layer copy
  /// bmck.to_view / bmck.to_tensor results -> the value each wraps.
  DenseMap<Value, Value> seams;
  /// `v`, or what the seams it comes through wrap: buf() looks that up.
  Value throughSeams(Value v) const;
  Value scalar(Value v);
  Buf weightBuf(mlir::bmc::WeightOp w);
  Buf constantBuf(DenseElementsAttr attr);
  /// Integer contents of a small tensor operand, when known at compile time.
  std::optional<SmallVector<int64_t>> knownInts(Value tensor);
  /// Element i of a 1-D integer tensor operand as i64 (compile-time or loaded).
  Value element(Value tensor, int64_t i);

  // --- op families -------------------------------------------------------
  LogicalResult lowerOp(Operation *op);
  /// bmck.elementwise: one loop nest over the group's result, its ops
  /// evaluated per element (LowerElementwise.cpp).
  LogicalResult lowerElementwiseGroup(mlir::bmck::ElementwiseOp group);
  /// An op of a bmck.elementwise's body, emitted where the group stands:
  /// the checks of its broadcast, and for the root the loop nest.
  LogicalResult lowerGroupMember(Operation *op, bool root);
  /// Values of a group's ops computed inside the root's loop (fusion).
  DenseMap<Value, Operation *> lazy;
  Value scalarOp(Operation *op, ArrayRef<Value> args, Type resultStorage);
  /// bmck.reduce, bmck.softmax and bmck.norm: loops (LowerNorm.cpp).
  LogicalResult lowerReduce(mlir::bmck::ReduceOp op);
  LogicalResult lowerSoftmax(mlir::bmck::SoftmaxOp op);
  LogicalResult lowerNorm(mlir::bmck::NormOp op);
  /// bmck.matmul and bmck.gemm: a packed-weight, strided or loop product
  /// (LowerMatMul.cpp).
  LogicalResult lowerMatMul(mlir::bmck::MatMulOp op);
  LogicalResult lowerGemm(mlir::bmck::GemmOp op);
  /// bmck.attention: one fused-kernel call (LowerAttention.cpp).
  LogicalResult lowerAttention(mlir::bmck::AttentionOp op);
  LogicalResult lowerData(Operation *op);
  /// bmck.slice / split / concat / gather / squeeze / unsqueeze / expand /
  /// transpose / reshape / flatten, and the bmc ops of those names that
  /// bmc-lower-to-kernels leaves at tensor level (LowerData.cpp).
  template <typename OpT> LogicalResult lowerSlice(OpT op);
  template <typename OpT> LogicalResult lowerSplit(OpT op);
  template <typename OpT> LogicalResult lowerConcat(OpT op);
  template <typename OpT> LogicalResult lowerGather(OpT op);
  template <typename OpT> LogicalResult lowerSqueeze(OpT op);
  template <typename OpT> LogicalResult lowerUnsqueeze(OpT op);
  template <typename OpT> LogicalResult lowerExpand(OpT op);
  template <typename OpT> LogicalResult lowerTranspose(OpT op);
  template <typename OpT> LogicalResult lowerReshape(OpT op);
  template <typename OpT> LogicalResult lowerFlatten(OpT op);
  /// bmck.copy: a contiguous buffer, made by the reshape reading it (LowerData.cpp).
  LogicalResult lowerCopy(mlir::bmck::CopyOp op);
  /// bmck.range, and a bmc.range of index elements left at tensor level (LowerData.cpp).
  template <typename OpT> LogicalResult lowerRange(OpT op);
  /// GatherND, ScatterND, NonZero, CumSum, the check_equal guard (LowerIndex.cpp).
  LogicalResult lowerIndex(Operation *op);
  /// bmck.kv_rows, bmck.kv_append and bmc.kv_capacity (LowerKV.cpp).
  LogicalResult lowerKV(Operation *op);

  /// Packed-weight matmul: C[M,N] = A[M,K] * B (+ bias). `rhs` is the
  /// tensor-level value the product's right operand views. Returns false if
  /// it is not a weight usable by the packed kernel.
  bool tryPackedMatMul(Value rhs, bool transB, const Buf &a2d, const Buf &c2d, Value bias);
  /// A Transpose or Cast between a 16-bit weight and the packed matmuls
  /// that read it (and nothing else): not lowered, the packed 16-bit matrix
  /// stands for it.
  static bool isNarrowWeightView(Operation *op);
  void matmulLoops(const Buf &a, const Buf &bm, const Buf &out, Value batch, bool accumulate);

  // --- memory planning (MemoryPlan.cpp) ----------------------------------
  struct AllocRecord {
    Value bytes;
    func::CallOp call;
    int64_t first = 0, last = 0; // op indices of the allocation and its last use
  };
  std::vector<AllocRecord> allocs;
  int64_t opIndex = 0;
  DenseSet<Value> inputScalars; // dims read from the io block: known before any op runs
  /// Assigns arena slots by liveness and computes their offsets once per
  /// call, before any op runs; allocations whose size depends on data stay
  /// bump-allocated. `anchor` marks where that prologue goes.
  void planMemory(Operation *anchor);

private:
  llvm::StringMap<std::string> strings_;
};

} // namespace lowering

/// Cuts `f`'s entry block into segments of about `maxOps` operations, each
/// outlined into a non-inlined function (keeps LLVM code generation linear).
void outlineSegments(mlir::func::FuncOp f, int64_t maxOps);

/// Outlines each top-level op of `f` that has regions (the loop nests left
/// around the layer calls: mask, rotary tables, embedding, final norm) into a
/// non-inlined function of its own. What stays is straight-line code: LLVM's
/// loop passes (Loop Strength Reduction) no longer meet the hundreds of size
/// computations of the memory plan in one function with loops. Returns a
/// one-line remark (empty if there were none).
std::string outlineLoops(mlir::func::FuncOp f);

/// Outlines the code of each decoder layer (ops marked by bmc-mark-layers)
/// into a function, one per distinct body: layers that differ only in
/// scalar constants (weight offsets) and string addresses share one that
/// takes those as arguments. Removes the marks. Returns a one-line remark
/// (empty if there were no layers).
std::string outlineLayers(mlir::func::FuncOp f);

/// Lowers @main of `module` in place. `plan` collects the weight layout.
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module, WeightPlan &plan,
                                       const LoweringOptions &opts);

} // namespace bmc

#endif
