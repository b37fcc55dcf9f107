// Pooling layers, and functional::adaptive_avg_pool2d (which has no kernel of its own: it is built from
// avg_pool2d when the sizes divide evenly, otherwise from slices and means, so autograd differentiates it).
#include "nn/modules/pooling.h"

#include <vector>

namespace tandem::nn {

namespace {

void check_pool_input(const Tensor& input, const char* name) {
  TD_CHECK(input.defined(), name, ": the input is undefined");
  TD_CHECK(input.dim() == 4 || input.dim() == 3, name, ": expected input [N, C, H, W] or [C, H, W], got shape ",
           input.sizes());
}

/// Averages `x` along `dim` (of size `in`) into `out` adaptive windows.
Tensor adaptive_mean_along(const Tensor& x, int64_t dim, int64_t in, int64_t out) {
  if (in == out) return x;
  std::vector<Tensor> cells;
  cells.reserve(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) {
    const int64_t start = (i * in) / out;
    const int64_t end = ((i + 1) * in + out - 1) / out;  // ceil((i + 1) in / out)
    cells.push_back(x.slice(dim, start, end).mean(dim, /*keepdim=*/true));
  }
  return cat(cells, dim);
}

}  // namespace

namespace functional {

Tensor adaptive_avg_pool2d(const Tensor& input, ExpandingArray2 output_size) {
  check_pool_input(input, "adaptive_avg_pool2d");
  TD_CHECK(input.is_floating_point(), "adaptive_avg_pool2d: input must be float32 or float64, got ", input.dtype());
  const int64_t oh = output_size[0], ow = output_size[1];
  TD_CHECK(oh > 0 && ow > 0, "adaptive_avg_pool2d: output_size must be positive, got ", output_size);
  const int64_t H = input.size(-2), W = input.size(-1);
  TD_CHECK(H > 0 && W > 0, "adaptive_avg_pool2d: input of shape ", input.sizes(), " has an empty spatial dimension");
  if (H % oh == 0 && W % ow == 0) {
    // Equal, non-overlapping windows: the ordinary average pooling.
    if (H == oh && W == ow) return input;
    return tandem::avg_pool2d(input, {H / oh, W / ow}, {H / oh, W / ow}, {0});
  }
  // The mean over a rectangle of rows x columns is the mean over the columns of the per-column row means.
  const int64_t rank = input.dim();
  Tensor rows = adaptive_mean_along(input, rank - 2, H, oh);
  return adaptive_mean_along(rows, rank - 1, W, ow);
}

}  // namespace functional

Tensor MaxPool2dImpl::forward(const Tensor& input) {
  check_pool_input(input, "MaxPool2d");
  return functional::max_pool2d(input, options);
}

void MaxPool2dImpl::pretty_print(std::ostream& os) const {
  os << "MaxPool2d(kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
     << ", padding=" << options.padding() << ", dilation=" << options.dilation() << ")";
}

Tensor AvgPool2dImpl::forward(const Tensor& input) {
  check_pool_input(input, "AvgPool2d");
  return functional::avg_pool2d(input, options);
}

void AvgPool2dImpl::pretty_print(std::ostream& os) const {
  os << "AvgPool2d(kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
     << ", padding=" << options.padding() << ")";
}

Tensor AdaptiveAvgPool2dImpl::forward(const Tensor& input) {
  check_pool_input(input, "AdaptiveAvgPool2d");
  return functional::adaptive_avg_pool2d(input, options.output_size());
}

void AdaptiveAvgPool2dImpl::pretty_print(std::ostream& os) const {
  os << "AdaptiveAvgPool2d(output_size=" << options.output_size() << ")";
}

}  // namespace tandem::nn
