// Nash-MTL (Navon et al. 2022): the update is the Nash bargaining solution among the tasks, d = Σ α_t g_t with
// α > 0 solving K α = 1/α element-wise (each task's utility g_tᵀd equals 1/α_t). That α is the minimiser of
// the strictly convex f(α) = ½ αᵀKα − Σ_t log α_t, found here by damped Newton (linalg::solve_reciprocal_system)
// instead of the paper's sequence of convex programs. Since αᵀKα = T at the solution, ‖d‖ = √T whatever the
// scale of the gradients.
//
// When the gradients are (nearly) Pareto-stationary — a non-negative combination of them vanishes, e.g. two
// opposite gradients — the equation has no solution; a ridge of 1e-8 (relative to the mean of diag K) keeps it
// solvable, with large weights on an update that cancels to (nearly) zero.
// `update_every` > 1 recomputes α only every that many steps and reuses the last α in between (buffers
// "last_weights" and "steps", saved with the checkpoint); `max_norm` > 0 scales α down so that the update's
// norm (over all shared parameters) is at most max_norm.
#pragma once

#include <vector>

#include "mtl/weighting/small_linalg.h"
#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// nash_mtl: options `max_norm` (≥ 0, default 0 = off), `update_every` (≥ 1, default 1) and `scope`.
class NashMTL : public GradientWeighting {
 public:
  NashMTL(size_t num_tasks, const WeightingOptions& options = {});
  double max_norm() const { return max_norm_; }
  int64_t update_every() const { return update_every_; }

  /// The α > 0 with K α = 1/α (up to the ridge) for the Gramian K.
  static std::vector<double> bargaining_weights(const linalg::Matrix& gramian);

 protected:
  GradientCombination combine(const GradientInputs& inputs) override;

 private:
  double max_norm_;
  int64_t update_every_;
  Tensor last_weights_, steps_;
};

}  // namespace tandem::mtl
