// Tests of the loss modules: values of every reduction against hand computations, cross-entropy with
// ignore_index, label smoothing and class weights by loops, BCE-with-logits weights, KL divergence with either
// target form, weight buffers moving with the module, printing and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nn/modules/loss.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::printed;

TEST(NnLoss, MSEAndL1AllReductions) {
  Tensor input = tensor({1.0, 2.0, 3.0}), target = tensor({0.0, 2.0, 5.0});
  EXPECT_NEAR(nn::MSELoss()(input, target).item<double>(), 5.0 / 3, 1e-12);
  EXPECT_NEAR(nn::MSELoss(nn::MSELossOptions(nn::kSum))(input, target).item<double>(), 5.0, 1e-12);
  EXPECT_EQ(nn::MSELoss(nn::MSELossOptions().reduction(nn::kNone))(input, target).to_vector<double>(),
            (std::vector<double>{1, 0, 4}));
  EXPECT_NEAR(nn::L1Loss()(input, target).item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(nn::L1Loss(nn::L1LossOptions(nn::kSum))(input, target).item<double>(), 3.0, 1e-12);
  EXPECT_EQ(printed(*nn::MSELoss()), "MSELoss(reduction=mean)");
  EXPECT_EQ(printed(*nn::L1Loss(nn::L1LossOptions(nn::kNone))), "L1Loss(reduction=none)");
  EXPECT_THROW(nn::MSELoss()(input, tensor({1.0, 2.0})), Error);
}

TEST(NnLoss, SmoothL1AndHuber) {
  Tensor input = tensor({1.0, 0.0, -2.0, 0.2}), target = zeros({4}, kFloat64);
  // beta = 0.5: 0.5 d^2 / beta inside, |d| - beta / 2 outside -> 0.75, 0, 1.75, 0.04
  nn::SmoothL1Loss smooth(nn::SmoothL1LossOptions(nn::kSum).beta(0.5));
  EXPECT_NEAR(smooth(input, target).item<double>(), 0.75 + 1.75 + 0.04, 1e-12);
  // delta = 0.5: 0.5 d^2 inside, delta (|d| - delta / 2) outside -> 0.375, 0, 0.875, 0.02
  nn::HuberLoss huber(nn::HuberLossOptions().delta(0.5));
  EXPECT_NEAR(huber(input, target).item<double>(), (0.375 + 0.875 + 0.02) / 4, 1e-12);
  EXPECT_EQ(printed(*smooth), "SmoothL1Loss(beta=0.5, reduction=sum)");
  EXPECT_EQ(printed(*huber), "HuberLoss(delta=0.5, reduction=mean)");
  EXPECT_THROW(nn::HuberLoss(nn::HuberLossOptions().delta(0)), Error);
}

/// Cross-entropy by loops over float64 logits [N, C]: weights (empty = 1), ignore_index, label smoothing,
/// mean reduction (denominator: the weights of the kept targets).
double cross_entropy_reference(const Tensor& logits, const std::vector<int64_t>& target, std::vector<double> weight,
                               int64_t ignore_index, double smoothing) {
  const int64_t N = logits.size(0), C = logits.size(1);
  if (weight.empty()) weight.assign(static_cast<size_t>(C), 1.0);
  auto x = logits.to_vector<double>();
  double nll = 0, smooth = 0, denominator = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t y = target[static_cast<size_t>(i)];
    if (y == ignore_index) continue;
    double z = 0;
    for (int64_t c = 0; c < C; ++c) z += std::exp(x[static_cast<size_t>(i * C + c)]);
    auto logp = [&](int64_t c) { return x[static_cast<size_t>(i * C + c)] - std::log(z); };
    nll -= weight[static_cast<size_t>(y)] * logp(y);
    for (int64_t c = 0; c < C; ++c) smooth -= weight[static_cast<size_t>(c)] * logp(c);
    denominator += weight[static_cast<size_t>(y)];
  }
  return (1 - smoothing) * nll / denominator + smoothing / static_cast<double>(C) * smooth / denominator;
}

TEST(NnLoss, CrossEntropyWithIgnoreIndexSmoothingAndWeights) {
  manual_seed(71);
  Tensor logits = randn({5, 4}, kFloat64);
  const std::vector<int64_t> labels{0, 3, 1, 2, 1};
  Tensor target = tensor(labels);
  EXPECT_NEAR(nn::CrossEntropyLoss()(logits, target).item<double>(),
              cross_entropy_reference(logits, labels, {}, -100, 0.0), 1e-12);
  nn::CrossEntropyLoss ignoring(nn::CrossEntropyLossOptions().ignore_index(1).label_smoothing(0.1));
  EXPECT_NEAR(ignoring(logits, target).item<double>(), cross_entropy_reference(logits, labels, {}, 1, 0.1), 1e-12);
  const std::vector<double> w{0.5, 2.0, 1.0, 3.0};
  nn::CrossEntropyLoss weighted(nn::CrossEntropyLossOptions().weight(tensor(w)).label_smoothing(0.2));
  EXPECT_NEAR(weighted(logits, target).item<double>(), cross_entropy_reference(logits, labels, w, -100, 0.2), 1e-12);
  EXPECT_EQ(printed(*ignoring), "CrossEntropyLoss(ignore_index=1, label_smoothing=0.1, reduction=mean)");
  EXPECT_EQ(printed(*weighted), "CrossEntropyLoss(ignore_index=-100, label_smoothing=0.2, reduction=mean, weight=[4])");
  nn::CrossEntropyLoss per_sample(nn::CrossEntropyLossOptions(nn::kNone));
  EXPECT_EQ(per_sample(logits, target).sizes(), Dims({5}));
  EXPECT_THROW(nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().label_smoothing(1.5)), Error);
  EXPECT_THROW(nn::CrossEntropyLoss()(logits, tensor<int64_t>({0, 1, 2, 3, 4})), Error);  // class 4 of 4
}

TEST(NnLoss, CrossEntropyWeightIsABufferThatMoves) {
  Tensor w = tensor({1.f, 2.f, 3.f});
  nn::CrossEntropyLoss loss(nn::CrossEntropyLossOptions().weight(w));
  EXPECT_EQ(loss->named_buffers().keys(), (std::vector<std::string>{"weight"}));
  EXPECT_TRUE(loss->named_parameters().empty());
  loss->to(kFloat64);
  EXPECT_EQ(loss->weight.dtype(), kFloat64);
  EXPECT_EQ(w.dtype(), kFloat32);  // the caller's tensor is left alone
  Tensor logits = randn({4, 3}, kFloat64);
  Tensor target = tensor<int64_t>({0, 1, 2, 2});
  EXPECT_NEAR(loss(logits, target).item<double>(),
              cross_entropy_reference(logits, {0, 1, 2, 2}, {1.0, 2.0, 3.0}, -100, 0.0), 1e-12);
}

TEST(NnLoss, NLLOfLogSoftmaxIsCrossEntropy) {
  Tensor logits = randn({6, 3}, kFloat64);
  Tensor target = tensor<int64_t>({0, 2, 1, 1, 0, 2});
  Tensor w = tensor({0.2, 1.0, 3.0});
  nn::NLLLoss nll(nn::NLLLossOptions().weight(w).ignore_index(2));
  nn::CrossEntropyLoss ce(nn::CrossEntropyLossOptions().weight(w).ignore_index(2));
  EXPECT_NEAR(nll(log_softmax(logits, 1), target).item<double>(), ce(logits, target).item<double>(), 1e-12);
  EXPECT_NEAR(nll(log_softmax(logits, 1), target).item<double>(),
              cross_entropy_reference(logits, {0, 2, 1, 1, 0, 2}, {0.2, 1.0, 3.0}, 2, 0.0), 1e-12);
  EXPECT_EQ(printed(*nll), "NLLLoss(ignore_index=2, reduction=mean, weight=[3])");
}

TEST(NnLoss, BCEWithLogitsWeightAndPosWeight) {
  Tensor x = tensor({0.5, -1.0, 2.0, -0.3, 0.0, 1.5}).reshape({2, 3});
  Tensor y = tensor({1.0, 0.0, 1.0, 0.0, 1.0, 0.3}).reshape({2, 3});
  const std::vector<double> w{1.0, 0.5, 2.0}, pw{3.0, 1.0, 0.5};
  nn::BCEWithLogitsLoss loss(nn::BCEWithLogitsLossOptions(nn::kSum).weight(tensor(w)).pos_weight(tensor(pw)));
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  double expected = 0;
  for (size_t i = 0; i < 6; ++i) {
    const double s = 1 / (1 + std::exp(-xv[i]));
    const size_t c = i % 3;
    expected -= w[c] * (pw[c] * yv[i] * std::log(s) + (1 - yv[i]) * std::log(1 - s));
  }
  EXPECT_NEAR(loss(x, y).item<double>(), expected, 1e-12);
  EXPECT_EQ(loss->named_buffers().keys(), (std::vector<std::string>{"weight", "pos_weight"}));
  EXPECT_EQ(printed(*loss), "BCEWithLogitsLoss(reduction=sum, weight=[3], pos_weight=[3])");
  double plain = 0;
  for (size_t i = 0; i < 6; ++i) {
    const double s = 1 / (1 + std::exp(-xv[i]));
    plain -= yv[i] * std::log(s) + (1 - yv[i]) * std::log(1 - s);
  }
  EXPECT_NEAR(nn::BCEWithLogitsLoss()(x, y).item<double>(), plain / 6, 1e-12);
}

TEST(NnLoss, KLDivergenceWithProbabilityAndLogTargets) {
  Tensor input = log_softmax(tensor({0.2, 1.0, -0.5, 0.3, 0.3, 0.1}).reshape({2, 3}), 1);
  Tensor target = softmax(tensor({1.0, 0.0, 0.5, -1.0, 2.0, 0.0}).reshape({2, 3}), 1);
  auto iv = input.to_vector<double>(), tv = target.to_vector<double>();
  double sum = 0;
  for (size_t i = 0; i < 6; ++i) sum += tv[i] * (std::log(tv[i]) - iv[i]);
  EXPECT_NEAR(nn::KLDivLoss(nn::KLDivLossOptions(nn::kSum))(input, target).item<double>(), sum, 1e-12);
  EXPECT_NEAR(nn::KLDivLoss()(input, target).item<double>(), sum / 6, 1e-12);
  nn::KLDivLoss log_target(nn::KLDivLossOptions(nn::kSum).log_target(true));
  EXPECT_NEAR(log_target(input, target.log()).item<double>(), sum, 1e-12);
  EXPECT_EQ(printed(*log_target), "KLDivLoss(reduction=sum, log_target=true)");
}

TEST(NnLoss, CloneKeepsWeights) {
  nn::CrossEntropyLoss loss(nn::CrossEntropyLossOptions().weight(tensor({1.f, 4.f})));
  auto copy = std::dynamic_pointer_cast<nn::CrossEntropyLossImpl>(loss->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->weight.to_vector<float>(), (std::vector<float>{1, 4}));
  EXPECT_FALSE(copy->weight.is_same(loss->weight));
}

}  // namespace
