//===- MergedDecoder.h - Optimum's merged decoder: resolve its If -*- C++ -*-===//
//
// Optimum's merge_decoders (optimum/onnx/graph_transformations.py) writes
// decoder_model_merged.onnx: one graph whose only real node is
//
//   If(use_cache_branch) then_branch = the with-past decoder
//                        else_branch = the decoder without past
//
// with the large initializers shared in the outer graph, the small ones
// (scalars, 1-D int shapes) kept in each branch, and `use_cache_branch` (bool
// [1]) a graph input. The with-past decoder also serves the prefill (with an
// empty past), so bmc keeps the then_branch: it is inlined in place of the If
// (outer-scope references kept, names that would clash renamed, the If's
// outputs bound to the branch's) and `use_cache_branch` stops being an input:
// bmc feeds it true itself. An If whose condition is anything else is refused
// naming the node: bmc never picks a branch it cannot justify.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_FRONTEND_MERGEDDECODER_H
#define BMC_FRONTEND_MERGEDDECODER_H

#include <string>
#include <vector>

namespace bmc {

struct OnnxModel;

/// The name of the condition input of Optimum's merged decoders.
inline constexpr const char *kUseCacheBranch = "use_cache_branch";

/// Rewrites model.proto's graph as described above (no change if it has no
/// If). Appends one line per resolved If to `notes`. On failure returns false
/// and sets `error` to one line: `file: node 'name' (If, opset N): ...`.
bool resolveMergedDecoder(OnnxModel &model, std::vector<std::string> &notes, std::string &error);

} // namespace bmc

#endif
