// The two-objective, two-parameter toy problem of the CAGrad paper (Liu et al. 2021, Figure 1), the standard
// picture of where each gradient method ends on a Pareto front. For θ = (x, y):
//     h1 = log(max(|0.5(−x − 7) − tanh(−y)|, 5e-6)) + 6,   h2 = log(max(|0.5(−x + 3) + tanh(−y) + 2|, 5e-6)) + 6,
//     q1 = ((−x + 7)² + 0.1 (−y − 8)²) / 10 − 20,          q2 = ((−x − 7)² + 0.1 (−y − 8)²) / 10 − 20,
//     c1 = max(tanh(y/2), 0),  c2 = max(tanh(−y/2), 0),
//     L1 = c1 h1 + c2 q1,      L2 = c1 h2 + c2 q2.
// Above y = 0 the losses are logarithmic valleys, below it quadratic bowls centred at x = 7 (L1) and x = −7
// (L2); the Pareto set is close to the segment x ∈ [−7, 7] at y ≈ −8.36, and the average loss is lowest in its
// middle. The paper's starting points are (−8.5, 7.5), (−8.5, −5) and (9, 9); it runs Adam (lr 1e-3) on the
// direction each method makes of the two gradients. The losses are negative over much of the plane, so methods
// that need positive losses (db_mtl's logarithm, mgda's loss normalisation) do not apply here.
//
//   mtl::ToyLandscape toy(-8.5, 7.5);                  // a MultiTaskModel: θ is its one shared parameter
//   auto cagrad = mtl::make_weighting("cagrad", 2);
//   mtl::ToyTrajectory path = mtl::run_toy_landscape(*cagrad, {-8.5, 7.5}, 20000);
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "mtl/model.h"
#include "mtl/weighting/weighting.h"
#include "nn/module.h"

namespace tandem::mtl {

/// The toy problem as a two-task model: θ ∈ R² (the parameter "theta", float64) is shared, there are no task
/// parameters, and forward(input) ignores its input and returns the two losses (scalars).
class ToyLandscapeImpl : public MultiTaskModel {
 public:
  ToyLandscapeImpl(double x = 0.0, double y = 0.0);
  std::vector<Tensor> forward(const Tensor& input) override;
  std::vector<Tensor> task_parameters(size_t task) const override;

  /// (L1, L2) at θ = (x, y) as tensors attached to the graph of `theta` ([2]).
  static std::array<Tensor, 2> losses(const Tensor& theta);
  /// (L1, L2) at a point, as numbers.
  static std::array<double, 2> losses_at(double x, double y);
  /// The two loss gradients at a point: {∇L1, ∇L2}.
  static std::array<std::array<double, 2>, 2> gradients_at(double x, double y);

  Tensor theta;
};
TANDEM_MODULE(ToyLandscape);

/// The starting points of the CAGrad paper: (−8.5, 7.5), (−8.5, −5) and (9, 9).
std::vector<std::array<double, 2>> toy_landscape_starts();

/// Where a run went: the point and the two losses after every `record_every` steps (the start included).
struct ToyTrajectory {
  std::vector<std::array<double, 2>> points;
  std::vector<std::array<double, 2>> losses;
  /// The last point and its losses.
  std::array<double, 2> final_point() const { return points.back(); }
  std::array<double, 2> final_losses() const { return losses.back(); }
};

/// Runs `steps` Adam steps (learning rate `lr`, the paper's 1e-3 by default) of `weighting` on the toy
/// problem from `start`. The weighting's own parameters (IMTL's scales) are trained by the same optimizer.
ToyTrajectory run_toy_landscape(Weighting& weighting, std::array<double, 2> start, int64_t steps, double lr = 1e-3,
                                int64_t record_every = 1);

/// ‖min-norm point of the convex hull of ∇L1 and ∇L2‖ at a point: zero exactly at Pareto-stationary points.
double toy_landscape_stationarity(double x, double y);

}  // namespace tandem::mtl
