// CAGrad (Liu et al. 2021), conflict-averse gradient descent: the update d maximises the worst task's
// improvement min_i g_iᵀd within a ball around the mean gradient g0, ‖d − g0‖ ≤ c‖g0‖. Its dual is a problem
// on the simplex,
//     w = argmin_{w ∈ simplex} wᵀK𝟙/T + √φ · √(wᵀKw),   φ = c²‖g0‖²,
// and then d = g0 + (√φ / ‖g_w‖) g_w with g_w = Σ w_t g_t, optionally rescaled by 1/(1 + c²). c = 0 gives the
// mean gradient; large c approaches MGDA. Everything runs on the Gramian K; the weights are
// α = (𝟙/T + (√φ/‖g_w‖) w) / (1 + c²).
#pragma once

#include <vector>

#include "mtl/weighting/small_linalg.h"
#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// cagrad: options `c` (≥ 0, default 0.5), `rescale` (0 or 1, default 1: divide by 1 + c²) and `scope`.
class CAGrad : public GradientWeighting {
 public:
  CAGrad(size_t num_tasks, const WeightingOptions& options = {});
  double c() const { return c_; }
  bool rescale() const { return rescale_; }

  /// The weights α of the CAGrad update for the Gramian K.
  static std::vector<double> weights(const linalg::Matrix& gramian, double c, bool rescale);

 protected:
  GradientCombination combine(const GradientInputs& inputs) override;

 private:
  double c_;
  bool rescale_ = true;
};

}  // namespace tandem::mtl
