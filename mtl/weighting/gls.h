// Geometric loss strategy (gls, Chennupati et al. 2019): the combined loss is the geometric mean of the task
// losses, (Π_t L_t)^{1/T}. Its gradient weights task t by GLS / (T · L_t), so a task whose loss is already
// small gets pushed harder — the geometric mean is invariant to rescaling any one loss.
#pragma once

#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// gls: (Π_t L_t)^{1/T}, computed as exp(mean_t log L_t). Every task loss must be finite and > 0. No options.
class GLS : public LossWeighting {
 public:
  GLS(size_t num_tasks, const WeightingOptions& options = {});

 protected:
  /// The reported weights are ∂GLS/∂L_t = GLS / (T · L_t).
  Tensor combine(StepContext& context, std::vector<double>& weights) override;
};

}  // namespace tandem::mtl
