// gls: the geometric mean of the task losses.
#include "mtl/weighting/gls.h"

#include <cmath>

#include "tensor/functions.h"

namespace tandem::mtl {

GLS::GLS(size_t num_tasks, const WeightingOptions& options) : LossWeighting("gls", num_tasks) {
  options.check_known("gls", {});
}

Tensor GLS::combine(StepContext& context, std::vector<double>& weights) {
  const size_t T = context.losses.size();
  std::vector<double> values(T);
  double mean_log = 0;
  for (size_t t = 0; t < T; ++t) {
    values[t] = context.losses[t].detach().item<double>();
    TD_CHECK(std::isfinite(values[t]) && values[t] > 0, "gls: the loss of task ", t, " is ", values[t],
             "; the geometric mean needs finite losses > 0");
    mean_log += std::log(values[t]) / static_cast<double>(T);
  }
  // exp(mean log L) rather than pow(prod L, 1/T): the product of many small losses would underflow.
  Tensor sum_log = log(context.losses[0].reshape({}));
  for (size_t t = 1; t < T; ++t) sum_log = sum_log + log(context.losses[t].reshape({}));
  const double geometric_mean = std::exp(mean_log);
  weights.resize(T);
  for (size_t t = 0; t < T; ++t) weights[t] = geometric_mean / (static_cast<double>(T) * values[t]);
  return exp(sum_log / static_cast<double>(T));
}

}  // namespace tandem::mtl
