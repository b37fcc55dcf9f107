// Conv1d and Conv2d: learned convolutions over [N, C, L] and [N, C, H, W] inputs (or the unbatched [C, L] and
// [C, H, W]), with zero padding, stride, dilation and groups.
#pragma once

#include <cstdint>
#include <ostream>

#include "nn/module.h"
#include "nn/options.h"

namespace tandem::nn {

/// Options of a D-dimensional convolution; size arguments take one value (used for every dimension) or D.
template <size_t D>
struct ConvOptions {
  ConvOptions(int64_t in_channels, int64_t out_channels, ExpandingArray<D> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TANDEM_ARG(int64_t, in_channels);
  TANDEM_ARG(int64_t, out_channels);
  TANDEM_ARG(ExpandingArray<D>, kernel_size);
  TANDEM_ARG(ExpandingArray<D>, stride) = 1;
  TANDEM_ARG(ExpandingArray<D>, padding) = 0;
  TANDEM_ARG(ExpandingArray<D>, dilation) = 1;
  TANDEM_ARG(int64_t, groups) = 1;
  TANDEM_ARG(bool, bias) = true;
};
using Conv1dOptions = ConvOptions<1>;
using Conv2dOptions = ConvOptions<2>;

/// What Conv1d and Conv2d share: the options, the parameters and their default initialisation
/// (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias, fan_in = in_channels / groups * prod(kernel_size)).
template <size_t D, typename Derived>
class ConvNdImpl : public Cloneable<Derived> {
 public:
  explicit ConvNdImpl(const ConvOptions<D>& options) : options(options) {}

  void reset() override;
  /// Redraws the weight and bias with the default initialisation.
  void reset_parameters();
  /// "Conv2d(1, 10, kernel_size=[3, 3], stride=[1, 1])", plus padding, dilation, groups and bias=false when they
  /// differ from the defaults.
  void pretty_print(std::ostream& os) const override;

  ConvOptions<D> options;
  Tensor weight;  ///< [out_channels, in_channels / groups, kernel_size...]
  Tensor bias;    ///< [out_channels], undefined when options.bias() is false

 protected:
  /// Throws unless the input is [N, in_channels, spatial...] or [in_channels, spatial...].
  void check_input(const Tensor& input) const;
};

/// 1-D convolution: [N, C_in, L] -> [N, C_out, L_out].
class Conv1dImpl : public ConvNdImpl<1, Conv1dImpl> {
 public:
  Conv1dImpl(int64_t in_channels, int64_t out_channels, ExpandingArray1 kernel_size)
      : Conv1dImpl(Conv1dOptions(in_channels, out_channels, kernel_size)) {}
  explicit Conv1dImpl(const Conv1dOptions& options);
  Tensor forward(const Tensor& input);
};
TANDEM_MODULE(Conv1d);

/// 2-D convolution: [N, C_in, H, W] -> [N, C_out, H_out, W_out].
class Conv2dImpl : public ConvNdImpl<2, Conv2dImpl> {
 public:
  Conv2dImpl(int64_t in_channels, int64_t out_channels, ExpandingArray2 kernel_size)
      : Conv2dImpl(Conv2dOptions(in_channels, out_channels, kernel_size)) {}
  explicit Conv2dImpl(const Conv2dOptions& options);
  Tensor forward(const Tensor& input);
};
TANDEM_MODULE(Conv2d);

extern template class ConvNdImpl<1, Conv1dImpl>;
extern template class ConvNdImpl<2, Conv2dImpl>;

}  // namespace tandem::nn
