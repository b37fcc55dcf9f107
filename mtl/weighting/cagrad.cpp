// cagrad: the dual problem on the simplex (Frank-Wolfe with golden-section steps), then the update's weights.
#include "mtl/weighting/cagrad.h"

#include <cmath>

namespace tandem::mtl {

namespace {
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("cagrad", {"c", "rescale", "scope"});
  return parse_scope(options.text("scope", "params"));
}
}  // namespace

CAGrad::CAGrad(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("cagrad", num_tasks, checked_scope(options)),
      c_(options.number("cagrad", "c", 0.5)) {
  TD_CHECK(c_ >= 0.0 && std::isfinite(c_), "cagrad: c must be a finite number >= 0, got ", c_);
  const double rescale = options.number("cagrad", "rescale", 1.0);
  TD_CHECK(rescale == 0.0 || rescale == 1.0, "cagrad: rescale must be 0 or 1, got ", rescale);
  rescale_ = rescale == 1.0;
}

std::vector<double> CAGrad::weights(const linalg::Matrix& gramian, double c, bool rescale) {
  const size_t T = gramian.rows();
  TD_CHECK(T >= 1 && gramian.cols() == T, "cagrad: expected a square Gramian, got [", T, ", ", gramian.cols(), "]");
  const double uniform = 1.0 / static_cast<double>(T);
  std::vector<double> alpha(T, uniform);
  const double tr = linalg::trace(gramian);
  if (tr > 0.0 && c > 0.0) {
    // The weights do not depend on the scale of K: work on K / trace.
    linalg::Matrix k = gramian;
    for (size_t i = 0; i < T; ++i)
      for (size_t j = 0; j < T; ++j) k(i, j) /= tr;
    const std::vector<double> b = linalg::matvec(k, std::vector<double>(T, uniform));  // K𝟙/T: g_tᵀg0
    const double g0_norm_sq = std::max(linalg::dot(b, std::vector<double>(T, uniform)), 0.0);
    const double sqrt_phi = c * std::sqrt(g0_norm_sq);
    linalg::SimplexObjective objective;
    objective.value = [&](const std::vector<double>& w) {
      return linalg::dot(b, w) + sqrt_phi * std::sqrt(std::max(linalg::quadratic_form(k, w), 0.0));
    };
    objective.gradient = [&](const std::vector<double>& w) {
      std::vector<double> g = b;
      const std::vector<double> kw = linalg::matvec(k, w);
      const double norm = std::sqrt(std::max(linalg::dot(w, kw), 0.0));
      if (norm > 0.0)
        for (size_t i = 0; i < T; ++i) g[i] += sqrt_phi * kw[i] / norm;
      return g;
    };
    const std::vector<double> w =
        linalg::minimize_on_simplex(objective, std::vector<double>(T, uniform), {1e-12, 2000});
    const double gw_norm = std::sqrt(std::max(linalg::quadratic_form(k, w), 0.0));
    // ‖g_w‖ = 0 means the gradients are Pareto-stationary; the correction has no direction then.
    if (gw_norm > 1e-12 * std::sqrt(g0_norm_sq) && gw_norm > 0.0) {
      const double lambda = sqrt_phi / gw_norm;
      for (size_t t = 0; t < T; ++t) alpha[t] += lambda * w[t];
    }
  }
  if (rescale)
    for (double& a : alpha) a /= 1.0 + c * c;
  return alpha;
}

GradientCombination CAGrad::combine(const GradientInputs& inputs) {
  return {weights(linalg::Matrix::from_tensor(inputs.gramian), c_, rescale_), Tensor()};
}

}  // namespace tandem::mtl
