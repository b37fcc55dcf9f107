// famo: the log-loss combination, and the Adam update of the logits after the step.
#include "mtl/weighting/famo.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
// Adam's constants for ξ (PyTorch's defaults, as in the paper's code).
constexpr double kBeta1 = 0.9;
constexpr double kBeta2 = 0.999;
constexpr double kAdamEpsilon = 1e-8;
}  // namespace

FAMO::FAMO(size_t num_tasks, const WeightingOptions& options) : LossWeighting("famo", num_tasks) {
  options.check_known("famo", {"lr", "weight_decay", "epsilon"});
  lr_ = options.number("famo", "lr", 0.025);
  weight_decay_ = options.number("famo", "weight_decay", 1e-3);
  epsilon_ = options.number("famo", "epsilon", 1e-8);
  TD_CHECK(std::isfinite(lr_) && lr_ > 0, "famo: lr must be > 0, got ", lr_);
  TD_CHECK(std::isfinite(weight_decay_) && weight_decay_ >= 0, "famo: weight_decay must be >= 0, got ",
           weight_decay_);
  TD_CHECK(std::isfinite(epsilon_) && epsilon_ >= 0, "famo: epsilon must be >= 0, got ", epsilon_);
  const auto T = static_cast<int64_t>(num_tasks);
  logits_ = register_buffer("logits", zeros({T}, kFloat64));
  first_moment_ = register_buffer("adam_first_moment", zeros({T}, kFloat64));
  second_moment_ = register_buffer("adam_second_moment", zeros({T}, kFloat64));
  adam_steps_ = register_buffer("adam_steps", zeros({}, kInt64));
  log_losses_before_ = register_buffer("log_losses_before", zeros({T}, kFloat64));
}

std::vector<double> FAMO::task_weights() const {
  std::vector<double> z = logits_.to_vector<double>();
  const double top = *std::max_element(z.begin(), z.end());
  double total = 0;
  for (double& v : z) total += (v = std::exp(v - top));
  for (double& v : z) v /= total;
  return z;
}

Tensor FAMO::combine(StepContext& context, std::vector<double>& weights) {
  const size_t T = num_tasks();
  const std::vector<double> z = task_weights();
  std::vector<double> shifted(T), log_shifted(T);
  double inverse_c = 0;
  for (size_t t = 0; t < T; ++t) {
    shifted[t] = context.losses[t].detach().item<double>() + epsilon_;
    TD_CHECK(std::isfinite(shifted[t]) && shifted[t] > 0, "famo: the loss of task ", t, " plus epsilon is ",
             shifted[t], "; log D_t needs L_t + epsilon > 0");
    log_shifted[t] = std::log(shifted[t]);
    inverse_c += z[t] / shifted[t];
  }
  {
    NoGradGuard no_grad;
    log_losses_before_.copy_(tensor(log_shifted, kFloat64));
  }
  has_losses_before_ = true;

  weights.resize(T);
  Tensor total;
  for (size_t t = 0; t < T; ++t) {
    const double scale = z[t] / inverse_c;  // c z_t
    weights[t] = scale / shifted[t];
    const Tensor term = log(context.losses[t].reshape({}) + epsilon_) * scale;
    total = total.defined() ? total + term : term;
  }
  return total;
}

void FAMO::after_step_losses(const std::vector<double>& losses_after) {
  const size_t T = num_tasks();
  TD_CHECK(losses_after.size() == T, "famo: after_step_losses got ", losses_after.size(), " losses for ", T,
           " tasks");
  TD_CHECK(has_losses_before_, "famo: after_step_losses called without a combined step before it");
  const std::vector<double> before = log_losses_before_.to_vector<double>();
  std::vector<double> decrease(T);
  for (size_t t = 0; t < T; ++t) {
    const double shifted = losses_after[t] + epsilon_;
    TD_CHECK(std::isfinite(shifted) && shifted > 0, "famo: the loss of task ", t, " after the step plus epsilon is ",
             shifted, "; log D_t needs L_t + epsilon > 0");
    decrease[t] = before[t] - std::log(shifted);
  }
  has_losses_before_ = false;

  // Jᵀδ for z = softmax(ξ): J = diag(z) − z zᵀ is symmetric, so (Jᵀδ)_i = z_i (δ_i − Σ_j z_j δ_j).
  const std::vector<double> z = task_weights();
  double mean_decrease = 0;
  for (size_t t = 0; t < T; ++t) mean_decrease += z[t] * decrease[t];
  std::vector<double> xi = logits_.to_vector<double>();
  std::vector<double> m = first_moment_.to_vector<double>(), v = second_moment_.to_vector<double>();
  const int64_t step = adam_steps_.item<int64_t>() + 1;
  const double correction1 = 1 - std::pow(kBeta1, static_cast<double>(step));
  const double correction2 = 1 - std::pow(kBeta2, static_cast<double>(step));
  for (size_t t = 0; t < T; ++t) {
    const double g = z[t] * (decrease[t] - mean_decrease) + weight_decay_ * xi[t];
    m[t] = kBeta1 * m[t] + (1 - kBeta1) * g;
    v[t] = kBeta2 * v[t] + (1 - kBeta2) * g * g;
    xi[t] -= lr_ * (m[t] / correction1) / (std::sqrt(v[t] / correction2) + kAdamEpsilon);
  }
  NoGradGuard no_grad;
  logits_.copy_(tensor(xi, kFloat64));
  first_moment_.copy_(tensor(m, kFloat64));
  second_moment_.copy_(tensor(v, kFloat64));
  adam_steps_.fill_(static_cast<double>(step));
}

}  // namespace tandem::mtl
