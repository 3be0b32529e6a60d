//===- MergedDecoder.cpp - inline the with-past branch of Optimum's If ----===//

#include "frontend/MergedDecoder.h"
#include "frontend/Importer.h"
#include "frontend/OnnxModel.h"

#include <onnx/onnx_pb.h>

#include <map>
#include <set>

namespace bmc {

namespace {

const char *dtypeWord(int32_t t) {
  switch (t) {
  case onnx::TensorProto::BOOL: return "BOOL";
  case onnx::TensorProto::FLOAT: return "FLOAT";
  case onnx::TensorProto::INT64: return "INT64";
  case onnx::TensorProto::INT32: return "INT32";
  default: return "a non-bool type";
  }
}

/// Renames references to `renamed` names in the node inputs of a nested
/// graph (an If inside the branch), except names that graph defines itself.
void renameNested(onnx::GraphProto &g, const std::map<std::string, std::string> &renamed) {
  std::set<std::string> own;
  for (const auto &t : g.initializer()) own.insert(t.name());
  for (const auto &vi : g.input()) own.insert(vi.name());
  for (const auto &n : g.node())
    for (const auto &o : n.output()) own.insert(o);
  std::map<std::string, std::string> visible;
  for (const auto &[from, to] : renamed)
    if (!own.count(from)) visible[from] = to;
  for (auto &n : *g.mutable_node()) {
    for (auto &in : *n.mutable_input())
      if (auto it = visible.find(in); it != visible.end()) in = it->second;
    for (auto &a : *n.mutable_attribute()) {
      if (a.has_g()) renameNested(*a.mutable_g(), visible);
      for (auto &sg : *a.mutable_graphs()) renameNested(sg, visible);
    }
  }
  for (auto &o : *g.mutable_output())
    if (auto it = visible.find(o.name()); it != visible.end()) o.set_name(it->second);
}

bool usesName(const onnx::GraphProto &g, const std::string &name) {
  for (const auto &n : g.node()) {
    for (const auto &in : n.input())
      if (in == name) return true;
    for (const auto &a : n.attribute()) {
      if (a.has_g() && usesName(a.g(), name)) return true;
      for (const auto &sg : a.graphs())
        if (usesName(sg, name)) return true;
    }
  }
  for (const auto &o : g.output())
    if (o.name() == name) return true;
  return false;
}

} // namespace

bool resolveMergedDecoder(OnnxModel &model, std::vector<std::string> &notes, std::string &error) {
  onnx::GraphProto &g = *model.proto->mutable_graph();
  bool anyIf = false;
  for (const auto &n : g.node()) anyIf |= n.op_type() == "If" && (n.domain().empty() || n.domain() == "ai.onnx");
  if (!anyIf) return true;

  int64_t opset = 0;
  for (const auto &o : model.proto->opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  const onnx::ValueInfoProto *cond = nullptr;
  for (const auto &vi : g.input())
    if (vi.name() == kUseCacheBranch) cond = &vi;
  const bool condIsBool = cond && cond->type().has_tensor_type() &&
                          cond->type().tensor_type().elem_type() == onnx::TensorProto::BOOL;

  // Every name the outer graph defines: a branch name equal to one is renamed.
  std::set<std::string> taken;
  for (const auto &vi : g.input()) taken.insert(vi.name());
  for (const auto &t : g.initializer()) taken.insert(t.name());
  for (const auto &n : g.node())
    for (const auto &o : n.output()) taken.insert(o);

  // Resolved in order; nodes of an inlined branch are checked in turn (an If
  // nested in the with-past branch meets the same rule).
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto &node = g.node(i);
    if (node.op_type() != "If" || !(node.domain().empty() || node.domain() == "ai.onnx")) continue;
    const std::string name = node.name().empty() ? "#" + std::to_string(i) : escapeControl(node.name(), true);
    const std::string where = model.path + ": node '" + name + "' (If, opset " + std::to_string(opset) + "): ";
    const std::string condName = node.input_size() > 0 ? node.input(0) : "";
    if (node.input_size() != 1 || condName != kUseCacheBranch || !condIsBool) {
      std::string found = node.input_size() != 1 ? std::to_string(node.input_size()) + " inputs"
                          : condName != kUseCacheBranch ? "'" + escapeControl(condName, true) + "'"
                          : !cond ? "'use_cache_branch', which is not a graph input"
                                  : std::string("'use_cache_branch' of type ") +
                                        dtypeWord(cond->type().has_tensor_type() ? cond->type().tensor_type().elem_type() : 0);
      error = where + "expected the condition to be the BOOL graph input 'use_cache_branch' (Optimum's merged decoder, "
                      "whose with-past branch bmc imports), found " + found +
              "; bmc does not choose a branch of other conditionals";
      return false;
    }
    const onnx::AttributeProto *thenAttr = nullptr, *elseAttr = nullptr;
    for (const auto &a : node.attribute()) {
      if (a.name() == "then_branch" && a.type() == onnx::AttributeProto::GRAPH) thenAttr = &a;
      else if (a.name() == "else_branch" && a.type() == onnx::AttributeProto::GRAPH) elseAttr = &a;
      else {
        error = where + "expected attributes then_branch and else_branch (GRAPH), found '" + escapeControl(a.name(), true) + "'";
        return false;
      }
    }
    if (!thenAttr || !elseAttr) {
      error = where + "expected attributes then_branch and else_branch (GRAPH), found " +
              (thenAttr ? "no else_branch" : "no then_branch");
      return false;
    }
    onnx::GraphProto branch = thenAttr->g(); // a copy: the node is replaced below
    const std::string elseName = elseAttr->g().name();
    const int elseNodes = elseAttr->g().node_size();
    if (branch.input_size() != 0) {
      error = where + "then_branch: expected no inputs (a branch reads the outer scope), found " +
              std::to_string(branch.input_size());
      return false;
    }
    if (branch.output_size() != node.output_size()) {
      error = where + "then_branch: expected " + std::to_string(node.output_size()) + " outputs (the If's), found " +
              std::to_string(branch.output_size());
      return false;
    }
    if (branch.sparse_initializer_size() != 0) {
      error = where + "then_branch: expected dense initializers, found a sparse one";
      return false;
    }

    // A branch output that its own node defines under the If output's name
    // keeps it (Optimum names them alike); the rest get an Identity.
    std::set<std::string> ifOutputs(node.output().begin(), node.output().end());
    std::set<std::string> nodeDefined;
    for (const auto &n : branch.node())
      for (const auto &o : n.output()) nodeDefined.insert(o);
    std::map<std::string, int> outputUses;
    for (const auto &o : branch.output()) ++outputUses[o.name()];
    std::set<std::string> keep;
    for (int k = 0; k < node.output_size(); ++k) {
      const std::string &x = branch.output(k).name();
      if (x == node.output(k) && nodeDefined.count(x) && outputUses[x] == 1) keep.insert(x);
    }
    std::set<std::string> outerNames = taken;
    for (const auto &y : ifOutputs) outerNames.erase(y);
    std::map<std::string, std::string> renamed;
    auto define = [&](const std::string &n) {
      if (n.empty() || keep.count(n)) return;
      if (!outerNames.count(n) && !ifOutputs.count(n)) return;
      std::string fresh = "then_branch/" + n;
      for (int k = 2; taken.count(fresh) || renamed.count(fresh); ++k) fresh = "then_branch/" + n + "#" + std::to_string(k);
      renamed[n] = fresh;
      taken.insert(fresh);
    };
    for (const auto &t : branch.initializer()) define(t.name());
    for (const auto &n : branch.node())
      for (const auto &o : n.output()) define(o);
    auto map = [&](const std::string &n) {
      auto it = renamed.find(n);
      return it == renamed.end() ? n : it->second;
    };

    // The new node list: before the If, the branch, the output bindings, after.
    // A read refers to the branch's value once the branch has defined the
    // name (its initializers from the start), to the outer one before.
    std::map<std::string, std::string> visible;
    for (const auto &t : branch.initializer())
      if (renamed.count(t.name())) visible[t.name()] = renamed[t.name()];
    std::vector<onnx::NodeProto> inlined;
    for (auto &n : *branch.mutable_node()) {
      for (auto &in : *n.mutable_input())
        if (auto it = visible.find(in); it != visible.end()) in = it->second;
      for (auto &a : *n.mutable_attribute()) {
        if (a.has_g()) renameNested(*a.mutable_g(), visible);
        for (auto &sg : *a.mutable_graphs()) renameNested(sg, visible);
      }
      for (auto &o : *n.mutable_output())
        if (auto it = renamed.find(o); it != renamed.end()) {
          visible[o] = it->second;
          o = it->second;
        }
      inlined.push_back(std::move(n));
    }
    int identities = 0;
    for (int k = 0; k < node.output_size(); ++k) {
      const std::string &y = node.output(k), &x = branch.output(k).name();
      if (y.empty() || keep.count(x)) continue;
      onnx::NodeProto id;
      id.set_op_type("Identity");
      id.set_name(node.name() + "/then_branch_output_" + std::to_string(k));
      id.add_input(map(x));
      id.add_output(y);
      inlined.push_back(std::move(id));
      ++identities;
    }
    for (auto &t : *branch.mutable_initializer()) {
      t.set_name(map(t.name()));
      *g.add_initializer() = std::move(t);
      model.rawData.push_back({nullptr, 0}); // parsed in place: raw bytes, if any, are in the proto
    }
    for (const auto &n : inlined)
      for (const auto &o : n.output()) taken.insert(o);

    std::string note = "node '" + name + "' (If): Optimum's merged decoder: imported its then_branch '" +
                       escapeControl(branch.name(), true) + "' (" + std::to_string(branch.node_size()) +
                       " nodes, the with-past decoder, which also serves the prefill with an empty past) with " +
                       "use_cache_branch fed true by bmc; the else_branch '" + escapeControl(elseName, true) + "' (" +
                       std::to_string(elseNodes) + " nodes) is not compiled";
    if (!renamed.empty() || identities)
      note += " (" + std::to_string(renamed.size()) + " branch names renamed, " + std::to_string(identities) +
              " outputs bound by Identity)";
    notes.push_back(note);

    google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
    for (int k = 0; k < i; ++k) *nodes.Add() = std::move(*g.mutable_node(k));
    for (auto &n : inlined) *nodes.Add() = std::move(n);
    for (int k = i + 1; k < g.node_size(); ++k) *nodes.Add() = std::move(*g.mutable_node(k));
    g.mutable_node()->Swap(&nodes);
    --i; // the first inlined node (or the next one) is looked at next
  }

  // use_cache_branch is bmc's to feed: no longer an input; a constant true
  // where anything still reads it.
  if (cond) {
    onnx::ValueInfoProto vi = *cond;
    auto *inputs = g.mutable_input();
    for (int k = 0; k < inputs->size(); ++k)
      if (inputs->Get(k).name() == kUseCacheBranch) {
        inputs->DeleteSubrange(k, 1);
        break;
      }
    if (usesName(g, kUseCacheBranch)) {
      onnx::TensorProto t;
      t.set_name(kUseCacheBranch);
      t.set_data_type(onnx::TensorProto::BOOL);
      if (vi.type().tensor_type().shape().dim_size() == 1) t.add_dims(1);
      t.add_int32_data(1);
      *g.add_initializer() = std::move(t);
      model.rawData.push_back({nullptr, 0});
    }
  }
  return true;
}

} // namespace bmc
