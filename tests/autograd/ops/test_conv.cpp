// unfold, fold, conv2d and conv1d: forward values against direct loops written here, first and second
// derivatives against finite differences (float64), non-contiguous inputs, and the errors for bad shapes.
#include <gtest/gtest.h>

#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "backends/cpu/parallel.h"
#include "tensor/functions.h"

namespace tandem {
namespace {

using autograd::variable_list;

TensorOptions f64_grad() { return TensorOptions(kFloat64).requires_grad(true); }

struct ConvArgs {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};

/// Direct convolution: out[n][o][y][x] = bias[o] + sum_{c in group(o), i, j} in[n][c][y*s - p + i*d][...] * w[o][c'][i][j].
std::vector<double> direct_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvArgs& a) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), Cg = w.size(1), kh = w.size(2), kw = w.size(3);
  const int64_t oh = (H + 2 * a.pad_h - a.dil_h * (kh - 1) - 1) / a.stride_h + 1;
  const int64_t ow = (W + 2 * a.pad_w - a.dil_w * (kw - 1) - 1) / a.stride_w + 1;
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const auto bv = b.defined() ? b.to_vector<double>() : std::vector<double>(O, 0.0);
  const int64_t Og = O / a.groups;
  std::vector<double> out(N * O * oh * ow);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double acc = bv[o];
          const int64_t g = o / Og;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t y = oy * a.stride_h - a.pad_h + i * a.dil_h, xx = ox * a.stride_w - a.pad_w + j * a.dil_w;
                if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
                const int64_t c = g * Cg + ci;
                acc += xv[((n * C + c) * H + y) * W + xx] * wv[((o * Cg + ci) * kh + i) * kw + j];
              }
          out[((n * O + o) * oh + oy) * ow + ox] = acc;
        }
  return out;
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "element " << i;
}

// ---- unfold / fold --------------------------------------------------------------------------------------------

TEST(Unfold, MatchesSlidingWindowsWithPaddingStrideAndDilation) {
  manual_seed(1);
  Tensor x = randn({2, 3, 6, 7}, kFloat64);
  Tensor cols = unfold(x, {2, 3}, {2, 1}, {1, 2}, {2, 3});
  const int64_t oh = (6 + 2 - 2 - 1) / 2 + 1, ow = (7 + 4 - 2 - 1) / 3 + 1;
  ASSERT_EQ(cols.sizes(), (Dims{2, 3 * 6, oh * ow}));
  const auto xv = x.to_vector<double>(), cv = cols.to_vector<double>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
          for (int64_t oy = 0; oy < oh; ++oy)
            for (int64_t ox = 0; ox < ow; ++ox) {
              const int64_t y = oy * 2 - 1 + i * 2, xx = ox * 3 - 2 + j;
              const double want = (y < 0 || y >= 6 || xx < 0 || xx >= 7) ? 0.0 : xv[((n * 3 + c) * 6 + y) * 7 + xx];
              ASSERT_EQ(cv[(n * 18 + c * 6 + i * 3 + j) * oh * ow + oy * ow + ox], want);
            }
}

TEST(Unfold, UnbatchedInputAndNonContiguousInput) {
  manual_seed(2);
  Tensor x = randn({3, 5, 4}, kFloat64);
  Tensor batched = unfold(x.unsqueeze(0), {2});
  EXPECT_TRUE(allclose(unfold(x, {2}), batched.squeeze(0)));
  Tensor xt = randn({3, 4, 5}, kFloat64).transpose(1, 2);  // [3, 5, 4] with strides of a transpose
  ASSERT_FALSE(xt.is_contiguous());
  EXPECT_TRUE(allclose(unfold(xt, {2, 2}, {1}, {1}), unfold(xt.contiguous(), {2, 2}, {1}, {1})));
}

TEST(Fold, SumsOverlapsAndIsTheAdjointOfUnfold) {
  // fold(unfold(ones)) counts how many windows cover each pixel: 3x3 windows, stride 1, on 4x4 -> 1 2 2 1 ...
  Tensor ones_img = ones({1, 1, 4, 4}, kFloat64);
  Tensor counts = fold(unfold(ones_img, {3}), {4, 4}, {3});
  const std::vector<double> row{1, 2, 2, 1};
  std::vector<double> expected;
  for (double r : row)
    for (double c : row) expected.push_back(r * c);
  EXPECT_EQ(counts.to_vector<double>(), expected);
  // <unfold(x), y> == <x, fold(y)>
  manual_seed(3);
  Tensor x = randn({2, 3, 7, 6}, kFloat64);
  Tensor y = randn({2, 3 * 4, 4 * 3}, kFloat64);  // kernel 2x2, stride 2, padding 1, dilation 2 on 7x6
  const double lhs = (unfold(x, {2}, {2}, {1}, {2}) * y).sum().item<double>();
  const double rhs = (x * fold(y, {7, 6}, {2}, {2}, {1}, {2})).sum().item<double>();
  EXPECT_NEAR(lhs, rhs, 1e-10);
  // unbatched columns
  EXPECT_TRUE(allclose(fold(y[0], {7, 6}, {2}, {2}, {1}, {2}), fold(y, {7, 6}, {2}, {2}, {1}, {2})[0]));
}

TEST(Unfold, GradcheckAndGradgradcheck) {
  manual_seed(4);
  Tensor x = randn({2, 2, 5, 4}, f64_grad());
  auto fn = [](const variable_list& in) { return unfold(in[0], {2, 3}, {1, 1}, {1, 0}, {2, 1}); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x}));
  Tensor xt = randn({2, 2, 4, 5}, f64_grad());  // used through a transposed view
  auto fnt = [](const variable_list& in) { return unfold(in[0].transpose(2, 3), {2}, {2}, {1}); };
  EXPECT_TRUE(autograd::gradcheck(fnt, {xt}));
}

TEST(Fold, GradcheckAndGradgradcheck) {
  manual_seed(5);
  Tensor cols = randn({2, 2 * 4, 9}, f64_grad());  // 2 channels, kernel 2x2, 3x3 blocks on a 4x4 output
  auto fn = [](const variable_list& in) { return fold(in[0], {4, 4}, {2}); };
  EXPECT_TRUE(autograd::gradcheck(fn, {cols}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {cols}));
  Tensor strided_cols = randn({2, 9, 2 * 4}, f64_grad());
  auto fnt = [](const variable_list& in) { return fold(in[0].transpose(1, 2), {6, 6}, {2}, {1}, {0}, {2}); };
  EXPECT_TRUE(autograd::gradcheck(fnt, {strided_cols}));
}

TEST(Unfold, RejectsBadArguments) {
  Tensor x = randn({1, 2, 4, 4});
  EXPECT_THROW(unfold(x, {5}), Error);                     // kernel larger than the input
  EXPECT_NO_THROW(unfold(x, {5}, {1}, {1}));               // ... but not than the padded input
  EXPECT_THROW(unfold(x, {2, 2, 2}), Error);               // three sizes
  EXPECT_THROW(unfold(x, {0}), Error);                     // empty kernel
  EXPECT_THROW(unfold(x, {2}, {1}, {-1}), Error);          // negative padding
  EXPECT_THROW(unfold(x, {2}, {1}, {0}, {0}), Error);      // zero stride
  EXPECT_THROW(unfold(randn({4, 4}), {2}), Error);         // rank 2
  EXPECT_THROW(unfold(ones({1, 1, 4, 4}, kInt64), {2}), Error);
  Tensor cols = randn({1, 8, 9});
  EXPECT_THROW(fold(cols, {4, 4}, {3}), Error);            // 8 rows not divisible by 9
  EXPECT_THROW(fold(cols, {5, 5}, {2}), Error);            // 16 blocks expected, 9 given
  EXPECT_NO_THROW(fold(cols, {4, 4}, {2}));
}

// ---- conv2d ---------------------------------------------------------------------------------------------------

TEST(Conv2d, MatchesDirectConvolution) {
  manual_seed(6);
  const std::vector<ConvArgs> cases = {
      {},
      {2, 2, 1, 1, 1, 1, 1},
      {1, 2, 2, 1, 2, 1, 1},
      {2, 1, 1, 0, 1, 2, 2},
      {1, 1, 1, 1, 2, 2, 4},
  };
  for (const ConvArgs& a : cases) {
    Tensor x = randn({2, 4, 9, 8}, kFloat64);
    Tensor w = randn({8, 4 / a.groups, 3, 2}, kFloat64);
    Tensor b = randn({8}, kFloat64);
    Tensor out = conv2d(x, w, b, {a.stride_h, a.stride_w}, {a.pad_h, a.pad_w}, {a.dil_h, a.dil_w}, a.groups);
    expect_near(out.to_vector<double>(), direct_conv2d(x, w, b, a), 1e-10);
    Tensor no_bias = conv2d(x, w, {}, {a.stride_h, a.stride_w}, {a.pad_h, a.pad_w}, {a.dil_h, a.dil_w}, a.groups);
    expect_near(no_bias.to_vector<double>(), direct_conv2d(x, w, {}, a), 1e-10);
  }
}

TEST(Conv2d, Float32LeNetLayerMatchesDirectConvolution) {
  manual_seed(7);
  Tensor x = randn({3, 1, 36, 36}), w = randn({10, 1, 9, 9}), b = randn({10});
  Tensor out = conv2d(x, w, b);
  ASSERT_EQ(out.sizes(), (Dims{3, 10, 28, 28}));
  expect_near(out.to(kFloat64).to_vector<double>(), direct_conv2d(x, w, b, {}), 1e-3);
}

TEST(Conv2d, UnbatchedAndNonContiguousInputs) {
  manual_seed(8);
  Tensor x = randn({3, 6, 5}, kFloat64), w = randn({4, 3, 2, 2}, kFloat64);
  EXPECT_TRUE(allclose(conv2d(x, w), conv2d(x.unsqueeze(0), w)[0]));
  Tensor xt = randn({2, 3, 5, 6}, kFloat64).transpose(2, 3);
  Tensor wt = randn({4, 3, 2, 2}, kFloat64).transpose(2, 3);
  EXPECT_TRUE(allclose(conv2d(xt, wt, {}, {1}, {1}), conv2d(xt.contiguous(), wt.contiguous(), {}, {1}, {1})));
}

TEST(Conv2d, GradcheckStridePaddingDilationGroupsNoBias) {
  manual_seed(9);
  Tensor x = randn({2, 4, 6, 6}, f64_grad());
  Tensor w = randn({4, 2, 2, 2}, f64_grad());
  auto fn = [](const variable_list& in) { return conv2d(in[0], in[1], {}, {2}, {1}, {2}, /*groups=*/2); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, w}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x, w}));
}

TEST(Conv2d, GradcheckWithBiasAndTransposedInput) {
  manual_seed(10);
  Tensor x = randn({2, 2, 5, 4}, f64_grad());
  Tensor w = randn({3, 2, 3, 2}, f64_grad());
  Tensor b = randn({3}, f64_grad());
  auto fn = [](const variable_list& in) { return conv2d(in[0].transpose(2, 3), in[1], in[2], {1, 2}, {1, 0}); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, w, b}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x, w, b}));
}

TEST(Conv2d, ManyBlocksOnSeveralThreadsMatchTheDifferentiableGradients) {
  // A batch large enough to be cut into several blocks of samples, run on 1 and 2 threads. The plain backward
  // (block by block on the backend) must agree with the gradients that create_graph computes with
  // differentiable ops, and the forward with the direct loops.
  manual_seed(12);
  Tensor x = randn({40, 4, 32, 32}).requires_grad_(true);
  Tensor w = randn({6, 2, 3, 3}).requires_grad_(true);
  Tensor b = randn({6}).requires_grad_(true);
  Tensor weights = randn({40, 6, 30, 30});
  const int saved_threads = cpu::get_num_threads();
  for (int threads : {1, 2}) {
    cpu::set_num_threads(threads);
    Tensor out = conv2d(x, w, b, {1}, {0}, {1}, /*groups=*/2);
    expect_near(out.to(kFloat64).to_vector<double>(), direct_conv2d(x, w, b, {1, 1, 0, 0, 1, 1, 2}), 1e-3);
    Tensor loss = (out * weights).sum();
    variable_list blocked = autograd::grad({loss}, {x, w, b}, {}, /*retain_graph=*/true);
    variable_list composite = autograd::grad({loss}, {x, w, b}, {}, /*retain_graph=*/true, /*create_graph=*/true);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(allclose(blocked[i], composite[i].detach(), 1e-4, 1e-3)) << "input " << i << ", threads " << threads;
    }
  }
  cpu::set_num_threads(saved_threads);
}

TEST(Conv2d, BlocksOfSeveralSamplesEndingInAPartialBlock) {
  // Samples whose columns are large enough that a block holds only a few of them and the batch ends in a
  // partial block: groups, stride, padding and dilation, a channels-last (non-contiguous) input, with and
  // without bias, on 1 and 2 threads. Forward against the direct loops; the plain backward against the
  // gradients that create_graph computes with differentiable ops.
  struct Case {
    Dims x, w;
    ConvArgs a;
    ScalarType dtype;
    bool bias;
    double tol;
  };
  const std::vector<Case> cases = {
      {{5, 8, 40, 40}, {6, 4, 3, 3}, {1, 1, 1, 1, 1, 1, 2}, kFloat32, true, 1e-3},
      {{7, 4, 50, 50}, {5, 4, 3, 3}, {2, 2, 2, 2, 2, 2, 1}, kFloat64, false, 1e-9},
      {{3, 3, 45, 45}, {6, 1, 5, 5}, {1, 2, 2, 0, 1, 1, 3}, kFloat64, true, 1e-9},
  };
  manual_seed(13);
  const int saved_threads = cpu::get_num_threads();
  for (const Case& c : cases) {
    // channels-last storage, read through an NCHW view
    Tensor x = randn({c.x[0], c.x[2], c.x[3], c.x[1]}, c.dtype).permute({0, 3, 1, 2}).detach().requires_grad_(true);
    Tensor w = randn(c.w, c.dtype).requires_grad_(true);
    Tensor b = c.bias ? randn({c.w[0]}, c.dtype).requires_grad_(true) : Tensor();
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      Tensor out = conv2d(x, w, b, {c.a.stride_h, c.a.stride_w}, {c.a.pad_h, c.a.pad_w}, {c.a.dil_h, c.a.dil_w},
                          c.a.groups);
      expect_near(out.to(kFloat64).to_vector<double>(), direct_conv2d(x.contiguous(), w, b, c.a), c.tol * 10);
      Tensor loss = (out * randn(out.sizes(), c.dtype)).sum();
      variable_list inputs = c.bias ? variable_list{x, w, b} : variable_list{x, w};
      variable_list blocked = autograd::grad({loss}, inputs, {}, /*retain_graph=*/true);
      variable_list composite = autograd::grad({loss}, inputs, {}, /*retain_graph=*/true, /*create_graph=*/true);
      for (size_t i = 0; i < inputs.size(); ++i)
        EXPECT_TRUE(allclose(blocked[i], composite[i].detach(), c.tol, c.tol))
            << "input " << i << " of case x " << c.x << ", " << threads << " threads";
    }
  }
  cpu::set_num_threads(saved_threads);
}

TEST(Conv2d, EmptyBatch) {
  Tensor x = randn({0, 2, 5, 5}).requires_grad_(true), w = randn({3, 2, 3, 3}).requires_grad_(true);
  Tensor out = conv2d(x, w, randn({3}));
  EXPECT_EQ(out.sizes(), (Dims{0, 3, 3, 3}));
  out.sum().backward();
  EXPECT_EQ(x.grad().sizes(), x.sizes());
  EXPECT_EQ(w.grad().abs().sum().item<float>(), 0.0f);
}

TEST(Conv2d, RejectsBadShapes) {
  Tensor x = randn({2, 6, 10, 10});
  try {
    conv2d(x, randn({8, 4, 3, 3}), {}, {1}, {0}, {1}, 2);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "conv2d: expected weight [O, C/groups, kh, kw] with C/groups = 3, got weight [8, 4, 3, 3] for input "
              "[2, 6, 10, 10] and groups 2");
  }
  EXPECT_THROW(conv2d(x, randn({8, 6, 3, 3}), {}, {1}, {0}, {1}, 4), Error);   // 4 does not divide C = 6
  EXPECT_THROW(conv2d(x, randn({9, 3, 3, 3}), {}, {1}, {0}, {1}, 2), Error);   // 2 does not divide O = 9
  EXPECT_THROW(conv2d(x, randn({8, 6, 3, 3}), {}, {1}, {0}, {1}, 0), Error);   // groups 0
  EXPECT_THROW(conv2d(x, randn({8, 6, 11, 3})), Error);                        // kernel taller than the input
  EXPECT_NO_THROW(conv2d(x, randn({8, 6, 11, 3}), {}, {1}, {1}));              // ... fits once padded
  EXPECT_THROW(conv2d(x, randn({8, 6, 3, 3}), {}, {1}, {0}, {6}), Error);      // dilated kernel 13 > 10
  EXPECT_THROW(conv2d(x, randn({8, 6, 3})), Error);                            // weight rank 3
  EXPECT_THROW(conv2d(randn({6, 10}), randn({8, 6, 3, 3})), Error);            // input rank 2
  EXPECT_THROW(conv2d(x, randn({8, 6, 3, 3}), randn({7})), Error);             // bias size
  EXPECT_THROW(conv2d(x, randn({8, 6, 3, 3}, kFloat64)), Error);               // dtype mismatch
  EXPECT_THROW(conv2d(x, randn({8, 6, 3, 3}), {}, {1, 1, 1}), Error);          // three strides
  EXPECT_THROW(conv2d(x, randn({8, 6, 3, 3}), {}, {0}), Error);                // zero stride
}

// ---- conv1d ---------------------------------------------------------------------------------------------------

TEST(Conv1d, MatchesDirectConvolutionAndGradchecks) {
  manual_seed(11);
  Tensor x = randn({2, 4, 11}, kFloat64), w = randn({6, 2, 3}, kFloat64), b = randn({6}, kFloat64);
  Tensor out = conv1d(x, w, b, /*stride=*/2, /*padding=*/1, /*dilation=*/2, /*groups=*/2);
  ConvArgs a{1, 2, 0, 1, 1, 2, 2};
  expect_near(out.to_vector<double>(), direct_conv2d(x.unsqueeze(2), w.unsqueeze(2), b, a), 1e-10);
  ASSERT_EQ(out.sizes(), (Dims{2, 6, 5}));
  EXPECT_TRUE(allclose(conv1d(x[0], w, b, 2, 1, 2, 2), out[0]));  // unbatched

  Tensor xg = randn({2, 2, 7}, f64_grad()), wg = randn({3, 2, 3}, f64_grad()), bg = randn({3}, f64_grad());
  auto fn = [](const variable_list& in) { return conv1d(in[0], in[1], in[2], 2, 1, 1, 1); };
  EXPECT_TRUE(autograd::gradcheck(fn, {xg, wg, bg}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {xg, wg, bg}));
}

TEST(Conv1d, RejectsBadShapes) {
  Tensor x = randn({2, 4, 5});
  EXPECT_THROW(conv1d(x, randn({6, 3, 3})), Error);         // C/groups mismatch
  EXPECT_THROW(conv1d(x, randn({6, 4, 6})), Error);         // kernel longer than the input
  EXPECT_THROW(conv1d(x, randn({6, 4, 3}), {}, 0), Error);  // zero stride
  EXPECT_THROW(conv1d(x, randn({6, 4, 3, 1})), Error);      // weight rank 4
  EXPECT_THROW(conv1d(x, randn({6, 4, 3}), {}, 1, -1), Error);
}

}  // namespace
}  // namespace tandem
