// Linear algebra and softmax: matmul (numpy semantics), mm, bmm, dot, softmax, log_softmax.
//
// Every product runs through the backend's one batched kernel, matmul(a [B,M,K], b [B,K,N], dst [B,M,N]),
// which takes any strides: transposed operands and broadcast batch dims (stride 0) are passed as views and
// never copied. matmul of N-D operands broadcasts the batch dims; when they cannot be described by a single
// batch stride, the outer batch dims are looped over here and the inner ones go to the kernel. When the right
// operand has no batch dims and the left one's batch dims are contiguous with its rows ([B, T, K] @ [K, N]),
// the batch is folded into the rows: one [B*T, K] @ [K, N] product instead of B small ones.
//
// Backward: grad_a = grad @ b^T and grad_b = a^T @ grad with transposed views, through the same differentiable
// ops (so double backward works). Gradients come out in the broadcast batch shape; the engine's sum_to reduces
// them to each operand's shape. softmax: y * (g - sum(g * y, dim)); log_softmax: g - exp(y) * sum(g, dim).
#include <vector>

#include "autograd/ops/common.h"

namespace tandem {

using autograd::make_node;
using autograd::Node;
using autograd::SavedVariable;
using autograd::set_history;
using autograd::variable_list;

namespace {

void check_product_operands(const Tensor& a, const Tensor& b, const char* op) {
  detail::check_defined(a, op, "first operand");
  detail::check_defined(b, op, "second operand");
  detail::check_same_device(a, b, op);
  TD_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), op, ": expected floating-point operands, got ", a.dtype(),
           " and ", b.dtype());
  TD_CHECK(a.dtype() == b.dtype(), op, ": operands have different dtypes ", a.dtype(), " and ", b.dtype());
}

Strided operand(const Tensor& t, const Dims& sizes, const Dims& strides, int64_t offset = 0) {
  Strided s = detail::strided(t, sizes, strides);
  s.data = static_cast<char*>(s.data) + offset * static_cast<int64_t>(element_size(t.dtype()));
  return s;
}

/// dst [M, N] (contiguous, any shape holding M*N elements) = a [M, K] @ b [K, N] for 2-D operands.
void matmul_2d(const Tensor& a, const Tensor& b, const Tensor& dst) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  detail::backend_of(a).matmul(operand(a, {1, M, K}, {0, a.stride(0), a.stride(1)}),
                               operand(b, {1, K, N}, {0, b.stride(0), b.stride(1)}),
                               detail::strided(dst, {1, M, N}, {M * N, N, 1}));
}

// ---- mm / bmm / dot -------------------------------------------------------------------------------------------
struct MmBackward final : Node {
  SavedVariable a, b;
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = mm(g[0], b.unpack(this).t());
    if (needs_input_grad(1)) r[1] = mm(a.unpack(this).t(), g[0]);
    return r;
  }
  std::string name() const override { return "MmBackward"; }
  void release_variables() override {
    a.reset();
    b.reset();
  }
};

struct BmmBackward final : Node {
  SavedVariable a, b;
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = bmm(g[0], b.unpack(this).mT());
    if (needs_input_grad(1)) r[1] = bmm(a.unpack(this).mT(), g[0]);
    return r;
  }
  std::string name() const override { return "BmmBackward"; }
  void release_variables() override {
    a.reset();
    b.reset();
  }
};

struct DotBackward final : Node {
  SavedVariable a, b;
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = g[0] * b.unpack(this);
    if (needs_input_grad(1)) r[1] = g[0] * a.unpack(this);
    return r;
  }
  std::string name() const override { return "DotBackward"; }
  void release_variables() override {
    a.reset();
    b.reset();
  }
};

template <typename NodeT>
void record_product(Tensor& out, const Tensor& a, const Tensor& b) {
  if (auto node = make_node<NodeT>(a, b)) {
    if (node->needs_input_grad(1)) node->a = SavedVariable(a);
    if (node->needs_input_grad(0)) node->b = SavedVariable(b);
    set_history(out, node);
  }
}

// ---- matmul (N-D) ---------------------------------------------------------------------------------------------
/// Batched product of a [..., M, K] and b [..., K, N] (both at least 2-D) into a new contiguous tensor of
/// shape `out_shape`, which holds batch + [M, N] elements in row-major order.
void batched_product(const Tensor& a, const Tensor& b, const Dims& batch, const Dims& out_shape, Tensor& out) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  const size_t nb = batch.size();
  // Batch strides of each operand after broadcasting to `batch` (0 on broadcast dims), and of the output.
  auto batch_strides = [&](const Tensor& t) {
    Dims s(nb, 0);
    const size_t tb = static_cast<size_t>(t.dim()) - 2, lead = nb - tb;
    for (size_t i = 0; i < tb; ++i)
      s[lead + i] = t.size(static_cast<int64_t>(i)) == 1 ? 0 : t.stride(static_cast<int64_t>(i));
    return s;
  };
  Dims sa = batch_strides(a), sb = batch_strides(b), so(nb, 0);
  {
    int64_t acc = M * N;
    for (size_t i = nb; i-- > 0;) {
      so[i] = acc;
      acc *= batch[i];
    }
  }
  (void)out_shape;
  // Merge batch dims that are jointly contiguous for all three operands; the innermost group goes to the
  // kernel as its batch dim, the others are looped over here.
  Dims size, stride_a, stride_b, stride_o;
  for (size_t i = 0; i < nb; ++i) {
    if (batch[i] == 1) continue;
    if (!size.empty() && stride_a.back() == sa[i] * batch[i] && stride_b.back() == sb[i] * batch[i] &&
        stride_o.back() == so[i] * batch[i]) {
      size.back() *= batch[i];
      stride_a.back() = sa[i];
      stride_b.back() = sb[i];
      stride_o.back() = so[i];
      continue;
    }
    size.push_back(batch[i]);
    stride_a.push_back(sa[i]);
    stride_b.push_back(sb[i]);
    stride_o.push_back(so[i]);
  }
  if (size.empty()) {
    size.push_back(1);
    stride_a.push_back(0);
    stride_b.push_back(0);
    stride_o.push_back(M * N);
  }
  const size_t outer_dims = size.size() - 1;
  const int64_t inner = size.back();
  int64_t outer = 1;
  for (size_t i = 0; i < outer_dims; ++i) outer *= size[i];
  Backend& backend = detail::backend_of(a);
  Dims idx(outer_dims, 0);
  int64_t off_a = 0, off_b = 0, off_o = 0;
  for (int64_t o = 0; o < outer; ++o) {
    backend.matmul(operand(a, {inner, M, K}, {stride_a.back(), a.stride(-2), a.stride(-1)}, off_a),
                   operand(b, {inner, K, N}, {stride_b.back(), b.stride(-2), b.stride(-1)}, off_b),
                   operand(out, {inner, M, N}, {stride_o.back(), N, 1}, off_o));
    for (size_t d = outer_dims; d-- > 0;) {  // next outer index
      off_a += stride_a[d];
      off_b += stride_b[d];
      off_o += stride_o[d];
      if (++idx[d] < size[d]) break;
      off_a -= stride_a[d] * size[d];
      off_b -= stride_b[d] * size[d];
      off_o -= stride_o[d] * size[d];
      idx[d] = 0;
    }
  }
}

/// True when a's batch dims and rows can be read as one [rows, K] matrix (row stride a.stride(-2)).
bool rows_foldable(const Tensor& a) {
  int64_t expected = a.stride(-2) * a.size(-2);
  for (int64_t d = a.dim() - 3; d >= 0; --d) {
    if (a.size(d) != 1 && a.stride(d) != expected) return false;
    expected *= a.size(d);
  }
  return true;
}

struct MatmulBackward final : Node {
  SavedVariable a, b;
  int64_t a_dim = 0, b_dim = 0;
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    // Work with at-least-2-D operands: a 1-D left operand is a row [1, K], a 1-D right one a column [K, 1].
    Tensor grad = g[0];
    if (a_dim == 1) grad = grad.unsqueeze(-2);
    if (b_dim == 1) grad = grad.unsqueeze(-1);
    if (needs_input_grad(0)) {
      Tensor bv = b.unpack(this);
      Tensor b2 = b_dim == 1 ? bv.unsqueeze(-1) : bv;
      Tensor ga = matmul(grad, b2.mT());  // batch + [M, K]
      r[0] = a_dim == 1 ? ga.squeeze(-2) : ga;
    }
    if (needs_input_grad(1)) {
      Tensor av = a.unpack(this);
      Tensor a2 = a_dim == 1 ? av.unsqueeze(-2) : av;
      Tensor gb;
      if (b_dim <= 2 && a2.dim() > 2) {
        // b has no batch dims: sum over the batch inside one product, a^T [K, B*M] @ grad [B*M, N].
        const int64_t K = a2.size(-1), N = grad.size(-1);
        gb = matmul(a2.reshape({-1, K}).t(), grad.reshape({-1, N}));
      } else {
        gb = matmul(a2.mT(), grad);  // batch + [K, N]
      }
      r[1] = b_dim == 1 ? gb.squeeze(-1) : gb;
    }
    return r;
  }
  std::string name() const override { return "MatmulBackward"; }
  void release_variables() override {
    a.reset();
    b.reset();
  }
};

// ---- softmax --------------------------------------------------------------------------------------------------
struct SoftmaxBackward final : Node {
  SavedVariable result;
  int64_t dim = 0;
  bool log = false;
  variable_list apply(variable_list&& g) override {
    Tensor y = result.unpack(this);
    if (log) return {g[0] - exp(y) * g[0].sum(dim, /*keepdim=*/true)};
    return {y * (g[0] - (g[0] * y).sum(dim, /*keepdim=*/true))};
  }
  std::string name() const override { return log ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  void release_variables() override { result.reset(); }
};

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  detail::check_defined(x, op);
  TD_CHECK(is_floating(x.dtype()), op, ": expected a floating-point input, got ", x.dtype(),
           " (convert it first, e.g. with .to(kFloat32))");
  const int64_t d = detail::wrap_dim(dim, x.dim(), op);
  Tensor out = detail::make_tensor(x.sizes(), x.dtype(), x.device());
  detail::backend_of(x).softmax(detail::strided(x), detail::strided(out), x.dim() == 0 ? 0 : d, log);
  if (auto node = make_node<SoftmaxBackward>(x)) {
    node->dim = d;
    node->log = log;
    set_history(out, node);
    node->result = SavedVariable(out, /*is_output=*/true);
  }
  return out;
}

}  // namespace

// =============================================================================================================
// Free functions
// =============================================================================================================
Tensor mm(const Tensor& a, const Tensor& b) {
  check_product_operands(a, b, "mm");
  TD_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D tensors, got shapes ", a.sizes(), " and ", b.sizes());
  TD_CHECK(a.size(1) == b.size(0), "mm: shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied (", a.size(1),
           " != ", b.size(0), ")");
  Tensor out = detail::make_tensor({a.size(0), b.size(1)}, a.dtype(), a.device());
  matmul_2d(a, b, out);
  record_product<MmBackward>(out, a, b);
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_product_operands(a, b, "bmm");
  TD_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D tensors, got shapes ", a.sizes(), " and ", b.sizes());
  TD_CHECK(a.size(0) == b.size(0), "bmm: batch sizes differ in shapes ", a.sizes(), " and ", b.sizes(), " (", a.size(0),
           " != ", b.size(0), ")");
  TD_CHECK(a.size(2) == b.size(1), "bmm: shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied (", a.size(2),
           " != ", b.size(1), ")");
  Tensor out = detail::make_tensor({a.size(0), a.size(1), b.size(2)}, a.dtype(), a.device());
  detail::backend_of(a).matmul(detail::strided(a), detail::strided(b), detail::strided(out));
  record_product<BmmBackward>(out, a, b);
  return out;
}

Tensor dot(const Tensor& a, const Tensor& b) {
  check_product_operands(a, b, "dot");
  TD_CHECK(a.dim() == 1 && b.dim() == 1, "dot: expected 1-D tensors, got shapes ", a.sizes(), " and ", b.sizes());
  TD_CHECK(a.size(0) == b.size(0), "dot: tensors have different lengths (", a.size(0), " != ", b.size(0), ")");
  const int64_t K = a.size(0);
  Tensor out = detail::make_tensor({}, a.dtype(), a.device());
  detail::backend_of(a).matmul(operand(a, {1, 1, K}, {0, 0, a.stride(0)}), operand(b, {1, K, 1}, {0, b.stride(0), 0}),
                               detail::strided(out, {1, 1, 1}, {1, 1, 1}));
  record_product<DotBackward>(out, a, b);
  return out;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_product_operands(a, b, "matmul");
  TD_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dimension, got shapes ", a.sizes(),
           " and ", b.sizes());
  const int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  TD_CHECK(ka == kb, "matmul: shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied (", ka, " != ", kb, ")");
  if (a.dim() == 1 && b.dim() == 1) return dot(a, b);
  if (a.dim() == 2 && b.dim() == 2) return mm(a, b);

  // View both as at least 2-D (no copy, no graph: the node below is attached to the original operands).
  Tensor a2 = a.dim() == 1 ? detail::make_view(a, {1, ka}, {0, a.stride(0)}, a.storage_offset()) : a;
  Tensor b2 = b.dim() == 1 ? detail::make_view(b, {kb, 1}, {b.stride(0), 0}, b.storage_offset()) : b;
  const int64_t M = a2.size(-2), N = b2.size(-1);
  Dims batch_a(a2.sizes().begin(), a2.sizes().size() - 2), batch_b(b2.sizes().begin(), b2.sizes().size() - 2);
  const Dims batch = broadcast_shapes(batch_a, batch_b, "matmul");
  Dims out_shape = batch;
  if (a.dim() > 1) out_shape.push_back(M);
  if (b.dim() > 1) out_shape.push_back(N);
  Tensor out = detail::make_tensor(out_shape, a.dtype(), a.device());
  if (b2.dim() == 2 && rows_foldable(a2)) {
    // [..., M, K] @ [K, N]: the batch folds into the rows of one product.
    const int64_t rows = batch.product() * M;
    detail::backend_of(a).matmul(operand(a2, {1, rows, ka}, {0, a2.stride(-2), a2.stride(-1)}),
                                 operand(b2, {1, ka, N}, {0, b2.stride(0), b2.stride(1)}),
                                 detail::strided(out, {1, rows, N}, {rows * N, N, 1}));
  } else {
    batched_product(a2, b2, batch, out_shape, out);
  }
  if (auto node = make_node<MatmulBackward>(a, b)) {
    node->a_dim = a.dim();
    node->b_dim = b.dim();
    if (node->needs_input_grad(1)) node->a = SavedVariable(a);
    if (node->needs_input_grad(0)) node->b = SavedVariable(b);
    set_history(out, node);
  }
  return out;
}

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

// =============================================================================================================
// Tensor methods
// =============================================================================================================
Tensor Tensor::matmul(const Tensor& other) const { return tandem::matmul(*this, other); }
Tensor Tensor::mm(const Tensor& other) const { return tandem::mm(*this, other); }
Tensor Tensor::bmm(const Tensor& other) const { return tandem::bmm(*this, other); }
Tensor Tensor::dot(const Tensor& other) const { return tandem::dot(*this, other); }
Tensor Tensor::softmax(int64_t dim) const { return tandem::softmax(*this, dim); }
Tensor Tensor::log_softmax(int64_t dim) const { return tandem::log_softmax(*this, dim); }

}  // namespace tandem
