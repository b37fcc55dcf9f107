// cagrad: the conflict-averse update, against its definition (the best worst-task improvement in the ball),
// its limits (c = 0 is the mean) and by hand on the three pairs; end to end on every scope.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "mtl/weighting/cagrad.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

TEST(CAGrad, ZeroCIsTheMeanGradient) {
  CAGrad cagrad(3, {{"c", "0"}});
  const std::vector<std::vector<double>> g = {{1.0, 0.0, 2.0}, {-3.0, 1.0, 0.5}, {0.2, -2.0, 1.0}};
  expect_vector_near(probe_update(cagrad, g), {(1.0 - 3.0 + 0.2) / 3, (0.0 + 1.0 - 2.0) / 3, (2.0 + 0.5 + 1.0) / 3},
                     1e-14);
  expect_vector_near(CAGrad::weights(linalg::Matrix{{4.0, -1.0}, {-1.0, 1.0}}, 0.0, true), {0.5, 0.5}, 1e-15);
}

TEST(CAGrad, HandCheckedPairs) {
  CAGrad cagrad(2);  // c = 0.5, rescaled by 1/(1 + c²) = 1/1.25
  // Identical: g0 = g and the correction adds c‖g‖ along g: d = (1 + c) g / (1 + c²) = 1.2 g.
  expect_vector_near(probe_update(cagrad, kIdentical), {1.2, 2.4}, 1e-9);
  // Opposite with equal norms: g0 = 0, so the ball is the point 0.
  expect_vector_near(probe_update(cagrad, kOpposite), {0.0, 0.0}, 1e-12);
  // g2 = −2 g1: g0 = −g1/2, radius c‖g0‖ = 1/4; the best worst-case improvement in the ball is at
  // d = g0 + g1/4 = −g1/4 (g1·d = −1/4, g2·d = 1/2), rescaled: −0.2 g1.
  expect_vector_near(probe_update(cagrad, {{1.0, 0.0}, {-2.0, 0.0}}), {-0.2, 0.0}, 1e-7);
  // Orthogonal g1 = (1, 0), g2 = (0, 2): maximise min(d1, 2 d2) in the ball around g0 = (1/2, 1) of radius
  // r = c‖g0‖ = √5/4. No point of the ball has d1 > 1/2 + r, and at d = (1/2 + r, 1) task 2 gets 2 > d1, so that
  // point is optimal (the dual picks w = (1, 0)); rescaled by 1/1.25: (0.4 + √5/5, 0.8).
  expect_vector_near(probe_update(cagrad, kOrthogonal), {0.4 + std::sqrt(5.0) / 5.0, 0.8}, 1e-7);
}

TEST(CAGrad, SolvesItsPrimalProblem) {
  // Without rescaling, d maximises min_i g_iᵀd over ‖d − g0‖ ≤ c‖g0‖: no point of the ball does better.
  std::mt19937 rng(17);
  std::normal_distribution<double> normal;
  for (unsigned seed = 0; seed < 6; ++seed) {
    const size_t T = 2 + seed % 3, D = 4;
    std::vector<std::vector<double>> g(T, std::vector<double>(D));
    for (auto& row : g)
      for (double& v : row) v = normal(rng);
    const double c = 0.3 + 0.2 * seed;
    CAGrad cagrad(T, WeightingOptions{}.set("c", c).set("rescale", "0"));
    const auto d = probe_update(cagrad, g);
    std::vector<double> g0(D, 0.0);
    for (const auto& row : g)
      for (size_t i = 0; i < D; ++i) g0[i] += row[i] / static_cast<double>(T);
    double g0_norm = 0.0;
    for (double v : g0) g0_norm += v * v;
    g0_norm = std::sqrt(g0_norm);
    auto worst = [&](const std::vector<double>& x) {
      double w = INFINITY;
      for (const auto& row : g) {
        double s = 0.0;
        for (size_t i = 0; i < D; ++i) s += row[i] * x[i];
        w = std::min(w, s);
      }
      return w;
    };
    double distance = 0.0;
    for (size_t i = 0; i < D; ++i) distance += (d[i] - g0[i]) * (d[i] - g0[i]);
    EXPECT_LE(std::sqrt(distance), c * g0_norm * (1 + 1e-9)) << "seed " << seed;
    const double ours = worst(d);
    for (int trial = 0; trial < 2000; ++trial) {
      std::vector<double> direction(D);
      double norm = 0.0;
      for (double& v : direction) {
        v = normal(rng);
        norm += v * v;
      }
      const double radius = c * g0_norm * std::pow(std::uniform_real_distribution<double>(0, 1)(rng), 0.25);
      std::vector<double> x(D);
      for (size_t i = 0; i < D; ++i) x[i] = g0[i] + radius * direction[i] / std::sqrt(norm);
      EXPECT_LE(worst(x), ours + 1e-7 * (1 + std::abs(ours))) << "seed " << seed;
    }
  }
}

TEST(CAGrad, LargeCApproachesMGDA) {
  // As c grows, d/‖d‖ tends to the min-norm direction: with g1 = (1, 0), g2 = (0, 2), MGDA's is (0.8, 0.4).
  CAGrad cagrad(2, {{"c", "1000"}, {"rescale", "0"}});
  const auto d = probe_update(cagrad, kOrthogonal);
  const double norm = std::hypot(d[0], d[1]);
  EXPECT_NEAR(d[0] / norm, 0.8 / std::hypot(0.8, 0.4), 1e-3);
  EXPECT_NEAR(d[1] / norm, 0.4 / std::hypot(0.8, 0.4), 1e-3);
}

TEST(CAGrad, EndToEndOnEveryScope) {
  auto weights = [](const linalg::Matrix& k) { return CAGrad::weights(k, 0.5, true); };
  check_end_to_end("cagrad", weights, 2, 1e-8);
  check_end_to_end("cagrad:scope=last", weights, 2, 1e-8);
  check_end_to_end("cagrad:scope=rep,c=0.5", weights, 2, 1e-8);
  check_end_to_end("cagrad:c=0.2,rescale=0", [](const linalg::Matrix& k) { return CAGrad::weights(k, 0.2, false); },
                   3, 1e-8);
}

TEST(CAGrad, RejectsBadOptions) {
  EXPECT_THROW(CAGrad(2, {{"c", "-1"}}), Error);
  EXPECT_THROW(CAGrad(2, {{"c", "x"}}), Error);
  EXPECT_THROW(CAGrad(2, {{"rescale", "2"}}), Error);
  EXPECT_THROW(CAGrad(2, {{"beta", "0.5"}}), Error);
  CAGrad options(2, {{"c", "0.4"}, {"rescale", "0"}});
  EXPECT_DOUBLE_EQ(options.c(), 0.4);
  EXPECT_FALSE(options.rescale());
}

}  // namespace
