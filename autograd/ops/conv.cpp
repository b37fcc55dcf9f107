// Convolution ops: unfold (im2col), fold (col2im), conv2d and conv1d.
//
// unfold and fold are each other's adjoint, so each one's backward is the other: gradients of any order flow
// through them.
//
// conv2d is im2col followed by a matrix product per sample and group,
//     columns[n] = im2col(x[n])                               [C*kh*kw, L]          (L = out_h * out_w)
//     out[n, g]  = weight[g].reshape([O/G, C/G*kh*kw]) @ columns[n, g]   (+ bias)
// computed a block of samples at a time: the columns of one block (about kColumnBlockBytes) stay in cache
// between the im2col that writes them and the product that reads them, and the columns of the whole batch are
// never stored (for LeNet's first layer at batch 256 they would be 65 MB). On the CPU each thread takes a
// contiguous range of blocks with buffers of its own, so a pass costs one fork/join instead of one per kernel
// call (the backend calls made inside stay on their thread), and each block and group is one product over all
// of the block's samples (see "Two ways to run the products" below). Its backward node recomputes the
// columns block by block for the weight gradient and scatters the columns' gradient back with col2im for the
// input gradient (the columns are only recomputed when the weight needs a gradient, and col2im only runs when
// the input needs one). When the backward itself is being recorded (create_graph), the node computes the same
// gradients with differentiable ops instead (unfold, matmul, fold, sum), so double backward works.
// conv1d is conv2d on a unit-height image.
//
// The kernels accept inputs with any strides, so no contiguous() copy is made of the input; an input of rank 3
// ([C, H, W] for unfold/conv2d, [C*kh*kw, L] for fold, [C, L] for conv1d) is treated as a batch of one, as
// libtorch does.
#include <algorithm>

#include "autograd/ops/common.h"
#include "backends/cpu/parallel.h"

namespace tandem {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;
using autograd::variable_list;

namespace {

/// One size argument (1 or 2 values) as a (height, width) pair.
std::pair<int64_t, int64_t> hw_arg(const Dims& values, const char* op, const char* what) {
  TD_CHECK(values.size() == 1 || values.size() == 2, op, ": ", what, " must have 1 or 2 values, got ", values);
  return values.size() == 1 ? std::pair{values[0], values[0]} : std::pair{values[0], values[1]};
}

Window2d make_window(const char* op, const Dims& kernel_size, const Dims& dilation, const Dims& padding,
                     const Dims& stride) {
  Window2d w;
  std::tie(w.kernel_h, w.kernel_w) = hw_arg(kernel_size, op, "kernel_size");
  std::tie(w.dilation_h, w.dilation_w) = hw_arg(dilation, op, "dilation");
  std::tie(w.pad_h, w.pad_w) = hw_arg(padding, op, "padding");
  std::tie(w.stride_h, w.stride_w) = hw_arg(stride, op, "stride");
  TD_CHECK(w.kernel_h > 0 && w.kernel_w > 0, op, ": kernel_size must be positive, got ", kernel_size);
  TD_CHECK(w.dilation_h > 0 && w.dilation_w > 0, op, ": dilation must be positive, got ", dilation);
  TD_CHECK(w.pad_h >= 0 && w.pad_w >= 0, op, ": padding must be non-negative, got ", padding);
  TD_CHECK(w.stride_h > 0 && w.stride_w > 0, op, ": stride must be positive, got ", stride);
  return w;
}

/// Throws unless the (dilated) kernel fits in the padded [height, width] image.
void check_window_fits(const Window2d& w, int64_t height, int64_t width, const char* op) {
  const int64_t eff_h = w.dilation_h * (w.kernel_h - 1) + 1, eff_w = w.dilation_w * (w.kernel_w - 1) + 1;
  TD_CHECK(height + 2 * w.pad_h >= eff_h && width + 2 * w.pad_w >= eff_w, op, ": kernel ", w.kernel_h, "x",
           w.kernel_w, " (dilation ", w.dilation_h, "x", w.dilation_w, ", effective ", eff_h, "x", eff_w,
           ") is larger than the padded input ", height + 2 * w.pad_h, "x", width + 2 * w.pad_w);
}

Tensor unfold_4d(const Tensor& x, const Window2d& w);
Tensor fold_3d(const Tensor& cols, int64_t height, int64_t width, const Window2d& w);

/// unfold's backward is fold of the gradient back to the input's height and width.
struct UnfoldBackward final : Node {
  Window2d window;
  int64_t height = 0, width = 0;
  variable_list apply(variable_list&& g) override { return {fold_3d(g[0], height, width, window)}; }
  std::string name() const override { return "UnfoldBackward"; }
};

/// fold's backward is unfold of the gradient.
struct FoldBackward final : Node {
  Window2d window;
  variable_list apply(variable_list&& g) override { return {unfold_4d(g[0], window)}; }
  std::string name() const override { return "FoldBackward"; }
};

/// x [N, C, H, W] -> [N, C*kh*kw, L]; the window is already checked to fit.
Tensor unfold_4d(const Tensor& x, const Window2d& w) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor out = detail::make_tensor({N, C * w.kernel_h * w.kernel_w, w.out_h(H) * w.out_w(W)}, x.dtype(), x.device());
  detail::backend_of(x).im2col(detail::strided(x), detail::strided(out), w);
  if (auto node = make_node<UnfoldBackward>(x)) {
    node->window = w;
    node->height = H;
    node->width = W;
    set_history(out, node);
  }
  return out;
}

/// cols [N, C*kh*kw, L] -> [N, C, height, width]; shapes already checked.
Tensor fold_3d(const Tensor& cols, int64_t height, int64_t width, const Window2d& w) {
  const int64_t N = cols.size(0), C = cols.size(1) / (w.kernel_h * w.kernel_w);
  Tensor out = zeros({N, C, height, width}, TensorOptions(cols.dtype()).device(cols.device()));
  detail::backend_of(cols).col2im(detail::strided(cols), detail::strided(out), w);
  if (auto node = make_node<FoldBackward>(cols)) {
    node->window = w;
    set_history(out, node);
  }
  return out;
}

void check_float_input(const Tensor& t, const char* op, const char* what) {
  detail::check_defined(t, op, what);
  TD_CHECK(is_floating(t.dtype()), op, ": ", what, " must be float32 or float64, got ", t.dtype());
}

/// Checks shared by conv1d and conv2d, phrased with the caller's own shapes (spatial rank 1 or 2).
void check_conv_args(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups, int64_t spatial,
                     const char* op) {
  check_float_input(x, op, "input");
  check_float_input(weight, op, "weight");
  TD_CHECK(x.dim() == spatial + 2 || x.dim() == spatial + 1, op, ": expected input of rank ", spatial + 2,
           " (batched) or ", spatial + 1, " (unbatched), got shape ", x.sizes());
  TD_CHECK(weight.dim() == spatial + 2, op, ": expected weight of rank ", spatial + 2, " [O, C/groups, ",
           spatial == 2 ? "kh, kw" : "k", "], got shape ", weight.sizes());
  TD_CHECK(x.dtype() == weight.dtype(), op, ": input is ", x.dtype(), " but weight is ", weight.dtype());
  detail::check_same_device(x, weight, op);
  TD_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  const int64_t C = x.size(-spatial - 1), O = weight.size(0);
  TD_CHECK(C % groups == 0, op, ": input channels ", C, " (input ", x.sizes(), ") are not divisible by groups ",
           groups);
  TD_CHECK(O % groups == 0, op, ": output channels ", O, " (weight ", weight.sizes(),
           ") are not divisible by groups ", groups);
  TD_CHECK(weight.size(1) == C / groups, op, ": expected weight [O, C/groups, ", spatial == 2 ? "kh, kw" : "k",
           "] with C/groups = ", C / groups, ", got weight ", weight.sizes(), " for input ", x.sizes(),
           " and groups ", groups);
  if (bias.defined()) {
    TD_CHECK(bias.dim() == 1 && bias.size(0) == O, op, ": expected bias of shape [", O, "], got ", bias.sizes());
    TD_CHECK(bias.dtype() == x.dtype(), op, ": input is ", x.dtype(), " but bias is ", bias.dtype());
    detail::check_same_device(x, bias, op);
  }
}

/// Bytes of im2col columns that one thread processes at a time (a block of samples), sized to stay in its L2.
constexpr int64_t kColumnBlockBytes = int64_t{1} << 20;

/// The geometry of one conv2d call on a 4-D input, and how its batch is cut into blocks of samples and the
/// blocks into ranges (one range per thread on the CPU, each range working on its own part of the buffers).
struct ConvGeometry {
  int64_t N, C, H, W, O, groups, out_h, out_w, L;
  int64_t group_out;   // O / groups
  int64_t group_rows;  // C / groups * kh * kw
  int64_t rows;        // C * kh * kw
  int64_t block;       // samples per block
  int64_t blocks;      // blocks in the batch
  int64_t ranges;      // ranges of blocks processed in parallel
  bool block_products;  // one product per block and group (CPU) instead of one per sample and group
  ConvGeometry(const Dims& input, const Dims& weight, const Window2d& w, int64_t g, size_t element_bytes,
               Device device)
      : N(input[0]), C(input[1]), H(input[2]), W(input[3]), O(weight[0]), groups(g), out_h(w.out_h(H)),
        out_w(w.out_w(W)), L(out_h * out_w), group_out(O / g), group_rows(weight[1] * w.kernel_h * w.kernel_w),
        rows(C * w.kernel_h * w.kernel_w), block_products(device.is_cpu()) {
    const int64_t sample_bytes = std::max<int64_t>(1, rows * L * static_cast<int64_t>(element_bytes));
    block = std::clamp<int64_t>(kColumnBlockBytes / sample_bytes, 1, std::max<int64_t>(N, 1));
    blocks = (N + block - 1) / block;
    ranges = device.is_cpu() ? std::clamp<int64_t>(cpu::get_num_threads(), 1, std::max<int64_t>(blocks, 1)) : 1;
  }
};

/// Calls fn(range, first_sample, end_sample) for each range of blocks. On the CPU with several threads the
/// ranges run in one parallel region, one per thread, and the backend calls made inside stay on their thread;
/// so a whole convolution pass costs one fork/join, however many blocks it has. fn must only call the backend
/// on preallocated operands (no allocation, nothing that can throw).
template <typename Fn>
void for_each_range(const ConvGeometry& g, Fn&& fn) {
  auto run = [&](int64_t r) {
    const int64_t first_block = r * g.blocks / g.ranges, end_block = (r + 1) * g.blocks / g.ranges;
    fn(r, first_block * g.block, std::min(g.N, end_block * g.block));
  };
  if (g.ranges <= 1) {
    if (g.N > 0) run(0);
    return;
  }
  cpu::parallel_for(g.ranges, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) run(r);
  });
}

/// A backend operand at `offset` elements from t's first element, with the given geometry.
Strided sub_operand(const Tensor& t, int64_t offset, const Dims& sizes, const Dims& strides) {
  Strided s = detail::strided(t);
  s.data = static_cast<char*>(s.data) + offset * static_cast<int64_t>(t.element_size());
  s.sizes = sizes;
  s.strides = strides;
  return s;
}

/// Samples [n0, n0 + count) of a 4-D tensor as a backend operand.
Strided batch_slice(const Tensor& t, int64_t n0, int64_t count) {
  return sub_operand(t, n0 * t.stride(0), {count, t.size(1), t.size(2), t.size(3)}, t.strides());
}

// Two ways to run the products of a block of nb samples:
//  * one product per sample and group: columns [nb, rows, L] (contiguous, as every backend's im2col writes
//    them), out[n, g] = weight[g] @ columns[n, g];
//  * on the CPU, one product per block and group: the columns are written as [rows, nb, L], i.e. one
//    [rows, nb*L] matrix, so that weight[g] @ columns[g] covers the whole block in a single GEMM (the weight is
//    packed once, and the products' edges, where L is not a multiple of the GEMM's tile, shrink to one per
//    block). The result [O, nb, L] is then copied into out (the bias added on the way). The backward pass works
//    the same way on a copy of the output gradient laid out as [O, nb, L], and reads the columns for the weight
//    gradient transposed, [nb*L, rows], which the GEMM reads in place.

/// out = conv2d(x, weight) + bias, block by block (no autograd).
Tensor conv2d_forward_blocked(const Tensor& x, const Tensor& weight, const Tensor& bias, const Window2d& w,
                              const ConvGeometry& g) {
  NoGradGuard no_grad;
  Tensor out = detail::make_tensor({g.N, g.O, g.out_h, g.out_w}, x.dtype(), x.device());
  Tensor cols = detail::make_tensor({g.ranges, g.block, g.rows, g.L}, x.dtype(), x.device());
  const Tensor wm = weight.reshape({g.O, g.group_rows});  // a view unless weight is oddly strided
  const int64_t ws0 = wm.stride(0), ws1 = wm.stride(1);
  Backend& backend = detail::backend_of(x);
  auto weight_group = [&](int64_t grp) {  // [1, O/G, C/G*k]
    return sub_operand(wm, grp * g.group_out * ws0, {1, g.group_out, g.group_rows}, {0, ws0, ws1});
  };
  if (g.block_products) {
    Tensor products = detail::make_tensor({g.ranges, g.O, g.block * g.L}, x.dtype(), x.device());
    for_each_range(g, [&](int64_t r, int64_t first, int64_t end) {
      const int64_t own_cols = r * g.block * g.rows * g.L, own_products = r * g.O * g.block * g.L;
      for (int64_t n0 = first; n0 < end; n0 += g.block) {
        const int64_t nb = std::min(g.block, end - n0), pitch = nb * g.L;
        backend.im2col(batch_slice(x, n0, nb), sub_operand(cols, own_cols, {nb, g.rows, g.L}, {g.L, pitch, 1}), w);
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          // [1, O/G, C/G*k] @ [1, C/G*k, nb*L] -> [1, O/G, nb*L]
          backend.matmul(weight_group(grp),
                         sub_operand(cols, own_cols + grp * g.group_rows * pitch, {1, g.group_rows, pitch},
                                     {0, pitch, 1}),
                         sub_operand(products, own_products + grp * g.group_out * pitch, {1, g.group_out, pitch},
                                     {0, pitch, 1}));
        }
        const Strided block_out = sub_operand(products, own_products, {nb, g.O, g.L}, {g.L, pitch, 1});
        const Strided dst = sub_operand(out, n0 * g.O * g.L, {nb, g.O, g.L}, {g.O * g.L, g.L, 1});
        if (bias.defined()) {
          backend.binary(BinaryOp::Add, block_out, sub_operand(bias, 0, {nb, g.O, g.L}, {0, bias.stride(0), 0}), dst);
        } else {
          backend.copy(block_out, dst);
        }
      }
    });
    return out;
  }
  for_each_range(g, [&](int64_t r, int64_t first, int64_t end) {
    const int64_t own_cols = r * g.block * g.rows * g.L;
    for (int64_t n0 = first; n0 < end; n0 += g.block) {
      const int64_t nb = std::min(g.block, end - n0);
      backend.im2col(batch_slice(x, n0, nb), sub_operand(cols, own_cols, {nb, g.rows, g.L}, {g.rows * g.L, g.L, 1}),
                     w);
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        // [1, O/G, C/G*k] (broadcast over the block) @ [nb, C/G*k, L] -> [nb, O/G, L]
        backend.matmul(weight_group(grp),
                       sub_operand(cols, own_cols + grp * g.group_rows * g.L, {nb, g.group_rows, g.L},
                                   {g.rows * g.L, g.L, 1}),
                       sub_operand(out, (n0 * g.O + grp * g.group_out) * g.L, {nb, g.group_out, g.L},
                                   {g.O * g.L, g.L, 1}));
      }
    }
  });
  if (bias.defined()) out.add_(bias.reshape({g.O, 1, 1}));
  return out;
}

struct Conv2dBackward final : Node {
  autograd::SavedVariable input, weight;
  Dims input_shape;
  Window2d window;
  int64_t groups = 1;

  variable_list apply(variable_list&& grads) override {
    const Tensor& grad = grads[0];
    Tensor x = input.defined() ? input.unpack(this) : Tensor();
    Tensor w = weight.unpack(this);
    return GradMode::is_enabled() ? differentiable_gradients(grad, x, w) : blocked_gradients(grad, x, w);
  }

  /// The gradients written with differentiable ops (used when the backward pass is itself recorded).
  variable_list differentiable_gradients(const Tensor& grad, const Tensor& x, const Tensor& w) {
    variable_list r(3);
    const int64_t N = grad.size(0), O = grad.size(1), L = grad.size(2) * grad.size(3);
    const int64_t group_rows = w.size(1) * window.kernel_h * window.kernel_w;
    Tensor grad_groups = grad.reshape({N, groups, O / groups, L});
    if (needs_input_grad(0)) {
      Tensor grad_cols = matmul(w.reshape({groups, O / groups, group_rows}).mT(), grad_groups);
      r[0] = fold_3d(grad_cols.reshape({N, groups * group_rows, L}), input_shape[2], input_shape[3], window);
    }
    if (needs_input_grad(1)) {
      Tensor cols = unfold_4d(x, window).view({N, groups, group_rows, L});
      r[1] = matmul(grad_groups, cols.mT()).sum({0}).reshape(w.sizes());
    }
    if (needs_input_grad(2)) r[2] = grad.sum({0, 2, 3});
    return r;
  }

  /// The same gradients computed block by block on the backend, without recording a graph:
  ///   grad_w[g] = sum_n grad[n, g] @ columns[n, g]^T     (columns recomputed with im2col)
  ///   grad_x[n] = col2im(weight[g]^T @ grad[n, g] for each g)
  variable_list blocked_gradients(const Tensor& grad_in, const Tensor& x, const Tensor& w) {
    variable_list r(3);
    const Tensor grad = grad_in.contiguous();  // [N, O, out_h, out_w]
    const ConvGeometry g(input_shape, w.sizes(), window, groups, grad.element_size(), grad.device());
    const TensorOptions options = TensorOptions(grad.dtype()).device(grad.device());
    const int64_t weight_size = g.O * g.group_rows;
    Backend& backend = detail::backend_of(grad);
    Tensor cols = detail::make_tensor({g.ranges, g.block, g.rows, g.L}, grad.dtype(), grad.device());
    const Tensor wm = w.reshape({g.O, g.group_rows});
    const int64_t ws0 = wm.stride(0), ws1 = wm.stride(1);
    // Per range: the weight (and bias) gradients of its current block, and their sums over its blocks.
    Tensor grad_x, block_sum, range_sum, bias_block_sum, bias_range_sum;
    if (needs_input_grad(0)) grad_x = zeros({g.N, g.C, g.H, g.W}, options);
    if (needs_input_grad(1)) {
      block_sum = detail::make_tensor({g.ranges, weight_size}, grad.dtype(), grad.device());
      range_sum = zeros({g.ranges, weight_size}, options);
    }
    const bool bias_from_blocks = g.block_products && needs_input_grad(2);  // summed while the block is in cache
    if (bias_from_blocks) {
      bias_block_sum = detail::make_tensor({g.ranges, g.O}, grad.dtype(), grad.device());
      bias_range_sum = zeros({g.ranges, g.O}, options);
    }
    auto grad_slice = [&](int64_t n0, int64_t nb, int64_t grp) {  // [nb, O/G, L] of the output gradient
      return sub_operand(grad, (n0 * g.O + grp * g.group_out) * g.L, {nb, g.group_out, g.L}, {g.O * g.L, g.L, 1});
    };
    auto weight_group_t = [&](int64_t grp) {  // [1, C/G*k, O/G]
      return sub_operand(wm, grp * g.group_out * ws0, {1, g.group_rows, g.group_out}, {0, ws1, ws0});
    };
    // sums[r] += block_sums[r]
    auto accumulate = [&](const Tensor& block_sums, const Tensor& sums, int64_t r) {
      const int64_t size = sums.size(1);
      const Strided acc = sub_operand(sums, r * size, {1, size}, {size, 1});
      backend.binary(BinaryOp::Add, acc, sub_operand(block_sums, r * size, {1, size}, {size, 1}), acc);
    };
    if (g.block_products) {
      Tensor grad_t = detail::make_tensor({g.ranges, g.O, g.block * g.L}, grad.dtype(), grad.device());
      for_each_range(g, [&](int64_t r, int64_t first, int64_t end) {
        const int64_t own_cols = r * g.block * g.rows * g.L, own_grad_t = r * g.O * g.block * g.L;
        for (int64_t n0 = first; n0 < end; n0 += g.block) {
          const int64_t nb = std::min(g.block, end - n0), pitch = nb * g.L;
          // The block's output gradient as [O, nb, L]: group grp is the [O/G, nb*L] matrix at row grp*O/G.
          backend.copy(sub_operand(grad, n0 * g.O * g.L, {nb, g.O, g.L}, {g.O * g.L, g.L, 1}),
                       sub_operand(grad_t, own_grad_t, {nb, g.O, g.L}, {g.L, pitch, 1}));
          if (bias_from_blocks) {
            backend.reduce(ReduceOp::Sum, sub_operand(grad_t, own_grad_t, {g.O, pitch}, {pitch, 1}),
                           sub_operand(bias_block_sum, r * g.O, {g.O, 1}, {1, 1}));
            accumulate(bias_block_sum, bias_range_sum, r);
          }
          auto grad_t_group = [&](int64_t grp) {
            return sub_operand(grad_t, own_grad_t + grp * g.group_out * pitch, {1, g.group_out, pitch},
                               {0, pitch, 1});
          };
          if (needs_input_grad(1)) {
            // Columns transposed: [nb, rows, L] stored as the row-major [nb*L, rows] matrix.
            backend.im2col(batch_slice(x, n0, nb),
                           sub_operand(cols, own_cols, {nb, g.rows, g.L}, {g.rows * g.L, 1, g.rows}), window);
            for (int64_t grp = 0; grp < groups; ++grp) {
              // [1, O/G, nb*L] @ [1, nb*L, C/G*k] -> [1, O/G, C/G*k]
              backend.matmul(grad_t_group(grp),
                             sub_operand(cols, own_cols + grp * g.group_rows, {1, pitch, g.group_rows},
                                         {0, g.rows, 1}),
                             sub_operand(block_sum, r * weight_size + grp * g.group_out * g.group_rows,
                                         {1, g.group_out, g.group_rows}, {0, g.group_rows, 1}));
            }
            accumulate(block_sum, range_sum, r);
          }
          if (needs_input_grad(0)) {
            for (int64_t grp = 0; grp < groups; ++grp) {
              // [1, C/G*k, O/G] @ [1, O/G, nb*L] -> [1, C/G*k, nb*L], the block's columns as [rows, nb, L]
              backend.matmul(weight_group_t(grp), grad_t_group(grp),
                             sub_operand(cols, own_cols + grp * g.group_rows * pitch, {1, g.group_rows, pitch},
                                         {0, pitch, 1}));
            }
            backend.col2im(sub_operand(cols, own_cols, {nb, g.rows, g.L}, {g.L, pitch, 1}),
                           batch_slice(grad_x, n0, nb), window);
          }
        }
      });
    } else {
      Tensor partial;
      if (needs_input_grad(1))
        partial = detail::make_tensor({g.ranges, g.block, weight_size}, grad.dtype(), grad.device());
      for_each_range(g, [&](int64_t r, int64_t first, int64_t end) {
        const int64_t own_cols = r * g.block * g.rows * g.L;
        for (int64_t n0 = first; n0 < end; n0 += g.block) {
          const int64_t nb = std::min(g.block, end - n0);
          const Strided block_cols = sub_operand(cols, own_cols, {nb, g.rows, g.L}, {g.rows * g.L, g.L, 1});
          if (needs_input_grad(1)) {
            backend.im2col(batch_slice(x, n0, nb), block_cols, window);
            const int64_t own_partial = r * g.block * weight_size;
            for (int64_t grp = 0; grp < groups; ++grp) {
              backend.matmul(grad_slice(n0, nb, grp),
                             sub_operand(cols, own_cols + grp * g.group_rows * g.L, {nb, g.L, g.group_rows},
                                         {g.rows * g.L, 1, g.L}),
                             sub_operand(partial, own_partial + grp * g.group_out * g.group_rows,
                                         {nb, g.group_out, g.group_rows}, {weight_size, g.group_rows, 1}));
            }
            // block_sum[r] = sum over the block's samples of partial
            backend.reduce(ReduceOp::Sum, sub_operand(partial, own_partial, {nb, weight_size}, {weight_size, 1}),
                           sub_operand(block_sum, r * weight_size, {1, weight_size}, {weight_size, 1}));
            accumulate(block_sum, range_sum, r);
          }
          if (needs_input_grad(0)) {
            for (int64_t grp = 0; grp < groups; ++grp) {
              backend.matmul(weight_group_t(grp), grad_slice(n0, nb, grp),
                             sub_operand(cols, own_cols + grp * g.group_rows * g.L, {nb, g.group_rows, g.L},
                                         {g.rows * g.L, g.L, 1}));
            }
            backend.col2im(block_cols, batch_slice(grad_x, n0, nb), window);
          }
        }
      });
    }
    if (needs_input_grad(0)) r[0] = grad_x;
    if (needs_input_grad(1)) r[1] = range_sum.sum({0}).view(w.sizes());
    if (needs_input_grad(2)) r[2] = bias_from_blocks ? bias_range_sum.sum({0}) : grad.sum({0, 2, 3});
    return r;
  }

  std::string name() const override { return "Conv2dBackward"; }
  void release_variables() override {
    input.reset();
    weight.reset();
  }
};

/// conv2d on a checked 4-D input and weight.
Tensor conv2d_4d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Window2d& w, int64_t groups,
                 const char* op) {
  check_window_fits(w, x.size(2), x.size(3), op);
  const ConvGeometry geometry(x.sizes(), weight.sizes(), w, groups, x.element_size(), x.device());
  Tensor out = conv2d_forward_blocked(x, weight, bias, w, geometry);
  if (auto node = make_node<Conv2dBackward>(x, weight, bias)) {
    if (node->needs_input_grad(1)) node->input = autograd::SavedVariable(x);
    node->weight = autograd::SavedVariable(weight);
    node->input_shape = x.sizes();
    node->window = w;
    node->groups = groups;
    set_history(out, node);
  }
  return out;
}

}  // namespace

Tensor unfold(const Tensor& x, const Dims& kernel_size, const Dims& dilation, const Dims& padding,
              const Dims& stride) {
  check_float_input(x, "unfold", "input");
  TD_CHECK(x.dim() == 4 || x.dim() == 3, "unfold: expected input [N, C, H, W] or [C, H, W], got shape ", x.sizes());
  const Window2d w = make_window("unfold", kernel_size, dilation, padding, stride);
  if (x.dim() == 3) return unfold(x.unsqueeze(0), kernel_size, dilation, padding, stride).squeeze(0);
  check_window_fits(w, x.size(2), x.size(3), "unfold");
  return unfold_4d(x, w);
}

Tensor fold(const Tensor& cols, const Dims& output_size, const Dims& kernel_size, const Dims& dilation,
            const Dims& padding, const Dims& stride) {
  check_float_input(cols, "fold", "input");
  TD_CHECK(cols.dim() == 3 || cols.dim() == 2, "fold: expected input [N, C*kh*kw, L] or [C*kh*kw, L], got shape ",
           cols.sizes());
  const Window2d w = make_window("fold", kernel_size, dilation, padding, stride);
  const auto [height, width] = hw_arg(output_size, "fold", "output_size");
  TD_CHECK(height > 0 && width > 0, "fold: output_size must be positive, got ", output_size);
  if (cols.dim() == 2)
    return fold(cols.unsqueeze(0), output_size, kernel_size, dilation, padding, stride).squeeze(0);
  check_window_fits(w, height, width, "fold");
  const int64_t K = w.kernel_h * w.kernel_w, L = w.out_h(height) * w.out_w(width);
  TD_CHECK(cols.size(1) % K == 0, "fold: dim 1 of input ", cols.sizes(), " must be divisible by kh*kw = ", K);
  TD_CHECK(cols.size(2) == L, "fold: input ", cols.sizes(), " has ", cols.size(2), " blocks but output_size ",
           height, "x", width, " with kernel ", w.kernel_h, "x", w.kernel_w, " gives ", L);
  return fold_3d(cols, height, width, w);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Dims& stride, const Dims& padding,
              const Dims& dilation, int64_t groups) {
  check_conv_args(x, weight, bias, groups, 2, "conv2d");
  Window2d w = make_window("conv2d", {weight.size(2), weight.size(3)}, dilation, padding, stride);
  if (x.dim() == 3) return conv2d_4d(x.unsqueeze(0), weight, bias, w, groups, "conv2d").squeeze(0);
  return conv2d_4d(x, weight, bias, w, groups, "conv2d");
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  check_conv_args(x, weight, bias, groups, 1, "conv1d");
  TD_CHECK(stride > 0, "conv1d: stride must be positive, got ", stride);
  TD_CHECK(padding >= 0, "conv1d: padding must be non-negative, got ", padding);
  TD_CHECK(dilation > 0, "conv1d: dilation must be positive, got ", dilation);
  const int64_t k = weight.size(2), length = x.size(-1), effective = dilation * (k - 1) + 1;
  TD_CHECK(length + 2 * padding >= effective, "conv1d: kernel ", k, " (dilation ", dilation, ", effective ",
           effective, ") is larger than the padded input ", length + 2 * padding);
  Window2d w;
  w.kernel_w = k;
  w.stride_w = stride;
  w.pad_w = padding;
  w.dilation_w = dilation;
  Tensor x4 = x.dim() == 2 ? x.unsqueeze(0).unsqueeze(2) : x.unsqueeze(2);  // [N, C, 1, L]
  Tensor out = conv2d_4d(x4, weight.unsqueeze(2), bias, w, groups, "conv1d").squeeze(2);
  return x.dim() == 2 ? out.squeeze(0) : out;
}

}  // namespace tandem
