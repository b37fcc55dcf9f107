// GradVac (Wang et al. 2021), gradient vaccine: instead of only removing conflicts (PCGrad), it pulls each pair
// of task gradients towards an adaptive target similarity. Per group of parameters and per ordered pair (i, j),
// φ̂_ij is an exponential moving average (β) of the observed cosine similarity; when the current
// ρ = cos(g'_i, g_j) falls below φ̂_ij,
//     g'_i ← g'_i + g_j · ‖g'_i‖ (φ̂_ij √(1 − ρ²) − ρ √(1 − φ̂_ij²)) / (‖g_j‖ √(1 − φ̂_ij²)),
// which sets cos(g'_i, g_j) to exactly φ̂_ij. The update is Σ_i g'_i, per group.
//
// Groups: with scope=params each shared parameter tensor is a group (one block of TaskGradients::offsets());
// with scope=last the last shared layer is one group whose coefficients are applied to all shared parameters;
// with scope=rep the representation is one group. As in PCGrad, g'_i = Σ_k c_ik g_k is tracked by its
// coefficients over the group's Gramian. The targets φ̂ live in the buffer "targets" ([groups, T, T], zeros at
// the first step), so they are checkpointed; the orders come from tandem's seeded generator.
#pragma once

#include <vector>

#include "mtl/weighting/small_linalg.h"
#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// gradvac: options `beta` (EMA rate of the targets in [0, 1], default 0.5) and `scope`.
class GradVac : public GradientWeighting {
 public:
  GradVac(size_t num_tasks, const WeightingOptions& options = {});
  double beta() const { return beta_; }
  /// The targets φ̂, [groups, T, T] float64 (shape [0] before the first step).
  const Tensor& targets() const { return targets_; }

  /// One group's coefficients: row i holds c_i (g'_i = Σ_k c_ik g_k) for the group's Gramian K, projecting
  /// task i against the tasks of orders[i] (entries equal to i skipped); `targets` ([T, T], row-major) is
  /// updated in place with rate beta.
  static linalg::Matrix group_coefficients(const linalg::Matrix& gramian, std::vector<double>& targets, double beta,
                                           const std::vector<std::vector<size_t>>& orders);

 protected:
  GradientCombination combine(const GradientInputs& inputs) override;

 private:
  double beta_;
  Tensor targets_;
};

}  // namespace tandem::mtl
