// Tests of Conv1d and Conv2d: outputs against tandem::conv1d/conv2d and hand computations, parameter shapes
// and default initialisation, printing and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "nn/modules/conv.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::expect_error_mentions;
using nn::testing::printed;

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector<float>()) m = std::max(m, std::abs(static_cast<double>(v)));
  return m;
}

TEST(NnConv2d, ParametersAndDefaultInitialisation) {
  manual_seed(21);
  nn::Conv2d conv(8, 16, 3);
  EXPECT_EQ(conv->weight.sizes(), Dims({16, 8, 3, 3}));
  EXPECT_EQ(conv->bias.sizes(), Dims({16}));
  const double bound = 1.0 / std::sqrt(8.0 * 9.0);  // fan_in = in_channels * kh * kw
  EXPECT_LE(max_abs(conv->weight), bound + 1e-7);
  EXPECT_GT(max_abs(conv->weight), 0.95 * bound);
  EXPECT_LE(max_abs(conv->bias), bound + 1e-7);
  nn::Conv2d grouped(nn::Conv2dOptions(4, 6, {3, 5}).groups(2).bias(false));
  EXPECT_EQ(grouped->weight.sizes(), Dims({6, 2, 3, 5}));
  EXPECT_FALSE(grouped->bias.defined());
  EXPECT_EQ(grouped->named_parameters().size(), 1u);
}

TEST(NnConv2d, ForwardMatchesTheFunctionalOp) {
  nn::Conv2d conv(nn::Conv2dOptions(3, 4, 3).stride(2).padding(1));
  Tensor x = randn({2, 3, 8, 8});
  Tensor y = conv(x);
  ASSERT_EQ(y.sizes(), Dims({2, 4, 4, 4}));  // (8 + 2 - 3) / 2 + 1 = 4
  EXPECT_TRUE(allclose(y, conv2d(x, conv->weight, conv->bias, {2}, {1})));
  // Unbatched input.
  Tensor single = conv(x[0]);
  ASSERT_EQ(single.sizes(), Dims({4, 4, 4}));
  EXPECT_TRUE(allclose(single, y[0], 1e-5, 1e-6));
}

TEST(NnConv2d, ForwardMatchesHandComputation) {
  nn::Conv2d conv(nn::Conv2dOptions(1, 1, 2).bias(false));
  {
    NoGradGuard no_grad;
    conv->weight.copy_(tensor({1.f, 2.f, 3.f, 4.f}).reshape({1, 1, 2, 2}));
  }
  Tensor x = arange(9, kFloat32).reshape({1, 1, 3, 3});  // 0 1 2 / 3 4 5 / 6 7 8
  // out[i][j] = x[i][j] + 2 x[i][j+1] + 3 x[i+1][j] + 4 x[i+1][j+1]
  EXPECT_EQ(conv(x).to_vector<float>(),
            (std::vector<float>{0 + 2 + 9 + 16, 1 + 4 + 12 + 20, 3 + 8 + 18 + 28, 4 + 10 + 21 + 32}));
  // A bias shifts every output.
  nn::Conv2d biased(1, 1, 2);
  {
    NoGradGuard no_grad;
    biased->weight.copy_(conv->weight);
    biased->bias.fill_(0.5);
  }
  EXPECT_EQ(biased(x).to_vector<float>(), (std::vector<float>{27.5f, 37.5f, 57.5f, 67.5f}));
}

TEST(NnConv2d, DilationAndGroupsAgreeWithTheOp) {
  nn::Conv2d conv(nn::Conv2dOptions(4, 6, 3).dilation(2).groups(2).padding({2, 1}));
  Tensor x = randn({1, 4, 9, 7});
  EXPECT_TRUE(allclose(conv(x), conv2d(x, conv->weight, conv->bias, {1}, {2, 1}, {2}, 2)));
}

TEST(NnConv2d, PrettyPrint) {
  EXPECT_EQ(printed(*nn::Conv2d(1, 10, 9)), "Conv2d(1, 10, kernel_size=[9, 9], stride=[1, 1])");
  EXPECT_EQ(printed(*nn::Conv2d(nn::Conv2dOptions(3, 16, {3, 5}).stride(2).padding(1).bias(false))),
            "Conv2d(3, 16, kernel_size=[3, 5], stride=[2, 2], padding=[1, 1], bias=false)");
  EXPECT_EQ(printed(*nn::Conv2d(nn::Conv2dOptions(4, 4, 3).dilation(2).groups(4))),
            "Conv2d(4, 4, kernel_size=[3, 3], stride=[1, 1], dilation=[2, 2], groups=4)");
}

TEST(NnConv2d, ErrorsNameTheLayerAndTheShape) {
  nn::Conv2d conv(3, 4, 3);
  expect_error_mentions([&] { conv(randn({2, 5, 8, 8})); }, {"Conv2d", "[2, 5, 8, 8]", "in_channels = 3"});
  expect_error_mentions([&] { conv(randn({8, 8})); }, {"Conv2d", "[8, 8]"});
  expect_error_mentions([] { nn::Conv2d(nn::Conv2dOptions(3, 4, 3).groups(2)); }, {"Conv2d", "divisible"});
  EXPECT_THROW(nn::Conv2d(nn::Conv2dOptions(3, 4, 0)), Error);
  EXPECT_THROW(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).stride(0)), Error);
  EXPECT_THROW(nn::Conv2dOptions(3, 4, {1, 2, 3}), Error);  // kernel_size with 3 values for a 2-D conv
}

TEST(NnConv2d, GradientReachesWeightsAndInput) {
  nn::Conv2d conv(2, 3, 3);
  Tensor x = randn({1, 2, 5, 5}, requires_grad());
  conv(x).sum().backward();
  ASSERT_TRUE(conv->weight.grad().defined());
  EXPECT_EQ(conv->weight.grad().sizes(), conv->weight.sizes());
  // d(sum)/d bias[o] = number of output positions = 3 * 3.
  EXPECT_EQ(conv->bias.grad().to_vector<float>(), (std::vector<float>{9, 9, 9}));
  EXPECT_EQ(x.grad().sizes(), x.sizes());
}

TEST(NnConv1d, DefaultInitialisationUsesFanInOfChannelsTimesKernel) {
  manual_seed(22);
  nn::Conv1d conv(6, 40, 5);
  EXPECT_EQ(conv->weight.sizes(), Dims({40, 6, 5}));
  const double bound = 1.0 / std::sqrt(6.0 * 5.0);  // kaiming_uniform(a = sqrt(5)) gives 1 / sqrt(fan_in)
  EXPECT_LE(max_abs(conv->weight), bound + 1e-7);
  EXPECT_GT(max_abs(conv->weight), 0.95 * bound);
  EXPECT_LE(max_abs(conv->bias), bound + 1e-7);  // bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) too
  EXPECT_GT(max_abs(conv->bias), 0.5 * bound);
  // With groups, fan_in counts the channels of one group only.
  nn::Conv1d grouped(nn::Conv1dOptions(8, 40, 3).groups(4));
  const double grouped_bound = 1.0 / std::sqrt(2.0 * 3.0);
  EXPECT_LE(max_abs(grouped->weight), grouped_bound + 1e-7);
  EXPECT_GT(max_abs(grouped->weight), 0.9 * grouped_bound);
  EXPECT_GT(max_abs(grouped->bias), 0.5 * grouped_bound);
}

TEST(NnConv1d, ForwardMatchesHandComputationAndOp) {
  nn::Conv1d diff(nn::Conv1dOptions(1, 1, 2).bias(false));
  {
    NoGradGuard no_grad;
    diff->weight.copy_(tensor({-1.f, 1.f}).reshape({1, 1, 2}));
  }
  Tensor x = tensor({1.f, 4.f, 9.f, 16.f}).reshape({1, 1, 4});
  EXPECT_EQ(diff(x).to_vector<float>(), (std::vector<float>{3, 5, 7}));

  nn::Conv1d conv(nn::Conv1dOptions(3, 5, 3).stride(2).padding(1));
  EXPECT_EQ(conv->weight.sizes(), Dims({5, 3, 3}));
  Tensor z = randn({2, 3, 10});
  Tensor y = conv(z);
  ASSERT_EQ(y.sizes(), Dims({2, 5, 5}));
  EXPECT_TRUE(allclose(y, conv1d(z, conv->weight, conv->bias, 2, 1)));
  EXPECT_EQ(printed(*conv), "Conv1d(3, 5, kernel_size=[3], stride=[2], padding=[1])");
  expect_error_mentions([&] { conv(randn({2, 4, 10})); }, {"Conv1d", "[2, 4, 10]"});
}

}  // namespace
