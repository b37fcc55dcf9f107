// BatchNorm1d, BatchNorm2d and LayerNorm over tandem::batch_norm and tandem::layer_norm.
#include "nn/modules/normalization.h"

#include "autograd/grad_mode.h"
#include "nn/init.h"
#include "tensor/functions.h"

namespace tandem::nn {

template <typename Derived>
void BatchNormImplBase<Derived>::reset() {
  TD_CHECK(options.num_features() > 0, this->name(), ": num_features must be positive, got ", options.num_features());
  TD_CHECK(options.eps() >= 0, this->name(), ": eps must be non-negative, got ", options.eps());
  const int64_t C = options.num_features();
  if (options.affine()) {
    weight = this->register_parameter("weight", empty({C}));
    bias = this->register_parameter("bias", empty({C}));
  } else {
    weight = Tensor();
    bias = Tensor();
  }
  if (options.track_running_stats()) {
    running_mean = this->register_buffer("running_mean", zeros({C}));
    running_var = this->register_buffer("running_var", ones({C}));
    num_batches_tracked = this->register_buffer("num_batches_tracked", zeros(Dims{}, kInt64));
  } else {
    running_mean = Tensor();
    running_var = Tensor();
    num_batches_tracked = Tensor();
  }
  reset_parameters();
}

template <typename Derived>
void BatchNormImplBase<Derived>::reset_running_stats() {
  if (!options.track_running_stats()) return;
  init::zeros_(running_mean);
  init::ones_(running_var);
  init::zeros_(num_batches_tracked);
}

template <typename Derived>
void BatchNormImplBase<Derived>::reset_parameters() {
  reset_running_stats();
  if (options.affine()) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

template <typename Derived>
void BatchNormImplBase<Derived>::pretty_print(std::ostream& os) const {
  os << this->name() << "(" << options.num_features() << ", eps=" << options.eps() << ", momentum=";
  if (options.momentum())
    os << *options.momentum();
  else
    os << "None";
  os << ", affine=" << (options.affine() ? "true" : "false")
     << ", track_running_stats=" << (options.track_running_stats() ? "true" : "false") << ")";
}

template <typename Derived>
Tensor BatchNormImplBase<Derived>::normalize(const Tensor& input) {
  const bool use_batch_stats = this->is_training() || !options.track_running_stats();
  double factor = options.momentum().value_or(0.0);
  if (this->is_training() && options.track_running_stats()) {
    NoGradGuard no_grad;
    const int64_t seen = num_batches_tracked.template item<int64_t>() + 1;
    num_batches_tracked.fill_(static_cast<double>(seen));
    if (!options.momentum()) factor = 1.0 / static_cast<double>(seen);  // cumulative moving average
  }
  return batch_norm(input, running_mean, running_var, weight, bias, use_batch_stats, factor, options.eps());
}

template class BatchNormImplBase<BatchNorm1dImpl>;
template class BatchNormImplBase<BatchNorm2dImpl>;

Tensor BatchNorm1dImpl::forward(const Tensor& input) {
  TD_CHECK(input.defined(), "BatchNorm1d: the input is undefined");
  const int64_t C = options.num_features();
  TD_CHECK((input.dim() == 2 || input.dim() == 3) && input.size(1) == C, "BatchNorm1d: expected input [N, ", C,
           "] or [N, ", C, ", L] (num_features = ", C, "), got shape ", input.sizes());
  return normalize(input);
}

Tensor BatchNorm2dImpl::forward(const Tensor& input) {
  TD_CHECK(input.defined(), "BatchNorm2d: the input is undefined");
  const int64_t C = options.num_features();
  TD_CHECK(input.dim() == 4 && input.size(1) == C, "BatchNorm2d: expected input [N, ", C, ", H, W] (num_features = ", C,
           "), got shape ", input.sizes());
  return normalize(input);
}

LayerNormImpl::LayerNormImpl(const LayerNormOptions& options) : options(options) { reset(); }

void LayerNormImpl::reset() {
  TD_CHECK(!options.normalized_shape().empty(), "LayerNorm: normalized_shape must not be empty");
  for (int64_t s : options.normalized_shape())
    TD_CHECK(s > 0, "LayerNorm: normalized_shape must be positive, got ", Dims(options.normalized_shape()));
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", empty(Dims(options.normalized_shape())));
    bias = register_parameter("bias", empty(Dims(options.normalized_shape())));
  } else {
    weight = Tensor();
    bias = Tensor();
  }
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  if (!options.elementwise_affine()) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor LayerNormImpl::forward(const Tensor& input) {
  TD_CHECK(input.defined(), "LayerNorm: the input is undefined");
  const Dims shape(options.normalized_shape());
  const int64_t k = static_cast<int64_t>(shape.size());
  bool matches = input.dim() >= k;
  for (int64_t i = 0; matches && i < k; ++i) matches = input.size(input.dim() - k + i) == shape[static_cast<size_t>(i)];
  TD_CHECK(matches, "LayerNorm: expected input whose trailing dimensions are ", shape,
           " (normalized_shape), got shape ", input.sizes());
  return layer_norm(input, shape, weight, bias, options.eps());
}

void LayerNormImpl::pretty_print(std::ostream& os) const {
  os << "LayerNorm(" << Dims(options.normalized_shape()) << ", eps=" << options.eps()
     << ", elementwise_affine=" << (options.elementwise_affine() ? "true" : "false") << ")";
}

}  // namespace tandem::nn
