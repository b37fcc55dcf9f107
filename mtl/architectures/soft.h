// Soft parameter sharing (soft): every task has its own encoder (all built by one factory, so they have the
// same structure) and its own head; nothing is shared. Instead, regularization() ties the encoders together:
//
//   R = λ Σ_{i<j} Σ_p ‖θ_i^p − θ_j^p‖²
//
// over every pair of tasks (i, j) and every parameter p of the encoders (θ_i^p is parameter p of task i's
// encoder). The trainer adds R to the training loss.
//
//   mtl::SoftSharing model(std::vector<std::string>{"a", "b"},
//                          [] { return nn::Sequential(nn::Linear(16, 32), nn::ReLU()); },
//                          [](size_t) { return nn::Sequential(nn::Linear(32, 1)); },
//                          mtl::SoftSharingOptions().lambda(1e-2));
//   // parameters: encoders.a.0.weight, ..., heads.b.0.bias
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "mtl/architectures/hps.h"
#include "nn/options.h"

namespace tandem::mtl {

struct SoftSharingOptions {
  /// λ, the weight of the L2 tie between the task encoders (0 switches it off).
  TANDEM_ARG(double, lambda) = 1e-3;
};

/// Soft parameter sharing: outputs[t] = head_t(encoder_t(x)), with an L2 penalty between matching encoder
/// parameters. It has no shared parameters.
class SoftSharingImpl : public MultiTaskModel {
 public:
  SoftSharingImpl(std::vector<std::string> task_names, const ModuleFactory& encoder_factory,
                  const TaskModuleFactory& head_factory, const SoftSharingOptions& options = {});

  std::vector<Tensor> forward(const Tensor& input) override;
  /// head_t(encoder_t(x)) alone.
  Tensor forward_task(const Tensor& input, size_t task) override;

  /// Task t's encoder and head.
  std::vector<Tensor> task_parameters(size_t task) const override;
  /// λ Σ_{i<j} Σ_p ‖θ_i^p − θ_j^p‖² (a scalar in the parameters' dtype); undefined when λ = 0 or there is one
  /// task.
  Tensor regularization() override;
  /// "SoftSharing(tasks=[a, b], lambda=0.001)".
  void pretty_print(std::ostream& os) const override;

  SoftSharingOptions options;
  /// The encoders and the heads, by task name.
  nn::ModuleDict encoders;
  nn::ModuleDict heads;

 private:
  std::vector<nn::Sequential> encoder_list_;
  std::vector<nn::Sequential> head_list_;
};
TANDEM_MODULE(SoftSharing);

}  // namespace tandem::mtl
