// Tests of MaxPool2d, AvgPool2d and AdaptiveAvgPool2d: values against hand computations (adaptive windows
// included), gradients of the adaptive pooling by finite differences, printing and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/gradcheck.h"
#include "nn/modules/pooling.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
namespace F = tandem::nn::functional;
using nn::testing::expect_error_mentions;
using nn::testing::printed;

TEST(NnMaxPool2d, ForwardMatchesHandComputation) {
  nn::MaxPool2d pool(2);
  Tensor x = arange(16, kFloat32).reshape({1, 1, 4, 4});
  Tensor y = pool(x);
  ASSERT_EQ(y.sizes(), Dims({1, 1, 2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{5, 7, 13, 15}));
  nn::MaxPool2d overlapping(nn::MaxPool2dOptions(3).stride(1));
  EXPECT_EQ(overlapping(x).to_vector<float>(), (std::vector<float>{10, 11, 14, 15}));
  EXPECT_EQ(pool(x[0]).sizes(), Dims({1, 2, 2}));  // unbatched
}

TEST(NnAvgPool2d, ForwardMatchesHandComputation) {
  nn::AvgPool2d pool(2);
  Tensor x = arange(16, kFloat32).reshape({1, 1, 4, 4});
  // Windows {0,1,4,5}, {2,3,6,7}, {8,9,12,13}, {10,11,14,15}.
  EXPECT_EQ(pool(x).to_vector<float>(), (std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f}));
  nn::AvgPool2d strided(nn::AvgPool2dOptions({2, 4}).stride({2, 1}));
  EXPECT_EQ(strided(x).sizes(), Dims({1, 1, 2, 1}));
  EXPECT_EQ(strided(x).to_vector<float>(), (std::vector<float>{3.5f, 11.5f}));
}

/// The adaptive average pooling of a [H, W] plane to [oh, ow], by loops.
std::vector<double> adaptive_reference(const std::vector<double>& plane, int64_t H, int64_t W, int64_t oh, int64_t ow) {
  std::vector<double> out;
  for (int64_t i = 0; i < oh; ++i) {
    const int64_t h0 = (i * H) / oh, h1 = static_cast<int64_t>(std::ceil((i + 1) * H / static_cast<double>(oh)));
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t w0 = (j * W) / ow, w1 = static_cast<int64_t>(std::ceil((j + 1) * W / static_cast<double>(ow)));
      double sum = 0;
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w) sum += plane[static_cast<size_t>(h * W + w)];
      out.push_back(sum / static_cast<double>((h1 - h0) * (w1 - w0)));
    }
  }
  return out;
}

TEST(NnAdaptiveAvgPool2d, NonDivisibleSizesAverageTheAdaptiveWindows) {
  Tensor x = randn({2, 3, 5, 7}, kFloat64);
  nn::AdaptiveAvgPool2d pool(nn::AdaptiveAvgPool2dOptions({3, 4}));
  Tensor y = pool(x);
  ASSERT_EQ(y.sizes(), Dims({2, 3, 3, 4}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c) {
      auto expected = adaptive_reference(x[n][c].to_vector<double>(), 5, 7, 3, 4);
      auto got = y[n][c].to_vector<double>();
      for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-12);
    }
  // Larger output than input: windows overlap and repeat.
  Tensor up = F::adaptive_avg_pool2d(x, {7, 9});
  auto expected = adaptive_reference(x[1][2].to_vector<double>(), 5, 7, 7, 9);
  auto got = up[1][2].to_vector<double>();
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-12);
}

TEST(NnAdaptiveAvgPool2d, DivisibleSizesEqualAvgPool) {
  Tensor x = randn({2, 3, 8, 6});
  nn::AdaptiveAvgPool2d pool(nn::AdaptiveAvgPool2dOptions({4, 2}));
  EXPECT_TRUE(allclose(pool(x), avg_pool2d(x, {2, 3}), 1e-5, 1e-6));
  // Output size 1: the global mean of each plane.
  nn::AdaptiveAvgPool2d global(1);
  EXPECT_TRUE(allclose(global(x).reshape({2, 3}), x.mean({2, 3}), 1e-5, 1e-6));
  // Unbatched input.
  EXPECT_EQ(pool(x[0]).sizes(), Dims({3, 4, 2}));
}

TEST(NnAdaptiveAvgPool2d, Gradcheck) {
  Tensor x = randn({1, 2, 5, 4}, TensorOptions(kFloat64).requires_grad(true));
  EXPECT_TRUE(autograd::gradcheck(
      [](const autograd::variable_list& in) {
        return F::adaptive_avg_pool2d(in[0], {3, 3});
      },
      {x}));
  Tensor t = randn({4, 5}, TensorOptions(kFloat64)).t().unsqueeze(0).requires_grad_(true);  // non-contiguous [1, 5, 4]
  EXPECT_TRUE(autograd::gradcheck(
      [](const autograd::variable_list& in) {
        return F::adaptive_avg_pool2d(in[0], {2, 3});
      },
      {t}));
}

TEST(NnPooling, PrettyPrint) {
  EXPECT_EQ(printed(*nn::MaxPool2d(2)),
            "MaxPool2d(kernel_size=[2, 2], stride=[2, 2], padding=[0, 0], dilation=[1, 1])");
  EXPECT_EQ(printed(*nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(1).padding(1))),
            "AvgPool2d(kernel_size=[3, 3], stride=[1, 1], padding=[1, 1])");
  EXPECT_EQ(printed(*nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({7, 5}))),
            "AdaptiveAvgPool2d(output_size=[7, 5])");
}

TEST(NnPooling, ErrorsNameTheLayerAndTheShape) {
  expect_error_mentions([] { nn::MaxPool2d(2)(randn({4, 4})); }, {"MaxPool2d", "[4, 4]"});
  expect_error_mentions([] { nn::AvgPool2d(2)(randn({2, 1, 1, 4, 4})); }, {"AvgPool2d", "[2, 1, 1, 4, 4]"});
  expect_error_mentions([] { nn::AdaptiveAvgPool2d(2)(randn({4})); }, {"AdaptiveAvgPool2d", "[4]"});
  EXPECT_THROW(F::adaptive_avg_pool2d(randn({1, 1, 4, 4}), {0, 2}), Error);
  EXPECT_THROW(F::adaptive_avg_pool2d(zeros({1, 1, 4, 4}, kInt64), {2, 2}), Error);
}

}  // namespace
