// layer_norm, batch_norm and dropout: forward values against hand-computed statistics, batch_norm's running
// statistics, dropout's statistics and gradient masking, first and second derivatives against finite
// differences (float64), and the errors for bad shapes and probabilities.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/functions.h"

namespace tandem {
namespace {

using autograd::variable_list;

TensorOptions f64_grad() { return TensorOptions(kFloat64).requires_grad(true); }

// ---- layer_norm -----------------------------------------------------------------------------------------------

TEST(LayerNorm, NormalisesEachRowOverTheTrailingDims) {
  manual_seed(1);
  Tensor x = randn({3, 2, 4}, kFloat64), w = randn({2, 4}, kFloat64), b = randn({2, 4}, kFloat64);
  const double eps = 1e-5;
  Tensor y = layer_norm(x, {2, 4}, w, b, eps);
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  const auto yv = y.to_vector<double>();
  for (int64_t r = 0; r < 3; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 8; ++i) mean += xv[r * 8 + i] / 8;
    for (int64_t i = 0; i < 8; ++i) var += (xv[r * 8 + i] - mean) * (xv[r * 8 + i] - mean) / 8;  // population
    for (int64_t i = 0; i < 8; ++i)
      EXPECT_NEAR(yv[r * 8 + i], (xv[r * 8 + i] - mean) / std::sqrt(var + eps) * wv[i] + bv[i], 1e-12);
  }
  // No affine parameters: each row has mean 0 and (population) variance ~1.
  Tensor z = layer_norm(x, {4});
  EXPECT_TRUE(allclose(z.mean({2}), zeros({3, 2}, kFloat64), 0, 1e-12));
  EXPECT_TRUE(allclose(z.var({2}, /*correction=*/0), ones({3, 2}, kFloat64), 1e-2, 0));
}

TEST(LayerNorm, GradcheckAndGradgradcheck) {
  manual_seed(2);
  Tensor x = randn({3, 4}, f64_grad()), w = randn({4}, f64_grad()), b = randn({4}, f64_grad());
  auto fn = [](const variable_list& in) { return layer_norm(in[0], {4}, in[1], in[2]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, w, b}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x, w, b}));
  Tensor xt = randn({3, 2, 3}, f64_grad());  // normalised over a transposed view's last two dims
  auto fnt = [](const variable_list& in) { return layer_norm(in[0].transpose(0, 2), {2, 3}); };
  EXPECT_TRUE(autograd::gradcheck(fnt, {xt}));
  EXPECT_TRUE(autograd::gradgradcheck(fnt, {xt}));
}

TEST(LayerNorm, RejectsMismatchedShapes) {
  Tensor x = randn({2, 3, 4});
  EXPECT_THROW(layer_norm(x, {3}), Error);                   // trailing dim is 4
  EXPECT_THROW(layer_norm(x, {2, 3, 4, 5}), Error);          // longer than the input's rank
  EXPECT_THROW(layer_norm(x, {}), Error);
  EXPECT_THROW(layer_norm(x, {4}, randn({3})), Error);       // weight shape
  EXPECT_THROW(layer_norm(x, {3, 4}, {}, randn({4})), Error);  // bias shape
  EXPECT_THROW(layer_norm(ones({2, 4}, kInt64), {4}), Error);
}

// ---- batch_norm -----------------------------------------------------------------------------------------------

TEST(BatchNorm, TrainingUsesBatchStatisticsAndUpdatesRunningStats) {
  manual_seed(3);
  Tensor x = randn({4, 2, 3}, kFloat64) * 2 + 1;
  Tensor w = tensor({1.5, -0.5}, kFloat64), b = tensor({0.25, 2.0}, kFloat64);
  Tensor running_mean = tensor({0.5, -1.0}, kFloat64), running_var = tensor({2.0, 3.0}, kFloat64);
  const double eps = 1e-5, momentum = 0.2;
  Tensor y = batch_norm(x, running_mean, running_var, w, b, /*training=*/true, momentum, eps);
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  const std::vector<double> wv{1.5, -0.5}, bv{0.25, 2.0}, rm0{0.5, -1.0}, rv0{2.0, 3.0};
  const auto rm = running_mean.to_vector<double>(), rv = running_var.to_vector<double>();
  for (int64_t c = 0; c < 2; ++c) {
    double mean = 0, var = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 3; ++i) mean += xv[(n * 2 + c) * 3 + i] / 12;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 3; ++i) var += std::pow(xv[(n * 2 + c) * 3 + i] - mean, 2);
    const double population = var / 12, unbiased = var / 11;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 3; ++i) {
        const int64_t k = (n * 2 + c) * 3 + i;
        EXPECT_NEAR(yv[k], (xv[k] - mean) / std::sqrt(population + eps) * wv[c] + bv[c], 1e-12);
      }
    EXPECT_NEAR(rm[c], (1 - momentum) * rm0[c] + momentum * mean, 1e-12);
    EXPECT_NEAR(rv[c], (1 - momentum) * rv0[c] + momentum * unbiased, 1e-12);
  }
}

TEST(BatchNorm, EvaluationUsesRunningStatsAndLeavesThemAlone) {
  manual_seed(4);
  Tensor x = randn({3, 2, 2, 2}, kFloat64);
  Tensor running_mean = tensor({0.5, -1.0}, kFloat64), running_var = tensor({2.0, 3.0}, kFloat64);
  Tensor y = batch_norm(x, running_mean, running_var, {}, {}, /*training=*/false, 0.1, 1e-5);
  Tensor expected = (x - tensor({0.5, -1.0}, kFloat64).reshape({1, 2, 1, 1})) /
                    (tensor({2.0, 3.0}, kFloat64).reshape({1, 2, 1, 1}) + 1e-5).sqrt();
  EXPECT_TRUE(allclose(y, expected, 1e-12, 1e-12));
  EXPECT_EQ(running_mean.to_vector<double>(), (std::vector<double>{0.5, -1.0}));
  EXPECT_EQ(running_var.to_vector<double>(), (std::vector<double>{2.0, 3.0}));
}

TEST(BatchNorm, TrainingWithoutRunningStats) {
  manual_seed(5);
  Tensor x = randn({5, 3}, kFloat64);
  Tensor y = batch_norm(x, {}, {}, {}, {}, /*training=*/true);
  EXPECT_TRUE(allclose(y.mean({0}), zeros({3}, kFloat64), 0, 1e-12));
}

TEST(BatchNorm, GradcheckAndGradgradcheckInTrainingAndEvaluation) {
  manual_seed(6);
  Tensor x = randn({3, 2, 2}, f64_grad()), w = randn({2}, f64_grad()), b = randn({2}, f64_grad());
  auto train = [](const variable_list& in) {
    return batch_norm(in[0], {}, {}, in[1], in[2], /*training=*/true, 0.1, 1e-5);
  };
  EXPECT_TRUE(autograd::gradcheck(train, {x, w, b}));
  EXPECT_TRUE(autograd::gradgradcheck(train, {x, w, b}));
  Tensor rm = randn({2}, kFloat64), rv = rand({2}, kFloat64) + 0.5;
  auto eval = [&](const variable_list& in) { return batch_norm(in[0], rm, rv, in[1], in[2], false, 0.1, 1e-5); };
  EXPECT_TRUE(autograd::gradcheck(eval, {x, w, b}));
  EXPECT_TRUE(autograd::gradgradcheck(eval, {x, w, b}));
  Tensor xt = randn({2, 2, 3}, f64_grad());  // a transposed view: [3, 2, 2]
  auto train_t = [](const variable_list& in) { return batch_norm(in[0].transpose(0, 2), {}, {}, {}, {}, true); };
  EXPECT_TRUE(autograd::gradcheck(train_t, {xt}));
}

TEST(BatchNorm, RejectsBadArguments) {
  Tensor x = randn({4, 3, 2});
  EXPECT_THROW(batch_norm(randn({1, 3}), {}, {}, {}, {}, true), Error);          // one value per channel
  EXPECT_THROW(batch_norm(randn({3}), {}, {}, {}, {}, true), Error);             // rank 1
  EXPECT_THROW(batch_norm(x, zeros({2}), ones({2}), {}, {}, true), Error);       // running stats shape
  EXPECT_THROW(batch_norm(x, {}, {}, ones({4}), {}, true), Error);               // weight shape
  EXPECT_THROW(batch_norm(x, zeros({3}), {}, {}, {}, true), Error);              // only one running stat
  EXPECT_THROW(batch_norm(x, {}, {}, {}, {}, /*training=*/false), Error);        // eval needs running stats
  EXPECT_NO_THROW(batch_norm(randn({1, 3}), zeros({3}), ones({3}), {}, {}, false));
}

// ---- dropout --------------------------------------------------------------------------------------------------

TEST(Dropout, ZeroesAboutPAndScalesTheRest) {
  manual_seed(7);
  const double p = 0.3;
  Tensor x = rand({200, 100}, kFloat64) + 1;  // all in [1, 2): a zero output can only come from the mask
  Tensor y = dropout(x, p, true);
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  int64_t dropped = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0) {
      ++dropped;
    } else {
      ASSERT_NEAR(yv[i], xv[i] / (1 - p), 1e-12);
    }
  }
  const double fraction = static_cast<double>(dropped) / static_cast<double>(xv.size());
  EXPECT_NEAR(fraction, p, 0.02);  // 20000 draws: the standard deviation of the fraction is ~0.003
  // the mean is preserved in expectation
  EXPECT_NEAR(y.mean().item<double>(), x.mean().item<double>(), 0.03);
}

TEST(Dropout, EvaluationAndZeroProbabilityAreTheIdentity) {
  Tensor x = randn({4, 5}, TensorOptions().requires_grad(true));
  EXPECT_TRUE(dropout(x, 0.5, /*train=*/false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, /*train=*/true).is_same(x));
}

TEST(Dropout, GradientIsMaskedLikeTheOutput) {
  manual_seed(8);
  const double p = 0.5;
  Tensor x = (rand({50, 40}, kFloat64) + 1).requires_grad_();
  Tensor y = dropout(x, p, true);
  y.backward(ones({50, 40}, kFloat64));
  const auto yv = y.to_vector<double>(), gv = x.grad().to_vector<double>();
  for (size_t i = 0; i < yv.size(); ++i) ASSERT_EQ(gv[i], yv[i] == 0 ? 0.0 : 1 / (1 - p));
  // p = 1 drops everything but still gives (zero) gradients
  Tensor z = randn({3, 3}, f64_grad());
  Tensor all_dropped = dropout(z, 1.0, true);
  EXPECT_EQ(all_dropped.abs().sum().item<double>(), 0.0);
  all_dropped.sum().backward();
  EXPECT_EQ(z.grad().abs().sum().item<double>(), 0.0);
}

TEST(Dropout, RejectsProbabilitiesOutsideZeroOne) {
  Tensor x = randn({3});
  EXPECT_THROW(dropout(x, -0.1), Error);
  EXPECT_THROW(dropout(x, 1.5), Error);
  EXPECT_THROW(dropout(x, 1.5, /*train=*/false), Error);
}

}  // namespace
}  // namespace tandem
