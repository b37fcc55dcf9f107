// CPU kernels behind convolution and pooling (NCHW): im2col, its adjoint col2im, and max_pool2d with argmax
// indices. All three take inputs with any strides (the fast paths are for a unit stride along W) and are
// threaded over the N*C image planes (or, for transposed columns, over the output rows), each of which is read
// and written by exactly one thread.
//
// The inner loops never test for padding per element: for each kernel offset (ki, kj) the range of output rows
// and columns whose input lies inside the image is computed once per call, the positions outside it are zero
// (im2col) or skipped (col2im), and the ones inside it are a contiguous copy / add when the stride along W is 1
// (of a fixed size for the widths of common layers, since these rows are short).
//
// The columns [N, C*kh*kw, L] may be written in two layouts besides the contiguous one: rows of L values with
// any row and sample strides (conv2d puts the rows of a block of samples side by side, [C*kh*kw, N, L]), and
// transposed (unit stride along C*kh*kw: each window is one contiguous row, which a weight gradient reads as a
// row-major [L, C*kh*kw] matrix).
//
// max_pool2d has a path of its own for the common 2x2 window with stride 2 (16 outputs at a time with AVX-512
// when the rows are contiguous).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "backends/window_checks.h"

namespace tandem::cpu {
namespace {

using namespace ::tandem::window_checks;

/// Work (in elements touched) below which a kernel stays on the calling thread.
constexpr int64_t kConvGrain = 16384;

int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

/// The output columns [lo, hi) whose input column lo*stride + offset ... lies inside [0, size).
struct ValidRange {
  int64_t lo, hi;
};
ValidRange valid_outputs(int64_t offset, int64_t stride, int64_t size, int64_t out_size) {
  int64_t lo = std::min(ceil_div(-offset, stride), out_size);
  int64_t hi = std::min(ceil_div(size - offset, stride), out_size);
  return {lo, std::max(lo, hi)};
}

/// False when the operand's elements certainly have distinct addresses (with the dims of size above 1 sorted by
/// stride, each stride is positive and at least the extent of the dims below it), true when they may not.
bool overlaps_itself(const Strided& s) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size)
  for (size_t d = 0; d < s.ndim(); ++d)
    if (s.sizes[d] > 1) dims.emplace_back(s.strides[d], s.sizes[d]);
  std::sort(dims.begin(), dims.end());
  int64_t extent = 1;
  for (const auto& [stride, size] : dims) {
    if (stride < extent) return true;
    extent = stride * size;
  }
  return false;
}

/// Calls fn(T{}) with T = float or double (the dtype was checked to be one of them).
template <typename Fn>
void visit_float(ScalarType dtype, Fn&& fn) {
  if (dtype == ScalarType::Float32) fn(float{});
  else fn(double{});
}

// ---------------------------------------------------------------------------------------------------------------
// im2col
// ---------------------------------------------------------------------------------------------------------------
/// Copies n elements between non-overlapping buffers. im2col's rows are short (often 10-30 elements), where the
/// call overhead of memcpy dominates; fixed-size copies compile to a few vector moves, and two overlapping ones
/// cover any length between one size and twice it.
template <typename T>
inline void copy_short(T* __restrict dst, const T* __restrict src, int64_t n) {
  auto copy_pair = [&](auto bytes_tag) {
    constexpr size_t bytes = decltype(bytes_tag)::value;
    constexpr int64_t count = static_cast<int64_t>(bytes / sizeof(T));
    std::memcpy(dst, src, bytes);
    std::memcpy(dst + n - count, src + n - count, bytes);
  };
  if (n > 2 * static_cast<int64_t>(64 / sizeof(T))) {
    std::memcpy(dst, src, sizeof(T) * static_cast<size_t>(n));
  } else if (n >= static_cast<int64_t>(64 / sizeof(T))) {
    copy_pair(std::integral_constant<size_t, 64>{});
  } else if (n >= static_cast<int64_t>(32 / sizeof(T))) {
    copy_pair(std::integral_constant<size_t, 32>{});
  } else if (n >= static_cast<int64_t>(16 / sizeof(T))) {
    copy_pair(std::integral_constant<size_t, 16>{});
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

/// Where one kernel offset (ki, kj) reads: input row oy * stride_h + y_off and column ox * stride_w + x_off,
/// inside the image for output rows [ylo, yhi) and output columns [xlo, xhi). The same for every plane, so it
/// is computed once per call (not once per plane: for short rows the divisions would cost more than the copies).
struct KernelOffset {
  int64_t y_off, x_off, ylo, yhi, xlo, xhi;
};

std::vector<KernelOffset> kernel_offsets(const Window2d& w, int64_t H, int64_t W, int64_t oh, int64_t ow) {
  std::vector<KernelOffset> offsets;
  offsets.reserve(static_cast<size_t>(w.kernel_h * w.kernel_w));
  for (int64_t ki = 0; ki < w.kernel_h; ++ki) {
    for (int64_t kj = 0; kj < w.kernel_w; ++kj) {
      const int64_t y_off = ki * w.dilation_h - w.pad_h, x_off = kj * w.dilation_w - w.pad_w;
      const auto [ylo, yhi] = valid_outputs(y_off, w.stride_h, H, oh);
      const auto [xlo, xhi] = valid_outputs(x_off, w.stride_w, W, ow);
      offsets.push_back({y_off, x_off, ylo, yhi, xlo, xhi});
    }
  }
  return offsets;
}

/// Copies `rows` rows of `width` elements from a source with row pitch `src_pitch` into consecutive rows of the
/// destination (pitch `width`). kWidth is the width when known at compile time (the copies then unroll into a
/// few vector moves), 0 if not.
template <typename T, int kWidth>
inline void copy_rows(T* __restrict dst, const T* __restrict src, int64_t rows, int64_t width, int64_t src_pitch) {
  if constexpr (kWidth != 0) {
    for (int64_t r = 0; r < rows; ++r, dst += kWidth, src += src_pitch) std::memcpy(dst, src, kWidth * sizeof(T));
  } else {
    for (int64_t r = 0; r < rows; ++r, dst += width, src += src_pitch) copy_short(dst, src, width);
  }
}

/// dst [N, C*K, L] (unit stride along L, any other strides) = the columns of src [N, C, H, W] (any strides).
template <typename T>
void im2col_impl(const Strided& src, const Strided& dst, const Window2d& w) {
  const int64_t N = src.sizes[0], C = src.sizes[1], H = src.sizes[2], W = src.sizes[3];
  const int64_t sN = src.strides[0], sC = src.strides[1], sH = src.strides[2], sW = src.strides[3];
  const int64_t dN = dst.strides[0], dR = dst.strides[1];
  const int64_t oh = w.out_h(H), ow = w.out_w(W), L = oh * ow, K = w.kernel_h * w.kernel_w;
  const std::vector<KernelOffset> offsets = kernel_offsets(w, H, W, oh, ow);
  const int64_t step = w.stride_w * sW;  // input elements between neighbouring output columns
  const T* in = src.ptr<T>();
  T* out = dst.ptr<T>();
  // Rows of the columns with no padding and unit step are a 2-D copy; the widths of common layers get a copy of
  // fixed size.
  auto copy_valid = [&](T* row, const T* first, int64_t rows, int64_t src_pitch) {
    switch (ow) {
      case 8: return copy_rows<T, 8>(row, first, rows, ow, src_pitch);
      case 10: return copy_rows<T, 10>(row, first, rows, ow, src_pitch);
      case 12: return copy_rows<T, 12>(row, first, rows, ow, src_pitch);
      case 14: return copy_rows<T, 14>(row, first, rows, ow, src_pitch);
      case 16: return copy_rows<T, 16>(row, first, rows, ow, src_pitch);
      case 24: return copy_rows<T, 24>(row, first, rows, ow, src_pitch);
      case 28: return copy_rows<T, 28>(row, first, rows, ow, src_pitch);
      case 32: return copy_rows<T, 32>(row, first, rows, ow, src_pitch);
      default: return copy_rows<T, 0>(row, first, rows, ow, src_pitch);
    }
  };
  parallel_for(N * C, std::max<int64_t>(1, kConvGrain / std::max<int64_t>(1, K * L)), [&](int64_t begin, int64_t end) {
    int64_t n = begin / C, c = begin % C;
    for (int64_t nc = begin; nc < end; ++nc) {
      const T* plane = in + n * sN + c * sC;
      T* rows = out + n * dN + c * K * dR;  // plane (n, c) owns K consecutive rows of sample n's columns
      for (int64_t k = 0; k < K; ++k) {
        const KernelOffset& o = offsets[static_cast<size_t>(k)];
        T* row = rows + k * dR;
        std::fill(row, row + o.ylo * ow, T(0));
        std::fill(row + o.yhi * ow, row + L, T(0));
        const T* first = plane + (o.ylo * w.stride_h + o.y_off) * sH + (o.xlo * w.stride_w + o.x_off) * sW;
        const int64_t src_pitch = w.stride_h * sH, n_valid = o.xhi - o.xlo;
        if (step == 1 && n_valid == ow) {
          copy_valid(row + o.ylo * ow, first, o.yhi - o.ylo, src_pitch);
          continue;
        }
        for (int64_t oy = o.ylo; oy < o.yhi; ++oy, first += src_pitch) {
          T* __restrict dst_row = row + oy * ow;
          std::fill(dst_row, dst_row + o.xlo, T(0));
          if (step == 1) {
            copy_short(dst_row + o.xlo, first, n_valid);
          } else {
            for (int64_t i = 0; i < n_valid; ++i) dst_row[o.xlo + i] = first[i * step];
          }
          std::fill(dst_row + o.xhi, dst_row + ow, T(0));
        }
      }
      if (++c == C) c = 0, ++n;
    }
  });
}

/// Writes the `runs` runs of kw values of one window to consecutive places of dst: run i is in_rows[i] + offset,
/// or zeros where in_rows[i] is null (a row in the padding). kKw is kw when known at compile time (each copy is
/// then a few vector moves), 0 if not.
template <typename T, int kKw>
inline void copy_window(T* __restrict dst, const T* const* in_rows, int64_t runs, int64_t offset, int64_t kw) {
  const int64_t n = kKw != 0 ? kKw : kw;
  for (int64_t i = 0; i < runs; ++i, dst += n) {
    if (in_rows[i] == nullptr) {
      std::fill(dst, dst + n, T(0));
    } else if constexpr (kKw != 0) {
      std::memcpy(dst, in_rows[i] + offset, kKw * sizeof(T));
    } else {
      copy_short(dst, in_rows[i] + offset, kw);
    }
  }
}

/// im2col into transposed columns: dst [N, C*K, L] with unit stride along C*K (each output position's window is
/// one contiguous row, the layout a weight gradient reads as a row-major [L, C*K] matrix). Threaded over the
/// output rows. Windows are written one after the other, each as C*kh runs of kw values; for an output row the
/// C*kh input rows they read are found once, and windows inside the image along W copy each run at once (or
/// zero it, for a row in the padding).
template <typename T>
void im2row_impl(const Strided& src, const Strided& dst, const Window2d& w) {
  const int64_t N = src.sizes[0], C = src.sizes[1], H = src.sizes[2], W = src.sizes[3];
  const int64_t sN = src.strides[0], sC = src.strides[1], sH = src.strides[2], sW = src.strides[3];
  const int64_t dN = dst.strides[0], dL = dst.strides[2];
  const int64_t oh = w.out_h(H), ow = w.out_w(W), kh = w.kernel_h, kw = w.kernel_w, runs = C * kh;
  // The output columns whose whole window row lies inside the image: [ox_lo, ox_hi).
  const int64_t last_tap = (kw - 1) * w.dilation_w;
  const int64_t ox_lo = std::min(ceil_div(w.pad_w, w.stride_w), ow);
  const int64_t ox_hi = std::max(ox_lo, std::min(ow, ceil_div(W + w.pad_w - last_tap, w.stride_w)));
  const bool contiguous_runs = w.dilation_w == 1 && sW == 1;
  const T* in = src.ptr<T>();
  T* out = dst.ptr<T>();
  auto copy_inside = [&](T* window, const T* const* in_rows, int64_t offset) {
    switch (contiguous_runs ? kw : 0) {
      case 3: return copy_window<T, 3>(window, in_rows, runs, offset, kw);
      case 5: return copy_window<T, 5>(window, in_rows, runs, offset, kw);
      case 7: return copy_window<T, 7>(window, in_rows, runs, offset, kw);
      case 9: return copy_window<T, 9>(window, in_rows, runs, offset, kw);
      case 11: return copy_window<T, 11>(window, in_rows, runs, offset, kw);
      default: return copy_window<T, 0>(window, in_rows, runs, offset, kw);
    }
  };
  const int64_t grain = std::max<int64_t>(1, kConvGrain / std::max<int64_t>(1, ow * runs * kw));
  parallel_for(N * oh, grain, [&](int64_t begin, int64_t end) {
    // The input row of run (c, ki) for the current output row, or nullptr where it lies in the padding.
    std::vector<const T*> in_rows(static_cast<size_t>(runs));
    int64_t n = begin / oh, oy = begin % oh;
    for (int64_t row = begin; row < end; ++row) {
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t ki = 0; ki < kh; ++ki) {
          const int64_t y = oy * w.stride_h - w.pad_h + ki * w.dilation_h;
          in_rows[static_cast<size_t>(c * kh + ki)] = y >= 0 && y < H ? in + n * sN + c * sC + y * sH : nullptr;
        }
      }
      T* windows = out + n * dN + oy * ow * dL;
      auto one_by_one = [&](int64_t ox) {
        T* window = windows + ox * dL;
        const int64_t x0 = ox * w.stride_w - w.pad_w;
        for (int64_t r = 0; r < runs; ++r, window += kw) {
          const T* in_row = in_rows[static_cast<size_t>(r)];
          for (int64_t kj = 0; kj < kw; ++kj) {
            const int64_t x = x0 + kj * w.dilation_w;
            window[kj] = in_row != nullptr && x >= 0 && x < W ? in_row[x * sW] : T(0);
          }
        }
      };
      for (int64_t ox = 0; ox < ox_lo; ++ox) one_by_one(ox);
      for (int64_t ox = ox_lo; ox < ox_hi; ++ox) {
        if (contiguous_runs) copy_inside(windows + ox * dL, in_rows.data(), ox * w.stride_w - w.pad_w);
        else one_by_one(ox);
      }
      for (int64_t ox = ox_hi; ox < ow; ++ox) one_by_one(ox);
      if (++oy == oh) oy = 0, ++n;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// col2im (accumulating)
// ---------------------------------------------------------------------------------------------------------------
/// Adds `rows` consecutive rows of `width` elements (pitch `width`) onto rows of dst with pitch `dst_pitch`;
/// kWidth as in copy_rows.
template <typename T, int kWidth>
inline void add_rows(T* __restrict dst, const T* __restrict src, int64_t rows, int64_t width, int64_t dst_pitch) {
  const int64_t n = kWidth != 0 ? kWidth : width;
  for (int64_t r = 0; r < rows; ++r, dst += dst_pitch, src += n) {
#pragma GCC unroll 32
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
  }
}

template <typename T>
void col2im_impl(const Strided& src, const Strided& dst, const Window2d& w) {
  const int64_t N = dst.sizes[0], C = dst.sizes[1], H = dst.sizes[2], W = dst.sizes[3];
  const int64_t dN = dst.strides[0], dC = dst.strides[1], dH = dst.strides[2], dW = dst.strides[3];
  const int64_t sN = src.strides[0], sR = src.strides[1], sL = src.strides[2];
  const int64_t oh = w.out_h(H), ow = w.out_w(W), L = oh * ow, K = w.kernel_h * w.kernel_w;
  const std::vector<KernelOffset> offsets = kernel_offsets(w, H, W, oh, ow);
  const int64_t step = w.stride_w * dW;  // output elements between neighbouring columns
  const T* in = src.ptr<T>();
  T* out = dst.ptr<T>();
  // Columns with no padding and unit steps add whole rows of ow elements; common widths get fixed-size loops.
  auto add_valid = [&](T* dst_row, const T* col, int64_t rows, int64_t dst_pitch) {
    switch (ow) {
      case 8: return add_rows<T, 8>(dst_row, col, rows, ow, dst_pitch);
      case 10: return add_rows<T, 10>(dst_row, col, rows, ow, dst_pitch);
      case 12: return add_rows<T, 12>(dst_row, col, rows, ow, dst_pitch);
      case 14: return add_rows<T, 14>(dst_row, col, rows, ow, dst_pitch);
      case 16: return add_rows<T, 16>(dst_row, col, rows, ow, dst_pitch);
      case 24: return add_rows<T, 24>(dst_row, col, rows, ow, dst_pitch);
      case 28: return add_rows<T, 28>(dst_row, col, rows, ow, dst_pitch);
      case 32: return add_rows<T, 32>(dst_row, col, rows, ow, dst_pitch);
      default: return add_rows<T, 0>(dst_row, col, rows, ow, dst_pitch);
    }
  };
  parallel_for(N * C, std::max<int64_t>(1, kConvGrain / std::max<int64_t>(1, K * L)), [&](int64_t begin, int64_t end) {
    int64_t n = begin / C, c = begin % C;
    for (int64_t nc = begin; nc < end; ++nc) {
      T* plane = out + n * dN + c * dC;
      for (int64_t k = 0; k < K; ++k) {
        const KernelOffset& o = offsets[static_cast<size_t>(k)];
        const T* col = in + n * sN + (c * K + k) * sR + (o.ylo * ow + o.xlo) * sL;
        T* dst_row = plane + (o.ylo * w.stride_h + o.y_off) * dH + (o.xlo * w.stride_w + o.x_off) * dW;
        const int64_t n_valid = o.xhi - o.xlo, dst_pitch = w.stride_h * dH, rows = o.yhi - o.ylo;
        if (step == 1 && sL == 1 && n_valid == ow) {
          add_valid(dst_row, col, rows, dst_pitch);
          continue;
        }
        for (int64_t oy = o.ylo; oy < o.yhi; ++oy, col += ow * sL, dst_row += dst_pitch) {
          if (step == 1 && sL == 1) {
            for (int64_t i = 0; i < n_valid; ++i) dst_row[i] += col[i];
          } else {
            for (int64_t i = 0; i < n_valid; ++i) dst_row[i * step] += col[i * sL];
          }
        }
      }
      if (++c == C) c = 0, ++n;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// max_pool2d
// ---------------------------------------------------------------------------------------------------------------
// Each output row is computed at once: for every kernel offset (ki, kj), in the window's row-major order, one
// pass over the output columns whose input column is inside the image updates running maxima and their positions
// (branch-free selects the compiler vectorises). Visiting the offsets in the same order for every window keeps
// the rules of a per-window loop: the first maximum wins ties, a NaN wins and the last NaN's position is kept.
/// For ox in [lo, hi): if p[ox * step] beats best[ox] (or is NaN), take it and its position
/// position + ox * stride_w. kStep is the step when known at compile time (so that the loads vectorise), 0 if not.
template <typename T, int kStep>
inline void update_maxima(const T* __restrict p, int64_t step, int64_t lo, int64_t hi, int64_t position,
                          int64_t stride_w, T* __restrict best, int64_t* __restrict best_index) {
  if constexpr (kStep != 0) step = kStep;
  for (int64_t ox = lo; ox < hi; ++ox) {
    const T v = p[ox * step];
    const bool take = (v > best[ox]) | (v != v);  // v != v: NaN; bitwise | keeps the loop free of branches
    best[ox] = take ? v : best[ox];
    best_index[ox] = take ? position + ox * stride_w : best_index[ox];
  }
}

/// The common 2x2 window with stride 2 (no padding, no dilation) on one plane: each output reads two pairs of
/// neighbours, visited in the window's row-major order with the same rules as the general loop (first maximum
/// wins ties, a NaN wins and the last NaN's position is kept). kUnitStep: the input's stride along W is 1.
template <typename T, bool kUnitStep>
void max_pool2x2_plane(const T* __restrict plane, int64_t sH, int64_t sW, int64_t W, int64_t oh, int64_t ow,
                       T* __restrict out, int64_t dH, int64_t dW, int64_t* __restrict idx, int64_t iH, int64_t iW) {
  if constexpr (kUnitStep) sW = 1;
  for (int64_t oy = 0; oy < oh; ++oy) {
    const T* __restrict top = plane + 2 * oy * sH;
    const T* __restrict bottom = top + sH;
    T* __restrict out_row = out + oy * dH;
    int64_t* __restrict idx_row = idx + oy * iH;
    const int64_t top_position = 2 * oy * W;
    for (int64_t ox = 0; ox < ow; ++ox) {
      const int64_t x = 2 * ox;
      T best = top[x * sW];
      int64_t at = top_position + x;
      const T candidates[3] = {top[(x + 1) * sW], bottom[x * sW], bottom[(x + 1) * sW]};
      const int64_t positions[3] = {top_position + x + 1, top_position + W + x, top_position + W + x + 1};
#pragma GCC unroll 3
      for (int i = 0; i < 3; ++i) {
        const T v = candidates[i];
        const bool take = (v > best) | (v != v);
        best = take ? v : best;
        at = take ? positions[i] : at;
      }
      out_row[ox * dW] = best;
      idx_row[ox * iW] = at;
    }
  }
}

#if defined(__AVX512F__)
/// max_pool2x2_plane for float planes whose input, output and index rows are contiguous, 16 outputs at a time:
/// the two input rows are loaded (masked at the row's end) and split into the even and odd columns, and the
/// four candidates are visited with the same rules as the scalar loop. Positions are formed in 32 bits within
/// the row pair (the caller checks that they fit) and widened to 64 bits.
inline void max_pool2x2_plane_avx512(const float* plane, int64_t sH, int64_t W, int64_t oh, int64_t ow, float* out,
                                     int64_t dH, int64_t* idx, int64_t iH) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i lane_x = even;  // input column of output lane i, relative to the chunk: 2 * i
  const __m512i below = _mm512_set1_epi32(static_cast<int32_t>(W));
  for (int64_t oy = 0; oy < oh; ++oy) {
    const float* top = plane + 2 * oy * sH;
    const float* bottom = top + sH;
    const int64_t row_pair = 2 * oy * W;
    for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
      const int64_t n = std::min<int64_t>(16, ow - ox0), inputs = 2 * n;
      const __mmask16 first = inputs >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << inputs) - 1);
      const __mmask16 second = inputs > 16 ? __mmask16((1u << (inputs - 16)) - 1) : __mmask16(0);
      const __mmask16 outputs = __mmask16((1u << n) - 1);
      const __m512 t0 = _mm512_maskz_loadu_ps(first, top + 2 * ox0);
      const __m512 t1 = _mm512_maskz_loadu_ps(second, top + 2 * ox0 + 16);
      const __m512 b0 = _mm512_maskz_loadu_ps(first, bottom + 2 * ox0);
      const __m512 b1 = _mm512_maskz_loadu_ps(second, bottom + 2 * ox0 + 16);
      __m512 best = _mm512_permutex2var_ps(t0, even, t1);
      __m512i offset = _mm512_setzero_si512();  // of the winner from the window's top-left element
      auto visit = [&](__m512 v, __m512i v_offset) {
        const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        best = _mm512_mask_mov_ps(best, take, v);
        offset = _mm512_mask_mov_epi32(offset, take, v_offset);
      };
      visit(_mm512_permutex2var_ps(t0, odd, t1), _mm512_set1_epi32(1));
      visit(_mm512_permutex2var_ps(b0, even, b1), below);
      visit(_mm512_permutex2var_ps(b0, odd, b1), _mm512_add_epi32(below, _mm512_set1_epi32(1)));
      _mm512_mask_storeu_ps(out + oy * dH + ox0, outputs, best);
      // position = row_pair + 2 * (ox0 + i) + offset
      const __m512i in_pair =
          _mm512_add_epi32(_mm512_add_epi32(lane_x, offset), _mm512_set1_epi32(static_cast<int32_t>(2 * ox0)));
      const __m512i base = _mm512_set1_epi64(row_pair);
      int64_t* idx_row = idx + oy * iH + ox0;
      // (The zero-masked forms of the widening and the extractions: the unmasked ones trip g++ 12's
      // -Wmaybe-uninitialized inside the intrinsics header.)
      const __m512i low = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xFF, in_pair, 0));
      const __m512i high = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xFF, in_pair, 1));
      _mm512_mask_storeu_epi64(idx_row, __mmask8(outputs & 0xFF), _mm512_add_epi64(base, low));
      _mm512_mask_storeu_epi64(idx_row + 8, __mmask8(outputs >> 8), _mm512_add_epi64(base, high));
    }
  }
}
#endif

/// Output widths from which max_pool2d updates whole output rows at once (below it, one window at a time).
constexpr int64_t kRowWiseMinWidth = 0;

template <typename T>
void max_pool2d_impl(const Strided& src, const Strided& dst, const Strided& indices, const Window2d& w) {
  const int64_t N = src.sizes[0], C = src.sizes[1], H = src.sizes[2], W = src.sizes[3];
  const int64_t sN = src.strides[0], sC = src.strides[1], sH = src.strides[2], sW = src.strides[3];
  const int64_t oh = dst.sizes[2], ow = dst.sizes[3];
  const int64_t dN = dst.strides[0], dC = dst.strides[1], dH = dst.strides[2], dW = dst.strides[3];
  const int64_t iN = indices.strides[0], iC = indices.strides[1], iH = indices.strides[2], iW = indices.strides[3];
  // Per output row: the kernel rows inside the image. Per kernel column: the output columns it can reach.
  // Per output column: the first in-image input column of its window (the position reported if nothing beats
  // -inf).
  std::vector<int64_t> ki_lo(oh), ki_hi(oh), kj_lo(w.kernel_w), kj_hi(w.kernel_w), first_x(ow);
  for (int64_t oy = 0; oy < oh; ++oy) {
    const int64_t y0 = oy * w.stride_h - w.pad_h;
    ki_lo[oy] = std::min(ceil_div(-y0, w.dilation_h), w.kernel_h);
    ki_hi[oy] = std::min(ceil_div(H - y0, w.dilation_h), w.kernel_h);
  }
  for (int64_t kj = 0; kj < w.kernel_w; ++kj) {
    const auto range = valid_outputs(kj * w.dilation_w - w.pad_w, w.stride_w, W, ow);
    kj_lo[kj] = range.lo;
    kj_hi[kj] = range.hi;
  }
  for (int64_t ox = 0; ox < ow; ++ox) {
    const int64_t x0 = ox * w.stride_w - w.pad_w;
    first_x[ox] = x0 + std::min(ceil_div(-x0, w.dilation_w), w.kernel_w) * w.dilation_w;
  }
  const T* in = src.ptr<T>();
  T* out = dst.ptr<T>();
  int64_t* idx = indices.ptr<int64_t>();
  const int64_t work = oh * ow * w.kernel_h * w.kernel_w;
  const int64_t grain = std::max<int64_t>(1, kConvGrain / std::max<int64_t>(1, work));
  const bool window_2x2 = w.kernel_h == 2 && w.kernel_w == 2 && w.stride_h == 2 && w.stride_w == 2 &&
                          w.pad_h == 0 && w.pad_w == 0 && w.dilation_h == 1 && w.dilation_w == 1;
  if (window_2x2) {
    parallel_for(N * C, grain, [&](int64_t begin, int64_t end) {
      int64_t n = begin / C, c = begin % C;
      for (int64_t nc = begin; nc < end; ++nc) {
        const T* plane = in + n * sN + c * sC;
        T* out_plane = out + n * dN + c * dC;
        int64_t* idx_plane = idx + n * iN + c * iC;
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>) {
          if (sW == 1 && dW == 1 && iW == 1 && W < (int64_t{1} << 30)) {
            max_pool2x2_plane_avx512(plane, sH, W, oh, ow, out_plane, dH, idx_plane, iH);
            if (++c == C) c = 0, ++n;
            continue;
          }
        }
#endif
        if (sW == 1) {
          max_pool2x2_plane<T, true>(plane, sH, 1, W, oh, ow, out_plane, dH, dW, idx_plane, iH, iW);
        } else {
          max_pool2x2_plane<T, false>(plane, sH, sW, W, oh, ow, out_plane, dH, dW, idx_plane, iH, iW);
        }
        if (++c == C) c = 0, ++n;
      }
    });
    return;
  }
  parallel_for(N * C, grain, [&](int64_t begin, int64_t end) {
    std::vector<T> best(ow);
    std::vector<int64_t> best_index(ow);
    T* __restrict b = best.data();
    int64_t* __restrict bi = best_index.data();
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / C, c = nc % C;
      const T* plane = in + n * sN + c * sC;
      T* out_plane = out + n * dN + c * dC;
      int64_t* idx_plane = idx + n * iN + c * iC;
      if (ow < kRowWiseMinWidth) {
        // Short rows: one window at a time (the same visiting order, so the same tie and NaN rules).
        for (int64_t oy = 0; oy < oh; ++oy) {
          const int64_t y0 = oy * w.stride_h - w.pad_h;
          const int64_t first_y = y0 + ki_lo[oy] * w.dilation_h;
          for (int64_t ox = 0; ox < ow; ++ox) {
            const int64_t x0 = ox * w.stride_w - w.pad_w;
            const int64_t lo = (first_x[ox] - x0) / w.dilation_w;
            const int64_t hi = std::min(ceil_div(W - x0, w.dilation_w), w.kernel_w);
            T best = -std::numeric_limits<T>::infinity();
            int64_t best_at = first_y * W + first_x[ox];
            for (int64_t ki = ki_lo[oy]; ki < ki_hi[oy]; ++ki) {
              const int64_t y = y0 + ki * w.dilation_h;
              const T* in_row = plane + y * sH;
              for (int64_t kj = lo; kj < hi; ++kj) {
                const int64_t x = x0 + kj * w.dilation_w;
                const T v = in_row[x * sW];
                const bool take = (v > best) | (v != v);
                best = take ? v : best;
                best_at = take ? y * W + x : best_at;
              }
            }
            out_plane[oy * dH + ox * dW] = best;
            idx_plane[oy * iH + ox * iW] = best_at;
          }
        }
        continue;
      }
      for (int64_t oy = 0; oy < oh; ++oy) {
        const int64_t y0 = oy * w.stride_h - w.pad_h;
        const int64_t first_y = y0 + ki_lo[oy] * w.dilation_h;
        for (int64_t ox = 0; ox < ow; ++ox) {
          b[ox] = -std::numeric_limits<T>::infinity();
          bi[ox] = first_y * W + first_x[ox];
        }
        for (int64_t ki = ki_lo[oy]; ki < ki_hi[oy]; ++ki) {
          const int64_t y = y0 + ki * w.dilation_h;
          const T* in_row = plane + y * sH;
          for (int64_t kj = 0; kj < w.kernel_w; ++kj) {
            const int64_t x_off = kj * w.dilation_w - w.pad_w;  // input column of output column ox: ox * sw + x_off
            const int64_t step = w.stride_w * sW;
            const T* p = in_row + x_off * sW;
            const int64_t position = y * W + x_off;
            if (step == 1) {
              update_maxima<T, 1>(p, 1, kj_lo[kj], kj_hi[kj], position, w.stride_w, b, bi);
            } else if (step == 2) {
              update_maxima<T, 2>(p, 2, kj_lo[kj], kj_hi[kj], position, w.stride_w, b, bi);
            } else {
              update_maxima<T, 0>(p, step, kj_lo[kj], kj_hi[kj], position, w.stride_w, b, bi);
            }
          }
        }
        T* out_row = out_plane + oy * dH;
        int64_t* idx_row = idx_plane + oy * iH;
        for (int64_t ox = 0; ox < ow; ++ox) {
          out_row[ox * dW] = b[ox];
          idx_row[ox * iW] = bi[ox];
        }
      }
    }
  });
}

}  // namespace

void CpuBackend::im2col(const Strided& src, const Strided& dst, const Window2d& w) {
  check_rank(src, 4, "im2col", "input");
  check_rank(dst, 3, "im2col", "columns");
  check_float(src, "im2col");
  TD_CHECK(dst.dtype == src.dtype, "im2col: columns have dtype ", dtype_name(dst.dtype), " but input has ",
           dtype_name(src.dtype));
  check_window(w, src.sizes[2], src.sizes[3], "im2col");
  const int64_t oh = w.out_h(src.sizes[2]), ow = w.out_w(src.sizes[3]);
  TD_CHECK(dst.sizes[0] == src.sizes[0] &&
               dst.sizes[1] == src.sizes[1] * w.kernel_h * w.kernel_w && dst.sizes[2] == oh * ow,
           "im2col: columns of shape ", dst.sizes, " do not match input ", src.sizes, " with kernel ", w.kernel_h,
           "x", w.kernel_w);
  // Rows of L values with any row and sample strides, or transposed columns (unit stride along C*kh*kw).
  TD_CHECK(!overlaps_itself(dst) && (dst.strides[2] == 1 || dst.strides[1] == 1),
           "im2col: the columns need unit stride along L or along C*kh*kw, and no two elements at one address; got "
           "shape ", dst.sizes, " with strides ", dst.strides);
  if (dst.numel() == 0) return;  // (an empty input has no columns either: N or C is 0)
  if (dst.strides[2] == 1) {
    visit_float(src.dtype, [&](auto t) { im2col_impl<decltype(t)>(src, dst, w); });
  } else {
    visit_float(src.dtype, [&](auto t) { im2row_impl<decltype(t)>(src, dst, w); });
  }
}

void CpuBackend::col2im(const Strided& src, const Strided& dst, const Window2d& w) {
  check_rank(src, 3, "col2im", "columns");
  check_rank(dst, 4, "col2im", "output");
  check_float(src, "col2im");
  TD_CHECK(dst.dtype == src.dtype, "col2im: output has dtype ", dtype_name(dst.dtype), " but columns have ",
           dtype_name(src.dtype));
  check_window(w, dst.sizes[2], dst.sizes[3], "col2im");
  const int64_t oh = w.out_h(dst.sizes[2]), ow = w.out_w(dst.sizes[3]);
  TD_CHECK(src.sizes[0] == dst.sizes[0] &&
               src.sizes[1] == dst.sizes[1] * w.kernel_h * w.kernel_w && src.sizes[2] == oh * ow,
           "col2im: columns of shape ", src.sizes, " do not match output ", dst.sizes, " with kernel ", w.kernel_h,
           "x", w.kernel_w);
  if (src.numel() == 0 || dst.numel() == 0) return;
  visit_float(src.dtype, [&](auto t) { col2im_impl<decltype(t)>(src, dst, w); });
}

void CpuBackend::max_pool2d(const Strided& src, const Strided& dst, const Strided& indices, const Window2d& w) {
  check_rank(src, 4, "max_pool2d", "input");
  check_rank(dst, 4, "max_pool2d", "output");
  check_rank(indices, 4, "max_pool2d", "indices");
  check_float(src, "max_pool2d");
  TD_CHECK(dst.dtype == src.dtype, "max_pool2d: output has dtype ", dtype_name(dst.dtype), " but input has ",
           dtype_name(src.dtype));
  TD_CHECK(indices.dtype == ScalarType::Int64, "max_pool2d: indices must be int64, got ", dtype_name(indices.dtype));
  check_window(w, src.sizes[2], src.sizes[3], "max_pool2d");
  const int64_t oh = w.out_h(src.sizes[2]), ow = w.out_w(src.sizes[3]);
  const Dims expected{src.sizes[0], src.sizes[1], oh, ow};
  TD_CHECK(dst.sizes == expected && indices.sizes == expected,
           "max_pool2d: output ", dst.sizes, " / indices ", indices.sizes, " do not match input ", src.sizes,
           " pooled to ", oh, "x", ow);
  // Every window must reach into the image, or it would have no element to pick.
  auto check_windows = [&](int64_t out, int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                           const char* axis) {
    for (int64_t o = 0; o < out; ++o) {
      const int64_t start = o * stride - pad;
      TD_CHECK(std::min(ceil_div(-start, dilation), kernel) < std::min(ceil_div(in - start, dilation), kernel),
               "max_pool2d: window ", o, " along ", axis, " (kernel ", kernel, ", dilation ", dilation, ", padding ",
               pad, ") lies entirely in the padding of an input of size ", in);
    }
  };
  check_windows(oh, src.sizes[2], w.kernel_h, w.stride_h, w.pad_h, w.dilation_h, "H");
  check_windows(ow, src.sizes[3], w.kernel_w, w.stride_w, w.pad_w, w.dilation_w, "W");
  if (dst.numel() == 0) return;
  visit_float(src.dtype, [&](auto t) { max_pool2d_impl<decltype(t)>(src, dst, indices, w); });
}

}  // namespace tandem::cpu
