// The losses: values against hand formulas on small known inputs (ignore_index, class weights, label smoothing,
// pos_weight, the reductions), first and second derivatives against finite differences (float64), and the
// errors for bad targets and mismatched shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/functions.h"

namespace tandem {
namespace {

using autograd::variable_list;

TensorOptions f64_grad() { return TensorOptions(kFloat64).requires_grad(true); }

double value(const Tensor& t) { return t.item<double>(); }

// Logits [[1, 2, 3], [1, 1, 1], [0, 2, -1]] and their log-softmax, written out by hand.
Tensor sample_logits() { return tensor({1.0, 2.0, 3.0, 1.0, 1.0, 1.0, 0.0, 2.0, -1.0}, kFloat64).reshape({3, 3}); }
double log_prob(int row, int cls) {
  const double l[3][3] = {{1, 2, 3}, {1, 1, 1}, {0, 2, -1}};
  double z = 0;
  for (double v : l[row]) z += std::exp(v);
  return l[row][cls] - std::log(z);
}

// ---- cross_entropy / nll_loss ---------------------------------------------------------------------------------

TEST(CrossEntropy, MatchesHandFormulaWithAllReductions) {
  Tensor logits = sample_logits(), target = tensor({2L, 0L, 1L});
  const double l0 = -log_prob(0, 2), l1 = -log_prob(1, 0), l2 = -log_prob(2, 1);
  EXPECT_NEAR(l1, std::log(3.0), 1e-15);
  EXPECT_NEAR(value(cross_entropy(logits, target)), (l0 + l1 + l2) / 3, 1e-12);
  EXPECT_NEAR(value(cross_entropy(logits, target, {}, -100, 0, Reduction::Sum)), l0 + l1 + l2, 1e-12);
  auto none = cross_entropy(logits, target, {}, -100, 0, Reduction::None).to_vector<double>();
  ASSERT_EQ(none.size(), 3u);
  EXPECT_NEAR(none[0], l0, 1e-12);
  EXPECT_NEAR(none[1], l1, 1e-12);
  EXPECT_NEAR(none[2], l2, 1e-12);
  // nll_loss of the log-probabilities is the same thing
  EXPECT_NEAR(value(nll_loss(log_softmax(logits, 1), target)), (l0 + l1 + l2) / 3, 1e-12);
  // unbatched: [C] logits with a scalar target
  EXPECT_NEAR(value(cross_entropy(logits[0], scalar_tensor(2, kInt64))), l0, 1e-12);
}

TEST(CrossEntropy, ClassWeightsGiveAWeightedMean) {
  Tensor logits = sample_logits(), target = tensor({2L, 0L, 1L});
  Tensor weight = tensor({0.2, 0.3, 0.5}, kFloat64);
  const double l0 = -log_prob(0, 2), l1 = -log_prob(1, 0), l2 = -log_prob(2, 1);
  const double weighted_sum = 0.5 * l0 + 0.2 * l1 + 0.3 * l2;
  EXPECT_NEAR(value(cross_entropy(logits, target, weight)), weighted_sum / (0.5 + 0.2 + 0.3), 1e-12);
  EXPECT_NEAR(value(cross_entropy(logits, target, weight, -100, 0, Reduction::Sum)), weighted_sum, 1e-12);
  auto none = cross_entropy(logits, target, weight, -100, 0, Reduction::None).to_vector<double>();
  EXPECT_NEAR(none[1], 0.2 * l1, 1e-12);
}

TEST(CrossEntropy, IgnoreIndexDropsTargetsFromSumAndMean) {
  Tensor logits = sample_logits();
  const double l0 = -log_prob(0, 2), l2 = -log_prob(2, 1);
  Tensor target = tensor({2L, -100L, 1L});
  EXPECT_NEAR(value(cross_entropy(logits, target)), (l0 + l2) / 2, 1e-12);
  EXPECT_NEAR(value(cross_entropy(logits, target, {}, -100, 0, Reduction::Sum)), l0 + l2, 1e-12);
  auto none = cross_entropy(logits, target, {}, -100, 0, Reduction::None).to_vector<double>();
  EXPECT_EQ(none[1], 0.0);
  // an in-range ignore_index, with class weights
  Tensor weight = tensor({0.2, 0.3, 0.5}, kFloat64);
  Tensor target2 = tensor({2L, 0L, 1L});
  EXPECT_NEAR(value(cross_entropy(logits, target2, weight, /*ignore_index=*/0)), (0.5 * l0 + 0.3 * l2) / 0.8, 1e-12);
  // every target ignored: the mean is 0/0, as in libtorch
  EXPECT_TRUE(std::isnan(value(cross_entropy(logits, tensor({-100L, -100L, -100L})))));
}

TEST(CrossEntropy, LabelSmoothingFollowsLibtorch) {
  Tensor logits = sample_logits(), target = tensor({2L, -100L, 1L});
  const double eps = 0.1;
  const int targets[3] = {2, -1, 1};
  const double w[3] = {0.2, 0.3, 0.5};
  // unweighted: (1 - eps) * nll + eps / C * sum_c(-log p_c), each averaged over the non-ignored rows
  double nll = 0, smooth = 0;
  double wnll = 0, wsmooth = 0, wsum = 0;
  for (int r : {0, 2}) {
    nll += -log_prob(r, targets[r]);
    wnll += -w[targets[r]] * log_prob(r, targets[r]);
    wsum += w[targets[r]];
    for (int c = 0; c < 3; ++c) {
      smooth += -log_prob(r, c);
      wsmooth += -w[c] * log_prob(r, c);
    }
  }
  EXPECT_NEAR(value(cross_entropy(logits, target, {}, -100, eps)), (1 - eps) * nll / 2 + eps / 3 * smooth / 2, 1e-12);
  EXPECT_NEAR(value(cross_entropy(logits, target, {}, -100, eps, Reduction::Sum)), (1 - eps) * nll + eps / 3 * smooth,
              1e-12);
  Tensor weight = tensor({0.2, 0.3, 0.5}, kFloat64);
  EXPECT_NEAR(value(cross_entropy(logits, target, weight, -100, eps)),
              (1 - eps) * wnll / wsum + eps / 3 * wsmooth / wsum, 1e-12);
  auto none = cross_entropy(logits, target, weight, -100, eps, Reduction::None).to_vector<double>();
  EXPECT_EQ(none[1], 0.0);
}

TEST(CrossEntropy, SpatialTargetsAndProbabilityTargets) {
  manual_seed(1);
  Tensor logits = randn({2, 4, 3, 2}, kFloat64);
  Tensor target = randint(0, 4, {2, 3, 2});
  // [N, C, d1, d2] is the same as [N*d1*d2, C]
  Tensor flat_logits = logits.permute({0, 2, 3, 1}).reshape({12, 4});
  EXPECT_NEAR(value(cross_entropy(logits, target, {}, -100, 0.2)),
              value(cross_entropy(flat_logits, target.reshape({12}), {}, -100, 0.2)), 1e-12);
  EXPECT_EQ(cross_entropy(logits, target, {}, -100, 0, Reduction::None).sizes(), (Dims{2, 3, 2}));
  // class probabilities: -(p * log_softmax).sum(1), averaged over the rows
  Tensor probs = softmax(randn({3, 3}, kFloat64), 1);
  Tensor expected = -(probs * log_softmax(sample_logits(), 1)).sum(1).mean();
  EXPECT_NEAR(value(cross_entropy(sample_logits(), probs)), value(expected), 1e-12);
  // a one-hot probability target equals the class-index loss
  Tensor one_hot_target = tensor({0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0}, kFloat64).reshape({3, 3});
  EXPECT_NEAR(value(cross_entropy(sample_logits(), one_hot_target, {}, -100, 0.1)),
              value(cross_entropy(sample_logits(), tensor({2L, 0L, 1L}), {}, -100, 0.1)), 1e-12);
}

TEST(CrossEntropy, GradcheckAndGradgradcheck) {
  manual_seed(2);
  Tensor logits = randn({4, 3}, f64_grad());
  Tensor target = tensor({0L, 2L, -100L, 1L});
  Tensor weight = tensor({0.5, 1.0, 2.0}, kFloat64);
  Tensor valid_target = tensor({0L, 2L, 0L, 1L});
  auto plain = [&](const variable_list& in) { return cross_entropy(in[0], valid_target); };
  EXPECT_TRUE(autograd::gradcheck(plain, {logits}));
  EXPECT_TRUE(autograd::gradgradcheck(plain, {logits}));
  auto everything = [&](const variable_list& in) { return cross_entropy(in[0], target, weight, -100, 0.15); };
  EXPECT_TRUE(autograd::gradcheck(everything, {logits}));
  EXPECT_TRUE(autograd::gradgradcheck(everything, {logits}));
  auto none = [&](const variable_list& in) {
    return cross_entropy(in[0].t(), target, weight, -100, 0.1, Reduction::None);  // non-contiguous logits
  };
  Tensor logits_t = randn({3, 4}, f64_grad());
  EXPECT_TRUE(autograd::gradcheck(none, {logits_t}));
  Tensor spatial = randn({2, 3, 2}, f64_grad());
  Tensor spatial_target = tensor({0L, 2L, 1L, -100L}).reshape({2, 2});
  auto spatial_fn = [&](const variable_list& in) { return cross_entropy(in[0], spatial_target, {}, -100, 0.1); };
  EXPECT_TRUE(autograd::gradcheck(spatial_fn, {spatial}));
  EXPECT_TRUE(autograd::gradgradcheck(spatial_fn, {spatial}));
  Tensor probs = softmax(randn({4, 3}, kFloat64), 1);
  auto soft = [&](const variable_list& in) { return cross_entropy(in[0], probs, weight, -100, 0.1); };
  EXPECT_TRUE(autograd::gradcheck(soft, {logits}));
  EXPECT_TRUE(autograd::gradgradcheck(soft, {logits}));
}

TEST(NllLoss, GradcheckAndGradgradcheck) {
  manual_seed(3);
  Tensor log_probs = randn({4, 3}, f64_grad());
  Tensor target = tensor({0L, 2L, 1L, 1L});
  Tensor weight = tensor({0.5, 1.0, 2.0}, kFloat64);
  auto fn = [&](const variable_list& in) { return nll_loss(in[0], target, weight, /*ignore_index=*/2); };
  EXPECT_TRUE(autograd::gradcheck(fn, {log_probs}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {log_probs}));
  // nll_loss picks -input[target]
  EXPECT_NEAR(value(nll_loss(log_probs.detach(), target, {}, -100, Reduction::Sum)),
              -value(log_probs.detach().gather(1, target.unsqueeze(1)).sum()), 1e-12);
}

TEST(CrossEntropy, RejectsBadTargets) {
  Tensor logits = randn({3, 4});
  try {
    cross_entropy(logits, tensor({0L, 4L, 1L}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target value 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cross_entropy(logits, tensor({0L, -1L, 1L})), Error);              // negative, not ignore_index
  EXPECT_NO_THROW(cross_entropy(logits, tensor({0L, -1L, 1L}), {}, -1));          // ... unless it is
  EXPECT_THROW(cross_entropy(logits, tensor({0L, 1L})), Error);                   // batch size mismatch
  EXPECT_THROW(cross_entropy(logits, tensor({0L, 1L, 2L}), ones({3})), Error);    // weight of the wrong size
  EXPECT_THROW(cross_entropy(logits, tensor({0.0f, 1.0f, 2.0f})), Error);         // float target of the wrong shape
  EXPECT_THROW(cross_entropy(logits, tensor({0L, 1L, 2L}), {}, -100, 1.5), Error);  // label_smoothing > 1
  EXPECT_THROW(cross_entropy(randn({2, 3, 4}), randint(0, 3, {2, 5})), Error);   // spatial mismatch
  EXPECT_THROW(nll_loss(logits, tensor({0L, 9L, 1L})), Error);
  EXPECT_THROW(nll_loss(logits, tensor({0.0, 1.0, 1.0})), Error);                // nll needs int64 targets
}

// ---- regression losses ----------------------------------------------------------------------------------------

TEST(RegressionLosses, MatchHandFormulas) {
  Tensor input = tensor({1.5, -1.0, 4.0}, kFloat64), target = tensor({1.0, 1.0, 1.0}, kFloat64);
  // differences 0.5, -2, 3
  EXPECT_NEAR(value(mse_loss(input, target)), (0.25 + 4 + 9) / 3, 1e-15);
  EXPECT_NEAR(value(mse_loss(input, target, Reduction::Sum)), 13.25, 1e-15);
  EXPECT_NEAR(value(l1_loss(input, target)), 5.5 / 3, 1e-15);
  EXPECT_EQ(l1_loss(input, target, Reduction::None).to_vector<double>(), (std::vector<double>{0.5, 2, 3}));
  EXPECT_EQ(huber_loss(input, target, 1.0, Reduction::None).to_vector<double>(),
            (std::vector<double>{0.125, 1.5, 2.5}));
  // delta 2.5: 0.5 d^2 below it, delta (|d| - delta / 2) above
  EXPECT_EQ(huber_loss(input, target, 2.5, Reduction::None).to_vector<double>(),
            (std::vector<double>{0.125, 2.0, 2.5 * (3 - 1.25)}));
  EXPECT_EQ(smooth_l1_loss(input, target, 1.0, Reduction::None).to_vector<double>(),
            (std::vector<double>{0.125, 1.5, 2.5}));
  EXPECT_EQ(smooth_l1_loss(input, target, 2.0, Reduction::None).to_vector<double>(),
            (std::vector<double>{0.0625, 1.0, 2.0}));
  EXPECT_EQ(smooth_l1_loss(input, target, 0.0, Reduction::None).to_vector<double>(),
            (std::vector<double>{0.5, 2, 3}));
  EXPECT_NEAR(value(huber_loss(input, target)), (0.125 + 1.5 + 2.5) / 3, 1e-15);
}

TEST(RegressionLosses, GradcheckAndGradgradcheck) {
  manual_seed(4);
  Tensor input = randn({3, 4}, f64_grad()), target = randn({3, 4}, f64_grad());
  Tensor transposed = randn({4, 3}, f64_grad());
  std::vector<std::function<Tensor(const variable_list&)>> fns = {
      [](const variable_list& in) { return mse_loss(in[0], in[1]); },
      [](const variable_list& in) { return l1_loss(in[0], in[1], Reduction::Sum); },
      [](const variable_list& in) { return huber_loss(in[0], in[1], 0.7); },
      [](const variable_list& in) { return smooth_l1_loss(in[0], in[1], 0.8, Reduction::None); },
      [](const variable_list& in) { return mse_loss(in[0], in[1].t()); },
  };
  for (size_t i = 0; i < fns.size(); ++i) {
    const Tensor& second = i == 4 ? transposed : target;
    EXPECT_TRUE(autograd::gradcheck(fns[i], {input, second})) << "loss " << i;
    EXPECT_TRUE(autograd::gradgradcheck(fns[i], {input, second})) << "loss " << i;
  }
}

TEST(RegressionLosses, RejectMismatchedShapes) {
  Tensor a = randn({2, 3}), b = randn({3, 2});
  try {
    mse_loss(a, b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "mse_loss: input of shape [2, 3] and target of shape [3, 2] must have the same shape");
  }
  EXPECT_THROW(l1_loss(a, randn({3})), Error);
  EXPECT_THROW(huber_loss(a, b), Error);
  EXPECT_THROW(huber_loss(a, a, 0.0), Error);
  EXPECT_THROW(smooth_l1_loss(a, b), Error);
  EXPECT_THROW(smooth_l1_loss(a, a, -1.0), Error);
  EXPECT_THROW(kl_div(a, b), Error);
  EXPECT_THROW(binary_cross_entropy_with_logits(a, b), Error);
}

// ---- binary_cross_entropy_with_logits -------------------------------------------------------------------------

TEST(BinaryCrossEntropyWithLogits, MatchesTextbookFormulaWithWeightAndPosWeight) {
  const std::vector<double> x{0.5, -1.0, 2.0, -0.3}, y{1.0, 0.0, 0.5, 1.0}, w{1.0, 2.0, 0.5, 1.5}, pw{3.0, 0.5};
  Tensor logits = tensor(x).reshape({2, 2}), target = tensor(y).reshape({2, 2});
  Tensor weight = tensor(w).reshape({2, 2}), pos_weight = tensor(pw);  // pos_weight broadcasts over the last dim
  auto sigmoid_of = [](double v) { return 1 / (1 + std::exp(-v)); };
  std::vector<double> plain, weighted;
  for (size_t i = 0; i < 4; ++i) {
    const double s = sigmoid_of(x[i]);
    plain.push_back(-(y[i] * std::log(s) + (1 - y[i]) * std::log(1 - s)));
    weighted.push_back(-w[i] * (pw[i % 2] * y[i] * std::log(s) + (1 - y[i]) * std::log(1 - s)));
  }
  auto got = binary_cross_entropy_with_logits(logits, target, {}, {}, Reduction::None).to_vector<double>();
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(got[i], plain[i], 1e-12);
  got = binary_cross_entropy_with_logits(logits, target, weight, pos_weight, Reduction::None).to_vector<double>();
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(got[i], weighted[i], 1e-12);
  const double mean = (weighted[0] + weighted[1] + weighted[2] + weighted[3]) / 4;
  EXPECT_NEAR(value(binary_cross_entropy_with_logits(logits, target, weight, pos_weight)), mean, 1e-12);
}

TEST(BinaryCrossEntropyWithLogits, StableForLargeLogits) {
  Tensor logits = tensor({100.0, -100.0, 800.0, -800.0}, kFloat64);
  Tensor target = tensor({0.0, 1.0, 1.0, 0.0}, kFloat64);
  auto got = binary_cross_entropy_with_logits(logits, target, {}, {}, Reduction::None).to_vector<double>();
  EXPECT_NEAR(got[0], 100.0, 1e-12);
  EXPECT_NEAR(got[1], 100.0, 1e-12);
  EXPECT_NEAR(got[2], 0.0, 1e-12);
  EXPECT_NEAR(got[3], 0.0, 1e-12);
  Tensor f32 = binary_cross_entropy_with_logits(tensor({90.0f}), tensor({0.0f}));
  EXPECT_NEAR(value(f32), 90.0, 1e-4);
}

TEST(BinaryCrossEntropyWithLogits, GradcheckAndGradgradcheck) {
  manual_seed(5);
  Tensor logits = randn({3, 4}, f64_grad()), target = rand({3, 4}, f64_grad());
  Tensor weight = rand({3, 1}, kFloat64) + 0.5, pos_weight = rand({4}, kFloat64) + 0.5;
  auto fn = [&](const variable_list& in) {
    return binary_cross_entropy_with_logits(in[0], in[1], weight, pos_weight);
  };
  EXPECT_TRUE(autograd::gradcheck(fn, {logits, target}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {logits, target}));
  Tensor logits_t = randn({4, 3}, f64_grad());
  auto plain = [&](const variable_list& in) {
    return binary_cross_entropy_with_logits(in[0].t(), in[1], {}, {}, Reduction::Sum);
  };
  EXPECT_TRUE(autograd::gradcheck(plain, {logits_t, target}));
  EXPECT_TRUE(autograd::gradgradcheck(plain, {logits_t, target}));
  EXPECT_THROW(binary_cross_entropy_with_logits(logits, target, ones({2, 4}, kFloat64)), Error);
  EXPECT_THROW(binary_cross_entropy_with_logits(logits, target, {}, ones({3}, kFloat64)), Error);
}

// ---- kl_div ---------------------------------------------------------------------------------------------------

TEST(KlDiv, MatchesHandFormula) {
  Tensor input = log_softmax(tensor({0.3, -1.0, 2.0, 0.5}, kFloat64), 0);
  const std::vector<double> p{0.5, 0.0, 0.25, 0.25};
  Tensor target = tensor(p);
  const auto iv = input.to_vector<double>();
  double expected = 0;
  for (size_t i = 0; i < 4; ++i)
    if (p[i] > 0) expected += p[i] * (std::log(p[i]) - iv[i]);
  EXPECT_NEAR(value(kl_div(input, target, Reduction::Sum)), expected, 1e-12);
  EXPECT_NEAR(value(kl_div(input, target)), expected / 4, 1e-12);
  EXPECT_EQ(kl_div(input, target, Reduction::None).to_vector<double>()[1], 0.0);  // 0 * log 0 = 0
  // log_target: the target given as log-probabilities
  const std::vector<double> q{0.4, 0.1, 0.2, 0.3};
  double expected_q = 0;
  for (size_t i = 0; i < 4; ++i) expected_q += q[i] * (std::log(q[i]) - iv[i]);
  Tensor log_q = tensor({std::log(q[0]), std::log(q[1]), std::log(q[2]), std::log(q[3])});
  EXPECT_NEAR(value(kl_div(input, log_q, Reduction::Sum, /*log_target=*/true)), expected_q, 1e-12);
  EXPECT_NEAR(value(kl_div(input, tensor(q), Reduction::Sum)), expected_q, 1e-12);
}

TEST(KlDiv, GradcheckAndGradgradcheck) {
  manual_seed(6);
  Tensor input = randn({3, 4}, f64_grad());
  Tensor target = (rand({3, 4}, kFloat64) + 0.1).requires_grad_();
  Tensor log_target = randn({3, 4}, f64_grad());
  auto fn = [](const variable_list& in) { return kl_div(in[0], in[1]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {input, target}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {input, target}));
  auto fn_log = [](const variable_list& in) { return kl_div(in[0].t(), in[1], Reduction::Sum, true); };
  Tensor input_t = randn({4, 3}, f64_grad());
  EXPECT_TRUE(autograd::gradcheck(fn_log, {input_t, log_target}));
  EXPECT_TRUE(autograd::gradgradcheck(fn_log, {input_t, log_target}));
}

}  // namespace
}  // namespace tandem
