// db_mtl: logarithmic losses and the moving averages of the task gradients, rescaled to the largest norm.
#include "mtl/weighting/db_mtl.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("db_mtl", {"beta", "beta_sigma", "scope"});
  return parse_scope(options.text("scope", "params"));
}
constexpr double kEpsilon = 1e-8;
}  // namespace

DBMTL::DBMTL(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("db_mtl", num_tasks, checked_scope(options)),
      beta_(options.number("db_mtl", "beta", 0.9)),
      beta_sigma_(options.number("db_mtl", "beta_sigma", 0.5)) {
  TD_CHECK(beta_ >= 0.0 && beta_ < 1.0, "db_mtl: beta must be in [0, 1), got ", beta_);
  TD_CHECK(beta_sigma_ >= 0.0 && std::isfinite(beta_sigma_), "db_mtl: beta_sigma must be >= 0, got ", beta_sigma_);
  average_ = register_buffer("gradient_average", zeros({0}, kFloat64));
  steps_ = register_buffer("steps", zeros({1}, kInt64));
}

std::vector<Tensor> DBMTL::transform_losses(const std::vector<Tensor>& losses) {
  std::vector<Tensor> logs;
  for (size_t t = 0; t < losses.size(); ++t) {
    const double value = losses[t].detach().to(kCPU).to(kFloat64).item<double>();
    TD_CHECK(value + kEpsilon > 0.0 && std::isfinite(value), "db_mtl: takes log(L + 1e-8) of each loss, but task ",
             t, " has loss ", value, " (the losses must be non-negative)");
    logs.push_back((losses[t] + kEpsilon).log());
  }
  return logs;
}

GradientCombination DBMTL::combine(const GradientInputs& inputs) {
  NoGradGuard no_grad;
  const Tensor& g = inputs.gradients.matrix();
  const size_t T = num_tasks();
  const bool fresh = average_.numel() == 0 || (scope() == SharedScope::kRepresentation && average_.sizes() != g.sizes());
  if (fresh) {
    nn::set_data(average_, zeros(g.sizes(), TensorOptions(g.dtype()).device(g.device())));
    steps_.zero_();
  }
  TD_CHECK(average_.sizes() == g.sizes(), "db_mtl: the gradient average has shape ", average_.sizes(),
           " but the task gradients have shape ", g.sizes());
  if (average_.dtype() != g.dtype() || average_.device() != g.device())
    nn::set_data(average_, average_.to(g.device(), g.dtype()));
  steps_.add_(1.0);
  const auto k = static_cast<double>(steps_.item<int64_t>());
  const double rate = beta_ / std::pow(k, beta_sigma_);
  average_.copy_(g + (average_ - g) * rate);

  const Tensor scoped = average_.narrow(1, inputs.scope_begin, inputs.scope_end - inputs.scope_begin);
  const std::vector<double> norms = scoped.to(kFloat64).square().sum({1}).sqrt().to(kCPU).to_vector<double>();
  double largest = 0.0;
  for (double n : norms) largest = std::max(largest, n);
  GradientCombination result;
  result.weights.assign(T, 0.0);
  for (size_t t = 0; t < T; ++t)
    if (norms[t] > 0.0) result.weights[t] = largest / norms[t];
  const Tensor alpha = tensor(result.weights, TensorOptions(kFloat64)).to(g.device(), g.dtype());
  result.direction = alpha.unsqueeze(0).matmul(average_).reshape({g.size(1)});
  return result;
}

}  // namespace tandem::mtl
