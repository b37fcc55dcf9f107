// nash_mtl: the bargaining weights by damped Newton, with optional reuse across steps and norm clipping.
#include "mtl/weighting/nash_mtl.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("nash_mtl", {"max_norm", "update_every", "scope"});
  return parse_scope(options.text("scope", "params"));
}
/// Keeps K α = 1/α solvable when the gradients admit a vanishing non-negative combination.
constexpr double kRidge = 1e-8;
}  // namespace

NashMTL::NashMTL(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("nash_mtl", num_tasks, checked_scope(options)),
      max_norm_(options.number("nash_mtl", "max_norm", 0.0)) {
  TD_CHECK(max_norm_ >= 0.0 && std::isfinite(max_norm_), "nash_mtl: max_norm must be >= 0, got ", max_norm_);
  const double every = options.number("nash_mtl", "update_every", 1.0);
  TD_CHECK(every >= 1.0 && every == std::floor(every) && every < 1e15, "nash_mtl: update_every must be an integer >= 1, got ",
           every);
  update_every_ = static_cast<int64_t>(every);
  last_weights_ = register_buffer("last_weights", zeros({static_cast<int64_t>(num_tasks)}, kFloat64));
  steps_ = register_buffer("steps", zeros({1}, kInt64));
}

std::vector<double> NashMTL::bargaining_weights(const linalg::Matrix& gramian) {
  const size_t T = gramian.rows();
  TD_CHECK(T >= 1 && gramian.cols() == T, "nash_mtl: expected a square Gramian, got [", T, ", ", gramian.cols(),
           "]");
  // All gradients zero: nothing to bargain over, any weights give the zero update.
  if (!(linalg::trace(gramian) > 0.0)) return std::vector<double>(T, 1.0);
  return linalg::solve_reciprocal_system(gramian, kRidge, {1e-14, 200});
}

GradientCombination NashMTL::combine(const GradientInputs& inputs) {
  const int64_t step = steps_.item<int64_t>();
  std::vector<double> alpha;
  {
    NoGradGuard no_grad;
    if (step % update_every_ == 0) {
      alpha = bargaining_weights(linalg::Matrix::from_tensor(inputs.gramian));
      last_weights_.copy_(tensor(alpha, TensorOptions(kFloat64)).to(last_weights_.device(), last_weights_.dtype()));
    } else {
      alpha = last_weights_.detach().to(kCPU).to(kFloat64).to_vector<double>();
    }
    steps_.add_(1.0);
  }
  if (max_norm_ > 0.0) {
    // The norm of this step's update over all shared parameters (the scope's Gramian may cover fewer columns).
    const bool whole = inputs.scope_begin == 0 && inputs.scope_end == inputs.gradients.dim();
    const linalg::Matrix full = whole ? linalg::Matrix::from_tensor(inputs.gramian)
                                      : linalg::Matrix::from_tensor(inputs.gradients.gramian());
    const double norm = std::sqrt(std::max(linalg::quadratic_form(full, alpha), 0.0));
    if (norm > max_norm_)
      for (double& a : alpha) a *= max_norm_ / norm;
  }
  return {alpha, Tensor()};
}

}  // namespace tandem::mtl
