// The CPU convolution/pooling kernels (im2col, col2im, max_pool2d) against naive loops written here, on raw
// buffers: strides, padding, dilation, non-contiguous inputs, the column layouts conv2d uses, float32/float64,
// threading, NaN and padding rules of max pooling (and its 2x2 path), the matrix products conv2d runs, and the
// errors for bad operands.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/parallel.h"

namespace tandem::cpu {
namespace {

template <typename T>
Strided make_strided(std::vector<T>& data, const Dims& sizes, const Dims& strides, int64_t offset = 0) {
  Strided s;
  s.data = data.data() + offset;
  s.dtype = dtype_of<T>::value;
  s.sizes = sizes;
  s.strides = strides;
  return s;
}

template <typename T>
std::vector<T> random_values(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist;
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(gen));
  return v;
}

struct Geometry {
  int64_t N, C, H, W;
  Window2d w;
};

Window2d window(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  Window2d w;
  w.kernel_h = kh, w.kernel_w = kw, w.stride_h = sh, w.stride_w = sw;
  w.pad_h = ph, w.pad_w = pw, w.dilation_h = dh, w.dilation_w = dw;
  return w;
}

std::vector<Geometry> geometries() {
  return {
      {2, 3, 7, 6, window(3, 3, 1, 1, 0, 0, 1, 1)},
      {2, 2, 8, 9, window(3, 2, 2, 1, 1, 1, 1, 1)},
      {1, 3, 9, 10, window(3, 3, 2, 3, 2, 1, 2, 2)},
      {3, 1, 5, 5, window(5, 5, 1, 1, 2, 2, 1, 1)},
      {2, 4, 6, 11, window(1, 4, 1, 2, 0, 3, 1, 3)},
      {64, 2, 12, 12, window(5, 5, 1, 1, 0, 0, 1, 1)},  // large enough to run on several threads
  };
}

/// Element (n, c, y, x) of a strided NCHW buffer, or 0 outside the image.
template <typename T>
T at(const std::vector<T>& data, const Dims& strides, int64_t offset, int64_t n, int64_t c, int64_t y, int64_t x,
     int64_t H, int64_t W) {
  if (y < 0 || y >= H || x < 0 || x >= W) return T(0);
  return data[offset + n * strides[0] + c * strides[1] + y * strides[2] + x * strides[3]];
}

template <typename T>
std::vector<T> naive_im2col(const std::vector<T>& in, const Dims& strides, int64_t offset, const Geometry& g) {
  const Window2d& w = g.w;
  const int64_t oh = w.out_h(g.H), ow = w.out_w(g.W), K = w.kernel_h * w.kernel_w;
  std::vector<T> cols(g.N * g.C * K * oh * ow);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t ki = 0; ki < w.kernel_h; ++ki)
        for (int64_t kj = 0; kj < w.kernel_w; ++kj)
          for (int64_t oy = 0; oy < oh; ++oy)
            for (int64_t ox = 0; ox < ow; ++ox) {
              const int64_t y = oy * w.stride_h - w.pad_h + ki * w.dilation_h;
              const int64_t x = ox * w.stride_w - w.pad_w + kj * w.dilation_w;
              const int64_t row = c * K + ki * w.kernel_w + kj;
              cols[((n * g.C * K) + row) * oh * ow + oy * ow + ox] = at(in, strides, offset, n, c, y, x, g.H, g.W);
            }
  return cols;
}

/// The three layouts every kernel is checked with: contiguous, channels-last, and every other column of a
/// twice-wider buffer (a stride of 2 along W).
std::vector<Dims> layouts(const Geometry& g) {
  return {
      {g.C * g.H * g.W, g.H * g.W, g.W, 1},
      {g.H * g.W * g.C, 1, g.W * g.C, g.C},
      {g.C * g.H * g.W * 2, g.H * g.W * 2, g.W * 2, 2},
  };
}

template <typename T>
void check_im2col() {
  for (const Geometry& g : geometries()) {
    for (const Dims& strides : layouts(g)) {
      const int64_t extent = g.N * strides[0];
      auto in = random_values<T>(extent + 3, 1);
      const int64_t oh = g.w.out_h(g.H), ow = g.w.out_w(g.W), rows = g.C * g.w.kernel_h * g.w.kernel_w;
      std::vector<T> cols(g.N * rows * oh * ow, T(123));  // garbage: every entry must be written
      cpu_backend().im2col(make_strided(in, {g.N, g.C, g.H, g.W}, strides, 3),
                           make_strided(cols, {g.N, rows, oh * ow}, {rows * oh * ow, oh * ow, 1}), g.w);
      EXPECT_EQ(cols, naive_im2col(in, strides, 3, g)) << "geometry N=" << g.N << " C=" << g.C << " H=" << g.H
                                                       << " W=" << g.W << " strides " << strides;
    }
  }
}

TEST(Im2colKernel, MatchesNaiveLoopsFloat32) { check_im2col<float>(); }
TEST(Im2colKernel, MatchesNaiveLoopsFloat64) { check_im2col<double>(); }

/// The column layouts conv2d asks for besides the contiguous one, as strides of [N, rows, L]: the rows of a block
/// side by side ([rows, N, L], one [rows, N*L] matrix), padded rows, and transposed columns (each window one
/// contiguous row: [N, L, rows]; also with padded windows).
std::vector<std::pair<const char*, Dims>> column_layouts(int64_t N, int64_t rows, int64_t L) {
  return {
      {"rows of the block side by side", {L, N * L, 1}},
      {"padded rows", {rows * (L + 3), L + 3, 1}},
      {"transposed", {L * rows, 1, rows}},
      {"transposed, padded windows", {L * (rows + 5), 1, rows + 5}},
  };
}

template <typename T>
void check_im2col_layouts() {
  for (const Geometry& g : geometries()) {
    for (const Dims& strides : layouts(g)) {
      auto in = random_values<T>(g.N * strides[0] + 3, 8);
      const int64_t L = g.w.out_h(g.H) * g.w.out_w(g.W), rows = g.C * g.w.kernel_h * g.w.kernel_w;
      const std::vector<T> expected = naive_im2col(in, strides, 3, g);  // contiguous [N, rows, L]
      for (const auto& [name, col_strides] : column_layouts(g.N, rows, L)) {
        const int64_t extent = (g.N - 1) * col_strides[0] + (rows - 1) * col_strides[1] + (L - 1) * col_strides[2] + 1;
        std::vector<T> cols(static_cast<size_t>(extent), T(123));  // garbage: every entry must be written
        for (int threads : {1, 2}) {
          const int saved = get_num_threads();
          set_num_threads(threads);
          cpu_backend().im2col(make_strided(in, {g.N, g.C, g.H, g.W}, strides, 3),
                               make_strided(cols, {g.N, rows, L}, col_strides), g.w);
          set_num_threads(saved);
          for (int64_t n = 0; n < g.N; ++n)
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t l = 0; l < L; ++l)
                ASSERT_EQ(cols[n * col_strides[0] + r * col_strides[1] + l * col_strides[2]],
                          expected[(n * rows + r) * L + l])
                    << name << " columns, element (" << n << ", " << r << ", " << l << "), geometry N=" << g.N
                    << " C=" << g.C << " H=" << g.H << " W=" << g.W << ", input strides " << strides << ", " << threads
                    << " threads";
        }
      }
    }
  }
}

TEST(Im2colKernel, BlockPaddedAndTransposedColumnLayoutsFloat32) { check_im2col_layouts<float>(); }
TEST(Im2colKernel, BlockPaddedAndTransposedColumnLayoutsFloat64) { check_im2col_layouts<double>(); }

TEST(Im2colKernel, WindowsReachingPastBothSidesOfTheImage) {
  // Kernels wider than the image once padded on both sides, so that no window lies inside along W (and, with
  // the second window, along H): every value goes through the value-by-value path of transposed columns.
  for (const Geometry& g :
       {Geometry{2, 2, 4, 3, window(3, 5, 1, 1, 1, 2, 1, 1)}, Geometry{1, 3, 3, 4, window(5, 3, 2, 1, 2, 1, 1, 1)}}) {
    auto in = random_values<float>(g.N * g.C * g.H * g.W, 9);
    const Dims strides{g.C * g.H * g.W, g.H * g.W, g.W, 1};
    const int64_t L = g.w.out_h(g.H) * g.w.out_w(g.W), rows = g.C * g.w.kernel_h * g.w.kernel_w;
    const std::vector<float> expected = naive_im2col(in, strides, 0, g);
    std::vector<float> cols(g.N * rows * L, 123.f);
    cpu_backend().im2col(make_strided(in, {g.N, g.C, g.H, g.W}, strides),
                         make_strided(cols, {g.N, rows, L}, {L * rows, 1, rows}), g.w);
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t l = 0; l < L; ++l)
          ASSERT_EQ(cols[(n * L + l) * rows + r], expected[(n * rows + r) * L + l]) << n << " " << r << " " << l;
  }
}

template <typename T>
void check_col2im() {
  for (const Geometry& g : geometries()) {
    const int64_t oh = g.w.out_h(g.H), ow = g.w.out_w(g.W), K = g.w.kernel_h * g.w.kernel_w, rows = g.C * K;
    auto cols = random_values<T>(g.N * rows * oh * ow, 2);
    // dst starts non-zero: col2im accumulates.
    auto start = random_values<T>(g.N * g.C * g.H * g.W, 3);
    std::vector<T> expected = start;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t ki = 0; ki < g.w.kernel_h; ++ki)
          for (int64_t kj = 0; kj < g.w.kernel_w; ++kj)
            for (int64_t oy = 0; oy < oh; ++oy)
              for (int64_t ox = 0; ox < ow; ++ox) {
                const int64_t y = oy * g.w.stride_h - g.w.pad_h + ki * g.w.dilation_h;
                const int64_t x = ox * g.w.stride_w - g.w.pad_w + kj * g.w.dilation_w;
                if (y < 0 || y >= g.H || x < 0 || x >= g.W) continue;
                expected[((n * g.C + c) * g.H + y) * g.W + x] +=
                    cols[(n * rows + c * K + ki * g.w.kernel_w + kj) * oh * ow + oy * ow + ox];
              }
    std::vector<T> dst = start;
    cpu_backend().col2im(make_strided(cols, {g.N, rows, oh * ow}, {rows * oh * ow, oh * ow, 1}),
                         make_strided(dst, {g.N, g.C, g.H, g.W}, {g.C * g.H * g.W, g.H * g.W, g.W, 1}), g.w);
    ASSERT_EQ(dst.size(), expected.size());
    for (size_t i = 0; i < dst.size(); ++i) ASSERT_NEAR(dst[i], expected[i], 1e-5) << "element " << i;

    // Columns given transposed in memory ([N, L, rows] storage read as [N, rows, L]) give the same result.
    std::vector<T> cols_t(cols.size());
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t l = 0; l < oh * ow; ++l)
          cols_t[(n * oh * ow + l) * rows + r] = cols[(n * rows + r) * oh * ow + l];
    std::vector<T> dst_t = start;
    cpu_backend().col2im(make_strided(cols_t, {g.N, rows, oh * ow}, {rows * oh * ow, 1, rows}),
                         make_strided(dst_t, {g.N, g.C, g.H, g.W}, {g.C * g.H * g.W, g.H * g.W, g.W, 1}), g.w);
    for (size_t i = 0; i < dst.size(); ++i) ASSERT_NEAR(dst_t[i], expected[i], 1e-5) << "element " << i;

    // ... and so do columns with the rows of the block side by side ([rows, N, L] storage).
    const int64_t L = oh * ow;
    std::vector<T> cols_b(cols.size());
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t l = 0; l < L; ++l) cols_b[(r * g.N + n) * L + l] = cols[(n * rows + r) * L + l];
    std::vector<T> dst_b = start;
    cpu_backend().col2im(make_strided(cols_b, {g.N, rows, L}, {L, g.N * L, 1}),
                         make_strided(dst_b, {g.N, g.C, g.H, g.W}, {g.C * g.H * g.W, g.H * g.W, g.W, 1}), g.w);
    for (size_t i = 0; i < dst.size(); ++i) ASSERT_NEAR(dst_b[i], expected[i], 1e-5) << "element " << i;
  }
}

TEST(Col2imKernel, AccumulatesLikeNaiveLoopsFloat32) { check_col2im<float>(); }
TEST(Col2imKernel, AccumulatesLikeNaiveLoopsFloat64) { check_col2im<double>(); }

TEST(Col2imKernel, IsTheAdjointOfIm2col) {
  // <im2col(x), y> == <x, col2im(y)> for every geometry.
  for (const Geometry& g : geometries()) {
    const int64_t oh = g.w.out_h(g.H), ow = g.w.out_w(g.W), rows = g.C * g.w.kernel_h * g.w.kernel_w;
    const Dims image{g.N, g.C, g.H, g.W}, image_strides{g.C * g.H * g.W, g.H * g.W, g.W, 1};
    const Dims col_sizes{g.N, rows, oh * ow}, col_strides{rows * oh * ow, oh * ow, 1};
    auto x = random_values<double>(g.N * g.C * g.H * g.W, 4);
    auto y = random_values<double>(g.N * rows * oh * ow, 5);
    std::vector<double> cols(y.size()), back(x.size(), 0.0);
    cpu_backend().im2col(make_strided(x, image, image_strides), make_strided(cols, col_sizes, col_strides), g.w);
    cpu_backend().col2im(make_strided(y, col_sizes, col_strides), make_strided(back, image, image_strides), g.w);
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < y.size(); ++i) lhs += cols[i] * y[i];
    for (size_t i = 0; i < x.size(); ++i) rhs += x[i] * back[i];
    EXPECT_NEAR(lhs, rhs, 1e-9 * (1 + std::abs(lhs)));
  }
}

template <typename T>
void naive_max_pool(const std::vector<T>& in, const Dims& strides, const Geometry& g, std::vector<T>& values,
                    std::vector<int64_t>& indices) {
  const int64_t oh = g.w.out_h(g.H), ow = g.w.out_w(g.W);
  values.assign(g.N * g.C * oh * ow, T(0));
  indices.assign(values.size(), -1);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          T best = -std::numeric_limits<T>::infinity();
          int64_t best_index = -1;
          for (int64_t ki = 0; ki < g.w.kernel_h; ++ki)
            for (int64_t kj = 0; kj < g.w.kernel_w; ++kj) {
              const int64_t y = oy * g.w.stride_h - g.w.pad_h + ki * g.w.dilation_h;
              const int64_t x = ox * g.w.stride_w - g.w.pad_w + kj * g.w.dilation_w;
              if (y < 0 || y >= g.H || x < 0 || x >= g.W) continue;
              const T v = at(in, strides, 0, n, c, y, x, g.H, g.W);
              if (best_index < 0 || v > best || std::isnan(v)) {
                best = v;
                best_index = y * g.W + x;
              }
            }
          const int64_t o = ((n * g.C + c) * oh + oy) * ow + ox;
          values[o] = best;
          indices[o] = best_index;
        }
}

template <typename T>
void check_max_pool() {
  const std::vector<Geometry> pools = {
      {2, 3, 8, 8, window(2, 2, 2, 2, 0, 0, 1, 1)},
      {2, 2, 7, 9, window(3, 3, 2, 2, 1, 1, 1, 1)},
      {1, 3, 9, 10, window(3, 2, 1, 2, 1, 1, 2, 3)},
      {32, 4, 12, 12, window(2, 2, 2, 2, 0, 0, 1, 1)},
  };
  for (const Geometry& g : pools) {
    for (const Dims& strides : layouts(g)) {
      auto in = random_values<T>(g.N * strides[0], 6);
      const int64_t oh = g.w.out_h(g.H), ow = g.w.out_w(g.W);
      const Dims out_sizes{g.N, g.C, oh, ow}, out_strides{g.C * oh * ow, oh * ow, ow, 1};
      std::vector<T> values(g.N * g.C * oh * ow);
      std::vector<int64_t> indices(values.size());
      cpu_backend().max_pool2d(make_strided(in, {g.N, g.C, g.H, g.W}, strides),
                               make_strided(values, out_sizes, out_strides), make_strided(indices, out_sizes, out_strides),
                               g.w);
      std::vector<T> expected_values;
      std::vector<int64_t> expected_indices;
      naive_max_pool(in, strides, g, expected_values, expected_indices);
      EXPECT_EQ(values, expected_values);
      EXPECT_EQ(indices, expected_indices);
    }
  }
}

TEST(MaxPool2dKernel, MatchesNaiveLoopsFloat32) { check_max_pool<float>(); }
TEST(MaxPool2dKernel, MatchesNaiveLoopsFloat64) { check_max_pool<double>(); }

TEST(MaxPool2dKernel, PaddingNeverWins) {
  // All values negative: a padded zero would beat them if padding took part.
  std::vector<float> in(16);
  for (size_t i = 0; i < in.size(); ++i) in[i] = -1.0f - static_cast<float>(i);
  const Window2d w = window(3, 3, 2, 2, 1, 1, 1, 1);  // 4x4 -> 2x2
  std::vector<float> out(4);
  std::vector<int64_t> idx(4);
  cpu_backend().max_pool2d(make_strided(in, {1, 1, 4, 4}, {16, 16, 4, 1}), make_strided(out, {1, 1, 2, 2}, {4, 4, 2, 1}),
                           make_strided(idx, {1, 1, 2, 2}, {4, 4, 2, 1}), w);
  EXPECT_EQ(out, (std::vector<float>{-1, -2, -5, -6}));
  EXPECT_EQ(idx, (std::vector<int64_t>{0, 1, 4, 5}));
}

TEST(MaxPool2dKernel, NanWinsAndAllMinusInfinityKeepsAnIndexInsideTheWindow) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> in = {1, nan, 3, 4, /**/ -inf, -inf, 5, 6, /**/ 7, 8, 9, 10, /**/ -inf, -inf, 11, nan};
  std::vector<float> out(4);
  std::vector<int64_t> idx(4);
  cpu_backend().max_pool2d(make_strided(in, {1, 1, 4, 4}, {16, 16, 4, 1}), make_strided(out, {1, 1, 2, 2}, {4, 4, 2, 1}),
                           make_strided(idx, {1, 1, 2, 2}, {4, 4, 2, 1}), window(2, 2, 2, 2, 0, 0, 1, 1));
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(idx[0], 1);
  EXPECT_EQ(out[1], 6);
  EXPECT_EQ(idx[1], 7);
  EXPECT_EQ(out[2], 8);
  EXPECT_EQ(idx[2], 9);
  EXPECT_TRUE(std::isnan(out[3]));
  EXPECT_EQ(idx[3], 15);
  // A window of -inf only still reports a position inside it.
  std::vector<float> all_inf(4, -inf), one(1);
  std::vector<int64_t> one_idx(1);
  cpu_backend().max_pool2d(make_strided(all_inf, {1, 1, 2, 2}, {4, 4, 2, 1}), make_strided(one, {1, 1, 1, 1}, {1, 1, 1, 1}),
                           make_strided(one_idx, {1, 1, 1, 1}, {1, 1, 1, 1}), window(2, 2, 2, 2, 0, 0, 1, 1));
  EXPECT_EQ(one[0], -inf);
  EXPECT_EQ(one_idx[0], 0);
}

template <typename T>
void check_max_pool_2x2() {
  // The 2x2 window with stride 2 has a path of its own: odd heights and widths (the last row or column is left
  // out), rows of more than 16 outputs (processed in chunks), tiny planes, every input layout, non-contiguous
  // outputs, and 1 or 2 threads.
  const Window2d w = window(2, 2, 2, 2, 0, 0, 1, 1);
  const std::vector<Geometry> pools = {
      {3, 2, 7, 9, w}, {2, 3, 6, 41, w}, {1, 1, 2, 2, w}, {2, 2, 5, 34, w}, {16, 5, 28, 28, w}, {1, 2, 3, 65, w},
  };
  for (const Geometry& g : pools) {
    const int64_t oh = g.w.out_h(g.H), ow = g.w.out_w(g.W);
    for (const Dims& strides : layouts(g)) {
      auto in = random_values<T>(g.N * strides[0], 10);
      // Ties and NaNs: repeat some values inside windows, and put NaNs at a few places (one of them at the start
      // of the second chunk of 16 outputs, one at a row's last column).
      for (size_t i = 0; i + 1 < in.size(); i += 7) in[i + 1] = in[i];
      for (size_t i : {size_t(5), size_t(32), size_t(33), size_t(2 * g.W - 1)})
        if (i < in.size()) in[i] = std::numeric_limits<T>::quiet_NaN();
      std::vector<T> expected_values;
      std::vector<int64_t> expected_indices;
      naive_max_pool(in, strides, g, expected_values, expected_indices);
      const Dims out_sizes{g.N, g.C, oh, ow};
      const std::vector<Dims> out_layouts = {{g.C * oh * ow, oh * ow, ow, 1}, {g.C * oh * ow, 1, ow * g.C, g.C}};
      for (const Dims& out_strides : out_layouts) {
        for (int threads : {1, 2}) {
          const int saved = get_num_threads();
          set_num_threads(threads);
          std::vector<T> values(g.N * g.C * oh * ow);
          std::vector<int64_t> indices(values.size());
          cpu_backend().max_pool2d(make_strided(in, {g.N, g.C, g.H, g.W}, strides),
                                   make_strided(values, out_sizes, out_strides),
                                   make_strided(indices, out_sizes, out_strides), g.w);
          set_num_threads(saved);
          for (int64_t n = 0; n < g.N; ++n)
            for (int64_t c = 0; c < g.C; ++c)
              for (int64_t oy = 0; oy < oh; ++oy)
                for (int64_t ox = 0; ox < ow; ++ox) {
                  const int64_t at =
                      n * out_strides[0] + c * out_strides[1] + oy * out_strides[2] + ox * out_strides[3];
                  const int64_t want = ((n * g.C + c) * oh + oy) * ow + ox;
                  const T v = values[static_cast<size_t>(at)], e = expected_values[static_cast<size_t>(want)];
                  ASSERT_TRUE(std::isnan(e) ? std::isnan(v) : v == e)
                      << "value " << v << " != " << e << " at (" << n << ", " << c << ", " << oy << ", " << ox
                      << "), H=" << g.H << " W=" << g.W << ", input strides " << strides << ", " << threads
                      << " threads";
                  ASSERT_EQ(indices[static_cast<size_t>(at)], expected_indices[static_cast<size_t>(want)])
                      << "index at (" << n << ", " << c << ", " << oy << ", " << ox << "), H=" << g.H << " W=" << g.W
                      << ", input strides " << strides << ", output strides " << out_strides;
                }
        }
      }
    }
  }
}

TEST(MaxPool2dKernel, TwoByTwoStrideTwoFloat32) { check_max_pool_2x2<float>(); }
TEST(MaxPool2dKernel, TwoByTwoStrideTwoFloat64) { check_max_pool_2x2<double>(); }

TEST(ConvPoolKernels, SameResultOnOneThreadAndMany) {
  const Geometry g{16, 3, 20, 20, window(3, 3, 1, 1, 1, 1, 1, 1)};
  const int64_t oh = g.w.out_h(g.H), ow = g.w.out_w(g.W), rows = g.C * 9;
  auto in = random_values<float>(g.N * g.C * g.H * g.W, 7);
  const Dims image{g.N, g.C, g.H, g.W}, image_strides{g.C * g.H * g.W, g.H * g.W, g.W, 1};
  auto run = [&](int threads) {
    const int saved = get_num_threads();
    set_num_threads(threads);
    std::vector<float> cols(g.N * rows * oh * ow), back(in.size(), 0.f);
    cpu_backend().im2col(make_strided(in, image, image_strides),
                         make_strided(cols, {g.N, rows, oh * ow}, {rows * oh * ow, oh * ow, 1}), g.w);
    cpu_backend().col2im(make_strided(cols, {g.N, rows, oh * ow}, {rows * oh * ow, oh * ow, 1}),
                         make_strided(back, image, image_strides), g.w);
    set_num_threads(saved);
    return back;
  };
  EXPECT_EQ(run(1), run(2));
}

TEST(ConvProducts, FewRowsTimesARowMajorRightHandSide) {
  // conv2d's products have few rows (a group's output channels) and a row-major right-hand side (the columns of
  // a block, or its transposed columns), which the GEMM reads in place instead of packing it. The sizes cross
  // its column and depth blocks and end in partial tiles; B's rows are padded or not; the left operand is
  // broadcast over a batch of two; every micro-kernel this CPU runs.
  struct Case {
    int64_t M, N, K;
  };
  const std::vector<Case> cases = {{10, 3136, 81}, {20, 1000, 250}, {24, 600, 400}, {1, 33, 7},
                                   {13, 531, 785},  {32, 700, 27},   {36, 97, 390},  {37, 300, 50}};
  for (const char* kernel : {"avx512", "avx2", "scalar"}) {
    if (!set_gemm_kernel(kernel)) continue;
    for (const Case& c : cases) {
      for (int64_t pad : {0, 3}) {
        const int64_t ldb = c.N + pad;
        auto a = random_values<float>(c.M * c.K, 11);
        auto b = random_values<float>(2 * c.K * ldb, 12);
        std::vector<float> out(2 * c.M * c.N, std::numeric_limits<float>::quiet_NaN());
        cpu_backend().matmul(make_strided(a, {1, c.M, c.K}, {0, c.K, 1}),
                             make_strided(b, {2, c.K, c.N}, {c.K * ldb, ldb, 1}),
                             make_strided(out, {2, c.M, c.N}, {c.M * c.N, c.N, 1}));
        for (int64_t n = 0; n < 2; ++n)
          for (int64_t i = 0; i < c.M; ++i)
            for (int64_t j = 0; j < c.N; ++j) {
              double want = 0, magnitude = 0;
              for (int64_t k = 0; k < c.K; ++k) {
                const double term = double(a[i * c.K + k]) * b[n * c.K * ldb + k * ldb + j];
                want += term;
                magnitude += std::abs(term);
              }
              ASSERT_NEAR(out[(n * c.M + i) * c.N + j], want, 1e-5 * magnitude + 1e-30)
                  << "kernel " << kernel << ", M=" << c.M << " N=" << c.N << " K=" << c.K << " pad " << pad
                  << ", element (" << n << ", " << i << ", " << j << ")";
            }
      }
    }
  }
  set_gemm_kernel(nullptr);
}

TEST(ConvPoolKernels, RejectBadOperands) {
  std::vector<int64_t> ints(2 * 3 * 5 * 5);
  std::vector<float> img(2 * 3 * 5 * 5), cols(2 * 27 * 9), out(2 * 3 * 2 * 2);
  std::vector<double> cols64(cols.size());
  std::vector<int64_t> idx(out.size());
  const Dims image{2, 3, 5, 5}, image_strides{75, 25, 5, 1};
  const Window2d w3 = window(3, 3, 1, 1, 0, 0, 1, 1);
  // integer input
  EXPECT_THROW(cpu_backend().im2col(make_strided(ints, image, image_strides),
                                    make_strided(cols, {2, 27, 9}, {243, 9, 1}), w3),
               Error);
  // dtype mismatch between input and columns
  EXPECT_THROW(cpu_backend().im2col(make_strided(img, image, image_strides),
                                    make_strided(cols64, {2, 27, 9}, {243, 9, 1}), w3),
               Error);
  // columns of the wrong shape
  EXPECT_THROW(cpu_backend().im2col(make_strided(img, image, image_strides),
                                    make_strided(cols, {2, 27, 8}, {216, 8, 1}), w3),
               Error);
  EXPECT_THROW(cpu_backend().col2im(make_strided(cols, {2, 26, 9}, {234, 9, 1}),
                                    make_strided(img, image, image_strides), w3),
               Error);
  // columns with no unit stride, or whose elements overlap
  EXPECT_THROW(
      cpu_backend().im2col(make_strided(img, image, image_strides), make_strided(cols, {2, 27, 9}, {1, 18, 2}), w3),
      Error);
  EXPECT_THROW(
      cpu_backend().im2col(make_strided(img, image, image_strides), make_strided(cols, {2, 27, 9}, {0, 9, 1}), w3),
      Error);
  EXPECT_THROW(
      cpu_backend().im2col(make_strided(img, image, image_strides), make_strided(cols, {2, 27, 9}, {243, 1, 20}), w3),
      Error);
  // a kernel larger than the padded input
  EXPECT_THROW(cpu_backend().im2col(make_strided(img, image, image_strides),
                                    make_strided(cols, {2, 3 * 36, 1}, {108, 1, 1}), window(6, 6, 1, 1, 0, 0, 1, 1)),
               Error);
  // wrong rank
  EXPECT_THROW(cpu_backend().im2col(make_strided(img, {6, 5, 5}, {25, 5, 1}), make_strided(cols, {2, 27, 9}, {243, 9, 1}),
                                    w3),
               Error);
  // pooling: float indices, wrong output shape, a window entirely in the padding
  std::vector<float> fidx(out.size());
  const Window2d p2 = window(2, 2, 2, 2, 0, 0, 1, 1);
  EXPECT_THROW(cpu_backend().max_pool2d(make_strided(img, image, image_strides),
                                        make_strided(out, {2, 3, 2, 2}, {12, 4, 2, 1}),
                                        make_strided(fidx, {2, 3, 2, 2}, {12, 4, 2, 1}), p2),
               Error);
  EXPECT_THROW(cpu_backend().max_pool2d(make_strided(img, image, image_strides),
                                        make_strided(out, {2, 3, 1, 2}, {12, 4, 2, 1}),
                                        make_strided(idx, {2, 3, 1, 2}, {12, 4, 2, 1}), p2),
               Error);
  std::vector<float> small(4), small_out(6);
  std::vector<int64_t> small_idx(6);
  // H = 2, kernel 2 dilated by 3 with padding 2: window 1 covers rows -1 and 2, both outside the image.
  EXPECT_THROW(cpu_backend().max_pool2d(make_strided(small, {1, 1, 2, 2}, {4, 4, 2, 1}),
                                        make_strided(small_out, {1, 1, 3, 2}, {6, 6, 2, 1}),
                                        make_strided(small_idx, {1, 1, 3, 2}, {6, 6, 2, 1}),
                                        window(2, 1, 1, 1, 2, 0, 3, 1)),
               Error);
}

}  // namespace
}  // namespace tandem::cpu
