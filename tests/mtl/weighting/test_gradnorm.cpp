// gradnorm: the gradient written into w.grad against a hand computation on a tiny linear model (first step,
// where every training rate is 1, and a later step with rates and weights away from 1), the renormalisation
// after the step, and the synthetic problem of the paper (T = 2, σ = (1, 100)) where GradNorm moves weight
// from the large-σ task to the small one while ew keeps them equal.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "mtl/weighting/ew.h"
#include "mtl/weighting/gradnorm.h"
#include "nn/modules/linear.h"
#include "nn/optim/adam.h"
#include "nn/optim/sgd.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;

// h = W x (the shared layer, no bias), y_t = a_tᵀ h (one bias-free scalar head per task).
struct TwoHeadLinear : mtl::MultiTaskModel {
  TwoHeadLinear() : MultiTaskModel({"first", "second"}) {
    shared = register_module("shared", nn::Linear(nn::LinearOptions(3, 2).bias(false)));
    head0 = register_module("head0", nn::Linear(nn::LinearOptions(2, 1).bias(false)));
    head1 = register_module("head1", nn::Linear(nn::LinearOptions(2, 1).bias(false)));
    NoGradGuard no_grad;
    shared->weight.copy_(tensor({1.0, 0.0, 2.0, 0.0, 1.0, -1.0}).reshape({2, 3}));
    head0->weight.copy_(tensor({1.0, 1.0}).reshape({1, 2}));
    head1->weight.copy_(tensor({0.5, -1.0}).reshape({1, 2}));
  }
  std::vector<Tensor> forward(const Tensor& x) override {
    const Tensor h = shared(x);
    return {head0(h), head1(h)};
  }
  std::vector<Tensor> task_parameters(size_t task) const override {
    return {task == 0 ? head0->weight : head1->weight};
  }
  nn::Linear shared{nullptr}, head0{nullptr}, head1{nullptr};
};

// Squared errors of the two outputs at x = (1, 2, 1), where h = W x = (3, 1), y = (4, 0.5).
std::vector<Tensor> squared_errors(TwoHeadLinear& model, double target0, double target1) {
  const auto outputs = model.forward(tensor({1.f, 2.f, 1.f}).reshape({1, 3}));
  return {(outputs[0] - target0).square().sum(), (outputs[1] - target1).square().sum()};
}

TEST(GradNorm, DefaultsAndState) {
  mtl::GradNorm gradnorm(3);
  EXPECT_EQ(gradnorm.alpha(), 1.5);
  EXPECT_EQ(gradnorm.loss_weights().to_vector<double>(), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(gradnorm.parameters().size(), 1u);
  const auto buffers = gradnorm.named_buffers();
  EXPECT_TRUE(buffers.contains("initial_losses"));
  EXPECT_TRUE(buffers.contains("steps"));
  EXPECT_EQ(mtl::GradNorm(2, mtl::WeightingOptions{{"alpha", "0.12"}}).alpha(), 0.12);
  EXPECT_THROW(mtl::GradNorm(2, mtl::WeightingOptions{{"alpha", "-1"}}), Error);
  EXPECT_THROW(mtl::GradNorm(2, mtl::WeightingOptions{{"lr", "1"}}), Error);
}

TEST(GradNorm, WeightGradientMatchesAHandComputation) {
  TwoHeadLinear model;
  mtl::GradNorm gradnorm(2);
  // ∂L_t/∂W = 2 e_t a_t xᵀ, so n_t = 2 |e_t| ‖a_t‖ ‖x‖ with ‖x‖ = √6, ‖a_0‖ = √2, ‖a_1‖ = √1.25.
  //
  // Step 1, targets (1, 0): e = (3, 0.5), L = (9, 0.25), n = (12√3, √7.5) = (20.7846, 2.7386). Every rate is 1,
  // so target_t = mean(G) = 11.7616 and w.grad = (+n_0, −n_1).
  auto losses = squared_errors(model, 1.0, 0.0);
  mtl::StepContext first{model, losses};
  auto report = gradnorm.backward(first);
  EXPECT_EQ(report.weights, (std::vector<double>{1, 1}));
  std::vector<double> w_grad = gradnorm.loss_weights().grad().to_vector<double>();
  EXPECT_NEAR(w_grad[0], 12 * std::sqrt(3.0), 1e-4);
  EXPECT_NEAR(w_grad[1], -std::sqrt(7.5), 1e-5);
  EXPECT_EQ(gradnorm.named_buffers()["initial_losses"].to_vector<double>(), (std::vector<double>{9, 0.25}));
  // The model got Σ w_t L_t = L_0 + L_1: ∂/∂W = 2 (e_0 a_0 + e_1 a_1) xᵀ, first row 2 (3 + 0.25) (1, 2, 1).
  const std::vector<double> W_grad = model.shared->weight.grad().to_vector<double>();
  EXPECT_NEAR(W_grad[0], 6.5, 1e-5);
  EXPECT_NEAR(W_grad[1], 13.0, 1e-5);
  EXPECT_NEAR(W_grad[3], 2 * (3 - 0.5), 1e-5);

  // Step 2, w set to (1.8, 0.2), targets (2, 0.25): e = (2, 0.25), L = (4, 0.0625), n = (8√3, √7.5 / 2).
  // G = w n = (24.9415, 0.2739), mean 12.6077. Rates L/L(0) = (4/9, 1/4), relative (1.28, 0.72);
  // α = 1.5: target = 12.6077 · (1.44815, 0.61094) = (18.2580, 7.7026). G_0 > target_0 and G_1 < target_1:
  // w.grad = (+n_0, −n_1).
  {
    NoGradGuard no_grad;
    Tensor w = gradnorm.loss_weights();
    w.copy_(tensor({1.8, 0.2}));
    w.set_grad(Tensor());
  }
  model.zero_grad();
  losses = squared_errors(model, 2.0, 0.25);
  mtl::StepContext second{model, losses};
  report = gradnorm.backward(second);
  EXPECT_NEAR(report.weights[0], 1.8, 1e-6);
  EXPECT_NEAR(report.weights[1], 0.2, 1e-6);
  w_grad = gradnorm.loss_weights().grad().to_vector<double>();
  EXPECT_NEAR(w_grad[0], 8 * std::sqrt(3.0), 1e-4);
  EXPECT_NEAR(w_grad[1], -std::sqrt(7.5) / 2, 1e-5);
  // The model got 1.8 L_0 + 0.2 L_1: first row of ∂/∂W is 2 (1.8 · 2 · 1 + 0.2 · 0.25 · 0.5) (1, 2, 1).
  EXPECT_NEAR(model.shared->weight.grad().to_vector<double>()[0], 7.25, 1e-5);
  // The initial losses stay those of the first step.
  EXPECT_EQ(gradnorm.named_buffers()["initial_losses"].to_vector<double>(), (std::vector<double>{9, 0.25}));
  EXPECT_EQ(gradnorm.named_buffers()["steps"].item<int64_t>(), 2);
}

TEST(GradNorm, LargeAlphaFlipsTheSignForASlowTask) {
  // As step 2 above, with w = (1, 1): G = n = (13.8564, 1.3693), mean 7.6129, relative rates (1.28, 0.72).
  // α = 3: target = 7.6129 · (2.09715, 0.37325) = (15.9654, 2.8415); now G_0 is below its target too, so the
  // slowly training task 0 is pushed up: w.grad = (−n_0, −n_1). α = 0: target = mean(G): (+n_0, −n_1).
  for (double alpha : {3.0, 0.0}) {
    TwoHeadLinear model;
    mtl::GradNorm gradnorm(2, mtl::WeightingOptions().set("alpha", alpha));
    auto losses = squared_errors(model, 1.0, 0.0);
    mtl::StepContext first{model, losses};
    gradnorm.backward(first);
    Tensor w = gradnorm.loss_weights();
    w.set_grad(Tensor());
    losses = squared_errors(model, 2.0, 0.25);
    mtl::StepContext second{model, losses};
    gradnorm.backward(second);
    const std::vector<double> w_grad = w.grad().to_vector<double>();
    EXPECT_NEAR(w_grad[0], (alpha == 3.0 ? -1 : 1) * 8 * std::sqrt(3.0), 1e-4) << alpha;
    EXPECT_NEAR(w_grad[1], -std::sqrt(7.5) / 2, 1e-5) << alpha;
  }
}

TEST(GradNorm, RenormalisesAfterTheStep) {
  // w = (1.8, 0.2) and w.grad = (8√3, −√7.5/2) from the step above; SGD with lr 0.01 gives
  // (1.8 − 0.138564, 0.2 + 0.013693) = (1.661436, 0.213693), renormalised to sum 2: × 2 / 1.875129.
  TwoHeadLinear model;
  mtl::GradNorm gradnorm(2);
  auto losses = squared_errors(model, 1.0, 0.0);
  mtl::StepContext first{model, losses};
  gradnorm.backward(first);
  Tensor w = gradnorm.loss_weights();
  {
    NoGradGuard no_grad;
    w.copy_(tensor({1.8, 0.2}));
    w.set_grad(Tensor());
  }
  losses = squared_errors(model, 2.0, 0.25);
  mtl::StepContext second{model, losses};
  gradnorm.backward(second);
  optim::SGD optimizer(gradnorm.parameters(), optim::SGDOptions(0.01));
  optimizer.step();
  gradnorm.after_step();
  const std::vector<double> after = w.to_vector<double>();
  const double a = 1.8 - 0.08 * std::sqrt(3.0), b = 0.2 + 0.005 * std::sqrt(7.5);
  EXPECT_NEAR(after[0], 2 * a / (a + b), 1e-5);
  EXPECT_NEAR(after[1], 2 * b / (a + b), 1e-5);
  EXPECT_NEAR(after[0] + after[1], 2.0, 1e-6);

  // A weight pushed below zero is kept positive.
  {
    NoGradGuard no_grad;
    w.copy_(tensor({2.5, -0.5}));
  }
  gradnorm.after_step();
  const std::vector<double> clamped = w.to_vector<double>();
  EXPECT_GT(clamped[1], 0.0);
  EXPECT_NEAR(clamped[0] + clamped[1], 2.0, 1e-6);
}

TEST(GradNorm, RejectsLossesWithoutATrainingRate) {
  TwoHeadLinear model;
  mtl::GradNorm gradnorm(2);
  auto losses = squared_errors(model, 4.0, 0.0);  // e_0 = 0: L_0(0) = 0
  mtl::StepContext zero_first{model, losses};
  EXPECT_THROW(gradnorm.backward(zero_first), Error);
  losses = squared_errors(model, 1.0, 0.0);
  mtl::StepContext negative{model, {losses[0], losses[1] * -1.0}};
  EXPECT_THROW(gradnorm.backward(negative), Error);
  mtl::StepContext constant{model, {losses[0], scalar_tensor(1.0)}};
  EXPECT_THROW(gradnorm.backward(constant), Error);
  // None of the rejected steps counted as the first one.
  EXPECT_EQ(gradnorm.named_buffers()["steps"].item<int64_t>(), 0);
}

// The synthetic problem of Chen et al. (2018), small: f_t(x) = σ_t tanh((B + ε_t) x) with B ~ N(0, 10²) and
// ε_t ~ N(0, 3.5²) elementwise (x scaled by 1/√d so that tanh does not saturate), a trunk of FC-ReLU layers and
// one linear head per task, trained on one fixed batch with the MSE of each task.
struct SyntheticRegression : mtl::MultiTaskModel {
  static constexpr int64_t kIn = 16, kOut = 4, kWidth = 24;
  SyntheticRegression() : MultiTaskModel({"small_sigma", "large_sigma"}) {
    trunk0 = register_module("trunk0", nn::Linear(kIn, kWidth));
    trunk1 = register_module("trunk1", nn::Linear(kWidth, kWidth));
    head0 = register_module("head0", nn::Linear(kWidth, kOut));
    head1 = register_module("head1", nn::Linear(kWidth, kOut));
  }
  std::vector<Tensor> forward(const Tensor& x) override {
    const Tensor h = trunk1(trunk0(x).relu()).relu();
    return {head0(h), head1(h)};
  }
  std::vector<Tensor> task_parameters(size_t task) const override {
    return task == 0 ? head0->parameters() : head1->parameters();
  }
  nn::Linear trunk0{nullptr}, trunk1{nullptr}, head0{nullptr}, head1{nullptr};
};

// Trains with `weighting` for `steps` steps and returns the last reported weights.
std::vector<double> train_synthetic(mtl::Weighting& weighting, int steps) {
  manual_seed(3);
  const int64_t n = 64, d = SyntheticRegression::kIn, k = SyntheticRegression::kOut;
  const Tensor B = randn({k, d}) * 10.0;
  const Tensor x = randn({n, d});
  std::vector<Tensor> targets;
  for (double sigma : {1.0, 100.0})
    targets.push_back(((B + randn({k, d}) * 3.5).matmul(x.t()).t() / std::sqrt(double(d))).tanh() * sigma);
  SyntheticRegression model;
  std::vector<Tensor> params = model.parameters();
  for (const Tensor& p : weighting.parameters()) params.push_back(p);
  optim::Adam optimizer(params, optim::AdamOptions(0.01));
  std::vector<double> weights;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    const auto outputs = model.forward(x);
    mtl::StepContext context{model, {(outputs[0] - targets[0]).square().mean(), (outputs[1] - targets[1]).square().mean()}};
    weights = weighting.backward(context).weights;
    optimizer.step();
    weighting.after_step();
  }
  return weights;
}

TEST(GradNorm, SyntheticProblemMovesWeightToTheSmallSigmaTask) {
  mtl::GradNorm gradnorm(2, mtl::WeightingOptions{{"alpha", "0.12"}});
  const auto weights = train_synthetic(gradnorm, 60);
  EXPECT_GT(weights[0] / weights[1], 1.5) << weights[0] << " / " << weights[1];
  EXPECT_NEAR(weights[0] + weights[1], 2.0, 1e-5);

  mtl::EW ew(2);
  EXPECT_EQ(train_synthetic(ew, 5), (std::vector<double>{1, 1}));
}

}  // namespace
