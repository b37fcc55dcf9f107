// Argument checks shared by every backend's sliding-window kernels (im2col, col2im, max_pool2d): the same
// misuse gives the same tandem::Error on every device.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/backend.h"

namespace tandem::window_checks {

inline void check_float(const Strided& s, const char* op) {
  TD_CHECK(s.dtype == ScalarType::Float32 || s.dtype == ScalarType::Float64, op,
           ": expected a float32 or float64 tensor, got ", dtype_name(s.dtype));
}

inline void check_rank(const Strided& s, size_t rank, const char* op, const char* what) {
  TD_CHECK(s.ndim() == rank, op, ": expected ", what, " of rank ", rank, ", got shape ", s.sizes);
}

/// Throws unless the window's geometry is valid and its dilated kernel fits in the padded [H, W] image.
inline void check_window(const Window2d& w, int64_t H, int64_t W, const char* op) {
  TD_CHECK(w.kernel_h > 0 && w.kernel_w > 0 && w.stride_h > 0 && w.stride_w > 0 && w.dilation_h > 0 &&
               w.dilation_w > 0 && w.pad_h >= 0 && w.pad_w >= 0,
           op, ": invalid window (kernel ", w.kernel_h, "x", w.kernel_w, ", stride ", w.stride_h, "x", w.stride_w,
           ", padding ", w.pad_h, "x", w.pad_w, ", dilation ", w.dilation_h, "x", w.dilation_w, ")");
  TD_CHECK(H + 2 * w.pad_h >= w.dilation_h * (w.kernel_h - 1) + 1 &&
               W + 2 * w.pad_w >= w.dilation_w * (w.kernel_w - 1) + 1,
           op, ": kernel ", w.kernel_h, "x", w.kernel_w, " (dilation ", w.dilation_h, "x", w.dilation_w,
           ") is larger than the padded input ", H + 2 * w.pad_h, "x", W + 2 * w.pad_w);
}

}  // namespace tandem::window_checks
