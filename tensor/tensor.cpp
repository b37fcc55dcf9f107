// Tensor metadata, host data access and the dispatch helpers of tensor/dispatch.h. The autograd methods of
// Tensor (backward, grad, hooks, detach) are in autograd/tensor_autograd.cpp; ops in autograd/ops/.
#include "tensor/tensor.h"

#include "backends/backend.h"
#include "tensor/dispatch.h"
#include "tensor/functions.h"

namespace tandem {

// ---- storage ------------------------------------------------------------------------------------------------
StorageImpl::StorageImpl(size_t nbytes_, Device device_) : nbytes(nbytes_), device(device_) {
  data = backend_for(device).allocate(nbytes);
}
StorageImpl::StorageImpl(void* data_, size_t nbytes_, Device device_, std::function<void(void*)> deleter_)
    : data(data_), nbytes(nbytes_), device(device_), deleter(std::move(deleter_)) {
  (void)backend_for(device);  // the same device checks as for allocated storage
  if (!deleter) deleter = [](void*) {};  // borrowed memory: the caller owns it
}
StorageImpl::~StorageImpl() {
  if (deleter) deleter(data);
  else if (data) backend_for(device.type).deallocate(data, nbytes);
}

// ---- metadata -----------------------------------------------------------------------------------------------
namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  TD_CHECK(impl != nullptr, "tensor: operation on an undefined tensor");
  return *impl;
}
}  // namespace

const Dims& Tensor::sizes() const { return checked(impl_).sizes; }
const Dims& Tensor::strides() const { return checked(impl_).strides; }
int64_t Tensor::dim() const { return static_cast<int64_t>(checked(impl_).sizes.size()); }
int64_t Tensor::size(int64_t d) const { return sizes()[detail::wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[detail::wrap_dim(d, dim(), "stride")]; }
int64_t Tensor::numel() const { return checked(impl_).sizes.product(); }
ScalarType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device; }
int64_t Tensor::storage_offset() const { return checked(impl_).offset; }
bool Tensor::is_contiguous() const {
  const TensorImpl& t = checked(impl_);
  if (t.sizes.product() == 0) return true;
  int64_t expected = 1;
  for (size_t i = t.sizes.size(); i-- > 0;) {
    if (t.sizes[i] != 1 && t.strides[i] != expected) return false;
    expected *= t.sizes[i];
  }
  return true;
}
void* Tensor::data_ptr() const {
  const TensorImpl& t = checked(impl_);
  return static_cast<char*>(t.storage->data) + t.offset * static_cast<int64_t>(tandem::element_size(t.dtype));
}
std::string Tensor::toString() const {
  if (!defined()) return "UndefinedTensor";
  return detail::concat(dtype_name(dtype()), "Tensor", sizes());
}

template <typename T>
T* Tensor::data_ptr() const {
  TD_CHECK(dtype() == dtype_of<T>::value, "data_ptr: tensor has dtype ", dtype(), " but ",
           dtype_name(dtype_of<T>::value), " was requested");
  TD_CHECK(device().is_cpu(), "data_ptr<T>: tensor is on ", device(), "; move it to the CPU first");
  return static_cast<T*>(data_ptr());
}

template <typename T>
T Tensor::item() const {
  TD_CHECK(numel() == 1, "item: a tensor with ", numel(), " elements (shape ", sizes(),
           ") cannot be converted to a scalar");
  return to_vector<T>()[0];
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = device().is_cpu() ? *this : to(Device(kCPU));
  Tensor converted = empty(sizes(), TensorOptions(dtype_of<T>::value));
  detail::backend_of(converted).copy(detail::strided(host), detail::strided(converted));
  const T* p = static_cast<const T*>(converted.data_ptr());
  return std::vector<T>(p, p + converted.numel());
}

#define TD_INSTANTIATE_ACCESS(T)                   \
  template T* Tensor::data_ptr<T>() const;         \
  template T Tensor::item<T>() const;              \
  template std::vector<T> Tensor::to_vector<T>() const;
TD_INSTANTIATE_ACCESS(float)
TD_INSTANTIATE_ACCESS(double)
TD_INSTANTIATE_ACCESS(int64_t)
TD_INSTANTIATE_ACCESS(bool)
#undef TD_INSTANTIATE_ACCESS

template <>
int Tensor::item<int>() const {
  return static_cast<int>(item<int64_t>());
}

// ---- dispatch helpers ---------------------------------------------------------------------------------------
namespace detail {

Backend& backend_of(const Tensor& t) { return backend_for(t.device().type); }

Strided strided(const Tensor& t) {
  const TensorImpl& impl = *t.impl();
  Strided s;
  s.data = t.data_ptr();
  s.dtype = impl.dtype;
  s.sizes = impl.sizes;
  s.strides = impl.strides;
  return s;
}

Strided strided(const Tensor& t, const Dims& sizes, const Dims& strides) {
  Strided s;
  s.data = t.data_ptr();
  s.dtype = t.dtype();
  s.sizes = sizes;
  s.strides = strides;
  return s;
}

Tensor make_tensor(const Dims& sizes, ScalarType dtype, Device device) {
  for (int64_t s : sizes) TD_CHECK(s >= 0, "tensor: negative size in shape ", sizes);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<StorageImpl>(static_cast<size_t>(sizes.product()) * element_size(dtype), device);
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, const Dims& sizes, const Dims& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->sizes = sizes;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  impl->is_view = true;
  return Tensor(std::move(impl));
}

Dims broadcast_strides(const Tensor& t, const Dims& target) {
  const Dims& s = t.sizes();
  const Dims& st = t.strides();
  Dims out(target.size(), 0);
  const size_t lead = target.size() - s.size();
  for (size_t i = 0; i < s.size(); ++i) out[lead + i] = s[i] == 1 && target[lead + i] != 1 ? 0 : st[i];
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  TD_CHECK(dim >= -n && dim < n, op, ": dim ", dim, " is out of range for a tensor of rank ", ndim,
           " (expected a dim in [", -n, ", ", n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  TD_CHECK(a.device() == b.device(), op, ": expected all tensors on the same device, got ", a.device(), " and ",
           b.device());
}

void check_defined(const Tensor& t, const char* op, const char* what) {
  TD_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

void check_floating(const Tensor& t, const char* op) {
  TD_CHECK(is_floating(t.dtype()), op, ": expected a floating-point tensor, got ", t.dtype());
}

void bump_version(const Tensor& t) { ++t.impl()->storage->version; }

}  // namespace detail

// ---- broadcasting and promotion -----------------------------------------------------------------------------
Dims broadcast_shapes(const Dims& a, const Dims& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Dims out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TD_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b, " cannot be broadcast (dim ", i,
             ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

ScalarType promote_types(ScalarType a, ScalarType b) {
  auto rank = [](ScalarType t) {
    switch (t) {
      case ScalarType::Bool: return 0;
      case ScalarType::Int64: return 1;
      case ScalarType::Float32: return 2;
      case ScalarType::Float64: return 3;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace tandem
