// Normalisation and dropout: layer_norm, batch_norm and dropout.
//
// All three are composites of differentiable ops (mean, sub, mul, rsqrt, the random mask), so their gradients
// of every order come from those ops' rules and need no node here. Both norms normalise with the population
// variance (divide by the element count); batch_norm updates its running variance with the unbiased one
// (divide by count - 1), as libtorch does.
#include "autograd/ops/common.h"

namespace tandem {

namespace {

void check_floating_input(const Tensor& t, const char* op, const char* what) {
  detail::check_defined(t, op, what);
  TD_CHECK(is_floating(t.dtype()), op, ": ", what, " must be float32 or float64, got ", t.dtype());
}

/// Throws unless an optional per-channel/per-feature tensor is undefined or has the given shape.
void check_param(const Tensor& t, const Dims& shape, const Tensor& x, const char* op, const char* what) {
  if (!t.defined()) return;
  TD_CHECK(t.sizes() == shape, op, ": ", what, " must have shape ", shape, ", got ", t.sizes(), " (input ",
           x.sizes(), ")");
  detail::check_same_device(x, t, op);
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Dims& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  check_floating_input(x, "layer_norm", "input");
  const int64_t k = static_cast<int64_t>(normalized_shape.size()), rank = x.dim();
  bool matches = k >= 1 && k <= rank;
  for (int64_t i = 0; matches && i < k; ++i) matches = x.size(rank - k + i) == normalized_shape[i];
  TD_CHECK(matches, "layer_norm: normalized_shape ", normalized_shape, " does not match the trailing dims of input ",
           x.sizes());
  check_param(weight, normalized_shape, x, "layer_norm", "weight");
  check_param(bias, normalized_shape, x, "layer_norm", "bias");
  Dims dims;
  for (int64_t i = rank - k; i < rank; ++i) dims.push_back(i);
  Tensor centered = x - x.mean(dims, /*keepdim=*/true);
  Tensor variance = (centered * centered).mean(dims, /*keepdim=*/true);
  Tensor y = centered * (variance + eps).rsqrt();
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  check_floating_input(x, "batch_norm", "input");
  TD_CHECK(x.dim() >= 2, "batch_norm: expected input [N, C, ...] of rank at least 2, got shape ", x.sizes());
  const int64_t C = x.size(1);
  const Dims channel{C};
  check_param(running_mean, channel, x, "batch_norm", "running_mean");
  check_param(running_var, channel, x, "batch_norm", "running_var");
  check_param(weight, channel, x, "batch_norm", "weight");
  check_param(bias, channel, x, "batch_norm", "bias");
  TD_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm: running_mean and running_var must be both given or both undefined");
  Dims reduce_dims{0}, broadcast_shape(static_cast<size_t>(x.dim()), 1);
  for (int64_t d = 2; d < x.dim(); ++d) reduce_dims.push_back(d);
  broadcast_shape[1] = C;

  Tensor y;
  if (training) {
    const int64_t count = C == 0 ? 0 : x.numel() / C;
    TD_CHECK(count > 1, "batch_norm: expected more than 1 value per channel when training, got input of shape ",
             x.sizes());
    Tensor mean = x.mean(reduce_dims, /*keepdim=*/true);
    Tensor centered = x - mean;
    Tensor variance = (centered * centered).mean(reduce_dims, /*keepdim=*/true);  // population variance
    y = centered * (variance + eps).rsqrt();
    if (running_mean.defined()) {
      NoGradGuard no_grad;
      const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
      Tensor batch_mean = mean.detach().reshape(channel).to(running_mean.dtype());
      Tensor batch_var = (variance.detach().reshape(channel) * unbias).to(running_var.dtype());
      Tensor rm = running_mean, rv = running_var;  // handles sharing the caller's storage
      rm.mul_(1 - momentum).add_(batch_mean, momentum);
      rv.mul_(1 - momentum).add_(batch_var, momentum);
    }
  } else {
    TD_CHECK(running_mean.defined(),
             "batch_norm: running_mean and running_var are required in evaluation mode (training = false)");
    Tensor mean = running_mean.to(x.dtype()).reshape(broadcast_shape);
    Tensor variance = running_var.to(x.dtype()).reshape(broadcast_shape);
    y = (x - mean) * (variance + eps).rsqrt();
  }
  if (weight.defined()) y = y * weight.reshape(broadcast_shape);
  if (bias.defined()) y = y + bias.reshape(broadcast_shape);
  return y;
}

Tensor dropout(const Tensor& x, double p, bool train) {
  detail::check_defined(x, "dropout");
  TD_CHECK(p >= 0 && p <= 1, "dropout: probability has to be between 0 and 1, but got ", p);
  if (!train || p == 0) return x;
  TD_CHECK(is_floating(x.dtype()), "dropout: input must be float32 or float64, got ", x.dtype());
  const TensorOptions options = TensorOptions(x.dtype()).device(x.device());
  if (p == 1) return x * zeros(x.sizes(), options);  // every element dropped; gradients are zero, not missing
  Tensor mask = bernoulli(x.sizes(), 1 - p, options);  // 1 keeps an element
  mask.mul_(1 / (1 - p));
  return x * mask;
}

}  // namespace tandem
