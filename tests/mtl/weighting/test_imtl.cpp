// imtl: IMTL-G's impartial combination (equal projections on every unit gradient), by hand on the three
// pairs; IMTL-L's learnable loss scales and their gradient; every scope end to end.
#include <gtest/gtest.h>

#include <cmath>

#include "mtl/weighting/imtl.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

TEST(IMTL, HandCheckedPairs) {
  // Orthogonal g1 = (1, 0), g2 = (0, 2): α1·1 = α2·2 with α1 + α2 = 1 → α = (2/3, 1/3), d = (2/3, 2/3), whose
  // projections on u1 = (1, 0) and u2 = (0, 1) are both 2/3.
  expect_vector_near(IMTL::impartial_weights(linalg::Matrix{{1.0, 0.0}, {0.0, 4.0}}), {2.0 / 3, 1.0 / 3}, 1e-14);
  IMTL imtl(2);
  expect_vector_near(probe_update(imtl, kOrthogonal), {2.0 / 3, 2.0 / 3}, 1e-14);
  // Opposite: equal projections on u and −u force d = 0 (for g2 = −g1: α = (½, ½); for g2 = −2 g1: (2/3, 1/3)).
  expect_vector_near(probe_update(imtl, kOpposite), {0.0, 0.0}, 1e-14);
  expect_vector_near(IMTL::impartial_weights(linalg::Matrix{{1.0, -2.0}, {-2.0, 4.0}}), {2.0 / 3, 1.0 / 3}, 1e-14);
  // Identical: any α summing to 1 is impartial and gives g itself.
  expect_vector_near(probe_update(imtl, kIdentical), {1.0, 2.0}, 1e-12);
}

TEST(IMTL, EqualProjectionsOnEveryUnitGradient) {
  for (unsigned seed = 0; seed < 10; ++seed) {
    manual_seed(seed);
    const size_t T = 2 + seed % 4;
    const Tensor g = randn({static_cast<int64_t>(T), 6}, TensorOptions(kFloat64));
    std::vector<Tensor> rows;
    for (size_t t = 0; t < T; ++t) rows.push_back(g[static_cast<int64_t>(t)]);
    const auto alpha = IMTL::impartial_weights(gramian_of(rows));
    double sum = 0.0;
    for (double a : alpha) sum += a;
    EXPECT_NEAR(sum, 1.0, 1e-12);
    const Tensor d = combination(rows, alpha);
    const double first = d.dot(rows[0]).item<double>() / rows[0].norm().item<double>();
    for (size_t t = 1; t < T; ++t)
      EXPECT_NEAR(d.dot(rows[t]).item<double>() / rows[t].norm().item<double>(), first, 1e-10) << "seed " << seed;
  }
}

TEST(IMTL, ZeroGradientsHaveNoWeight) {
  // Task 2 has no gradient: only tasks 1 and 3 are balanced.
  const auto alpha = IMTL::impartial_weights(linalg::Matrix{{1.0, 0.0, 0.0}, {0.0, 0.0, 0.0}, {0.0, 0.0, 4.0}});
  expect_vector_near(alpha, {2.0 / 3, 0.0, 1.0 / 3}, 1e-14);
  expect_vector_near(IMTL::impartial_weights(linalg::Matrix(2, 2)), {0.5, 0.5}, 0.0);
}

TEST(IMTL, LearnableLossScales) {
  IMTL imtl(2);
  ASSERT_EQ(imtl.parameters().size(), 1u);
  EXPECT_EQ(imtl.log_scale().to_vector<float>(), std::vector<float>({0.0f, 0.0f}));
  {
    NoGradGuard no_grad;
    imtl.parameters()[0].copy_(tensor({0.5f, -0.3f}));
  }
  // L_t = offset_t + g_tᵀθ at θ = 0: L = (2, 3). Scaled gradients e^{s_t} g_t, IMTL-G on them.
  LinearProbe probe(kOrthogonal, std::vector<double>{2.0, 3.0});
  const double e1 = std::exp(0.5), e2 = std::exp(-0.3);
  const std::vector<double> alpha = IMTL::impartial_weights(linalg::Matrix{{e1 * e1, 0.0}, {0.0, 4.0 * e2 * e2}});
  const WeightingReport report = run_probe_step(imtl, *probe);
  expect_vector_near(report.weights, alpha, 1e-6);
  expect_vector_near(probe->theta.grad().to_vector<double>(), {alpha[0] * e1, alpha[1] * 2.0 * e2}, 1e-6);
  // ∂(e^s L − s)/∂s = e^s L − 1.
  const auto grad = imtl.log_scale().grad().to_vector<float>();
  EXPECT_NEAR(grad[0], e1 * 2.0 - 1.0, 1e-5);
  EXPECT_NEAR(grad[1], e2 * 3.0 - 1.0, 1e-5);
}

TEST(IMTL, EndToEndOnEveryScope) {
  auto weights = [](const linalg::Matrix& k) { return IMTL::impartial_weights(k); };
  check_end_to_end("imtl", weights, 2, 1e-7);
  check_end_to_end("imtl:scope=last", weights, 2, 1e-7);
  check_end_to_end("imtl:scope=rep", weights, 2, 1e-7);
  check_end_to_end("imtl", weights, 3, 1e-7);
}

TEST(IMTL, RejectsUnknownOptions) {
  EXPECT_THROW(IMTL(2, {{"alpha", "1"}}), Error);
  EXPECT_THROW(IMTL::impartial_weights(linalg::Matrix(2, 3)), Error);
}

}  // namespace
