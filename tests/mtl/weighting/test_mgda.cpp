// mgda: the min-norm combination, by hand on the three pairs, the two-task closed form, its normalisations and
// an end-to-end step on a model for every scope.
#include <gtest/gtest.h>

#include "mtl/weighting/mgda.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

TEST(MGDA, HandCheckedPairs) {
  MGDA mgda(2);
  // Orthogonal g1 = (1, 0), g2 = (0, 2): γ = 4/5, d = (0.8, 0.4), with equal inner products 0.8 with both.
  expect_vector_near(probe_update(mgda, kOrthogonal), {0.8, 0.4}, 1e-12);
  // Opposite: the min-norm point is 0 (Pareto-stationary).
  expect_vector_near(probe_update(mgda, kOpposite), {0.0, 0.0}, 1e-12);
  // g2 = −2 g1: γ = 2/3 and again d = 0.
  expect_vector_near(probe_update(mgda, {{1.0, 0.0}, {-2.0, 0.0}}), {0.0, 0.0}, 1e-12);
  // Identical: every γ gives g itself.
  expect_vector_near(probe_update(mgda, kIdentical), {1.0, 2.0}, 1e-12);
  // One gradient inside the other's half-space beyond it (K12 ≥ K11): g1 alone.
  expect_vector_near(probe_update(mgda, {{1.0, 0.0}, {2.0, 1.0}}), {1.0, 0.0}, 1e-12);
}

TEST(MGDA, TwoTaskClosedForm) {
  for (unsigned seed = 0; seed < 8; ++seed) {
    manual_seed(seed);
    const auto g = randn({2, 3}, TensorOptions(kFloat64)).to_vector<double>();
    const std::vector<std::vector<double>> rows = {{g[0], g[1], g[2]}, {g[3], g[4], g[5]}};
    const double k11 = g[0] * g[0] + g[1] * g[1] + g[2] * g[2], k22 = g[3] * g[3] + g[4] * g[4] + g[5] * g[5];
    const double k12 = g[0] * g[3] + g[1] * g[4] + g[2] * g[5];
    const double gamma = std::clamp((k22 - k12) / (k11 + k22 - 2 * k12), 0.0, 1.0);
    const auto weights = MGDA::min_norm_weights(linalg::Matrix{{k11, k12}, {k12, k22}});
    EXPECT_NEAR(weights[0], gamma, 1e-12);
    EXPECT_NEAR(weights[1], 1.0 - gamma, 1e-12);
    MGDA mgda(2);
    const auto d = probe_update(mgda, rows);
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(d[i], gamma * rows[0][i] + (1 - gamma) * rows[1][i], 1e-12);
  }
}

TEST(MGDA, ManyTasksGiveTheMinNormPoint) {
  // Three orthogonal gradients of norms 1, 2, 3: α ∝ 1/‖g_t‖², and d has the same inner product with each.
  MGDA mgda(3);
  const auto d = probe_update(mgda, {{1.0, 0.0, 0.0}, {0.0, 2.0, 0.0}, {0.0, 0.0, 3.0}});
  expect_vector_near(d, {36.0 / 49.0, 2.0 * 9.0 / 49.0, 3.0 * 4.0 / 49.0}, 1e-9);
  EXPECT_NEAR(d[0] * 1.0, d[1] * 2.0, 1e-9);
  EXPECT_NEAR(d[1] * 2.0, d[2] * 3.0, 1e-9);
}

TEST(MGDA, Normalizations) {
  // l2: unit gradients, so orthogonal gradients of norms 1 and 2 get γ = 1/2 on the unit vectors: α = (1/2, 1/4).
  MGDA l2(2, {{"normalization", "l2"}});
  EXPECT_EQ(l2.normalization(), MGDA::Normalization::kL2);
  expect_vector_near(probe_update(l2, kOrthogonal), {0.5, 0.5}, 1e-12);
  // loss: g_t / L_t. With losses 1 and 4 the normalised gradients are (1, 0) and (0, 0.5): γ = 0.2,
  // α = (0.2 / 1, 0.8 / 4), d = (0.2, 0.4).
  MGDA by_loss(2, {{"normalization", "loss"}});
  LinearProbe probe(kOrthogonal, std::vector<double>{1.0, 4.0});
  const WeightingReport report = run_probe_step(by_loss, *probe);
  expect_vector_near(report.weights, {0.2, 0.2}, 1e-12);
  expect_vector_near(probe->theta.grad().to_vector<double>(), {0.2, 0.4}, 1e-12);
  // loss+l2: n_t = L_t ‖g_t‖ = (1, 8), normalised gradients (1, 0) and (0, 1/4): γ = (1/16)/(17/16) = 1/17,
  // α = (1/17, (16/17)/8) = (1/17, 2/17), d = (1/17, 4/17).
  MGDA both(2, {{"normalization", "loss+l2"}});
  LinearProbe probe2(kOrthogonal, std::vector<double>{1.0, 4.0});
  const WeightingReport report2 = run_probe_step(both, *probe2);
  expect_vector_near(report2.weights, {1.0 / 17.0, 2.0 / 17.0}, 1e-12);
  expect_vector_near(probe2->theta.grad().to_vector<double>(), {1.0 / 17.0, 4.0 / 17.0}, 1e-12);
  // Loss normalisation needs positive losses.
  MGDA strict(2, {{"normalization", "loss"}});
  LinearProbe negative(kOrthogonal, std::vector<double>{-1.0, 1.0});
  EXPECT_THROW(run_probe_step(strict, *negative), Error);
}

TEST(MGDA, EndToEndOnEveryScope) {
  check_end_to_end("mgda", [](const linalg::Matrix& k) { return MGDA::min_norm_weights(k); });
  check_end_to_end("mgda:scope=last", [](const linalg::Matrix& k) { return MGDA::min_norm_weights(k); });
  check_end_to_end("mgda:scope=rep", [](const linalg::Matrix& k) { return MGDA::min_norm_weights(k); });
  check_end_to_end("mgda:scope=params", [](const linalg::Matrix& k) { return MGDA::min_norm_weights(k); }, 3);
}

TEST(MGDA, RejectsBadOptions) {
  EXPECT_THROW(MGDA(2, {{"normalization", "l1"}}), Error);
  EXPECT_THROW(MGDA(2, {{"scope", "everything"}}), Error);
  EXPECT_THROW(MGDA(2, {{"c", "0.5"}}), Error);
  EXPECT_THROW(make_weighting("mgda:normalisation=l2", 2), Error);
  EXPECT_NO_THROW(make_weighting("mgda:normalization=loss+l2,scope=last", 2));
}

}  // namespace
