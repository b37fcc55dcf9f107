// CUDA random kernel: fills a contiguous tensor from the Philox4x32-10 stream (seed, offset) with exactly the
// layout and arithmetic of the CPU kernel (backends/cpu/random.cpp, backends/philox.h), so that a seed gives
// the same numbers on both devices:
//   4-byte dtypes (float32): element i takes word i%4 of block offset + i/4, as a 24-bit uniform in [0, 1);
//   8-byte dtypes (float64, int64): element i takes words 2(i%2) (high) and 2(i%2)+1 (low) of block
//   offset + i/2, as a 53-bit uniform in [0, 1).
// One thread computes one Philox block and writes its elements. Uniform and integer samples are bit-for-bit
// those of the CPU: the same double arithmetic, with the multiply-add p0 + u (p1 - p0) rounded once or twice as
// the CPU build does (detail::host_fuses_multiply_add). Normal samples use CUDA's double log/sqrt/cos/sin, which
// may differ from the host's libm in the last bit or two of the double result.
#include <cmath>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"
#include "backends/philox.h"

namespace tandem::cuda {

namespace detail {
bool host_fuses_multiply_add();  // host_arithmetic.cpp
}  // namespace detail

namespace {

/// a * b + c rounded once (fused) or after each operation, never left to the compiler's contraction choice.
__device__ __forceinline__ double multiply_add(double a, double b, double c, bool fused) {
  return fused ? __fma_rn(a, b, c) : __dadd_rn(__dmul_rn(a, b), c);
}

__device__ __forceinline__ float next_toward(float from, float to) { return nextafterf(from, to); }
__device__ __forceinline__ double next_toward(double from, double to) { return nextafter(from, to); }

template <typename T>
__global__ void __launch_bounds__(detail::kBlockSize)
    random_kernel(T* __restrict__ out, int64_t n, RandomKind kind, uint64_t seed, uint64_t offset, double p0,
                  double p1, bool fused) {
  constexpr int kPerBlock = sizeof(T) == 4 ? 4 : 2;  // elements per Philox block
  const int64_t blocks = (n + kPerBlock - 1) / kPerBlock;
  for (int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < blocks;
       b += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(b), seed);
    double u[kPerBlock];
    if constexpr (kPerBlock == 4) {
#pragma unroll
      for (int j = 0; j < 4; ++j) u[j] = philox_uniform_float(r.v[j]);
    } else {
      u[0] = philox_uniform_double(r.v[0], r.v[1]);
      u[1] = philox_uniform_double(r.v[2], r.v[3]);
    }
    const int64_t first = b * kPerBlock;
    const int count = static_cast<int>(n - first < kPerBlock ? n - first : kPerBlock);
    T* o = out + first;
    switch (kind) {
      case RandomKind::Uniform: {  // floating dtypes only (checked by the caller)
        if constexpr (!std::is_floating_point_v<T>) break;
        const double width = p1 - p0;
        for (int j = 0; j < count; ++j) {
          T v = static_cast<T>(multiply_add(u[j], width, p0, fused));
          if constexpr (std::is_floating_point_v<T>)
            if (!(v < static_cast<T>(p1)) && width > 0) v = next_toward(static_cast<T>(p1), static_cast<T>(p0));
          o[j] = v;
        }
        break;
      }
      case RandomKind::Normal: {
        for (int j = 0; j < count; j += 2) {  // (j, j + 1) is a Box-Muller pair inside the block
          const double radius = sqrt(-2.0 * log(1.0 - u[j]));
          const double theta = (2.0 * 3.14159265358979323846) * u[j + 1];
          o[j] = static_cast<T>(multiply_add(p1 * radius, cos(theta), p0, fused));
          if (j + 1 < count) o[j + 1] = static_cast<T>(multiply_add(p1 * radius, sin(theta), p0, fused));
        }
        break;
      }
      case RandomKind::Integer: {
        const auto low = static_cast<int64_t>(p0);
        const int64_t range = static_cast<int64_t>(p1) - low;
        for (int j = 0; j < count; ++j) {
          auto step = static_cast<int64_t>(floor(u[j] * static_cast<double>(range)));
          if (step >= range) step = range - 1;
          o[j] = static_cast<T>(low + step);
        }
        break;
      }
    }
  }
}

}  // namespace

void CudaBackend::random(RandomKind kind, const Strided& dst, uint64_t seed, uint64_t offset, double p0, double p1) {
  TD_CHECK(dst.is_contiguous(), "random: the output must be contiguous, got sizes ", dst.sizes, " and strides ",
           dst.strides);
  TD_CHECK(dst.dtype != ScalarType::Bool, "random: dtype bool is not supported");
  switch (kind) {
    case RandomKind::Uniform:
      TD_CHECK(is_floating(dst.dtype), "random: uniform samples need a floating dtype, got ", dst.dtype);
      TD_CHECK(std::isfinite(p0) && std::isfinite(p1) && p0 <= p1,
               "random: uniform bounds must be finite with low <= high, got [", p0, ", ", p1, ")");
      break;
    case RandomKind::Normal:
      TD_CHECK(is_floating(dst.dtype), "random: normal samples need a floating dtype, got ", dst.dtype);
      TD_CHECK(std::isfinite(p0) && std::isfinite(p1) && p1 >= 0,
               "random: normal needs a finite mean and a std >= 0, got mean ", p0, " and std ", p1);
      break;
    case RandomKind::Integer:
      TD_CHECK(p0 == std::floor(p0) && p1 == std::floor(p1) && p0 < p1,
               "random: integer bounds must be integers with low < high, got [", p0, ", ", p1, ")");
      break;
  }
  detail::check_device_operand(dst, "random", "output");
  const int64_t n = dst.numel();
  if (n == 0) return;
  const bool fused = detail::host_fuses_multiply_add();
  visit_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      const int64_t per_block = sizeof(T) == 4 ? 4 : 2;
      const int64_t blocks = (n + per_block - 1) / per_block;
      random_kernel<T><<<detail::grid_for(blocks, detail::kBlockSize), detail::kBlockSize, 0, detail::stream()>>>(
          dst.ptr<T>(), n, kind, seed, offset, p0, p1, fused);
      TD_CUDA_CHECK_LAUNCH("random_kernel");
    }
  });
}

}  // namespace tandem::cuda
