// nn::init — in-place initialisers for parameters, as libtorch's torch::nn::init. Each one fills the tensor it
// is given (writing through the shared handle, so a module's member and its registered parameter both see the
// values) with graph recording off, and returns that same tensor.
//
//   nn::init::kaiming_normal_(conv->weight, 0, nn::init::kFanOut, nn::init::kReLU);
//   nn::init::zeros_(conv->bias);
//
// Fans follow libtorch: for a weight [out, in, k...], fan_in = in * prod(k) and fan_out = out * prod(k).
#pragma once

#include <string>
#include <utility>

#include "tensor/tensor.h"

namespace tandem::nn::init {

/// Which fan the Kaiming initialisers keep the variance of: fan_in preserves it in the forward pass, fan_out in
/// the backward pass.
enum class FanMode { FanIn, FanOut };
inline constexpr FanMode kFanIn = FanMode::FanIn;
inline constexpr FanMode kFanOut = FanMode::FanOut;

/// The non-linearity a layer is followed by, for calculate_gain.
enum class Nonlinearity { Linear, Conv1D, Conv2D, Sigmoid, Tanh, ReLU, LeakyReLU, SELU };
inline constexpr Nonlinearity kLinear = Nonlinearity::Linear;
inline constexpr Nonlinearity kConv1D = Nonlinearity::Conv1D;
inline constexpr Nonlinearity kConv2D = Nonlinearity::Conv2D;
inline constexpr Nonlinearity kSigmoid = Nonlinearity::Sigmoid;
inline constexpr Nonlinearity kTanh = Nonlinearity::Tanh;
inline constexpr Nonlinearity kReLU = Nonlinearity::ReLU;
inline constexpr Nonlinearity kLeakyReLU = Nonlinearity::LeakyReLU;
inline constexpr Nonlinearity kSELU = Nonlinearity::SELU;

/// The recommended gain for a non-linearity: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
/// sqrt(2 / (1 + param^2)) for leaky_relu (param is its negative slope), 3/4 for selu.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);

/// (fan_in, fan_out) of a tensor of rank >= 2, as libtorch computes them.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

/// Fills with `value`.
Tensor constant_(Tensor tensor, double value);
Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);
/// Fills with samples of N(mean, std^2).
Tensor normal_(Tensor tensor, double mean = 0, double std = 1);
/// Fills with samples of U(low, high).
Tensor uniform_(Tensor tensor, double low = 0, double high = 1);
/// Fills a 2-D tensor with the identity (ones on the main diagonal of a rectangular matrix too).
Tensor eye_(Tensor tensor);

/// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010).
Tensor xavier_uniform_(Tensor tensor, double gain = 1.0);
/// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(Tensor tensor, double gain = 1.0);
/// U(-bound, bound) with bound = sqrt(3) * gain / sqrt(fan), gain = calculate_gain(nonlinearity, a) (He et al.,
/// 2015). With a = sqrt(5) and the defaults this is the U(-1/sqrt(fan_in), 1/sqrt(fan_in)) of Linear and Conv.
Tensor kaiming_uniform_(Tensor tensor, double a = 0, FanMode mode = kFanIn, Nonlinearity nonlinearity = kLeakyReLU);
/// N(0, std^2) with std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a).
Tensor kaiming_normal_(Tensor tensor, double a = 0, FanMode mode = kFanIn, Nonlinearity nonlinearity = kLeakyReLU);
/// A (semi-)orthogonal matrix scaled by gain (Saxe et al., 2013): the tensor seen as [size(0), numel/size(0)]
/// gets orthonormal rows (or columns, whichever there are fewer of). Computed by a Householder QR of a Gaussian
/// matrix on the CPU in float64, with R's diagonal made positive so that the result is uniformly distributed.
Tensor orthogonal_(Tensor tensor, double gain = 1.0);

}  // namespace tandem::nn::init
