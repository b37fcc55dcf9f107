// PCGrad (Yu et al. 2020), "gradient surgery": each task gradient g_i is projected, one other task j at a time
// in a random order, onto the normal plane of every original g_j it conflicts with (g'_i·g_j < 0):
// g'_i ← g'_i − (g'_i·g_j / ‖g_j‖²) g_j. The update is Σ_i g'_i.
//
// Every g'_i stays a combination of this step's gradients, g'_i = Σ_k c_ik g_k, so the whole method runs on
// the Gramian: g'_i·g_j = (K c_i)_j and a projection is a rank-one update of c_i. The weights are α = Σ_i c_i.
// The orders come from tandem's seeded generator (randperm), so manual_seed makes a run reproducible.
#pragma once

#include <vector>

#include "mtl/weighting/small_linalg.h"
#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// pcgrad: option `scope` (params | last | rep).
class PCGrad : public GradientWeighting {
 public:
  PCGrad(size_t num_tasks, const WeightingOptions& options = {});

  /// The weights of Σ_i g'_i for the Gramian K, projecting task i's gradient on the tasks of orders[i] in that
  /// order (entries equal to i are skipped).
  static std::vector<double> weights(const linalg::Matrix& gramian, const std::vector<std::vector<size_t>>& orders);

 protected:
  GradientCombination combine(const GradientInputs& inputs) override;
};

}  // namespace tandem::mtl
