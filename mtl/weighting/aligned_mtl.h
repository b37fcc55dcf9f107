// Aligned-MTL (Senushkin et al. 2023): align the task gradients so that the linear system they form is
// well conditioned. With K = V Λ Vᵀ (eigenvalues below a tolerance dropped: rank r),
//     B = √λ_min · V Λ^{-1/2} Vᵀ,   ĝ_i = Σ_k B_ik g_k,   α = Bᵀ𝟙,
// the aligned gradients ĝ_i have Gramian λ_min V_r V_rᵀ: for full rank they are orthogonal with equal norms
// √λ_min (the condition number of the system becomes 1), and the update is Σ_i ĝ_i = Σ_k α_k g_k.
#pragma once

#include <vector>

#include "mtl/weighting/small_linalg.h"
#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// aligned_mtl: option `scope` (params | last | rep).
class AlignedMTL : public GradientWeighting {
 public:
  AlignedMTL(size_t num_tasks, const WeightingOptions& options = {});

  /// B for the Gramian K; eigenvalues at or below relative_tolerance · λ_max · T count as zero.
  static linalg::Matrix alignment_matrix(const linalg::Matrix& gramian, double relative_tolerance);

 protected:
  GradientCombination combine(const GradientInputs& inputs) override;
};

}  // namespace tandem::mtl
