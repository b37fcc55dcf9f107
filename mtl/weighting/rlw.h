// Random loss weighting (rlw): every step draws ε ~ N(0, I) and weights the task losses by softmax(ε). The
// draws come from tandem's global generator, so a run after manual_seed() is reproducible.
#pragma once

#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// rlw: L = Σ_t softmax(ε)_t L_t with a fresh ε each step. No options, no state.
class RLW : public LossWeighting {
 public:
  RLW(size_t num_tasks, const WeightingOptions& options = {});

 protected:
  Tensor combine(StepContext& context, std::vector<double>& weights) override;
};

}  // namespace tandem::mtl
