// DSelect-k (dselect_k, Hazimeh et al. 2021): a mixture of experts whose per-task gates select (at most) k
// experts through smooth binary encodings, differentiably, instead of MMoE's dense softmax.
//
// With E experts and m = ceil(log2 E) bits, one task's gate has k selectors. Selector i holds m logits z_i and
// encodes them with the smooth-step function
//
//   S(t) = 0                                  for t <= −γ/2
//        = −2/γ³ · t³ + 3/(2γ) · t + 1/2      for −γ/2 < t < γ/2
//        = 1                                  for t >= γ/2
//
// as the one-hot-like vector r(z_i)_c = Π_b (S(z_i,b) if bit b of c is 1 else 1 − S(z_i,b)) over the codes
// c = 0 .. 2^m − 1 (it sums to 1 and is exactly one-hot once every S(z_i,b) is 0 or 1). The gate is
//
//   g = Σ_i softmax(w)_i · r(z_i)
//
// When E is not a power of two, code c >= E stands for expert c − E (so every selector still sums to 1 over
// the real experts). This is the "per-example" gate of the paper: z and w are linear maps of the (flattened)
// input, z = W_z x + b_z ([k, m] per sample) and w = W_w x + b_w ([k] per sample).
//
// regularization() returns entropy_regularization · Σ_t Σ_i mean_n H(r_t,i(x_n)) over the batch each gate last
// saw (H the entropy of a selector's weights over the experts), which pushes every selector towards a single
// expert; it is undefined when the option is 0 (the default).
//
//   mtl::DSelectK model(std::vector<std::string>{"a", "b"}, expert_factory, tower_factory,
//                       mtl::DSelectKOptions(/*input_features=*/100, /*num_experts=*/8, /*k=*/2));
//   // parameters: experts.0.0.weight, ..., gates.a.selector_logits.weight, gates.a.selector_weights.bias, ...
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "mtl/architectures/mmoe.h"
#include "nn/modules/linear.h"
#include "nn/options.h"

namespace tandem::mtl {

/// The smooth-step function S of DSelect-k, element-wise (see the top of this file); γ > 0.
Tensor smooth_step(const Tensor& t, double gamma = 1.0);

/// One task's DSelect-k gate (per-example): [N, input_features] -> [N, E] weights.
class DSelectKGateImpl : public nn::Cloneable<DSelectKGateImpl> {
 public:
  DSelectKGateImpl(int64_t input_features, int64_t num_experts, int64_t k, double gamma = 1.0);
  void reset() override;

  /// What one evaluation of the gate gives.
  struct Output {
    Tensor weights;           ///< [N, E], rows summing to 1
    Tensor selections;        ///< [N, k, E]: each selector's r(z_i) folded onto the experts
    Tensor selector_weights;  ///< [N, k]: softmax(w)
  };
  Output evaluate(const Tensor& gate_input);
  /// evaluate(gate_input).weights.
  Tensor forward(const Tensor& gate_input);
  /// "DSelectKGate(input_features=100, experts=8, k=2, gamma=1)".
  void pretty_print(std::ostream& os) const override;

  int64_t input_features, num_experts, k, num_bits;
  double gamma;
  nn::Linear selector_logits{nullptr};   ///< x -> z, [N, k * m]
  nn::Linear selector_weights{nullptr};  ///< x -> w, [N, k]
  Tensor codes;  ///< buffer [2^m, m]: bit b of code c, as 0/1 in the parameters' dtype
};
TANDEM_MODULE(DSelectKGate);

struct DSelectKOptions {
  DSelectKOptions(int64_t input_features, int64_t num_experts, int64_t k)
      : input_features_(input_features), num_experts_(num_experts), k_(k) {}
  /// Values per sample of the (flattened) input that the gates read.
  TANDEM_ARG(int64_t, input_features);
  /// E >= 2.
  TANDEM_ARG(int64_t, num_experts);
  /// Selectors per gate: the most experts a gate ends up using.
  TANDEM_ARG(int64_t, k);
  /// γ, the width of the smooth step's cubic part.
  TANDEM_ARG(double, gamma) = 1.0;
  /// Weight of the selectors' entropy in regularization() (0: none).
  TANDEM_ARG(double, entropy_regularization) = 0.0;
};

/// DSelect-k mixture of experts: shared experts, one DSelect-k gate and one tower per task.
class DSelectKImpl : public ExpertMixtureModel {
 public:
  DSelectKImpl(std::vector<std::string> task_names, const ModuleFactory& expert_factory,
               const TaskModuleFactory& tower_factory, const DSelectKOptions& options);

  /// The entropy term of the gates evaluated since the previous call (see the top of this file); it is
  /// consumed, so that a later step never reuses a graph that backward has already freed.
  Tensor regularization() override;
  /// "DSelectK(tasks=[a, b], experts=8, k=2, gamma=1, input_features=100)".
  void pretty_print(std::ostream& os) const override;

  DSelectKOptions options;
  /// The gates, by task name.
  nn::ModuleDict gates;

 protected:
  Tensor compute_gate(size_t task, const Tensor& gate_input) override;
  std::vector<Tensor> gate_parameters(size_t task) const override;

 private:
  std::vector<DSelectKGate> gate_list_;
  std::vector<Tensor> entropies_;  // per task, from the gate's last evaluation; consumed by regularization()
};
TANDEM_MODULE(DSelectK);

}  // namespace tandem::mtl
