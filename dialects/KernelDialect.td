//===- KernelDialect.td - the bmck kernel-level dialect ----*- tablegen -*-===//
//
// The kernel-level form between the bmc tensor graph and the targets' code
// (docs/DESIGN.md, "Lowering"): ops on strided views, each one a kernel a
// target emits on its own (a call on the CPU, one __global__ on CUDA).
//
//===----------------------------------------------------------------------===//

#ifndef BMCK_DIALECT
#define BMCK_DIALECT

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Bmck_Dialect : Dialect {
  let name = "bmck";
  let summary = "Target-independent kernels on strided views";
  let description = [{
    What `--bmc-lower-to-kernels` produces from the bmc tensor graph, one op
    family at a time: values are `!bmck.view`s (a base pointer, an element
    offset, sizes and strides, all known at run time), view ops cost no code,
    and every other op is one kernel with explicit operands, so that the CPU
    emitter (compiler/lowering) and a CUDA emitter share everything above
    them. Families not yet moved stay at tensor level; `bmck.to_view` and
    `bmck.to_tensor` are the seams between the two forms.
  }];
  let cppNamespace = "::mlir::bmck";
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::bmc::BmcDialect"];
}

class Bmck_Op<string mnemonic, list<Trait> traits = []>
    : Op<Bmck_Dialect, mnemonic, traits>;

def Bmck_ViewType : TypeDef<Bmck_Dialect, "View"> {
  let mnemonic = "view";
  let summary = "a strided view: base pointer, element offset, sizes, strides";
  let description = [{
    The storage a kernel reads or writes: element `(i0, ..., in)` is at
    `base + offset + sum(ik * stride_k)`, in elements of the element type
    (the storage type: a bf16 KV cache is a view of bf16). The type holds the
    rank, the sizes known at compile time (`?` for the others) and the element
    type; the offset and the strides are always run-time values, as in the
    kernels' C ABI (bmc/abi/kernels.h), because the views that matter most
    have strides that change at run time (a KV cache's row stride is its
    capacity).

    Example: `!bmck.view<?x2x?x16xf32>`, the valid rows of an f32 KV cache of
    2 heads of 16.
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$shape, "::mlir::Type":$elementType);
  let assemblyFormat = "`<` custom<ViewShape>($shape, $elementType) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRank() const { return getShape().size(); }
    bool isDynamicDim(unsigned i) const { return ::mlir::ShapedType::isDynamic(getShape()[i]); }
    /// The view of a tensor's storage: the same sizes and element type.
    static ViewType of(::mlir::RankedTensorType t) {
      return get(t.getContext(), t.getShape(), t.getElementType());
    }
  }];
}

#endif // BMCK_DIALECT
