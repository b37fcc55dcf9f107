// uw: the combined loss with learnable log-variances.
#include "mtl/weighting/uw.h"

#include <cmath>

#include "tensor/functions.h"

namespace tandem::mtl {

UW::UW(size_t num_tasks, const WeightingOptions& options) : LossWeighting("uw", num_tasks) {
  options.check_known("uw", {});
  log_variance_ = register_parameter("log_variance", full({static_cast<int64_t>(num_tasks)}, -0.5));
}

Tensor UW::combine(StepContext& context, std::vector<double>& weights) {
  const std::vector<double> s = log_variance_.detach().to_vector<double>();
  weights.clear();
  Tensor total;
  for (size_t t = 0; t < context.losses.size(); ++t) {
    const Tensor s_t = log_variance_.select(0, static_cast<int64_t>(t));
    const Tensor term = context.losses[t].reshape({}) * exp(-s_t) * 0.5 + s_t * 0.5;
    total = total.defined() ? total + term : term;
    weights.push_back(0.5 * std::exp(-s[t]));
  }
  return total;
}

}  // namespace tandem::mtl
