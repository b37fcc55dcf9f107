// CPU random kernel: fills a contiguous tensor from the Philox4x32-10 stream (seed, offset) with the layout of
// backends/philox.h, so that every backend draws the same numbers for the same seed:
//   4-byte dtypes (float32): element i takes word i%4 of block offset + i/4, as a 24-bit uniform in [0, 1);
//   8-byte dtypes (float64, int64): element i takes words 2(i%2) (high) and 2(i%2)+1 (low) of block
//   offset + i/2, as a 53-bit uniform in [0, 1).
// From the uniform u of each element:
//   Uniform : p0 + u (p1 - p0), kept below p1 when rounding would reach it;
//   Normal  : Box-Muller on the uniforms (u1, u2) of elements (2k, 2k+1): r = sqrt(-2 log(1 - u1)) (1 - u1 lies
//             in (0, 1], so the log is finite), element 2k = p0 + p1 r cos(2 pi u2), element 2k+1 =
//             p0 + p1 r sin(2 pi u2). The pair always lies inside one block, and for an odd count the last
//             element still takes its partner's uniform from the stream (callers reserve the blocks for it).
//   Integer : p0 + floor(u (p1 - p0)), clamped below p1.
// Normal values are computed in double and rounded to the output type. The work is split over blocks, each
// computed independently, so the values do not depend on the number of threads.
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <type_traits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "backends/philox.h"

namespace tandem::cpu {
namespace {

/// Philox blocks per thread chunk below which the kernel stays on one thread.
constexpr int64_t kRandomGrainBlocks = 8192;

/// Elements per Philox block for an element type: four 32-bit words make 4 floats or 2 doubles/int64s.
template <typename T>
inline constexpr int64_t kPerBlock = sizeof(T) == 4 ? 4 : 2;

/// The uniforms in [0, 1) of the elements of Philox block `counter`, with the layout of backends/philox.h.
template <typename T>
inline std::array<double, kPerBlock<T>> block_uniforms(uint64_t counter, uint64_t seed) {
  const Philox4 r = philox4x32_10(counter, seed);
  if constexpr (kPerBlock<T> == 4) {
    return {philox_uniform_float(r.v[0]), philox_uniform_float(r.v[1]), philox_uniform_float(r.v[2]),
            philox_uniform_float(r.v[3])};
  } else {
    return {philox_uniform_double(r.v[0], r.v[1]), philox_uniform_double(r.v[2], r.v[3])};
  }
}

/// Writes the first `count` (<= kPerBlock<T>) elements of one block from the block's uniforms.
template <typename T>
inline void write_block(RandomKind kind, const std::array<double, kPerBlock<T>>& u, int64_t count, T* out, double p0,
                        double p1) {
  switch (kind) {
    case RandomKind::Uniform: {
      const double width = p1 - p0;
      for (int64_t j = 0; j < count; ++j) {
        T v = static_cast<T>(p0 + u[j] * width);
        if (!(v < static_cast<T>(p1)) && width > 0) v = std::nextafter(static_cast<T>(p1), static_cast<T>(p0));
        out[j] = v;
      }
      return;
    }
    case RandomKind::Normal: {
      for (int64_t j = 0; j < count; j += 2) {  // (j, j + 1) is a Box-Muller pair inside the block
        const double r = std::sqrt(-2.0 * std::log(1.0 - u[j]));
        const double theta = 2.0 * std::numbers::pi * u[j + 1];
        out[j] = static_cast<T>(p0 + p1 * r * std::cos(theta));
        if (j + 1 < count) out[j + 1] = static_cast<T>(p0 + p1 * r * std::sin(theta));
      }
      return;
    }
    case RandomKind::Integer: {
      const auto low = static_cast<int64_t>(p0);
      const int64_t range = static_cast<int64_t>(p1) - low;
      for (int64_t j = 0; j < count; ++j) {
        auto step = static_cast<int64_t>(std::floor(u[j] * static_cast<double>(range)));
        if (step >= range) step = range - 1;
        out[j] = static_cast<T>(low + step);
      }
      return;
    }
  }
}

}  // namespace

void CpuBackend::random(RandomKind kind, const Strided& dst, uint64_t seed, uint64_t offset, double p0, double p1) {
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
  const int64_t n = dst.numel();
  if (n == 0) return;
  visit_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      constexpr int64_t per_block = kPerBlock<T>;
      T* out = dst.ptr<T>();
      parallel_for((n + per_block - 1) / per_block, kRandomGrainBlocks, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const int64_t first = b * per_block;
          write_block<T>(kind, block_uniforms<T>(offset + static_cast<uint64_t>(b), seed),
                         std::min(per_block, n - first), out + first, p0, p1);
        }
      });
    }
  });
}

}  // namespace tandem::cpu
