// Tests of nn::init: gains and fans, the constant fills, and the statistics of the random initialisers
// (bounds, means, standard deviations) against their formulas; orthogonal_ against Q^T Q = gain^2 I.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/init.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
namespace init = tandem::nn::init;

double mean_of(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / static_cast<double>(v.size());
}

double std_of(const std::vector<float>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::abs(static_cast<double>(x)));
  return m;
}

TEST(NnInit, CalculateGain) {
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kLinear), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kConv2D), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kSigmoid), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kTanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kReLU), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kLeakyReLU), std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kLeakyReLU, std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kSELU), 0.75);
}

TEST(NnInit, FanInAndFanOut) {
  auto [fan_in, fan_out] = init::calculate_fan_in_and_fan_out(empty({4, 3, 2, 5}));
  EXPECT_EQ(fan_in, 3 * 2 * 5);
  EXPECT_EQ(fan_out, 4 * 2 * 5);
  std::tie(fan_in, fan_out) = init::calculate_fan_in_and_fan_out(empty({10, 7}));
  EXPECT_EQ(fan_in, 7);
  EXPECT_EQ(fan_out, 10);
  EXPECT_THROW(init::calculate_fan_in_and_fan_out(empty({5})), Error);
  EXPECT_THROW(init::kaiming_uniform_(empty({5})), Error);
  EXPECT_THROW(init::xavier_normal_(empty({5})), Error);
}

TEST(NnInit, ConstantFillsInPlaceOnParameters) {
  Tensor w = randn({3, 4}, requires_grad());
  Tensor out = init::constant_(w, 2.5);
  EXPECT_TRUE(out.is_same(w));
  for (float v : w.to_vector<float>()) EXPECT_EQ(v, 2.5f);
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
  EXPECT_EQ(w.grad_fn(), nullptr);
  init::zeros_(w);
  for (float v : w.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  init::ones_(w);
  for (float v : w.to_vector<float>()) EXPECT_EQ(v, 1.0f);
  Tensor e = empty({2, 3});
  init::eye_(e);
  EXPECT_EQ(e.to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 1, 0}));
  EXPECT_THROW(init::eye_(empty({2, 2, 2})), Error);
}

TEST(NnInit, UniformAndNormalStatistics) {
  manual_seed(1);
  Tensor u = init::uniform_(empty({200, 100}), -2.0, 3.0);
  auto uv = u.to_vector<float>();
  EXPECT_GE(*std::min_element(uv.begin(), uv.end()), -2.0f);
  EXPECT_LT(*std::max_element(uv.begin(), uv.end()), 3.0f);
  EXPECT_NEAR(mean_of(uv), 0.5, 0.03);
  EXPECT_NEAR(std_of(uv), 5.0 / std::sqrt(12.0), 0.03);

  Tensor n = init::normal_(empty({200, 100}, kFloat64), 1.0, 0.5);
  auto nv = n.to(kFloat32).to_vector<float>();
  EXPECT_NEAR(mean_of(nv), 1.0, 0.015);
  EXPECT_NEAR(std_of(nv), 0.5, 0.015);
  EXPECT_THROW(init::uniform_(empty({3}, kInt64)), Error);
  EXPECT_THROW(init::normal_(empty({3}), 0, -1), Error);
}

TEST(NnInit, XavierBoundsAndStd) {
  manual_seed(2);
  Tensor w = init::xavier_uniform_(empty({64, 32}));  // a = sqrt(6 / 96) = 0.25
  auto wv = w.to_vector<float>();
  EXPECT_LE(max_abs(wv), 0.25);
  EXPECT_GT(max_abs(wv), 0.24);
  EXPECT_NEAR(std_of(wv), 0.25 / std::sqrt(3.0), 0.01);

  Tensor g = init::xavier_uniform_(empty({64, 32}), 2.0);
  EXPECT_LE(max_abs(g.to_vector<float>()), 0.5);
  EXPECT_GT(max_abs(g.to_vector<float>()), 0.48);

  Tensor n = init::xavier_normal_(empty({300, 100}));
  EXPECT_NEAR(std_of(n.to_vector<float>()), std::sqrt(2.0 / 400.0), 0.003);
}

TEST(NnInit, KaimingBoundsAndStd) {
  manual_seed(3);
  // a = sqrt(5): bound = 1 / sqrt(fan_in), the default of Linear and Conv.
  Tensor w = init::kaiming_uniform_(empty({128, 100}), std::sqrt(5.0));
  auto wv = w.to_vector<float>();
  EXPECT_LE(max_abs(wv), 0.1 + 1e-7);
  EXPECT_GT(max_abs(wv), 0.098);
  EXPECT_NEAR(mean_of(wv), 0.0, 0.005);

  // ReLU, fan_in: bound = sqrt(3) * sqrt(2) / sqrt(50) ~ 0.3464.
  Tensor r = init::kaiming_uniform_(empty({64, 50}), 0, init::kFanIn, init::kReLU);
  EXPECT_LE(max_abs(r.to_vector<float>()), std::sqrt(6.0 / 50.0) + 1e-6);
  EXPECT_GT(max_abs(r.to_vector<float>()), 0.33);

  // fan_out of [200, 50, 2, 2] is 800: std = sqrt(2) / sqrt(800) = 0.05.
  Tensor n = init::kaiming_normal_(empty({200, 50, 2, 2}), 0, init::kFanOut, init::kReLU);
  EXPECT_NEAR(std_of(n.to_vector<float>()), 0.05, 0.001);
  EXPECT_NEAR(mean_of(n.to_vector<float>()), 0.0, 0.001);
}

TEST(NnInit, SeedMakesInitialisationReproducible) {
  manual_seed(7);
  auto a = init::kaiming_uniform_(empty({5, 6})).to_vector<float>();
  manual_seed(7);
  auto b = init::kaiming_uniform_(empty({5, 6})).to_vector<float>();
  EXPECT_EQ(a, b);
}

/// max |(M M^T or M^T M) - gain^2 I| for the 2-D view of an orthogonally initialised tensor.
double orthogonality_error(const Tensor& t, double gain) {
  Tensor m = t.reshape({t.size(0), -1}).to(kFloat64);
  const bool wide = m.size(0) < m.size(1);
  Tensor gram = wide ? m.matmul(m.t()) : m.t().matmul(m);
  const int64_t n = gram.size(0);
  auto g = gram.to_vector<double>();
  double err = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      err = std::max(err, std::abs(g[static_cast<size_t>(i * n + j)] - (i == j ? gain * gain : 0.0)));
  return err;
}

TEST(NnInit, OrthogonalGivesOrthonormalRowsOrColumns) {
  manual_seed(4);
  EXPECT_LT(orthogonality_error(init::orthogonal_(empty({8, 5})), 1.0), 1e-5);  // tall: Q^T Q = I
  EXPECT_LT(orthogonality_error(init::orthogonal_(empty({5, 8})), 1.0), 1e-5);  // wide: Q Q^T = I
  EXPECT_LT(orthogonality_error(init::orthogonal_(empty({6, 6})), 1.0), 1e-5);  // square
  EXPECT_LT(orthogonality_error(init::orthogonal_(empty({4, 2, 3, 3})), 1.0), 1e-5);
  EXPECT_LT(orthogonality_error(init::orthogonal_(empty({7, 3}, kFloat64), 2.0), 2.0), 1e-12);
  // A square orthogonal matrix also has orthonormal rows.
  Tensor q = init::orthogonal_(empty({6, 6}, kFloat64));
  EXPECT_TRUE(allclose(q.matmul(q.t()), eye(6, kFloat64), 1e-9, 1e-9));
  EXPECT_THROW(init::orthogonal_(empty({6})), Error);
}

TEST(NnInit, OrthogonalIsNotTheSameEachCall) {
  manual_seed(5);
  auto a = init::orthogonal_(empty({4, 4})).to_vector<float>();
  auto b = init::orthogonal_(empty({4, 4})).to_vector<float>();
  EXPECT_NE(a, b);
}

}  // namespace
