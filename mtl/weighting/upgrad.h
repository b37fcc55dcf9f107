// UPGrad (Quinton & Rey 2024), unconflicting projection of gradients: each task gradient is projected onto
// the dual cone of the gradients {d : g_tᵀd ≥ 0 for all t}, and the projections are summed, so the update
// never conflicts with any task. In weights: with K normalised by its trace, the projection of g_i is G ᵀw⁽ⁱ⁾
// with w⁽ⁱ⁾ = argmin_v vᵀKv subject to v ≥ e_i, and α = Σ_i w⁽ⁱ⁾. Each w⁽ⁱ⁾ solves a bound-constrained
// quadratic program (linalg::minimize_quadratic_above) on K plus a ridge of 1e-9 that makes it strictly
// convex; its optimality conditions give (K w⁽ⁱ⁾)_t ≥ 0 for every t, hence g_tᵀ(Σ α_k g_k) ≥ 0.
#pragma once

#include <vector>

#include "mtl/weighting/small_linalg.h"
#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// upgrad: option `scope` (params | last | rep).
class UPGrad : public GradientWeighting {
 public:
  UPGrad(size_t num_tasks, const WeightingOptions& options = {});

  /// α = Σ_i w⁽ⁱ⁾ for the Gramian K.
  static std::vector<double> projection_weights(const linalg::Matrix& gramian);

 protected:
  GradientCombination combine(const GradientInputs& inputs) override;
};

}  // namespace tandem::mtl
