// Joining, splitting and indexing ops: cat, stack, split, split_with_sizes, chunk, unbind, index_select,
// index_add, gather, scatter_add, embedding and one_hot — each with its shape rules (those of libtorch), its
// dispatch to the backend and its backward rule.
//
// The backward rules pair the ops up as adjoints, always through differentiable ops so that double backward
// works: cat's gradient is narrow slices of the output gradient; index_select's is an index_add into zeros
// (and index_add's, with respect to its source, an index_select of the gradient); gather's is a scatter_add
// into zeros (and scatter_add's, with respect to its source, a gather). split, chunk and unbind are built from
// the differentiable views narrow and select, and stack from unsqueeze and cat, so they need no node of their
// own. Index tensors are int64 and never differentiable; the backends bounds-check their values.
#include <algorithm>
#include <string>
#include <vector>

#include "autograd/ops/common.h"

namespace tandem {
namespace {

using autograd::SavedVariable;
using autograd::variable_list;

/// Checks that `index` is a defined int64 tensor on x's device.
void check_index(const Tensor& x, const Tensor& index, const char* op) {
  detail::check_defined(index, op, "index");
  TD_CHECK(index.dtype() == kInt64, op, ": index must be int64, got ", index.dtype(), " (shape ",
           detail::shape_str(index), ")");
  detail::check_same_device(x, index, op);
}

/// A 0-d tensor viewed as 1-D (libtorch's indexing ops treat a scalar as a tensor of one element).
Tensor as_1d_if_scalar(const Tensor& t) { return t.dim() == 0 ? t.reshape({1}) : t; }

/// A new tensor holding x's values, with no autograd history (the output of an accumulating op).
Tensor fresh_copy(const Tensor& x) {
  Tensor out = detail::make_tensor(x.sizes(), x.dtype(), x.device());
  if (x.numel() > 0) detail::backend_of(x).copy(detail::strided(x), detail::strided(out));
  return out;
}

/// Zeros of the given shape with the dtype and device of `like`.
Tensor zeros_as(const Dims& sizes, const Tensor& like) {
  return zeros(sizes, TensorOptions(like.dtype()).device(like.device()));
}

/// libtorch's legacy rule: a 1-D tensor of size 0 may appear in cat next to tensors of any shape; it is skipped.
bool is_skipped_in_cat(const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; }

// ---- backward nodes -------------------------------------------------------------------------------------------

struct CatBackward : autograd::Node {
  int64_t dim = 0;
  std::vector<int64_t> offsets;  ///< where each input starts along dim in the output
  std::vector<int64_t> lengths;  ///< each input's size along dim; -1 for an input skipped by the legacy rule
  variable_list apply(variable_list&& grads) override {
    variable_list out(offsets.size());
    const Tensor& grad = grads[0];
    if (!grad.defined()) return out;
    for (size_t i = 0; i < offsets.size(); ++i) {
      if (!needs_input_grad(i)) continue;
      out[i] = lengths[i] < 0 ? zeros_as(Dims{0}, grad) : grad.narrow(dim, offsets[i], lengths[i]);
    }
    return out;
  }
  std::string name() const override { return "CatBackward"; }
};

struct IndexSelectBackward : autograd::Node {
  int64_t dim = 0;
  Dims input_sizes;
  SavedVariable index;
  variable_list apply(variable_list&& grads) override {
    const Tensor& grad = grads[0];
    if (!grad.defined() || !needs_input_grad(0)) return {Tensor()};
    return {zeros_as(input_sizes, grad).index_add(dim, index.unpack(this), grad)};
  }
  std::string name() const override { return "IndexSelectBackward"; }
  void release_variables() override { index.reset(); }
};

struct IndexAddBackward : autograd::Node {
  int64_t dim = 0;
  SavedVariable index;
  variable_list apply(variable_list&& grads) override {
    const Tensor& grad = grads[0];
    variable_list out(2);
    if (!grad.defined()) return out;
    if (needs_input_grad(0)) out[0] = grad;
    if (needs_input_grad(1)) out[1] = grad.index_select(dim, index.unpack(this));
    return out;
  }
  std::string name() const override { return "IndexAddBackward"; }
  void release_variables() override { index.reset(); }
};

struct GatherBackward : autograd::Node {
  int64_t dim = 0;
  Dims input_sizes;
  SavedVariable index;
  variable_list apply(variable_list&& grads) override {
    const Tensor& grad = grads[0];
    if (!grad.defined() || !needs_input_grad(0)) return {Tensor()};
    return {zeros_as(input_sizes, grad).scatter_add(dim, index.unpack(this), grad)};
  }
  std::string name() const override { return "GatherBackward"; }
  void release_variables() override { index.reset(); }
};

struct ScatterAddBackward : autograd::Node {
  int64_t dim = 0;
  SavedVariable index;
  variable_list apply(variable_list&& grads) override {
    const Tensor& grad = grads[0];
    variable_list out(2);
    if (!grad.defined()) return out;
    if (needs_input_grad(0)) out[0] = grad;
    if (needs_input_grad(1)) out[1] = grad.gather(dim, index.unpack(this));
    return out;
  }
  std::string name() const override { return "ScatterAddBackward"; }
  void release_variables() override { index.reset(); }
};

struct EmbeddingBackward : autograd::Node {
  Dims weight_sizes;
  int64_t padding_idx = -1;
  SavedVariable flat_indices;  ///< the indices as 1-D [N]
  variable_list apply(variable_list&& grads) override {
    const Tensor& grad = grads[0];
    if (!grad.defined() || !needs_input_grad(0)) return {Tensor()};
    const Tensor indices = flat_indices.unpack(this);
    Tensor rows = grad.reshape({indices.numel(), weight_sizes[1]});
    if (padding_idx >= 0) rows = rows.mul(indices.ne(static_cast<double>(padding_idx)).unsqueeze(1).to(rows.dtype()));
    return {zeros_as(weight_sizes, grad).index_add(0, indices, rows)};
  }
  std::string name() const override { return "EmbeddingBackward"; }
  void release_variables() override { flat_indices.reset(); }
};

}  // namespace

// ---- joining ----------------------------------------------------------------------------------------------------

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  const char* op = "cat";
  TD_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    detail::check_defined(tensors[i], op, "a tensor of the list");
    TD_CHECK(tensors[i].dim() > 0, "cat: zero-dimensional tensor (at position ", i, ") cannot be concatenated");
  }
  const auto first_kept =
      std::find_if(tensors.begin(), tensors.end(), [](const Tensor& t) { return !is_skipped_in_cat(t); });
  const bool all_skipped = first_kept == tensors.end();
  const size_t ref_pos = all_skipped ? 0 : static_cast<size_t>(first_kept - tensors.begin());
  const Tensor& ref = tensors[ref_pos];
  const int64_t d = detail::wrap_dim(dim, ref.dim(), op);

  ScalarType dtype = ref.dtype();
  Dims out_sizes = ref.sizes();
  out_sizes[static_cast<size_t>(d)] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    detail::check_same_device(ref, t, op);
    dtype = promote_types(dtype, t.dtype());
    if (!all_skipped && is_skipped_in_cat(t)) continue;
    TD_CHECK(t.dim() == ref.dim(), "cat: tensors must have the same rank, but tensor ", ref_pos, " has shape ",
             ref.sizes(), " and tensor ", i, " has shape ", t.sizes());
    for (int64_t k = 0; k < t.dim(); ++k)
      TD_CHECK(k == d || t.size(k) == ref.size(k), "cat: sizes of tensors must match except in dim ", d, ": tensor ",
               ref_pos, " has shape ", ref.sizes(), " but tensor ", i, " has shape ", t.sizes(), " (dim ", k, ")");
    out_sizes[static_cast<size_t>(d)] += t.size(d);
  }

  Tensor out = detail::make_tensor(out_sizes, dtype, ref.device());
  const Strided whole = detail::strided(out);
  const int64_t bytes_per_step = whole.strides[static_cast<size_t>(d)] * static_cast<int64_t>(element_size(dtype));
  std::vector<int64_t> offsets(tensors.size(), 0), lengths(tensors.size(), -1);
  int64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (!all_skipped && is_skipped_in_cat(t)) continue;
    offsets[i] = offset;
    lengths[i] = t.size(d);
    if (t.numel() > 0) {
      Strided part = whole;
      part.sizes = t.sizes();
      part.data = static_cast<char*>(whole.data) + offset * bytes_per_step;
      detail::backend_of(out).copy(detail::strided(t), part);  // converts to the promoted dtype
    }
    offset += t.size(d);
  }
  if (auto node = autograd::make_node_list<CatBackward>(tensors)) {
    node->dim = d;
    node->offsets = std::move(offsets);
    node->lengths = std::move(lengths);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  TD_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (const Tensor& t : tensors) detail::check_defined(t, "stack", "a tensor of the list");
  const Dims& shape = tensors[0].sizes();
  for (size_t i = 1; i < tensors.size(); ++i)
    TD_CHECK(tensors[i].sizes() == shape, "stack: all tensors must have the same shape, but tensor 0 has shape ", shape,
             " and tensor ", i, " has shape ", tensors[i].sizes());
  const int64_t d = detail::wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
  return cat(parts, d);
}

// ---- splitting --------------------------------------------------------------------------------------------------

namespace {
int64_t split_dim(const Tensor& x, int64_t dim, const char* op) {
  detail::check_defined(x, op);
  TD_CHECK(x.dim() > 0, op, ": expected a tensor of rank >= 1, got a 0-dimensional tensor");
  return detail::wrap_dim(dim, x.dim(), op);
}
}  // namespace

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  const int64_t d = split_dim(x, dim, "split");
  const int64_t size = x.size(d);
  TD_CHECK(split_size >= 0, "split: split_size must be non-negative, got ", split_size);
  TD_CHECK(split_size > 0 || size == 0, "split: split_size can be 0 only when the dim has size 0, but dim ", d,
           " of shape ", x.sizes(), " has size ", size);
  const int64_t pieces = split_size == 0 ? 1 : std::max<int64_t>((size + split_size - 1) / split_size, 1);
  std::vector<Tensor> out;
  out.reserve(static_cast<size_t>(pieces));
  for (int64_t i = 0; i < pieces; ++i) {
    const int64_t start = i * split_size;
    out.push_back(x.narrow(d, start, std::min(split_size, size - start)));
  }
  return out;
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const Dims& split_sizes, int64_t dim) {
  const int64_t d = split_dim(x, dim, "split_with_sizes");
  int64_t total = 0;
  for (int64_t s : split_sizes) {
    TD_CHECK(s >= 0, "split_with_sizes: split sizes must be non-negative, got ", split_sizes);
    total += s;
  }
  TD_CHECK(total == x.size(d), "split_with_sizes: split sizes ", split_sizes, " sum to ", total, " but dim ", d,
           " of shape ", x.sizes(), " has size ", x.size(d));
  std::vector<Tensor> out;
  out.reserve(split_sizes.size());
  int64_t start = 0;
  for (int64_t s : split_sizes) {
    out.push_back(x.narrow(d, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  const int64_t d = split_dim(x, dim, "chunk");
  TD_CHECK(chunks > 0, "chunk: the number of chunks must be positive, got ", chunks);
  const int64_t size = x.size(d);
  const int64_t split_size = (size + chunks - 1) / chunks;
  // an empty dim still gives `chunks` (empty) pieces, as libtorch does
  if (size == 0) return split_with_sizes(x, Dims(static_cast<size_t>(chunks), 0), d);
  return split(x, split_size, d);
}

// ---- indexing ---------------------------------------------------------------------------------------------------

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "index_select";
  detail::check_defined(x, op);
  check_index(x, index, op);
  TD_CHECK(index.dim() <= 1, "index_select: index must be 0-D or 1-D, got shape ", index.sizes());
  if (x.dim() == 0) {
    detail::wrap_dim(dim, 0, op);
    TD_CHECK(index.numel() == 1, "index_select: the index into a 0-dimensional tensor must have one element, got ",
             index.numel());
    return index_select(x.reshape({1}), 0, index.reshape({1})).reshape({});
  }
  const int64_t d = detail::wrap_dim(dim, x.dim(), op);
  const Tensor idx = as_1d_if_scalar(index);
  Dims out_sizes = x.sizes();
  out_sizes[static_cast<size_t>(d)] = idx.numel();
  Tensor out = detail::make_tensor(out_sizes, x.dtype(), x.device());
  detail::backend_of(x).index_select(detail::strided(x), d, detail::strided(idx), detail::strided(out));
  if (auto node = autograd::make_node<IndexSelectBackward>(x)) {
    node->dim = d;
    node->input_sizes = x.sizes();
    node->index = SavedVariable(idx);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source) {
  const char* op = "index_add";
  detail::check_defined(x, op);
  detail::check_defined(source, op, "source");
  check_index(x, index, op);
  detail::check_same_device(x, source, op);
  TD_CHECK(index.dim() <= 1, "index_add: index must be 0-D or 1-D, got shape ", index.sizes());
  TD_CHECK(source.dtype() == x.dtype(), "index_add: source has dtype ", source.dtype(), " but self has dtype ",
           x.dtype());
  if (x.dim() == 0) {
    detail::wrap_dim(dim, 0, op);
    TD_CHECK(source.numel() == 1 && index.numel() == 1,
             "index_add: a 0-dimensional self takes one index and one source element, got ", index.numel(), " and ",
             source.numel());
    return index_add(x.reshape({1}), 0, index.reshape({1}), source.reshape({1})).reshape({});
  }
  const int64_t d = detail::wrap_dim(dim, x.dim(), op);
  const Tensor idx = as_1d_if_scalar(index);
  const Tensor src = source.dim() == 0 && x.dim() == 1 ? source.reshape({1}) : source;
  TD_CHECK(src.dim() == x.dim(), "index_add: source has rank ", src.dim(), " (shape ", src.sizes(),
           ") but self has rank ", x.dim(), " (shape ", x.sizes(), ")");
  for (int64_t k = 0; k < x.dim(); ++k)
    TD_CHECK(k == d || src.size(k) == x.size(k), "index_add: source of shape ", src.sizes(), " and self of shape ",
             x.sizes(), " must match outside dim ", d, " (they differ in dim ", k, ")");
  TD_CHECK(src.size(d) == idx.numel(), "index_add: source has size ", src.size(d), " in dim ", d, " but index has ",
           idx.numel(), " elements");
  Tensor out = fresh_copy(x);
  detail::backend_of(x).index_add(detail::strided(out), d, detail::strided(idx), detail::strided(src));
  if (auto node = autograd::make_node<IndexAddBackward>(x, src)) {
    node->dim = d;
    node->index = SavedVariable(idx);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "gather";
  detail::check_defined(x, op);
  check_index(x, index, op);
  TD_CHECK(std::max<int64_t>(index.dim(), 1) == std::max<int64_t>(x.dim(), 1), "gather: index of shape ", index.sizes(),
           " has rank ", index.dim(), " but input of shape ", x.sizes(), " has rank ", x.dim());
  const int64_t d = detail::wrap_dim(dim, x.dim(), op);
  if (x.dim() == 0 || index.dim() == 0) {
    Tensor out = gather(as_1d_if_scalar(x), d, as_1d_if_scalar(index));
    return index.dim() == 0 ? out.reshape({}) : out;
  }
  for (int64_t k = 0; k < x.dim(); ++k)
    TD_CHECK(k == d || index.size(k) <= x.size(k), "gather: index of shape ", index.sizes(),
             " is larger than input of shape ", x.sizes(), " in dim ", k, " (only dim ", d, " may be larger)");
  Tensor out = detail::make_tensor(index.sizes(), x.dtype(), x.device());
  detail::backend_of(x).gather(detail::strided(x), d, detail::strided(index), detail::strided(out));
  if (auto node = autograd::make_node<GatherBackward>(x)) {
    node->dim = d;
    node->input_sizes = x.sizes();
    node->index = SavedVariable(index);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "scatter_add";
  detail::check_defined(x, op);
  detail::check_defined(src, op, "src");
  check_index(x, index, op);
  detail::check_same_device(x, src, op);
  TD_CHECK(src.dtype() == x.dtype(), "scatter_add: src has dtype ", src.dtype(), " but self has dtype ", x.dtype());
  const int64_t rank = std::max<int64_t>(x.dim(), 1);
  TD_CHECK(std::max<int64_t>(index.dim(), 1) == rank && std::max<int64_t>(src.dim(), 1) == rank,
           "scatter_add: self, index and src must have the same rank, got shapes ", x.sizes(), ", ", index.sizes(),
           " and ", src.sizes());
  const int64_t d = detail::wrap_dim(dim, x.dim(), op);
  if (x.dim() == 0 || index.dim() == 0 || src.dim() == 0) {
    Tensor out = scatter_add(as_1d_if_scalar(x), d, as_1d_if_scalar(index), as_1d_if_scalar(src));
    return x.dim() == 0 ? out.reshape({}) : out;
  }
  for (int64_t k = 0; k < x.dim(); ++k) {
    TD_CHECK(index.size(k) <= src.size(k), "scatter_add: index of shape ", index.sizes(),
             " is larger than src of shape ", src.sizes(), " in dim ", k);
    TD_CHECK(k == d || index.size(k) <= x.size(k), "scatter_add: index of shape ", index.sizes(),
             " is larger than self of shape ", x.sizes(), " in dim ", k, " (only dim ", d, " may be larger)");
  }
  // Only the part of src covered by the index takes part; narrowing it keeps the gradient shapes exact.
  Tensor used = src;
  for (int64_t k = 0; k < x.dim(); ++k)
    if (used.size(k) != index.size(k)) used = used.narrow(k, 0, index.size(k));
  Tensor out = fresh_copy(x);
  detail::backend_of(x).scatter_add(detail::strided(out), d, detail::strided(index), detail::strided(used));
  if (auto node = autograd::make_node<ScatterAddBackward>(x, used)) {
    node->dim = d;
    node->index = SavedVariable(index);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  const char* op = "embedding";
  detail::check_defined(weight, op, "weight");
  detail::check_defined(indices, op, "indices");
  TD_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [num_embeddings, embedding_dim], got shape ",
           weight.sizes());
  TD_CHECK(indices.dtype() == kInt64, "embedding: indices must be int64, got ", indices.dtype());
  detail::check_same_device(weight, indices, op);
  const int64_t num_embeddings = weight.size(0), embedding_dim = weight.size(1);
  TD_CHECK(padding_idx >= -1 && padding_idx < num_embeddings, "embedding: padding_idx must be -1 (none) or in [0, ",
           num_embeddings, "), got ", padding_idx);
  const Tensor flat = indices.reshape({-1});
  Dims out_sizes = indices.sizes();
  out_sizes.push_back(embedding_dim);
  Tensor out = detail::make_tensor(out_sizes, weight.dtype(), weight.device());
  const Strided rows = detail::strided(out, Dims{flat.numel(), embedding_dim}, Dims{embedding_dim, 1});
  try {
    detail::backend_of(weight).index_select(detail::strided(weight), 0, detail::strided(flat), rows);
  } catch (const Error& e) {
    throw Error(std::string("embedding: ") + e.what());
  }
  if (auto node = autograd::make_node<EmbeddingBackward>(weight)) {
    node->weight_sizes = weight.sizes();
    node->padding_idx = padding_idx;
    node->flat_indices = SavedVariable(flat);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor one_hot(const Tensor& labels, int64_t num_classes) {
  detail::check_defined(labels, "one_hot", "labels");
  TD_CHECK(labels.dtype() == kInt64, "one_hot: labels must be int64, got ", labels.dtype());
  TD_CHECK(num_classes >= -1, "one_hot: num_classes must be -1 (inferred) or non-negative, got ", num_classes);
  const std::vector<int64_t> values = labels.to_vector<int64_t>();
  for (int64_t v : values) TD_CHECK(v >= 0, "one_hot: class values must be non-negative, got ", v);
  if (num_classes == -1) {
    TD_CHECK(!values.empty(), "one_hot: cannot infer the number of classes from an empty tensor");
    num_classes = *std::max_element(values.begin(), values.end()) + 1;
  }
  for (int64_t v : values)
    TD_CHECK(v < num_classes, "one_hot: class value ", v, " is out of range for ", num_classes,
             " classes (valid values 0 to ", num_classes - 1, ")");
  Dims out_sizes = labels.sizes();
  out_sizes.push_back(num_classes);
  Tensor host = detail::make_tensor(out_sizes, kInt64, Device(kCPU));
  int64_t* p = host.data_ptr<int64_t>();
  std::fill(p, p + host.numel(), int64_t{0});
  for (size_t i = 0; i < values.size(); ++i) p[static_cast<int64_t>(i) * num_classes + values[i]] = 1;
  return labels.device().is_cpu() ? host : host.to(labels.device());
}

// ---- Tensor methods -----------------------------------------------------------------------------------------------

Tensor Tensor::index_select(int64_t dim, const Tensor& index) const { return tandem::index_select(*this, dim, index); }
Tensor Tensor::gather(int64_t dim, const Tensor& index) const { return tandem::gather(*this, dim, index); }
Tensor Tensor::scatter_add(int64_t dim, const Tensor& index, const Tensor& src) const {
  return tandem::scatter_add(*this, dim, index, src);
}
Tensor Tensor::index_add(int64_t dim, const Tensor& index, const Tensor& source) const {
  return tandem::index_add(*this, dim, index, source);
}
std::vector<Tensor> Tensor::split(int64_t split_size, int64_t dim) const {
  return tandem::split(*this, split_size, dim);
}
std::vector<Tensor> Tensor::split_with_sizes(const Dims& split_sizes, int64_t dim) const {
  return tandem::split_with_sizes(*this, split_sizes, dim);
}
std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t dim) const { return tandem::chunk(*this, chunks, dim); }
std::vector<Tensor> Tensor::unbind(int64_t dim) const {
  const int64_t d = split_dim(*this, dim, "unbind");
  std::vector<Tensor> out;
  out.reserve(static_cast<size_t>(size(d)));
  for (int64_t i = 0; i < size(d); ++i) out.push_back(select(d, i));
  return out;
}

}  // namespace tandem
