// Gradient clipping, as libtorch's torch::nn::utils: rescale all gradients together so that their joint norm
// is at most max_norm (clip_grad_norm_), or clamp every gradient element into [-clip_value, clip_value]
// (clip_grad_value_). Call between backward() and optimizer.step(); parameters without a gradient are skipped.
#pragma once

#include <limits>
#include <vector>

#include "tensor/tensor.h"

namespace tandem::nn::utils {

/// Scales the gradients of `parameters` in place so that their total norm is at most max_norm and returns the
/// total norm before clipping. The total norm is the `norm_type`-norm of the per-parameter gradient norms (the
/// norm of all gradients concatenated); norm_type may be any p > 0 or infinity. The gradients are multiplied by
/// max_norm / (total_norm + 1e-6) only when that factor is below 1. With error_if_nonfinite, a NaN or infinite
/// total norm throws instead of producing NaN gradients.
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

/// Clamps every gradient element of `parameters` into [-clip_value, clip_value], in place.
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);
void clip_grad_value_(const Tensor& parameter, double clip_value);

}  // namespace tandem::nn::utils
