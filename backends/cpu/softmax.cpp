// CPU softmax and log-softmax along one dim, numerically stable: with m the maximum of a row,
//   softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m)
//   log_softmax(x)_i = x_i - m - log(sum_j exp(x_j - m)),
// so no exp ever overflows. The output is contiguous; for input [outer, D, inner] (D the softmax dim):
//   * inner == 1 (softmax over the last dim, the common case): each row of D elements takes three passes —
//     maximum, exp and sum (writing exp into the output), scale — all in SIMD-friendly lanes;
//   * inner > 1: blocks of up to kColumnBlock columns of a [D, inner] slab are processed together, so every
//     pass runs vectorised along the contiguous inner dim.
// Threads split the rows (or the column blocks). Inputs that are not laid out like the output are first copied
// into it, and the kernel then runs in place on the output.
//
// float32 uses exp_fast below, a branch-free exp the compiler can vectorise (|relative error| < 2^-22, results
// below exp(-87.3) ~ 1.2e-38 flushed to 0); float64 uses std::exp.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"

namespace tandem::cpu {
namespace {

constexpr int64_t kSoftmaxGrain = 32768;  // elements below which one thread does the work
constexpr int64_t kColumnBlock = 1024;    // most columns of a slab processed together
constexpr int64_t kMinColumnBlock = 64;
constexpr int kLanes = 32;

/// exp(x) for float: x = k ln2 + r with |r| <= ln2/2, exp(r) by a degree-7 polynomial (Taylor, error
/// < 3e-8 on that range), 2^k put into the exponent bits directly.
inline float exp_fast(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // ln 2 split in two for an exact k * ln2_hi
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  constexpr float kMinArg = -87.3f, kMaxArg = 88.7f;
  const float xc = std::min(std::max(x, kMinArg), kMaxArg);  // NaN passes through both
  const float t = xc * kLog2e + kShifter;
  const float k = t - kShifter;
  float r = xc - k * kLn2Hi;
  r = r - k * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const uint32_t k_int = std::bit_cast<uint32_t>(t) - std::bit_cast<uint32_t>(kShifter);  // k mod 2^32
  const float scale = std::bit_cast<float>((k_int + 127u) << 23);
  const float result = p * scale;
  if (x < kMinArg) return 0.0f;
  if (x > kMaxArg) return std::numeric_limits<float>::infinity();
  return result;
}

template <typename T>
inline T exp_of(T x) {
  if constexpr (std::is_same_v<T, float>)
    return exp_fast(x);
  else
    return std::exp(x);
}

/// max(a, b) that propagates a NaN in b (and keeps a NaN in a).
template <typename T>
inline T max_nan(T a, T b) {
  return (b > a || b != b) ? b : a;
}

/// The maximum of x[0:n] (NaN if any element is NaN), in kLanes lanes folded as a tree.
template <typename T>
T row_max(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
  if (n >= kLanes) {
    T lanes[kLanes];
    for (int j = 0; j < kLanes; ++j) lanes[j] = m;
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) lanes[j] = max_nan(lanes[j], x[i + j]);
    for (int w = kLanes / 2; w >= 1; w /= 2)
      for (int j = 0; j < w; ++j) lanes[j] = max_nan(lanes[j], lanes[j + w]);
    m = lanes[0];
  }
  for (; i < n; ++i) m = max_nan(m, x[i]);
  return m;
}

/// The sum of exp(x[i] - m) over x[0:n], storing each exponential in y[i] when kStore.
template <typename T, bool kStore>
double exp_sum(const T* x, T* y, T m, int64_t n) {
  constexpr int kSumLanes = 64 / sizeof(T);  // one 512-bit register
  T lanes[kSumLanes] = {};
  int64_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) {
      const T e = exp_of(x[i + j] - m);
      if constexpr (kStore) y[i + j] = e;
      lanes[j] += e;
    }
  for (int w = kSumLanes / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) lanes[j] += lanes[j + w];
  double sum = lanes[0];
  for (; i < n; ++i) {
    const T e = exp_of(x[i] - m);
    if constexpr (kStore) y[i] = e;
    sum += e;
  }
  return sum;
}

/// Softmax of one contiguous row x[0:n] into y[0:n] (y may equal x): maximum, exponentials and their sum,
/// then one scaling pass.
template <typename T>
void softmax_row(const T* x, T* y, int64_t n, bool log) {
  const T m = row_max(x, n);
  if (log) {
    // (x - m) - log(sum) rather than x - (m + log(sum)): the latter loses the low bits when |m| is large.
    const T log_sum = static_cast<T>(std::log(exp_sum<T, false>(x, nullptr, m, n)));
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - log_sum;
  } else {
    const T inv = static_cast<T>(1.0 / exp_sum<T, true>(x, y, m, n));
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}

/// Softmax along D of a [D, inner] slab (row stride `inner`), for the columns [0, nb) starting at x / y.
template <typename T>
void softmax_columns(const T* x, T* y, int64_t D, int64_t inner, int64_t nb, bool log) {
  T m[kColumnBlock], s[kColumnBlock];
  for (int64_t j = 0; j < nb; ++j) {
    m[j] = -std::numeric_limits<T>::infinity();
    s[j] = 0;
  }
  for (int64_t d = 0; d < D; ++d) {
    const T* row = x + d * inner;
    for (int64_t j = 0; j < nb; ++j) m[j] = max_nan(m[j], row[j]);
  }
  for (int64_t d = 0; d < D; ++d) {
    const T* row = x + d * inner;
    T* out = y + d * inner;
    if (log) {
      for (int64_t j = 0; j < nb; ++j) s[j] += exp_of(row[j] - m[j]);
    } else {
      for (int64_t j = 0; j < nb; ++j) {
        const T e = exp_of(row[j] - m[j]);
        out[j] = e;
        s[j] += e;
      }
    }
  }
  if (log) {
    for (int64_t j = 0; j < nb; ++j) s[j] = std::log(s[j]);
    for (int64_t d = 0; d < D; ++d) {
      const T* row = x + d * inner;
      T* out = y + d * inner;
      for (int64_t j = 0; j < nb; ++j) out[j] = (row[j] - m[j]) - s[j];
    }
  } else {
    for (int64_t j = 0; j < nb; ++j) s[j] = T(1) / s[j];
    for (int64_t d = 0; d < D; ++d) {
      T* out = y + d * inner;
      for (int64_t j = 0; j < nb; ++j) out[j] *= s[j];
    }
  }
}

template <typename T>
void softmax_impl(CpuBackend& backend, const Strided& src, const Strided& dst, int64_t dim, bool log) {
  const size_t nd = src.ndim();
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < static_cast<size_t>(dim); ++d) outer *= src.sizes[d];
  for (size_t d = static_cast<size_t>(dim) + 1; d < nd; ++d) inner *= src.sizes[d];
  const int64_t D = src.sizes[dim];
  T* y = dst.ptr<T>();

  if (inner == 1) {
    // Rows can be read in place when the softmax dim has unit stride; other dims may have any strides.
    const bool rows_readable = D == 1 || src.strides[dim] == 1;
    const T* x = rows_readable ? src.ptr<const T>() : y;
    if (!rows_readable) backend.copy(src, dst);
    // Offsets of the rows in x: an odometer over the outer dims (with the output's strides after a copy).
    const Dims& st = rows_readable ? src.strides : dst.strides;
    parallel_for(outer, std::max<int64_t>(1, kSoftmaxGrain / std::max<int64_t>(D, 1)), [&](int64_t begin, int64_t end) {
      int64_t idx[64] = {};
      int64_t off = 0;
      int64_t r = begin;
      for (int64_t d = dim - 1; d >= 0; --d) {
        idx[d] = r % src.sizes[d];
        r /= src.sizes[d];
        off += idx[d] * st[d];
      }
      for (int64_t row = begin; row < end; ++row) {
        softmax_row(x + off, y + row * D, D, log);
        for (int64_t d = dim - 1; d >= 0; --d) {
          off += st[d];
          if (++idx[d] < src.sizes[d]) break;
          off -= st[d] * src.sizes[d];
          idx[d] = 0;
        }
      }
    });
    return;
  }
  const bool contiguous = src.is_contiguous();
  const T* x = contiguous ? src.ptr<const T>() : y;
  if (!contiguous) backend.copy(src, dst);
  // Wide column blocks read long runs of each row; narrower ones leave work for every thread.
  int64_t block = std::min(inner, kColumnBlock);
  const int64_t threads = outer * D * inner < kSoftmaxGrain ? 1 : get_num_threads();
  const int64_t blocks_per_slab = (threads + outer - 1) / outer;
  if (blocks_per_slab > 1)
    block = std::min(block, std::max(kMinColumnBlock, (inner + blocks_per_slab - 1) / blocks_per_slab));
  const int64_t blocks = (inner + block - 1) / block;
  const int64_t units = outer * blocks;
  parallel_for(units, std::max<int64_t>(1, kSoftmaxGrain / (D * block)), [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      const int64_t o = u / blocks, c0 = (u % blocks) * block;
      const int64_t off = o * D * inner + c0;
      softmax_columns(x + off, y + off, D, inner, std::min(block, inner - c0), log);
    }
  });
}

}  // namespace

void CpuBackend::softmax(const Strided& src, const Strided& dst, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  TD_CHECK(src.sizes == dst.sizes, name, ": output shape ", dst.sizes, " differs from input shape ", src.sizes);
  TD_CHECK(src.dtype == dst.dtype, name, ": output dtype ", dst.dtype, " differs from input dtype ", src.dtype);
  TD_CHECK(dst.is_contiguous(), name, ": the output must be contiguous");
  TD_CHECK(src.ndim() <= 64, name, ": too many dims (", src.ndim(), ")");
  const int64_t nd = static_cast<int64_t>(src.ndim());
  TD_CHECK(is_floating(src.dtype), name, ": expected a floating-point tensor, got ", src.dtype);
  if (nd == 0) {  // a scalar: softmax 1, log_softmax 0 (NaN stays NaN)
    visit_dtype(src.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_floating_point_v<T>) {
        const T x = *src.ptr<const T>();
        *dst.ptr<T>() = x != x ? x : (log ? T(0) : T(1));
      }
    });
    return;
  }
  TD_CHECK(dim >= 0 && dim < nd, name, ": dim ", dim, " is out of range for a tensor of rank ", nd);
  if (src.numel() == 0) return;
  if (src.dtype == ScalarType::Float32)
    softmax_impl<float>(*this, src, dst, dim, log);
  else
    softmax_impl<double>(*this, src, dst, dim, log);
}

}  // namespace tandem::cpu
