// Equal weighting (ew: L = Σ L_t) and fixed weighting (fixed: L = Σ λ_t L_t with user weights), the baselines
// every other method is measured against.
#pragma once

#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// ew: the plain sum of the task losses.
class EW : public LossWeighting {
 public:
  EW(size_t num_tasks, const WeightingOptions& options = {});

 protected:
  Tensor combine(StepContext& context, std::vector<double>& weights) override;
};

/// fixed: Σ λ_t L_t; options w0, w1, ... (default 1 each).
class Fixed : public LossWeighting {
 public:
  Fixed(size_t num_tasks, const WeightingOptions& options = {});
  Fixed(std::vector<double> weights);
  const std::vector<double>& weights() const { return weights_; }

 protected:
  Tensor combine(StepContext& context, std::vector<double>& weights) override;

 private:
  std::vector<double> weights_;
};

}  // namespace tandem::mtl
