// GradNorm (Chen et al. 2018): learnable task weights w (start at 1) that balance how fast the tasks train by
// equalising the norms of their weighted gradients at the last shared layer W. Each step:
//   n_t = ‖∇_W L_t‖,  G_t = w_t n_t,  r_t = (L_t / L_t(0)) / mean_j (L_j / L_j(0))   (L(0): the first step's losses)
//   L_grad = Σ_t |G_t − mean(G) · r_t^α|   with the targets mean(G) · r_t^α held constant,
// so ∂L_grad/∂w_t = sign(G_t − target_t) · n_t goes into w.grad, and the model gets Σ_t w_t L_t (w detached).
// A task that trains slowly (r_t > 1) is pushed towards a larger gradient, a fast one towards a smaller one.
// After the optimizer step, w is renormalised so that Σ_t w_t = T.
#pragma once

#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// gradnorm: option `alpha` (α ≥ 0, default 1.5; the paper's synthetic study uses 0.12). Parameter
/// "loss_weights" w ([T], trained by the model's optimizer); buffers "initial_losses" ([T] float64, L(0)) and
/// "steps" (int64 scalar, the number of combined steps so far).
class GradNorm : public LossWeighting {
 public:
  GradNorm(size_t num_tasks, const WeightingOptions& options = {});
  double alpha() const { return alpha_; }
  const Tensor& loss_weights() const { return loss_weights_; }
  /// Renormalises w to Σ w = T; a weight the step pushed to zero or below is first raised to a small floor
  /// (1e-6), so every w_t stays positive.
  void after_step() override;

 protected:
  /// Takes one extra backward per task down to the last shared layer (the graph is retained) to get n_t.
  Tensor combine(StepContext& context, std::vector<double>& weights) override;

 private:
  double alpha_;
  Tensor loss_weights_;
  Tensor initial_losses_;
  Tensor steps_;
};

}  // namespace tandem::mtl
