// Adagrad: accumulated squared gradients, learning-rate decay, initial accumulator and weight decay checked
// step by step against the formulas in double, and the option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/optim/adagrad.h"
#include "tensor/functions.h"
#include "nn/optim/optim_test_util.h"

namespace {

using namespace tandem;
using namespace tandem::optim_test;
using tandem::optim::Adagrad;
using tandem::optim::AdagradOptions;

const std::vector<double> kGrad = {0.1, -0.3, 0.2};

void check_adagrad(const AdagradOptions& o, int steps) {
  Tensor p = param_of(kStart);
  Adagrad opt({p}, o);
  std::vector<double> x = kStart, sum(kStart.size(), o.initial_accumulator_value());
  for (int t = 1; t <= steps; ++t) {
    p.set_grad(tensor(kGrad, kFloat64));
    opt.step();
    const double clr = o.lr() / (1 + (t - 1) * o.lr_decay());
    for (size_t i = 0; i < x.size(); ++i) {
      const double g = kGrad[i] + o.weight_decay() * x[i];
      sum[i] += g * g;
      x[i] -= clr * g / (std::sqrt(sum[i]) + o.eps());
    }
    expect_values(p, x, "step " + std::to_string(t));
  }
  expect_values(opt.state().at(0)["sum"], sum, "sum");
}

TEST(NnAdagrad, TwoStepsByHand) {
  // sum1 = g^2: x1 = x0 - lr * sign(g); sum2 = 2 g^2: x2 = x1 - lr * sign(g) / sqrt(2) (eps = 1e-10 aside).
  Tensor p = param_of(kStart);
  Adagrad opt({p}, AdagradOptions(0.1));
  p.set_grad(tensor(kGrad, kFloat64));
  opt.step();
  p.set_grad(tensor(kGrad, kFloat64));
  opt.step();
  const double r = 1 / std::sqrt(2.0);
  const auto x = p.to_vector<double>();
  EXPECT_NEAR(x[0], 1.0 - 0.1 - 0.1 * r, 1e-8);
  EXPECT_NEAR(x[1], -2.0 + 0.1 + 0.1 * r, 1e-8);
  EXPECT_NEAR(x[2], 0.5 - 0.1 - 0.1 * r, 1e-8);
}

TEST(NnAdagrad, Plain) { check_adagrad(AdagradOptions(0.1), 3); }
TEST(NnAdagrad, LrDecay) { check_adagrad(AdagradOptions(0.1).lr_decay(0.5), 3); }
TEST(NnAdagrad, InitialAccumulatorAndWeightDecay) {
  check_adagrad(AdagradOptions(0.05).initial_accumulator_value(0.1).weight_decay(0.2).eps(1e-6), 3);
}

TEST(NnAdagrad, Defaults) {
  const AdagradOptions o;
  EXPECT_DOUBLE_EQ(o.lr(), 1e-2);
  EXPECT_DOUBLE_EQ(o.eps(), 1e-10);
  EXPECT_DOUBLE_EQ(o.lr_decay(), 0.0);
  EXPECT_DOUBLE_EQ(o.initial_accumulator_value(), 0.0);
}

TEST(NnAdagrad, RejectsInvalidOptions) {
  Tensor p = param_of(kStart);
  EXPECT_THROW(Adagrad({p}, AdagradOptions(-0.1)), Error);
  EXPECT_THROW(Adagrad({p}, AdagradOptions().lr_decay(-1)), Error);
  EXPECT_THROW(Adagrad({p}, AdagradOptions().initial_accumulator_value(-0.1)), Error);
  EXPECT_THROW(Adagrad({p}, AdagradOptions().weight_decay(-0.1)), Error);
  EXPECT_THROW(Adagrad({p}, AdagradOptions().eps(-1)), Error);
  try {
    Adagrad opt({p}, AdagradOptions().lr_decay(-3));
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Adagrad: invalid lr_decay -3"), std::string::npos) << e.what();
  }
}

}  // namespace
