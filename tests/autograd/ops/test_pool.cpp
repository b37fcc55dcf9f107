// max_pool2d and avg_pool2d: forward values against naive pooling loops written here, where the gradient of
// max pooling lands (plain and recorded backward), first and second derivatives against finite differences
// (float64), non-contiguous and unbatched inputs, 1 and 2 threads, and the errors for bad windows.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "backends/cpu/parallel.h"
#include "tensor/functions.h"

namespace tandem {
namespace {

using autograd::variable_list;

TensorOptions f64_grad() { return TensorOptions(kFloat64).requires_grad(true); }

struct PoolArgs {
  int64_t kh, kw, sh, sw, ph, pw, dh = 1, dw = 1;
};

/// Naive pooling of a contiguous [N, C, H, W] tensor: max over the in-image window elements, or the sum over
/// the window divided by kh*kw (padding counted as zeros) for average pooling.
std::vector<double> naive_pool(const Tensor& x, const PoolArgs& a, bool max) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t oh = (H + 2 * a.ph - a.dh * (a.kh - 1) - 1) / a.sh + 1;
  const int64_t ow = (W + 2 * a.pw - a.dw * (a.kw - 1) - 1) / a.sw + 1;
  const auto xv = x.contiguous().to_vector<double>();
  std::vector<double> out;
  for (int64_t p = 0; p < N * C; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int64_t i = 0; i < a.kh; ++i)
          for (int64_t j = 0; j < a.kw; ++j) {
            const int64_t y = oy * a.sh - a.ph + i * a.dh, xx = ox * a.sw - a.pw + j * a.dw;
            if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
            const double v = xv[(p * H + y) * W + xx];
            best = std::max(best, v);
            sum += v;
          }
        out.push_back(max ? best : sum / static_cast<double>(a.kh * a.kw));
      }
  return out;
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "element " << i;
}

TEST(MaxPool2d, MatchesNaivePooling) {
  manual_seed(1);
  Tensor x = randn({2, 3, 9, 8}, kFloat64);
  const std::vector<PoolArgs> cases = {
      {2, 2, 2, 2, 0, 0}, {3, 3, 2, 2, 1, 1}, {3, 2, 1, 2, 1, 0, 2, 1}, {2, 3, 3, 1, 0, 1, 1, 2}};
  for (const PoolArgs& a : cases) {
    Tensor out = max_pool2d(x, {a.kh, a.kw}, {a.sh, a.sw}, {a.ph, a.pw}, {a.dh, a.dw});
    expect_near(out.to_vector<double>(), naive_pool(x, a, true), 0);
  }
  // stride defaults to the kernel size
  EXPECT_TRUE(allclose(max_pool2d(x, {2}), max_pool2d(x, {2}, {2})));
  EXPECT_EQ(max_pool2d(x, {2}).sizes(), (Dims{2, 3, 4, 4}));
  // float32, unbatched and non-contiguous inputs
  Tensor xf = randn({2, 3, 8, 8});
  EXPECT_TRUE(allclose(max_pool2d(xf, {2}).to(kFloat64), max_pool2d(xf.to(kFloat64), {2})));
  EXPECT_TRUE(allclose(max_pool2d(x[1], {3}, {2}, {1}), max_pool2d(x, {3}, {2}, {1})[1]));
  Tensor xt = x.transpose(2, 3);
  EXPECT_TRUE(allclose(max_pool2d(xt, {2}), max_pool2d(xt.contiguous(), {2})));
}

TEST(MaxPool2d, GradientGoesToTheMaximum) {
  Tensor x = tensor({1.0, 5.0, 2.0, 0.0, /**/ 3.0, 4.0, 9.0, 8.0, /**/ 7.0, 6.0, 1.0, 1.0, /**/ 0.0, 2.0, 3.0, 4.0},
                    kFloat64)
                 .reshape({1, 1, 4, 4})
                 .detach()
                 .requires_grad_();
  Tensor out = max_pool2d(x, {2});
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{5, 9, 7, 4}));
  out.backward(tensor({1.0, 2.0, 3.0, 4.0}, kFloat64).reshape({1, 1, 2, 2}));
  EXPECT_EQ(x.grad().to_vector<double>(),
            (std::vector<double>{0, 1, 0, 0, /**/ 0, 0, 2, 0, /**/ 3, 0, 0, 0, /**/ 0, 0, 0, 4}));
  // Overlapping windows that share a maximum add up its gradient.
  Tensor y = tensor({0.0, 1.0, 0.0, /**/ 0.0, 9.0, 0.0, /**/ 0.0, 0.0, 0.0}, kFloat64)
                 .reshape({1, 1, 3, 3})
                 .detach()
                 .requires_grad_();
  max_pool2d(y, {2}, {1}).sum().backward();
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{0, 0, 0, 0, 4, 0, 0, 0, 0}));
}

TEST(MaxPool2d, GradcheckAndGradgradcheck) {
  manual_seed(2);
  Tensor x = randn({2, 2, 6, 5}, f64_grad());
  auto fn = [](const variable_list& in) { return max_pool2d(in[0], {3, 2}, {2, 1}, {1, 1}); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x}));
  Tensor xt = randn({2, 2, 5, 6}, f64_grad());
  auto fnt = [](const variable_list& in) { return max_pool2d(in[0].transpose(2, 3), {2}, {1}, {0}, {2}); };
  EXPECT_TRUE(autograd::gradcheck(fnt, {xt}));
}

TEST(MaxPool2d, TwoByTwoStrideTwoOnOddSizesAndBothBackwardPaths) {
  // The 2x2 window with stride 2 (a kernel path of its own) on odd heights and widths, wide rows and a
  // transposed input, in float32 and float64 on 1 and 2 threads: values against naive pooling, and the plain
  // backward (which scatters into zeros on the backend) against the recorded one (differentiable scatter_add).
  manual_seed(3);
  const int saved_threads = cpu::get_num_threads();
  for (ScalarType dtype : {kFloat32, kFloat64}) {
    Tensor base = randn({3, 4, 9, 35}, TensorOptions(dtype).requires_grad(true));
    for (bool transposed : {false, true}) {
      for (int threads : {1, 2}) {
        cpu::set_num_threads(threads);
        Tensor x = transposed ? base.transpose(2, 3) : base;
        Tensor out = max_pool2d(x, {2});
        expect_near(out.to(kFloat64).to_vector<double>(), naive_pool(x.to(kFloat64), {2, 2, 2, 2, 0, 0}, true), 0);
        Tensor loss = (out * randn(out.sizes(), dtype)).sum();
        Tensor plain = autograd::grad({loss}, {base}, {}, /*retain_graph=*/true)[0];
        Tensor recorded = autograd::grad({loss}, {base}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
        EXPECT_TRUE(allclose(plain, recorded.detach(), 0, 0)) << "transposed " << transposed << ", " << threads;
      }
    }
  }
  cpu::set_num_threads(saved_threads);
  Tensor x = randn({1, 2, 5, 7}, f64_grad());
  auto fn = [](const variable_list& in) { return max_pool2d(in[0], {2}); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x}));
}

TEST(MaxPool2d, RejectsBadWindows) {
  Tensor x = randn({1, 2, 6, 6});
  EXPECT_THROW(max_pool2d(x, {2}, {2}, {2}), Error);          // padding more than half the kernel
  EXPECT_THROW(max_pool2d(x, {7}), Error);                    // kernel larger than the input
  EXPECT_THROW(max_pool2d(x, {3}, {2}, {0}, {3}), Error);     // dilated kernel 7 > 6
  EXPECT_THROW(max_pool2d(x, {0}), Error);
  EXPECT_THROW(max_pool2d(x, {2}, {0}), Error);
  EXPECT_THROW(max_pool2d(x, {2, 2, 2}), Error);
  EXPECT_THROW(max_pool2d(randn({6, 6}), {2}), Error);        // rank 2
  EXPECT_THROW(max_pool2d(ones({1, 1, 4, 4}, kInt64), {2}), Error);
}

TEST(AvgPool2d, MatchesNaivePoolingCountingPadding) {
  manual_seed(3);
  Tensor x = randn({2, 3, 7, 8}, kFloat64);
  const std::vector<PoolArgs> cases = {{2, 2, 2, 2, 0, 0}, {3, 3, 2, 2, 1, 1}, {3, 2, 1, 2, 1, 1}, {2, 3, 3, 1, 1, 0}};
  for (const PoolArgs& a : cases) {
    Tensor out = avg_pool2d(x, {a.kh, a.kw}, {a.sh, a.sw}, {a.ph, a.pw});
    expect_near(out.to_vector<double>(), naive_pool(x, a, false), 1e-12);
  }
  // The corner window of a 3x3 pool with padding 1 holds 4 image values and is divided by 9.
  Tensor ones_img = ones({1, 1, 4, 4}, kFloat64);
  EXPECT_NEAR(avg_pool2d(ones_img, {3}, {1}, {1}).to_vector<double>()[0], 4.0 / 9.0, 1e-15);
  EXPECT_TRUE(allclose(avg_pool2d(x[0], {2}), avg_pool2d(x, {2})[0]));
  Tensor xt = x.transpose(2, 3);
  EXPECT_TRUE(allclose(avg_pool2d(xt, {3}, {2}, {1}), avg_pool2d(xt.contiguous(), {3}, {2}, {1})));
}

TEST(AvgPool2d, GradcheckAndGradgradcheck) {
  manual_seed(4);
  Tensor x = randn({2, 2, 5, 6}, f64_grad());
  auto fn = [](const variable_list& in) { return avg_pool2d(in[0], {3, 2}, {2, 1}, {1, 1}); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x}));
  auto fnt = [](const variable_list& in) { return avg_pool2d(in[0].transpose(2, 3), {2}); };
  EXPECT_TRUE(autograd::gradcheck(fnt, {x}));
}

TEST(AvgPool2d, RejectsBadWindows) {
  Tensor x = randn({1, 2, 6, 6});
  EXPECT_THROW(avg_pool2d(x, {2}, {2}, {2}), Error);
  EXPECT_THROW(avg_pool2d(x, {7}), Error);
  EXPECT_THROW(avg_pool2d(x, {2}, {-1}), Error);
  EXPECT_THROW(avg_pool2d(randn({2, 3, 4, 5, 6}), {2}), Error);
}

}  // namespace
}  // namespace tandem
