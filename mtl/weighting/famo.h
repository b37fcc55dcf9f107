// Fast adaptive multitask optimization (famo, Liu et al. 2023): task weights z = softmax(ξ) that are learned
// from how much each loss actually went down, at the cost of one extra forward pass per step rather than T
// backward passes. With D_t = L_t − L_t,min + ε (L_min = 0 here) and c = 1 / Σ_t (z_t / D_t) held constant,
// the model gets Σ_t c z_t log D_t, whose gradient is Σ_t (c z_t / D_t) ∇L_t. After the optimizer step the
// losses of the same batch are evaluated again, δ_t = log D_t(before) − log D_t(after), and ξ takes one Adam
// step along J_softmax(ξ)ᵀ δ: a task whose loss went down less gets more weight.
#pragma once

#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// famo: options `lr` (Adam step size for ξ, default 0.025), `weight_decay` (added to ξ's gradient, default
/// 1e-3) and `epsilon` (ε in D_t, default 1e-8). State, all buffers (ξ is trained by FAMO's own Adam, not by the
/// model's optimizer): "logits" ξ, "adam_first_moment", "adam_second_moment" ([T] float64 each), "adam_steps"
/// (int64 scalar) and "log_losses_before" ([T] float64, log D of the last combined step).
class FAMO : public LossWeighting {
 public:
  FAMO(size_t num_tasks, const WeightingOptions& options = {});
  double lr() const { return lr_; }
  double weight_decay() const { return weight_decay_; }
  double epsilon() const { return epsilon_; }
  /// z = softmax(ξ).
  std::vector<double> task_weights() const;

  bool needs_losses_after_step() const override { return true; }
  /// Updates ξ from the losses of the last combined batch, recomputed after the optimizer step.
  void after_step_losses(const std::vector<double>& losses_after) override;

 protected:
  /// The reported weights are c z_t / D_t (they sum to 1).
  Tensor combine(StepContext& context, std::vector<double>& weights) override;

 private:
  double lr_, weight_decay_, epsilon_;
  Tensor logits_;
  Tensor first_moment_, second_moment_, adam_steps_;
  Tensor log_losses_before_;
  /// Whether combine() has run since the last after_step_losses().
  bool has_losses_before_ = false;
};

}  // namespace tandem::mtl
