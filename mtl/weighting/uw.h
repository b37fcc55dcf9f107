// Uncertainty weighting (uw, Kendall et al. 2018): each task has a learnable log-variance s_t = log σ_t², and
// the combined loss is Σ_t [ L_t / (2 e^{s_t}) + s_t / 2 ]. A task with a noisy (large) loss learns a large
// variance and so a small weight; for a fixed L_t the optimum is s_t = log L_t.
#pragma once

#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// uw: learnable log-variances s ([T], parameter "log_variance", initialised to -0.5), trained by the model's
/// optimizer. No options.
class UW : public LossWeighting {
 public:
  UW(size_t num_tasks, const WeightingOptions& options = {});
  /// s = log σ², one per task.
  const Tensor& log_variance() const { return log_variance_; }

 protected:
  /// Σ_t [L_t e^{-s_t} / 2 + s_t / 2]; the reported weights are e^{-s_t} / 2.
  Tensor combine(StepContext& context, std::vector<double>& weights) override;

 private:
  Tensor log_variance_;
};

}  // namespace tandem::mtl
