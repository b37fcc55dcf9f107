// GradDrop (Chen et al. 2020), gradient sign dropout, on the shared representation z only. For every feature
// of z (every position except the batch dimension) and every task, s_i = Σ_batch ∂L_i/∂z ⊙ sign(z); the
// purity P = ½ (1 + Σ_i s_i / Σ_i |s_i|) ∈ [0, 1] says how much the tasks agree on the sign. With U ~ U(0, 1)
// drawn per feature, task i keeps its gradient at a feature where (P > U and s_i > 0) or (P < U and s_i < 0):
// the sign that most tasks push for survives more often. With `leak` ℓ the kept fraction is
// ℓ + (1 − ℓ)·mask (ℓ = 1 is the plain sum). The update of z is Σ_i kept_i ⊙ ∂L_i/∂z, back-propagated
// through the encoder. U comes from tandem's seeded generator (manual_seed makes it reproducible).
#pragma once

#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// graddrop: options `leak` (in [0, 1], default 0) and `scope` (rep only, the default).
class GradDrop : public GradientWeighting {
 public:
  GradDrop(size_t num_tasks, const WeightingOptions& options = {});
  double leak() const { return leak_; }

 protected:
  /// The reported weights are each task's mean kept fraction over the features.
  GradientCombination combine(const GradientInputs& inputs) override;

 private:
  double leak_;
};

}  // namespace tandem::mtl
