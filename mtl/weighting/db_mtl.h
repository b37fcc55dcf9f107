// DB-MTL (Lin et al. 2023), dual-balancing: balance the loss scales with a logarithm and the gradient
// magnitudes with a normalisation.
//  - losses: L_t → log(L_t + ε) (ε = 1e-8), so that every task's gradient is its relative change;
//  - gradients: ĝ_t, an exponential moving average of the rows of G (the buffer "gradient_average", [T, D]),
//    ĝ_t ← β_k ĝ_t + (1 − β_k) g_t with β_k = β / k^σ at step k (the buffer "steps"), so the first steps
//    average over few gradients;
//  - α_t = max_j ‖ĝ_j‖ / ‖ĝ_t‖: every averaged gradient is scaled to the largest norm, and the update is
//    Σ_t α_t ĝ_t (returned as a direction: it is not a combination of this step's gradients).
// With scope=last the norms are taken over the last shared layer's columns; the average covers all of G.
// With scope=rep a change of the representation's size (a smaller last batch) restarts the averages.
#pragma once

#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// db_mtl: options `beta` (in [0, 1), default 0.9), `beta_sigma` (σ ≥ 0, default 0.5) and `scope`.
class DBMTL : public GradientWeighting {
 public:
  DBMTL(size_t num_tasks, const WeightingOptions& options = {});
  double beta() const { return beta_; }
  double beta_sigma() const { return beta_sigma_; }
  /// ĝ, [T, D] (shape [0] before the first step).
  const Tensor& gradient_average() const { return average_; }

 protected:
  std::vector<Tensor> transform_losses(const std::vector<Tensor>& losses) override;
  GradientCombination combine(const GradientInputs& inputs) override;

 private:
  double beta_, beta_sigma_;
  Tensor average_, steps_;
};

}  // namespace tandem::mtl
