// Tensor creation: constant fills, ranges, identity, random tensors from the counter-based Philox stream
// (tensor/random.h, backends/philox.h), tensors from host values or from borrowed memory.
#include <algorithm>
#include <cmath>
#include <mutex>

#include "backends/backend.h"
#include "backends/philox.h"
#include "tensor/dispatch.h"
#include "tensor/functions.h"
#include "tensor/random.h"

namespace tandem {

// ---- generator ----------------------------------------------------------------------------------------------
namespace {
constexpr uint64_t kDefaultSeed = 67280421310721ull;
std::mutex rng_mutex;
PhiloxState rng_state{kDefaultSeed, 0};
}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(rng_mutex);
  rng_state = PhiloxState{seed, 0};
}
PhiloxState reserve_random_blocks(uint64_t blocks) {
  std::lock_guard<std::mutex> lock(rng_mutex);
  PhiloxState s = rng_state;
  rng_state.offset += blocks;
  return s;
}
PhiloxState get_rng_state() {
  std::lock_guard<std::mutex> lock(rng_mutex);
  return rng_state;
}
void set_rng_state(PhiloxState state) {
  std::lock_guard<std::mutex> lock(rng_mutex);
  rng_state = state;
}

// ---- helpers ------------------------------------------------------------------------------------------------
namespace {

Tensor finish(Tensor t, const TensorOptions& options, const char* op) {
  if (options.requires_grad()) {
    TD_CHECK(is_floating(t.dtype()), op, ": only floating-point tensors can require grad, got ", t.dtype());
    t.requires_grad_(true);
  }
  return t;
}

/// Builds a tensor from host values of type T on the requested device.
template <typename T>
Tensor from_host(const T* values, const Dims& sizes, const TensorOptions& options, const char* op) {
  Tensor host = detail::make_tensor(sizes, dtype_of<T>::value, Device(kCPU));
  std::copy(values, values + sizes.product(), static_cast<T*>(host.data_ptr()));
  const ScalarType want = options.dtype_opt().value_or(dtype_of<T>::value);
  Tensor out = want != host.dtype() || !options.device().is_cpu() ? host.to(options.device(), want) : host;
  return finish(out, options, op);
}

Tensor random_tensor(RandomKind kind, const Dims& sizes, TensorOptions options, double p0, double p1, const char* op) {
  Tensor t = detail::make_tensor(sizes, options.dtype(), options.device());
  const unsigned width = element_size(t.dtype()) == 4 ? 4 : 8;
  const uint64_t n = static_cast<uint64_t>(t.numel());
  PhiloxState s = reserve_random_blocks(philox_blocks(n + (n & 1), width));
  detail::backend_of(t).random(kind, detail::strided(t), s.seed, s.offset, p0, p1);
  return finish(t, options, op);
}

}  // namespace

// ---- constant fills -----------------------------------------------------------------------------------------
Tensor empty(const Dims& sizes, TensorOptions options) {
  return finish(detail::make_tensor(sizes, options.dtype(), options.device()), options, "empty");
}
namespace {
Tensor filled(const Dims& sizes, double value, const TensorOptions& options, const char* op) {
  Tensor t = detail::make_tensor(sizes, options.dtype(), options.device());
  detail::backend_of(t).fill(detail::strided(t), value);
  return finish(t, options, op);
}
}  // namespace
Tensor full(const Dims& sizes, double value, TensorOptions options) { return filled(sizes, value, options, "full"); }
Tensor zeros(const Dims& sizes, TensorOptions options) { return filled(sizes, 0.0, options, "zeros"); }
Tensor ones(const Dims& sizes, TensorOptions options) { return filled(sizes, 1.0, options, "ones"); }
Tensor scalar_tensor(double value, TensorOptions options) { return filled(Dims{}, value, options, "scalar_tensor"); }

// ---- ranges -------------------------------------------------------------------------------------------------
Tensor arange(double end, TensorOptions options) { return arange(0, end, 1, options); }

Tensor arange(double start, double end, double step, TensorOptions options) {
  TD_CHECK(step != 0, "arange: step must be nonzero");
  TD_CHECK(std::isfinite(start) && std::isfinite(end), "arange: start and end must be finite, got ", start, " and ",
           end);
  TD_CHECK((end - start) / step >= 0, "arange: the sign of step (", step, ") does not lead from ", start, " to ", end);
  const auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  const bool integral = start == std::floor(start) && end == std::floor(end) && step == std::floor(step);
  if (!options.dtype_opt()) options = options.dtype(integral ? kInt64 : kFloat32);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = start + static_cast<double>(i) * step;
  return from_host(values.data(), Dims{n}, options, "arange");
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions options) {
  TD_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  std::vector<double> values(static_cast<size_t>(steps));
  const double delta = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  for (int64_t i = 0; i < steps; ++i) {
    // fill symmetrically from both ends so that the last value is exactly `end`
    values[static_cast<size_t>(i)] = steps == 1 || i < steps / 2 ? start + delta * static_cast<double>(i)
                                                   : end - delta * static_cast<double>(steps - 1 - i);
  }
  if (!options.dtype_opt()) options = options.dtype(kFloat32);
  return from_host(values.data(), Dims{steps}, options, "linspace");
}

Tensor eye(int64_t n, TensorOptions options) { return eye(n, n, options); }
Tensor eye(int64_t n, int64_t m, TensorOptions options) {
  TD_CHECK(n >= 0 && m >= 0, "eye: sizes must be non-negative, got ", n, " and ", m);
  std::vector<double> values(static_cast<size_t>(n * m), 0.0);
  for (int64_t i = 0; i < std::min(n, m); ++i) values[static_cast<size_t>(i * m + i)] = 1.0;
  if (!options.dtype_opt()) options = options.dtype(kFloat32);
  return from_host(values.data(), Dims{n, m}, options, "eye");
}

// ---- random -------------------------------------------------------------------------------------------------
Tensor rand(const Dims& sizes, TensorOptions options) {
  TD_CHECK(is_floating(options.dtype()), "rand: dtype must be floating, got ", options.dtype());
  return random_tensor(RandomKind::Uniform, sizes, options, 0.0, 1.0, "rand");
}
Tensor randn(const Dims& sizes, TensorOptions options) {
  TD_CHECK(is_floating(options.dtype()), "randn: dtype must be floating, got ", options.dtype());
  return random_tensor(RandomKind::Normal, sizes, options, 0.0, 1.0, "randn");
}
Tensor randint(int64_t low, int64_t high, const Dims& sizes, TensorOptions options) {
  TD_CHECK(low < high, "randint: low (", low, ") must be less than high (", high, ")");
  if (!options.dtype_opt()) options = options.dtype(kInt64);
  TD_CHECK(options.dtype() != kBool, "randint: dtype bool is not supported");
  return random_tensor(RandomKind::Integer, sizes, options, static_cast<double>(low), static_cast<double>(high),
                       "randint");
}
Tensor bernoulli(const Dims& sizes, double p, TensorOptions options) {
  TD_CHECK(p >= 0 && p <= 1, "bernoulli: p must be in [0, 1], got ", p);
  Tensor u = rand(sizes, TensorOptions(kFloat64).device(options.device()));
  Tensor mask = u.lt(p);
  return finish(mask.to(options.dtype()), options, "bernoulli");
}
Tensor randperm(int64_t n, TensorOptions options) {
  TD_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  PhiloxState s = reserve_random_blocks(static_cast<uint64_t>(n));
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates, one Philox block per step
    Philox4 r = philox4x32_10(s.offset + static_cast<uint64_t>(i), s.seed);
    const uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(bits % static_cast<uint64_t>(i + 1))]);
  }
  if (!options.dtype_opt()) options = options.dtype(kInt64);
  return from_host(perm.data(), Dims{n}, options, "randperm");
}

// ---- from values ----------------------------------------------------------------------------------------------
template <typename T>
Tensor tensor(const std::vector<T>& values, TensorOptions options) {
  const Dims sizes{static_cast<int64_t>(values.size())};
  if constexpr (std::is_same_v<T, bool>) {
    Tensor host = detail::make_tensor(sizes, kBool, Device(kCPU));
    bool* dst = static_cast<bool*>(host.data_ptr());
    for (size_t i = 0; i < values.size(); ++i) dst[i] = values[i];
    Tensor out = host.to(options.device(), options.dtype_opt().value_or(kBool));
    return finish(out, options, "tensor");
  } else if constexpr (std::is_integral_v<T>) {
    std::vector<int64_t> wide(values.begin(), values.end());
    return from_host(wide.data(), sizes, options, "tensor");
  } else {
    return from_host(values.data(), sizes, options, "tensor");
  }
}
template Tensor tensor<float>(const std::vector<float>&, TensorOptions);
template Tensor tensor<double>(const std::vector<double>&, TensorOptions);
template Tensor tensor<int64_t>(const std::vector<int64_t>&, TensorOptions);
template Tensor tensor<int>(const std::vector<int>&, TensorOptions);
template Tensor tensor<bool>(const std::vector<bool>&, TensorOptions);

Tensor from_blob(void* data, const Dims& sizes, TensorOptions options) {
  return from_blob(data, sizes, contiguous_strides(sizes), nullptr, options);
}

Tensor from_blob(void* data, const Dims& sizes, const Dims& strides, std::function<void(void*)> deleter,
                 TensorOptions options) {
  TD_CHECK(data != nullptr || sizes.product() == 0, "from_blob: null data pointer for shape ", sizes);
  TD_CHECK(sizes.size() == strides.size(), "from_blob: ", sizes.size(), " sizes but ", strides.size(), " strides");
  int64_t extent = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    TD_CHECK(sizes[i] >= 0 && strides[i] >= 0, "from_blob: negative size or stride in ", sizes, " / ", strides);
    if (sizes[i] > 0) extent += (sizes[i] - 1) * strides[i];
  }
  if (sizes.product() == 0) extent = 0;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<StorageImpl>(data, static_cast<size_t>(extent) * element_size(options.dtype()),
                                                options.device(), std::move(deleter));
  impl->sizes = sizes;
  impl->strides = strides;
  impl->dtype = options.dtype();
  return finish(Tensor(std::move(impl)), options, "from_blob");
}

// ---- *_like ---------------------------------------------------------------------------------------------------
namespace {
TensorOptions like(const Tensor& t, TensorOptions options) {
  TensorOptions o = TensorOptions(options.dtype_opt().value_or(t.dtype())).device(t.device());
  return o.requires_grad(options.requires_grad());
}
}  // namespace
Tensor empty_like(const Tensor& t, TensorOptions options) { return empty(t.sizes(), like(t, options)); }
Tensor zeros_like(const Tensor& t, TensorOptions options) { return zeros(t.sizes(), like(t, options)); }
Tensor ones_like(const Tensor& t, TensorOptions options) { return ones(t.sizes(), like(t, options)); }
Tensor full_like(const Tensor& t, double value, TensorOptions options) {
  return full(t.sizes(), value, like(t, options));
}
Tensor rand_like(const Tensor& t, TensorOptions options) { return rand(t.sizes(), like(t, options)); }
Tensor randn_like(const Tensor& t, TensorOptions options) { return randn(t.sizes(), like(t, options)); }

}  // namespace tandem
