// upgrad: T bound-constrained quadratic programs on the trace-normalised Gramian.
#include "mtl/weighting/upgrad.h"

namespace tandem::mtl {

namespace {
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("upgrad", {"scope"});
  return parse_scope(options.text("scope", "params"));
}
/// Makes each program strictly convex when the gradients are linearly dependent (K singular).
constexpr double kRidge = 1e-9;
}  // namespace

UPGrad::UPGrad(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("upgrad", num_tasks, checked_scope(options)) {}

std::vector<double> UPGrad::projection_weights(const linalg::Matrix& gramian) {
  const size_t T = gramian.rows();
  TD_CHECK(T >= 1 && gramian.cols() == T, "upgrad: expected a square Gramian, got [", T, ", ", gramian.cols(), "]");
  const double tr = linalg::trace(gramian);
  // All gradients zero: every weighting gives the zero update; keep the plain sum.
  if (!(tr > 0.0)) return std::vector<double>(T, 1.0);
  linalg::Matrix q(T, T);
  for (size_t i = 0; i < T; ++i) {
    for (size_t j = 0; j < T; ++j) q(i, j) = gramian(i, j) / tr;
    q(i, i) += kRidge;
  }
  std::vector<double> alpha(T, 0.0);
  const std::vector<double> no_linear_term(T, 0.0);
  for (size_t i = 0; i < T; ++i) {
    std::vector<double> lower(T, 0.0);
    lower[i] = 1.0;
    const std::vector<double> w = linalg::minimize_quadratic_above(q, no_linear_term, lower);
    for (size_t t = 0; t < T; ++t) alpha[t] += w[t];
  }
  return alpha;
}

GradientCombination UPGrad::combine(const GradientInputs& inputs) {
  return {projection_weights(linalg::Matrix::from_tensor(inputs.gramian)), Tensor()};
}

}  // namespace tandem::mtl
