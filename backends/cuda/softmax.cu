// CUDA softmax and log-softmax along one dim, numerically stable: with m the maximum of a row,
//   softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m)
//   log_softmax(x)_i = (x_i - m) - log(sum_j exp(x_j - m)),
// so no exp ever overflows. The output is contiguous; for input [outer, D, inner] (D the softmax dim):
//   * inner == 1 (softmax over the last dim, the common case): one warp per row for rows of up to
//     kWarpRowLimit elements, one block per row above; the lanes stride through the row (coalesced), and the
//     row's maximum and sum are combined with warp shuffles (and shared memory across the block's warps);
//   * inner > 1: one thread per (outer, inner) column walks the D elements of its column, its neighbours the
//     neighbouring columns (coalesced).
// Inputs that are not contiguous are first copied into the output, and the kernel then runs in place on it
// (x and y may then alias: each element is written only after the last read of it).
// Sums of exponentials accumulate in double, like the CPU's, and the scaling uses the same rounding steps
// (1/sum rounded to the element type, then multiplied).
#include <math_constants.h>

#include <type_traits>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace tandem::cuda {
namespace {

constexpr int kSoftmaxBlock = 256;
constexpr int64_t kWarpRowLimit = 1024;
constexpr unsigned kFullMask = 0xffffffffu;

template <typename T>
__device__ __forceinline__ T exp_of(T x) {
  if constexpr (std::is_same_v<T, float>) return expf(x);
  else return exp(x);
}

template <typename T>
__device__ __forceinline__ T negative_infinity() {
  if constexpr (std::is_same_v<T, float>) return -CUDART_INF_F;
  else return -CUDART_INF;
}

/// max(a, b) that propagates a NaN in b (and keeps a NaN in a).
template <typename T>
__device__ __forceinline__ T max_nan(T a, T b) {
  return (b > a || b != b) ? b : a;
}

/// The maximum (kMax) or the sum of v over a group of G lanes (a warp, or the whole block), returned to every
/// lane of the group. Every thread of the block must call it.
template <int G, bool kMax, typename A>
__device__ __forceinline__ A group_all_reduce(A v) {
#pragma unroll
  for (int delta = 16; delta > 0; delta >>= 1) {
    const A other = __shfl_xor_sync(kFullMask, v, delta);
    v = kMax ? max_nan(v, other) : v + other;
  }
  if constexpr (G > 32) {
    __shared__ A warp_values[kSoftmaxBlock / 32];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();  // a previous call may still be reading warp_values
    if (lane == 0) warp_values[warp] = v;
    __syncthreads();
    v = warp_values[0];
    for (int w = 1; w < kSoftmaxBlock / 32; ++w) v = kMax ? max_nan(v, warp_values[w]) : v + warp_values[w];
  }
  return v;
}

/// Softmax of contiguous rows of length D: a group of G lanes per row.
template <typename T, int G>
__global__ void __launch_bounds__(kSoftmaxBlock)
    softmax_rows_kernel(const T* x, T* y, int64_t rows, int64_t D, bool log) {
  constexpr int kGroups = kSoftmaxBlock / G;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / G;
  const int lane = threadIdx.x % G;
  const bool active = row < rows;
  const T* in = x + (active ? row : 0) * D;
  T m = negative_infinity<T>();
  if (active)
    for (int64_t i = lane; i < D; i += G) m = max_nan(m, in[i]);
  m = group_all_reduce<G, true>(m);
  double sum = 0;
  if (active)
    for (int64_t i = lane; i < D; i += G) sum += static_cast<double>(exp_of(in[i] - m));
  sum = group_all_reduce<G, false>(sum);
  if (!active) return;
  T* out = y + row * D;
  if (log) {
    const T log_sum = static_cast<T>(::log(sum));
    for (int64_t i = lane; i < D; i += G) out[i] = (in[i] - m) - log_sum;
  } else {
    const T inv = static_cast<T>(1.0 / sum);
    for (int64_t i = lane; i < D; i += G) out[i] = exp_of(in[i] - m) * inv;
  }
}

/// Softmax along D of [outer, D, inner] (contiguous): a thread per (outer, inner) column.
template <typename T>
__global__ void __launch_bounds__(kSoftmaxBlock)
    softmax_columns_kernel(const T* x, T* y, int64_t outer, int64_t D, int64_t inner,
                           bool log) {
  const int64_t column = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (column >= outer * inner) return;
  const int64_t o = column / inner, j = column - o * inner;
  const int64_t base = o * D * inner + j;
  const T* in = x + base;
  T* out = y + base;
  T m = negative_infinity<T>();
  for (int64_t d = 0; d < D; ++d) m = max_nan(m, in[d * inner]);
  double sum = 0;
  for (int64_t d = 0; d < D; ++d) sum += static_cast<double>(exp_of(in[d * inner] - m));
  if (log) {
    const T log_sum = static_cast<T>(::log(sum));
    for (int64_t d = 0; d < D; ++d) out[d * inner] = (in[d * inner] - m) - log_sum;
  } else {
    const T inv = static_cast<T>(1.0 / sum);
    for (int64_t d = 0; d < D; ++d) out[d * inner] = exp_of(in[d * inner] - m) * inv;
  }
}

/// A 0-d tensor: softmax 1, log_softmax 0 (NaN stays NaN).
template <typename T>
__global__ void softmax_scalar_kernel(const T* x, T* y, bool log) {
  const T v = *x;
  *y = v != v ? v : (log ? T(0) : T(1));
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename T>
void softmax_impl(CudaBackend& backend, const Strided& src, const Strided& dst, int64_t dim, bool log) {
  const cudaStream_t stream = detail::stream();
  if (src.ndim() == 0) {
    softmax_scalar_kernel<T><<<1, 1, 0, stream>>>(src.ptr<const T>(), dst.ptr<T>(), log);
    TD_CUDA_CHECK_LAUNCH("softmax_scalar_kernel");
    return;
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= src.sizes[d];
  for (size_t d = static_cast<size_t>(dim) + 1; d < src.ndim(); ++d) inner *= src.sizes[d];
  const int64_t D = src.sizes[dim];
  T* y = dst.ptr<T>();
  const T* x = src.ptr<const T>();
  if (!src.is_contiguous()) {  // lay the input out like the output, then work in place
    backend.copy(src, dst);
    x = y;
  }
  if (inner == 1) {
    if (D <= kWarpRowLimit) {
      const auto blocks = static_cast<unsigned>(ceil_div(outer, kSoftmaxBlock / 32));
      softmax_rows_kernel<T, 32><<<blocks, kSoftmaxBlock, 0, stream>>>(x, y, outer, D, log);
    } else {
      softmax_rows_kernel<T, kSoftmaxBlock><<<static_cast<unsigned>(outer), kSoftmaxBlock, 0, stream>>>(x, y, outer, D, log);
    }
    TD_CUDA_CHECK_LAUNCH("softmax_rows_kernel");
    return;
  }
  const auto blocks = static_cast<unsigned>(ceil_div(outer * inner, kSoftmaxBlock));
  softmax_columns_kernel<T><<<blocks, kSoftmaxBlock, 0, stream>>>(x, y, outer, D, inner, log);
  TD_CUDA_CHECK_LAUNCH("softmax_columns_kernel");
}

}  // namespace

void CudaBackend::softmax(const Strided& src, const Strided& dst, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  TD_CHECK(src.sizes == dst.sizes, name, ": output shape ", dst.sizes, " differs from input shape ", src.sizes);
  TD_CHECK(src.dtype == dst.dtype, name, ": output dtype ", dst.dtype, " differs from input dtype ", src.dtype);
  TD_CHECK(dst.is_contiguous(), name, ": the output must be contiguous");
  TD_CHECK(is_floating(src.dtype), name, ": expected a floating-point tensor, got ", src.dtype);
  const int64_t nd = static_cast<int64_t>(src.ndim());
  TD_CHECK(nd == 0 || (dim >= 0 && dim < nd), name, ": dim ", dim, " is out of range for a tensor of rank ", nd);
  detail::check_device_operand(src, name, "input");
  detail::check_device_operand(dst, name, "output");
  if (src.numel() == 0) return;
  if (src.dtype == ScalarType::Float32)
    softmax_impl<float>(*this, src, dst, dim, log);
  else
    softmax_impl<double>(*this, src, dst, dim, log);
}

}  // namespace tandem::cuda
