// Tests of the libtorch-style options overloads in nn::functional: each one against the plain op it forwards
// to (or a hand computation), so that every option reaches its argument.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nn/functional.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
namespace F = tandem::nn::functional;

TEST(NnFunctional, LinearMatchesMatmul) {
  Tensor x = randn({4, 3}), w = randn({2, 3}), b = randn({2});
  EXPECT_TRUE(allclose(F::linear(x, w, b), x.matmul(w.t()) + b));
  EXPECT_TRUE(allclose(F::linear(x, w), x.matmul(w.t())));
  EXPECT_THROW(F::linear(randn({4, 5}), w), Error);
  EXPECT_THROW(F::linear(x, randn({3})), Error);
}

TEST(NnFunctional, ConvolutionOptions) {
  Tensor x = randn({2, 3, 9, 9}), w = randn({4, 3, 3, 3}), b = randn({4});
  EXPECT_TRUE(
      allclose(F::conv2d(x, w, F::Conv2dFuncOptions().stride(2).padding(1).bias(b)), conv2d(x, w, b, {2}, {1})));
  Tensor wg = randn({4, 1, 3, 3});
  Tensor xg = randn({1, 4, 7, 7});
  EXPECT_TRUE(
      allclose(F::conv2d(xg, wg, F::Conv2dFuncOptions().groups(4).dilation(2)), conv2d(xg, wg, {}, {1}, {0}, {2}, 4)));
  Tensor x1 = randn({2, 3, 10}), w1 = randn({5, 3, 3});
  EXPECT_TRUE(allclose(F::conv1d(x1, w1, F::Conv1dFuncOptions().stride(2).padding(1)), conv1d(x1, w1, {}, 2, 1)));
}

TEST(NnFunctional, PoolingOptions) {
  Tensor x = arange(16, kFloat32).reshape({1, 1, 4, 4});
  EXPECT_EQ(F::max_pool2d(x, F::MaxPool2dFuncOptions(2)).to_vector<float>(), (std::vector<float>{5, 7, 13, 15}));
  EXPECT_EQ(F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(1)).to_vector<float>(),
            (std::vector<float>{10, 11, 14, 15}));
  EXPECT_EQ(F::avg_pool2d(x, F::AvgPool2dFuncOptions(2)).to_vector<float>(),
            (std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f}));
  EXPECT_EQ(F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)).to_vector<float>(),
            (std::vector<float>{7.5f}));
}

TEST(NnFunctional, DropoutOptions) {
  Tensor x = randn({8, 8});
  EXPECT_EQ(F::dropout(x, F::DropoutFuncOptions().p(0.5).training(false)).to_vector<float>(), x.to_vector<float>());
  for (float v : F::dropout(x, F::DropoutFuncOptions().p(1.0)).to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(NnFunctional, NormalisationOptions) {
  Tensor x = randn({3, 4}, kFloat64);
  Tensor w = randn({4}, kFloat64), b = randn({4}, kFloat64);
  EXPECT_TRUE(allclose(F::layer_norm(x, F::LayerNormFuncOptions({4}).weight(w).bias(b).eps(1e-3)),
                       layer_norm(x, {4}, w, b, 1e-3)));
  Tensor rm = zeros({4}, kFloat64), rv = ones({4}, kFloat64);
  Tensor y = F::batch_norm(x, rm, rv, F::BatchNormFuncOptions().training(true).momentum(0.5));
  // The running mean moved halfway to the batch mean.
  auto batch_mean = x.mean({0}).to_vector<double>();
  auto moved = rm.to_vector<double>();
  for (size_t c = 0; c < 4; ++c) EXPECT_NEAR(moved[c], 0.5 * batch_mean[c], 1e-12);
  EXPECT_EQ(y.sizes(), x.sizes());
  // Evaluation (the default) uses the running statistics.
  Tensor z = F::batch_norm(x, zeros({4}, kFloat64), ones({4}, kFloat64), F::BatchNormFuncOptions().eps(0));
  EXPECT_TRUE(allclose(z, x, 1e-12, 1e-12));
}

TEST(NnFunctional, ActivationOptions) {
  Tensor x = tensor({-2.0, -0.5, 0.0, 1.5});
  EXPECT_EQ(F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.1)).to_vector<double>(),
            (std::vector<double>{-0.2, -0.05, 0.0, 1.5}));
  EXPECT_TRUE(allclose(F::gelu(x, F::GELUFuncOptions().approximate("tanh")), gelu(x, "tanh")));
  EXPECT_TRUE(allclose(F::softplus(x, F::SoftplusFuncOptions().beta(2)), softplus(x, 2)));
  Tensor m = randn({2, 3});
  EXPECT_TRUE(allclose(F::softmax(m, F::SoftmaxFuncOptions(0)), softmax(m, 0)));
  EXPECT_TRUE(allclose(F::log_softmax(m, F::LogSoftmaxFuncOptions(1)), log_softmax(m, 1)));
}

TEST(NnFunctional, LossOptions) {
  Tensor logits = randn({6, 4}, kFloat64);
  Tensor target = tensor<int64_t>({0, 3, 3, 1, 2, 0});
  EXPECT_NEAR(F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().ignore_index(3).label_smoothing(0.1))
                  .item<double>(),
              cross_entropy(logits, target, {}, 3, 0.1).item<double>(), 1e-12);
  EXPECT_NEAR(F::nll_loss(log_softmax(logits, 1), target, F::NLLLossFuncOptions().reduction(nn::kSum)).item<double>(),
              cross_entropy(logits, target, {}, -100, 0.0, Reduction::Sum).item<double>(), 1e-12);
  Tensor a = randn({5}, kFloat64), b = randn({5}, kFloat64);
  EXPECT_NEAR(F::mse_loss(a, b, F::MSELossFuncOptions(nn::kSum)).item<double>(),
              ((a - b) * (a - b)).sum().item<double>(), 1e-12);
  EXPECT_NEAR(F::l1_loss(a, b, F::L1LossFuncOptions()).item<double>(), (a - b).abs().mean().item<double>(), 1e-12);
  EXPECT_NEAR(F::huber_loss(a, b, F::HuberLossFuncOptions().delta(0.3)).item<double>(),
              huber_loss(a, b, 0.3).item<double>(), 1e-12);
  EXPECT_NEAR(F::smooth_l1_loss(a, b, F::SmoothL1LossFuncOptions().beta(0.3)).item<double>(),
              smooth_l1_loss(a, b, 0.3).item<double>(), 1e-12);
  Tensor y = rand({5}, kFloat64), pw = tensor({2.0});
  EXPECT_NEAR(F::binary_cross_entropy_with_logits(a, y, F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(pw))
                  .item<double>(),
              binary_cross_entropy_with_logits(a, y, {}, pw).item<double>(), 1e-12);
  Tensor p = log_softmax(a, 0), q = softmax(b, 0);
  EXPECT_NEAR(F::kl_div(p, q.log(), F::KLDivFuncOptions(nn::kSum).log_target(true)).item<double>(),
              kl_div(p, q, Reduction::Sum).item<double>(), 1e-12);
}

TEST(NnFunctional, ReductionNamesAndShortAlias) {
  EXPECT_STREQ(nn::reduction_name(nn::kMean), "mean");
  EXPECT_STREQ(nn::reduction_name(nn::kSum), "sum");
  EXPECT_STREQ(nn::reduction_name(nn::kNone), "none");
  Tensor x = tensor({-1.0, 2.0});
  EXPECT_EQ(nn::F::relu(x).to_vector<double>(), (std::vector<double>{0.0, 2.0}));
}

}  // namespace
