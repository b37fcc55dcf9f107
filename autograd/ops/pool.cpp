// Pooling ops: max_pool2d and avg_pool2d over [N, C, H, W] (or unbatched [C, H, W]) inputs.
//
// max_pool2d runs the backend kernel, which returns the window maxima and the flat position (h * W + w) of each
// maximum inside its plane. Its backward scatters the gradient to those positions with scatter_add over the
// flattened input; scatter_add's own backward is a gather, so double backward works too. (When the backward is
// not being recorded, the scatter goes straight into the zeros on the backend, without scatter_add's copy.)
// avg_pool2d (count_include_pad semantics: every window divides by kh*kw, padding counting as zeros) is the mean
// of unfold's columns, so its gradients of every order come from unfold/fold.
#include "autograd/ops/common.h"

namespace tandem {

using autograd::make_node;
using autograd::Node;
using autograd::SavedVariable;
using autograd::set_history;
using autograd::variable_list;

namespace {

/// One size argument (1 or 2 values) as a (height, width) pair.
std::pair<int64_t, int64_t> hw_arg(const Dims& values, const char* op, const char* what) {
  TD_CHECK(values.size() == 1 || values.size() == 2, op, ": ", what, " must have 1 or 2 values, got ", values);
  return values.size() == 1 ? std::pair{values[0], values[0]} : std::pair{values[0], values[1]};
}

/// The pooling window; an empty stride means stride = kernel_size. Checks the values and, as libtorch does,
/// that the padding is at most half the kernel, then that the window fits in the padded input.
Window2d pool_window(const Tensor& x, const Dims& kernel_size, const Dims& stride, const Dims& padding,
                     const Dims& dilation, const char* op) {
  detail::check_defined(x, op);
  TD_CHECK(is_floating(x.dtype()), op, ": input must be float32 or float64, got ", x.dtype());
  TD_CHECK(x.dim() == 4 || x.dim() == 3, op, ": expected input [N, C, H, W] or [C, H, W], got shape ", x.sizes());
  Window2d w;
  std::tie(w.kernel_h, w.kernel_w) = hw_arg(kernel_size, op, "kernel_size");
  std::tie(w.stride_h, w.stride_w) = stride.empty() ? std::pair{w.kernel_h, w.kernel_w} : hw_arg(stride, op, "stride");
  std::tie(w.pad_h, w.pad_w) = hw_arg(padding, op, "padding");
  std::tie(w.dilation_h, w.dilation_w) = hw_arg(dilation, op, "dilation");
  TD_CHECK(w.kernel_h > 0 && w.kernel_w > 0, op, ": kernel_size must be positive, got ", kernel_size);
  TD_CHECK(w.stride_h > 0 && w.stride_w > 0, op, ": stride must be positive, got ", stride);
  TD_CHECK(w.dilation_h > 0 && w.dilation_w > 0, op, ": dilation must be positive, got ", dilation);
  TD_CHECK(w.pad_h >= 0 && w.pad_w >= 0, op, ": padding must be non-negative, got ", padding);
  TD_CHECK(w.pad_h <= w.kernel_h / 2 && w.pad_w <= w.kernel_w / 2, op, ": padding ", padding,
           " must be at most half of kernel_size ", kernel_size);
  const int64_t H = x.size(-2), W = x.size(-1);
  const int64_t eff_h = w.dilation_h * (w.kernel_h - 1) + 1, eff_w = w.dilation_w * (w.kernel_w - 1) + 1;
  TD_CHECK(H + 2 * w.pad_h >= eff_h && W + 2 * w.pad_w >= eff_w, op, ": kernel ", w.kernel_h, "x", w.kernel_w,
           " (dilation ", w.dilation_h, "x", w.dilation_w, ") is larger than the padded input ", H + 2 * w.pad_h,
           "x", W + 2 * w.pad_w, " of input ", x.sizes());
  return w;
}

/// Scatters the gradient of the pooled output back to the argmax positions.
struct MaxPool2dBackward final : Node {
  SavedVariable indices;
  Dims input_shape;  // [N, C, H, W]
  variable_list apply(variable_list&& g) override {
    const int64_t N = input_shape[0], C = input_shape[1], H = input_shape[2], W = input_shape[3];
    Tensor idx = indices.unpack(this);
    // Positions in the flattened input: plane p's positions start at p * H * W. One scatter over the flat
    // tensor walks memory in order, unlike a scatter along dim 2 of [N, C, H*W].
    Tensor plane_start = arange(0, static_cast<double>(N * C * H * W), static_cast<double>(H * W),
                                TensorOptions(kInt64).device(idx.device()));
    Tensor flat_idx = (idx.view({N * C, -1}) + plane_start.view({N * C, 1})).view({-1});
    Tensor grad_in = zeros({N * C * H * W}, TensorOptions(g[0].dtype()).device(g[0].device()));
    if (GradMode::is_enabled()) {
      grad_in = grad_in.scatter_add(0, flat_idx, g[0].reshape({-1}));
    } else {
      // No graph to record: scatter straight into the fresh zeros (scatter_add would first copy them).
      const Tensor flat_grad = g[0].reshape({-1});
      detail::backend_of(grad_in).scatter_add(detail::strided(grad_in), 0, detail::strided(flat_idx),
                                              detail::strided(flat_grad));
    }
    return {grad_in.view({N, C, H, W})};
  }
  std::string name() const override { return "MaxPool2dBackward"; }
  void release_variables() override { indices.reset(); }
};

}  // namespace

Tensor max_pool2d(const Tensor& x, const Dims& kernel_size, const Dims& stride, const Dims& padding,
                  const Dims& dilation) {
  const Window2d w = pool_window(x, kernel_size, stride, padding, dilation, "max_pool2d");
  if (x.dim() == 3) return max_pool2d(x.unsqueeze(0), kernel_size, stride, padding, dilation).squeeze(0);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const Dims out_shape{N, C, w.out_h(H), w.out_w(W)};
  Tensor out = detail::make_tensor(out_shape, x.dtype(), x.device());
  Tensor indices = detail::make_tensor(out_shape, kInt64, x.device());
  detail::backend_of(x).max_pool2d(detail::strided(x), detail::strided(out), detail::strided(indices), w);
  if (auto node = make_node<MaxPool2dBackward>(x)) {
    node->indices = SavedVariable(indices);
    node->input_shape = x.sizes();
    set_history(out, node);
  }
  return out;
}

Tensor avg_pool2d(const Tensor& x, const Dims& kernel_size, const Dims& stride, const Dims& padding) {
  const Window2d w = pool_window(x, kernel_size, stride, padding, {1}, "avg_pool2d");
  if (x.dim() == 3) return avg_pool2d(x.unsqueeze(0), kernel_size, stride, padding).squeeze(0);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  // Each plane as a one-channel image: its columns are [N*C, kh*kw, L]; the window mean is the mean over dim 1.
  Tensor cols = unfold(x.reshape({N * C, 1, H, W}), {w.kernel_h, w.kernel_w}, {1}, {w.pad_h, w.pad_w},
                       {w.stride_h, w.stride_w});
  return cols.mean({1}).view({N, C, w.out_h(H), w.out_w(W)});
}

}  // namespace tandem
