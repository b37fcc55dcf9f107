// Tensor: a handle to a strided view (sizes, strides, offset, dtype) of shared, device-owned storage, plus the
// autograd fields (requires_grad, grad, grad_fn) that the engine in autograd/ reads and writes.
//
// Where things are defined: metadata, data access and conversions in tensor/tensor.cpp; creation in
// tensor/creation.cpp; printing in tensor/print.cpp. Every differentiable op declared here (methods and the free
// functions in tensor/functions.h) is defined in autograd/ops/<family>.cpp, next to its shape rules, its
// backend dispatch and its backward rule — one op, one place.
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "backends/types.h"

namespace tandem {

class Tensor;
namespace autograd {
struct Node;
}  // namespace autograd

/// Storage: one allocation on one device, shared by every view of it. The version counter is bumped by every
/// in-place write, so that autograd can detect that a value it saved for backward was overwritten.
struct StorageImpl {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  uint32_t version = 0;
  std::function<void(void*)> deleter;  ///< empty: the device's allocator owns `data`
  StorageImpl(size_t nbytes, Device device);  ///< allocates through the device's backend
  StorageImpl(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);  ///< wraps memory
  ~StorageImpl();
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;
};

using TensorHook = std::function<Tensor(const Tensor&)>;

struct TensorImpl {
  std::shared_ptr<StorageImpl> storage;
  Dims sizes;
  Dims strides;
  int64_t offset = 0;  ///< in elements
  ScalarType dtype = ScalarType::Float32;
  // ---- autograd ----
  bool requires_grad = false;   ///< meaningful for leaves; non-leaves require grad iff grad_fn is set
  bool retains_grad = false;    ///< non-leaf asked to keep its .grad
  bool is_view = false;         ///< shares storage with a tensor it was derived from by a view op
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  uint32_t output_nr = 0;
  std::weak_ptr<autograd::Node> grad_accumulator;
  std::vector<TensorHook> hooks;  ///< hooks of a leaf (a non-leaf's hooks live on its grad_fn)
};

/// What a creation function makes: dtype, device and whether the result is a leaf requiring grad.
class TensorOptions {
 public:
  TensorOptions() = default;
  TensorOptions(ScalarType t) : dtype_(t) {}  // NOLINT: implicit, as in libtorch
  TensorOptions(Device d) : device_(d) {}     // NOLINT
  TensorOptions(DeviceType d) : device_(d) {}  // NOLINT
  TensorOptions dtype(ScalarType t) const { auto o = *this; o.dtype_ = t; return o; }
  TensorOptions device(Device d) const { auto o = *this; o.device_ = d; return o; }
  TensorOptions requires_grad(bool r) const { auto o = *this; o.requires_grad_ = r; return o; }
  ScalarType dtype() const { return dtype_.value_or(ScalarType::Float32); }
  std::optional<ScalarType> dtype_opt() const { return dtype_; }
  Device device() const { return device_; }
  bool requires_grad() const { return requires_grad_; }

 private:
  std::optional<ScalarType> dtype_;
  Device device_;
  bool requires_grad_ = false;
};
inline TensorOptions dtype(ScalarType t) { return TensorOptions(t); }
inline TensorOptions device(Device d) { return TensorOptions(d); }
inline TensorOptions requires_grad(bool r = true) { return TensorOptions().requires_grad(r); }

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata ------------------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Dims& sizes() const;
  const Dims& strides() const;
  std::vector<int64_t> shape() const { return sizes().vec(); }
  int64_t size(int64_t dim) const;    ///< negative dims count from the end
  int64_t stride(int64_t dim) const;
  int64_t dim() const;
  int64_t ndimension() const { return dim(); }
  int64_t numel() const;
  ScalarType dtype() const;
  ScalarType scalar_type() const { return dtype(); }
  Device device() const;
  bool is_cuda() const { return device().is_cuda(); }
  bool is_floating_point() const { return is_floating(dtype()); }
  bool is_contiguous() const;
  int64_t storage_offset() const;
  size_t element_size() const { return tandem::element_size(dtype()); }
  /// Address of element [0, ..., 0] (device memory for CUDA tensors).
  void* data_ptr() const;
  /// Typed host pointer; checks the dtype and that the tensor is on the CPU.
  template <typename T> T* data_ptr() const;
  /// The single value of a one-element tensor, converted to T.
  template <typename T> T item() const;
  /// All values in row-major order, converted to T (copies from the device if needed).
  template <typename T> std::vector<T> to_vector() const;
  TensorImpl* unsafeGetTensorImpl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  std::string str() const;  ///< what operator<< prints
  std::string toString() const;  ///< e.g. "float32Tensor[2, 3]"

  // ---- autograd ------------------------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool requires_grad = true);
  /// The accumulated gradient (undefined until a backward pass reaches this tensor).
  Tensor grad() const;
  /// Replaces (or, with an undefined tensor, clears) the accumulated gradient.
  void set_grad(const Tensor& grad) const;
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  bool is_leaf() const;
  /// Backpropagates from this tensor. `gradient` may be omitted only for a one-element tensor.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false, bool create_graph = false) const;
  /// Keep .grad on a non-leaf tensor during backward.
  void retain_grad() const;
  bool retains_grad() const;
  /// Registers fn(grad) -> new grad (or an undefined tensor to keep it); returns a handle for remove_hook.
  size_t register_hook(TensorHook hook) const;
  void remove_hook(size_t handle) const;
  /// A tensor sharing storage with this one but outside the graph.
  Tensor detach() const;
  Tensor& detach_();
  /// Incremented by every in-place write to this tensor's storage.
  uint32_t _version() const;

  // ---- conversions and copies ----------------------------------------------------------------------------
  Tensor to(ScalarType dtype) const;
  Tensor to(Device device) const;
  Tensor to(DeviceType device) const { return to(Device(device)); }
  Tensor to(Device device, ScalarType dtype) const;
  Tensor cpu() const { return to(Device(kCPU)); }
  Tensor cuda() const { return to(Device(kCUDA)); }
  Tensor contiguous() const;
  Tensor clone() const;
  /// Copies src (broadcast to this shape, any dtype or device) into this tensor, in place.
  Tensor& copy_(const Tensor& src);

  // ---- views (share storage) -----------------------------------------------------------------------------
  Tensor view(const Dims& sizes) const;      ///< -1 infers one size; strides must allow it
  Tensor reshape(const Dims& sizes) const;   ///< a view when possible, else a copy
  Tensor view_as(const Tensor& other) const { return view(other.sizes()); }
  Tensor reshape_as(const Tensor& other) const { return reshape(other.sizes()); }
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  ///< transpose of a 1-D or 2-D tensor
  Tensor mT() const { return transpose(-2, -1); }
  Tensor permute(const Dims& dims) const;
  Tensor expand(const Dims& sizes) const;  ///< -1 keeps a size
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  ///< clamps like Python slicing
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor unflatten(int64_t dim, const Dims& sizes) const;
  Tensor as_strided(const Dims& sizes, const Dims& strides, int64_t storage_offset) const;

  // ---- element-wise (out of place) -----------------------------------------------------------------------
  Tensor add(const Tensor& other, double alpha = 1) const;
  Tensor add(double other) const;
  Tensor sub(const Tensor& other, double alpha = 1) const;
  Tensor sub(double other) const;
  Tensor mul(const Tensor& other) const;
  Tensor mul(double other) const;
  Tensor div(const Tensor& other) const;
  Tensor div(double other) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor pow(double exponent) const;
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor abs() const;
  Tensor sign() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor square() const;
  Tensor reciprocal() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor erf() const;
  Tensor log1p() const;
  Tensor expm1() const;
  Tensor floor() const;
  Tensor ceil() const;
  Tensor round() const;
  Tensor clamp(std::optional<double> min, std::optional<double> max) const;
  Tensor clamp_min(double min) const { return clamp(min, std::nullopt); }
  Tensor clamp_max(double max) const { return clamp(std::nullopt, max); }
  Tensor maximum(const Tensor& other) const;
  Tensor minimum(const Tensor& other) const;
  Tensor eq(const Tensor& other) const;
  Tensor ne(const Tensor& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor le(const Tensor& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor eq(double other) const;
  Tensor ne(double other) const;
  Tensor lt(double other) const;
  Tensor le(double other) const;
  Tensor gt(double other) const;
  Tensor ge(double other) const;
  Tensor logical_not() const;
  Tensor logical_and(const Tensor& other) const;
  Tensor logical_or(const Tensor& other) const;
  Tensor masked_fill(const Tensor& mask, double value) const;
  /// Sums this tensor down to `shape` (the shape it was broadcast from): the adjoint of expand.
  Tensor sum_to(const Dims& shape) const;

  // ---- in-place (bump the version counter; rejected on leaves that require grad) ------------------------
  Tensor& add_(const Tensor& other, double alpha = 1);
  Tensor& add_(double other);
  Tensor& sub_(const Tensor& other, double alpha = 1);
  Tensor& sub_(double other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double other);
  Tensor& pow_(double exponent);
  Tensor& neg_();
  Tensor& exp_();
  Tensor& log_();
  Tensor& sqrt_();
  Tensor& abs_();
  Tensor& tanh_();
  Tensor& sigmoid_();
  Tensor& relu_();
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);
  Tensor& masked_fill_(const Tensor& mask, double value);
  Tensor& fill_(double value);
  Tensor& zero_();
  Tensor& uniform_(double from = 0, double to = 1);
  Tensor& normal_(double mean = 0, double std = 1);

  // ---- reductions ----------------------------------------------------------------------------------------
  Tensor sum() const;
  Tensor sum(const Dims& dims, bool keepdim = false) const;
  // Single-dim overloads are templates so that `x.sum({})` picks the dims list (reduce all), never dim 0.
  template <std::integral I>
  Tensor sum(I dim, bool keepdim = false) const { return sum(Dims{static_cast<int64_t>(dim)}, keepdim); }
  Tensor mean() const;
  Tensor mean(const Dims& dims, bool keepdim = false) const;
  template <std::integral I>
  Tensor mean(I dim, bool keepdim = false) const { return mean(Dims{static_cast<int64_t>(dim)}, keepdim); }
  Tensor prod() const;
  Tensor prod(int64_t dim, bool keepdim = false) const;
  Tensor max() const;                                 ///< over all elements
  std::tuple<Tensor, Tensor> max(int64_t dim, bool keepdim = false) const;  ///< (values, int64 indices)
  Tensor min() const;
  std::tuple<Tensor, Tensor> min(int64_t dim, bool keepdim = false) const;
  Tensor amax(const Dims& dims, bool keepdim = false) const;
  Tensor amin(const Dims& dims, bool keepdim = false) const;
  template <std::integral I>
  Tensor amax(I dim, bool keepdim = false) const { return amax(Dims{static_cast<int64_t>(dim)}, keepdim); }
  template <std::integral I>
  Tensor amin(I dim, bool keepdim = false) const { return amin(Dims{static_cast<int64_t>(dim)}, keepdim); }
  Tensor argmax() const;  ///< flat index over all elements
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor argmin() const;
  Tensor argmin(int64_t dim, bool keepdim = false) const;
  /// Variance; correction 1 is the unbiased estimator (Bessel), 0 the population variance.
  Tensor var(int64_t correction = 1) const;
  Tensor var(const Dims& dims, int64_t correction = 1, bool keepdim = false) const;
  Tensor std(int64_t correction = 1) const;
  Tensor std(const Dims& dims, int64_t correction = 1, bool keepdim = false) const;
  Tensor logsumexp(const Dims& dims, bool keepdim = false) const;
  template <std::integral I>
  Tensor logsumexp(I dim, bool keepdim = false) const {
    return logsumexp(Dims{static_cast<int64_t>(dim)}, keepdim);
  }
  Tensor norm(double p = 2) const;  ///< the p-norm of all elements
  Tensor any() const;
  Tensor all() const;

  // ---- linear algebra, softmax, indexing -----------------------------------------------------------------
  Tensor matmul(const Tensor& other) const;
  Tensor mm(const Tensor& other) const;   ///< 2-D only
  Tensor bmm(const Tensor& other) const;  ///< 3-D only
  Tensor dot(const Tensor& other) const;  ///< 1-D only
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor index_select(int64_t dim, const Tensor& index) const;
  Tensor gather(int64_t dim, const Tensor& index) const;
  Tensor scatter_add(int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor index_add(int64_t dim, const Tensor& index, const Tensor& source) const;
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  std::vector<Tensor> split_with_sizes(const Dims& split_sizes, int64_t dim = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;
  std::vector<Tensor> unbind(int64_t dim = 0) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Operators, as in libtorch. Comparisons return bool tensors.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor operator!(const Tensor& a);
Tensor& operator+=(Tensor& a, const Tensor& b);
Tensor& operator-=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, const Tensor& b);
Tensor& operator/=(Tensor& a, const Tensor& b);
Tensor& operator+=(Tensor& a, double b);
Tensor& operator-=(Tensor& a, double b);
Tensor& operator*=(Tensor& a, double b);
Tensor& operator/=(Tensor& a, double b);

}  // namespace tandem
