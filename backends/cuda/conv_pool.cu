// CUDA kernels behind convolution and pooling (NCHW): im2col, its adjoint col2im, and max_pool2d with argmax
// indices. Inputs may have any strides.
//   * im2col: one thread per column element (n, c, ki, kj, oy, ox) reads its input pixel, or writes 0 where the
//     window hits the padding.
//   * col2im: one thread per output pixel (n, c, y, x) gathers every column element that maps onto it, so no
//     two threads ever write the same pixel and no atomics are needed. It adds them in kernel-offset order
//     (ki, kj) onto the pixel's value, the order the CPU backend adds them in, so the results are the same bits.
//   * max_pool2d: one thread per output visits its window in row-major kernel order with the CPU's rules: the
//     first maximum wins ties, a NaN wins (and the last NaN's position is kept), padding never wins, and a
//     window whose elements are all -inf reports its first in-image position.
#include <math_constants.h>

#include <algorithm>

#include "backends/cuda/cuda_backend.h"
#include "backends/window_checks.h"
#include "backends/cuda/launch.cuh"

namespace tandem::cuda {
namespace {

using namespace ::tandem::window_checks;

using detail::kBlockSize;

__host__ __device__ __forceinline__ int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

/// The geometry of one call, passed to the kernels by value.
struct Geometry {
  int64_t N, C, H, W, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

Geometry make_geometry(int64_t N, int64_t C, int64_t H, int64_t W, const Window2d& w) {
  return Geometry{N,          C,          H,          W,        w.out_h(H), w.out_w(W), w.kernel_h,
                  w.kernel_w, w.stride_h, w.stride_w, w.pad_h,  w.pad_w,    w.dilation_h, w.dilation_w};
}

/// Strides of a 4-D ([N, C, H, W]) or 3-D ([N, rows, L]) operand.
struct Strides4 {
  int64_t s0, s1, s2, s3;
};

Strides4 strides_of(const Strided& s) {
  return Strides4{s.strides[0], s.strides[1], s.strides[2], s.ndim() > 3 ? s.strides[3] : 0};
}

template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    im2col_kernel(const T* __restrict__ src, Strides4 ss, T* __restrict__ dst, Geometry g, int64_t total) {
  const int64_t L = g.oh * g.ow, K = g.kh * g.kw;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    // dst is [N, C*K, L] contiguous: i = ((n * C + c) * K + k) * L + l.
    const int64_t l = i % L, rest = i / L;
    const int64_t k = rest % K, nc = rest / K;
    const int64_t c = nc % g.C, n = nc / g.C;
    const int64_t ki = k / g.kw, kj = k % g.kw;
    const int64_t oy = l / g.ow, ox = l % g.ow;
    const int64_t y = oy * g.sh - g.ph + ki * g.dh, x = ox * g.sw - g.pw + kj * g.dw;
    const bool inside = y >= 0 && y < g.H && x >= 0 && x < g.W;
    dst[i] = inside ? src[n * ss.s0 + c * ss.s1 + y * ss.s2 + x * ss.s3] : T(0);
  }
}

template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    col2im_kernel(const T* __restrict__ src, Strides4 ss, T* __restrict__ dst, Strides4 ds, Geometry g,
                  int64_t total) {
  const int64_t K = g.kh * g.kw;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t x = i % g.W, rest = i / g.W;
    const int64_t y = rest % g.H, nc = rest / g.H;
    const int64_t c = nc % g.C, n = nc / g.C;
    T* pixel = dst + n * ds.s0 + c * ds.s1 + y * ds.s2 + x * ds.s3;
    T acc = *pixel;
    const T* columns = src + n * ss.s0;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      const int64_t ty = y + g.ph - ki * g.dh;  // = oy * stride_h for the output row oy that reads (y, x)
      if (ty < 0 || ty % g.sh != 0) continue;
      const int64_t oy = ty / g.sh;
      if (oy >= g.oh) continue;
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const int64_t tx = x + g.pw - kj * g.dw;
        if (tx < 0 || tx % g.sw != 0) continue;
        const int64_t ox = tx / g.sw;
        if (ox >= g.ow) continue;
        acc += columns[(c * K + ki * g.kw + kj) * ss.s1 + (oy * g.ow + ox) * ss.s2];
      }
    }
    *pixel = acc;
  }
}

template <typename T>
__device__ __forceinline__ T negative_infinity() {
  if constexpr (std::is_same_v<T, float>) return -CUDART_INF_F;
  else return -CUDART_INF;
}

template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    max_pool2d_kernel(const T* __restrict__ src, Strides4 ss, T* __restrict__ dst, Strides4 ds,
                      int64_t* __restrict__ indices, Strides4 is, Geometry g, int64_t total) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ox = i % g.ow, rest = i / g.ow;
    const int64_t oy = rest % g.oh, nc = rest / g.oh;
    const int64_t c = nc % g.C, n = nc / g.C;
    const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
    // The kernel rows and columns whose input lies inside the image.
    const int64_t ki_lo = min(ceil_div(-y0, g.dh), g.kh), ki_hi = min(ceil_div(g.H - y0, g.dh), g.kh);
    const int64_t kj_lo = min(ceil_div(-x0, g.dw), g.kw), kj_hi = min(ceil_div(g.W - x0, g.dw), g.kw);
    const T* plane = src + n * ss.s0 + c * ss.s1;
    T best = negative_infinity<T>();
    int64_t best_at = (y0 + ki_lo * g.dh) * g.W + (x0 + kj_lo * g.dw);
    for (int64_t ki = ki_lo; ki < ki_hi; ++ki) {
      const int64_t y = y0 + ki * g.dh;
      for (int64_t kj = kj_lo; kj < kj_hi; ++kj) {
        const int64_t x = x0 + kj * g.dw;
        const T v = plane[y * ss.s2 + x * ss.s3];
        if (v > best || v != v) {
          best = v;
          best_at = y * g.W + x;
        }
      }
    }
    dst[n * ds.s0 + c * ds.s1 + oy * ds.s2 + ox * ds.s3] = best;
    indices[n * is.s0 + c * is.s1 + oy * is.s2 + ox * is.s3] = best_at;
  }
}

}  // namespace

void CudaBackend::im2col(const Strided& src, const Strided& dst, const Window2d& w) {
  check_rank(src, 4, "im2col", "input");
  check_rank(dst, 3, "im2col", "columns");
  check_float(src, "im2col");
  TD_CHECK(dst.dtype == src.dtype, "im2col: columns have dtype ", dtype_name(dst.dtype), " but input has ",
           dtype_name(src.dtype));
  check_window(w, src.sizes[2], src.sizes[3], "im2col");
  const int64_t oh = w.out_h(src.sizes[2]), ow = w.out_w(src.sizes[3]);
  TD_CHECK(dst.sizes[0] == src.sizes[0] && dst.sizes[1] == src.sizes[1] * w.kernel_h * w.kernel_w &&
               dst.sizes[2] == oh * ow,
           "im2col: columns of shape ", dst.sizes, " do not match input ", src.sizes, " with kernel ", w.kernel_h,
           "x", w.kernel_w);
  TD_CHECK(dst.is_contiguous(), "im2col: the columns must be contiguous");
  detail::check_device_operand(src, "im2col", "input");
  detail::check_device_operand(dst, "im2col", "columns");
  const int64_t total = dst.numel();
  if (total == 0) return;
  if (src.numel() == 0) {
    fill(dst, 0);
    return;
  }
  const Geometry g = make_geometry(src.sizes[0], src.sizes[1], src.sizes[2], src.sizes[3], w);
  visit_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      im2col_kernel<T><<<detail::grid_for(total, kBlockSize), kBlockSize, 0, detail::stream()>>>(
          src.ptr<const T>(), strides_of(src), dst.ptr<T>(), g, total);
      TD_CUDA_CHECK_LAUNCH("im2col_kernel");
    }
  });
}

void CudaBackend::col2im(const Strided& src, const Strided& dst, const Window2d& w) {
  check_rank(src, 3, "col2im", "columns");
  check_rank(dst, 4, "col2im", "output");
  check_float(src, "col2im");
  TD_CHECK(dst.dtype == src.dtype, "col2im: output has dtype ", dtype_name(dst.dtype), " but columns have ",
           dtype_name(src.dtype));
  check_window(w, dst.sizes[2], dst.sizes[3], "col2im");
  const int64_t oh = w.out_h(dst.sizes[2]), ow = w.out_w(dst.sizes[3]);
  TD_CHECK(src.sizes[0] == dst.sizes[0] && src.sizes[1] == dst.sizes[1] * w.kernel_h * w.kernel_w &&
               src.sizes[2] == oh * ow,
           "col2im: columns of shape ", src.sizes, " do not match output ", dst.sizes, " with kernel ", w.kernel_h,
           "x", w.kernel_w);
  detail::check_device_operand(src, "col2im", "columns");
  detail::check_device_operand(dst, "col2im", "output");
  if (src.numel() == 0 || dst.numel() == 0) return;
  const int64_t total = dst.numel();
  const Geometry g = make_geometry(dst.sizes[0], dst.sizes[1], dst.sizes[2], dst.sizes[3], w);
  visit_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      col2im_kernel<T><<<detail::grid_for(total, kBlockSize), kBlockSize, 0, detail::stream()>>>(
          src.ptr<const T>(), strides_of(src), dst.ptr<T>(), strides_of(dst), g, total);
      TD_CUDA_CHECK_LAUNCH("col2im_kernel");
    }
  });
}

void CudaBackend::max_pool2d(const Strided& src, const Strided& dst, const Strided& indices, const Window2d& w) {
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
  TD_CHECK(dst.sizes == expected && indices.sizes == expected, "max_pool2d: output ", dst.sizes, " / indices ",
           indices.sizes, " do not match input ", src.sizes, " pooled to ", oh, "x", ow);
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
  detail::check_device_operand(src, "max_pool2d", "input");
  detail::check_device_operand(dst, "max_pool2d", "output");
  detail::check_device_operand(indices, "max_pool2d", "indices");
  const int64_t total = dst.numel();
  if (total == 0) return;
  const Geometry g = make_geometry(src.sizes[0], src.sizes[1], src.sizes[2], src.sizes[3], w);
  visit_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      max_pool2d_kernel<T><<<detail::grid_for(total, kBlockSize), kBlockSize, 0, detail::stream()>>>(
          src.ptr<const T>(), strides_of(src), dst.ptr<T>(), strides_of(dst), indices.ptr<int64_t>(),
          strides_of(indices), g, total);
      TD_CUDA_CHECK_LAUNCH("max_pool2d_kernel");
    }
  });
}

}  // namespace tandem::cuda
