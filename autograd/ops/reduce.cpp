// Reductions: sum, mean, prod, max/min (values, and values + indices along a dim), amax/amin, argmax/argmin,
// var/std, logsumexp, norm, any/all, and sum_to (the adjoint of broadcasting, which the engine calls for every
// gradient whose shape differs from its input's).
//
// Dims lists may hold negative dims and must not repeat one; an empty list reduces every dim. keepdim keeps
// reduced dims as size 1, as in libtorch. sum/prod of bool and int64 tensors give int64; mean, var, std,
// logsumexp and norm need floating inputs.
//
// Backward rules, all written with differentiable ops so that double backward works:
//   sum       grad reshaped to the keepdim shape, then expanded to the input shape;
//   mean      the same divided by the number of reduced elements;
//   amax/amin, max()/min() over everything: shared evenly among the tied extrema (grad * mask / count);
//   max/min(dim): the whole gradient to the index that was returned (a one-hot mask built by comparing an
//             arange with the indices, so no scatter is needed);
//   prod      grad * prod / x when the input has no zero; otherwise grad * (product of the elements before) *
//             (product of the elements after), both computed by a log-step scan of shifted products, which is
//             exact with any number of zeros;
//   var/std   composed of mean, sub, mul, sum (their backward comes for free);
//   logsumexp grad * exp(x - logsumexp); norm(2) grad * x / norm (0 where the norm is 0); other norms composed.
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/ops/common.h"

namespace tandem {

using autograd::make_node;
using autograd::Node;
using autograd::SavedVariable;
using autograd::set_history;
using autograd::variable_list;

namespace {

/// Which dims of x a reduction reduces (1 = reduced).
using DimMask = std::vector<char>;

/// Turns a dims list into a mask: negative dims wrap, repeats are errors, an empty list selects every dim.
DimMask make_mask(const Tensor& x, const Dims& dims, const char* op) {
  const int64_t n = x.dim();
  DimMask mask(static_cast<size_t>(n), dims.empty() ? 1 : 0);
  std::vector<char> seen(static_cast<size_t>(std::max<int64_t>(n, 1)), 0);
  for (int64_t d : dims) {
    const int64_t w = detail::wrap_dim(d, n, op);
    TD_CHECK(!seen[static_cast<size_t>(w)], op, ": dim ", w, " appears more than once in the list of dims ", dims);
    seen[static_cast<size_t>(w)] = 1;
    if (n > 0) mask[static_cast<size_t>(w)] = 1;
  }
  return mask;
}

DimMask single_dim_mask(const Tensor& x, int64_t dim, const char* op) { return make_mask(x, Dims{dim}, op); }

DimMask all_dims_mask(const Tensor& x) { return DimMask(static_cast<size_t>(x.dim()), 1); }

/// x's shape with the reduced dims set to 1.
Dims keepdim_shape(const Dims& sizes, const DimMask& mask) {
  Dims out = sizes;
  for (size_t d = 0; d < sizes.size(); ++d)
    if (mask[d]) out[d] = 1;
  return out;
}

/// The shape of a reduction's result.
Dims result_shape(const Dims& sizes, const DimMask& mask, bool keepdim) {
  if (keepdim) return keepdim_shape(sizes, mask);
  Dims out;
  for (size_t d = 0; d < sizes.size(); ++d)
    if (!mask[d]) out.push_back(sizes[d]);
  return out;
}

int64_t reduced_count(const Dims& sizes, const DimMask& mask) {
  int64_t n = 1;
  for (size_t d = 0; d < sizes.size(); ++d)
    if (mask[d]) n *= sizes[d];
  return n;
}

/// One backend reduction into a new tensor of dtype out_dtype; records no graph.
Tensor reduce_kernel(ReduceOp op, const Tensor& x, const DimMask& mask, bool keepdim, ScalarType out_dtype) {
  const Dims keep = keepdim_shape(x.sizes(), mask);
  Tensor out = detail::make_tensor(keepdim ? keep : result_shape(x.sizes(), mask, false), out_dtype, x.device());
  detail::backend_of(x).reduce(op, detail::strided(x), detail::strided(out, keep, contiguous_strides(keep)));
  return out;
}

/// A reduction result (or its gradient) viewed with the reduced dims as size 1.
Tensor as_keepdim(const Tensor& t, const Dims& input_shape, const DimMask& mask, bool keepdim) {
  if (keepdim) return t;
  return t.reshape(keepdim_shape(input_shape, mask));
}

/// bool and int64 reductions that add or multiply are computed in int64.
Tensor promote_integral(const Tensor& x) {
  if (is_floating(x.dtype()) || x.dtype() == kInt64) return x;
  NoGradGuard no_grad;
  return x.to(kInt64);
}

void check_floating_input(const Tensor& x, const char* op) {
  detail::check_defined(x, op);
  TD_CHECK(is_floating(x.dtype()), op, ": expected a floating-point input, got ", x.dtype(),
           " (convert it first, e.g. with .to(kFloat32))");
}

// ---- sum and mean -------------------------------------------------------------------------------------------
struct SumBackward final : Node {
  Dims input_shape;
  DimMask mask;
  bool keepdim = false;
  double scale = 1;  // 1 / count for mean
  const char* op_name = "SumBackward";
  variable_list apply(variable_list&& g) override {
    Tensor grad = scale == 1 ? g[0] : g[0] * scale;
    return {as_keepdim(grad, input_shape, mask, keepdim).expand(input_shape)};
  }
  std::string name() const override { return op_name; }
};

Tensor sum_masked(const Tensor& x, const DimMask& mask, bool keepdim) {
  Tensor in = promote_integral(x);
  Tensor out = reduce_kernel(ReduceOp::Sum, in, mask, keepdim, in.dtype());
  if (auto node = make_node<SumBackward>(x)) {
    node->input_shape = x.sizes();
    node->mask = mask;
    node->keepdim = keepdim;
    set_history(out, node);
  }
  return out;
}

Tensor mean_masked(const Tensor& x, const DimMask& mask, bool keepdim) {
  check_floating_input(x, "mean");
  const int64_t count = reduced_count(x.sizes(), mask);
  Tensor out = reduce_kernel(ReduceOp::Sum, x, mask, keepdim, x.dtype());
  detail::backend_of(out).unary(UnaryOp::DivScalar, detail::strided(out), detail::strided(out),
                                static_cast<double>(count), 0);
  if (auto node = make_node<SumBackward>(x)) {
    node->input_shape = x.sizes();
    node->mask = mask;
    node->keepdim = keepdim;
    node->scale = 1.0 / static_cast<double>(count);
    node->op_name = "MeanBackward";
    set_history(out, node);
  }
  return out;
}

// ---- prod -----------------------------------------------------------------------------------------------------
/// For each position along `dim`, the product of the elements before it (before = true) or after it, for x with
/// n > 1 elements along dim: a Hillis-Steele scan, log2(n) steps of multiplying by a shifted copy.
Tensor exclusive_products(const Tensor& x, int64_t dim, bool before) {
  const int64_t n = x.size(dim);
  auto ones_along = [&](int64_t count) { return ones_like(x.narrow(dim, 0, count)); };
  Tensor p =
      before ? cat({ones_along(1), x.narrow(dim, 0, n - 1)}, dim) : cat({x.narrow(dim, 1, n - 1), ones_along(1)}, dim);
  for (int64_t s = 1; s < n; s *= 2) {
    Tensor shifted = before ? cat({ones_along(s), p.narrow(dim, 0, n - s)}, dim)
                            : cat({p.narrow(dim, s, n - s), ones_along(s)}, dim);
    p = p * shifted;
  }
  return p;
}

/// Gradient of prod along `dim` (x has that dim; grad and result have it as size 1).
Tensor prod_grad_along(const Tensor& x, const Tensor& grad, const Tensor& result, int64_t dim) {
  if (x.size(dim) == 1) return grad.expand(x.sizes());
  bool has_zero;
  {
    NoGradGuard no_grad;
    has_zero = (x == 0.0).any().item<bool>();
  }
  if (!has_zero) return grad * result / x;
  return grad * (exclusive_products(x, dim, true) * exclusive_products(x, dim, false));
}

struct ProdBackward final : Node {
  SavedVariable x, result;
  int64_t dim = -1;  // -1: the product of all elements
  bool keepdim = false;
  variable_list apply(variable_list&& g) override {
    Tensor xv = x.unpack(this), out = result.unpack(this);
    if (xv.dim() == 0) return {g[0]};
    if (dim < 0) {  // over all elements: work on the flattened input
      Tensor flat = xv.reshape({-1});
      if (flat.numel() == 0) return {zeros_like(xv)};
      return {prod_grad_along(flat, g[0].reshape({1}), out.reshape({1}), 0).reshape(xv.sizes())};
    }
    if (xv.size(dim) == 0) return {zeros_like(xv)};
    Tensor gk = keepdim ? g[0] : g[0].unsqueeze(dim);
    Tensor ok = keepdim ? out : out.unsqueeze(dim);
    return {prod_grad_along(xv, gk, ok, dim)};
  }
  std::string name() const override { return "ProdBackward"; }
  void release_variables() override {
    x.reset();
    result.reset();
  }
};

Tensor prod_impl(const Tensor& x, const DimMask& mask, bool keepdim, int64_t dim) {
  Tensor in = promote_integral(x);
  Tensor out = reduce_kernel(ReduceOp::Prod, in, mask, keepdim, in.dtype());
  if (auto node = make_node<ProdBackward>(x)) {
    node->dim = dim;
    node->keepdim = keepdim;
    node->x = SavedVariable(x);
    set_history(out, node);
    node->result = SavedVariable(out, /*is_output=*/true);
  }
  return out;
}

// ---- max / min ------------------------------------------------------------------------------------------------
/// amax/amin (and max()/min() over everything): the gradient is shared evenly among the tied extrema.
struct ExtremumBackward final : Node {
  SavedVariable x, result;
  DimMask mask;
  bool keepdim = false;
  const char* op_name = "AmaxBackward";
  variable_list apply(variable_list&& g) override {
    Tensor xv = x.unpack(this);
    const Dims shape = xv.sizes();
    Tensor out = as_keepdim(result.unpack(this), shape, mask, keepdim);
    Tensor hits = (xv == out).to(g[0].dtype());
    Tensor count = sum_masked(hits, mask, /*keepdim=*/true);
    return {as_keepdim(g[0], shape, mask, keepdim) * hits / count};
  }
  std::string name() const override { return op_name; }
  void release_variables() override {
    x.reset();
    result.reset();
  }
};

Tensor extremum(const Tensor& x, const DimMask& mask, bool keepdim, bool is_max) {
  const char* op = is_max ? "amax" : "amin";
  detail::check_defined(x, op);
  Tensor out = reduce_kernel(is_max ? ReduceOp::Max : ReduceOp::Min, x, mask, keepdim, x.dtype());
  if (auto node = make_node<ExtremumBackward>(x)) {
    node->mask = mask;
    node->keepdim = keepdim;
    node->op_name = is_max ? "AmaxBackward" : "AminBackward";
    node->x = SavedVariable(x);
    set_history(out, node);
    node->result = SavedVariable(out, /*is_output=*/true);
  }
  return out;
}

/// max(dim)/min(dim): the gradient goes to the returned index.
struct IndexedExtremumBackward final : Node {
  SavedVariable indices;
  Dims input_shape;
  int64_t dim = 0;
  bool keepdim = false;
  const char* op_name = "MaxBackward";
  variable_list apply(variable_list&& g) override {
    if (input_shape.empty()) return {g[0]};
    Tensor idx = indices.unpack(this);
    Tensor gk = keepdim ? g[0] : g[0].unsqueeze(dim);
    Tensor ik = keepdim ? idx : idx.unsqueeze(dim);
    Dims positions_shape(input_shape.size(), 1);
    positions_shape[static_cast<size_t>(dim)] = input_shape[static_cast<size_t>(dim)];
    Tensor positions =
        arange(static_cast<double>(input_shape[static_cast<size_t>(dim)]), TensorOptions(kInt64).device(idx.device()))
            .reshape(positions_shape);
    Tensor chosen = (positions == ik).to(g[0].dtype());
    return {gk * chosen};
  }
  std::string name() const override { return op_name; }
  void release_variables() override { indices.reset(); }
};

std::tuple<Tensor, Tensor> indexed_extremum(const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "max" : "min";
  detail::check_defined(x, op);
  const int64_t d = detail::wrap_dim(dim, x.dim(), op);
  const DimMask mask = single_dim_mask(x, d, op);
  Tensor values = reduce_kernel(is_max ? ReduceOp::Max : ReduceOp::Min, x, mask, keepdim, x.dtype());
  Tensor indices = reduce_kernel(is_max ? ReduceOp::ArgMax : ReduceOp::ArgMin, x, mask, keepdim, kInt64);
  if (auto node = make_node<IndexedExtremumBackward>(x)) {
    node->input_shape = x.sizes();
    node->dim = d;
    node->keepdim = keepdim;
    node->op_name = is_max ? "MaxBackward" : "MinBackward";
    node->indices = SavedVariable(indices);
    set_history(values, node);
  }
  return {values, indices};
}

Tensor arg_extremum_all(const Tensor& x, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  detail::check_defined(x, op);
  Tensor flat = x.detach().reshape({-1});
  return reduce_kernel(is_max ? ReduceOp::ArgMax : ReduceOp::ArgMin, flat, DimMask{1}, false, kInt64);
}

Tensor arg_extremum(const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  detail::check_defined(x, op);
  const int64_t d = detail::wrap_dim(dim, x.dim(), op);
  return reduce_kernel(is_max ? ReduceOp::ArgMax : ReduceOp::ArgMin, x, single_dim_mask(x, d, op), keepdim, kInt64);
}

// ---- var / std ------------------------------------------------------------------------------------------------
Tensor var_masked(const Tensor& x, const DimMask& mask, int64_t correction, bool keepdim, const char* op) {
  check_floating_input(x, op);
  const int64_t n = reduced_count(x.sizes(), mask);
  Tensor centered = x - mean_masked(x, mask, /*keepdim=*/true);
  // n - correction <= 0 divides by zero: inf or nan, as in libtorch.
  return sum_masked(centered * centered, mask, keepdim) / static_cast<double>(std::max<int64_t>(n - correction, 0));
}

// ---- logsumexp ------------------------------------------------------------------------------------------------
struct LogsumexpBackward final : Node {
  SavedVariable x, result;
  DimMask mask;
  bool keepdim = false;
  variable_list apply(variable_list&& g) override {
    Tensor xv = x.unpack(this);
    const Dims shape = xv.sizes();
    Tensor lse = as_keepdim(result.unpack(this), shape, mask, keepdim);
    return {as_keepdim(g[0], shape, mask, keepdim) * exp(xv - lse)};
  }
  std::string name() const override { return "LogsumexpBackward"; }
  void release_variables() override {
    x.reset();
    result.reset();
  }
};

// ---- norm -----------------------------------------------------------------------------------------------------
/// The 2-norm: grad * x / norm, with 0 where the norm is 0 (the subgradient libtorch picks).
struct Norm2Backward final : Node {
  SavedVariable x, result;
  variable_list apply(variable_list&& g) override {
    Tensor xv = x.unpack(this), norm = result.unpack(this);
    Tensor safe_norm = norm.masked_fill(norm == 0.0, 1.0);
    return {g[0] * xv / safe_norm};
  }
  std::string name() const override { return "NormBackward"; }
  void release_variables() override {
    x.reset();
    result.reset();
  }
};

// ---- sum_to ---------------------------------------------------------------------------------------------------
struct SumToBackward final : Node {
  Dims input_shape;
  variable_list apply(variable_list&& g) override { return {g[0].expand(input_shape)}; }
  std::string name() const override { return "SumToBackward"; }
};

}  // namespace

// =============================================================================================================
// Free functions
// =============================================================================================================
Tensor sum(const Tensor& x) {
  detail::check_defined(x, "sum");
  return sum_masked(x, all_dims_mask(x), false);
}
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
  detail::check_defined(x, "sum");
  return sum_masked(x, make_mask(x, dims, "sum"), keepdim);
}

Tensor mean(const Tensor& x) {
  check_floating_input(x, "mean");
  return mean_masked(x, all_dims_mask(x), false);
}
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
  check_floating_input(x, "mean");
  return mean_masked(x, make_mask(x, dims, "mean"), keepdim);
}

Tensor prod(const Tensor& x) {
  detail::check_defined(x, "prod");
  return prod_impl(x, all_dims_mask(x), false, -1);
}
Tensor prod(const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_defined(x, "prod");
  const int64_t d = detail::wrap_dim(dim, x.dim(), "prod");
  return prod_impl(x, single_dim_mask(x, d, "prod"), keepdim, x.dim() == 0 ? -1 : d);
}

Tensor max(const Tensor& x) {
  detail::check_defined(x, "max");
  return extremum(x, all_dims_mask(x), false, true);
}
std::tuple<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return indexed_extremum(x, dim, keepdim, true);
}
Tensor min(const Tensor& x) {
  detail::check_defined(x, "min");
  return extremum(x, all_dims_mask(x), false, false);
}
std::tuple<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return indexed_extremum(x, dim, keepdim, false);
}
Tensor amax(const Tensor& x, const Dims& dims, bool keepdim) {
  detail::check_defined(x, "amax");
  return extremum(x, make_mask(x, dims, "amax"), keepdim, true);
}
Tensor amin(const Tensor& x, const Dims& dims, bool keepdim) {
  detail::check_defined(x, "amin");
  return extremum(x, make_mask(x, dims, "amin"), keepdim, false);
}

Tensor argmax(const Tensor& x) { return arg_extremum_all(x, true); }
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return arg_extremum(x, dim, keepdim, true); }
Tensor argmin(const Tensor& x) { return arg_extremum_all(x, false); }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return arg_extremum(x, dim, keepdim, false); }

Tensor var(const Tensor& x, int64_t correction) {
  check_floating_input(x, "var");
  return var_masked(x, all_dims_mask(x), correction, false, "var");
}
Tensor var(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  check_floating_input(x, "var");
  return var_masked(x, make_mask(x, dims, "var"), correction, keepdim, "var");
}
Tensor std(const Tensor& x, int64_t correction) {
  check_floating_input(x, "std");
  return sqrt(var_masked(x, all_dims_mask(x), correction, false, "std"));
}
Tensor std(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  check_floating_input(x, "std");
  return sqrt(var_masked(x, make_mask(x, dims, "std"), correction, keepdim, "std"));
}

Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim) {
  check_floating_input(x, "logsumexp");
  const DimMask mask = make_mask(x, dims, "logsumexp");
  Tensor out;
  {
    NoGradGuard no_grad;
    // Shift by the maximum (0 where it is infinite, so that rows of -inf give -inf rather than nan).
    Tensor shift = reduce_kernel(ReduceOp::Max, x, mask, /*keepdim=*/true, x.dtype());
    shift = shift.masked_fill(shift.abs() == std::numeric_limits<double>::infinity(), 0.0);
    Tensor total = sum_masked(exp(x - shift), mask, keepdim);
    out = log(total) + (keepdim ? shift : shift.reshape(result_shape(x.sizes(), mask, false)));
  }
  if (auto node = make_node<LogsumexpBackward>(x)) {
    node->mask = mask;
    node->keepdim = keepdim;
    node->x = SavedVariable(x);
    set_history(out, node);
    node->result = SavedVariable(out, /*is_output=*/true);
  }
  return out;
}

Tensor norm(const Tensor& x, double p) {
  check_floating_input(x, "norm");
  if (p == 2) {
    Tensor out;
    {
      NoGradGuard no_grad;
      out = sqrt(sum_masked(x * x, all_dims_mask(x), false));
    }
    if (auto node = make_node<Norm2Backward>(x)) {
      node->x = SavedVariable(x);
      set_history(out, node);
      node->result = SavedVariable(out, /*is_output=*/true);
    }
    return out;
  }
  if (p == 1) return sum(abs(x));
  if (std::isinf(p)) return p > 0 ? max(abs(x)) : min(abs(x));
  if (p == 0) {
    NoGradGuard no_grad;
    return sum_masked((x != 0.0).to(x.dtype()), all_dims_mask(x), false);
  }
  return pow(sum(pow(abs(x), p)), 1.0 / p);
}

Tensor any(const Tensor& x) {
  detail::check_defined(x, "any");
  return reduce_kernel(ReduceOp::Any, x, all_dims_mask(x), false, kBool);
}
Tensor all(const Tensor& x) {
  detail::check_defined(x, "all");
  return reduce_kernel(ReduceOp::All, x, all_dims_mask(x), false, kBool);
}

Tensor sum_to(const Tensor& x, const Dims& shape) {
  detail::check_defined(x, "sum_to");
  if (x.sizes() == shape) return x;
  const Dims& sizes = x.sizes();
  TD_CHECK(shape.size() <= sizes.size(), "sum_to: shape ", shape, " has more dims than the tensor of shape ", sizes);
  const size_t lead = sizes.size() - shape.size();
  DimMask mask(sizes.size(), 0);
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (d < lead) {
      mask[d] = 1;
      continue;
    }
    const int64_t target = shape[d - lead];
    TD_CHECK(target == sizes[d] || target == 1, "sum_to: a tensor of shape ", sizes, " cannot be summed down to shape ",
             shape, " (dim ", d, ": ", sizes[d], " vs ", target, ")");
    mask[d] = target == 1 && sizes[d] != 1;
  }
  Tensor in = promote_integral(x);
  const Dims keep = keepdim_shape(sizes, mask);
  Tensor out = detail::make_tensor(shape, in.dtype(), in.device());
  detail::backend_of(in).reduce(ReduceOp::Sum, detail::strided(in),
                                detail::strided(out, keep, contiguous_strides(keep)));
  if (auto node = make_node<SumToBackward>(x)) {
    node->input_shape = sizes;
    set_history(out, node);
  }
  return out;
}

// =============================================================================================================
// Tensor methods
// =============================================================================================================
Tensor Tensor::sum() const { return tandem::sum(*this); }
Tensor Tensor::sum(const Dims& dims, bool keepdim) const { return tandem::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return tandem::mean(*this); }
Tensor Tensor::mean(const Dims& dims, bool keepdim) const { return tandem::mean(*this, dims, keepdim); }
Tensor Tensor::prod() const { return tandem::prod(*this); }
Tensor Tensor::prod(int64_t dim, bool keepdim) const { return tandem::prod(*this, dim, keepdim); }
Tensor Tensor::max() const { return tandem::max(*this); }
std::tuple<Tensor, Tensor> Tensor::max(int64_t dim, bool keepdim) const { return tandem::max(*this, dim, keepdim); }
Tensor Tensor::min() const { return tandem::min(*this); }
std::tuple<Tensor, Tensor> Tensor::min(int64_t dim, bool keepdim) const { return tandem::min(*this, dim, keepdim); }
Tensor Tensor::amax(const Dims& dims, bool keepdim) const { return tandem::amax(*this, dims, keepdim); }
Tensor Tensor::amin(const Dims& dims, bool keepdim) const { return tandem::amin(*this, dims, keepdim); }
Tensor Tensor::argmax() const { return tandem::argmax(*this); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return tandem::argmax(*this, dim, keepdim); }
Tensor Tensor::argmin() const { return tandem::argmin(*this); }
Tensor Tensor::argmin(int64_t dim, bool keepdim) const { return tandem::argmin(*this, dim, keepdim); }
Tensor Tensor::var(int64_t correction) const { return tandem::var(*this, correction); }
Tensor Tensor::var(const Dims& dims, int64_t correction, bool keepdim) const {
  return tandem::var(*this, dims, correction, keepdim);
}
Tensor Tensor::std(int64_t correction) const { return tandem::std(*this, correction); }
Tensor Tensor::std(const Dims& dims, int64_t correction, bool keepdim) const {
  return tandem::std(*this, dims, correction, keepdim);
}
Tensor Tensor::logsumexp(const Dims& dims, bool keepdim) const { return tandem::logsumexp(*this, dims, keepdim); }
Tensor Tensor::norm(double p) const { return tandem::norm(*this, p); }
Tensor Tensor::any() const { return tandem::any(*this); }
Tensor Tensor::all() const { return tandem::all(*this); }
Tensor Tensor::sum_to(const Dims& shape) const { return tandem::sum_to(*this, shape); }

}  // namespace tandem
