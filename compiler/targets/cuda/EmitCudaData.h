//===- EmitCudaData.h - bmck.concat, gather, copy -> CUDA C -----*- C++ -*-===//
//
// The CUDA form of the copying data-movement kernels (the view ops, slice /
// split / squeeze / unsqueeze / expand / transpose / reshape / flatten, have
// no code): one __global__ per
// distinct configuration, a thread per element of the new output view in a
// grid-stride loop (the elementwise plan), views of rank <= 4 as bmc_view4
// (any strides and offsets), elements f32, f16, bf16, i32, i64 and i1 copied
// as their bytes; a view of rank > 4 is passed with its statically-1
// dimensions removed (foldedDims). bmck.concat: (element width, rank, axis, inputs); the launch
// line checks the sizes agree. bmck.gather: (element width, data rank,
// indices type and rank, axis); negative indices wrap as ONNX's, an index
// still out of range is recorded in the launcher's fault word and the run
// fails with the CPU's error (runtime/device/cuda/data.cuh). bmck.copy: (element width, rank);
// the launch line checks out's sizes are x's. bmck.range: (element type), a
// thread per element computing start + i * delta from two host scalars.
// bmc.constant_of_shape: (element width, rank, the value's bytes), a thread
// per element writing the value.
// Anything else is left without a form, by name.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_TARGETS_CUDA_EMITCUDADATA_H
#define BMC_COMPILER_TARGETS_CUDA_EMITCUDADATA_H

#include "dialects/BmcDialect.h"
#include "dialects/KernelDialect.h"

#include "llvm/Support/raw_ostream.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::bmc::cuda {

/// The dimensions of a view of `type` as the CUDA form passes it: all of
/// them for a rank <= 4; for a higher rank those not statically 1 (an
/// element's index there is 0, so the view has the same elements in the
/// same order), `keep` always kept. A program writes a kernel result of rank
/// > 4 at these sizes (EmitCudaProgram.cpp). More than 4 left: no form.
std::vector<int64_t> foldedDims(bmck::ViewType type, int64_t keep = -1);

class DataEmitter {
public:
  /// Records the op's configuration; a rank above 4 or an element type
  /// without a form is left under `noForm` ("bmck.gather (rank 5)"), as a
  /// quantized product is.
  LogicalResult add(bmck::ConcatOp op, std::string &noForm);
  LogicalResult add(bmck::GatherOp op, std::string &noForm);
  LogicalResult add(bmck::CopyOp op, std::string &noForm);
  /// bmck.range of i32 / i64 (start and delta as i64 host scalars, the
  /// length out's); other element types are left ("bmck.range (f32)").
  LogicalResult add(bmck::RangeOp op, std::string &noForm);
  /// bmc.check_equal of device data (not a host check, EmitCudaProgram.h):
  /// i32 / i64 input and expected of rank <= 4, expected broadcast; one
  /// thread compares in order and writes the first mismatch into `out`, the
  /// program's flag [1, found, expected]. Other types are left
  /// ("bmc.check_equal (f32)").
  LogicalResult add(bmc::CheckEqualOp op, std::string &noForm);
  /// bmc.constant_of_shape whose values a kernel reads (its shape is a host
  /// vector: the program sizes out from it): out of rank <= 4 and an element
  /// type with a storage filled with the value's bytes, a constant in the
  /// kernel. Others are left ("bmc.constant_of_shape (rank 5)").
  LogicalResult add(bmc::ConstantOfShapeOp op, std::string &noForm);
  std::string fillSummary() const;
  /// bmc.gather_nd with batch_dims 0 and data, indices and out of rank <= 4
  /// (indices' last dimension static): a thread per element of out reads its
  /// index tuple, wraps negative indices as ONNX's and records one still out
  /// of range as bmck.gather does (the fault word, data.cuh). Others are left
  /// ("bmc.gather_nd (rank 5)", "bmc.gather_nd (batch_dims 1)").
  LogicalResult add(bmc::GatherNDOp op, std::string &noForm);
  std::string gatherNDSummary() const;
  std::string checkSummary() const;
  /// The configuration the last add() with a form recorded (its bmc-launch "config").
  /// "N bmck.concat (k configurations)" / "N bmck.gather (k configurations)".
  std::string concatSummary() const;
  std::string gatherSummary() const;
  std::string copySummary() const;
  std::string rangeSummary() const;
  int lastConfig() const { return last_; }
  /// The kernels with their bmc-launch lines.
  void write(llvm::raw_ostream &os) const;

  struct Config {
    std::string params;  // "bmc_view4 x0, ..., bmc_view4 out"
    std::string body;    // the kernel's body
    std::string comment; // for the reader
    std::vector<std::string> names; // the parameters, in order
    std::vector<std::string> scalars; // those of them passed as i64 host scalars (the others: view4)
    // Records an index out of range in the launcher's fault word: two more
    // parameters after `names`, `long long *fault, long long fault_site`
    // (bmc-launch "from": "fault"; data.cuh's bmc_data_index_fault).
    bool faults = false;
    struct Check {
      std::vector<std::string> lhs; // a sum of references
      std::string rhs;              // a reference, or "" for `value`
      int64_t value;
      std::string error;
      std::string cmp = "=="; // or "!=" (the launch line's check language)
    };
    std::vector<Check> checks;
  };

private:
  struct Family {
    std::map<std::string, std::pair<Config, int>> configs; // by params + body
    std::vector<std::string> order;
    int ops = 0;
  };
  int record(Family &f, Config c);
  LogicalResult addFolded(bmck::ConcatOp op, std::string &noForm); // rank > 4
  void write(llvm::raw_ostream &os, const Family &f, const char *op, const char *name) const;
  Family concat_, gather_, copy_, range_, check_, fill_, gatherND_;
  int last_ = -1;
};

} // namespace mlir::bmc::cuda

#endif
