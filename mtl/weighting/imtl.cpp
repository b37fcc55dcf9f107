// imtl: the IMTL-L loss scaling (learnable) and the IMTL-G impartial combination on the Gramian.
#include "mtl/weighting/imtl.h"

#include <cmath>

#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("imtl", {"scope"});
  return parse_scope(options.text("scope", "params"));
}
}  // namespace

IMTL::IMTL(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("imtl", num_tasks, checked_scope(options)) {
  log_scale_ = register_parameter("log_scale", zeros({static_cast<int64_t>(num_tasks)}));
}

std::vector<Tensor> IMTL::transform_losses(const std::vector<Tensor>& losses) {
  std::vector<Tensor> scaled;
  for (size_t t = 0; t < losses.size(); ++t) {
    const Tensor s = log_scale_.select(0, static_cast<int64_t>(t)).to(losses[t].dtype());
    scaled.push_back(losses[t] * s.exp() - s);
  }
  return scaled;
}

std::vector<double> IMTL::impartial_weights(const linalg::Matrix& gramian) {
  const size_t T = gramian.rows();
  TD_CHECK(T >= 1 && gramian.cols() == T, "imtl: expected a square Gramian, got [", T, ", ", gramian.cols(), "]");
  double largest = 0.0;
  for (size_t t = 0; t < T; ++t) largest = std::max(largest, gramian(t, t));
  // The tasks with a gradient to be impartial to.
  std::vector<size_t> active;
  for (size_t t = 0; t < T; ++t)
    if (gramian(t, t) > 1e-20 * largest && gramian(t, t) > 0.0) active.push_back(t);
  std::vector<double> alpha(T, 0.0);
  if (active.empty()) {
    for (double& a : alpha) a = 1.0 / static_cast<double>(T);
    return alpha;
  }
  const size_t m = active.size();
  std::vector<double> norm(m);
  for (size_t a = 0; a < m; ++a) norm[a] = std::sqrt(gramian(active[a], active[a]));
  auto k = [&](size_t a, size_t b) { return gramian(active[a], active[b]); };
  auto g_dot_u = [&](size_t s, size_t t) { return k(s, t) / norm[t]; };  // g_s · u_t
  // x M = r with r_t = g_1·(u_1 − u_t) and M_st = (g_1 − g_s)·(u_1 − u_t), s, t ≥ 2 (index 0 is task "1").
  linalg::Matrix mt(m - 1, m - 1);  // Mᵀ
  std::vector<double> r(m - 1);
  for (size_t t = 1; t < m; ++t) {
    r[t - 1] = g_dot_u(0, 0) - g_dot_u(0, t);
    for (size_t s = 1; s < m; ++s)
      mt(t - 1, s - 1) = g_dot_u(0, 0) - g_dot_u(0, t) - g_dot_u(s, 0) + g_dot_u(s, t);
  }
  std::vector<double> x;
  if (m > 1) {
    auto solved = linalg::try_solve(mt, r, 1e-10);
    x = solved ? *solved : linalg::solve_least_squares(mt, r, 1e-10);
  }
  double rest = 0.0;
  for (size_t a = 1; a < m; ++a) {
    alpha[active[a]] = x[a - 1];
    rest += x[a - 1];
  }
  alpha[active[0]] = 1.0 - rest;
  return alpha;
}

GradientCombination IMTL::combine(const GradientInputs& inputs) {
  return {impartial_weights(linalg::Matrix::from_tensor(inputs.gramian)), Tensor()};
}

}  // namespace tandem::mtl
