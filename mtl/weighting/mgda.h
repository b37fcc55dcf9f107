// MGDA (Sener & Koltun 2018): the multiple-gradient descent algorithm. The shared update is the point of
// minimum norm in the convex hull of the task gradients, α = argmin_{α ∈ simplex} ‖Σ α_t g_t‖² = argmin αᵀKα:
// a direction that decreases every task's loss unless the point is Pareto-stationary (then it is zero).
// With scope=rep this is MGDA-UB (the upper bound of the paper, on the shared representation).
//
// Optional gradient normalisation (as in the paper's code): each g_t is divided by n_t — ‖g_t‖ (l2), L_t
// (loss), L_t ‖g_t‖ (loss+l2) or 1 (none) — before the min-norm problem, and the update is Σ γ_t g_t / n_t,
// so the reported weights are α_t = γ_t / n_t.
#pragma once

#include <vector>

#include "mtl/weighting/small_linalg.h"
#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// mgda: options `normalization` (none | l2 | loss | loss+l2, default none) and `scope` (params | last | rep).
class MGDA : public GradientWeighting {
 public:
  enum class Normalization { kNone, kL2, kLoss, kLossL2 };
  MGDA(size_t num_tasks, const WeightingOptions& options = {});
  Normalization normalization() const { return normalization_; }

  /// The min-norm weights (a point of the simplex) of the gradients whose Gramian is `gramian`.
  static std::vector<double> min_norm_weights(const linalg::Matrix& gramian);

 protected:
  GradientCombination combine(const GradientInputs& inputs) override;

 private:
  Normalization normalization_;
};

}  // namespace tandem::mtl
