// Tests of the loss modules and their functional forms: values of every reduction against hand computations,
// cross-entropy with ignore_index, label smoothing and class weights — alone and all together, for every
// reduction and for class-probability targets — by loops written from PyTorch's definition, BCE-with-logits
// weights, KL divergence with either target form, weight buffers moving with the module, printing, and errors
// that name the loss and the offending shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nn/functional.h"
#include "nn/modules/loss.h"
#include "tensor/functions.h"
#include "test_utils.h"

namespace {

using namespace tandem;
using nn::testing::expect_error_mentions;
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

/// Per-sample cross-entropy of float64 logits [N, C] as PyTorch defines it for class-index targets:
///   loss_i = (1 - eps) * w[y_i] * (-log p_i[y_i]) + eps / C * sum_c w[c] * (-log p_i[c]),   0 where y_i is ignored,
/// with w = 1 when there are no class weights. Also returns the Mean denominator, sum of w[y_i] over the kept i.
std::vector<double> cross_entropy_per_sample(const Tensor& logits, const std::vector<int64_t>& target,
                                             std::vector<double> weight, int64_t ignore_index, double eps,
                                             double& denominator) {
  const int64_t N = logits.size(0), C = logits.size(1);
  if (weight.empty()) weight.assign(static_cast<size_t>(C), 1.0);
  const auto x = logits.to_vector<double>();
  std::vector<double> out(static_cast<size_t>(N), 0.0);
  denominator = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t y = target[static_cast<size_t>(i)];
    if (y == ignore_index) continue;
    double z = 0;
    for (int64_t c = 0; c < C; ++c) z += std::exp(x[static_cast<size_t>(i * C + c)]);
    auto nlogp = [&](int64_t c) { return std::log(z) - x[static_cast<size_t>(i * C + c)]; };
    double smooth = 0;
    for (int64_t c = 0; c < C; ++c) smooth += weight[static_cast<size_t>(c)] * nlogp(c);
    out[static_cast<size_t>(i)] =
        (1 - eps) * weight[static_cast<size_t>(y)] * nlogp(y) + eps / static_cast<double>(C) * smooth;
    denominator += weight[static_cast<size_t>(y)];
  }
  return out;
}

TEST(NnLoss, CrossEntropyWeightsIgnoreIndexAndSmoothingTogether) {
  manual_seed(72);
  Tensor logits = randn({6, 4}, kFloat64);
  const std::vector<int64_t> labels{2, 0, 3, 2, 1, 3};  // class 3 is ignored: rows 2 and 5 drop out
  Tensor target = tensor(labels);
  const std::vector<double> w{0.5, 2.0, 1.5, 3.0};
  double denominator = 0;
  const std::vector<double> per_sample = cross_entropy_per_sample(logits, labels, w, 3, 0.25, denominator);
  EXPECT_DOUBLE_EQ(denominator, 1.5 + 0.5 + 1.5 + 2.0);  // w[2] + w[0] + w[2] + w[1]: ignored rows excluded
  double sum = 0;
  for (double v : per_sample) sum += v;

  auto options = nn::CrossEntropyLossOptions().weight(tensor(w)).ignore_index(3).label_smoothing(0.25);
  nn::CrossEntropyLoss mean_loss(options);
  EXPECT_NEAR(mean_loss(logits, target).item<double>(), sum / denominator, 1e-12);
  EXPECT_NEAR(cross_entropy_reference(logits, labels, w, 3, 0.25), sum / denominator, 1e-12);
  nn::CrossEntropyLoss sum_loss(nn::CrossEntropyLossOptions(options).reduction(nn::kSum));
  EXPECT_NEAR(sum_loss(logits, target).item<double>(), sum, 1e-12);
  nn::CrossEntropyLoss none_loss(nn::CrossEntropyLossOptions(options).reduction(nn::kNone));
  const auto none = none_loss(logits, target).to_vector<double>();
  ASSERT_EQ(none.size(), per_sample.size());
  for (size_t i = 0; i < none.size(); ++i) EXPECT_NEAR(none[i], per_sample[i], 1e-12) << "sample " << i;
  EXPECT_EQ(none[2], 0.0);
  EXPECT_EQ(none[5], 0.0);

  // The functional form with the same options gives the same values.
  namespace F = nn::functional;
  EXPECT_NEAR(F::cross_entropy(logits, target, options).item<double>(), sum / denominator, 1e-12);
  EXPECT_NEAR(F::cross_entropy(logits, target, F::CrossEntropyFuncOptions(options).reduction(nn::kSum)).item<double>(),
              sum, 1e-12);

  // Each option alone, against the same reference: smoothing without weights or ignoring, ignoring alone.
  double d = 0;
  std::vector<double> only_smoothing = cross_entropy_per_sample(logits, labels, {}, -100, 0.1, d);
  double s = 0;
  for (double v : only_smoothing) s += v;
  EXPECT_DOUBLE_EQ(d, 6.0);
  EXPECT_NEAR(F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().label_smoothing(0.1)).item<double>(),
              s / 6, 1e-12);
  std::vector<double> only_ignore = cross_entropy_per_sample(logits, labels, {}, 2, 0.0, d);
  s = 0;
  for (double v : only_ignore) s += v;
  EXPECT_DOUBLE_EQ(d, 4.0);
  EXPECT_NEAR(F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().ignore_index(2)).item<double>(), s / 4,
              1e-12);
}

TEST(NnLoss, CrossEntropyWithSpatialDimensions) {
  // logits [N=2, C=3, L=2], targets [2, 2]: each (n, l) position is one sample.
  manual_seed(73);
  Tensor logits = randn({2, 3, 2}, kFloat64);
  const std::vector<int64_t> labels{0, 2, 1, 0};  // (n, l) in row-major order
  Tensor target = tensor(labels).reshape({2, 2});
  Tensor flat = logits.transpose(1, 2).reshape({4, 3});  // row n * 2 + l holds the scores of position (n, l)
  const std::vector<double> w{1.0, 2.0, 0.5};
  double d = 0;
  const auto per_sample = cross_entropy_per_sample(flat, labels, w, 2, 0.2, d);
  double sum = 0;
  for (double v : per_sample) sum += v;
  nn::CrossEntropyLoss loss(nn::CrossEntropyLossOptions().weight(tensor(w)).ignore_index(2).label_smoothing(0.2));
  EXPECT_NEAR(loss(logits, target).item<double>(), sum / d, 1e-12);
}

TEST(NnLoss, CrossEntropyWithClassProbabilities) {
  // Probability targets: loss_i = -sum_c w[c] * q_ic * log p_ic with q = (1 - eps) t + eps / C; Mean divides by N.
  Tensor logits = tensor({0.5, -1.0, 2.0, 0.0, 1.0, 1.0}).reshape({2, 3});
  Tensor probs = tensor({0.2, 0.3, 0.5, 1.0, 0.0, 0.0}).reshape({2, 3});
  const std::vector<double> w{1.0, 0.5, 2.0};
  const double eps = 0.3;
  const auto x = logits.to_vector<double>(), t = probs.to_vector<double>();
  double sum = 0;
  for (int i = 0; i < 2; ++i) {
    double z = 0;
    for (int c = 0; c < 3; ++c) z += std::exp(x[static_cast<size_t>(i * 3 + c)]);
    for (int c = 0; c < 3; ++c) {
      const double q = (1 - eps) * t[static_cast<size_t>(i * 3 + c)] + eps / 3;
      sum -= w[static_cast<size_t>(c)] * q * (x[static_cast<size_t>(i * 3 + c)] - std::log(z));
    }
  }
  nn::CrossEntropyLoss loss(nn::CrossEntropyLossOptions().weight(tensor(w)).label_smoothing(eps));
  EXPECT_NEAR(loss(logits, probs).item<double>(), sum / 2, 1e-12);
}

TEST(NnLoss, ElementwiseLossesWithoutReduction) {
  Tensor input = tensor({1.0, 0.0, -2.0, 0.2}), target = zeros({4}, kFloat64);
  const auto smooth = nn::SmoothL1Loss(nn::SmoothL1LossOptions(nn::kNone).beta(0.5))(input, target).to_vector<double>();
  const std::vector<double> smooth_expected{0.75, 0.0, 1.75, 0.04};
  ASSERT_EQ(smooth.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(smooth[i], smooth_expected[i], 1e-12);
  const auto huber = nn::HuberLoss(nn::HuberLossOptions(nn::kNone).delta(0.5))(input, target).to_vector<double>();
  const std::vector<double> huber_expected{0.375, 0.0, 0.875, 0.02};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(huber[i], huber_expected[i], 1e-12);
  // With the defaults (beta = delta = 1) SmoothL1 and Huber agree: 0.5, 0, 1.5, 0.02.
  EXPECT_NEAR(nn::SmoothL1Loss()(input, target).item<double>(), 2.02 / 4, 1e-12);
  EXPECT_NEAR(nn::HuberLoss()(input, target).item<double>(), 2.02 / 4, 1e-12);

  // BCE with logits, pos_weight only, per element and averaged.
  Tensor x = tensor({0.5, -1.0, 2.0}), y = tensor({1.0, 0.0, 0.25});
  const std::vector<double> pw{2.0, 3.0, 4.0};
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  std::vector<double> bce(3);
  for (size_t i = 0; i < 3; ++i) {
    const double s = 1 / (1 + std::exp(-xv[i]));
    bce[i] = -(pw[i] * yv[i] * std::log(s) + (1 - yv[i]) * std::log(1 - s));
  }
  const auto none = nn::BCEWithLogitsLoss(nn::BCEWithLogitsLossOptions(nn::kNone).pos_weight(tensor(pw)))(x, y)
                        .to_vector<double>();
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(none[i], bce[i], 1e-12);
  EXPECT_NEAR(nn::BCEWithLogitsLoss(nn::BCEWithLogitsLossOptions().pos_weight(tensor(pw)))(x, y).item<double>(),
              (bce[0] + bce[1] + bce[2]) / 3, 1e-12);

  // KL divergence per element: target * (log target - input), 0 where the target is 0.
  Tensor logq = tensor({-1.0, -0.5, -2.0}), p = tensor({0.5, 0.0, 0.5});
  const auto kl = nn::KLDivLoss(nn::KLDivLossOptions(nn::kNone))(logq, p).to_vector<double>();
  EXPECT_NEAR(kl[0], 0.5 * (std::log(0.5) + 1.0), 1e-12);
  EXPECT_EQ(kl[1], 0.0);
  EXPECT_NEAR(kl[2], 0.5 * (std::log(0.5) + 2.0), 1e-12);
}

TEST(NnLoss, ErrorsNameTheLossAndTheShapes) {
  expect_error_mentions([] { nn::MSELoss()(randn({3}), randn({2})); }, {"mse_loss", "[3]", "[2]"});
  expect_error_mentions([] { nn::L1Loss()(randn({2, 3}), randn({3, 2})); }, {"l1_loss", "[2, 3]", "[3, 2]"});
  expect_error_mentions([] { nn::HuberLoss()(randn({4}), randn({4, 1})); }, {"huber_loss", "[4]", "[4, 1]"});
  expect_error_mentions([] { nn::SmoothL1Loss()(randn({1}), randn({2})); }, {"smooth_l1_loss", "[1]", "[2]"});
  expect_error_mentions([] { nn::KLDivLoss()(randn({2}), randn({3})); }, {"kl_div", "[2]", "[3]"});
  Tensor logits = randn({4, 3});
  expect_error_mentions([&] { nn::CrossEntropyLoss()(logits, tensor<int64_t>({0, 1, 2})); },
                        {"cross_entropy", "[4]", "[4, 3]", "[3]"});
  expect_error_mentions([&] { nn::CrossEntropyLoss()(logits, tensor<int64_t>({0, 1, 2, 3})); },
                        {"cross_entropy", "target value 3", "[0, 3)", "[4, 3]"});
  nn::CrossEntropyLoss four_weights(nn::CrossEntropyLossOptions().weight(ones({4})));
  expect_error_mentions([&] { four_weights(logits, tensor<int64_t>({0, 1, 2, 0})); },
                        {"cross_entropy", "class weights of shape [3]", "[4]"});
  expect_error_mentions([&] { nn::CrossEntropyLoss()(logits, tensor<int64_t>({0, 1, 2, 0}).to(kBool)); },
                        {"cross_entropy", "int64", "bool"});
  expect_error_mentions([&] { nn::NLLLoss()(logits, tensor({0.f, 1.f, 2.f, 0.f})); }, {"nll_loss", "int64", "float32"});
  expect_error_mentions(
      [] {
        nn::BCEWithLogitsLoss(nn::BCEWithLogitsLossOptions().pos_weight(ones({4})))(randn({2, 3}), rand({2, 3}));
      },
      {"binary_cross_entropy_with_logits", "pos_weight", "[4]", "[2, 3]"});
  expect_error_mentions([] { nn::MSELoss()(tensor<int64_t>({1, 2}), tensor<int64_t>({1, 2})); }, {"mse_loss", "int64"});
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
