// Tests of BatchNorm1d, BatchNorm2d and LayerNorm: running statistics after two training steps computed by
// hand, train vs eval, momentum options, affine/track_running_stats switches, values of LayerNorm, printing,
// clone and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <vector>

#include "autograd/grad_mode.h"
#include "nn/modules/normalization.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::expect_error_mentions;
using nn::testing::printed;

/// Per-channel mean and unbiased variance of an [N, C, H, W] float64 tensor, by loops.
void channel_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& unbiased_var) {
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  auto v = x.to_vector<double>();
  mean.assign(static_cast<size_t>(C), 0);
  unbiased_var.assign(static_cast<size_t>(C), 0);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) s += v[static_cast<size_t>((n * C + c) * HW + i)];
    const double m = s / static_cast<double>(N * HW);
    double q = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const double d = v[static_cast<size_t>((n * C + c) * HW + i)] - m;
        q += d * d;
      }
    mean[static_cast<size_t>(c)] = m;
    unbiased_var[static_cast<size_t>(c)] = q / static_cast<double>(N * HW - 1);
  }
}

TEST(NnBatchNorm2d, RunningStatisticsAfterTwoStepsByHand) {
  nn::BatchNorm2d bn(2);
  bn->to(kFloat64);
  EXPECT_EQ(bn->running_mean.to_vector<double>(), (std::vector<double>{0, 0}));
  EXPECT_EQ(bn->running_var.to_vector<double>(), (std::vector<double>{1, 1}));
  Tensor x1 = randn({3, 2, 2, 2}, kFloat64) * 2.0 + 1.0;
  Tensor x2 = randn({3, 2, 2, 2}, kFloat64) - 0.5;
  bn(x1);
  bn(x2);
  std::vector<double> m1, v1, m2, v2;
  channel_stats(x1, m1, v1);
  channel_stats(x2, m2, v2);
  auto rm = bn->running_mean.to_vector<double>();
  auto rv = bn->running_var.to_vector<double>();
  for (size_t c = 0; c < 2; ++c) {
    const double mean_after_1 = 0.9 * 0 + 0.1 * m1[c], var_after_1 = 0.9 * 1 + 0.1 * v1[c];
    EXPECT_NEAR(rm[c], 0.9 * mean_after_1 + 0.1 * m2[c], 1e-12);
    EXPECT_NEAR(rv[c], 0.9 * var_after_1 + 0.1 * v2[c], 1e-12);
  }
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 2);
  EXPECT_EQ(bn->num_batches_tracked.dtype(), kInt64);
}

TEST(NnBatchNorm2d, TrainingNormalisesWithBatchStatistics) {
  nn::BatchNorm2d bn(3);
  Tensor x = randn({4, 3, 5, 5}) * 3.0 + 2.0;
  Tensor y = bn(x);
  // weight 1, bias 0: every channel of the output has mean 0 and (population) variance 1.
  auto mean = y.mean({0, 2, 3}).to_vector<float>();
  auto var = y.var({0, 2, 3}, /*correction=*/0).to_vector<float>();
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(mean[c], 0.0, 1e-5);
    EXPECT_NEAR(var[c], 1.0, 1e-3);
  }
}

TEST(NnBatchNorm2d, EvalUsesRunningStatistics) {
  nn::BatchNorm2d bn(2);
  bn->to(kFloat64);
  bn(randn({4, 2, 3, 3}, kFloat64) + 3.0);
  bn->eval();
  Tensor x = randn({2, 2, 3, 3}, kFloat64);
  {
    NoGradGuard no_grad;
    bn->weight.copy_(tensor({2.0, 0.5}));
    bn->bias.copy_(tensor({-1.0, 1.0}));
  }
  Tensor y = bn(x);
  Tensor rm = bn->running_mean.reshape({1, 2, 1, 1}), rv = bn->running_var.reshape({1, 2, 1, 1});
  Tensor expected = (x - rm) / (rv + 1e-5).sqrt() * tensor({2.0, 0.5}).reshape({1, 2, 1, 1}) +
                    tensor({-1.0, 1.0}).reshape({1, 2, 1, 1});
  EXPECT_TRUE(allclose(y, expected, 1e-10, 1e-12));
  // Evaluation leaves the running statistics and the counter alone.
  const auto rm_before = bn->running_mean.to_vector<double>();
  bn(x);
  EXPECT_EQ(bn->running_mean.to_vector<double>(), rm_before);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
}

TEST(NnBatchNorm2d, CumulativeAverageWithoutMomentum) {
  nn::BatchNorm2d bn(nn::BatchNormOptions(2).momentum(std::nullopt));
  bn->to(kFloat64);
  Tensor x1 = randn({2, 2, 2, 2}, kFloat64), x2 = randn({2, 2, 2, 2}, kFloat64) + 1.0;
  bn(x1);
  bn(x2);
  std::vector<double> m1, v1, m2, v2;
  channel_stats(x1, m1, v1);
  channel_stats(x2, m2, v2);
  auto rm = bn->running_mean.to_vector<double>();
  auto rv = bn->running_var.to_vector<double>();
  for (size_t c = 0; c < 2; ++c) {
    EXPECT_NEAR(rm[c], (m1[c] + m2[c]) / 2, 1e-12);
    EXPECT_NEAR(rv[c], (v1[c] + v2[c]) / 2, 1e-12);
  }
  EXPECT_EQ(printed(*bn), "BatchNorm2d(2, eps=1e-05, momentum=None, affine=true, track_running_stats=true)");
}

TEST(NnBatchNorm2d, WithoutRunningStatsOrAffine) {
  nn::BatchNorm2d bn(nn::BatchNormOptions(2).track_running_stats(false).affine(false));
  EXPECT_TRUE(bn->named_buffers().empty());
  EXPECT_TRUE(bn->named_parameters().empty());
  bn->eval();  // without running statistics, evaluation also uses the batch statistics
  Tensor y = bn(randn({4, 2, 3, 3}) * 5.0 + 7.0);
  for (float m : y.mean({0, 2, 3}).to_vector<float>()) EXPECT_NEAR(m, 0.0, 1e-5);
}

TEST(NnBatchNorm2d, BuffersParametersAndPrinting) {
  nn::BatchNorm2d bn(16);
  EXPECT_EQ(bn->named_buffers().keys(),
            (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn->named_parameters().keys(), (std::vector<std::string>{"weight", "bias"}));
  for (float w : bn->weight.to_vector<float>()) EXPECT_EQ(w, 1.0f);
  for (float b : bn->bias.to_vector<float>()) EXPECT_EQ(b, 0.0f);
  EXPECT_EQ(printed(*bn), "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
}

TEST(NnBatchNorm2d, CloneCopiesRunningStatistics) {
  nn::BatchNorm2d bn(3);
  bn(randn({4, 3, 2, 2}) + 1.0);
  auto copy = std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(bn->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->running_mean.to_vector<float>(), bn->running_mean.to_vector<float>());
  EXPECT_EQ(copy->num_batches_tracked.item<int64_t>(), 1);
  EXPECT_FALSE(copy->running_mean.is_same(bn->running_mean));
  copy->forward(randn({4, 3, 2, 2}));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
}

TEST(NnBatchNorm2d, ErrorsNameTheLayerAndTheShape) {
  nn::BatchNorm2d bn(3);
  expect_error_mentions([&] { bn(randn({2, 3, 4})); }, {"BatchNorm2d", "[2, 3, 4]"});
  expect_error_mentions([&] { bn(randn({2, 4, 2, 2})); }, {"BatchNorm2d", "[2, 4, 2, 2]", "num_features = 3"});
  EXPECT_THROW(bn(randn({1, 3, 1, 1})), Error);  // one value per channel cannot be normalised in training
  EXPECT_THROW(nn::BatchNorm2d(0), Error);
}

TEST(NnBatchNorm1d, TwoAndThreeDimensionalInputs) {
  nn::BatchNorm1d bn(4);
  bn->to(kFloat64);
  Tensor x = randn({8, 4}, kFloat64) * 2.0;
  Tensor y = bn(x);
  Tensor centered = x - x.mean({0}, true);
  Tensor expected = centered / ((centered * centered).mean({0}, true) + 1e-5).sqrt();
  EXPECT_TRUE(allclose(y, expected, 1e-10, 1e-12));
  Tensor seq = randn({2, 4, 6}, kFloat64);
  EXPECT_EQ(bn(seq).sizes(), Dims({2, 4, 6}));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 2);
  expect_error_mentions([&] { bn(randn({8, 5}, kFloat64)); }, {"BatchNorm1d", "[8, 5]"});
  expect_error_mentions([&] { bn(randn({2, 4, 2, 2}, kFloat64)); }, {"BatchNorm1d", "[2, 4, 2, 2]"});
  EXPECT_EQ(printed(*bn), "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
}

TEST(NnLayerNorm, ValuesMatchHandComputation) {
  nn::LayerNorm ln(nn::LayerNormOptions({3}));
  ln->to(kFloat64);
  Tensor x = tensor({1.0, 2.0, 6.0, -1.0, 0.0, 1.0}).reshape({2, 3});
  Tensor y = ln(x);
  // Row 1: mean 3, population variance 14/3; row 2: mean 0, variance 2/3.
  const double s1 = std::sqrt(14.0 / 3 + 1e-5), s2 = std::sqrt(2.0 / 3 + 1e-5);
  std::vector<double> expected{-2 / s1, -1 / s1, 3 / s1, -1 / s2, 0, 1 / s2};
  auto got = y.to_vector<double>();
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(got[i], expected[i], 1e-12);
  {
    NoGradGuard no_grad;
    ln->weight.copy_(tensor({1.0, 2.0, 3.0}));
    ln->bias.fill_(1.0);
  }
  got = ln(x).to_vector<double>();
  EXPECT_NEAR(got[2], 3 * 3 / s1 + 1, 1e-12);
  EXPECT_NEAR(got[4], 1.0, 1e-12);
}

TEST(NnLayerNorm, TrailingShapeAffineAndErrors) {
  nn::LayerNorm ln(nn::LayerNormOptions({4, 5}).eps(1e-6));
  EXPECT_EQ(ln->weight.sizes(), Dims({4, 5}));
  for (float w : ln->weight.to_vector<float>()) EXPECT_EQ(w, 1.0f);  // default initialisation: ones and zeros
  for (float b : ln->bias.to_vector<float>()) EXPECT_EQ(b, 0.0f);
  Tensor y = ln(randn({2, 3, 4, 5}) * 4.0);
  for (float m : y.mean({2, 3}).to_vector<float>()) EXPECT_NEAR(m, 0.0, 1e-5);
  EXPECT_EQ(printed(*ln), "LayerNorm([4, 5], eps=1e-06, elementwise_affine=true)");
  nn::LayerNorm plain(nn::LayerNormOptions({5}).elementwise_affine(false));
  EXPECT_TRUE(plain->named_parameters().empty());
  expect_error_mentions([&] { ln(randn({2, 5, 4})); }, {"LayerNorm", "[2, 5, 4]", "[4, 5]"});
}

}  // namespace
