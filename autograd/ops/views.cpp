// View ops: new sizes/strides/offset over the same storage, no data copied. Their backward rules map the
// gradient back to the input's geometry: reshape back, transpose/permute back, slice into zeros. expand's rule
// is the identity — the engine's central sum_to undoes the broadcast.
#include <algorithm>
#include <numeric>

#include "autograd/ops/common.h"

namespace tandem {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;
using autograd::variable_list;

namespace {

Tensor attach(Tensor out, const std::shared_ptr<Node>& node) {
  if (node) set_history(out, node);
  return out;
}

/// Backward of any view that only regroups elements in row-major order (view, reshape, squeeze, flatten, ...).
struct ReshapeBackward final : Node {
  Dims input_shape;
  variable_list apply(variable_list&& g) override { return {g[0].reshape(input_shape)}; }
  std::string name() const override { return "ViewBackward"; }
};

struct TransposeBackward final : Node {
  int64_t dim0 = 0, dim1 = 0;
  variable_list apply(variable_list&& g) override { return {g[0].transpose(dim0, dim1)}; }
  std::string name() const override { return "TransposeBackward"; }
};

struct PermuteBackward final : Node {
  Dims inverse;
  variable_list apply(variable_list&& g) override { return {g[0].permute(inverse)}; }
  std::string name() const override { return "PermuteBackward"; }
};

struct ExpandBackward final : Node {
  variable_list apply(variable_list&& g) override { return {g[0]}; }  // the engine sums down to the input shape
  std::string name() const override { return "ExpandBackward"; }
};

Tensor slice_backward(const Tensor& grad, const Dims& input_shape, int64_t dim, int64_t start, int64_t end,
                      int64_t step);

struct SliceBackward final : Node {
  Dims input_shape;
  int64_t dim = 0, start = 0, end = 0, step = 1;
  variable_list apply(variable_list&& g) override { return {slice_backward(g[0], input_shape, dim, start, end, step)}; }
  std::string name() const override { return "SliceBackward"; }
};

/// The backward of slice_backward is the slice itself.
struct SliceScatterBackward final : Node {
  int64_t dim = 0, start = 0, end = 0, step = 1;
  variable_list apply(variable_list&& g) override { return {g[0].slice(dim, start, end, step)}; }
  std::string name() const override { return "SliceScatterBackward"; }
};

/// zeros(input_shape) with grad written into the slice [start:end:step] of dim; differentiable in grad.
Tensor slice_backward(const Tensor& grad, const Dims& input_shape, int64_t dim, int64_t start, int64_t end,
                      int64_t step) {
  Tensor out = zeros(input_shape, TensorOptions(grad.dtype()).device(grad.device()));
  {
    AutoGradMode no_grad(false);
    Tensor window = out.slice(dim, start, end, step);
    detail::backend_of(out).copy(detail::strided(grad), detail::strided(window));
  }
  if (auto node = make_node<SliceScatterBackward>(grad)) {
    node->dim = dim, node->start = start, node->end = end, node->step = step;
    set_history(out, node);
  }
  return out;
}

struct AsStridedBackward final : Node {
  Dims input_shape, sizes, strides;
  int64_t offset = 0;  // relative to the input's own offset
  variable_list apply(variable_list&& g) override {
    // Each output element reads storage position offset + sum(i_k * stride_k) of the (contiguous) input.
    std::vector<int64_t> positions(static_cast<size_t>(sizes.product()));
    Dims index(sizes.size(), 0);
    for (size_t n = 0; n < positions.size(); ++n) {
      int64_t pos = offset;
      for (size_t k = 0; k < sizes.size(); ++k) pos += index[k] * strides[k];
      positions[n] = pos;
      for (size_t k = sizes.size(); k-- > 0;) {
        if (++index[k] < sizes[k]) break;
        index[k] = 0;
      }
    }
    Tensor idx = tensor(positions).to(g[0].device());
    Tensor flat = zeros({input_shape.product()}, TensorOptions(g[0].dtype()).device(g[0].device()));
    return {flat.index_add(0, idx, g[0].reshape({-1})).reshape(input_shape)};
  }
  std::string name() const override { return "AsStridedBackward"; }
};

/// Strides for viewing (sizes, strides) as new_sizes without copying, or an empty Dims if impossible.
bool view_strides(const Dims& sizes, const Dims& strides, const Dims& new_sizes, Dims& out) {
  out = Dims(new_sizes.size(), 0);
  if (sizes.product() == 0) {
    out = contiguous_strides(new_sizes);
    return true;
  }
  // Walk both shapes from the right, matching chunks of old dims that are contiguous among themselves.
  int64_t view_d = static_cast<int64_t>(new_sizes.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= sizes[d];
    if (d == 0 || (sizes[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Dims infer_size(const Dims& sizes, int64_t numel, const char* op, const Dims& input_shape) {
  Dims out = sizes;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      TD_CHECK(infer < 0, op, ": only one dimension can be inferred, got shape ", sizes);
      infer = static_cast<int64_t>(i);
    } else {
      TD_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in shape ", sizes);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    TD_CHECK(known != 0 && numel % known == 0, op, ": shape ", sizes, " is invalid for an input of shape ",
             input_shape, " (", numel, " elements)");
    out[static_cast<size_t>(infer)] = numel / known;
  }
  TD_CHECK(out.product() == numel, op, ": shape ", sizes, " is invalid for an input of shape ", input_shape, " (",
           numel, " elements)");
  return out;
}

std::shared_ptr<Node> reshape_node(const Tensor& x) {
  auto node = make_node<ReshapeBackward>(x);
  if (node) node->input_shape = x.sizes();
  return node;
}

}  // namespace

Tensor Tensor::view(const Dims& sizes) const {
  detail::check_defined(*this, "view");
  const Dims shape = infer_size(sizes, numel(), "view", this->sizes());
  Dims strides;
  TD_CHECK(view_strides(this->sizes(), this->strides(), shape, strides), "view: shape ", shape,
           " is not compatible with the input's sizes ", this->sizes(), " and strides ", this->strides(),
           "; use reshape() (which copies when needed)");
  return attach(detail::make_view(*this, shape, strides, storage_offset()), reshape_node(*this));
}

Tensor Tensor::reshape(const Dims& sizes) const {
  detail::check_defined(*this, "reshape");
  const Dims shape = infer_size(sizes, numel(), "reshape", this->sizes());
  Dims strides;
  if (view_strides(this->sizes(), this->strides(), shape, strides))
    return attach(detail::make_view(*this, shape, strides, storage_offset()), reshape_node(*this));
  Tensor copy = clone();
  return attach(detail::make_view(copy, shape, contiguous_strides(shape), copy.storage_offset()), reshape_node(copy));
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  detail::check_defined(*this, "transpose");
  const int64_t d0 = detail::wrap_dim(dim0, dim(), "transpose"), d1 = detail::wrap_dim(dim1, dim(), "transpose");
  if (dim() == 0) return attach(detail::make_view(*this, sizes(), strides(), storage_offset()), reshape_node(*this));
  Dims s = sizes(), st = strides();
  std::swap(s[d0], s[d1]);
  std::swap(st[d0], st[d1]);
  auto node = make_node<TransposeBackward>(*this);
  if (node) node->dim0 = d0, node->dim1 = d1;
  return attach(detail::make_view(*this, s, st, storage_offset()), node);
}

Tensor Tensor::t() const {
  TD_CHECK(dim() <= 2, "t: expects a tensor with at most 2 dims, got shape ", sizes(), "; use transpose()");
  return dim() < 2 ? transpose(0, 0) : transpose(0, 1);
}

Tensor Tensor::permute(const Dims& dims) const {
  detail::check_defined(*this, "permute");
  TD_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(), " dims ", dims,
           " for a tensor of rank ", dim());
  Dims s(dims.size()), st(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = detail::wrap_dim(dims[i], dim(), "permute");
    TD_CHECK(!seen[static_cast<size_t>(d)], "permute: dim ", d, " appears twice in ", dims);
    seen[static_cast<size_t>(d)] = true;
    s[i] = sizes()[d];
    st[i] = strides()[d];
    inverse[static_cast<size_t>(d)] = static_cast<int64_t>(i);
  }
  auto node = make_node<PermuteBackward>(*this);
  if (node) node->inverse = inverse;
  return attach(detail::make_view(*this, s, st, storage_offset()), node);
}

Tensor Tensor::expand(const Dims& target) const {
  detail::check_defined(*this, "expand");
  TD_CHECK(target.size() >= sizes().size(), "expand: the target shape ", target, " has fewer dims than the input ",
           sizes());
  const size_t lead = target.size() - sizes().size();
  Dims s(target.size()), st(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      TD_CHECK(target[i] >= 0, "expand: size -1 is not allowed in a new leading dim (target ", target, ")");
      s[i] = target[i];
      st[i] = 0;
      continue;
    }
    const int64_t have = sizes()[i - lead];
    const int64_t want = target[i] == -1 ? have : target[i];
    TD_CHECK(have == want || have == 1, "expand: the input of shape ", sizes(), " cannot be expanded to ", target,
             " (dim ", i, ": ", have, " vs ", want, ")");
    s[i] = want;
    st[i] = have == want ? strides()[i - lead] : 0;
  }
  return attach(detail::make_view(*this, s, st, storage_offset()), make_node<ExpandBackward>(*this));
}

Tensor Tensor::squeeze() const {
  detail::check_defined(*this, "squeeze");
  Dims s, st;
  for (size_t i = 0; i < sizes().size(); ++i)
    if (sizes()[i] != 1) s.push_back(sizes()[i]), st.push_back(strides()[i]);
  return attach(detail::make_view(*this, s, st, storage_offset()), reshape_node(*this));
}

Tensor Tensor::squeeze(int64_t dim) const {
  detail::check_defined(*this, "squeeze");
  if (this->dim() == 0) return squeeze();
  const int64_t d = detail::wrap_dim(dim, this->dim(), "squeeze");
  if (sizes()[d] != 1) return attach(detail::make_view(*this, sizes(), strides(), storage_offset()), reshape_node(*this));
  Dims s = sizes(), st = strides();
  s.erase(static_cast<size_t>(d));
  st.erase(static_cast<size_t>(d));
  return attach(detail::make_view(*this, s, st, storage_offset()), reshape_node(*this));
}

Tensor Tensor::unsqueeze(int64_t dim) const {
  detail::check_defined(*this, "unsqueeze");
  const int64_t d = detail::wrap_dim(dim, this->dim() + 1, "unsqueeze");
  Dims s = sizes(), st = strides();
  const int64_t stride = d < this->dim() ? s[d] * st[d] : 1;
  s.insert(static_cast<size_t>(d), 1);
  st.insert(static_cast<size_t>(d), stride);
  return attach(detail::make_view(*this, s, st, storage_offset()), reshape_node(*this));
}

Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step) const {
  detail::check_defined(*this, "slice");
  TD_CHECK(this->dim() > 0, "slice: cannot slice a 0-dim tensor");
  TD_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t d = detail::wrap_dim(dim, this->dim(), "slice");
  const int64_t n = sizes()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Dims s = sizes(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] = strides()[d] * step;
  auto node = make_node<SliceBackward>(*this);
  if (node) {
    node->input_shape = sizes();
    node->dim = d, node->start = start, node->end = end, node->step = step;
  }
  return attach(detail::make_view(*this, s, st, storage_offset() + start * strides()[d]), node);
}

Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length) const {
  detail::check_defined(*this, "narrow");
  const int64_t d = detail::wrap_dim(dim, this->dim(), "narrow");
  const int64_t n = sizes()[d];
  if (start < 0) start += n;
  TD_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start, " and length ", length,
           " are out of range for dim ", d, " of size ", n, " (shape ", sizes(), ")");
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t dim, int64_t index) const {
  detail::check_defined(*this, "select");
  const int64_t d = detail::wrap_dim(dim, this->dim(), "select");
  const int64_t n = sizes()[d];
  TD_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", d, " of size ", n,
           " (shape ", sizes(), ")");
  if (index < 0) index += n;
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  detail::check_defined(*this, "flatten");
  if (dim() == 0) return reshape({1});
  const int64_t s = detail::wrap_dim(start_dim, dim(), "flatten"), e = detail::wrap_dim(end_dim, dim(), "flatten");
  TD_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Dims shape;
  for (int64_t i = 0; i < s; ++i) shape.push_back(sizes()[i]);
  int64_t merged = 1;
  for (int64_t i = s; i <= e; ++i) merged *= sizes()[i];
  shape.push_back(merged);
  for (int64_t i = e + 1; i < dim(); ++i) shape.push_back(sizes()[i]);
  return reshape(shape);
}

Tensor Tensor::unflatten(int64_t dim, const Dims& new_sizes) const {
  detail::check_defined(*this, "unflatten");
  const int64_t d = detail::wrap_dim(dim, this->dim(), "unflatten");
  const Dims inferred = infer_size(new_sizes, sizes()[d], "unflatten", sizes());
  Dims shape;
  for (int64_t i = 0; i < d; ++i) shape.push_back(sizes()[i]);
  for (int64_t v : inferred) shape.push_back(v);
  for (int64_t i = d + 1; i < this->dim(); ++i) shape.push_back(sizes()[i]);
  return view(shape);
}

Tensor Tensor::as_strided(const Dims& new_sizes, const Dims& new_strides, int64_t offset) const {
  detail::check_defined(*this, "as_strided");
  TD_CHECK(new_sizes.size() == new_strides.size(), "as_strided: ", new_sizes.size(), " sizes but ",
           new_strides.size(), " strides");
  int64_t last = offset;
  for (size_t i = 0; i < new_sizes.size(); ++i) {
    TD_CHECK(new_sizes[i] >= 0 && new_strides[i] >= 0, "as_strided: negative size or stride in ", new_sizes, " / ",
             new_strides);
    if (new_sizes[i] > 0) last += (new_sizes[i] - 1) * new_strides[i];
  }
  const int64_t capacity = static_cast<int64_t>(impl()->storage->nbytes / element_size());
  TD_CHECK(offset >= 0 && (new_sizes.product() == 0 || last < capacity), "as_strided: sizes ", new_sizes,
           ", strides ", new_strides, " and offset ", offset, " reach past the storage of ", capacity, " elements");
  std::shared_ptr<Node> node;
  if (autograd::compute_requires_grad(*this)) {
    TD_CHECK(is_contiguous(), "as_strided: the gradient is only defined for a contiguous input (got strides ",
             strides(), ")");
    auto n = make_node<AsStridedBackward>(*this);
    n->input_shape = sizes(), n->sizes = new_sizes, n->strides = new_strides, n->offset = offset - storage_offset();
    node = n;
  }
  return attach(detail::make_view(*this, new_sizes, new_strides, offset), node);
}

}  // namespace tandem
