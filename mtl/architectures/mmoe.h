// Multi-gate mixture of experts (mmoe, Ma et al. 2018): E experts that every task uses, and per task a gate
// that weighs them from the input and a tower that reads the mixture:
//
//   g_t(x) = softmax(W_t x + b_t) ∈ R^E,   y_t = tower_t(Σ_e g_t(x)_e · expert_e(x))
//
// The gates read the input flattened to [N, input_features]; the experts read it as it is. With
// MMoEOptions::shared_gate one gate serves every task: the one-gate mixture of experts (OMoE) of the MMoE
// paper's comparison.
//
//   mtl::MMoE model(std::vector<std::string>{"a", "b"},
//                   [] { return nn::Sequential(nn::Linear(100, 16), nn::ReLU()); },                  // an expert
//                   [](size_t) { return nn::Sequential(nn::Linear(16, 8), nn::ReLU(), nn::Linear(8, 1)); },
//                   mtl::MMoEOptions(/*input_features=*/100, /*num_experts=*/8));
//   // parameters: experts.0.0.weight, ..., gates.a.weight, gates.a.bias, ..., towers.b.2.bias
//
// The stacked expert outputs z = [expert_0(x), ..., expert_{E-1}(x)] ([N, E, ...]) are the shared
// representation: encode(x) = z and decode(z, x) gates and towers them, so gradient methods that work on the
// representation apply. This header also declares ExpertMixtureModel, the frame MMoE shares with DSelect-k
// (dselect_k.h), and mix_experts, which CGC and PLE use as well.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "mtl/architectures/hps.h"
#include "nn/modules/linear.h"
#include "nn/options.h"

namespace tandem::mtl {

/// Σ_e weights[n, e] · experts[n, e, ...]: experts [N, E, ...] (stacked outputs), weights [N, E] -> [N, ...].
Tensor mix_experts(const Tensor& experts, const Tensor& weights);

namespace detail {
/// The input of a gate: `input` flattened to [N, features]; throws (naming the architecture and `where`) when a
/// sample does not have `features` values.
Tensor flatten_gate_input(const std::string& architecture, const Tensor& input, int64_t features,
                          const std::string& where = "the gate input");
}  // namespace detail

/// Experts shared by every task, one gate per task computed from the input, one tower per task; subclasses
/// define the gate (MMoE: a softmax over a linear map; DSelect-k: a smooth-step selector).
class ExpertMixtureModel : public MultiTaskModel {
 public:
  std::vector<Tensor> forward(const Tensor& input) override;
  /// The experts, task t's gate and task t's tower (the other gates and towers are not run).
  Tensor forward_task(const Tensor& input, size_t task) override;

  bool has_representation() const override { return true; }
  /// The expert outputs stacked along dim 1: [N, E, ...].
  Tensor encode(const Tensor& input) override;
  /// tower_t(mix_experts(z, gate_t(x))) for every task.
  std::vector<Tensor> decode(const Tensor& representation, const Tensor& input) override;

  /// The gate weights of every task on a batch: [N, E] each, every row summing to 1.
  std::vector<Tensor> gate_weights(const Tensor& input);

  /// Task t's gate (when it has its own) and tower.
  std::vector<Tensor> task_parameters(size_t task) const override;
  /// The last layer of every expert (the module owning each expert's last parameter).
  std::vector<Tensor> last_shared_parameters() const override;

  int64_t num_experts() const { return num_experts_; }
  int64_t input_features() const { return input_features_; }

  /// The experts, in order; the towers by task name.
  nn::ModuleList experts;
  nn::ModuleDict towers;

 protected:
  /// Builds and registers the experts ("experts"); the subclass then registers its gates and calls
  /// build_towers, so that the parameters read experts, gates, towers.
  ExpertMixtureModel(std::string architecture, std::vector<std::string> task_names, int64_t input_features,
                     int64_t num_experts, const ModuleFactory& expert_factory);
  void build_towers(const TaskModuleFactory& tower_factory);

  /// Task t's gate on the flattened input [N, input_features]: [N, E].
  virtual Tensor compute_gate(size_t task, const Tensor& gate_input) = 0;
  /// The parameters of task t's gate that no other task uses.
  virtual std::vector<Tensor> gate_parameters(size_t task) const = 0;

  const std::string architecture_;

 private:
  Tensor checked_gate(size_t task, const Tensor& input);
  void check_representation(const Tensor& representation, const Tensor& input) const;
  int64_t input_features_;
  int64_t num_experts_;
  std::vector<nn::Sequential> expert_list_;
  std::vector<nn::Sequential> tower_list_;
};

struct MMoEOptions {
  MMoEOptions(int64_t input_features, int64_t num_experts)
      : input_features_(input_features), num_experts_(num_experts) {}
  /// Values per sample of the (flattened) input that the gates read.
  TANDEM_ARG(int64_t, input_features);
  TANDEM_ARG(int64_t, num_experts);
  /// One gate shared by every task (OMoE) instead of one per task.
  TANDEM_ARG(bool, shared_gate) = false;
};

/// Multi-gate mixture of experts: per-task softmax gates over shared experts, then per-task towers.
class MMoEImpl : public ExpertMixtureModel {
 public:
  MMoEImpl(std::vector<std::string> task_names, const ModuleFactory& expert_factory,
           const TaskModuleFactory& tower_factory, const MMoEOptions& options);
  /// "MMoE(tasks=[a, b], experts=8, input_features=100)", plus ", shared_gate=true" for the one-gate variant.
  void pretty_print(std::ostream& os) const override;

  MMoEOptions options;
  /// Linear(input_features, E) per task, by task name (empty with shared_gate).
  nn::ModuleDict gates;
  /// The single gate with shared_gate (empty otherwise).
  nn::Linear gate{nullptr};

 protected:
  Tensor compute_gate(size_t task, const Tensor& gate_input) override;
  std::vector<Tensor> gate_parameters(size_t task) const override;

 private:
  std::vector<nn::Linear> gate_list_;
};
TANDEM_MODULE(MMoE);

}  // namespace tandem::mtl
