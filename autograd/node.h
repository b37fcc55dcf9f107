// The graph: a Node is the backward of one forward op. Its next_edges point at the nodes that produced the
// op's differentiable inputs (one edge per input, in forward order; an invalid edge where an input needs no
// gradient), and apply() maps the gradients of the op's outputs to the gradients of its inputs.
//
// Rules return gradients in the *broadcast* shape of the op; the engine sums them down to each input's shape
// (input_meta) in one place, so no rule undoes broadcasting itself. Rules are written with differentiable
// tensor ops, so that running them with grad mode on (create_graph) records the graph of the gradient.
//
// Writing an op (see autograd/ops/elementwise.cpp for many examples):
//   Tensor out = <forward on the backend>;
//   if (auto node = make_node<MulBackward>(a, b)) { node->a = SavedVariable(a); ...; set_history(out, node); }
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/tensor.h"

namespace tandem::autograd {

using variable_list = std::vector<Tensor>;
struct Node;

struct Edge {
  std::shared_ptr<Node> function;
  uint32_t input_nr = 0;  ///< which output of `function`'s forward op this edge carries the gradient of
  bool valid() const { return function != nullptr; }
};

/// What the engine needs to know about a forward input to shape its gradient.
struct InputMeta {
  Dims shape;
  ScalarType dtype = ScalarType::Float32;
  Device device;
};

struct Node : std::enable_shared_from_this<Node> {
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// grads[i] is the gradient of forward output i (undefined when no gradient flowed to it).
  /// Returns one gradient per next_edge (undefined where none is needed).
  virtual variable_list apply(variable_list&& grads) = 0;
  /// e.g. "MulBackward".
  virtual std::string name() const = 0;
  /// Frees saved tensors after backward unless the graph is retained.
  virtual void release_variables() {}
  /// Runs the hooks registered on the tensors whose gradient arrives here, in place on `grads`.
  virtual void run_pre_hooks(variable_list& grads);

  /// Whether gradient i (for forward input i) is wanted by anyone.
  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].valid(); }

  std::vector<Edge> next_edges;
  std::vector<InputMeta> input_meta;  ///< parallel to next_edges
  uint32_t num_outputs = 0;           ///< forward outputs attached by set_history
  uint64_t sequence_nr;               ///< creation order; later nodes run first when both are ready
  struct PreHook {
    size_t id;
    uint32_t output_nr;
    TensorHook fn;
  };
  std::vector<PreHook> pre_hooks;
};

/// The sink of a leaf tensor's gradient: adds it into .grad (running the leaf's hooks first).
struct AccumulateGrad final : Node {
  explicit AccumulateGrad(Tensor variable);
  variable_list apply(variable_list&& grads) override;
  std::string name() const override { return "AccumulateGrad"; }
  void run_pre_hooks(variable_list& grads) override;
  Tensor variable;
};

/// A tensor kept for backward. Remembers the storage version it was saved at and refuses to unpack if an
/// in-place op changed it since, or if the graph was already freed. A saved *output* of the node is stored
/// without its grad_fn (that would be a reference cycle) and gets it back on unpack.
class SavedVariable {
 public:
  SavedVariable() = default;
  explicit SavedVariable(const Tensor& t, bool is_output = false);
  /// `owner` is the node unpacking (needed for outputs, and named in errors).
  Tensor unpack(Node* owner) const;
  void reset();
  bool defined() const { return was_defined_; }

 private:
  Tensor data_;
  uint32_t version_ = 0;
  uint32_t output_nr_ = 0;
  bool is_output_ = false;
  bool was_defined_ = false;
  bool released_ = false;
};

/// True when grad mode is on and any of the tensors requires grad.
template <typename... Ts>
bool compute_requires_grad(const Ts&... tensors) {
  if (!GradMode::is_enabled()) return false;
  return ((tensors.defined() && tensors.requires_grad()) || ...);
}
bool compute_requires_grad_list(const variable_list& tensors);

/// The edge a gradient for `t` must flow into: its grad_fn, or its AccumulateGrad if it is a leaf that
/// requires grad, or an invalid edge.
Edge gradient_edge(const Tensor& t);

/// Connects `node` to the inputs (edges + metadata). Undefined tensors get invalid edges.
void connect_inputs(Node& node, const variable_list& inputs);

/// Creates the backward node of an op whose differentiable inputs are `inputs...`, or returns null when no
/// gradient is needed (grad mode off or no input requires grad).
template <typename NodeT, typename... Ts>
std::shared_ptr<NodeT> make_node(const Ts&... inputs) {
  if (!compute_requires_grad(inputs...)) return nullptr;
  auto node = std::make_shared<NodeT>();
  connect_inputs(*node, variable_list{inputs...});
  return node;
}
template <typename NodeT>
std::shared_ptr<NodeT> make_node_list(const variable_list& inputs) {
  if (!compute_requires_grad_list(inputs)) return nullptr;
  auto node = std::make_shared<NodeT>();
  connect_inputs(*node, inputs);
  return node;
}

/// Makes `node` the grad_fn of `output` (its next output slot).
void set_history(Tensor& output, const std::shared_ptr<Node>& node);

}  // namespace tandem::autograd
