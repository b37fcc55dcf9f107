// CPU kernels behind convolution and pooling (NCHW): im2col, its adjoint col2im, and max_pool2d with argmax
// indices. All three take inputs with any strides (the fast paths are for a unit stride along W) and are
// threaded over the N*C image planes, each of which is read and written by exactly one thread.
//
// The inner loops never test for padding per element: for each kernel offset (ki, kj) the range of output
// columns whose input column lies inside the image is computed once, the columns outside it are zero (im2col)
// or skipped (col2im), and the columns inside it are a contiguous copy / add when the stride along W is 1.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"

namespace tandem::cpu {
namespace {

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

void check_float(const Strided& s, const char* op) {
  TD_CHECK(s.dtype == ScalarType::Float32 || s.dtype == ScalarType::Float64, op,
           ": expected a float32 or float64 tensor, got ", dtype_name(s.dtype));
}

void check_rank(const Strided& s, size_t rank, const char* op, const char* what) {
  TD_CHECK(s.ndim() == rank, op, ": expected ", what, " of rank ", rank, ", got shape ", s.sizes);
}

/// Throws unless the window's geometry is valid and its dilated kernel fits in the padded [H, W] image.
void check_window(const Window2d& w, int64_t H, int64_t W, const char* op) {
  TD_CHECK(w.kernel_h > 0 && w.kernel_w > 0 && w.stride_h > 0 && w.stride_w > 0 && w.dilation_h > 0 &&
               w.dilation_w > 0 && w.pad_h >= 0 && w.pad_w >= 0,
           op, ": invalid window (kernel ", w.kernel_h, "x", w.kernel_w, ", stride ", w.stride_h, "x", w.stride_w,
           ", padding ", w.pad_h, "x", w.pad_w, ", dilation ", w.dilation_h, "x", w.dilation_w, ")");
  TD_CHECK(H + 2 * w.pad_h >= w.dilation_h * (w.kernel_h - 1) + 1 &&
               W + 2 * w.pad_w >= w.dilation_w * (w.kernel_w - 1) + 1,
           op, ": kernel ", w.kernel_h, "x", w.kernel_w, " (dilation ", w.dilation_h, "x", w.dilation_w,
           ") is larger than the padded input ", H + 2 * w.pad_h, "x", W + 2 * w.pad_w);
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

template <typename T>
void im2col_impl(const Strided& src, const Strided& dst, const Window2d& w) {
  const int64_t N = src.sizes[0], C = src.sizes[1], H = src.sizes[2], W = src.sizes[3];
  const int64_t sN = src.strides[0], sC = src.strides[1], sH = src.strides[2], sW = src.strides[3];
  const int64_t oh = w.out_h(H), ow = w.out_w(W), L = oh * ow, K = w.kernel_h * w.kernel_w;
  const T* in = src.ptr<T>();
  T* out = dst.ptr<T>();
  parallel_for(N * C, std::max<int64_t>(1, kConvGrain / std::max<int64_t>(1, K * L)), [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / C, c = nc % C;
      const T* plane = in + n * sN + c * sC;
      T* rows = out + nc * K * L;  // dst is [N, C*K, L] contiguous: plane (n, c) owns K consecutive rows
      for (int64_t ki = 0; ki < w.kernel_h; ++ki) {
        for (int64_t kj = 0; kj < w.kernel_w; ++kj) {
          T* row = rows + (ki * w.kernel_w + kj) * L;
          const int64_t x_off = kj * w.dilation_w - w.pad_w;
          const auto [lo, hi] = valid_outputs(x_off, w.stride_w, W, ow);
          const int64_t y_off = ki * w.dilation_h - w.pad_h;
          const auto [ylo, yhi] = valid_outputs(y_off, w.stride_h, H, oh);
          for (int64_t i = 0; i < ylo * ow; ++i) row[i] = T(0);
          for (int64_t i = yhi * ow; i < oh * ow; ++i) row[i] = T(0);
          const int64_t n_valid = hi - lo, step = w.stride_w * sW;
          for (int64_t oy = ylo; oy < yhi; ++oy) {
            T* __restrict o = row + oy * ow;
            const T* __restrict src_row = plane + (oy * w.stride_h + y_off) * sH + (lo * w.stride_w + x_off) * sW;
            for (int64_t ox = 0; ox < lo; ++ox) o[ox] = T(0);
            if (step == 1) {
              copy_short(o + lo, src_row, n_valid);
            } else {
              for (int64_t i = 0; i < n_valid; ++i) o[lo + i] = src_row[i * step];
            }
            for (int64_t ox = hi; ox < ow; ++ox) o[ox] = T(0);
          }
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// col2im (accumulating)
// ---------------------------------------------------------------------------------------------------------------
template <typename T>
void col2im_impl(const Strided& src, const Strided& dst, const Window2d& w) {
  const int64_t N = dst.sizes[0], C = dst.sizes[1], H = dst.sizes[2], W = dst.sizes[3];
  const int64_t dN = dst.strides[0], dC = dst.strides[1], dH = dst.strides[2], dW = dst.strides[3];
  const int64_t sN = src.strides[0], sR = src.strides[1], sL = src.strides[2];
  const int64_t oh = w.out_h(H), ow = w.out_w(W), L = oh * ow, K = w.kernel_h * w.kernel_w;
  const T* in = src.ptr<T>();
  T* out = dst.ptr<T>();
  parallel_for(N * C, std::max<int64_t>(1, kConvGrain / std::max<int64_t>(1, K * L)), [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / C, c = nc % C;
      T* plane = out + n * dN + c * dC;
      for (int64_t ki = 0; ki < w.kernel_h; ++ki) {
        for (int64_t kj = 0; kj < w.kernel_w; ++kj) {
          const T* row = in + n * sN + (c * K + ki * w.kernel_w + kj) * sR;
          const int64_t x_off = kj * w.dilation_w - w.pad_w;
          const auto [lo, hi] = valid_outputs(x_off, w.stride_w, W, ow);
          const int64_t y_off = ki * w.dilation_h - w.pad_h;
          const auto [ylo, yhi] = valid_outputs(y_off, w.stride_h, H, oh);
          const int64_t n_valid = hi - lo, step = w.stride_w * dW;
          for (int64_t oy = ylo; oy < yhi; ++oy) {
            const T* col = row + (oy * ow + lo) * sL;
            T* dst_row = plane + (oy * w.stride_h + y_off) * dH + (lo * w.stride_w + x_off) * dW;
            if (step == 1 && sL == 1) {
              for (int64_t i = 0; i < n_valid; ++i) dst_row[i] += col[i];
            } else {
              for (int64_t i = 0; i < n_valid; ++i) dst_row[i * step] += col[i * sL];
            }
          }
        }
      }
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
  parallel_for(N * C, std::max<int64_t>(1, kConvGrain / std::max<int64_t>(1, work)), [&](int64_t begin, int64_t end) {
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
  TD_CHECK(dst.is_contiguous(), "im2col: the columns must be contiguous");
  if (src.numel() == 0 || dst.numel() == 0) {
    if (dst.numel() > 0) std::memset(dst.data, 0, dst.numel() * element_size(dst.dtype));
    return;
  }
  visit_float(src.dtype, [&](auto t) { im2col_impl<decltype(t)>(src, dst, w); });
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
