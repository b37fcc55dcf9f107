// IMTL (Liu et al. 2021), impartial multi-task learning, in its hybrid form:
//  - IMTL-L balances the loss scales: L_t → e^{s_t} L_t − s_t with a learnable s_t per task (the parameter
//    "log_scale", initialised to 0, trained by the model's optimizer with the gradient e^{s_t} L_t − 1, which
//    drives e^{s_t} L_t towards 1);
//  - IMTL-G balances the gradient directions: the update g = Σ α_t g_t (Σ α_t = 1) has the same projection
//    on every unit gradient u_t = g_t / ‖g_t‖. With D = [g_1 − g_t]_{t≥2} and U = [u_1 − u_t]_{t≥2},
//    α_{2:T} = g_1 Uᵀ (D Uᵀ)⁻¹ and α_1 = 1 − Σ α_{2:T}. On the Gramian, g_s·u_t = K_st / √K_tt.
// When D Uᵀ is singular (e.g. two identical gradients, for which any α summing to 1 is impartial) the
// minimum-norm least-squares solution is used. Tasks whose gradient is zero have no direction and get α = 0.
#pragma once

#include <vector>

#include "mtl/weighting/small_linalg.h"
#include "mtl/weighting/weighting.h"

namespace tandem::mtl {

/// imtl: option `scope` (params | last | rep).
class IMTL : public GradientWeighting {
 public:
  IMTL(size_t num_tasks, const WeightingOptions& options = {});
  /// s, [T]: the loss of task t is scaled by e^{s_t}.
  const Tensor& log_scale() const { return log_scale_; }

  /// The IMTL-G weights (summing to 1) for the Gramian K.
  static std::vector<double> impartial_weights(const linalg::Matrix& gramian);

 protected:
  std::vector<Tensor> transform_losses(const std::vector<Tensor>& losses) override;
  GradientCombination combine(const GradientInputs& inputs) override;

 private:
  Tensor log_scale_;
};

}  // namespace tandem::mtl
