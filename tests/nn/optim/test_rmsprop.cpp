// RMSprop: plain, centered, momentum and weight-decay variants checked step by step against the formulas in
// double, and the option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/optim/rmsprop.h"
#include "tensor/functions.h"
#include "nn/optim/optim_test_util.h"

namespace {

using namespace tandem;
using namespace tandem::optim_test;
using tandem::optim::RMSprop;
using tandem::optim::RMSpropOptions;

const std::vector<std::vector<double>> kGrads = {{0.1, -0.3, 0.2}, {0.2, -0.1, 0.4}, {-0.1, 0.3, 0.1}};

/// Runs RMSprop over kGrads and compares each step with the rule evaluated in double.
void check_rmsprop(const RMSpropOptions& o) {
  Tensor p = param_of(kStart);
  RMSprop opt({p}, o);
  const size_t n = kStart.size();
  std::vector<double> x = kStart, sq(n, 0.0), avg(n, 0.0), buf(n, 0.0);
  for (size_t s = 0; s < kGrads.size(); ++s) {
    p.set_grad(tensor(kGrads[s], kFloat64));
    opt.step();
    for (size_t i = 0; i < n; ++i) {
      const double g = kGrads[s][i] + o.weight_decay() * x[i];
      sq[i] = o.alpha() * sq[i] + (1 - o.alpha()) * g * g;
      double denom;
      if (o.centered()) {
        avg[i] = o.alpha() * avg[i] + (1 - o.alpha()) * g;
        denom = std::sqrt(sq[i] - avg[i] * avg[i]) + o.eps();
      } else {
        denom = std::sqrt(sq[i]) + o.eps();
      }
      if (o.momentum() > 0) {
        buf[i] = o.momentum() * buf[i] + g / denom;
        x[i] -= o.lr() * buf[i];
      } else {
        x[i] -= o.lr() * g / denom;
      }
    }
    expect_values(p, x, "step " + std::to_string(s + 1));
  }
  expect_values(opt.state().at(0)["square_avg"], sq, "square_avg");
  EXPECT_EQ(opt.state().at(0).contains("grad_avg"), o.centered());
  EXPECT_EQ(opt.state().at(0).contains("momentum_buffer"), o.momentum() > 0);
}

TEST(NnRMSprop, FirstStepByHand) {
  // s1 = (1 - alpha) g^2 = 0.01 g^2, so x1 = x0 - lr * g / (0.1 |g| + eps).
  Tensor p = param_of(kStart);
  RMSprop opt({p}, RMSpropOptions(0.01));
  p.set_grad(tensor(kGrads[0], kFloat64));
  opt.step();
  expect_values(p,
                {1.0 - 0.01 * 0.1 / (0.01 + 1e-8), -2.0 + 0.01 * 0.3 / (0.03 + 1e-8), 0.5 - 0.01 * 0.2 / (0.02 + 1e-8)},
                "first step");
}

TEST(NnRMSprop, Plain) { check_rmsprop(RMSpropOptions(0.01)); }
TEST(NnRMSprop, CustomAlphaAndEps) { check_rmsprop(RMSpropOptions(0.02).alpha(0.9).eps(1e-4)); }
TEST(NnRMSprop, Centered) { check_rmsprop(RMSpropOptions(0.01).alpha(0.9).centered(true)); }
TEST(NnRMSprop, Momentum) { check_rmsprop(RMSpropOptions(0.01).momentum(0.9)); }
TEST(NnRMSprop, CenteredMomentumWeightDecay) {
  check_rmsprop(RMSpropOptions(0.005).alpha(0.95).momentum(0.5).centered(true).weight_decay(0.1));
}

TEST(NnRMSprop, Defaults) {
  const RMSpropOptions o;
  EXPECT_DOUBLE_EQ(o.lr(), 1e-2);
  EXPECT_DOUBLE_EQ(o.alpha(), 0.99);
  EXPECT_DOUBLE_EQ(o.eps(), 1e-8);
  EXPECT_FALSE(o.centered());
}

TEST(NnRMSprop, RejectsInvalidOptions) {
  Tensor p = param_of(kStart);
  EXPECT_THROW(RMSprop({p}, RMSpropOptions(-0.01)), Error);
  EXPECT_THROW(RMSprop({p}, RMSpropOptions().alpha(-0.9)), Error);
  EXPECT_THROW(RMSprop({p}, RMSpropOptions().eps(-1e-8)), Error);
  EXPECT_THROW(RMSprop({p}, RMSpropOptions().momentum(-0.9)), Error);
  EXPECT_THROW(RMSprop({p}, RMSpropOptions().weight_decay(-1)), Error);
  try {
    RMSprop opt({p}, RMSpropOptions(-0.25));
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RMSprop: invalid learning rate -0.25"), std::string::npos) << e.what();
  }
}

}  // namespace
