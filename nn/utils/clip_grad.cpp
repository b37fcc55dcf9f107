// Gradient clipping by total norm and by value (see clip_grad.h). The total norm is reduced on the gradients'
// device (per-parameter norms stacked, then one more norm) so that only one number is read back.
#include "nn/utils/clip_grad.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::nn::utils {

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  TD_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be > 0 or infinity, got ", norm_type);
  TD_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : parameters) {
    TD_CHECK(p.defined(), "clip_grad_norm_: a parameter is an undefined tensor");
    Tensor g = p.grad();
    if (g.defined() && g.numel() > 0) grads.push_back(g);
  }
  if (grads.empty()) return 0.0;

  std::vector<Tensor> norms;
  norms.reserve(grads.size());
  for (const Tensor& g : grads) {
    TD_CHECK(g.device() == grads.front().device(), "clip_grad_norm_: gradients are on different devices (",
             grads.front().device(), " and ", g.device(), ")");
    norms.push_back(g.norm(norm_type).to(kFloat64));
  }
  const double total_norm = stack(norms).norm(norm_type).to(Device(kCPU)).item<double>();
  TD_CHECK(!error_if_nonfinite || std::isfinite(total_norm), "clip_grad_norm_: the total norm of order ", norm_type,
           " of the gradients is ", total_norm, ", so they cannot be clipped (pass error_if_nonfinite = false to ",
           "clip anyway)");
  const double clip_coef = max_norm / (total_norm + 1e-6);
  if (clip_coef < 1) {
    for (Tensor& g : grads) g.mul_(clip_coef);
  }
  return total_norm;
}

double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type, bool error_if_nonfinite) {
  return clip_grad_norm_(std::vector<Tensor>{parameter}, max_norm, norm_type, error_if_nonfinite);
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  TD_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& p : parameters) {
    TD_CHECK(p.defined(), "clip_grad_value_: a parameter is an undefined tensor");
    Tensor g = p.grad();
    if (g.defined()) g.clamp_(-clip_value, clip_value);
  }
}

void clip_grad_value_(const Tensor& parameter, double clip_value) {
  clip_grad_value_(std::vector<Tensor>{parameter}, clip_value);
}

}  // namespace tandem::nn::utils
