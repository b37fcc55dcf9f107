// Adam and AdamW: the bias-corrected moment updates checked step by step against the formulas in double,
// amsgrad's running maximum, and the difference between Adam's L2 weight decay and AdamW's decoupled decay.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/optim/adam.h"
#include "tensor/functions.h"
#include "nn/optim/optim_test_util.h"

namespace {

using namespace tandem;
using namespace tandem::optim_test;
using tandem::optim::Adam;
using tandem::optim::AdamOptions;
using tandem::optim::AdamW;
using tandem::optim::AdamWOptions;


/// The reference Adam/AdamW rule in double. decoupled: AdamW's weight decay; otherwise Adam's L2.
struct ReferenceAdam {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, decoupled;
  std::vector<double> x, m, v, vmax;
  int t = 0;
  void step(const std::vector<double>& grad) {
    ++t;
    for (size_t i = 0; i < x.size(); ++i) {
      double g = grad[i];
      if (decoupled)
        x[i] *= 1 - lr * weight_decay;
      else
        g += weight_decay * x[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      vmax[i] = std::max(vmax[i], v[i]);
      const double m_hat = m[i] / (1 - std::pow(beta1, t));
      const double v_used = amsgrad ? vmax[i] : v[i];
      x[i] -= lr * m_hat / (std::sqrt(v_used) / std::sqrt(1 - std::pow(beta2, t)) + eps);
    }
  }
};

ReferenceAdam reference(double lr, double beta1, double beta2, double eps, double wd, bool amsgrad, bool decoupled) {
  const size_t n = kStart.size();
  return ReferenceAdam{lr,
                       beta1,
                       beta2,
                       eps,
                       wd,
                       amsgrad,
                       decoupled,
                       kStart,
                       std::vector<double>(n),
                       std::vector<double>(n),
                       std::vector<double>(n)};
}

const std::vector<std::vector<double>> kGrads = {{0.1, -0.3, 0.2}, {0.1, -0.3, 0.2}, {0.1, -0.3, 0.2}};
// Gradients that shrink, so that amsgrad's maximum differs from the running average.
const std::vector<std::vector<double>> kShrinkingGrads = {{0.5, -0.4, 0.3}, {0.05, -0.02, 0.01}, {0.01, 0.0, -0.02}};

template <typename Opt, typename Options>
void check_against(Options options, ReferenceAdam ref, const std::vector<std::vector<double>>& grads) {
  Tensor p = param_of(kStart);
  Opt opt({p}, options);
  for (size_t s = 0; s < grads.size(); ++s) {
    p.set_grad(tensor(grads[s], kFloat64));
    opt.step();
    ref.step(grads[s]);
    expect_values(p, ref.x, "step " + std::to_string(s + 1));
  }
  EXPECT_EQ(opt.state().at(0).step(), static_cast<int64_t>(grads.size()));
  expect_values(opt.state().at(0)["exp_avg"], ref.m, "exp_avg");
  expect_values(opt.state().at(0)["exp_avg_sq"], ref.v, "exp_avg_sq");
}

TEST(NnAdam, FirstStepMovesEachCoordinateByLr) {
  // With bias correction, step 1 is x - lr * g / (|g| + eps): about lr times the sign of g.
  Tensor p = param_of(kStart);
  Adam opt({p}, AdamOptions(0.01));
  p.set_grad(tensor(kGrads[0], kFloat64));
  opt.step();
  expect_values(p, {1.0 - 0.01 * 0.1 / (0.1 + 1e-8), -2.0 + 0.01 * 0.3 / (0.3 + 1e-8), 0.5 - 0.01 * 0.2 / (0.2 + 1e-8)},
                "first step");
}

TEST(NnAdam, ThreeStepsMatchFormula) {
  check_against<Adam>(AdamOptions(0.01), reference(0.01, 0.9, 0.999, 1e-8, 0, false, false), kGrads);
}

TEST(NnAdam, CustomBetasAndEps) {
  check_against<Adam>(AdamOptions(0.05).betas({0.8, 0.99}).eps(1e-3), reference(0.05, 0.8, 0.99, 1e-3, 0, false, false),
                      kShrinkingGrads);
}

TEST(NnAdam, AmsgradKeepsTheMaximum) {
  check_against<Adam>(AdamOptions(0.01).amsgrad(true), reference(0.01, 0.9, 0.999, 1e-8, 0, true, false),
                      kShrinkingGrads);
  // Without amsgrad the same gradients give a different trajectory.
  ReferenceAdam with = reference(0.01, 0.9, 0.999, 1e-8, 0, true, false);
  ReferenceAdam without = reference(0.01, 0.9, 0.999, 1e-8, 0, false, false);
  for (const auto& g : kShrinkingGrads) {
    with.step(g);
    without.step(g);
  }
  EXPECT_GT(std::abs(with.x[0] - without.x[0]), 1e-6);
}

TEST(NnAdam, AmsgradStateHoldsTheMaximum) {
  Tensor p = param_of(kStart);
  Adam opt({p}, AdamOptions(0.01).amsgrad(true));
  ReferenceAdam ref = reference(0.01, 0.9, 0.999, 1e-8, 0, true, false);
  for (const auto& g : kShrinkingGrads) {
    p.set_grad(tensor(g, kFloat64));
    opt.step();
    ref.step(g);
  }
  expect_values(opt.state().at(0)["max_exp_avg_sq"], ref.vmax, "max_exp_avg_sq");
}

TEST(NnAdam, L2WeightDecayIsAddedToTheGradient) {
  check_against<Adam>(AdamOptions(0.01).weight_decay(0.1), reference(0.01, 0.9, 0.999, 1e-8, 0.1, false, false),
                      kGrads);
}

TEST(NnAdamW, DecoupledWeightDecay) {
  check_against<AdamW>(AdamWOptions(0.01).weight_decay(0.1), reference(0.01, 0.9, 0.999, 1e-8, 0.1, false, true),
                       kGrads);
}

TEST(NnAdamW, AmsgradWithDecoupledWeightDecay) {
  check_against<AdamW>(AdamWOptions(0.02).weight_decay(0.05).amsgrad(true),
                       reference(0.02, 0.9, 0.999, 1e-8, 0.05, true, true), kShrinkingGrads);
}

TEST(NnAdamW, DefaultsAndZeroDecayEqualsAdam) {
  EXPECT_DOUBLE_EQ(AdamWOptions().weight_decay(), 1e-2);
  EXPECT_DOUBLE_EQ(AdamOptions().weight_decay(), 0.0);
  EXPECT_DOUBLE_EQ(AdamOptions().lr(), 1e-3);
  EXPECT_DOUBLE_EQ(std::get<1>(AdamOptions().betas()), 0.999);
  Tensor a = param_of(kStart), b = param_of(kStart);
  Adam adam({a}, AdamOptions(0.01));
  AdamW adamw({b}, AdamWOptions(0.01).weight_decay(0));
  for (const auto& g : kShrinkingGrads) {
    a.set_grad(tensor(g, kFloat64));
    b.set_grad(tensor(g, kFloat64));
    adam.step();
    adamw.step();
  }
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());
}

TEST(NnAdamW, DiffersFromAdamWithTheSameWeightDecay) {
  // Adam's L2 term passes through the adaptive denominator; AdamW's shrinkage does not. On a zero gradient,
  // Adam's first step moves each coordinate by about lr (the normalised L2 gradient), AdamW's by lr*wd*|x|.
  Tensor a = param_of(kStart), b = param_of(kStart);
  Adam adam({a}, AdamOptions(0.1).weight_decay(0.01));
  AdamW adamw({b}, AdamWOptions(0.1).weight_decay(0.01));
  a.set_grad(zeros({3}, kFloat64));
  b.set_grad(zeros({3}, kFloat64));
  adam.step();
  adamw.step();
  // Adam: g = wd * x, so the step is lr * g / (|g| + eps) ~ lr * sign(x).
  expect_values(
      a, {1.0 - 0.1 * 0.01 / (0.01 + 1e-8), -2.0 + 0.1 * 0.02 / (0.02 + 1e-8), 0.5 - 0.1 * 0.005 / (0.005 + 1e-8)},
      "Adam with L2 on a zero gradient");
  // AdamW: x * (1 - lr * wd), then a zero Adam step.
  expect_values(b, {1.0 * 0.999, -2.0 * 0.999, 0.5 * 0.999}, "AdamW on a zero gradient");
}

TEST(NnAdam, RejectsInvalidOptions) {
  Tensor p = param_of(kStart);
  expect_error_mentioning([&] { Adam opt({p}, AdamOptions(-1e-3)); }, {"Adam", "learning rate", "-0.001"});
  expect_error_mentioning([&] { Adam opt({p}, AdamOptions().betas({1.0, 0.999})); }, {"Adam", "beta1", "1"});
  expect_error_mentioning([&] { Adam opt({p}, AdamOptions().betas({0.9, -0.1})); }, {"Adam", "beta2", "-0.1"});
  expect_error_mentioning([&] { Adam opt({p}, AdamOptions().eps(-1)); }, {"Adam", "epsilon", "-1"});
  expect_error_mentioning([&] { Adam opt({p}, AdamOptions().weight_decay(-0.5)); }, {"Adam", "weight_decay", "-0.5"});
  expect_error_mentioning([&] { AdamW opt({p}, AdamWOptions(-2)); }, {"AdamW", "learning rate", "-2"});
}

}  // namespace
