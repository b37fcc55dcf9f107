// Gradient clipping: the total norm (2, 1, inf and a general p) as the norm of the per-parameter norms, scaling
// only when max_norm / (total + 1e-6) < 1, parameters without gradients skipped, clip_grad_value_, and misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nn/utils/clip_grad.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
using tandem::nn::utils::clip_grad_norm_;
using tandem::nn::utils::clip_grad_value_;

Tensor param_with_grad(const std::vector<double>& grad) {
  Tensor p = zeros({static_cast<int64_t>(grad.size())}, kFloat64);
  p.requires_grad_(true);
  p.set_grad(tensor(grad, kFloat64));
  return p;
}

TEST(NnClipGradNorm, ScalesWhenAboveMaxNorm) {
  Tensor a = param_with_grad({3.0, 4.0}), b = param_with_grad({12.0});  // norms 5 and 12: total 13
  Tensor no_grad = zeros({2}, kFloat64);
  no_grad.requires_grad_(true);
  const double total = clip_grad_norm_({a, b, no_grad}, 6.5);
  EXPECT_DOUBLE_EQ(total, 13.0);
  const double coef = 6.5 / (13.0 + 1e-6);
  const auto ga = a.grad().to_vector<double>();
  EXPECT_DOUBLE_EQ(ga[0], 3.0 * coef);
  EXPECT_DOUBLE_EQ(ga[1], 4.0 * coef);
  EXPECT_DOUBLE_EQ(b.grad().item<double>(), 12.0 * coef);
  EXPECT_FALSE(no_grad.grad().defined());
  // The clipped gradients have norm just under max_norm; clipping again changes (almost) nothing.
  EXPECT_NEAR(clip_grad_norm_({a, b}, 6.5), 6.5, 1e-6);
}

TEST(NnClipGradNorm, LeavesSmallGradientsAlone) {
  Tensor a = param_with_grad({3.0, 4.0}), b = param_with_grad({12.0});
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b}, 13.0), 13.0);  // 13 / (13 + 1e-6) < 1: scaled by ~1 - 7.7e-8
  EXPECT_NEAR(a.grad().to_vector<double>()[0], 3.0, 1e-6);
  Tensor c = param_with_grad({3.0, 4.0});
  EXPECT_DOUBLE_EQ(clip_grad_norm_(c, 100.0), 5.0);
  EXPECT_EQ(c.grad().to_vector<double>(), (std::vector<double>{3.0, 4.0}));  // untouched
}

TEST(NnClipGradNorm, InfinityNorm) {
  Tensor a = param_with_grad({3.0, -4.0}), b = param_with_grad({2.0});
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b}, 1.0, inf), 4.0);
  const double coef = 1.0 / (4.0 + 1e-6);
  EXPECT_DOUBLE_EQ(a.grad().to_vector<double>()[1], -4.0 * coef);
  EXPECT_DOUBLE_EQ(b.grad().item<double>(), 2.0 * coef);
}

TEST(NnClipGradNorm, OneNormAndGeneralP) {
  Tensor a = param_with_grad({3.0, -4.0}), b = param_with_grad({2.0});
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b}, 100.0, 1.0), 9.0);
  // p = 3: (27 + 64 + 8)^(1/3), computed as the 3-norm of the per-parameter 3-norms.
  EXPECT_NEAR(clip_grad_norm_({a, b}, 100.0, 3.0), std::cbrt(99.0), 1e-12);
}

TEST(NnClipGradNorm, Float32Gradients) {
  Tensor p = zeros({2});
  p.requires_grad_(true);
  p.set_grad(tensor(std::vector<float>{6.f, 8.f}));
  EXPECT_NEAR(clip_grad_norm_(p, 1.0), 10.0, 1e-5);
  const auto g = p.grad().to_vector<float>();
  EXPECT_NEAR(g[0], 0.6f, 1e-6);
  EXPECT_NEAR(g[1], 0.8f, 1e-6);
}

TEST(NnClipGradNorm, NoGradientsGivesZero) {
  Tensor p = zeros({2}, kFloat64);
  p.requires_grad_(true);
  EXPECT_DOUBLE_EQ(clip_grad_norm_(p, 1.0), 0.0);
}

TEST(NnClipGradNorm, Misuse) {
  Tensor a = param_with_grad({3.0, 4.0});
  EXPECT_THROW(clip_grad_norm_(a, -1.0), Error);
  EXPECT_THROW(clip_grad_norm_(a, 1.0, 0.0), Error);
  EXPECT_THROW(clip_grad_norm_(a, 1.0, -2.0), Error);
  EXPECT_THROW(clip_grad_norm_(std::vector<Tensor>{Tensor()}, 1.0), Error);
  Tensor bad = param_with_grad({1.0, std::numeric_limits<double>::quiet_NaN()});
  try {
    clip_grad_norm_(bad, 1.0, 2.0, /*error_if_nonfinite=*/true);
    ADD_FAILURE() << "expected tandem::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("clip_grad_norm_"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nan"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::isnan(clip_grad_norm_(bad, 1.0)));  // without the check, the norm is reported as is
}

TEST(NnClipGradValue, ClampsEveryElement) {
  Tensor a = param_with_grad({0.5, -3.0, 2.0}), b = param_with_grad({-0.1});
  Tensor no_grad = zeros({1}, kFloat64);
  no_grad.requires_grad_(true);
  clip_grad_value_({a, b, no_grad}, 1.0);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.5, -1.0, 1.0}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{-0.1}));
  EXPECT_FALSE(no_grad.grad().defined());
  clip_grad_value_(a, 0.25);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.25, -0.25, 0.25}));
  EXPECT_THROW(clip_grad_value_(a, -1.0), Error);
}

}  // namespace
