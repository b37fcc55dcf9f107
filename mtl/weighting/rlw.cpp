// rlw: softmax of a standard normal draw as the task weights.
#include "mtl/weighting/rlw.h"

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

RLW::RLW(size_t num_tasks, const WeightingOptions& options) : LossWeighting("rlw", num_tasks) {
  options.check_known("rlw", {});
}

Tensor RLW::combine(StepContext& context, std::vector<double>& weights) {
  {
    NoGradGuard no_grad;
    weights = softmax(randn({static_cast<int64_t>(num_tasks())}, kFloat64), 0).to_vector<double>();
  }
  Tensor total = context.losses[0].reshape({}) * weights[0];
  for (size_t t = 1; t < context.losses.size(); ++t) total = total + context.losses[t].reshape({}) * weights[t];
  return total;
}

}  // namespace tandem::mtl
