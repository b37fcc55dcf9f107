// ew and fixed.
#include "mtl/weighting/ew.h"

#include <string>

namespace tandem::mtl {

EW::EW(size_t num_tasks, const WeightingOptions& options) : LossWeighting("ew", num_tasks) {
  options.check_known("ew", {});
}

Tensor EW::combine(StepContext& context, std::vector<double>& weights) {
  weights.assign(num_tasks(), 1.0);
  Tensor total = context.losses[0].reshape({});
  for (size_t t = 1; t < context.losses.size(); ++t) total = total + context.losses[t].reshape({});
  return total;
}

Fixed::Fixed(size_t num_tasks, const WeightingOptions& options) : LossWeighting("fixed", num_tasks) {
  std::vector<std::string> known;
  for (size_t t = 0; t < num_tasks; ++t) {
    std::string key = "w";  // (not "w" + to_string: g++ 12 warns falsely about that concatenation)
    key += std::to_string(t);
    known.push_back(key);
    weights_.push_back(options.number("fixed", known.back(), 1.0));
  }
  options.check_known("fixed", known);
}

Fixed::Fixed(std::vector<double> weights) : LossWeighting("fixed", weights.size()), weights_(std::move(weights)) {}

Tensor Fixed::combine(StepContext& context, std::vector<double>& weights) {
  weights = weights_;
  Tensor total = context.losses[0].reshape({}) * weights_[0];
  for (size_t t = 1; t < context.losses.size(); ++t) total = total + context.losses[t].reshape({}) * weights_[t];
  return total;
}

}  // namespace tandem::mtl
