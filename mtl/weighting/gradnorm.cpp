// gradnorm: the weights' own loss, its gradient written into w.grad, and the renormalisation after the step.
#include "mtl/weighting/gradnorm.h"

#include <algorithm>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
// The smallest weight a task keeps after the renormalisation (relative to the average weight of 1).
constexpr double kMinimumWeight = 1e-6;
}  // namespace

GradNorm::GradNorm(size_t num_tasks, const WeightingOptions& options) : LossWeighting("gradnorm", num_tasks) {
  options.check_known("gradnorm", {"alpha"});
  alpha_ = options.number("gradnorm", "alpha", 1.5);
  TD_CHECK(std::isfinite(alpha_) && alpha_ >= 0, "gradnorm: alpha must be >= 0, got ", alpha_);
  const auto T = static_cast<int64_t>(num_tasks);
  loss_weights_ = register_parameter("loss_weights", ones({T}));
  initial_losses_ = register_buffer("initial_losses", zeros({T}, kFloat64));
  steps_ = register_buffer("steps", zeros({}, kInt64));
}

Tensor GradNorm::combine(StepContext& context, std::vector<double>& weights) {
  const size_t T = num_tasks();
  const std::vector<Tensor> last_shared = context.model.last_shared_parameters();
  TD_CHECK(!last_shared.empty(), "gradnorm: ", context.model.name(), " has an empty last shared layer");

  // n_t = ‖∂L_t/∂W‖ over the whole last shared layer.
  std::vector<double> norms(T), losses(T);
  for (size_t t = 0; t < T; ++t) {
    TD_CHECK(context.losses[t].requires_grad(), "gradnorm: the loss of task ", t,
             " does not require grad (it must come from the model's forward)");
    const auto grads = autograd::grad({context.losses[t]}, last_shared, {}, /*retain_graph=*/true,
                                      /*create_graph=*/false, /*allow_unused=*/true);
    double squared = 0;
    for (const Tensor& g : grads)
      if (g.defined()) squared += g.detach().to(kFloat64).square().sum().item<double>();
    norms[t] = std::sqrt(squared);
    losses[t] = context.losses[t].detach().item<double>();
    TD_CHECK(std::isfinite(losses[t]) && losses[t] >= 0, "gradnorm: the loss of task ", t, " is ", losses[t],
             "; the training rates L_t / L_t(0) need finite losses >= 0");
  }

  {
    NoGradGuard no_grad;
    if (steps_.item<int64_t>() == 0) {
      for (size_t t = 0; t < T; ++t)
        TD_CHECK(losses[t] > 0, "gradnorm: the first loss of task ", t, " is ", losses[t],
                 "; the training rates L_t / L_t(0) need first losses > 0");
      initial_losses_.copy_(tensor(losses, kFloat64));
    }
    steps_.fill_(static_cast<double>(steps_.item<int64_t>() + 1));
  }

  const std::vector<double> initial = initial_losses_.to_vector<double>();
  weights = loss_weights_.detach().to_vector<double>();
  std::vector<double> rates(T), gradient_norms(T);
  double mean_rate = 0, mean_norm = 0;
  for (size_t t = 0; t < T; ++t) {
    rates[t] = losses[t] / initial[t];
    mean_rate += rates[t] / static_cast<double>(T);
    gradient_norms[t] = weights[t] * norms[t];
    mean_norm += gradient_norms[t] / static_cast<double>(T);
  }
  // ∂/∂w_t Σ_j |G_j − target_j| with the targets constant: sign(G_t − target_t) · n_t.
  std::vector<double> weight_grad(T);
  for (size_t t = 0; t < T; ++t) {
    // The losses are >= 0, so the mean rate is 0 only when every loss is 0: then all rates count as equal.
    const double relative_rate = mean_rate > 0 ? rates[t] / mean_rate : 1.0;
    const double target = mean_norm * std::pow(relative_rate, alpha_);
    const double difference = gradient_norms[t] - target;
    weight_grad[t] = (difference > 0 ? 1.0 : difference < 0 ? -1.0 : 0.0) * norms[t];
  }
  Tensor w = loss_weights_;
  accumulate_grad(w, tensor(weight_grad, kFloat64).to(w.device(), w.dtype()));

  Tensor total = context.losses[0].reshape({}) * weights[0];
  for (size_t t = 1; t < T; ++t) total = total + context.losses[t].reshape({}) * weights[t];
  return total;
}

void GradNorm::after_step() {
  NoGradGuard no_grad;
  std::vector<double> w = loss_weights_.detach().to_vector<double>();
  const double T = static_cast<double>(num_tasks());
  double total = 0;
  for (double& v : w) {
    TD_CHECK(std::isfinite(v), "gradnorm: a task weight became ", v, " after the optimizer step");
    total += (v = std::max(v, kMinimumWeight));
  }
  for (double& v : w) v = v * T / total;
  loss_weights_.copy_(tensor(w, kFloat64));
}

}  // namespace tandem::mtl
