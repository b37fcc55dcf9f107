// Tests of the activation layers against their formulas, with their options and printing.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "nn/modules/activation.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::printed;

const std::vector<double> kInputs{-2.5, -1.0, -0.1, 0.0, 0.3, 1.0, 3.0};

/// Applies `module` to kInputs (float64) and compares with fn element by element.
template <typename M, typename Fn>
void expect_elementwise(M& module, Fn fn) {
  Tensor x = tensor(kInputs);
  auto y = module(x).template to_vector<double>();
  ASSERT_EQ(y.size(), kInputs.size());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], fn(kInputs[i]), 1e-12) << "at x = " << kInputs[i];
}

TEST(NnActivation, ElementwiseFormulas) {
  nn::ReLU relu;
  expect_elementwise(relu, [](double x) { return x > 0 ? x : 0.0; });
  nn::LeakyReLU leaky(nn::LeakyReLUOptions(0.2));
  expect_elementwise(leaky, [](double x) { return x > 0 ? x : 0.2 * x; });
  nn::LeakyReLU leaky_default;
  expect_elementwise(leaky_default, [](double x) { return x > 0 ? x : 0.01 * x; });
  nn::GELU gelu;
  expect_elementwise(gelu, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); });
  nn::GELU gelu_tanh("tanh");
  expect_elementwise(gelu_tanh, [](double x) {
    return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
  });
  nn::SiLU silu;
  expect_elementwise(silu, [](double x) { return x / (1 + std::exp(-x)); });
  nn::Tanh tanh_layer;
  expect_elementwise(tanh_layer, [](double x) { return std::tanh(x); });
  nn::Sigmoid sigmoid;
  expect_elementwise(sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); });
}

TEST(NnActivation, SoftmaxAndLogSoftmaxAlongTheirDim) {
  Tensor x = tensor({1.0, 2.0, 3.0, 1.0, 1.0, 1.0}).reshape({2, 3});
  nn::Softmax softmax(1);
  auto y = softmax(x).to_vector<double>();
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(y[0], std::exp(1.0) / z, 1e-12);
  EXPECT_NEAR(y[2], std::exp(3.0) / z, 1e-12);
  EXPECT_NEAR(y[4], 1.0 / 3, 1e-12);
  nn::Softmax columns(0);
  auto c = columns(x).to_vector<double>();
  EXPECT_NEAR(c[0] + c[3], 1.0, 1e-12);
  EXPECT_NEAR(c[2], std::exp(3.0) / (std::exp(3.0) + std::exp(1.0)), 1e-12);
  nn::LogSoftmax log_softmax(-1);
  auto l = log_softmax(x).to_vector<double>();
  EXPECT_NEAR(l[1], 2.0 - std::log(z), 1e-12);
  EXPECT_THROW(softmax(tensor({1.0, 2.0})), Error);  // dim 1 of a 1-D tensor
}

TEST(NnActivation, PrettyPrintAndOptions) {
  EXPECT_EQ(printed(*nn::ReLU()), "ReLU()");
  EXPECT_EQ(printed(*nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2))), "LeakyReLU(negative_slope=0.2)");
  EXPECT_EQ(printed(*nn::GELU()), "GELU(approximate=none)");
  EXPECT_EQ(printed(*nn::GELU(nn::GELUOptions("tanh"))), "GELU(approximate=tanh)");
  EXPECT_EQ(printed(*nn::SiLU()), "SiLU()");
  EXPECT_EQ(printed(*nn::Tanh()), "Tanh()");
  EXPECT_EQ(printed(*nn::Sigmoid()), "Sigmoid()");
  EXPECT_EQ(printed(*nn::Softmax(1)), "Softmax(dim=1)");
  EXPECT_EQ(printed(*nn::LogSoftmax(nn::LogSoftmaxOptions(-1))), "LogSoftmax(dim=-1)");
  EXPECT_THROW(nn::GELU("erf"), Error);
  EXPECT_EQ(nn::ReLU()->num_parameters(), 0);
}

TEST(NnActivation, GradientsFlow) {
  Tensor x = tensor({-1.0, 2.0}, TensorOptions(kFloat64).requires_grad(true));
  nn::LeakyReLU leaky(nn::LeakyReLUOptions(0.1));
  leaky(x).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0.1, 1.0}));
}

}  // namespace
