// SGD: the update rule (plain, momentum with dampening, Nesterov, weight decay) checked step by step against
// the formulas evaluated in double, and the option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/optim/sgd.h"
#include "tensor/functions.h"
#include "nn/optim/optim_test_util.h"

namespace {

using namespace tandem;
using namespace tandem::optim_test;
using tandem::optim::SGD;
using tandem::optim::SGDOptions;

const std::vector<double> kGrad = {0.1, -0.3, 0.2};

/// Runs `steps` SGD steps with the fixed gradient kGrad and compares with the reference rule in double.
void check_sgd(const SGDOptions& options, int steps) {
  Tensor p = param_of(kStart);
  SGD opt({p}, options);
  std::vector<double> x = kStart, buf(kStart.size(), 0.0);
  for (int t = 1; t <= steps; ++t) {
    p.set_grad(tensor(kGrad, kFloat64));
    opt.step();
    for (size_t i = 0; i < x.size(); ++i) {
      double d = kGrad[i] + options.weight_decay() * x[i];
      if (options.momentum() != 0) {
        buf[i] = t == 1 ? d : options.momentum() * buf[i] + (1 - options.dampening()) * d;
        d = options.nesterov() ? d + options.momentum() * buf[i] : buf[i];
      }
      x[i] -= options.lr() * d;
    }
    expect_values(p, x, "step " + std::to_string(t));
  }
}

TEST(NnSGD, PlainStepsMatchFormula) {
  Tensor p = param_of(kStart);
  SGD opt({p}, SGDOptions(0.1));
  for (int t = 1; t <= 3; ++t) {
    p.set_grad(tensor(kGrad, kFloat64));
    opt.step();
  }
  // x3 = x0 - 3 * lr * g, written out.
  expect_values(p, {1.0 - 0.03, -2.0 + 0.09, 0.5 - 0.06}, "three plain steps");
}

TEST(NnSGD, MomentumFirstBufferIsGradient) {
  Tensor p = param_of(kStart);
  SGD opt({p}, SGDOptions(0.1).momentum(0.9).dampening(0.5));
  p.set_grad(tensor(kGrad, kFloat64));
  opt.step();
  // First step: buf = g (dampening does not apply yet), so x1 = x0 - lr * g.
  expect_values(p, {1.0 - 0.01, -2.0 + 0.03, 0.5 - 0.02}, "first momentum step");
  expect_values(opt.state().at(0)["momentum_buffer"], kGrad, "buffer after one step");
  p.set_grad(tensor(kGrad, kFloat64));
  opt.step();
  // buf2 = 0.9 * g + 0.5 * g = 1.4 g; x2 = x1 - 0.1 * 1.4 g.
  expect_values(p, {0.99 - 0.014, -1.97 + 0.042, 0.48 - 0.028}, "second momentum step");
}

TEST(NnSGD, MomentumWithDampeningAndWeightDecay) {
  check_sgd(SGDOptions(0.05).momentum(0.8).dampening(0.3).weight_decay(0.1), 3);
}

TEST(NnSGD, Nesterov) { check_sgd(SGDOptions(0.1).momentum(0.9).nesterov(true), 3); }

TEST(NnSGD, NesterovWithWeightDecay) { check_sgd(SGDOptions(0.02).momentum(0.5).nesterov(true).weight_decay(0.2), 3); }

TEST(NnSGD, WeightDecayWithoutMomentum) { check_sgd(SGDOptions(0.1).weight_decay(0.5), 3); }

TEST(NnSGD, Float32ParametersFollowTheSameRule) {
  Tensor p = tensor(std::vector<float>{1.f, -2.f});
  p.requires_grad_(true);
  SGD opt({p}, SGDOptions(0.5).momentum(0.5));
  for (int t = 0; t < 2; ++t) {
    p.set_grad(tensor(std::vector<float>{0.5f, 0.25f}));
    opt.step();
  }
  // buf1 = g, buf2 = 1.5 g; x2 = x0 - 0.5 * 2.5 g (all exact in binary).
  const auto x = p.to_vector<float>();
  EXPECT_EQ(x[0], 1.f - 0.625f);
  EXPECT_EQ(x[1], -2.f - 0.3125f);
}

TEST(NnSGD, RejectsInvalidOptions) {
  Tensor p = param_of(kStart);
  expect_error_mentioning([&] { SGD opt({p}, SGDOptions(-0.1)); }, {"SGD", "learning rate", "-0.1"});
  expect_error_mentioning([&] { SGD opt({p}, SGDOptions(0.1).momentum(-0.5)); }, {"SGD", "momentum", "-0.5"});
  expect_error_mentioning([&] { SGD opt({p}, SGDOptions(0.1).weight_decay(-1)); }, {"SGD", "weight_decay", "-1"});
  expect_error_mentioning([&] { SGD opt({p}, SGDOptions(0.1).nesterov(true)); }, {"SGD", "nesterov", "momentum"});
  expect_error_mentioning([&] { SGD opt({p}, SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)); },
                          {"SGD", "nesterov", "dampening 0.1"});
  // A bad value set later through the base interface is caught at the next step.
  SGD opt({p}, SGDOptions(0.1));
  opt.param_groups()[0].options().lr(-2);
  p.set_grad(tensor(kGrad, kFloat64));
  expect_error_mentioning([&] { opt.step(); }, {"SGD", "-2"});
}

}  // namespace
