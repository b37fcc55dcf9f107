// Conv1d and Conv2d over tandem::conv1d / tandem::conv2d.
#include "nn/modules/conv.h"

#include <cmath>

#include "nn/init.h"
#include "tensor/functions.h"

namespace tandem::nn {

namespace {
template <size_t D>
bool all_equal(const ExpandingArray<D>& a, int64_t value) {
  for (int64_t v : a)
    if (v != value) return false;
  return true;
}
}  // namespace

template <size_t D, typename Derived>
void ConvNdImpl<D, Derived>::reset() {
  const char* name = D == 1 ? "Conv1d" : "Conv2d";
  TD_CHECK(options.in_channels() > 0 && options.out_channels() > 0, name,
           ": in_channels and out_channels must be positive, got ", options.in_channels(), " and ",
           options.out_channels());
  TD_CHECK(options.groups() > 0, name, ": groups must be positive, got ", options.groups());
  TD_CHECK(options.in_channels() % options.groups() == 0, name, ": in_channels (", options.in_channels(),
           ") must be divisible by groups (", options.groups(), ")");
  TD_CHECK(options.out_channels() % options.groups() == 0, name, ": out_channels (", options.out_channels(),
           ") must be divisible by groups (", options.groups(), ")");
  for (size_t i = 0; i < D; ++i) {
    TD_CHECK(options.kernel_size()[i] > 0, name, ": kernel_size must be positive, got ", options.kernel_size());
    TD_CHECK(options.stride()[i] > 0, name, ": stride must be positive, got ", options.stride());
    TD_CHECK(options.padding()[i] >= 0, name, ": padding must be non-negative, got ", options.padding());
    TD_CHECK(options.dilation()[i] > 0, name, ": dilation must be positive, got ", options.dilation());
  }
  Dims weight_shape{options.out_channels(), options.in_channels() / options.groups()};
  for (int64_t k : options.kernel_size()) weight_shape.push_back(k);
  weight = this->register_parameter("weight", empty(weight_shape));
  if (options.bias())
    bias = this->register_parameter("bias", empty({options.out_channels()}));
  else
    bias = Tensor();
  reset_parameters();
}

template <size_t D, typename Derived>
void ConvNdImpl<D, Derived>::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    init::uniform_(bias, -bound, bound);
  }
}

template <size_t D, typename Derived>
void ConvNdImpl<D, Derived>::pretty_print(std::ostream& os) const {
  os << (D == 1 ? "Conv1d(" : "Conv2d(") << options.in_channels() << ", " << options.out_channels()
     << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride();
  if (!all_equal(options.padding(), 0)) os << ", padding=" << options.padding();
  if (!all_equal(options.dilation(), 1)) os << ", dilation=" << options.dilation();
  if (options.groups() != 1) os << ", groups=" << options.groups();
  if (!options.bias()) os << ", bias=false";
  os << ")";
}

template <size_t D, typename Derived>
void ConvNdImpl<D, Derived>::check_input(const Tensor& input) const {
  const char* name = D == 1 ? "Conv1d" : "Conv2d";
  const char* spatial = D == 1 ? "L" : "H, W";
  TD_CHECK(input.defined(), name, ": the input is undefined");
  const int64_t batched_rank = static_cast<int64_t>(D) + 2;
  const bool rank_ok = input.dim() == batched_rank || input.dim() == batched_rank - 1;
  const int64_t channel_dim = input.dim() == batched_rank ? 1 : 0;
  TD_CHECK(rank_ok && input.size(channel_dim) == options.in_channels(), name, ": expected input [N, ",
           options.in_channels(), ", ", spatial, "] or [", options.in_channels(), ", ", spatial,
           "] (in_channels = ", options.in_channels(), "), got shape ", input.sizes());
}

template class ConvNdImpl<1, Conv1dImpl>;
template class ConvNdImpl<2, Conv2dImpl>;

Conv1dImpl::Conv1dImpl(const Conv1dOptions& options) : ConvNdImpl(options) { reset(); }

Tensor Conv1dImpl::forward(const Tensor& input) {
  check_input(input);
  return conv1d(input, weight, bias, options.stride()[0], options.padding()[0], options.dilation()[0],
                options.groups());
}

Conv2dImpl::Conv2dImpl(const Conv2dOptions& options) : ConvNdImpl(options) { reset(); }

Tensor Conv2dImpl::forward(const Tensor& input) {
  check_input(input);
  return conv2d(input, weight, bias, options.stride(), options.padding(), options.dilation(), options.groups());
}

}  // namespace tandem::nn
