// Customized gate control (cgc, Tang et al. 2020): experts shared by all tasks plus experts private to each task;
// task t's gate weighs the shared experts and its own private ones (never another task's), then its tower reads
// the mixture:
//
//   y_t = tower_t(Σ_e g_t(x)_e · h_e(x)),   e over [shared experts..., task t's experts...],
//   g_t(x) = softmax(W_t x + b_t)
//
// The gates read the input flattened to [N, input_features]; the experts read it as it is.
//
//   mtl::CGC model(std::vector<std::string>{"a", "b"}, expert_factory, tower_factory,
//                  mtl::CGCOptions(/*input_features=*/100, /*num_shared_experts=*/2, /*num_task_experts=*/1));
//   // parameters: shared_experts.0.0.weight, ..., task_experts.a.0.0.weight, ..., gates.a.weight, ...,
//   //             towers.b.0.bias
//
// This header also declares ExtractionLayer, one CGC layer with an optional shared gate: what PLE (ple.h)
// stacks.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mtl/architectures/mmoe.h"
#include "nn/modules/linear.h"
#include "nn/options.h"

namespace tandem::mtl {

/// One extraction layer of CGC / PLE. Shared experts read the shared input, task t's private experts read task
/// t's input; task t's gate (from task t's input) mixes the shared experts and task t's private experts into
/// task t's output; with a shared gate, that gate (from the shared input) mixes every expert of the layer — the
/// shared ones, then each task's private ones in task order — into the shared output.
class ExtractionLayerImpl : public nn::Module {
 public:
  /// `gate_input_features`: values per sample of every input of the layer (its task inputs and shared input).
  /// `architecture` and `level` only name the layer in errors.
  ExtractionLayerImpl(std::string architecture, int64_t level, std::vector<std::string> task_names,
                      int64_t gate_input_features, int64_t num_shared_experts, int64_t num_task_experts,
                      const ModuleFactory& expert_factory, bool with_shared_gate);

  /// What the layer gives for a batch.
  struct Output {
    std::vector<Tensor> task_outputs;  ///< per task: the mixture of its gate
    Tensor shared_output;              ///< the mixture of the shared gate (undefined without one)
    std::vector<Tensor> task_gates;    ///< per task: [N, S + P] gate weights (shared experts first)
    Tensor shared_gate_weights;        ///< [N, S + T·P] (undefined without a shared gate)
  };
  /// task_inputs[t]: task t's input. When `task` is given, only that task's output is computed (the other task
  /// outputs and the shared output stay undefined).
  Output forward(const std::vector<Tensor>& task_inputs, const Tensor& shared_input,
                 std::optional<size_t> task = std::nullopt);
  /// "ExtractionLayer(level=0, shared_experts=2, task_experts=1, shared_gate=false)".
  void pretty_print(std::ostream& os) const override;

  bool has_shared_gate() const { return !shared_gate.is_empty(); }
  int64_t num_shared_experts() const { return num_shared_; }
  int64_t num_task_experts() const { return num_private_; }
  /// Task t's private experts (a ModuleList of them).
  const nn::ModuleList& task_expert_list(size_t task) const { return task_expert_lists_[task]; }
  /// Task t's gate.
  const nn::Linear& task_gate(size_t task) const { return gate_list_[task]; }

  nn::ModuleList shared_experts;
  /// Per task name: a ModuleList of its private experts.
  nn::ModuleDict task_experts;
  /// Per task name: Linear(gate_input_features, S + P).
  nn::ModuleDict gates;
  /// Linear(gate_input_features, S + T·P), or empty.
  nn::Linear shared_gate{nullptr};

 private:
  Tensor run_gate(nn::Linear& gate, const Tensor& input, const std::string& which);
  std::string architecture_;
  int64_t level_;
  std::vector<std::string> task_names_;
  int64_t features_, num_shared_, num_private_;
  std::vector<nn::Sequential> shared_list_;
  std::vector<nn::ModuleList> task_expert_lists_;
  std::vector<std::vector<nn::Sequential>> private_lists_;
  std::vector<nn::Linear> gate_list_;
};
TANDEM_MODULE(ExtractionLayer);

struct CGCOptions {
  CGCOptions(int64_t input_features, int64_t num_shared_experts, int64_t num_task_experts)
      : input_features_(input_features), num_shared_experts_(num_shared_experts), num_task_experts_(num_task_experts) {}
  /// Values per sample of the (flattened) input that the gates read.
  TANDEM_ARG(int64_t, input_features);
  TANDEM_ARG(int64_t, num_shared_experts);
  /// Private experts of each task.
  TANDEM_ARG(int64_t, num_task_experts);
};

/// Customized gate control: shared and task-private experts, per-task gates over the shared and their own
/// experts, per-task towers.
class CGCImpl : public MultiTaskModel {
 public:
  /// `expert_factory` builds every expert, shared and private.
  CGCImpl(std::vector<std::string> task_names, const ModuleFactory& expert_factory,
          const TaskModuleFactory& tower_factory, const CGCOptions& options);

  std::vector<Tensor> forward(const Tensor& input) override;
  /// The shared experts, task t's experts, gate and tower.
  Tensor forward_task(const Tensor& input, size_t task) override;
  /// Per task: [N, S + P] gate weights over (shared experts, its own experts), rows summing to 1.
  std::vector<Tensor> gate_weights(const Tensor& input);

  /// Task t's private experts, gate and tower.
  std::vector<Tensor> task_parameters(size_t task) const override;
  /// The last layer of every shared expert.
  std::vector<Tensor> last_shared_parameters() const override;
  /// "CGC(tasks=[a, b], shared_experts=2, task_experts=1, input_features=100)".
  void pretty_print(std::ostream& os) const override;

  CGCOptions options;
  /// The layer's modules, registered on the model itself (shared_experts.*, task_experts.*, gates.*).
  nn::ModuleList shared_experts;
  nn::ModuleDict task_experts;
  nn::ModuleDict gates;
  nn::ModuleDict towers;

 private:
  ExtractionLayerImpl::Output run_layer(const Tensor& input, std::optional<size_t> task);
  ExtractionLayer layer_;
  std::vector<nn::Sequential> tower_list_;
};
TANDEM_MODULE(CGC);

}  // namespace tandem::mtl
