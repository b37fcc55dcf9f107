// tandem::nn::functional — the functional form of layers and losses, as in libtorch's torch::nn::functional.
// The ops themselves live in autograd/ops/ (declared in tensor/functions.h); this namespace gathers the ones
// a model author reaches for, under the names libtorch users expect, and adds libtorch's options overloads:
//
//   namespace F = tandem::nn::functional;
//   F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().ignore_index(3).label_smoothing(0.1));
//   F::conv2d(x, w, F::Conv2dFuncOptions().stride(2).padding(1));
//   F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
//
// The options structs that a layer and its functional form share (pooling, dropout, activations, losses) are
// declared here in tandem::nn under their module names (MaxPool2dOptions, CrossEntropyLossOptions, ...) and
// aliased in tandem::nn::functional under libtorch's functional names (MaxPool2dFuncOptions, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nn/options.h"
#include "tensor/functions.h"

namespace tandem::nn {

/// libtorch-style spellings of the loss reductions: `MSELossOptions().reduction(nn::kSum)`.
inline constexpr Reduction kNone = Reduction::None;
inline constexpr Reduction kMean = Reduction::Mean;
inline constexpr Reduction kSum = Reduction::Sum;

/// "none", "mean" or "sum", as printed by the loss modules.
inline const char* reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::None:
      return "none";
    case Reduction::Mean:
      return "mean";
    case Reduction::Sum:
      return "sum";
  }
  return "?";
}

// ---- pooling --------------------------------------------------------------------------------------------------

/// Options of MaxPool2d and F::max_pool2d. The stride defaults to the kernel size.
struct MaxPool2dOptions {
  MaxPool2dOptions(ExpandingArray2 kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
  TANDEM_ARG(ExpandingArray2, kernel_size);
  TANDEM_ARG(ExpandingArray2, stride);
  TANDEM_ARG(ExpandingArray2, padding) = 0;
  TANDEM_ARG(ExpandingArray2, dilation) = 1;
};

/// Options of AvgPool2d and F::avg_pool2d (padding counts as zeros in every window's average). The stride
/// defaults to the kernel size.
struct AvgPool2dOptions {
  AvgPool2dOptions(ExpandingArray2 kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
  TANDEM_ARG(ExpandingArray2, kernel_size);
  TANDEM_ARG(ExpandingArray2, stride);
  TANDEM_ARG(ExpandingArray2, padding) = 0;
};

/// Options of AdaptiveAvgPool2d and F::adaptive_avg_pool2d: the output's (height, width).
struct AdaptiveAvgPool2dOptions {
  AdaptiveAvgPool2dOptions(ExpandingArray2 output_size) : output_size_(output_size) {}  // NOLINT
  TANDEM_ARG(ExpandingArray2, output_size);
};

// ---- dropout and activations ----------------------------------------------------------------------------------

/// Options of Dropout: the probability of zeroing each element.
struct DropoutOptions {
  DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT
  TANDEM_ARG(double, p);
};

struct LeakyReLUOptions {
  LeakyReLUOptions(double negative_slope = 0.01) : negative_slope_(negative_slope) {}  // NOLINT
  TANDEM_ARG(double, negative_slope);
};

/// approximate: "none" (exact, with erf) or "tanh".
struct GELUOptions {
  GELUOptions(std::string approximate = "none") : approximate_(std::move(approximate)) {}  // NOLINT
  TANDEM_ARG(std::string, approximate);
};

struct SoftplusOptions {
  TANDEM_ARG(double, beta) = 1;
  TANDEM_ARG(double, threshold) = 20;
};

/// The dimension Softmax normalises over.
struct SoftmaxOptions {
  SoftmaxOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  TANDEM_ARG(int64_t, dim);
};

struct LogSoftmaxOptions {
  LogSoftmaxOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  TANDEM_ARG(int64_t, dim);
};

// ---- losses ---------------------------------------------------------------------------------------------------

struct MSELossOptions {
  MSELossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
  TANDEM_ARG(Reduction, reduction);
};

struct L1LossOptions {
  L1LossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
  TANDEM_ARG(Reduction, reduction);
};

/// beta: where the loss switches from quadratic (0.5 d^2 / beta) to linear (|d| - 0.5 beta).
struct SmoothL1LossOptions {
  SmoothL1LossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
  TANDEM_ARG(Reduction, reduction);
  TANDEM_ARG(double, beta) = 1.0;
};

/// delta: where the loss switches from quadratic (0.5 d^2) to linear (delta (|d| - 0.5 delta)).
struct HuberLossOptions {
  HuberLossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
  TANDEM_ARG(Reduction, reduction);
  TANDEM_ARG(double, delta) = 1.0;
};

/// weight: optional per-class weights [C]; targets equal to ignore_index contribute nothing; label_smoothing in
/// [0, 1] mixes the one-hot target with the uniform distribution.
struct CrossEntropyLossOptions {
  CrossEntropyLossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
  TANDEM_ARG(Tensor, weight);
  TANDEM_ARG(int64_t, ignore_index) = -100;
  TANDEM_ARG(double, label_smoothing) = 0.0;
  TANDEM_ARG(Reduction, reduction);
};

/// Negative log-likelihood of log-probabilities; weight and ignore_index as CrossEntropyLossOptions.
struct NLLLossOptions {
  NLLLossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
  TANDEM_ARG(Tensor, weight);
  TANDEM_ARG(int64_t, ignore_index) = -100;
  TANDEM_ARG(Reduction, reduction);
};

/// weight: rescales each element's loss (broadcast to the input); pos_weight: weight of the positive term,
/// broadcast along the last (class) dimension.
struct BCEWithLogitsLossOptions {
  BCEWithLogitsLossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
  TANDEM_ARG(Tensor, weight);
  TANDEM_ARG(Tensor, pos_weight);
  TANDEM_ARG(Reduction, reduction);
};

/// KL(target || exp(input)) with input given as log-probabilities; log_target when the target is too.
struct KLDivLossOptions {
  KLDivLossOptions(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}  // NOLINT
  TANDEM_ARG(Reduction, reduction);
  TANDEM_ARG(bool, log_target) = false;
};

}  // namespace tandem::nn

namespace tandem::nn::functional {

using tandem::avg_pool2d;
using tandem::batch_norm;
using tandem::binary_cross_entropy_with_logits;
using tandem::conv1d;
using tandem::conv2d;
using tandem::cross_entropy;
using tandem::dropout;
using tandem::embedding;
using tandem::fold;
using tandem::gelu;
using tandem::huber_loss;
using tandem::kl_div;
using tandem::l1_loss;
using tandem::layer_norm;
using tandem::leaky_relu;
using tandem::log_softmax;
using tandem::max_pool2d;
using tandem::mse_loss;
using tandem::nll_loss;
using tandem::one_hot;
using tandem::Reduction;
using tandem::relu;
using tandem::sigmoid;
using tandem::silu;
using tandem::smooth_l1_loss;
using tandem::softmax;
using tandem::softplus;
using tandem::tanh;
using tandem::unfold;

// ---- options only the functional forms use --------------------------------------------------------------------

/// Options of F::conv1d: bias [out_channels] or undefined, and the window geometry.
struct Conv1dFuncOptions {
  TANDEM_ARG(Tensor, bias);
  TANDEM_ARG(ExpandingArray1, stride) = 1;
  TANDEM_ARG(ExpandingArray1, padding) = 0;
  TANDEM_ARG(ExpandingArray1, dilation) = 1;
  TANDEM_ARG(int64_t, groups) = 1;
};

/// Options of F::conv2d: bias [out_channels] or undefined, and the window geometry.
struct Conv2dFuncOptions {
  TANDEM_ARG(Tensor, bias);
  TANDEM_ARG(ExpandingArray2, stride) = 1;
  TANDEM_ARG(ExpandingArray2, padding) = 0;
  TANDEM_ARG(ExpandingArray2, dilation) = 1;
  TANDEM_ARG(int64_t, groups) = 1;
};

/// Options of F::dropout. Unlike the Dropout module (which follows train()/eval()), the function drops only
/// when `training` is true, its default.
struct DropoutFuncOptions {
  TANDEM_ARG(double, p) = 0.5;
  TANDEM_ARG(bool, training) = true;
};

/// Options of F::layer_norm: the trailing shape to normalise over, optional affine weight and bias.
struct LayerNormFuncOptions {
  LayerNormFuncOptions(std::vector<int64_t> normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}
  TANDEM_ARG(std::vector<int64_t>, normalized_shape);
  TANDEM_ARG(Tensor, weight);
  TANDEM_ARG(Tensor, bias);
  TANDEM_ARG(double, eps) = 1e-5;
};

/// Options of F::batch_norm: optional affine weight and bias; in training, batch statistics are used and the
/// running statistics (if given) are updated with `momentum`.
struct BatchNormFuncOptions {
  TANDEM_ARG(Tensor, weight);
  TANDEM_ARG(Tensor, bias);
  TANDEM_ARG(bool, training) = false;
  TANDEM_ARG(double, momentum) = 0.1;
  TANDEM_ARG(double, eps) = 1e-5;
};

using MaxPool2dFuncOptions = MaxPool2dOptions;
using AvgPool2dFuncOptions = AvgPool2dOptions;
using AdaptiveAvgPool2dFuncOptions = AdaptiveAvgPool2dOptions;
using LeakyReLUFuncOptions = LeakyReLUOptions;
using GELUFuncOptions = GELUOptions;
using SoftplusFuncOptions = SoftplusOptions;
using SoftmaxFuncOptions = SoftmaxOptions;
using LogSoftmaxFuncOptions = LogSoftmaxOptions;
using MSELossFuncOptions = MSELossOptions;
using L1LossFuncOptions = L1LossOptions;
using SmoothL1LossFuncOptions = SmoothL1LossOptions;
using HuberLossFuncOptions = HuberLossOptions;
using CrossEntropyFuncOptions = CrossEntropyLossOptions;
using NLLLossFuncOptions = NLLLossOptions;
using BinaryCrossEntropyWithLogitsFuncOptions = BCEWithLogitsLossOptions;
using KLDivFuncOptions = KLDivLossOptions;

// ---- layers ---------------------------------------------------------------------------------------------------

/// input [..., in_features] @ weight^T [in_features, out_features] + bias [out_features] (bias may be undefined).
inline Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {}) {
  TD_CHECK(input.defined() && weight.defined(), "linear: input and weight must be defined");
  TD_CHECK(weight.dim() == 2, "linear: weight must be [out_features, in_features], got shape ", weight.sizes());
  TD_CHECK(input.dim() >= 1 && input.size(-1) == weight.size(1), "linear: input of shape ", input.sizes(),
           " does not match weight of shape ", weight.sizes(), " (expected last dimension ", weight.size(1), ")");
  Tensor out = tandem::matmul(input, weight.t());
  return bias.defined() ? out + bias : out;
}

inline Tensor conv1d(const Tensor& input, const Tensor& weight, const Conv1dFuncOptions& options) {
  return tandem::conv1d(input, weight, options.bias(), options.stride()[0], options.padding()[0], options.dilation()[0],
                        options.groups());
}

inline Tensor conv2d(const Tensor& input, const Tensor& weight, const Conv2dFuncOptions& options) {
  return tandem::conv2d(input, weight, options.bias(), options.stride(), options.padding(), options.dilation(),
                        options.groups());
}

inline Tensor max_pool2d(const Tensor& input, const MaxPool2dFuncOptions& options) {
  return tandem::max_pool2d(input, options.kernel_size(), options.stride(), options.padding(), options.dilation());
}

inline Tensor avg_pool2d(const Tensor& input, const AvgPool2dFuncOptions& options) {
  return tandem::avg_pool2d(input, options.kernel_size(), options.stride(), options.padding());
}

/// Average pooling of [N, C, H, W] (or [C, H, W]) to [N, C, oh, ow]: output cell (i, j) is the exact mean of
/// rows [floor(i H / oh), ceil((i + 1) H / oh)) and the same for columns. Differentiable. Defined with the
/// AdaptiveAvgPool2d module (nn/modules/pooling.cpp).
Tensor adaptive_avg_pool2d(const Tensor& input, ExpandingArray2 output_size);
inline Tensor adaptive_avg_pool2d(const Tensor& input, const AdaptiveAvgPool2dFuncOptions& options) {
  return adaptive_avg_pool2d(input, options.output_size());
}

inline Tensor dropout(const Tensor& input, const DropoutFuncOptions& options) {
  return tandem::dropout(input, options.p(), options.training());
}

inline Tensor layer_norm(const Tensor& input, const LayerNormFuncOptions& options) {
  return tandem::layer_norm(input, Dims(options.normalized_shape()), options.weight(), options.bias(), options.eps());
}

inline Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                         const BatchNormFuncOptions& options) {
  return tandem::batch_norm(input, running_mean, running_var, options.weight(), options.bias(), options.training(),
                            options.momentum(), options.eps());
}

// ---- activations ----------------------------------------------------------------------------------------------

inline Tensor leaky_relu(const Tensor& input, const LeakyReLUFuncOptions& options) {
  return tandem::leaky_relu(input, options.negative_slope());
}
inline Tensor gelu(const Tensor& input, const GELUFuncOptions& options) {
  return tandem::gelu(input, options.approximate());
}
inline Tensor softplus(const Tensor& input, const SoftplusFuncOptions& options) {
  return tandem::softplus(input, options.beta(), options.threshold());
}
inline Tensor softmax(const Tensor& input, const SoftmaxFuncOptions& options) {
  return tandem::softmax(input, options.dim());
}
inline Tensor log_softmax(const Tensor& input, const LogSoftmaxFuncOptions& options) {
  return tandem::log_softmax(input, options.dim());
}

// ---- losses ---------------------------------------------------------------------------------------------------

inline Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& options) {
  return tandem::mse_loss(input, target, options.reduction());
}
inline Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossFuncOptions& options) {
  return tandem::l1_loss(input, target, options.reduction());
}
inline Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossFuncOptions& options) {
  return tandem::smooth_l1_loss(input, target, options.beta(), options.reduction());
}
inline Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossFuncOptions& options) {
  return tandem::huber_loss(input, target, options.delta(), options.reduction());
}
inline Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyFuncOptions& options) {
  return tandem::cross_entropy(input, target, options.weight(), options.ignore_index(), options.label_smoothing(),
                               options.reduction());
}
inline Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& options) {
  return tandem::nll_loss(input, target, options.weight(), options.ignore_index(), options.reduction());
}
inline Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                               const BinaryCrossEntropyWithLogitsFuncOptions& options) {
  return tandem::binary_cross_entropy_with_logits(input, target, options.weight(), options.pos_weight(),
                                                  options.reduction());
}
inline Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivFuncOptions& options) {
  return tandem::kl_div(input, target, options.reduction(), options.log_target());
}

}  // namespace tandem::nn::functional

namespace tandem::nn {
/// Short name for the functional namespace, as libtorch code usually spells it: nn::F::relu(x).
namespace F = functional;
}  // namespace tandem::nn
