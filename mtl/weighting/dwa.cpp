// dwa: weights from the ratio of the last two epoch-mean losses of each task.
#include "mtl/weighting/dwa.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

DWA::DWA(size_t num_tasks, const WeightingOptions& options) : LossWeighting("dwa", num_tasks) {
  options.check_known("dwa", {"temperature"});
  temperature_ = options.number("dwa", "temperature", 2.0);
  TD_CHECK(std::isfinite(temperature_) && temperature_ > 0, "dwa: temperature must be > 0, got ", temperature_);
  loss_history_ = register_buffer("loss_history", zeros({2, static_cast<int64_t>(num_tasks)}, kFloat64));
  epochs_seen_ = register_buffer("epochs_seen", zeros({}, kInt64));
}

std::vector<double> DWA::current_weights() const {
  const size_t T = num_tasks();
  if (epochs_seen_.item<int64_t>() < 2) return std::vector<double>(T, 1.0);
  const std::vector<double> history = loss_history_.to_vector<double>();  // row-major [2, T]
  std::vector<double> scaled(T);
  for (size_t k = 0; k < T; ++k) scaled[k] = history[T + k] / history[k] / temperature_;
  // T · softmax(scaled), shifted by the maximum for stability.
  const double top = *std::max_element(scaled.begin(), scaled.end());
  double total = 0;
  for (double& v : scaled) total += (v = std::exp(v - top));
  for (double& v : scaled) v = static_cast<double>(T) * v / total;
  return scaled;
}

void DWA::end_epoch(const std::vector<double>& mean_losses) {
  TD_CHECK(mean_losses.size() == num_tasks(), "dwa: end_epoch got ", mean_losses.size(), " mean losses for ",
           num_tasks(), " tasks");
  for (size_t k = 0; k < mean_losses.size(); ++k)
    TD_CHECK(std::isfinite(mean_losses[k]) && mean_losses[k] > 0, "dwa: the epoch-mean loss of task ", k,
             " is ", mean_losses[k], "; loss ratios need finite losses > 0");
  NoGradGuard no_grad;
  loss_history_.select(0, 0).copy_(loss_history_.select(0, 1).clone());
  loss_history_.select(0, 1).copy_(tensor(mean_losses, kFloat64));
  epochs_seen_.fill_(static_cast<double>(epochs_seen_.item<int64_t>() + 1));
}

Tensor DWA::combine(StepContext& context, std::vector<double>& weights) {
  weights = current_weights();
  Tensor total = context.losses[0].reshape({}) * weights[0];
  for (size_t t = 1; t < context.losses.size(); ++t) total = total + context.losses[t].reshape({}) * weights[t];
  return total;
}

}  // namespace tandem::mtl
