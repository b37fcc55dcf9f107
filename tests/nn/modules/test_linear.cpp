// Tests of Linear, Identity and Flatten, and of the Module features seen through Linear: default
// initialisation, gradients, clone(), to(dtype) keeping handles, freezing and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "nn/modules/linear.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
namespace nn = tandem::nn;

using nn::testing::expect_error_mentions;
using nn::testing::printed;

nn::Linear linear_with(const std::vector<float>& w, const std::vector<float>& b, int64_t in, int64_t out) {
  nn::Linear fc(in, out);
  NoGradGuard no_grad;
  fc->weight.copy_(tensor(w).reshape({out, in}));
  fc->bias.copy_(tensor(b));
  return fc;
}

TEST(NnLinear, ForwardMatchesHandComputation) {
  nn::Linear fc = linear_with({1, 2, 3, 4, 5, 6}, {0.5f, -1}, 3, 2);
  Tensor x = tensor({1.f, 0.f, -1.f, 2.f, 1.f, 0.f}).reshape({2, 3});
  Tensor y = fc(x);
  ASSERT_EQ(y.sizes(), Dims({2, 2}));
  // [1,0,-1].[1,2,3] + 0.5 = -1.5; [1,0,-1].[4,5,6] - 1 = -3; [2,1,0].[1,2,3] + 0.5 = 4.5; [2,1,0].[4,5,6] - 1 = 12
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-1.5f, -3.f, 4.5f, 12.f}));
}

TEST(NnLinear, AppliesToTheLastDimensionOfAnyRank) {
  nn::Linear fc(3, 2);
  Tensor x = randn({2, 4, 3});
  Tensor y = fc(x);
  ASSERT_EQ(y.sizes(), Dims({2, 4, 2}));
  Tensor expected = x.reshape({8, 3}).matmul(fc->weight.t()) + fc->bias;
  EXPECT_TRUE(allclose(y.reshape({8, 2}), expected, 1e-5, 1e-6));
  Tensor v = randn({3});
  EXPECT_EQ(fc(v).sizes(), Dims({2}));
}

TEST(NnLinear, GradientsMatchHandComputation) {
  nn::Linear fc = linear_with({1, 2, 3, 4, 5, 6}, {0, 0}, 3, 2);
  Tensor x = tensor({1.f, 2.f, 3.f, -1.f, 0.5f, 2.f}).reshape({2, 3});
  fc(x).sum().backward();
  // d(sum y)/dW[o, i] = sum_n x[n, i]; d(sum y)/db[o] = N.
  EXPECT_EQ(fc->weight.grad().to_vector<float>(), (std::vector<float>{0, 2.5f, 5, 0, 2.5f, 5}));
  EXPECT_EQ(fc->bias.grad().to_vector<float>(), (std::vector<float>{2, 2}));
}

TEST(NnLinear, DefaultInitialisationIsUniformInverseSqrtFanIn) {
  manual_seed(11);
  nn::Linear fc(100, 50);
  const double bound = 1.0 / std::sqrt(100.0);
  double w_max = 0, b_max = 0;
  for (float v : fc->weight.to_vector<float>()) w_max = std::max(w_max, std::abs(static_cast<double>(v)));
  for (float v : fc->bias.to_vector<float>()) b_max = std::max(b_max, std::abs(static_cast<double>(v)));
  EXPECT_LE(w_max, bound + 1e-7);
  EXPECT_GT(w_max, 0.95 * bound);
  EXPECT_LE(b_max, bound + 1e-7);
  EXPECT_GT(b_max, 0.8 * bound);
  EXPECT_TRUE(fc->weight.requires_grad());
  EXPECT_EQ(fc->num_parameters(), 100 * 50 + 50);
}

TEST(NnLinear, WithoutBias) {
  nn::Linear fc(nn::LinearOptions(4, 3).bias(false));
  EXPECT_FALSE(fc->bias.defined());
  auto names = fc->named_parameters().keys();
  EXPECT_EQ(names, (std::vector<std::string>{"weight"}));
  Tensor x = randn({5, 4});
  EXPECT_TRUE(allclose(fc(x), x.matmul(fc->weight.t())));
  EXPECT_EQ(printed(*fc), "Linear(in_features=4, out_features=3, bias=false)");
}

TEST(NnLinear, PrettyPrint) {
  nn::Linear fc(784, 10);
  EXPECT_EQ(printed(*fc), "Linear(in_features=784, out_features=10, bias=true)");
  EXPECT_EQ(fc->name(), "Linear");
}

TEST(NnLinear, WrongInputShapeNamesTheLayerAndTheShape) {
  nn::Linear fc(4, 2);
  expect_error_mentions([&] { fc(randn({3, 5})); }, {"Linear", "[3, 5]", "4"});
  EXPECT_THROW(fc(Tensor()), Error);
}

TEST(NnLinear, CloneIsEqualButIndependent) {
  nn::Linear fc(3, 2);
  auto copy = std::dynamic_pointer_cast<nn::LinearImpl>(fc->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_FALSE(copy->weight.is_same(fc->weight));
  EXPECT_EQ(copy->weight.to_vector<float>(), fc->weight.to_vector<float>());
  EXPECT_EQ(copy->bias.to_vector<float>(), fc->bias.to_vector<float>());
  // The clone's member handles are its registered parameters.
  EXPECT_TRUE(copy->named_parameters()["weight"].is_same(copy->weight));
  EXPECT_TRUE(copy->weight.requires_grad());
  {
    NoGradGuard no_grad;
    copy->weight.fill_(7);
  }
  EXPECT_NE(fc->weight.to_vector<float>()[0], 7.0f);
  Tensor x = randn({1, 3});
  copy->forward(x).sum().backward();
  EXPECT_TRUE(copy->weight.grad().defined());
  EXPECT_FALSE(fc->weight.grad().defined());
}

TEST(NnLinear, ToFloat64KeepsTheSameHandles) {
  nn::Linear fc(3, 2);
  Tensor weight_before = fc->weight;
  const auto values = fc->weight.to_vector<float>();
  fc->to(kFloat64);
  EXPECT_EQ(fc->weight.dtype(), kFloat64);
  EXPECT_EQ(fc->bias.dtype(), kFloat64);
  EXPECT_TRUE(fc->weight.is_same(weight_before));
  EXPECT_TRUE(fc->named_parameters()["weight"].is_same(fc->weight));
  auto moved = fc->weight.to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(moved[i], static_cast<double>(values[i]));
  Tensor y = fc(randn({4, 3}, kFloat64));
  EXPECT_EQ(y.dtype(), kFloat64);
}

TEST(NnLinear, FreezingStopsGradients) {
  nn::Linear fc(3, 2);
  fc->requires_grad_(false);
  EXPECT_EQ(fc->num_parameters(/*only_trainable=*/true), 0);
  Tensor x = randn({2, 3}, requires_grad());
  fc(x).sum().backward();
  EXPECT_FALSE(fc->weight.grad().defined());
  EXPECT_TRUE(x.grad().defined());
}

TEST(NnIdentity, ReturnsItsInput) {
  nn::Identity id;
  Tensor x = randn({2, 3});
  EXPECT_TRUE(id(x).is_same(x));
  EXPECT_EQ(printed(*id), "Identity()");
  EXPECT_EQ(id->num_parameters(), 0);
}

TEST(NnFlatten, MergesTheRequestedDimensions) {
  nn::Flatten flatten;
  Tensor x = randn({2, 3, 4, 5});
  EXPECT_EQ(flatten(x).sizes(), Dims({2, 60}));
  EXPECT_EQ(flatten(x).to_vector<float>(), x.to_vector<float>());
  nn::Flatten partial(nn::FlattenOptions(1, 2));
  EXPECT_EQ(partial(x).sizes(), Dims({2, 12, 5}));
  EXPECT_EQ(printed(*flatten), "Flatten(start_dim=1, end_dim=-1)");
  EXPECT_EQ(printed(*partial), "Flatten(start_dim=1, end_dim=2)");
}

}  // namespace
